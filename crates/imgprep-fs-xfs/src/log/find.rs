//! Finding the head (where the next record would be written) and the tail (the oldest record
//! whose changes may not be home yet) of the log, as the kernel's `xlog_find_tail` does: a
//! binary search on the cycle numbers stamped into every basic block, checks that back up over
//! partially written records, the unmount record that marks a clean log, and a CRC pass over
//! the last records that trims torn writes.

use super::record::{Header, Pass, PassFail, do_pass};
use super::{LogDev, R, bad};
use crate::overlay::BB;

pub(crate) const RECORD_MAGIC: u32 = 0xfeed_babe;
const UNMOUNT_TRANS: u8 = 0x20;
/// Records that can be in flight at once (`XLOG_MAX_ICLOGS`).
pub(crate) const MAX_ICLOGS: u64 = 8;
/// Times the tail may move past a bad record before the log is declared damaged.
const MAX_TAIL_RETRIES: usize = 4 * MAX_ICLOGS as usize;

/// The part of the log to replay: records from `tail` up to (not including) `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) head: u64,
    pub(crate) tail: u64,
}

/// Whether a block-number search found what it looked for.
enum Found {
    Yes,
    No,
}

impl LogDev<'_> {
    /// Cycle number of log block `blk`: the first word, or the record header's `h_cycle`.
    fn cycle(&self, blk: u64) -> R<u32> {
        let b = self.read(blk, 1)?;
        let w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Ok(if w == RECORD_MAGIC {
            u32::from_be_bytes([b[4], b[5], b[6], b[7]])
        } else {
            w
        })
    }

    fn is_header(&self, blk: u64) -> R<Option<Header>> {
        let b = self.read(blk, 1)?;
        Ok(Header::parse_first(&b))
    }

    /// Basic blocks scanned for the cycle number that ends the log (`XLOG_TOTAL_REC_SHIFT`).
    fn total_rec_bbs(&self) -> u64 {
        let rec = if self.sb.logv2 { 256 << 10 } else { 32 << 10 };
        MAX_ICLOGS * rec / BB
    }

    /// The largest record in basic blocks (`XLOG_REC_SHIFT`).
    fn rec_bbs(&self) -> u64 {
        if self.sb.logv2 { 512 } else { 64 }
    }

    /// First block in `first..=last` holding `cycle`, as the kernel's binary search
    /// approximates it (`xlog_find_cycle_start`).
    fn find_cycle_start(&self, mut first: u64, last: u64, cycle: u32) -> R<u64> {
        let mut end = last;
        let mut mid = (first + end) / 2;
        while mid != first && mid != end {
            if self.cycle(mid)? == cycle {
                end = mid;
            } else {
                first = mid;
            }
            mid = (first + end) / 2;
        }
        Ok(end)
    }

    /// The first block in `start..start + n` whose cycle number is `stop`.
    fn verify_cycle(&self, start: u64, n: u64, stop: u32) -> R<Option<u64>> {
        let mut i = start;
        let end = start + n;
        while i < end {
            let count = (end - i).min(256);
            let b = self.read(i, count)?;
            for j in 0..count {
                let s = &b[(j * BB) as usize..];
                let w = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
                let c = if w == RECORD_MAGIC {
                    u32::from_be_bytes([s[4], s[5], s[6], s[7]])
                } else {
                    w
                };
                if c == stop {
                    return Ok(Some(i + j));
                }
            }
            i += count;
        }
        Ok(None)
    }

    /// Backs `last` up over a partially written record: finds the last record header before
    /// `last` (at or after `start`) and, unless that record ends exactly at `last` (counting
    /// `extra` blocks read past the physical end before), moves `last` to it
    /// (`xlog_find_verify_log_record`).
    fn verify_log_record(&self, start: u64, last: &mut u64, extra: u64) -> R<Found> {
        let mut i = *last;
        let header = loop {
            if i == 0 {
                return Ok(Found::No);
            }
            i -= 1;
            if i < start {
                return Err(bad(format!(
                    "log inconsistent: no record header between log blocks {start} and {last}"
                )));
            }
            if let Some(h) = self.is_header(i)? {
                break h;
            }
        };
        self.check_uuid(&header, i)?;
        if *last - i + extra != header.len_bbs() + header.hblks(self.sb.logv2) {
            *last = i;
        }
        Ok(Found::Yes)
    }

    /// A record header must name this filesystem (or none, as IRIX wrote them).
    fn check_uuid(&self, h: &Header, blk: u64) -> R<()> {
        if h.uuid != [0; 16] && h.uuid != self.sb.uuid {
            return Err(bad(format!(
                "the log record at log block {blk} belongs to filesystem {}, not this one",
                imgprep_fs::uuid_string(&h.uuid)
            )));
        }
        Ok(())
    }

    /// `Some(block)` of the first block never written when the log is not yet full
    /// (`xlog_find_zeroed`); `None` when every block has been written.
    fn find_zeroed(&self) -> R<Option<u64>> {
        if self.cycle(0)? == 0 {
            return Ok(Some(0));
        }
        if self.cycle(self.bbs - 1)? != 0 {
            return Ok(None);
        }
        let mut last = self.find_cycle_start(0, self.bbs - 1, 0)?;
        let scan = self.total_rec_bbs().min(last);
        let start = last - scan;
        if let Some(b) = self.verify_cycle(start, scan, 0)? {
            last = b;
        }
        match self.verify_log_record(start, &mut last, 0)? {
            Found::Yes => Ok(Some(last)),
            Found::No => Err(bad(
                "log inconsistent: no record header before the first zeroed log block",
            )),
        }
    }

    /// The head of the log (`xlog_find_head`).
    fn find_head(&self) -> R<u64> {
        if let Some(b) = self.find_zeroed()? {
            return Ok(b);
        }
        let bbs = self.bbs;
        let first_half = self.cycle(0)?;
        let last_half = self.cycle(bbs - 1)?;
        let mut head;
        let stop;
        if first_half == last_half {
            // The whole log carries one cycle: the head is at the end, unless a hole of the
            // previous cycle is found below.
            head = bbs;
            stop = last_half.wrapping_sub(1);
        } else {
            stop = last_half;
            head = self.find_cycle_start(0, bbs - 1, last_half)?;
        }
        let scan = self.total_rec_bbs();
        if head >= scan {
            if let Some(b) = self.verify_cycle(head - scan, scan, stop)? {
                head = b;
            }
        } else {
            // Scan the physical end of the log for the previous cycle, then its start.
            let Some(start) = bbs.checked_sub(scan - head) else {
                return Err(bad(format!(
                    "the log ({bbs} blocks) is shorter than the span of records in flight"
                )));
            };
            if let Some(b) = self.verify_cycle(start, scan - head, stop.wrapping_sub(1))? {
                head = b;
            } else if let Some(b) = self.verify_cycle(0, head, stop)? {
                head = b;
            }
        }
        // The head must not point into the middle of a record.
        let scan = self.rec_bbs();
        if head >= scan {
            if let Found::No = self.verify_log_record(head - scan, &mut head, 0)? {
                return Err(bad("log inconsistent: no record header before the head"));
            }
        } else if let Found::No = self.verify_log_record(0, &mut head, 0)? {
            let Some(start) = bbs.checked_sub(scan - head) else {
                return Err(bad(format!(
                    "the log ({bbs} blocks) is shorter than one record"
                )));
            };
            let mut new = bbs;
            if let Found::No = self.verify_log_record(start, &mut new, head)? {
                return Err(bad("log inconsistent: no record header before the head"));
            }
            if new != bbs {
                head = new;
            }
        }
        Ok(if head == bbs { 0 } else { head })
    }

    /// Record headers backwards from `head` (exclusive) toward `tail`, wrapping past the
    /// physical start of the log when `tail >= head`: up to `count` of them; the last one found
    /// and whether the search wrapped (`xlog_rseek_logrec_hdr`).
    pub(crate) fn rseek(
        &self,
        head: u64,
        tail: u64,
        count: u64,
    ) -> R<(u64, Option<(u64, Header)>)> {
        let mut found = 0;
        let mut last = None;
        let end = if head > tail { tail } else { 0 };
        let mut i = head;
        while i > end {
            i -= 1;
            if let Some(h) = self.is_header(i)? {
                last = Some((i, h));
                found += 1;
                if found == count {
                    return Ok((found, last));
                }
            }
        }
        if tail >= head {
            let mut i = self.bbs;
            while i > tail {
                i -= 1;
                if let Some(h) = self.is_header(i)? {
                    last = Some((i, h));
                    found += 1;
                    if found == count {
                        break;
                    }
                }
            }
        }
        Ok((found, last))
    }

    /// Record headers forwards from `tail` toward `head`, wrapping past the physical end when
    /// `tail > head`: up to `count` of them, and the last one found (`xlog_seek_logrec_hdr`).
    fn seek(&self, head: u64, tail: u64, count: u64) -> R<(u64, Option<u64>)> {
        let mut found = 0;
        let mut last = None;
        let end = if head > tail { head } else { self.bbs - 1 };
        let mut i = tail;
        while i <= end {
            if self.is_header(i)?.is_some() {
                last = Some(i);
                found += 1;
                if found == count {
                    return Ok((found, last));
                }
            }
            i += 1;
        }
        if tail > head {
            for i in 0..head {
                if self.is_header(i)?.is_some() {
                    last = Some(i);
                    found += 1;
                    if found == count {
                        break;
                    }
                }
            }
        }
        Ok((found, last))
    }

    /// Whether the record at `rblk` is an unmount record ending exactly at `head`.
    fn is_unmount(&self, head: u64, rblk: u64, h: &Header) -> R<Option<u64>> {
        let hblks = h.hblks(self.sb.logv2);
        let after = (rblk + hblks + h.len_bbs()) % self.bbs;
        if head != after || h.num_logops != 1 {
            return Ok(None);
        }
        let op = self.read_wrapped(rblk + hblks, 1)?;
        Ok((op[9] & UNMOUNT_TRANS != 0).then_some(after))
    }

    /// Distance from `head` forward to `tail`: the unused part of the log.
    fn tail_distance(&self, head: u64, tail: u64) -> u64 {
        if head < tail {
            tail - head
        } else {
            tail + (self.bbs - head)
        }
    }

    /// CRC-checks the log from the tail to the head; when a bad record lies within the records
    /// that may have been overwritten by the last writes before a crash, moves the tail past it
    /// and checks again (`xlog_verify_tail`).
    fn verify_tail(&self, head: u64, tail: &mut u64, hsize: u64) -> R<()> {
        let (_, first) = self.seek(head, *tail, 1)?;
        if let Some(t) = first {
            *tail = t;
        }
        // Each retry moves the tail at least one record forward, and only while the bad record
        // lies among the last records in flight; a few retries cover what a crash overwrites.
        for _ in 0..MAX_TAIL_RETRIES {
            match do_pass(self, head, *tail, &mut Pass::Crc) {
                Ok(()) => return Ok(()),
                Err(PassFail {
                    fail,
                    crc_or_corrupt: true,
                    bad_record: Some(first_bad),
                }) if first_bad != 0 => {
                    if self.tail_distance(head, first_bad) > MAX_ICLOGS * hsize / BB {
                        return Err(fail);
                    }
                    let (found, t) = self.seek(head, first_bad, 2)?;
                    match t {
                        Some(t) if found == 2 => *tail = t,
                        _ => return Err(fail),
                    }
                }
                Err(f) => return Err(f.fail),
            }
        }
        Err(bad(format!(
            "the log tail could not be verified after {MAX_TAIL_RETRIES} records"
        )))
    }

    /// CRC-checks the last records before the head; a bad one is taken as a torn write and the
    /// head moves back to it, the tail to what the record before it names (`xlog_verify_head`).
    fn verify_head(&self, head: &mut u64, tail: &mut u64, last: &mut (u64, Header)) -> R<()> {
        let (found, start) = self.rseek(*head, *tail, MAX_ICLOGS)?;
        let Some((start, _)) = start.filter(|_| found > 0) else {
            return Err(bad(
                "no record header between the tail and the head of the log",
            ));
        };
        match do_pass(self, *head, start, &mut Pass::Crc) {
            Ok(()) => {}
            Err(PassFail {
                bad_record: Some(first_bad),
                crc_or_corrupt: true,
                ..
            }) if first_bad != 0 => {
                let (found, prev) = self.rseek(first_bad, *tail, 1)?;
                let Some(prev) = prev.filter(|_| found > 0) else {
                    return Err(bad(format!(
                        "torn log record at log block {first_bad} with no record before it"
                    )));
                };
                *head = first_bad;
                *tail = prev.1.tail_block();
                *last = prev;
                if *head == *tail {
                    return Ok(());
                }
            }
            Err(f) => return Err(f.fail),
        }
        let hsize = u64::from(last.1.size).max(32 << 10);
        self.verify_tail(*head, tail, hsize)
    }
}

