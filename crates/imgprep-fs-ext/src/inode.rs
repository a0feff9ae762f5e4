//! On-disk inodes: type, owner, times, and where the data lives (extent tree, block map or
//! inline in the inode).

use crate::Error;
use imgprep_fs::FileKind;
use imgprep_io::le;

/// Inode flags (`i_flags`) this reader acts on.
pub(crate) const FL_ENCRYPT: u32 = 0x800;
pub(crate) const FL_HUGE_FILE: u32 = 0x4_0000;
pub(crate) const FL_EXTENTS: u32 = 0x8_0000;
pub(crate) const FL_EA_INODE: u32 = 0x20_0000;
pub(crate) const FL_INLINE_DATA: u32 = 0x1000_0000;
pub(crate) const FL_CASEFOLD: u32 = 0x4000_0000;

const GOOD_OLD_INODE_SIZE: usize = 128;
const XATTR_MAGIC: u32 = 0xea02_0000;
/// `name_index` of the `system.` xattr namespace.
const XATTR_INDEX_SYSTEM: u8 = 7;

/// One inode as read from the inode table.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub(crate) ino: u64,
    /// Byte offset of the inode on the device (for error messages).
    pub(crate) offset: u64,
    pub(crate) mode: u16,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) flags: u32,
    /// `i_block`: block map, extent tree root, fast symlink target or inline data.
    pub(crate) i_block: [u8; 60],
    /// `i_blocks` in 512-byte units.
    pub(crate) blocks_512: u64,
    pub(crate) file_acl: u64,
    /// The raw inode, for the in-inode extended attributes (inline data).
    raw: Vec<u8>,
    extra_isize: usize,
}

/// What the superblock says about how to decode an inode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InodeFormat {
    pub(crate) block_size: u64,
    pub(crate) huge_file: bool,
    pub(crate) largedir: bool,
    pub(crate) is_64bit: bool,
}

impl Inode {
    /// Decodes inode `ino` from its `raw` bytes, which start at device offset `offset`.
    pub(crate) fn parse(
        ino: u64,
        offset: u64,
        raw: &[u8],
        fmt: InodeFormat,
    ) -> Result<Self, Error> {
        let bad = |detail: String| Error::Inode {
            ino,
            offset,
            detail,
        };
        if raw.len() < GOOD_OLD_INODE_SIZE {
            return Err(bad(format!(
                "is {} bytes, expected at least 128",
                raw.len()
            )));
        }
        let mode = le::u16(raw, 0x00);
        let links = le::u16(raw, 0x1a);
        if links == 0 {
            return Err(bad(format!(
                "is not in use (link count 0, mode {mode:#o}) but a directory entry names it"
            )));
        }
        let extra_isize = if raw.len() > GOOD_OLD_INODE_SIZE {
            let e = usize::from(le::u16(raw, 0x80));
            if GOOD_OLD_INODE_SIZE + e > raw.len() || e % 4 != 0 {
                return Err(bad(format!(
                    "i_extra_isize is {e}, expected a multiple of 4 up to {}",
                    raw.len() - GOOD_OLD_INODE_SIZE
                )));
            }
            e
        } else {
            0
        };
        let inode = Inode {
            ino,
            offset,
            mode,
            uid: u32::from(le::u16(raw, 0x02)) | u32::from(le::u16(raw, 0x78)) << 16,
            gid: u32::from(le::u16(raw, 0x18)) | u32::from(le::u16(raw, 0x7a)) << 16,
            size: 0,
            mtime: 0,
            flags: le::u32(raw, 0x20),
            i_block: {
                let mut b = [0u8; 60];
                b.copy_from_slice(&raw[0x28..0x64]);
                b
            },
            blocks_512: 0,
            file_acl: 0,
            raw: raw.to_vec(),
            extra_isize,
        };
        let kind = FileKind::from_mode(u32::from(mode)).ok_or_else(|| {
            bad(format!(
                "has file type {:#o} in its mode, which is none of the seven Unix types",
                mode & 0o170000
            ))
        })?;
        let size_lo = u64::from(le::u32(raw, 0x04));
        let size = if kind == FileKind::File || fmt.largedir {
            size_lo | u64::from(le::u32(raw, 0x6c)) << 32
        } else {
            size_lo
        };
        // Seconds are signed 32-bit; the extra field adds epoch bits when it fits.
        let mut mtime = i64::from(le::u32(raw, 0x10) as i32);
        if extra_isize >= 0x8c - GOOD_OLD_INODE_SIZE {
            mtime += i64::from(le::u32(raw, 0x88) & 3) << 32;
        }
        let mut blocks_512 = u64::from(le::u32(raw, 0x1c));
        if fmt.huge_file {
            blocks_512 |= u64::from(le::u16(raw, 0x74)) << 32;
            if inode.flags & FL_HUGE_FILE != 0 {
                blocks_512 = blocks_512.saturating_mul(fmt.block_size / 512);
            }
        }
        let mut file_acl = u64::from(le::u32(raw, 0x68));
        if fmt.is_64bit {
            file_acl |= u64::from(le::u16(raw, 0x76)) << 32;
        }
        Ok(Inode {
            size,
            mtime,
            blocks_512,
            file_acl,
            ..inode
        })
    }

