//! Read-only XFS reader for imgprep: v4 and v5 (CRC) filesystems, read through a
//! [`ReadAt`] and served through the [`Filesystem`] interface.
//!
//! It reads the primary superblock, inodes by number (versions 1 to 3), data forks in every form
//! (inline, extent arrays, block-map B+trees), directories in every form (short-form, block,
//! leaf, node, B+tree; listed and searched through their data blocks), inline and remote
//! symlinks, and file data with holes and unwritten extents reading as zeros. Every number taken
//! from the image is range-checked, B+tree walks are bounded in depth and refuse loops, and v5
//! metadata checksums and owner stamps are verified.
//!
//! A filesystem that was not unmounted cleanly (the usual state of a snapshot of a running
//! machine) has its internal log replayed in memory as Linux replays it when mounting: the
//! committed buffer, inode and inode-creation items are laid over the device, and every read
//! sees them first. [`Xfs::log_state`] says what was found and done; a log that cannot be
//! replayed (damaged, an external log device, items this reader does not replay) leaves the
//! metadata as last written in place and says why. Unfinished intents (extent frees and the
//! like, which Linux re-runs after replaying) are reported, not re-run.
//!
//! It does not read realtime-device data, extended attributes, or quota and other internal
//! metadata, and it never writes.
#![forbid(unsafe_code)]

mod bmap;
mod crc;
mod dir;
mod error;
mod fs;
mod inode;
mod log;
mod overlay;
mod sb;

use std::sync::Arc;

use imgprep_fs::{Filesystem, FsInfo};
use imgprep_io::{ReadAt, be};

pub use error::{Error, Result};
pub use fs::{Options, Xfs};
pub use log::LogState;

/// Says whether `dev` holds an XFS filesystem, with its label and UUID exactly as
/// `blkid -p` reports them (`TYPE=xfs`, `LABEL`, `UUID`; the UUID is `sb_uuid`, not the
/// `sb_meta_uuid` that v5 metadata is stamped with after a UUID change).
///
/// Applies blkid's own superblock sanity checks and nothing more, so it agrees with blkid on
/// damaged superblocks too.
pub fn probe(dev: &dyn ReadAt) -> Option<FsInfo> {
    let mut b = [0u8; 512];
    dev.read_exact_at(0, &mut b).ok()?;
    if be::u32(&b, 0) != sb::SB_MAGIC {
        return None;
    }
    let blocksize = be::u32(&b, 4);
    let dblocks = be::u64(&b, 8);
    let rextsize = be::u32(&b, 80);
    let agblocks = be::u32(&b, 84);
    let agcount = be::u32(&b, 88);
    let sectsize = u32::from(be::u16(&b, 102));
    let inodesize = u32::from(be::u16(&b, 104));
    let (blocklog, sectlog, inodelog, inopblog) = (
        i32::from(b[120]),
        i32::from(b[121]),
        i32::from(b[122]),
        i32::from(b[123]),
    );
    let imax_pct = b[127];
    // libblkid's xfs_verify_sb, with its C integer widths (the realtime extent size product is
    // a 32-bit multiplication).
    let pow = |log: i32| 1u32.checked_shl(log as u32).unwrap_or(0);
    let rtext_bytes = rextsize.wrapping_mul(blocksize);
    let ok = agcount > 0
        && (512..=32768).contains(&sectsize)
        && (9..=15).contains(&sectlog)
        && sectsize == pow(sectlog)
        && (512..=65536).contains(&blocksize)
        && (9..=16).contains(&blocklog)
        && blocksize == pow(blocklog)
        && (256..=2048).contains(&inodesize)
        && (8..=11).contains(&inodelog)
        && inodesize == pow(inodelog)
        && blocklog - inodelog == inopblog
        && (4 * 1024..=1024 * 1024 * 1024).contains(&rtext_bytes)
        && imax_pct <= 100
        && dblocks != 0
        && dblocks <= u64::from(agcount) * u64::from(agblocks)
        && dblocks >= u64::from(agcount - 1) * u64::from(agblocks) + 64;
    if !ok {
        return None;
    }
    let mut fname = [0u8; 12];
    fname.copy_from_slice(&b[108..120]);
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&b[32..48]);
    let (label, uuid) = fs::label_and_uuid(&fname, &uuid);
    Some(FsInfo {
        fstype: "xfs".into(),
        label,
        uuid,
    })
}

/// Opens the XFS filesystem on `dev` with checksum verification on (see [`Xfs::open`] for the
/// options and the log state).
pub fn open(dev: Arc<dyn ReadAt>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(Xfs::open(dev, &Options::default())?))
}
