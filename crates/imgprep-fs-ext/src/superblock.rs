//! The ext superblock: what libblkid reads from it, and the geometry the reader checks.

use crate::Error;
use crate::crc32c::crc32c;
use imgprep_fs::{FsInfo, blkid_uuid};
use imgprep_io::le;

/// Byte offset of the primary superblock.
pub(crate) const SB_OFFSET: u64 = 1024;
/// Size of the superblock.
pub(crate) const SB_SIZE: usize = 1024;
const MAGIC: u16 = 0xef53;
/// Offset of `s_checksum` inside the superblock.
const CHECKSUM_AT: usize = 0x3fc;

// s_feature_compat
pub(crate) const COMPAT_HAS_JOURNAL: u32 = 0x4;
pub(crate) const COMPAT_SPARSE_SUPER2: u32 = 0x200;

// s_feature_ro_compat
pub(crate) const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
const RO_COMPAT_LARGE_FILE: u32 = 0x2;
const RO_COMPAT_BTREE_DIR: u32 = 0x4;
pub(crate) const RO_COMPAT_HUGE_FILE: u32 = 0x8;
const RO_COMPAT_BIGALLOC: u32 = 0x200;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;

// s_feature_incompat
const INCOMPAT_COMPRESSION: u32 = 0x1;
pub(crate) const INCOMPAT_FILETYPE: u32 = 0x2;
pub(crate) const INCOMPAT_RECOVER: u32 = 0x4;
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_EXTENTS: u32 = 0x40;
pub(crate) const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_MMP: u32 = 0x100;
const INCOMPAT_FLEX_BG: u32 = 0x200;
const INCOMPAT_EA_INODE: u32 = 0x400;
const INCOMPAT_DIRDATA: u32 = 0x1000;
const INCOMPAT_CSUM_SEED: u32 = 0x2000;
pub(crate) const INCOMPAT_LARGEDIR: u32 = 0x4000;
const INCOMPAT_INLINE_DATA: u32 = 0x8000;
const INCOMPAT_ENCRYPT: u32 = 0x10000;
pub(crate) const INCOMPAT_CASEFOLD: u32 = 0x20000;
/// Every incompatible feature this reader knows how to read (or refuses by name).
const INCOMPAT_KNOWN: u32 = INCOMPAT_COMPRESSION
    | INCOMPAT_FILETYPE
    | INCOMPAT_RECOVER
    | INCOMPAT_JOURNAL_DEV
    | INCOMPAT_META_BG
    | INCOMPAT_EXTENTS
    | INCOMPAT_64BIT
    | INCOMPAT_MMP
    | INCOMPAT_FLEX_BG
    | INCOMPAT_EA_INODE
    | INCOMPAT_DIRDATA
    | INCOMPAT_CSUM_SEED
    | INCOMPAT_LARGEDIR
    | INCOMPAT_INLINE_DATA
    | INCOMPAT_ENCRYPT
    | INCOMPAT_CASEFOLD;

// The feature sets libblkid lets ext2 and ext3 have (libblkid/src/superblocks/ext.c).
const EXT2_RO_COMPAT_SUPP: u32 =
    RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR;
const EXT2_INCOMPAT_SUPP: u32 = INCOMPAT_FILETYPE | INCOMPAT_META_BG;
const EXT3_RO_COMPAT_SUPP: u32 = EXT2_RO_COMPAT_SUPP;
const EXT3_INCOMPAT_SUPP: u32 = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG;
/// `s_flags`: the filesystem is marked for in-development code.
const FLAGS_TEST_FILESYS: u32 = 0x4;

/// Type, label and UUID exactly as libblkid derives them from a superblock, or `None` when
/// libblkid would not call it an ext filesystem (or journal).
///
/// Follows current util-linux: with `metadata_csum` the superblock checksum must match,
/// otherwise `s_log_block_size` must be below 256.
pub(crate) fn blkid_info(sb: &[u8]) -> Option<FsInfo> {
    if sb.len() < SB_SIZE || le::u16(sb, 0x38) != MAGIC {
        return None;
    }
    let compat = le::u32(sb, 0x5c);
    let incompat = le::u32(sb, 0x60);
    let ro_compat = le::u32(sb, 0x64);
    if ro_compat & RO_COMPAT_METADATA_CSUM != 0 {
        if crc32c(!0, &sb[..CHECKSUM_AT]) != le::u32(sb, CHECKSUM_AT) {
            return None;
        }
    } else if le::u32(sb, 0x18) >= 256 {
        return None;
    }
    let fstype = blkid_type(compat, incompat, ro_compat, le::u32(sb, 0x160))?;
    Some(FsInfo {
        fstype: fstype.to_owned(),
        label: blkid_label(&sb[0x78..0x88]),
        uuid: blkid_uuid(&sb[0x68..0x78]),
    })
}

