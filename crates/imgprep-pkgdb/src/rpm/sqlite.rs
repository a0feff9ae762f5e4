//! rpm's SQLite database, `rpmdb.sqlite` (Fedora 33+, RHEL 9, CBL-Mariner), read without SQLite.
//!
//! rpm keeps the headers in one table, `Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob
//! BLOB NOT NULL)`, so a reader needs only: the 100-byte file header, the schema table (page 1)
//! to find that table's root page, a walk of one table b-tree (interior pages 0x05, leaf pages
//! 0x0d), the record format, and overflow chains for payloads larger than a page. Index
//! b-trees, the free list and pointer maps are never read.
//!
//! rpm runs SQLite in WAL mode, so committed transactions may still sit in `rpmdb.sqlite-wal`.
//! With the WAL given, this reader replays it as SQLite does when it opens a database whose
//! WAL has not been checkpointed: frames are taken while their salts match the WAL header and
//! their cumulative checksums are right, and only up to the last commit frame; the newest copy
//! of each page wins and the commit frame's size is the database size. The `-shm` file is not
//! needed (SQLite rebuilds it from the WAL the same way).

use std::collections::{HashMap, HashSet};

use crate::rpm::{MAX_HEADER_SIZE, add_header, finish};
use crate::{Error, Listing, Problem, ReadAt, read_at, read_vec, text};

const MAGIC: &[u8; 16] = b"SQLite format 3\0";
const WAL_MAGIC_LE: u32 = 0x377f_0682;
const WAL_MAGIC_BE: u32 = 0x377f_0683;
const WAL_HEADER: u64 = 32;
const WAL_FRAME_HEADER: u64 = 24;
/// SQLite's own cursor depth limit is 20; real trees are far shallower.
const MAX_DEPTH: u32 = 40;
/// Largest schema record read (the SQL text of one table or index).
const MAX_SCHEMA_RECORD: u64 = 1 << 20;

const LEAF_TABLE: u8 = 0x0d;
const INTERIOR_TABLE: u8 = 0x05;

fn be16(b: &[u8], off: usize) -> u16 {
    match off.checked_add(2).and_then(|end| b.get(off..end)) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    match off.checked_add(4).and_then(|end| b.get(off..end)) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// A SQLite varint at `b[off..]`: its value and length, or `None` if it runs off the end.
fn varint(b: &[u8], off: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let c = *b.get(off.checked_add(i)?)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(c), 9));
        }
        v = (v << 7) | u64::from(c & 0x7f);
        if c & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

struct Db<'a> {
    file: &'a dyn ReadAt,
    wal: Option<&'a dyn ReadAt>,
    page_size: u32,
    usable: u32,
    page_count: u32,
    /// Page number -> offset of its newest committed copy in the WAL.
    wal_pages: HashMap<u32, u64>,
    encoding: u32,
}

impl Db<'_> {
    /// Byte offset of page `pgno` in the database file (for messages).
    fn page_offset(&self, pgno: u32) -> u64 {
        u64::from(pgno.saturating_sub(1)) * u64::from(self.page_size)
    }

    fn page(&self, pgno: u32, what: &'static str, from: u64) -> Result<Vec<u8>, Error> {
        if pgno == 0 || pgno > self.page_count {
            return Err(Error::OutOfBounds {
                what,
                offset: from,
                target: self.page_offset(pgno),
                limit: u64::from(self.page_count) * u64::from(self.page_size),
            });
        }
        let ps = u64::from(self.page_size);
        match (self.wal_pages.get(&pgno), self.wal) {
            (Some(&off), Some(wal)) => read_vec(wal, off, ps, ps, what),
            _ => read_vec(self.file, self.page_offset(pgno), ps, ps, what),
        }
    }
}

