//! FAT images made by `mkfs.vfat` and filled with mtools (no mount), read back and compared
//! with what was copied in and with `blkid -p`.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use imgprep_fs::{FileKind, Filesystem, FsError};
use imgprep_io::{FileSource, ReadAt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(17).wrapping_add(seed * 13) % 253) as u8)
        .collect()
}

/// Runs an mtools or mkfs command with a fixed time zone (FAT stores local time).
fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .env("TZ", "UTC")
        .env("MTOOLS_SKIP_CHECK", "1")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("{cmd} (dosfstools / mtools): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Files copied into every image: (path inside, contents).
fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("/EFI/BOOT/BOOTX64.EFI", pattern(1, 70_000)),
        (
            "/EFI/debian/grub.cfg",
            b"search.fs_uuid 1234 root\n".to_vec(),
        ),
        ("/EFI/debian/shimx64.efi", pattern(2, 3000)),
        ("/A file with a long name.txt", pattern(3, 1)),
        ("/Long Directory Name/nested file.conf", pattern(4, 9000)),
        ("/Long Directory Name/UPPER.TXT", b"upper\n".to_vec()),
        ("/lower.txt", b"lower\n".to_vec()),
        ("/MixedCase.Txt", b"mixed\n".to_vec()),
        ("/empty", Vec::new()),
        ("/Ärger über Öl.txt", b"unicode\n".to_vec()),
        ("/readonly.txt", b"ro\n".to_vec()),
    ]
}

const MTIME: i64 = 1_700_000_000;

/// An image of the given FAT width with `files()` in it.
fn build(fat: &str, sectors_kib: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fat.img");
    let img_s = img.to_str().unwrap();
    let mut args = vec!["-C", "-F", fat];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[img_s, sectors_kib]);
    run("mkfs.vfat", &args);
    for d in [
        "::/EFI",
        "::/EFI/BOOT",
        "::/EFI/debian",
        "::/Long Directory Name",
        "::/Empty Dir",
    ] {
        run("mmd", &["-i", img_s, d]);
    }
    for (i, (path, data)) in files().iter().enumerate() {
        let host = dir.path().join(format!("f{i}"));
        fs_err::write(&host, data).unwrap();
        let st = Command::new("touch")
            .arg("-d")
            .arg(format!("@{MTIME}"))
            .arg(&host)
            .status()
            .unwrap();
        assert!(st.success());
        let target = format!("::{path}");
        run(
            "mcopy",
            &["-m", "-i", img_s, host.to_str().unwrap(), &target],
        );
    }
    run("mattrib", &["-i", img_s, "+r", "::/readonly.txt"]);
    (dir, img)
}

/// Undoes the shell quoting of `blkid -o export` ("EFI\\ SYSTEM").
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

fn blkid(img: &Path) -> imgprep_fs::FsInfo {
    let out = Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(img)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(unescape)
    };
    imgprep_fs::FsInfo {
        fstype: get("TYPE").unwrap_or_default(),
        label: get("LABEL"),
        uuid: get("UUID"),
    }
}

fn open(img: &Path) -> Box<dyn Filesystem> {
    let dev: Arc<dyn ReadAt> = Arc::new(FileSource::open(img).unwrap());
    imgprep_fs_fat::open(dev).unwrap()
}

fn names(fs: &dyn Filesystem, path: &[u8]) -> Vec<String> {
    let mut n: Vec<String> = fs
        .read_dir(path)
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect();
    n.sort();
    n
}

