//! Berkeley DB hash databases: `/var/lib/rpm/Packages` of RHEL/CentOS 5 to 8 and older Fedora.
//!
//! Page 0 is the hash metadata page (magic 0x061561 in either byte order; the byte order of the
//! magic is that of every field). Bucket `b` starts at page `b + spares[bits(b)]` and continues
//! through the pages' `next_pgno` links. A page holds an array of item offsets; items go in
//! key/data pairs, each item a type byte and its bytes (`H_KEYDATA`), a pointer to a chain of
//! overflow pages (`H_OFFPAGE`), or a set of duplicates (`H_DUPLICATE`). rpm's keys are header
//! numbers (`u32` in the database's byte order); key 0 holds the highest number in use and is
//! not a package. The walk is the one rpm's read-only `bdb_ro` backend does.

use std::collections::HashSet;

use crate::rpm::{MAX_HEADER_SIZE, add_header, finish};
use crate::{Error, Listing, Problem, ReadAt, read_at};

const HASH_MAGIC: u32 = 0x0006_1561;
const BTREE_MAGIC: u32 = 0x0005_3162;
const PAGE_HEADER: usize = 26;

const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;

const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;

struct Db<'a> {
    src: &'a dyn ReadAt,
    big_endian: bool,
    page_size: u32,
    last_pgno: u32,
}

impl Db<'_> {
    fn u16(&self, b: &[u8], off: usize) -> u16 {
        let at = |i: usize| {
            off.checked_add(i)
                .and_then(|o| b.get(o))
                .copied()
                .unwrap_or(0)
        };
        let a = [at(0), at(1)];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    fn u32(&self, b: &[u8], off: usize) -> u32 {
        let mut a = [0u8; 4];
        if let Some(s) = off.checked_add(4).and_then(|end| b.get(off..end)) {
            a.copy_from_slice(s);
        }
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn page_offset(&self, pgno: u32) -> u64 {
        u64::from(pgno) * u64::from(self.page_size)
    }

    /// Reads page `pgno`, checking that it exists and carries its own number.
    fn page(&self, pgno: u32, what: &'static str, from: u64) -> Result<Vec<u8>, Error> {
        if pgno == 0 || pgno > self.last_pgno {
            return Err(Error::OutOfBounds {
                what,
                offset: from,
                target: self.page_offset(pgno),
                limit: self.page_offset(self.last_pgno.saturating_add(1)),
            });
        }
        let off = self.page_offset(pgno);
        let mut page = vec![0u8; self.page_size as usize];
        read_at(self.src, off, &mut page, what)?;
        let own = self.u32(&page, 8);
        if own != pgno {
            return Err(Error::Invalid {
                what: "Berkeley DB page number",
                offset: off + 8,
                expected: pgno.to_string(),
                found: own.to_string(),
            });
        }
        Ok(page)
    }
}

/// Lists the packages of a Berkeley DB hash `Packages` database.
///
/// `Err` when the metadata page is unusable; a damaged bucket chain, overflow chain or header is
/// a [`Problem`], and the other buckets are still read.
pub fn rpm_bdb(db: &dyn ReadAt) -> Result<Listing, Error> {
    let mut meta = [0u8; 512];
    read_at(db, 0, &mut meta, "Berkeley DB metadata page")?;
    let le = u32::from_le_bytes([meta[12], meta[13], meta[14], meta[15]]);
    let big_endian = match le {
        HASH_MAGIC => false,
        m if m.swap_bytes() == HASH_MAGIC => true,
        m if m == BTREE_MAGIC || m.swap_bytes() == BTREE_MAGIC => {
            return Err(Error::Unsupported {
                what: "Berkeley DB database",
                offset: 12,
                feature: "the btree access method (rpm's Packages is a hash database)".into(),
            });
        }
        m => {
            return Err(Error::BadMagic {
                what: "Berkeley DB metadata page",
                offset: 12,
                expected: format!("{HASH_MAGIC:#x} in either byte order"),
                found: format!("{m:#x}"),
            });
        }
    };
    let mut d = Db {
        src: db,
        big_endian,
        page_size: 0,
        last_pgno: 0,
    };
    let version = d.u32(&meta, 16);
    if !(8..=10).contains(&version) {
        return Err(Error::Unsupported {
            what: "Berkeley DB hash version",
            offset: 16,
            feature: format!("version {version} (8 to 10 are read)"),
        });
    }
    let page_size = d.u32(&meta, 20);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(Error::Invalid {
            what: "Berkeley DB page size",
            offset: 20,
            expected: "a power of two from 512 to 65536".into(),
            found: page_size.to_string(),
        });
    }
    if meta[24] != 0 {
        return Err(Error::Unsupported {
            what: "Berkeley DB database",
            offset: 24,
            feature: format!("encryption (algorithm {})", meta[24]),
        });
    }
    if meta[25] != P_HASHMETA {
        return Err(Error::Invalid {
            what: "Berkeley DB metadata page type",
            offset: 25,
            expected: format!("{P_HASHMETA} (hash metadata)"),
            found: meta[25].to_string(),
        });
    }
    let last_pgno = d.u32(&meta, 32);
    let file_pages = db.size() / u64::from(page_size);
    if u64::from(last_pgno) >= file_pages {
        return Err(Error::OutOfBounds {
            what: "Berkeley DB last page number",
            offset: 32,
            target: u64::from(last_pgno) * u64::from(page_size),
            limit: db.size(),
        });
    }
    d.page_size = page_size;
    d.last_pgno = last_pgno;
    let max_bucket = d.u32(&meta, 72);
    if max_bucket > last_pgno {
        return Err(Error::Invalid {
            what: "Berkeley DB hash bucket count",
            offset: 72,
            expected: format!("at most one bucket per page ({last_pgno})"),
            found: max_bucket.to_string(),
        });
    }
    let spares: Vec<u32> = (0..32).map(|i| d.u32(&meta, 96 + 4 * i)).collect();

    let mut listing = Listing::default();
    let mut visited = HashSet::new();
    for bucket in 0..=max_bucket {
        let bits = 32 - bucket.leading_zeros();
        let first = bucket.wrapping_add(spares.get(bits as usize).copied().unwrap_or(0));
        if let Err(error) = read_bucket(&d, first, &mut visited, &mut listing) {
            listing.problem(Problem {
                offset: 96,
                record: None,
                error,
            });
        }
    }
    Ok(finish(listing))
}

