//! The reader against images mkfs.xfs populated from a prototype file (images-test/xfs-proto.sh):
//! every path of the manifest must have its type, mode, owner, size, contents or target; every
//! directory must list exactly the manifest's children; probe must agree with `blkid -p`.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::BTreeMap;

use common::{blkid_export, device, fixture};
use imgprep_fs::{FileKind, Filesystem};
use imgprep_fs_xfs::{LogState, Options, Xfs};

struct Row {
    path: Vec<u8>,
    kind: FileKind,
    mode: u32,
    uid: u32,
    gid: u32,
    extra: Vec<u8>,
}

fn manifest(name: &str) -> Vec<Row> {
    let text = fs_err::read(fixture("xfs-proto").join(name)).unwrap();
    text.split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&[u8]> = l.split(|&c| c == b'\t').collect();
            let s = |i: usize| std::str::from_utf8(f[i]).unwrap();
            Row {
                path: f[0].to_vec(),
                kind: match s(1) {
                    "file" => FileKind::File,
                    "dir" => FileKind::Dir,
                    "symlink" => FileKind::Symlink,
                    "chardev" => FileKind::CharDevice,
                    "blockdev" => FileKind::BlockDevice,
                    "fifo" => FileKind::Fifo,
                    other => panic!("kind {other}"),
                },
                mode: u32::from_str_radix(s(2), 8).unwrap(),
                uid: s(3).parse().unwrap(),
                gid: s(4).parse().unwrap(),
                extra: f[5].to_vec(),
            }
        })
        .collect()
}

fn parent_and_name(path: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let slash = path.iter().rposition(|&c| c == b'/').unwrap();
    let parent = if slash == 0 {
        b"/".to_vec()
    } else {
        path[..slash].to_vec()
    };
    (parent, path[slash + 1..].to_vec())
}

/// Checks image `img` (with or without the 50000-entry directory) against the manifest.
///
/// mkfs.xfs 6.1 writes the blocks of a remote symlink (one too long for the inode) without the
/// header v5 requires (xfs_repair calls them bad, the kernel refuses them), so on v5 the reader
/// must refuse them too; `remote_v5_link` is the inode's literal area in bytes on v5, 0 on v4.
fn check(img: &str, big: bool, ftype: bool, remote_v5_link: usize) {
    let dir = fixture("xfs-proto");
    let fs = Xfs::open(device("xfs-proto", img), &Options::default())
        .unwrap_or_else(|e| panic!("{img}: {e}"));
    assert_eq!(*fs.log_state(), LogState::Clean, "{img}");
    let rows = manifest(if big {
        "manifest.tsv"
    } else {
        "manifest-small.tsv"
    });
    let mut children: BTreeMap<Vec<u8>, Vec<(Vec<u8>, FileKind)>> = BTreeMap::new();
    let mut sources: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let shown = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    for row in &rows {
        let p = &row.path;
        let meta = fs
            .lstat(p)
            .unwrap_or_else(|e| panic!("{img}: lstat {}: {e}", shown(p)))
            .unwrap_or_else(|| panic!("{img}: {} missing", shown(p)));
        let got = (meta.kind, meta.mode, meta.uid, meta.gid);
        assert_eq!(
            got,
            (row.kind, row.mode, row.uid, row.gid),
            "{img}: {}",
            shown(p)
        );
        if p.as_slice() != b"/" {
            let (parent, name) = parent_and_name(p);
            children.entry(parent).or_default().push((name, row.kind));
        }
        children.entry(p.clone()).or_default();
        match row.kind {
            FileKind::File => {
                let want = sources.entry(row.extra.clone()).or_insert_with(|| {
                    fs_err::read(dir.join("src").join(shown(&row.extra))).unwrap()
                });
                assert_eq!(meta.size, want.len() as u64, "{img}: size of {}", shown(p));
                let data = fs.read_file(p, 1 << 30).unwrap();
                assert!(data == *want, "{img}: contents of {}", shown(p));
            }
            FileKind::Symlink => {
                assert_eq!(meta.size, row.extra.len() as u64, "{img}: {}", shown(p));
                if remote_v5_link > 0 && row.extra.len() > remote_v5_link {
                    let e = fs.read_link(p).unwrap_err().to_string();
                    assert!(
                        e.contains("symlink block at 0x") && e.contains("XSLM"),
                        "{img}: {e}"
                    );
                    continue;
                }
                let target = fs
                    .read_link(p)
                    .unwrap_or_else(|e| panic!("{img}: {}: {e}", shown(p)));
                assert_eq!(
                    shown(&target),
                    shown(&row.extra),
                    "{img}: target of {}",
                    shown(p)
                );
            }
            _ => {}
        }
    }
    for (d, want) in &children {
        let meta = fs.lstat(d).unwrap().unwrap();
        if meta.kind != FileKind::Dir {
            continue;
        }
        let got = fs
            .read_dir(d)
            .unwrap_or_else(|e| panic!("{img}: read_dir {}: {e}", shown(d)));
        let mut got: Vec<(Vec<u8>, Option<FileKind>)> =
            got.into_iter().map(|e| (e.name, e.kind)).collect();
        let mut want: Vec<(Vec<u8>, Option<FileKind>)> = want
            .iter()
            .map(|(n, k)| (n.clone(), ftype.then_some(*k)))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(
            got == want,
            "{img}: listing of {} ({} vs {} entries)",
            shown(d),
            got.len(),
            want.len()
        );
    }
    // Reads at offsets inside and past the end, across block boundaries.
    let big_src = fs_err::read(dir.join("src/big")).unwrap();
    for (off, len) in [
        (0u64, 10usize),
        (4095, 2),
        (1023, 1026),
        (3_145_800, 100),
        (3_145_827, 5),
        (1 << 40, 3),
    ] {
        let got = fs.read(b"/big.bin", off, len).unwrap();
        let lo = (off as usize).min(big_src.len());
        let hi = (lo + len).min(big_src.len());
        assert!(got == big_src[lo..hi], "{img}: read at {off}+{len}");
    }
    // Interface errors.
    assert!(fs.lstat(b"/nope").unwrap().is_none());
    assert!(
        fs.lstat(b"/hello.txt/x")
            .is_err_and(|e| matches!(e, imgprep_fs::FsError::NotADirectory { .. }))
    );
    assert!(fs.read_dir(b"/hello.txt").is_err());
    assert!(
        fs.read_link(b"/hello.txt")
            .is_err_and(|e| matches!(e, imgprep_fs::FsError::NotASymlink { .. }))
    );
    assert!(
        fs.read(b"/dirs", 0, 1)
            .is_err_and(|e| matches!(e, imgprep_fs::FsError::IsADirectory { .. }))
    );
    assert!(
        fs.read_file(b"/big.bin", 100)
            .is_err_and(|e| matches!(e, imgprep_fs::FsError::TooLarge { .. }))
    );
}

