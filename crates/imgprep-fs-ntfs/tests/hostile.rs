//! Damaged and hostile volumes made by mutating the `ntfs-tree` fixture in memory, and
//! reparse-point links made by rewriting MFT records of it: every case gives an error naming what
//! and where (or the expected link), never a panic, hang or huge allocation.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use common::{
    edit_record, geometry, image, open, put16, put32, put64, record_offset, reparse,
    replace_attribute, u16_at, u32_at, u64_at,
};
use std::sync::Arc;

use imgprep_fs::FileKind;

/// MFT record number of `path` in the valid fixture.
fn ino(path: &str) -> u32 {
    let fs = imgprep_fs_ntfs::open(Arc::new(image())).unwrap();
    fs.lstat(path.as_bytes()).unwrap().unwrap().ino as u32
}

/// Edits the plain bytes of the MFT record of `path`.
fn edit_file(img: &mut [u8], path: &str, edit: impl FnOnce(&mut [u8])) {
    let (_, rs) = geometry(img);
    let off = record_offset(img, ino(path));
    edit_record(img, off, rs, edit);
}

/// Offset (in a plain record) of the first attribute of type `ty`.
fn attr(rec: &[u8], ty: u32) -> usize {
    common::attributes(rec)
        .into_iter()
        .find(|a| a.0 == ty)
        .unwrap_or_else(|| panic!("no attribute {ty:#x}"))
        .1
}

/// Device offset and length of the (non-resident, one-run) attribute list of `path`.
fn attribute_list(img: &[u8], path: &str) -> (usize, usize) {
    let (cluster, rs) = geometry(img);
    let off = record_offset(img, ino(path));
    let mut rec = img[off..off + rs].to_vec();
    // Undo the fixups on this copy.
    let usa = usize::from(u16_at(&rec, 4));
    for i in 1..usize::from(u16_at(&rec, 6)) {
        rec[i * 512 - 2] = rec[usa + 2 * i];
        rec[i * 512 - 1] = rec[usa + 2 * i + 1];
    }
    let a = attr(&rec, 0x20);
    assert_eq!(rec[a + 8], 1, "non-resident attribute list");
    let runs = a + usize::from(u16_at(&rec, a + 0x20));
    let h = rec[runs];
    let (ls, os) = (usize::from(h & 0xf), usize::from(h >> 4));
    let mut lcn = [0u8; 8];
    lcn[..os].copy_from_slice(&rec[runs + 1 + ls..runs + 1 + ls + os]);
    let len = u64_at(&rec, a + 0x30) as usize;
    (u64::from_le_bytes(lcn) as usize * cluster, len)
}

/// Device offsets of the `INDX` records of `/Many` (found by the names they hold).
fn many_index_records(img: &[u8]) -> Vec<usize> {
    let (cluster, _) = geometry(img);
    let needle: Vec<u8> = "entry-".encode_utf16().flat_map(u16::to_le_bytes).collect();
    (0..img.len() / cluster)
        .map(|i| i * cluster)
        .filter(|&o| &img[o..o + 4] == b"INDX")
        .filter(|&o| img[o..o + 4096].windows(needle.len()).any(|w| w == needle))
        .collect()
}

/// Entry offsets (in a plain INDX record) and their lengths.
fn index_entries(rec: &[u8]) -> Vec<(usize, usize)> {
    let start = 0x18 + u32_at(rec, 0x18) as usize;
    let mut out = Vec::new();
    let mut pos = start;
    loop {
        let len = usize::from(u16_at(rec, pos + 8));
        out.push((pos, len));
        if u16_at(rec, pos + 12) & 2 != 0 {
            return out;
        }
        pos += len;
    }
}

fn edit_indx(img: &mut [u8], off: usize, edit: impl FnOnce(&mut [u8])) {
    edit_record(img, off, 4096, edit);
}

