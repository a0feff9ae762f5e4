//! VHDX (MS-VHDX), read-only: file identifier, the two headers (the valid one with the higher
//! sequence number wins), region table, metadata items and the BAT with its interleaved sector
//! bitmap entries.
//!
//! A log with entries to replay is replayed in memory first (`vhdx_log`): every later read of the
//! file goes through the replayed overlay.
//!
//! Differencing disks (`HasParent`) find their parent through the parent locator metadata item,
//! trying `relative_path`, then `volume_path`, then `absolute_win32_path` as the specification
//! orders them (only a relative path can name a file on this host). The parent must be a VHDX
//! whose DataWriteGuid is the child's `parent_linkage` (or `parent_linkage2`) and whose logical
//! sector size is the child's. Blocks not present read from the parent; partially present blocks
//! read each sector from the file or the parent as the chunk's sector bitmap says.

use std::io;
use std::path::Path;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::util::{self, Crc32c, Tables, check_within, field};
use crate::vhdx_log::{self, LogHeader};
use crate::{Error, Format, Locator, OpenCtx, Opened, Role};

const F: Format = Format::Vhdx;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const HEADER_SIZE: usize = 4096;
const REGION_TABLE_SIZE: usize = 64 * KIB as usize;
const METADATA_TABLE_SIZE: usize = 64 * KIB as usize;
const MAX_TABLE_ENTRIES: u32 = 2047;
/// The largest virtual disk the format allows: 64 TiB.
const MAX_VIRTUAL_SIZE: u64 = 64 << 40;
/// The largest metadata item the format allows.
const MAX_ITEM: u64 = MIB;
/// Sectors one sector bitmap block describes.
const CHUNK_SECTORS: u64 = 1 << 23;

/// A GUID in its on-disk (little-endian fields) byte order.
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

const BAT_REGION: [u8; 16] = guid(
    0x2dc2_7766,
    0xf623,
    0x4200,
    [0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08],
);
const METADATA_REGION: [u8; 16] = guid(
    0x8b7c_a206,
    0x4790,
    0x4b9a,
    [0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e],
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xcaa1_6737,
    0xfa36,
    0x4d43,
    [0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b],
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2fa5_4224,
    0xcd1b,
    0x4876,
    [0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8],
);
const PAGE83_DATA: [u8; 16] = guid(
    0xbeca_12ab,
    0xb2e6,
    0x4523,
    [0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46],
);
const LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_bf1d,
    0xa96f,
    0x4709,
    [0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f],
);
const PHYSICAL_SECTOR_SIZE: [u8; 16] = guid(
    0xcda3_48c7,
    0x445d,
    0x4471,
    [0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56],
);
const PARENT_LOCATOR: [u8; 16] = guid(
    0xa8d3_5f2d,
    0xb30b,
    0x454d,
    [0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c],
);

/// The parent locator type of a VHDX parent.
const VHDX_LOCATOR_TYPE: [u8; 16] = guid(
    0xb04a_efb7,
    0xd19e,
    0x4a81,
    [0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13],
);

/// Payload block states.
const PAYLOAD_NOT_PRESENT: u64 = 0;
const PAYLOAD_UNDEFINED: u64 = 1;
const PAYLOAD_ZERO: u64 = 2;
const PAYLOAD_UNMAPPED: u64 = 3;
const PAYLOAD_FULLY_PRESENT: u64 = 6;
const PAYLOAD_PARTIALLY_PRESENT: u64 = 7;
const SB_BLOCK_PRESENT: u64 = 6;
const BAT_OFFSET_MASK: u64 = 0xffff_ffff_fff0_0000;

/// Checks the CRC-32C stored at offset 4 of `buf`, computed with that field zeroed. Returns
/// whether it matches, the computed value and the stored one.
fn checksum_ok(buf: &[u8]) -> (bool, u32, u32) {
    let stored = field::le32(buf, 4);
    let mut crc = Crc32c::new();
    crc.update(buf.get(..4).unwrap_or(buf));
    crc.update(&[0u8; 4]);
    crc.update(buf.get(8..).unwrap_or(&[]));
    let computed = crc.finish();
    (stored == computed, computed, stored)
}

