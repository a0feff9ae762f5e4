//! `probe: umask`: the umask that root-run installs and user logins end up with, resolved from the
//! guest's files in the order a real system applies them; and the per-file check that SCAP
//! Security Guide's OVAL content runs on `/etc/login.defs`, `/etc/profile` and `/etc/bashrc`.
//!
//! A umask setting is what SSG's pattern finds: a line `^\s*umask\s+VALUE` (`UMASK` in
//! `/etc/login.defs`). [`umask_lines`] is that scanner. [`ssg_file_result`] turns its matches into
//! OpenSCAP's verdict for one file (its arithmetic included, quirks and all); the probe reads the
//! same matches as a shell would, inside the structure of the file: branches of `if`/`case` with
//! their conditions, `.`/`source` of other files, the `for` loop over `/etc/profile.d/*.sh`,
//! `return`. Conditions of the common forms (`$UID -gt 199`, `$EUID`, `id -u`, `id -gn` =
//! `id -un`, `shopt -q login_shell`, `$PS1`, file tests) are decided for root and for a regular
//! user; others leave both outcomes possible.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::LazyLock;

use imgprep_guest::Guest;
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};

use super::text::{MAX_TEXT, list_dir};
use crate::eval::Context;
use crate::model::{Evidence, Outcome, Status};

// ---------------------------------------------------------------------------------------------
// SCAP Security Guide semantics
// ---------------------------------------------------------------------------------------------

/// Which SCAP Security Guide pattern a file is scanned with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// `umask` commands of shell startup files (`/etc/profile`, `/etc/bashrc`, …).
    Shell,
    /// The `UMASK` key of `/etc/login.defs`.
    LoginDefs,
}

/// One match of SSG's pattern `^[\s]*umask[\s]+([^#\s]*)` (`UMASK` for `/etc/login.defs`), which
/// OpenSCAP applies to the whole file in multi-line mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UmaskLine {
    /// 1-based line of the keyword.
    pub line: usize,
    /// 1-based line where the captured value starts. It differs from `line` when the keyword ends
    /// its line: `[\s]+` crosses newlines, so SSG reads the next line's first word as the value.
    pub value_line: usize,
    /// The value as the pattern captures it; may be empty.
    pub value: String,
}

// `\s` of PCRE without UTF mode: space, \t, \n, \v, \f, \r.
static SHELL_RE: LazyLock<Regex> = LazyLock::new(|| ssg_regex("umask"));
static LOGIN_DEFS_RE: LazyLock<Regex> = LazyLock::new(|| ssg_regex("UMASK"));

fn ssg_regex(key: &str) -> Regex {
    let ws = r"[\t\n\x0B\x0C\r ]";
    Regex::new(&format!(
        r"(?-u)(?m)^{ws}*({key}){ws}+([^#\t\n\x0B\x0C\r ]*)"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn scan(text: &[u8], keyword: Keyword) -> impl Iterator<Item = (usize, usize, &[u8])> + '_ {
    let re = match keyword {
        Keyword::Shell => &*SHELL_RE,
        Keyword::LoginDefs => &*LOGIN_DEFS_RE,
    };
    // Matches come in file order: count newlines once, from the previous offset.
    let (mut at, mut line) = (0usize, 1usize);
    let mut line_of = move |off: usize| {
        line += text
            .get(at..off)
            .map_or(0, |b| b.iter().filter(|&&x| x == b'\n').count());
        at = at.max(off);
        line
    };
    re.captures_iter(text).filter_map(move |c| {
        let (k, v) = (c.get(1)?, c.get(2)?);
        let kl = line_of(k.start());
        Some((kl, line_of(v.start()), v.as_bytes()))
    })
}

/// Every umask setting SSG's pattern finds in `text`, in file order.
pub fn umask_lines(text: &[u8], keyword: Keyword) -> Vec<UmaskLine> {
    scan(text, keyword)
        .map(|(line, value_line, v)| UmaskLine {
            line,
            value_line,
            value: String::from_utf8_lossy(v).into_owned(),
        })
        .collect()
}

/// What OpenSCAP reports for one of SSG's `accounts_umask_etc_*` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsgResult {
    /// Every value found is at least as strict as the required one (bitwise).
    Pass,
    /// No value found (or no file), or a value lacks a bit of the required one.
    Fail,
    /// A value is shorter than three characters: the OVAL substring fails.
    Unknown,
}

impl SsgResult {
    /// The result as `oscap` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            SsgResult::Pass => "pass",
            SsgResult::Fail => "fail",
            SsgResult::Unknown => "unknown",
        }
    }
}

/// The three octal digits SSG's OVAL takes from a value: its first three characters, each
/// converted to an integer (a non-digit counts as 0); `None` when the value is shorter.
fn ssg_digits(v: &[u8]) -> Option<[u32; 3]> {
    let d = |i: usize| {
        v.get(i).map(|&b| match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            _ => 0,
        })
    };
    Some([d(0)?, d(1)?, d(2)?])
}

/// OpenSCAP's verdict on one file for SSG's `accounts_umask_etc_login_defs` (with
/// [`Keyword::LoginDefs`]), `accounts_umask_etc_profile` or `accounts_umask_etc_bashrc`
/// ([`Keyword::Shell`]), with `required` the value of `var_accounts_user_umask` (e.g. `027`).
/// `text` is `None` when the file does not exist.
///
/// The OVAL takes the first three characters of each value as octal digits (so `0022` reads as
/// 002 and `u=rwx,g=rx,o=rx` as 000), combines the digits of all values position by position
/// (its arithmetic runs over every combination), and passes when every combination has all the
/// bits of the required umask.
pub fn ssg_file_result(text: Option<&[u8]>, keyword: Keyword, required: &str) -> SsgResult {
    let Some(req) = ssg_digits(required.as_bytes()) else {
        return SsgResult::Unknown;
    };
    let req = req[0] * 64 + req[1] * 8 + req[2];
    let Some(text) = text else {
        return SsgResult::Fail;
    };
    let mut pos: [BTreeSet<u32>; 3] = Default::default();
    for (_, _, v) in scan(text, keyword) {
        let Some(d) = ssg_digits(v) else {
            return SsgResult::Unknown;
        };
        for (set, digit) in pos.iter_mut().zip(d) {
            set.insert(digit);
        }
    }
    if pos[0].is_empty() {
        return SsgResult::Fail;
    }
    for a in &pos[0] {
        for b in &pos[1] {
            for c in &pos[2] {
                if (a * 64 + b * 8 + c) & req != req {
                    return SsgResult::Fail;
                }
            }
        }
    }
    SsgResult::Pass
}

// ---------------------------------------------------------------------------------------------
// umask values as the shell reads them
// ---------------------------------------------------------------------------------------------

/// The argument of a `umask` command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spec {
    /// An octal mask.
    Octal(u16),
    /// Symbolic clauses (`u=rwx,g=rx,o=rx`, `g-w`), applied to the current mask.
    Symbolic(Vec<Clause>),
    /// `umask` alone (or with only `-S`/`-p`) prints the mask and sets nothing.
    Print,
    /// Not a umask the shell accepts, or one that depends on a variable: why.
    Bad(String),
}

/// One symbolic clause: who (bits of the mode), operator, permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Clause {
    who: u16,
    op: u8,
    perm: u16,
}

fn parse_spec(args: &[String]) -> Spec {
    let mut rest = args.iter().map(|a| unquote(a));
    let value = loop {
        match rest.next() {
            None => return Spec::Print,
            Some(a) if a == "--" => match rest.next() {
                Some(v) => break v,
                None => return Spec::Print,
            },
            Some(a)
                if a.len() > 1
                    && a.strip_prefix('-')
                        .is_some_and(|o| o.bytes().all(|b| b"Sp".contains(&b))) => {}
            Some(a) => break a,
        }
    };
    parse_value(&value)
}

fn parse_value(v: &str) -> Spec {
    if v.contains(['$', '`']) {
        return Spec::Bad(format!("{v:?} depends on the environment"));
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return match u32::from_str_radix(v, 8) {
            Ok(m) if m <= 0o777 => Spec::Octal(m as u16),
            Ok(_) => Spec::Bad(format!("{v}: octal number out of range")),
            Err(_) => Spec::Bad(format!("{v}: not an octal number")),
        };
    }
    let mut clauses = Vec::new();
    for part in v.split(',') {
        let b = part.as_bytes();
        let mut i = 0;
        let mut who = 0u16;
        while let Some(&c) = b.get(i) {
            who |= match c {
                b'u' => 0o700,
                b'g' => 0o070,
                b'o' => 0o007,
                b'a' => 0o777,
                _ => break,
            };
            i += 1;
        }
        if who == 0 {
            who = 0o777;
        }
        if b.get(i).is_none() {
            return Spec::Bad(format!("{v:?}: not an octal or symbolic umask"));
        }
        while let Some(&op) = b.get(i) {
            if !b"+-=".contains(&op) {
                return Spec::Bad(format!("{v:?}: not an octal or symbolic umask"));
            }
            i += 1;
            let mut perm = 0u16;
            while let Some(&c) = b.get(i) {
                perm |= match c {
                    b'r' => 0o444,
                    b'w' => 0o222,
                    b'x' => 0o111,
                    b'+' | b'-' | b'=' => break,
                    _ => return Spec::Bad(format!("{v:?}: invalid symbolic mode character")),
                };
                i += 1;
            }
            clauses.push(Clause { who, op, perm });
        }
    }
    Spec::Symbolic(clauses)
}

fn apply_symbolic(mask: u16, clauses: &[Clause]) -> u16 {
    let mut allowed = !mask & 0o777;
    for c in clauses {
        let bits = c.perm & c.who;
        allowed = match c.op {
            b'+' => allowed | bits,
            b'-' => allowed & !bits,
            _ => (allowed & !c.who) | bits,
        };
    }
    !allowed & 0o777
}

/// `022 -> 002`, `077 -> 007`: the group bits take the owner's (user private groups).
fn usergroups(mask: u16) -> u16 {
    (mask & !0o070) | ((mask >> 3) & 0o070)
}

fn octal(m: u16) -> String {
    format!("{m:03o}")
}

fn parse_octal(v: &str) -> Option<u16> {
    if v.is_empty() || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u16::from_str_radix(v, 8).ok().filter(|m| *m <= 0o777)
}

// ---------------------------------------------------------------------------------------------
// Shell text: commands and structure
// ---------------------------------------------------------------------------------------------

/// What ends a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Newline,
    Semi,
    DSemi,
    And,
    Or,
    Pipe,
    Amp,
    End,
}

/// One simple command: its words as written (quotes kept).
#[derive(Debug, Clone)]
struct Cmd {
    line: usize,
    words: Vec<String>,
    /// Nothing but blanks precedes it on its line.
    line_start: bool,
    sep: Sep,
}

#[derive(Debug, Default)]
struct Lexed {
    cmds: Vec<Cmd>,
    /// Lines inside here-documents: text, not commands.
    heredoc: BTreeSet<usize>,
}

/// Splits shell (or csh) text into commands. Quotes, `$(…)`, backquotes, `${…}`, comments,
/// line continuations and here-documents are honoured; inside parentheses `&&`, `||` and `|`
/// stay words (csh conditions).
struct Lexer<'a> {
    cs: &'a [char],
    i: usize,
    line: usize,
    out: Lexed,
    words: Vec<String>,
    cmd_line: usize,
    cmd_start: bool,
    fresh_line: bool,
    depth: usize,
    heredocs: Vec<(String, bool)>,
}

