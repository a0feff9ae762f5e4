//! Log records and the transactions in them: reading records from the tail to the head (around
//! the physical end of the log), checking their CRCs, restoring the words the cycle numbers
//! replaced, and assembling the log operations into transactions (`xlog_do_recovery_pass` and
//! the operation-header code that feeds it).

use std::collections::HashMap;

use imgprep_io::crc::crc32c_update;

use super::find::RECORD_MAGIC;
use super::{Fail, LogDev, R, bad};
use crate::error::Error;
use crate::overlay::BB;

/// Bytes of cycle data one header sector carries: 64 words, one per basic block.
const CYCLE_WORDS: usize = 64;
const HEADER_CYCLE_SIZE: u64 = 32 << 10;
/// Largest record this reader accepts (`XLOG_MAX_RECORD_BSIZE`).
const MAX_RECORD: u64 = 256 << 10;
/// Bytes of a record header the CRC covers, and of an extended header.
const HEADER_LEN: usize = 328;
const EXT_HEADER_LEN: usize = 260;
const CRC_OFF: usize = 32;
const FMT_LINUX_LE: u32 = 1;

const TRANS_MAGIC: u32 = 0x5452_414e; // "TRAN", in host (little-endian) order
const CLIENT_TRANSACTION: u8 = 0x69;
const CLIENT_LOG: u8 = 0xaa;
const START_TRANS: u8 = 0x01;
const COMMIT_TRANS: u8 = 0x02;
const CONTINUE_TRANS: u8 = 0x04;
const WAS_CONT_TRANS: u8 = 0x08;
const END_TRANS: u8 = 0x10;
const UNMOUNT_TRANS: u8 = 0x20;
/// Regions one log item may have (`XLOG_MAX_REGIONS_IN_ITEM`).
const MAX_REGIONS: usize = 257;
/// Bytes of open (not yet committed) transactions held at once, and how many may be open.
const MAX_PENDING: u64 = 256 << 20;
const MAX_OPEN: usize = 1 << 16;

/// A log record header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    version: u32,
    pub(crate) len: u32,
    pub(crate) lsn: u64,
    tail_lsn: u64,
    crc: u32,
    pub(crate) num_logops: u32,
    fmt: u32,
    pub(crate) uuid: [u8; 16],
    pub(crate) size: u32,
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn be64(b: &[u8], o: usize) -> u64 {
    u64::from(be32(b, o)) << 32 | u64::from(be32(b, o + 4))
}

impl Header {
    /// The header in the first sector `b` (at least 512 bytes), if it starts with the magic.
    pub(crate) fn parse_first(b: &[u8]) -> Option<Header> {
        if b.len() < BB as usize || be32(b, 0) != RECORD_MAGIC {
            return None;
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[304..320]);
        Some(Header {
            version: be32(b, 8),
            len: be32(b, 12),
            lsn: be64(b, 16),
            tail_lsn: be64(b, 24),
            crc: u32::from_le_bytes([b[32], b[33], b[34], b[35]]),
            num_logops: be32(b, 40),
            fmt: be32(b, 300),
            uuid,
            size: be32(b, 320),
        })
    }

    /// Basic blocks of record data.
    pub(crate) fn len_bbs(&self) -> u64 {
        u64::from(self.len).div_ceil(BB)
    }

    /// Sectors of header (one, plus extended headers for records over 32 KiB).
    pub(crate) fn hblks(&self, logv2: bool) -> u64 {
        let size = u64::from(self.size);
        if logv2 && self.version & 2 != 0 && size > HEADER_CYCLE_SIZE {
            size.div_ceil(HEADER_CYCLE_SIZE)
        } else {
            1
        }
    }

    /// Log block of the tail this record names.
    pub(crate) fn tail_block(&self) -> u64 {
        u64::from(self.tail_lsn as u32)
    }

    /// `xlog_valid_rec_header`: a known version and a length that fits the record buffer.
    fn validate(&self, blk: u64, bufsize: u64) -> R<()> {
        if self.version == 0 || self.version & !3 != 0 {
            return Err(bad(format!(
                "the log record at log block {blk} has version {}, expected 1 or 2",
                self.version
            )));
        }
        if self.len == 0 || u64::from(self.len) > bufsize {
            return Err(bad(format!(
                "the log record at log block {blk} holds {} bytes, expected 1 to {bufsize}",
                self.len
            )));
        }
        Ok(())
    }
}

/// One log item (buffer, inode, intent, …): its regions, the first one its format header.
#[derive(Debug, Default)]
pub(crate) struct Item {
    /// Regions the format header announces.
    total: usize,
    pub(crate) regions: Vec<Vec<u8>>,
}

