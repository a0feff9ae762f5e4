//! FAT12/16/32: probe (libblkid's rules), open, then walk the tree from the root, listing
//! directories (long names), looking names up in another case, and reading files at the start
//! and far in, with a budget so each input stays fast.
//!
//! Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 64 MiB device
//! (later records win), so a FAT32 layout fits in a small input. Seeds:
//! `fuzz/seeds/fs_ext_fat.sh DIR` writes them to DIR/fs_fat.
#![no_main]

use std::io;
use std::sync::Arc;

use imgprep_fs::{FileKind, Filesystem};
use imgprep_io::ReadAt;

const SIZE: u64 = 64 << 20;

struct Sparse(Vec<(u64, Vec<u8>)>);

impl ReadAt for Sparse {
    fn size(&self) -> u64 {
        SIZE
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), SIZE)?;
        buf.fill(0);
        let end = offset + buf.len() as u64;
        for (at, bytes) in &self.0 {
            let pend = at + bytes.len() as u64;
            if *at < end && pend > offset {
                let (lo, hi) = ((*at).max(offset), pend.min(end));
                buf[(lo - offset) as usize..(hi - offset) as usize]
                    .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
            }
        }
        Ok(())
    }
}

fn parse(mut data: &[u8]) -> Sparse {
    let mut recs = Vec::new();
    while data.len() >= 6 {
        let off = u64::from(u32::from_le_bytes([data[0], data[1], data[2], data[3]]));
        let len = usize::from(u16::from_le_bytes([data[4], data[5]])).min(data.len() - 6);
        if off + len as u64 <= SIZE {
            recs.push((off, data[6..6 + len].to_vec()));
        }
        data = &data[6 + len..];
    }
    Sparse(recs)
}

fn walk(fs: &dyn Filesystem) {
    let mut stack = vec![b"/".to_vec()];
    let mut budget = 1000;
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
            // Directory loops make paths grow without end; keep walks shallow.
            if p.len() > 512 || p.iter().filter(|&&c| c == b'/').count() > 24 {
                continue;
            }
            let _ = fs.lstat(&p.to_ascii_uppercase());
            let Ok(Some(m)) = fs.lstat(&p) else { continue };
            match m.kind {
                FileKind::Dir => stack.push(p),
                FileKind::File => {
                    let _ = fs.read(&p, 0, 1 << 16);
                    let _ = fs.read(&p, m.size.saturating_sub(3000), 1 << 12);
                }
                _ => drop(fs.read_link(&p)),
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dev: Arc<dyn ReadAt> = Arc::new(parse(data));
    let _ = imgprep_fs_fat::probe(&*dev);
    if let Ok(fs) = imgprep_fs_fat::open(dev) {
        walk(&*fs);
    }
});
