//! Images qemu-img cannot write, built by the generators in `common/` from the format
//! specifications: VHD and VHDX differencing chains, and VHDX logs whose active sequence qemu
//! would not find as the specification says (a sequence wrapping around the end of the log).
//! Every byte read must equal the flat disk the generator computes. The generators themselves
//! are checked against qemu on the images qemu does read (dynamic disks, parents).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{make_raw, pattern, qemu_img};
use imgprep_container::{Disk, Format};
use imgprep_imagegen::vhd::{self as vhdgen, Vhd};
use imgprep_imagegen::vhdx::{self as vhdxgen, LogEntry, LogWrite, MIB, Payload, Vhdx};
use imgprep_io::ReadAt;

/// Reads the whole disk in uneven chunks.
fn read_all(src: &dyn ReadAt) -> Vec<u8> {
    let mut out = vec![0u8; src.size() as usize];
    let mut pos = 0usize;
    let mut chunk = 1usize;
    while pos < out.len() {
        let n = chunk.min(out.len() - pos);
        src.read_exact_at(pos as u64, &mut out[pos..pos + n])
            .unwrap_or_else(|e| panic!("read {n} bytes at {pos:#x}: {e}"));
        pos += n;
        chunk = (chunk * 7 + 4093) % 300_000 + 1;
    }
    out
}

fn assert_same(what: &str, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{what}: size");
    if let Some(at) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{what}: first difference at {at:#x}: ours {:#04x}, expected {:#04x}",
            got[at], want[at]
        );
    }
}

/// Opens `image` and checks every byte against `want`; returns the disk.
fn check(image: &Path, want: &[u8]) -> Disk {
    let disk = Disk::open(image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    assert_same(
        &image.display().to_string(),
        &read_all(&*disk.source()),
        want,
    );
    disk
}

/// `qemu-img convert` of `image` to raw bytes.
fn qemu_reads(dir: &Path, image: &Path, fmt: &str) -> Vec<u8> {
    let out = dir.join("qemu.raw");
    qemu_img(
        dir,
        &[
            "convert",
            "-f",
            fmt,
            "-O",
            "raw",
            image.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    fs_err::read(out).unwrap()
}

fn companions(disk: &Disk) -> Vec<String> {
    disk.companions()
        .iter()
        .map(|c| format!("{} {:?}", c.role, c.name))
        .collect()
}

fn chain(disk: &Disk) -> Vec<String> {
    disk.chain()
        .iter()
        .map(|l| {
            let name = l.path.file_name().unwrap().to_string_lossy();
            format!("{name} {}", l.format)
        })
        .collect()
}

/// Bytes that differ from the pattern, to write into children.
fn fill(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) | 0x80)
        .collect()
}

const KIB: u64 = 1024;
/// Not a multiple of the block sizes used.
const SIZE: u64 = 3 * MIB + 5 * 512;

#[test]
fn the_vhd_generator_writes_what_qemu_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut vhd = Vhd::new(SIZE, 512 * 1024, [1; 16]);
    vhd.write(0, &fill(64 * 1024, 1), 0x55);
    vhd.write(SIZE - 2048, &fill(2048, 2), 0x55);
    vhd.write(MIB + 512, &fill(512, 3), 0x55);
    let path = dir.join("dyn.vhd");
    fs_err::write(&path, vhd.to_bytes()).unwrap();
    let flat = vhd.flat(&[]);
    assert_same("qemu on dyn.vhd", &qemu_reads(dir, &path, "vpc"), &flat);
    check(&path, &flat);
}

#[test]
fn the_vhdx_generator_writes_what_qemu_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut vhdx = Vhdx::new(SIZE, MIB, 512, [1; 16]);
    vhdx.write(0, &fill(64 * 1024, 1), 0);
    vhdx.write(SIZE - 2048, &fill(2048, 2), 0);
    vhdx.blocks[1] = Payload::Zero;
    let path = dir.join("dyn.vhdx");
    fs_err::write(&path, vhdx.to_bytes()).unwrap();
    let flat = vhdx.flat(&[]);
    assert_same("qemu on dyn.vhdx", &qemu_reads(dir, &path, "vhdx"), &flat);
    check(&path, &flat);
}

