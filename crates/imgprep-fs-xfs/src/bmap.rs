//! Data fork block maps: extent arrays in the inode and block-map B+trees (bmbt).

use std::collections::HashSet;

use imgprep_io::{ReadAt, be};

use crate::crc;
use crate::error::{Error, Result};
use crate::inode::{Format, Inode};
use crate::sb::Superblock;

const BMAP_MAGIC: u32 = 0x424d_4150; // "BMAP", v4
const BMA3_MAGIC: u32 = 0x424d_4133; // "BMA3", v5
const V4_HDR: usize = 24;
const V5_HDR: usize = 72;
const V5_CRC_OFF: usize = 64;
const REC: usize = 16;
/// Deepest block-map B+tree this reader follows (XFS itself needs at most 9 levels).
const MAX_LEVELS: u16 = 10;
/// Most extents of one fork this reader loads (32 bytes each in memory).
pub(crate) const MAX_EXTENTS: u64 = 1 << 21;

/// One mapping of file blocks to filesystem blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    /// First file block.
    pub(crate) startoff: u64,
    /// Byte offset on the device of the first block.
    pub(crate) byte: u64,
    /// Number of blocks.
    pub(crate) count: u64,
    /// Allocated but never written: reads as zeros.
    pub(crate) unwritten: bool,
}

impl Extent {
    pub(crate) fn end(&self) -> u64 {
        self.startoff + self.count
    }
}

struct Walk<'a> {
    dev: &'a dyn ReadAt,
    sb: &'a Superblock,
    ino: u64,
    verify_crc: bool,
    out: Vec<Extent>,
    limit: u64,
    visited: HashSet<u64>,
}

impl Walk<'_> {
    fn err(&self, offset: u64, detail: String) -> Error {
        Error::BlockMap {
            ino: self.ino,
            offset,
            detail,
        }
    }

    /// Decodes the packed 16-byte record at `rec` (device offset `offset`) and appends it.
    fn record(&mut self, rec: &[u8], offset: u64) -> Result<()> {
        let l0 = be::u64(rec, 0);
        let l1 = be::u64(rec, 8);
        let unwritten = l0 >> 63 != 0;
        let startoff = (l0 >> 9) & ((1 << 54) - 1);
        let startblock = ((l0 & 0x1ff) << 43) | (l1 >> 21);
        let count = l1 & ((1 << 21) - 1);
        if count == 0 {
            return Err(self.err(offset, "extent of 0 blocks".into()));
        }
        if let Some(prev) = self.out.last()
            && startoff < prev.end()
        {
            return Err(self.err(
                offset,
                format!(
                    "extent starts at file block {startoff}, expected at least {} (records out \
                     of order or overlapping)",
                    prev.end()
                ),
            ));
        }
        let byte = self
            .sb
            .fsb_range(startblock, count)
            .map_err(|d| self.err(offset, format!("extent at file block {startoff}: {d}")))?;
        if self.out.len() as u64 >= self.limit {
            return Err(self.err(
                offset,
                format!(
                    "more extent records than the {} the inode declares",
                    self.limit
                ),
            ));
        }
        self.out.push(Extent {
            startoff,
            byte,
            count,
            unwritten,
        });
        Ok(())
    }

    /// Walks the subtree whose root is filesystem block `fsb`, expected at `level`.
    fn node(&mut self, fsb: u64, level: u16, from: u64) -> Result<()> {
        let bs = self.sb.blocksize as usize;
        let offset = self
            .sb
            .fsb_range(fsb, 1)
            .map_err(|d| self.err(from, format!("B+tree pointer: {d}")))?;
        if !self.visited.insert(fsb) {
            return Err(self.err(
                from,
                format!("B+tree block {fsb:#x} is reached twice (a loop or a shared block)"),
            ));
        }
        let mut buf = vec![0u8; bs];
        self.dev
            .read_exact_at(offset, &mut buf)
            .map_err(|source| Error::Read {
                what: "block-map B+tree block",
                offset,
                len: bs,
                source,
            })?;
        let magic = be::u32(&buf, 0);
        let (want, hdr) = if self.sb.v5 {
            (BMA3_MAGIC, V5_HDR)
        } else {
            (BMAP_MAGIC, V4_HDR)
        };
        if magic != want {
            return Err(Error::BadMagic {
                what: "block-map B+tree block",
                offset,
                found: magic,
                expected: if self.sb.v5 {
                    "0x424d4133 (\"BMA3\")"
                } else {
                    "0x424d4150 (\"BMAP\")"
                },
            });
        }
        if self.sb.v5 {
            if self.verify_crc {
                let found = crc::stored(&buf, V5_CRC_OFF);
                let expected = crc::xfs_cksum(&buf, V5_CRC_OFF);
                if found != expected {
                    return Err(Error::Checksum {
                        what: "block-map B+tree block",
                        offset,
                        found,
                        expected,
                    });
                }
            }
            let blkno = be::u64(&buf, 24);
            if blkno != offset >> 9 {
                return Err(self.err(
                    offset,
                    format!(
                        "block records its address as sector {blkno:#x}, expected {:#x}",
                        offset >> 9
                    ),
                ));
            }
            let owner = be::u64(&buf, 56);
            if owner != self.ino {
                return Err(self.err(
                    offset,
                    format!("block belongs to inode {owner}, expected {}", self.ino),
                ));
            }
        }
        let found_level = be::u16(&buf, 4);
        if found_level != level {
            return Err(self.err(
                offset,
                format!("B+tree block is at level {found_level}, expected {level}"),
            ));
        }
        let numrecs = usize::from(be::u16(&buf, 6));
        let avail = bs - hdr;
        if level == 0 {
            if numrecs == 0 || numrecs > avail / REC {
                return Err(self.err(
                    offset,
                    format!(
                        "leaf holds {numrecs} records, expected 1 to {}",
                        avail / REC
                    ),
                ));
            }
            for i in 0..numrecs {
                let at = hdr + i * REC;
                self.record(&buf[at..at + REC], offset + at as u64)?;
            }
        } else {
            let maxrecs = avail / 16;
            if numrecs == 0 || numrecs > maxrecs {
                return Err(self.err(
                    offset,
                    format!("node holds {numrecs} pointers, expected 1 to {maxrecs}"),
                ));
            }
            let ptrs = hdr + maxrecs * 8;
            for i in 0..numrecs {
                let at = ptrs + i * 8;
                let child = be::u64(&buf, at);
                self.node(child, level - 1, offset + at as u64)?;
            }
        }
        Ok(())
    }
}

