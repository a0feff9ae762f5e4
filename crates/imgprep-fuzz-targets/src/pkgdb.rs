//! The package-database targets: each parser on the input as a whole database file.

/// apk installed databases, and the antisymmetry of apk's, rpm's and Debian's version ordering
/// on the first two lines of the input.
pub fn pkgdb_apk(data: &[u8]) {
    let _ = imgprep_pkgdb::apk_installed(data);
    let s = String::from_utf8_lossy(data);
    let mut it = s.splitn(2, '\n');
    if let (Some(a), Some(b)) = (it.next(), it.next()) {
        use imgprep_pkgdb::version::*;
        assert_eq!(apk_cmp(a, b), apk_cmp(b, a).reverse());
        assert_eq!(rpmvercmp(a, b), rpmvercmp(b, a).reverse());
        assert_eq!(debian_cmp(a, b), debian_cmp(b, a).reverse());
    }
}

/// Berkeley DB hash `Packages` databases.
pub fn pkgdb_bdb(data: &[u8]) {
    let _ = imgprep_pkgdb::rpm_bdb(&data.to_vec());
}

/// dpkg status files.
pub fn pkgdb_dpkg(data: &[u8]) {
    let _ = imgprep_pkgdb::dpkg_status(data);
}

/// NDB `Packages.db` databases.
pub fn pkgdb_ndb(data: &[u8]) {
    let _ = imgprep_pkgdb::rpm_ndb(&data.to_vec());
}

/// rpm header blobs as stored in rpm databases.
pub fn pkgdb_rpm_header(data: &[u8]) {
    let _ = imgprep_pkgdb::rpm_header(data);
}

/// rpm SQLite databases, alone and with a WAL: the input is the database, or (when its last
/// 4 bytes, little-endian, are a length shorter than the rest) the database followed by a WAL
/// of that length.
pub fn pkgdb_sqlite(data: &[u8]) {
    let db = data.to_vec();
    let _ = imgprep_pkgdb::rpm_sqlite(&db, None);
    if data.len() >= 4 {
        let (body, tail) = data.split_at(data.len() - 4);
        let n = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
        if n <= body.len() {
            let (db, wal) = body.split_at(body.len() - n);
            let _ = imgprep_pkgdb::rpm_sqlite(&db.to_vec(), Some(&wal.to_vec()));
        }
    }
}
