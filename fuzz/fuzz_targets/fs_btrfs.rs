//! btrfs: open (replaying the log trees when the superblock names them), list subvolumes, open
//! each, walk the tree and read every file and link, on a sparse device built from the input.
//! Checksums are not verified (the `fuzzing` feature), so mutations reach the tree, item and log
//! replay code.
//!
//! Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 256 MiB device
//! (later records win). An input starting with `DC` instead feeds the decompressors:
//! `DC [alg u8] [ram_bytes u16 LE] [data]`.
#![no_main]

#[path = "fs_walk.rs"]
mod fs_walk;
#[path = "sparse.rs"]
mod sparse;

use std::sync::Arc;

use imgprep_fs_btrfs::Subvol;
use imgprep_io::ReadAt;

const SIZE: u64 = 256 << 20;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let [b'D', b'C', alg, r0, r1, rest @ ..] = data {
        imgprep_fs_btrfs::fuzzing::decompress(
            *alg,
            rest,
            usize::from(u16::from_le_bytes([*r0, *r1])),
        );
        return;
    }
    let dev: Arc<dyn ReadAt> = Arc::new(sparse::records(data, SIZE));
    let _ = imgprep_fs_btrfs::probe(&*dev);
    let mut sels = vec![Subvol::Id(0), Subvol::Id(5)];
    if let Ok(list) = imgprep_fs_btrfs::subvolumes(&*dev) {
        sels.extend(list.iter().take(4).map(|s| Subvol::Path(s.path.clone())));
    }
    for sel in sels {
        if let Ok(fs) = imgprep_fs_btrfs::open_subvolume(dev.clone(), sel) {
            let _ = fs.log_replay().note();
            fs_walk::walk(&*fs, 3000, 1000, |_, _| {});
        }
    }
});