/// Lists the packages of an rpm SQLite database, with its `-wal` file when there is one.
///
/// `Err` when the file is not a SQLite database rpm could have written (bad header, no
/// `Packages` table); a damaged b-tree page, record or header is a [`Problem`], and the rest of
/// the table is still read. A WAL that cannot be used (bad header, page size not the
/// database's) is a problem too, and the database is then read as if it had none.
pub fn rpm_sqlite(db: &dyn ReadAt, wal: Option<&dyn ReadAt>) -> Result<Listing, Error> {
    let mut hdr = [0u8; 100];
    read_at(db, 0, &mut hdr, "SQLite header")?;
    if &hdr[..16] != MAGIC {
        return Err(Error::BadMagic {
            what: "SQLite header",
            offset: 0,
            expected: "\"SQLite format 3\\0\"".into(),
            found: format!("{:02x?}", &hdr[..16]),
        });
    }
    let page_size = match be16(&hdr, 16) {
        1 => 65536,
        n => u32::from(n),
    };
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(Error::Invalid {
            what: "SQLite page size",
            offset: 16,
            expected: "a power of two from 512 to 65536".into(),
            found: page_size.to_string(),
        });
    }
    let reserved = u32::from(hdr[20]);
    let usable = page_size - reserved;
    if usable < 480 {
        return Err(Error::Invalid {
            what: "SQLite reserved bytes per page",
            offset: 20,
            expected: format!("at most {} (480 usable bytes)", page_size - 480),
            found: reserved.to_string(),
        });
    }
    let encoding = be32(&hdr, 56);
    let mut listing = Listing::default();
    let file_pages = db.size() / u64::from(page_size);
    let header_pages = be32(&hdr, 28);
    let counter_valid = be32(&hdr, 24) == be32(&hdr, 92);
    let mut page_count = if header_pages != 0 && counter_valid {
        header_pages
    } else {
        u32::try_from(file_pages).unwrap_or(u32::MAX)
    };
    let mut d = Db {
        file: db,
        wal: None,
        page_size,
        usable,
        page_count,
        wal_pages: HashMap::new(),
        encoding,
    };
    if let Some(w) = wal {
        match read_wal(w, page_size) {
            Ok(Some((pages, size))) => {
                d.wal = Some(w);
                d.wal_pages = pages;
                page_count = size;
            }
            Ok(None) => {}
            Err(error) => listing.problem(Problem {
                offset: 0,
                record: None,
                error,
            }),
        }
    }
    d.page_count = page_count;
    if d.wal_pages.contains_key(&1) {
        // The newest page 1 (with the header) is in the WAL: take the encoding from there.
        let p1 = d.page(1, "SQLite page 1", 0)?;
        d.encoding = be32(&p1, 56);
    }
    if !(d.encoding == 0 || (1..=3).contains(&d.encoding)) {
        return Err(Error::Invalid {
            what: "SQLite text encoding",
            offset: 56,
            expected: "1 (UTF-8), 2 (UTF-16le) or 3 (UTF-16be)".into(),
            found: d.encoding.to_string(),
        });
    }

    let root = find_table(&d, "Packages", &mut listing)?;
    walk(
        &d,
        root,
        "SQLite Packages table",
        MAX_HEADER_SIZE + 64,
        &mut listing,
        &mut |listing, rowid, payload, off| match record_blob(payload, 1) {
            Ok(blob) => add_header(listing, blob, off, Some(rowid)),
            Err(error) => listing.problem(Problem {
                offset: off,
                record: Some(rowid),
                error,
            }),
        },
    )?;
    Ok(finish(listing))
}

/// Reads a WAL: the committed pages and the database size after the last commit, or `None` when
/// the WAL holds no committed frame.
/// Committed WAL pages (page number -> offset of its newest copy) and the database size in pages.
type WalIndex = (HashMap<u32, u64>, u32);

/// What [`walk`] calls for each row: the listing, the row id, the payload and its offset.
type RowFn<'f> = dyn FnMut(&mut Listing, u64, &[u8], u64) + 'f;

