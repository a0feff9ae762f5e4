//! Replaying committed transactions into an [`Overlay`], item by item, as the kernel's
//! `xlog_recover_*_commit_pass1/2` functions do: buffer items (regular, inode and dquot
//! buffers, cancellations), inode items (core, data and attribute forks, device numbers),
//! inode-creation items, and the bookkeeping of intent and done items.

use std::collections::HashMap;

use imgprep_io::ReadAt;

use super::find::Range;
use super::record::{Committer, Item, Pass, Trans, do_pass};
use super::{Fail, LogDev, R, bad};
use crate::crc;
use crate::overlay::{BB, Overlay};
use crate::sb::Superblock;

const LI_EFI: u16 = 0x1236;
const LI_EFD: u16 = 0x1237;
const LI_INODE: u16 = 0x123b;
const LI_BUF: u16 = 0x123c;
const LI_DQUOT: u16 = 0x123d;
const LI_QUOTAOFF: u16 = 0x123e;
const LI_ICREATE: u16 = 0x123f;
const LI_RUI: u16 = 0x1240;
const LI_RUD: u16 = 0x1241;
const LI_CUI: u16 = 0x1242;
const LI_CUD: u16 = 0x1243;
const LI_BUI: u16 = 0x1244;
const LI_BUD: u16 = 0x1245;
const LI_ATTRI: u16 = 0x1246;
const LI_ATTRD: u16 = 0x1247;
const LI_XMI: u16 = 0x1248;
const LI_XMD: u16 = 0x1249;
const LI_EFI_RT: u16 = 0x124a;
const LI_EFD_RT: u16 = 0x124b;
const LI_RUI_RT: u16 = 0x124c;
const LI_RUD_RT: u16 = 0x124d;
const LI_CUI_RT: u16 = 0x124e;
const LI_CUD_RT: u16 = 0x124f;

/// Intent item types, the done item type that finishes each, and how they are named.
const INTENTS: [(u16, u16, &str); 9] = [
    (LI_EFI, LI_EFD, "extent-free"),
    (LI_RUI, LI_RUD, "reverse-mapping"),
    (LI_CUI, LI_CUD, "reference-count"),
    (LI_BUI, LI_BUD, "block-mapping"),
    (LI_ATTRI, LI_ATTRD, "extended-attribute"),
    (LI_XMI, LI_XMD, "mapping-exchange"),
    (LI_EFI_RT, LI_EFD_RT, "realtime extent-free"),
    (LI_RUI_RT, LI_RUD_RT, "realtime reverse-mapping"),
    (LI_CUI_RT, LI_CUD_RT, "realtime reference-count"),
];

const BLF_INODE_BUF: u16 = 0x1;
const BLF_CANCEL: u16 = 0x2;
const BLF_DQUOT_BUF: u16 = 0x4 | 0x8 | 0x10;
const BLFT_SHIFT: u16 = 11;
const BLF_CHUNK: usize = 128;
/// Words in a buffer item's dirty bitmap (`XFS_BLF_DATAMAP_SIZE`).
const BLF_DATAMAP_WORDS: usize = 17;
/// Largest buffer one buffer item describes (64 KiB, the largest block).
const MAX_BUF_BBS: u64 = 128;

const ILOG_DDATA: u32 = 0x002;
const ILOG_DEXT: u32 = 0x004;
const ILOG_DBROOT: u32 = 0x008;
const ILOG_DEV: u32 = 0x010;
const ILOG_ADATA: u32 = 0x040;
const ILOG_AEXT: u32 = 0x080;
const ILOG_ABROOT: u32 = 0x100;
const ILOG_DOWNER: u32 = 0x200;
const ILOG_AOWNER: u32 = 0x400;
const ILOG_DFORK: u32 = ILOG_DDATA | ILOG_DEXT | ILOG_DBROOT;
const ILOG_AFORK: u32 = ILOG_ADATA | ILOG_AEXT | ILOG_ABROOT;

const DINODE_MAGIC: u16 = 0x494e;
const DI_NEXT_UNLINKED: usize = 96;
const DI_CRC: usize = 100;
const DI_LSN: usize = 112;
const DI_MAX_FLUSH: u16 = 0xffff;
const DIFLAG2_BIGTIME: u64 = 0x8;
const DIFLAG2_NREXT64: u64 = 0x10;
const DIFLAG2_METADATA: u64 = 1 << 63;
const S_IFMT: u16 = 0o170000;
const S_IFREG: u16 = 0o100000;
const S_IFDIR: u16 = 0o040000;
const FMT_LOCAL: u8 = 1;
const FMT_EXTENTS: u8 = 2;
const FMT_BTREE: u8 = 3;
const NULLAGINO: u32 = 0xffff_ffff;

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn le64(b: &[u8], o: usize) -> u64 {
    u64::from(le32(b, o)) | u64::from(le32(b, o + 4)) << 32
}
fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn be64(b: &[u8], o: usize) -> u64 {
    u64::from(be32(b, o)) << 32 | u64::from(be32(b, o + 4))
}
fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}
fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_be_bytes());
}

