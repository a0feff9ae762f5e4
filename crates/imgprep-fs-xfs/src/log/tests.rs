//! Log recovery on hand-built logs: what is replayed, and hostile logs (torn and cyclic records,
//! huge lengths, cycle numbers about to wrap) that must end in a reason, never a panic or a hang.
#![allow(clippy::unwrap_used)]

use imgprep_io::ReadAt;
use imgprep_io::crc::crc32c_update;

use super::{LogState, Recovered, recover};
use crate::crc;
use crate::overlay::BB;
use crate::sb::Superblock;

const BLOCK: u64 = 4096;
const LOG_FSB: u64 = 2048;
const LOG_BLOCKS: u32 = 1024;
const LOG_BBS: u64 = LOG_BLOCKS as u64 * BLOCK / BB;
const UUID: [u8; 16] = [7; 16];
const TID: u32 = 0x1234;

fn superblock(v5: bool) -> Superblock {
    Superblock {
        blocksize: BLOCK as u32,
        blocklog: 12,
        dblocks: 4096,
        agblocks: 4096,
        agblklog: 12,
        agcount: 1,
        inodesize: 512,
        inopblog: 3,
        dirblklog: 0,
        rootino: 128,
        logstart: LOG_FSB,
        logblocks: LOG_BLOCKS,
        logv2: true,
        logsunit: 1,
        log_incompat: 0,
        inoalignmt: 8,
        spino_align: 0,
        sparse_inodes: false,
        v5,
        ftype: true,
        ascii_ci: false,
        nrext64: false,
        uuid: UUID,
        meta_uuid: UUID,
        fname: [0; 12],
    }
}

/// One log operation: transaction id, flags, payload.
struct Op(u32, u8, Vec<u8>);

/// A device of 16 MiB with the log at block 2048, and writers for log records.
struct Fixture {
    dev: Vec<u8>,
    sb: Superblock,
}

impl Fixture {
    fn new(v5: bool) -> Fixture {
        Fixture {
            dev: vec![0u8; (4096 * BLOCK) as usize],
            sb: superblock(v5),
        }
    }

    fn log_sector(&mut self, blk: u64) -> &mut [u8] {
        let at = (LOG_FSB * BLOCK + (blk % LOG_BBS) * BB) as usize;
        &mut self.dev[at..at + BB as usize]
    }

    /// Stamps the first word of log blocks `from..to` with `cycle`, as old records leave them.
    fn old_cycle(&mut self, from: u64, to: u64, cycle: u32) {
        for b in from..to {
            self.log_sector(b)[..4].copy_from_slice(&cycle.to_be_bytes());
        }
    }

