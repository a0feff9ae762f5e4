//! Every byte we read must equal what qemu reads from the same image (`qemu-img convert -O raw`
//! or `qemu-img dd`), and the virtual size must equal `qemu-img info`'s, for each format and
//! variant qemu-img can write. Images are built at test time in a temporary directory.
#![allow(clippy::unwrap_used)] // test helpers, as clippy.toml allows in tests

mod common;

use std::path::{Path, PathBuf};

use common::{make_raw, qemu_img, qemu_io, qemu_virtual_size};
use imgprep_container::{Disk, Format};
use imgprep_io::ReadAt;

const MIB: u64 = 1 << 20;
/// Not a multiple of any cluster or block size, to exercise the partial last cluster.
const SIZE: u64 = 3 * MIB + 5 * 512;

/// Reads the whole disk in uneven chunks that straddle cluster boundaries.
fn read_all(src: &dyn ReadAt) -> Vec<u8> {
    let mut out = vec![0u8; src.size() as usize];
    let mut pos = 0usize;
    let mut chunk = 1usize;
    while pos < out.len() {
        let n = chunk.min(out.len() - pos);
        src.read_exact_at(pos as u64, &mut out[pos..pos + n])
            .unwrap_or_else(|e| panic!("read {n} bytes at {pos:#x}: {e}"));
        pos += n;
        chunk = (chunk * 7 + 4093) % 400_000 + 1;
    }
    out
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Opens `image` with our reader (backing files allowed anywhere under `dir`) and checks it
/// against qemu's reading of it as `fmt`.
fn check(dir: &Path, image: &Path, fmt: &str, want: Format) -> Disk {
    let disk = Disk::open_allowing(image, &[dir.to_owned()])
        .unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    assert_eq!(disk.format(), want, "{}", image.display());
    assert_eq!(
        disk.virtual_size(),
        qemu_virtual_size(dir, fmt, image),
        "virtual size of {}",
        image.display()
    );
    let reference = dir.join("reference.raw");
    qemu_img(
        dir,
        &[
            "convert",
            "-t",
            "unsafe",
            "-f",
            fmt,
            "-O",
            "raw",
            image.to_str().unwrap(),
            reference.to_str().unwrap(),
        ],
    );
    let want_bytes = fs_err::read(&reference).unwrap();
    let got = read_all(&*disk.source());
    assert_eq!(got.len(), want_bytes.len(), "{}", image.display());
    if let Some(at) = first_difference(&got, &want_bytes) {
        panic!(
            "{}: first difference at {at:#x}: ours {:#04x}, qemu {:#04x}",
            image.display(),
            got[at],
            want_bytes[at]
        );
    }
    disk
}

/// Like [`check`] for large sparse disks: compares only `regions` (MiB-aligned), via qemu-img dd.
fn check_regions(dir: &Path, image: &Path, fmt: &str, want: Format, regions: &[(u64, u64)]) {
    let disk = Disk::open(image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    assert_eq!(disk.format(), want);
    assert_eq!(disk.virtual_size(), qemu_virtual_size(dir, fmt, image));
    for &(start, len) in regions {
        let out = dir.join("region.raw");
        let _ = fs_err::remove_file(&out);
        qemu_img(
            dir,
            &[
                "dd",
                "-f",
                fmt,
                "-O",
                "raw",
                "bs=1M",
                &format!("skip={}", start / MIB),
                &format!("count={}", len / MIB),
                &format!("if={}", image.display()),
                &format!("of={}", out.display()),
            ],
        );
        let want_bytes = fs_err::read(&out).unwrap();
        let mut got = vec![0u8; len as usize];
        disk.source().read_exact_at(start, &mut got).unwrap();
        if let Some(at) = first_difference(&got, &want_bytes) {
            panic!(
                "{}: difference at {:#x}",
                image.display(),
                start + at as u64
            );
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn convert(dir: &Path, raw: &Path, out: &str, fmt: &str, opts: &[&str]) -> PathBuf {
    let mut args = vec!["convert", "-t", "unsafe", "-f", "raw", "-O", fmt];
    args.extend_from_slice(opts);
    args.push(s(raw));
    args.push(out);
    qemu_img(dir, &args);
    dir.join(out)
}

#[test]
fn raw_and_qcow2_variants_read_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = make_raw(dir, "disk.raw", SIZE);
    check(dir, &raw, "raw", Format::Raw);
    let cases: &[(&str, &[&str])] = &[
        ("v2.qcow2", &["-o", "compat=0.10"]),
        ("v3.qcow2", &["-o", "compat=1.1"]),
        ("compressed.qcow2", &["-c"]),
        ("compressed-v2.qcow2", &["-c", "-o", "compat=0.10"]),
        ("c512.qcow2", &["-o", "cluster_size=512"]),
        ("c2m.qcow2", &["-o", "cluster_size=2M"]),
        ("c2m-compressed.qcow2", &["-c", "-o", "cluster_size=2M"]),
        ("c4k-compressed.qcow2", &["-c", "-o", "cluster_size=4k"]),
        ("lazy.qcow2", &["-o", "lazy_refcounts=on,refcount_bits=1"]),
        ("prealloc.qcow2", &["-o", "preallocation=metadata"]),
    ];
    for (name, opts) in cases {
        let img = convert(dir, &raw, name, "qcow2", opts);
        check(dir, &img, "qcow2", Format::Qcow2);
    }
}

#[test]
fn qcow2_backing_chains_read_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs_err::create_dir_all(dir.join("a")).unwrap();
    fs_err::create_dir_all(dir.join("b")).unwrap();
    let raw = make_raw(&dir.join("b"), "base.raw", SIZE);
    convert(dir, &raw, "b/base.qcow2", "qcow2", &["-c"]);

    // b/mid.qcow2 -> base.raw (relative to b/), declared raw, 8 MiB over a 3 MiB backing file.
    qemu_img(
        &dir.join("b"),
        &[
            "create",
            "-f",
            "qcow2",
            "-F",
            "raw",
            "-b",
            "base.raw",
            "mid.qcow2",
            "8M",
        ],
    );
    qemu_io(&dir.join("b"), "qcow2", "mid.qcow2", "write -P 0x5a 1M 64k");
    qemu_io(&dir.join("b"), "qcow2", "mid.qcow2", "write -P 0x33 6M 12k");
    // a/top.qcow2 -> ../b/mid.qcow2 (relative to a/), with zero clusters over backing data.
    qemu_img(
        &dir.join("a"),
        &[
            "create",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            "../b/mid.qcow2",
            "top.qcow2",
        ],
    );
    qemu_io(
        &dir.join("a"),
        "qcow2",
        "top.qcow2",
        "write -P 0xa5 1056k 8k",
    );
    qemu_io(&dir.join("a"), "qcow2", "top.qcow2", "write -z 128k 64k");
    // qemu follows ../b/mid.qcow2; imgprep does only when b/ (or a parent) is allowed.
    let err = Disk::open(&dir.join("a/top.qcow2"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("backing file name \"../b/mid.qcow2\" resolves to")
            && err.contains("--allow-backing"),
        "{err}"
    );
    let disk = check(dir, &dir.join("a/top.qcow2"), "qcow2", Format::Qcow2);
    let companions: Vec<String> = disk
        .companions()
        .iter()
        .map(|c| format!("{} {:?}", c.role, c.name))
        .collect();
    assert_eq!(
        companions,
        [
            "backing file name \"../b/mid.qcow2\"",
            "backing file name \"base.raw\""
        ]
    );
    let chain: Vec<(String, Format)> = disk
        .chain()
        .iter()
        .map(|l| {
            let name = l.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, l.format)
        })
        .collect();
    assert_eq!(
        chain,
        [
            ("top.qcow2".to_owned(), Format::Qcow2),
            ("mid.qcow2".to_owned(), Format::Qcow2),
            ("base.raw".to_owned(), Format::Raw),
        ]
    );

    // Absolute backing path, compressed qcow2 backing file, v2 overlay.
    let base = dir.join("b/base.qcow2");
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "qcow2",
            "-o",
            "compat=0.10",
            "-F",
            "qcow2",
            "-b",
            s(&base),
            "abs.qcow2",
        ],
    );
    qemu_io(dir, "qcow2", "abs.qcow2", "write -P 0x5a 300k 100k");
    qemu_io(dir, "qcow2", "abs.qcow2", "write -z 0 64k");
    check(dir, &dir.join("abs.qcow2"), "qcow2", Format::Qcow2);
    // An absolute backing name inside the top image's directory needs no permission (this is
    // what `qemu-img create -b` and Packer write).
    Disk::open(&dir.join("abs.qcow2")).unwrap();

    // Backing format not declared (qemu-img no longer writes such images, so the backing format
    // extension is renamed to an unknown one): probed as qcow2, allowed since only raw backing
    // files are never probed.
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            "b/base.qcow2",
            "probed.qcow2",
            "4M",
        ],
    );
    let probed = dir.join("probed.qcow2");
    let mut bytes = fs_err::read(&probed).unwrap();
    let ext = bytes
        .windows(4)
        .position(|w| w == [0xe2, 0x79, 0x2a, 0xca])
        .unwrap();
    bytes[ext..ext + 4].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    fs_err::write(&probed, &bytes).unwrap();
    let disk = Disk::open(&probed).unwrap();
    assert_eq!(disk.chain()[1].format, Format::Qcow2);
    check(dir, &probed, "qcow2", Format::Qcow2);

    // A VMDK and a VHDX as backing files of qcow2 overlays.
    convert(dir, &raw, "base.vmdk", "vmdk", &[]);
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "qcow2",
            "-F",
            "vmdk",
            "-b",
            "base.vmdk",
            "on-vmdk.qcow2",
        ],
    );
    qemu_io(dir, "qcow2", "on-vmdk.qcow2", "write -P 0x11 2M 4k");
    check(dir, &dir.join("on-vmdk.qcow2"), "qcow2", Format::Qcow2);
    convert(dir, &raw, "base.vhdx", "vhdx", &[]);
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "qcow2",
            "-F",
            "vhdx",
            "-b",
            "base.vhdx",
            "on-vhdx.qcow2",
            "5M",
        ],
    );
    check(dir, &dir.join("on-vhdx.qcow2"), "qcow2", Format::Qcow2);
}

