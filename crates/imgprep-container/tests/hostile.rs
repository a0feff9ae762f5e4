//! Hostile and unsupported images: each row mutates a valid image (written by qemu-img at test
//! time) and names a fragment of the error it must give. Opening and reading must fail with that
//! error, never panic, and never read unbounded amounts.
#![allow(clippy::unwrap_used)] // test helpers, as clippy.toml allows in tests

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{make_raw, qemu_img};
use imgprep_container::{BackingResolver, Disk, Error, Role};
use imgprep_imagegen::{vhd as vhdgen, vhdx as vhdxgen};
use imgprep_io::ReadAt;

/// Other files an in-memory image may name, by name.
#[derive(Default, Clone)]
struct Files(HashMap<String, Arc<Vec<u8>>>);

impl Files {
    fn with(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.0.insert(name.to_owned(), Arc::new(bytes));
        self
    }
}

impl BackingResolver for Files {
    fn open(
        &self,
        _naming_image: &Path,
        name: &str,
        role: Role,
    ) -> Result<(PathBuf, Arc<dyn ReadAt>), Error> {
        match self.0.get(name) {
            Some(b) => Ok((PathBuf::from(name), b.clone() as Arc<dyn ReadAt>)),
            None => Err(Error::BackingOpen {
                role,
                name: name.to_owned(),
                path: PathBuf::from(name),
                source: std::io::ErrorKind::NotFound.into(),
            }),
        }
    }
}

/// Reads the start, middle and end of the disk (all of it when small).
fn read_some(disk: &Disk) -> Result<(), std::io::Error> {
    let src = disk.source();
    let size = src.size();
    let mut buf = vec![0u8; 1 << 20];
    if size <= 16 << 20 {
        let mut pos = 0;
        while pos < size {
            let n = (size - pos).min(buf.len() as u64) as usize;
            src.read_exact_at(pos, &mut buf[..n])?;
            pos += n as u64;
        }
    } else {
        for at in [0, size / 2, size - (1 << 20)] {
            src.read_exact_at(at, &mut buf)?;
        }
    }
    Ok(())
}

/// The whole error text, including sources.
fn full_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(" / ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

/// Opening `image` (named "top" for relative names) and reading it must fail with `want` in
/// the message.
fn check(case: &str, image: Vec<u8>, files: &Files, want: &str) {
    let result = Disk::from_source_at(Arc::new(image), Path::new("top"), files);
    let text = match result {
        Err(e) => full_text(&e),
        Ok(disk) => match read_some(&disk) {
            Err(e) => full_text(&e),
            Ok(()) => panic!("{case}: opened and read fine, expected an error with {want:?}"),
        },
    };
    assert!(text.contains(want), "{case}: expected {want:?} in: {text}");
}

/// Opening and reading must succeed.
fn check_ok(case: &str, image: Vec<u8>, files: &Files) -> Disk {
    let disk = Disk::from_source_at(Arc::new(image), Path::new("top"), files)
        .unwrap_or_else(|e| panic!("{case}: {}", full_text(&e)));
    read_some(&disk).unwrap_or_else(|e| panic!("{case}: {}", full_text(&e)));
    disk
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}
fn put_be64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}
fn put_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn put_le32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_le64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// `f(bytes)` applied to a copy.
fn mutate(base: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = base.to_vec();
    f(&mut b);
    b
}

fn deflate(data: &[u8], zlib: bool) -> Vec<u8> {
    let level = flate2::Compression::default();
    if zlib {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    } else {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
}

type OverlayKey = (Option<String>, usize);

/// Builds images with qemu-img in a temporary directory and returns their bytes.
struct Builder {
    tmp: tempfile::TempDir,
    /// qcow2 overlay templates by (declared backing format, backing name length).
    overlays: std::cell::RefCell<HashMap<OverlayKey, Vec<u8>>>,
}

impl Builder {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        make_raw(tmp.path(), "disk.raw", 1 << 20);
        Self {
            tmp,
            overlays: Default::default(),
        }
    }
    fn dir(&self) -> &Path {
        self.tmp.path()
    }
    fn convert(&self, fmt: &str, opts: &[&str]) -> Vec<u8> {
        let out = format!("out.{fmt}");
        let mut args = vec!["convert", "-t", "unsafe", "-f", "raw", "-O", fmt];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["disk.raw", &out]);
        qemu_img(self.dir(), &args);
        fs_err::read(self.dir().join(out)).unwrap()
    }
    fn create(&self, args: &[&str]) -> Vec<u8> {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        qemu_img(self.dir(), &all);
        fs_err::read(self.dir().join("new.img")).unwrap()
    }
}

/// The first L2 table and its first entry's data cluster of a qcow2 image.
fn qcow2_l2(img: &[u8]) -> (usize, usize) {
    let l1 = be64(img, 40) as usize;
    let l2 = (be64(img, l1) & 0x00ff_ffff_ffff_fe00) as usize;
    (l1, l2)
}