    /// Writes a record at log block `blk` (wrapping around the end) and returns the block
    /// after it.
    fn record(&mut self, blk: u64, cycle: u32, tail: (u32, u64), ops: &[Op]) -> u64 {
        let mut data = Vec::new();
        for Op(tid, flags, payload) in ops {
            data.extend_from_slice(&tid.to_be_bytes());
            data.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            data.extend_from_slice(&[0x69, *flags, 0, 0]);
            data.extend_from_slice(payload);
        }
        let len = data.len();
        let sectors = (len as u64).div_ceil(BB).max(1);
        data.resize((sectors * BB) as usize, 0);
        let mut hdr = vec![0u8; BB as usize];
        hdr[0..4].copy_from_slice(&0xfeed_babe_u32.to_be_bytes());
        hdr[4..8].copy_from_slice(&cycle.to_be_bytes());
        hdr[8..12].copy_from_slice(&2u32.to_be_bytes());
        hdr[12..16].copy_from_slice(&(len as u32).to_be_bytes());
        hdr[16..24].copy_from_slice(&((u64::from(cycle) << 32) | (blk % LOG_BBS)).to_be_bytes());
        hdr[24..32].copy_from_slice(&(u64::from(tail.0) << 32 | tail.1).to_be_bytes());
        hdr[40..44].copy_from_slice(&(ops.len() as u32).to_be_bytes());
        hdr[300..304].copy_from_slice(&1u32.to_be_bytes());
        hdr[304..320].copy_from_slice(&UUID);
        hdr[320..324].copy_from_slice(&32768u32.to_be_bytes());
        for i in 0..sectors as usize {
            let s = &mut data[i * BB as usize..];
            hdr[44 + 4 * i..48 + 4 * i].copy_from_slice(&s[..4]);
            // Sectors written past the physical end of the log carry the next cycle (skipping
            // the header magic), as the kernel splits such a record.
            let mut c = cycle;
            if (blk % LOG_BBS) + 1 + i as u64 >= LOG_BBS {
                c = c.wrapping_add(1);
                if c == 0xfeed_babe {
                    c += 1;
                }
            }
            s[..4].copy_from_slice(&c.to_be_bytes());
        }
        let mut c = crc32c_update(!0, &hdr[..32]);
        c = crc32c_update(c, &[0; 4]);
        c = crc32c_update(c, &hdr[36..328]);
        let c = !crc32c_update(c, &data[..len]);
        hdr[32..36].copy_from_slice(&c.to_le_bytes());
        self.log_sector(blk).copy_from_slice(&hdr);
        for i in 0..sectors {
            let s = data[(i * BB) as usize..((i + 1) * BB) as usize].to_vec();
            self.log_sector(blk + 1 + i).copy_from_slice(&s);
        }
        blk + 1 + sectors
    }

    fn recover(&self) -> Recovered {
        recover(&self.dev, &self.sb, true, true).unwrap()
    }

    fn reason(&self) -> String {
        match self.recover().state {
            LogState::NotReplayed { reason } => reason,
            s => panic!("expected a log that cannot be replayed, got {s:?}"),
        }
    }
}

/// The operations of one committed transaction holding `items` (each a list of regions).
fn trans(tid: u32, items: &[Vec<Vec<u8>>]) -> Vec<Op> {
    let mut ops = vec![Op(tid, 0x01, Vec::new())];
    let mut header = 0x5452_414e_u32.to_le_bytes().to_vec();
    header.extend_from_slice(&40u32.to_le_bytes());
    header.extend_from_slice(&tid.to_le_bytes());
    header.extend_from_slice(&(items.len() as u32).to_le_bytes());
    ops.push(Op(tid, 0, header));
    for item in items {
        for r in item {
            ops.push(Op(tid, 0, r.clone()));
        }
    }
    ops.push(Op(tid, 0x02, Vec::new()));
    ops
}

/// A buffer item for `len` basic blocks at `daddr` logging 128-byte chunks `first..` with
/// `data` (a multiple of 128 bytes).
fn buf_item(daddr: i64, len: u16, flags: u16, first: usize, data: &[u8]) -> Vec<Vec<u8>> {
    let chunks = data.len() / 128;
    let mut map = [0u32; 17];
    for c in first..first + chunks {
        map[c / 32] |= 1 << (c % 32);
    }
    let mut f = Vec::new();
    f.extend_from_slice(&0x123c_u16.to_le_bytes());
    f.extend_from_slice(&(if chunks > 0 { 2u16 } else { 1 }).to_le_bytes());
    f.extend_from_slice(&flags.to_le_bytes());
    f.extend_from_slice(&len.to_le_bytes());
    f.extend_from_slice(&daddr.to_le_bytes());
    f.extend_from_slice(&17u32.to_le_bytes());
    for w in map {
        f.extend_from_slice(&w.to_le_bytes());
    }
    let mut regions = vec![f];
    if chunks > 0 {
        regions.push(data.to_vec());
    }
    regions
}

/// Reads `len` bytes at `offset` as the filesystem would after recovery.
fn view(f: &Fixture, r: Recovered, offset: u64, len: usize) -> Vec<u8> {
    let d = crate::overlay::Overlaid {
        base: std::sync::Arc::new(f.dev.clone()),
        overlay: r.overlay,
    };
    let mut b = vec![0u8; len];
    d.read_exact_at(offset, &mut b).unwrap();
    b
}

