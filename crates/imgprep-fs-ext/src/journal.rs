//! Journal replay in memory (jbd2, as ext3/ext4 use it).
//!
//! A filesystem marked `needs_recovery` has committed transactions in its journal that never
//! reached their home blocks. The kernel replays them when it mounts; this module finds the same
//! blocks (honouring revoke records and, with journal checksums, stopping at a commit block whose
//! checksum is wrong) and returns where the newest copy of each lives, without writing anything.

use crate::Error;
use crate::crc32c::crc32c;
use crate::fs::ExtFs;
use crate::map::Run;
use crate::superblock::{COMPAT_HAS_JOURNAL, SB_OFFSET};
use std::collections::{BTreeMap, HashMap};

const JBD2_MAGIC: u32 = 0xc03b_3998;
const BLOCK_DESCRIPTOR: u32 = 1;
const BLOCK_COMMIT: u32 = 2;
const BLOCK_SUPERBLOCK_V1: u32 = 3;
const BLOCK_SUPERBLOCK_V2: u32 = 4;
const BLOCK_REVOKE: u32 = 5;

const INCOMPAT_REVOKE: u32 = 0x1;
const INCOMPAT_64BIT: u32 = 0x2;
const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
const INCOMPAT_CSUM_V2: u32 = 0x8;
const INCOMPAT_CSUM_V3: u32 = 0x10;
const INCOMPAT_FAST_COMMIT: u32 = 0x20;

/// Longest journal replayed (e2fsprogs creates at most 10,240,000 blocks; 2^22 blocks is
/// 4 GiB of 1 KiB blocks or 16 GiB of 4 KiB blocks).
const MAX_JOURNAL_BLOCKS: u64 = 1 << 22;

const TAG_ESCAPE: u32 = 0x1;
const TAG_SAME_UUID: u32 = 0x2;
const TAG_LAST: u32 = 0x8;

/// Where the newest copy of a filesystem block lives in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JournalBlock {
    /// Device block holding the copy.
    phys: u64,
    /// The copy's first four bytes were zeroed because they equalled the journal magic.
    escaped: bool,
}