#[test]
fn hostile_qcow2_images_fail_cleanly() {
    let b = Builder::new();
    let v3 = b.convert("qcow2", &[]);
    let v2 = b.convert("qcow2", &["-o", "compat=0.10"]);
    let compressed = b.convert("qcow2", &["-c"]);
    let (l1, l2) = qcow2_l2(&v3);
    let (cl1, cl2) = qcow2_l2(&compressed);
    let none = Files::default();
    let rows: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "header cut short",
            v3[..50].to_vec(),
            "qcow2 header at 0x0 points past",
        ),
        (
            "v3 header cut short",
            v3[..90].to_vec(),
            "qcow2 version 3 header",
        ),
        (
            "version 4",
            mutate(&v3, |b| put_be32(b, 4, 4)),
            "version at 0x4: expected 2 or 3, found 4",
        ),
        (
            "cluster_bits 30",
            mutate(&v3, |b| put_be32(b, 20, 30)),
            "cluster_bits at 0x14: expected 9..=21, found 30",
        ),
        (
            "cluster_bits 8",
            mutate(&v2, |b| put_be32(b, 20, 8)),
            "cluster_bits at 0x14: expected 9..=21, found 8",
        ),
        (
            "L1 table past EOF",
            mutate(&v3, |b| put_be64(b, 40, 0x1000_0000)),
            "L1 table at 0x10000000 points past the end of the file",
        ),
        (
            "L1 table misaligned",
            mutate(&v3, |b| put_be64(b, 40, 0x30008)),
            "L1 table at 0x28 is not aligned",
        ),
        (
            "absurd L1 size",
            mutate(&v3, |b| put_be32(b, 36, 0x7fff_ffff)),
            "entries, more than the 4194304 allowed",
        ),
        (
            "L1 smaller than the disk",
            mutate(&v3, |b| put_be32(b, 36, 0)),
            "fewer than the 1 the virtual size needs",
        ),
        (
            "absurd virtual size",
            mutate(&v3, |b| {
                put_be64(b, 24, 1 << 62);
                put_be32(b, 36, 1 << 22);
            }),
            "qcow2 size at 0x18",
        ),
        (
            "virtual size needing a huge L1 in the file",
            mutate(&v3, |b| {
                put_be64(b, 24, 1 << 50);
                put_be32(b, 36, 1 << 21);
            }),
            "L1 table at 0x30000 points past the end of the file",
        ),
        (
            "L2 table past EOF",
            mutate(&v3, |b| put_be64(b, l1, (1 << 63) | 0x8000_0000)),
            "L2 table at 0x80000000 points past the end of the file",
        ),
        (
            "L2 table misaligned",
            mutate(&v3, |b| put_be64(b, l1, l2 as u64 + 0x200)),
            "L2 table at 0x30000 is not aligned to 0x10000",
        ),
        (
            "data cluster past EOF",
            mutate(&v3, |b| put_be64(b, l2, (1 << 63) | 0x4000_0000)),
            "data cluster at 0x40000000 points past the end of the file",
        ),
        (
            "data cluster misaligned",
            mutate(&v3, |b| put_be64(b, l2, 0x50200)),
            "data cluster at 0x40000 is not aligned",
        ),
        (
            "compressed cluster past EOF",
            mutate(&compressed, |b| put_be64(b, cl2, (1 << 62) | 0x4000_0000)),
            "compressed cluster at 0x40000000 points past the end",
        ),
        (
            "compressed cluster of garbage",
            mutate(&compressed, |b| put_be64(b, cl2, (1 << 62) | (3 << 54))),
            "qcow2 compressed cluster at 0x0",
        ),
        (
            "compressed cluster inflating short",
            mutate(&compressed, |b| {
                let at = b.len();
                b.extend_from_slice(&deflate(&[7u8; 1000], false));
                b.resize(at + 1024, 0);
                put_be64(b, cl2, (1 << 62) | (1 << 54) | at as u64);
            }),
            "inflated to 1000 bytes, expected 65536",
        ),
        (
            "backing name past EOF",
            mutate(&v3, |b| {
                put_be64(b, 8, 0x200);
                put_be32(b, 16, 100);
                b.truncate(0x220);
            }),
            "points past the end of the file",
        ),
        (
            "backing name too long",
            mutate(&v3, |b| {
                put_be64(b, 8, 0x200);
                put_be32(b, 16, 5000);
            }),
            "backing_file_size at 0x10: expected 1..=1023 bytes, found 5000",
        ),
        (
            "header extension longer than the cluster",
            mutate(&v3, |b| put_be32(b, 0x74, 0x10_0000)),
            "header extension length",
        ),
        (
            "header_length beyond the cluster",
            mutate(&v3, |b| put_be32(b, 100, 0x20000)),
            "header_length at 0x64",
        ),
        (
            "AES encryption",
            mutate(&v3, |b| put_be32(b, 32, 1)),
            "unsupported feature: AES encryption",
        ),
        (
            "LUKS encryption",
            mutate(&v3, |b| put_be32(b, 32, 2)),
            "unsupported feature: LUKS encryption",
        ),
        (
            "unknown incompatible bit",
            mutate(&v3, |b| put_be64(b, 72, 1 << 10)),
            "unknown incompatible feature bit 10",
        ),
        (
            "compression bit without a type",
            mutate(&v3, |b| put_be64(b, 72, 1 << 3)),
            "compression_type at 0x68",
        ),
        (
            "qcow version 1",
            mutate(&v3, |b| put_be32(b, 4, 1)),
            "in the qcow format, which is not supported",
        ),
    ];
    // Sanity: the images mutated above are readable as they are.
    for (name, img) in [("v3", &v3), ("v2", &v2), ("compressed", &compressed)] {
        check_ok(name, img.clone(), &none);
    }
    assert_eq!(cl1 % 512, 0);
    for (case, image, want) in rows {
        check(case, image, &none, want);
    }

    // Features qemu-img writes, damaged or naming files that may not be opened.
    let be64 = |b: &[u8], at: usize| u64::from_be_bytes(b[at..at + 8].try_into().unwrap());
    // The first L2 entry of an image: L1 table offset at 40, L2 table offset in L1[0].
    let l2_entry = |b: &[u8]| (be64(b, be64(b, 40) as usize) & 0x00ff_ffff_ffff_fe00) as usize;
    let extl2 = b.convert("qcow2", &["-o", "extended_l2=on"]);
    let zstd = b.convert("qcow2", &["-c", "-o", "compression_type=zstd"]);
    let rows: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "external data file refused",
            b.create(&["-f", "qcow2", "-o", "data_file=data.raw", "new.img", "1M"]),
            "external data file name \"data.raw\" (resolved to data.raw)",
        ),
        (
            "external data file bit without a name",
            mutate(&v3, |b| put_be64(b, 72, 1 << 2)),
            "external data file with no name in the header",
        ),
        (
            "subcluster both allocated and zero",
            mutate(&extl2, |b| {
                let at = l2_entry(b) + 8;
                let bitmap = be64(b, at) | 1 | (1 << 32);
                put_be64(b, at, bitmap);
            }),
            "subcluster bitmap at",
        ),
        (
            "corrupt zstd cluster",
            mutate(&zstd, |b| {
                let entry = be64(b, l2_entry(b));
                let shift = 62 - (16 - 8);
                let at = (entry & ((1u64 << shift) - 1)) as usize;
                b[at..at + 16].fill(0xff);
            }),
            "compressed cluster at",
        ),
    ];
    for (case, image, want) in rows {
        check(case, image, &none, want);
    }
}

#[test]
fn dirty_and_corrupt_qcow2_images_are_readable() {
    let b = Builder::new();
    let v3 = b.convert("qcow2", &[]);
    for bits in [1u64, 2, 3] {
        let img = mutate(&v3, |b| put_be64(b, 72, bits));
        let disk = check_ok("dirty/corrupt", img, &Files::default());
        let mut first = [0u8; 512];
        disk.source().read_exact_at(0, &mut first).unwrap();
        assert_eq!(first[..], common::pattern(512)[..]);
    }
}

/// A qcow2 overlay naming `name` as its backing file, with `backing_fmt` declared (or, for
/// `None`, the backing format extension renamed so no format is declared).
fn overlay(b: &Builder, backing_fmt: Option<&str>, name: &str) -> Vec<u8> {
    // qemu-img writes one template per format and name length; names are patched in.
    let key = (backing_fmt.map(str::to_owned), name.len());
    let mut cache = b.overlays.borrow_mut();
    let template = cache.entry(key).or_insert_with(|| {
        let placeholder = "#".repeat(name.len());
        let fmt = backing_fmt.unwrap_or("qcow2");
        let mut img = b.create(&[
            "-f",
            "qcow2",
            "-u",
            "-F",
            fmt,
            "-b",
            &placeholder,
            "new.img",
            "1M",
        ]);
        if backing_fmt.is_none() {
            let ext = img
                .windows(4)
                .position(|w| w == [0xe2, 0x79, 0x2a, 0xca])
                .unwrap();
            img[ext..ext + 4].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        }
        img
    });
    let mut img = template.clone();
    let at = be64(&img, 8) as usize;
    img[at..at + name.len()].copy_from_slice(name.as_bytes());
    img
}

