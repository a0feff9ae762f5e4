//! The reader against files the Linux kernel wrote (images-test/xfs-written.sh): extent
//! B+trees of one and two levels, holes, unwritten extents, timestamps before 1970 and after
//! 2038, remote symlinks with v5 headers, directories with removed entries, and a dirty log.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use common::device;
use imgprep_fs::{FileKind, Filesystem};
use imgprep_fs_xfs::{LogState, Options, Xfs};

fn open(img: &str) -> Xfs {
    Xfs::open(device("xfs-written", img), &Options::default())
        .unwrap_or_else(|e| panic!("{img}: {e}"))
}

fn long_target() -> Vec<u8> {
    let mut t = b"/".to_vec();
    for _ in 0..32 {
        t.extend_from_slice(b"long-symlink-target-component/");
    }
    t.extend_from_slice(b"end");
    t
}

/// Expected bytes of /frag: block 2k holds (k % 251) + 1, odd blocks are holes.
fn frag(bs: usize, count: usize) -> Vec<u8> {
    let mut v = vec![0u8; (2 * (count - 1) + 1) * bs];
    for k in 0..count {
        v[2 * k * bs..(2 * k + 1) * bs].fill((k % 251 + 1) as u8);
    }
    v
}

fn check(img: &str, bs: usize, count: usize, bigtime: bool) {
    let fs = open(img);
    assert_eq!(*fs.log_state(), LogState::Clean, "{img}");
    let want = frag(bs, count);
    let got = fs.read_file(b"/frag", 1 << 30).unwrap();
    assert!(
        got == want,
        "{img}: /frag ({} vs {} bytes)",
        got.len(),
        want.len()
    );
    // Reads that start and end inside holes and extents.
    for (off, len) in [
        (bs as u64 / 2, bs),
        (3 * bs as u64 - 7, 3 * bs),
        (want.len() as u64 - 5, 100),
    ] {
        let lo = off as usize;
        let hi = (lo + len).min(want.len());
        assert!(
            fs.read(b"/frag", off, len).unwrap() == want[lo..hi],
            "{img}: /frag at {off}"
        );
    }

    let mut sparse = vec![0u8; 3 << 20];
    sparse[..4096].fill(b'a');
    sparse[1 << 20..(1 << 20) + 4096].fill(b'b');
    assert!(
        fs.read_file(b"/sparse", 1 << 30).unwrap() == sparse,
        "{img}: /sparse"
    );
    let mut prealloc = vec![0u8; 256 << 10];
    prealloc[64 << 10..68 << 10].fill(b'c');
    assert!(
        fs.read_file(b"/prealloc", 1 << 30).unwrap() == prealloc,
        "{img}: /prealloc"
    );
    assert_eq!(
        fs.read_file(b"/unwritten", 1 << 30).unwrap(),
        vec![0u8; 65536],
        "{img}"
    );

    let mtime = |p: &[u8]| fs.lstat(p).unwrap().unwrap().mtime;
    // Without bigtime the kernel clamps to the largest 32-bit time.
    assert_eq!(
        mtime(b"/future"),
        if bigtime {
            10_000_000_000
        } else {
            i64::from(i32::MAX)
        },
        "{img}"
    );
    assert_eq!(mtime(b"/past"), -1_000_000_000, "{img}");

    let names: Vec<Vec<u8>> = fs
        .read_dir(b"/xattr-dir")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec![b"file".to_vec()], "{img}");
    assert_eq!(fs.read_file(b"/xattr-dir/file", 10).unwrap(), b"x\n");
    assert_eq!(fs.read_link(b"/link-long").unwrap(), long_target(), "{img}");
    assert_eq!(fs.read_link(b"/link-short").unwrap(), b"sparse", "{img}");
    let meta = fs.lstat(b"/link-long").unwrap().unwrap();
    assert_eq!((meta.kind, meta.size), (FileKind::Symlink, 964));

    let mut got: Vec<Vec<u8>> = fs
        .read_dir(b"/many")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let mut want: Vec<Vec<u8>> = (0..1500)
        .filter(|i| i % 3 != 0 && !(500..800).contains(i))
        .map(|i| format!("file-with-a-moderately-long-name-{i}").into_bytes())
        .collect();
    got.sort();
    want.sort();
    assert!(
        got == want,
        "{img}: /many ({} vs {} entries)",
        got.len(),
        want.len()
    );
    assert!(
        fs.lstat(b"/many/file-with-a-moderately-long-name-501")
            .unwrap()
            .is_none()
    );
    assert!(
        fs.lstat(b"/many/file-with-a-moderately-long-name-1499")
            .unwrap()
            .is_some()
    );
}

#[test]
fn v5_1k_two_level_extent_btree() {
    check("frag-v5-b1k", 1024, 2600, true);
}

#[test]
fn v5_4k_one_level_extent_btree() {
    check("frag-v5-b4k", 4096, 600, true);
}

#[test]
fn v4_4k_extent_btree() {
    check("frag-v4-b4k", 4096, 600, false);
}

#[test]
fn a_dirty_log_is_replayed_and_shows_what_only_it_holds() {
    let fs = open("dirty-v5");
    assert!(
        matches!(fs.log_state(), LogState::Replayed { .. }),
        "{:?}",
        fs.log_state()
    );
    // Written and frozen (log covered) before the shutdown: in place.
    assert_eq!(fs.read_file(b"/before", 100).unwrap(), b"before\n");
    // Written after the freeze: only the log holds the inode and the directory entry. Its data
    // was still in the page cache at the shutdown (no sync), so, as Linux shows it after
    // recovery, the file is empty.
    assert_eq!(fs.lstat(b"/after").unwrap().unwrap().size, 0);
    assert_eq!(fs.read_file(b"/after", 100).unwrap(), b"");
    let stale = Xfs::open(
        common::device("xfs-written", "dirty-v5"),
        &Options {
            replay_log: false,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(stale.lstat(b"/after").unwrap().is_none());
    assert_eq!(stale.read_file(b"/before", 100).unwrap(), b"before\n");
}
