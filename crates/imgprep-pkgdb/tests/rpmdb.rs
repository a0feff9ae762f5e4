//! The rpm readers against databases rpm wrote: the real ones in tests/data/rpmdb (from SUSE,
//! RHEL 8 and CBL-Mariner systems) and the ones images-test/rpmdb-gen.sh builds with rpmbuild,
//! rpm and db_load. Each must list exactly what `rpm -qa` listed.
#![allow(clippy::unwrap_used)] // test helpers, not library code

use std::path::{Path, PathBuf};
use std::process::Command;

use imgprep_pkgdb::{Listing, ReadAt, rpm_bdb, rpm_ndb, rpm_sqlite};

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference(rel: &str) -> PathBuf {
    project_root().join("tests/data/rpmdb").join(rel)
}

/// The cache directory of the rpmdb-gen fixture, built on first use.
fn generated() -> PathBuf {
    let out = Command::new(project_root().join("images-test/build"))
        .args(["--path", "rpmdb-gen"])
        .output()
        .expect("run images-test/build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(path.lines().last().unwrap())
}

fn read(p: &Path) -> Vec<u8> {
    fs_err::read(p).unwrap()
}

/// `name|epoch|version|release|arch` lines, sorted as `sort` in the C locale sorts them.
fn lines(listing: &Listing) -> Vec<String> {
    let mut v: Vec<String> = listing
        .packages
        .iter()
        .map(|p| {
            format!(
                "{}|{}|{}|{}|{}",
                p.name, p.epoch, p.version, p.release, p.arch
            )
        })
        .collect();
    v.sort();
    v
}

fn expected(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8(read(p))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn check(listing: Listing, expected_file: &Path) {
    assert!(listing.problems.is_empty(), "{:#?}", listing.problems);
    assert_eq!(
        lines(&listing),
        expected(expected_file),
        "{}",
        expected_file.display()
    );
}

#[test]
fn real_databases_list_what_rpm_lists() {
    let bdb = read(&reference("bdb-libuuid/Packages"));
    check(
        rpm_bdb(&bdb).unwrap(),
        &reference("bdb-libuuid/expected.txt"),
    );
    let ndb = read(&reference("ndb-sle15/Packages.db"));
    check(rpm_ndb(&ndb).unwrap(), &reference("ndb-sle15/expected.txt"));
    let sqlite = read(&reference("sqlite-mariner2/rpmdb.sqlite"));
    check(
        rpm_sqlite(&sqlite, None).unwrap(),
        &reference("sqlite-mariner2/expected.txt"),
    );
}

/// Every field of every package, as `rpm -qa --qf` prints them (`(none)` for a missing tag).
fn fields_by_rpm(dbdir: &Path) -> Vec<String> {
    let qf = "%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SUMMARY}|%{URL}|%{SOURCERPM}|\
              %{DESCRIPTION}@@end@@\n";
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(dbdir)
        .args(["-qa", "--qf", qf])
        .output()
        .expect("run rpm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut v: Vec<String> = text
        .split("@@end@@\n")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn fields(listing: &Listing) -> Vec<String> {
    let o = |s: &Option<String>| s.clone().unwrap_or_else(|| "(none)".into());
    let mut v: Vec<String> = listing
        .packages
        .iter()
        .map(|p| {
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                p.name,
                p.epoch,
                p.version,
                p.release,
                p.arch,
                o(&p.summary),
                o(&p.url),
                o(&p.source_package),
                o(&p.description)
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_field_matches_rpm() {
    for db in [
        reference("sqlite-mariner2/rpmdb.sqlite"),
        generated().join("sqlite/rpmdb.sqlite"),
    ] {
        // rpm wants to lock the database directory: give it a copy.
        let tmp = tempfile::tempdir().unwrap();
        fs_err::copy(&db, tmp.path().join("rpmdb.sqlite")).unwrap();
        let listing = rpm_sqlite(&read(&db), None).unwrap();
        assert_eq!(
            fields(&listing),
            fields_by_rpm(tmp.path()),
            "{}",
            db.display()
        );
    }
}

#[test]
fn listings_are_sorted_by_name_then_evr_then_arch() {
    let dir = generated();
    let listing = rpm_sqlite(&read(&dir.join("sqlite/rpmdb.sqlite")), None).unwrap();
    let multi: Vec<(String, String)> = listing
        .packages
        .iter()
        .filter(|p| p.name == "multi")
        .map(|p| (p.version.clone(), p.arch.clone()))
        .collect();
    let want = [("1.0", "x86_64"), ("2.0", "noarch"), ("2.0", "x86_64")];
    assert_eq!(multi, want.map(|(v, a)| (v.to_string(), a.to_string())));
    assert!(listing.packages.windows(2).all(|w| w[0].name <= w[1].name));
}

#[test]
fn generated_databases_list_what_rpm_lists() {
    let dir = generated();
    let exp = dir.join("expected.txt");
    check(
        rpm_sqlite(&read(&dir.join("sqlite/rpmdb.sqlite")), None).unwrap(),
        &exp,
    );
    for bdb in ["bdb-512", "bdb-4096", "bdb-be"] {
        // The script checked that rpm's bdb_ro backend lists expected.txt from each.
        check(
            rpm_bdb(&read(&dir.join(bdb).join("Packages"))).unwrap(),
            &exp,
        );
    }
    check(rpm_ndb(&ndb_from_blobs(&dir.join("blobs"))).unwrap(), &exp);
}

#[test]
fn generated_fields() {
    let dir = generated();
    let listing = rpm_sqlite(&read(&dir.join("sqlite/rpmdb.sqlite")), None).unwrap();
    let get = |n: &str| listing.packages.iter().find(|p| p.name == n).unwrap();
    let alpha = get("alpha");
    assert_eq!(alpha.summary.as_deref(), Some("A plain noarch package"));
    assert_eq!(alpha.description.as_deref(), Some("A plain package."));
    assert_eq!(alpha.url.as_deref(), Some("https://example.org/alpha"));
    assert_eq!(alpha.source_package.as_deref(), Some("alpha-1.0-1.src.rpm"));
    assert_eq!(get("beta").url, None);
    let delta = get("delta");
    assert!(delta.description.as_deref().unwrap().len() > 20_000);
}

#[test]
fn sqlite_wal_with_committed_transactions_is_replayed() {
    let dir = generated();
    let db = read(&dir.join("wal/rpmdb.sqlite"));
    let wal = read(&dir.join("wal/rpmdb.sqlite-wal"));
    check(
        rpm_sqlite(&db, Some(&wal)).unwrap(),
        &dir.join("wal/expected.txt"),
    );
    // Without the WAL the file still holds the state before those transactions.
    check(rpm_sqlite(&db, None).unwrap(), &dir.join("expected.txt"));
}

#[test]
fn sqlite_wal_frames_after_the_last_commit_or_a_bad_checksum_are_ignored() {
    let dir = generated();
    let db = read(&dir.join("wal/rpmdb.sqlite"));
    let wal = read(&dir.join("wal/rpmdb.sqlite-wal"));
    let with_wal = dir.join("wal/expected.txt");
    let without = dir.join("expected.txt");
    let page = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
    let frame = 24 + page;
    let frames = (wal.len() - 32) / frame;
    assert!(frames >= 2);

    // A torn last frame (half written) changes nothing.
    let mut torn = wal.clone();
    torn.extend_from_slice(&wal[32..32 + frame / 2]);
    check(rpm_sqlite(&db, Some(&torn)).unwrap(), &with_wal);

    // A copy of the last frame with its commit mark cleared, appended: its checksum no longer
    // chains, so it is ignored.
    let mut uncommitted = wal.clone();
    let mut last = wal[wal.len() - frame..].to_vec();
    last[4..8].copy_from_slice(&[0; 4]);
    uncommitted.extend_from_slice(&last);
    check(rpm_sqlite(&db, Some(&uncommitted)).unwrap(), &with_wal);

    // A flipped byte in the first frame's page: that frame and everything after is ignored.
    let mut bad = wal.clone();
    bad[32 + 24 + 100] ^= 0xff;
    check(rpm_sqlite(&db, Some(&bad)).unwrap(), &without);

    // An empty WAL, and one shorter than its header: as if there were none.
    check(rpm_sqlite(&db, Some(&Vec::new())).unwrap(), &without);
    check(
        rpm_sqlite(&db, Some(&wal[..20].to_vec())).unwrap(),
        &without,
    );

    // A WAL with another magic is a problem, and ignored.
    let mut magic = wal.clone();
    magic[0] ^= 1;
    let listing = rpm_sqlite(&db, Some(&magic)).unwrap();
    assert_eq!(listing.problems.len(), 1, "{:#?}", listing.problems);
    assert!(
        listing.problems[0]
            .to_string()
            .contains("SQLite WAL header")
    );
    assert_eq!(lines(&listing), expected(&without));
}

/// Writes an NDB `Packages.db` holding the blobs of `dir` (file name = package index), as
/// rpm's ndb backend lays it out: header, one slot page, blobs with head, padding and tail.
fn ndb_from_blobs(dir: &Path) -> Vec<u8> {
    let mut blobs: Vec<(u32, Vec<u8>)> = fs_err::read_dir(dir)
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
    ndb(&blobs)
}

fn ndb(blobs: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut f = vec![0u8; 4096];
    f[0..4].copy_from_slice(b"RpmP");
    f[8..12].copy_from_slice(&1u32.to_le_bytes());
    f[12..16].copy_from_slice(&1u32.to_le_bytes());
    let next = blobs.iter().map(|b| b.0).max().unwrap_or(0) + 1;
    f[16..20].copy_from_slice(&next.to_le_bytes());
    for s in (32..4096).step_by(16) {
        f[s..s + 4].copy_from_slice(b"Slot");
    }
    for (i, (idx, blob)) in blobs.iter().enumerate() {
        let blkoff = (f.len() / 16) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(b"BlbS");
        b.extend_from_slice(&idx.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(blob);
        while !(b.len() + 12).is_multiple_of(16) {
            b.push(0);
        }
        let adler = adler32(&b);
        b.extend_from_slice(&adler.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(b"BlbE");
        let s = 32 + 16 * i;
        f[s + 4..s + 8].copy_from_slice(&idx.to_le_bytes());
        f[s + 8..s + 12].copy_from_slice(&blkoff.to_le_bytes());
        f[s + 12..s + 16].copy_from_slice(&((b.len() / 16) as u32).to_le_bytes());
        f.extend_from_slice(&b);
    }
    f
}

fn adler32(d: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &c in d {
        a = (a + u32::from(c)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[test]
fn readat_sources_work_as_well_as_byte_vectors() {
    let f = imgprep_io::FileSource::open(reference("ndb-sle15/Packages.db")).unwrap();
    let src: &dyn ReadAt = &f;
    check(rpm_ndb(src).unwrap(), &reference("ndb-sle15/expected.txt"));
}
