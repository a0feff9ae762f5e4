//! XFS: probe, open (with and without checksum verification, which also covers log record CRCs),
//! replay the log when it is dirty, walk the whole tree and read every file and link, on a
//! sparse device built from the input. The walk runs with checksums off so mutations reach the
//! log replay and the inode, block-map and directory parsers.
//!
//! Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 64 MiB device
//! (later records win). Seeds: fuzz/seeds/fs_xfs.sh (mkfs.xfs -p images, and the dirty-xfs
//! fixture's filesystems with dirty logs).
#![no_main]

#[path = "fs_walk.rs"]
mod fs_walk;

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use imgprep_fs_xfs::{Options, Xfs};
use imgprep_io::ReadAt;

const SIZE: u64 = 64 << 20;

/// The device: 512-byte sectors that records wrote (later records win); zeros elsewhere.
struct Sparse(BTreeMap<u64, [u8; 512]>);

impl ReadAt for Sparse {
    fn size(&self) -> u64 {
        SIZE
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), SIZE)?;
        buf.fill(0);
        let end = offset + buf.len() as u64;
        for (&sector, bytes) in self.0.range(offset / 512..end.div_ceil(512)) {
            let at = sector * 512;
            let (lo, hi) = (at.max(offset), (at + 512).min(end));
            buf[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
        }
        Ok(())
    }
}

fn parse(mut data: &[u8]) -> Sparse {
    let mut sectors = BTreeMap::new();
    while data.len() >= 6 {
        let off = u64::from(u32::from_le_bytes([data[0], data[1], data[2], data[3]]));
        let len = usize::from(u16::from_le_bytes([data[4], data[5]])).min(data.len() - 6);
        if off + len as u64 <= SIZE {
            let mut rec = &data[6..6 + len];
            let mut pos = off;
            while !rec.is_empty() {
                let in_sector = (pos % 512) as usize;
                let n = rec.len().min(512 - in_sector);
                let sector = sectors.entry(pos / 512).or_insert([0u8; 512]);
                sector[in_sector..in_sector + n].copy_from_slice(&rec[..n]);
                rec = &rec[n..];
                pos += n as u64;
            }
        }
        data = &data[6 + len..];
    }
    Sparse(sectors)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dev: Arc<dyn ReadAt> = Arc::new(parse(data));
    let _ = imgprep_fs_xfs::probe(dev.as_ref());
    drop(Xfs::open(dev.clone(), &Options::default()));
    if let Ok(fs) = Xfs::open(
        dev,
        &Options {
            verify_checksums: false,
            ..Options::default()
        },
    ) {
        let _ = fs.log_state();
        let _ = imgprep_fs::Filesystem::log_replay(&fs).note();
        fs_walk::walk(&fs, 3000, 1000, |_, _| {});
    }
});