/// Reads the chain of pages of one bucket. Damaged items are problems; an unreadable page ends
/// the chain with an error.
fn read_bucket(
    d: &Db<'_>,
    first: u32,
    visited: &mut HashSet<u32>,
    listing: &mut Listing,
) -> Result<(), Error> {
    let mut pgno = first;
    let mut from = 96u64;
    while pgno != 0 {
        if !visited.insert(pgno) {
            return Err(Error::Loop {
                what: "Berkeley DB bucket chain",
                offset: from,
                page: pgno.into(),
            });
        }
        let page = d.page(pgno, "Berkeley DB hash page", from)?;
        let off = d.page_offset(pgno);
        let typ = page[25];
        if typ != P_HASH && typ != P_HASH_UNSORTED {
            return Err(Error::Invalid {
                what: "Berkeley DB hash page type",
                offset: off + 25,
                expected: format!("{P_HASH} or {P_HASH_UNSORTED}"),
                found: typ.to_string(),
            });
        }
        read_hash_page(d, &page, off, listing);
        pgno = d.u32(&page, 16);
        from = off + 16;
    }
    Ok(())
}

/// Reads the key/data pairs of one hash page.
fn read_hash_page(d: &Db<'_>, page: &[u8], off: u64, listing: &mut Listing) {
    let ps = page.len();
    let n = usize::from(d.u16(page, 20));
    let max = (ps - PAGE_HEADER) / 2;
    if n > max {
        listing.problem(Problem {
            offset: off + 20,
            record: None,
            error: Error::Invalid {
                what: "Berkeley DB hash page entry count",
                offset: off + 20,
                expected: format!("at most {max}"),
                found: n.to_string(),
            },
        });
        return;
    }
    let min = PAGE_HEADER + 2 * n;
    let inp = |i: usize| usize::from(d.u16(page, PAGE_HEADER + 2 * i));
    // Item i runs from inp[i] to inp[i - 1] (the page end for item 0).
    let item = |i: usize| -> Result<(usize, usize), Error> {
        let start = inp(i);
        let end = if i == 0 { ps } else { inp(i - 1) };
        if start < min || start >= end || end > ps {
            return Err(Error::Invalid {
                what: "Berkeley DB hash item offset",
                offset: off + (PAGE_HEADER + 2 * i) as u64,
                expected: format!("an item between {min:#x} and {end:#x} in the page"),
                found: format!("{start:#x}"),
            });
        }
        Ok((start, end))
    };
    if n % 2 != 0 {
        listing.problem(Problem {
            offset: off + 20,
            record: None,
            error: Error::Invalid {
                what: "Berkeley DB hash page entry count",
                offset: off + 20,
                expected: "an even number (key/data pairs)".into(),
                found: n.to_string(),
            },
        });
    }
    for pair in 0..n / 2 {
        let (k, v) = (2 * pair, 2 * pair + 1);
        let key = match item(k) {
            Ok((s, e)) => &page[s..e],
            Err(error) => {
                listing.problem(Problem {
                    offset: off,
                    record: None,
                    error,
                });
                continue;
            }
        };
        let key_off = off + inp(k) as u64;
        if key.first() != Some(&H_KEYDATA) || key.len() != 5 {
            listing.problem(Problem {
                offset: key_off,
                record: None,
                error: Error::Invalid {
                    what: "Berkeley DB key",
                    offset: key_off,
                    expected: "an on-page 4-byte header number".into(),
                    found: format!("item type {} of {} bytes", key[0], key.len()),
                },
            });
            continue;
        }
        let number = d.u32(key, 1);
        if number == 0 {
            continue; // holds the highest header number, not a package
        }
        let record = Some(u64::from(number));
        let (s, e) = match item(v) {
            Ok(r) => r,
            Err(error) => {
                listing.problem(Problem {
                    offset: key_off,
                    record,
                    error,
                });
                continue;
            }
        };
        let val = &page[s..e];
        let val_off = off + s as u64;
        match val[0] {
            H_KEYDATA => add_header(listing, &val[1..], val_off, record),
            H_OFFPAGE => match overflow(d, val, val_off) {
                Ok(blob) => add_header(listing, &blob, val_off, record),
                Err(error) => listing.problem(Problem {
                    offset: val_off,
                    record,
                    error,
                }),
            },
            H_DUPLICATE => {
                listing.problem(Problem {
                    offset: val_off,
                    record,
                    error: Error::Unsupported {
                        what: "Berkeley DB data item",
                        offset: val_off,
                        feature: "several values for one header number (rpm refuses these; \
                                  each value is read as a header)"
                            .into(),
                    },
                });
                duplicates(d, &val[1..], val_off + 1, record, listing);
            }
            t => {
                let feature = if t == H_OFFDUP {
                    "off-page duplicates".to_string()
                } else {
                    format!("item type {t}")
                };
                listing.problem(Problem {
                    offset: val_off,
                    record,
                    error: Error::Unsupported {
                        what: "Berkeley DB data item",
                        offset: val_off,
                        feature,
                    },
                });
            }
        }
    }
}

