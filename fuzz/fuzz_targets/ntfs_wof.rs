//! WofCompressedData streams: the chunk table and the chunks of a WOF-compressed file of a
//! fuzzer-chosen format and size, read whole and at an offset, never past the file's size.
//!
//! Input: format (1 byte, the reparse point's number 0..=3), uncompressed size (4 bytes LE,
//! at most 1 MiB is read), read offset (4 bytes LE), then the stream (seed with the
//! `ntfs-wof` fixture's streams behind the matching header).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let format = u32::from(data[0] % 4);
    let size = u64::from(u32::from_le_bytes([data[1], data[2], data[3], data[4]]));
    let pos = u64::from(u32::from_le_bytes([data[5], data[6], data[7], data[8]]));
    let stream = &data[9..];
    for (at, len) in [(0, 1 << 20), (pos, 4096)] {
        if let Ok(b) = imgprep_fs_ntfs::wof_read(format, size, stream, at, len) {
            assert!(b.len() as u64 <= size.saturating_sub(at));
            assert!(b.len() <= len);
        }
    }
});