fn check(fat: &str, size: &str, extra: &[&str], expected_info: (&str, Option<&str>, Option<&str>)) {
    let what = format!("FAT{fat} {extra:?}");
    let (_dir, img) = build(fat, size, extra);
    let want = blkid(&img);
    let dev = FileSource::open(&img).unwrap();
    assert_eq!(
        imgprep_fs_fat::probe(&dev).as_ref(),
        Some(&want),
        "{what}: probe vs blkid"
    );
    let (t, label, uuid) = expected_info;
    assert_eq!(
        (
            want.fstype.as_str(),
            want.label.as_deref(),
            want.uuid.as_deref()
        ),
        (t, label, uuid),
        "{what}: blkid"
    );
    let fs = open(&img);
    assert_eq!(fs.info(), &want, "{what}: info");

    // Every file: contents, size, kind, time; looked up in another case too.
    for (path, data) in files() {
        let p = path.as_bytes();
        assert_eq!(fs.read_file(p, 1 << 20).unwrap(), data, "{what}: {path}");
        let m = fs
            .lstat(p)
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: {path} missing"));
        assert_eq!(
            (m.kind, m.size),
            (FileKind::File, data.len() as u64),
            "{what}: {path}"
        );
        assert_eq!(m.mtime, MTIME, "{what}: mtime of {path}");
        let expected_mode = if path == "/readonly.txt" {
            0o555
        } else {
            0o755
        };
        assert_eq!(
            (m.mode, m.uid, m.gid),
            (expected_mode, 0, 0),
            "{what}: {path}"
        );
        let upper = path.to_uppercase();
        assert_eq!(
            fs.lstat(upper.as_bytes()).unwrap().map(|u| u.ino),
            Some(m.ino),
            "{what}: {upper}"
        );
    }
    assert_eq!(
        names(fs.as_ref(), b"/"),
        [
            "A file with a long name.txt",
            "EFI",
            "Empty Dir",
            "Long Directory Name",
            "MixedCase.Txt",
            "empty",
            "lower.txt",
            "readonly.txt",
            "Ärger über Öl.txt",
        ],
        "{what}"
    );
    assert_eq!(names(fs.as_ref(), b"/efi"), ["BOOT", "debian"], "{what}");
    assert_eq!(
        names(fs.as_ref(), b"/Long Directory Name"),
        ["UPPER.TXT", "nested file.conf"],
        "{what}"
    );
    assert!(names(fs.as_ref(), b"/Empty Dir").is_empty(), "{what}");
    // The 8.3 alias of a long name finds the same file.
    let long = fs.lstat(b"/A file with a long name.txt").unwrap().unwrap();
    assert_eq!(
        fs.lstat(b"/AFILEW~1.TXT").unwrap().map(|m| m.ino),
        Some(long.ino),
        "{what}"
    );
    // Offsets inside a multi-cluster file.
    assert_eq!(
        fs.read(b"/EFI/BOOT/BOOTX64.EFI", 12_345, 40_000).unwrap(),
        pattern(1, 70_000)[12_345..52_345],
        "{what}"
    );
    assert_eq!(
        fs.read(b"/EFI/BOOT/BOOTX64.EFI", 70_000, 10).unwrap(),
        b"",
        "{what}"
    );
    let root = fs.lstat(b"/").unwrap().unwrap();
    assert_eq!((root.kind, root.ino), (FileKind::Dir, 1), "{what}");
    let efi = fs.lstat(b"/EFI").unwrap().unwrap();
    assert_eq!(efi.kind, FileKind::Dir, "{what}");
    assert!(efi.size > 0, "{what}");
    assert!(matches!(
        fs.read(b"/EFI", 0, 1),
        Err(FsError::IsADirectory { .. })
    ));
    assert!(matches!(
        fs.read_link(b"/empty"),
        Err(FsError::NotASymlink { .. })
    ));
    assert!(matches!(
        fs.lstat(b"/empty/x"),
        Err(FsError::NotADirectory { .. })
    ));
    assert!(fs.lstat(b"/nothing").unwrap().is_none());
}

#[test]
fn fat12() {
    check(
        "12",
        "2048",
        &["-n", "ESP12", "-i", "1234ABCD"],
        ("vfat", Some("ESP12"), Some("1234-ABCD")),
    );
}

#[test]
fn fat16_without_label() {
    check(
        "16",
        "8192",
        &["-s", "1", "-i", "0BADF00D"],
        ("vfat", None, Some("0BAD-F00D")),
    );
}

#[test]
fn fat32() {
    check(
        "32",
        "40000",
        &["-s", "1", "-n", "EFI SYSTEM", "-i", "DEADBEEF"],
        ("vfat", Some("EFI SYSTEM"), Some("DEAD-BEEF")),
    );
}

#[test]
fn fat32_large_clusters() {
    check(
        "32",
        "300000",
        &["-s", "8", "-i", "00000001"],
        ("vfat", None, Some("0000-0001")),
    );
}