/// The first of libblkid's probes (ext4dev, ext4, ext3, ext2, jbd, in its order) that accepts
/// these feature sets.
fn blkid_type(compat: u32, incompat: u32, ro_compat: u32, s_flags: u32) -> Option<&'static str> {
    let journal_dev = incompat & INCOMPAT_JOURNAL_DEV != 0;
    let has_journal = compat & COMPAT_HAS_JOURNAL != 0;
    let test_fs = s_flags & FLAGS_TEST_FILESYS != 0;
    let beyond_ext3 = ro_compat & !EXT3_RO_COMPAT_SUPP != 0 || incompat & !EXT3_INCOMPAT_SUPP != 0;
    let beyond_ext2 = ro_compat & !EXT2_RO_COMPAT_SUPP != 0 || incompat & !EXT2_INCOMPAT_SUPP != 0;
    if !journal_dev && test_fs {
        Some("ext4dev")
    } else if !journal_dev && beyond_ext3 {
        Some("ext4")
    } else if has_journal && !beyond_ext3 {
        Some("ext3")
    } else if !has_journal && !beyond_ext2 {
        Some("ext2")
    } else if journal_dev {
        Some("jbd")
    } else {
        None
    }
}

/// A fixed-size label field as libblkid stores it: up to the first NUL, trailing white space
/// removed, absent when empty.
pub(crate) fn blkid_label(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let mut s = &raw[..end];
    while let [rest @ .., last] = s {
        if matches!(last, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
            s = rest;
        } else {
            break;
        }
    }
    (!s.is_empty()).then(|| String::from_utf8_lossy(s).into_owned())
}

/// The parts of a superblock the reader needs, checked for sane geometry.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub(crate) block_size: u64,
    pub(crate) blocks_count: u64,
    pub(crate) inodes_count: u32,
    pub(crate) first_data_block: u64,
    pub(crate) blocks_per_group: u64,
    pub(crate) inodes_per_group: u32,
    pub(crate) inode_size: u32,
    pub(crate) desc_size: u32,
    pub(crate) first_meta_bg: u32,
    pub(crate) backup_bgs: [u32; 2],
    /// Bytes per allocation cluster (bigalloc), equal to `block_size` otherwise.
    pub(crate) cluster_size: u64,
    pub(crate) compat: u32,
    pub(crate) incompat: u32,
    pub(crate) ro_compat: u32,
    pub(crate) journal_inum: u32,
    pub(crate) info: FsInfo,
}

fn bad(field: &'static str, found: u64, expected: &'static str) -> Error {
    Error::Superblock {
        field,
        found,
        expected,
    }
}

