//! NTFS: probe and open a volume built from the input, then walk the tree (bounded), stat every
//! entry, read links and the start of every file, and look up a few names case-insensitively.
//!
//! Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 4 MiB device
//! (later records win; at most 4096 are used). A record of length 0xffff carries no bytes and
//! writes a 128 KiB `$UpCase` table (ASCII letters upper-cased) at its offset, so seeds need not
//! carry the real one.
//!
//! Seeds: `fuzz/seeds/fs_ntfs_registry.sh OUTDIR` (a small mkntfs volume as records).
#![no_main]

#[path = "fs_walk.rs"]
mod fs_walk;

use std::io;
use std::sync::{Arc, OnceLock};

use imgprep_io::ReadAt;
use libfuzzer_sys::fuzz_target;

const SIZE: u64 = 4 << 20;
const MAX_RECORDS: usize = 4096;

/// The bytes of one record: from the input, or the first `n` bytes of the shared table.
enum Chunk {
    Input(Vec<u8>),
    Upcase(usize),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Input(v) => v,
            Chunk::Upcase(n) => &upcase()[..*n],
        }
    }
}

struct Sparse(Vec<(u64, Chunk)>);

impl ReadAt for Sparse {
    fn size(&self) -> u64 {
        SIZE
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), SIZE)?;
        buf.fill(0);
        let end = offset + buf.len() as u64;
        for (at, chunk) in &self.0 {
            let bytes = chunk.bytes();
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

fn upcase() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|c| {
                if (u16::from(b'a')..=u16::from(b'z')).contains(&c) {
                    c - 32
                } else {
                    c
                }
            })
            .flat_map(u16::to_le_bytes)
            .collect()
    })
}

fn device(mut data: &[u8]) -> Sparse {
    let mut recs = Vec::new();
    while data.len() >= 6 && recs.len() < MAX_RECORDS {
        let off = u64::from(u32::from_le_bytes([data[0], data[1], data[2], data[3]])) % SIZE;
        let len = usize::from(u16::from_le_bytes([data[4], data[5]]));
        data = &data[6..];
        let room = (SIZE - off) as usize;
        if len == 0xffff {
            recs.push((off, Chunk::Upcase(upcase().len().min(room))));
            continue;
        }
        let len = len.min(data.len());
        recs.push((off, Chunk::Input(data[..len.min(room)].to_vec())));
        data = &data[len..];
    }
    Sparse(recs)
}

fuzz_target!(|data: &[u8]| {
    let dev = device(data);
    let _ = imgprep_fs_ntfs::probe(&dev);
    let dev: Arc<dyn ReadAt> = Arc::new(dev);
    let Ok(fs) = imgprep_fs_ntfs::open(dev) else {
        return;
    };
    fs_walk::walk(fs.as_ref(), 2000, 64, |_, _| {});
    for p in [&b"/FILE-1.txt"[..], b"/big.TXT", b"/Windows/System32"] {
        let _ = fs.lstat(p);
    }
});
