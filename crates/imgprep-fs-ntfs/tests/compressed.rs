//! LZNT1-compressed files written by ntfs-3g (the `ntfs-compressed` fixture), read through the
//! reader and compared with what ntfs-3g's ntfscat reads and with the bytes that were written.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::sync::Arc;

use common::fixture;
use imgprep_fs::Filesystem;
use sha2::{Digest, Sha256};

fn volume() -> Box<dyn Filesystem> {
    let dir = fixture("ntfs-compressed");
    let bytes = fs_err::read(dir.join("ntfs-compressed.img")).unwrap();
    imgprep_fs_ntfs::open(Arc::new(bytes)).unwrap()
}

/// (size, sha256, path) lines of a reference file.
fn reference(name: &str) -> Vec<(u64, String, String)> {
    fs_err::read_to_string(fixture("ntfs-compressed").join(name))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].parse().unwrap(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

#[test]
fn compressed_files_read_as_ntfs3g_reads_them() {
    let fs = volume();
    let ntfs3g = reference("manifest.tsv");
    let written = reference("originals.tsv");
    assert_eq!(
        ntfs3g, written,
        "ntfs-3g itself reads back what was written"
    );
    assert_eq!(ntfs3g.len(), 5);
    for (size, sha, path) in &ntfs3g {
        let bytes = fs.read_file(path.as_bytes(), 1 << 24).unwrap();
        assert_eq!(bytes.len() as u64, *size, "{path}");
        assert_eq!(&format!("{:x}", Sha256::digest(&bytes)), sha, "{path}");
    }
}

#[test]
fn reads_inside_and_across_compression_units() {
    let fs = volume();
    let whole = fs.read_file(b"/C/text.txt", 1 << 24).unwrap();
    // Unaligned reads that start and end inside units and cross their 64 KiB boundaries.
    for (off, len) in [(0, 1), (65_530, 12), (131_071, 70_000), (299_990, 100)] {
        let got = fs.read(b"/C/text.txt", off, len).unwrap();
        let end = (off as usize + len).min(whole.len());
        assert_eq!(got, &whole[off as usize..end], "{off}+{len}");
    }
    // The zero units of mixed.bin and the holes of holes.bin read as zeros.
    let z = fs.read(b"/C/mixed.bin", 70_000 + 65_536, 4096).unwrap();
    assert!(z.iter().all(|&b| b == 0));
    let h = fs.read(b"/C/holes.bin", 1_000_000, 65_536).unwrap();
    assert!(h.iter().all(|&b| b == 0));
}

#[test]
fn the_fixture_is_compressed() {
    let info = fs_err::read_to_string(fixture("ntfs-compressed").join("C.ntfsinfo")).unwrap();
    assert!(info.contains("COMPRESSED"), "{info}");
}