#[test]
fn a_zeroed_log_and_an_unmount_record_are_clean() {
    let f = Fixture::new(true);
    assert_eq!(f.recover().state, LogState::Clean);
    let mut f = Fixture::new(true);
    let mut unmount = 0x556e_u16.to_le_bytes().to_vec();
    unmount.resize(8, 0);
    f.record(0, 1, (1, 0), &[Op(TID, 0x20, unmount)]);
    assert_eq!(f.recover().state, LogState::Clean);
}

#[test]
fn a_committed_buffer_change_is_replayed() {
    let mut f = Fixture::new(true);
    let next = f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 2, &[0xab; 256])]),
    );
    // A transaction that never committed is not replayed.
    let mut open = trans(TID + 1, &[buf_item(800, 8, 0, 0, &[0xcd; 128])]);
    open.pop();
    f.record(next, 1, (1, 0), &open);
    let r = f.recover();
    assert_eq!(
        r.state,
        LogState::Replayed {
            transactions: 1,
            unfinished: vec![]
        }
    );
    let b = view(&f, r, 800 * BB, 1024);
    assert_eq!(&b[..256], &[0u8; 256][..]);
    assert_eq!(&b[256..512], &[0xab; 256][..]);
    assert_eq!(&b[512..], &[0u8; 512][..]);
}

#[test]
fn replay_off_and_unreplayable_logs_leave_the_metadata_alone() {
    let mut f = Fixture::new(true);
    f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]),
    );
    let r = recover(&f.dev, &f.sb, false, true).unwrap();
    assert_eq!(
        r.state,
        LogState::NotReplayed {
            reason: "replay was turned off".into()
        }
    );
    assert!(r.overlay.is_empty());
    // An item type nobody knows.
    let mut f = Fixture::new(true);
    let mut odd = 0x1299_u16.to_le_bytes().to_vec();
    odd.extend_from_slice(&1u16.to_le_bytes());
    odd.resize(16, 0);
    f.record(0, 1, (1, 0), &trans(TID, &[vec![odd]]));
    assert_eq!(f.reason(), "log item of unknown type 0x1299");
}

#[test]
fn a_cancelled_buffer_is_not_replayed_but_a_later_reuse_is() {
    let mut f = Fixture::new(false);
    let mut blk = f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]),
    );
    blk = f.record(
        blk,
        1,
        (1, 0),
        &trans(TID + 1, &[buf_item(800, 8, 0x2, 0, &[])]),
    );
    let r = f.recover();
    assert_eq!(view(&f, r, 800 * BB, 4), [0, 0, 0, 0]);
    f.record(
        blk,
        1,
        (1, 0),
        &trans(TID + 2, &[buf_item(800, 8, 0, 0, &[2; 128])]),
    );
    let r = f.recover();
    assert_eq!(
        r.state,
        LogState::Replayed {
            transactions: 3,
            unfinished: vec![]
        }
    );
    assert_eq!(view(&f, r, 800 * BB, 4), [2, 2, 2, 2]);
}

#[test]
fn a_newer_buffer_on_disk_is_not_replayed_over() {
    let mut f = Fixture::new(true);
    // A v5 directory data block already written with LSN (1, 50), stamped with our UUID.
    let at = (900 * BB) as usize;
    f.dev[at..at + 4].copy_from_slice(&0x5844_4433_u32.to_be_bytes());
    f.dev[at + 16..at + 24].copy_from_slice(&(1u64 << 32 | 50).to_be_bytes());
    f.dev[at + 24..at + 40].copy_from_slice(&UUID);
    f.dev[at + 64] = 9;
    let mut chunk = f.dev[at..at + 128].to_vec();
    chunk[64] = 10;
    f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(900, 8, 11 << 11, 0, &chunk)]),
    );
    let r = f.recover();
    assert_eq!(view(&f, r, 900 * BB + 64, 1), [9]);
}