struct Header {
    sequence: u64,
    data_write_guid: [u8; 16],
    log: LogHeader,
}

fn read_header(file: &dyn ReadAt, at: u64) -> Result<Header, Error> {
    let h = util::read_struct(file, F, "header", at, HEADER_SIZE)?;
    if !h.starts_with(b"head") {
        return Err(Error::invalid(
            F,
            "header signature",
            at,
            "\"head\"",
            format!("{:02x?}", &h[..4]),
        ));
    }
    let (ok, computed, stored) = checksum_ok(&h);
    if !ok {
        return Err(Error::Checksum {
            format: F,
            what: "header",
            offset: at,
            expected: computed,
            found: stored,
        });
    }
    let version = field::le16(&h, 66);
    if version != 1 {
        return Err(Error::invalid(F, "header version", at + 66, "1", version));
    }
    Ok(Header {
        sequence: field::le64(&h, 8),
        data_write_guid: field::bytes(&h, 32),
        log: LogHeader {
            at,
            log_guid: field::bytes(&h, 48),
            log_version: field::le16(&h, 64),
            log_length: field::le32(&h, 68),
            log_offset: field::le64(&h, 72),
        },
    })
}

fn pick_header(file: &dyn ReadAt) -> Result<Header, Error> {
    let h1 = read_header(file, 64 * KIB);
    let h2 = read_header(file, 128 * KIB);
    match (h1, h2) {
        (Ok(a), Ok(b)) => {
            if b.sequence > a.sequence {
                Ok(b)
            } else {
                Ok(a)
            }
        }
        (Ok(a), Err(_)) => Ok(a),
        (Err(_), Ok(b)) => Ok(b),
        (Err(e1), Err(e2)) => Err(Error::invalid(
            F,
            "headers",
            64 * KIB,
            "at least one valid header",
            format!("none (first: {e1}; second: {e2})"),
        )),
    }
}

struct Region {
    offset: u64,
    length: u64,
}

fn read_region_table(file: &dyn ReadAt, at: u64) -> Result<(Region, Region), Error> {
    let t = util::read_struct(file, F, "region table", at, REGION_TABLE_SIZE)?;
    if !t.starts_with(b"regi") {
        return Err(Error::invalid(
            F,
            "region table signature",
            at,
            "\"regi\"",
            format!("{:02x?}", &t[..4]),
        ));
    }
    let (ok, computed, stored) = checksum_ok(&t);
    if !ok {
        return Err(Error::Checksum {
            format: F,
            what: "region table",
            offset: at,
            expected: computed,
            found: stored,
        });
    }
    let count = field::le32(&t, 8);
    if count > MAX_TABLE_ENTRIES {
        return Err(Error::TableTooLarge {
            format: F,
            what: "region table",
            offset: at,
            entries: count.into(),
            limit: MAX_TABLE_ENTRIES.into(),
        });
    }
    let (mut bat, mut meta) = (None, None);
    for i in 0..count as usize {
        let e = 16 + i * 32;
        let id: [u8; 16] = field::bytes(&t, e);
        let region = Region {
            offset: field::le64(&t, e + 16),
            length: field::le32(&t, e + 24).into(),
        };
        let required = field::le32(&t, e + 28) & 1 != 0;
        let slot = if id == BAT_REGION {
            &mut bat
        } else if id == METADATA_REGION {
            &mut meta
        } else if required {
            return Err(Error::unsupported(
                F,
                format!("unknown required region {id:02x?}"),
            ));
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(Error::invalid(
                F,
                "region table entry",
                at + e as u64,
                "each region once",
                "a duplicate",
            ));
        }
        check_within(F, "region", region.offset, region.length, file.size())?;
        *slot = Some(region);
    }
    match (bat, meta) {
        (Some(b), Some(m)) => Ok((b, m)),
        _ => Err(Error::invalid(
            F,
            "region table",
            at,
            "a BAT region and a metadata region",
            "one of them missing",
        )),
    }
}