fn lex(text: &str) -> Lexed {
    let cs: Vec<char> = text.chars().collect();
    let mut l = Lexer {
        cs: &cs,
        i: 0,
        line: 1,
        out: Lexed::default(),
        words: Vec::new(),
        cmd_line: 1,
        cmd_start: true,
        fresh_line: true,
        depth: 0,
        heredocs: Vec::new(),
    };
    l.run();
    l.out
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.cs.get(self.i).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.cs.get(self.i + 1).copied()
    }

    fn finish(&mut self, sep: Sep) {
        if !self.words.is_empty() || sep == Sep::DSemi {
            let words = std::mem::take(&mut self.words);
            let line = if words.is_empty() {
                self.line
            } else {
                self.cmd_line
            };
            self.out.cmds.push(Cmd {
                line,
                words,
                line_start: self.cmd_start,
                sep,
            });
        }
    }

    fn push_word(&mut self, w: String) {
        if self.words.is_empty() {
            self.cmd_line = self.line;
            self.cmd_start = self.fresh_line;
        }
        self.fresh_line = false;
        self.words.push(w);
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\\' if self.peek2() == Some('\n') => {
                    self.i += 2;
                    self.line += 1;
                }
                '\n' => {
                    self.finish(Sep::Newline);
                    self.i += 1;
                    self.line += 1;
                    self.fresh_line = true;
                    self.skip_heredocs();
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                ';' => {
                    if matches!(self.peek2(), Some(';' | '&')) {
                        self.finish(Sep::DSemi);
                        self.i += 2;
                    } else {
                        self.finish(Sep::Semi);
                        self.i += 1;
                    }
                }
                '&' | '|' if self.depth == 0 => {
                    let double = self.peek2() == Some(c);
                    self.finish(match (c, double) {
                        ('&', true) => Sep::And,
                        ('&', false) => Sep::Amp,
                        (_, true) => Sep::Or,
                        _ => Sep::Pipe,
                    });
                    self.i += if double { 2 } else { 1 };
                }
                '(' => {
                    self.push_word("(".into());
                    self.depth += 1;
                    self.i += 1;
                }
                ')' => {
                    self.push_word(")".into());
                    self.depth = self.depth.saturating_sub(1);
                    self.i += 1;
                }
                _ => self.word(),
            }
        }
        self.finish(Sep::End);
    }

    fn word(&mut self) {
        let start = self.i;
        let mut w = String::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '(' | ')' => break,
                '&' | '|' if self.depth == 0 && !(c == '&' && w.ends_with(['>', '<'])) => break,
                '\'' => {
                    w.push(c);
                    self.i += 1;
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        w.push(c);
                        if c == '\n' {
                            self.line += 1;
                        }
                        if c == '\'' {
                            break;
                        }
                    }
                }
                '"' => {
                    w.push(c);
                    self.i += 1;
                    while let Some(c) = self.peek() {
                        match c {
                            '\\' => {
                                w.push(c);
                                self.i += 1;
                                if let Some(n) = self.peek() {
                                    w.push(n);
                                    self.i += 1;
                                    if n == '\n' {
                                        self.line += 1;
                                    }
                                }
                            }
                            '`' => self.backquote(&mut w),
                            '$' if self.peek2() == Some('(') => self.dollar_paren(&mut w),
                            _ => {
                                w.push(c);
                                self.i += 1;
                                if c == '\n' {
                                    self.line += 1;
                                }
                                if c == '"' {
                                    break;
                                }
                            }
                        }
                    }
                }
                '`' => self.backquote(&mut w),
                '$' if self.peek2() == Some('(') => self.dollar_paren(&mut w),
                '$' if self.peek2() == Some('{') => {
                    let mut n = 0usize;
                    while let Some(c) = self.peek() {
                        w.push(c);
                        self.i += 1;
                        match c {
                            '{' => n += 1,
                            '}' => {
                                n = n.saturating_sub(1);
                                if n == 0 {
                                    break;
                                }
                            }
                            '\n' => self.line += 1,
                            _ => {}
                        }
                    }
                }
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => {
                            self.i += 1;
                            self.line += 1;
                        }
                        Some(n) => {
                            w.push('\\');
                            w.push(n);
                            self.i += 1;
                        }
                        None => w.push('\\'),
                    }
                }
                '<' if self.peek2() == Some('<') && self.cs.get(self.i + 2) != Some(&'<') => {
                    self.i += 2;
                    w.push_str("<<");
                    let strip = self.peek() == Some('-');
                    if strip {
                        self.i += 1;
                        w.push('-');
                    }
                    while matches!(self.peek(), Some(' ' | '\t')) {
                        self.i += 1;
                    }
                    let mut delim = String::new();
                    while let Some(c) = self.peek() {
                        if " \t\r\n;&|<>()".contains(c) {
                            break;
                        }
                        self.i += 1;
                        w.push(c);
                        if !"'\"\\".contains(c) {
                            delim.push(c);
                        }
                    }
                    if !delim.is_empty() {
                        self.heredocs.push((delim, strip));
                    }
                }
                _ => {
                    w.push(c);
                    self.i += 1;
                }
            }
        }
        if self.i == start {
            // Never stall on a character no rule consumed.
            if let Some(c) = self.peek() {
                w.push(c);
            }
            self.i += 1;
        }
        self.push_word(w);
    }

    fn backquote(&mut self, w: &mut String) {
        w.push('`');
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            w.push(c);
            match c {
                '\\' => {
                    if let Some(n) = self.peek() {
                        w.push(n);
                        self.i += 1;
                    }
                }
                '\n' => self.line += 1,
                '`' => break,
                _ => {}
            }
        }
    }

    fn dollar_paren(&mut self, w: &mut String) {
        w.push_str("$(");
        self.i += 2;
        let mut n = 1usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            self.i += 1;
            w.push(c);
            match (quote, c) {
                (_, '\n') => self.line += 1,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => n += 1,
                (None, ')') => {
                    n -= 1;
                    if n == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }

    fn skip_heredocs(&mut self) {
        for (delim, strip) in std::mem::take(&mut self.heredocs) {
            while self.i < self.cs.len() {
                let start = self.i;
                while self.peek().is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
                let text: String = self
                    .cs
                    .get(start..self.i)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                self.out.heredoc.insert(self.line);
                if self.peek() == Some('\n') {
                    self.i += 1;
                    self.line += 1;
                }
                let t = if strip {
                    text.trim_start_matches('\t')
                } else {
                    text.as_str()
                };
                if t.trim_end_matches('\r') == delim {
                    break;
                }
            }
        }
    }
}

/// Shell dialect of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dialect {
    Sh,
    Csh,
}

/// A condition: an and-or list of commands (sh), or the tokens of a csh expression.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Sh(Vec<(Vec<String>, Sep)>),
    Csh(Vec<String>),
}

/// Longest condition kept: parts of an and-or list, words of a part, bytes of a word. A longer
/// one is replaced by [`TOO_LONG`], which no condition evaluator recognises (undecidable).
const MAX_PARTS: usize = 16;
const MAX_WORDS: usize = 64;
const MAX_WORD: usize = 256;
const TOO_LONG: &str = "…";

/// `words`, or [`TOO_LONG`] when they exceed the limits.
fn capped(words: &[String]) -> Vec<String> {
    if words.len() > MAX_WORDS || words.iter().any(|w| w.len() > MAX_WORD) {
        vec![TOO_LONG.to_owned()]
    } else {
        words.to_vec()
    }
}

impl Cond {
    fn push(&mut self, words: &[String], sep: Sep) {
        if let Cond::Sh(parts) = self {
            if parts.len() < MAX_PARTS {
                parts.push((capped(words), sep));
            } else {
                *parts = vec![(vec![TOO_LONG.to_owned()], Sep::End)];
            }
        }
    }

    fn shown(&self) -> String {
        let s = match self {
            Cond::Sh(parts) => {
                let mut s = String::new();
                for (i, (w, sep)) in parts.iter().enumerate() {
                    s.push_str(&w.join(" "));
                    if i + 1 < parts.len() {
                        s.push_str(match sep {
                            Sep::And => " && ",
                            Sep::Or => " || ",
                            Sep::Pipe => " | ",
                            _ => "; ",
                        });
                    }
                }
                s
            }
            Cond::Csh(t) => format!("({})", t.join(" ")),
        };
        shorten(s)
    }
}

/// At most 200 characters, for messages.
fn shorten(s: String) -> String {
    if s.chars().count() <= 200 {
        s
    } else {
        let mut t: String = s.chars().take(200).collect();
        t.push('…');
        t
    }
}

/// An arm of `case WORD in PATTERNS)`.
#[derive(Debug, Clone, PartialEq)]
struct Arm {
    word: String,
    patterns: Vec<String>,
}

/// `for VAR in ITEMS` / `foreach VAR (ITEMS)`.
#[derive(Debug, Clone, PartialEq)]
struct Loop {
    var: String,
    items: Vec<String>,
}

/// Where a command sits: each must hold for it to run. Shared with the frames it was taken
/// from, so that a snapshot per command stays cheap.
#[derive(Debug, Clone, PartialEq)]
enum Ctx {
    /// A branch of `if`: every earlier condition false and `cond` (`None` for `else`) true.
    Branch {
        earlier: Rc<Vec<Rc<Cond>>>,
        cond: Option<Rc<Cond>>,
    },
    Arm(Rc<Arm>),
    /// The body of a `for` loop.
    For(Rc<Loop>),
    /// A body that runs any number of times, or only when called: why.
    Opaque(Rc<str>),
    /// `A && B` (B runs when A holds) or `A || B` (`negate`: when it does not).
    Guard {
        cond: Rc<Cond>,
        negate: bool,
    },
}

impl Ctx {
    fn shown(&self) -> Option<String> {
        match self {
            Ctx::Branch { earlier, cond } => {
                let first = earlier.first().or(cond.as_ref())?;
                Some(match (cond, earlier.is_empty()) {
                    (Some(c), true) => format!("if {}", c.shown()),
                    (Some(c), false) => {
                        format!("elif {} (after if {})", c.shown(), first.shown())
                    }
                    (None, _) => format!("else of if {}", first.shown()),
                })
            }
            Ctx::Arm(a) => Some(shorten(format!(
                "case {} in {})",
                a.word,
                a.patterns.join("|")
            ))),
            Ctx::For(_) => None,
            Ctx::Opaque(why) => Some(why.to_string()),
            Ctx::Guard { cond, negate } => Some(format!(
                "{} {}",
                cond.shown(),
                if *negate { "||" } else { "&&" }
            )),
        }
    }
}

/// Something in a file that matters for the umask.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// `umask ARGS` at the start of a line.
    Set {
        line: usize,
        args: Vec<String>,
        ctx: Vec<Ctx>,
    },
    /// `. FILE` / `source FILE`.
    Source { target: String, ctx: Vec<Ctx> },
    /// `return` / `exit`: the rest of the file is not read.
    Stop { ctx: Vec<Ctx> },
}

#[derive(Debug)]
enum Frame {
    If {
        earlier: Rc<Vec<Rc<Cond>>>,
        cond: Option<Rc<Cond>>,
        collecting: bool,
    },
    While {
        collecting: bool,
    },
    For(Rc<Loop>),
    Case {
        word: String,
        arm: Option<Rc<Arm>>,
        pending: Vec<String>,
    },
    /// A function body: the message saying so.
    Func(Rc<str>),
    Group,
    Switch,
}

