//! The rpm header in the form rpm databases store it: no lead, no magic.
//!
//! Layout (all big-endian): `il: u32` index entries, `dl: u32` data bytes, `il` entries of
//! `{tag: i32, type: u32, offset: i32, count: u32}`, then `dl` bytes of data. The first entry
//! may be a region tag (61, 62 or 63) whose 16-byte trailer, inside the data, says how many
//! entries the signed ("immutable") region covers; entries after the region are "dribble"
//! entries added at install time, which replace region entries of the same tag.
//!
//! The checks follow rpm 4.18's `hdrblobInit` and `hdrblobImport`, so a header rpm refuses as
//! damaged is refused here too (rpm then skips it in `rpm -qa`).

use crate::{Error, Package, non_empty, text};

/// Largest header blob accepted, in bytes. rpm's own limit is 256 MiB; real headers stay far
/// below this (a package with tens of thousands of files has a header of a few MiB), and one
/// blob is held in memory at a time, so this bounds what a hostile database costs.
pub const MAX_HEADER_SIZE: u64 = 32 << 20;

const WHAT: &str = "rpm header";

const TAG_HEADERIMAGE: i32 = 61;
const TAG_HEADERSIGNATURES: i32 = 62;
const TAG_HEADERIMMUTABLE: i32 = 63;
const TAG_I18NTABLE: i32 = 100;
const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_SUMMARY: i32 = 1004;
const TAG_DESCRIPTION: i32 = 1005;
const TAG_URL: i32 = 1020;
const TAG_ARCH: i32 = 1022;
const TAG_SOURCERPM: i32 = 1044;

const T_NULL: u32 = 0;
const T_CHAR: u32 = 1;
const T_INT8: u32 = 2;
const T_INT16: u32 = 3;
const T_INT32: u32 = 4;
const T_INT64: u32 = 5;
const T_STRING: u32 = 6;
const T_BIN: u32 = 7;
const T_STRING_ARRAY: u32 = 8;
const T_I18NSTRING: u32 = 9;
const T_MAX: u32 = 9;

/// rpm's sanity limits (`hdrchkTags`, `hdrchkData`, `hdrchkArray`).
const TAGS_MAX: u32 = 0xffff;
const DATA_MAX: u32 = 0x0fff_ffff;
const ARRAY_MAX: u32 = 0x000f_ffff;
const REGION_TAG_COUNT: u32 = 16;

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: i32,
    typ: u32,
    offset: i32,
    count: u32,
}

/// A validated header: the entries and the data store.
struct Header<'a> {
    entries: Vec<Entry>,
    data: &'a [u8],
    /// Index of the first dribble entry (entries before it, after entry 0, are in the region).
    dribble_start: usize,
    /// Whether entry 0 is a region tag (otherwise every entry is an ordinary one).
    has_region: bool,
}

