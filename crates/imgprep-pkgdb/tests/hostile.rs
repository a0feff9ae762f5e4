//! Hostile input: valid databases and headers (from images-test/rpmdb-gen.sh) with one lie
//! each, truncated, or with bytes flipped. Every case must end in an error or a problem that
//! names what was wrong, keep the records that are still readable, and never panic or hang.
#![allow(clippy::unwrap_used)] // test helpers, not library code

use std::path::{Path, PathBuf};

use imgprep_pkgdb::{Error, Listing, rpm_bdb, rpm_header, rpm_ndb, rpm_sqlite};

fn generated() -> PathBuf {
    imgprep_testkit::fixture("rpmdb-gen")
}

fn read(p: &Path) -> Vec<u8> {
    fs_err::read(p).unwrap()
}

fn blob(n: u32) -> Vec<u8> {
    read(&generated().join("blobs").join(n.to_string()))
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes(b[o..o + 4].try_into().unwrap())
}

fn put_be32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}

/// `check(input, expected)` for one header: the error's text contains `want`.
fn check_header(b: &[u8], want: &str) {
    let e = rpm_header(b).expect_err(want);
    let msg = e.to_string();
    assert!(msg.contains(want), "{msg:?} does not contain {want:?}");
}

#[test]
fn rpm_header_rows() {
    let good = blob(1);
    assert!(!rpm_header(&good).unwrap().name.is_empty());
    let il = be32(&good, 0) as usize;
    let data = 8 + 16 * il;

    let mut b = good.clone();
    put_be32(&mut b, 0, 0x0001_0000);
    check_header(
        &b,
        "rpm header index count at 0x0: expected at most 65535, found 65536",
    );

    let mut b = good.clone();
    put_be32(&mut b, 0, il as u32 + 1);
    check_header(&b, "rpm header size");

    let mut b = good.clone();
    put_be32(&mut b, 4, 0x1000_0000);
    check_header(&b, "rpm header data length at 0x4");

    let mut b = good.clone();
    put_be32(&mut b, 4, be32(&good, 4) + 1);
    check_header(&b, "rpm header size");

    // Entry 1 (the first after the region tag) points past the data.
    let mut b = good.clone();
    put_be32(&mut b, 8 + 16 + 8, 0x00ff_fff0);
    check_header(&b, "rpm header index entry at 0x18");

    // Entry 1's count claims a million strings.
    let mut b = good.clone();
    put_be32(&mut b, 8 + 16 + 12, 1_000_000);
    check_header(&b, "rpm header index entry at 0x18");

    // The region trailer offset points outside the data.
    let mut b = good.clone();
    put_be32(&mut b, 8 + 8, 0x7fff_fff0);
    check_header(&b, "rpm header region trailer offset at 0x10");

    // Found by fuzzing (pkgdb_rpm_header): a region trailer offset of -16, which rpm accepts
    // and reads from the last index entry instead of the data.
    let mut b = good.clone();
    put_be32(&mut b, 8 + 8, 0xffff_fff0);
    check_header(&b, "rpm header region trailer at");

    // The region trailer claims more entries than the header has.
    let mut b = good.clone();
    let trailer = data + be32(&good, 16) as usize;
    put_be32(&mut b, trailer + 8, (-(16 * (il as i32 + 1))) as u32);
    check_header(&b, "rpm header region size");

    // The region tag with another type.
    let mut b = good.clone();
    put_be32(&mut b, 8 + 4, 4);
    check_header(
        &b,
        "rpm header region tag at 0x8: expected type 7 (BIN) and count 16",
    );

    // The NAME tag renamed: a header without a name.
    let mut b = good.clone();
    let name_entry = (0..il).find(|&i| be32(&good, 8 + 16 * i) == 1000).unwrap();
    put_be32(&mut b, 8 + 16 * name_entry, 999);
    check_header(&b, "rpm header NAME tag is missing");

    // Too short to hold the counts; empty.
    check_header(
        &good[..7],
        "rpm header at 0x0: expected at least 8 bytes, found 7 bytes",
    );
    check_header(&[], "expected at least 8 bytes");
}