/// A VHD child of `parent_id` written with `writes` (offset, length, seed), sectors of its new
/// blocks not written holding 0xee (which must never be read).
fn vhd_child(
    size: u64,
    parent_id: [u8; 16],
    id: u8,
    locators: Vec<vhdgen::Locator>,
    writes: &[(u64, usize, u8)],
) -> Vhd {
    let mut v = Vhd::new(size, 512 * 1024, [id; 16]);
    v.parent = Some(vhdgen::Parent {
        unique_id: parent_id,
        name: "parent.vhd".into(),
        locators,
    });
    for &(at, len, seed) in writes {
        v.write(at, &fill(len, seed), 0xee);
    }
    v
}

#[test]
fn vhd_differencing_chains_read_as_the_specification_says() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_raw(dir, "disk.raw", SIZE);
    // The base written by qemu-img (dynamic and fixed); its footer holds its unique id.
    for (name, opts) in [
        ("base.vhd", "subformat=dynamic"),
        ("fixed.vhd", "subformat=fixed"),
    ] {
        qemu_img(
            dir,
            &[
                "convert", "-f", "raw", "-O", "vpc", "-o", opts, "disk.raw", name,
            ],
        );
    }
    let unique_id = |name: &str| -> [u8; 16] {
        let b = fs_err::read(dir.join(name)).unwrap();
        b[b.len() - 512 + 68..b.len() - 512 + 84]
            .try_into()
            .unwrap()
    };
    let base_flat = qemu_reads(dir, &dir.join("base.vhd"), "vpc");
    let base_size = base_flat.len() as u64;
    let writes = [
        (0u64, 4096usize, 1u8),
        (64 * KIB + 512, 1536, 2),
        (700 * KIB, 300 * 1024, 3),
        (base_size - 1024, 1024, 4),
    ];
    // W2ru first; an absolute Windows path cannot name a file here.
    let locators = vec![
        vhdgen::Locator::windows(b"W2ku", "C:\\VMs\\base.vhd"),
        vhdgen::Locator::windows(b"W2ru", ".\\base.vhd"),
    ];
    let child = vhd_child(base_size, unique_id("base.vhd"), 2, locators, &writes);
    fs_err::write(dir.join("child.vhd"), child.to_bytes()).unwrap();
    let child_flat = child.flat(&base_flat);
    let disk = check(&dir.join("child.vhd"), &child_flat);
    assert_eq!(chain(&disk), ["child.vhd vhd", "base.vhd vhd"]);
    assert_eq!(companions(&disk), ["parent locator W2ru \".\\\\base.vhd\""]);

    // A grandchild naming the child through a file URL, with an allocated block whose bitmap is
    // empty (every sector from the parent).
    let mut grand = vhd_child(
        base_size,
        [2; 16],
        3,
        vec![vhdgen::Locator::mac("file://./child.vhd")],
        &[(600 * KIB, 8192, 5), (2 * MIB, 512, 6)],
    );
    grand.blocks[4] = Some(vhdgen::Block {
        present: vec![false; 1024],
        data: vec![0xee; 512 * 1024],
    });
    fs_err::write(dir.join("grand.vhd"), grand.to_bytes()).unwrap();
    let disk = check(&dir.join("grand.vhd"), &grand.flat(&child_flat));
    assert_eq!(
        chain(&disk),
        ["grand.vhd vhd", "child.vhd vhd", "base.vhd vhd"]
    );

    // A child of the fixed disk, in a subdirectory, naming it with "..": W2ku holding a relative
    // path as Xen's tools write it; a child larger than its parent reads zeros past its end.
    fs_err::create_dir_all(dir.join("snaps")).unwrap();
    let bigger = base_size + MIB;
    let child = vhd_child(
        bigger,
        unique_id("fixed.vhd"),
        4,
        vec![vhdgen::Locator::windows(b"W2ku", "..\\fixed.vhd")],
        &writes,
    );
    fs_err::write(dir.join("snaps/on-fixed.vhd"), child.to_bytes()).unwrap();
    let fixed_flat = qemu_reads(dir, &dir.join("fixed.vhd"), "vpc");
    let disk = Disk::open_allowing(&dir.join("snaps/on-fixed.vhd"), &[dir.to_owned()]).unwrap();
    assert_same(
        "on-fixed.vhd",
        &read_all(&*disk.source()),
        &child.flat(&fixed_flat),
    );

    // A generated dynamic parent, its child naming it by its MacX URL only.
    let mut parent = Vhd::new(SIZE, 2 * 1024 * 1024, [9; 16]);
    parent.write(0, &pattern(SIZE), 0);
    fs_err::write(dir.join("gen parent.vhd"), parent.to_bytes()).unwrap();
    let child = vhd_child(
        SIZE,
        [9; 16],
        10,
        vec![vhdgen::Locator::mac("file://./gen%20parent.vhd")],
        &writes,
    );
    fs_err::write(dir.join("on-gen.vhd"), child.to_bytes()).unwrap();
    check(&dir.join("on-gen.vhd"), &child.flat(&parent.flat(&[])));
}