#[test]
fn hostile_backing_chains_fail_cleanly() {
    let b = Builder::new();
    let raw = fs_err::read(b.dir().join("disk.raw")).unwrap();

    // A -> B -> A.
    let a = overlay(&b, Some("qcow2"), "B.qcow2");
    let bb = overlay(&b, Some("qcow2"), "A.qcow2");
    let files = Files::default()
        .with("A.qcow2", a.clone())
        .with("B.qcow2", bb);
    // top (A) -> B.qcow2 -> A.qcow2 (the same bytes as top) -> B.qcow2 again.
    check("loop", a.clone(), &files, "backing chain loops: B.qcow2");
    // A -> A.
    let selfish = overlay(&b, Some("qcow2"), "top");
    let files = Files::default().with("top", selfish.clone());
    check("self loop", selfish, &files, "backing chain loops: top");

    // l00 -> l01 -> ... -> l69: deeper than 64.
    let mut files = Files::default();
    for i in 0..70 {
        files = files.with(
            &format!("l{i:02}"),
            overlay(&b, Some("qcow2"), &format!("l{:02}", i + 1)),
        );
    }
    files = files.with("l70", raw.clone());
    check(
        "deep chain",
        overlay(&b, Some("qcow2"), "l00"),
        &files,
        "deeper than 64",
    );
    // 64 backing files are fine.
    let mut files = Files::default();
    for i in 0..63 {
        let fmt = if i == 62 { "raw" } else { "qcow2" };
        files = files.with(
            &format!("m{i:02}"),
            overlay(&b, Some(fmt), &format!("m{:02}", i + 1)),
        );
    }
    files = files.with("m63", raw.clone());
    let disk = check_ok("64 deep", overlay(&b, Some("qcow2"), "m00"), &files);
    assert_eq!(disk.chain().len(), 65);

    check(
        "missing backing file",
        overlay(&b, Some("qcow2"), "gone.qcow2"),
        &Files::default(),
        "backing file name \"gone.qcow2\" (resolved to gone.qcow2)",
    );
    let raw_files = Files::default().with("base.raw", raw.clone());
    check(
        "undeclared raw backing file",
        overlay(&b, None, "base.raw"),
        &raw_files,
        "the backing format must be declared",
    );
    check_ok(
        "declared raw backing file",
        overlay(&b, Some("raw"), "base.raw"),
        &raw_files,
    );
    check(
        "unknown backing format",
        mutate(&overlay(&b, Some("raw"), "base.raw"), |img| {
            let ext = img
                .windows(4)
                .position(|w| w == [0xe2, 0x79, 0x2a, 0xca])
                .unwrap();
            img[ext + 8..ext + 11].copy_from_slice(b"qed");
        }),
        &raw_files,
        "unknown backing file format \"qed\"",
    );
    check(
        "corrupt backing file",
        overlay(&b, Some("qcow2"), "bad.qcow2"),
        &Files::default().with("bad.qcow2", b"QFI\xfb\0\0\0\x07".to_vec()),
        "in bad.qcow2 / qcow2 header at 0x0 points past",
    );
    check(
        "backing files refused",
        overlay(&b, Some("qcow2"), "x.qcow2"),
        &Files::default(),
        "backing file name \"x.qcow2\" (resolved to x.qcow2)",
    );
    let refused = Disk::from_source(
        Arc::new(overlay(&b, Some("qcow2"), "x.qcow2")),
        &imgprep_container::NoFiles,
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("no files may be opened"),
        "{refused}"
    );

    // On the host: a missing backing file names the path it looked for.
    qemu_img(
        b.dir(),
        &[
            "create",
            "-f",
            "qcow2",
            "-u",
            "-F",
            "qcow2",
            "-b",
            "missing.qcow2",
            "o.qcow2",
            "1M",
        ],
    );
    let err = Disk::open(&b.dir().join("o.qcow2")).unwrap_err();
    assert!(
        err.to_string()
            .contains("backing file name \"missing.qcow2\" (resolved to"),
        "{err}"
    );
    // A -> B -> A on the host.
    let d = b.dir();
    qemu_img(
        d,
        &[
            "create", "-f", "qcow2", "-u", "-F", "qcow2", "-b", "y.qcow2", "x.qcow2", "1M",
        ],
    );
    qemu_img(
        d,
        &[
            "create", "-f", "qcow2", "-u", "-F", "qcow2", "-b", "x.qcow2", "y.qcow2", "1M",
        ],
    );
    let err = Disk::open(&d.join("x.qcow2")).unwrap_err();
    assert!(err.to_string().contains("backing chain loops"), "{err}");
}

fn vhd_fix_checksum(footer: &mut [u8]) {
    footer[64..68].fill(0);
    let sum = footer.iter().fold(0u32, |a, &b| a.wrapping_add(b.into()));
    footer[64..68].copy_from_slice(&(!sum).to_be_bytes());
}

/// Applies `f` to both footer copies of a dynamic VHD and fixes their checksums.
fn vhd_footers(img: &[u8], f: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut b = img.to_vec();
    let len = b.len();
    for at in [0, len - 512] {
        f(&mut b[at..at + 512]);
        vhd_fix_checksum(&mut b[at..at + 512]);
    }
    b
}

#[test]
fn hostile_vhd_images_fail_cleanly() {
    let b = Builder::new();
    let dynamic = b.convert("vpc", &[]);
    let fixed = b.convert("vpc", &["-o", "subformat=fixed"]);
    let none = Files::default();
    check_ok("dynamic", dynamic.clone(), &none);
    check_ok("fixed", fixed.clone(), &none);
    let dyn_header = be64(&dynamic, 16) as usize;
    let bat = be64(&dynamic, dyn_header + 16) as usize;
    let rows: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad footer checksum",
            mutate(&dynamic, |b| b[70] ^= 1),
            "vhd footer at 0x0: checksum",
        ),
        (
            "fixed disk with a bad footer checksum and a copy at 0",
            mutate(&fixed, |b| {
                let len = b.len();
                b[..512].copy_from_slice(&fixed[len - 512..]);
                b[70] ^= 1;
            }),
            "checksum",
        ),
        (
            "differencing disk",
            vhd_footers(&dynamic, |f| f[60..64].copy_from_slice(&4u32.to_be_bytes())),
            "differencing disk",
        ),
        (
            "unknown disk type",
            vhd_footers(&dynamic, |f| f[60..64].copy_from_slice(&9u32.to_be_bytes())),
            "disk type at 0x3c",
        ),
        (
            "dynamic header past EOF",
            vhd_footers(&dynamic, |f| {
                f[16..24].copy_from_slice(&(1u64 << 40).to_be_bytes())
            }),
            "dynamic disk header at 0x10000000000 points past",
        ),
        (
            "bad dynamic header cookie",
            mutate(&dynamic, |b| b[dyn_header] = b'X'),
            "cxsparse",
        ),
        (
            "BAT past EOF",
            mutate(&dynamic, |b| put_be64(b, dyn_header + 16, 1 << 40)),
            "block allocation table at 0x10000000000 points past the end",
        ),
        (
            "absurd BAT size",
            mutate(&dynamic, |b| put_be32(b, dyn_header + 28, u32::MAX)),
            "more than the 1044480 allowed",
        ),
        (
            "BAT too small",
            mutate(&dynamic, |b| put_be32(b, dyn_header + 28, 0)),
            "fewer than the 1",
        ),
        (
            "block size not a power of two",
            mutate(&dynamic, |b| put_be32(b, dyn_header + 32, 3 << 20)),
            "block size at",
        ),
        (
            "block past EOF",
            mutate(&dynamic, |b| put_be32(b, bat, 0x0100_0000)),
            "vhd data block at",
        ),
        (
            "truncated dynamic disk",
            {
                let mut t = dynamic[..dynamic.len() / 2].to_vec();
                t.extend_from_slice(&dynamic[dynamic.len() - 512..]);
                t
            },
            "points past the end of the file",
        ),
        (
            "absurd size from the footer",
            vhd_footers(&dynamic, |f| {
                f[28..32].copy_from_slice(b"win ");
                f[48..56].copy_from_slice(&(1u64 << 50).to_be_bytes());
            }),
            "disk size at 0x30",
        ),
    ];
    for (case, image, want) in rows {
        check(case, image, &none, want);
    }
}

fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recomputes the CRC-32C at offset 4 of `b[at..at + len]`.
fn vhdx_fix(b: &mut [u8], at: usize, len: usize) {
    b[at + 4..at + 8].fill(0);
    let c = crc32c(&b[at..at + len]);
    put_le32(b, at + 4, c);
}

/// The offsets of the BAT and metadata regions of a VHDX image.
fn vhdx_regions(img: &[u8]) -> (usize, usize) {
    let t = 192 * 1024;
    let mut bat = 0;
    let mut meta = 0;
    for i in 0..le32(img, t + 8) as usize {
        let e = t + 16 + i * 32;
        let off = le64(img, e + 16) as usize;
        if img[e] == 0x66 {
            bat = off;
        } else {
            meta = off;
        }
    }
    (bat, meta)
}

/// The offset of the metadata item whose GUID starts with `first` (its data, absolute).
fn vhdx_item(img: &[u8], meta: usize, first: u8) -> usize {
    let count = u16::from_le_bytes([img[meta + 10], img[meta + 11]]) as usize;
    (0..count)
        .map(|i| meta + 32 + i * 32)
        .find(|&e| img[e] == first)
        .map(|e| meta + le32(img, e + 16) as usize)
        .unwrap()
}

#[test]
fn hostile_vhdx_images_fail_cleanly() {
    let b = Builder::new();
    let img = b.convert("vhdx", &["-o", "block_size=1M"]);
    let none = Files::default();
    check_ok("vhdx", img.clone(), &none);
    let (bat, meta) = vhdx_regions(&img);
    let params = vhdx_item(&img, meta, 0x37);
    let vsize = vhdx_item(&img, meta, 0x24);
    let h1 = 64 * 1024;
    let h2 = 128 * 1024;

    // Only one header bad: the other one is used.
    check_ok(
        "first header bad",
        mutate(&img, |b| b[h1 + 100] ^= 1),
        &none,
    );
    check_ok(
        "second header bad",
        mutate(&img, |b| b[h2 + 100] ^= 1),
        &none,
    );
    // The first region table bad: the second one is used.
    check_ok(
        "first region table bad",
        mutate(&img, |b| b[192 * 1024 + 100] ^= 1),
        &none,
    );

    // An entry of the current log with sequence number 0 is not valid: nothing is replayed.
    let with_log = mutate(&img, |b| {
        let guid = [0x42u8; 16];
        let log = le64(b, h1 + 72) as usize;
        for h in [h1, h2] {
            b[h + 48..h + 64].copy_from_slice(&guid);
            vhdx_fix(b, h, 4096);
        }
        b[log..log + 4096].fill(0);
        b[log..log + 4].copy_from_slice(b"loge");
        put_le32(b, log + 8, 4096);
        b[log + 32..log + 48].copy_from_slice(&guid);
        vhdx_fix(b, log, 4096);
    });
    // A non-zero log GUID with no entry of that log is fine.
    let stale_log = mutate(&img, |b| {
        for h in [h1, h2] {
            b[h + 48..h + 64].copy_from_slice(&[0x42u8; 16]);
            vhdx_fix(b, h, 4096);
        }
    });
    check_ok("log GUID without entries", stale_log, &none);
    check_ok("log entry with sequence number 0", with_log, &none);

    let rows: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "both headers bad",
            mutate(&img, |b| {
                b[h1 + 100] ^= 1;
                b[h2 + 100] ^= 1;
            }),
            "at least one valid header",
        ),
        (
            "headers cut off",
            img[..66 * 1024].to_vec(),
            "at least one valid header",
        ),
        (
            "region tables cut off",
            img[..100 * 1024].to_vec(),
            "region table at 0x30000 points past",
        ),
        (
            "both region tables bad",
            mutate(&img, |b| {
                b[192 * 1024 + 100] ^= 1;
                b[256 * 1024 + 100] ^= 1;
            }),
            "region table at 0x30000: checksum",
        ),
        (
            "differencing disk without a parent locator",
            mutate(&img, |b| put_le32(b, params + 4, 2)),
            "a parent locator item in a differencing disk (HasParent), found none",
        ),
        (
            "block size 3 MiB",
            mutate(&img, |b| put_le32(b, params, 3 << 20)),
            "block size at",
        ),
        (
            "virtual size beyond the BAT",
            mutate(&img, |b| put_le64(b, vsize, 1 << 40)),
            "BAT at",
        ),
        (
            "absurd virtual size",
            mutate(&img, |b| put_le64(b, vsize, u64::MAX / 2)),
            "virtual disk size at",
        ),
        (
            "payload block past EOF",
            mutate(&img, |b| put_le64(b, bat, (1 << 40) | 6)),
            "payload block at 0x10000000000 points past",
        ),
        (
            "payload block at the end of the offset space",
            mutate(&img, |b| put_le64(b, bat, 0xffff_ffff_fff0_0006)),
            "payload block at 0xfffffffffff00000 points past",
        ),
        (
            "log length not a multiple of 4 KiB",
            mutate(&img, |b| {
                for h in [h1, h2] {
                    b[h + 48..h + 64].copy_from_slice(&[0x42u8; 16]);
                    put_le32(b, h + 68, 4097);
                    vhdx_fix(b, h, 4096);
                }
            }),
            "log length at 0x20044: expected a multiple of 1 MiB, found 4097",
        ),
        (
            "partially present block",
            mutate(&img, |b| {
                let e = le64(b, bat);
                put_le64(b, bat, (e & !7) | 7);
            }),
            "partially present",
        ),
        (
            "unknown block state",
            mutate(&img, |b| put_le64(b, bat, 4)),
            "BAT entry state",
        ),
        (
            "metadata item outside its region",
            mutate(&img, |b| {
                let count = u16::from_le_bytes([b[meta + 10], b[meta + 11]]) as usize;
                for i in 0..count {
                    let e = meta + 32 + i * 32;
                    if b[e] == 0x24 {
                        put_le32(b, e + 16, 0x7fff_fff0);
                    }
                }
            }),
            "metadata item at",
        ),
        (
            "region past EOF",
            mutate(&img, |b| {
                let t = 192 * 1024;
                for tab in [t, t + 64 * 1024] {
                    put_le64(b, tab + 16 + 16, 1 << 40);
                    vhdx_fix(b, tab, 64 * 1024);
                }
            }),
            "region at 0x10000000000 points past",
        ),
    ];
    for (case, image, want) in rows {
        check(case, image, &none, want);
    }
}

