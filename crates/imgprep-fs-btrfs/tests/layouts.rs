//! The reader against filesystems the kernel wrote (images-test/btrfs-layouts.sh): every view
//! (default subvolume, `subvol=`, `subvolid=`) must list the same paths, types, modes, sizes,
//! owners, times, inode numbers, contents and symlink targets as the kernel showed, and the
//! subvolume list must match `btrfs subvolume list`.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use common::{Entry, open_file, walk};
use imgprep_fs::FileKind;
use imgprep_fs_btrfs::{Subvol, SubvolumeInfo};
use imgprep_io::ReadAt;

fn fixture() -> PathBuf {
    imgprep_testkit::fixture("btrfs-layouts")
}

fn device(image: &str) -> Arc<dyn ReadAt> {
    open_file(&fixture().join(format!("{image}.img")))
}

fn kind_of(stat_type: &str) -> FileKind {
    match stat_type {
        "directory" => FileKind::Dir,
        "regular file" | "regular empty file" => FileKind::File,
        "symbolic link" => FileKind::Symlink,
        "character special file" => FileKind::CharDevice,
        "block special file" => FileKind::BlockDevice,
        "fifo" => FileKind::Fifo,
        "socket" => FileKind::Socket,
        t => panic!("unknown stat type {t}"),
    }
}

/// The kernel's view, from `IMAGE.VIEW.find` and `IMAGE.VIEW.sha256`.
fn kernel_view(image: &str, view: &str) -> BTreeMap<String, Entry> {
    let dir = fixture();
    let find = fs_err::read_to_string(dir.join(format!("{image}.{view}.find"))).unwrap();
    let sums = fs_err::read_to_string(dir.join(format!("{image}.{view}.sha256"))).unwrap();
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
        let quoted = f[7];
        let (name, target) = match quoted.split_once("' -> '") {
            Some((n, t)) => (n, t.strip_suffix('\'').unwrap()),
            None => (quoted.strip_suffix('\'').unwrap(), ""),
        };
        let path = name.strip_prefix("'./").unwrap().to_string();
        let kind = kind_of(f[0]);
        let content = match kind {
            FileKind::File => sums[path.as_str()].to_string(),
            FileKind::Symlink => target.to_string(),
            _ => String::new(),
        };
        let entry = Entry {
            kind,
            mode: u32::from_str_radix(f[1], 8).unwrap(),
            size: f[2].parse().unwrap(),
            uid: f[3].parse().unwrap(),
            gid: f[4].parse().unwrap(),
            mtime: f[5].parse().unwrap(),
            ino: f[6].parse().unwrap(),
            content,
        };
        out.insert(path, entry);
    }
    assert!(!out.is_empty(), "{image}.{view}.find is empty");
    out
}

/// The stand-in directory of an unreachable subvolume gets the current time from the kernel.
fn without_volatile_times(mut v: BTreeMap<String, Entry>) -> BTreeMap<String, Entry> {
    for e in v.values_mut() {
        if e.ino == 2 && e.kind == FileKind::Dir {
            e.mtime = 0;
        }
    }
    v
}

fn check(image: &str, view: &str, sel: Option<Subvol>) {
    let dev = device(image);
    let fs = match sel {
        None => imgprep_fs_btrfs::open(dev),
        Some(sel) => imgprep_fs_btrfs::open_subvolume(dev, sel),
    }
    .unwrap_or_else(|e| panic!("{image}.{view}: {e}"));
    let ours = without_volatile_times(walk(&*fs));
    let kernel = without_volatile_times(kernel_view(image, view));
    for (path, k) in &kernel {
        assert_eq!(ours.get(path), Some(k), "{image}.{view}: {path}");
    }
    let extra: Vec<&String> = ours.keys().filter(|p| !kernel.contains_key(*p)).collect();
    assert!(
        extra.is_empty(),
        "{image}.{view}: paths the kernel does not show: {extra:?}"
    );
}

#[test]
fn fedora_views_match_the_kernel() {
    check("fedora", "default", None);
    check("fedora", "root", Some(Subvol::Path("root".into())));
    check("fedora", "home", Some(Subvol::Path("/home".into())));
    check("fedora", "subvolid-258", Some(Subvol::Id(258)));
}

#[test]
fn suse_views_match_the_kernel() {
    check("suse", "default", None);
    check("suse", "subvolid-5", Some(Subvol::Id(5)));
    check("suse", "at", Some(Subvol::Path("@".into())));
    check("suse", "at-home", Some(Subvol::Path("/@/home".into())));
    check(
        "suse",
        "snapshot-2",
        Some(Subvol::Path("@/.snapshots/2/snapshot/".into())),
    );
}