/// How the kernel's write verifier of a buffer type stamps it: where its LSN and CRC are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    /// Short-form B+tree block (free space, inode, reverse-mapping, refcount trees).
    ShortBtree,
    /// Long-form B+tree block (block-map trees).
    LongBtree,
    Agf,
    Agfl,
    Agi,
    Sb,
    Symlink,
    /// Directory block, data or free-index block (`xfs_dir3_blk_hdr`).
    Dir3,
    /// Directory leaf, dabtree node or attribute leaf (`xfs_da3_blkinfo`).
    Da3,
    /// Remote attribute value blocks, one header per filesystem block.
    AttrRemote,
}

impl Stamp {
    /// (LSN offset, CRC offset) within the buffer (or within each block for remote values).
    fn offsets(self) -> (usize, usize) {
        match self {
            Stamp::ShortBtree => (24, 52),
            Stamp::LongBtree => (32, 64),
            Stamp::Agf => (208, 216),
            Stamp::Agfl => (24, 32),
            Stamp::Agi => (320, 312),
            Stamp::Sb => (240, 224),
            Stamp::Symlink => (48, 12),
            Stamp::Dir3 => (16, 4),
            Stamp::Da3 => (24, 12),
            Stamp::AttrRemote => (48, 12),
        }
    }

    /// Writes `lsn` and the CRC into `buf`, as the write verifier does.
    fn apply(self, buf: &mut [u8], lsn: u64, blocksize: usize) {
        let (lsn_at, crc_at) = self.offsets();
        let chunks: Vec<&mut [u8]> = if self == Stamp::AttrRemote {
            buf.chunks_mut(blocksize).collect()
        } else {
            vec![buf]
        };
        for chunk in chunks {
            if chunk.len() < lsn_at + 8 || chunk.len() < crc_at + 4 {
                continue;
            }
            put64(chunk, lsn_at, lsn);
            let c = crc::xfs_cksum(chunk, crc_at);
            chunk[crc_at..crc_at + 4].copy_from_slice(&c.to_le_bytes());
        }
    }
}

/// The verifier the kernel attaches to a replayed v5 buffer of type `blft`, if its magic
/// matches the type (`xlog_recover_validate_buf_type`).
fn stamp_for(blft: u16, buf: &[u8]) -> Option<Stamp> {
    if buf.len() < 12 {
        return None;
    }
    let m32 = be32(buf, 0);
    let mda = be16(buf, 8);
    Some(match blft {
        4 => match m32 {
            0x4142_3342 | 0x4142_5442 | 0x4142_3343 | 0x4142_5443 | 0x4941_4233 | 0x4941_4254
            | 0x4649_4233 | 0x4649_4254 | 0x524d_4233 | 0x5233_4643 => Stamp::ShortBtree,
            0x424d_4133 | 0x424d_4150 => Stamp::LongBtree,
            _ => return None,
        },
        5 if m32 == 0x5841_4746 => Stamp::Agf,
        6 if m32 == 0x5841_464c => Stamp::Agfl,
        7 if m32 == 0x5841_4749 => Stamp::Agi,
        9 if m32 == 0x5853_4c4d => Stamp::Symlink,
        10 if m32 == 0x5844_3242 || m32 == 0x5844_4233 => Stamp::Dir3,
        11 if m32 == 0x5844_3244 || m32 == 0x5844_4433 => Stamp::Dir3,
        12 if m32 == 0x5844_3246 || m32 == 0x5844_4633 => Stamp::Dir3,
        13 if mda == 0xd2f1 || mda == 0x3df1 => Stamp::Da3,
        14 if mda == 0xd2ff || mda == 0x3dff => Stamp::Da3,
        15 if mda == 0xfebe || mda == 0x3ebe => Stamp::Da3,
        16 if mda == 0xfbee || mda == 0x3bee => Stamp::Da3,
        17 if m32 == 0x5841_524d => Stamp::AttrRemote,
        18 if m32 == 0x5846_5342 => Stamp::Sb,
        _ => return None,
    })
}

/// The LSN of the metadata in `buf` as it is now, or `None` when it has none this check
/// trusts (`xlog_recover_get_buf_lsn`, v5 only).
fn buf_lsn(sb: &Superblock, buf: &[u8]) -> Option<u64> {
    if !sb.v5 || buf.len() < 512 {
        return None;
    }
    let m32 = be32(buf, 0);
    let (lsn_at, uuid_at) = match m32 {
        0x4142_3342 | 0x4142_3343 | 0x4142_5442 | 0x4142_5443 | 0x524d_4233 | 0x5233_4643
        | 0x4649_4233 | 0x4649_4254 | 0x4941_4233 | 0x4941_4254 => (24, 32),
        0x424d_4133 | 0x424d_4150 => (32, 40),
        0x5841_4746 => (208, 64),
        0x5841_464c => (24, 8),
        0x5841_4749 => (320, 296),
        0x5853_4c4d => (48, 16),
        0x5844_4233 | 0x5844_4433 | 0x5844_4633 => (16, 24),
        0x5841_524d => return None, // remote attribute values are written synchronously
        0x5846_5342 => {
            let uuid_at = if sb.uuid != sb.meta_uuid { 248 } else { 32 };
            (240, uuid_at)
        }
        _ => {
            let mda = be16(buf, 8);
            if matches!(mda, 0x3df1 | 0x3dff | 0x3ebe) {
                if buf[32..48] != sb.uuid {
                    return None;
                }
                return Some(be64(buf, 24));
            }
            return None;
        }
    };
    if buf[uuid_at..uuid_at + 16] != sb.meta_uuid {
        return None;
    }
    Some(be64(buf, lsn_at))
}