struct Metadata {
    block_size: u64,
    has_parent: bool,
    virtual_size: u64,
    logical_sector: u32,
    /// The parent locator item and its file offset.
    parent_locator: Option<(Vec<u8>, u64)>,
    /// File offset of the metadata table.
    table_at: u64,
}

fn read_metadata(file: &dyn ReadAt, region: &Region) -> Result<Metadata, Error> {
    let at = region.offset;
    if region.length < METADATA_TABLE_SIZE as u64 {
        return Err(Error::invalid(
            F,
            "metadata region length",
            at,
            format!("at least {METADATA_TABLE_SIZE}"),
            region.length,
        ));
    }
    let t = util::read_struct(file, F, "metadata table", at, METADATA_TABLE_SIZE)?;
    if !t.starts_with(b"metadata") {
        return Err(Error::invalid(
            F,
            "metadata table signature",
            at,
            "\"metadata\"",
            format!("{:02x?}", &t[..8]),
        ));
    }
    let count = field::le16(&t, 10);
    if u32::from(count) > MAX_TABLE_ENTRIES {
        return Err(Error::TableTooLarge {
            format: F,
            what: "metadata table",
            offset: at,
            entries: count.into(),
            limit: MAX_TABLE_ENTRIES.into(),
        });
    }
    let mut params = None;
    let mut size = None;
    let mut logical = None;
    let mut parent_locator = None;
    for i in 0..count as usize {
        let e = 32 + i * 32;
        let id: [u8; 16] = field::bytes(&t, e);
        let offset = u64::from(field::le32(&t, e + 16));
        let length = u64::from(field::le32(&t, e + 20));
        let required = field::le32(&t, e + 24) & 4 != 0;
        let entry_at = at + e as u64;
        let item = |min: u64| -> Result<Vec<u8>, Error> {
            if length < min || offset < METADATA_TABLE_SIZE as u64 {
                return Err(Error::invalid(
                    F,
                    "metadata item",
                    entry_at,
                    format!("at least {min} bytes after the metadata table"),
                    format!("{length} bytes at {offset:#x}"),
                ));
            }
            match offset.checked_add(min) {
                Some(end) if end <= region.length => {}
                _ => {
                    return Err(Error::invalid(
                        F,
                        "metadata item",
                        entry_at,
                        format!("inside the {}-byte metadata region", region.length),
                        format!("{length} bytes at {offset:#x}"),
                    ));
                }
            }
            util::read_struct(file, F, "metadata item", at + offset, min as usize)
        };
        if id == FILE_PARAMETERS {
            let b = item(8)?;
            params = Some((u64::from(field::le32(&b, 0)), field::le32(&b, 4)));
        } else if id == VIRTUAL_DISK_SIZE {
            size = Some(field::le64(&item(8)?, 0));
        } else if id == LOGICAL_SECTOR_SIZE {
            logical = Some(field::le32(&item(4)?, 0));
        } else if id == PARENT_LOCATOR {
            if length > MAX_ITEM {
                return Err(Error::invalid(
                    F,
                    "parent locator item length",
                    entry_at + 20,
                    format!("at most {MAX_ITEM}"),
                    length,
                ));
            }
            parent_locator = Some((item(length)?, at + offset));
        } else if id == PHYSICAL_SECTOR_SIZE || id == PAGE83_DATA {
        } else if required {
            return Err(Error::unsupported(
                F,
                format!("unknown required metadata item {id:02x?}"),
            ));
        }
    }
    let missing = |what: &'static str| {
        Error::invalid(F, "metadata table", at, format!("a {what} item"), "none")
    };
    let (block_size, flags) = params.ok_or_else(|| missing("file parameters"))?;
    let virtual_size = size.ok_or_else(|| missing("virtual disk size"))?;
    let logical_sector = logical.ok_or_else(|| missing("logical sector size"))?;
    if !block_size.is_power_of_two() || !(MIB..=256 * MIB).contains(&block_size) {
        return Err(Error::invalid(
            F,
            "block size",
            at,
            "a power of two from 1 MiB to 256 MiB",
            block_size,
        ));
    }
    if logical_sector != 512 && logical_sector != 4096 {
        return Err(Error::invalid(
            F,
            "logical sector size",
            at,
            "512 or 4096",
            logical_sector,
        ));
    }
    if virtual_size > MAX_VIRTUAL_SIZE || !virtual_size.is_multiple_of(u64::from(logical_sector)) {
        return Err(Error::invalid(
            F,
            "virtual disk size",
            at,
            format!("a multiple of {logical_sector}, at most 64 TiB"),
            virtual_size,
        ));
    }
    Ok(Metadata {
        block_size,
        has_parent: flags & 2 != 0,
        virtual_size,
        logical_sector,
        parent_locator,
        table_at: at,
    })
}