/// `btrfs subvolume list` lines: "ID 256 gen 10 top level 5 path root".
fn kernel_subvolumes(image: &str) -> Vec<(u64, u64, u64, String)> {
    let text = fs_err::read_to_string(fixture().join(format!("{image}.subvols"))).unwrap();
    text.lines()
        .map(|l| {
            let w: Vec<&str> = l.splitn(9, ' ').collect();
            assert_eq!(
                (w[0], w[2], w[4], w[5], w[7]),
                ("ID", "gen", "top", "level", "path"),
                "{l}"
            );
            (
                w[1].parse().unwrap(),
                w[3].parse().unwrap(),
                w[6].parse().unwrap(),
                w[8].to_string(),
            )
        })
        .collect()
}

fn ours(list: Vec<SubvolumeInfo>) -> Vec<(u64, u64, u64, String)> {
    list.into_iter()
        .map(|s| (s.id, s.generation, s.parent, s.path))
        .collect()
}

#[test]
fn subvolume_lists_match_btrfs_subvolume_list() {
    for image in ["fedora", "suse"] {
        let dev = device(image);
        let got = ours(imgprep_fs_btrfs::subvolumes(&*dev).unwrap());
        assert_eq!(got, kernel_subvolumes(image), "{image}");
    }
    let suse = imgprep_fs_btrfs::subvolumes(&*device("suse")).unwrap();
    let ro: Vec<&str> = suse
        .iter()
        .filter(|s| s.read_only)
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(ro, ["@/.snapshots/2/snapshot"]);
}

#[test]
fn default_subvolume_and_probe_match_the_kernel() {
    for (image, default_line) in [("fedora", "ID 5 (FS_TREE)"), ("suse", "ID 259 ")] {
        let dir = fixture();
        let text = fs_err::read_to_string(dir.join(format!("{image}.default"))).unwrap();
        assert!(text.starts_with(default_line), "{image}: {text}");
        let id: u64 = default_line.split(' ').nth(1).unwrap().parse().unwrap();
        let dev = device(image);
        assert_eq!(imgprep_fs_btrfs::default_subvolume(&*dev).unwrap(), id);

        let blkid = fs_err::read_to_string(dir.join(format!("{image}.blkid"))).unwrap();
        let field = |k: &str| {
            blkid
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_string))
        };
        let info = imgprep_fs_btrfs::probe(&*dev).unwrap();
        assert_eq!(Some(info.fstype), field("TYPE"));
        assert_eq!(info.uuid, field("UUID"));
        assert_eq!(info.label, field("LABEL"));
    }
}

/// Opening what each fstab line of the Fedora root names gives the view the kernel mounted.
#[test]
fn fedora_fstab_options_open_the_right_subvolumes() {
    let dev = device("fedora");
    let root = imgprep_fs_btrfs::open_subvolume(dev.clone(), Subvol::Path("root".into())).unwrap();
    let fstab = String::from_utf8(root.read_file(b"/etc/fstab", 1 << 20).unwrap()).unwrap();
    let mut opened = Vec::new();
    for line in fstab.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let sel = f[3]
            .split(',')
            .find_map(|o| {
                o.strip_prefix("subvol=")
                    .map(|p| Subvol::Path(p.into()))
                    .or_else(|| {
                        o.strip_prefix("subvolid=")
                            .map(|i| Subvol::Id(i.parse().unwrap()))
                    })
            })
            .unwrap();
        let fs = imgprep_fs_btrfs::open_subvolume(dev.clone(), sel).unwrap();
        opened.push((f[1].to_string(), fs.read_dir(b"/").unwrap().len()));
    }
    assert_eq!(
        opened,
        [
            ("/".to_string(), 4),
            ("/home".to_string(), 1),
            ("/var/lib".to_string(), 1)
        ]
    );
}

#[test]
fn bad_selectors_are_refused() {
    let dev = device("suse");
    let err = |sel| {
        imgprep_fs_btrfs::open_subvolume(dev.clone(), sel)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(err(Subvol::Id(999)), "btrfs: no subvolume id 999");
    assert_eq!(
        err(Subvol::Path("@/nope".into())),
        "btrfs: no subvolume path @/nope"
    );
    assert_eq!(
        err(Subvol::Path("@/.snapshots/1".into())),
        "btrfs: @/.snapshots/1 is not a subvolume"
    );
}

/// Reads at odd offsets and lengths across extent boundaries agree with whole-file reads.
#[test]
fn partial_reads_agree_with_whole_reads() {
    let fs =
        imgprep_fs_btrfs::open_subvolume(device("fedora"), Subvol::Path("root".into())).unwrap();
    for path in [
        "/var/zlib/big",
        "/var/lzo/mixed",
        "/var/zstd/frag",
        "/var/frag",
        "/var/sparse",
        "/var/prealloc",
    ] {
        let whole = fs.read_file(path.as_bytes(), 1 << 30).unwrap();
        for (off, len) in [
            (0, 1),
            (4095, 2),
            (131071, 3),
            (131072 + 17, 70000),
            (whole.len() as u64 - 5, 100),
        ] {
            let part = fs.read(path.as_bytes(), off, len).unwrap();
            let end = (off as usize + len).min(whole.len());
            assert_eq!(part, whole[off as usize..end], "{path} at {off}+{len}");
        }
    }
}