/// Deepest nesting followed; deeper frames are dropped.
const MAX_NESTING: usize = 64;
/// Most branches of one `if` kept; later ones are undecidable.
const MAX_BRANCHES: usize = 64;
/// Most events kept per file; the rest of a longer file is not followed.
const MAX_EVENTS: usize = 2_000;

/// The events of a file, with the structure each sits in; true when [`MAX_EVENTS`] cut it.
fn structure(lexed: &Lexed, dialect: Dialect) -> (Vec<Event>, bool) {
    let mut frames: Vec<Frame> = Vec::new();
    let mut events = Vec::new();
    let mut chain: Vec<(Vec<String>, Sep)> = Vec::new();
    for cmd in &lexed.cmds {
        if events.len() >= MAX_EVENTS {
            return (events, true);
        }
        match dialect {
            Dialect::Sh => sh_command(cmd, &mut frames, &mut chain, &mut events),
            Dialect::Csh => csh_command(cmd, &mut frames, &mut events),
        }
        frames.truncate(MAX_NESTING);
    }
    (events, false)
}

fn snapshot(frames: &[Frame]) -> Vec<Ctx> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::If { earlier, cond, .. } => Some(Ctx::Branch {
                earlier: earlier.clone(),
                cond: cond.clone(),
            }),
            Frame::While { .. } => Some(Ctx::Opaque("inside a while/until loop".into())),
            Frame::For(l) => Some(Ctx::For(l.clone())),
            Frame::Case { arm: Some(a), .. } => Some(Ctx::Arm(a.clone())),
            Frame::Case { .. } => Some(Ctx::Opaque("inside a case".into())),
            Frame::Func(why) => Some(Ctx::Opaque(why.clone())),
            Frame::Group => None,
            Frame::Switch => Some(Ctx::Opaque("inside a csh switch".into())),
        })
        .collect()
}

fn pop_to(frames: &mut Vec<Frame>, pred: impl Fn(&Frame) -> bool) {
    if let Some(pos) = frames.iter().rposition(pred) {
        frames.truncate(pos);
    }
}

/// The earlier branches plus `c`, up to [`MAX_BRANCHES`] (then an undecidable one).
fn add_branch(earlier: &mut Rc<Vec<Rc<Cond>>>, c: Rc<Cond>) {
    let v = Rc::make_mut(earlier);
    if v.len() < MAX_BRANCHES {
        v.push(c);
    } else if v.len() == MAX_BRANCHES {
        v.push(Rc::new(Cond::Sh(vec![(
            vec![TOO_LONG.to_owned()],
            Sep::End,
        )])));
    }
}

fn function_frame(name: &str) -> Frame {
    Frame::Func(
        shorten(format!(
            "inside function {name}, which runs only when called"
        ))
        .into(),
    )
}

fn sh_command(
    cmd: &Cmd,
    frames: &mut Vec<Frame>,
    chain: &mut Vec<(Vec<String>, Sep)>,
    events: &mut Vec<Event>,
) {
    let raw_umask = cmd.line_start && cmd.words.first().is_some_and(|w| w == "umask");
    let mut w: &[String] = &cmd.words;
    while let Some(head) = w.first() {
        match frames.last_mut() {
            Some(Frame::If {
                collecting, cond, ..
            }) if *collecting => {
                if head == "then" {
                    *collecting = false;
                    w = w.get(1..).unwrap_or_default();
                    continue;
                }
                if let Some(c) = cond {
                    Rc::make_mut(c).push(w, cmd.sep);
                }
                chain.clear();
                return;
            }
            Some(Frame::While { collecting }) if *collecting => {
                if head == "do" {
                    *collecting = false;
                    w = w.get(1..).unwrap_or_default();
                    continue;
                }
                chain.clear();
                return;
            }
            Some(Frame::Case {
                word,
                arm: arm @ None,
                pending,
            }) if head != "esac" => {
                if let Some(pos) = w.iter().position(|x| x == ")") {
                    let mut p = std::mem::take(pending);
                    p.extend(w.iter().take(pos).filter(|x| *x != "(").cloned());
                    *arm = Some(Rc::new(Arm {
                        word: word.clone(),
                        patterns: capped(&p),
                    }));
                    w = w.get(pos + 1..).unwrap_or_default();
                    continue;
                }
                if pending.len() <= MAX_WORDS {
                    pending.extend(w.iter().take(MAX_WORDS + 1).cloned());
                }
                return;
            }
            _ => {}
        }
        match head.as_str() {
            "if" => {
                frames.push(Frame::If {
                    earlier: Rc::default(),
                    cond: Some(Rc::new(Cond::Sh(Vec::new()))),
                    collecting: true,
                });
                w = w.get(1..).unwrap_or_default();
                if w.is_empty() {
                    return;
                }
            }
            "elif" | "else" => {
                if let Some(Frame::If {
                    earlier,
                    cond,
                    collecting,
                }) = frames.last_mut()
                {
                    if let Some(c) = cond.take() {
                        add_branch(earlier, c);
                    }
                    if head == "elif" {
                        *cond = Some(Rc::new(Cond::Sh(Vec::new())));
                        *collecting = true;
                    }
                }
                w = w.get(1..).unwrap_or_default();
            }
            "fi" => {
                pop_to(frames, |f| matches!(f, Frame::If { .. }));
                w = w.get(1..).unwrap_or_default();
            }
            "while" | "until" => {
                frames.push(Frame::While { collecting: true });
                w = w.get(1..).unwrap_or_default();
                if w.is_empty() {
                    return;
                }
            }
            "for" => {
                let var = w.get(1).cloned().unwrap_or_default();
                let items: Vec<String> = if w.get(2).is_some_and(|x| x == "in") {
                    w.iter()
                        .skip(3)
                        .take_while(|x| *x != "do")
                        .take(MAX_WORDS)
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                frames.push(Frame::For(Rc::new(Loop { var, items })));
                chain.clear();
                return;
            }
            "done" => {
                pop_to(frames, |f| matches!(f, Frame::For(_) | Frame::While { .. }));
                w = w.get(1..).unwrap_or_default();
            }
            "do" | "then" => w = w.get(1..).unwrap_or_default(),
            "case" => {
                frames.push(Frame::Case {
                    word: w.get(1).map_or(String::new(), |x| shorten(x.clone())),
                    arm: None,
                    pending: Vec::new(),
                });
                w = w.get(3..).unwrap_or_default();
            }
            "esac" => {
                pop_to(frames, |f| matches!(f, Frame::Case { .. }));
                w = w.get(1..).unwrap_or_default();
            }
            "{" => {
                frames.push(Frame::Group);
                w = w.get(1..).unwrap_or_default();
            }
            "}" => {
                pop_to(frames, |f| matches!(f, Frame::Group | Frame::Func(_)));
                w = w.get(1..).unwrap_or_default();
            }
            "function" => {
                let name = w.get(1).map_or("", |n| n.trim_end_matches("()"));
                frames.push(function_frame(name));
                let skip = w.iter().position(|x| x == "{").map_or(w.len(), |p| p + 1);
                w = w.get(skip..).unwrap_or_default();
            }
            _ if w.get(1).is_some_and(|x| x == "(") && w.get(2).is_some_and(|x| x == ")") => {
                frames.push(function_frame(head));
                let skip = if w.get(3).is_some_and(|x| x == "{") {
                    4
                } else {
                    3
                };
                w = w.get(skip..).unwrap_or_default();
            }
            _ => break,
        }
    }
    if let Some(head) = w.first() {
        let mut ctx = snapshot(frames);
        if let Some((last, rest)) = chain.split_last() {
            let mut cond = Cond::Sh(Vec::new());
            for (words, sep) in rest {
                cond.push(words, *sep);
            }
            cond.push(&last.0, Sep::End);
            ctx.push(Ctx::Guard {
                cond: Rc::new(cond),
                negate: last.1 == Sep::Or,
            });
        }
        match head.as_str() {
            "umask" if raw_umask && w.len() == cmd.words.len() => events.push(Event::Set {
                line: cmd.line,
                args: w.iter().skip(1).take(4).cloned().collect(),
                ctx,
            }),
            "." | "source" => {
                if let Some(t) = w.get(1) {
                    events.push(Event::Source {
                        target: t.clone(),
                        ctx,
                    });
                }
            }
            "return" | "exit" => events.push(Event::Stop { ctx }),
            _ => {}
        }
    }
    if matches!(cmd.sep, Sep::And | Sep::Or) {
        if chain.len() < MAX_PARTS {
            chain.push((capped(w), cmd.sep));
        } else {
            chain.clear();
            chain.push((vec![TOO_LONG.to_owned()], cmd.sep));
        }
    } else {
        chain.clear();
    }
    if cmd.sep == Sep::DSemi
        && let Some(Frame::Case { arm, .. }) = frames.last_mut()
    {
        *arm = None;
    }
}

/// `( TOKENS )` at the start of `w`: the tokens and what follows the closing parenthesis.
fn csh_parens(w: &[String]) -> Option<(Vec<String>, &[String])> {
    if w.first()? != "(" {
        return None;
    }
    let mut depth = 0usize;
    for (i, t) in w.iter().enumerate() {
        match t.as_str() {
            "(" => depth += 1,
            ")" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some((capped(w.get(1..i)?), w.get(i + 1..)?));
                }
            }
            _ => {}
        }
    }
    None
}

