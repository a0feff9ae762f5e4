//! `/var/lib/dpkg/status`, read the way libguestfs 1.48's inspection reads it.
//!
//! That reader is simpler than dpkg's own parser, and its result is what users of
//! `virt-inspector` see, so it is reproduced exactly:
//! - the file is read in pieces of at most 1023 bytes, as `fgets` into a 1024-byte buffer does:
//!   a longer line is split, and its pieces count as lines of their own; a piece is cut at its
//!   first NUL byte;
//! - a paragraph counts only when its `Status:` value contains `installed` anywhere (so
//!   `not-installed` and `half-installed` count too), it has `Package:` and `Version:`, its
//!   epoch parses, and it ends with an empty line (a last paragraph without one is dropped);
//! - fields are recognised only as `Name: ` with exactly one space, at the start of a line;
//! - `Version:` is split at the first `:` (epoch) and then at the first `-` (release), not the
//!   last as dpkg does;
//! - `Description:` gives the summary; the continuation lines that start with one space give
//!   the description, each without that space, joined with newlines (` .` stays `.`);
//! - `Source:` is cut at its first space (`foo (1.2-1)` gives `foo`); `Homepage:` is the URL.

use crate::lines::Pieces;
use crate::{Error, Listing, Package, Problem, ReadAt, non_empty, text};

/// Largest status file libguestfs reads (it refuses larger ones).
pub const MAX_DPKG_STATUS_SIZE: u64 = 50_000_000;

/// `fgets` with a 1024-byte buffer reads at most this many bytes per call.
const FGETS_MAX: usize = 1023;

/// Longest description one paragraph keeps (real ones are a few KiB); the rest is cut.
const MAX_DESCRIPTION: usize = 1 << 20;

/// Lists the installed packages of a dpkg `status` file, as libguestfs does.
///
/// The file is read in bounded pieces: memory does not grow with its size. `Err` for a file
/// larger than [`MAX_DPKG_STATUS_SIZE`] (checked before reading) or one that cannot be read.
/// Paragraphs that look installed but are dropped (an epoch that does not parse, no empty line
/// after the last paragraph) are reported as problems.
pub fn dpkg_status(data: &(impl ReadAt + ?Sized)) -> Result<Listing, Error> {
    if data.size() > MAX_DPKG_STATUS_SIZE {
        return Err(Error::TooLarge {
            what: "dpkg status file",
            offset: 0,
            size: data.size(),
            limit: MAX_DPKG_STATUS_SIZE,
        });
    }
    let mut listing = Listing::default();
    let mut p = Paragraph::default();
    let mut in_description = false;
    let mut pieces = Pieces::new(data, "dpkg status file");
    while let Some((start, raw)) = pieces.next(FGETS_MAX)? {
        let mut line = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(raw.len())];
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        if p.start.is_none() && !line.is_empty() {
            p.start = Some(start);
        }

        if line.first() == Some(&b' ') && in_description {
            let more = &line[1..];
            match &mut p.description {
                None => p.description = Some(more.to_vec()),
                Some(d) if d.len() + 1 + more.len() <= MAX_DESCRIPTION => {
                    d.push(b'\n');
                    d.extend_from_slice(more);
                }
                Some(_) => {}
            }
        } else {
            in_description = false;
        }

        if let Some(v) = line.strip_prefix(b"Package: ") {
            p.name = Some(v.to_vec());
        } else if let Some(v) = line.strip_prefix(b"Status: ") {
            p.installed = v.windows(9).any(|w| w == b"installed");
        } else if let Some(v) = line.strip_prefix(b"Version: ") {
            let (epoch, version, release) = split_version(v, false);
            p.epoch = epoch;
            p.version = Some(version);
            p.release = release;
        } else if let Some(v) = line.strip_prefix(b"Architecture: ") {
            p.arch = Some(v.to_vec());
        } else if let Some(v) = line.strip_prefix(b"Homepage: ") {
            p.url = Some(v.to_vec());
        } else if let Some(v) = line.strip_prefix(b"Source: ") {
            let name = v.iter().position(|&c| c == b' ').map_or(v, |i| &v[..i]);
            p.source = Some(name.to_vec());
        } else if let Some(v) = line.strip_prefix(b"Description: ") {
            p.summary = Some(v.to_vec());
            in_description = true;
        } else if line.is_empty() {
            if p.installed {
                p.finish(&mut listing);
            }
            p = Paragraph {
                epoch: p.epoch,
                ..Paragraph::default()
            };
        }
    }
    if p.installed && p.name.is_some() && p.version.is_some() {
        listing.problem(Problem {
            offset: p.start.unwrap_or(0),
            record: None,
            error: Error::Invalid {
                what: "dpkg status paragraph",
                offset: p.start.unwrap_or(0),
                expected: "an empty line after the paragraph (libguestfs drops it)".into(),
                found: "the end of the file".into(),
            },
        });
    }
    listing.sort(crate::version::debian_part_cmp);
    Ok(listing)
}