/// `lsn` is a real LSN at or after `current`.
fn newer(lsn: u64, current: u64, or_equal: bool) -> bool {
    lsn != 0
        && lsn != u64::MAX
        && if or_equal {
            lsn >= current
        } else {
            lsn > current
        }
}

/// Sets of bits in a buffer item's dirty bitmap: the first set bit at or after `from`.
fn next_bit(map: &[u32], from: usize) -> Option<usize> {
    (from..map.len() * 32).find(|&b| map[b / 32] & (1 << (b % 32)) != 0)
}

/// Set bits from `from` on, up to the first clear one.
fn contig_bits(map: &[u32], from: usize) -> usize {
    (from..map.len() * 32)
        .take_while(|&b| map[b / 32] & (1 << (b % 32)) != 0)
        .count()
}

/// The decoded format header of a buffer item.
struct BufFormat {
    flags: u16,
    len: u64,
    blkno: i64,
    map: Vec<u32>,
}

/// `xfs_buf_log_check_iovec` and the fields recovery uses.
fn buf_format(item: &Item) -> R<BufFormat> {
    let r = &item.regions[0];
    if r.len() < 20 {
        return Err(bad(format!(
            "buffer log item format is {} bytes, expected at least 20",
            r.len()
        )));
    }
    let map_size = le32(r, 16) as usize;
    if map_size > BLF_DATAMAP_WORDS || r.len() < 20 + 4 * map_size {
        return Err(bad(format!(
            "buffer log item bitmap of {map_size} words does not fit its {}-byte format",
            r.len()
        )));
    }
    Ok(BufFormat {
        flags: le16(r, 4),
        len: u64::from(le16(r, 6)),
        blkno: le64(r, 8) as i64,
        map: (0..map_size).map(|i| le32(r, 20 + 4 * i)).collect(),
    })
}

/// Inode allocation geometry (`xfs_ino_geometry`) for inode-creation items.
struct InodeGeometry {
    /// Blocks per inode cluster buffer.
    blocks_per_cluster: u64,
    /// Blocks of a full inode chunk, and of the smallest sparse one.
    ialloc_blks: u64,
    ialloc_min_blks: u64,
}

impl InodeGeometry {
    fn new(sb: &Superblock) -> InodeGeometry {
        let blocksize = u64::from(sb.blocksize);
        let mut cluster = 8192u64;
        if sb.v5 {
            let bigger = cluster * u64::from(sb.inodesize) / 256;
            if u64::from(sb.inoalignmt) >= bigger / blocksize {
                cluster = bigger;
            }
        }
        let blocks_per_cluster = if blocksize >= cluster {
            1
        } else {
            cluster / blocksize
        };
        let inopblock = blocksize >> u32::from(sb.blocklog - sb.inopblog);
        let ialloc_inos = 64u64.max(inopblock);
        let ialloc_blks = ialloc_inos >> sb.inopblog;
        let ialloc_min_blks = if sb.sparse_inodes {
            u64::from(sb.spino_align)
        } else {
            ialloc_blks
        };
        InodeGeometry {
            blocks_per_cluster,
            ialloc_blks,
            ialloc_min_blks,
        }
    }
}

/// Where the two passes stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Pass 1: collect buffer cancellations.
    Cancels,
    /// Pass 2: replay.
    Replay,
}

/// The state of a replay.
struct Replayer<'a> {
    sb: &'a Superblock,
    dev: &'a dyn ReadAt,
    stage: Stage,
    geo: InodeGeometry,
    /// Buffer cancellations: (daddr, length) → cancel records still to meet in pass 2.
    cancels: HashMap<(i64, u64), u32>,
    overlay: Overlay,
    /// Buffers replayed since the last write point: (daddr, length) → (verifier, LSN).
    dirty: HashMap<(u64, u64), (Stamp, u64)>,
    /// Intents not yet finished: (type, id) → how many.
    intents: HashMap<(u16, u64), u64>,
    transactions: u64,
}

