//! rpm's NDB format: `/var/lib/rpm/Packages.db` of SUSE Linux Enterprise 15 and openSUSE.
//!
//! Everything is little-endian and counted in 16-byte blocks. The file starts with a 32-byte
//! header (`RpmP`, version 0, generation, number of 4096-byte slot pages, next package index);
//! the slot pages that follow hold 16-byte slots (`Slot`, package index, block offset, block
//! count; offset 0 means free), the first two slots' room taken by the header. Each used slot
//! points to a blob: a 16-byte head (`BlbS`, package index, generation, length), the header
//! blob, zero padding, and a 12-byte tail (Adler-32 of everything before it, length, `BlbE`).

use std::collections::HashMap;

use crate::rpm::{MAX_HEADER_SIZE, add_header, finish};
use crate::{Error, Listing, Problem, ReadAt, read_at, read_vec};

const PKGDB_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8; 4] = b"BlbE";
const PAGE_SIZE: u64 = 4096;
const BLK_SIZE: u64 = 16;
const SLOT_SIZE: u64 = 16;
const HEADER_SIZE: u64 = 32;
const BLOB_HEAD: u64 = 16;
const BLOB_TAIL: u64 = 12;

fn le32(b: &[u8], off: usize) -> u32 {
    match off.checked_add(4).and_then(|end| b.get(off..end)) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// Lists the packages of an NDB `Packages.db`.
///
/// `Err` when the file header or the slot area cannot be read; a bad slot or blob is a
/// [`Problem`], and the other slots are still read. The blob checksum is checked (rpm checks it
/// only when verifying the database): a mismatch is reported as a problem and the header is
/// still listed, as rpm lists it.
pub fn rpm_ndb(db: &dyn ReadAt) -> Result<Listing, Error> {
    let mut hdr = [0u8; HEADER_SIZE as usize];
    read_at(db, 0, &mut hdr, "NDB header")?;
    if &hdr[0..4] != PKGDB_MAGIC {
        return Err(Error::BadMagic {
            what: "NDB header",
            offset: 0,
            expected: "\"RpmP\"".into(),
            found: format!("{:02x?}", &hdr[0..4]),
        });
    }
    let version = le32(&hdr, 4);
    if version != 0 {
        return Err(Error::Unsupported {
            what: "NDB header",
            offset: 4,
            feature: format!("version {version} (0 is read)"),
        });
    }
    let slot_pages = u64::from(le32(&hdr, 12));
    let size = db.size();
    if slot_pages * PAGE_SIZE > size {
        return Err(Error::OutOfBounds {
            what: "NDB slot page count",
            offset: 12,
            target: slot_pages * PAGE_SIZE,
            limit: size,
        });
    }
    let mut listing = Listing::default();
    if !size.is_multiple_of(BLK_SIZE) {
        listing.problem(Problem {
            offset: size,
            record: None,
            error: Error::Invalid {
                what: "NDB file size",
                offset: size,
                expected: "a multiple of 16 (rpm refuses the database)".into(),
                found: size.to_string(),
            },
        });
    }
    let file_blks = size / BLK_SIZE;
    let min_blkoff = slot_pages * (PAGE_SIZE / BLK_SIZE);
    let mut seen: HashMap<u32, u64> = HashMap::new();
    for page in 0..slot_pages {
        let page_off = page * PAGE_SIZE;
        let buf = read_vec(db, page_off, PAGE_SIZE, PAGE_SIZE, "NDB slot page")?;
        let start = if page == 0 { HEADER_SIZE } else { 0 };
        for o in (start..PAGE_SIZE).step_by(SLOT_SIZE as usize) {
            let slot_off = page_off + o;
            let s = &buf[o as usize..(o + SLOT_SIZE) as usize];
            if &s[0..4] != SLOT_MAGIC {
                listing.problem(Problem {
                    offset: slot_off,
                    record: None,
                    error: Error::BadMagic {
                        what: "NDB slot",
                        offset: slot_off,
                        expected: "\"Slot\"".into(),
                        found: format!("{:02x?}", &s[0..4]),
                    },
                });
                continue;
            }
            let pkgidx = le32(s, 4);
            let blkoff = u64::from(le32(s, 8));
            let blkcnt = u64::from(le32(s, 12));
            if blkoff == 0 {
                continue; // free slot
            }
            let record = Some(u64::from(pkgidx));
            let bad = |expected: String, found: String| Problem {
                offset: slot_off,
                record,
                error: Error::Invalid {
                    what: "NDB slot",
                    offset: slot_off,
                    expected,
                    found,
                },
            };
            if blkoff + blkcnt > file_blks {
                listing.problem(Problem {
                    offset: slot_off,
                    record,
                    error: Error::OutOfBounds {
                        what: "NDB slot",
                        offset: slot_off,
                        target: (blkoff + blkcnt) * BLK_SIZE,
                        limit: size,
                    },
                });
                continue;
            }
            if pkgidx == 0 || blkcnt == 0 || blkoff < min_blkoff {
                listing.problem(bad(
                    format!(
                        "a package index > 0, a block count > 0 and a block offset after the \
                         slot pages (>= {min_blkoff})"
                    ),
                    format!("index {pkgidx}, offset {blkoff}, count {blkcnt}"),
                ));
                continue;
            }
            if let Some(prev) = seen.insert(pkgidx, slot_off) {
                listing.problem(bad(
                    "a package index used by one slot only".into(),
                    format!("index {pkgidx} also in the slot at {prev:#x}"),
                ));
            }
            let blob_off = blkoff * BLK_SIZE;
            match read_blob(db, pkgidx, blob_off, blkcnt) {
                Ok((blob, checksum_ok)) => {
                    if let Some(error) = checksum_ok {
                        listing.problem(Problem {
                            offset: blob_off,
                            record,
                            error,
                        });
                    }
                    add_header(&mut listing, &blob, blob_off + BLOB_HEAD, record);
                }
                Err(error) => listing.problem(Problem {
                    offset: blob_off,
                    record,
                    error,
                }),
            }
        }
    }
    Ok(finish(listing))
}

/// Reads the blob of package `pkgidx` at `off`, `blkcnt` blocks long. Returns the header bytes
/// and, if the checksum does not match, the problem to report.
fn read_blob(
    db: &dyn ReadAt,
    pkgidx: u32,
    off: u64,
    blkcnt: u64,
) -> Result<(Vec<u8>, Option<Error>), Error> {
    let total = blkcnt * BLK_SIZE;
    if total < BLOB_HEAD + BLOB_TAIL {
        return Err(Error::Invalid {
            what: "NDB blob",
            offset: off,
            expected: "at least 2 blocks".into(),
            found: format!("{blkcnt} blocks"),
        });
    }
    let buf = read_vec(db, off, total, MAX_HEADER_SIZE + 64, "NDB blob")?;
    if &buf[0..4] != BLOB_HEAD_MAGIC {
        return Err(Error::BadMagic {
            what: "NDB blob head",
            offset: off,
            expected: "\"BlbS\"".into(),
            found: format!("{:02x?}", &buf[0..4]),
        });
    }
    let idx = le32(&buf, 4);
    if idx != pkgidx {
        return Err(Error::Invalid {
            what: "NDB blob package index",
            offset: off + 4,
            expected: pkgidx.to_string(),
            found: idx.to_string(),
        });
    }
    let len = u64::from(le32(&buf, 12));
    let want = (BLOB_HEAD + len + BLOB_TAIL).div_ceil(BLK_SIZE);
    if want != blkcnt {
        return Err(Error::Invalid {
            what: "NDB blob length",
            offset: off + 12,
            expected: format!("a length that fills the slot's {blkcnt} blocks"),
            found: format!("{len} bytes ({want} blocks)"),
        });
    }
    let tail = (total - BLOB_TAIL) as usize;
    if &buf[tail + 8..tail + 12] != BLOB_TAIL_MAGIC {
        return Err(Error::BadMagic {
            what: "NDB blob tail",
            offset: off + tail as u64 + 8,
            expected: "\"BlbE\"".into(),
            found: format!("{:02x?}", &buf[tail + 8..tail + 12]),
        });
    }
    let tail_len = u64::from(le32(&buf, tail + 4));
    if tail_len != len {
        return Err(Error::Invalid {
            what: "NDB blob tail length",
            offset: off + tail as u64 + 4,
            expected: len.to_string(),
            found: tail_len.to_string(),
        });
    }
    let stored = le32(&buf, tail);
    let computed = adler32(&buf[..tail]);
    let checksum = (stored != computed).then(|| Error::Invalid {
        what: "NDB blob checksum",
        offset: off + tail as u64,
        expected: format!("{computed:#010x} (Adler-32 of the blob)"),
        found: format!("{stored:#010x}"),
    });
    let blob = buf[BLOB_HEAD as usize..(BLOB_HEAD + len) as usize].to_vec();
    Ok((blob, checksum))
}

/// Adler-32 (RFC 1950).
pub(crate) fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &c in chunk {
            a += u32::from(c);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}