#[test]
fn hostile_vmdk_images_fail_cleanly() {
    let b = Builder::new();
    let sparse = b.convert("vmdk", &[]);
    let stream = b.convert("vmdk", &["-o", "subformat=streamOptimized"]);
    let none = Files::default();
    check_ok("sparse", sparse.clone(), &none);
    check_ok("stream", stream.clone(), &none);
    let gd = le64(&sparse, 56) as usize * 512;
    let gt = le32(&sparse, gd) as usize * 512;
    let sgd = le64(&stream, 56) as usize * 512;
    let sgt = le32(&stream, sgd) as usize * 512;
    let grain = le32(&stream, sgt) as usize * 512;

    qemu_img(
        b.dir(),
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            "-o",
            "subformat=monolithicFlat",
            "disk.raw",
            "f.vmdk",
        ],
    );
    let desc = fs_err::read_to_string(b.dir().join("f.vmdk")).unwrap();
    let flat = fs_err::read(b.dir().join("f-flat.vmdk")).unwrap();
    let with_flat = Files::default().with("f-flat.vmdk", flat.clone());
    check_ok("descriptor", desc.clone().into_bytes(), &with_flat);
    let edit = |from: &str, to: &str| desc.replace(from, to).into_bytes();

    let rows: Vec<(&str, Vec<u8>, &Files, &str)> = vec![
        (
            "header cut short",
            sparse[..100].to_vec(),
            &none,
            "sparse extent header",
        ),
        (
            "truncated",
            sparse[..sparse.len() / 2].to_vec(),
            &none,
            "points past the end",
        ),
        (
            "grain directory past EOF",
            mutate(&sparse, |b| put_le64(b, 56, 1 << 30)),
            &none,
            "grain directory at 0x8000000000 points past",
        ),
        (
            "grain table past EOF",
            mutate(&sparse, |b| put_le32(b, gd, 0x0100_0000)),
            &none,
            "grain table at 0x200000000 points past",
        ),
        (
            "grain past EOF",
            mutate(&sparse, |b| put_le32(b, gt, 0x0100_0000)),
            &none,
            "vmdk grain at 0x200000000 points past",
        ),
        (
            "absurd grain table size",
            mutate(&sparse, |b| put_le32(b, 44, 100_000)),
            &none,
            "more than the 512 allowed",
        ),
        (
            "grain size 0",
            mutate(&sparse, |b| put_le64(b, 20, 0)),
            &none,
            "grain size and grain table entries",
        ),
        (
            "absurd capacity",
            mutate(&sparse, |b| put_le64(b, 12, 1 << 50)),
            &none,
            "grain directory at",
        ),
        (
            "version 4",
            mutate(&sparse, |b| put_le32(b, 4, 4)),
            &none,
            "VMDK version 4",
        ),
        (
            "overhead past EOF",
            mutate(&sparse, |b| put_le64(b, 64, 1 << 40)),
            &none,
            "overHead",
        ),
        (
            "compressed grain of garbage",
            mutate(&stream, |b| b[grain + 12..grain + 40].fill(0x55)),
            &none,
            "vmdk compressed grain at",
        ),
        (
            "compressed grain marker too large",
            mutate(&stream, |b| put_le32(b, grain + 8, 0x7fff_ffff)),
            &none,
            "grain marker size 2147483647",
        ),
        (
            "compressed grain inflating too long",
            mutate(&stream, |b| {
                let at = b.len();
                let z = deflate(&vec![1u8; 200_000], true);
                let mut m = vec![0u8; 12];
                m[8..12].copy_from_slice(&(z.len() as u32).to_le_bytes());
                b.extend_from_slice(&m);
                b.extend_from_slice(&z);
                b.resize(at + 4096, 0);
                put_le32(b, sgt, (at / 512) as u32);
            }),
            &none,
            "does not end within 65536 bytes",
        ),
        (
            "GD_AT_END without a footer",
            mutate(&stream, |b| put_le64(b, 56, u64::MAX)),
            &none,
            "vmdk footer at",
        ),
        (
            "COWD",
            mutate(&sparse, |b| b[..4].copy_from_slice(b"COWD")),
            &none,
            "VMware 3 (COWD)",
        ),
        (
            "parent hint",
            mutate(&sparse, |b| {
                let at = b.windows(9).position(|w| w == b"parentCID").unwrap();
                b[at..at + 31].copy_from_slice(b"parentFileNameHint=\"base.vmdk\"\n");
            }),
            &none,
            "a delta disk needs parentCID=HEX",
        ),
        (
            "vmfs createType",
            edit("monolithicFlat", "vmfs"),
            &with_flat,
            "createType \"vmfs\"",
        ),
        (
            "seSparse createType",
            edit("monolithicFlat", "seSparse"),
            &with_flat,
            "createType \"seSparse\"",
        ),
        (
            "monolithicSparse as a descriptor file",
            edit("monolithicFlat", "monolithicSparse"),
            &with_flat,
            "createType \"monolithicSparse\"",
        ),
        (
            "no createType",
            edit("createType", "kind"),
            &with_flat,
            "no createType",
        ),
        (
            "ZERO extent",
            edit("# Extent description", "RW 100 ZERO"),
            &with_flat,
            "ZERO extents",
        ),
        (
            "read-only extent",
            edit("RW 2048 FLAT", "RDONLY 2048 FLAT"),
            &with_flat,
            "RDONLY extents",
        ),
        (
            "FLAT extent without offset",
            edit("\"f-flat.vmdk\" 0", "\"f-flat.vmdk\""),
            &with_flat,
            "invalid extent line",
        ),
        (
            "SPARSE extent that is not sparse",
            edit("FLAT \"f-flat.vmdk\" 0", "SPARSE \"f-flat.vmdk\""),
            &with_flat,
            "sparse extent magic",
        ),
        (
            "extent file missing",
            desc.clone().into_bytes(),
            &none,
            "extent file on descriptor line 8 \"f-flat.vmdk\"",
        ),
        (
            "absurd flat extent",
            edit("RW 2048 FLAT", "RW 9223372036854775807 FLAT"),
            &with_flat,
            "overflows",
        ),
    ];
    assert!(desc.contains("RW 2048 FLAT"), "{desc}");
    for (case, image, files, want) in rows {
        check(case, image, files, want);
    }
    let refused =
        Disk::from_source(Arc::new(desc.into_bytes()), &imgprep_container::NoFiles).unwrap_err();
    assert!(refused.to_string().contains("extent file"), "{refused}");
}