/// The fields of one paragraph, as libguestfs keeps them (the epoch survives paragraphs, as in
/// libguestfs, but every paragraph with a version sets it).
#[derive(Default)]
struct Paragraph {
    start: Option<u64>,
    installed: bool,
    name: Option<Vec<u8>>,
    epoch: i32,
    version: Option<Vec<u8>>,
    release: Option<Vec<u8>>,
    arch: Option<Vec<u8>>,
    url: Option<Vec<u8>>,
    source: Option<Vec<u8>>,
    summary: Option<Vec<u8>>,
    description: Option<Vec<u8>>,
}

impl Paragraph {
    fn finish(&self, listing: &mut Listing) {
        let (Some(name), Some(version)) = (&self.name, &self.version) else {
            return;
        };
        if self.epoch < 0 {
            let offset = self.start.unwrap_or(0);
            listing.problem(Problem {
                offset,
                record: None,
                error: Error::Invalid {
                    what: "dpkg Version epoch",
                    offset,
                    expected: format!("a number for package {} (libguestfs skips it)", text(name)),
                    found: "a value that does not parse".into(),
                },
            });
            return;
        }
        let opt = |v: &Option<Vec<u8>>| v.as_deref().map(text).and_then(non_empty);
        let package = Package {
            name: text(name),
            epoch: self.epoch as u32,
            version: text(version),
            release: self.release.as_deref().map(text).unwrap_or_default(),
            arch: self.arch.as_deref().map(text).unwrap_or_default(),
            summary: opt(&self.summary),
            description: opt(&self.description),
            url: opt(&self.url),
            source_package: opt(&self.source),
        };
        listing.push(package, self.start.unwrap_or(0));
    }
}

/// Splits a version as libguestfs does: epoch before the first `:`, release after the first `-`
/// that follows. With `strip_r`, a leading `r` of the release is dropped (apk's `-r1`).
/// The epoch is -1 when it does not parse.
pub(crate) fn split_version(v: &[u8], strip_r: bool) -> (i32, Vec<u8>, Option<Vec<u8>>) {
    let (epoch, rest) = match v.iter().position(|&c| c == b':') {
        Some(i) => (parse_unsigned_int(&v[..i]), &v[i + 1..]),
        None => (0, v),
    };
    match rest.iter().position(|&c| c == b'-') {
        Some(i) => {
            let mut rel = &rest[i + 1..];
            if strip_r && rel.first() == Some(&b'r') {
                rel = &rel[1..];
            }
            (epoch, rest[..i].to_vec(), Some(rel.to_vec()))
        }
        None => (epoch, rest.to_vec(), None),
    }
}

/// libguestfs's `guestfs_int_parse_unsigned_int`: gnulib `xstrtol` in base 10 into a `long`
/// (leading white space and a sign allowed, nothing after the digits), then cast to `int`;
/// -1 on any error.
fn parse_unsigned_int(s: &[u8]) -> i32 {
    let mut i = s
        .iter()
        .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i.min(s.len())..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return -1;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = i64::from(c - b'0');
        v = match v.checked_mul(10).and_then(|v| {
            if neg {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        }) {
            Some(v) => v,
            None => return -1,
        };
    }
    v as i32
}

#[cfg(test)]
mod tests {
    use super::parse_unsigned_int;

    #[test]
    fn epoch_parses_like_xstrtol_then_int_cast() {
        for (s, want) in [
            ("1", 1),
            (" 2", 2),
            ("+3", 3),
            ("-1", -1),
            ("", -1),
            ("1a", -1),
            ("1 ", -1),
            ("4294967297", 1),
            ("2147483648", i32::MIN),
            ("99999999999999999999", -1),
        ] {
            assert_eq!(parse_unsigned_int(s.as_bytes()), want, "{s:?}");
        }
    }
}
