//! Readers for the package databases found in guest images, and the version orderings of their
//! package managers.
//!
//! Each reader takes the bytes (or a [`ReadAt`]) of one database file and lists the installed
//! [`Package`]s: [`dpkg_status`] (`/var/lib/dpkg/status`), [`apk_installed`]
//! (`/lib/apk/db/installed`), [`rpm_bdb`] (`/var/lib/rpm/Packages`, Berkeley DB hash),
//! [`rpm_ndb`] (`/var/lib/rpm/Packages.db`, SUSE's format), [`rpm_sqlite`]
//! (`rpmdb.sqlite` with its optional `-wal` file) and [`rpm_header`] for one header blob. The
//! dpkg and apk readers reproduce what libguestfs's inspection reports, quirks included; the rpm
//! readers list what `rpm -qa` lists. [`version`] holds `rpmvercmp`, dpkg's and apk's orderings.
//!
//! Every reader returns a [`Listing`]: the packages in a deterministic order plus the
//! [`Problem`]s met on the way (a damaged record is a finding, and the rest of the database is
//! still read). `Err` means the file as a whole cannot be read. Input is treated as hostile:
//! every count, offset and chain is bounded, and no reader panics or allocates a size taken from
//! the data without a limit.
//!
//! This crate does not find the files inside a guest, and does not decide what an inspection
//! report shows; it parses bytes.
#![forbid(unsafe_code)]

use std::cmp::Ordering;
use std::fmt;
use std::io;

pub use imgprep_io::ReadAt;

mod apk;
mod dpkg;
mod error;
mod lines;
mod rpm;
pub mod version;

pub use apk::{MAX_APK_INSTALLED_SIZE, apk_installed};
pub use dpkg::{MAX_DPKG_STATUS_SIZE, dpkg_status};
pub use error::Error;
pub use rpm::bdb::rpm_bdb;
pub use rpm::header::{MAX_HEADER_SIZE, rpm_header};
pub use rpm::ndb::rpm_ndb;
pub use rpm::sqlite::rpm_sqlite;

/// One installed package.
///
/// Text fields are decoded as UTF-8, with invalid sequences replaced by U+FFFD. An optional field
/// is `None` where the database has no value or an empty one (libguestfs reports both as an
/// empty string).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// Epoch; 0 where the package has none.
    pub epoch: u32,
    /// Version, without epoch and release.
    pub version: String,
    /// Release: rpm's `RELEASE`; for dpkg and apk what follows the first `-` of the version,
    /// as libguestfs splits it (apk without the leading `r`); may be empty.
    pub release: String,
    /// Architecture as the database spells it (`x86_64`, `noarch`, `amd64`, `all`, …).
    pub arch: String,
    /// One-line summary.
    pub summary: Option<String>,
    /// Long description.
    pub description: Option<String>,
    /// Upstream home page.
    pub url: Option<String>,
    /// Source package: the Debian `Source` name, or the rpm `SOURCERPM` file name.
    pub source_package: Option<String>,
}

/// A record that could not be read. The rest of the database was still read.
#[derive(Debug)]
pub struct Problem {
    /// Byte offset of the record in the database file (for rpm headers, of the record that holds
    /// the header blob; the offset inside [`Problem::error`] is then relative to the blob).
    pub offset: u64,
    /// The database's number for the record, when it has one (rpm header number, NDB package
    /// index, SQLite row id).
    pub record: Option<u64>,
    /// What was wrong.
    pub error: Error,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record {
            Some(n) => write!(f, "record {n} at {:#x}: {}", self.offset, self.error),
            None => write!(f, "at {:#x}: {}", self.offset, self.error),
        }
    }
}

/// What a reader found: packages sorted by name, epoch, version, release (in the package
/// manager's own ordering) and arch, and the problems met.
#[derive(Debug, Default)]
pub struct Listing {
    /// The installed packages, in a deterministic order.
    pub packages: Vec<Package>,
    /// Records that could not be read (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// Problems met beyond [`MAX_PROBLEMS`], counted but not kept.
    pub problems_omitted: u64,
    /// Bytes of package text kept so far.
    text: usize,
    /// [`MAX_PACKAGES`] was reached.
    truncated: bool,
    /// [`MAX_LISTING_TEXT`] was reached.
    descriptions_dropped: bool,
}

/// Most problems a listing keeps; a database damaged everywhere yields no more than this.
pub const MAX_PROBLEMS: usize = 10_000;

/// Most packages a listing keeps (real systems have a few hundred to a few thousand; the
/// largest some ten thousand). Packages beyond it are left out, with one problem saying so.
///
/// Each package costs about [`PACKAGE_OVERHEAD`] bytes besides its text while it is listed,
/// turned into a report entry and rendered, so the two limits together bound what a listing
/// costs its reader (a whole `imgprep inspect` stays within 64 MiB; 100000 packages cost 78 MiB
/// with no text at all, 160 MiB with 24 MiB of it).
pub const MAX_PACKAGES: usize = 30_000;

/// Memory one listed package costs besides its text: the `Package`, the small allocations of
/// its name, version, release and arch, and what a report makes of it.
pub const PACKAGE_OVERHEAD: usize = 600;

