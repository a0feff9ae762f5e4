//! Version orderings of rpm, dpkg and apk.
//!
//! Each function is total over arbitrary strings: input that the package manager would refuse to
//! parse still gets a deterministic place in the order.

use std::cmp::Ordering;

/// rpm's `rpmvercmp` (rpm 4.18): compares one version or release string.
///
/// Alphanumeric segments are compared in turn (numbers numerically, letters bytewise, a number
/// newer than letters); other characters only separate segments. `~` sorts before anything,
/// even the end of the string (`1.0~rc1 < 1.0`); `^` sorts after the end of the string but before
/// anything else (`1.0 < 1.0^git1 < 1.0.1`).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return Ordering::Equal;
    }
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let sep = |c: u8| c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut i, mut j) = (0usize, 0usize);
    while at(a, i) != 0 || at(b, j) != 0 {
        while sep(at(a, i)) {
            i += 1;
        }
        while sep(at(b, j)) {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == b'~' || cb == b'~' {
            if ca != b'~' {
                return Ordering::Greater;
            }
            if cb != b'~' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == b'^' || cb == b'^' {
            if ca == 0 {
                return Ordering::Less;
            }
            if cb == 0 {
                return Ordering::Greater;
            }
            if ca != b'^' {
                return Ordering::Greater;
            }
            if cb != b'^' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == 0 || cb == 0 {
            break;
        }
        let isnum = ca.is_ascii_digit();
        let class = |c: u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (mut ie, mut je) = (i, j);
        while class(at(a, ie)) {
            ie += 1;
        }
        while class(at(b, je)) {
            je += 1;
        }
        if je == j {
            // Segments of different kinds: a number is newer than letters.
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[i..ie], &b[j..je]);
        if isnum {
            sa = trim_zeros(sa);
            sb = trim_zeros(sb);
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            other => return other,
        }
        i = ie;
        j = je;
    }
    match (at(a, i) == 0, at(b, j) == 0) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, _) => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// An rpm epoch, version and release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evr<'a> {
    /// Epoch (0 where the package has none).
    pub epoch: u32,
    /// Version.
    pub version: &'a str,
    /// Release.
    pub release: &'a str,
}

impl<'a> Evr<'a> {
    /// Splits `[epoch:]version[-release]` as rpm does: the epoch is the digits before a `:`, the
    /// release what follows the last `-`. A non-numeric or overflowing epoch counts as 0.
    pub fn parse(s: &'a str) -> Self {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
                (e.parse().unwrap_or(0), rest)
            }
            _ => (0, s),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
        Evr {
            epoch,
            version,
            release,
        }
    }
}

/// Compares two rpm EVRs: epoch numerically, then version and release with [`rpmvercmp`].
pub fn compare_evr(a: &Evr<'_>, b: &Evr<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| rpmvercmp(a.release, b.release))
}

/// dpkg's ordering of whole Debian version strings, `[epoch:]upstream[-revision]`, as
/// `dpkg --compare-versions` orders them.
///
/// The epoch is the number before the first `:`, the revision what follows the last `-`. Strings
/// dpkg would refuse (a non-numeric epoch, say) are still ordered: such an epoch is taken as part
/// of the upstream version.
pub fn debian_cmp(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = debian_split(a);
    let (eb, ub, rb) = debian_split(b);
    ea.cmp(&eb)
        .then_with(|| debian_part_cmp(ua, ub))
        .then_with(|| debian_part_cmp(ra, rb))
}

fn debian_split(s: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, s),
    };
    let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (epoch, upstream, revision)
}

