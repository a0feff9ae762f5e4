//! Deciding conditions for a subject: `test` expressions, csh expressions, `case` patterns and
//! the few commands whose output is known offline (`id -u`, `id -gn`, …). Three-valued: `None`
//! when it cannot be told.

use std::cell::RefCell;
use std::collections::BTreeMap;

use imgprep_guest::Guest;

use super::lex::Sep;
use super::structure::{Cond, Ctx, Dialect};
use crate::path::glob_match;

/// Three-valued truth: `None` when imgprep cannot tell offline.
pub(crate) type Tri = Option<bool>;

pub(crate) fn and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

pub(crate) fn or(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// Whose session a walk follows.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// How the message names it: `root`, `cliqruser`, `a regular user`.
    pub(crate) label: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) user: String,
    pub(crate) group: Option<String>,
    pub(crate) home: String,
    pub(crate) shell: String,
    /// Said when the account is assumed rather than read from /etc/passwd.
    pub(crate) assumed: Option<String>,
    /// The login shell is BSD csh (Debian's `bsd-csh`), not tcsh.
    pub(crate) bsd_csh: bool,
}

impl Subject {
    pub(crate) fn dialect(&self) -> Option<Dialect> {
        let base = self.shell.rsplit('/').next().unwrap_or("");
        match base {
            "csh" | "tcsh" => Some(Dialect::Csh),
            "bash" | "" => None,
            _ => Some(Dialect::Sh),
        }
    }

    pub(crate) fn is_bash(&self) -> bool {
        self.dialect().is_none()
    }

    /// User private group: not root, UID == GID, user name == primary group name.
    pub(crate) fn private_group(&self) -> bool {
        self.uid != 0 && self.uid == self.gid && self.group.as_deref() == Some(&self.user)
    }
}

/// What a condition may look at: the subject of an interactive login shell, the guest's files,
/// and the loop variable being expanded.
pub(crate) struct Env<'a> {
    pub(crate) g: &'a dyn Guest,
    pub(crate) s: &'a Subject,
    pub(crate) bind: Option<(&'a str, &'a str)>,
    /// Variables the files assigned so far: their values, `None` where not known.
    pub(crate) vars: Option<&'a BTreeMap<String, Option<String>>>,
    /// Conditions already decided in this reading of the file: a shell tests an `if` once,
    /// when it reaches it, whatever the branch then assigns.
    pub(crate) memo: Option<&'a Memo>,
}

/// Decided conditions by identity and loop binding.
pub(crate) type Memo = RefCell<BTreeMap<(usize, Option<String>), Tri>>;

/// Removes shell quoting without expanding anything.
pub(crate) fn unquote(w: &str) -> String {
    let mut out = String::new();
    let mut cs = w.chars();
    let mut dq = false;
    while let Some(c) = cs.next() {
        match c {
            '\'' if !dq => out.extend(cs.by_ref().take_while(|&c| c != '\'')),
            '"' => dq = !dq,
            '\\' => out.extend(cs.next()),
            _ => out.push(c),
        }
    }
    out
}

