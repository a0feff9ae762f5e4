//! Blocks changed by log replay, kept in memory and laid over the device: every read sees them
//! first. The device itself is never written.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::error::{Error, Result};

/// Bytes in a basic block (the unit of log and buffer addresses).
pub(crate) const BB: u64 = 512;

/// Most memory the replayed blocks may take (the kernel writes them home; this reader keeps them).
const LIMIT: u64 = 256 << 20;

/// Replayed sectors by sector number, bounded by [`LIMIT`].
pub(crate) struct Overlay {
    sectors: BTreeMap<u64, Box<[u8; BB as usize]>>,
    limit: u64,
}

impl Default for Overlay {
    fn default() -> Self {
        Self {
            sectors: BTreeMap::new(),
            limit: LIMIT,
        }
    }
}

impl fmt::Debug for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overlay")
            .field("sectors", &self.sectors.len())
            .finish()
    }
}

impl Overlay {
    pub(crate) fn is_empty(&self) -> bool {
        self.sectors.is_empty()
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        self.sectors.len() as u64 * BB
    }

    /// Lays the sectors held over `buf`, which holds the device's bytes at `offset`.
    fn patch(&self, offset: u64, buf: &mut [u8]) {
        if self.sectors.is_empty() || buf.is_empty() {
            return;
        }
        let end = offset + buf.len() as u64;
        for (&sector, bytes) in self.sectors.range(offset / BB..end.div_ceil(BB)) {
            let at = sector * BB;
            let (lo, hi) = (at.max(offset), (at + BB).min(end));
            buf[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
        }
    }

    /// The current contents of `bbs` basic blocks at basic block `daddr` of `dev`.
    pub(crate) fn read(&self, dev: &dyn ReadAt, daddr: u64, bbs: u64) -> Result<Vec<u8>> {
        let offset = daddr * BB;
        let mut buf = imgprep_io::read_vec(dev, offset, bbs * BB, 1 << 20, "XFS buffer").map_err(
            |source| Error::Read {
                what: "buffer replayed from the log",
                offset,
                len: (bbs * BB) as usize,
                source,
            },
        )?;
        self.patch(offset, &mut buf);
        Ok(buf)
    }

    /// Replaces the basic blocks from `daddr` with `buf` (a whole number of basic blocks).
    pub(crate) fn write(&mut self, daddr: u64, buf: &[u8]) -> Result<()> {
        for (i, chunk) in buf.chunks_exact(BB as usize).enumerate() {
            let sector = daddr + i as u64;
            if !self.sectors.contains_key(&sector) && self.bytes() + BB > self.limit {
                return Err(Error::LogTooLarge {
                    what: "the set of blocks the log changes",
                    found: self.bytes() + BB,
                    limit: self.limit,
                });
            }
            let mut s = Box::new([0u8; BB as usize]);
            s.copy_from_slice(chunk);
            self.sectors.insert(sector, s);
        }
        Ok(())
    }
}

/// The device with an [`Overlay`] laid over it.
pub(crate) struct Overlaid {
    pub(crate) base: Arc<dyn ReadAt>,
    pub(crate) overlay: Overlay,
}

impl ReadAt for Overlaid {
    fn size(&self) -> u64 {
        self.base.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.base.read_exact_at(offset, buf)?;
        self.overlay.patch(offset, buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_see_replayed_sectors_first() {
        let base: Arc<dyn ReadAt> = Arc::new(vec![7u8; 4096]);
        let mut o = Overlay::default();
        o.write(2, &[1u8; 1024]).unwrap();
        assert_eq!(o.bytes(), 1024);
        let d = Overlaid {
            base: base.clone(),
            overlay: o,
        };
        let mut buf = [0u8; 8];
        d.read_exact_at(1020, &mut buf).unwrap();
        assert_eq!(buf, [7, 7, 7, 7, 1, 1, 1, 1]);
        d.read_exact_at(2044, &mut buf).unwrap();
        assert_eq!(buf, [1, 1, 1, 1, 7, 7, 7, 7]);
        assert_eq!(
            d.overlay.read(&*base, 1, 2).unwrap()[508..516],
            [7, 7, 7, 7, 1, 1, 1, 1]
        );
        assert!(d.read_exact_at(4093, &mut buf).is_err());
    }

    #[test]
    fn the_overlay_is_bounded() {
        let mut o = Overlay {
            limit: 8 * BB,
            ..Overlay::default()
        };
        o.write(0, &[0u8; 4096]).unwrap();
        // Rewriting held sectors costs nothing; one more sector is refused.
        o.write(4, &[1u8; 2048]).unwrap();
        let e = o.write(8, &[0u8; 512]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "XFS log replay: the set of blocks the log changes is 4608 bytes, more than the \
             4096 this reader allows"
        );
    }
}
