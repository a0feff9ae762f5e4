//! Filesystems built by `mke2fs -d` from a generated source tree, read back and compared with
//! that tree (lstat, read_dir, read_link, read) and with `blkid -p`.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use imgprep_fs::{FileKind, Filesystem};
use imgprep_io::{FileSource, ReadAt};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// Bytes that differ per file and per offset, so misplaced blocks show.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8)
        .collect()
}

const BIG_SPARSE_SIZE: u64 = 5 << 30;
const HUGE_DIR_ENTRIES: usize = 5000;

/// The source tree every image is built from (made once per test process).
fn source() -> &'static Path {
    static SRC: OnceLock<tempfile::TempDir> = OnceLock::new();
    SRC.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let w = |p: &str, data: &[u8]| fs_err::write(r.join(p), data).unwrap();
        fs_err::create_dir_all(r.join("etc/sub/deeper")).unwrap();
        fs_err::create_dir_all(r.join("sticky")).unwrap();
        w("empty", b"");
        w("small", b"hello\n");
        w("etc/fstab", b"UUID=1234 / ext4 defaults 0 1\n");
        w("etc/sub/deeper/block", &pattern(1, 4096));
        w("etc/sub/odd", &pattern(2, 4097));
        w("medium", &pattern(3, 300_000));
        w("two-mib", &pattern(4, 2 << 20));
        // Sparse: data, a hole, data.
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = fs_err::File::create(r.join("sparse")).unwrap();
            f.write_all(&pattern(5, 5000)).unwrap();
            f.seek(SeekFrom::Start(3 << 20)).unwrap();
            f.write_all(&pattern(6, 7000)).unwrap();
            let mut f = fs_err::File::create(r.join("big-sparse")).unwrap();
            f.write_all(b"start").unwrap();
            f.seek(SeekFrom::Start(BIG_SPARSE_SIZE - 8)).unwrap();
            f.write_all(b"the end!").unwrap();
            // Many separate extents: deeper than the four an inode holds.
            let mut f = fs_err::File::create(r.join("fragmented")).unwrap();
            for i in 0..40u64 {
                f.seek(SeekFrom::Start(i * 65536)).unwrap();
                f.write_all(&pattern(100 + i, 1000)).unwrap();
            }
        }
        symlink("small", r.join("fast-link")).unwrap();
        symlink("/etc/fstab", r.join("abs-link")).unwrap();
        let long: String = "long-target/".repeat(20) + "end";
        symlink(&long, r.join("slow-link")).unwrap();
        symlink("x".repeat(59), r.join("link-59")).unwrap();
        symlink("y".repeat(60), r.join("link-60")).unwrap();
        symlink("dangling/nowhere", r.join("etc/sub/dangling")).unwrap();
        fs_err::hard_link(r.join("small"), r.join("small-hardlink")).unwrap();
        let fifo = r.join("fifo");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let chmod = |p: &str, m: u32| {
            fs_err::set_permissions(r.join(p), std::fs::Permissions::from_mode(m)).unwrap()
        };
        chmod("small", 0o4755);
        chmod("etc/fstab", 0o600);
        chmod("sticky", 0o1777);
        chmod("etc/sub", 0o2750);
        dir
    })
    .path()
}

/// A tree with one directory of [`HUGE_DIR_ENTRIES`] files.
fn huge_source() -> &'static Path {
    static SRC: OnceLock<tempfile::TempDir> = OnceLock::new();
    SRC.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge");
        fs_err::create_dir_all(&huge).unwrap();
        for i in 0..HUGE_DIR_ENTRIES {
            fs_err::write(huge.join(format!("entry-{i:05}-with-a-longer-name")), b"").unwrap();
        }
        fs_err::write(huge.join("zz-last"), b"found me").unwrap();
        dir
    })
    .path()
}

/// Builds an image with `mke2fs -F -q -d SRC` and the given options.
fn mkfs(opts: &[&str], size: &str) -> (tempfile::TempDir, PathBuf) {
    mkfs_from(source(), opts, size)
}

