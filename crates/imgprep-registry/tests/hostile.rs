//! Damaged and hostile hives, made by mutating a valid hive grown with hivexregedit, and the list
//! kinds hivex never writes (`li`, `lf`, `ri`), built by appending cells to a valid hive.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::sync::OnceLock;

use common::{grow, hex};
use imgprep_registry::{Data, Hive};

/// The 20 000 bytes of `K\Big`: two big-data segments.
fn big() -> Vec<u8> {
    (0..20_000u32).map(|i| (i % 253) as u8).collect()
}

/// Valid hive bytes: a key `K` with subkeys and values, `K\Big` stored as big data.
///
/// hivex writes a value of any length into one cell, so the `db` record Windows writes for values
/// over 16 344 bytes is built here: the segments, their list and the `db` cell are appended and
/// the value pointed at them.
fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let reg = format!(
            "[\\K]\n\"Small\"=dword:00000007\n\"Str\"=\"some string data\"\n\"Big\"={}\n\n\
             [\\K\\A]\n\n[\\K\\B]\n\n[\\K\\C]\n\n",
            hex(3, &big())
        );
        let path = grow(dir.path(), "base", &reg);
        let mut b = fs_err::read(path).unwrap();
        let hive = Hive::from_bytes(b.clone()).unwrap();
        let vk = hive
            .open("K")
            .unwrap()
            .unwrap()
            .value("Big")
            .unwrap()
            .unwrap()
            .offset() as usize;
        drop(hive);
        let segments: Vec<Vec<u8>> = big()
            .chunks(16344)
            .map(|c| {
                let mut seg = c.to_vec();
                seg.extend([0u8; 4]);
                seg
            })
            .collect();
        let seg_rels = append_cells(&mut b, &segments);
        let list: Vec<u8> = seg_rels.iter().flat_map(|r| r.to_le_bytes()).collect();
        let list_rel = append_cells(&mut b, &[list])[0];
        let mut db = b"db".to_vec();
        db.extend((seg_rels.len() as u16).to_le_bytes());
        db.extend(list_rel.to_le_bytes());
        db.extend([0u8; 4]);
        let db_rel = append_cells(&mut b, &[db])[0];
        put32(&mut b, vk + 4 + 8, db_rel);
        b
    })
}

