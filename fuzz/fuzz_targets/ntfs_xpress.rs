//! XPRESS Huffman chunks as WOF stores them: decode the input into a chunk of 4, 8 or 16 KiB
//! (chosen by the first byte) and check the decoder fills exactly that buffer or refuses.
//!
//! Input: one byte, then a compressed chunk (seed with the XPRESS chunks of the `ntfs-wof`
//! fixture's WofCompressedData streams).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, chunk)) = data.split_first() else {
        return;
    };
    let mut out = vec![0u8; 4096 << (sel % 3)];
    let _ = imgprep_fs_ntfs::xpress_decompress(chunk, &mut out);
});
