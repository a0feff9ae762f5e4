//! ext2/3/4: probe, open (replaying the journal when the image needs recovery), then walk the
//! tree from the root, listing directories, reading files (at the start and far in) and links,
//! with a budget so each input stays fast.
//!
//! Input: the filesystem image itself (seed it with small `mke2fs -d` images).
#![no_main]

use std::sync::Arc;

use imgprep_fs::{FileKind, Filesystem};
use imgprep_io::ReadAt;

fn walk(fs: &dyn Filesystem) {
    let mut stack = vec![b"/".to_vec()];
    let mut budget = 2000;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs.read_dir(&dir) else {
            continue;
        };
        for e in entries {
            budget -= 1;
            if budget == 0 {
                return;
            }
            if e.name.contains(&b'/') || e.name == b"." || e.name == b".." || e.name.is_empty() {
                continue;
            }
            let mut p = dir.clone();
            if p.len() > 1 {
                p.push(b'/');
            }
            p.extend_from_slice(&e.name);
            // Directory loops make paths grow without end; each lookup costs one step per
            // component, so keep walks shallow.
            if p.len() > 512 || p.iter().filter(|&&c| c == b'/').count() > 24 {
                continue;
            }
            let Ok(Some(m)) = fs.lstat(&p) else { continue };
            match m.kind {
                FileKind::Dir => stack.push(p),
                FileKind::File => {
                    let _ = fs.read(&p, 0, 1 << 16);
                    let _ = fs.read(&p, m.size.saturating_sub(5000), 1 << 13);
                    let _ = fs.read(&p, m.size / 2, 1 << 12);
                }
                FileKind::Symlink => drop(fs.read_link(&p)),
                _ => {}
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dev: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    let _ = imgprep_fs_ext::probe(&*dev);
    if let Ok(fs) = imgprep_fs_ext::open(dev) {
        let _ = fs.lstat(b"/lost+found/x/y");
        walk(&*fs);
    }
});