impl Env<'_> {
    pub(crate) fn interactive_flags(&self) -> &'static str {
        "himBH"
    }

    pub(crate) fn var(&self, name: &str) -> Option<String> {
        if let Some((v, val)) = self.bind
            && v == name
        {
            return Some(val.to_owned());
        }
        if let Some(v) = self.vars.and_then(|vars| vars.get(name)) {
            return v.clone();
        }
        let csh = self.s.dialect() == Some(Dialect::Csh);
        Some(match name {
            // bash sets UID and EUID; other shells leave them unset.
            "UID" | "EUID" if self.s.is_bash() => self.s.uid.to_string(),
            "UID" | "EUID" => String::new(),
            // tcsh sets uid and gid; BSD csh has neither (see Ctx::Tcsh).
            "uid" if csh && !self.s.bsd_csh => self.s.uid.to_string(),
            "gid" if csh && !self.s.bsd_csh => self.s.gid.to_string(),
            "uid" | "gid" => return None,
            "USER" | "LOGNAME" | "user" => self.s.user.clone(),
            "HOME" | "home" => self.s.home.clone(),
            "SHELL" | "shell" => self.s.shell.clone(),
            "PS1" => "\\u@\\h:\\w\\$ ".into(),
            "BASH" if self.s.is_bash() => "/bin/bash".into(),
            "BASH" => String::new(),
            "-" => self.interactive_flags().into(),
            "?prompt" => "1".into(),
            "?loginsh" if self.s.bsd_csh => "0".into(),
            "?loginsh" => "1".into(),
            _ => return None,
        })
    }

    pub(crate) fn command(&self, text: &str) -> Option<String> {
        let words: Vec<String> = text.split_whitespace().map(unquote).collect();
        let prog = words.first()?.rsplit('/').next()?.to_owned();
        let args: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
        match (prog.as_str(), args.as_slice()) {
            ("id", ["-u"] | ["-ru"] | ["-ur"]) => Some(self.s.uid.to_string()),
            ("id", ["-g"] | ["-rg"] | ["-gr"]) => Some(self.s.gid.to_string()),
            ("id", ["-gn"] | ["-ng"] | ["-g", "-n"] | ["-n", "-g"]) => self.s.group.clone(),
            ("id", ["-un"] | ["-nu"] | ["-u", "-n"] | ["-n", "-u"]) | ("whoami", []) => {
                Some(self.s.user.clone())
            }
            _ => None,
        }
    }

    /// The word after expansion, when every expansion in it is known.
    pub(crate) fn expand(&self, w: &str) -> Option<String> {
        if w.len() > 1024 {
            return None;
        }
        let cs: Vec<char> = w.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        let mut dq = false;
        if cs.first() == Some(&'~') && matches!(cs.get(1), None | Some('/')) {
            out.push_str(&self.s.home);
            i = 1;
        }
        while let Some(&c) = cs.get(i) {
            i += 1;
            match c {
                '\'' if !dq => {
                    while let Some(&c) = cs.get(i) {
                        i += 1;
                        if c == '\'' {
                            break;
                        }
                        out.push(c);
                    }
                }
                '"' => dq = !dq,
                '\\' => {
                    if let Some(&n) = cs.get(i) {
                        out.push(n);
                        i += 1;
                    }
                }
                '`' => {
                    let start = i;
                    while cs.get(i).is_some_and(|&c| c != '`') {
                        i += 1;
                    }
                    let inner: String = cs.get(start..i)?.iter().collect();
                    i += 1;
                    out.push_str(&self.command(&inner)?);
                }
                '$' => match cs.get(i) {
                    Some('(') => {
                        let start = i + 1;
                        let mut n = 0usize;
                        while let Some(&c) = cs.get(i) {
                            i += 1;
                            match c {
                                '(' => n += 1,
                                ')' => {
                                    n -= 1;
                                    if n == 0 {
                                        break;
                                    }
                                }
                                _ => {}
                            }
                        }
                        let inner: String = cs.get(start..i.saturating_sub(1))?.iter().collect();
                        out.push_str(&self.command(&inner)?);
                    }
                    Some('{') => {
                        let start = i + 1;
                        while cs.get(i).is_some_and(|&c| c != '}') {
                            i += 1;
                        }
                        let inner: String = cs.get(start..i)?.iter().collect();
                        i += 1;
                        out.push_str(&self.braced(&inner)?);
                    }
                    Some('?') => {
                        let start = i;
                        i += 1;
                        while cs
                            .get(i)
                            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                        {
                            i += 1;
                        }
                        let name: String = cs.get(start..i)?.iter().collect();
                        out.push_str(&self.var(&name)?);
                    }
                    Some('-') => {
                        i += 1;
                        out.push_str(&self.var("-")?);
                    }
                    Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                        let start = i;
                        while cs
                            .get(i)
                            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                        {
                            i += 1;
                        }
                        let name: String = cs.get(start..i)?.iter().collect();
                        out.push_str(&self.var(&name)?);
                    }
                    _ => return None,
                },
                _ => out.push(c),
            }
        }
        Some(out)
    }

    /// `${NAME}`, `${NAME-WORD}`, `${NAME:-WORD}`, `${-#*i}`.
    pub(crate) fn braced(&self, inner: &str) -> Option<String> {
        if inner == "-#*i" {
            let f = self.var("-")?;
            return Some(f.split_once('i').map_or(f.clone(), |(_, r)| r.to_owned()));
        }
        let end = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let (name, op) = inner.split_at(end);
        match op {
            "" => self.var(name),
            _ if op.starts_with(":-") || op.starts_with('-') => self
                .var(name)
                .or_else(|| self.expand(op.trim_start_matches(':').trim_start_matches('-'))),
            _ => None,
        }
    }

    pub(crate) fn file_test(&self, op: &str, path: &str) -> Tri {
        if !path.starts_with('/') {
            return None;
        }
        let meta = self.g.stat(path).ok()?;
        Some(match op {
            "-e" | "-a" | "-r" | "-x" | "-w" => meta.is_some(),
            "-f" => meta.is_some_and(|m| m.kind == imgprep_fs::FileKind::File),
            "-d" => meta.is_some_and(|m| m.kind == imgprep_fs::FileKind::Dir),
            "-s" => meta.is_some_and(|m| m.size > 0),
            "-L" | "-h" => self.g.is_symlink(path),
            _ => return None,
        })
    }

    /// A sh command used as a condition.
    pub(crate) fn command_truth(&self, words: &[String]) -> Tri {
        let bangs = words.iter().take_while(|w| *w == "!").count();
        let words = words.get(bangs..)?;
        let first = words.first()?;
        let t = match first.as_str() {
            "[" if words.last().is_some_and(|w| w == "]") => {
                self.test(words.get(1..words.len() - 1)?)
            }
            "[[" if words.last().is_some_and(|w| w == "]]") => {
                self.expr(words.get(1..words.len() - 1)?, false)
            }
            "test" => self.test(words.get(1..)?),
            "true" | ":" => Some(true),
            "false" => Some(false),
            "shopt" if words.get(1..)? == ["-q", "login_shell"] => Some(true),
            _ => None,
        };
        t.map(|b| b != (bangs % 2 == 1))
    }

    pub(crate) fn cond(&self, c: &Cond) -> Tri {
        let Some(memo) = self.memo else {
            return self.cond_now(c);
        };
        let key = (
            std::ptr::from_ref(c) as usize,
            self.bind.map(|(_, v)| v.to_owned()),
        );
        if let Some(t) = memo.borrow().get(&key) {
            return *t;
        }
        let t = self.cond_now(c);
        memo.borrow_mut().insert(key, t);
        t
    }

    fn cond_now(&self, c: &Cond) -> Tri {
        match c {
            Cond::Sh(parts) => {
                let mut acc: Tri = Some(true);
                let mut sep = Sep::Semi;
                for (words, next) in parts {
                    let t = self.command_truth(words);
                    acc = match sep {
                        Sep::And => and(acc, t),
                        Sep::Or => or(acc, t),
                        _ => t,
                    };
                    sep = *next;
                }
                acc
            }
            Cond::Csh(tokens) => self.expr(tokens, true),
        }
    }

    /// `test` / `[ … ]`: a comparison of numbers with an operand that is not an integer is an
    /// error, which makes the command fail.
    pub(crate) fn test(&self, tokens: &[String]) -> Tri {
        self.parse(tokens, false, true)
    }

    /// A `[[ … ]]` expression or a csh expression.
    pub(crate) fn expr(&self, tokens: &[String], csh: bool) -> Tri {
        self.parse(tokens, csh, false)
    }

    fn parse(&self, tokens: &[String], csh: bool, strict: bool) -> Tri {
        if tokens.len() > 64 {
            return None;
        }
        let mut p = ExprParser {
            env: self,
            t: tokens,
            i: 0,
            csh,
            strict,
        };
        let v = p.or_expr();
        if p.i == tokens.len() { v } else { None }
    }

    pub(crate) fn truth(&self, ctx: &[Ctx]) -> Tri {
        let mut acc = Some(true);
        for c in ctx {
            let t = match c {
                Ctx::Branch { earlier, cond } => {
                    let mut t = Some(true);
                    for e in earlier.iter() {
                        t = and(t, self.cond(e).map(|b| !b));
                    }
                    if let Some(c) = cond {
                        t = and(t, self.cond(c));
                    }
                    t
                }
                Ctx::Arm(a) => self.expand(&a.word).and_then(|v| {
                    let ps: Option<Vec<String>> = a
                        .patterns
                        .iter()
                        .flat_map(|p| p.split('|'))
                        .map(|p| self.expand(p))
                        .collect();
                    Some(ps?.iter().any(|p| glob_match(p, &v)))
                }),
                Ctx::For(_) => Some(true),
                Ctx::Opaque(_) => None,
                Ctx::Guard { cond, negate } => self.cond(cond).map(|b| b != *negate),
                Ctx::Tcsh(_) => Some(self.s.bsd_csh),
            };
            acc = and(acc, t);
            if acc == Some(false) {
                break;
            }
        }
        acc
    }
}

