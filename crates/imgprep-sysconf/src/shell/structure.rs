//! The structure around each command that matters for the umask: `if`/`case`/`for` frames,
//! `&&`/`||` guards, functions and loops, for sh and csh.

use std::rc::Rc;

use super::lex::{Cmd, Lexed, Sep};

/// Shell dialect of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dialect {
    Sh,
    Csh,
}

/// A condition: an and-or list of commands (sh), or the tokens of a csh expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Sh(Vec<(Vec<String>, Sep)>),
    Csh(Vec<String>),
}

/// Longest condition kept: parts of an and-or list, words of a part, bytes of a word. A longer
/// one is replaced by [`TOO_LONG`], which no condition evaluator recognises (undecidable).
pub(crate) const MAX_PARTS: usize = 16;
pub(crate) const MAX_WORDS: usize = 64;
pub(crate) const MAX_WORD: usize = 256;
pub(crate) const TOO_LONG: &str = "…";

/// `words`, or [`TOO_LONG`] when they exceed the limits.
pub(crate) fn capped(words: &[String]) -> Vec<String> {
    if words.len() > MAX_WORDS || words.iter().any(|w| w.len() > MAX_WORD) {
        vec![TOO_LONG.to_owned()]
    } else {
        words.to_vec()
    }
}

impl Cond {
    pub(crate) fn push(&mut self, words: &[String], sep: Sep) {
        if let Cond::Sh(parts) = self {
            if parts.len() < MAX_PARTS {
                parts.push((capped(words), sep));
            } else {
                *parts = vec![(vec![TOO_LONG.to_owned()], Sep::End)];
            }
        }
    }

    pub(crate) fn shown(&self) -> String {
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
pub(crate) fn shorten(s: String) -> String {
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
pub(crate) struct Arm {
    pub(crate) word: String,
    pub(crate) patterns: Vec<String>,
}

/// `for VAR in ITEMS` / `foreach VAR (ITEMS)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Loop {
    pub(crate) var: String,
    pub(crate) items: Vec<String>,
}

/// Where a command sits: each must hold for it to run. Shared with the frames it was taken
/// from, so that a snapshot per command stays cheap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ctx {
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
    /// Holds in BSD csh, which lacks the tcsh variables named: a reference to one is an error
    /// that ends the file there.
    Tcsh(Rc<str>),
}

impl Ctx {
    pub(crate) fn shown(&self) -> Option<String> {
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
            Ctx::Tcsh(vars) => Some(format!("BSD csh, which has no ${vars}")),
        }
    }
}

/// Something in a file that matters for the umask.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    /// `umask ARGS`.
    Set {
        line: usize,
        args: Vec<String>,
        ctx: Vec<Ctx>,
    },
    /// `. FILE` / `source FILE`.
    Source {
        line: usize,
        target: String,
        ctx: Vec<Ctx>,
    },
    /// `return` / `exit`: the rest of the file is not read.
    Stop { ctx: Vec<Ctx> },
    /// An error that ends the shell's startup: no later command of any startup file runs.
    Abort { ctx: Vec<Ctx> },
    /// `NAME=VALUE` (also with `export`), csh's `set NAME = VALUE` and `setenv NAME VALUE`.
    Assign {
        name: String,
        value: String,
        ctx: Vec<Ctx>,
    },
}

