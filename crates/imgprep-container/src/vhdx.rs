//! VHDX (MS-VHDX), read-only: file identifier, the two headers (the valid one with the higher
//! sequence number wins), region table, metadata items and the BAT with its interleaved sector
//! bitmap entries.
//!
//! Differencing disks and logs that still need replaying are refused.

use std::io;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::util::{self, Cache, Crc32c, Tables, check_within, field};
use crate::{Error, Format, Opened};

const F: Format = Format::Vhdx;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const HEADER_SIZE: usize = 4096;
const REGION_TABLE_SIZE: usize = 64 * KIB as usize;
const METADATA_TABLE_SIZE: usize = 64 * KIB as usize;
const MAX_TABLE_ENTRIES: u32 = 2047;
/// The largest virtual disk the format allows: 64 TiB.
const MAX_VIRTUAL_SIZE: u64 = 64 << 40;
/// The largest log scanned for entries that need replaying.
const MAX_LOG_SCAN: u64 = 32 * MIB;

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

/// Payload block states.
const PAYLOAD_NOT_PRESENT: u64 = 0;
const PAYLOAD_UNDEFINED: u64 = 1;
const PAYLOAD_ZERO: u64 = 2;
const PAYLOAD_UNMAPPED: u64 = 3;
const PAYLOAD_FULLY_PRESENT: u64 = 6;
const PAYLOAD_PARTIALLY_PRESENT: u64 = 7;
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
    at: u64,
    sequence: u64,
    log_guid: [u8; 16],
    log_length: u32,
    log_offset: u64,
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
        at,
        sequence: field::le64(&h, 8),
        log_guid: field::bytes(&h, 48),
        log_length: field::le32(&h, 68),
        log_offset: field::le64(&h, 72),
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
        } else if id == PHYSICAL_SECTOR_SIZE || id == PAGE83_DATA || id == PARENT_LOCATOR {
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
    })
}

/// Whether the log holds an entry of the current log (matching GUID, valid checksum): such a
/// log must be replayed before the image reads right.
fn log_needs_replay(file: &dyn ReadAt, h: &Header) -> Result<bool, Error> {
    const SECTOR: u64 = 4096;
    if h.log_guid == [0u8; 16] {
        return Ok(false);
    }
    let length = u64::from(h.log_length);
    if length == 0 {
        return Ok(false);
    }
    if !length.is_multiple_of(SECTOR) {
        return Err(Error::invalid(
            F,
            "log length",
            h.at + 68,
            "a multiple of 4096",
            length,
        ));
    }
    if length > MAX_LOG_SCAN {
        return Err(Error::unsupported(
            F,
            format!("log of {length} bytes that may need replaying"),
        ));
    }
    check_within(F, "log", h.log_offset, length, file.size())?;
    // Checksumming is bounded: a log crafted to make every sector look like a long entry is
    // treated as one that needs replaying.
    let mut budget = 4 * length;
    let mut head = [0u8; 48];
    let mut chunk = vec![0u8; 64 * 1024];
    for start in (0..length).step_by(SECTOR as usize) {
        file.read_exact_at(h.log_offset + start, &mut head)?;
        if !head.starts_with(b"loge") || field::bytes::<16>(&head, 32) != h.log_guid {
            continue;
        }
        let entry_len = u64::from(field::le32(&head, 8));
        if entry_len == 0 || !entry_len.is_multiple_of(SECTOR) || entry_len > length {
            continue;
        }
        if entry_len > budget {
            return Ok(true);
        }
        budget -= entry_len;
        // The log is circular: an entry may wrap around to its start.
        let mut crc = Crc32c::new();
        let mut done = 0u64;
        while done < entry_len {
            let pos = (start + done) % length;
            let n = (entry_len - done).min(length - pos).min(chunk.len() as u64) as usize;
            let buf = &mut chunk[..n];
            file.read_exact_at(h.log_offset + pos, buf)?;
            if done == 0 {
                buf[4..8].fill(0);
            }
            crc.update(buf);
            done += n as u64;
        }
        if crc.finish() == field::le32(&head, 4) {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn open(file: Arc<dyn ReadAt>, cache: &Arc<Cache>) -> Result<Opened, Error> {
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
    if log_needs_replay(&*file, &header)? {
        return Err(Error::unsupported(
            F,
            format!(
                "log that needs replaying (header at {:#x}, log at {:#x}); replay it with \
                 qemu-img check -r all or by attaching the disk in Hyper-V",
                header.at, header.log_offset
            ),
        ));
    }
    let (bat, meta) = match read_region_table(&*file, 192 * KIB) {
        Ok(r) => r,
        Err(first) => read_region_table(&*file, 256 * KIB).map_err(|_| first)?,
    };
    let md = read_metadata(&*file, &meta)?;
    if md.has_parent {
        return Err(Error::unsupported(
            F,
            "differencing disk (file parameters has_parent)",
        ));
    }
    let chunk_ratio = (1u64 << 23) * u64::from(md.logical_sector) / md.block_size;
    let data_blocks = md.virtual_size.div_ceil(md.block_size);
    let entries = if data_blocks == 0 {
        0
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
    let reader = Vhdx {
        tables: Tables::new(file.clone(), cache),
        file,
        size: md.virtual_size,
        block_size: md.block_size,
        chunk_ratio,
        bat_offset: bat.offset,
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
    chunk_ratio: u64,
    bat_offset: u64,
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
                PAYLOAD_NOT_PRESENT | PAYLOAD_UNDEFINED | PAYLOAD_ZERO | PAYLOAD_UNMAPPED => {
                    out.fill(0)
                }
                PAYLOAD_FULLY_PRESENT => {
                    let block_at = entry & BAT_OFFSET_MASK;
                    let at = block_at.checked_add(within).ok_or(Error::PastEof {
                        format: F,
                        what: "payload block",
                        offset: block_at,
                        end: u64::MAX,
                        file_size: self.file.size(),
                    })?;
                    check_within(F, "payload block", at, n as u64, self.file.size())?;
                    self.file.read_exact_at(at, out)?;
                }
                PAYLOAD_PARTIALLY_PRESENT => {
                    return Err(Error::invalid(
                        F,
                        "BAT entry",
                        entry_at,
                        "no partially present blocks outside differencing disks",
                        format!("{entry:#x}"),
                    ));
                }
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

impl ReadAt for Vhdx {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read(offset, buf).map_err(Error::into_io)
    }
}