#[test]
fn replayed_v5_blocks_get_the_lsn_and_crc_the_kernel_writes() {
    let mut f = Fixture::new(true);
    let mut chunk = vec![0u8; 256];
    chunk[..4].copy_from_slice(&0x5844_4433_u32.to_be_bytes());
    chunk[24..40].copy_from_slice(&UUID);
    chunk[200] = 0x42;
    f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(900, 8, 11 << 11, 0, &chunk)]),
    );
    let r = f.recover();
    let b = view(&f, r, 900 * BB, 4096);
    assert_eq!(b[200], 0x42);
    assert_eq!(
        &b[16..24],
        &(1u64 << 32).to_be_bytes()[..],
        "LSN of the record"
    );
    assert_eq!(crc::stored(&b, 4), crc::xfs_cksum(&b, 4));
}

#[test]
fn a_transaction_split_across_records_is_reassembled() {
    let mut f = Fixture::new(true);
    let mut ops = trans(TID, &[buf_item(800, 8, 0, 0, &[5; 256])]);
    let commit = ops.pop().unwrap();
    let data = ops.pop().unwrap();
    let (a, b) = data.2.split_at(100);
    ops.push(Op(TID, 0x04, a.to_vec()));
    let next = f.record(0, 1, (1, 0), &ops);
    f.record(next, 1, (1, 0), &[Op(TID, 0x08 | 0x10, b.to_vec()), commit]);
    let r = f.recover();
    assert!(matches!(
        r.state,
        LogState::Replayed {
            transactions: 1,
            ..
        }
    ));
    assert_eq!(view(&f, r, 800 * BB + 250, 6), [5, 5, 5, 5, 5, 5][..]);
}

#[test]
fn a_torn_last_record_is_cut_off() {
    let mut f = Fixture::new(true);
    let next = f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]),
    );
    let end = f.record(
        next,
        1,
        (1, 0),
        &trans(TID + 1, &[buf_item(808, 8, 0, 0, &[2; 128])]),
    );
    // Tear the second record: one of its data sectors never reached the disk.
    f.log_sector(end - 1)[100] ^= 0xff;
    let r = f.recover();
    assert_eq!(
        r.state,
        LogState::Replayed {
            transactions: 1,
            unfinished: vec![]
        }
    );
    let b = view(&f, r, 800 * BB, 8 * 512);
    assert_eq!(b[0], 1);
    assert_eq!(b[8 * 512 - 1], 0);
}

#[test]
fn a_bad_crc_before_the_last_records_is_not_replayed() {
    let mut f = Fixture::new(true);
    let mut blk = f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]),
    );
    let bad_at = blk;
    for i in 1..12 {
        blk = f.record(
            blk,
            1,
            (1, 0),
            &trans(TID + i, &[buf_item(800, 8, 0, 0, &[1; 128])]),
        );
    }
    f.log_sector(bad_at + 1)[200] ^= 1;
    let reason = f.reason();
    assert!(
        reason.contains(&format!("log block {bad_at} has CRC")),
        "{reason}"
    );
}

#[test]
fn a_log_running_across_the_physical_end_is_replayed() {
    let mut f = Fixture::new(true);
    // The whole log written in cycle 2; a record from the tail near the end wraps to the start,
    // where cycle 3 begins.
    let tail = LOG_BBS - 2;
    f.old_cycle(0, LOG_BBS, 2);
    let next = f.record(
        tail,
        2,
        (2, tail),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[3; 512])]),
    );
    assert!(next > LOG_BBS, "the record must wrap");
    f.record(
        next % LOG_BBS,
        3,
        (2, tail),
        &trans(TID + 1, &[buf_item(808, 8, 0, 1, &[4; 128])]),
    );
    let r = f.recover();
    assert!(
        matches!(
            r.state,
            LogState::Replayed {
                transactions: 2,
                ..
            }
        ),
        "{:?}",
        r.state
    );
    let b = view(&f, r, 800 * BB, 16 * 512);
    assert_eq!(b[511], 3);
    assert_eq!(b[8 * 512 + 128], 4);
}