impl JournalBlock {
    /// Reads the block's newest contents into `buf` (one block long).
    pub(crate) fn read(&self, fs: &ExtFs, buf: &mut [u8]) -> Result<(), Error> {
        fs.dev.read_exact_at(self.phys * fs.sb.block_size, buf)?;
        if self.escaped
            && let Some(head) = buf.get_mut(..4)
        {
            head.copy_from_slice(&JBD2_MAGIC.to_be_bytes());
        }
        Ok(())
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// A block logged in a transaction: (filesystem block, journal block holding it, escaped).
type Write = (u64, u64, bool);

/// `a` comes after `b` in journal sequence order (`tid_gt`).
fn tid_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Replays the journal of a filesystem that needs recovery: the map from filesystem block to
/// the journal copy that supersedes it, and the number of committed transactions replayed.
pub(crate) fn replay(fs: &ExtFs) -> Result<(BTreeMap<u64, JournalBlock>, u64), Error> {
    let sb = &fs.sb;
    if sb.compat & COMPAT_HAS_JOURNAL == 0 {
        return Err(Error::Journal {
            offset: SB_OFFSET,
            detail: "the superblock says the journal needs recovery but there is no journal".into(),
        });
    }
    if sb.journal_inum == 0 {
        return Err(Error::Unsupported {
            what: "replaying an external ext journal device (the filesystem needs recovery)".into(),
        });
    }
    let jinode = fs.inode(u64::from(sb.journal_inum))?;
    let bs = sb.block_size;
    let journal_blocks = jinode.size / bs;
    let phys_of = |l: u64| -> Result<u64, Error> {
        match fs.map_block(&jinode, l)? {
            Run::Mapped { phys, .. } => Ok(phys),
            Run::Zero { .. } => Err(Error::Journal {
                offset: jinode.offset,
                detail: format!("journal block {l} is not allocated"),
            }),
        }
    };
    let read = |l: u64| -> Result<(Vec<u8>, u64), Error> {
        let phys = phys_of(l)?;
        let mut b = vec![0u8; bs as usize];
        fs.read_blocks(phys, 0, &mut b)?;
        Ok((b, phys * bs))
    };

    let (jsb, jsb_at) = read(0)?;
    let bad = |offset: u64, detail: String| Error::Journal { offset, detail };
    let magic = be32(&jsb, 0);
    if magic != JBD2_MAGIC {
        return Err(bad(
            jsb_at,
            format!("journal superblock magic is {magic:#010x}, expected 0xc03b3998"),
        ));
    }
    let version = be32(&jsb, 4);
    if version != BLOCK_SUPERBLOCK_V1 && version != BLOCK_SUPERBLOCK_V2 {
        return Err(bad(
            jsb_at,
            format!("journal superblock type is {version}, expected 3 or 4"),
        ));
    }
    let jbs = u64::from(be32(&jsb, 0xc));
    if jbs != bs {
        return Err(bad(
            jsb_at,
            format!("journal block size is {jbs}, expected the filesystem's {bs}"),
        ));
    }
    let maxlen = u64::from(be32(&jsb, 0x10));
    let first = u64::from(be32(&jsb, 0x14));
    let sequence = be32(&jsb, 0x18);
    let start = u64::from(be32(&jsb, 0x1c));
    if maxlen > journal_blocks || first == 0 || first >= maxlen {
        return Err(bad(
            jsb_at,
            format!(
                "journal area {first}..{maxlen} does not fit the journal inode's {journal_blocks} blocks"
            ),
        ));
    }
    if start == 0 {
        return Ok((BTreeMap::new(), 0));
    }
    if maxlen > MAX_JOURNAL_BLOCKS {
        return Err(Error::TooLarge {
            what: "journal to replay (blocks)".into(),
            size: maxlen,
            limit: MAX_JOURNAL_BLOCKS,
        });
    }
    if start < first || start >= maxlen {
        return Err(bad(
            jsb_at,
            format!("journal log starts at block {start}, outside {first}..{maxlen}"),
        ));
    }
    let incompat = if version == BLOCK_SUPERBLOCK_V2 {
        be32(&jsb, 0x28)
    } else {
        0
    };
    if incompat & INCOMPAT_FAST_COMMIT != 0 {
        return Err(Error::Unsupported {
            what: "replaying a jbd2 journal with fast commits".into(),
        });
    }
    let known = INCOMPAT_REVOKE
        | INCOMPAT_64BIT
        | INCOMPAT_ASYNC_COMMIT
        | INCOMPAT_CSUM_V2
        | INCOMPAT_CSUM_V3;
    if incompat & !known != 0 {
        return Err(Error::Unsupported {
            what: format!("jbd2 incompatible features {:#x}", incompat & !known),
        });
    }
    let is64 = incompat & INCOMPAT_64BIT != 0;
    let csum_v3 = incompat & INCOMPAT_CSUM_V3 != 0;
    let checksums = csum_v3 || incompat & INCOMPAT_CSUM_V2 != 0;
    let seed = crc32c(!0, &jsb[0x30..0x40]);
    let tag_size: usize = if csum_v3 {
        16
    } else {
        8 + if checksums { 2 } else { 0 } + if is64 { 4 } else { 0 }
    };
    let tail = if checksums { 4 } else { 0 };
    let wrap = |x: u64| if x >= maxlen { x - (maxlen - first) } else { x };

    // Scan: collect committed transactions and their revoke records.
    let mut committed: Vec<(u32, Vec<Write>)> = Vec::new();
    let mut revoked: HashMap<u64, u32> = HashMap::new();
    let mut writes: Vec<Write> = Vec::new();
    let mut revokes: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut pos = start;
    let mut seq = sequence;
    // Every log block is visited at most once per lap; a log cannot be longer than the journal.
    let mut budget = maxlen;
    while budget > 0 {
        budget -= 1;
        let (b, _) = read(pos)?;
        if be32(&b, 0) != JBD2_MAGIC || be32(&b, 8) != seq {
            break;
        }
        match be32(&b, 4) {
            BLOCK_DESCRIPTOR => {
                let limit = b.len() - tail;
                let mut t = 12;
                let mut data_pos = wrap(pos + 1);
                while t + tag_size <= limit {
                    let (low, flags) = if csum_v3 {
                        (be32(&b, t), be32(&b, t + 4))
                    } else {
                        (be32(&b, t), u32::from(be16(&b, t + 6)))
                    };
                    let high = if is64 { be32(&b, t + 8) } else { 0 };
                    let block = u64::from(high) << 32 | u64::from(low);
                    writes.push((block, data_pos, flags & TAG_ESCAPE != 0));
                    data_pos = wrap(data_pos + 1);
                    budget = budget.saturating_sub(1);
                    t += tag_size;
                    if flags & TAG_SAME_UUID == 0 {
                        t += 16;
                    }
                    if flags & TAG_LAST != 0 {
                        break;
                    }
                }
                pos = data_pos;
            }
            BLOCK_COMMIT => {
                if checksums {
                    let stored = be32(&b, 16);
                    let mut copy = b.clone();
                    copy[16..20].fill(0);
                    if crc32c(seed, &copy) != stored {
                        // A torn commit: the log ends before this transaction.
                        break;
                    }
                }
                committed.push((seq, std::mem::take(&mut writes)));
                for block in revokes.drain() {
                    let entry = revoked.entry(block).or_insert(seq);
                    if tid_after(seq, *entry) {
                        *entry = seq;
                    }
                }
                seq = seq.wrapping_add(1);
                pos = wrap(pos + 1);
            }
            BLOCK_REVOKE => {
                let count = (be32(&b, 12) as usize).min(b.len() - tail);
                let size = if is64 { 8 } else { 4 };
                let mut o = 16;
                while o + size <= count {
                    let block = if is64 {
                        u64::from(be32(&b, o)) << 32 | u64::from(be32(&b, o + 4))
                    } else {
                        u64::from(be32(&b, o))
                    };
                    revokes.insert(block);
                    o += size;
                }
                pos = wrap(pos + 1);
            }
            _ => break,
        }
    }

    // Replay in order; later transactions win, revoked writes are skipped.
    let mut map = BTreeMap::new();
    let transactions = committed.len() as u64;
    for (tseq, writes) in committed {
        for (block, data_pos, escaped) in writes {
            if revoked.get(&block).is_some_and(|&r| !tid_after(tseq, r)) {
                continue;
            }
            if block >= sb.blocks_count {
                return Err(Error::BlockOutOfRange {
                    block,
                    blocks_count: sb.blocks_count,
                    what: format!("journal transaction {tseq}"),
                });
            }
            let phys = phys_of(data_pos)?;
            map.insert(block, JournalBlock { phys, escaped });
        }
    }
    Ok((map, transactions))
}
