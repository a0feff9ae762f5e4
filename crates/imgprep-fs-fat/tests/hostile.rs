//! Damaged FAT filesystems, made by mutating a small valid FAT16 image: each case must end in
//! an error naming the problem (or a correct answer), never a panic or a hang.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use imgprep_fs::Filesystem;
use imgprep_io::ReadAt;
use std::process::Command;
use std::sync::{Arc, OnceLock};

struct Base {
    image: Vec<u8>,
    /// Byte offset of the first FAT.
    fat: usize,
    /// Byte offset of the root directory region.
    root: usize,
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{cmd} {args:?}");
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fat.img");
        let s = img.to_str().unwrap();
        run("mkfs.vfat", &["-C", "-F", "16", "-s", "1", s, "8192"]);
        let big = dir.path().join("big");
        fs_err::write(&big, b"0123456789abcdef".repeat(1000)).unwrap();
        run("mcopy", &["-i", s, big.to_str().unwrap(), "::/BIG"]);
        run("mmd", &["-i", s, "::/DIR", "::/DIR/SUB"]);
        run(
            "mcopy",
            &["-i", s, big.to_str().unwrap(), "::/DIR/SUB/FILE"],
        );
        let image = fs_err::read(&img).unwrap();
        let u16_at = |o: usize| usize::from(u16::from_le_bytes([image[o], image[o + 1]]));
        let bps = u16_at(0x0b);
        let fat = u16_at(0x0e) * bps;
        let root = fat + usize::from(image[0x10]) * u16_at(0x16) * bps;
        Base { image, fat, root }
    })
}

/// Byte offset of the root directory entry with this 11-byte short name.
fn root_entry(img: &[u8], root: usize, name: &[u8; 11]) -> usize {
    (0..512)
        .map(|i| root + i * 32)
        .find(|&o| &img[o..o + 11] == name)
        .unwrap()
}

fn first_cluster(img: &[u8], entry: usize) -> usize {
    usize::from(u16::from_le_bytes([img[entry + 26], img[entry + 27]]))
}