fn csh_command(cmd: &Cmd, frames: &mut Vec<Frame>, events: &mut Vec<Event>) {
    let w: &[String] = &cmd.words;
    let Some(head) = w.first() else { return };
    let rest = w.get(1..).unwrap_or_default();
    let mut extra: Option<Ctx> = None;
    let mut body: &[String] = w;
    match head.as_str() {
        "if" => {
            let Some((tokens, after)) = csh_parens(rest) else {
                return;
            };
            if after.first().is_some_and(|t| t == "then") {
                frames.push(Frame::If {
                    earlier: Rc::default(),
                    cond: Some(Rc::new(Cond::Csh(tokens))),
                    collecting: false,
                });
                return;
            }
            extra = Some(Ctx::Guard {
                cond: Rc::new(Cond::Csh(tokens)),
                negate: false,
            });
            body = after;
        }
        "else" => {
            if let Some(Frame::If { earlier, cond, .. }) = frames.last_mut() {
                if let Some(c) = cond.take() {
                    add_branch(earlier, c);
                }
                if rest.first().is_some_and(|t| t == "if") {
                    *cond = csh_parens(rest.get(1..).unwrap_or_default())
                        .map(|(t, _)| Rc::new(Cond::Csh(t)));
                }
            }
            return;
        }
        "endif" => {
            pop_to(frames, |f| matches!(f, Frame::If { .. }));
            return;
        }
        "foreach" => {
            let var = rest.first().cloned().unwrap_or_default();
            let items = csh_parens(rest.get(1..).unwrap_or_default())
                .map(|(t, _)| t)
                .unwrap_or_default();
            frames.push(Frame::For(Rc::new(Loop { var, items })));
            return;
        }
        "while" => {
            frames.push(Frame::While { collecting: false });
            return;
        }
        "end" => {
            pop_to(frames, |f| matches!(f, Frame::For(_) | Frame::While { .. }));
            return;
        }
        "switch" => {
            frames.push(Frame::Switch);
            return;
        }
        "endsw" => {
            pop_to(frames, |f| matches!(f, Frame::Switch));
            return;
        }
        _ => {}
    }
    let Some(h) = body.first() else { return };
    let mut ctx = snapshot(frames);
    ctx.extend(extra);
    match h.as_str() {
        "umask" if cmd.line_start && body.len() == w.len() => events.push(Event::Set {
            line: cmd.line,
            args: body.iter().skip(1).take(4).cloned().collect(),
            ctx,
        }),
        "source" => {
            if let Some(t) = body.get(1) {
                events.push(Event::Source {
                    target: t.clone(),
                    ctx,
                });
            }
        }
        "exit" => events.push(Event::Stop { ctx }),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Deciding conditions
// ---------------------------------------------------------------------------------------------

/// Three-valued truth: `None` when imgprep cannot tell offline.
type Tri = Option<bool>;

fn and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// Whose session a walk follows.
#[derive(Debug, Clone)]
struct Subject {
    /// How the message names it: `root`, `cliqruser`, `a regular user`.
    label: String,
    uid: u32,
    gid: u32,
    user: String,
    group: Option<String>,
    home: String,
    shell: String,
    /// Said when the account is assumed rather than read from /etc/passwd.
    assumed: Option<String>,
}

impl Subject {
    fn dialect(&self) -> Option<Dialect> {
        let base = self.shell.rsplit('/').next().unwrap_or("");
        match base {
            "csh" | "tcsh" => Some(Dialect::Csh),
            "bash" | "" => None,
            _ => Some(Dialect::Sh),
        }
    }

    fn is_bash(&self) -> bool {
        self.dialect().is_none()
    }

    /// User private group: not root, UID == GID, user name == primary group name.
    fn private_group(&self) -> bool {
        self.uid != 0 && self.uid == self.gid && self.group.as_deref() == Some(&self.user)
    }
}

/// What a condition may look at: the subject of an interactive login shell, the guest's files,
/// and the loop variable being expanded.
struct Env<'a> {
    g: &'a dyn Guest,
    s: &'a Subject,
    bind: Option<(&'a str, &'a str)>,
}

/// Removes shell quoting without expanding anything.
fn unquote(w: &str) -> String {
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
    fn interactive_flags(&self) -> &'static str {
        "himBH"
    }

    fn var(&self, name: &str) -> Option<String> {
        if let Some((v, val)) = self.bind
            && v == name
        {
            return Some(val.to_owned());
        }
        Some(match name {
            "UID" | "EUID" | "uid" => self.s.uid.to_string(),
            "gid" => self.s.gid.to_string(),
            "USER" | "LOGNAME" | "user" => self.s.user.clone(),
            "HOME" | "home" => self.s.home.clone(),
            "SHELL" | "shell" => self.s.shell.clone(),
            "PS1" => "\\u@\\h:\\w\\$ ".into(),
            "BASH" if self.s.is_bash() => "/bin/bash".into(),
            "BASH" => String::new(),
            "-" => self.interactive_flags().into(),
            "?prompt" | "?loginsh" => "1".into(),
            _ => return None,
        })
    }

    fn command(&self, text: &str) -> Option<String> {
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
    fn expand(&self, w: &str) -> Option<String> {
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
    fn braced(&self, inner: &str) -> Option<String> {
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

    fn file_test(&self, op: &str, path: &str) -> Tri {
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
    fn command_truth(&self, words: &[String]) -> Tri {
        let bangs = words.iter().take_while(|w| *w == "!").count();
        let words = words.get(bangs..)?;
        let first = words.first()?;
        let t = match first.as_str() {
            "[" if words.last().is_some_and(|w| w == "]") => {
                self.expr(words.get(1..words.len() - 1)?, false)
            }
            "[[" if words.last().is_some_and(|w| w == "]]") => {
                self.expr(words.get(1..words.len() - 1)?, false)
            }
            "test" => self.expr(words.get(1..)?, false),
            "true" | ":" => Some(true),
            "false" => Some(false),
            "shopt" if words.get(1..)? == ["-q", "login_shell"] => Some(true),
            _ => None,
        };
        t.map(|b| b != (bangs % 2 == 1))
    }

    fn cond(&self, c: &Cond) -> Tri {
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

    /// A test expression (`[ … ]`, `[[ … ]]`) or a csh expression.
    fn expr(&self, tokens: &[String], csh: bool) -> Tri {
        if tokens.len() > 64 {
            return None;
        }
        let mut p = ExprParser {
            env: self,
            t: tokens,
            i: 0,
            csh,
        };
        let v = p.or_expr();
        if p.i == tokens.len() { v } else { None }
    }

    fn truth(&self, ctx: &[Ctx]) -> Tri {
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
            };
            acc = and(acc, t);
            if acc == Some(false) {
                break;
            }
        }
        acc
    }
}

struct ExprParser<'a, 'b> {
    env: &'a Env<'b>,
    t: &'a [String],
    i: usize,
    csh: bool,
}

impl<'a> ExprParser<'a, '_> {
    fn peek(&self) -> Option<&'a str> {
        self.t.get(self.i).map(String::as_str)
    }

    fn or_expr(&mut self) -> Tri {
        let mut v = self.and_expr();
        while matches!(self.peek(), Some("-o" | "||")) {
            self.i += 1;
            let r = self.and_expr();
            v = or(v, r);
        }
        v
    }

    fn and_expr(&mut self) -> Tri {
        let mut v = self.not_expr();
        while matches!(self.peek(), Some("-a" | "&&")) {
            self.i += 1;
            let r = self.not_expr();
            v = and(v, r);
        }
        v
    }

    fn not_expr(&mut self) -> Tri {
        if self.peek() == Some("!") {
            self.i += 1;
            return self.not_expr().map(|b| !b);
        }
        self.primary()
    }

    fn value(&mut self) -> Option<String> {
        let w = self.t.get(self.i)?;
        self.i += 1;
        self.env.expand(w)
    }

    fn primary(&mut self) -> Tri {
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

fn is_binary(op: Option<&str>, csh: bool) -> bool {
    match op {
        Some("=" | "==" | "!=") => true,
        Some("-eq" | "-ne" | "-gt" | "-ge" | "-lt" | "-le") => !csh,
        Some(">" | ">=" | "<" | "<=") => csh,
        _ => false,
    }
}

/// Shell pattern matching with `*` and `?` (other characters literal).
fn glob_match(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == '*')
}

// ---------------------------------------------------------------------------------------------
// Walking the startup files
// ---------------------------------------------------------------------------------------------

/// A file as the walk reads it.
#[derive(Debug)]
struct Parsed {
    lines: Vec<String>,
    events: Vec<Event>,
    /// Lines of the `umask` commands among the events.
    set_lines: BTreeSet<usize>,
    /// More than [`MAX_EVENTS`] events: the rest was not followed.
    truncated: bool,
    /// SSG matches: keyword line -> value line.
    ssg: Vec<UmaskLine>,
    heredoc: BTreeSet<usize>,
}

/// Most files the walks read, all subjects together.
const MAX_FILES: usize = 512;
/// Deepest chain of `source`.
const MAX_DEPTH: usize = 12;
/// Most `/etc/profile.d` entries considered per glob.
const MAX_GLOB: usize = 1024;

#[derive(Default)]
struct Files {
    parsed: BTreeMap<(String, Dialect), Option<Rc<Parsed>>>,
    globs: BTreeMap<String, Rc<Vec<String>>>,
    errors: Vec<Evidence>,
}

impl Files {
    /// [`glob`], once per pattern.
    fn glob(&mut self, g: &dyn Guest, pattern: &str) -> Rc<Vec<String>> {
        if let Some(v) = self.globs.get(pattern) {
            return v.clone();
        }
        let v = Rc::new(glob(g, pattern));
        if self.globs.len() < MAX_FILES {
            self.globs.insert(pattern.to_owned(), v.clone());
        }
        v
    }

    fn get(&mut self, g: &dyn Guest, path: &str, d: Dialect) -> Option<Rc<Parsed>> {
        let key = (path.to_owned(), d);
        if let Some(p) = self.parsed.get(&key) {
            return p.clone();
        }
        let p = if self.parsed.len() >= MAX_FILES {
            None
        } else {
            match g.read_file(path, MAX_TEXT) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let lexed = lex(&text);
                    let (events, truncated) = structure(&lexed, d);
                    if truncated {
                        self.errors.push(Evidence::file(
                            path,
                            format!(
                                "more than {MAX_EVENTS} umask, source and return commands: the \
                                 rest of the file was not followed"
                            ),
                        ));
                    }
                    Some(Rc::new(Parsed {
                        lines: text.lines().map(str::to_owned).collect(),
                        set_lines: events
                            .iter()
                            .filter_map(|e| match e {
                                Event::Set { line, .. } => Some(*line),
                                _ => None,
                            })
                            .collect(),
                        events,
                        truncated,
                        ssg: umask_lines(&bytes, Keyword::Shell),
                        heredoc: lexed.heredoc,
                    }))
                }
                Err(e) if e.is_not_found() => None,
                Err(e) => {
                    self.errors
                        .push(Evidence::file(path, format!("not read: {e}")));
                    None
                }
            }
        };
        self.parsed.insert(key, p.clone());
        p
    }
}

/// A umask value a walk can end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Val {
    Mask(u16),
    /// The value set by the note with this index could not be read.
    Bad(usize),
}

/// Where a value was set: a guest file and line, or a default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    path: String,
    line: Option<usize>,
}

impl Origin {
    fn shown(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.path),
            None => self.path.clone(),
        }
    }
}

type State = BTreeMap<Val, Origin>;

/// Who a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Root,
    User,
}

/// One umask line found, and what it does for root and for the regular user.
#[derive(Debug, Clone)]
struct Note {
    path: String,
    line: usize,
    text: String,
    spec: Spec,
    cond: Vec<String>,
    root: Option<Tri>,
    user: Option<Tri>,
    extra: Option<String>,
}

#[derive(Default)]
struct Notes {
    list: Vec<Note>,
    by_line: BTreeMap<(String, usize), usize>,
}

impl Notes {
    /// The note of `path:line`, made from `ctx` when it is new.
    fn index(&mut self, path: &str, line: usize, text: &str, spec: &Spec, ctx: &[Ctx]) -> usize {
        let key = (path.to_owned(), line);
        if let Some(i) = self.by_line.get(&key) {
            return *i;
        }
        self.list.push(Note {
            path: path.to_owned(),
            line,
            text: shorten(text.to_owned()),
            spec: spec.clone(),
            cond: ctx.iter().filter_map(Ctx::shown).collect(),
            root: None,
            user: None,
            extra: None,
        });
        self.by_line.insert(key, self.list.len() - 1);
        self.list.len() - 1
    }
}

struct Walk<'a> {
    g: &'a dyn Guest,
    s: &'a Subject,
    who: Who,
    files: &'a mut Files,
    notes: &'a mut Notes,
    read: &'a mut BTreeSet<String>,
    state: State,
    stack: Vec<String>,
    /// Events this walk may still process ([`MAX_WALK_EVENTS`]).
    budget: usize,
}

/// Most events one walk processes, sourced files included.
const MAX_WALK_EVENTS: usize = 20_000;