#[derive(Debug)]
pub(crate) enum Frame {
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
pub(crate) const MAX_NESTING: usize = 64;
/// Most branches of one `if` kept; later ones are undecidable.
pub(crate) const MAX_BRANCHES: usize = 64;
/// Most events kept per file; the rest of a longer file is not followed.
pub(crate) const MAX_EVENTS: usize = 2_000;

/// The events of a file, with the structure each sits in; true when [`MAX_EVENTS`] cut it.
pub(crate) fn structure(lexed: &Lexed, dialect: Dialect) -> (Vec<Event>, bool) {
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

pub(crate) fn snapshot(frames: &[Frame]) -> Vec<Ctx> {
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

pub(crate) fn pop_to(frames: &mut Vec<Frame>, pred: impl Fn(&Frame) -> bool) {
    if let Some(pos) = frames.iter().rposition(pred) {
        frames.truncate(pos);
    }
}

/// The earlier branches plus `c`, up to [`MAX_BRANCHES`] (then an undecidable one).
pub(crate) fn add_branch(earlier: &mut Rc<Vec<Rc<Cond>>>, c: Rc<Cond>) {
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

pub(crate) fn function_frame(name: &str) -> Frame {
    Frame::Func(
        shorten(format!(
            "inside function {name}, which runs only when called"
        ))
        .into(),
    )
}

pub(crate) fn sh_command(
    cmd: &Cmd,
    frames: &mut Vec<Frame>,
    chain: &mut Vec<(Vec<String>, Sep)>,
    events: &mut Vec<Event>,
) {
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
            "umask" => events.push(Event::Set {
                line: cmd.line,
                args: w.iter().skip(1).take(4).cloned().collect(),
                ctx,
            }),
            "export" | "readonly" => {
                for a in w.iter().skip(1).take(MAX_WORDS) {
                    if let Some((name, value)) = assignment(a) {
                        events.push(Event::Assign {
                            name,
                            value,
                            ctx: ctx.clone(),
                        });
                    }
                }
            }
            _ if assignment(head).is_some() && w.iter().all(|a| assignment(a).is_some()) => {
                for a in w.iter().take(MAX_WORDS) {
                    if let Some((name, value)) = assignment(a) {
                        events.push(Event::Assign {
                            name,
                            value,
                            ctx: ctx.clone(),
                        });
                    }
                }
            }
            "." | "source" => {
                if let Some(t) = w.get(1) {
                    events.push(Event::Source {
                        line: cmd.line,
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
pub(crate) fn csh_parens(w: &[String]) -> Option<(Vec<String>, &[String])> {
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

pub(crate) fn csh_command(cmd: &Cmd, frames: &mut Vec<Frame>, events: &mut Vec<Event>) {
    let w: &[String] = &cmd.words;
    let Some(head) = w.first() else { return };
    let rest = w.get(1..).unwrap_or_default();
    let mut extra: Option<Ctx> = None;
    let mut body: &[String] = w;
    let missing = tcsh_only_refs(w);
    if !missing.is_empty() {
        let mut ctx = snapshot(frames);
        ctx.push(Ctx::Tcsh(missing.join(", ").into()));
        events.push(Event::Abort { ctx });
    }
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
        "umask" => events.push(Event::Set {
            line: cmd.line,
            args: body.iter().skip(1).take(4).cloned().collect(),
            ctx,
        }),
        "source" => {
            if let Some(t) = body.get(1) {
                events.push(Event::Source {
                    line: cmd.line,
                    target: t.clone(),
                    ctx,
                });
            }
        }
        "exit" => events.push(Event::Stop { ctx }),
        "set" => {
            // `set NAME = VALUE` or `set NAME=VALUE` (one assignment).
            let args: Vec<&String> = body.iter().skip(1).collect();
            let pair = match args.as_slice() {
                [n, eq, v, ..] if *eq == "=" => Some(((*n).clone(), (*v).clone())),
                [a, ..] => assignment(a),
                _ => None,
            };
            if let Some((name, value)) = pair {
                events.push(Event::Assign { name, value, ctx });
            }
        }
        "setenv" => {
            if let (Some(n), Some(v)) = (body.get(1), body.get(2)) {
                events.push(Event::Assign {
                    name: n.clone(),
                    value: v.clone(),
                    ctx,
                });
            }
        }
        _ => {}
    }
}

/// The variables tcsh sets and BSD csh does not: a reference to one in BSD csh is an error that
/// ends the startup file.
const TCSH_ONLY: [&str; 2] = ["uid", "gid"];

/// The TCSH_ONLY variables `words` refer to as `$name` or `${name}`.
fn tcsh_only_refs(words: &[String]) -> Vec<&'static str> {
    TCSH_ONLY
        .into_iter()
        .filter(|v| {
            words.iter().any(|w| {
                w.contains(&format!("${v}")) && !w.contains(&format!("$?{v}"))
                    || w.contains(&format!("${{{v}}}"))
            })
        })
        .collect()
}

/// `NAME=VALUE` of a shell assignment word.
fn assignment(w: &str) -> Option<(String, String)> {
    let (name, value) = w.split_once('=')?;
    let mut b = name.bytes();
    let first = b.next()?;
    ((first.is_ascii_alphabetic() || first == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_'))
    .then(|| (name.to_owned(), value.to_owned()))
}
