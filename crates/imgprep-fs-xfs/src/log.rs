//! Whether the internal log was left clean. The log is never replayed: the reader shows the
//! metadata as last written in place, which for a dirty log may lag behind what Linux would show
//! after recovery (changes still only in the log are missing).

use imgprep_io::{ReadAt, be};

use crate::sb::Superblock;

const RECORD_MAGIC: u32 = 0xfeed_babe;
const UNMOUNT_TRANS: u8 = 0x20;
const BB: u64 = 512;
/// How far back from the head to look for the last record header (a record is at most 256 KiB
/// of data plus its headers).
const MAX_BACK: u64 = 2 * (256 * 1024 / BB) + 64;

/// State of the filesystem's log, as found when opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogState {
    /// The last record is an unmount record, or the log is zeroed: the metadata is complete.
    Clean,
    /// The log holds changes after its last unmount record (the filesystem was not unmounted
    /// cleanly). The reader shows the metadata as last written in place, without those changes.
    Dirty,
    /// The log is on another device; its state is unknown.
    External,
    /// The log's records could not be made sense of; treat as dirty.
    Unreadable,
}

struct Log<'a> {
    dev: &'a dyn ReadAt,
    start: u64,
    bbs: u64,
}

impl Log<'_> {
    fn read(&self, blk: u64, buf: &mut [u8]) -> Option<()> {
        let off = self.start.checked_add((blk % self.bbs).checked_mul(BB)?)?;
        self.dev.read_exact_at(off, buf).ok()
    }

    fn cycle(&self, blk: u64) -> Option<u32> {
        let mut b = [0u8; 8];
        self.read(blk, &mut b)?;
        Some(if be::u32(&b, 0) == RECORD_MAGIC {
            be::u32(&b, 4)
        } else {
            be::u32(&b, 0)
        })
    }

    /// First block in `lo..=hi` whose cycle is `target`, given that `hi` has it and that the
    /// blocks before the answer do not (binary search).
    fn first_with(&self, mut lo: u64, mut hi: u64, target: u32) -> Option<u64> {
        if self.cycle(lo)? == target {
            return Some(lo);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.cycle(mid)? == target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }

    fn state(&self) -> Option<LogState> {
        let first = self.cycle(0)?;
        if first == 0 {
            return Some(LogState::Clean); // zeroed log: nothing to recover
        }
        let last_blk = self.bbs - 1;
        let last = self.cycle(last_blk)?;
        let head = if last == 0 {
            self.first_with(0, last_blk, 0)?
        } else if first == last {
            self.bbs
        } else {
            self.first_with(0, last_blk, last)?
        };
        // The last record header before the head.
        let mut hdr = [0u8; 512];
        let mut rblk = None;
        for back in 1..=MAX_BACK.min(self.bbs) {
            let blk = (head + self.bbs - back) % self.bbs;
            self.read(blk, &mut hdr)?;
            if be::u32(&hdr, 0) == RECORD_MAGIC {
                rblk = Some(blk);
                break;
            }
        }
        let rblk = rblk?;
        // Clean when that record is an unmount record alone. (What follows it up to the head
        // may be zeroed or older filler records, as xfs_db leaves after rewriting the log.)
        let version = be::u32(&hdr, 8);
        let num_ops = be::u32(&hdr, 40);
        let size = u64::from(be::u32(&hdr, 320));
        let hblks = if version & 2 != 0 && size > 32768 {
            size.div_ceil(32768)
        } else {
            1
        };
        if num_ops != 1 {
            return Some(LogState::Dirty);
        }
        let mut op = [0u8; 12];
        self.read(rblk + hblks, &mut op)?;
        Some(if op[9] & UNMOUNT_TRANS != 0 {
            LogState::Clean
        } else {
            LogState::Dirty
        })
    }
}

/// Looks at the internal log's last record.
pub(crate) fn state(dev: &dyn ReadAt, sb: &Superblock) -> LogState {
    if sb.logstart == 0 {
        return LogState::External;
    }
    let Some(start) = sb.fsb_to_byte(sb.logstart) else {
        return LogState::Unreadable;
    };
    let bbs = (u64::from(sb.logblocks) << sb.blocklog) / BB;
    if bbs < 2 {
        return LogState::Unreadable;
    }
    Log { dev, start, bbs }
        .state()
        .unwrap_or(LogState::Unreadable)
}