/// The values of an on-page duplicate set: each `len: u16, bytes, len: u16`.
fn duplicates(d: &Db<'_>, mut b: &[u8], mut off: u64, record: Option<u64>, listing: &mut Listing) {
    while !b.is_empty() {
        let len = usize::from(d.u16(b, 0));
        let Some(val) = b.get(2..2 + len).filter(|_| b.len() >= len + 4) else {
            listing.problem(Problem {
                offset: off,
                record,
                error: Error::OutOfBounds {
                    what: "Berkeley DB duplicate",
                    offset: off,
                    target: off + 4 + len as u64,
                    limit: off + b.len() as u64,
                },
            });
            return;
        };
        add_header(listing, val, off + 2, record);
        b = &b[len + 4..];
        off += len as u64 + 4;
    }
}

/// Reads the bytes an `H_OFFPAGE` item points to: `type, 3 unused, pgno: u32, tlen: u32`.
fn overflow(d: &Db<'_>, item: &[u8], off: u64) -> Result<Vec<u8>, Error> {
    if item.len() != 12 {
        return Err(Error::Invalid {
            what: "Berkeley DB overflow item",
            offset: off,
            expected: "12 bytes".into(),
            found: format!("{} bytes", item.len()),
        });
    }
    let mut pgno = d.u32(item, 4);
    let total = d.u32(item, 8);
    if u64::from(total) > MAX_HEADER_SIZE {
        return Err(Error::TooLarge {
            what: "Berkeley DB overflow item",
            offset: off,
            size: total.into(),
            limit: MAX_HEADER_SIZE,
        });
    }
    if total == 0 {
        return Err(Error::Invalid {
            what: "Berkeley DB overflow item length",
            offset: off + 8,
            expected: "a non-zero length".into(),
            found: "0".into(),
        });
    }
    let total = total as usize;
    let mut out = Vec::with_capacity(total.min(1 << 20));
    let mut visited = HashSet::new();
    let mut from = off + 4;
    while out.len() < total {
        if pgno == 0 {
            return Err(Error::Invalid {
                what: "Berkeley DB overflow chain",
                offset: from,
                expected: format!("{total} bytes"),
                found: format!("the chain ends after {} bytes", out.len()),
            });
        }
        if !visited.insert(pgno) {
            return Err(Error::Loop {
                what: "Berkeley DB overflow chain",
                offset: from,
                page: pgno.into(),
            });
        }
        let page = d.page(pgno, "Berkeley DB overflow page", from)?;
        let poff = d.page_offset(pgno);
        if page[25] != P_OVERFLOW {
            return Err(Error::Invalid {
                what: "Berkeley DB overflow page type",
                offset: poff + 25,
                expected: P_OVERFLOW.to_string(),
                found: page[25].to_string(),
            });
        }
        let len = usize::from(d.u16(&page, 22));
        let left = total - out.len();
        if len + PAGE_HEADER > page.len() || len > left {
            return Err(Error::Invalid {
                what: "Berkeley DB overflow page length",
                offset: poff + 22,
                expected: format!(
                    "at most {} bytes (page room) and {left} (bytes left in the item)",
                    page.len() - PAGE_HEADER
                ),
                found: len.to_string(),
            });
        }
        out.extend_from_slice(&page[PAGE_HEADER..PAGE_HEADER + len]);
        pgno = d.u32(&page, 16);
        from = poff + 16;
    }
    Ok(out)
}
