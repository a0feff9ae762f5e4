//! WOF-compressed files (CompactOS) in the `ntfs-wof` fixture: reparse points and
//! WofCompressedData streams written by ntfs-3g, chunks compressed by wimlib's XPRESS Huffman and
//! LZX compressors; read through the reader and compared with the bytes that were compressed.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::sync::Arc;

use common::fixture;
use imgprep_fs::{FileKind, Filesystem, FsError};
use sha2::{Digest, Sha256};

fn volume() -> Box<dyn Filesystem> {
    let bytes = fs_err::read(fixture("ntfs-wof").join("ntfs-wof.img")).unwrap();
    imgprep_fs_ntfs::open(Arc::new(bytes)).unwrap()
}

/// (size, sha256, path) of each WOF file as it was before compression.
fn originals() -> Vec<(u64, String, String)> {
    fs_err::read_to_string(fixture("ntfs-wof").join("originals.tsv"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].parse().unwrap(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

#[test]
fn every_format_reads_back_the_original_bytes() {
    let fs = volume();
    let files = originals();
    assert_eq!(files.len(), 20, "4 formats x 5 files");
    for (size, sha, path) in &files {
        let md = fs.lstat(path.as_bytes()).unwrap().unwrap();
        assert_eq!(md.kind, FileKind::File, "{path}");
        assert_eq!(md.size, *size, "{path}");
        let bytes = fs.read_file(path.as_bytes(), 1 << 24).unwrap();
        assert_eq!(bytes.len() as u64, *size, "{path}");
        assert_eq!(&format!("{:x}", Sha256::digest(&bytes)), sha, "{path}");
    }
}

#[test]
fn reads_inside_and_across_chunks() {
    let fs = volume();
    for fmt in ["xpress4k", "xpress8k", "xpress16k", "lzx"] {
        let path = format!("/Windows/System32/{fmt}/mixed.bin");
        let whole = fs.read_file(path.as_bytes(), 1 << 24).unwrap();
        for (off, len) in [
            (0, 1),
            (4090, 12),
            (32_760, 20),
            (20_000, 70_000),
            (190_000, 50),
        ] {
            let got = fs.read(path.as_bytes(), off, len).unwrap();
            let end = (off as usize + len).min(whole.len());
            assert_eq!(got, &whole[off as usize..end], "{fmt} {off}+{len}");
        }
    }
}

#[test]
fn listed_as_files_next_to_ordinary_ones() {
    let fs = volume();
    let names: Vec<String> = fs
        .read_dir(b"/Windows/System32/lzx")
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect();
    for n in ["text.txt", "random.bin", "mixed.bin", "ls.bin", "tiny.txt"] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    assert_eq!(
        fs.read_file(b"/Windows/plain.txt", 100).unwrap(),
        b"not compressed\n"
    );
}

#[test]
fn wimboot_files_are_refused_by_name() {
    let fs = volume();
    let md = fs.lstat(b"/Windows/WimBoot/boot.dll").unwrap().unwrap();
    assert_eq!((md.kind, md.size), (FileKind::File, 20000));
    match fs.read(b"/Windows/WimBoot/boot.dll", 0, 10) {
        Err(FsError::Unsupported { what, .. }) => assert!(what.contains("WIMBoot"), "{what}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_fixture_holds_wof_reparse_points() {
    let info = fs_err::read_to_string(fixture("ntfs-wof").join("lzx.ntfsinfo")).unwrap();
    assert!(info.contains("0x80000017"), "{info}");
    assert!(info.contains("WofCompressedData"), "{info}");
    let chunks = fs_err::read_to_string(fixture("ntfs-wof").join("chunks.tsv")).unwrap();
    // Stored (incompressible) chunks are in the fixture, and compressed ones in every format.
    assert!(chunks.lines().any(|l| l.contains("random.bin\tlzx\t2\t2")));
    assert!(
        chunks
            .lines()
            .filter(|l| l.contains("text.txt"))
            .all(|l| l.split('\t').nth(3) == Some("0"))
    );
}