impl Superblock {
    /// Parses and checks the superblock bytes read at [`SB_OFFSET`].
    pub(crate) fn parse(sb: &[u8]) -> Result<Self, Error> {
        if sb.len() < SB_SIZE {
            return Err(bad("superblock length", sb.len() as u64, "1024"));
        }
        let magic = le::u16(sb, 0x38);
        if magic != MAGIC {
            return Err(Error::NotExt { found: magic });
        }
        let compat = le::u32(sb, 0x5c);
        let incompat = le::u32(sb, 0x60);
        let ro_compat = le::u32(sb, 0x64);
        if ro_compat & RO_COMPAT_METADATA_CSUM != 0 {
            let computed = crc32c(!0, &sb[..CHECKSUM_AT]);
            let found = le::u32(sb, CHECKSUM_AT);
            if computed != found {
                return Err(Error::SuperblockChecksum { found, computed });
            }
        }
        check_features(incompat)?;

        let log_block = le::u32(sb, 0x18);
        if log_block > 6 {
            return Err(bad(
                "s_log_block_size",
                log_block.into(),
                "0..=6 (1 KiB to 64 KiB)",
            ));
        }
        let block_size = 1024u64 << log_block;
        let bits_per_group = block_size * 8;

        let rev_level = le::u32(sb, 0x4c);
        let inode_size = if rev_level == 0 {
            128
        } else {
            u32::from(le::u16(sb, 0x58))
        };
        if inode_size < 128 || !inode_size.is_power_of_two() || u64::from(inode_size) > block_size {
            return Err(bad(
                "s_inode_size",
                inode_size.into(),
                "a power of two from 128 to the block size",
            ));
        }

        let blocks_per_group = u64::from(le::u32(sb, 0x20));
        let mut cluster_size = block_size;
        if ro_compat & RO_COMPAT_BIGALLOC != 0 {
            let log_cluster = le::u32(sb, 0x1c);
            if log_cluster < log_block || log_cluster - log_block > 16 {
                return Err(bad(
                    "s_log_cluster_size",
                    log_cluster.into(),
                    "at least the block size and at most 2^16 blocks",
                ));
            }
            let clusters_per_group = u64::from(le::u32(sb, 0x24));
            if clusters_per_group == 0 || clusters_per_group > bits_per_group {
                return Err(bad(
                    "s_clusters_per_group",
                    clusters_per_group,
                    "1 to 8 × block size",
                ));
            }
            if blocks_per_group != clusters_per_group << (log_cluster - log_block) {
                return Err(bad(
                    "s_blocks_per_group",
                    blocks_per_group,
                    "s_clusters_per_group × blocks per cluster",
                ));
            }
            cluster_size = 1024u64 << log_cluster;
        } else if blocks_per_group == 0 || blocks_per_group > bits_per_group {
            return Err(bad(
                "s_blocks_per_group",
                blocks_per_group,
                "1 to 8 × block size",
            ));
        }

        let inodes_per_group = le::u32(sb, 0x28);
        if inodes_per_group == 0 || u64::from(inodes_per_group) > bits_per_group {
            return Err(bad(
                "s_inodes_per_group",
                inodes_per_group.into(),
                "1 to 8 × block size",
            ));
        }

        let mut blocks_count = u64::from(le::u32(sb, 0x04));
        let desc_size = if incompat & INCOMPAT_64BIT != 0 {
            blocks_count |= u64::from(le::u32(sb, 0x150)) << 32;
            let d = u32::from(le::u16(sb, 0xfe));
            if !(64..=1024).contains(&d) || !d.is_power_of_two() {
                return Err(bad(
                    "s_desc_size",
                    d.into(),
                    "a power of two from 64 to 1024",
                ));
            }
            d
        } else {
            32
        };
        let first_data_block = u64::from(le::u32(sb, 0x14));
        if first_data_block >= blocks_count {
            return Err(bad(
                "s_first_data_block",
                first_data_block,
                "below s_blocks_count",
            ));
        }
        let group_count = (blocks_count - first_data_block).div_ceil(blocks_per_group);
        let inodes_count = le::u32(sb, 0x00);
        if group_count.checked_mul(u64::from(inodes_per_group)) != Some(u64::from(inodes_count)) {
            return Err(bad(
                "s_inodes_count",
                inodes_count.into(),
                "block groups × s_inodes_per_group",
            ));
        }

        let fstype = blkid_type(compat, incompat, ro_compat, le::u32(sb, 0x160)).unwrap_or("ext4");
        Ok(Self {
            block_size,
            blocks_count,
            inodes_count,
            first_data_block,
            blocks_per_group,
            inodes_per_group,
            inode_size,
            desc_size,
            first_meta_bg: le::u32(sb, 0x104),
            backup_bgs: [le::u32(sb, 0x24c), le::u32(sb, 0x250)],
            cluster_size,
            compat,
            incompat,
            ro_compat,
            journal_inum: le::u32(sb, 0xe0),
            info: FsInfo {
                fstype: fstype.to_owned(),
                label: blkid_label(&sb[0x78..0x88]),
                uuid: blkid_uuid(&sb[0x68..0x78]),
            },
        })
    }

    pub(crate) fn has_incompat(&self, bit: u32) -> bool {
        self.incompat & bit != 0
    }