fn mkfs_from(src: &Path, opts: &[&str], size: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fs.img");
    let out = Command::new("mke2fs")
        .args(["-F", "-q"])
        .args(opts)
        .arg("-d")
        .arg(src)
        .arg(&img)
        .arg(size)
        .output()
        .expect("mke2fs (e2fsprogs) is installed");
    assert!(
        out.status.success(),
        "mke2fs {opts:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, img)
}

fn open(img: &Path) -> Box<dyn Filesystem> {
    let dev: Arc<dyn ReadAt> = Arc::new(FileSource::open(img).unwrap());
    imgprep_fs_ext::open(dev).unwrap()
}

fn kind_of(m: &std::fs::Metadata) -> FileKind {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_symlink() {
        FileKind::Symlink
    } else if t.is_dir() {
        FileKind::Dir
    } else if t.is_fifo() {
        FileKind::Fifo
    } else {
        FileKind::File
    }
}

/// Compares the whole filesystem with the source tree.
fn compare_tree(fs: &dyn Filesystem, what: &str) {
    let root = source();
    let mut stack = vec![PathBuf::new()];
    let mut seen = 0;
    while let Some(rel) = stack.pop() {
        let host = root.join(&rel);
        let inner = format!("/{}", rel.display());
        let inner = if inner == "/" { "/".to_string() } else { inner };
        let p = inner.as_bytes();
        let want = fs_err::symlink_metadata(&host).unwrap();
        let got = fs
            .lstat(p)
            .unwrap_or_else(|e| panic!("{what}: lstat {inner}: {e}"))
            .unwrap_or_else(|| panic!("{what}: {inner} missing"));
        assert_eq!(got.kind, kind_of(&want), "{what}: kind of {inner}");
        assert_eq!(got.mode, want.mode() & 0o7777, "{what}: mode of {inner}");
        assert_eq!(
            (got.uid, got.gid),
            (want.uid(), want.gid()),
            "{what}: owner of {inner}"
        );
        if inner != "/" {
            // mke2fs gives the root its own creation time.
            assert_eq!(got.mtime, want.mtime(), "{what}: mtime of {inner}");
        }
        seen += 1;
        match got.kind {
            FileKind::Dir => {
                let mut names: Vec<Vec<u8>> = fs
                    .read_dir(p)
                    .unwrap_or_else(|e| panic!("{what}: read_dir {inner}: {e}"))
                    .into_iter()
                    .filter(|e| !(rel.as_os_str().is_empty() && e.name == b"lost+found"))
                    .map(|e| {
                        let child = rel.join(String::from_utf8(e.name.clone()).unwrap());
                        let m = fs_err::symlink_metadata(root.join(&child)).unwrap();
                        if let Some(k) = e.kind {
                            assert_eq!(k, kind_of(&m), "{what}: entry kind of {}", child.display());
                        }
                        stack.push(child);
                        e.name
                    })
                    .collect();
                names.sort();
                let mut want_names: Vec<Vec<u8>> = fs_err::read_dir(&host)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().into_encoded_bytes())
                    .collect();
                if rel.as_os_str().is_empty() {
                    names.push(b"lost+found".to_vec());
                    names.sort();
                    want_names.push(b"lost+found".to_vec());
                }
                want_names.sort();
                assert_eq!(names, want_names, "{what}: entries of {inner}");
            }
            FileKind::Symlink => {
                let target = fs_err::read_link(&host).unwrap();
                assert_eq!(
                    fs.read_link(p).unwrap(),
                    target.into_os_string().into_encoded_bytes(),
                    "{what}: target of {inner}"
                );
                assert_eq!(got.size, want.len(), "{what}: size of {inner}");
            }
            FileKind::File => {
                assert_eq!(got.size, want.len(), "{what}: size of {inner}");
                if want.len() < 64 << 20 {
                    let data = fs.read_file(p, 64 << 20).unwrap();
                    assert!(
                        data == fs_err::read(&host).unwrap(),
                        "{what}: contents of {inner}"
                    );
                }
            }
            _ => {}
        }
    }
    assert!(seen > 20, "{what}: walked only {seen} paths");
}

/// Spot checks that need more than the tree walk.
fn spot_checks(fs: &dyn Filesystem, what: &str) {
    // > 4 GiB sparse file: both ends and the hole between.
    let tail = fs.read(b"/big-sparse", BIG_SPARSE_SIZE - 8, 100).unwrap();
    assert_eq!(tail, b"the end!", "{what}");
    assert_eq!(fs.read(b"/big-sparse", 0, 5).unwrap(), b"start", "{what}");
    assert_eq!(
        fs.read(b"/big-sparse", 3 << 30, 4096).unwrap(),
        vec![0; 4096],
        "{what}"
    );
    assert_eq!(
        fs.read(b"/big-sparse", BIG_SPARSE_SIZE, 10).unwrap(),
        b"",
        "{what}"
    );
    // Offset reads across blocks.
    assert_eq!(
        fs.read(b"/medium", 4000, 10_000).unwrap(),
        pattern(3, 300_000)[4000..14_000],
        "{what}"
    );
    // Hard links share the inode.
    let a = fs.lstat(b"/small").unwrap().unwrap();
    let b = fs.lstat(b"/small-hardlink").unwrap().unwrap();
    assert_eq!(a.ino, b.ino, "{what}");
    assert_eq!(fs.lstat(b"/").unwrap().unwrap().ino, 2, "{what}");
    // Symlinks are never followed, not even in the middle of a path.
    assert!(matches!(
        fs.lstat(b"/fast-link/x"),
        Err(imgprep_fs::FsError::NotADirectory { .. })
    ));
    assert!(matches!(
        fs.read_link(b"/small"),
        Err(imgprep_fs::FsError::NotASymlink { .. })
    ));
    assert!(matches!(
        fs.read(b"/etc", 0, 1),
        Err(imgprep_fs::FsError::IsADirectory { .. })
    ));
    assert!(matches!(
        fs.read_dir(b"/small"),
        Err(imgprep_fs::FsError::NotADirectory { .. })
    ));
    assert!(fs.lstat(b"/nonexistent/deeper").unwrap().is_none());
}

