//! rpm SQLite databases, alone and with a WAL: the input is the database, or (when its last
//! 4 bytes, little-endian, are a length shorter than the rest) the database followed by a WAL
//! of that length.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
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
});