impl Item {
    /// The item type (`XFS_LI_*`) from its format header.
    pub(crate) fn kind(&self) -> Option<u16> {
        let r = self.regions.first()?;
        (r.len() >= 2).then(|| u16::from_le_bytes([r[0], r[1]]))
    }
}

/// A transaction being assembled from log operations, or committed.
#[derive(Debug)]
pub(crate) struct Trans {
    /// LSN of the record in which it started.
    pub(crate) lsn: u64,
    pub(crate) items: Vec<Item>,
    bytes: u64,
}

/// What a pass over the log does with what it reads.
pub(crate) trait Committer {
    /// A committed transaction.
    fn commit(&mut self, trans: Trans) -> R<()>;
    /// Called before committing a transaction whose LSN differs from the last one committed:
    /// the kernel writes the buffers it replayed at these points.
    fn lsn_changed(&mut self) -> R<()>;
}

/// The kind of pass: only check CRCs, or feed committed transactions to a [`Committer`].
pub(crate) enum Pass<'a> {
    Crc,
    Items(&'a mut dyn Committer),
}

/// Why a pass stopped, and at which record.
#[derive(Debug)]
pub(crate) struct PassFail {
    pub(crate) fail: Fail,
    /// A CRC mismatch or a malformed record (what a torn write looks like).
    pub(crate) crc_or_corrupt: bool,
    /// Log block of the record being read.
    pub(crate) bad_record: Option<u64>,
}

/// Open transactions by transaction id.
#[derive(Default)]
struct Assembler {
    open: HashMap<u32, Trans>,
    pending: u64,
    recovery_lsn: u64,
}

impl Assembler {
    fn add_bytes(&mut self, n: usize) -> R<()> {
        self.pending += n as u64;
        if self.pending > MAX_PENDING {
            return Err(Fail::Fatal(Error::LogTooLarge {
                what: "the transactions open at once in the log",
                found: self.pending,
                limit: MAX_PENDING,
            }));
        }
        Ok(())
    }

    /// One log operation of the record with LSN `lsn`.
    fn op(&mut self, lsn: u64, tid: u32, flags: u8, data: &[u8], c: &mut dyn Committer) -> R<()> {
        if !self.open.contains_key(&tid) {
            if flags & START_TRANS != 0 {
                if self.open.len() >= MAX_OPEN {
                    return Err(bad(format!(
                        "more than {MAX_OPEN} transactions open at once in the log"
                    )));
                }
                self.open.insert(
                    tid,
                    Trans {
                        lsn,
                        items: Vec::new(),
                        bytes: 0,
                    },
                );
            }
            // Operations of transactions that started before the tail are skipped.
            return Ok(());
        }
        let trans_lsn = self.open.get(&tid).map_or(0, |t| t.lsn);
        if flags & COMMIT_TRANS != 0 && self.recovery_lsn != trans_lsn {
            c.lsn_changed()?;
            self.recovery_lsn = trans_lsn;
        }
        let mut f = flags & !END_TRANS;
        if f & WAS_CONT_TRANS != 0 {
            f &= !CONTINUE_TRANS;
        }
        let r = match f {
            0 | CONTINUE_TRANS => self.add(tid, data),
            WAS_CONT_TRANS => self.add_cont(tid, data),
            COMMIT_TRANS => {
                let trans = self.remove(tid);
                return match trans {
                    Some(t) => c.commit(t),
                    None => Ok(()),
                };
            }
            UNMOUNT_TRANS => {
                self.remove(tid);
                return Ok(());
            }
            _ => Err(bad(format!(
                "log operation of transaction {tid:#x} has flags {flags:#x}, expected a \
                 continuation, commit or unmount"
            ))),
        };
        if r.is_err() {
            self.remove(tid);
        }
        r
    }

    fn remove(&mut self, tid: u32) -> Option<Trans> {
        let t = self.open.remove(&tid)?;
        self.pending -= t.bytes;
        Some(t)
    }