#[test]
fn vmdk_variants_read_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = make_raw(dir, "disk.raw", SIZE);
    for sub in [
        "monolithicSparse",
        "streamOptimized",
        "monolithicFlat",
        "twoGbMaxExtentSparse",
        "twoGbMaxExtentFlat",
    ] {
        let name = format!("{sub}.vmdk");
        let img = convert(
            dir,
            &raw,
            &name,
            "vmdk",
            &["-o", &format!("subformat={sub}")],
        );
        check(dir, &img, "vmdk", Format::Vmdk);
    }

    // Zeroed grains (grain table entry 1) over written data.
    let img = convert(dir, &raw, "zeroed.vmdk", "vmdk", &["-o", "zeroed_grain=on"]);
    qemu_io(dir, "vmdk", "zeroed.vmdk", "write -z 0 128k");
    check(dir, &img, "vmdk", Format::Vmdk);

    // streamOptimized with the grain directory found through the footer (GD_AT_END), as VMware
    // writes it: header gdOffset = -1, then footer marker, footer, end-of-stream marker.
    let stream = fs_err::read(dir.join("streamOptimized.vmdk")).unwrap();
    let mut at_end = stream[..stream.len() - 512].to_vec();
    let header = stream[..512].to_vec();
    at_end[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut marker = vec![0u8; 512];
    marker[..8].copy_from_slice(&1u64.to_le_bytes());
    marker[12..16].copy_from_slice(&3u32.to_le_bytes());
    at_end.extend_from_slice(&marker);
    at_end.extend_from_slice(&header);
    at_end.extend_from_slice(&[0u8; 512]);
    fs_err::write(dir.join("gd-at-end.vmdk"), &at_end).unwrap();
    check(dir, &dir.join("gd-at-end.vmdk"), "vmdk", Format::Vmdk);
}

