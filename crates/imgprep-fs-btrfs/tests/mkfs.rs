//! Images made by `mkfs.btrfs --rootdir` at test time (well under a second each), compared with
//! the directory they were made from.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Entry, mkfs_rootdir, open_file, sha256, walk};
use imgprep_fs::FileKind;

/// The host's view of `root`, in the shape `walk` returns.
fn host_walk(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = fs_err::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let (kind, content) = if ft.is_symlink() {
                (
                    FileKind::Symlink,
                    fs_err::read_link(&p)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                )
            } else if ft.is_dir() {
                stack.push(p.clone());
                (FileKind::Dir, String::new())
            } else {
                (FileKind::File, sha256(&fs_err::read(&p).unwrap()))
            };
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.insert(
                rel,
                Entry {
                    kind,
                    mode: m.permissions().mode() & 0o7777,
                    size: if kind == FileKind::Dir { 0 } else { m.len() },
                    uid: m.uid(),
                    gid: m.gid(),
                    ino: 0,
                    mtime: m.mtime(),
                    content,
                },
            );
        }
    }
    out
}

#[test]
fn rootdir_image_matches_its_source_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs_err::create_dir_all(src.join("etc/deep/er")).unwrap();
    fs_err::create_dir_all(src.join("many")).unwrap();
    fs_err::write(src.join("etc/hostname"), "host\n").unwrap();
    fs_err::write(src.join("etc/deep/er/file"), vec![7u8; 3000]).unwrap();
    let big: String = (0..60000).map(|i| format!("{i}\n")).collect();
    fs_err::write(src.join("big"), &big).unwrap();
    fs_err::write(src.join("empty"), "").unwrap();
    for i in 0..400 {
        fs_err::write(src.join(format!("many/f{i}")), format!("{i}")).unwrap();
    }
    std::os::unix::fs::symlink("/etc/hostname", src.join("link")).unwrap();
    let img = tmp.path().join("img");
    mkfs_rootdir(&src, &img, &["-L", "rootdir", "-n", "4096"]);

    let dev = open_file(&img);
    let info = imgprep_fs_btrfs::probe(&*dev).unwrap();
    assert_eq!(info.fstype, "btrfs");
    assert_eq!(info.label.as_deref(), Some("rootdir"));
    let fs = imgprep_fs_btrfs::open(dev.clone()).unwrap();
    let mut got = walk(&*fs);
    for e in got.values_mut() {
        e.ino = 0;
        if e.kind == FileKind::Dir {
            e.size = 0;
        }
    }
    assert_eq!(got, host_walk(&src));
    assert_eq!(
        fs.read(b"/big", 100_000, 10).unwrap(),
        big.as_bytes()[100_000..100_010]
    );
    assert!(imgprep_fs_btrfs::subvolumes(&*dev).unwrap().is_empty());
}