#[test]
fn rpm_header_every_truncation_and_byte_flip_is_refused_or_parsed_without_panic() {
    let good = blob(2);
    for n in 0..good.len() {
        assert!(rpm_header(&good[..n]).is_err(), "prefix of {n} bytes");
    }
    let mut parsed = 0;
    for i in 0..good.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut b = good.clone();
            b[i] ^= flip;
            if rpm_header(&b).is_ok() {
                parsed += 1;
            }
        }
    }
    // Flips inside string data leave a valid header; flips in the index mostly do not.
    assert!(parsed > 0 && parsed < 3 * good.len(), "{parsed}");
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn put_le32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn expected_count() -> usize {
    String::from_utf8(read(&generated().join("expected.txt")))
        .unwrap()
        .lines()
        .count()
}

fn problem_texts(l: &Listing) -> Vec<String> {
    l.problems.iter().map(ToString::to_string).collect()
}

/// Page numbers of the 512-byte little-endian BDB whose type byte is `t`.
fn bdb_pages(db: &[u8], t: u8) -> Vec<usize> {
    (1..db.len() / 512)
        .filter(|&p| db[p * 512 + 25] == t)
        .collect()
}

#[test]
fn bdb_rows() {
    let good = read(&generated().join("bdb-512/Packages"));
    let all = expected_count();
    assert_eq!(rpm_bdb(&good).unwrap().packages.len(), all);

    // An overflow page that links back to itself: a loop, one header lost.
    let mut db = good.clone();
    let ov = bdb_pages(&good, 7)
        .into_iter()
        .find(|&p| le32(&good, p * 512 + 16) != 0)
        .unwrap();
    put_le32(&mut db, ov * 512 + 16, ov as u32);
    let l = rpm_bdb(&db).unwrap();
    assert_eq!(l.packages.len(), all - 1);
    assert_eq!(l.problems.len(), 1, "{:#?}", l.problems);
    let want = format!(
        "Berkeley DB overflow chain at {:#x} loops back to page {ov}",
        ov * 512 + 16
    );
    assert!(
        problem_texts(&l)[0].contains(&want),
        "{:?}",
        problem_texts(&l)
    );

    // An overflow page pointing past the end of the file.
    let mut db = good.clone();
    put_le32(&mut db, ov * 512 + 16, 0x00ff_ffff);
    let l = rpm_bdb(&db).unwrap();
    assert_eq!(l.packages.len(), all - 1);
    assert!(
        problem_texts(&l)[0].contains("Berkeley DB overflow page"),
        "{:?}",
        problem_texts(&l)
    );

    // A hash page whose next-page link points outside the file: the rest of the chain is lost,
    // the other buckets are read.
    let mut db = good.clone();
    let hp = bdb_pages(&good, 13)[0];
    put_le32(&mut db, hp * 512 + 16, 0xffff_fff0);
    let l = rpm_bdb(&db).unwrap();
    assert!(!l.packages.is_empty());
    assert!(
        problem_texts(&l)
            .iter()
            .any(|p| p.contains("Berkeley DB hash page")),
        "{:?}",
        problem_texts(&l)
    );

    // Two bucket pages chained into each other.
    let mut db = good.clone();
    let hps = bdb_pages(&good, 13);
    put_le32(&mut db, hps[0] * 512 + 16, hps[1] as u32);
    put_le32(&mut db, hps[1] * 512 + 16, hps[0] as u32);
    let l = rpm_bdb(&db).unwrap();
    assert!(
        problem_texts(&l).iter().any(|p| p.contains("loops back")),
        "{:?}",
        problem_texts(&l)
    );

    // An item offset past the page, and an entry count larger than the page.
    let mut db = good.clone();
    db[hp * 512 + 26..hp * 512 + 28].copy_from_slice(&0xfff0u16.to_le_bytes());
    let l = rpm_bdb(&db).unwrap();
    assert!(
        problem_texts(&l)
            .iter()
            .any(|p| p.contains("Berkeley DB hash item offset"))
    );
    let mut db = good.clone();
    db[hp * 512 + 20..hp * 512 + 22].copy_from_slice(&0x7fffu16.to_le_bytes());
    let l = rpm_bdb(&db).unwrap();
    assert!(
        problem_texts(&l)
            .iter()
            .any(|p| p.contains("Berkeley DB hash page entry count"))
    );

    // Metadata lies: a last page past the end, a bucket count larger than the pages, a page
    // size that is no power of two, another magic.
    let mut db = good.clone();
    put_le32(&mut db, 32, 0x00ff_ffff);
    let e = rpm_bdb(&db).unwrap_err();
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "Berkeley DB last page number",
                ..
            }
        ),
        "{e}"
    );
    let mut db = good.clone();
    put_le32(&mut db, 72, 0xffff_ffff);
    assert!(
        rpm_bdb(&db)
            .unwrap_err()
            .to_string()
            .contains("hash bucket count")
    );
    let mut db = good.clone();
    put_le32(&mut db, 20, 1000);
    assert!(
        rpm_bdb(&db)
            .unwrap_err()
            .to_string()
            .contains("page size at 0x14")
    );
    let mut db = good.clone();
    db[12] = 0x62;
    assert!(matches!(rpm_bdb(&db).unwrap_err(), Error::BadMagic { .. }));

    // Truncated at every page: an error or fewer packages, never a panic.
    for pages in 0..good.len() / 512 {
        if let Ok(l) = rpm_bdb(&good[..pages * 512].to_vec()) {
            assert!(l.packages.len() <= all);
        }
    }
}