#[test]
fn vmdk_with_several_extents_reads_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for sub in ["twoGbMaxExtentSparse", "twoGbMaxExtentFlat"] {
        let name = format!("{sub}.vmdk");
        qemu_img(
            dir,
            &[
                "create",
                "-f",
                "vmdk",
                "-o",
                &format!("subformat={sub}"),
                &name,
                "5G",
            ],
        );
        // Data across the boundary of the first and second 2 GiB extents, and in the third.
        qemu_io(dir, "vmdk", &name, "write -P 0x5a 2047M 2M");
        qemu_io(dir, "vmdk", &name, "write -P 0x77 4100M 1M");
        check_regions(
            dir,
            &dir.join(&name),
            "vmdk",
            Format::Vmdk,
            &[
                (0, MIB),
                (2046 * MIB, 4 * MIB),
                (4099 * MIB, 3 * MIB),
                (5119 * MIB, MIB),
            ],
        );
    }
}

#[test]
fn vhd_variants_read_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = make_raw(dir, "disk.raw", SIZE);
    let dynamic = convert(dir, &raw, "dynamic.vhd", "vpc", &[]);
    check(dir, &dynamic, "vpc", Format::Vhd);
    let fixed = convert(dir, &raw, "fixed.vhd", "vpc", &["-o", "subformat=fixed"]);
    check(dir, &fixed, "vpc", Format::Vhd);
    // force_size writes creator "qem2": the footer's current size is the disk size.
    let sized = convert(dir, &raw, "sized.vhd", "vpc", &["-o", "force_size=on"]);
    check(dir, &sized, "vpc", Format::Vhd);
    let sized_fixed = convert(
        dir,
        &raw,
        "sized-fixed.vhd",
        "vpc",
        &["-o", "subformat=fixed,force_size=on"],
    );
    check(dir, &sized_fixed, "vpc", Format::Vhd);

    // The same image claimed by other creators: Hyper-V ("win ") uses the current size, Virtual
    // PC ("vpc ") the CHS geometry; qemu decides by the creator field.
    for creator in [b"win ", b"vpc ", b"d2v ", b"qemu"] {
        let mut bytes = fs_err::read(&sized).unwrap();
        let len = bytes.len();
        for at in [0, len - 512] {
            let footer = &mut bytes[at..at + 512];
            footer[28..32].copy_from_slice(creator);
            footer[64..68].fill(0);
            let sum = footer.iter().fold(0u32, |a, &b| a.wrapping_add(b.into()));
            footer[64..68].copy_from_slice(&(!sum).to_be_bytes());
        }
        let name = format!("creator-{}.vhd", String::from_utf8_lossy(creator).trim());
        fs_err::write(dir.join(&name), &bytes).unwrap();
        check(dir, &dir.join(&name), "vpc", Format::Vhd);
    }
}

