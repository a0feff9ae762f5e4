//! The primary superblock: geometry, features, and the address arithmetic built on them.

use imgprep_io::be;

use crate::crc;
use crate::error::{Error, Result};

pub(crate) const SB_MAGIC: u32 = 0x5846_5342; // "XFSB"

const VERSION_NUMBITS: u16 = 0x000f;
const VERSION_DIRV2BIT: u16 = 0x2000;
const VERSION_BORGBIT: u16 = 0x4000; // ascii-ci
const VERSION_MOREBITSBIT: u16 = 0x8000;
const VERSION_LOGV2BIT: u16 = 0x0400;
const FEATURES2_FTYPE: u32 = 0x0200;

const INCOMPAT_FTYPE: u32 = 0x1;
const INCOMPAT_SPINODES: u32 = 0x2;
const INCOMPAT_META_UUID: u32 = 0x4;
const INCOMPAT_BIGTIME: u32 = 0x8;
const INCOMPAT_NEEDSREPAIR: u32 = 0x10;
const INCOMPAT_NREXT64: u32 = 0x20;
const INCOMPAT_EXCHRANGE: u32 = 0x40;
const INCOMPAT_PARENT: u32 = 0x80;
const INCOMPAT_METADIR: u32 = 0x100;
/// Incompatible features that change nothing this reader parses, or that it handles.
const INCOMPAT_KNOWN: u32 = INCOMPAT_FTYPE
    | INCOMPAT_SPINODES
    | INCOMPAT_META_UUID
    | INCOMPAT_BIGTIME
    | INCOMPAT_NEEDSREPAIR
    | INCOMPAT_NREXT64
    | INCOMPAT_EXCHRANGE
    | INCOMPAT_PARENT
    | INCOMPAT_METADIR;

/// Bytes of the superblock this reader looks at (the v5 fields end at 264).
pub(crate) const SB_LEN: usize = 264;
const SB_CRC_OFF: usize = 224;

/// What the reader needs from the superblock, checked for consistency.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub(crate) blocksize: u32,
    pub(crate) blocklog: u8,
    pub(crate) dblocks: u64,
    pub(crate) agblocks: u32,
    pub(crate) agblklog: u8,
    pub(crate) agcount: u32,
    pub(crate) inodesize: u16,
    pub(crate) inopblog: u8,
    pub(crate) dirblklog: u8,
    pub(crate) rootino: u64,
    pub(crate) logstart: u64,
    pub(crate) logblocks: u32,
    /// Version 2 log records (larger records with extended headers, stripe units).
    pub(crate) logv2: bool,
    /// Log stripe unit in bytes (`sb_logsunit`; 0 or 1 when none).
    pub(crate) logsunit: u32,
    /// Incompatible log features (v5).
    pub(crate) log_incompat: u32,
    /// Inode chunk alignment in blocks.
    pub(crate) inoalignmt: u32,
    /// Sparse inode chunk alignment in blocks (with sparse inodes).
    pub(crate) spino_align: u32,
    pub(crate) sparse_inodes: bool,
    pub(crate) v5: bool,
    pub(crate) ftype: bool,
    pub(crate) ascii_ci: bool,
    pub(crate) nrext64: bool,
    pub(crate) uuid: [u8; 16],
    pub(crate) meta_uuid: [u8; 16],
    pub(crate) fname: [u8; 12],
}

fn bad(field: &'static str, found: u64, expected: impl Into<String>) -> Error {
    Error::Superblock {
        field,
        found,
        expected: expected.into(),
    }
}

fn pow2_log(field: &'static str, value: u64, log: u8, min: u32, max: u32) -> Result<()> {
    if value < (1u64 << min) || value > (1u64 << max) || !value.is_power_of_two() {
        return Err(bad(
            field,
            value,
            format!("a power of two from {} to {}", 1u64 << min, 1u64 << max),
        ));
    }
    if u32::from(log) != value.trailing_zeros() {
        return Err(bad(
            "its log2 field",
            u64::from(log),
            format!("{} (log2 of {field} {value})", value.trailing_zeros()),
        ));
    }
    Ok(())
}

