//! SCAP Security Guide's view of umask settings: the pattern its OVAL content applies to
//! `/etc/login.defs`, `/etc/profile` and `/etc/bashrc`, and OpenSCAP's verdict on one file.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::bytes::Regex;

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