fn put16(img: &mut [u8], at: usize, v: u16) {
    img[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

enum Op {
    Open,
    Read(&'static [u8]),
    ReadDir(&'static [u8]),
    Lstat(&'static [u8]),
}

fn check(mutate: impl FnOnce(&mut Vec<u8>, &Base), op: Op, expected: &str) {
    let b = base();
    let mut img = b.image.clone();
    mutate(&mut img, b);
    let dev: Arc<dyn ReadAt> = Arc::new(img);
    let err = match imgprep_fs_fat::open(dev) {
        Err(e) => e.to_string(),
        Ok(fs) => {
            let r = match op {
                Op::Open => panic!("opened; expected an error containing {expected:?}"),
                Op::Read(p) => fs.read(p, 0, 1 << 20).map(|_| ()),
                Op::ReadDir(p) => fs.read_dir(p).map(|_| ()),
                Op::Lstat(p) => fs.lstat(p).map(|_| ()),
            };
            match r {
                Err(e) => e.to_string(),
                Ok(()) => panic!("succeeded; expected an error containing {expected:?}"),
            }
        }
    };
    assert!(
        err.contains(expected),
        "error {err:?} does not contain {expected:?}"
    );
}

#[test]
fn base_image_reads() {
    let fs = imgprep_fs_fat::open(Arc::new(base().image.clone())).unwrap();
    assert_eq!(fs.read_file(b"/big", 1 << 20).unwrap().len(), 16_000);
    assert_eq!(
        fs.read_file(b"/dir/sub/file", 1 << 20).unwrap().len(),
        16_000
    );
}

#[test]
fn absurd_boot_sectors() {
    check(|i, _| put16(i, 0x0b, 0), Op::Open, "bytes per sector is 0");
    check(
        |i, _| put16(i, 0x0b, 3000),
        Op::Open,
        "bytes per sector is 3000",
    );
    check(|i, _| i[0x0d] = 3, Op::Open, "sectors per cluster is 3");
    check(|i, _| put16(i, 0x0e, 0), Op::Open, "reserved sectors is 0");
    check(|i, _| i[0x10] = 0, Op::Open, "number of FATs is 0");
    check(
        |i, _| put16(i, 0x11, 0),
        Op::Open,
        "root directory entries is 0",
    );
    check(|i, _| put16(i, 0x13, 5), Op::Open, "total sectors is 5");
    // FAT32 layout with a root cluster outside the data area, and a FAT too small.
    check(
        |i, _| {
            put16(i, 0x16, 0);
            i[0x24..0x28].copy_from_slice(&200u32.to_le_bytes());
            i[0x2c..0x30].copy_from_slice(&u32::MAX.to_le_bytes());
        },
        Op::Open,
        "FAT32 root cluster",
    );
    check(|i, _| put16(i, 0x16, 1), Op::Open, "sectors per FAT is 1");
    check(|i, _| i.truncate(100), Op::Open, "past the end");
}

#[test]
fn broken_cluster_chains() {
    // /BIG's first cluster points at itself: a loop.
    check(
        |i, b| {
            let c = first_cluster(i, root_entry(i, b.root, b"BIG        "));
            put16(i, b.fat + 2 * c, c as u16);
        },
        Op::Read(b"/big"),
        "the chain loops",
    );
    // ... at a cluster past the end of the data area.
    check(
        |i, b| {
            let c = first_cluster(i, root_entry(i, b.root, b"BIG        "));
            put16(i, b.fat + 2 * c, 0xfff0);
        },
        Op::Read(b"/big"),
        "outside the data clusters",
    );
    // ... at a free cluster, and at a bad one.
    check(
        |i, b| {
            let c = first_cluster(i, root_entry(i, b.root, b"BIG        "));
            put16(i, b.fat + 2 * c, 0);
        },
        Op::Read(b"/big"),
        "a free cluster",
    );
    check(
        |i, b| {
            let c = first_cluster(i, root_entry(i, b.root, b"BIG        "));
            put16(i, b.fat + 2 * c, 0xfff7);
        },
        Op::Read(b"/big"),
        "bad-cluster mark",
    );
    // The chain ends before the size says.
    check(
        |i, b| {
            let c = first_cluster(i, root_entry(i, b.root, b"BIG        "));
            put16(i, b.fat + 2 * c, 0xffff);
        },
        Op::Read(b"/big"),
        "ends after 512 bytes",
    );
    // A file whose first cluster is out of range, and one with none at all.
    check(
        |i, b| {
            let e = root_entry(i, b.root, b"BIG        ");
            put16(i, e + 26, 0xfffe);
        },
        Op::Read(b"/big"),
        "outside the data clusters",
    );
    check(
        |i, b| {
            let e = root_entry(i, b.root, b"BIG        ");
            put16(i, e + 26, 0);
        },
        Op::Read(b"/big"),
        "no first cluster",
    );
    // A directory chain that loops.
    check(
        |i, b| {
            let c = first_cluster(i, root_entry(i, b.root, b"DIR        "));
            put16(i, b.fat + 2 * c, c as u16);
        },
        Op::ReadDir(b"/dir"),
        "the chain loops",
    );
    // lstat sizes a directory by its chain, so it meets the loop too.
    check(
        |i, b| {
            let c = first_cluster(i, root_entry(i, b.root, b"DIR        "));
            put16(i, b.fat + 2 * c, c as u16);
        },
        Op::Lstat(b"/dir"),
        "the chain loops",
    );
}

#[test]
fn directory_pointing_at_its_parent_is_walked_only_as_deep_as_the_path() {
    let b = base();
    let mut img = b.image.clone();
    let dir = root_entry(&img, b.root, b"DIR        ");
    let dir_cluster = first_cluster(&img, dir);
    // Point SUB (inside DIR) back at DIR's own cluster.
    let fs = imgprep_fs_fat::open(Arc::new(img.clone())).unwrap();
    let sub_ino = fs.lstat(b"/dir/sub").unwrap().unwrap().ino as usize;
    let sub = sub_ino * 32;
    put16(&mut img, sub + 26, dir_cluster as u16);
    let fs = imgprep_fs_fat::open(Arc::new(img)).unwrap();
    let deep = format!("/dir{}", "/sub".repeat(100));
    assert!(fs.lstat(deep.as_bytes()).unwrap().is_some());
    assert!(check_ok(fs.as_ref(), b"/dir/sub/sub/sub"));
}

fn check_ok(fs: &dyn Filesystem, p: &[u8]) -> bool {
    fs.read_dir(p)
        .map(|e| e.iter().any(|e| e.name == b"SUB"))
        .unwrap_or(false)
}
