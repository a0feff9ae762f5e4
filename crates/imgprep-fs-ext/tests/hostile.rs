//! Damaged filesystems, made by mutating a small valid image: every case must give an error
//! naming the problem (or a correct answer), never a panic or a hang.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use imgprep_io::ReadAt;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// A small valid ext4 image (no metadata checksums, so single fields can be changed) and the
/// locations the cases below poke at.
struct Base {
    image: Vec<u8>,
    block_size: usize,
    /// Byte offset of the inode of /f, /frag.
    inode_f: usize,
    /// Byte offset of /frag's extent tree leaf block.
    frag_leaf: usize,
    /// Byte offset of the root directory's first block.
    root_dir: usize,
}

fn debugfs(img: &Path, request: &str) -> String {
    let out = Command::new("debugfs")
        .args(["-R", request])
        .arg(img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Byte offset of an inode from `debugfs imap` ("located at block N, offset 0xOFF").
fn imap(img: &Path, path: &str, bs: usize) -> usize {
    let text = debugfs(img, &format!("imap {path}"));
    let block: usize = text
        .split("located at block ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let off = text.split("offset 0x").nth(1).unwrap().trim();
    block * bs + usize::from_str_radix(off, 16).unwrap()
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs_err::create_dir_all(src.join("d")).unwrap();
        fs_err::write(src.join("f"), b"0123456789".repeat(1000)).unwrap();
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = fs_err::File::create(src.join("frag")).unwrap();
            for i in 0..12u64 {
                f.seek(SeekFrom::Start(i * 65536)).unwrap();
                f.write_all(b"fragment").unwrap();
            }
        }
        let img = dir.path().join("fs.img");
        let st = Command::new("mke2fs")
            .args([
                "-F",
                "-q",
                "-t",
                "ext4",
                "-O",
                "^metadata_csum",
                "-b",
                "4096",
                "-d",
            ])
            .arg(&src)
            .arg(&img)
            .arg("8M")
            .status()
            .unwrap();
        assert!(st.success());
        let bs = 4096;
        let stat = debugfs(&img, "stat /frag");
        let leaf: usize = stat
            .split("(ETB0):")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .unwrap()
            .parse()
            .unwrap();
        let root: usize = debugfs(&img, "bmap / 0").trim().parse().unwrap();
        Base {
            image: fs_err::read(&img).unwrap(),
            block_size: bs,
            inode_f: imap(&img, "/f", bs),
            frag_leaf: leaf * bs,
            root_dir: root * bs,
        }
    })
}

