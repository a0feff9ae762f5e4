//! apk installed databases, and apk's version ordering on pairs of lines from them.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = imgprep_pkgdb::apk_installed(data);
    let s = String::from_utf8_lossy(data);
    let mut it = s.splitn(2, '\n');
    if let (Some(a), Some(b)) = (it.next(), it.next()) {
        use imgprep_pkgdb::version::*;
        assert_eq!(apk_cmp(a, b), apk_cmp(b, a).reverse());
        assert_eq!(rpmvercmp(a, b), rpmvercmp(b, a).reverse());
        assert_eq!(debian_cmp(a, b), debian_cmp(b, a).reverse());
    }
});