#[test]
fn other_formats_are_refused_not_read_as_raw() {
    let b = Builder::new();
    let none = Files::default();
    let rows: Vec<(&str, Vec<u8>, &str)> = vec![
        ("qed", b.convert("qed", &[]), "qed format"),
        ("vdi", b.convert("vdi", &[]), "vdi format"),
        ("parallels", b.convert("parallels", &[]), "parallels format"),
    ];
    for (case, image, want) in rows {
        check(case, image, &none, want);
    }
    // A short or empty file is a raw disk.
    for len in [0usize, 3, 511] {
        let disk = check_ok("short raw", vec![9u8; len], &none);
        assert_eq!(disk.virtual_size(), len as u64);
    }
}

/// `img` (a sparse VMDK written by qemu-img) with its embedded descriptor replaced by `text`.
fn vmdk_with_descriptor(img: &[u8], text: &str) -> Vec<u8> {
    let mut b = img.to_vec();
    let area = 0x200..0x200 + 20 * 512;
    assert!(text.len() < area.len());
    b[area.clone()].fill(0);
    b[area.start..area.start + text.len()].copy_from_slice(text.as_bytes());
    b
}

/// A delta disk's embedded descriptor: CID, parentCID and parentFileNameHint as given.
fn delta_descriptor(cid: &str, parent_cid: &str, hint: &str) -> String {
    format!(
        "# Disk DescriptorFile\nversion=1\nCID={cid}\nparentCID={parent_cid}\n\
         createType=\"monolithicSparse\"\n{hint}\n\n# Extent description\n\
         RW 2048 SPARSE \"top\"\n"
    )
}

#[test]
fn hostile_vmdk_parents_fail_cleanly() {
    let b = Builder::new();
    let base = b.convert("vmdk", &[]);
    qemu_img(b.dir(), &["convert", "-O", "vmdk", "disk.raw", "base.vmdk"]);
    qemu_img(
        b.dir(),
        &[
            "create",
            "-f",
            "vmdk",
            "-F",
            "vmdk",
            "-b",
            "base.vmdk",
            "delta.vmdk",
        ],
    );
    let delta = fs_err::read(b.dir().join("delta.vmdk")).unwrap();
    let base_cid = {
        let text = String::from_utf8_lossy(&base[0x200..0x200 + 1024]).into_owned();
        let at = text.find("CID=").unwrap() + 4;
        text[at..at + 8].to_owned()
    };
    let child = |parent_cid: &str, hint: &str| {
        vmdk_with_descriptor(&delta, &delta_descriptor("0000abcd", parent_cid, hint))
    };
    let hint = |name: &str| format!("parentFileNameHint=\"{name}\"");
    let files = Files::default().with("base.vmdk", base.clone());
    // As qemu-img wrote it, the chain opens; every grain reads from the parent.
    let disk = check_ok("delta", child(&base_cid, &hint("base.vmdk")), &files);
    let mut first = vec![0u8; 1 << 20];
    disk.source().read_exact_at(0, &mut first).unwrap();
    assert!(first == common::pattern(1 << 20));
    // An empty hint names no parent (qemu: no backing file): unallocated grains read as zeros.
    let disk = check_ok(
        "empty hint",
        child("ffffffff", &hint("")),
        &Files::default(),
    );
    disk.source().read_exact_at(0, &mut first).unwrap();
    assert!(first.iter().all(|&x| x == 0));

    let no_cid = vmdk_with_descriptor(
        &base,
        "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicSparse\"\n",
    );
    // A chain of 70 delta disks naming each other, every CID 1.
    let mut deep = Files::default();
    for i in 0..70 {
        deep = deep.with(
            &format!("l{i:02}"),
            child("1", &hint(&format!("l{:02}", i + 1))),
        );
    }
    let deep_top = vmdk_with_descriptor(&delta, &delta_descriptor("1", "1", &hint("l00")));
    let rows: Vec<(&str, Vec<u8>, Files, &str)> = vec![
        (
            "parentCID mismatch",
            child("12345678", &hint("base.vmdk")),
            files.clone(),
            "vmdk parentCID 12345678 does not match the CID",
        ),
        (
            "parent without a CID",
            child(&base_cid, &hint("base.vmdk")),
            Files::default().with("base.vmdk", no_cid),
            "does not match the CID (none) of the parent base.vmdk",
        ),
        (
            "no parentCID",
            vmdk_with_descriptor(
                &delta,
                "version=1\nCID=1\ncreateType=\"monolithicSparse\"\nparentFileNameHint=\"base.vmdk\"\n",
            ),
            files.clone(),
            "vmdk descriptor line 4: a delta disk needs parentCID=HEX (descriptor at 0x200)",
        ),
        (
            "missing parent",
            child(&base_cid, &hint("gone.vmdk")),
            files.clone(),
            "descriptor parentFileNameHint \"gone.vmdk\" (resolved to gone.vmdk)",
        ),
        (
            "parent in another format",
            child(&base_cid, &hint("base.vmdk")),
            Files::default().with("base.vmdk", b.convert("qcow2", &[])),
            "parent base.vmdk is a qcow2 image; a vmdk differencing disk's parent must be a vmdk",
        ),
        (
            "raw parent",
            child(&base_cid, &hint("base.vmdk")),
            Files::default().with("base.vmdk", vec![0u8; 1 << 20]),
            "parent base.vmdk is a raw image",
        ),
        (
            "hint not as qemu writes it",
            child(&base_cid, "parentFileNameHint = \"base.vmdk\""),
            files.clone(),
            "expected parentFileNameHint=\"NAME\"",
        ),
        (
            "hint without a closing quote",
            vmdk_with_descriptor(
                &delta,
                "version=1\nCID=1\nparentCID=1\nparentFileNameHint=\"base.vmdk\n",
            ),
            files.clone(),
            "parentFileNameHint: no closing quote",
        ),
        (
            "hint too long",
            child(&base_cid, &hint(&"x".repeat(5000))),
            files.clone(),
            "parentFileNameHint of 5000 bytes, more than 4095",
        ),
        (
            "parent is the image itself",
            child(&base_cid, &hint("top")),
            Files::default().with("top", child(&base_cid, &hint("top"))),
            "backing chain loops: top",
        ),
        (
            "two delta disks naming each other",
            child("1", &hint("b.vmdk")),
            Files::default()
                .with("b.vmdk", child("1", &hint("top")))
                .with("top", child("1", &hint("b.vmdk"))),
            "backing chain loops: top",
        ),
        ("70 delta disks", deep_top, deep, "deeper than 64"),
        (
            "corrupt parent",
            child(&base_cid, &hint("base.vmdk")),
            Files::default().with("base.vmdk", base[..4096].to_vec()),
            "in base.vmdk / ",
        ),
    ];
    for (case, image, files, want) in rows {
        check(case, image, &files, want);
    }
}

/// A VHD differencing disk of 1 MiB over a parent with unique id `parent_id`, naming it by
/// `locators`, with one sector written.
fn vhd_child(parent_id: [u8; 16], locators: Vec<vhdgen::Locator>) -> Vec<u8> {
    let mut v = vhdgen::Vhd::new(1 << 20, 512 * 1024, [2; 16]);
    v.parent = Some(vhdgen::Parent {
        unique_id: parent_id,
        name: "base.vhd".into(),
        locators,
    });
    v.write(0, &[0x5a; 512], 0xee);
    v.to_bytes()
}

