//! NDB `Packages.db` databases.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = imgprep_pkgdb::rpm_ndb(&data.to_vec());
});