impl<'a> Replayer<'a> {
    fn new(sb: &'a Superblock, dev: &'a dyn ReadAt) -> Replayer<'a> {
        Replayer {
            sb,
            dev,
            stage: Stage::Cancels,
            geo: InodeGeometry::new(sb),
            cancels: HashMap::new(),
            overlay: Overlay::default(),
            dirty: HashMap::new(),
            intents: HashMap::new(),
            transactions: 0,
        }
    }

    fn overlay_write(&mut self, daddr: u64, buf: &[u8]) -> R<()> {
        self.overlay.write(daddr, buf).map_err(Fail::Fatal)
    }

    /// Checks that a buffer lies inside the filesystem and is not too large to replay.
    fn check_buf(&self, what: &str, blkno: i64, len: u64) -> R<u64> {
        let fs = self.sb.fs_bbs();
        if blkno < 0 || len == 0 || len > MAX_BUF_BBS || blkno as u64 + len > fs {
            return Err(bad(format!(
                "{what} names {len} basic blocks at basic block {blkno}, outside the \
                 filesystem's {fs} (or longer than {MAX_BUF_BBS})"
            )));
        }
        Ok(blkno as u64)
    }

    /// The kernel writes the buffers replayed so far, which stamps their LSN and CRC.
    fn flush(&mut self) -> R<()> {
        let dirty = std::mem::take(&mut self.dirty);
        for ((daddr, len), (stamp, lsn)) in dirty {
            let mut buf = self
                .overlay
                .read(self.dev, daddr, len)
                .map_err(Fail::Fatal)?;
            stamp.apply(&mut buf, lsn, self.sb.blocksize as usize);
            self.overlay_write(daddr, &buf)?;
        }
        Ok(())
    }

    fn is_cancelled(&self, blkno: i64, len: u64) -> bool {
        self.cancels.contains_key(&(blkno, len))
    }

    /// Pass 1 of a buffer item: record cancellations.
    fn buf_pass1(&mut self, item: &Item) -> R<()> {
        let f = buf_format(item)?;
        if f.flags & BLF_CANCEL != 0 {
            *self.cancels.entry((f.blkno, f.len)).or_insert(0) += 1;
        }
        Ok(())
    }

    /// Pass 2 of a buffer item (`xlog_recover_buf_commit_pass2`).
    fn buf_pass2(&mut self, item: &Item, lsn: u64) -> R<()> {
        let f = buf_format(item)?;
        let key = (f.blkno, f.len);
        if f.flags & BLF_CANCEL != 0 {
            if let Some(n) = self.cancels.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.cancels.remove(&key);
                }
                return Ok(());
            }
        } else if self.is_cancelled(f.blkno, f.len) {
            return Ok(());
        }
        let daddr = self.check_buf("buffer log item", f.blkno, f.len)?;
        let mut buf = self
            .overlay
            .read(self.dev, daddr, f.len)
            .map_err(Fail::Fatal)?;
        if buf_lsn(self.sb, &buf).is_some_and(|l| newer(l, lsn, true)) {
            return Ok(()); // the buffer on disk is newer than this change
        }
        if f.flags & BLF_INODE_BUF != 0 {
            self.inode_buffer(item, &f, &mut buf)?;
        } else if f.flags & BLF_DQUOT_BUF != 0 {
            // Quotas are not enabled when mounting without quota options: dquot buffers are
            // not replayed.
            return Ok(());
        } else {
            reg_buffer(item, &f, &mut buf)?;
            if self.sb.v5
                && let Some(stamp) = stamp_for(f.flags >> BLFT_SHIFT, &buf)
            {
                self.dirty.insert((daddr, f.len), (stamp, lsn));
            }
        }
        self.overlay_write(daddr, &buf)
    }

    /// Only the logged `di_next_unlinked` fields of an inode buffer are replayed
    /// (`xlog_recover_do_inode_buffer`).
    fn inode_buffer(&self, item: &Item, f: &BufFormat, buf: &mut [u8]) -> R<()> {
        let isize = usize::from(self.sb.inodesize);
        let (mut index, mut bit, mut nbits) = (0usize, 0usize, 0usize);
        let (mut reg_off, mut reg_bytes) = (0usize, 0usize);
        for i in 0..buf.len() / isize {
            let at = i * isize + DI_NEXT_UNLINKED;
            while at >= reg_off + reg_bytes {
                bit += nbits;
                let Some(b) = next_bit(&f.map, bit) else {
                    return Ok(());
                };
                bit = b;
                nbits = contig_bits(&f.map, bit);
                reg_off = bit * BLF_CHUNK;
                reg_bytes = nbits * BLF_CHUNK;
                index += 1;
            }
            if at < reg_off {
                continue;
            }
            let logged = item
                .regions
                .get(index)
                .and_then(|r| r.get(at - reg_off..at - reg_off + 4))
                .ok_or_else(|| {
                    bad(format!(
                        "inode buffer log item at basic block {} lacks the logged unlinked \
                         pointer of its inode {i}",
                        f.blkno
                    ))
                })?;
            if logged == [0; 4] {
                return Err(bad(format!(
                    "inode buffer log item at basic block {} replays a zero unlinked pointer",
                    f.blkno
                )));
            }
            let Some(dst) = buf.get_mut(at..at + 4) else {
                return Ok(());
            };
            dst.copy_from_slice(logged);
            if self.sb.v5 {
                let inode = &mut buf[i * isize..(i + 1) * isize];
                let c = crc::xfs_cksum(inode, DI_CRC);
                inode[DI_CRC..DI_CRC + 4].copy_from_slice(&c.to_le_bytes());
            }
        }
        Ok(())
    }

    /// Pass 2 of an inode item (`xlog_recover_inode_commit_pass2`).
    fn inode_pass2(&mut self, item: &Item, lsn: u64) -> R<()> {
        let r0 = &item.regions[0];
        // The 64-bit format has 4 bytes of padding after the fork sizes; the packed 32-bit
        // one does not.
        let (fields, ino, rdev, blkno, len, boffset) = match r0.len() {
            56 => (
                le32(r0, 4),
                le64(r0, 16),
                le32(r0, 24),
                le64(r0, 40) as i64,
                le32(r0, 48) as i32,
                le32(r0, 52) as i32,
            ),
            52 => (
                le32(r0, 4),
                le64(r0, 12),
                le32(r0, 20),
                le64(r0, 36) as i64,
                le32(r0, 44) as i32,
                le32(r0, 48) as i32,
            ),
            n => {
                return Err(bad(format!(
                    "inode log item format is {n} bytes, expected 52 or 56"
                )));
            }
        };
        let nregions = le16(r0, 2);
        if len <= 0 || self.is_cancelled(blkno, len as u64) {
            return Ok(());
        }
        let what = format!("inode {ino} log item");
        let daddr = self.check_buf(&what, blkno, len as u64)?;
        let isize = usize::from(self.sb.inodesize);
        let off = usize::try_from(boffset).unwrap_or(usize::MAX);
        let buf_len = len as usize * BB as usize;
        if off.checked_add(isize).is_none_or(|e| e > buf_len) {
            return Err(bad(format!(
                "{what} puts the inode at offset {boffset} of a {buf_len}-byte buffer"
            )));
        }
        // Only the sectors of this inode change: read and write just those.
        let first = (off / BB as usize) as u64;
        let sectors = (off + isize).div_ceil(BB as usize) as u64 - first;
        let mut buf = self
            .overlay
            .read(self.dev, daddr + first, sectors)
            .map_err(Fail::Fatal)?;
        let at = off - (first * BB) as usize;
        let dip = &mut buf[at..at + isize];
        if be16(dip, 0) != DINODE_MAGIC {
            return Err(bad(format!(
                "{what}: the inode at basic block {blkno} + {boffset} has magic {:#06x}, \
                 expected 0x494e",
                be16(dip, 0)
            )));
        }
        let Some(ld) = item.regions.get(1) else {
            return Err(bad(format!("{what} has no inode core")));
        };
        if ld.len() < 2 || le16(ld, 0) != DINODE_MAGIC {
            return Err(bad(format!(
                "{what}: the logged inode core has no \"IN\" magic"
            )));
        }
        if fields & (ILOG_DOWNER | ILOG_AOWNER) != 0 {
            return Err(bad(format!(
                "{what} changes the owner of its fork's block map (an extent swap), which this \
                 reader does not replay"
            )));
        }
        if dip[4] >= 3 && newer(be64(dip, DI_LSN), lsn, false) {
            return Ok(()); // the inode on disk is newer
        }
        let core = if self.sb.v5 { 176 } else { 96 };
        if ld.len() < 96 || ld.len() > core {
            return Err(bad(format!(
                "{what}: the logged inode core is {} bytes, expected 96 to {core}",
                ld.len()
            )));
        }
        let version = ld[4];
        if version >= 3 && ld.len() < 176 {
            return Err(bad(format!(
                "{what}: a version 3 inode core of only {} bytes",
                ld.len()
            )));
        }
        if !self.sb.v5 {
            let logged = le16(ld, 30);
            let on_disk = be16(dip, 30);
            if logged < on_disk && !(on_disk == DI_MAX_FLUSH && logged < DI_MAX_FLUSH >> 1) {
                return Ok(()); // flushed since: the inode on disk is newer
            }
        }
        let mode = le16(ld, 2);
        let format = ld[5];
        let bad_format = match mode & S_IFMT {
            S_IFREG => format != FMT_EXTENTS && format != FMT_BTREE,
            S_IFDIR => !matches!(format, FMT_LOCAL | FMT_EXTENTS | FMT_BTREE),
            _ => false,
        };
        if bad_format {
            return Err(bad(format!(
                "{what}: data fork format {format} does not fit mode {mode:#o}"
            )));
        }
        let flags2 = if version >= 3 { le64(ld, 120) } else { 0 };
        let nrext64 = version >= 3 && flags2 & DIFLAG2_NREXT64 != 0;
        let (nextents, anextents) = if nrext64 {
            if !self.sb.nrext64 || le16(ld, 80) != 0 {
                return Err(bad(format!("{what}: bad large extent counters")));
            }
            (le64(ld, 24), u64::from(le32(ld, 76)))
        } else {
            if version >= 3 && le64(ld, 24) != 0 {
                return Err(bad(format!("{what}: non-zero padding in the inode core")));
            }
            (u64::from(le32(ld, 76)), u64::from(le16(ld, 80)))
        };
        if nextents.saturating_add(anextents) > le64(ld, 64) {
            return Err(bad(format!(
                "{what}: {nextents} + {anextents} extents in {} blocks",
                le64(ld, 64)
            )));
        }
        let forkoff = usize::from(ld[82]);
        if forkoff > isize {
            return Err(bad(format!("{what}: attribute fork offset {forkoff}")));
        }
        log_dinode_to_disk(ld, dip, lsn);
        let dptr = if version >= 3 { 176 } else { 100 };
        if dptr > isize {
            return Err(bad(format!(
                "{what}: a version {version} inode in {isize} bytes"
            )));
        }
        let literal = isize - dptr;
        if forkoff * 8 > literal {
            return Err(bad(format!(
                "{what}: attribute fork offset {} past the {literal}-byte literal area",
                forkoff * 8
            )));
        }
        let (dsize, aptr, asize) = if forkoff == 0 {
            (literal, isize, 0)
        } else {
            (forkoff * 8, dptr + forkoff * 8, literal - forkoff * 8)
        };
        if fields & ILOG_DEV != 0 {
            put32(dip, dptr, rdev);
        }
        if nregions > 2 {
            let Some(src) = item.regions.get(2) else {
                return Err(bad(format!("{what} lacks its fork region")));
            };
            match fields & ILOG_DFORK {
                ILOG_DDATA | ILOG_DEXT => copy_fork(&what, dip, dptr, dsize, src)?,
                ILOG_DBROOT => bmbt_to_bmdr(&what, self.sb, src, &mut dip[dptr..dptr + dsize])?,
                _ => {}
            }
            if fields & ILOG_AFORK != 0 {
                let index = if fields & ILOG_DFORK != 0 { 3 } else { 2 };
                let Some(src) = item.regions.get(index) else {
                    return Err(bad(format!("{what} lacks its attribute fork region")));
                };
                match fields & ILOG_AFORK {
                    ILOG_ADATA | ILOG_AEXT => copy_fork(&what, dip, aptr, asize, src)?,
                    ILOG_ABROOT => bmbt_to_bmdr(&what, self.sb, src, &mut dip[aptr..aptr + asize])?,
                    other => {
                        return Err(bad(format!(
                            "{what} logs attribute fork flags {other:#x} together"
                        )));
                    }
                }
            }
        }
        if self.sb.v5 {
            let c = crc::xfs_cksum(dip, DI_CRC);
            dip[DI_CRC..DI_CRC + 4].copy_from_slice(&c.to_le_bytes());
        }
        self.overlay_write(daddr + first, &buf)
    }

    /// Pass 2 of an inode-creation item: initialise the new inode clusters
    /// (`xlog_recover_icreate_commit_pass2`, `xfs_ialloc_inode_init`).
    fn icreate_pass2(&mut self, item: &Item) -> R<()> {
        let r = &item.regions[0];
        if r.len() < 28 {
            return Err(bad(format!(
                "inode-creation log item is {} bytes, expected 28",
                r.len()
            )));
        }
        let sb = self.sb;
        let (agno, agbno, count, isize, length, generation) = (
            u64::from(be32(r, 4)),
            u64::from(be32(r, 8)),
            u64::from(be32(r, 12)),
            u64::from(be32(r, 16)),
            u64::from(be32(r, 20)),
            be32(r, 24),
        );
        let agblocks = u64::from(sb.agblocks);
        let valid = le16(r, 2) == 1
            && agno < u64::from(sb.agcount)
            && agbno != 0
            && agbno != u64::from(u32::MAX)
            && agbno < agblocks
            && isize == u64::from(sb.inodesize)
            && count != 0
            && length != 0
            && length < agblocks
            && (length == self.geo.ialloc_blks || length == self.geo.ialloc_min_blks)
            && count >> sb.inopblog == length
            && agbno + length <= agblocks;
        if !valid {
            return Err(bad(format!(
                "inode-creation log item for {count} inodes in {length} blocks at block {agbno} \
                 of group {agno} does not fit the filesystem"
            )));
        }
        let bpc = self.geo.blocks_per_cluster;
        let bb_per_cluster = bpc << (sb.blocklog - 9);
        let nbufs = length / bpc;
        let daddr = |c: u64| sb.agb_to_daddr(agno, agbno + c * bpc);
        let cancelled = (0..nbufs)
            .filter(|&c| self.is_cancelled(daddr(c) as i64, bb_per_cluster))
            .count();
        if cancelled != 0 {
            return Ok(());
        }
        let inodes_per_cluster = (bpc << sb.blocklog) / isize;
        for c in 0..nbufs {
            let mut buf = vec![0u8; (bb_per_cluster * BB) as usize];
            let first = ((agbno + c * bpc) << sb.inopblog) | agno << (sb.agblklog + sb.inopblog);
            for i in 0..inodes_per_cluster {
                let d = &mut buf[(i * isize) as usize..((i + 1) * isize) as usize];
                put16(d, 0, DINODE_MAGIC);
                d[4] = if sb.v5 { 3 } else { 2 };
                put32(d, 92, generation);
                put32(d, DI_NEXT_UNLINKED, NULLAGINO);
                if sb.v5 {
                    put64(d, 152, first + i);
                    d[160..176].copy_from_slice(&sb.meta_uuid);
                    let c = crc::xfs_cksum(d, DI_CRC);
                    d[DI_CRC..DI_CRC + 4].copy_from_slice(&c.to_le_bytes());
                }
            }
            self.overlay_write(daddr(c), &buf)?;
        }
        Ok(())
    }

    /// Intent and done items: remember what is left undone.
    fn intent(&mut self, kind: u16, item: &Item) -> R<()> {
        let r = &item.regions[0];
        if r.len() < 16 {
            return Err(bad(format!(
                "log item {kind:#x} is {} bytes, too short for its id",
                r.len()
            )));
        }
        let id = le64(r, 8);
        if let Some(&(intent, _, _)) = INTENTS.iter().find(|(_, done, _)| *done == kind) {
            if let Some(n) = self.intents.get_mut(&(intent, id)) {
                *n -= 1;
                if *n == 0 {
                    self.intents.remove(&(intent, id));
                }
            }
        } else {
            *self.intents.entry((kind, id)).or_insert(0) += 1;
        }
        Ok(())
    }

    /// Unfinished intents by kind.
    fn unfinished(&self) -> Vec<(&'static str, u64)> {
        INTENTS
            .iter()
            .filter_map(|(intent, _, name)| {
                let n: u64 = self
                    .intents
                    .iter()
                    .filter(|((k, _), _)| k == intent)
                    .map(|(_, n)| n)
                    .sum();
                (n > 0).then_some((*name, n))
            })
            .collect()
    }
}