impl Superblock {
    /// Parses and checks the superblock in `buf` (the first sector of the device, at least
    /// [`SB_LEN`] bytes; a whole sector when the checksum is verified).
    pub(crate) fn parse(buf: &[u8], verify_crc: bool) -> Result<Self> {
        if buf.len() < SB_LEN {
            return Err(bad(
                "sector length",
                buf.len() as u64,
                format!("at least {SB_LEN}"),
            ));
        }
        if be::u32(buf, 0) != SB_MAGIC {
            return Err(Error::NotXfs {
                found: [buf[0], buf[1], buf[2], buf[3]],
            });
        }
        let versionnum = be::u16(buf, 100);
        let version = versionnum & VERSION_NUMBITS;
        let v5 = match version {
            5 => true,
            4 => false,
            1..=3 => {
                return Err(Error::Unsupported {
                    feature: format!("version {version} superblock"),
                });
            }
            _ => return Err(bad("version", u64::from(version), "4 or 5")),
        };
        let blocksize = be::u32(buf, 4);
        let blocklog = buf[120];
        pow2_log("blocksize", u64::from(blocksize), blocklog, 9, 16)?;
        let sectsize = be::u16(buf, 102);
        pow2_log("sectsize", u64::from(sectsize), buf[121], 9, 15)?;
        let inodesize = be::u16(buf, 104);
        let inodelog = buf[122];
        pow2_log("inodesize", u64::from(inodesize), inodelog, 8, 11)?;
        if u32::from(inodesize) > blocksize {
            return Err(bad(
                "inodesize",
                u64::from(inodesize),
                format!("at most the block size {blocksize}"),
            ));
        }
        if v5 && inodesize < 512 {
            return Err(bad("inodesize", u64::from(inodesize), "at least 512 on v5"));
        }
        let inopblock = be::u16(buf, 106);
        if u32::from(inopblock) != blocksize / u32::from(inodesize) {
            return Err(bad(
                "inopblock",
                u64::from(inopblock),
                format!("{}", blocksize / u32::from(inodesize)),
            ));
        }
        let inopblog = buf[123];
        if inopblog != blocklog - inodelog {
            return Err(bad(
                "inopblog",
                u64::from(inopblog),
                format!("{}", blocklog - inodelog),
            ));
        }
        let agcount = be::u32(buf, 88);
        if agcount == 0 {
            return Err(bad("agcount", 0, "at least 1"));
        }
        let agblocks = be::u32(buf, 84);
        if !(64..=(1 << 31)).contains(&agblocks) {
            return Err(bad("agblocks", u64::from(agblocks), "64 to 2^31"));
        }
        let agblklog = buf[124];
        let want_agblklog = 32 - (agblocks - 1).leading_zeros(); // ceil(log2)
        if u32::from(agblklog) != want_agblklog {
            return Err(bad(
                "agblklog",
                u64::from(agblklog),
                format!("{want_agblklog} (log2 of agblocks {agblocks}, rounded up)"),
            ));
        }
        if u32::from(agblklog) + u32::from(inopblog) > 32 {
            return Err(bad(
                "agblklog + inopblog",
                u64::from(agblklog) + u64::from(inopblog),
                "at most 32",
            ));
        }
        let dblocks = be::u64(buf, 8);
        let max = u64::from(agcount) * u64::from(agblocks);
        let min = u64::from(agcount - 1) * u64::from(agblocks) + 64;
        if dblocks < min || dblocks > max {
            return Err(bad(
                "dblocks",
                dblocks,
                format!("{min} to {max} for {agcount} groups of {agblocks} blocks"),
            ));
        }
        if buf[126] != 0 {
            return Err(Error::Unsupported {
                feature: "filesystem whose mkfs did not finish (sb_inprogress)".into(),
            });
        }
        let dirblklog = buf[192];
        if u32::from(blocklog) + u32::from(dirblklog) > 16 {
            return Err(bad(
                "dirblklog",
                u64::from(dirblklog),
                format!("at most {} (64 KiB directory blocks)", 16 - blocklog),
            ));
        }
        let features2 = if versionnum & VERSION_MOREBITSBIT != 0 {
            be::u32(buf, 200)
        } else {
            0
        };
        let incompat = if v5 { be::u32(buf, 216) } else { 0 };
        if v5 && incompat & !INCOMPAT_KNOWN != 0 {
            let unknown = incompat & !INCOMPAT_KNOWN;
            let feature = match unknown {
                0x200 => "zoned realtime device (incompat feature 0x200)".to_string(),
                _ => format!("incompatible feature bits {unknown:#x}"),
            };
            return Err(Error::Unsupported { feature });
        }
        if !v5 && versionnum & VERSION_DIRV2BIT == 0 {
            return Err(Error::Unsupported {
                feature: "version 1 directories".into(),
            });
        }
        if v5 && verify_crc {
            let sector = &buf[..usize::from(sectsize).min(buf.len())];
            let found = crc::stored(sector, SB_CRC_OFF);
            let expected = crc::xfs_cksum(sector, SB_CRC_OFF);
            if found != expected {
                return Err(Error::Checksum {
                    what: "XFS superblock",
                    offset: 0,
                    found,
                    expected,
                });
            }
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&buf[32..48]);
        let mut meta_uuid = uuid;
        if incompat & INCOMPAT_META_UUID != 0 {
            meta_uuid.copy_from_slice(&buf[248..264]);
        }
        let mut fname = [0u8; 12];
        fname.copy_from_slice(&buf[108..120]);
        let sb = Superblock {
            blocksize,
            blocklog,
            dblocks,
            agblocks,
            agblklog,
            agcount,
            inodesize,
            inopblog,
            dirblklog,
            rootino: be::u64(buf, 56),
            logstart: be::u64(buf, 48),
            logblocks: be::u32(buf, 96),
            logv2: v5 || versionnum & VERSION_LOGV2BIT != 0,
            logsunit: be::u32(buf, 196),
            log_incompat: if v5 { be::u32(buf, 220) } else { 0 },
            inoalignmt: be::u32(buf, 180),
            spino_align: if v5 { be::u32(buf, 228) } else { 0 },
            sparse_inodes: incompat & INCOMPAT_SPINODES != 0,
            v5,
            ftype: if v5 {
                incompat & INCOMPAT_FTYPE != 0
            } else {
                features2 & FEATURES2_FTYPE != 0
            },
            ascii_ci: versionnum & VERSION_BORGBIT != 0,
            nrext64: incompat & INCOMPAT_NREXT64 != 0,
            uuid,
            meta_uuid,
            fname,
        };
        if sb.logstart != 0 {
            let end = sb.logstart.checked_add(u64::from(sb.logblocks));
            if sb.fsb_to_byte(sb.logstart).is_none() || end.is_none_or(|e| e > sb.max_fsb()) {
                return Err(bad(
                    "logstart",
                    sb.logstart,
                    format!("a log of {} blocks inside the data device", sb.logblocks),
                ));
            }
        }
        Ok(sb)
    }