#[test]
fn vhdx_variants_read_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = make_raw(dir, "disk.raw", SIZE);
    for (name, opts) in [
        ("b1m.vhdx", "block_size=1M"),
        ("b32m.vhdx", "block_size=32M"),
        ("fixed.vhdx", "subformat=fixed"),
        ("nozero.vhdx", "block_size=1M,block_state_zero=off"),
    ] {
        let img = convert(dir, &raw, name, "vhdx", &["-o", opts]);
        let disk = check(dir, &img, "vhdx", Format::Vhdx);
        assert_eq!(disk.sector_size(), 512);
    }
    // 4096-byte logical sectors: qemu neither writes nor reads them (Hyper-V does), so the
    // metadata item of a qemu image is patched and the bytes are compared with the source disk.
    let raw4k = make_raw(dir, "disk4k.raw", 4 * MIB);
    let img = convert(dir, &raw4k, "4k.vhdx", "vhdx", &["-o", "block_size=1M"]);
    let mut bytes = fs_err::read(&img).unwrap();
    let meta = vhdx_metadata_region(&bytes);
    let count = u16::from_le_bytes([bytes[meta + 10], bytes[meta + 11]]) as usize;
    let entry = (0..count)
        .map(|i| meta + 32 + i * 32)
        .find(|&e| bytes[e..e + 4] == [0x1d, 0xbf, 0x41, 0x81])
        .unwrap();
    let item =
        meta + u32::from_le_bytes(bytes[entry + 16..entry + 20].try_into().unwrap()) as usize;
    bytes[item..item + 4].copy_from_slice(&4096u32.to_le_bytes());
    fs_err::write(&img, &bytes).unwrap();
    let disk = Disk::open(&img).unwrap();
    assert_eq!(disk.sector_size(), 4096);
    assert_eq!(disk.virtual_size(), 4 * MIB);
    assert!(read_all(&*disk.source()) == fs_err::read(&raw4k).unwrap());

    // An image written in place by qemu-io (BAT updates go through the log, then get flushed).
    qemu_img(dir, &["create", "-f", "vhdx", "written.vhdx", "8M"]);
    qemu_io(dir, "vhdx", "written.vhdx", "write -P 0x5a 1M 3M");
    qemu_io(dir, "vhdx", "written.vhdx", "write -z 2M 64k");
    check(dir, &dir.join("written.vhdx"), "vhdx", Format::Vhdx);
}