fn w2ru(path: &str) -> Vec<vhdgen::Locator> {
    vec![vhdgen::Locator::windows(b"W2ru", path)]
}

#[test]
fn hostile_vhd_parents_fail_cleanly() {
    let b = Builder::new();
    let mut parent = vhdgen::Vhd::new(1 << 20, 512 * 1024, [7; 16]);
    parent.write(0, &common::pattern(1 << 20), 0);
    let parent = parent.to_bytes();
    let files = Files::default().with(".\\base.vhd", parent.clone());
    check_ok("child", vhd_child([7; 16], w2ru(".\\base.vhd")), &files);
    // The first locator entry's fields: header at 512, locators at 576 in it.
    let locator = 512 + 576;
    let mut deep = Files::default();
    for i in 0..70 {
        deep = deep.with(
            &format!("l{i:02}"),
            vhd_child([2; 16], w2ru(&format!("l{:02}", i + 1))),
        );
    }
    let rows: Vec<(&str, Vec<u8>, Files, &str)> = vec![
        (
            "parent unique id mismatch",
            vhd_child([8; 16], w2ru(".\\base.vhd")),
            files.clone(),
            "vhd parent unique id 08080808-0808-0808-0808-080808080808 does not match the unique \
             id 07070707-0707-0707-0707-070707070707 of the parent .\\base.vhd",
        ),
        (
            "parent in another format",
            vhd_child([7; 16], w2ru(".\\base.vhd")),
            Files::default().with(".\\base.vhd", b.convert("vmdk", &[])),
            "is a vmdk image; a vhd differencing disk's parent must be a vhd image",
        ),
        (
            "parent is the image itself",
            vhd_child([7; 16], w2ru("top")),
            Files::default().with("top", vhd_child([7; 16], w2ru("top"))),
            "backing chain loops: top",
        ),
        (
            "two children naming each other",
            vhd_child([2; 16], w2ru("b.vhd")),
            Files::default()
                .with("b.vhd", vhd_child([2; 16], w2ru("top")))
                .with("top", vhd_child([2; 16], w2ru("b.vhd"))),
            "backing chain loops: top",
        ),
        (
            "70 children",
            vhd_child([2; 16], w2ru("l00")),
            deep,
            "deeper than 64",
        ),
        (
            "locator data past the end of the file",
            mutate(&vhd_child([7; 16], w2ru(".\\base.vhd")), |b| {
                put_be64(b, locator + 16, 1 << 40)
            }),
            files.clone(),
            "vhd parent locator at 0x440: expected data inside the file",
        ),
        (
            "locator of a gigabyte",
            mutate(&vhd_child([7; 16], w2ru(".\\base.vhd")), |b| {
                put_be32(b, locator + 8, 1 << 30)
            }),
            files.clone(),
            "W2ru (1073741824 bytes, longer than the 65536 read)",
        ),
        (
            "locator that is not UTF-16",
            mutate(&vhd_child([7; 16], w2ru(".\\base.vhd")), |b| {
                put_be32(b, locator + 8, 3)
            }),
            files.clone(),
            "(not a valid name)",
        ),
        (
            "locator naming a missing file",
            vhd_child([7; 16], w2ru(".\\gone.vhd")),
            files.clone(),
            "no parent locator leads to a file: W2ru \".\\\\gone.vhd\" (no file at .\\gone.vhd)",
        ),
        (
            "corrupt parent",
            vhd_child([7; 16], w2ru(".\\base.vhd")),
            Files::default().with(".\\base.vhd", parent[..parent.len() / 2].to_vec()),
            "in .\\base.vhd / ",
        ),
    ];
    for (case, image, files, want) in rows {
        check(case, image, &files, want);
    }
}

