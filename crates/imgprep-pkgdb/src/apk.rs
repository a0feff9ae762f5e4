//! `/lib/apk/db/installed` (Alpine), read the way libguestfs 1.48's inspection reads it.
//!
//! Each line is `X:value`; paragraphs are separated by empty lines. libguestfs keeps `P:`
//! (name), `V:` (version), `A:` (arch), `T:` (description) and `U:` (URL), skips lines whose
//! second byte is not `:`, and adds a package at each empty line that follows a paragraph with
//! a name and a version (a last paragraph without an empty line after it is dropped). `V:` is
//! split at the first `:` (epoch) and the first `-` (release), and a leading `r` of the release
//! is dropped: `1.2.3-r4` gives version `1.2.3`, release `4`. A value ends at its first NUL
//! byte; a one-byte line such as `P` sets an empty value.

use crate::dpkg::split_version;
use crate::lines::Pieces;
use crate::{Error, Listing, Package, Problem, ReadAt, non_empty, text};

/// Largest `installed` file libguestfs reads (it refuses larger ones).
pub const MAX_APK_INSTALLED_SIZE: u64 = 50_000_000;

/// Longest line kept (real ones are far shorter); a longer one is cut there, with a problem.
const MAX_LINE: usize = 1 << 20;

/// Lists the packages of an apk `installed` database, as libguestfs does.
///
/// The file is read in bounded pieces. `Err` for a file larger than
/// [`MAX_APK_INSTALLED_SIZE`] (checked before reading) or one that cannot be read. Paragraphs
/// dropped for an epoch that does not parse, or for a missing empty line at the end, are
/// problems.
pub fn apk_installed(data: &(impl ReadAt + ?Sized)) -> Result<Listing, Error> {
    if data.size() > MAX_APK_INSTALLED_SIZE {
        return Err(Error::TooLarge {
            what: "apk installed database",
            offset: 0,
            size: data.size(),
            limit: MAX_APK_INSTALLED_SIZE,
        });
    }
    let mut listing = Listing::default();
    let mut epoch = 0i32;
    let mut p = Fields::default();
    let mut pieces = Pieces::new(data, "apk installed database");
    // Set while the rest of a line longer than MAX_LINE is skipped.
    let mut skipping = false;
    while let Some((start, piece)) = pieces.next(MAX_LINE)? {
        let whole = piece.ends_with(b"\n");
        if skipping {
            skipping = !whole;
            continue;
        }
        if !whole && piece.len() == MAX_LINE {
            skipping = true;
            listing.problem(Problem {
                offset: start,
                record: None,
                error: Error::TooLarge {
                    what: "apk installed line",
                    offset: start,
                    size: MAX_LINE as u64 + 1,
                    limit: MAX_LINE as u64,
                },
            });
        }
        let mut line = piece;
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        if line.len() > 1 && line[1] != b':' {
            continue;
        }
        // The C string from byte 2 on.
        let value = || {
            let v = line.get(2..).unwrap_or(&[]);
            v[..v.iter().position(|&c| c == 0).unwrap_or(v.len())].to_vec()
        };
        match line.first().copied().unwrap_or(0) {
            0 => {
                if let (Some(name), Some(version)) = (&p.name, &p.version) {
                    if epoch >= 0 {
                        let opt = |v: &Option<Vec<u8>>| v.as_deref().map(text).and_then(non_empty);
                        let package = Package {
                            name: text(name),
                            epoch: epoch as u32,
                            version: text(version),
                            release: p.release.as_deref().map(text).unwrap_or_default(),
                            arch: p.arch.as_deref().map(text).unwrap_or_default(),
                            summary: None,
                            description: opt(&p.description),
                            url: opt(&p.url),
                            source_package: None,
                        };
                        listing.push(package, p.start.unwrap_or(start));
                    } else {
                        let offset = p.start.unwrap_or(start);
                        listing.problem(Problem {
                            offset,
                            record: None,
                            error: Error::Invalid {
                                what: "apk V: epoch",
                                offset,
                                expected: format!(
                                    "a number for package {} (libguestfs skips it)",
                                    text(name)
                                ),
                                found: "a value that does not parse".into(),
                            },
                        });
                    }
                }
                p = Fields::default();
            }
            b'A' => p.arch = Some(value()),
            b'P' => p.name = Some(value()),
            b'T' => p.description = Some(value()),
            b'U' => p.url = Some(value()),
            b'V' => {
                let (e, version, release) = split_version(&value(), true);
                epoch = e;
                p.version = Some(version);
                p.release = release;
            }
            _ => {}
        }
        if p.start.is_none() && p.name.is_some() {
            p.start = Some(start);
        }
    }
    if p.name.is_some() && p.version.is_some() {
        let offset = p.start.unwrap_or(0);
        listing.problem(Problem {
            offset,
            record: None,
            error: Error::Invalid {
                what: "apk installed paragraph",
                offset,
                expected: "an empty line after the paragraph (libguestfs drops it)".into(),
                found: "the end of the file".into(),
            },
        });
    }
    listing.sort(crate::version::apk_cmp);
    Ok(listing)
}

#[derive(Default)]
struct Fields {
    start: Option<u64>,
    name: Option<Vec<u8>>,
    version: Option<Vec<u8>>,
    release: Option<Vec<u8>>,
    arch: Option<Vec<u8>>,
    url: Option<Vec<u8>>,
    description: Option<Vec<u8>>,
}
