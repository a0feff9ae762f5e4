//! The crate's error type and the key type errors name.

use std::fmt;
use std::io;

/// A btrfs item key: `(objectid type offset)`, ordered as btrfs orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Object id (inode number, tree id, …).
    pub objectid: u64,
    /// Item type (`INODE_ITEM`, `DIR_ITEM`, …).
    pub kind: u8,
    /// Type-specific offset.
    pub offset: u64,
}

impl Key {
    pub(crate) const fn new(objectid: u64, kind: u8, offset: u64) -> Key {
        Key {
            objectid,
            kind,
            offset,
        }
    }
}

/// Name of an item type as btrfs-progs prints it.
fn type_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        1 => "INODE_ITEM",
        12 => "INODE_REF",
        13 => "INODE_EXTREF",
        24 => "XATTR_ITEM",
        48 => "ORPHAN_ITEM",
        84 => "DIR_ITEM",
        96 => "DIR_INDEX",
        108 => "EXTENT_DATA",
        128 => "EXTENT_CSUM",
        132 => "ROOT_ITEM",
        144 => "ROOT_BACKREF",
        156 => "ROOT_REF",
        168 => "EXTENT_ITEM",
        169 => "METADATA_ITEM",
        192 => "BLOCK_GROUP_ITEM",
        204 => "DEV_EXTENT",
        216 => "DEV_ITEM",
        228 => "CHUNK_ITEM",
        _ => return None,
    })
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match type_name(self.kind) {
            Some(n) => write!(f, "({} {} {})", self.objectid, n, self.offset),
            None => write!(
                f,
                "({} UNKNOWN.{} {})",
                self.objectid, self.kind, self.offset
            ),
        }
    }
}

/// Why a btrfs filesystem could not be opened or read. Each variant says where (byte offset,
/// logical address, tree and key) and what was expected and found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the device failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// No btrfs superblock magic.
    #[error("not btrfs: the superblock at {offset:#x} has magic {found:?}, expected \"_BHRfS_M\"")]
    BadMagic {
        /// Byte offset of the superblock.
        offset: u64,
        /// The eight bytes found, escaped.
        found: String,
    },
    /// The superblock's CRC-32C does not match its contents.
    #[error(
        "btrfs superblock at {offset:#x}: checksum is {found:#010x}, expected {expected:#010x}"
    )]
    SuperblockChecksum {
        /// Byte offset of the superblock.
        offset: u64,
        /// Checksum computed over the superblock.
        expected: u32,
        /// Checksum stored in it.
        found: u32,
    },
    /// A superblock field is out of range.
    #[error("btrfs superblock at {offset:#x}: {field} is {found}, expected {expected}")]
    BadSuperblock {
        /// Byte offset of the superblock.
        offset: u64,
        /// Field name.
        field: &'static str,
        /// What a valid value looks like.
        expected: String,
        /// The value found.
        found: String,
    },
    /// A feature this reader does not implement.
    #[error("btrfs: {what} is not supported")]
    Unsupported {
        /// The feature, e.g. "RAID5 block group profile".
        what: String,
    },
    /// A logical address no chunk maps.
    #[error("btrfs logical range {logical:#x}+{len:#x} is not mapped by any chunk")]
    Unmapped {
        /// Logical address.
        logical: u64,
        /// Length of the read.
        len: u64,
    },
    /// A chunk item is malformed or maps outside the device.
    #[error("btrfs chunk at logical {logical:#x}: {what}: expected {expected}, found {found}")]
    BadChunk {
        /// Logical start of the chunk.
        logical: u64,
        /// What is wrong.
        what: &'static str,
        /// What a valid chunk has.
        expected: String,
        /// What this one has.
        found: String,
    },
    /// A tree block's checksum does not match.
    #[error(
        "btrfs tree block {logical:#x} (device offset {physical:#x}): checksum is {found:#010x}, \
         expected {expected:#010x}"
    )]
    NodeChecksum {
        /// Logical address of the block.
        logical: u64,
        /// Where it was read on the device.
        physical: u64,
        /// Checksum computed over the block.
        expected: u32,
        /// Checksum stored in it.
        found: u32,
    },
    /// A tree block's header or item layout is inconsistent.
    #[error(
        "btrfs tree {tree} block {logical:#x} (device offset {physical:#x}): {what}: expected \
         {expected}, found {found}"
    )]
    BadNode {
        /// Tree the block was reached from.
        tree: u64,
        /// Logical address of the block.
        logical: u64,
        /// Where it was read on the device.
        physical: u64,
        /// What is wrong.
        what: &'static str,
        /// What a valid block has.
        expected: String,
        /// What this one has.
        found: String,
    },
    /// An item's contents are inconsistent.
    #[error("btrfs tree {tree} item {key}: {what}: expected {expected}, found {found}")]
    BadItem {
        /// Tree holding the item.
        tree: u64,
        /// The item's key.
        key: Key,
        /// What is wrong.
        what: &'static str,
        /// What a valid item has.
        expected: String,
        /// What this one has.
        found: String,
    },
    /// Compressed file data does not decode.
    #[error(
        "btrfs tree {tree} file extent {key} ({algorithm} data at logical {logical:#x}): {reason}"
    )]
    Decompress {
        /// Tree holding the extent item.
        tree: u64,
        /// The extent item's key.
        key: Key,
        /// Compression algorithm.
        algorithm: &'static str,
        /// Logical address of the compressed data (0 for inline data).
        logical: u64,
        /// What went wrong.
        reason: String,
    },
    /// No subvolume matches the selector.
    #[error("btrfs: no subvolume {selector}")]
    NoSubvolume {
        /// `id N` or `path P`.
        selector: String,
    },
    /// `subvol=PATH` names something that is not a subvolume root.
    #[error("btrfs: {path} is not a subvolume")]
    NotASubvolume {
        /// The path given.
        path: String,
    },
    /// A structure exceeds a sanity limit (directory size, chain length, tree walk).
    #[error("btrfs: {what} exceeds the limit of {limit}")]
    Limit {
        /// What was being counted.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A path lookup failed inside the filesystem while opening a subvolume.
    #[error(transparent)]
    Fs(#[from] imgprep_fs::FsError),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