fn be32(b: &[u8], off: usize) -> u32 {
    match off.checked_add(4).and_then(|end| b.get(off..end)) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn invalid(what: &'static str, offset: u64, expected: impl Into<String>, found: String) -> Error {
    Error::Invalid {
        what,
        offset,
        expected: expected.into(),
        found,
    }
}

/// Offset of index entry `i` in the blob.
fn entry_offset(i: usize) -> u64 {
    8 + 16 * i as u64
}

/// Parses one header blob as stored in an rpm database (`Packages`, `Packages.db`,
/// `rpmdb.sqlite`) and returns the package it describes.
///
/// Fields: `NAME` (required), `EPOCH` (0 when absent), `VERSION`, `RELEASE` and `ARCH` (`(none)`
/// when absent, as `rpm -q --qf` prints them), `SUMMARY` and `DESCRIPTION` (the first string of
/// the i18n table, i.e. the C locale), `URL` and `SOURCERPM`. Error offsets are relative to the
/// start of `blob`.
///
/// libguestfs 1.48 formats `%{URL}` with rpm, so it reports `(none)` where this gives
/// `url: None`, and it never reports a source package for rpm; mapping to its output is the
/// caller's choice.
pub fn rpm_header(blob: &[u8]) -> Result<Package, Error> {
    let h = Header::parse(blob)?;
    let name = h.string(TAG_NAME)?.ok_or(Error::Missing {
        what: "rpm header NAME tag",
        offset: 0,
    })?;
    let none = || "(none)".to_string();
    Ok(Package {
        name,
        epoch: h.number(TAG_EPOCH)?.unwrap_or(0),
        version: h.string(TAG_VERSION)?.unwrap_or_else(none),
        release: h.string(TAG_RELEASE)?.unwrap_or_else(none),
        arch: h.string(TAG_ARCH)?.unwrap_or_else(none),
        summary: h.string(TAG_SUMMARY)?.and_then(non_empty),
        description: h.string(TAG_DESCRIPTION)?.and_then(non_empty),
        url: h.string(TAG_URL)?.and_then(non_empty),
        source_package: h.string(TAG_SOURCERPM)?.and_then(non_empty),
    })
}

impl<'a> Header<'a> {
    fn parse(blob: &'a [u8]) -> Result<Self, Error> {
        if blob.len() < 8 {
            return Err(invalid(
                WHAT,
                0,
                "at least 8 bytes",
                format!("{} bytes", blob.len()),
            ));
        }
        let il = be32(blob, 0);
        let dl = be32(blob, 4);
        if il > TAGS_MAX {
            return Err(invalid(
                "rpm header index count",
                0,
                format!("at most {TAGS_MAX}"),
                il.to_string(),
            ));
        }
        if dl > DATA_MAX {
            return Err(invalid(
                "rpm header data length",
                4,
                format!("at most {DATA_MAX:#x}"),
                format!("{dl:#x}"),
            ));
        }
        let pvlen = 8 + 16 * u64::from(il) + u64::from(dl);
        if pvlen != blob.len() as u64 {
            return Err(invalid(
                "rpm header size (8 + 16 * index count + data length)",
                0,
                format!("{} bytes, the size of the stored blob", blob.len()),
                format!("{pvlen} (index count {il}, data length {dl})"),
            ));
        }
        if pvlen > MAX_HEADER_SIZE {
            return Err(Error::TooLarge {
                what: WHAT,
                offset: 0,
                size: pvlen,
                limit: MAX_HEADER_SIZE,
            });
        }
        let il = il as usize;
        let ds = 8 + 16 * il;
        let entries: Vec<Entry> = (0..il)
            .map(|i| {
                let o = 8 + 16 * i;
                Entry {
                    tag: be32(blob, o) as i32,
                    typ: be32(blob, o + 4),
                    offset: be32(blob, o + 8) as i32,
                    count: be32(blob, o + 12),
                }
            })
            .collect();
        let data = &blob[ds..];
        let dl = dl as i64;

        // hdrblobVerifyRegion
        let mut region_tag = 0;
        let mut ril = 0usize;
        let mut rdl = 0i64;
        if let Some(e0) = entries.first()
            && matches!(
                e0.tag,
                TAG_HEADERIMAGE | TAG_HEADERSIGNATURES | TAG_HEADERIMMUTABLE
            )
        {
            if !(e0.typ == T_BIN && e0.count == REGION_TAG_COUNT) {
                return Err(invalid(
                    "rpm header region tag",
                    entry_offset(0),
                    "type 7 (BIN) and count 16",
                    format!("tag {} type {} count {}", e0.tag, e0.typ, e0.count),
                ));
            }
            let trailer_end = i64::from(e0.offset) + i64::from(REGION_TAG_COUNT);
            if trailer_end < 0 || trailer_end > dl {
                return Err(invalid(
                    "rpm header region trailer offset",
                    entry_offset(0) + 8,
                    format!("a trailer inside the {dl} data bytes"),
                    e0.offset.to_string(),
                ));
            }
            // As in rpm, the trailer is read at data + offset even when the offset is negative
            // (down to -16, which lands on the last index entry).
            let t = (ds as i64 + i64::from(e0.offset)) as usize;
            let mut tt = Entry {
                tag: be32(blob, t) as i32,
                typ: be32(blob, t + 4),
                offset: (be32(blob, t + 8) as i32).wrapping_neg(),
                count: be32(blob, t + 12),
            };
            if e0.tag == TAG_HEADERSIGNATURES && tt.tag == TAG_HEADERIMAGE {
                tt.tag = TAG_HEADERSIGNATURES;
            }
            if !(tt.tag == e0.tag && tt.typ == T_BIN && tt.count == REGION_TAG_COUNT) {
                return Err(invalid(
                    "rpm header region trailer",
                    t as u64,
                    format!("tag {} type 7 (BIN) count 16", e0.tag),
                    format!("tag {} type {} count {}", tt.tag, tt.typ, tt.count),
                ));
            }
            let region_len = tt.offset;
            if region_len < 0 || region_len % 16 != 0 || (region_len / 16) as usize > il {
                return Err(invalid(
                    "rpm header region size",
                    t as u64 + 8,
                    format!("a multiple of 16 covering at most the {il} index entries"),
                    format!("{} bytes", tt.offset),
                ));
            }
            ril = (region_len / 16) as usize;
            rdl = trailer_end;
            region_tag = e0.tag;
        }

        // hdrblobVerifyInfo
        let typechk = region_tag == TAG_HEADERIMMUTABLE || region_tag == TAG_HEADERIMAGE;
        let first = usize::from(region_tag != 0);
        let mut end: i64 = 0;
        for (i, e) in entries.iter().enumerate().skip(first) {
            let at = entry_offset(i);
            let bad = |expected: &str| {
                invalid(
                    "rpm header index entry",
                    at,
                    expected.to_string(),
                    format!(
                        "tag {} type {} offset {} count {}",
                        e.tag, e.typ, e.offset, e.count
                    ),
                )
            };
            let off = i64::from(e.offset);
            if end > off {
                return Err(bad("data after the previous entry's data"));
            }
            if e.tag < TAG_I18NTABLE {
                return Err(bad("a tag of at least 100"));
            }
            if e.typ > T_MAX {
                return Err(bad("a type from 0 to 9"));
            }
            if e.count < 1 || i64::from(e.count) > dl {
                return Err(bad("a count from 1 to the data length"));
            }
            if off & (align(e.typ) - 1) != 0 {
                return Err(bad("an offset aligned for the type"));
            }
            if off < 0 || off > dl {
                return Err(bad("an offset inside the data"));
            }
            if e.typ != T_BIN && e.count > ARRAY_MAX {
                return Err(bad("an array count of at most 0xfffff"));
            }
            if typechk && !type_matches(e.tag, e.typ) {
                return Err(bad("the type rpm defines for this tag"));
            }
            let len = data_length(e.typ, data, off as usize, e.count).unwrap_or(-1);
            end = off + len;
            if end > dl || len <= 0 {
                return Err(bad("data that fits inside the data store"));
            }
            if region_tag != 0 && end > rdl - 16 && off < rdl {
                return Err(bad("data that does not overlap the region trailer"));
            }
        }

        // hdrblobImport: the data lengths, with alignment, must add up to the data store.
        let dribble_start;
        if entries.first().is_some_and(|e| e.tag >= TAG_I18NTABLE) {
            // An old v3 header without region.
            let rdlen = swab(&entries, 0, il, 0, data)?;
            check_total(rdlen, dl)?;
            dribble_start = il;
        } else if let Some(e0) = entries.first() {
            // As rpm: a region trailer at offset 0 means the region covers every entry, and a
            // region of 0 entries makes every entry (the region tag too) a dribble entry.
            let ril = if e0.offset != 0 { ril } else { il };
            let mut rdlen = swab(&entries, 1, ril, 0, data)?;
            if ril < il {
                rdlen = swab(&entries, ril, il, rdlen, data)?;
            }
            check_total(rdlen + i64::from(REGION_TAG_COUNT), dl)?;
            dribble_start = ril;
        } else {
            return Err(Error::Missing {
                what: "rpm header index entries",
                offset: 0,
            });
        }

        Ok(Header {
            entries,
            data,
            dribble_start,
            has_region: region_tag != 0,
        })
    }

    /// The entry for `tag`: dribble entries replace region entries of the same tag.
    fn find(&self, tag: i32) -> Option<&Entry> {
        let first = usize::from(self.has_region);
        let dribble = self.entries.get(self.dribble_start..).unwrap_or(&[]);
        let region = self.entries.get(first..self.dribble_start).unwrap_or(&[]);
        dribble
            .iter()
            .find(|e| e.tag == tag)
            .or_else(|| region.iter().find(|e| e.tag == tag))
    }

    /// The first string of a string-class entry.
    fn string(&self, tag: i32) -> Result<Option<String>, Error> {
        let Some(e) = self.find(tag) else {
            return Ok(None);
        };
        if !matches!(e.typ, T_STRING | T_STRING_ARRAY | T_I18NSTRING) {
            return Err(invalid(
                "rpm header string tag",
                0,
                format!("tag {tag} of a string type (6, 8 or 9)"),
                format!("type {}", e.typ),
            ));
        }
        let start = usize::try_from(e.offset).unwrap_or(usize::MAX);
        let s = self.data.get(start..).unwrap_or(&[]);
        match s.iter().position(|&c| c == 0) {
            Some(n) => Ok(Some(text(&s[..n]))),
            None => Err(invalid(
                "rpm header string",
                start as u64,
                format!("a NUL-terminated string for tag {tag}"),
                "no NUL before the end of the data".to_string(),
            )),
        }
    }

    /// The first value of an integer entry, as `headerGetNumber` reads it.
    fn number(&self, tag: i32) -> Result<Option<u32>, Error> {
        let Some(e) = self.find(tag) else {
            return Ok(None);
        };
        let start = usize::try_from(e.offset).unwrap_or(usize::MAX);
        let size = match e.typ {
            T_CHAR | T_INT8 => 1,
            T_INT16 => 2,
            T_INT32 => 4,
            T_INT64 => 8,
            _ => return Ok(Some(0)),
        };
        let Some(b) = self.data.get(start..start.saturating_add(size)) else {
            return Err(Error::OutOfBounds {
                what: "rpm header number",
                offset: start as u64,
                target: start.saturating_add(size) as u64,
                limit: self.data.len() as u64,
            });
        };
        let v = b.iter().fold(0u64, |v, &c| (v << 8) | u64::from(c));
        Ok(Some(v as u32))
    }
}

fn align(typ: u32) -> i64 {
    match typ {
        T_INT16 => 2,
        T_INT32 => 4,
        T_INT64 => 8,
        _ => 1,
    }
}

fn type_size(typ: u32) -> Option<i64> {
    match typ {
        T_NULL => Some(0),
        T_CHAR | T_INT8 | T_BIN => Some(1),
        T_INT16 => Some(2),
        T_INT32 => Some(4),
        T_INT64 => Some(8),
        T_STRING | T_STRING_ARRAY | T_I18NSTRING => None,
        _ => Some(0),
    }
}

fn is_string(typ: u32) -> bool {
    matches!(typ, T_STRING | T_STRING_ARRAY | T_I18NSTRING)
}

/// rpm's tag type check, for the tags this reader uses (rpm permits unknown tags, and any string
/// type for a string tag).
fn type_matches(tag: i32, typ: u32) -> bool {
    match tag {
        TAG_NAME | TAG_VERSION | TAG_RELEASE | TAG_URL | TAG_ARCH | TAG_SOURCERPM | TAG_SUMMARY
        | TAG_DESCRIPTION => is_string(typ),
        TAG_EPOCH => typ == T_INT32,
        _ => true,
    }
}

/// rpm's `dataLength` for on-disk data starting at `off`: bytes used by `count` items, or
/// `None` when they do not fit.
fn data_length(typ: u32, data: &[u8], off: usize, count: u32) -> Option<i64> {
    let avail = data.get(off..)?;
    match type_size(typ) {
        None => {
            if typ == T_STRING && count != 1 {
                return None;
            }
            let mut left = count;
            let mut pos = 0usize;
            while left > 0 {
                let n = avail.get(pos..)?.iter().position(|&c| c == 0)?;
                pos += n + 1;
                left -= 1;
            }
            Some(pos as i64)
        }
        Some(size) => {
            let len = size * i64::from(count);
            if len > avail.len() as i64 {
                None
            } else {
                Some(len)
            }
        }
    }
}

/// rpm's `regionSwab` without the swapping: the length of the data of entries `from..to`, with
/// alignment padding, starting at `dl`; refuses entries that do not fit.
fn swab(entries: &[Entry], from: usize, to: usize, mut dl: i64, data: &[u8]) -> Result<i64, Error> {
    let data_end = data.len() as i64;
    for i in from..to {
        let Some(e) = entries.get(i) else { break };
        let bad = |expected: &str| {
            invalid(
                "rpm header index entry",
                entry_offset(i),
                expected.to_string(),
                format!(
                    "tag {} type {} offset {} count {}",
                    e.tag, e.typ, e.offset, e.count
                ),
            )
        };
        if e.typ > T_MAX {
            return Err(bad("a type from 0 to 9"));
        }
        if e.count > DATA_MAX || e.offset < 0 || e.offset as u32 > DATA_MAX {
            return Err(bad("count and offset of at most 0xfffffff"));
        }
        let off = i64::from(e.offset);
        if off & (align(e.typ) - 1) != 0 {
            return Err(bad("an offset aligned for the type"));
        }
        if off >= data_end {
            return Err(bad("an offset inside the data"));
        }
        let remaining = to - i;
        // HEADERIMPORT_FAST, as rpmdb uses: a string's length is the distance to the next entry.
        let length = match entries.get(i + 1) {
            Some(next) if remaining > 1 && is_string(e.typ) => i64::from(next.offset) - off,
            _ => data_length(e.typ, data, off as usize, e.count).unwrap_or(-1),
        };
        if length < 0 || length > i64::from(DATA_MAX) {
            return Err(bad("data that fits inside the data store"));
        }
        if let Some(size) = type_size(e.typ).filter(|&s| s > 1)
            && e.count > 0
            && off + (i64::from(e.count) - 1) * size >= data_end
        {
            return Err(bad("data that fits inside the data store"));
        }
        if let Some(size) = type_size(e.typ).filter(|&s| s > 1) {
            let diff = size - dl.rem_euclid(size);
            if diff != size {
                dl += diff;
            }
        }
        dl += length;
    }
    Ok(dl)
}

fn check_total(rdlen: i64, dl: i64) -> Result<(), Error> {
    if rdlen != dl {
        return Err(invalid(
            "rpm header data length",
            4,
            format!("{rdlen} bytes, the sum of the entries' data"),
            dl.to_string(),
        ));
    }
    Ok(())
}