/// Head and tail of the log; `None` when it is clean (nothing to replay).
pub(crate) fn head_and_tail(log: &LogDev<'_>) -> R<Option<Range>> {
    let mut head = log.find_head()?;
    if head == 0 && log.cycle(0)? == 0 {
        return Ok(None); // zeroed log
    }
    let (found, last) = log.rseek(head, head, 1)?;
    let Some(mut last) = last.filter(|_| found > 0) else {
        return Err(bad("no log record header found"));
    };
    let mut tail = last.1.tail_block();
    if tail >= log.bbs {
        return Err(bad(format!(
            "the log record at log block {} names tail block {tail}, outside the log's {} blocks",
            last.0, log.bbs
        )));
    }
    if log.is_unmount(head, last.0, &last.1)?.is_some() {
        return Ok(None);
    }
    let orig = head;
    log.verify_head(&mut head, &mut tail, &mut last)?;
    if tail >= log.bbs {
        return Err(bad(format!(
            "the log record at log block {} names tail block {tail}, outside the log's {} blocks",
            last.0, log.bbs
        )));
    }
    if head != orig && log.is_unmount(head, last.0, &last.1)?.is_some() {
        return Ok(None);
    }
    if head == tail {
        return Ok(None);
    }
    Ok(Some(Range { head, tail }))
}