/// A VHDX differencing disk over a parent with DataWriteGuid `linkage`, named by `paths`.
fn vhdx_child(size: u64, logical: u32, linkage: &[u8; 16], paths: &[(&str, &str)]) -> Vhdx {
    let mut v = Vhdx::new(size, MIB, logical, [0x33; 16]);
    let mut kv = vec![("parent_linkage".to_owned(), vhdxgen::guid_text(linkage))];
    kv.extend(paths.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v.parent = Some(kv);
    v
}

/// The current header's DataWriteGuid of a VHDX file.
fn data_write_guid(path: &Path) -> [u8; 16] {
    let img = fs_err::read(path).unwrap();
    let (h, _, _) = vhdxgen::current_header(&img);
    img[h + 32..h + 48].try_into().unwrap()
}

#[test]
fn vhdx_differencing_chains_read_as_the_specification_says() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_raw(dir, "disk.raw", SIZE);
    qemu_img(
        dir,
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "vhdx",
            "-o",
            "block_size=1M",
            "disk.raw",
            "base.vhdx",
        ],
    );
    let base_flat = qemu_reads(dir, &dir.join("base.vhdx"), "vhdx");
    let linkage = data_write_guid(&dir.join("base.vhdx"));
    let mut child = vhdx_child(
        SIZE,
        512,
        &linkage,
        &[
            ("relative_path", ".\\base.vhdx"),
            (
                "volume_path",
                "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\base.vhdx",
            ),
            ("absolute_win32_path", "\\\\?\\D:\\VMs\\base.vhdx"),
        ],
    );
    // Block 0 partially present (a few sectors), block 1 fully present, block 2 zero, block 3
    // (the partial last block) partially present at its very end.
    child.write(0, &fill(4096, 1), 0xee);
    child.write(64 * KIB + 512, &fill(1536, 2), 0xee);
    child.write(700 * KIB, &fill(8192, 3), 0xee);
    child.blocks[1] = Payload::Full(fill(MIB as usize, 4));
    child.blocks[2] = Payload::Zero;
    child.write(SIZE - 1024, &fill(1024, 5), 0xee);
    fs_err::write(dir.join("child.vhdx"), child.to_bytes()).unwrap();
    let child_flat = child.flat(&base_flat);
    let disk = check(&dir.join("child.vhdx"), &child_flat);
    assert_eq!(chain(&disk), ["child.vhdx vhdx", "base.vhdx vhdx"]);
    assert_eq!(
        companions(&disk),
        ["parent locator relative_path \".\\\\base.vhdx\""]
    );

    // A grandchild with every other block state: unmapped and undefined blocks read as zeros,
    // not as the parent's data; parent_linkage2 names the parent (after a merge).
    let child_guid = [0x33; 16];
    let mut grand = vhdx_child(SIZE, 512, &[0x99; 16], &[("relative_path", "child.vhdx")]);
    if let Some(kv) = &mut grand.parent {
        kv.push((
            "parent_linkage2".to_owned(),
            vhdxgen::guid_text(&child_guid),
        ));
    }
    grand.blocks[0] = Payload::Unmapped;
    grand.blocks[1] = Payload::Undefined;
    grand.write(2 * MIB + 4096, &fill(512, 6), 0xee);
    fs_err::write(dir.join("grand.vhdx"), grand.to_bytes()).unwrap();
    let disk = check(&dir.join("grand.vhdx"), &grand.flat(&child_flat));
    assert_eq!(disk.chain().len(), 3);

    // 4096-byte logical sectors, in parent and child, with a parent in a subdirectory.
    fs_err::create_dir_all(dir.join("base")).unwrap();
    let mut parent = Vhdx::new(4 * MIB, MIB, 4096, [0x44; 16]);
    parent.write(0, &pattern(4 * MIB), 0);
    parent.blocks[3] = Payload::NotPresent;
    fs_err::write(dir.join("base/p4k.vhdx"), parent.to_bytes()).unwrap();
    let mut child = vhdx_child(
        4 * MIB,
        4096,
        &[0x44; 16],
        &[("relative_path", "base\\p4k.vhdx")],
    );
    child.write(4096, &fill(8192, 7), 0xee);
    child.write(3 * MIB, &fill(4096, 8), 0xee);
    fs_err::write(dir.join("c4k.vhdx"), child.to_bytes()).unwrap();
    let disk = check(&dir.join("c4k.vhdx"), &child.flat(&parent.flat(&[])));
    assert_eq!(disk.sector_size(), 4096);
}