impl Walk<'_> {
    fn env<'b>(&'b self, bind: Option<(&'b str, &'b str)>) -> Env<'b> {
        Env {
            g: self.g,
            s: self.s,
            bind,
        }
    }

    fn file(&mut self, path: &str, d: Dialect, inherited: Tri) {
        if self.stack.len() >= MAX_DEPTH || self.stack.iter().any(|p| p == path) {
            return;
        }
        let Some(parsed) = self.files.get(self.g, path, d) else {
            return;
        };
        self.read.insert(path.to_owned());
        self.stack.push(path.to_owned());
        let mut inh = inherited;
        for ev in &parsed.events {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            match ev {
                Event::Set { line, args, ctx } => {
                    let t = and(inh, self.env(None).truth(ctx));
                    let spec = parse_spec(args);
                    let text = parsed
                        .lines
                        .get(line.saturating_sub(1))
                        .map_or(String::new(), |l| l.trim().to_owned());
                    let idx = self.notes.index(path, *line, &text, &spec, ctx);
                    if let Some(n) = self.notes.list.get_mut(idx) {
                        let slot = match self.who {
                            Who::Root => &mut n.root,
                            Who::User => &mut n.user,
                        };
                        *slot = Some(match *slot {
                            Some(prev) if prev != t => None,
                            _ => t,
                        });
                    }
                    let origin = Origin {
                        path: path.to_owned(),
                        line: Some(*line),
                    };
                    self.apply(t, &spec, idx, origin);
                }
                Event::Source { target, ctx } => {
                    for (p, bind) in self.targets(target, ctx) {
                        if self.budget == 0 {
                            break;
                        }
                        self.budget -= 1;
                        let t = and(
                            inh,
                            self.env(bind.as_ref().map(|(v, p)| (v.as_str(), p.as_str())))
                                .truth(ctx),
                        );
                        if t != Some(false) && self.g.is_file(&p) {
                            let nd = if p.ends_with(".csh") || p.ends_with(".tcsh") {
                                Dialect::Csh
                            } else {
                                d
                            };
                            self.file(&p, nd, t);
                        }
                    }
                }
                Event::Stop { ctx } => match and(inh, self.env(None).truth(ctx)) {
                    Some(true) => break,
                    Some(false) => {}
                    None => inh = None,
                },
            }
        }
        self.stack.pop();
    }

    fn apply(&mut self, t: Tri, spec: &Spec, idx: usize, origin: Origin) {
        if t == Some(false) {
            return;
        }
        let new: State = match spec {
            Spec::Print => return,
            Spec::Octal(m) => [(Val::Mask(*m), origin)].into(),
            Spec::Bad(_) => [(Val::Bad(idx), origin)].into(),
            Spec::Symbolic(c) => self
                .state
                .iter()
                .map(|(v, o)| match v {
                    Val::Mask(m) => (Val::Mask(apply_symbolic(*m, c)), origin.clone()),
                    Val::Bad(_) => (*v, o.clone()),
                })
                .collect(),
        };
        if t == Some(true) {
            self.state = new;
        } else {
            // Possible values: keep one unreadable value at most.
            let has_bad = self.state.keys().any(|v| matches!(v, Val::Bad(_)));
            self.state.extend(
                new.into_iter()
                    .filter(|(v, _)| !(has_bad && matches!(v, Val::Bad(_)))),
            );
        }
    }

    /// The files a `source` names, each with the loop variable bound when it comes from one.
    fn targets(&mut self, target: &str, ctx: &[Ctx]) -> Vec<(String, Option<(String, String)>)> {
        let loop_var = ctx.iter().rev().find_map(|c| match c {
            Ctx::For(l) if refers_to(target, &l.var) => Some(l.clone()),
            _ => None,
        });
        if let Some(l) = loop_var {
            let patterns: Vec<String> = {
                let env = self.env(None);
                l.items.iter().filter_map(|i| env.expand(i)).collect()
            };
            return patterns
                .iter()
                .flat_map(|i| self.files.glob(self.g, i).to_vec())
                .map(|p| (p.clone(), Some((l.var.clone(), p))))
                .collect();
        }
        match self.env(None).expand(target) {
            Some(p) if p.starts_with('/') => vec![(p, None)],
            _ => Vec::new(),
        }
    }
}

/// True when `word` is `$var`, `${var}` or either quoted.
fn refers_to(word: &str, var: &str) -> bool {
    let w = unquote(word);
    w == format!("${var}") || w == format!("${{{var}}}")
}

/// Paths matching `pattern` (wildcards in the last component only), sorted as the C locale
/// sorts them; names starting with `.` match only an explicit `.`.
fn glob(g: &dyn Guest, pattern: &str) -> Vec<String> {
    let Some((dir, name)) = pattern.rsplit_once('/') else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return vec![pattern.to_owned()];
    }
    let dir_path = if dir.is_empty() { "/" } else { dir };
    list_dir(g, dir_path)
        .into_iter()
        .filter(|n| !n.starts_with('.') || name.starts_with('.'))
        .filter(|n| glob_match(name, n))
        .take(MAX_GLOB)
        .map(|n| format!("{dir}/{n}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// login.defs and PAM
// ---------------------------------------------------------------------------------------------

/// `/etc/login.defs` as far as the umask goes.
#[derive(Debug, Default)]
struct LoginDefs {
    /// `(line, text, value)` of each `UMASK`, in file order.
    umask: Vec<(usize, String, Option<u16>)>,
    /// The last `USERGROUPS_ENAB` line and whether it says yes.
    usergroups: Option<(usize, String, bool)>,
    exists: bool,
}

fn read_login_defs(g: &dyn Guest, files: &mut Files) -> LoginDefs {
    let mut ld = LoginDefs::default();
    let bytes = match g.read_file("/etc/login.defs", MAX_TEXT) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return ld,
        Err(e) => {
            files
                .errors
                .push(Evidence::file("/etc/login.defs", format!("not read: {e}")));
            return ld;
        }
    };
    ld.exists = true;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    for m in umask_lines(&bytes, Keyword::LoginDefs) {
        if m.value_line != m.line {
            continue;
        }
        let shown = lines
            .get(m.line.saturating_sub(1))
            .map_or("", |l| l.trim())
            .to_owned();
        ld.umask.push((m.line, shown, parse_octal(&m.value)));
    }
    for (i, l) in lines.iter().enumerate() {
        let mut f = l.split_whitespace();
        if f.next() == Some("USERGROUPS_ENAB") {
            let yes = f.next().is_some_and(|v| v.eq_ignore_ascii_case("yes"));
            ld.usergroups = Some((i + 1, l.trim().to_owned(), yes));
        }
    }
    ld
}

/// Most PAM files read for one service (includes followed), and pam_umask lines kept.
const MAX_PAM_READS: usize = 32;
const MAX_PAM_LINES: usize = 16;

/// A `session … pam_umask.so` line.
#[derive(Debug, Clone)]
struct PamUmask {
    path: String,
    line: usize,
    text: String,
    umask: Option<String>,
    usergroups: bool,
}

/// pam_umask lines of the session stack of `service`, in the order PAM runs them.
fn pam_umask(
    g: &dyn Guest,
    service: &str,
    depth: usize,
    reads: &mut usize,
    out: &mut Vec<PamUmask>,
) {
    if depth > 8
        || *reads == 0
        || out.len() >= MAX_PAM_LINES
        || (service.contains('/') && !service.starts_with("/etc/pam.d/"))
    {
        return;
    }
    *reads -= 1;
    let path = if service.starts_with('/') {
        service.to_owned()
    } else {
        format!("/etc/pam.d/{service}")
    };
    let Ok(Some(text)) = g.read_text(&path, MAX_TEXT) else {
        return;
    };
    for (i, raw) in text.lines().enumerate() {
        let l = raw.split('#').next().unwrap_or("").trim();
        if let Some(inc) = l.strip_prefix("@include") {
            pam_umask(g, inc.trim(), depth + 1, reads, out);
            continue;
        }
        let mut fields = l.split_whitespace();
        let Some(kind) = fields.next() else { continue };
        if kind.trim_start_matches('-') != "session" {
            continue;
        }
        let mut control = fields.next().unwrap_or("").to_owned();
        if control.starts_with('[') {
            while !control.ends_with(']') {
                match fields.next() {
                    Some(f) => control.push_str(f),
                    None => break,
                }
            }
        }
        let Some(module) = fields.next() else {
            continue;
        };
        if control == "include" || control == "substack" {
            pam_umask(g, module, depth + 1, reads, out);
            continue;
        }
        if module.rsplit('/').next() != Some("pam_umask.so") {
            continue;
        }
        if out.len() >= MAX_PAM_LINES {
            return;
        }
        let args: Vec<&str> = fields.take(16).collect();
        out.push(PamUmask {
            path: path.clone(),
            line: i + 1,
            text: raw.trim().to_owned(),
            umask: args
                .iter()
                .find_map(|a| a.strip_prefix("umask=").map(str::to_owned)),
            usergroups: args.contains(&"usergroups"),
        });
    }
}

/// How a session is opened: the PAM service it goes through.
#[derive(Debug, Clone, Copy)]
struct Path {
    name: &'static str,
    services: &'static [&'static str],
}

const ROOT_PATHS: [Path; 4] = [
    Path {
        name: "console login",
        services: &["login"],
    },
    Path {
        name: "ssh",
        services: &["sshd"],
    },
    Path {
        name: "su -",
        services: &["su-l", "su"],
    },
    Path {
        name: "sudo -i",
        services: &["sudo-i", "sudo"],
    },
];

const USER_PATHS: [Path; 2] = [
    Path {
        name: "console login",
        services: &["login"],
    },
    Path {
        name: "ssh",
        services: &["sshd"],
    },
];

// ---------------------------------------------------------------------------------------------
// The probe
// ---------------------------------------------------------------------------------------------

/// `probe: umask`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Umask {
    /// The umask installs need, in octal (`"022"`).
    pub expect: String,
    /// The account whose logins are checked as the regular user, when it exists; otherwise a
    /// regular user as useradd would create one.
    #[serde(default)]
    pub user: Option<String>,
}

/// Evidence lines kept at most.
const MAX_EVIDENCE: usize = 200;

/// Files always reported, read by a shell or not.
const LISTED: [(&str, Dialect); 8] = [
    ("/etc/profile", Dialect::Sh),
    ("/etc/bashrc", Dialect::Sh),
    ("/etc/bash.bashrc", Dialect::Sh),
    ("/etc/csh.cshrc", Dialect::Csh),
    ("/etc/csh.login", Dialect::Csh),
    ("/root/.bash_profile", Dialect::Sh),
    ("/root/.bashrc", Dialect::Sh),
    ("/root/.profile", Dialect::Sh),
];

/// The result of one session path for one subject.
#[derive(Debug)]
struct Session {
    path: &'static str,
    state: State,
}

/// How a session's umask compares with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Pass,
    Looser,
    MaybeStricter,
    Stricter,
    Bad,
}

impl Umask {
    pub(crate) fn validate(&self) -> Result<(), String> {
        parse_octal(&self.expect)
            .map(|_| ())
            .ok_or_else(|| format!("umask: expect {:?} is not an octal umask", self.expect))
    }

    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the umask is a Unix matter");
        }
        let user = self.user.as_deref().map(|u| cx.expand(u));
        resolve(cx.guest, &self.expect, user.as_deref())
    }
}

fn passwd_entry(g: &dyn Guest, name: &str) -> Option<(u32, u32, String, String)> {
    let text = g.read_text("/etc/passwd", MAX_TEXT).ok()??;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| {
            (
                f.get(2).and_then(|v| v.parse().ok()).unwrap_or(0),
                f.get(3).and_then(|v| v.parse().ok()).unwrap_or(0),
                f.get(5).copied().unwrap_or("").to_owned(),
                f.get(6).copied().unwrap_or("").to_owned(),
            )
        })
    })
}

fn group_name(g: &dyn Guest, gid: u32) -> Option<String> {
    let text = g.read_text("/etc/group", MAX_TEXT).ok()??;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.get(2).and_then(|v| v.parse::<u32>().ok()) == Some(gid))
            .then(|| f.first().copied().unwrap_or("").to_owned())
    })
}

