//! The filesystem targets: probe and open a filesystem built from the input, then walk it
//! (bounded) reading every file and link.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, OnceLock};

use imgprep_fs_btrfs::Subvol;
use imgprep_fs_xfs::Xfs;
use imgprep_io::ReadAt;

use crate::{sparse, walk::walk};

/// Size of the fs_fat and fs_xfs devices.
const SIZE_64M: u64 = 64 << 20;
/// Size of the fs_btrfs device (the dirty-btrfs fixture's snapshot needs it).
const BTRFS_SIZE: u64 = 256 << 20;

/// btrfs: probe, open (replaying the log trees when the superblock names them), list
/// subvolumes, open each, walk the tree and read every file and link, on a sparse device built
/// from the input. Checksums are not verified, so mutations reach the tree, item and log replay
/// code.
///
/// Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 256 MiB device
/// (later records win). An input starting with `DC` instead feeds the decompressors:
/// `DC [alg u8] [ram_bytes u16 LE] [data]`. Seeds: `fuzz/seeds/fs_btrfs.sh`.
pub fn fs_btrfs(data: &[u8]) {
    if let [b'D', b'C', alg, r0, r1, rest @ ..] = data {
        imgprep_fs_btrfs::fuzzing::decompress(
            *alg,
            rest,
            usize::from(u16::from_le_bytes([*r0, *r1])),
        );
        return;
    }
    let opts = imgprep_fs_btrfs::Options {
        verify_checksums: false,
    };
    let dev: Arc<dyn ReadAt> = Arc::new(sparse::records(data, BTRFS_SIZE));
    let _ = imgprep_fs_btrfs::probe_with(&*dev, &opts);
    let mut sels = vec![Subvol::Id(0), Subvol::Id(5)];
    if let Ok(list) = imgprep_fs_btrfs::subvolumes_with(&*dev, &opts) {
        sels.extend(list.iter().take(4).map(|s| Subvol::Path(s.path.clone())));
    }
    for sel in sels {
        if let Ok(fs) = imgprep_fs_btrfs::open_subvolume_with(dev.clone(), sel, &opts) {
            let _ = fs.log_replay().note();
            walk(&*fs, 3000, 1000, |_, _| {});
        }
    }
}

/// ext2/3/4: probe, open (replaying the journal when the image needs recovery), then walk the
/// tree from the root, listing directories, reading files (at the start and far in) and links,
/// with a budget so each input stays fast.
///
/// Input: the filesystem image itself. Seeds: `fuzz/seeds/fs_ext_fat.sh`.
pub fn fs_ext(data: &[u8]) {
    let dev: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    let _ = imgprep_fs_ext::probe(&*dev);
    if let Ok(fs) = imgprep_fs_ext::open(dev) {
        let _ = fs.lstat(b"/lost+found/x/y");
        walk(&*fs, 2000, 1000, |_, _| {});
    }
}

/// FAT12/16/32: probe (libblkid's rules), open, then walk the tree from the root, listing
/// directories (long names), looking names up in another case, and reading files at the start
/// and far in, with a budget so each input stays fast.
///
/// Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 64 MiB device
/// (later records win), so a FAT32 layout fits in a small input. Seeds:
/// `fuzz/seeds/fs_ext_fat.sh`.
pub fn fs_fat(data: &[u8]) {
    let dev: Arc<dyn ReadAt> = Arc::new(sparse::records(data, SIZE_64M));
    let _ = imgprep_fs_fat::probe(&*dev);
    if let Ok(fs) = imgprep_fs_fat::open(dev) {
        // Names looked up in another case too.
        walk(&*fs, 1000, 1000, |fs, p| {
            drop(fs.lstat(&p.to_ascii_uppercase()))
        });
    }
}

/// Size of the fs_ntfs device.
const NTFS_SIZE: u64 = 4 << 20;
/// Records the fs_ntfs target uses at most.
const NTFS_MAX_RECORDS: usize = 4096;

/// The bytes of one fs_ntfs record: from the input, or the first `n` bytes of the shared table.
enum Chunk {
    Input(Vec<u8>),
    Upcase(usize),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Input(v) => v,
            Chunk::Upcase(n) => &upcase()[..*n],
        }
    }
}

/// The fs_ntfs device: records over zeros, the `$UpCase` table where a record asks for it.
struct NtfsDevice(Vec<(u64, Chunk)>);

impl ReadAt for NtfsDevice {
    fn size(&self) -> u64 {
        NTFS_SIZE
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), NTFS_SIZE)?;
        buf.fill(0);
        imgprep_testkit::overlay(buf, offset, self.0.iter().map(|(at, c)| (*at, c.bytes())));
        Ok(())
    }
}