/// Most bytes of package text (summaries, descriptions, URLs) a listing keeps (a real system's
/// are a few MiB at most). Past it, the descriptions of further packages are left out, with one
/// problem saying so: a hostile database cannot make the listing grow without bound.
pub const MAX_LISTING_TEXT: usize = 8 << 20;

// A listing at both limits costs at most 32 MiB.
const _: () = assert!(MAX_PACKAGES * PACKAGE_OVERHEAD + MAX_LISTING_TEXT <= 32 << 20);

impl Listing {
    /// Adds a package within [`MAX_PACKAGES`] and [`MAX_LISTING_TEXT`]; `offset` is where its
    /// record starts, for the problem recorded when a limit is reached.
    fn push(&mut self, mut p: Package, offset: u64) {
        if self.packages.len() >= MAX_PACKAGES {
            if !self.truncated {
                self.truncated = true;
                self.problem(Problem {
                    offset,
                    record: None,
                    error: Error::TooMany {
                        what: "packages",
                        limit: MAX_PACKAGES as u64,
                    },
                });
            }
            return;
        }
        let cost = |p: &Package| {
            p.name.len()
                + p.version.len()
                + p.release.len()
                + p.arch.len()
                + [&p.summary, &p.description, &p.url, &p.source_package]
                    .iter()
                    .map(|s| s.as_ref().map_or(0, String::len))
                    .sum::<usize>()
        };
        if self.text + cost(&p) > MAX_LISTING_TEXT && p.description.is_some() {
            p.description = None;
            if !self.descriptions_dropped {
                self.descriptions_dropped = true;
                self.problem(Problem {
                    offset,
                    record: None,
                    error: Error::TooMany {
                        what: "bytes of package descriptions",
                        limit: MAX_LISTING_TEXT as u64,
                    },
                });
            }
        }
        self.text += cost(&p);
        self.packages.push(p);
    }

    /// Records a problem, or counts it once [`MAX_PROBLEMS`] are kept.
    fn problem(&mut self, p: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.problems_omitted += 1;
        }
    }

    /// Sorts the packages with `cmp` ordering versions and releases.
    fn sort(&mut self, cmp: fn(&str, &str) -> Ordering) {
        merge_sort(&mut self.packages, &|a: &Package, b: &Package| {
            a.name
                .as_bytes()
                .cmp(b.name.as_bytes())
                .then(a.epoch.cmp(&b.epoch))
                .then_with(|| cmp(&a.version, &b.version))
                .then_with(|| cmp(&a.release, &b.release))
                .then_with(|| a.arch.as_bytes().cmp(b.arch.as_bytes()))
                // Ties on everything the orderings look at: fall back to the raw text so the
                // order stays total and deterministic.
                .then_with(|| a.version.cmp(&b.version))
                .then_with(|| a.release.cmp(&b.release))
                .then_with(|| a.summary.cmp(&b.summary))
                .then_with(|| a.description.cmp(&b.description))
                .then_with(|| a.url.cmp(&b.url))
                .then_with(|| a.source_package.cmp(&b.source_package))
        });
    }
}

/// A stable merge sort that never panics, whatever `cmp` answers.
///
/// The version orderings reproduce package managers' algorithms, which are not proven total
/// orders on arbitrary strings; the standard library's sorts may panic when a comparator is
/// inconsistent, and this one instead just yields some deterministic order.
fn merge_sort<T>(v: &mut Vec<T>, cmp: &dyn Fn(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let right = v.split_off(v.len() / 2);
    let mut left = std::mem::take(v);
    let mut right = right;
    merge_sort(&mut left, cmp);
    merge_sort(&mut right, cmp);
    v.reserve(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        let take_left = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => cmp(b, a) != Ordering::Less,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { l.next() } else { r.next() };
        v.extend(next);
    }
}

/// A read of `len` bytes at `offset`, with the structure named for the error.
fn read_at(src: &dyn ReadAt, offset: u64, buf: &mut [u8], what: &'static str) -> Result<(), Error> {
    src.read_exact_at(offset, buf)
        .map_err(|source| Error::Read {
            what,
            offset,
            source,
        })
}

/// [`imgprep_io::read_vec`] with the structure named for the error.
fn read_vec(
    src: &dyn ReadAt,
    offset: u64,
    len: u64,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    if len > limit {
        return Err(Error::TooLarge {
            what,
            offset,
            size: len,
            limit,
        });
    }
    imgprep_io::read_vec(src, offset, len, limit, what).map_err(|source: io::Error| Error::Read {
        what,
        offset,
        source,
    })
}

/// Text from the database, decoded leniently.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `None` for an empty value.
fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

#[cfg(test)]
mod tests {
    use super::merge_sort;
    use std::cell::Cell;
    use std::cmp::Ordering;

    #[test]
    fn merge_sort_sorts_and_survives_an_inconsistent_comparator() {
        let mut v: Vec<u32> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        merge_sort(&mut v, &|a: &u32, b: &u32| a.cmp(b));
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
        // A comparator that contradicts itself: no panic, every element kept.
        let n = Cell::new(0u32);
        let liar = |_: &u32, _: &u32| {
            n.set(n.get().wrapping_mul(1_103_515_245).wrapping_add(12345));
            [Ordering::Less, Ordering::Equal, Ordering::Greater][(n.get() >> 16) as usize % 3]
        };
        merge_sort(&mut v, &liar);
        v.sort_unstable();
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
    }
}