fn subjects(g: &dyn Guest, user: Option<&str>, upg: bool) -> (Subject, Subject) {
    let (uid, gid, home, shell) =
        passwd_entry(g, "root").unwrap_or((0, 0, "/root".into(), "/bin/bash".into()));
    let root = Subject {
        label: "root".into(),
        uid,
        gid,
        user: "root".into(),
        group: group_name(g, gid).or(Some("root".into())),
        home: if home.is_empty() {
            "/root".into()
        } else {
            home
        },
        shell,
        assumed: None,
    };
    let real = user.and_then(|u| passwd_entry(g, u).map(|e| (u, e)));
    let regular = match real {
        Some((name, (uid, gid, home, shell))) => Subject {
            label: name.to_owned(),
            uid,
            gid,
            user: name.to_owned(),
            group: group_name(g, gid),
            home,
            shell,
            assumed: None,
        },
        None => Subject {
            label: "regular users".into(),
            uid: 1000,
            gid: if upg { 1000 } else { 100 },
            user: "user".into(),
            group: Some(if upg { "user" } else { "users" }.into()),
            home: "/etc/skel".into(),
            shell: "/bin/bash".into(),
            assumed: Some(format!(
                "{}a regular user as useradd creates one: UID 1000, {}, home from /etc/skel, \
                 /bin/bash",
                user.map(|u| format!("{u} does not exist; "))
                    .unwrap_or_default(),
                if upg {
                    "its own group (USERGROUPS_ENAB yes)"
                } else {
                    "group users"
                }
            )),
        },
    };
    (root, regular)
}

/// The files a login shell of `s` reads first, in order (each may source others).
fn startup(g: &dyn Guest, s: &Subject) -> Vec<(String, Dialect)> {
    let home = s.home.trim_end_matches('/');
    let first = |names: &[&str]| -> Option<String> {
        names
            .iter()
            .map(|n| format!("{home}/{n}"))
            .find(|p| g.is_file(p))
    };
    match s.dialect() {
        None => {
            let mut v = vec![("/etc/profile".to_owned(), Dialect::Sh)];
            v.extend(
                first(&[".bash_profile", ".bash_login", ".profile"]).map(|p| (p, Dialect::Sh)),
            );
            v
        }
        Some(Dialect::Sh) => vec![
            ("/etc/profile".into(), Dialect::Sh),
            (format!("{home}/.profile"), Dialect::Sh),
        ],
        Some(Dialect::Csh) => {
            let mut v = vec![
                ("/etc/csh.cshrc".to_owned(), Dialect::Csh),
                ("/etc/csh.login".to_owned(), Dialect::Csh),
            ];
            v.extend(first(&[".tcshrc", ".cshrc"]).map(|p| (p, Dialect::Csh)));
            v.push((format!("{home}/.login"), Dialect::Csh));
            v
        }
    }
}

/// The state a session starts its shell with: login.defs `UMASK`, `USERGROUPS_ENAB`, then the
/// pam_umask lines of its PAM stack.
fn initial(ld: &LoginDefs, pam: &[PamUmask], s: &Subject) -> State {
    let mut state = State::new();
    let first = ld.umask.first();
    let last = ld.umask.last();
    match last {
        Some((line, _, Some(m))) => {
            state.insert(
                Val::Mask(*m),
                Origin {
                    path: "/etc/login.defs".into(),
                    line: Some(*line),
                },
            );
        }
        Some((_, _, None)) | None => {
            state.insert(Val::Mask(0o022), default_origin());
        }
    }
    if let Some((line, _, true)) = &ld.usergroups
        && s.private_group()
    {
        state = state
            .into_iter()
            .map(|(v, o)| match v {
                Val::Mask(m) => (
                    Val::Mask(usergroups(m)),
                    Origin {
                        path: "/etc/login.defs".into(),
                        line: Some(*line),
                    },
                ),
                other => (other, o),
            })
            .collect();
    }
    for p in pam {
        let value = match &p.umask {
            Some(v) => parse_octal(v),
            None => first.and_then(|(_, _, m)| *m),
        };
        if let Some(m) = value {
            state = [(
                Val::Mask(m),
                Origin {
                    path: p.path.clone(),
                    line: Some(p.line),
                },
            )]
            .into();
        }
        if p.usergroups && s.uid != 0 && s.group.as_deref() == Some(&s.user) {
            state = state
                .into_iter()
                .map(|(v, o)| match v {
                    Val::Mask(m) => (Val::Mask(usergroups(m)), o),
                    other => (other, o),
                })
                .collect();
        }
    }
    state
}

fn default_origin() -> Origin {
    Origin {
        path: "the default of init and login (no UMASK in /etc/login.defs)".into(),
        line: None,
    }
}

fn level(state: &State, expect: u16, root: bool) -> Level {
    let masks: Vec<u16> = state
        .keys()
        .filter_map(|v| match v {
            Val::Mask(m) => Some(*m),
            Val::Bad(_) => None,
        })
        .collect();
    if masks.len() < state.len() {
        return Level::Bad;
    }
    let stricter = masks.iter().filter(|m| **m & !expect != 0).count();
    let looser = masks
        .iter()
        .filter(|m| **m != expect && **m & !expect == 0)
        .count();
    if stricter > 0 && stricter == masks.len() {
        Level::Stricter
    } else if stricter > 0 {
        Level::MaybeStricter
    } else if looser > 0 && root {
        Level::Looser
    } else {
        Level::Pass
    }
}

fn describe(state: &State, notes: &Notes) -> String {
    let parts: Vec<String> = state
        .iter()
        .map(|(v, o)| match v {
            Val::Mask(m) => format!("{} (set by {})", octal(*m), o.shown()),
            Val::Bad(i) => format!(
                "unknown ({})",
                notes.list.get(*i).map_or(o.shown(), |n| match &n.spec {
                    Spec::Bad(why) => format!("{}: {why}", o.shown()),
                    _ => o.shown(),
                })
            ),
        })
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        many => format!(
            "{} depending on conditions imgprep cannot decide",
            many.join(" or ")
        ),
    }
}

