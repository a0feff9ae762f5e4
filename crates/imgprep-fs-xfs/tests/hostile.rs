//! Damaged images: valid fixture images (images-test/xfs-proto.sh) with bytes replaced. Each row
//! must fail with an error naming the structure, where it is, and what was expected and found;
//! none may panic, hang or allocate without bound.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{device, image, xfs_db};
use imgprep_fs::Filesystem;
use imgprep_fs_xfs::{Options, Xfs};
use imgprep_io::{ReadAt, Slice};
use imgprep_testkit::Patched;

/// An image to damage, with the geometry the rows need to find things.
struct Img {
    path: PathBuf,
    dev: Arc<dyn ReadAt>,
    v5: bool,
    blocksize: u64,
    agblocks: u64,
    agblklog: u32,
    inopblog: u32,
    agcount: u64,
}

impl Img {
    fn new(name: &str) -> Img {
        let dev = device("xfs-proto", name);
        let mut sb = [0u8; 512];
        dev.read_exact_at(0, &mut sb).unwrap();
        let be32 = |o: usize| u64::from(u32::from_be_bytes(sb[o..o + 4].try_into().unwrap()));
        Img {
            path: image("xfs-proto", name),
            v5: sb[101] & 0xf == 5,
            blocksize: be32(4),
            agblocks: be32(84),
            agcount: be32(88),
            agblklog: u32::from(sb[124]),
            inopblog: u32::from(sb[123]),
            dev,
        }
    }

    fn fs(&self) -> Xfs {
        Xfs::open(self.dev.clone(), &Options::default()).unwrap()
    }

    fn ino(&self, path: &str) -> u64 {
        self.fs().lstat(path.as_bytes()).unwrap().unwrap().ino
    }

    /// Byte offset of the inode at `path`.
    fn inode_at(&self, path: &str) -> u64 {
        let out = xfs_db(
            &self.path,
            &[&format!("convert inode {} byte", self.ino(path))],
        );
        let hex = out
            .split_whitespace()
            .next()
            .unwrap()
            .trim_start_matches("0x");
        u64::from_str_radix(hex, 16).unwrap()
    }

    /// Byte offset of the data fork of the inode at `path`.
    fn fork_at(&self, path: &str) -> u64 {
        self.inode_at(path) + if self.v5 { 176 } else { 100 }
    }

    fn fsb_byte(&self, fsb: u64) -> u64 {
        ((fsb >> self.agblklog) * self.agblocks + (fsb & ((1 << self.agblklog) - 1)))
            * self.blocksize
    }

    /// Byte offset of the first block of the first extent of `path`.
    fn first_block(&self, path: &str) -> u64 {
        let out = xfs_db(&self.path, &[&format!("path {path}"), "bmap"]);
        let fsb: u64 = out
            .split_whitespace()
            .skip_while(|w| *w != "startblock")
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        self.fsb_byte(fsb)
    }
}

type Patches = Vec<(u64, Vec<u8>)>;