/// The file offset of a VHDX image's metadata region (from the first region table).
fn vhdx_metadata_region(img: &[u8]) -> usize {
    let t = 192 * 1024;
    let count = u32::from_le_bytes(img[t + 8..t + 12].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| t + 16 + i * 32)
        .find(|&e| img[e..e + 4] == [0x06, 0xa2, 0x7c, 0x8b])
        .map(|e| u64::from_le_bytes(img[e + 16..e + 24].try_into().unwrap()) as usize)
        .unwrap()
}

#[test]
fn qcow2_as_qemu_writes_it_today_reads_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = make_raw(dir, "disk.raw", SIZE);
    // zstd-compressed clusters, at several cluster sizes.
    let cases: &[(&str, &[&str])] = &[
        ("zstd.qcow2", &["-c", "-o", "compression_type=zstd"]),
        (
            "zstd-4k.qcow2",
            &["-c", "-o", "compression_type=zstd,cluster_size=4k"],
        ),
        (
            "zstd-2m.qcow2",
            &["-c", "-o", "compression_type=zstd,cluster_size=2M"],
        ),
        // Extended L2 entries, alone and with compression.
        ("extl2.qcow2", &["-o", "extended_l2=on"]),
        (
            "extl2-c32k.qcow2",
            &["-o", "extended_l2=on,cluster_size=32k"],
        ),
        (
            "extl2-zstd.qcow2",
            &["-c", "-o", "extended_l2=on,compression_type=zstd"],
        ),
    ];
    for (name, opts) in cases {
        let img = convert(dir, &raw, name, "qcow2", opts);
        check(dir, &img, "qcow2", Format::Qcow2);
    }

    // Subclusters over a backing file: some allocated, some zeroed, the rest from the backing.
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "qcow2",
            "-o",
            "extended_l2=on,cluster_size=64k",
            "-F",
            "raw",
            "-b",
            "disk.raw",
            "sub.qcow2",
        ],
    );
    qemu_io(dir, "qcow2", "sub.qcow2", "write -P 0x77 8k 2k");
    qemu_io(dir, "qcow2", "sub.qcow2", "write -P 0x66 70k 6k");
    qemu_io(dir, "qcow2", "sub.qcow2", "write -z 140k 4k");
    qemu_io(dir, "qcow2", "sub.qcow2", "write -z 1M 64k");
    let disk = check(dir, &dir.join("sub.qcow2"), "qcow2", Format::Qcow2);
    assert_eq!(disk.chain().len(), 2);

    // External data files, raw and not, named in the header (confined like backing files).
    for (name, opts) in [
        ("ext.qcow2", "data_file=ext.data"),
        ("extraw.qcow2", "data_file=extraw.data,data_file_raw=on"),
    ] {
        let img = convert(dir, &raw, name, "qcow2", &["-o", opts]);
        let disk = check(dir, &img, "qcow2", Format::Qcow2);
        let roles: Vec<String> = disk
            .companions()
            .iter()
            .map(|c| format!("{} {}", c.role, c.name))
            .collect();
        let data = opts
            .trim_start_matches("data_file=")
            .split(',')
            .next()
            .unwrap();
        assert_eq!(roles, [format!("external data file name {data}")]);
    }
}