#[test]
fn cycle_numbers_at_the_top_of_their_range_work() {
    let mut f = Fixture::new(true);
    f.old_cycle(0, LOG_BBS, u32::MAX - 1);
    f.record(
        0,
        u32::MAX,
        (u32::MAX, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[6; 128])]),
    );
    let r = f.recover();
    assert!(matches!(
        r.state,
        LogState::Replayed {
            transactions: 1,
            ..
        }
    ));
    assert_eq!(view(&f, r, 800 * BB, 1), [6]);
    // Every block stamped with one cycle (the previous one 0 wrapping to u32::MAX).
    let mut f = Fixture::new(true);
    f.old_cycle(0, LOG_BBS, 0);
    f.record(
        0,
        0,
        (0, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[6; 128])]),
    );
    let _ = f.recover(); // no panic, no hang
}

#[test]
fn hostile_lengths_and_counts_end_in_a_reason() {
    // A record claiming 4 GiB of data.
    let mut f = Fixture::new(true);
    f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]),
    );
    f.log_sector(0)[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
    let _ = f.recover();
    // An iclog size of 4 GiB.
    let mut f = Fixture::new(true);
    f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]),
    );
    f.log_sector(0)[320..324].copy_from_slice(&u32::MAX.to_be_bytes());
    let _ = f.recover();
    // An operation claiming more bytes than the record holds.
    let mut f = Fixture::new(false);
    let mut ops = trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]);
    ops.insert(2, Op(TID, 0, Vec::new()));
    f.record(0, 1, (1, 0), &ops);
    let s = f.log_sector(1);
    // the third operation header (after START and the 16-byte transaction header)
    s[12 + 12 + 16 + 4..12 + 12 + 16 + 8].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    // v4 records may carry no CRC.
    f.log_sector(0)[32..36].fill(0);
    assert!(f.reason().contains("overruns the record"), "{}", f.reason());
    // Items announcing 0 and 65535 regions.
    for n in [0u16, 65535] {
        let mut f = Fixture::new(false);
        let mut item = buf_item(800, 8, 0, 0, &[1; 128]);
        item[0][2..4].copy_from_slice(&n.to_le_bytes());
        f.record(0, 1, (1, 0), &trans(TID, &[item]));
        assert!(
            f.reason().contains(&format!("announces {n} regions")),
            "{}",
            f.reason()
        );
    }
    // A buffer far outside the filesystem and one of 64 MiB.
    for (daddr, len) in [(i64::MAX - 4, 8u16), (800, u16::MAX)] {
        let mut f = Fixture::new(false);
        f.record(
            0,
            1,
            (1, 0),
            &trans(TID, &[buf_item(daddr, len, 0, 0, &[1; 128])]),
        );
        assert!(
            f.reason().contains("outside the filesystem"),
            "{}",
            f.reason()
        );
    }
    // A bitmap marking chunks past the buffer's end.
    let mut f = Fixture::new(false);
    f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 1, 0, 3, &[1; 256])]),
    );
    assert!(
        f.reason().contains("of a 512-byte buffer"),
        "{}",
        f.reason()
    );
}

#[test]
fn records_pointing_at_themselves_end() {
    // The tail named by the last record is the head itself, and a record whose length makes
    // the next header land inside it.
    let mut f = Fixture::new(true);
    let next = f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[buf_item(800, 8, 0, 0, &[1; 128])]),
    );
    f.record(next, 1, (1, next + 3), &trans(TID + 1, &[]));
    let _ = f.recover();
    let mut f = Fixture::new(false);
    f.old_cycle(0, LOG_BBS, 1);
    for b in (0..LOG_BBS).step_by(2) {
        f.record(b, 1, (1, (b + 2) % LOG_BBS), &[Op(TID, 0x01, Vec::new())]);
    }
    let _ = f.recover();
}

