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
