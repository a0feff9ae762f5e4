//! The VHDX log (MS-VHDX 2.3), replayed in memory: the active log sequence is found as the
//! specification's section 2.3.3 describes and its data and zero descriptors are applied to an
//! [`Overlay`] that every later read of the file goes through. The file is never written.
//!
//! An entry is valid when its header matches the current header's LogGuid, its length and
//! descriptor count fit, every descriptor carries the entry's sequence number (4 KiB-aligned
//! offsets, lengths in 4 KiB units), there is exactly one data sector (signature `data`, the
//! sequence number split around it) per data descriptor, and the CRC-32C of the whole entry
//! matches. A sequence is a run of valid entries whose sequence numbers grow by one and whose last
//! entry's tail is the start of one of its entries; the active sequence is the valid sequence with
//! the highest sequence number, replayed from its tail entry on.
//!
//! Memory is bounded by the log: logs longer than [`MAX_LOG`] are refused, data sectors kept are
//! at most the log's length, and the bytes checksummed while scanning are capped.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::util::{self, Crc32c, check_within, field};
use crate::{Error, Format};

const F: Format = Format::Vhdx;
const SECTOR: u64 = 4096;
const MIB: u64 = 1 << 20;
/// The longest log replayed (Hyper-V and qemu write 1 MiB logs).
pub(crate) const MAX_LOG: u64 = 8 * MIB;
/// Descriptors in the first sector of an entry (after its 64-byte header), and in the others.
const DESCS_PER_SECTOR: u64 = 128;

/// What the current header says about the log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogHeader {
    /// Offset of the header in the file.
    pub(crate) at: u64,
    pub(crate) log_guid: [u8; 16],
    pub(crate) log_version: u16,
    pub(crate) log_length: u32,
    pub(crate) log_offset: u64,
}

/// One log entry that passed validation.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Offset in the log.
    start: u64,
    length: u64,
    sequence: u64,
    tail: u64,
    flushed_file_offset: u64,
    last_file_offset: u64,
    descriptors: u64,
}

/// One write an entry describes.
#[derive(Debug)]
enum Write {
    /// `length` bytes of zeros at `offset`.
    Zero { offset: u64, length: u64 },
    /// One 4 KiB sector at `offset`.
    Data { offset: u64, sector: Arc<[u8]> },
}

/// The log region of one file, read circularly.
struct Log<'a> {
    file: &'a dyn ReadAt,
    header: LogHeader,
    offset: u64,
    length: u64,
    /// Bytes that may still be checksummed while looking for the active sequence.
    budget: u64,
    /// Validation results by entry start, so each candidate is checksummed once.
    seen: HashMap<u64, Option<Entry>>,
}

/// Replays the log of `file` in memory when its current header (`header`) says there is one.
/// Returns the file as it reads after replay, or `None` when there is nothing to replay.
pub(crate) fn replay(file: &Arc<dyn ReadAt>, header: &LogHeader) -> Result<Option<Overlay>, Error> {
    let h = header;
    if h.log_guid == [0u8; 16] || h.log_length == 0 {
        return Ok(None);
    }
    if h.log_version != 0 {
        return Err(Error::unsupported(
            F,
            format!("log version {} (header at {:#x})", h.log_version, h.at),
        ));
    }
    let length = u64::from(h.log_length);
    if !length.is_multiple_of(MIB) {
        return Err(Error::invalid(
            F,
            "log length",
            h.at + 68,
            "a multiple of 1 MiB",
            length,
        ));
    }
    if h.log_offset < MIB || !h.log_offset.is_multiple_of(MIB) {
        return Err(Error::invalid(
            F,
            "log offset",
            h.at + 72,
            "a multiple of 1 MiB, at least 1 MiB",
            format!("{:#x}", h.log_offset),
        ));
    }
    if length > MAX_LOG {
        return Err(Error::unsupported(
            F,
            format!(
                "log of {length} bytes at {:#x} to replay (at most {MAX_LOG} are replayed in \
                 memory)",
                h.log_offset
            ),
        ));
    }
    check_within(F, "log", h.log_offset, length, file.size())?;
    let mut log = Log {
        file: &**file,
        header: *h,
        offset: h.log_offset,
        length,
        budget: 4 * length,
        seen: HashMap::new(),
    };
    let Some(active) = log.active_sequence()? else {
        return Ok(None);
    };
    let head = active.last().copied().ok_or_else(|| {
        Error::invalid(F, "log", h.log_offset, "an active sequence", "an empty one")
    })?;
    let file_size = file.size();
    if head.flushed_file_offset > file_size {
        return Err(Error::invalid(
            F,
            "log entry FlushedFileOffset",
            h.log_offset + head.start + 48,
            format!("at most the file size {file_size:#x} (the file was truncated)"),
            format!("{:#x}", head.flushed_file_offset),
        ));
    }
    let mut overlay = Overlay {
        base: file.clone(),
        size: file_size.max(head.last_file_offset),
        runs: BTreeMap::new(),
    };
    for e in &active {
        for w in log.writes(e)? {
            overlay.apply(w);
        }
    }
    Ok(Some(overlay))
}

