//! The `ntfs-tree` fixture (images-test/ntfs-tree.sh) and helpers to edit MFT records of a copy
//! of it in memory.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use imgprep_fs::Filesystem;
use imgprep_io::ReadAt;

/// Cache directory of a fixture, building it first when needed.
pub fn fixture(name: &str) -> PathBuf {
    imgprep_testkit::fixture(name)
}

/// The bytes of the fixture volume, read once per test binary.
pub fn image() -> &'static [u8] {
    static IMG: OnceLock<Vec<u8>> = OnceLock::new();
    IMG.get_or_init(|| fs_err::read(fixture("ntfs-tree").join("ntfs.img")).unwrap())
}

/// The fixture's reference listing: (kind, size, sha256 or target, path).
pub fn manifest() -> Vec<(String, u64, String, String)> {
    let text = fs_err::read_to_string(fixture("ntfs-tree").join("manifest.tsv")).unwrap();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            (
                f[0].to_owned(),
                f[1].parse().unwrap(),
                f[2].to_owned(),
                f[3].to_owned(),
            )
        })
        .collect()
}

pub fn open(bytes: Vec<u8>) -> Result<Box<dyn Filesystem>, imgprep_fs_ntfs::Error> {
    let dev: Arc<dyn ReadAt> = Arc::new(bytes);
    imgprep_fs_ntfs::open(dev)
}

pub fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

pub fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

pub fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Cluster and MFT record sizes from the boot sector.
pub fn geometry(img: &[u8]) -> (usize, usize) {
    let cluster = usize::from(u16_at(img, 0x0b)) * usize::from(img[0x0d]);
    let v = img[0x40] as i8;
    let record = if v > 0 {
        v as usize * cluster
    } else {
        1 << (-v)
    };
    (cluster, record)
}

/// Device offset of MFT record `n`, found by its self-reference (`FILE` records carry their
/// number at 0x2c), scanning record-aligned positions.
pub fn record_offset(img: &[u8], n: u32) -> usize {
    let (_, rs) = geometry(img);
    (0..img.len() / rs)
        .map(|i| i * rs)
        .find(|&o| &img[o..o + 4] == b"FILE" && u32_at(img, o + 0x2c) == n)
        .unwrap_or_else(|| panic!("MFT record {n} not found"))
}

/// Undoes the update sequence fixups of the multi-sector record at `off` (size `len`), calls
/// `edit` on its plain bytes, and applies the fixups again.
pub fn edit_record(img: &mut [u8], off: usize, len: usize, edit: impl FnOnce(&mut [u8])) {
    let rec = &mut img[off..off + len];
    let usa = usize::from(u16_at(rec, 4));
    let count = usize::from(u16_at(rec, 6));
    for i in 1..count {
        let end = i * 512;
        let (a, b) = (rec[usa + 2 * i], rec[usa + 2 * i + 1]);
        rec[end - 2] = a;
        rec[end - 1] = b;
    }
    edit(rec);
    let usn = [rec[usa], rec[usa + 1]];
    for i in 1..count {
        let end = i * 512;
        rec[usa + 2 * i] = rec[end - 2];
        rec[usa + 2 * i + 1] = rec[end - 1];
        rec[end - 2] = usn[0];
        rec[end - 1] = usn[1];
    }
}

/// Offsets (inside a plain record) of each attribute: (type, offset, length).
pub fn attributes(rec: &[u8]) -> Vec<(u32, usize, usize)> {
    let mut out = Vec::new();
    let mut off = usize::from(u16_at(rec, 0x14));
    while u32_at(rec, off) != 0xffff_ffff {
        let len = u32_at(rec, off + 4) as usize;
        out.push((u32_at(rec, off), off, len));
        off += len;
    }
    out
}

/// Replaces attributes of type `drop` in a plain record with a resident attribute `ty` holding
/// `value`, keeping the others.
pub fn replace_attribute(rec: &mut [u8], drop: u32, ty: u32, value: &[u8]) {
    let attrs = attributes(rec);
    let first = usize::from(u16_at(rec, 0x14));
    let mut body = Vec::new();
    for (t, off, len) in &attrs {
        if *t != drop {
            body.extend_from_slice(&rec[*off..*off + len]);
        }
    }
    let len = (24 + value.len()).div_ceil(8) * 8;
    let mut a = vec![0u8; len];
    put32(&mut a, 0, ty);
    put32(&mut a, 4, len as u32);
    put16(&mut a, 14, 7); // instance
    put32(&mut a, 16, value.len() as u32);
    put16(&mut a, 20, 24);
    a[24..24 + value.len()].copy_from_slice(value);
    body.extend(a);
    body.extend(0xffff_ffffu32.to_le_bytes());
    body.extend([0u8; 4]);
    assert!(
        first + body.len() <= rec.len(),
        "attributes do not fit the record"
    );
    rec[first..first + body.len()].copy_from_slice(&body);
    put32(rec, 0x18, (first + body.len()) as u32);
}

/// Reparse point data: `tag`, substitute and print names, and the symlink flags when `Some`.
pub fn reparse(tag: u32, sub: &str, flags: Option<u32>) -> Vec<u8> {
    let sub: Vec<u8> = sub.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut data = Vec::new();
    data.extend(0u16.to_le_bytes());
    data.extend((sub.len() as u16).to_le_bytes());
    data.extend((sub.len() as u16).to_le_bytes());
    data.extend((sub.len() as u16).to_le_bytes());
    if let Some(f) = flags {
        data.extend(f.to_le_bytes());
    }
    data.extend(&sub);
    data.extend(&sub);
    let mut b = tag.to_le_bytes().to_vec();
    b.extend((data.len() as u16).to_le_bytes());
    b.extend([0, 0]);
    b.extend(data);
    b
}
