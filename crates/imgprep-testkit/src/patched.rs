//! A device with some bytes replaced.

use std::io;
use std::sync::Arc;

use imgprep_io::ReadAt;

/// Reads `base`, with each `(offset, bytes)` of `patches` laid over it (later patches win).
#[derive(Clone)]
pub struct Patched {
    /// The device patched.
    pub base: Arc<dyn ReadAt>,
    /// Replacements: file offset and bytes.
    pub patches: Vec<(u64, Vec<u8>)>,
}

impl std::fmt::Debug for Patched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patched")
            .field("size", &self.base.size())
            .field("patches", &self.patches.len())
            .finish()
    }
}

impl Patched {
    /// `base` with no patch yet.
    pub fn new(base: Arc<dyn ReadAt>) -> Self {
        Patched {
            base,
            patches: Vec::new(),
        }
    }

    /// `len` bytes at `offset`, patches applied. Panics on a read error (a test double).
    pub fn get(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        self.read_exact_at(offset, &mut b)
            .unwrap_or_else(|e| panic!("read of {len} bytes at {offset:#x}: {e}"));
        b
    }

    /// Replaces the bytes at `offset`.
    pub fn put(&mut self, offset: u64, bytes: &[u8]) {
        self.patches.push((offset, bytes.to_vec()));
    }

    /// Writes a little-endian u64 at `offset`.
    pub fn put_u64(&mut self, offset: u64, v: u64) {
        self.put(offset, &v.to_le_bytes());
    }

    /// Writes a little-endian u32 at `offset`.
    pub fn put_u32(&mut self, offset: u64, v: u32) {
        self.put(offset, &v.to_le_bytes());
    }
}

impl ReadAt for Patched {
    fn size(&self) -> u64 {
        self.base.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.base.read_exact_at(offset, buf)?;
        overlay(
            buf,
            offset,
            self.patches.iter().map(|(at, b)| (*at, b.as_slice())),
        );
        Ok(())
    }
}

/// Copies into `buf`, which holds the bytes at `offset`, the part of each `(at, bytes)` that
/// falls inside it (later ones win).
pub fn overlay<'a>(buf: &mut [u8], offset: u64, pieces: impl Iterator<Item = (u64, &'a [u8])>) {
    let end = offset + buf.len() as u64;
    for (at, bytes) in pieces {
        let pend = at + bytes.len() as u64;
        if at < end && pend > offset {
            let (lo, hi) = (at.max(offset), pend.min(end));
            buf[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
        }
    }
}
