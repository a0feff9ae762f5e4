//! Where a file's logical blocks live: extent trees (ext4) and block maps (ext2/3).
//!
//! Both answer "starting at logical block L, what is the longest run that is either one
//! contiguous stretch of device blocks or zeros (a hole or an unwritten extent)?", so reads cost
//! one tree descent per run and a seek costs the same as a read at the start.

use crate::Error;
use crate::fs::ExtFs;
use crate::inode::Inode;
use imgprep_io::le;

/// A run of logical blocks starting at the block asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run {
    /// `len` blocks stored contiguously from device block `phys`.
    Mapped { phys: u64, len: u64 },
    /// `len` blocks that read as zeros (a hole, or an extent allocated but never written).
    Zero { len: u64 },
}

const EXTENT_MAGIC: u16 = 0xf30a;
/// The deepest extent tree the kernel builds (`EXT4_MAX_EXTENT_DEPTH`).
const MAX_EXTENT_DEPTH: u16 = 5;
/// Extent lengths above this mark unwritten extents (`EXT_INIT_MAX_LEN`).
const INIT_MAX_LEN: u16 = 1 << 15;
/// Logical blocks an extent-mapped file can address.
const EXTENT_LOGICAL_LIMIT: u64 = 1 << 32;

impl ExtFs {
    /// The run of `inode`'s data starting at logical block `lblk`.
    pub(crate) fn map_block(&self, inode: &Inode, lblk: u64) -> Result<Run, Error> {
        if inode.has_flag(crate::inode::FL_EXTENTS) {
            self.map_extent(inode, lblk)
        } else {
            self.map_indirect(inode, lblk)
        }
    }

    fn map_extent(&self, inode: &Inode, lblk: u64) -> Result<Run, Error> {
        if lblk >= EXTENT_LOGICAL_LIMIT {
            return Ok(Run::Zero {
                len: u64::MAX - lblk,
            });
        }
        let bad = |offset: u64, detail: String| Error::Inode {
            ino: inode.ino,
            offset,
            detail,
        };
        let root = inode.i_block;
        let mut node: std::sync::Arc<[u8]> = std::sync::Arc::from(&root[..]);
        let mut node_offset = inode.offset + 0x28;
        // Exclusive end of the logical range the current node covers.
        let mut bound = EXTENT_LOGICAL_LIMIT;
        let mut expected_depth: Option<u16> = None;
        loop {
            let magic = le::u16(&node, 0);
            if magic != EXTENT_MAGIC {
                return Err(bad(
                    node_offset,
                    format!("extent node magic is {magic:#06x}, expected 0xf30a"),
                ));
            }
            let entries = usize::from(le::u16(&node, 2));
            let max = usize::from(le::u16(&node, 4));
            let depth = le::u16(&node, 6);
            if entries > max || 12 + 12 * max > node.len() {
                return Err(bad(
                    node_offset,
                    format!(
                        "extent node claims {entries} of {max} entries, more than its {} bytes hold",
                        node.len()
                    ),
                ));
            }
            match expected_depth {
                None if depth > MAX_EXTENT_DEPTH => {
                    return Err(bad(
                        node_offset,
                        format!("extent tree depth is {depth}, expected at most 5"),
                    ));
                }
                Some(want) if depth != want => {
                    return Err(bad(
                        node_offset,
                        format!("extent node depth is {depth}, expected {want} below its parent"),
                    ));
                }
                _ => {}
            }
            let entry = |i: usize| &node[12 + 12 * i..24 + 12 * i];
            if depth == 0 {
                let mut next_start = bound;
                for i in 0..entries {
                    let e = entry(i);
                    let start = u64::from(le::u32(e, 0));
                    let raw_len = le::u16(e, 4);
                    let (len, unwritten) = if raw_len > INIT_MAX_LEN {
                        (u64::from(raw_len - INIT_MAX_LEN), true)
                    } else {
                        (u64::from(raw_len), false)
                    };
                    if len == 0 {
                        return Err(bad(
                            node_offset + 12 + 12 * i as u64,
                            format!("extent for logical block {start} has length 0"),
                        ));
                    }
                    if (start..start + len).contains(&lblk) {
                        let left = start + len - lblk;
                        if unwritten {
                            return Ok(Run::Zero { len: left });
                        }
                        let phys = (u64::from(le::u16(e, 6)) << 32 | u64::from(le::u32(e, 8)))
                            + (lblk - start);
                        self.check_run(phys, left, inode, "extent")?;
                        return Ok(Run::Mapped { phys, len: left });
                    }
                    if start > lblk {
                        next_start = next_start.min(start);
                    }
                }
                return Ok(Run::Zero {
                    len: next_start - lblk,
                });
            }
            // Index node: follow the entry with the largest start at or below lblk.
            let mut chosen: Option<(u64, u64)> = None;
            let mut next_start = bound;
            for i in 0..entries {
                let e = entry(i);
                let start = u64::from(le::u32(e, 0));
                if start <= lblk {
                    if chosen.is_none_or(|(s, _)| start >= s) {
                        let child = u64::from(le::u16(e, 8)) << 32 | u64::from(le::u32(e, 4));
                        chosen = Some((start, child));
                    }
                } else {
                    next_start = next_start.min(start);
                }
            }
            let Some((_, child)) = chosen else {
                return Ok(Run::Zero {
                    len: next_start - lblk,
                });
            };
            bound = next_start;
            node =
                self.metadata_block(child, || format!("extent tree node of inode {}", inode.ino))?;
            node_offset = child.saturating_mul(self.sb.block_size);
            expected_depth = Some(depth - 1);
        }
    }

