//! Read-only btrfs reader: the superblock, the chunk tree (SINGLE and DUP profiles on one
//! device), the root tree and subvolume trees, presented through [`imgprep_fs::Filesystem`] the
//! way a Linux mount of one subvolume shows them.
//!
//! [`open`] mounts the default subvolume, [`open_subvolume`] the one a `subvol=` or `subvolid=`
//! mount option names, and [`subvolumes`] lists them with the paths `btrfs subvolume list`
//! prints. Nested subvolumes appear as directories and are crossed as the kernel crosses them
//! (inside a snapshot, a nested subvolume is an empty directory). File data may be inline,
//! regular, preallocated (zeros), sparse, or compressed with zlib, LZO or zstd.
//!
//! A filesystem snapshotted after an fsync but before the next transaction commit (the usual
//! state of a snapshot of a running machine) has its log trees replayed in memory as Linux
//! replays them when mounting; [`Filesystem::log_replay`] says what was replayed, or why it could
//! not be (and the last committed state is then read).
//!
//! Not here: writing, multi-device filesystems and RAID profiles (refused with
//! [`Error::Unsupported`]), checksum types other than CRC-32C, and data checksum verification
//! (metadata blocks are checked). Every tree block is checked (checksum, owner
//! UUID, address, level, key order, item bounds, parent keys) before use, and every walk is
//! bounded, so a hostile image yields an [`Error`] naming the block or item, never a panic.
#![forbid(unsafe_code)]

use std::sync::Arc;

use imgprep_fs::{Filesystem, FsInfo};
use imgprep_io::ReadAt;

mod compress;
mod crc;
mod error;
mod fs;
#[cfg(test)]
mod hostile_tests;
mod log;
mod lzo;
mod volume;

pub use error::{Error, Key};

/// Which subvolume to open, as the `subvol=` and `subvolid=` mount options name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subvol {
    /// A path from the top level (`root`, `/@/home`, `@/.snapshots/1/snapshot`); `/` is the top
    /// level itself.
    Path(String),
    /// A subvolume id; 5 is the top level, 0 the default subvolume.
    Id(u64),
}

/// One subvolume, as `btrfs subvolume list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubvolumeInfo {
    /// Subvolume (tree) id, 256 and up.
    pub id: u64,
    /// Id of the subvolume holding its directory entry (`top level` in the listing).
    pub parent: u64,
    /// Path from the top level, without a leading slash.
    pub path: String,
    /// Generation of its root item (`gen` in the listing).
    pub generation: u64,
    /// Whether it is a read-only subvolume or snapshot.
    pub read_only: bool,
}

/// How a volume is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Check the CRC-32C of the superblock and of every tree block. On by default; turning it
    /// off only helps to look at damaged images (and lets fuzzed inputs reach the parsers behind
    /// the checksums). Every other check stays on.
    pub verify_checksums: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            verify_checksums: true,
        }
    }
}

/// Type, label and UUID (the filesystem's fsid) when `dev` holds btrfs with a valid primary
/// superblock.
pub fn probe(dev: &dyn ReadAt) -> Option<FsInfo> {
    probe_with(dev, &Options::default())
}

/// [`probe`] with `opts` (without checksum verification, a damaged superblock is still read).
pub fn probe_with(dev: &dyn ReadAt, opts: &Options) -> Option<FsInfo> {
    let sb = match volume::Superblock::read(dev, opts.verify_checksums) {
        Ok(sb) => sb,
        // A filesystem this reader cannot open is still btrfs.
        Err(Error::Unsupported { .. }) => return probe_magic_only(dev),
        Err(_) => return None,
    };
    Some(FsInfo {
        fstype: "btrfs".into(),
        label: Some(sb.label).filter(|l| !l.is_empty()),
        uuid: Some(imgprep_fs::uuid_string(&sb.fsid)),
    })
}

fn probe_magic_only(dev: &dyn ReadAt) -> Option<FsInfo> {
    let mut b = vec![0u8; 0x22b];
    dev.read_exact_at(volume::SUPER_OFFSET, &mut b).ok()?;
    if &b[0x40..0x48] != b"_BHRfS_M" {
        return None;
    }
    let mut fsid = [0u8; 16];
    fsid.copy_from_slice(&b[0x20..0x30]);
    let label = &b[0x12b..0x22b];
    let len = label.iter().position(|&c| c == 0).unwrap_or(label.len());
    Some(FsInfo {
        fstype: "btrfs".into(),
        label: Some(String::from_utf8_lossy(&label[..len]).into_owned()).filter(|l| !l.is_empty()),
        uuid: Some(imgprep_fs::uuid_string(&fsid)),
    })
}

/// Entry points for fuzz targets only.
#[doc(hidden)]
pub mod fuzzing {
    /// Runs the decompressor for compression code `alg` (1 zlib, 2 lzo, 3 zstd) on `src`.
    pub fn decompress(alg: u8, src: &[u8], ram_bytes: usize) -> bool {
        match crate::compress::Algorithm::from_code(alg) {
            Some(a) => crate::compress::decompress(a, src, ram_bytes, 4096).is_ok(),
            None => false,
        }
    }
}

/// Opens the default subvolume, as `mount` without options does.
pub fn open(dev: Arc<dyn ReadAt>) -> Result<Box<dyn Filesystem>, Error> {
    open_subvolume(dev, Subvol::Id(0))
}

/// Opens the subvolume `sel` names, as `mount -o subvol=PATH` or `-o subvolid=N` does.
pub fn open_subvolume(dev: Arc<dyn ReadAt>, sel: Subvol) -> Result<Box<dyn Filesystem>, Error> {
    open_subvolume_with(dev, sel, &Options::default())
}

/// [`open_subvolume`] with `opts`.
pub fn open_subvolume_with(
    dev: Arc<dyn ReadAt>,
    sel: Subvol,
    opts: &Options,
) -> Result<Box<dyn Filesystem>, Error> {
    let shared = Arc::new(fs::Shared::new(volume::Volume::open_with(dev, opts)?)?);
    let root = shared.select(&sel)?;
    Ok(Box::new(fs::BtrfsFs { shared, root }))
}

/// Every subvolume reachable from the top level, ordered by id.
pub fn subvolumes(dev: &dyn ReadAt) -> Result<Vec<SubvolumeInfo>, Error> {
    subvolumes_with(dev, &Options::default())
}

/// [`subvolumes`] with `opts`.
pub fn subvolumes_with(dev: &dyn ReadAt, opts: &Options) -> Result<Vec<SubvolumeInfo>, Error> {
    let dev: Arc<dyn ReadAt + '_> = Arc::new(dev);
    let shared = fs::Shared::new(volume::Volume::open_with(dev, opts)?)?;
    shared.subvolumes()
}

/// The id of the default subvolume (5 when none was set).
pub fn default_subvolume(dev: &dyn ReadAt) -> Result<u64, Error> {
    let dev: Arc<dyn ReadAt + '_> = Arc::new(dev);
    fs::Shared::new(volume::Volume::open_with(dev, &Options::default())?)?.default_subvol_id()
}