impl Committer for Replayer<'_> {
    fn commit(&mut self, trans: Trans) -> R<()> {
        let items: Vec<&Item> = trans
            .items
            .iter()
            .filter(|i| !i.regions.is_empty())
            .collect();
        for item in &items {
            if item.regions.len() != item_total(item) {
                return Err(bad(format!(
                    "a committed log item has {} of its regions",
                    item.regions.len()
                )));
            }
        }
        let order = reorder(&items)?;
        for i in order {
            let item = items[i];
            let kind = item.kind().unwrap_or(0);
            match self.stage {
                Stage::Cancels => {
                    if kind == LI_BUF {
                        self.buf_pass1(item)?;
                    }
                }
                Stage::Replay => match kind {
                    LI_BUF => self.buf_pass2(item, trans.lsn)?,
                    LI_INODE => self.inode_pass2(item, trans.lsn)?,
                    LI_ICREATE => self.icreate_pass2(item)?,
                    LI_DQUOT | LI_QUOTAOFF => {}
                    k => self.intent(k, item)?,
                },
            }
        }
        if self.stage == Stage::Replay {
            self.transactions += 1;
        }
        Ok(())
    }

    fn lsn_changed(&mut self) -> R<()> {
        if self.stage == Stage::Replay {
            self.flush()?;
        }
        Ok(())
    }
}

