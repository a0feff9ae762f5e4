//! The reader against what ntfs-3g and blkid saw on the `ntfs-tree` fixture.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::sync::Arc;

use common::{fixture, image, manifest};
use imgprep_fs::{FileKind, Filesystem, FsError};
use imgprep_io::ReadAt;
use sha2::{Digest, Sha256};

fn fs() -> Box<dyn Filesystem> {
    imgprep_fs_ntfs::open(Arc::new(image())).unwrap()
}

#[test]
fn probe_matches_blkid() {
    let blkid = fs_err::read_to_string(fixture("ntfs-tree").join("ntfs.blkid")).unwrap();
    let field = |k: &str| {
        blkid
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_owned)
    };
    let info = imgprep_fs_ntfs::probe(&image().to_vec()).unwrap();
    assert_eq!(Some(info.fstype.clone()), field("TYPE"));
    assert_eq!(info.label, field("LABEL"));
    assert_eq!(info.uuid, field("UUID"));
    assert_eq!(fs().info(), &info);
    assert_eq!(imgprep_fs_ntfs::probe(&vec![0u8; 1 << 20]), None);
}

/// Every path ntfs-3g listed, with kind, size and content hash or link target, as this reader
/// sees it. Files this reader refuses show as `UNSUPPORTED`.
fn our_manifest(fs: &dyn Filesystem) -> Vec<(String, u64, String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        let path = if dir.is_empty() {
            "/".to_owned()
        } else {
            dir.clone()
        };
        for e in fs.read_dir(path.as_bytes()).unwrap() {
            let name = String::from_utf8(e.name).unwrap();
            let p = format!("{dir}/{name}");
            let m = fs.lstat(p.as_bytes()).unwrap().unwrap();
            if let Some(k) = e.kind {
                assert_eq!(k, m.kind, "{p}: kind in directory vs lstat");
            }
            match m.kind {
                FileKind::Dir => {
                    out.push(("d".into(), 0, "-".into(), p.clone()));
                    dirs.push(p);
                }
                FileKind::Symlink => {
                    let t = String::from_utf8(fs.read_link(p.as_bytes()).unwrap()).unwrap();
                    assert_eq!(m.size, t.len() as u64);
                    out.push(("l".into(), m.size, t, p));
                }
                FileKind::File => {
                    let hash = match fs.read_file(p.as_bytes(), 1 << 30) {
                        Ok(bytes) => {
                            assert_eq!(bytes.len() as u64, m.size, "{p}");
                            format!("{:x}", Sha256::digest(&bytes))
                        }
                        Err(FsError::Unsupported { what, .. }) => {
                            eprintln!("{p}: {what}");
                            "UNSUPPORTED".into()
                        }
                        Err(e) => panic!("{p}: {e}"),
                    };
                    out.push(("f".into(), m.size, hash, p));
                }
                k => panic!("{p}: unexpected kind {k:?}"),
            }
        }
    }
    out.sort_by(|a, b| a.3.cmp(&b.3));
    out
}

#[test]
fn every_path_matches_what_ntfs3g_read() {
    let mut expected = manifest();
    expected.sort_by(|a, b| a.3.cmp(&b.3));
    let ours = our_manifest(fs().as_ref());
    let missing: Vec<_> = expected.iter().filter(|e| !ours.contains(e)).collect();
    let extra: Vec<_> = ours.iter().filter(|e| !expected.contains(e)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    assert!(expected.len() > 2000);
}

#[test]
fn fixture_exercises_an_attribute_list_and_many_runs() {
    let info = fs_err::read_to_string(fixture("ntfs-tree").join("big.ntfsinfo")).unwrap();
    assert!(info.contains("$ATTRIBUTE_LIST"), "{info}");
    let runs = info
        .lines()
        .filter(|l| l.trim_start().starts_with("0x"))
        .count();
    assert!(runs > 40, "only {runs} runs");
    // The unnamed $DATA is split into extents in more than one record.
    let later_extent = info
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Lowest VCN"))
        .any(|v| v.trim() != "0 (0x0)");
    assert!(later_extent, "{info}");
}

#[test]
fn root_lists_user_files_only_in_collation_order() {
    let names: Vec<String> = fs()
        .read_dir(b"/")
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "abs-link",
            "Compressed",
            "Frag",
            "Many",
            "Program Files",
            "sparse.bin",
            "Users",
            "Windows"
        ]
    );
}

