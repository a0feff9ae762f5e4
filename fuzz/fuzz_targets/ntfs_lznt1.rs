//! LZNT1 compression units: decode the input into a unit of 16 clusters of 4 KiB, as NTFS
//! compressed attributes are read, and check the decoder never writes past it.
//!
//! Input: the stored clusters of one compression unit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = vec![0u8; 65536];
    if let Ok(n) = imgprep_fs_ntfs::lznt1_decompress(data, &mut out) {
        assert!(n <= out.len());
    }
});