/// Sessions grouped by identical outcome: "`console login, ssh`: STATE".
fn grouped(sessions: &[Session]) -> Vec<(Vec<&'static str>, &State)> {
    let mut out: Vec<(Vec<&'static str>, &State)> = Vec::new();
    for s in sessions {
        match out.iter_mut().find(|(_, st)| **st == s.state) {
            Some((names, _)) => names.push(s.path),
            None => out.push((vec![s.path], &s.state)),
        }
    }
    out
}

/// Resolves the umask of root-run installs and of logins, and judges it against `expect`.
fn resolve(g: &dyn Guest, expect: &str, user: Option<&str>) -> Outcome {
    let Some(expect) = parse_octal(expect) else {
        return Outcome::new(
            Status::Error,
            format!("expect {expect:?} is not an octal umask"),
        );
    };
    let mut files = Files::default();
    let mut notes = Notes::default();
    let mut read = BTreeSet::new();
    let ld = read_login_defs(g, &mut files);
    let upg = ld.usergroups.as_ref().is_some_and(|u| u.2);
    let (root, regular) = subjects(g, user, upg);
    let mut pam_ev: Vec<Evidence> = Vec::new();
    let mut pam_seen: BTreeSet<(String, usize)> = BTreeSet::new();
    let mut ld_ev: Vec<Evidence> = Vec::new();

    let mut run = |s: &Subject, who: Who, paths: &[Path], pam_ev: &mut Vec<Evidence>| {
        let mut sessions = Vec::new();
        for p in paths {
            let service = p
                .services
                .iter()
                .find(|sv| g.is_file(&format!("/etc/pam.d/{sv}")))
                .copied();
            let mut pam = Vec::new();
            if let Some(sv) = service {
                let mut reads = MAX_PAM_READS;
                pam_umask(g, sv, 0, &mut reads, &mut pam);
            }
            for u in &pam {
                if pam_seen.insert((u.path.clone(), u.line)) {
                    pam_ev.push(Evidence::line(
                        &u.path,
                        u.line,
                        format!(
                            "{} — pam_umask sets the session's umask {}{}",
                            u.text,
                            u.umask
                                .as_ref()
                                .map_or("from /etc/login.defs UMASK".to_owned(), |m| format!(
                                    "to {m}"
                                )),
                            if u.usergroups {
                                "; usergroups: users whose name is their primary group's get \
                                 the owner's bits as group bits"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            }
            let state = initial(&ld, &pam, s);
            let mut w = Walk {
                g,
                s,
                who,
                files: &mut files,
                notes: &mut notes,
                read: &mut read,
                state,
                stack: Vec::new(),
                budget: MAX_WALK_EVENTS,
            };
            for (f, d) in startup(g, s) {
                w.file(&f, d, Some(true));
            }
            sessions.push(Session {
                path: p.name,
                state: w.state,
            });
        }
        sessions
    };
    let root_sessions = run(&root, Who::Root, &ROOT_PATHS, &mut pam_ev);
    let user_sessions = run(&regular, Who::User, &USER_PATHS, &mut pam_ev);

    // Evidence: login.defs first, then PAM, then every umask line in the order first read.
    let n_umask = ld.umask.len();
    for (i, (line, text, value)) in ld.umask.iter().enumerate() {
        let role = match value {
            None => "not an octal umask; login and pam_umask ignore it",
            Some(_) if i + 1 < n_umask => {
                "overridden by a later UMASK line (login and useradd read the last one; \
                 pam_umask the first)"
            }
            Some(_) => {
                "initial umask of login sessions (login, su, pam_umask) and the mode useradd \
                 gives new home directories"
            }
        };
        ld_ev.push(Evidence::line(
            "/etc/login.defs",
            *line,
            format!("{text} — {role}"),
        ));
    }
    if ld.exists && ld.umask.is_empty() {
        ld_ev.push(Evidence::file(
            "/etc/login.defs",
            "no UMASK: login sessions start with 022",
        ));
    }
    if let Some((line, text, true)) = &ld.usergroups {
        let example = ld
            .umask
            .last()
            .and_then(|u| u.2)
            .map_or("022 -> 002".to_owned(), |m| {
                format!("{} -> {}", octal(m), octal(usergroups(m)))
            });
        ld_ev.push(Evidence::line(
            "/etc/login.defs",
            *line,
            format!(
                "{text} — users whose UID equals their GID and whose name is their primary \
                 group's get the owner's bits as group bits ({example}), as login and \
                 pam_umask apply it; never root: {} {}",
                if regular.private_group() {
                    "applies to"
                } else {
                    "does not apply to"
                },
                regular.label
            ),
        ));
    }

    // Files a shell of neither subject reads, and csh files.
    let mut extra_files: Vec<(String, Dialect)> =
        LISTED.iter().map(|(p, d)| ((*p).to_owned(), *d)).collect();
    extra_files.extend(
        glob(g, "/etc/profile.d/*.sh")
            .into_iter()
            .map(|p| (p, Dialect::Sh)),
    );
    for (p, d) in extra_files {
        if read.contains(&p) {
            continue;
        }
        let Some(parsed) = files.get(g, &p, d) else {
            continue;
        };
        for ev in parsed.events.iter().take(MAX_EVIDENCE) {
            if let Event::Set { line, args, ctx } = ev {
                let spec = parse_spec(args);
                let text = parsed
                    .lines
                    .get(line.saturating_sub(1))
                    .map_or(String::new(), |l| l.trim().to_owned());
                let idx = notes.index(&p, *line, &text, &spec, ctx);
                if let Some(n) = notes.list.get_mut(idx) {
                    n.extra = Some(if d == Dialect::Csh {
                        format!(
                            "read by csh/tcsh login shells only; root's shell is {} and {}'s {}",
                            root.shell, regular.label, regular.shell
                        )
                    } else {
                        "not read by the login shells of root or regular users on this image".into()
                    });
                }
            }
        }
    }

    // SSG matches that are not commands a shell runs (here-documents, a bare `umask`).
    let mut odd: Vec<Evidence> = Vec::new();
    let mut odd_seen: BTreeSet<(&str, usize)> = BTreeSet::new();
    for ((path, _), parsed) in &files.parsed {
        let Some(parsed) = parsed else { continue };
        for m in &parsed.ssg {
            if odd.len() > MAX_EVIDENCE {
                break;
            }
            if parsed.set_lines.contains(&m.line) && m.value_line == m.line
                || parsed.truncated
                || !odd_seen.insert((path.as_str(), m.line))
            {
                continue;
            }
            let text = parsed
                .lines
                .get(m.line.saturating_sub(1))
                .map_or(String::new(), |l| l.trim().to_owned());
            let why = if parsed.heredoc.contains(&m.line) {
                "inside a here-document: text, not a command".to_owned()
            } else if m.value_line != m.line {
                format!(
                    "`umask` alone prints the mask; SCAP Security Guide's pattern reads line {} \
                     ({:?}) as its value, the shell does not",
                    m.value_line, m.value
                )
            } else {
                "not a command the shell runs here (inside a string?)".to_owned()
            };
            odd.push(Evidence::line(path, m.line, format!("{text} — {why}")));
        }
    }

    let mut evidence: Vec<Evidence> = ld_ev;
    evidence.extend(pam_ev);
    for n in &notes.list {
        evidence.push(Evidence::line(
            &n.path,
            n.line,
            note_text(n, &root, &regular),
        ));
    }
    evidence.extend(odd);
    evidence.extend(files.errors.iter().cloned());
    if let Some(a) = &regular.assumed {
        evidence.push(Evidence::file("/etc/passwd", a.clone()));
    }
    if evidence.len() > MAX_EVIDENCE {
        let more = evidence.len() - MAX_EVIDENCE;
        evidence.truncate(MAX_EVIDENCE);
        evidence.push(Evidence::file(
            "(more)",
            format!("{more} more lines not shown"),
        ));
    }

    verdict(expect, &root_sessions, &user_sessions, &regular, &notes).with(evidence)
}

fn note_text(n: &Note, root: &Subject, user: &Subject) -> String {
    let what = match &n.spec {
        Spec::Octal(m) => format!("sets {}", octal(*m)),
        Spec::Symbolic(c) => format!(
            "sets {} from 022 (symbolic: applied to the current mask)",
            octal(apply_symbolic(0o022, c))
        ),
        Spec::Print => "prints the mask, sets nothing".into(),
        Spec::Bad(why) => format!("cannot be read: {why}"),
    };
    let cond = if n.cond.is_empty() {
        String::new()
    } else {
        format!(" under `{}`", n.cond.join("` and `"))
    };
    let applies = match (n.root, n.user) {
        (None, None) => n
            .extra
            .clone()
            .unwrap_or_else(|| "not read by the login shells checked".into()),
        (r, u) => {
            let who = |t: Option<Tri>, s: &Subject| match t {
                Some(Some(true)) => format!("applies to {}", s.label),
                Some(Some(false)) => format!("not for {}", s.label),
                Some(None) => format!("undecided for {}", s.label),
                None => format!("not read by {}'s login shell", s.label),
            };
            format!("{}; {}", who(r, root), who(u, user))
        }
    };
    format!("{} — {what}{cond}: {applies}", n.text)
}

const HARDENING: &str = "CIS and DISA STIG hardening require 027 or stricter, so rather than \
     weakening the system-wide default, set `umask {e}` in the install script or for the agent's \
     account";

fn verdict(
    expect: u16,
    root: &[Session],
    user: &[Session],
    regular: &Subject,
    notes: &Notes,
) -> Outcome {
    let e = octal(expect);
    let hardening = HARDENING.replace("{e}", &e);
    let lv = |ss: &[Session], is_root: bool| {
        ss.iter()
            .map(|s| level(&s.state, expect, is_root))
            .max()
            .unwrap_or(Level::Pass)
    };
    let (rl, ul) = (lv(root, true), lv(user, false));
    let say = |ss: &[Session], who: &str| -> String {
        let groups = grouped(ss);
        match groups.as_slice() {
            [(_, st)] => format!("{who} get umask {}", describe(st, notes)),
            many => format!(
                "{who} get umask {}",
                many.iter()
                    .map(|(names, st)| format!("{} via {}", describe(st, notes), names.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    };
    let root_s = say(root, "root-run installs (root logins, su -, sudo -i)");
    let user_s = say(user, &format!("logins of {}", regular.label));
    let worst = rl.max(ul);
    // The sessions at the worst level, root first.
    let who = [(rl, &root_s), (ul, &user_s)]
        .iter()
        .filter(|(l, _)| *l == worst)
        .map(|(_, s)| s.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let (status, msg) = match worst {
        Level::Bad => (
            Status::Error,
            format!("the umask cannot be decided offline: {who}"),
        ),
        Level::Stricter => (
            Status::Fail,
            format!(
                "{who}, stricter than the {e} the agent installer needs: files and directories \
                 it creates would be unreadable by the agent's account. {hardening}"
            ),
        ),
        Level::MaybeStricter => (
            Status::Warn,
            format!("{who}: possibly stricter than the {e} the agent installer needs. {hardening}"),
        ),
        Level::Looser => (
            Status::Warn,
            format!(
                "{who}, looser than the {e} the agent installer expects: files it creates are \
                 writable by more than their owner"
            ),
        ),
        Level::Pass => {
            let looser_users = user.iter().any(|s| {
                s.state
                    .keys()
                    .any(|v| matches!(v, Val::Mask(m) if *m != expect))
            });
            (
                Status::Pass,
                if looser_users {
                    format!(
                        "{root_s}, as the agent installer needs; {user_s} (looser, which does \
                         not stop the agent's account reading files)"
                    )
                } else {
                    format!("{root_s}, as the agent installer needs; {user_s}")
                },
            )
        }
    };
    Outcome::new(status, msg)
}

#[cfg(test)]
mod tests {
    use super::super::boot::testing::MemGuest;
    use super::*;

    #[test]
    fn ssg_scanner_reads_what_the_oval_pattern_reads() {
        for (text, key, want) in [
            ("umask 022\n", Keyword::Shell, vec![(1, 1, "022")]),
            ("  \tumask\t027 # c\n", Keyword::Shell, vec![(1, 1, "027")]),
            ("#umask 077\n", Keyword::Shell, vec![]),
            ("UMASK 077\n", Keyword::Shell, vec![]),
            ("umask\n077\n", Keyword::Shell, vec![(1, 2, "077")]),
            ("x\numask 0#22\n", Keyword::Shell, vec![(2, 2, "0")]),
            (
                "UMASK\t\t077\nUMASK 022\n",
                Keyword::LoginDefs,
                vec![(1, 1, "077"), (2, 2, "022")],
            ),
            ("umask 022;\n", Keyword::Shell, vec![(1, 1, "022;")]),
            ("umask\u{a0}022\n", Keyword::Shell, vec![]),
        ] {
            let got: Vec<(usize, usize, String)> = umask_lines(text.as_bytes(), key)
                .into_iter()
                .map(|m| (m.line, m.value_line, m.value))
                .collect();
            let want: Vec<(usize, usize, String)> = want
                .into_iter()
                .map(|(a, b, c)| (a, b, c.to_owned()))
                .collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn ssg_results_follow_the_oval_arithmetic() {
        use SsgResult::*;
        for (text, req, want) in [
            (Some("umask 027\n"), "027", Pass),
            (Some("umask 077\n"), "027", Pass),
            (Some("umask 022\n"), "027", Fail),
            (Some("umask 027\numask 022\n"), "027", Fail),
            (Some("umask 0022\n"), "022", Fail),
            (Some("umask 22\n"), "022", Unknown),
            (Some("umask 002\numask 22\n"), "022", Unknown),
            (Some("umask u=rwx,g=rx,o=rx\n"), "022", Fail),
            (Some("umask u=rwx,g=rx,o=rx\n"), "000", Pass),
            (Some("umask 082\n"), "022", Fail),
            (Some("umask\n077\n"), "077", Pass),
            (Some("umask\numask 022\n"), "022", Fail),
            (Some("umask \n"), "022", Unknown),
            (Some("# umask 077\n"), "022", Fail),
            (Some(""), "022", Fail),
            (None, "022", Fail),
        ] {
            assert_eq!(
                ssg_file_result(text.map(str::as_bytes), Keyword::Shell, req),
                want,
                "{text:?} against {req}"
            );
        }
    }

    #[test]
    fn umask_values_as_the_shell_reads_them() {
        let w = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        for (args, want) in [
            ("022", Some(0o022)),
            ("0022", Some(0o022)),
            ("7", Some(0o007)),
            ("-S 027", Some(0o027)),
            ("u=rwx,g=rx,o=rx", Some(0o022)),
            ("u=rwx,g=,o=", Some(0o077)),
            ("a=rx,u+w", Some(0o022)),
            ("\"077\"", Some(0o077)),
            ("1000", None),
            ("089", None),
            ("$MASK", None),
            ("u=rwz", None),
        ] {
            let got = match parse_spec(&w(args)) {
                Spec::Octal(m) => Some(m),
                Spec::Symbolic(c) => Some(apply_symbolic(0o777, &c)),
                _ => None,
            };
            assert_eq!(got, want, "umask {args}");
        }
        assert_eq!(parse_spec(&w("-S")), Spec::Print);
        assert_eq!(apply_symbolic(0o077, &symbolic("g+rx")), 0o027);
        assert_eq!(apply_symbolic(0o022, &symbolic("o-r")), 0o026);
        assert_eq!(usergroups(0o022), 0o002);
        assert_eq!(usergroups(0o077), 0o007);
    }

    fn symbolic(s: &str) -> Vec<Clause> {
        match parse_value(s) {
            Spec::Symbolic(c) => c,
            other => panic!("{other:?}"),
        }
    }

    const RHEL_PROFILE: &str = r#"# /etc/profile
pathmunge () {
    case ":${PATH}:" in
        *:"$1":*)
            ;;
        *)
            if [ "$2" = "after" ] ; then
                PATH=$PATH:$1
            else
                PATH=$1:$PATH
            fi
    esac
}

if [ -x /usr/bin/id ]; then
    if [ -z "$EUID" ]; then
        # ksh workaround
        EUID=`/usr/bin/id -u`
        UID=`/usr/bin/id -ru`
    fi
    USER="`/usr/bin/id -un`"
fi

# By default, we want umask to get set. This sets it for login shell
if [ $UID -gt 199 ] && [ "`/usr/bin/id -gn`" = "`/usr/bin/id -un`" ]; then
    umask 002
else
    umask 022
fi

for i in /etc/profile.d/*.sh /etc/profile.d/sh.local ; do
    if [ -r "$i" ]; then
        if [ "${-#*i}" != "$-" ]; then
            . "$i"
        else
            . "$i" >/dev/null
        fi
    fi
done

unset i
unset -f pathmunge
"#;

    const RHEL_BASHRC: &str = r#"# /etc/bashrc
if [ "$PS1" ]; then
  shopt -s histappend
fi

if ! shopt -q login_shell ; then # We're not a login shell
    if [ $UID -gt 199 ] && [ "`/usr/bin/id -gn`" = "`/usr/bin/id -un`" ]; then
       umask 002
    else
       umask 022
    fi
fi
"#;

    const ROOT_BASH_PROFILE: &str = "if [ -f ~/.bashrc ]; then\n\t. ~/.bashrc\nfi\n";
    const ROOT_BASHRC: &str = "if [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n";

    fn rhel() -> MemGuest {
        MemGuest::new()
            .file(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\ncliqruser:x:1000:1000::/home/cliqruser:/bin/bash\n",
            )
            .file("/etc/group", "root:x:0:\ncliqruser:x:1000:\n")
            .file("/etc/login.defs", "UMASK           077\nUSERGROUPS_ENAB yes\n")
            .file("/etc/profile", RHEL_PROFILE)
            .file("/etc/bashrc", RHEL_BASHRC)
            .file("/root/.bash_profile", ROOT_BASH_PROFILE)
            .file("/root/.bashrc", ROOT_BASHRC)
            .file("/etc/skel/.bash_profile", ROOT_BASH_PROFILE)
            .file("/etc/skel/.bashrc", ROOT_BASHRC)
            .file("/home/cliqruser/.bash_profile", ROOT_BASH_PROFILE)
            .file("/home/cliqruser/.bashrc", ROOT_BASHRC)
            .dir("/etc/profile.d")
    }

    /// Runs the resolver: status, message, and `path:line` of every evidence line.
    fn check(g: MemGuest, user: Option<&str>, status: Status, fragments: &[&str], lines: &[&str]) {
        let o = resolve(&g, "022", user);
        let shown: Vec<String> = o
            .evidence
            .iter()
            .map(|e| format!("{}:{} {}", e.path, e.line.unwrap_or(0), e.text))
            .collect();
        assert_eq!(o.status, status, "{}\n{}", o.message, shown.join("\n"));
        for f in fragments {
            assert!(o.message.contains(f), "{f:?} not in {}", o.message);
        }
        for l in lines {
            assert!(
                shown.iter().any(|s| s.starts_with(&format!("{l} "))),
                "no evidence {l}:\n{}",
                shown.join("\n")
            );
        }
    }

    #[test]
    fn rhel_defaults_give_root_022_and_private_group_users_002() {
        check(
            rhel(),
            Some("cliqruser"),
            Status::Pass,
            &[
                "root-run installs (root logins, su -, sudo -i) get umask 022 (set by /etc/profile:28)",
                "logins of cliqruser get umask 002 (set by /etc/profile:26)",
            ],
            &[
                "/etc/login.defs:1",
                "/etc/profile:26",
                "/etc/profile:28",
                "/etc/bashrc:8",
                "/etc/bashrc:10",
            ],
        );
    }

    #[test]
    fn rhel_branches_are_reported_with_their_conditions() {
        let o = resolve(&rhel(), "022", Some("cliqruser"));
        let e = |line: u32, path: &str| {
            o.evidence
                .iter()
                .find(|e| e.path == path && e.line == Some(line))
                .map(|e| e.text.clone())
                .unwrap_or_default()
        };
        let (then, els) = (e(26, "/etc/profile"), e(28, "/etc/profile"));
        let cond = "if [ $UID -gt 199 ] && [ \"`/usr/bin/id -gn`\" = \"`/usr/bin/id -un`\" ]";
        assert!(then.contains(cond), "{then}");
        assert!(
            then.contains("not for root; applies to cliqruser"),
            "{then}"
        );
        assert!(els.contains(&format!("else of {cond}")), "{els}");
        assert!(els.contains("applies to root; not for cliqruser"), "{els}");
        assert!(e(8, "/etc/bashrc").contains("if ! shopt -q login_shell"));
        assert!(e(8, "/etc/bashrc").contains("not for root; not for cliqruser"));
    }

    #[test]
    fn profile_d_is_read_in_c_locale_order_and_the_last_setting_wins() {
        check(
            rhel()
                .file("/etc/profile.d/zz.sh", "umask 077\n")
                .file("/etc/profile.d/Z.sh", "umask 027\n")
                .file("/etc/profile.d/.hidden.sh", "umask 000\n"),
            Some("cliqruser"),
            Status::Fail,
            &[
                "get umask 077 (set by /etc/profile.d/zz.sh:1)",
                "CIS and DISA STIG",
                "set `umask 022` in the install script",
            ],
            &["/etc/profile.d/zz.sh:1", "/etc/profile.d/Z.sh:1"],
        );
    }

    #[test]
    fn login_defs_alone_decides_when_no_shell_file_sets_a_umask() {
        let g = MemGuest::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/login.defs", "UMASK\t\t077\nUSERGROUPS_ENAB yes\n");
        check(
            g,
            Some("cliqruser"),
            Status::Fail,
            &[
                "root-run installs (root logins, su -, sudo -i) get umask 077 (set by /etc/login.defs:1)",
                "stricter than the 022",
            ],
            &["/etc/login.defs:1", "/etc/passwd:0"],
        );
    }

    #[test]
    fn pam_umask_arguments_override_login_defs_per_service() {
        let g = MemGuest::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/login.defs", "UMASK 022\n")
            .file("/etc/pam.d/sshd", "@include common-session\n")
            .file("/etc/pam.d/login", "session include system-auth\n")
            .file("/etc/pam.d/system-auth", "session optional pam_unix.so\n")
            .file(
                "/etc/pam.d/common-session",
                "session [default=1] pam_permit.so\nsession optional pam_umask.so umask=0027\n",
            );
        check(
            g,
            None,
            Status::Fail,
            &[
                "022 (set by /etc/login.defs:1) via console login, su -, sudo -i",
                "027 (set by /etc/pam.d/common-session:2) via ssh",
            ],
            &["/etc/pam.d/common-session:2"],
        );
    }

    #[test]
    fn debian_reads_bash_bashrc_from_profile_and_root_dotfiles() {
        let profile = "if [ \"${PS1-}\" ]; then\n  if [ \"${BASH-}\" ] && [ \"$BASH\" != \"/bin/sh\" ]; then\n    if [ -f /etc/bash.bashrc ]; then\n      . /etc/bash.bashrc\n    fi\n  fi\nfi\nif [ -d /etc/profile.d ]; then\n  for i in /etc/profile.d/*.sh; do\n    if [ -r $i ]; then\n      . $i\n    fi\n  done\n  unset i\nfi\n";
        let g = MemGuest::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/login.defs", "UMASK 022\n")
            .file("/etc/profile", profile)
            .file("/etc/bash.bashrc", "[ -z \"$PS1\" ] && return\numask 027\n")
            .file(
                "/root/.profile",
                "if [ \"$BASH\" ]; then\n  if [ -f ~/.bashrc ]; then\n    . ~/.bashrc\n  fi\nfi\n",
            )
            .file("/root/.bashrc", "umask 022\n");
        check(
            g,
            None,
            Status::Fail,
            &["logins of regular users get umask 027 (set by /etc/bash.bashrc:2)"],
            &["/etc/bash.bashrc:2", "/root/.bashrc:1"],
        );
    }

    #[test]
    fn undecidable_conditions_warn_and_bad_values_error() {
        let base = || {
            MemGuest::new()
                .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
                .file("/etc/login.defs", "UMASK 022\n")
        };
        check(
            base().file(
                "/etc/profile",
                "if [ -f /run/hardened ] || grep -q x /etc/y; then\n  umask 077\nfi\n",
            ),
            None,
            Status::Warn,
            &["022 (set by /etc/login.defs:1) or 077 (set by /etc/profile:2)"],
            &["/etc/profile:2"],
        );
        check(
            base().file("/etc/profile", "umask $DEFAULT_MASK\n"),
            None,
            Status::Error,
            &["cannot be decided offline", "/etc/profile:1"],
            &["/etc/profile:1"],
        );
        check(
            base().file("/etc/profile", "umask 0999\numask 022\n"),
            None,
            Status::Pass,
            &[],
            &["/etc/profile:1"],
        );
        check(
            base().file("/etc/profile", "umask 002\n"),
            None,
            Status::Warn,
            &["looser than the 022"],
            &["/etc/profile:1"],
        );
    }

    #[test]
    fn csh_files_apply_to_csh_users_only() {
        let cshrc = "if ($uid > 199 && \"`/usr/bin/id -gn`\" == \"`/usr/bin/id -un`\") then\n    umask 002\nelse\n    umask 077\nendif\n";
        let g = MemGuest::new()
            .file(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/tcsh\n",
            )
            .file("/etc/group", "ops:x:1000:\n")
            .file("/etc/login.defs", "UMASK 022\n")
            .file("/etc/csh.cshrc", cshrc);
        check(
            g.clone(),
            None,
            Status::Pass,
            &["get umask 022"],
            &["/etc/csh.cshrc:2", "/etc/csh.cshrc:4"],
        );
        let o = resolve(&g, "022", Some("ops"));
        assert_eq!(o.status, Status::Pass, "{}", o.message);
        assert!(
            o.message
                .contains("logins of ops get umask 002 (set by /etc/csh.cshrc:2)"),
            "{}",
            o.message
        );
    }

    #[test]
    fn heredocs_functions_and_bare_umask_are_not_settings() {
        let g = MemGuest::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/login.defs", "UMASK 022\n")
            .file(
                "/etc/profile",
                "cat > /tmp/x <<'EOF'\numask 077\nEOF\nharden() {\n  umask 077\n}\numask\n077\n",
            );
        check(
            g,
            None,
            Status::Warn,
            &["022 (set by /etc/login.defs:1) or 077 (set by /etc/profile:5)"],
            &["/etc/profile:2", "/etc/profile:5", "/etc/profile:7"],
        );
    }

    #[test]
    fn hostile_text_terminates() {
        // Each stays bounded: nesting, events per file and per walk, condition sizes, expansion
        // length, source depth and PAM includes are capped.
        let nasty = [
            "if if if if\nthen then\n".repeat(200),
            "$(((((((((".repeat(300),
            "`".repeat(1001),
            "case x in\n".repeat(500),
            "{ ".repeat(5000),
            ". /etc/profile\n".into(),
            "<<".repeat(400),
            "\"unterminated\numask 077\n".into(),
            "umask 022\n".repeat(50_000),
            format!(
                "if {}; then\n{}fi\n",
                "[ a ] && ".repeat(5000),
                "umask 077\n".repeat(20_000)
            ),
            format!("if {} [ a ]; then umask 077; fi\n", "! ".repeat(100_000)),
            format!("umask {}\n", "${x-".repeat(50_000)),
            format!("{}umask 077\n", "a && ".repeat(50_000)),
            format!(
                "if a; then :\n{}fi\nx\n",
                "elif b; then umask 077\n".repeat(5_000)
            ),
            ". /etc/profile.d/a.sh\n".repeat(20_000),
            "for i in /etc/profile.d/*.sh; do . $i; done\n".repeat(2_000),
            "umask\n".repeat(20_000),
        ];
        for n in nasty {
            let g = MemGuest::new()
                .file("/etc/profile", &n)
                .file("/etc/profile.d/a.sh", ". /etc/profile\numask 027\n")
                .file("/etc/profile.d/b.sh", &"umask g-w\n".repeat(1000))
                .file("/etc/pam.d/sshd", &"@include sshd\n".repeat(1000))
                .file("/etc/login.defs", &"UMASK 077\n".repeat(2_000));
            let o = resolve(&g, "022", None);
            assert!(o.evidence.len() <= MAX_EVIDENCE + 1, "{}", o.evidence.len());
        }
    }
}
