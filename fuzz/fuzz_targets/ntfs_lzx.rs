//! LZX chunks as WOF stores them: decode the input into a 32 KiB chunk (or a shorter last chunk,
//! its length from the first two bytes) and check the decoder fills exactly that buffer or
//! refuses.
//!
//! Input: two bytes, then a compressed chunk (seed with the LZX chunks of the `ntfs-wof`
//! fixture).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let len = usize::from(u16::from_le_bytes([data[0], data[1]])) % 32768 + 1;
    let mut out = vec![0u8; len];
    let _ = imgprep_fs_ntfs::lzx_decompress(&data[2..], &mut out);
});