#[test]
fn lookups_are_case_insensitive_like_windows() {
    let fs = fs();
    let check = |path: &str, expected: Option<(FileKind, u64)>| {
        let got = fs.lstat(path.as_bytes()).unwrap().map(|m| (m.kind, m.size));
        assert_eq!(got, expected, "{path}");
    };
    check("/", Some((FileKind::Dir, 0)));
    check(
        "/WINDOWS/system32/Config/software",
        Some((FileKind::File, 13897)),
    );
    check(
        "/windows/SYSTEM32/drivers/ETC/HOSTS",
        Some((FileKind::File, 21)),
    );
    check(
        "/program files/COMMON FILES/readme.txt",
        Some((FileKind::File, 4)),
    );
    // The DOS name set through ntfs-3g resolves, as on Windows.
    check(
        "/progra~1/Common Files/ReadMe.TXT",
        Some((FileKind::File, 4)),
    );
    // Non-ASCII upper-casing comes from the volume's $UpCase table.
    check("/Users/Default/ÜBERSICHT.TXT", Some((FileKind::File, 7)));
    check("/users/default/SMILE-😀.TXT", Some((FileKind::File, 7)));
    check("/Many/ENTRY-1999.TXT", Some((FileKind::File, 5)));
    check("/Many/entry-0001.txt", Some((FileKind::File, 5)));
    check("/Many/entry-2001.txt", None);
    check("/Many/entry-0000.txt", None);
    check("/Nope", None);
    check("/Windows/Nope/x", None);
    check("/abs-link", Some((FileKind::Symlink, 17)));

    let err = |path: &str| fs.lstat(path.as_bytes()).unwrap_err();
    assert!(matches!(
        err("/Windows/System32/config/SYSTEM/x"),
        FsError::NotADirectory { .. }
    ));
    // Links are never followed.
    assert!(matches!(
        err("/abs-link/config"),
        FsError::NotADirectory { .. }
    ));
    assert!(matches!(err("Windows"), FsError::NotFound { .. }));
}

#[test]
fn reads_at_offsets_sparse_and_fragmented() {
    let fs = fs();
    let got = fs.read(b"/sparse.bin", 4_999_990, 30).unwrap();
    let mut expected = vec![0u8; 10];
    expected.extend(b"data in the middle");
    expected.extend([0u8; 2]);
    assert_eq!(got, expected);
    assert_eq!(fs.read(b"/sparse.bin", 9_999_998, 100).unwrap(), [0, 0]);
    assert!(fs.read(b"/sparse.bin", 10_000_000, 100).unwrap().is_empty());
    assert!(fs.read(b"/sparse.bin", u64::MAX, 100).unwrap().is_empty());
    // Piece i (1-based) of big.bin is 4092 bytes of "x\n" then i as four digits: read across
    // piece (and run) boundaries.
    let got = fs.read(b"/Frag/big.bin", 4096 * 7 - 6, 12).unwrap();
    assert_eq!(got, b"x\n0007x\nx\nx\n");
    let got = fs.read(b"/Frag/big.bin", 4096 * 400 - 4, 10).unwrap();
    assert_eq!(got, b"0400");
    let sys = fs.read(b"/Windows/System32/config/SYSTEM", 0, 8).unwrap();
    assert_eq!(sys, b"1\n2\n3\n4\n");

    // Written into a compressed directory: LZNT1 in the volume, plain through the reader.
    assert_eq!(
        fs.read_file(b"/Compressed/packed.txt", 1 << 20).unwrap(),
        "compress me ".repeat(400).as_bytes()
    );
    assert!(matches!(
        fs.read(b"/Windows", 0, 1),
        Err(FsError::IsADirectory { .. })
    ));
    assert!(matches!(
        fs.read_link(b"/Windows"),
        Err(FsError::NotASymlink { .. })
    ));
    assert!(matches!(
        fs.read_dir(b"/abs-link"),
        Err(FsError::NotADirectory { .. })
    ));
    assert_eq!(
        fs.read_link(b"/Users/cfg-link").unwrap(),
        b"../Windows/System32/config"
    );
}

#[test]
fn metadata_fields() {
    let fs = fs();
    let dir = fs.lstat(b"/Windows").unwrap().unwrap();
    assert_eq!((dir.mode, dir.uid, dir.gid), (0o777, 0, 0));
    let file = fs.lstat(b"/Users/Default/big.txt").unwrap().unwrap();
    assert_eq!(file.mode, 0o644);
    // Built after 2023; hard links share the record.
    assert!(file.mtime > 1_700_000_000, "{}", file.mtime);
    let link = fs.lstat(b"/Users/Default/big-link.txt").unwrap().unwrap();
    assert_eq!(link.ino, file.ino);
    assert!(file.ino >= 16);
}

#[test]
fn device_size_need_not_match() {
    // A device longer than the volume (a partition with slack) reads the same.
    let mut bytes = image().to_vec();
    bytes.extend(vec![0u8; 1 << 20]);
    let dev: Arc<dyn ReadAt> = Arc::new(bytes);
    let fs = imgprep_fs_ntfs::open(dev).unwrap();
    assert!(fs.lstat(b"/Windows").unwrap().is_some());
}