/// The chain members' file names and formats, and the companions' roles and names.
fn chain_of(disk: &Disk) -> (Vec<String>, Vec<String>) {
    let chain = disk
        .chain()
        .iter()
        .map(|l| {
            let name = l.path.file_name().unwrap().to_string_lossy();
            format!("{name} {}", l.format)
        })
        .collect();
    let companions = disk
        .companions()
        .iter()
        .map(|c| format!("{} {}", c.role, c.name))
        .collect();
    (chain, companions)
}

#[test]
fn vmdk_delta_disks_read_like_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = make_raw(dir, "disk.raw", SIZE);
    convert(dir, &raw, "base.vmdk", "vmdk", &[]);
    // A delta disk (monolithicSparse with an embedded descriptor) written in whole grains and in
    // parts of grains (qemu copies the rest of such a grain from the parent).
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "vmdk",
            "-F",
            "vmdk",
            "-b",
            "base.vmdk",
            "mid.vmdk",
        ],
    );
    qemu_io(dir, "vmdk", "mid.vmdk", "write -P 0x5a 64k 4k");
    qemu_io(dir, "vmdk", "mid.vmdk", "write -P 0x33 1M 192k");
    qemu_io(dir, "vmdk", "mid.vmdk", "write -z 2M 64k");
    // A delta of the delta in a descriptor file with a sparse extent file.
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "vmdk",
            "-o",
            "subformat=twoGbMaxExtentSparse",
            "-F",
            "vmdk",
            "-b",
            "mid.vmdk",
            "top.vmdk",
        ],
    );
    qemu_io(dir, "vmdk", "top.vmdk", "write -P 0xa5 1056k 8k");
    qemu_io(dir, "vmdk", "top.vmdk", "write -P 0x77 3M 2560");
    let disk = check(dir, &dir.join("top.vmdk"), "vmdk", Format::Vmdk);
    let (chain, companions) = chain_of(&disk);
    assert_eq!(chain, ["top.vmdk vmdk", "mid.vmdk vmdk", "base.vmdk vmdk"]);
    assert_eq!(
        companions,
        [
            "extent file on descriptor line 8 top-s001.vmdk",
            "descriptor parentFileNameHint mid.vmdk",
            "descriptor parentFileNameHint base.vmdk"
        ]
    );
    check(dir, &dir.join("mid.vmdk"), "vmdk", Format::Vmdk);

    // Zeroed grains in a delta disk read as zeros, not as the parent's data.
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "vmdk",
            "-o",
            "zeroed_grain=on",
            "-F",
            "vmdk",
            "-b",
            "base.vmdk",
            "zeroed.vmdk",
        ],
    );
    qemu_io(dir, "vmdk", "zeroed.vmdk", "write -z 0 256k");
    qemu_io(dir, "vmdk", "zeroed.vmdk", "write -P 0x11 192k 4k");
    check(dir, &dir.join("zeroed.vmdk"), "vmdk", Format::Vmdk);

    // A compressed (streamOptimized) parent, and a delta disk larger than its parent: past the
    // parent's end it reads zeros.
    convert(
        dir,
        &raw,
        "stream.vmdk",
        "vmdk",
        &["-o", "subformat=streamOptimized"],
    );
    qemu_img(
        dir,
        &[
            "create",
            "-f",
            "vmdk",
            "-F",
            "vmdk",
            "-b",
            "stream.vmdk",
            "bigger.vmdk",
            "8M",
        ],
    );
    qemu_io(dir, "vmdk", "bigger.vmdk", "write -P 0x66 3M 2M");
    check(dir, &dir.join("bigger.vmdk"), "vmdk", Format::Vmdk);

    // A delta disk in a subdirectory naming its parent relative to itself.
    fs_err::create_dir_all(dir.join("snap")).unwrap();
    qemu_img(
        &dir.join("snap"),
        &[
            "create",
            "-f",
            "vmdk",
            "-F",
            "vmdk",
            "-b",
            "../base.vmdk",
            "child.vmdk",
        ],
    );
    qemu_io(
        &dir.join("snap"),
        "vmdk",
        "child.vmdk",
        "write -P 0x21 0 64k",
    );
    check(dir, &dir.join("snap/child.vmdk"), "vmdk", Format::Vmdk);

    // Writing to a parent changes its CID: qemu then fails to read the child's unallocated
    // grains ("Invalid argument"), imgprep refuses the chain when opening it.
    qemu_io(dir, "vmdk", "base.vmdk", "write -P 0x44 0 4k");
    let out = std::process::Command::new("qemu-img")
        .args([
            "convert",
            "-f",
            "vmdk",
            "-O",
            "raw",
            "mid.vmdk",
            "stale.raw",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "qemu read a stale delta disk");
    let err = Disk::open(&dir.join("mid.vmdk")).unwrap_err().to_string();
    assert!(
        err.starts_with("vmdk parentCID ")
            && err.contains("does not match the CID")
            && err.contains("base.vmdk"),
        "{err}"
    );
}