/// dpkg's `verrevcmp`: compares one upstream version or one Debian revision.
///
/// Non-digit runs are compared character by character with `~` before everything (even the end),
/// then letters, then everything else; digit runs are compared numerically.
pub fn debian_part_cmp(a: &str, b: &str) -> Ordering {
    // dpkg's order(): digits and the end 0, letters their code, '~' -1, anything else code + 256.
    // Bytes >= 0x80 are negative `char`s in dpkg (x86), so `c + 256` gives their unsigned value.
    fn order(c: u8) -> i32 {
        match c {
            0 => 0,
            c if c.is_ascii_digit() => 0,
            c if c.is_ascii_alphabetic() => i32::from(c),
            b'~' => -1,
            c if c >= 0x80 => i32::from(c),
            c => i32::from(c) + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0usize, 0usize);
    while at(a, i) != 0 || at(b, j) != 0 {
        loop {
            let (ca, cb) = (at(a, i), at(b, j));
            let more_a = ca != 0 && !ca.is_ascii_digit();
            let more_b = cb != 0 && !cb.is_ascii_digit();
            if !(more_a || more_b) {
                break;
            }
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == b'0' {
            i += 1;
        }
        while at(b, j) == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while at(a, i).is_ascii_digit() && at(b, j).is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = at(a, i).cmp(&at(b, j));
            }
            i += 1;
            j += 1;
        }
        if at(a, i).is_ascii_digit() {
            return Ordering::Greater;
        }
        if at(b, j).is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// apk-tools' version ordering (`apk version -t`), for versions such as `1.2.3_rc1-r0`.
///
/// Components are compared in turn: numbers (after a `.`, with leading zeros making a number
/// older), a single lower-case letter, `_alpha`/`_beta`/`_pre`/`_rc` (older than the bare
/// version) or `_cvs`/`_svn`/`_git`/`_hg`/`_p` (newer) with an optional number, and `-rN`.
/// From the first component that does not follow this grammar on, the rest of the string only
/// counts as "longer" (apk calls such versions invalid).
pub fn apk_cmp(a: &str, b: &str) -> Ordering {
    let mut ta = ApkTokens::new(a.as_bytes());
    let mut tb = ApkTokens::new(b.as_bytes());
    let (mut va, mut vb) = (0i64, 0i64);
    while ta.kind == tb.kind && !ta.kind.terminal() && va == vb {
        va = ta.next_value();
        vb = tb.next_value();
    }
    match va.cmp(&vb) {
        Ordering::Equal => {}
        other => return other,
    }
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    // The common components are equal: the longer version is newer, unless what follows is a
    // pre-release suffix.
    if ta.kind == ApkToken::Suffix && ta.next_value() < 0 {
        return Ordering::Less;
    }
    if tb.kind == ApkToken::Suffix && tb.next_value() < 0 {
        return Ordering::Greater;
    }
    // A longer version has a component where the other has ended (End sorts last).
    ta.kind.rank().cmp(&tb.kind.rank()).reverse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApkToken {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

impl ApkToken {
    fn rank(self) -> i32 {
        match self {
            ApkToken::Invalid => -1,
            ApkToken::DigitOrZero => 0,
            ApkToken::Digit => 1,
            ApkToken::Letter => 2,
            ApkToken::Suffix => 3,
            ApkToken::SuffixNo => 4,
            ApkToken::RevisionNo => 5,
            ApkToken::End => 6,
        }
    }
    fn terminal(self) -> bool {
        matches!(self, ApkToken::End | ApkToken::Invalid)
    }
}

struct ApkTokens<'a> {
    s: &'a [u8],
    kind: ApkToken,
}

const APK_PRE_SUFFIXES: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const APK_POST_SUFFIXES: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

impl<'a> ApkTokens<'a> {
    fn new(s: &'a [u8]) -> Self {
        ApkTokens {
            s,
            kind: ApkToken::Digit,
        }
    }

    /// The value of the current component; advances to the next one.
    fn next_value(&mut self) -> i64 {
        if self.s.is_empty() {
            self.kind = ApkToken::End;
            return 0;
        }
        let mut v: i64 = 0;
        let mut i = 0usize;
        let mut next = None;
        match self.kind {
            ApkToken::DigitOrZero if self.s.first() == Some(&b'0') => {
                while self.s.get(i) == Some(&b'0') {
                    i += 1;
                }
                next = Some(ApkToken::Digit);
                v = -(i as i64);
            }
            ApkToken::DigitOrZero | ApkToken::Digit | ApkToken::SuffixNo | ApkToken::RevisionNo => {
                while let Some(&c) = self.s.get(i).filter(|c| c.is_ascii_digit()) {
                    v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
                    i += 1;
                }
            }
            ApkToken::Letter => {
                v = i64::from(self.s[0]);
                i = 1;
            }
            ApkToken::Suffix => {
                if let Some(n) = APK_PRE_SUFFIXES.iter().position(|p| self.s.starts_with(p)) {
                    i = APK_PRE_SUFFIXES[n].len();
                    v = n as i64 - APK_PRE_SUFFIXES.len() as i64;
                } else if let Some(n) = APK_POST_SUFFIXES.iter().position(|p| self.s.starts_with(p))
                {
                    i = APK_POST_SUFFIXES[n].len();
                    v = n as i64;
                } else {
                    self.kind = ApkToken::Invalid;
                    return -1;
                }
            }
            ApkToken::Invalid | ApkToken::End => {
                self.kind = ApkToken::Invalid;
                return -1;
            }
        }
        self.s = &self.s[i.min(self.s.len())..];
        if self.s.is_empty() {
            self.kind = ApkToken::End;
        } else if let Some(n) = next {
            self.kind = n;
        } else {
            self.advance_kind();
        }
        v
    }

    /// Reads the separator that starts the next component and sets its kind.
    fn advance_kind(&mut self) {
        let cur = self.kind;
        let c = self.s.first().copied().unwrap_or(0);
        let n = if c == 0 {
            ApkToken::End
        } else if matches!(cur, ApkToken::Digit | ApkToken::DigitOrZero) && c.is_ascii_lowercase() {
            ApkToken::Letter
        } else if cur == ApkToken::Letter && c.is_ascii_digit() {
            ApkToken::Digit
        } else if cur == ApkToken::Suffix && c.is_ascii_digit() {
            ApkToken::SuffixNo
        } else {
            let n = match c {
                b'.' => ApkToken::DigitOrZero,
                b'_' => ApkToken::Suffix,
                b'-' if self.s.get(1) == Some(&b'r') => {
                    self.s = &self.s[1..];
                    ApkToken::RevisionNo
                }
                _ => ApkToken::Invalid,
            };
            self.s = self.s.get(1..).unwrap_or(&[]);
            n
        };
        let allowed_backwards = matches!(
            (n, cur),
            (ApkToken::DigitOrZero, ApkToken::Digit)
                | (ApkToken::Suffix, ApkToken::SuffixNo)
                | (ApkToken::Digit, ApkToken::Letter)
        );
        self.kind = if n.rank() < cur.rank() && !allowed_backwards {
            ApkToken::Invalid
        } else {
            n
        };
    }
}
