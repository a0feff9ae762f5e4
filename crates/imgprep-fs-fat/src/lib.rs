//! Read-only FAT12, FAT16 and FAT32 reader with VFAT long names, behind imgprep's
//! [`Filesystem`] interface: for EFI system partitions, `/boot/efi` and small boot volumes.
//!
//! [`probe`] answers as `blkid -p` does (type `vfat` for all three widths, the root
//! directory's volume label, the serial number as `XXXX-XXXX`). [`open`] lists directories and
//! reads files; names match case-insensitively against the long or the 8.3 name, as Windows
//! and Linux's `vfat` do. Files and directories present themselves as Linux mounts them by
//! default: owner 0:0, mode 0755 (0555 for read-only files), times taken as UTC.
//!
//! It is not exFAT, and it never writes. Every cluster chain is followed with a bound (the
//! number of clusters a file of its size needs, or the FAT's cluster count, or the 2 MiB a
//! directory can hold), so loops, out-of-range clusters and absurd boot-sector values end in
//! an [`Error`], never a panic or a hang.
#![forbid(unsafe_code)]

mod dir;
mod fat;
mod probe;

use imgprep_fs::{Filesystem, FsInfo};
use imgprep_io::ReadAt;
use std::io;
use std::sync::Arc;

/// What went wrong opening or reading a FAT filesystem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the device failed.
    #[error("reading the FAT filesystem: {0}")]
    Io(#[from] io::Error),
    /// A boot sector (BPB) field is out of range.
    #[error("FAT boot sector at 0x0: {field} is {found}, expected {expected}")]
    Bpb {
        /// The field.
        field: &'static str,
        /// Its value.
        found: u64,
        /// What it must be.
        expected: &'static str,
    },
    /// A cluster chain is broken: a free, bad or out-of-range cluster.
    #[error("cluster chain of {what}: cluster {cluster} (FAT entry at {offset:#x}) {detail}")]
    Chain {
        /// The file or directory.
        what: String,
        /// The cluster where the chain broke.
        cluster: u32,
        /// Byte offset of that cluster's FAT entry.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A cluster chain is longer than its file or directory can be (often a loop).
    #[error(
        "cluster chain of {what} starting at cluster {start} is longer than {limit} clusters (a loop?)"
    )]
    ChainTooLong {
        /// The file or directory.
        what: String,
        /// First cluster.
        start: u32,
        /// Most clusters allowed.
        limit: u64,
    },
    /// A file's chain ends before its size says.
    #[error(
        "{what} is {size} bytes but its cluster chain from cluster {start} ends after {found} bytes"
    )]
    ChainTooShort {
        /// The file.
        what: String,
        /// First cluster.
        start: u32,
        /// Size from the directory entry.
        size: u64,
        /// Bytes the chain holds.
        found: u64,
    },
    /// A directory entry is unusable.
    #[error("directory entry at {offset:#x}: {detail}")]
    Entry {
        /// Byte offset of the entry.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
}

/// Type (`vfat`), label and UUID of the FAT filesystem on `dev`, as `blkid -p` reports them;
/// `None` when libblkid would not recognise it.
pub fn probe(dev: &dyn ReadAt) -> Option<FsInfo> {
    probe::blkid_info(dev)
}

/// Opens the FAT12/16/32 filesystem on `dev` for reading.
pub fn open(dev: Arc<dyn ReadAt>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(fat::FatFs::open(dev)?))
}