fn read_wal(wal: &dyn ReadAt, page_size: u32) -> Result<Option<WalIndex>, Error> {
    if wal.size() < WAL_HEADER {
        return Ok(None); // empty (or truncated) WAL: SQLite ignores it
    }
    let mut h = [0u8; WAL_HEADER as usize];
    read_at(wal, 0, &mut h, "SQLite WAL header")?;
    let magic = be32(&h, 0);
    let big = match magic {
        WAL_MAGIC_BE => true,
        WAL_MAGIC_LE => false,
        _ => {
            return Err(Error::BadMagic {
                what: "SQLite WAL header",
                offset: 0,
                expected: format!("{WAL_MAGIC_LE:#x} or {WAL_MAGIC_BE:#x}"),
                found: format!("{magic:#x}"),
            });
        }
    };
    let version = be32(&h, 4);
    if version != 3_007_000 {
        return Err(Error::Unsupported {
            what: "SQLite WAL header",
            offset: 4,
            feature: format!("WAL format version {version} (3007000 is read)"),
        });
    }
    let wal_page_size = be32(&h, 8);
    if wal_page_size != page_size {
        return Err(Error::Invalid {
            what: "SQLite WAL page size",
            offset: 8,
            expected: format!("{page_size}, the database's"),
            found: wal_page_size.to_string(),
        });
    }
    let (salt1, salt2) = (be32(&h, 16), be32(&h, 20));
    let mut ck = wal_checksum(big, (0, 0), &h[..24]);
    if ck != (be32(&h, 24), be32(&h, 28)) {
        return Err(Error::Invalid {
            what: "SQLite WAL header checksum",
            offset: 24,
            expected: format!("{:#010x} {:#010x}", ck.0, ck.1),
            found: format!("{:#010x} {:#010x}", be32(&h, 24), be32(&h, 28)),
        });
    }
    let frame = WAL_FRAME_HEADER + u64::from(page_size);
    let frames = (wal.size() - WAL_HEADER) / frame;
    let mut pending: HashMap<u32, u64> = HashMap::new();
    let mut committed: Option<WalIndex> = None;
    let mut buf = vec![0u8; frame as usize];
    for i in 0..frames {
        let off = WAL_HEADER + i * frame;
        read_at(wal, off, &mut buf, "SQLite WAL frame")?;
        let pgno = be32(&buf, 0);
        let commit = be32(&buf, 4);
        if pgno == 0 || (be32(&buf, 8), be32(&buf, 12)) != (salt1, salt2) {
            break;
        }
        let c = wal_checksum(big, ck, &buf[..8]);
        let c = wal_checksum(big, c, &buf[WAL_FRAME_HEADER as usize..]);
        if c != (be32(&buf, 16), be32(&buf, 20)) {
            break;
        }
        ck = c;
        pending.insert(pgno, off + WAL_FRAME_HEADER);
        if commit != 0 {
            let mut pages = committed.map(|(p, _)| p).unwrap_or_default();
            pages.extend(pending.drain());
            committed = Some((pages, commit));
        }
    }
    Ok(committed)
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`.
fn wal_checksum(big: bool, s: (u32, u32), data: &[u8]) -> (u32, u32) {
    let (mut s0, mut s1) = s;
    for ch in data.chunks_exact(8) {
        let (x0, x1) = if big {
            (be32(ch, 0), be32(ch, 4))
        } else {
            (
                u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]),
                u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]),
            )
        };
        s0 = s0.wrapping_add(x0).wrapping_add(s1);
        s1 = s1.wrapping_add(x1).wrapping_add(s0);
    }
    (s0, s1)
}

/// Finds the root page of table `name` in the schema table.
fn find_table(d: &Db<'_>, name: &str, listing: &mut Listing) -> Result<u32, Error> {
    let mut found = None;
    walk(
        d,
        1,
        "SQLite schema table",
        MAX_SCHEMA_RECORD,
        listing,
        &mut |listing, _, payload, off| {
            if found.is_some() {
                return;
            }
            let cols = match record_columns(payload, 4) {
                Ok(c) => c,
                Err(error) => {
                    listing.problem(Problem {
                        offset: off,
                        record: None,
                        error,
                    });
                    return;
                }
            };
            let is_table = d.column_text(&cols[0]).as_deref() == Some("table");
            let matches = d
                .column_text(&cols[1])
                .is_some_and(|n| n.eq_ignore_ascii_case(name));
            if is_table && matches {
                match cols[3] {
                    Column::Int(root) if root > 0 && root <= i64::from(u32::MAX) => {
                        found = Some(root as u32);
                    }
                    _ => listing.problem(Problem {
                        offset: off,
                        record: None,
                        error: Error::Invalid {
                            what: "SQLite schema root page",
                            offset: off,
                            expected: "a page number".into(),
                            found: format!("{:?}", cols[3]),
                        },
                    }),
                }
            }
        },
    )?;
    found.ok_or(Error::Missing {
        what: "SQLite table Packages",
        offset: 0,
    })
}

#[derive(Debug)]
enum Column<'a> {
    Null,
    Int(i64),
    Float,
    Blob(&'a [u8]),
    Text(&'a [u8]),
}

impl Db<'_> {
    fn column_text(&self, c: &Column<'_>) -> Option<String> {
        let Column::Text(b) = c else { return None };
        match self.encoding {
            2 | 3 => {
                let units: Vec<u16> = b
                    .chunks_exact(2)
                    .map(|p| {
                        if self.encoding == 2 {
                            u16::from_le_bytes([p[0], p[1]])
                        } else {
                            u16::from_be_bytes([p[0], p[1]])
                        }
                    })
                    .collect();
                Some(String::from_utf16_lossy(&units))
            }
            _ => Some(text(b)),
        }
    }
}

/// Decodes the first `n` columns of a record (missing trailing columns are NULL).
fn record_columns(p: &[u8], n: usize) -> Result<Vec<Column<'_>>, Error> {
    let bad = |expected: &str, found: String| Error::Invalid {
        what: "SQLite record",
        offset: 0,
        expected: expected.into(),
        found,
    };
    let (hlen, mut pos) =
        varint(p, 0).ok_or_else(|| bad("a header length", "end of payload".into()))?;
    let hlen = usize::try_from(hlen).unwrap_or(usize::MAX);
    if hlen > p.len() || hlen < pos {
        return Err(bad(
            "a header inside the payload",
            format!("header length {hlen}"),
        ));
    }
    let mut body = hlen;
    let mut cols = Vec::with_capacity(n);
    while cols.len() < n && pos < hlen {
        let (t, l) = varint(p, pos).ok_or_else(|| bad("a serial type", "end of header".into()))?;
        pos += l;
        let size: usize = match t {
            0 | 8 | 9 => 0,
            1 => 1,
            2 => 2,
            3 => 3,
            4 => 4,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return Err(bad("a valid serial type", format!("reserved type {t}"))),
            t => usize::try_from((t - 12) / 2).unwrap_or(usize::MAX),
        };
        let data = body
            .checked_add(size)
            .and_then(|e| p.get(body..e))
            .ok_or_else(|| {
                bad(
                    "column data inside the payload",
                    format!("{size} bytes at {body}"),
                )
            })?;
        body += size;
        cols.push(match t {
            0 => Column::Null,
            1..=6 => {
                let mut v: i64 = if data.first().is_some_and(|&c| c & 0x80 != 0) {
                    -1
                } else {
                    0
                };
                for &c in data {
                    v = (v << 8) | i64::from(c);
                }
                Column::Int(v)
            }
            7 => Column::Float,
            8 => Column::Int(0),
            9 => Column::Int(1),
            t if t % 2 == 0 => Column::Blob(data),
            _ => Column::Text(data),
        });
    }
    while cols.len() < n {
        cols.push(Column::Null);
    }
    Ok(cols)
}

/// The blob in column `i` of a `Packages` record.
fn record_blob(p: &[u8], i: usize) -> Result<&[u8], Error> {
    let cols = record_columns(p, i + 1)?;
    match cols.into_iter().nth(i) {
        Some(Column::Blob(b)) => Ok(b),
        other => Err(Error::Invalid {
            what: "SQLite Packages record",
            offset: 0,
            expected: format!("a blob in column {i}"),
            found: format!("{other:?}"),
        }),
    }
}

/// Walks the table b-tree rooted at `root`, calling `f(listing, rowid, payload, offset)` for
/// each row. Damaged pages and cells are problems; a loop or a tree too deep ends that branch.
fn walk(
    d: &Db<'_>,
    root: u32,
    what: &'static str,
    max_payload: u64,
    listing: &mut Listing,
    f: &mut RowFn<'_>,
) -> Result<(), Error> {
    // Every page is queued at most once, so the stack stays as small as the file.
    let mut queued = HashSet::from([root]);
    // (page, depth, offset of the pointer to it)
    let mut stack = vec![(root, 0u32, 0u64)];
    let mut first = true;
    while let Some((pgno, depth, from)) = stack.pop() {
        let r = walk_page(
            d,
            pgno,
            depth,
            from,
            what,
            max_payload,
            &mut queued,
            &mut stack,
            listing,
            f,
        );
        match r {
            Ok(()) => {}
            // The root itself unreadable: nothing of the table can be read.
            Err(e) if first => return Err(e),
            Err(error) => listing.problem(Problem {
                offset: from,
                record: None,
                error,
            }),
        }
        first = false;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn walk_page(
    d: &Db<'_>,
    pgno: u32,
    depth: u32,
    from: u64,
    what: &'static str,
    max_payload: u64,
    queued: &mut HashSet<u32>,
    stack: &mut Vec<(u32, u32, u64)>,
    listing: &mut Listing,
    f: &mut RowFn<'_>,
) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep {
            what,
            offset: from,
            limit: MAX_DEPTH,
        });
    }
    let page = d.page(pgno, what, from)?;
    let poff = d.page_offset(pgno);
    let h = if pgno == 1 { 100 } else { 0 };
    let usable = d.usable as usize;
    let typ = page[h];
    let ncells = usize::from(be16(&page, h + 3));
    let hsize = if typ == INTERIOR_TABLE { 12 } else { 8 };
    if typ != LEAF_TABLE && typ != INTERIOR_TABLE {
        return Err(Error::Invalid {
            what: "SQLite table b-tree page type",
            offset: poff + h as u64,
            expected: "0x05 (interior) or 0x0d (leaf)".into(),
            found: format!("{typ:#04x}"),
        });
    }
    let ptrs = h + hsize;
    if ptrs + 2 * ncells > usable {
        return Err(Error::Invalid {
            what: "SQLite b-tree cell count",
            offset: poff + h as u64 + 3,
            expected: format!("at most {} cells", (usable - ptrs) / 2),
            found: ncells.to_string(),
        });
    }
    let content_min = ptrs + 2 * ncells;
    let mut push = |listing: &mut Listing, child: u32, at: u64| {
        if queued.insert(child) {
            stack.push((child, depth + 1, at));
        } else {
            listing.problem(Problem {
                offset: at,
                record: None,
                error: Error::Loop {
                    what,
                    offset: at,
                    page: child.into(),
                },
            });
        }
    };
    if typ == INTERIOR_TABLE {
        push(listing, be32(&page, h + 8), poff + h as u64 + 8);
    }
    // Cells are visited in reverse so the stack yields rows in key order.
    for i in (0..ncells).rev() {
        let cell = usize::from(be16(&page, ptrs + 2 * i));
        let coff = poff + cell as u64;
        if cell < content_min || cell >= usable {
            listing.problem(Problem {
                offset: poff + (ptrs + 2 * i) as u64,
                record: None,
                error: Error::Invalid {
                    what: "SQLite cell pointer",
                    offset: poff + (ptrs + 2 * i) as u64,
                    expected: format!("an offset from {content_min:#x} to {usable:#x}"),
                    found: format!("{cell:#x}"),
                },
            });
            continue;
        }
        let body = &page[cell..usable];
        if typ == INTERIOR_TABLE {
            if body.len() < 4 {
                continue;
            }
            push(listing, be32(body, 0), coff);
            continue;
        }
        let parsed = (|| {
            let (plen, a) = varint(body, 0)?;
            let (rowid, b) = varint(body, a)?;
            Some((plen, rowid, a + b))
        })();
        let Some((plen, rowid, start)) = parsed else {
            listing.problem(Problem {
                offset: coff,
                record: None,
                error: Error::Invalid {
                    what: "SQLite leaf cell",
                    offset: coff,
                    expected: "a payload length and row id".into(),
                    found: "the end of the page".into(),
                },
            });
            continue;
        };
        match payload(d, body, start, plen, coff, max_payload) {
            Ok(p) => f(listing, rowid, &p, coff),
            Err(error) => listing.problem(Problem {
                offset: coff,
                record: Some(rowid),
                error,
            }),
        }
    }
    Ok(())
}

/// The payload of a leaf cell: the local part plus the overflow chain.
fn payload(
    d: &Db<'_>,
    body: &[u8],
    start: usize,
    plen: u64,
    coff: u64,
    max_payload: u64,
) -> Result<Vec<u8>, Error> {
    if plen > max_payload {
        return Err(Error::TooLarge {
            what: "SQLite payload",
            offset: coff,
            size: plen,
            limit: max_payload,
        });
    }
    let u = u64::from(d.usable);
    let x = u - 35;
    let local = if plen <= x {
        plen
    } else {
        let m = ((u - 12) * 32 / 255) - 23;
        let k = m + ((plen - m) % (u - 4));
        if k <= x { k } else { m }
    } as usize;
    let Some(local_bytes) = body.get(start..start + local) else {
        return Err(Error::OutOfBounds {
            what: "SQLite cell payload",
            offset: coff,
            target: coff + (start + local) as u64,
            limit: coff + body.len() as u64,
        });
    };
    let plen = plen as usize;
    let mut out = Vec::with_capacity(plen.min(1 << 20));
    out.extend_from_slice(local_bytes);
    if out.len() == plen {
        return Ok(out);
    }
    let mut from = coff + (start + local) as u64;
    let Some(first) = body.get(start + local..start + local + 4) else {
        return Err(Error::OutOfBounds {
            what: "SQLite overflow pointer",
            offset: from,
            target: from + 4,
            limit: coff + body.len() as u64,
        });
    };
    let mut pgno = be32(first, 0);
    let mut visited = HashSet::new();
    while out.len() < plen {
        if pgno == 0 {
            return Err(Error::Invalid {
                what: "SQLite overflow chain",
                offset: from,
                expected: format!("{plen} bytes"),
                found: format!("the chain ends after {} bytes", out.len()),
            });
        }
        if !visited.insert(pgno) {
            return Err(Error::Loop {
                what: "SQLite overflow chain",
                offset: from,
                page: pgno.into(),
            });
        }
        let page = d.page(pgno, "SQLite overflow page", from)?;
        let n = (plen - out.len()).min(d.usable as usize - 4);
        out.extend_from_slice(&page[4..4 + n]);
        from = d.page_offset(pgno);
        pgno = be32(&page, 0);
    }
    Ok(out)
}
