//! btrfs: open, list subvolumes, open each, walk the tree and read every file and link, on a
//! sparse device built from the input. Checksums are not verified (the `fuzzing` feature), so
//! mutations reach the tree and item parsers.
//!
//! Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 64 MiB device
//! (later records win). An input starting with `DC` instead feeds the decompressors:
//! `DC [alg u8] [ram_bytes u16 LE] [data]`.
#![no_main]

use std::io;
use std::sync::Arc;

use imgprep_fs::{FileKind, Filesystem};
use imgprep_fs_btrfs::Subvol;
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
    let mut budget = 3000;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs.read_dir(&dir) else {
            continue;
        };
        for e in entries {
            budget -= 1;
            if budget == 0 {
                return;
            }
            let mut p = dir.clone();
            if p.len() > 1 {
                p.push(b'/');
            }
            p.extend_from_slice(&e.name);
            if e.name.contains(&b'/') || e.name == b"." || e.name == b".." {
                continue;
            }
            let Ok(Some(m)) = fs.lstat(&p) else { continue };
            match m.kind {
                FileKind::Dir => stack.push(p),
                FileKind::File => drop(fs.read(&p, 0, 1 << 18)),
                FileKind::Symlink => drop(fs.read_link(&p)),
                _ => {}
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let [b'D', b'C', alg, r0, r1, rest @ ..] = data {
        imgprep_fs_btrfs::fuzzing::decompress(
            *alg,
            rest,
            usize::from(u16::from_le_bytes([*r0, *r1])),
        );
        return;
    }
    let dev: Arc<dyn ReadAt> = Arc::new(parse(data));
    let _ = imgprep_fs_btrfs::probe(&*dev);
    let mut sels = vec![Subvol::Id(0), Subvol::Id(5)];
    if let Ok(list) = imgprep_fs_btrfs::subvolumes(&*dev) {
        sels.extend(list.iter().take(4).map(|s| Subvol::Path(s.path.clone())));
    }
    for sel in sels {
        if let Ok(fs) = imgprep_fs_btrfs::open_subvolume(dev.clone(), sel) {
            walk(&*fs);
        }
    }
});