    /// A new region, or the transaction header (`xlog_recover_add_to_trans`).
    fn add(&mut self, tid: u32, data: &[u8]) -> R<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.add_bytes(data.len())?;
        let Some(t) = self.open.get_mut(&tid) else {
            return Ok(());
        };
        t.bytes += data.len() as u64;
        if t.items.is_empty() {
            if data.len() < 4
                || u32::from_le_bytes([data[0], data[1], data[2], data[3]]) != TRANS_MAGIC
            {
                return Err(bad(format!(
                    "transaction {tid:#x} does not start with a transaction header (\"TRAN\")"
                )));
            }
            if data.len() > 16 {
                return Err(bad(format!(
                    "transaction {tid:#x} has a {}-byte header, expected at most 16",
                    data.len()
                )));
            }
            if data.len() == 16 {
                t.items.push(Item::default());
            }
            return Ok(());
        }
        let full = t
            .items
            .last()
            .is_some_and(|i| i.total != 0 && i.total == i.regions.len());
        if full {
            t.items.push(Item::default());
        }
        let Some(item) = t.items.last_mut() else {
            return Ok(());
        };
        if item.total == 0 {
            if data.len() < 4 {
                return Err(bad(format!(
                    "log item of transaction {tid:#x} starts with {} bytes, too short for its \
                     format header",
                    data.len()
                )));
            }
            let n = usize::from(u16::from_le_bytes([data[2], data[3]]));
            if n == 0 || n > MAX_REGIONS {
                return Err(bad(format!(
                    "log item of transaction {tid:#x} announces {n} regions, expected 1 to \
                     {MAX_REGIONS}"
                )));
            }
            item.total = n;
        }
        if item.regions.len() >= item.total {
            return Err(bad(format!(
                "log item of transaction {tid:#x} has more than the {} regions it announces",
                item.total
            )));
        }
        item.regions.push(data.to_vec());
        Ok(())
    }

    /// The rest of a region split across records (`xlog_recover_add_to_cont_trans`).
    fn add_cont(&mut self, tid: u32, data: &[u8]) -> R<()> {
        self.add_bytes(data.len())?;
        let Some(t) = self.open.get_mut(&tid) else {
            return Ok(());
        };
        t.bytes += data.len() as u64;
        if t.items.is_empty() {
            if data.len() > 16 {
                return Err(bad(format!(
                    "transaction {tid:#x} continues its header with {} bytes, expected at most 16",
                    data.len()
                )));
            }
            t.items.push(Item::default());
            return Ok(());
        }
        match t.items.last_mut().and_then(|i| i.regions.last_mut()) {
            Some(r) => {
                r.extend_from_slice(data);
                Ok(())
            }
            None => Err(bad(format!(
                "transaction {tid:#x} continues a region it never started"
            ))),
        }
    }
}

/// The checksum of a record: its header (CRC field as zero), the extended headers its length
/// needs, and its data as written (`xlog_cksum`).
fn cksum(hdr: &[u8], data: &[u8], len: usize, logv2: bool) -> R<u32> {
    let mut crc = crc32c_update(!0, &hdr[..CRC_OFF]);
    crc = crc32c_update(crc, &[0; 4]);
    crc = crc32c_update(crc, &hdr[CRC_OFF + 4..HEADER_LEN]);
    if logv2 {
        let xheads = (len as u64).div_ceil(HEADER_CYCLE_SIZE) as usize;
        for i in 1..xheads {
            let Some(x) = hdr.get(i * BB as usize..i * BB as usize + EXT_HEADER_LEN) else {
                return Err(bad(format!(
                    "log record of {len} bytes needs {xheads} header sectors, it has {}",
                    hdr.len() / BB as usize
                )));
            };
            crc = crc32c_update(crc, x);
        }
    }
    Ok(!crc32c_update(crc, &data[..len]))
}

/// Puts back the first word of every data sector, which the cycle number replaced on disk.
fn unpack(hdr: &[u8], data: &mut [u8], h: &Header) -> R<()> {
    for i in 0..h.len_bbs() as usize {
        let (j, k) = (i / CYCLE_WORDS, i % CYCLE_WORDS);
        let at = if j == 0 {
            44 + 4 * k
        } else {
            j * BB as usize + 4 + 4 * k
        };
        let Some(w) = hdr.get(at..at + 4) else {
            return Err(bad(format!(
                "log record of {} bytes has no cycle data for its sector {i}",
                h.len
            )));
        };
        data[i * BB as usize..i * BB as usize + 4].copy_from_slice(w);
    }
    Ok(())
}