/// A GUID (on-disk byte order) spelled as the parent locator spells it: `{lowercase-hex}`.
fn guid_text(g: &[u8; 16]) -> String {
    let a = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
    let b = u16::from_le_bytes([g[4], g[5]]);
    let c = u16::from_le_bytes([g[6], g[7]]);
    let d: String = g[8..10].iter().map(|x| format!("{x:02x}")).collect();
    let e: String = g[10..].iter().map(|x| format!("{x:02x}")).collect();
    format!("{{{a:08x}-{b:04x}-{c:04x}-{d}-{e}}}")
}

/// Parses `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` (any case) into on-disk byte order.
fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let parts: Vec<&str> = inner.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if parts.len() != 5
        || parts
            .iter()
            .zip(lens)
            .any(|(p, l)| p.len() != l || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    let hex = |s: &str| -> Option<Vec<u8>> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    };
    let a = u32::from_str_radix(parts[0], 16).ok()?;
    let b = u16::from_str_radix(parts[1], 16).ok()?;
    let c = u16::from_str_radix(parts[2], 16).ok()?;
    let d = hex(parts[3])?;
    let e = hex(parts[4])?;
    Some(guid(
        a,
        b,
        c,
        [d[0], d[1], e[0], e[1], e[2], e[3], e[4], e[5]],
    ))
}

/// What a VHDX parent locator says: the parent's possible DataWriteGuids and the paths to try.
struct ParentLocatorItem {
    linkage: Vec<[u8; 16]>,
    /// Paths in the order they are tried.
    paths: Vec<(Locator, String)>,
}