/// All extents of `inode`'s data fork, sorted by file block, checked to lie inside the
/// filesystem and not to overlap.
pub(crate) fn extents(
    dev: &dyn ReadAt,
    sb: &Superblock,
    inode: &Inode,
    verify_crc: bool,
) -> Result<Vec<Extent>> {
    if inode.realtime {
        return Err(Error::Unsupported {
            feature: format!("realtime file data (inode {})", inode.ino),
        });
    }
    if inode.nextents > MAX_EXTENTS {
        return Err(Error::TooLarge {
            what: "extent count",
            ino: inode.ino,
            found: inode.nextents,
            limit: MAX_EXTENTS,
        });
    }
    let mut walk = Walk {
        dev,
        sb,
        ino: inode.ino,
        verify_crc,
        out: Vec::new(),
        limit: inode.nextents,
        visited: HashSet::new(),
    };
    let fork = &inode.fork;
    match inode.format {
        Format::Extents => {
            let n = inode.nextents as usize;
            if n > fork.len() / REC {
                return Err(inode.error(format!(
                    "declares {n} extents, but its data fork holds at most {}",
                    fork.len() / REC
                )));
            }
            walk.out.reserve(n);
            for i in 0..n {
                let at = i * REC;
                walk.record(&fork[at..at + REC], inode.fork_offset + at as u64)?;
            }
        }
        Format::Btree => {
            // The root (xfs_bmdr_block): level, numrecs, then keys and pointers sized for the
            // whole fork.
            if fork.len() < 4 + 16 {
                return Err(inode.error(format!(
                    "data fork of {} bytes is too small for a B+tree root",
                    fork.len()
                )));
            }
            let level = be::u16(fork, 0);
            let numrecs = usize::from(be::u16(fork, 2));
            let maxrecs = (fork.len() - 4) / 16;
            if level == 0 || level > MAX_LEVELS {
                return Err(inode.error(format!(
                    "B+tree root level is {level}, expected 1 to {MAX_LEVELS}"
                )));
            }
            if numrecs == 0 || numrecs > maxrecs {
                return Err(inode.error(format!(
                    "B+tree root holds {numrecs} pointers, expected 1 to {maxrecs}"
                )));
            }
            let ptrs = 4 + maxrecs * 8;
            for i in 0..numrecs {
                let at = ptrs + i * 8;
                let child = be::u64(fork, at);
                walk.node(child, level - 1, inode.fork_offset + at as u64)?;
            }
        }
        Format::Local | Format::Dev => {
            return Err(inode.error("data fork holds no block map".into()));
        }
    }
    if walk.out.len() as u64 != inode.nextents {
        return Err(inode.error(format!(
            "block map holds {} extents, the inode declares {}",
            walk.out.len(),
            inode.nextents
        )));
    }
    Ok(walk.out)
}

/// Index of the extent containing file block `fb`, or of the first extent after it.
pub(crate) fn find(extents: &[Extent], fb: u64) -> usize {
    extents.partition_point(|e| e.end() <= fb)
}
