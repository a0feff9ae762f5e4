//! Filesystems left dirty by a forced shutdown (images-test/dirty-xfs.sh): with the log replayed
//! in memory, the reader must show exactly what the kernel showed after mounting a copy (every
//! path, type, mode, size, owner, time, inode number, contents and link target); without replay
//! the changes only the log holds must be missing, so the fixture really exercises recovery.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use common::{device, fixture, kernel_view, walk};
use imgprep_fs::{Filesystem, LogReplay};
use imgprep_fs_xfs::{LogState, Options, Xfs};

fn check(name: &str) {
    let fs = Xfs::open(device("dirty-xfs", name), &Options::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let LogState::Replayed { transactions, .. } = fs.log_state() else {
        panic!("{name}: log state {:?}", fs.log_state());
    };
    assert!(*transactions > 10, "{name}: {transactions} transactions");
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