/// Parses the parent locator item `b` found at file offset `at` (MS-VHDX 2.6.2.6).
fn parse_parent_locator(b: &[u8], at: u64) -> Result<ParentLocatorItem, Error> {
    let bad = |offset: u64, expected: &str, found: String| {
        Error::invalid(F, "parent locator", at + offset, expected, found)
    };
    if b.len() < 20 {
        return Err(bad(0, "at least 20 bytes", format!("{} bytes", b.len())));
    }
    let kind: [u8; 16] = field::bytes(b, 0);
    if kind != VHDX_LOCATOR_TYPE {
        return Err(Error::unsupported(
            F,
            format!(
                "parent locator type {} (only VHDX parents, {}, are read)",
                guid_text(&kind),
                guid_text(&VHDX_LOCATOR_TYPE)
            ),
        ));
    }
    let count = usize::from(field::le16(b, 18));
    if 20 + count * 12 > b.len() {
        return Err(bad(
            18,
            &format!("entries inside the {}-byte item", b.len()),
            format!("{count} entries"),
        ));
    }
    let text = |e: usize, off: usize, len: usize| -> Result<String, Error> {
        let raw = off
            .checked_add(len)
            .and_then(|end| b.get(off..end))
            .filter(|r| off > 0 && !r.is_empty() && r.len() % 2 == 0)
            .ok_or_else(|| {
                bad(
                    e as u64,
                    "a non-empty UTF-16 string inside the item",
                    format!("{len} bytes at {off:#x}"),
                )
            })?;
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| bad(off as u64, "UTF-16LE", format!("{raw:02x?}")))
    };
    let mut keys: Vec<(String, String, usize)> = Vec::with_capacity(count);
    for i in 0..count {
        let e = 20 + i * 12;
        let key = text(
            e,
            field::le32(b, e) as usize,
            usize::from(field::le16(b, e + 8)),
        )?;
        let value = text(
            e,
            field::le32(b, e + 4) as usize,
            usize::from(field::le16(b, e + 10)),
        )?;
        if keys.iter().any(|(k, _, _)| *k == key) {
            return Err(bad(e as u64, "unique keys", format!("{key:?} twice")));
        }
        keys.push((key, value, e));
    }
    let get = |k: &str| keys.iter().find(|(key, _, _)| key == k);
    let mut linkage = Vec::new();
    for k in ["parent_linkage", "parent_linkage2"] {
        if let Some((_, v, e)) = get(k) {
            linkage
                .push(parse_guid(v).ok_or_else(|| {
                    bad(*e as u64, &format!("{k} as {{GUID}}"), format!("{v:?}"))
                })?);
        }
    }
    if get("parent_linkage").is_none() {
        return Err(bad(0, "a parent_linkage entry", "none".to_owned()));
    }
    let paths = [
        ("relative_path", Locator::RelativePath),
        ("volume_path", Locator::VolumePath),
        ("absolute_win32_path", Locator::AbsoluteWin32Path),
    ]
    .into_iter()
    .filter_map(|(k, l)| get(k).map(|(_, v, _)| (l, v.clone())))
    .collect();
    Ok(ParentLocatorItem { linkage, paths })
}

/// Opens the parent of the differencing disk at `path` through the first locator path that leads
/// to a file, and checks it is the parent the child was made from.
fn open_parent(
    ctx: &mut OpenCtx<'_>,
    path: &Path,
    md: &Metadata,
) -> Result<Arc<dyn ReadAt>, Error> {
    let Some((item, at)) = &md.parent_locator else {
        return Err(Error::invalid(
            F,
            "metadata table",
            md.table_at,
            "a parent locator item in a differencing disk (HasParent)",
            "none",
        ));
    };
    let loc = parse_parent_locator(item, *at)?;
    let mut tried = Vec::new();
    for (kind, name) in &loc.paths {
        let role = Role::ParentLocator(*kind);
        if role.host_path(name).is_none() {
            tried.push(format!("{kind} {name:?} (not a path on this host)"));
            continue;
        }
        let (ppath, src) = match ctx.open_parent_file(path, name, role) {
            Ok(found) => found,
            Err(Error::BackingOpen {
                source, path: p, ..
            }) if source.kind() == io::ErrorKind::NotFound => {
                tried.push(format!("{kind} {name:?} (no file at {})", p.display()));
                continue;
            }
            Err(e) => return Err(e),
        };
        ctx.expect_parent_format(&*src, &ppath, F)?;
        let opened = ctx.open_parent_layer(src.clone(), &ppath, F)?;
        let found = pick_header(&*src)
            .map_err(|e| crate::in_file(&ppath, e))?
            .data_write_guid;
        if !loc.linkage.contains(&found) {
            let expected: Vec<String> = loc.linkage.iter().map(guid_text).collect();
            return Err(Error::ParentMismatch {
                format: F,
                child_field: "parent_linkage",
                expected: expected.join(" or "),
                parent_field: "DataWriteGuid",
                found: guid_text(&found),
                parent: ppath,
            });
        }
        if opened.sector_size != md.logical_sector {
            return Err(Error::ParentMismatch {
                format: F,
                child_field: "logical sector size",
                expected: md.logical_sector.to_string(),
                parent_field: "logical sector size",
                found: opened.sector_size.to_string(),
                parent: ppath,
            });
        }
        return Ok(opened.source);
    }
    if tried.is_empty() {
        tried.push(format!(
            "the parent locator at {at:#x} has no relative_path, volume_path or \
             absolute_win32_path"
        ));
    }
    Err(Error::ParentNotFound {
        format: F,
        tried: tried.join("; "),
    })
}