    /// Whether block group `group` holds a superblock backup (`ext4_bg_has_super`).
    fn group_has_super(&self, group: u64) -> bool {
        if group == 0 {
            return true;
        }
        if self.compat & COMPAT_SPARSE_SUPER2 != 0 {
            return self.backup_bgs.iter().any(|&b| u64::from(b) == group);
        }
        if group <= 1 || self.ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        if group.is_multiple_of(2) {
            return false;
        }
        [3u64, 5, 7].iter().any(|&base| {
            let mut p = base;
            while p < group {
                p = p.saturating_mul(base);
            }
            p == group
        })
    }

    /// Block and byte offset inside it of block group `group`'s descriptor
    /// (`descriptor_loc` in the kernel, including `meta_bg`).
    pub(crate) fn descriptor_location(&self, group: u64) -> (u64, u64) {
        let per_block = self.block_size / u64::from(self.desc_size);
        let nr = group / per_block;
        let offset = (group % per_block) * u64::from(self.desc_size);
        let sb_block = if self.block_size == 1024 { 1 } else { 0 };
        if !self.has_incompat(INCOMPAT_META_BG) || nr < u64::from(self.first_meta_bg) {
            return (sb_block + 1 + nr, offset);
        }
        let first_group = per_block.saturating_mul(nr);
        let mut has_super = u64::from(self.group_has_super(first_group));
        if self.block_size == 1024 && nr == 0 && self.first_data_block == 0 {
            has_super += 1;
        }
        let block = first_group
            .saturating_mul(self.blocks_per_group)
            .saturating_add(self.first_data_block)
            .saturating_add(has_super);
        (block, offset)
    }
}

/// Refuses incompatible features this reader cannot read correctly, naming them.
fn check_features(incompat: u32) -> Result<(), Error> {
    let unknown = incompat & !INCOMPAT_KNOWN;
    let what = if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        "an external ext journal device (it holds no files)".to_owned()
    } else if incompat & INCOMPAT_COMPRESSION != 0 {
        "ext2 compression (incompat feature 0x1)".to_owned()
    } else if incompat & INCOMPAT_DIRDATA != 0 {
        "ext4 dirdata (incompat feature 0x1000)".to_owned()
    } else if unknown != 0 {
        format!("unknown ext incompatible features {unknown:#x}")
    } else {
        return Ok(());
    };
    Err(Error::Unsupported { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkid_type_follows_libblkid_order() {
        fn check(compat: u32, incompat: u32, ro: u32, flags: u32, expected: Option<&str>) {
            assert_eq!(
                blkid_type(compat, incompat, ro, flags),
                expected,
                "{compat:#x} {incompat:#x} {ro:#x} {flags:#x}"
            );
        }
        // plain ext2, ext2 with filetype+sparse+large_file
        check(0, 0, 0, 0, Some("ext2"));
        check(0x38, 0x2, 0x3, 0, Some("ext2"));
        // journal -> ext3, even while needing recovery
        check(0x3c, 0x2, 0x3, 0, Some("ext3"));
        check(0x3c, 0x6, 0x3, 0, Some("ext3"));
        // extents / huge_file / no journal with ext4 features -> ext4
        check(0x3c, 0x2c2, 0x6b, 0, Some("ext4"));
        check(0x38, 0x42, 0x3, 0, Some("ext4"));
        check(0, 0x2, 0x20, 0, Some("ext4"));
        // test_fs flag -> ext4dev
        check(0x3c, 0x2c2, 0x6b, 0x4, Some("ext4dev"));
        // external journal device
        check(0, 0x8, 0, 0, Some("jbd"));
        // needs_recovery without a journal: nobody claims it
        check(0, 0x6, 0, 0, None);
    }

    #[test]
    fn labels_and_uuids_print_like_blkid() {
        assert_eq!(
            blkid_label(b"root\0\0\0\0\0\0\0\0\0\0\0\0"),
            Some("root".into())
        );
        assert_eq!(blkid_label(b"a b  \0zzzzzzzzzz"), Some("a b".into()));
        assert_eq!(blkid_label(&[0u8; 16]), None);
        assert_eq!(blkid_label(b"   \0"), None);
        let raw = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 1, 2, 3, 4, 5, 6, 0xff,
        ];
        assert_eq!(
            blkid_uuid(&raw).as_deref(),
            Some("01234567-89ab-cdef-0001-0203040506ff")
        );
        assert_eq!(blkid_uuid(&[0; 16]), None);
    }
}
