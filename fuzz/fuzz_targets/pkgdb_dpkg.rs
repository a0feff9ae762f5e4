//! dpkg status files.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = imgprep_pkgdb::dpkg_status(data);
});
