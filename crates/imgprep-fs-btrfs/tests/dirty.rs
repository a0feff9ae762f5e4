//! A filesystem snapshotted with fsync'ed changes only in its log trees
//! (images-test/dirty-btrfs.sh): with the log trees replayed in memory the reader must show what
//! the kernel showed after mounting a copy, and what it shows of that copy once the kernel
//! replayed and unmounted it; without them (log_root cleared) the changes must be missing; a
//! damaged log tree must leave the committed state readable and say why.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use common::{Entry, open_file, walk};
use imgprep_fs::{FileKind, LogReplay};
use imgprep_io::ReadAt;
use imgprep_testkit::Patched;

const SUPER: u64 = 0x10000;

fn fixture() -> PathBuf {
    imgprep_testkit::fixture("dirty-btrfs")
}

fn device() -> Arc<dyn ReadAt> {
    open_file(&fixture().join("dirty.img"))
}

fn kind_of(stat_type: &str) -> FileKind {
    match stat_type {
        "directory" => FileKind::Dir,
        "regular file" | "regular empty file" => FileKind::File,
        "symbolic link" => FileKind::Symlink,
        t => panic!("unexpected stat type {t}"),
    }
}

/// The kernel's view after replaying the log trees: `dirty.find` and `dirty.sha256`.
fn kernel_view() -> BTreeMap<String, Entry> {
    let dir = fixture();
    let find = fs_err::read_to_string(dir.join("dirty.find")).unwrap();
    let sums = fs_err::read_to_string(dir.join("dirty.sha256")).unwrap();
    let sums: BTreeMap<&str, &str> = sums
        .lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").unwrap();
            (p.strip_prefix("./").unwrap(), h)
        })
        .collect();
    let mut out = BTreeMap::new();
    for line in find.lines() {
        let f: Vec<&str> = line.splitn(8, ':').collect();
        let (name, target) = match f[7].split_once("' -> '") {
            Some((n, t)) => (n, t.strip_suffix('\'').unwrap()),
            None => (f[7].strip_suffix('\'').unwrap(), ""),
        };
        let path = name.strip_prefix("'./").unwrap().to_string();
        let kind = kind_of(f[0]);
        let content = match kind {
            FileKind::File => sums[path.as_str()].to_string(),
            FileKind::Symlink => target.to_string(),
            _ => String::new(),
        };
        out.insert(
            path,
            Entry {
                kind,
                mode: u32::from_str_radix(f[1], 8).unwrap(),
                size: f[2].parse().unwrap(),
                uid: f[3].parse().unwrap(),
                gid: f[4].parse().unwrap(),
                mtime: f[5].parse().unwrap(),
                ino: f[6].parse().unwrap(),
                content,
            },
        );
    }
    assert!(!out.is_empty());
    out
}

#[test]
fn replayed_log_trees_match_the_kernel() {
    let fs = imgprep_fs_btrfs::open(device()).unwrap();
    let LogReplay::Replayed { applied, .. } = fs.log_replay() else {
        panic!("{:?}", fs.log_replay());
    };
    assert!(!applied.starts_with("0 items"), "{applied}");
    let ours = walk(&*fs);
    let kernel = kernel_view();
    for (path, k) in &kernel {
        assert_eq!(ours.get(path), Some(k), "{path}");
    }
    let extra: Vec<&String> = ours.keys().filter(|p| !kernel.contains_key(*p)).collect();
    assert!(
        extra.is_empty(),
        "paths the kernel does not show: {extra:?}"
    );
    // The copy the kernel replayed and unmounted reads the same, with nothing to replay.
    let recovered =
        imgprep_fs_btrfs::open(open_file(&fixture().join("dirty.recovered.img"))).unwrap();
    assert_eq!(recovered.log_replay(), LogReplay::Clean);
    assert!(
        walk(&*recovered) == ours,
        "the recovered copy reads differently"
    );
}

/// The dirty image with bytes replaced and the superblock checksum recomputed.
fn patched(patches: &[(u64, Vec<u8>)]) -> Patched {
    let mut p = Patched::new(device());
    for (at, b) in patches {
        p.put(*at, b);
    }
    let mut sb = p.get(SUPER, 4096);
    let c = imgprep_io::crc::crc32c(&sb[0x20..]);
    sb[..4].copy_from_slice(&c.to_le_bytes());
    p.put(SUPER, &sb[..4]);
    p
}

#[test]
fn without_the_log_trees_the_fsynced_changes_are_missing() {
    let dev: Arc<dyn ReadAt> = Arc::new(patched(&[(SUPER + 0x60, vec![0; 8])]));
    let fs = imgprep_fs_btrfs::open(dev).unwrap();
    assert_eq!(fs.log_replay(), LogReplay::Clean);
    assert!(fs.lstat(b"/dir/new1").unwrap().is_none());
    assert!(fs.lstat(b"/dir/doomed").unwrap().is_some());
    assert!(fs.lstat(b"/dir/f3").unwrap().is_some());
}

#[test]
fn a_damaged_log_tree_leaves_the_committed_state_and_says_why() {
    let dev = device();
    let mut sb = vec![0u8; 4096];
    dev.read_exact_at(SUPER, &mut sb).unwrap();
    let log_root = u64::from_le_bytes(sb[0x60..0x68].try_into().unwrap());
    // A log root that no chunk maps, then one at the committed root tree's block (a valid block
    // of the wrong tree: it holds no log trees, so nothing is replayed).
    let fs = imgprep_fs_btrfs::open(Arc::new(patched(&[(
        SUPER + 0x60,
        (1u64 << 50).to_le_bytes().to_vec(),
    )])))
    .unwrap();
    let LogReplay::NotReplayed { reason, .. } = fs.log_replay() else {
        panic!("{:?}", fs.log_replay());
    };
    assert!(reason.contains("not mapped by any chunk"), "{reason}");
    assert!(fs.lstat(b"/dir/new1").unwrap().is_none());
    let root = sb[0x50..0x58].to_vec();
    let fs = imgprep_fs_btrfs::open(Arc::new(patched(&[(SUPER + 0x60, root)]))).unwrap();
    assert!(
        matches!(&fs.log_replay(), LogReplay::Replayed { applied, .. } if applied == "0 items in 0 log trees"),
        "{:?}",
        fs.log_replay()
    );
    assert!(log_root != 0);
}