/// What to do with the mutated image.
#[derive(Debug, Clone, Copy)]
enum Op {
    Open,
    Lstat(&'static str),
    ReadDir(&'static str),
    Read(&'static str),
}

fn run(img: Vec<u8>, op: Op) -> Result<(), String> {
    let fs = open(img).map_err(|e| e.to_string())?;
    let r = match op {
        Op::Open => Ok(()),
        Op::Lstat(p) => fs.lstat(p.as_bytes()).map(drop),
        Op::ReadDir(p) => fs.read_dir(p.as_bytes()).map(drop),
        Op::Read(p) => fs.read_file(p.as_bytes(), 1 << 30).map(drop),
    };
    r.map_err(|e| e.to_string())
}

type Mutation = fn(&mut Vec<u8>);

#[test]
fn hostile_volumes_give_errors_naming_where() {
    let cases: &[(&str, Mutation, Op, &str)] = &[
        (
            "bytes per sector absurd",
            |b| put16(b, 0x0b, 3),
            Op::Open,
            "NTFS boot sector bytes per sector (0xb) at 0x0: expected a power of two in 256..=4096, found 0x3",
        ),
        (
            "sectors per cluster absurd",
            |b| b[0x0d] = 3,
            Op::Open,
            "sectors per cluster (0xd) at 0x0",
        ),
        (
            "MFT cluster past the end",
            |b| put64(b, 0x30, 1 << 40),
            Op::Open,
            "MFT cluster (0x30) at 0x0: expected inside the volume, found 0x10000000000",
        ),
        (
            "MFT cluster past the device (volume size lies)",
            |b| {
                put64(b, 0x28, 1 << 40);
                put64(b, 0x30, 1 << 30);
            },
            Op::Open,
            "MFT cluster (0x30) at 0x0: expected inside the device",
        ),
        (
            "MFT record size of 127 clusters",
            |b| b[0x40] = 0x7f,
            Op::Open,
            "clusters per MFT record (0x40)",
        ),
        ("OEM id", |b| b[3] = b'X', Op::Open, "OEM id at 0x3"),
        (
            "root record with a broken update sequence",
            |b| {
                let off = record_offset(b, 5);
                b[off + 510] ^= 0xff;
            },
            Op::Lstat("/"),
            "update sequence of MFT record 5 (block 0)",
        ),
        (
            "update sequence array longer than the record",
            |b| {
                let off = record_offset(b, 5);
                put16(b, off + 6, 0x400);
            },
            Op::Lstat("/"),
            "update sequence array of MFT record 5",
        ),
        (
            "attribute length past the record",
            |b| {
                let (_, rs) = geometry(b);
                let off = record_offset(b, 5);
                edit_record(b, off, rs, |r| {
                    let a = attr(r, 0x10);
                    put32(r, a + 4, 0x5000);
                });
            },
            Op::Lstat("/"),
            "MFT record 5 attribute length at",
        ),
        (
            "attribute length zero",
            |b| {
                let (_, rs) = geometry(b);
                let off = record_offset(b, 5);
                edit_record(b, off, rs, |r| {
                    let a = attr(r, 0x30);
                    put32(r, a + 4, 0);
                });
            },
            Op::Lstat("/"),
            "MFT record 5 attribute length at",
        ),
        (
            "non-resident attribute shorter than its header",
            |b| {
                edit_file(b, "/Windows/System32/config/SYSTEM", |r| {
                    let a = attr(r, 0x80);
                    let len = u32_at(r, a + 4) as usize;
                    // Cut $DATA to 0x20 bytes and end the record right after it.
                    put32(r, a + 4, 0x20);
                    put32(r, a + 0x20, 0xffff_ffff);
                    let _ = len;
                    put32(r, 0x18, (a + 0x28) as u32);
                });
            },
            Op::Lstat("/Windows/System32/config/SYSTEM"),
            "attribute length at",
        ),
        (
            "resident value past its attribute",
            |b| {
                edit_file(b, "/Windows/System32/DRIVERS/etc/hosts", |r| {
                    let a = attr(r, 0x10);
                    put32(r, a + 0x10, 0x1_0000);
                });
            },
            Op::Lstat("/Windows/System32/DRIVERS/etc/hosts"),
            "resident value at",
        ),
        (
            "data run past the volume",
            |b| {
                edit_file(b, "/Windows/System32/config/SYSTEM", |r| {
                    let a = attr(r, 0x80);
                    let runs = a + usize::from(u16_at(r, a + 0x20));
                    let h = r[runs];
                    let (ls, os) = (usize::from(h & 0xf), usize::from(h >> 4));
                    // The largest positive cluster offset the field holds.
                    for i in 0..os {
                        r[runs + 1 + ls + i] = 0xff;
                    }
                    r[runs + ls + os] = 0x7f;
                });
            },
            Op::Lstat("/Windows/System32/config/SYSTEM"),
            "expected clusters inside the volume (< 0x5fff), found 0x1b clusters at 0x7fff",
        ),
        (
            "attribute list naming a record of another file",
            |b| {
                let (list, len) = attribute_list(b, "/Frag/big.bin");
                let me = u64::from(ino("/Frag/big.bin"));
                let mut pos = list;
                while pos < list + len {
                    if u64_at(b, pos + 16) & 0xffff_ffff_ffff != me {
                        put64(b, pos + 16, 5);
                        break;
                    }
                    pos += usize::from(u16_at(b, pos + 4));
                }
            },
            Op::Lstat("/Frag/big.bin"),
            "extension record 5 listed by MFT record",
        ),
        (
            "attribute list entry of length zero",
            |b| {
                let (list, _) = attribute_list(b, "/Frag/big.bin");
                put16(b, list + 4, 0);
            },
            Op::Lstat("/Frag/big.bin"),
            "attribute list entry of MFT record",
        ),
        (
            "index entry length shorter than its header",
            |b| {
                let off = many_index_records(b)[0];
                edit_indx(b, off, |r| {
                    let (pos, _) = index_entries(r)[0];
                    put16(r, pos + 8, 4);
                });
            },
            Op::ReadDir("/Many"),
            "index entry length in the index of MFT record",
        ),
        (
            "index entry length past its node",
            |b| {
                let off = many_index_records(b)[0];
                edit_indx(b, off, |r| {
                    let (pos, _) = index_entries(r)[1];
                    put16(r, pos + 8, 0xfff0);
                });
            },
            Op::ReadDir("/Many"),
            "index entry length in the index of MFT record",
        ),
        (
            "index key length past its entry",
            |b| {
                let off = many_index_records(b)[0];
                edit_indx(b, off, |r| {
                    let (pos, _) = index_entries(r)[0];
                    put16(r, pos + 10, 0x800);
                });
            },
            Op::ReadDir("/Many"),
            "index entry key length",
        ),
        (
            "index node header past the record",
            |b| {
                let off = many_index_records(b)[0];
                edit_indx(b, off, |r| put32(r, 0x1c, 0x10_0000));
            },
            Op::ReadDir("/Many"),
            "index node header in the index of MFT record",
        ),
        (
            "index record with a broken update sequence",
            |b| {
                let off = many_index_records(b)[0];
                b[off + 1022] ^= 0x55;
            },
            Op::ReadDir("/Many"),
            "update sequence of index record VCN",
        ),
        (
            "index sub-node that is its own parent",
            |b| {
                let off = many_index_records(b)[0];
                edit_indx(b, off, |r| {
                    let vcn = u64_at(r, 0x10);
                    let entries = index_entries(r);
                    let (last, len) = *entries.last().unwrap();
                    assert_eq!(len, 16, "plain last entry");
                    // Make the end entry point at this very record.
                    put16(r, last + 8, 24);
                    put16(r, last + 12, 3);
                    put64(r, last + 16, vcn);
                    let size = u32_at(r, 0x1c);
                    put32(r, 0x1c, size + 8);
                    r[0x24] |= 1;
                });
            },
            Op::ReadDir("/Many"),
            "was already visited: the structure loops",
        ),
        (
            "index entry naming a record past the MFT",
            |b| {
                for off in many_index_records(b) {
                    edit_indx(b, off, |r| {
                        for (pos, _) in index_entries(r) {
                            put64(r, pos, 0x0001_0000_00ff_ffff);
                        }
                    });
                }
            },
            Op::Read("/Many/entry-0001.txt"),
            "MFT record number",
        ),
    ];
    for (what, mutate, op, expected) in cases {
        let mut img = image().to_vec();
        mutate(&mut img);
        match run(img, *op) {
            Ok(()) => panic!("{what}: {op:?} succeeded"),
            Err(e) => assert!(
                e.contains(expected),
                "{what}: {op:?} gave {e:?}, not {expected:?}"
            ),
        }
    }
}

#[test]
fn probe_refuses_what_blkid_refuses() {
    let check = |mutate: fn(&mut Vec<u8>), ok: bool| {
        let mut img = image()[..1 << 20].to_vec();
        mutate(&mut img);
        assert_eq!(imgprep_fs_ntfs::probe(&img).is_some(), ok);
    };
    check(|_| {}, true);
    check(|b| b[3] = b'x', false);
    check(|b| b[0x10] = 2, false); // FAT count must be 0
    check(|b| b[0x0d] = 250, false);
    check(|b| put64(b, 0x30, 1 << 40), false);
}

/// Reparse points written over the Interix links ntfs-3g made.
#[test]
fn reparse_point_links() {
    let cases: &[(&str, Vec<u8>, FileKind, Option<&str>)] = &[
        (
            "/Users/cfg-link",
            reparse(0xa000_0003, "\\??\\C:\\Windows\\System32\\config", None),
            FileKind::Symlink,
            Some("/Windows/System32/config"),
        ),
        (
            "/abs-link",
            reparse(0xa000_000c, "..\\Windows\\System32", Some(1)),
            FileKind::Symlink,
            Some("../Windows/System32"),
        ),
        (
            "/Program Files/Common Files/rel-link",
            reparse(0xa000_000c, "\\??\\UNC\\server\\share\\x", Some(0)),
            FileKind::Other,
            None,
        ),
    ];
    let mut img = image().to_vec();
    for (path, data, _, _) in cases {
        edit_file(&mut img, path, |r| replace_attribute(r, 0x80, 0xc0, data));
    }
    let fs = open(img).unwrap();
    for (path, _, kind, target) in cases {
        let m = fs.lstat(path.as_bytes()).unwrap().unwrap();
        assert_eq!(m.kind, *kind, "{path}");
        let link = fs.read_link(path.as_bytes()).ok();
        assert_eq!(link.as_deref(), target.map(str::as_bytes), "{path}");
        if let Some(t) = target {
            assert_eq!(m.size, t.len() as u64);
        }
    }
}
