//! rpm header blobs as stored in rpm databases.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = imgprep_pkgdb::rpm_header(data);
});