pub(crate) fn open(
    file: Arc<dyn ReadAt>,
    path: &Path,
    ctx: &mut OpenCtx<'_>,
) -> Result<Opened, Error> {
    let cache = ctx.cache.clone();
    let ident = util::read_struct(&*file, F, "file identifier", 0, 8)?;
    if ident != b"vhdxfile" {
        return Err(Error::invalid(
            F,
            "file identifier",
            0,
            "\"vhdxfile\"",
            format!("{ident:02x?}"),
        ));
    }
    let header = pick_header(&*file)?;
    // Everything after the headers is read as it is once the log is replayed.
    let file: Arc<dyn ReadAt> = match vhdx_log::replay(&file, &header.log)? {
        Some(replayed) => Arc::new(replayed),
        None => file,
    };
    let (bat, meta) = match read_region_table(&*file, 192 * KIB) {
        Ok(r) => r,
        Err(first) => read_region_table(&*file, 256 * KIB).map_err(|_| first)?,
    };
    let md = read_metadata(&*file, &meta)?;
    let chunk_ratio = CHUNK_SECTORS * u64::from(md.logical_sector) / md.block_size;
    let data_blocks = md.virtual_size.div_ceil(md.block_size);
    let entries = if data_blocks == 0 {
        0
    } else if md.has_parent {
        // A differencing disk's BAT reaches the sector bitmap entry of the last chunk.
        data_blocks.div_ceil(chunk_ratio) * (chunk_ratio + 1)
    } else {
        data_blocks + (data_blocks - 1) / chunk_ratio
    };
    if entries * 8 > bat.length {
        return Err(Error::TableTooSmall {
            format: F,
            what: "BAT",
            offset: bat.offset,
            entries: bat.length / 8,
            needed: entries,
        });
    }
    let parent = if md.has_parent {
        Some(open_parent(ctx, path, &md)?)
    } else {
        None
    };
    let reader = Vhdx {
        tables: Tables::new(file.clone(), &cache),
        file,
        size: md.virtual_size,
        block_size: md.block_size,
        logical_sector: u64::from(md.logical_sector),
        chunk_ratio,
        bat_offset: bat.offset,
        parent,
    };
    Ok(Opened {
        source: Arc::new(reader),
        size: md.virtual_size,
        sector_size: md.logical_sector,
    })
}

struct Vhdx {
    file: Arc<dyn ReadAt>,
    tables: Tables,
    size: u64,
    block_size: u64,
    logical_sector: u64,
    chunk_ratio: u64,
    bat_offset: u64,
    /// The parent of a differencing disk.
    parent: Option<Arc<dyn ReadAt>>,
}

impl Vhdx {
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        imgprep_io::check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos / self.block_size;
            let within = pos % self.block_size;
            let n = ((self.block_size - within) as usize).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            let entry_at = self.bat_offset + (block + block / self.chunk_ratio) * 8;
            let entry = self.tables.le_u64(entry_at)?;
            match entry & 7 {
                PAYLOAD_NOT_PRESENT => crate::read_backing(self.parent.as_ref(), pos, out)?,
                // Undefined and unmapped blocks may read as zeros (MS-VHDX 2.5.1.1), also in a
                // differencing disk: they do not fall through to the parent.
                PAYLOAD_UNDEFINED | PAYLOAD_ZERO | PAYLOAD_UNMAPPED => out.fill(0),
                PAYLOAD_FULLY_PRESENT => self.read_payload(entry, within, out)?,
                PAYLOAD_PARTIALLY_PRESENT => match &self.parent {
                    Some(parent) => self.read_partial(block, entry, pos, within, out, parent)?,
                    None => {
                        return Err(Error::invalid(
                            F,
                            "BAT entry",
                            entry_at,
                            "no partially present blocks outside differencing disks",
                            format!("{entry:#x}"),
                        ));
                    }
                },
                state => {
                    return Err(Error::invalid(
                        F,
                        "BAT entry state",
                        entry_at,
                        "0, 1, 2, 3, 6 or 7",
                        state,
                    ));
                }
            }
            done += n;
        }
        Ok(())
    }
}