fn item_total(item: &Item) -> usize {
    item.regions
        .first()
        .filter(|r| r.len() >= 4)
        .map_or(0, |r| usize::from(le16(r, 2)))
}

/// Replay order within a transaction (`xlog_recover_reorder_trans`): buffers (and inode
/// creations) first, then other items, then inode unlink buffers, then cancellations; the
/// kernel moves the last two kinds to the head of their lists.
fn reorder(items: &[&Item]) -> R<Vec<usize>> {
    let mut lists: [Vec<usize>; 4] = Default::default();
    for (i, item) in items.iter().enumerate() {
        let Some(kind) = item.kind() else {
            return Err(bad("log item without a format header"));
        };
        let slot = match kind {
            LI_BUF => {
                let f = buf_format(item)?;
                if f.flags & BLF_CANCEL != 0 {
                    3
                } else if f.flags & BLF_INODE_BUF != 0 {
                    2
                } else {
                    0
                }
            }
            LI_ICREATE => 0,
            LI_INODE | LI_DQUOT | LI_QUOTAOFF => 1,
            k if INTENTS.iter().any(|(a, b, _)| *a == k || *b == k) => 1,
            k => return Err(bad(format!("log item of unknown type {k:#06x}"))),
        };
        if slot >= 2 {
            lists[slot].insert(0, i);
        } else {
            lists[slot].push(i);
        }
    }
    Ok(lists.concat())
}