/// Checks and processes one record (header sectors `hdr`, data sectors `data`).
fn process(
    log: &LogDev<'_>,
    blk: u64,
    hdr: &[u8],
    mut data: Vec<u8>,
    pass: &mut Pass<'_>,
    asm: &mut Assembler,
) -> std::result::Result<(), (Fail, bool)> {
    let corrupt = |f: Fail| (f, true);
    let h = Header::parse_first(hdr)
        .ok_or_else(|| corrupt(bad(format!("no log record header at log block {blk}"))))?;
    let len = h.len as usize;
    let crc = cksum(hdr, &data, len, log.sb.logv2).map_err(corrupt)?;
    let committer = match pass {
        Pass::Crc => {
            if log.verify && h.crc != 0 && crc != h.crc {
                return Err(corrupt(bad(format!(
                    "the log record at log block {blk} has CRC {:#010x}, computed {crc:#010x}",
                    h.crc
                ))));
            }
            return Ok(());
        }
        Pass::Items(c) => c,
    };
    if log.verify && crc != h.crc && log.sb.v5 {
        return Err(corrupt(bad(format!(
            "the log record at log block {blk} has CRC {:#010x}, computed {crc:#010x}",
            h.crc
        ))));
    }
    unpack(hdr, &mut data, &h).map_err(corrupt)?;
    if h.fmt != FMT_LINUX_LE {
        return Err((
            bad(format!(
                "the log record at log block {blk} was written in format {}, expected 1 \
                 (little-endian Linux)",
                h.fmt
            )),
            false,
        ));
    }
    if h.uuid != log.sb.uuid {
        return Err(corrupt(bad(format!(
            "the log record at log block {blk} belongs to filesystem {}, not this one",
            imgprep_fs::uuid_string(&h.uuid)
        ))));
    }
    let mut dp = 0;
    let mut ops = h.num_logops;
    while dp < len && ops > 0 {
        if dp + 12 > len {
            return Err(corrupt(bad(format!(
                "log operation header overruns the record at log block {blk}"
            ))));
        }
        let op = &data[dp..dp + 12];
        dp += 12;
        let tid = be32(op, 0);
        let oh_len = be32(op, 4) as usize;
        let (client, flags) = (op[8], op[9]);
        if client != CLIENT_TRANSACTION && client != CLIENT_LOG {
            return Err(corrupt(bad(format!(
                "log operation in the record at log block {blk} has client {client:#x}, \
                 expected 0x69 or 0xaa"
            ))));
        }
        if oh_len > len - dp {
            return Err(corrupt(bad(format!(
                "log operation of {oh_len} bytes overruns the record at log block {blk}"
            ))));
        }
        asm.op(h.lsn, tid, flags, &data[dp..dp + oh_len], &mut **committer)
            .map_err(|f| (f, false))?;
        dp += oh_len;
        ops -= 1;
    }
    Ok(())
}

/// Reads the records from `tail` up to `head` and processes them (`xlog_do_recovery_pass`).
pub(crate) fn do_pass(
    log: &LogDev<'_>,
    head: u64,
    tail: u64,
    pass: &mut Pass<'_>,
) -> std::result::Result<(), PassFail> {
    let at = |blk: u64| {
        move |fail: Fail| PassFail {
            fail,
            crc_or_corrupt: true,
            bad_record: Some(blk),
        }
    };
    let first = log.read(tail, 1).map_err(at(tail))?;
    let h = Header::parse_first(&first).ok_or_else(|| {
        at(tail)(bad(format!(
            "no log record header at the tail, log block {tail}"
        )))
    })?;
    let (bufsize, hblks) = if log.sb.logv2 {
        let mut size = u64::from(h.size);
        // mkfs.xfs once wrote records longer than the iclog size it recorded.
        let logbsize = u64::from(log.sb.logsunit).max(32 << 10);
        if u64::from(h.len) > size && u64::from(h.len) <= logbsize && h.num_logops == 1 {
            size = logbsize;
        }
        if size > MAX_RECORD {
            return Err(at(tail)(bad(format!(
                "the log record at log block {tail} names an iclog size of {size} bytes, more \
                 than 256 KiB"
            ))));
        }
        h.validate(tail, size).map_err(at(tail))?;
        let hblks = if size > HEADER_CYCLE_SIZE && h.version & 2 != 0 {
            size.div_ceil(HEADER_CYCLE_SIZE)
        } else {
            1
        };
        (size, hblks)
    } else {
        (HEADER_CYCLE_SIZE, 1)
    };
    let mut asm = Assembler::default();
    let mut blk = tail;
    let mut one =
        |blk: &mut u64, wrapped: bool, asm: &mut Assembler| -> std::result::Result<(), PassFail> {
            let start = *blk;
            let read = |b: u64, n: u64| {
                if wrapped {
                    log.read_wrapped(b, n)
                } else {
                    log.read(b, n)
                }
            };
            let hdr = read(start, hblks).map_err(at(start))?;
            let h = Header::parse_first(&hdr).ok_or_else(|| {
                at(start)(bad(format!("no log record header at log block {start}")))
            })?;
            h.validate(start, bufsize).map_err(at(start))?;
            let bblks = h.len_bbs();
            let data = read(start + hblks, bblks).map_err(at(start))?;
            process(log, start % log.bbs, &hdr, data, pass, asm).map_err(|(fail, c)| PassFail {
                fail,
                crc_or_corrupt: c,
                bad_record: Some(start % log.bbs),
            })?;
            *blk = start + hblks + bblks;
            Ok(())
        };
    if tail > head {
        while blk < log.bbs {
            one(&mut blk, true, &mut asm)?;
        }
        blk -= log.bbs;
    }
    while blk < head {
        one(&mut blk, false, &mut asm)?;
    }
    Ok(())
}
