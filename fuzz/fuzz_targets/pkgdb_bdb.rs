//! Berkeley DB hash `Packages` databases.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = imgprep_pkgdb::rpm_bdb(&data.to_vec());
});