enum Op {
    Open,
    Lstat(&'static str),
    ReadDir(&'static str),
    ReadLink(&'static str),
    Read(&'static str),
}

fn be16(v: u16) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}
fn be32(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}
fn be64(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// Applies `patches` to `img`, runs `op`, and checks that it fails with a message containing
/// every string of `expect`.
fn check(img: &Img, patches: Patches, verify: bool, op: Op, expect: &[&str]) {
    let dev: Arc<dyn ReadAt> = Arc::new(Patched {
        base: img.dev.clone(),
        patches,
    });
    check_dev(dev, verify, op, expect);
}

fn check_dev(dev: Arc<dyn ReadAt>, verify: bool, op: Op, expect: &[&str]) {
    let opened = Xfs::open(
        dev,
        &Options {
            verify_checksums: verify,
            ..Options::default()
        },
    );
    let msg = match (opened, op) {
        (Err(e), Op::Open) => e.to_string(),
        (Ok(_), Op::Open) => panic!("opened; expected {expect:?}"),
        (Err(e), _) => panic!("open failed: {e}; expected {expect:?}"),
        (Ok(fs), op) => {
            let r = match op {
                Op::Lstat(p) => fs.lstat(p.as_bytes()).map(|m| format!("{m:?}")),
                Op::ReadDir(p) => fs
                    .read_dir(p.as_bytes())
                    .map(|d| format!("{} entries", d.len())),
                Op::ReadLink(p) => fs.read_link(p.as_bytes()).map(|t| format!("{t:?}")),
                Op::Read(p) => fs
                    .read_file(p.as_bytes(), 1 << 30)
                    .map(|d| format!("{} bytes", d.len())),
                Op::Open => unreachable!(),
            };
            match r {
                Ok(v) => panic!("succeeded with {v}; expected {expect:?}"),
                Err(e) => e.to_string(),
            }
        }
    };
    for want in expect {
        assert!(msg.contains(want), "error {msg:?} lacks {want:?}");
    }
}

#[test]
fn superblock_rows() {
    let img = Img::new("v5-b1k-n4k");
    let rows: Vec<(Patches, &[&str])> = vec![
        (
            vec![(0, b"XFSC".to_vec())],
            &["no XFS superblock at 0x0", "expected \"XFSB\""],
        ),
        (
            vec![(88, be32(0))],
            &["superblock at 0x0: agcount is 0, expected at least 1"],
        ),
        (
            vec![(4, be32(1 << 20))],
            &["blocksize is 1048576, expected a power of two from 512 to 65536"],
        ),
        (
            vec![(4, be32(4096))],
            &["its log2 field is 10, expected 12"],
        ),
        (
            vec![(84, be32(10))],
            &["agblocks is 10, expected 64 to 2^31"],
        ),
        (
            vec![(8, be64(1 << 40))],
            &["dblocks is 1099511627776, expected"],
        ),
        (
            vec![(100, be16(0xb4a3))],
            &["version 3 superblock is not supported"],
        ),
        (
            vec![(216, be32(0x200 | 0x1))],
            &["zoned realtime device", "not supported"],
        ),
        (
            vec![(216, be32(0x8000_0001))],
            &["incompatible feature bits 0x80000000"],
        ),
        (vec![(126, vec![1])], &["mkfs did not finish"]),
    ];
    for (patches, expect) in rows {
        check(&img, patches, false, Op::Open, expect);
    }
    let n = img.agcount;
    check(
        &img,
        vec![(56, be64(n << (img.agblklog + img.inopblog)))],
        false,
        Op::Open,
        &[&format!(
            "(root inode) is out of range: group {n}, expected fewer than {n}"
        )],
    );
    // The checksum is verified when asked.
    check(
        &img,
        vec![(120 + 8, vec![0x7f])],
        true,
        Op::Open,
        &["XFS superblock at 0x0: CRC32C is"],
    );
    // A device shorter than the filesystem.
    let short: Arc<dyn ReadAt> = Arc::new(Slice::new(img.dev.clone(), 0, 1 << 20).unwrap());
    check_dev(
        short,
        true,
        Op::Open,
        &["is 0x4000000 bytes but the device is only 0x100000 bytes"],
    );
    // probe applies blkid's checks only.
    let bad: Arc<dyn ReadAt> = Arc::new(Patched {
        base: img.dev.clone(),
        patches: vec![(88, be32(0))],
    });
    assert_eq!(imgprep_fs_xfs::probe(bad.as_ref()), None);
    let crc_bad: Arc<dyn ReadAt> = Arc::new(Patched {
        base: img.dev.clone(),
        patches: vec![(128, vec![0x7f])],
    });
    assert!(
        imgprep_fs_xfs::probe(crc_bad.as_ref()).is_some(),
        "blkid 2.38 ignores the CRC"
    );
}

#[test]
fn inode_rows() {
    let img = Img::new("v5-b1k-n4k");
    let hello = img.inode_at("/hello.txt");
    check(
        &img,
        vec![(hello, b"XX".to_vec())],
        false,
        Op::Lstat("/hello.txt"),
        &[&format!(
            "inode at {hello:#x}: magic is 0x5858, expected 0x494e"
        )],
    );
    check(
        &img,
        vec![(hello + 4, vec![2])],
        false,
        Op::Lstat("/hello.txt"),
        &["version is 2, expected 3 on a v5 filesystem"],
    );
    check(
        &img,
        vec![(hello + 5, vec![9])],
        false,
        Op::Lstat("/hello.txt"),
        &["data fork format is 9, expected"],
    );
    check(
        &img,
        vec![(hello + 5, vec![1])],
        false,
        Op::Lstat("/hello.txt"),
        &["data fork format 1 does not fit the file type of mode 0o100644"],
    );
    check(
        &img,
        vec![(hello + 152, be64(5))],
        false,
        Op::Lstat("/hello.txt"),
        &["records inode number 5, expected"],
    );
    check(
        &img,
        vec![(hello + 82, vec![200])],
        false,
        Op::Lstat("/hello.txt"),
        &["attribute fork offset is 1600 bytes, expected less than the 336-byte literal area"],
    );
    check(
        &img,
        vec![(hello + 140, vec![1])],
        true,
        Op::Lstat("/hello.txt"),
        &[&format!("inode at {hello:#x}: CRC32C is")],
    );
    // More extents declared than the fork can hold; an extent out of the filesystem; records
    // out of order.
    let big = img.fork_at("/big.bin");
    let big_inode = big - 176;
    check(
        &img,
        vec![(big_inode + 76, be32(1000))],
        false,
        Op::Read("/big.bin"),
        &["declares 1000 extents, but its data fork holds at most 21"],
    );
    let rec = |startoff: u64, startblock: u64, count: u64| {
        let l0 = (startoff << 9) | (startblock >> 43);
        let l1 = (startblock << 21) | count;
        [be64(l0), be64(l1)].concat()
    };
    check(
        &img,
        vec![(big, rec(0, img.agblocks - 1, 10))],
        false,
        Op::Read("/big.bin"),
        &[
            &format!("block map of inode {}, at {big:#x}", img.ino("/big.bin")),
            &format!(
                "blocks {}..{} of group 0 run past its {} blocks",
                img.agblocks - 1,
                img.agblocks + 9,
                img.agblocks
            ),
        ],
    );
    let n = img.agcount;
    check(
        &img,
        vec![(big, rec(0, n << img.agblklog, 1))],
        false,
        Op::Read("/big.bin"),
        &[&format!("is in group {n}, expected fewer than {n} groups")],
    );
    check(
        &img,
        vec![(big, rec(0, 100, 0))],
        false,
        Op::Read("/big.bin"),
        &["extent of 0 blocks"],
    );
    check(
        &img,
        vec![(big_inode + 76, be32(2)), (big + 16, rec(0, 100, 1))],
        false,
        Op::Read("/big.bin"),
        &["extent starts at file block 0, expected at least"],
    );
}

#[test]
fn btree_rows() {
    let img = Img::new("v5-b1k-n4k");
    let fork = img.fork_at("/dirs/nodebt");
    let mut root = [0u8; 8];
    img.dev.read_exact_at(fork, &mut root).unwrap();
    assert_eq!(&root[..2], &[0, 1], "nodebt has a one-level B+tree");
    let maxrecs = (336 - 4) / 16;
    let mut ptr = [0u8; 8];
    img.dev
        .read_exact_at(fork + 4 + maxrecs * 8, &mut ptr)
        .unwrap();
    let child = u64::from_be_bytes(ptr);
    let child_at = img.fsb_byte(child);
    check(
        &img,
        vec![(fork, be16(11))],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &["B+tree root level is 11, expected 1 to 10"],
    );
    check(
        &img,
        vec![(fork, be16(2))],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &[&format!(
            "at {child_at:#x}: B+tree block is at level 0, expected 1"
        )],
    );
    // A node that points at itself.
    let child_ptrs = child_at + 72 + (img.blocksize - 72) / 16 * 8;
    check(
        &img,
        vec![
            (fork, be16(2)),
            (child_at + 4, be16(1)),
            (child_at + 6, be16(1)),
            (child_ptrs, be64(child)),
        ],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &[&format!(
            "at {child_ptrs:#x}: B+tree block {child:#x} is reached twice"
        )],
    );
    // The same leaf twice from the root.
    check(
        &img,
        vec![
            (fork + 2, be16(2)),
            (fork + 4 + maxrecs * 8 + 8, be64(child)),
        ],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &["is reached twice"],
    );
    check(
        &img,
        vec![(fork + 2, be16(200))],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &["B+tree root holds 200 pointers, expected 1 to 20"],
    );
    check(
        &img,
        vec![(child_at, b"BMAP".to_vec())],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &[&format!(
            "block-map B+tree block at {child_at:#x}: magic is 0x424d4150, expected 0x424d4133"
        )],
    );
    check(
        &img,
        vec![(child_at + 56, be64(7))],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &["block belongs to inode 7, expected"],
    );
    check(
        &img,
        vec![(child_at + 6, be16(0xffff))],
        false,
        Op::ReadDir("/dirs/nodebt"),
        &["leaf holds 65535 records, expected 1 to 59"],
    );
    check(
        &img,
        vec![(child_at + 100, vec![0x55])],
        true,
        Op::ReadDir("/dirs/nodebt"),
        &[&format!(
            "block-map B+tree block at {child_at:#x}: CRC32C is"
        )],
    );
}

#[test]
fn directory_rows() {
    let img = Img::new("v5-b1k-n4k");
    let sf = img.fork_at("/dirs/sf");
    let sf_ino = img.ino("/dirs/sf");
    check(
        &img,
        vec![(sf, vec![200])],
        false,
        Op::ReadDir("/dirs/sf"),
        &[
            &format!("directory inode {sf_ino}"),
            "entry 3 of 200 runs past the",
        ],
    );
    check(
        &img,
        vec![(sf, vec![1])],
        false,
        Op::ReadDir("/dirs/sf"),
        &["1 entries end at byte", "expected the size"],
    );
    // First entry "one": namelen, offset(2), name(3), ftype, inode number (4 bytes).
    check(
        &img,
        vec![(sf + 6 + 3 + 3 + 1, be32(0xffff_ff00))],
        false,
        Op::ReadDir("/dirs/sf"),
        &[&format!(
            "inode number 4294967040 (entry at {:#x} of directory inode {sf_ino}) is out of range",
            sf + 6
        )],
    );
    check(
        &img,
        vec![(sf + 6 + 3 + 3, vec![42])],
        false,
        Op::ReadDir("/dirs/sf"),
        &["file type is 42, expected 0 to 8"],
    );
    check(
        &img,
        vec![(sf + 6, vec![0])],
        false,
        Op::ReadDir("/dirs/sf"),
        &["entry 0 has an empty name"],
    );
    // Lookups through a damaged entry fail the same way.
    check(
        &img,
        vec![(sf + 6 + 3 + 3 + 1, be32(0xffff_ff00))],
        false,
        Op::Lstat("/dirs/sf/one"),
        &["is out of range"],
    );

    let blk = img.first_block("/dirs/block");
    let dirblk = 4096u64;
    check(
        &img,
        vec![(blk, b"XXXX".to_vec())],
        false,
        Op::ReadDir("/dirs/block"),
        &[&format!(
            "directory data block at {blk:#x}: magic is 0x58585858, expected 0x58444233"
        )],
    );
    check(
        &img,
        vec![(blk + 64 + 8, vec![255])],
        false,
        Op::ReadDir("/dirs/block"),
        &[&format!("at {:#x}: entry's tag is", blk + 64)],
    );
    check(
        &img,
        vec![(blk + dirblk - 8, be32(0x00ff_ffff))],
        false,
        Op::ReadDir("/dirs/block"),
        &["block tail counts 16777215 hash entries, at most"],
    );
    check(
        &img,
        vec![(blk + 40, be64(99))],
        false,
        Op::ReadDir("/dirs/block"),
        &["block belongs to inode 99"],
    );
    check(
        &img,
        vec![(blk + 8, be64(1))],
        false,
        Op::ReadDir("/dirs/block"),
        &["block records its address as sector 0x1, expected"],
    );
    check(
        &img,
        vec![(blk + 200, vec![0xee])],
        true,
        Op::ReadDir("/dirs/block"),
        &[&format!("directory data block at {blk:#x}: CRC32C is")],
    );
    // A data block of a leaf directory.
    let leaf = img.first_block("/dirs/leaf");
    check(
        &img,
        vec![(leaf, b"XDB3".to_vec())],
        false,
        Op::ReadDir("/dirs/leaf"),
        &["magic is 0x58444233, expected 0x58444433 (\"XDD3\")"],
    );
    // An unused region whose length runs past the block.
    check(
        &img,
        vec![(leaf + 64, be16(0xffff)), (leaf + 66, be16(0x7ff8))],
        false,
        Op::ReadDir("/dirs/leaf"),
        &["unused region of 32760 bytes, expected a multiple of 8"],
    );
}

#[test]
fn v4_rows() {
    let img = Img::new("v4-ftype1-b1k");
    let link = img.inode_at("/link-long");
    check(
        &img,
        vec![(link + 56, be64(5000))],
        true,
        Op::ReadLink("/link-long"),
        &["symlink length is 5000, expected 1 to 1024"],
    );
    let sf = img.fork_at("/dirs/sf");
    check(
        &img,
        vec![(sf + 6 + 3 + 3, vec![9])],
        true,
        Op::ReadDir("/dirs/sf"),
        &["file type is 9"],
    );
    check(
        &img,
        vec![(img.first_block("/dirs/block"), b"XDB3".to_vec())],
        true,
        Op::ReadDir("/dirs/block"),
        &["expected 0x58443242 (\"XD2B\")"],
    );
    let hello = img.inode_at("/hello.txt");
    check(
        &img,
        vec![(hello + 4, vec![3])],
        true,
        Op::Lstat("/hello.txt"),
        &["version is 3, expected 1 or 2 on a v4 filesystem"],
    );
    // A size far beyond the data: reads stop at the data's extents, never allocate the size.
    let fs = Xfs::open(
        Arc::new(Patched {
            base: img.dev.clone(),
            patches: vec![(hello + 56, be64(1 << 62))],
        }),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(
        fs.read(b"/hello.txt", 0, 16).unwrap(),
        b"hello, xfs\n\0\0\0\0\0"
    );
    assert!(
        fs.read_file(b"/hello.txt", 1 << 20)
            .is_err_and(|e| matches!(e, imgprep_fs::FsError::TooLarge { .. }))
    );
}