impl Log<'_> {
    /// Reads `buf.len()` bytes at `pos` of the log, wrapping at its end.
    fn read(&self, pos: u64, buf: &mut [u8]) -> Result<(), Error> {
        let mut done = 0usize;
        while done < buf.len() {
            let p = (pos + done as u64) % self.length;
            let n = ((self.length - p) as usize).min(buf.len() - done);
            self.file
                .read_exact_at(self.offset + p, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    /// The entry starting at `start` of the log if it is valid (memoized).
    fn entry(&mut self, start: u64) -> Result<Option<Entry>, Error> {
        if let Some(e) = self.seen.get(&start) {
            return Ok(*e);
        }
        let e = self.validate(start)?;
        self.seen.insert(start, e);
        Ok(e)
    }

    fn validate(&mut self, start: u64) -> Result<Option<Entry>, Error> {
        let mut h = [0u8; 64];
        self.read(start, &mut h)?;
        let e = Entry {
            start,
            length: u64::from(field::le32(&h, 8)),
            tail: u64::from(field::le32(&h, 12)),
            sequence: field::le64(&h, 16),
            descriptors: u64::from(field::le32(&h, 24)),
            flushed_file_offset: field::le64(&h, 48),
            last_file_offset: field::le64(&h, 56),
        };
        let desc_sectors = (e.descriptors + 2).div_ceil(DESCS_PER_SECTOR);
        let plausible = h.starts_with(b"loge")
            && field::bytes::<16>(&h, 32) == self.header.log_guid
            && e.length > 0
            && e.length.is_multiple_of(SECTOR)
            && e.length <= self.length
            && e.sequence > 0
            && e.tail.is_multiple_of(SECTOR)
            && e.tail < self.length
            && desc_sectors * SECTOR <= e.length;
        if !plausible {
            return Ok(None);
        }
        // Checksum the whole entry, within the scanning budget.
        if e.length > self.budget {
            return Err(Error::invalid(
                F,
                "log",
                self.offset,
                format!("entries checksummed in at most {} bytes", 4 * self.length),
                "more (overlapping entries)",
            ));
        }
        self.budget -= e.length;
        let mut crc = Crc32c::new();
        let mut chunk = vec![0u8; (64 * 1024).min(e.length as usize)];
        let mut done = 0u64;
        while done < e.length {
            let n = (e.length - done).min(chunk.len() as u64) as usize;
            let buf = &mut chunk[..n];
            self.read(start + done, buf)?;
            if done == 0 {
                buf[4..8].fill(0);
            }
            crc.update(buf);
            done += n as u64;
        }
        if crc.finish() != field::le32(&h, 4) {
            return Ok(None);
        }
        // Descriptors and data sectors.
        let descs = self.descriptors(&e)?;
        let mut data = 0u64;
        for d in &descs {
            if field::le64(d, 24) != e.sequence || !field::le64(d, 16).is_multiple_of(SECTOR) {
                return Ok(None);
            }
            let offset = field::le64(d, 16);
            match &d[..4] {
                b"zero" => {
                    let len = field::le64(d, 8);
                    if !len.is_multiple_of(SECTOR) || offset.checked_add(len).is_none() {
                        return Ok(None);
                    }
                }
                b"desc" => {
                    let at = start + (desc_sectors + data) * SECTOR;
                    if offset.checked_add(SECTOR).is_none()
                        || (desc_sectors + data + 1) * SECTOR > e.length
                    {
                        return Ok(None);
                    }
                    // The data sector: signature, sequence number high half ... low half.
                    let mut head = [0u8; 8];
                    let mut low = [0u8; 4];
                    self.read(at, &mut head)?;
                    self.read(at + SECTOR - 4, &mut low)?;
                    let seq = (u64::from(field::le32(&head, 4)) << 32)
                        | u64::from(u32::from_le_bytes(low));
                    if &head[..4] != b"data" || seq != e.sequence {
                        return Ok(None);
                    }
                    data += 1;
                }
                _ => return Ok(None),
            }
        }
        if (desc_sectors + data) * SECTOR != e.length {
            return Ok(None);
        }
        Ok(Some(e))
    }

    /// The descriptors of entry `e` (32 bytes each), read from its descriptor sectors.
    fn descriptors(&self, e: &Entry) -> Result<Vec<[u8; 32]>, Error> {
        let desc_sectors = (e.descriptors + 2).div_ceil(DESCS_PER_SECTOR);
        let mut raw = vec![0u8; (desc_sectors * SECTOR) as usize];
        self.read(e.start, &mut raw)?;
        Ok(raw
            .chunks_exact(32)
            .skip(2)
            .take(e.descriptors as usize)
            .map(|c| field::bytes::<32>(c, 0))
            .collect())
    }

    /// The writes entry `e` (already validated) describes, in order.
    fn writes(&self, e: &Entry) -> Result<Vec<Write>, Error> {
        let desc_sectors = (e.descriptors + 2).div_ceil(DESCS_PER_SECTOR);
        let mut data = 0u64;
        let mut out = Vec::new();
        for d in self.descriptors(e)? {
            let offset = field::le64(&d, 16);
            if &d[..4] == b"zero" {
                out.push(Write::Zero {
                    offset,
                    length: field::le64(&d, 8),
                });
                continue;
            }
            // A data sector: its first 8 and last 4 bytes are kept in the descriptor.
            let mut sector = vec![0u8; SECTOR as usize];
            self.read(e.start + (desc_sectors + data) * SECTOR, &mut sector)?;
            sector[..8].copy_from_slice(&d[8..16]);
            sector[SECTOR as usize - 4..].copy_from_slice(&d[4..8]);
            out.push(Write::Data {
                offset,
                sector: sector.into(),
            });
            data += 1;
        }
        Ok(out)
    }

    /// The active sequence (MS-VHDX 2.3.3), from its tail entry to its head entry, or `None`
    /// when the log holds no entry of the current log at all. A log holding valid entries but no
    /// valid sequence is corrupt.
    fn active_sequence(&mut self) -> Result<Option<Vec<Entry>>, Error> {
        let sectors = self.length / SECTOR;
        let mut candidate: Option<Vec<Entry>> = None;
        let mut any_valid = false;
        let mut tail = 0u64;
        for _ in 0..=sectors {
            let mut current: Vec<Entry> = Vec::new();
            let mut head = tail;
            while (current.len() as u64) < sectors {
                let Some(e) = self.entry(head)? else { break };
                if let Some(last) = current.last()
                    && last.sequence.checked_add(1) != Some(e.sequence)
                {
                    break;
                }
                any_valid = true;
                current.push(e);
                head = (head + e.length) % self.length;
            }
            let from = current
                .last()
                .and_then(|h| current.iter().position(|e| e.start == h.tail));
            let valid = from.is_some();
            if let Some(from) = from {
                let seq = current.last().map_or(0, |e| e.sequence);
                let better = candidate
                    .as_ref()
                    .and_then(|c| c.last())
                    .is_none_or(|c| seq > c.sequence);
                if better {
                    candidate = Some(current[from..].to_vec());
                }
            }
            let next = if valid {
                head
            } else {
                (tail + SECTOR) % self.length
            };
            if next <= tail {
                break;
            }
            tail = next;
        }
        if candidate.is_none() && any_valid {
            return Err(Error::invalid(
                F,
                "log",
                self.offset,
                "a complete log sequence (an entry whose tail is the start of an entry of its \
                 sequence)",
                "entries of the current log but no complete sequence",
            ));
        }
        Ok(candidate)
    }
}

/// What the log wrote to a range of the file.
#[derive(Debug, Clone)]
enum Content {
    Zero,
    /// A 4 KiB sector whose first byte belongs at file offset `origin`.
    Data {
        origin: u64,
        sector: Arc<[u8]>,
    },
}

/// A file as it reads after its log is replayed: the log's writes, in memory, over the file.
pub(crate) struct Overlay {
    base: Arc<dyn ReadAt>,
    size: u64,
    /// Written ranges: start -> (end, content), not overlapping.
    runs: BTreeMap<u64, (u64, Content)>,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("size", &self.size)
            .field("runs", &self.runs.len())
            .finish_non_exhaustive()
    }
}

impl Overlay {
    /// Applies one write, later writes winning over earlier ones.
    fn apply(&mut self, w: Write) {
        let (start, end, content) = match w {
            Write::Zero { offset, length } => (offset, offset + length, Content::Zero),
            Write::Data { offset, sector } => (
                offset,
                offset + SECTOR,
                Content::Data {
                    origin: offset,
                    sector,
                },
            ),
        };
        if start == end {
            return;
        }
        // Cut the runs overlapping start..end, keeping their parts outside it.
        let overlapping: Vec<u64> = self
            .runs
            .range(..end)
            .rev()
            .take_while(|(_, (e, _))| *e > start)
            .map(|(s, _)| *s)
            .collect();
        for s in overlapping {
            if let Some((e, c)) = self.runs.remove(&s) {
                if s < start {
                    self.runs.insert(s, (start, c.clone()));
                }
                if e > end {
                    self.runs.insert(end, (e, c));
                }
            }
        }
        self.runs.insert(start, (end, content));
        self.size = self.size.max(end);
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let rest = buf.len() - done;
            // The run holding pos, or the next run after it.
            let run = self
                .runs
                .range(..=pos)
                .next_back()
                .filter(|(_, (e, _))| *e > pos);
            match run {
                Some((_, (end, content))) => {
                    let n = ((end - pos) as usize).min(rest);
                    let out = &mut buf[done..done + n];
                    match content {
                        Content::Zero => out.fill(0),
                        Content::Data { origin, sector } => {
                            let at = (pos - origin) as usize;
                            out.copy_from_slice(&sector[at..at + n]);
                        }
                    }
                    done += n;
                }
                None => {
                    let next = self.runs.range(pos..).next().map_or(u64::MAX, |(s, _)| *s);
                    let n = ((next - pos).min(rest as u64)) as usize;
                    util::read_zero_past_eof(&*self.base, pos, &mut buf[done..done + n])?;
                    done += n;
                }
            }
        }
        Ok(())
    }
}