    /// Size of the filesystem in bytes.
    pub(crate) fn fs_bytes(&self) -> u64 {
        self.dblocks << self.blocklog
    }

    /// One past the largest encoded filesystem block number.
    fn max_fsb(&self) -> u64 {
        u64::from(self.agcount) << self.agblklog
    }

    /// Byte offset of filesystem block `fsb` (AG number in the high bits, AG block in the low
    /// `agblklog` bits), or `None` when it lies outside every allocation group or the device.
    pub(crate) fn fsb_to_byte(&self, fsb: u64) -> Option<u64> {
        let agno = fsb >> self.agblklog;
        let agbno = fsb & ((1u64 << self.agblklog) - 1);
        if agno >= u64::from(self.agcount) || agbno >= u64::from(self.agblocks) {
            return None;
        }
        let linear = agno * u64::from(self.agblocks) + agbno;
        if linear >= self.dblocks {
            return None;
        }
        Some(linear << self.blocklog)
    }

    /// Checks that `count` blocks starting at `fsb` stay inside one allocation group and the
    /// filesystem; returns the byte offset of `fsb`. Explains what is out of range otherwise.
    pub(crate) fn fsb_range(&self, fsb: u64, count: u64) -> std::result::Result<u64, String> {
        let agno = fsb >> self.agblklog;
        let agbno = fsb & ((1u64 << self.agblklog) - 1);
        if agno >= u64::from(self.agcount) {
            return Err(format!(
                "block {fsb:#x} is in group {agno}, expected fewer than {} groups",
                self.agcount
            ));
        }
        let end = agbno.saturating_add(count);
        if end > u64::from(self.agblocks) {
            return Err(format!(
                "blocks {agbno}..{end} of group {agno} run past its {} blocks",
                self.agblocks
            ));
        }
        let linear = agno * u64::from(self.agblocks) + end;
        if linear > self.dblocks {
            return Err(format!(
                "block {fsb:#x} (+{count}) ends past the {} blocks of the filesystem",
                self.dblocks
            ));
        }
        Ok((agno * u64::from(self.agblocks) + agbno) << self.blocklog)
    }

    /// Byte offset of inode `ino`, or why the number is out of range.
    pub(crate) fn inode_offset(&self, ino: u64) -> std::result::Result<u64, String> {
        let agino_bits = u32::from(self.agblklog) + u32::from(self.inopblog);
        let agno = ino >> agino_bits;
        let agbno = (ino >> self.inopblog) & ((1u64 << self.agblklog) - 1);
        let index = ino & ((1u64 << self.inopblog) - 1);
        if agno >= u64::from(self.agcount) {
            return Err(format!(
                "group {agno}, expected fewer than {}",
                self.agcount
            ));
        }
        if agbno >= u64::from(self.agblocks) {
            return Err(format!(
                "block {agbno} of group {agno}, expected fewer than {}",
                self.agblocks
            ));
        }
        let linear = agno * u64::from(self.agblocks) + agbno;
        if linear >= self.dblocks {
            return Err(format!(
                "block {linear}, past the {} blocks of the filesystem",
                self.dblocks
            ));
        }
        Ok((linear << self.blocklog) + index * u64::from(self.inodesize))
    }

    /// Size of the filesystem in basic (512-byte) blocks.
    pub(crate) fn fs_bbs(&self) -> u64 {
        self.dblocks << (self.blocklog - 9)
    }

    /// Basic block of block `agbno` of allocation group `agno`.
    pub(crate) fn agb_to_daddr(&self, agno: u64, agbno: u64) -> u64 {
        (agno * u64::from(self.agblocks) + agbno) << (self.blocklog - 9)
    }

    /// Directory block size in bytes.
    pub(crate) fn dirblksize(&self) -> usize {
        (self.blocksize as usize) << self.dirblklog
    }
}
