//! The one error type of this crate.

use std::io;

/// Why an XFS filesystem could not be opened or read. Each variant names the structure, where it
/// is on the device (byte offset, inode number) and what was expected and found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the device failed.
    #[error("reading {len} bytes of {what} at {offset:#x}")]
    Read {
        /// The structure being read.
        what: &'static str,
        /// Byte offset on the device.
        offset: u64,
        /// Bytes asked for.
        len: usize,
        /// The device's error.
        #[source]
        source: io::Error,
    },
    /// Offset 0 does not hold an XFS superblock.
    #[error("no XFS superblock at 0x0: magic is {found:02x?}, expected \"XFSB\"")]
    NotXfs {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// A superblock field is out of range or contradicts another.
    #[error("XFS superblock at 0x0: {field} is {found}, expected {expected}")]
    Superblock {
        /// The field.
        field: &'static str,
        /// Its value.
        found: u64,
        /// What a valid superblock holds there.
        expected: String,
    },
    /// The filesystem claims more space than the device has.
    #[error("XFS filesystem is {needed:#x} bytes but the device is only {size:#x} bytes")]
    DeviceTooSmall {
        /// `dblocks * blocksize`.
        needed: u64,
        /// The device size.
        size: u64,
    },
    /// A feature this reader does not decode.
    #[error("XFS {feature} is not supported")]
    Unsupported {
        /// The feature, e.g. "realtime device".
        feature: String,
    },
    /// A metadata block or structure has the wrong magic number.
    #[error("{what} at {offset:#x}: magic is {found:#x}, expected {expected}")]
    BadMagic {
        /// The structure.
        what: &'static str,
        /// Its byte offset.
        offset: u64,
        /// Magic found.
        found: u32,
        /// Magic (or magics) expected.
        expected: &'static str,
    },
    /// A v5 metadata checksum does not match.
    #[error("{what} at {offset:#x}: CRC32C is {found:#010x}, expected {expected:#010x}")]
    Checksum {
        /// The structure.
        what: &'static str,
        /// Its byte offset.
        offset: u64,
        /// Stored checksum.
        found: u32,
        /// Computed checksum.
        expected: u32,
    },
    /// An inode number points outside the filesystem.
    #[error("inode number {ino} ({by}) is out of range: {detail}")]
    InodeNumber {
        /// The inode number.
        ino: u64,
        /// Who referred to it, e.g. "root inode", "entry in directory inode 128".
        by: String,
        /// Which part is out of range.
        detail: String,
    },
    /// An inode's core or fork is inconsistent.
    #[error("inode {ino} at {offset:#x}: {detail}")]
    Inode {
        /// The inode number.
        ino: u64,
        /// Byte offset of the inode.
        offset: u64,
        /// What is wrong, with expected and found values.
        detail: String,
    },
    /// An extent record or block-map B+tree node is inconsistent.
    #[error("block map of inode {ino}, at {offset:#x}: {detail}")]
    BlockMap {
        /// The inode whose fork this is.
        ino: u64,
        /// Byte offset of the record or node.
        offset: u64,
        /// What is wrong, with expected and found values.
        detail: String,
    },
    /// A directory structure is inconsistent.
    #[error("directory inode {ino}, at {offset:#x}: {detail}")]
    Directory {
        /// The directory's inode.
        ino: u64,
        /// Byte offset of the block or entry.
        offset: u64,
        /// What is wrong, with expected and found values.
        detail: String,
    },
    /// A symbolic link's target is stored inconsistently.
    #[error("symlink inode {ino}, at {offset:#x}: {detail}")]
    Symlink {
        /// The link's inode.
        ino: u64,
        /// Byte offset of the data.
        offset: u64,
        /// What is wrong, with expected and found values.
        detail: String,
    },
    /// Replaying the log needs more memory than this reader allows itself.
    #[error("XFS log replay: {what} is {found} bytes, more than the {limit} this reader allows")]
    LogTooLarge {
        /// What grew too large, e.g. "blocks changed by the log".
        what: &'static str,
        /// Its size in bytes.
        found: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A structure is larger than this reader allows itself to load.
    #[error("{what} of inode {ino} is {found}, more than the {limit} this reader allows")]
    TooLarge {
        /// The structure, e.g. "extent count".
        what: &'static str,
        /// The inode.
        ino: u64,
        /// Its size or count.
        found: u64,
        /// The limit.
        limit: u64,
    },
}

/// Result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
