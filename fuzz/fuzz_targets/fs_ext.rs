//! ext2/3/4: probe, open (replaying the journal when the image needs recovery), then walk the
//! tree from the root, listing directories, reading files (at the start and far in) and links,
//! with a budget so each input stays fast.
//!
//! Input: the filesystem image itself (seed it with small `mke2fs -d` images).
#![no_main]

#[path = "fs_walk.rs"]
mod fs_walk;

use std::sync::Arc;

use imgprep_io::ReadAt;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dev: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    let _ = imgprep_fs_ext::probe(&*dev);
    if let Ok(fs) = imgprep_fs_ext::open(dev) {
        let _ = fs.lstat(b"/lost+found/x/y");
        fs_walk::walk(&*fs, 2000, 1000, |_, _| {});
    }
});
