//! FAT12/16/32: probe (libblkid's rules), open, then walk the tree from the root, listing
//! directories (long names), looking names up in another case, and reading files at the start
//! and far in, with a budget so each input stays fast.
//!
//! Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 64 MiB device
//! (later records win), so a FAT32 layout fits in a small input. Seeds:
//! `fuzz/seeds/fs_ext_fat.sh DIR` writes them to DIR/fs_fat.
#![no_main]

#[path = "fs_walk.rs"]
mod fs_walk;
#[path = "sparse.rs"]
mod sparse;

use std::sync::Arc;

use imgprep_io::ReadAt;

const SIZE: u64 = 64 << 20;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dev: Arc<dyn ReadAt> = Arc::new(sparse::records(data, SIZE));
    let _ = imgprep_fs_fat::probe(&*dev);
    if let Ok(fs) = imgprep_fs_fat::open(dev) {
        // Names looked up in another case too.
        fs_walk::walk(&*fs, 1000, 1000, |fs, p| {
            drop(fs.lstat(&p.to_ascii_uppercase()))
        });
    }
});
