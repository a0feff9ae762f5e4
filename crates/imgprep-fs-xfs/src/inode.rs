//! Inode cores (versions 1, 2 and 3) and their data forks.

use imgprep_io::{ReadAt, be};

use crate::crc;
use crate::error::{Error, Result};
use crate::sb::Superblock;

const INODE_MAGIC: u16 = 0x494e; // "IN"
const CORE_V2: usize = 100;
const CORE_V3: usize = 176;
const CRC_OFF: usize = 100;
const DIFLAG_REALTIME: u16 = 0x1;
const DIFLAG2_BIGTIME: u64 = 0x8;
const DIFLAG2_NREXT64: u64 = 0x10;

/// Seconds between 1901-12-13T20:45:52Z (the bigtime epoch) and the Unix epoch.
const BIGTIME_EPOCH_OFFSET: i64 = 1 << 31;

pub(crate) const S_IFMT: u16 = 0o170000;
pub(crate) const S_IFDIR: u16 = 0o040000;
pub(crate) const S_IFREG: u16 = 0o100000;
pub(crate) const S_IFLNK: u16 = 0o120000;

/// How a fork stores its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Device number (character and block devices, fifos, sockets).
    Dev,
    /// Contents inline in the fork (short-form directories, short symlinks).
    Local,
    /// An array of extent records in the fork.
    Extents,
    /// The root of a block-map B+tree in the fork.
    Btree,
}

/// One parsed inode with its data fork bytes.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub(crate) ino: u64,
    /// Byte offset of the inode on the device.
    pub(crate) offset: u64,
    pub(crate) mode: u16,
    pub(crate) format: Format,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: i64,
    pub(crate) size: u64,
    pub(crate) nextents: u64,
    pub(crate) realtime: bool,
    /// Byte offset of the data fork on the device (for error messages).
    pub(crate) fork_offset: u64,
    /// The data fork's bytes (literal area up to the attribute fork).
    pub(crate) fork: Vec<u8>,
}

impl Inode {
    /// Reads inode `ino`, referred to by `by` (for the error when the number is out of range).
    pub(crate) fn read(
        dev: &dyn ReadAt,
        sb: &Superblock,
        ino: u64,
        by: &dyn Fn() -> String,
        verify_crc: bool,
    ) -> Result<Inode> {
        let offset = sb.inode_offset(ino).map_err(|detail| Error::InodeNumber {
            ino,
            by: by(),
            detail,
        })?;
        let mut buf = vec![0u8; usize::from(sb.inodesize)];
        dev.read_exact_at(offset, &mut buf)
            .map_err(|source| Error::Read {
                what: "inode",
                offset,
                len: buf.len(),
                source,
            })?;
        Self::parse(&buf, sb, ino, offset, verify_crc)
    }

    fn parse(
        buf: &[u8],
        sb: &Superblock,
        ino: u64,
        offset: u64,
        verify_crc: bool,
    ) -> Result<Inode> {
        let err = |detail: String| Error::Inode {
            ino,
            offset,
            detail,
        };
        let magic = be::u16(buf, 0);
        if magic != INODE_MAGIC {
            return Err(Error::BadMagic {
                what: "inode",
                offset,
                found: u32::from(magic),
                expected: "0x494e (\"IN\")",
            });
        }
        let version = buf[4];
        let core = match (version, sb.v5) {
            (3, true) => CORE_V3,
            (1 | 2, false) => CORE_V2,
            _ => {
                return Err(err(format!(
                    "version is {version}, expected {}",
                    if sb.v5 {
                        "3 on a v5 filesystem"
                    } else {
                        "1 or 2 on a v4 filesystem"
                    }
                )));
            }
        };
        if version == 3 {
            if verify_crc {
                let found = crc::stored(buf, CRC_OFF);
                let expected = crc::xfs_cksum(buf, CRC_OFF);
                if found != expected {
                    return Err(Error::Checksum {
                        what: "inode",
                        offset,
                        found,
                        expected,
                    });
                }
            }
            let recorded = be::u64(buf, 152);
            if recorded != ino {
                return Err(err(format!(
                    "records inode number {recorded}, expected {ino}"
                )));
            }
            if buf[160..176] != sb.meta_uuid {
                return Err(err("records another filesystem's UUID".into()));
            }
        }
        let mode = be::u16(buf, 2);
        let flags2 = if version == 3 { be::u64(buf, 120) } else { 0 };
        let nrext64 = flags2 & DIFLAG2_NREXT64 != 0;
        if nrext64 && !sb.nrext64 {
            return Err(err(
                "uses 64-bit extent counters on a filesystem without the nrext64 feature".into(),
            ));
        }
        let nextents = if nrext64 {
            be::u64(buf, 24)
        } else {
            u64::from(be::u32(buf, 76))
        };
        let mtime = if flags2 & DIFLAG2_BIGTIME != 0 {
            let ns = be::u64(buf, 40);
            (ns / 1_000_000_000) as i64 - BIGTIME_EPOCH_OFFSET
        } else {
            i64::from(be::u32(buf, 40) as i32)
        };
        let size = be::u64(buf, 56);
        if size > i64::MAX as u64 {
            return Err(err(format!("size is {size:#x}, expected at most 2^63 - 1")));
        }
        let forkoff = usize::from(buf[82]);
        let literal = buf.len() - core;
        let fork_len = if forkoff == 0 {
            literal
        } else {
            if forkoff * 8 >= literal {
                return Err(err(format!(
                    "attribute fork offset is {} bytes, expected less than the {literal}-byte \
                     literal area",
                    forkoff * 8
                )));
            }
            forkoff * 8
        };
        let format_byte = buf[5];
        let format = match format_byte {
            0 => Format::Dev,
            1 => Format::Local,
            2 => Format::Extents,
            3 => Format::Btree,
            other => {
                return Err(err(format!(
                    "data fork format is {other}, expected 0 (device), 1 (local), 2 (extents) \
                     or 3 (btree)"
                )));
            }
        };
        let kind = mode & S_IFMT;
        let format_ok = match kind {
            S_IFREG => matches!(format, Format::Extents | Format::Btree),
            S_IFDIR | S_IFLNK => matches!(format, Format::Local | Format::Extents | Format::Btree),
            0o020000 | 0o060000 | 0o010000 | 0o140000 => format == Format::Dev,
            _ => {
                return Err(err(format!(
                    "file type in mode {mode:#o} is not a valid type"
                )));
            }
        };
        if !format_ok {
            return Err(err(format!(
                "data fork format {format_byte} does not fit the file type of mode {mode:#o}"
            )));
        }
        Ok(Inode {
            ino,
            offset,
            mode,
            format,
            uid: be::u32(buf, 8),
            gid: be::u32(buf, 12),
            mtime,
            size,
            nextents,
            realtime: be::u16(buf, 90) & DIFLAG_REALTIME != 0,
            fork_offset: offset + core as u64,
            fork: buf[core..core + fork_len].to_vec(),
        })
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// An error about this inode.
    pub(crate) fn error(&self, detail: String) -> Error {
        Error::Inode {
            ino: self.ino,
            offset: self.offset,
            detail,
        }
    }
}