/// A VHDX differencing disk of 4 MiB whose parent locator holds `kv`, with a few sectors
/// written (a partially present block 0).
fn vhdx_child(kv: &[(&str, &str)]) -> Vec<u8> {
    let mut v = vhdxgen::Vhdx::new(4 << 20, 1 << 20, 512, [0x33; 16]);
    v.parent = Some(
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    v.write(4096, &[0x5a; 1024], 0xee);
    v.to_bytes()
}

#[test]
fn hostile_vhdx_parents_fail_cleanly() {
    let b = Builder::new();
    let parent_of = |logical: u32| {
        let mut p = vhdxgen::Vhdx::new(4 << 20, 1 << 20, logical, [0x44; 16]);
        p.write(0, &common::pattern(4 << 20), 0);
        p.to_bytes()
    };
    let parent = parent_of(512);
    let link = vhdxgen::guid_text(&[0x44; 16]);
    let files = Files::default().with("p.vhdx", parent.clone());
    let good = vhdx_child(&[("parent_linkage", &link), ("relative_path", "p.vhdx")]);
    check_ok("child", good.clone(), &files);
    let (bat, meta) = vhdxgen::regions(&good);
    let locator = vhdxgen::item(&good, meta, &vhdxgen::PARENT_LOCATOR).unwrap();
    let other = vhdxgen::guid_text(&[0x45; 16]);
    let rows: Vec<(&str, Vec<u8>, Files, &str)> = vec![
        (
            "linkage mismatch",
            vhdx_child(&[("parent_linkage", &other), ("relative_path", "p.vhdx")]),
            files.clone(),
            "vhdx parent_linkage {45454545-4545-4545-4545-454545454545} does not match the \
             DataWriteGuid {44444444-4444-4444-4444-444444444444} of the parent p.vhdx",
        ),
        (
            "logical sector sizes differ",
            vhdx_child(&[("parent_linkage", &link), ("relative_path", "p.vhdx")]),
            Files::default().with("p.vhdx", parent_of(4096)),
            "vhdx logical sector size 512 does not match the logical sector size 4096",
        ),
        (
            "parent in another format",
            vhdx_child(&[("parent_linkage", &link), ("relative_path", "p.vhdx")]),
            Files::default().with("p.vhdx", b.convert("vpc", &[])),
            "parent p.vhdx is a vhd image",
        ),
        (
            "no parent_linkage",
            vhdx_child(&[("relative_path", "p.vhdx")]),
            files.clone(),
            "expected a parent_linkage entry, found none",
        ),
        (
            "parent_linkage not a GUID",
            vhdx_child(&[("parent_linkage", "44444444"), ("relative_path", "p.vhdx")]),
            files.clone(),
            "expected parent_linkage as {GUID}, found \"44444444\"",
        ),
        (
            "a key twice",
            vhdx_child(&[
                ("parent_linkage", &link),
                ("relative_path", "p.vhdx"),
                ("relative_path", "q.vhdx"),
            ]),
            files.clone(),
            "expected unique keys, found \"relative_path\" twice",
        ),
        (
            "key outside the item",
            mutate(&good, |b| put_le32(b, locator + 20, 0x10_0000)),
            files.clone(),
            "expected a non-empty UTF-16 string inside the item",
        ),
        (
            "unknown locator type",
            mutate(&good, |b| b[locator] ^= 0xff),
            files.clone(),
            "unsupported feature: parent locator type {b04aef48-",
        ),
        (
            "only Windows paths",
            vhdx_child(&[
                ("parent_linkage", &link),
                (
                    "volume_path",
                    "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\p.vhdx",
                ),
                ("absolute_win32_path", "\\\\?\\D:\\p.vhdx"),
            ]),
            files.clone(),
            "absolute_win32_path \"\\\\\\\\?\\\\D:\\\\p.vhdx\" (not a path on this host)",
        ),
        (
            "no path at all",
            vhdx_child(&[("parent_linkage", &link)]),
            files.clone(),
            "has no relative_path, volume_path or absolute_win32_path",
        ),
        (
            "parent is the image itself",
            vhdx_child(&[("parent_linkage", &link), ("relative_path", "top")]),
            Files::default().with("top", good.clone()),
            "backing chain loops: top",
        ),
        (
            "partially present block without its sector bitmap",
            mutate(&good, |b| {
                // Chunk ratio 4096: the sector bitmap entry of chunk 0 is BAT entry 4096.
                put_le64(b, bat + 4096 * 8, 0)
            }),
            files.clone(),
            "sector bitmap BAT entry at",
        ),
        (
            "sector bitmap block past the end of the file",
            mutate(&good, |b| put_le64(b, bat + 4096 * 8, (1 << 40) | 6)),
            files.clone(),
            "sector bitmap block at 0x10000000000 points past",
        ),
        (
            "parent locator item over 1 MiB",
            mutate(&good, |b| {
                let count = u16::from_le_bytes([b[meta + 10], b[meta + 11]]) as usize;
                for i in 0..count {
                    let e = meta + 32 + i * 32;
                    if b[e..e + 16] == vhdxgen::PARENT_LOCATOR {
                        put_le32(b, e + 20, 0x20_0000);
                    }
                }
            }),
            files.clone(),
            "parent locator item length",
        ),
    ];
    for (case, image, files, want) in rows {
        check(case, image, &files, want);
    }
}

#[test]
fn hostile_vhdx_logs_fail_cleanly() {
    let mut g = vhdxgen::Vhdx::new(4 << 20, 1 << 20, 512, [1; 16]);
    g.write(0, &common::pattern(4 << 20), 0);
    let img = g.to_bytes();
    let none = Files::default();
    let (bat, _) = vhdxgen::regions(&img);
    let (h, _, _) = vhdxgen::current_header(&img);
    let guid = [0x21u8; 16];
    let size = img.len() as u64;
    let wipe = |sequence| vhdxgen::LogEntry {
        guid,
        sequence,
        tail: 0,
        flushed_file_offset: size,
        last_file_offset: size,
        writes: vec![vhdxgen::LogWrite::Zero {
            offset: bat as u64,
            length: 4096,
        }],
    };
    let logged = |entries: &[(u64, Vec<u8>)], f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = img.clone();
        vhdxgen::set_log_guid(&mut b, &guid);
        for (at, e) in entries {
            vhdxgen::put_log_entry(&mut b, *at, e);
        }
        f(&mut b);
        b
    };
    let header = |b: &mut Vec<u8>, at: usize, v: &[u8]| {
        for hdr in [64 * 1024, 128 * 1024] {
            b[hdr + at..hdr + at + v.len()].copy_from_slice(v);
            vhdxgen::fix_crc(b, hdr, 4096);
        }
    };
    let flat = g.flat(&[]);
    let reads_unchanged = |case: &str, image: Vec<u8>| {
        let disk = check_ok(case, image, &none);
        let mut all = vec![0u8; flat.len()];
        disk.source().read_exact_at(0, &mut all).unwrap();
        assert!(all == flat, "{case}: the log was replayed");
    };
    // Entries that are not valid are not replayed: the image reads as without them.
    let mut bad_sum = wipe(5).to_bytes();
    bad_sum[200] ^= 1;
    reads_unchanged("bad checksum", logged(&[(0, bad_sum)], &|_| {}));
    let mut bad_data = vhdxgen::LogEntry {
        writes: vec![vhdxgen::LogWrite::Data {
            offset: bat as u64,
            sector: vec![0; 4096],
        }],
        ..wipe(5)
    }
    .to_bytes();
    bad_data[4096 + 4092] ^= 1; // the data sector's sequence number, low half
    vhdxgen::fix_crc(&mut bad_data, 0, 8192);
    reads_unchanged("data sector sequence", logged(&[(0, bad_data)], &|_| {}));
    let mut long = wipe(5).to_bytes();
    long[8..12].copy_from_slice(&(2u32 << 20).to_le_bytes());
    reads_unchanged("entry longer than the log", logged(&[(0, long)], &|_| {}));
    let mut other = wipe(5);
    other.guid = [0x99; 16];
    reads_unchanged(
        "another log's entry",
        logged(&[(0, other.to_bytes())], &|_| {}),
    );
    // A valid entry is replayed: the BAT sector zeroed, every block reads as zeros.
    let disk = check_ok(
        "replayed",
        logged(&[(0, wipe(5).to_bytes())], &|_| {}),
        &none,
    );
    let mut all = vec![0u8; flat.len()];
    disk.source().read_exact_at(0, &mut all).unwrap();
    assert!(all.iter().all(|&x| x == 0), "the log was not replayed");

    // Every sector the start of an entry as long as the log, none valid: checksumming stops.
    let mut spam = Vec::new();
    for i in 0..256u64 {
        let mut e = wipe(i + 1).to_bytes();
        e[8..12].copy_from_slice(&(1u32 << 20).to_le_bytes());
        e[4] ^= 1;
        spam.push((i * 4096, e[..4096].to_vec()));
    }
    let rows: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "log past the end of the file",
            logged(&[], &|b| header(b, 68, &(8u32 << 20).to_le_bytes())),
            "vhdx log at 0x100000 points past the end of the file",
        ),
        (
            "log longer than replayed in memory",
            logged(&[], &|b| header(b, 68, &(16u32 << 20).to_le_bytes())),
            "log of 16777216 bytes at 0x100000 to replay (at most 8388608",
        ),
        (
            "log version 1",
            logged(&[], &|b| header(b, 64, &1u16.to_le_bytes())),
            "unsupported feature: log version 1",
        ),
        (
            "log offset not 1 MiB-aligned",
            logged(&[], &|b| header(b, 72, &0x10_1000u64.to_le_bytes())),
            "log offset at",
        ),
        (
            "file truncated after the log was written",
            logged(
                &[(
                    0,
                    vhdxgen::LogEntry {
                        flushed_file_offset: size + (1 << 20),
                        ..wipe(5)
                    }
                    .to_bytes(),
                )],
                &|_| {},
            ),
            "FlushedFileOffset at 0x100030",
        ),
        (
            "entries overlapping past the checksum budget",
            logged(&spam, &|_| {}),
            "entries checksummed in at most 4194304 bytes",
        ),
    ];
    assert_eq!(h, 128 * 1024);
    for (case, image, want) in rows {
        check(case, image, &none, want);
    }
}