#[test]
fn bdb_byte_flips_never_panic() {
    let good = read(&generated().join("bdb-512/Packages"));
    for i in (0..good.len()).step_by(211) {
        let mut db = good.clone();
        db[i] ^= 0xa5;
        let _ = rpm_bdb(&db);
    }
}

/// The NDB writer of the rpmdb test, for the blobs of the fixture.
fn ndb() -> Vec<u8> {
    let dir = generated().join("blobs");
    let mut blobs: Vec<(u32, Vec<u8>)> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_str().unwrap().parse().unwrap(),
                read(&e.path()),
            )
        })
        .collect();
    blobs.sort();
    let mut f = vec![0u8; 4096];
    f[0..4].copy_from_slice(b"RpmP");
    put_le32(&mut f, 12, 1);
    for s in (32..4096).step_by(16) {
        f[s..s + 4].copy_from_slice(b"Slot");
    }
    for (i, (idx, blob)) in blobs.iter().enumerate() {
        let blkoff = (f.len() / 16) as u32;
        let mut b = b"BlbS".to_vec();
        b.extend_from_slice(&idx.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(blob);
        while !(b.len() + 12).is_multiple_of(16) {
            b.push(0);
        }
        let (mut x, mut y) = (1u32, 0u32);
        for &c in &b {
            x = (x + u32::from(c)) % 65521;
            y = (y + x) % 65521;
        }
        b.extend_from_slice(&((y << 16) | x).to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(b"BlbE");
        let s = 32 + 16 * i;
        put_le32(&mut f, s + 4, *idx);
        put_le32(&mut f, s + 8, blkoff);
        put_le32(&mut f, s + 12, (b.len() / 16) as u32);
        f.extend_from_slice(&b);
    }
    f
}

#[test]
fn ndb_rows() {
    let good = ndb();
    let all = expected_count();
    assert_eq!(rpm_ndb(&good).unwrap().packages.len(), all);

    // A slot with an absurd block offset: that package is a problem, the others are listed.
    let mut db = good.clone();
    put_le32(&mut db, 32 + 16 * 3 + 8, 0xffff_ffff);
    let l = rpm_ndb(&db).unwrap();
    assert_eq!(l.packages.len(), all - 1);
    let texts = problem_texts(&l);
    assert_eq!(texts.len(), 1);
    let want = format!("past the end ({:#x})", good.len());
    assert!(
        texts[0].starts_with("record 4 at 0x50: NDB slot at 0x50 points to 0x10000"),
        "{texts:?}"
    );
    assert!(texts[0].ends_with(&want), "{texts:?}");

    // A slot with a block count that does not match its blob.
    let mut db = good.clone();
    put_le32(&mut db, 32 + 12, le32(&good, 32 + 12) + 1);
    let l = rpm_ndb(&db).unwrap();
    assert_eq!(l.packages.len(), all - 1);
    assert!(
        problem_texts(&l)[0].contains("NDB blob length"),
        "{:?}",
        problem_texts(&l)
    );

    // A wrong checksum: reported, and the package still listed (rpm lists it too).
    let mut db = good.clone();
    let blk = le32(&good, 32 + 8) as usize * 16;
    let cnt = le32(&good, 32 + 12) as usize * 16;
    db[blk + cnt - 12] ^= 1;
    let l = rpm_ndb(&db).unwrap();
    assert_eq!(l.packages.len(), all);
    assert!(
        problem_texts(&l)[0].contains("NDB blob checksum"),
        "{:?}",
        problem_texts(&l)
    );

    // A slot without its magic; a blob head without its magic.
    let mut db = good.clone();
    db[32 + 16] = b'X';
    let l = rpm_ndb(&db).unwrap();
    assert_eq!(l.packages.len(), all - 1);
    assert!(problem_texts(&l)[0].contains("NDB slot at 0x30: bad magic"));
    let mut db = good.clone();
    db[blk] = b'X';
    assert!(problem_texts(&rpm_ndb(&db).unwrap())[0].contains("NDB blob head"));

    // Header lies: more slot pages than the file holds, another version, another magic.
    let mut db = good.clone();
    put_le32(&mut db, 12, 0xffff_ffff);
    assert!(matches!(
        rpm_ndb(&db).unwrap_err(),
        Error::OutOfBounds { .. }
    ));
    let mut db = good.clone();
    put_le32(&mut db, 4, 7);
    assert!(rpm_ndb(&db).unwrap_err().to_string().contains("version 7"));
    assert!(matches!(
        rpm_ndb(&good[4..].to_vec()).unwrap_err(),
        Error::BadMagic { .. }
    ));

    // Truncated anywhere (in 16-byte steps): an error, or fewer packages and problems.
    for n in (0..good.len()).step_by(16 * 37) {
        if let Ok(l) = rpm_ndb(&good[..n].to_vec()) {
            assert!(l.packages.len() < all);
            assert!(!l.problems.is_empty());
        }
    }
    // A size that is no multiple of 16 is reported (rpm refuses such a file).
    let mut db = good.clone();
    db.push(0);
    assert!(problem_texts(&rpm_ndb(&db).unwrap())[0].contains("NDB file size"));
}

/// Page numbers (1-based) of a SQLite file whose b-tree page type is `t`.
fn sqlite_pages(db: &[u8], ps: usize, t: u8) -> Vec<usize> {
    (1..=db.len() / ps)
        .filter(|&p| db[(p - 1) * ps + if p == 1 { 100 } else { 0 }] == t)
        .collect()
}

#[test]
fn sqlite_rows() {
    let good = read(&generated().join("sqlite-512/rpmdb.sqlite"));
    let all = expected_count();
    assert_eq!(rpm_sqlite(&good, None).unwrap().packages.len(), all);
    let ps = 512;

    // An interior page whose right-most child is itself: a loop, reported once.
    let interior = sqlite_pages(&good, ps, 0x05);
    assert!(!interior.is_empty());
    let hdr = |p: usize| (p - 1) * ps + if p == 1 { 100 } else { 0 };
    // (Other tables of rpm's database have interior pages too; at least one is the
    // Packages table's.)
    let loops = interior.iter().filter(|&&p| {
        let mut db = good.clone();
        put_be32(&mut db, hdr(p) + 8, p as u32);
        let l = rpm_sqlite(&db, None).unwrap();
        problem_texts(&l).iter().any(|t| t.contains("loops back"))
    });
    assert!(loops.count() >= 1);

    // A child pointer past the end of the file.
    let outside = interior.iter().filter(|&&p| {
        let mut db = good.clone();
        put_be32(&mut db, hdr(p) + 8, 0x00ff_ffff);
        let l = rpm_sqlite(&db, None).unwrap();
        problem_texts(&l).iter().any(|t| t.contains("points to"))
    });
    assert!(outside.count() >= 1);

    // Overflow pages whose next pointer is their own number: each loop loses one header.
    let btree = [0x02u8, 0x05, 0x0a, 0x0d];
    let overflow: Vec<usize> = (2..=good.len() / ps)
        .filter(|&p| !btree.contains(&good[(p - 1) * ps]))
        .filter(|&p| {
            let next = be32(&good, (p - 1) * ps) as usize;
            next > 1 && next <= good.len() / ps && !btree.contains(&good[(next - 1) * ps])
        })
        .collect();
    assert!(!overflow.is_empty());
    let mut db = good.clone();
    put_be32(&mut db, (overflow[0] - 1) * ps, overflow[0] as u32);
    let l = rpm_sqlite(&db, None).unwrap();
    assert!(l.packages.len() < all);
    assert!(
        problem_texts(&l)
            .iter()
            .any(|t| t.contains("SQLite overflow chain") && t.contains("loops back")),
        "{:?}",
        problem_texts(&l)
    );

    // A leaf page with another type byte.
    let leaf = sqlite_pages(&good, ps, 0x0d);
    let retyped = leaf.iter().filter(|&&p| {
        let mut db = good.clone();
        db[hdr(p)] = 0x0a;
        // (Retyping a page of the schema table loses the Packages table: an error.)
        rpm_sqlite(&db, None).is_ok_and(|l| {
            problem_texts(&l)
                .iter()
                .any(|t| t.contains("table b-tree page type"))
        })
    });
    assert!(retyped.count() >= 1);

    // Header lies.
    let mut db = good.clone();
    db[16..18].copy_from_slice(&1000u16.to_be_bytes());
    assert!(
        rpm_sqlite(&db, None)
            .unwrap_err()
            .to_string()
            .contains("SQLite page size at 0x10")
    );
    let mut db = good.clone();
    db[0] = b's';
    assert!(matches!(
        rpm_sqlite(&db, None).unwrap_err(),
        Error::BadMagic { .. }
    ));
    let mut db = good.clone();
    db[56..60].copy_from_slice(&9u32.to_be_bytes());
    assert!(
        rpm_sqlite(&db, None)
            .unwrap_err()
            .to_string()
            .contains("text encoding")
    );

    // Truncated at every page: an error or fewer packages, never a panic.
    for pages in 0..good.len() / ps {
        if let Ok(l) = rpm_sqlite(&good[..pages * ps].to_vec(), None) {
            assert!(l.packages.len() <= all);
        }
    }
    // Byte flips all over.
    for i in (0..good.len()).step_by(223) {
        let mut db = good.clone();
        db[i] ^= 0x5a;
        let _ = rpm_sqlite(&db, None);
    }
}

#[test]
fn sqlite_without_packages_table_is_an_error() {
    let mut db = read(&generated().join("sqlite-512/rpmdb.sqlite"));
    // Rename the table in the schema text ("Packages" -> "Packagez").
    let pos = db.windows(8).position(|w| w == b"Packages").unwrap();
    let mut i = pos;
    while let Some(p) = db[i..].windows(8).position(|w| w == b"Packages") {
        db[i + p + 7] = b'z';
        i += p + 8;
        if i > 100 * 512 {
            break;
        }
    }
    let e = rpm_sqlite(&db, None).unwrap_err();
    assert!(
        e.to_string().contains("SQLite table Packages is missing"),
        "{e}"
    );
}