/// Builds `name` from the qemu-written VHDX `img` with `entries` placed in its log (at the given
/// offsets of the log) and the log GUID `guid` set; checks qemu will not read it without
/// replaying, lets `qemu-img check -r all` replay a copy, and compares our reading of the
/// unreplayed image with qemu's reading of the replayed copy.
fn check_vhdx_log(
    dir: &Path,
    img: &[u8],
    name: &str,
    guid: &[u8; 16],
    entries: &[(u64, imgprep_imagegen::vhdx::LogEntry)],
) {
    use imgprep_imagegen::vhdx as vhdxgen;
    let mut img = img.to_vec();
    vhdxgen::set_log_guid(&mut img, guid);
    for (at, e) in entries {
        vhdxgen::put_log_entry(&mut img, *at, &e.to_bytes());
    }
    let path = dir.join(name);
    fs_err::write(&path, &img).unwrap();
    let out = std::process::Command::new("qemu-img")
        .args(["convert", "-f", "vhdx", "-O", "raw", name, "unreplayed.raw"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("log that needs to be replayed"),
        "{name}: qemu reads it without replaying: {out:?}"
    );
    let replayed = dir.join(format!("replayed-{name}"));
    fs_err::write(&replayed, &img).unwrap();
    qemu_img(dir, &["check", "-r", "all", "-f", "vhdx", s(&replayed)]);
    let reference = dir.join("reference.raw");
    qemu_img(
        dir,
        &[
            "convert",
            "-f",
            "vhdx",
            "-O",
            "raw",
            s(&replayed),
            s(&reference),
        ],
    );
    let want = fs_err::read(&reference).unwrap();
    let disk = Disk::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(disk.virtual_size(), want.len() as u64, "{name}");
    let got = read_all(&*disk.source());
    if let Some(at) = first_difference(&got, &want) {
        panic!(
            "{name}: first difference at {at:#x}: ours {:#04x}, qemu {:#04x}",
            got[at], want[at]
        );
    }
    // The image itself is left as it was: nothing is written.
    assert!(fs_err::read(&path).unwrap() == img, "{name} was modified");
}

#[test]
fn vhdx_logs_replay_like_qemu() {
    use imgprep_imagegen::vhdx::{self as vhdxgen, LogEntry, LogWrite, MIB as M};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = make_raw(dir, "disk.raw", SIZE);
    let base = convert(dir, &raw, "base.vhdx", "vhdx", &["-o", "block_size=1M"]);
    let mut img = fs_err::read(&base).unwrap();
    let (bat, meta) = vhdxgen::regions(&img);
    let (_, _, log_len) = vhdxgen::current_header(&img);
    let le64 = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let block0 = (le64(&img, bat) & !0xfffff) as usize;
    assert_ne!(block0, 0, "block 0 is allocated");

    // A writer allocating block 1 anew: the payload is written at the end of the file first,
    // then the BAT sector goes through the log.
    let new_block = img.len().div_ceil(M as usize) * M as usize;
    img.resize(new_block, 0);
    img.extend((0..M).map(|i| (i * 7 % 253) as u8 | 1));
    let size = img.len() as u64;
    let sector = |img: &[u8], at: usize| img[at..at + 4096].to_vec();
    let mut bat_sector = sector(&img, bat);
    bat_sector[8..16].copy_from_slice(&(new_block as u64 | 6).to_le_bytes());
    bat_sector[16..24].copy_from_slice(&2u64.to_le_bytes());
    // The metadata item growing the disk to 4 MiB.
    let vsize = vhdxgen::item(&img, meta, &vhdxgen::VIRTUAL_DISK_SIZE).unwrap();
    let vsize_sector = vsize & !4095;
    let mut meta_sector = sector(&img, vsize_sector);
    meta_sector[vsize - vsize_sector..vsize - vsize_sector + 8]
        .copy_from_slice(&(4 * M).to_le_bytes());

    let guid = [0x5au8; 16];
    let entry = |sequence, tail, writes| LogEntry {
        guid,
        sequence,
        tail,
        flushed_file_offset: size,
        last_file_offset: size,
        writes,
    };
    let e1 = entry(
        7,
        0,
        vec![LogWrite::Data {
            offset: bat as u64,
            sector: bat_sector.clone(),
        }],
    );
    let e1_len = e1.to_bytes().len() as u64;
    let e2 = entry(
        8,
        0,
        vec![
            LogWrite::Data {
                offset: vsize_sector as u64,
                sector: meta_sector,
            },
            LogWrite::Zero {
                offset: block0 as u64 + 64 * 1024,
                length: 8192,
            },
        ],
    );
    // Entries that must not be replayed: another log's, an older sequence of this log, and a
    // newer one whose checksum does not match. Each would zero the whole BAT.
    let wipe = vec![LogWrite::Zero {
        offset: bat as u64,
        length: 4096,
    }];
    let mut other = entry(100, 256 * 1024, wipe.clone());
    other.guid = [0x77; 16];
    let older = entry(3, 512 * 1024, wipe.clone());
    let newer = entry(9, 768 * 1024, wipe);
    let mut newer_bytes = newer.to_bytes();
    newer_bytes[100] ^= 1;
    let entries = [
        (0, e1),
        (e1_len, e2),
        (256 * 1024, other),
        (512 * 1024, older),
    ];
    check_vhdx_log(dir, &img, "sequence.vhdx", &guid, &entries);
    // The corrupt entry is checked on its own (qemu and imgprep both skip it).
    let mut with_bad = img.clone();
    vhdxgen::put_log_entry(&mut with_bad, 768 * 1024, &newer_bytes);
    check_vhdx_log(dir, &with_bad, "corrupt-newer.vhdx", &guid, &entries);

    // One entry wrapping around the end of the log.
    let mut bat_sector = sector(&img, bat);
    bat_sector[24..32].copy_from_slice(&2u64.to_le_bytes());
    let wrapping = entry(
        41,
        log_len - 4096,
        vec![
            LogWrite::Data {
                offset: bat as u64,
                sector: bat_sector,
            },
            LogWrite::Zero {
                offset: block0 as u64,
                length: 4096,
            },
        ],
    );
    assert_eq!(wrapping.to_bytes().len(), 8192);
    check_vhdx_log(
        dir,
        &img,
        "wrapping.vhdx",
        &guid,
        &[(log_len - 4096, wrapping)],
    );
}