/// Copies a logged fork into the inode, refusing one larger than the fork's space.
fn copy_fork(what: &str, dip: &mut [u8], at: usize, space: usize, src: &[u8]) -> R<()> {
    if src.len() > space {
        return Err(bad(format!(
            "{what}: a {}-byte logged fork does not fit its {space}-byte fork",
            src.len()
        )));
    }
    dip[at..at + src.len()].copy_from_slice(src);
    Ok(())
}

/// Converts a logged in-memory block-map root (a long-form B+tree block) into the on-disk
/// root in the inode fork `dst` (`xfs_bmbt_to_bmdr`).
fn bmbt_to_bmdr(what: &str, sb: &Superblock, src: &[u8], dst: &mut [u8]) -> R<()> {
    let hdr = if sb.v5 { 72 } else { 24 };
    if src.len() < hdr || dst.len() < 4 {
        return Err(bad(format!(
            "{what}: a {}-byte logged block-map root",
            src.len()
        )));
    }
    let level = be16(src, 4);
    let numrecs = usize::from(be16(src, 6));
    let src_max = (src.len() - hdr) / 16;
    let dst_max = (dst.len() - 4) / 16;
    if numrecs > src_max || numrecs > dst_max {
        return Err(bad(format!(
            "{what}: a block-map root of {numrecs} records, room for {} in the log and {} in \
             the fork",
            src_max, dst_max
        )));
    }
    put16(dst, 0, level);
    put16(dst, 2, numrecs as u16);
    let keys = hdr;
    let ptrs = hdr + src_max * 8;
    dst[4..4 + numrecs * 8].copy_from_slice(&src[keys..keys + numrecs * 8]);
    let tp = 4 + dst_max * 8;
    dst[tp..tp + numrecs * 8].copy_from_slice(&src[ptrs..ptrs + numrecs * 8]);
    Ok(())
}

