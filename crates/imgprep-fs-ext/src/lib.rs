//! Read-only ext2, ext3 and ext4 reader behind imgprep's [`Filesystem`] interface.
//!
//! [`probe`] names the filesystem exactly as libblkid does (`ext2`, `ext3`, `ext4`, `ext4dev`,
//! or `jbd` for an external journal device) with its label and UUID. [`open`] reads files,
//! directories and symlinks: extent trees (including unwritten extents, which read as zeros),
//! ext2/3 block maps, inline data, 1 KiB to 64 KiB blocks, 128-byte and larger inodes,
//! `meta_bg`, `bigalloc`, 64-bit block numbers, and a journal that needs recovery, which is
//! replayed in memory. Nothing is ever written.
//!
//! It is not a checker: metadata checksums other than the superblock's are not verified, and
//! damage is reported only where it is met. Encrypted files and directories, ext2 compression,
//! `dirdata`, external journals that need replaying and fast-commit journals are refused by name.
//! Every structure read from the device is bounds-checked and every walk is bounded, so a hostile
//! image yields an [`Error`], never a panic or a hang.
#![forbid(unsafe_code)]

mod crc32c;
mod fs;
mod inode;
mod journal;
mod map;
mod superblock;

use imgprep_fs::{Filesystem, FsInfo};
use imgprep_io::ReadAt;
use std::io;
use std::sync::Arc;

/// Inode number of the root directory.
const ROOT_INO: u64 = 2;

/// What went wrong opening or reading an ext filesystem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the device failed.
    #[error("reading the ext filesystem: {0}")]
    Io(#[from] io::Error),
    /// No ext superblock magic at 0x438.
    #[error("no ext superblock at 0x400: magic is {found:#06x}, expected 0xef53")]
    NotExt {
        /// The magic found.
        found: u16,
    },
    /// A superblock field is out of range.
    #[error("ext superblock at 0x400: {field} is {found}, expected {expected}")]
    Superblock {
        /// The field.
        field: &'static str,
        /// Its value.
        found: u64,
        /// What it must be.
        expected: &'static str,
    },
    /// The superblock checksum (with `metadata_csum`) does not match.
    #[error("ext superblock checksum at 0x7fc is {found:#010x}, computed {computed:#010x}")]
    SuperblockChecksum {
        /// Stored checksum.
        found: u32,
        /// Checksum of the superblock bytes.
        computed: u32,
    },
    /// A feature this reader does not decode.
    #[error("{what} is not supported")]
    Unsupported {
        /// The feature.
        what: String,
    },
    /// A block number points outside the filesystem.
    #[error("{what} points to block {block}, outside the filesystem's blocks 1..{blocks_count}")]
    BlockOutOfRange {
        /// The block.
        block: u64,
        /// Blocks in the filesystem.
        blocks_count: u64,
        /// What held the pointer.
        what: String,
    },
    /// An inode number outside the inode tables.
    #[error("inode {ino} is outside the filesystem's inodes 1..={inodes_count}")]
    InodeOutOfRange {
        /// The inode number.
        ino: u64,
        /// Inodes in the filesystem.
        inodes_count: u32,
    },
    /// An inode, or a structure it owns (extent tree, inline data), is damaged.
    #[error("inode {ino} at {offset:#x} {detail}")]
    Inode {
        /// The inode number.
        ino: u64,
        /// Byte offset of the damaged structure.
        offset: u64,
        /// What is wrong, with expected and found values.
        detail: String,
    },
    /// A directory entry is damaged.
    #[error("directory inode {dir}: entry at {offset:#x}: {detail}")]
    DirEntry {
        /// The directory's inode number.
        dir: u64,
        /// Byte offset of the entry.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The journal that needs replaying is damaged.
    #[error("ext journal at {offset:#x}: {detail}")]
    Journal {
        /// Byte offset of the damaged journal structure.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A structure is larger than this reader accepts.
    #[error("{what} is {size} bytes or entries, more than the {limit} allowed")]
    TooLarge {
        /// The structure.
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// Type, label and UUID of the ext filesystem (or external journal) on `dev`, as
/// `blkid -p` reports them; `None` when libblkid would not recognise it.
pub fn probe(dev: &dyn ReadAt) -> Option<FsInfo> {
    let mut sb = [0u8; superblock::SB_SIZE];
    dev.read_exact_at(superblock::SB_OFFSET, &mut sb).ok()?;
    superblock::blkid_info(&sb)
}

/// Opens the ext2/3/4 filesystem on `dev` for reading, replaying its journal in memory when
/// it needs recovery.
pub fn open(dev: Arc<dyn ReadAt>) -> Result<Box<dyn Filesystem>, Error> {
    let mut raw = [0u8; superblock::SB_SIZE];
    dev.read_exact_at(superblock::SB_OFFSET, &mut raw)?;
    let sb = superblock::Superblock::parse(&raw)?;
    let needs_recovery = sb.has_incompat(superblock::INCOMPAT_RECOVER);
    let mut fs = fs::ExtFs::new(dev, sb);
    if needs_recovery {
        let (map, transactions) = journal::replay(&fs)?;
        fs.journal = map;
        fs.replay = imgprep_fs::LogReplay::Replayed {
            log: "ext4 journal".into(),
            applied: format!(
                "{transactions} transaction{}",
                if transactions == 1 { "" } else { "s" }
            ),
            unfinished: None,
        };
    }
    let root = fs.inode(ROOT_INO)?;
    if root.kind() != imgprep_fs::FileKind::Dir {
        return Err(Error::Inode {
            ino: ROOT_INO,
            offset: root.offset,
            detail: format!("is the root but has mode {:#o}, not a directory", root.mode),
        });
    }
    Ok(Box::new(fs))
}