#[test]
fn an_inode_item_rewrites_the_core_and_fork() {
    let mut f = Fixture::new(true);
    // Inode 1600 in the cluster at basic block 1600 (block 200), as mkfs left it.
    let at = (200 * BLOCK) as usize;
    let d = &mut f.dev[at..at + 512];
    d[0..2].copy_from_slice(&0x494e_u16.to_be_bytes());
    d[4] = 3;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&0x123b_u16.to_le_bytes());
    fmt.extend_from_slice(&3u16.to_le_bytes());
    fmt.extend_from_slice(&(0x1u32 | 0x4).to_le_bytes()); // core + extents
    fmt.extend_from_slice(&0u16.to_le_bytes());
    fmt.extend_from_slice(&16u16.to_le_bytes());
    fmt.extend_from_slice(&0u32.to_le_bytes());
    fmt.extend_from_slice(&1600u64.to_le_bytes());
    fmt.extend_from_slice(&[0; 16]);
    fmt.extend_from_slice(&1600i64.to_le_bytes());
    fmt.extend_from_slice(&16i32.to_le_bytes());
    fmt.extend_from_slice(&0i32.to_le_bytes());
    let mut core = vec![0u8; 176];
    core[0..2].copy_from_slice(&0x494e_u16.to_le_bytes());
    core[2..4].copy_from_slice(&0o100644_u16.to_le_bytes());
    core[4] = 3;
    core[5] = 2;
    core[8..12].copy_from_slice(&1000u32.to_le_bytes());
    core[40..44].copy_from_slice(&1_700_000_000i32.to_le_bytes());
    core[56..64].copy_from_slice(&5000u64.to_le_bytes());
    core[64..72].copy_from_slice(&2u64.to_le_bytes());
    core[76..80].copy_from_slice(&1u32.to_le_bytes());
    core[152..160].copy_from_slice(&1600u64.to_le_bytes());
    core[160..176].copy_from_slice(&UUID);
    let fork = vec![0x5a; 16];
    f.record(0, 1, (1, 0), &trans(TID, &[vec![fmt, core, fork]]));
    let r = f.recover();
    assert!(matches!(
        r.state,
        LogState::Replayed {
            transactions: 1,
            ..
        }
    ));
    let d = view(&f, r, 200 * BLOCK, 512);
    assert_eq!(&d[2..4], &0o100644_u16.to_be_bytes()[..]);
    assert_eq!(&d[8..12], &1000u32.to_be_bytes()[..]);
    assert_eq!(&d[40..44], &1_700_000_000i32.to_be_bytes()[..]);
    assert_eq!(&d[56..64], &5000u64.to_be_bytes()[..]);
    assert_eq!(
        &d[112..120],
        &(1u64 << 32).to_be_bytes()[..],
        "LSN of the replay"
    );
    assert_eq!(&d[176..192], &[0x5a; 16][..]);
    assert_eq!(crc::stored(&d, 100), crc::xfs_cksum(&d, 100));
}

#[test]
fn unfinished_intents_are_reported() {
    let intent = |kind: u16, id: u64| {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend_from_slice(&1u16.to_le_bytes());
        r.extend_from_slice(&1u32.to_le_bytes());
        r.extend_from_slice(&id.to_le_bytes());
        r.extend_from_slice(&[0; 16]);
        vec![r]
    };
    let mut f = Fixture::new(true);
    let next = f.record(
        0,
        1,
        (1, 0),
        &trans(TID, &[intent(0x1236, 1), intent(0x1236, 2)]),
    );
    f.record(
        next,
        1,
        (1, 0),
        &trans(TID + 1, &[intent(0x1237, 1), intent(0x1244, 9)]),
    );
    let r = f.recover();
    assert_eq!(
        r.state,
        LogState::Replayed {
            transactions: 2,
            unfinished: vec![("extent-free", 1), ("block-mapping", 1)]
        }
    );
    assert_eq!(
        r.state.to_log_replay().note().unwrap(),
        "not cleanly unmounted: XFS log replayed in memory (2 transactions); not finished: 1 \
         extent-free intent, 1 block-mapping intent, so facts may be stale"
    );
}