impl Vhdx {
    /// Reads `out` at `within` the payload block of BAT entry `entry`.
    fn read_payload(&self, entry: u64, within: u64, out: &mut [u8]) -> Result<(), Error> {
        let block_at = entry & BAT_OFFSET_MASK;
        let at = block_at.checked_add(within).ok_or(Error::PastEof {
            format: F,
            what: "payload block",
            offset: block_at,
            end: u64::MAX,
            file_size: self.file.size(),
        })?;
        check_within(F, "payload block", at, out.len() as u64, self.file.size())?;
        self.file.read_exact_at(at, out)?;
        Ok(())
    }

    /// Reads `out` at disk offset `pos` (`within` partially present block `block`): sectors the
    /// chunk's sector bitmap marks present from the block, the others from `parent`.
    fn read_partial(
        &self,
        block: u64,
        entry: u64,
        pos: u64,
        within: u64,
        out: &mut [u8],
        parent: &Arc<dyn ReadAt>,
    ) -> Result<(), Error> {
        let chunk = block / self.chunk_ratio;
        let sb_at_entry = self.bat_offset + (chunk * (self.chunk_ratio + 1) + self.chunk_ratio) * 8;
        let sb = self.tables.le_u64(sb_at_entry)?;
        if sb & 7 != SB_BLOCK_PRESENT {
            return Err(Error::invalid(
                F,
                "sector bitmap BAT entry",
                sb_at_entry,
                "a present sector bitmap block (state 6) for a partially present block",
                format!("{sb:#x}"),
            ));
        }
        let bitmap_at = sb & BAT_OFFSET_MASK;
        check_within(F, "sector bitmap block", bitmap_at, MIB, self.file.size())?;
        let ls = self.logical_sector;
        let chunk_start = chunk * self.chunk_ratio * self.block_size;
        let present = |sector: u64| -> Result<bool, Error> {
            let mut byte = [0u8; 1];
            self.tables.read(bitmap_at + sector / 8, &mut byte)?;
            Ok(byte[0] & (1 << (sector % 8)) != 0)
        };
        let mut done = 0usize;
        while done < out.len() {
            let at = pos + done as u64;
            let sector = (at - chunk_start) / ls;
            let here = present(sector)?;
            let mut end = ((sector + 1) * ls + chunk_start - pos) as usize;
            while end < out.len() && present((pos + end as u64 - chunk_start) / ls)? == here {
                end += ls as usize;
            }
            let end = end.min(out.len());
            let part = &mut out[done..end];
            if here {
                self.read_payload(entry, within + done as u64, part)?;
            } else {
                crate::read_backing(Some(parent), at, part)?;
            }
            done = end;
        }
        Ok(())
    }
}

impl ReadAt for Vhdx {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read(offset, buf).map_err(Error::into_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linkage_guids_read_as_the_parent_locator_spells_them() {
        let text = "{83ed0ec3-24c8-49a6-a959-5e4bf1288bfb}";
        let g = parse_guid(text).unwrap();
        assert_eq!(g[..4], [0xc3, 0x0e, 0xed, 0x83]);
        assert_eq!(g[8..10], [0xa9, 0x59]);
        assert_eq!(guid_text(&g), text);
        assert_eq!(parse_guid(&text.to_uppercase()), Some(g));
        for bad in [
            "83ed0ec3-24c8-49a6-a959-5e4bf1288bfb",
            "{83ed0ec3-24c8-49a6-a959-5e4bf1288bf}",
            "{83ed0ec3-24c8-49a6a959-5e4bf1288bfbb}",
            "{83ed0ec3-24c8-49a6-a959-5e4bf1288bfg}",
            "{+3ed0ec3-24c8-49a6-a959-5e4bf1288bfb}",
        ] {
            assert_eq!(parse_guid(bad), None, "{bad}");
        }
    }
}