#[test]
fn big_data_matches_hivex() {
    let hive = Hive::from_bytes(base().to_vec()).unwrap();
    let v = hive
        .open("K")
        .unwrap()
        .unwrap()
        .value("big")
        .unwrap()
        .unwrap();
    assert_eq!(v.data().unwrap(), Data::Binary(big()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    fs_err::write(&path, base()).unwrap();
    common::assert_same_export(&common::export(&hive), &common::hivex_export(&path));
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn fix_checksum(b: &mut [u8]) {
    let mut x = 0u32;
    for i in 0..127 {
        x ^= u32_at(b, i * 4);
    }
    x = match x {
        0xffff_ffff => 0xffff_fffe,
        0 => 1,
        x => x,
    };
    put32(b, 0x1fc, x);
}

/// File offsets of the structures the mutations aim at.
#[derive(Debug)]
struct Spots {
    /// Data of the root `nk` cell.
    root_nk: usize,
    /// Data of `K`'s `nk` cell.
    k_nk: usize,
    /// Data of `K`'s subkey list cell.
    k_list: usize,
    /// Data of `K`'s value list cell.
    k_values: usize,
    /// Data of the `vk` cell of `K\Str` (data in its own cell).
    str_vk: usize,
    /// Data of the `db` cell of `K\Big`.
    big_db: usize,
}

fn spots(b: &[u8]) -> Spots {
    let hive = Hive::from_bytes(b.to_vec()).unwrap();
    let k = hive.open("K").unwrap().unwrap();
    let k_nk = k.offset() as usize + 4;
    let big_vk = k.value("Big").unwrap().unwrap().offset() as usize + 4;
    Spots {
        root_nk: hive.root().unwrap().offset() as usize + 4,
        k_nk,
        k_list: u32_at(b, k_nk + 28) as usize + 0x1000 + 4,
        k_values: u32_at(b, k_nk + 40) as usize + 0x1000 + 4,
        str_vk: k.value("Str").unwrap().unwrap().offset() as usize + 4,
        big_db: u32_at(b, big_vk + 8) as usize + 0x1000 + 4,
    }
}

/// Appends a hive bin holding `cells` (each the data of one allocated cell) and returns their
/// offsets relative to the first hive bin, fixing the base block's size and checksum.
fn append_cells(b: &mut Vec<u8>, cells: &[Vec<u8>]) -> Vec<u32> {
    let bins_size = u32_at(b, 40) as usize;
    let start = 0x1000 + bins_size;
    assert_eq!(b.len(), start, "hive has no trailing data");
    let mut bin = vec![0u8; 32];
    bin[0..4].copy_from_slice(b"hbin");
    put32(&mut bin, 4, bins_size as u32);
    let mut rels = Vec::new();
    for c in cells {
        let len = (c.len() + 4).div_ceil(8) * 8;
        rels.push((bins_size + bin.len()) as u32);
        bin.extend((-(len as i32)).to_le_bytes());
        bin.extend(c);
        bin.resize(bin.len() + len - 4 - c.len(), 0);
    }
    let size = (bin.len() + 8).div_ceil(0x1000) * 0x1000;
    let free = size - bin.len();
    bin.extend((free as i32).to_le_bytes());
    bin.resize(size, 0);
    put32(&mut bin, 8, size as u32);
    b.extend(bin);
    put32(b, 40, (bins_size + size) as u32);
    fix_checksum(b);
    rels
}

/// Subkeys of `K` in the valid hive: (relative nk offset, name).
fn k_subkeys(b: &[u8], s: &Spots) -> Vec<u32> {
    let count = u16::from_le_bytes([b[s.k_list + 2], b[s.k_list + 3]]) as usize;
    (0..count)
        .map(|i| u32_at(b, s.k_list + 4 + i * 8))
        .collect()
}

fn leaf(sig: &[u8; 2], keys: &[u32], with_hash: bool) -> Vec<u8> {
    let mut c = sig.to_vec();
    c.extend((keys.len() as u16).to_le_bytes());
    for &k in keys {
        c.extend(k.to_le_bytes());
        if with_hash {
            c.extend([0u8; 4]);
        }
    }
    c
}

/// Parses and walks every key and value, reading all data.
fn walk_all(b: Vec<u8>) -> Result<Vec<String>, imgprep_registry::Error> {
    let hive = Hive::from_bytes(b)?;
    let mut seen = Vec::new();
    hive.walk(&mut |path, key| {
        seen.push(path.to_owned());
        for v in key.values()? {
            v.data()?;
        }
        key.class()?;
        Ok(())
    })?;
    Ok(seen)
}

#[test]
fn base_hive_walks() {
    assert_eq!(
        walk_all(base().to_vec()).unwrap(),
        ["", "K", "K\\A", "K\\B", "K\\C"]
    );
}

#[test]
fn list_kinds_hivex_does_not_write() {
    // (description, list cells to append: the last one becomes K's subkey list)
    type Build = fn(&[u32]) -> Vec<Vec<u8>>;
    let cases: &[(&str, Build)] = &[
        ("li leaf", |k| vec![leaf(b"li", k, false)]),
        ("lf leaf", |k| vec![leaf(b"lf", k, true)]),
        ("ri of li and lh", |k| {
            vec![leaf(b"li", &k[..1], false), leaf(b"lh", &k[1..], true)]
        }),
    ];
    for (what, build) in cases {
        let mut b = base().to_vec();
        let s = spots(&b);
        let keys = k_subkeys(&b, &s);
        let mut cells = build(&keys);
        let rels = append_cells(&mut b, &cells);
        let list = if cells.len() > 1 {
            // An `ri` over the appended leaves, appended in a second bin.
            cells = vec![leaf(b"ri", &rels, false)];
            append_cells(&mut b, &cells)[0]
        } else {
            rels[0]
        };
        put32(&mut b, s.k_nk + 28, list);
        let hive = Hive::from_bytes(b).unwrap();
        let k = hive.open("k").unwrap().unwrap();
        let names: Vec<String> = k.subkeys().unwrap().iter().map(|k| k.name()).collect();
        assert_eq!(names, ["A", "B", "C"], "{what}");
        assert_eq!(
            hive.open("K\\c").unwrap().map(|k| k.name()).as_deref(),
            Some("C"),
            "{what}"
        );
    }
}

/// A mutation of the valid hive and the error it must produce (a substring of its message).
type Mutation = fn(&mut Vec<u8>, &Spots);

#[test]
fn hostile_hives_give_errors_naming_where() {
    let cases: &[(&str, Mutation, &str)] = &[
        (
            "regf signature",
            |b, _| b[0] = b'R',
            "base block at 0x0: expected signature \"regf\", found \"Regf\"",
        ),
        ("too short", |b, _| b.truncate(100), "hive is 100 bytes"),
        (
            "checksum",
            |b, _| b[0x30] ^= 1,
            "base block checksum at 0x1fc is",
        ),
        (
            "major version",
            |b, _| {
                put32(b, 20, 2);
                fix_checksum(b);
            },
            "version 2.",
        ),
        (
            "hbin signature",
            |b, _| b[0x1000] = b'H',
            "hbin at 0x1000: expected signature \"hbin\", found \"Hbin\"",
        ),
        (
            "hbin size",
            |b, _| put32(b, 0x1008, 0x1234),
            "hbin at 0x1000: size is 0x1234",
        ),
        (
            "hbin offset field",
            |b, _| put32(b, 0x1004, 0x2000),
            "hbin at 0x1000: offset field is 0x2000, expected 0x0",
        ),
        (
            "nk signature of the root",
            |b, s| b[s.root_nk] = b'x',
            "key (nk) at 0x",
        ),
        (
            "nk signature of a subkey",
            |b, s| {
                let first = k_subkeys(b, s)[0] as usize + 0x1000 + 4;
                b[first..first + 2].copy_from_slice(b"zz");
            },
            "expected signature \"nk\", found \"zz\"",
        ),
        (
            "vk signature",
            |b, s| b[s.str_vk + 1] = b'X',
            "value (vk) at 0x",
        ),
        (
            "value list entry outside the hive",
            |b, s| put32(b, s.k_values, 0x7fff_fff0),
            "value (vk) at 0x80000ff0 is outside the hive bins",
        ),
        (
            "value list entry into the middle of a cell",
            |b, s| {
                let v = u32_at(b, s.k_values);
                put32(b, s.k_values, v + 8);
            },
            "is not the start of an allocated cell",
        ),
        (
            "value count larger than its list",
            |b, s| put32(b, s.k_nk + 36, 100_000),
            "value list at 0x",
        ),
        (
            "subkey list pointing outside",
            |b, s| put32(b, s.k_nk + 28, 0xffff_0000),
            "subkey list at 0xffff1000 is outside the hive bins",
        ),
        (
            "subkey count larger than its list",
            |b, s| b[s.k_list + 2] = 200,
            "subkey list at 0x",
        ),
        (
            "huge value length",
            |b, s| put32(b, s.str_vk + 4, 0x7fff_fff0),
            "declares 2147483632 bytes of data, more than the",
        ),
        (
            "inline data longer than 4 bytes",
            |b, s| put32(b, s.str_vk + 4, 0x8000_0010),
            "declares 16 bytes of inline data",
        ),
        (
            "big-data segment count absurd",
            |b, s| b[s.big_db + 2..s.big_db + 4].copy_from_slice(&0xffffu16.to_le_bytes()),
            "big-data segment list at 0x",
        ),
        (
            "big-data record with a bad signature",
            |b, s| b[s.big_db] = b'q',
            "big-data value (db) at 0x",
        ),
        (
            "negative odd cell size",
            |b, s| put32(b, s.k_nk - 4, (-6i32) as u32),
            "has size -6",
        ),
        (
            "cell larger than its hbin",
            |b, s| put32(b, s.k_nk - 4, (-0x10_0000i32) as u32),
            "has size -1048576",
        ),
        (
            "key name longer than its cell",
            |b, s| b[s.k_nk + 72..s.k_nk + 74].copy_from_slice(&0xfff0u16.to_le_bytes()),
            "key (nk) name at 0x",
        ),
        (
            "subkey list that is a list of itself (ri -> ri)",
            |b, s| {
                // An ri whose only entry is itself.
                let bins = u32_at(b, 40);
                let ri = leaf(b"ri", &[bins + 32], false);
                let rel = append_cells(b, &[ri])[0];
                assert_eq!(rel, bins + 32);
                put32(b, s.k_nk + 28, rel);
            },
            "was already visited: the subkey lists loop",
        ),
        (
            "subkey pointing back at its parent",
            |b, s| {
                let root = (s.root_nk - 4 - 0x1000) as u32;
                let list = leaf(b"li", &[root], false);
                let rel = append_cells(b, &[list])[0];
                put32(b, s.k_nk + 28, rel);
                put32(b, s.k_nk + 20, 1);
            },
            "key (nk) at 0x",
        ),
    ];
    for (what, mutate, expected) in cases {
        let mut b = base().to_vec();
        let s = spots(&b);
        mutate(&mut b, &s);
        match walk_all(b) {
            Ok(keys) => panic!("{what}: no error, walked {keys:?}"),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{what}: error {e:?} ({e}) does not contain {expected:?}"
            ),
        }
    }
}

#[test]
fn dirty_hive_is_reported_and_still_read() {
    let mut b = base().to_vec();
    let seq = u32_at(&b, 4);
    put32(&mut b, 8, seq.wrapping_add(1));
    fix_checksum(&mut b);
    let hive = Hive::from_bytes(b).unwrap();
    assert!(hive.is_dirty());
    let k = hive.open("K").unwrap().unwrap();
    assert_eq!(
        k.value("small").unwrap().unwrap().data().unwrap(),
        Data::Dword(7)
    );
    assert!(!Hive::from_bytes(base().to_vec()).unwrap().is_dirty());
}

/// A hive in memory that counts the bytes read from it.
struct Counting {
    data: Vec<u8>,
    read: std::sync::atomic::AtomicU64,
}

impl imgprep_registry::ReadAt for Counting {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.read
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        imgprep_registry::ReadAt::read_exact_at(&self.data, offset, buf)
    }
}

/// Opens `b`, then returns the result of `f` and the bytes it read from the hive file.
fn counting<T>(b: Vec<u8>, f: impl FnOnce(&Hive) -> T) -> (T, u64) {
    let src = std::sync::Arc::new(Counting {
        data: b,
        read: 0.into(),
    });
    let hive = Hive::from_source(src.clone()).unwrap();
    src.read.store(0, std::sync::atomic::Ordering::Relaxed);
    let out = f(&hive);
    (out, src.read.load(std::sync::atomic::Ordering::Relaxed))
}

#[test]
fn oversized_cells_counts_and_values_are_refused_before_they_are_read() {
    use imgprep_registry::{Error, MAX_SUBKEYS, MAX_VALUE_LEN, MAX_VALUES};
    // K's subkey list is an allocated cell of 16 MiB: a bounded prefix is read, then the
    // signature is refused.
    let mut b = base().to_vec();
    let s = spots(&b);
    let big = append_cells(&mut b, &[vec![0u8; 16 << 20]])[0];
    put32(&mut b, s.k_nk + 28, big);
    let (r, read) = counting(b, |h| {
        h.open("K").unwrap().unwrap().subkeys().map(|v| v.len())
    });
    let e = r.unwrap_err();
    assert!(e.to_string().contains("expected signature \"lf\""), "{e}");
    assert!(read < 2 << 20, "read {read} bytes");

    // A short string value whose data cell is 16 MiB: only its bytes are read.
    let mut b = base().to_vec();
    let s = spots(&b);
    let mut data = "some string data"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect::<Vec<_>>();
    let len = data.len() as u32;
    data.resize(16 << 20, 0);
    let cell = append_cells(&mut b, &[data])[0];
    put32(&mut b, s.str_vk + 4, len);
    put32(&mut b, s.str_vk + 8, cell);
    let (r, read) = counting(b, |h| {
        h.open("K")
            .unwrap()
            .unwrap()
            .value("Str")
            .unwrap()
            .unwrap()
            .data()
    });
    assert_eq!(r.unwrap(), Data::Sz("some string data".into()));
    assert!(read < 1 << 20, "read {read} bytes");

    // A value declaring more than MAX_VALUE_LEN bytes (the cell holds them) is refused unread.
    let mut b = base().to_vec();
    let s = spots(&b);
    let cell = append_cells(&mut b, &[vec![b'A'; MAX_VALUE_LEN as usize + 8]])[0];
    put32(&mut b, s.str_vk + 4, MAX_VALUE_LEN + 1);
    put32(&mut b, s.str_vk + 8, cell);
    let (r, read) = counting(b, |h| {
        h.open("K")
            .unwrap()
            .unwrap()
            .value("Str")
            .unwrap()
            .unwrap()
            .data()
    });
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
    assert!(read < 1 << 20, "read {read} bytes");

    // More subkeys than MAX_SUBKEYS: declared, or listed under a count that lies. Lookups and
    // listings both stop.
    let mut b = base().to_vec();
    let s = spots(&b);
    put32(&mut b, s.k_nk + 20, MAX_SUBKEYS as u32 + 1);
    let hive = Hive::from_bytes(b).unwrap();
    let k = hive.open("K").unwrap().unwrap();
    assert!(matches!(k.subkeys(), Err(Error::TooMany { .. })));
    assert!(matches!(k.subkey("A"), Err(Error::TooMany { .. })));
    let mut b = base().to_vec();
    let s = spots(&b);
    let first = k_subkeys(&b, &s)[0];
    let lists: Vec<Vec<u8>> = (0..=MAX_SUBKEYS / 65535)
        .map(|_| leaf(b"lf", &[first; 65535], true))
        .collect();
    let rels = append_cells(&mut b, &lists);
    let ri = append_cells(&mut b, &[leaf(b"ri", &rels, false)])[0];
    put32(&mut b, s.k_nk + 28, ri);
    let hive = Hive::from_bytes(b).unwrap();
    let k = hive.open("K").unwrap().unwrap();
    let e = k.subkeys().unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "key at {:#x} has more than {MAX_SUBKEYS} subkeys",
            k.offset()
        )
    );
    // A name found before the limit is found; one that is not there hits it.
    assert!(k.subkey("A").unwrap().is_some());
    assert!(matches!(k.subkey("none"), Err(Error::TooMany { .. })));

    // More values than MAX_VALUES: refused before the value list is read.
    let mut b = base().to_vec();
    let s = spots(&b);
    put32(&mut b, s.k_nk + 36, MAX_VALUES as u32 + 1);
    let hive = Hive::from_bytes(b).unwrap();
    let e = hive.open("K").unwrap().unwrap().values().unwrap_err();
    assert!(e.to_string().contains("more than 110000 values"), "{e}");
}