impl ReadAt for Overlay {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read(offset, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(base: Vec<u8>) -> Overlay {
        Overlay {
            size: base.len() as u64,
            base: Arc::new(base),
            runs: BTreeMap::new(),
        }
    }

    fn sector(fill: u8) -> Arc<[u8]> {
        vec![fill; SECTOR as usize].into()
    }

    #[test]
    fn later_writes_win_and_cut_earlier_ones() {
        let mut o = overlay(vec![1u8; 6 * SECTOR as usize]);
        o.apply(Write::Zero {
            offset: SECTOR,
            length: 3 * SECTOR,
        });
        o.apply(Write::Data {
            offset: 2 * SECTOR,
            sector: sector(7),
        });
        o.apply(Write::Zero {
            offset: 2 * SECTOR,
            length: 0,
        });
        // Past the end of the file: the file grows, the gap reads as zeros.
        o.apply(Write::Data {
            offset: 8 * SECTOR,
            sector: sector(9),
        });
        assert_eq!(o.size(), 9 * SECTOR);
        let mut all = vec![0u8; 9 * SECTOR as usize];
        o.read_exact_at(0, &mut all).unwrap();
        let s = SECTOR as usize;
        let want: Vec<u8> = [1u8, 0, 7, 0, 1, 1, 0, 0, 9]
            .iter()
            .flat_map(|&b| vec![b; s])
            .collect();
        assert!(all == want);
        // A read straddling runs and the base.
        let mut part = vec![0u8; s + 10];
        o.read_exact_at(2 * SECTOR - 5, &mut part).unwrap();
        assert_eq!(&part[..5], &[0u8; 5]);
        assert_eq!(&part[5..s + 5], &vec![7u8; s][..]);
        assert_eq!(&part[s + 5..], &[0u8; 5]);
        assert!(o.read_exact_at(9 * SECTOR - 1, &mut [0u8; 2]).is_err());
    }
}