#[test]
fn v5_4k_blocks_all_directory_forms() {
    check("v5-b4k", true, true, 336);
}

#[test]
fn v5_1k_blocks_4k_directory_blocks() {
    check("v5-b1k", true, true, 336);
}

#[test]
fn v4_without_ftype() {
    check("v4-ftype0", true, false, 0);
}

#[test]
fn v4_with_ftype_1k_blocks() {
    check("v4-ftype1-b1k", false, true, 0);
}

#[test]
fn v5_2k_inodes_8k_directory_blocks() {
    check("v5-b4k-i2048-n8k", false, true, 2048 - 176);
}

#[test]
fn v5_1k_blocks_with_4k_directory_blocks_small() {
    check("v5-b1k-n4k", false, true, 336);
}

#[test]
fn v5_changed_uuid_uses_meta_uuid_for_metadata() {
    check("v5-newuuid", false, true, 1024 - 176);
}

#[test]
fn probe_and_info_match_blkid() {
    let dir = fixture("xfs-proto");
    for img in [
        "v5-b4k",
        "v5-b1k",
        "v4-ftype0",
        "v4-ftype1-b1k",
        "v5-b4k-i2048-n8k",
        "v5-b1k-n4k",
        "v5-newuuid",
    ] {
        let text = fs_err::read_to_string(dir.join(format!("{img}.blkid"))).unwrap();
        let (label, uuid, ty) = blkid_export(&text);
        assert_eq!(ty.as_deref(), Some("xfs"), "{img}");
        let dev = device("xfs-proto", img);
        let info = imgprep_fs_xfs::probe(dev.as_ref()).unwrap();
        assert_eq!(
            (info.fstype.as_str(), &info.label, &info.uuid),
            ("xfs", &label, &uuid),
            "{img}"
        );
        let fs = imgprep_fs_xfs::open(dev).unwrap();
        assert_eq!(fs.info(), &info, "{img}");
    }
}