/// Writes the logged (host-order) inode core `ld` into the on-disk inode `dip`
/// (`xfs_log_dinode_to_disk`).
fn log_dinode_to_disk(ld: &[u8], dip: &mut [u8], lsn: u64) {
    let version = ld[4];
    put16(dip, 0, le16(ld, 0));
    put16(dip, 2, le16(ld, 2));
    dip[4] = version;
    dip[5] = ld[5];
    let flags2 = if version >= 3 { le64(ld, 120) } else { 0 };
    put16(
        dip,
        6,
        if flags2 & DIFLAG2_METADATA != 0 {
            le16(ld, 6)
        } else {
            0
        },
    );
    put32(dip, 8, le32(ld, 8));
    put32(dip, 12, le32(ld, 12));
    put32(dip, 16, le32(ld, 16));
    put16(dip, 20, le16(ld, 20));
    put16(dip, 22, le16(ld, 22));
    let bigtime = version >= 3 && flags2 & DIFLAG2_BIGTIME != 0;
    for at in [32, 40, 48] {
        put_time(dip, ld, at, bigtime);
    }
    put64(dip, 56, le64(ld, 56));
    put64(dip, 64, le64(ld, 64));
    put32(dip, 72, le32(ld, 72));
    dip[82] = ld[82];
    dip[83] = ld[83];
    put32(dip, 84, le32(ld, 84));
    put16(dip, 88, le16(ld, 88));
    put16(dip, 90, le16(ld, 90));
    put32(dip, 92, le32(ld, 92));
    if version >= 3 {
        put64(dip, 104, le64(ld, 104));
        put_time(dip, ld, 144, bigtime);
        put64(dip, 120, flags2);
        put32(dip, 128, le32(ld, 128));
        put64(dip, 152, le64(ld, 152));
        put64(dip, DI_LSN, lsn);
        dip[132..144].fill(0);
        dip[160..176].copy_from_slice(&ld[160..176]);
        dip[24..32].fill(0);
    } else {
        // The flush counter restarts at zero.
        dip[24..30].fill(0);
        put16(dip, 30, 0);
    }
    if version >= 3 && flags2 & DIFLAG2_NREXT64 != 0 {
        put64(dip, 24, le64(ld, 24));
        put32(dip, 76, le32(ld, 76));
        put16(dip, 80, le16(ld, 80));
    } else {
        put32(dip, 76, le32(ld, 76));
        put16(dip, 80, le16(ld, 80));
    }
}

/// A logged timestamp at `at`: a 64-bit count with big timestamps, else two 32-bit halves.
fn put_time(dip: &mut [u8], ld: &[u8], at: usize, bigtime: bool) {
    if bigtime {
        put64(dip, at, le64(ld, at));
    } else {
        put32(dip, at, le32(ld, at));
        put32(dip, at + 4, le32(ld, at + 4));
    }
}

/// Copies every logged region of a regular buffer into place (`xlog_recover_do_reg_buffer`).
fn reg_buffer(item: &Item, f: &BufFormat, buf: &mut [u8]) -> R<()> {
    let mut bit = 0;
    let mut i = 1;
    while let Some(b) = next_bit(&f.map, bit) {
        bit = b;
        let mut nbits = contig_bits(&f.map, bit);
        let Some(src) = item.regions.get(i) else {
            return Err(bad(format!(
                "buffer log item at basic block {} has fewer regions than its bitmap marks",
                f.blkno
            )));
        };
        if src.len() < nbits * BLF_CHUNK {
            nbits = src.len() / BLF_CHUNK;
        }
        let (at, n) = (bit * BLF_CHUNK, nbits * BLF_CHUNK);
        if nbits == 0 || at + n > buf.len() {
            return Err(bad(format!(
                "buffer log item at basic block {} logs bytes {at}..{} of a {}-byte buffer",
                f.blkno,
                at + n,
                buf.len()
            )));
        }
        buf[at..at + n].copy_from_slice(&src[..n]);
        i += 1;
        bit += nbits;
    }
    Ok(())
}

/// What replaying the log did.
pub(crate) struct Replayed {
    pub(crate) transactions: u64,
    pub(crate) unfinished: Vec<(&'static str, u64)>,
    pub(crate) overlay: Overlay,
}

/// Runs both passes over `range`.
pub(crate) fn run(log: &LogDev<'_>, dev: &dyn ReadAt, range: Range) -> R<Replayed> {
    let mut r = Replayer::new(log.sb, dev);
    do_pass(log, range.head, range.tail, &mut Pass::Items(&mut r)).map_err(|f| f.fail)?;
    r.stage = Stage::Replay;
    do_pass(log, range.head, range.tail, &mut Pass::Items(&mut r)).map_err(|f| f.fail)?;
    r.flush()?;
    Ok(Replayed {
        transactions: r.transactions,
        unfinished: r.unfinished(),
        overlay: r.overlay,
    })
}