/// The VHDX `img` with `entries` (log offset, entry) in its log under log GUID `guid`.
fn with_log(img: &[u8], guid: &[u8; 16], entries: &[(u64, &LogEntry)]) -> Vec<u8> {
    let mut img = img.to_vec();
    vhdxgen::set_log_guid(&mut img, guid);
    for (at, e) in entries {
        vhdxgen::put_log_entry(&mut img, *at, &e.to_bytes());
    }
    img
}

#[test]
fn vhdx_log_sequences_replay_as_the_specification_says() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut generated = Vhdx::new(SIZE, MIB, 512, [1; 16]);
    generated.write(0, &pattern(SIZE), 0);
    let img = generated.to_bytes();
    let (bat, _) = vhdxgen::regions(&img);
    let (_, _, log_len) = vhdxgen::current_header(&img);
    let guid = [0x21; 16];
    let size = img.len() as u64;
    let bat_with = |entries: &[(usize, u64)]| {
        let mut s = img[bat..bat + 4096].to_vec();
        for &(i, v) in entries {
            s[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        s
    };
    let block = |i: usize| {
        u64::from_le_bytes(img[bat + i * 8..bat + i * 8 + 8].try_into().unwrap()) & !0xfffff
    };
    let entry = |sequence, tail, writes: Vec<LogWrite>| LogEntry {
        guid,
        sequence,
        tail,
        flushed_file_offset: size,
        last_file_offset: size,
        writes,
    };
    // A sequence of three entries wrapping around the end of the log: the head's tail is the
    // first. Later entries win: block 1 is first zeroed, then pointed at block 0's data.
    let e1 = entry(
        50,
        log_len - 8192,
        vec![LogWrite::Data {
            offset: bat as u64,
            sector: bat_with(&[(1, 2)]),
        }],
    );
    let e2 = entry(
        51,
        log_len - 8192,
        vec![LogWrite::Zero {
            offset: block(2),
            length: 12 * 4096,
        }],
    );
    let e3 = entry(
        52,
        log_len - 8192,
        vec![LogWrite::Data {
            offset: bat as u64,
            sector: bat_with(&[(1, block(0) | 6), (3, 0)]),
        }],
    );
    let at2 = log_len - 8192 + 8192;
    let at3 = (at2 + 4096) % log_len;
    let logged = with_log(
        &img,
        &guid,
        &[(log_len - 8192, &e1), (at2, &e2), (at3, &e3)],
    );
    let replayed = vhdxgen::apply_log(&img, &[&e1.writes[0], &e2.writes[0], &e3.writes[0]], size);
    fs_err::write(dir.join("replayed.vhdx"), &replayed).unwrap();
    let want = read_all(&*Disk::open(&dir.join("replayed.vhdx")).unwrap().source());
    fs_err::write(dir.join("wrapped.vhdx"), &logged).unwrap();
    check(&dir.join("wrapped.vhdx"), &want);
    let p = pattern(SIZE);
    assert!(want[MIB as usize..2 * MIB as usize] == p[..MIB as usize]);

    // The head entry alone is not a sequence when its tail is not one of its entries: with
    // e1 missing, e2..e3 are not replayed and the log is corrupt.
    let broken = with_log(&img, &guid, &[(at2, &e2), (at3, &e3)]);
    fs_err::write(dir.join("broken.vhdx"), &broken).unwrap();
    let err = Disk::open(&dir.join("broken.vhdx"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no complete sequence"), "{err}");

    // A write past the end of the file and a LastFileOffset beyond it grow the file: a block
    // pointed there reads as zeros.
    let beyond = size + 2 * MIB;
    let mut grow = entry(
        5,
        0,
        vec![LogWrite::Data {
            offset: bat as u64,
            sector: bat_with(&[(2, beyond | 6)]),
        }],
    );
    grow.last_file_offset = beyond + MIB;
    fs_err::write(dir.join("grow.vhdx"), with_log(&img, &guid, &[(0, &grow)])).unwrap();
    let mut want = p.clone();
    want[2 * MIB as usize..3 * MIB as usize].fill(0);
    check(&dir.join("grow.vhdx"), &want);
}

#[test]
fn differencing_parents_are_found_by_the_first_locator_that_names_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut parent = Vhd::new(MIB, 512 * 1024, [7; 16]);
    parent.write(0, &pattern(MIB), 0);
    fs_err::write(dir.join("p.vhd"), parent.to_bytes()).unwrap();
    let cases: &[(&str, Vec<vhdgen::Locator>, Result<&str, &str>)] = &[
        (
            "missing W2ru, then MacX",
            vec![
                vhdgen::Locator::windows(b"W2ru", ".\\gone.vhd"),
                vhdgen::Locator::mac("file://localhost/nowhere/p.vhd"),
                vhdgen::Locator::mac("file://./p.vhd"),
            ],
            Ok("parent locator MacX \"file://./p.vhd\""),
        ),
        (
            "nothing usable",
            vec![
                vhdgen::Locator::windows(b"W2ru", ".\\gone.vhd"),
                vhdgen::Locator::windows(b"W2ku", "C:\\p.vhd"),
                vhdgen::Locator::mac("http://example.invalid/p.vhd"),
            ],
            Err(
                "vhd differencing disk: no parent locator leads to a file: W2ru \".\\\\gone.vhd\" \
                 (no file at",
            ),
        ),
        (
            "no locator at all",
            vec![],
            Err("has no W2ru, W2ku or MacX locator"),
        ),
    ];
    for (case, locators, want) in cases {
        let child = vhd_child(MIB, [7; 16], 8, locators.clone(), &[(0, 512, 1)]);
        let path: PathBuf = dir.join("c.vhd");
        fs_err::write(&path, child.to_bytes()).unwrap();
        match (Disk::open(&path), want) {
            (Ok(d), Ok(role)) => {
                assert_eq!(companions(&d), [role.to_string()], "{case}");
                assert_eq!(d.format(), Format::Vhd);
            }
            (Err(e), Err(frag)) => {
                let e = e.to_string();
                assert!(e.contains(frag), "{case}: {e}");
                if *case == "nothing usable" {
                    assert!(
                        e.contains("W2ku \"C:\\\\p.vhd\" (not a path on this host)")
                            && e.contains("MacX \"http://example.invalid/p.vhd\" (not a path"),
                        "{case}: {e}"
                    );
                }
            }
            (got, _) => panic!("{case}: {:?}", got.map(|d| companions(&d))),
        }
    }
}