pub(crate) struct ExprParser<'a, 'b> {
    pub(crate) env: &'a Env<'b>,
    pub(crate) t: &'a [String],
    pub(crate) i: usize,
    pub(crate) csh: bool,
    /// `test`'s error for a non-integer operand of a numeric comparison: false.
    pub(crate) strict: bool,
}

impl<'a> ExprParser<'a, '_> {
    pub(crate) fn peek(&self) -> Option<&'a str> {
        self.t.get(self.i).map(String::as_str)
    }

    pub(crate) fn or_expr(&mut self) -> Tri {
        let mut v = self.and_expr();
        while matches!(self.peek(), Some("-o" | "||")) {
            self.i += 1;
            let r = self.and_expr();
            v = or(v, r);
        }
        v
    }

    pub(crate) fn and_expr(&mut self) -> Tri {
        let mut v = self.not_expr();
        while matches!(self.peek(), Some("-a" | "&&")) {
            self.i += 1;
            let r = self.not_expr();
            v = and(v, r);
        }
        v
    }

    pub(crate) fn not_expr(&mut self) -> Tri {
        if self.peek() == Some("!") {
            self.i += 1;
            return self.not_expr().map(|b| !b);
        }
        self.primary()
    }

    pub(crate) fn value(&mut self) -> Option<String> {
        let w = self.t.get(self.i)?;
        self.i += 1;
        self.env.expand(w)
    }

    pub(crate) fn primary(&mut self) -> Tri {
        let tok = self.peek()?;
        if tok == "(" || tok == "\\(" {
            self.i += 1;
            let v = self.or_expr();
            if matches!(self.peek(), Some(")" | "\\)")) {
                self.i += 1;
            }
            return v;
        }
        let next = self.t.get(self.i + 1).map(String::as_str);
        let unary = matches!(
            tok,
            "-e" | "-f" | "-r" | "-d" | "-s" | "-x" | "-w" | "-L" | "-h"
        ) || (!self.csh && tok == "-a");
        if unary && next.is_some() && !is_binary(next, self.csh) {
            let op = tok.to_owned();
            self.i += 1;
            let path = self.value();
            return path.and_then(|p| self.env.file_test(&op, &p));
        }
        if matches!(tok, "-n" | "-z") && next.is_some() && !is_binary(next, self.csh) {
            let z = tok == "-z";
            self.i += 1;
            return self.value().map(|v| v.is_empty() == z);
        }
        let left = self.value();
        let op = self.peek().map(str::to_owned);
        if let Some(op) = op.filter(|o| is_binary(Some(o), self.csh)) {
            self.i += 1;
            let right = self.value();
            let (l, r) = (left?, right?);
            let num = |s: &str| s.trim().parse::<i64>().ok();
            let numeric = matches!(op.as_str(), "-eq" | "-ne" | "-gt" | "-ge" | "-lt" | "-le");
            if self.strict && numeric && (num(&l).is_none() || num(&r).is_none()) {
                return Some(false);
            }
            return match op.as_str() {
                "=" | "==" => Some(l == r),
                "!=" => Some(l != r),
                "-eq" => Some(num(&l)? == num(&r)?),
                "-ne" => Some(num(&l)? != num(&r)?),
                "-gt" | ">" => Some(num(&l)? > num(&r)?),
                "-ge" | ">=" => Some(num(&l)? >= num(&r)?),
                "-lt" | "<" => Some(num(&l)? < num(&r)?),
                "-le" | "<=" => Some(num(&l)? <= num(&r)?),
                _ => None,
            };
        }
        let l = left?;
        if self.csh {
            Some(l.trim().parse::<i64>().ok()? != 0)
        } else {
            Some(!l.is_empty())
        }
    }
}

pub(crate) fn is_binary(op: Option<&str>, csh: bool) -> bool {
    match op {
        Some("=" | "==" | "!=") => true,
        Some("-eq" | "-ne" | "-gt" | "-ge" | "-lt" | "-le") => !csh,
        Some(">" | ">=" | "<" | "<=") => csh,
        _ => false,
    }
}
