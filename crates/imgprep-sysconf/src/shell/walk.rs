//! Walking the startup files a login shell reads, following `.`/`source` and the profile.d loop,
//! and keeping every value the umask can end with.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use imgprep_guest::Guest;

use super::cond::{Env, Memo, Subject, Tri, and, unquote};
use super::lex::lex;
use super::ssg::{Keyword, UmaskLine, umask_lines};
use super::structure::{Ctx, Dialect, Event, MAX_EVENTS, shorten, structure};
use super::value::{Spec, apply_symbolic, parse_spec};
use crate::Evidence;
use crate::text::MAX_TEXT;

/// A file as the walk reads it.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) lines: Vec<String>,
    pub(crate) events: Vec<Event>,
    /// Lines of the `umask` commands among the events.
    pub(crate) set_lines: BTreeSet<usize>,
    /// More than [`MAX_EVENTS`] events: the rest was not followed.
    pub(crate) truncated: bool,
    /// SSG matches: keyword line -> value line.
    pub(crate) ssg: Vec<UmaskLine>,
    pub(crate) heredoc: BTreeSet<usize>,
}

/// Most files the walks read, all subjects together.
pub(crate) const MAX_FILES: usize = 512;
/// Deepest chain of `source`.
pub(crate) const MAX_DEPTH: usize = 12;
/// Most `/etc/profile.d` entries considered per glob.
pub(crate) const MAX_GLOB: usize = 1024;

#[derive(Default)]
pub(crate) struct Files {
    pub(crate) parsed: BTreeMap<(String, Dialect), Option<Rc<Parsed>>>,
    pub(crate) globs: BTreeMap<String, Rc<Vec<String>>>,
    pub(crate) errors: Vec<Evidence>,
}

impl Files {
    /// [`glob`], once per pattern.
    pub(crate) fn glob(&mut self, g: &dyn Guest, pattern: &str) -> Rc<Vec<String>> {
        if let Some(v) = self.globs.get(pattern) {
            return v.clone();
        }
        let v = Rc::new(crate::path::glob(g, pattern, MAX_GLOB));
        if self.globs.len() < MAX_FILES {
            self.globs.insert(pattern.to_owned(), v.clone());
        }
        v
    }

    pub(crate) fn get(&mut self, g: &dyn Guest, path: &str, d: Dialect) -> Option<Rc<Parsed>> {
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
pub enum Val {
    /// An octal mask.
    Mask(u16),
    /// The value set by the note with this index could not be read.
    Bad(usize),
}

/// Where a value was set: a guest file and line, or a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The guest file (or a description of the default).
    pub path: String,
    /// 1-based line, when a file line set it.
    pub line: Option<usize>,
}

impl Origin {
    /// `path:line`, or the path.
    pub fn shown(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.path),
            None => self.path.clone(),
        }
    }
}

pub type State = BTreeMap<Val, Origin>;

/// Who a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    Root,
    User,
}

/// One umask line found, and what it does for root and for the regular user.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub(crate) path: String,
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) spec: Spec,
    pub(crate) cond: Vec<String>,
    pub(crate) root: Option<Tri>,
    pub(crate) user: Option<Tri>,
    pub(crate) extra: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub(crate) list: Vec<Note>,
    pub(crate) by_line: BTreeMap<(String, usize), usize>,
}

impl Notes {
    /// The note of `path:line`, made from `ctx` when it is new.
    pub(crate) fn index(
        &mut self,
        path: &str,
        line: usize,
        text: &str,
        spec: &Spec,
        ctx: &[Ctx],
    ) -> usize {
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

pub(crate) struct Walk<'a> {
    pub(crate) g: &'a dyn Guest,
    pub(crate) s: &'a Subject,
    pub(crate) who: Who,
    pub(crate) files: &'a mut Files,
    pub(crate) notes: &'a mut Notes,
    pub(crate) read: &'a mut BTreeSet<String>,
    pub(crate) state: State,
    pub(crate) stack: Vec<String>,
    /// Events this walk may still process ([`MAX_WALK_EVENTS`]).
    pub(crate) budget: usize,
    /// Variables the files assigned: values, `None` where a value or condition is not known.
    pub(crate) vars: BTreeMap<String, Option<String>>,
    /// Conditions decided, one table per file being read (innermost last).
    pub(crate) memo: Vec<Memo>,
    /// An error ended the startup: nothing more is read.
    pub(crate) aborted: bool,
}

/// Most events one walk processes, sourced files included.
pub(crate) const MAX_WALK_EVENTS: usize = 20_000;
/// Most variables one walk keeps.
const MAX_VARS: usize = 1024;

impl Walk<'_> {
    pub(crate) fn env<'b>(&'b self, bind: Option<(&'b str, &'b str)>) -> Env<'b> {
        Env {
            g: self.g,
            s: self.s,
            bind,
            vars: Some(&self.vars),
            memo: self.memo.last(),
        }
    }

    pub(crate) fn file(&mut self, path: &str, d: Dialect, inherited: Tri) {
        if self.aborted || self.stack.len() >= MAX_DEPTH || self.stack.iter().any(|p| p == path) {
            return;
        }
        let Some(parsed) = self.files.get(self.g, path, d) else {
            return;
        };
        self.read.insert(path.to_owned());
        self.stack.push(path.to_owned());
        self.memo.push(Memo::default());
        let mut inh = inherited;
        for ev in &parsed.events {
            if self.budget == 0 || self.aborted {
                break;
            }
            self.budget -= 1;
            match ev {
                Event::Set { line, args, ctx } => {
                    let t = and(inh, self.env(None).truth(ctx));
                    // Variables the files set are known: `X=027; umask $X`.
                    let expanded: Option<Vec<String>> = {
                        let env = self.env(None);
                        args.iter().map(|a| env.expand(a)).collect()
                    };
                    let spec = match expanded {
                        Some(words) if args.iter().any(|a| a.contains('$')) => parse_spec(&words),
                        _ => parse_spec(args),
                    };
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
                Event::Source { target, ctx, .. } => {
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
                Event::Assign { name, value, ctx } => {
                    if self.vars.len() >= MAX_VARS && !self.vars.contains_key(name) {
                        continue;
                    }
                    let env = self.env(None);
                    let t = and(inh, env.truth(ctx));
                    let v = env.expand(value);
                    match t {
                        Some(true) => {
                            self.vars.insert(name.clone(), v);
                        }
                        None => {
                            self.vars.insert(name.clone(), None);
                        }
                        Some(false) => {}
                    }
                }
                Event::Abort { ctx } => match and(inh, self.env(None).truth(ctx)) {
                    Some(true) => {
                        self.aborted = true;
                        break;
                    }
                    Some(false) => {}
                    None => inh = None,
                },
                Event::Stop { ctx } => match and(inh, self.env(None).truth(ctx)) {
                    Some(true) => break,
                    Some(false) => {}
                    None => inh = None,
                },
            }
        }
        self.stack.pop();
        self.memo.pop();
    }

    pub(crate) fn apply(&mut self, t: Tri, spec: &Spec, idx: usize, origin: Origin) {
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
    pub(crate) fn targets(
        &mut self,
        target: &str,
        ctx: &[Ctx],
    ) -> Vec<(String, Option<(String, String)>)> {
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
pub(crate) fn refers_to(word: &str, var: &str) -> bool {
    let w = unquote(word);
    w == format!("${var}") || w == format!("${{{var}}}")
}