/// Type, label and UUID that `blkid -p` reports for an image.
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
        .expect("blkid (util-linux) is installed");
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

fn check(opts: &[&str], size: &str) {
    let what = format!("mke2fs {opts:?}");
    let (_dir, img) = mkfs(opts, size);
    let fs = open(&img);
    let want = blkid(&img);
    let dev = FileSource::open(&img).unwrap();
    assert_eq!(
        imgprep_fs_ext::probe(&dev).as_ref(),
        Some(&want),
        "{what}: probe"
    );
    assert_eq!(fs.info(), &want, "{what}: info");
    compare_tree(fs.as_ref(), &what);
    spot_checks(fs.as_ref(), &what);
}

#[test]
fn ext2() {
    check(&["-t", "ext2", "-L", "old-ext2"], "96M");
}

#[test]
fn ext2_without_filetype() {
    check(&["-t", "ext2", "-O", "^filetype"], "96M");
}

#[test]
fn ext3() {
    check(
        &["-t", "ext3", "-U", "01234567-89ab-cdef-0123-456789abcdef"],
        "96M",
    );
}

#[test]
fn ext4_default() {
    check(&["-t", "ext4", "-L", "rootfs"], "96M");
}

#[test]
fn ext4_block_maps() {
    check(&["-t", "ext4", "-O", "^extents,^64bit"], "96M");
}

#[test]
fn ext4_1k_blocks() {
    check(&["-t", "ext4", "-b", "1024"], "96M");
}

#[test]
fn ext4_128_byte_inodes() {
    check(&["-t", "ext4", "-I", "128"], "96M");
}

#[test]
fn ext4_inline_data() {
    check(&["-t", "ext4", "-O", "inline_data"], "96M");
}

#[test]
fn ext4_metadata_csum_64bit() {
    check(&["-t", "ext4", "-O", "metadata_csum,64bit"], "96M");
}

#[test]
fn ext4_bigalloc() {
    check(&["-t", "ext4", "-O", "bigalloc", "-C", "16384"], "128M");
}

#[test]
fn ext4_meta_bg() {
    check(
        &["-t", "ext4", "-O", "meta_bg,^resize_inode", "-b", "1024"],
        "96M",
    );
}

#[test]
fn ext4_64k_blocks() {
    check(&["-t", "ext4", "-b", "65536", "-N", "2048"], "256M");
}

/// A directory of 5000 entries, indexed as an htree by `e2fsck -D`, then read linearly.
fn check_huge(opts: &[&str]) {
    let what = format!("huge directory, mke2fs {opts:?}");
    let (_dir, img) = mkfs_from(huge_source(), opts, "64M");
    let out = Command::new("e2fsck")
        .arg("-fyD")
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        out.status.code().unwrap_or(8) < 4,
        "{what}: e2fsck -D failed"
    );
    let htree = Command::new("debugfs")
        .args(["-R", "htree /huge"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&htree.stdout).contains("Number of entries"),
        "{what}: /huge is not an htree"
    );
    let fs = open(&img);
    assert_eq!(
        fs.read_file(b"/huge/zz-last", 100).unwrap(),
        b"found me",
        "{what}"
    );
    assert!(
        fs.lstat(b"/huge/entry-02500-with-a-longer-name")
            .unwrap()
            .is_some(),
        "{what}"
    );
    assert!(fs.lstat(b"/huge/entry-99999").unwrap().is_none(), "{what}");
    let mut names: Vec<Vec<u8>> = fs
        .read_dir(b"/huge")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    let mut want: Vec<Vec<u8>> = fs_err::read_dir(huge_source().join("huge"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_encoded_bytes())
        .collect();
    want.sort();
    assert_eq!(names, want, "{what}");
}

#[test]
fn huge_directory_ext4() {
    check_huge(&["-t", "ext4"]);
}

#[test]
fn huge_directory_ext2_1k_blocks() {
    check_huge(&["-t", "ext2", "-b", "1024"]);
}