/// A 128 KiB `$UpCase` table that upper-cases ASCII letters only.
fn upcase() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|c| {
                if (u16::from(b'a')..=u16::from(b'z')).contains(&c) {
                    c - 32
                } else {
                    c
                }
            })
            .flat_map(u16::to_le_bytes)
            .collect()
    })
}

fn ntfs_device(mut data: &[u8]) -> NtfsDevice {
    let mut recs = Vec::new();
    while data.len() >= 6 && recs.len() < NTFS_MAX_RECORDS {
        let off = u64::from(u32::from_le_bytes([data[0], data[1], data[2], data[3]])) % NTFS_SIZE;
        let len = usize::from(u16::from_le_bytes([data[4], data[5]]));
        data = &data[6..];
        let room = (NTFS_SIZE - off) as usize;
        if len == 0xffff {
            recs.push((off, Chunk::Upcase(upcase().len().min(room))));
            continue;
        }
        let len = len.min(data.len());
        recs.push((off, Chunk::Input(data[..len.min(room)].to_vec())));
        data = &data[len..];
    }
    NtfsDevice(recs)
}

/// NTFS: probe and open a volume built from the input, then walk the tree (bounded), stat every
/// entry, read links and the start of every file, and look up a few names case-insensitively.
///
/// Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 4 MiB device
/// (later records win; at most 4096 are used). A record of length 0xffff carries no bytes and
/// writes a 128 KiB `$UpCase` table (ASCII letters upper-cased) at its offset, so seeds need not
/// carry the real one. Seeds: `fuzz/seeds/fs_ntfs_registry.sh`.
pub fn fs_ntfs(data: &[u8]) {
    let dev = ntfs_device(data);
    let _ = imgprep_fs_ntfs::probe(&dev);
    let dev: Arc<dyn ReadAt> = Arc::new(dev);
    let Ok(fs) = imgprep_fs_ntfs::open(dev) else {
        return;
    };
    walk(fs.as_ref(), 2000, 64, |_, _| {});
    for p in [&b"/FILE-1.txt"[..], b"/big.TXT", b"/Windows/System32"] {
        let _ = fs.lstat(p);
    }
}

/// The fs_xfs device: 512-byte sectors that records wrote (later records win); zeros elsewhere.
struct XfsDevice(BTreeMap<u64, [u8; 512]>);

impl ReadAt for XfsDevice {
    fn size(&self) -> u64 {
        SIZE_64M
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), SIZE_64M)?;
        buf.fill(0);
        let end = offset + buf.len() as u64;
        for (&sector, bytes) in self.0.range(offset / 512..end.div_ceil(512)) {
            let at = sector * 512;
            let (lo, hi) = (at.max(offset), (at + 512).min(end));
            buf[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
        }
        Ok(())
    }
}

fn xfs_device(mut data: &[u8]) -> XfsDevice {
    let mut sectors = BTreeMap::new();
    while data.len() >= 6 {
        let off = u64::from(u32::from_le_bytes([data[0], data[1], data[2], data[3]]));
        let len = usize::from(u16::from_le_bytes([data[4], data[5]])).min(data.len() - 6);
        if off + len as u64 <= SIZE_64M {
            let mut rec = &data[6..6 + len];
            let mut pos = off;
            while !rec.is_empty() {
                let in_sector = (pos % 512) as usize;
                let n = rec.len().min(512 - in_sector);
                let sector = sectors.entry(pos / 512).or_insert([0u8; 512]);
                sector[in_sector..in_sector + n].copy_from_slice(&rec[..n]);
                rec = &rec[n..];
                pos += n as u64;
            }
        }
        data = &data[6 + len..];
    }
    XfsDevice(sectors)
}

/// XFS: probe, open (with and without checksum verification, which also covers log record
/// CRCs), replay the log when it is dirty, walk the whole tree and read every file and link, on
/// a sparse device built from the input. The walk runs with checksums off so mutations reach the
/// log replay and the inode, block-map and directory parsers.
///
/// Input: records `[u32 LE offset][u16 LE length][bytes]` laid over a zero-filled 64 MiB device
/// (later records win). Seeds: `fuzz/seeds/fs_xfs.sh` (mkfs.xfs -p images, and the dirty-xfs
/// fixture's filesystems with dirty logs).
pub fn fs_xfs(data: &[u8]) {
    let dev: Arc<dyn ReadAt> = Arc::new(xfs_device(data));
    let _ = imgprep_fs_xfs::probe(dev.as_ref());
    drop(Xfs::open(dev.clone(), &imgprep_fs_xfs::Options::default()));
    if let Ok(fs) = Xfs::open(
        dev,
        &imgprep_fs_xfs::Options {
            verify_checksums: false,
            ..imgprep_fs_xfs::Options::default()
        },
    ) {
        let _ = fs.log_state();
        let _ = imgprep_fs::Filesystem::log_replay(&fs).note();
        walk(&fs, 3000, 1000, |_, _| {});
    }
}