    pub(crate) fn kind(&self) -> FileKind {
        FileKind::from_mode(u32::from(self.mode)).unwrap_or(FileKind::Other)
    }

    pub(crate) fn has_flag(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The `system.data` extended attribute stored inside the inode: the part of inline data
    /// that does not fit in `i_block`. Empty when there is none.
    pub(crate) fn inline_tail(&self) -> Result<&[u8], Error> {
        let bad = |detail: String| Error::Inode {
            ino: self.ino,
            offset: self.offset,
            detail,
        };
        let start = GOOD_OLD_INODE_SIZE + self.extra_isize;
        let Some(header) = self.raw.get(start..start + 4) else {
            return Ok(&[]);
        };
        if le::u32(header, 0) != XATTR_MAGIC {
            return Ok(&[]);
        }
        let region = &self.raw[start + 4..];
        let mut off = 0usize;
        while off + 4 <= region.len() && le::u32(region, off) != 0 {
            let Some(entry) = region.get(off..off + 16) else {
                return Err(bad(format!(
                    "in-inode extended attribute at byte {off} is cut off by the end of the inode"
                )));
            };
            let name_len = usize::from(entry[0]);
            let index = entry[1];
            let value_offs = usize::from(le::u16(entry, 2));
            let value_inum = le::u32(entry, 4);
            let value_size = le::u32(entry, 8) as usize;
            let name = region.get(off + 16..off + 16 + name_len).ok_or_else(|| {
                bad(format!(
                    "in-inode extended attribute name at byte {off} ({name_len} bytes) runs past the inode"
                ))
            })?;
            if index == XATTR_INDEX_SYSTEM && name == b"data" {
                if value_inum != 0 {
                    return Err(Error::Unsupported {
                        what: "inline data stored in an extended-attribute inode".into(),
                    });
                }
                return region
                    .get(value_offs..value_offs.saturating_add(value_size))
                    .ok_or_else(|| {
                        bad(format!(
                            "inline data value at {value_offs}+{value_size} runs past the inode's {} attribute bytes",
                            region.len()
                        ))
                    });
            }
            off += (16 + name_len + 3) & !3;
        }
        Ok(&[])
    }

    /// Inline data: `i_block` followed by the `system.data` attribute.
    pub(crate) fn inline_data(&self) -> Result<Vec<u8>, Error> {
        let mut data = self.i_block.to_vec();
        data.extend_from_slice(self.inline_tail()?);
        Ok(data)
    }

    /// Whether a symlink keeps its target in `i_block` (`ext4_inode_is_fast_symlink`).
    pub(crate) fn is_fast_symlink(&self, cluster_size: u64) -> bool {
        if self.has_flag(FL_EA_INODE) {
            return self.size > 0 && self.size < 60;
        }
        if self.has_flag(FL_INLINE_DATA) {
            return false;
        }
        let ea_blocks = if self.file_acl != 0 {
            cluster_size / 512
        } else {
            0
        };
        self.blocks_512 == ea_blocks
    }
}