fn put32(img: &mut [u8], at: usize, v: u32) {
    img[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put16(img: &mut [u8], at: usize, v: u16) {
    img[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

/// Byte offset of the directory entry named `name` inside the block at `block`.
fn dirent(img: &[u8], block: usize, bs: usize, name: &[u8]) -> usize {
    let mut off = 0;
    while off < bs {
        let rec = u16::from_le_bytes([img[block + off + 4], img[block + off + 5]]) as usize;
        let len = img[block + off + 6] as usize;
        if &img[block + off + 8..block + off + 8 + len] == name {
            return block + off;
        }
        off += rec;
    }
    panic!("no entry {name:?}");
}

/// What a case does after mutating the image.
enum Op {
    Open,
    Lstat(&'static [u8]),
    ReadDir(&'static [u8]),
    Read(&'static [u8]),
}

/// Mutates the base image, runs `op`, and expects an error whose message contains `expected`.
fn check(mutate: impl FnOnce(&mut Vec<u8>, &Base), op: Op, expected: &str) {
    let b = base();
    let mut img = b.image.clone();
    mutate(&mut img, b);
    let dev: Arc<dyn ReadAt> = Arc::new(img);
    let err = match imgprep_fs_ext::open(dev) {
        Err(e) => e.to_string(),
        Ok(fs) => {
            let r = match op {
                Op::Open => panic!("opened; expected an error containing {expected:?}"),
                Op::Lstat(p) => fs.lstat(p).map(|_| ()),
                Op::ReadDir(p) => fs.read_dir(p).map(|_| ()),
                Op::Read(p) => fs.read(p, 0, 1 << 20).map(|_| ()),
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

const SB: usize = 1024;

#[test]
fn base_image_reads() {
    let dev: Arc<dyn ReadAt> = Arc::new(base().image.clone());
    let fs = imgprep_fs_ext::open(dev).unwrap();
    assert_eq!(fs.read_file(b"/f", 1 << 20).unwrap().len(), 10_000);
    assert_eq!(&fs.read(b"/frag", 11 * 65536, 8).unwrap(), b"fragment");
}

#[test]
fn damaged_superblocks() {
    check(|i, _| put16(i, SB + 0x38, 0), Op::Open, "magic is 0x0000");
    check(
        |i, _| put32(i, SB + 0x18, 20),
        Op::Open,
        "s_log_block_size is 20",
    );
    check(|i, _| put16(i, SB + 0x58, 3), Op::Open, "s_inode_size is 3");
    check(
        |i, _| put16(i, SB + 0x58, 8192),
        Op::Open,
        "s_inode_size is 8192",
    );
    check(
        |i, _| put32(i, SB + 0x20, 0),
        Op::Open,
        "s_blocks_per_group is 0",
    );
    check(
        |i, _| put32(i, SB + 0x28, 0),
        Op::Open,
        "s_inodes_per_group is 0",
    );
    check(
        |i, _| put32(i, SB + 0x28, u32::MAX),
        Op::Open,
        "s_inodes_per_group",
    );
    check(|i, _| put32(i, SB, 7), Op::Open, "s_inodes_count is 7");
    check(
        |i, _| put32(i, SB + 0x14, u32::MAX),
        Op::Open,
        "s_first_data_block",
    );
    check(
        |i, _| put32(i, SB + 0x60, 0x8000_0002),
        Op::Open,
        "unknown ext incompatible",
    );
    check(|i, _| put32(i, SB + 0x60, 0x3), Op::Open, "compression");
    // A device cut short of the superblock.
    check(|i, _| i.truncate(1500), Op::Open, "past the end");
}

#[test]
fn bad_superblock_checksum() {
    let mut img = base().image.clone();
    // Turn on metadata_csum without fixing the checksum.
    let ro = u32::from_le_bytes(img[SB + 0x64..SB + 0x68].try_into().unwrap());
    put32(&mut img, SB + 0x64, ro | 0x400);
    assert!(
        imgprep_fs_ext::probe(&img).is_none(),
        "blkid refuses a bad checksum"
    );
    let err = imgprep_fs_ext::open(Arc::new(img)).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn inode_table_past_the_device() {
    // Group 0's inode table pointer (descriptor at block 1 for 4 KiB blocks).
    check(
        |i, b| put32(i, b.block_size + 8, 0xffff_fff0),
        Op::Open,
        "outside the filesystem",
    );
    // Inside the block count but past the end of the (truncated) device.
    check(
        |i, b| {
            let blocks = i.len() / b.block_size;
            i.truncate((blocks - 1) * b.block_size);
            put32(i, b.block_size + 8, blocks as u32 - 1);
        },
        Op::Open,
        "past the end",
    );
}

#[test]
fn damaged_inodes() {
    check(
        |i, b| put16(i, b.inode_f + 0x80, 1000),
        Op::Lstat(b"/f"),
        "i_extra_isize is 1000",
    );
    check(
        |i, b| put16(i, b.inode_f, 0xf1ed),
        Op::Lstat(b"/f"),
        "file type",
    );
    check(
        |i, b| put16(i, b.inode_f + 0x1a, 0),
        Op::Lstat(b"/f"),
        "link count 0",
    );
}

#[test]
fn damaged_extent_trees() {
    // Root of /f's tree (i_block at 0x28): magic, depth, entry count.
    check(
        |i, b| put16(i, b.inode_f + 0x28, 0x1234),
        Op::Read(b"/f"),
        "magic is 0x1234",
    );
    check(
        |i, b| put16(i, b.inode_f + 0x28 + 6, 6),
        Op::Read(b"/f"),
        "depth is 6",
    );
    check(
        |i, b| put16(i, b.inode_f + 0x28 + 2, 9),
        Op::Read(b"/f"),
        "claims 9 of 4",
    );
    // Extent pointing past the filesystem, and of length zero.
    check(
        |i, b| put32(i, b.inode_f + 0x28 + 12 + 8, 0x00ff_ffff),
        Op::Read(b"/f"),
        "outside",
    );
    check(
        |i, b| put16(i, b.inode_f + 0x28 + 12 + 4, 0),
        Op::Read(b"/f"),
        "length 0",
    );
    // /frag's leaf turned into an index node pointing at itself: a loop.
    check(
        |i, b| {
            let leaf = b.frag_leaf;
            put16(i, leaf + 6, 1);
            put32(i, leaf + 12 + 4, (leaf / b.block_size) as u32);
            put16(i, leaf + 12 + 8, 0);
        },
        Op::Read(b"/frag"),
        "depth is 1, expected 0",
    );
}

#[test]
fn damaged_directories() {
    check(
        |i, b| put16(i, b.root_dir + 4, 0),
        Op::ReadDir(b"/"),
        "record length 0",
    );
    check(
        |i, b| put16(i, b.root_dir + 4, 4094),
        Op::ReadDir(b"/"),
        "record length 4094",
    );
    check(
        |i, b| {
            let e = dirent(i, b.root_dir, b.block_size, b"f");
            put32(i, e, 0x7fff_ffff);
        },
        Op::Lstat(b"/f"),
        "inode 2147483647 is outside",
    );
    check(
        |i, b| {
            let e = dirent(i, b.root_dir, b.block_size, b"f");
            i[e + 6] = 250;
        },
        Op::ReadDir(b"/"),
        "name length 250",
    );
}

#[test]
fn directory_loop_is_walked_only_as_deep_as_the_path() {
    // Make /d/loop an entry for the root directory.
    let mut img = base().image.clone();
    let b = base();
    let e = dirent(&img, b.root_dir, b.block_size, b"d");
    let d_ino = u32::from_le_bytes(img[e..e + 4].try_into().unwrap());
    assert!(d_ino > 2);
    // Point /f's directory entry at the root inode: "/f" now names "/".
    let f = dirent(&img, b.root_dir, b.block_size, b"f");
    put32(&mut img, f, 2);
    let fs = imgprep_fs_ext::open(Arc::new(img)).unwrap();
    let deep: Vec<u8> = b"/f".repeat(200);
    let m = fs.lstat(&deep).unwrap().unwrap();
    assert_eq!(m.ino, 2);
    assert_eq!(
        fs.read_dir(b"/f/f/f").unwrap().len(),
        fs.read_dir(b"/").unwrap().len()
    );
}