    /// Checks that device blocks `phys..phys + len` exist.
    pub(crate) fn check_run(
        &self,
        phys: u64,
        len: u64,
        inode: &Inode,
        what: &str,
    ) -> Result<(), Error> {
        match phys.checked_add(len) {
            Some(end) if phys != 0 && end <= self.sb.blocks_count => Ok(()),
            _ => Err(Error::BlockOutOfRange {
                block: phys,
                blocks_count: self.sb.blocks_count,
                what: format!("{what} of inode {} ({len} blocks)", inode.ino),
            }),
        }
    }

    /// ext2/ext3 block map: 12 direct pointers, then single, double and triple indirect blocks.
    fn map_indirect(&self, inode: &Inode, lblk: u64) -> Result<Run, Error> {
        let per_block = self.sb.block_size / 4;
        let (pointers, index, count): (std::sync::Arc<[u8]>, usize, usize) = if lblk < 12 {
            (std::sync::Arc::from(&inode.i_block[..]), lblk as usize, 12)
        } else {
            let mut rest = lblk - 12;
            let mut level = 1u32;
            let mut span = per_block;
            while rest >= span {
                rest -= span;
                level += 1;
                if level > 3 {
                    // Past what a block map can address: the rest reads as a hole.
                    return Ok(Run::Zero {
                        len: u64::MAX - lblk,
                    });
                }
                span *= per_block;
            }
            let top = u64::from(le::u32(&inode.i_block, (11 + level as usize) * 4));
            if top == 0 {
                return Ok(Run::Zero { len: span - rest });
            }
            let what = || format!("indirect block of inode {}", inode.ino);
            let mut block = self.metadata_block(top, what)?;
            let mut depth = level - 1;
            loop {
                let sub = per_block.pow(depth);
                let idx = (rest / sub % per_block) as usize;
                if depth == 0 {
                    break (block, idx, per_block as usize);
                }
                let ptr = u64::from(le::u32(&block, idx * 4));
                if ptr == 0 {
                    return Ok(Run::Zero {
                        len: sub - rest % sub,
                    });
                }
                block = self.metadata_block(ptr, what)?;
                depth -= 1;
            }
        };
        // Extend the run along this pointer array while it stays contiguous (or a hole).
        let first = u64::from(le::u32(&pointers, index * 4));
        let mut len = 1usize;
        while index + len < count {
            let next = u64::from(le::u32(&pointers, (index + len) * 4));
            let contiguous = if first == 0 {
                next == 0
            } else {
                next == first + len as u64
            };
            if !contiguous {
                break;
            }
            len += 1;
        }
        let len = len as u64;
        if first == 0 {
            return Ok(Run::Zero { len });
        }
        self.check_run(first, len, inode, "block map")?;
        Ok(Run::Mapped { phys: first, len })
    }
}
