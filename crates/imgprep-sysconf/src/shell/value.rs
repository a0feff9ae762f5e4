//! umask values as the shell reads them: octal and symbolic.

use super::cond::unquote;

/// The argument of a `umask` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Spec {
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
pub(crate) struct Clause {
    pub(crate) who: u16,
    pub(crate) op: u8,
    pub(crate) perm: u16,
}

pub(crate) fn parse_spec(args: &[String]) -> Spec {
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

pub(crate) fn parse_value(v: &str) -> Spec {
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

pub(crate) fn apply_symbolic(mask: u16, clauses: &[Clause]) -> u16 {
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
pub(crate) fn usergroups(mask: u16) -> u16 {
    (mask & !0o070) | ((mask >> 3) & 0o070)
}

pub(crate) fn octal(m: u16) -> String {
    format!("{m:03o}")
}

pub(crate) fn parse_octal(v: &str) -> Option<u16> {
    if v.is_empty() || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u16::from_str_radix(v, 8).ok().filter(|m| *m <= 0o777)
}

/// An octal umask as `umask` and login.defs write it (`022`, `0027`); `None` for anything else.
pub fn octal_umask(v: &str) -> Option<u16> {
    parse_octal(v)
}

/// A umask as three octal digits (`022`).
pub fn format_octal(m: u16) -> String {
    octal(m)
}
