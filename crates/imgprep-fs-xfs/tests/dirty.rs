//! Filesystems left dirty by a forced shutdown (images-test/dirty-xfs.sh): with the log replayed
//! in memory, the reader must show exactly what the kernel showed after mounting a copy (every
//! path, type, mode, size, owner, time, inode number, contents and link target), and what it
//! shows of the copy the kernel recovered and unmounted; without replay the changes only the log
//! holds must be missing, so the fixture really exercises recovery. The number of transactions
//! replayed must be the number xfs_logprint finds.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use common::{device, fixture, kernel_view, walk};
use imgprep_fs::{Filesystem, LogReplay};
use imgprep_fs_xfs::{LogState, Options, Xfs};
use imgprep_io::ReadAt;
use imgprep_testkit::Patched;

fn check(name: &str) {
    let fs = Xfs::open(device("dirty-xfs", name), &Options::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let LogState::Replayed { transactions, .. } = fs.log_state() else {
        panic!("{name}: log state {:?}", fs.log_state());
    };
    // xfs_logprint -t prints a "TRANS:" line for each committed transaction it replays.
    let logprint =
        fs_err::read_to_string(fixture("dirty-xfs").join(format!("{name}.logprint"))).unwrap();
    let trans_lines = logprint.lines().filter(|l| l.starts_with("TRANS:")).count() as u64;
    assert_eq!(*transactions, trans_lines, "{name}: transactions replayed");
    assert!(matches!(fs.log_replay(), LogReplay::Replayed { .. }));
    let ours = walk(&fs);
    let kernel = kernel_view(&fixture("dirty-xfs"), name);
    for (path, k) in &kernel {
        assert_eq!(ours.get(path), Some(k), "{name}: {path}");
    }
    let extra: Vec<&String> = ours.keys().filter(|p| !kernel.contains_key(*p)).collect();
    assert!(
        extra.is_empty(),
        "{name}: paths the kernel does not show: {extra:?}"
    );

    // The copy the kernel recovered and unmounted cleanly reads the same, with nothing to
    // replay.
    let recovered = Xfs::open(
        device("dirty-xfs", &format!("{name}.recovered")),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(*recovered.log_state(), LogState::Clean, "{name}");
    assert!(
        walk(&recovered) == ours,
        "{name}: the recovered copy reads differently"
    );

    // Without replay, what only the log holds is missing or stale.
    let stale = Xfs::open(
        device("dirty-xfs", name),
        &Options {
            replay_log: false,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        *stale.log_state(),
        LogState::NotReplayed {
            reason: "replay was turned off".into()
        }
    );
    assert!(stale.lstat(b"/new").unwrap().is_none(), "{name}: /new");
}

#[test]
fn v5_matches_the_kernel_after_recovery() {
    check("v5");
}

#[test]
fn v4_matches_the_kernel_after_recovery() {
    check("v4");
}

#[test]
fn v5_with_a_log_wrapping_around_its_end_matches_the_kernel() {
    check("v5-1k");
}

/// The log's start on the device (bytes) and its head block, from `NAME.logprint`.
fn log_geometry(name: &str) -> (u64, u64) {
    let text =
        fs_err::read_to_string(fixture("dirty-xfs").join(format!("{name}.logprint"))).unwrap();
    let num = |after: &str| -> u64 {
        let at = text.find(after).unwrap() + after.len();
        text[at..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (num("daddr:") * 512, num("head:"))
}

#[test]
fn a_torn_last_record_is_cut_off_like_the_kernel_cuts_it() {
    let (start, head) = log_geometry("v5");
    let dev = device("dirty-xfs", "v5");
    let mut sector = vec![0u8; 512];
    let at = start + (head - 2) * 512;
    dev.read_exact_at(at, &mut sector).unwrap();
    sector[300] ^= 0xff;
    let torn = Patched {
        base: dev,
        patches: vec![(at, sector)],
    };
    let fs = Xfs::open(std::sync::Arc::new(torn), &Options::default()).unwrap();
    // The big last checkpoint loses its commit record: only what came before it is replayed,
    // and the tree must still read.
    assert!(
        matches!(
            fs.log_state(),
            LogState::Replayed {
                transactions: 1,
                ..
            }
        ),
        "{:?}",
        fs.log_state()
    );
    walk(&fs);
    assert!(fs.lstat(b"/new").unwrap().is_none());
}
