//! The NTFS decompressor targets: LZNT1 (compressed attributes) and the WOF formats (XPRESS
//! Huffman, LZX, and the WofCompressedData stream around them).

/// LZNT1 compression units: decode the input into a unit of 16 clusters of 4 KiB, as NTFS
/// compressed attributes are read, and check the decoder never writes past it.
///
/// Input: the stored clusters of one compression unit.
pub fn ntfs_lznt1(data: &[u8]) {
    let mut out = vec![0u8; 65536];
    if let Ok(n) = imgprep_fs_ntfs::lznt1_decompress(data, &mut out) {
        assert!(n <= out.len());
    }
}

/// LZX chunks as WOF stores them: decode the input into a 32 KiB chunk (or a shorter last
/// chunk, its length from the first two bytes) and check the decoder fills exactly that buffer
/// or refuses.
///
/// Input: two bytes, then a compressed chunk (seed with the LZX chunks of the `ntfs-wof`
/// fixture).
pub fn ntfs_lzx(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let len = usize::from(u16::from_le_bytes([data[0], data[1]])) % 32768 + 1;
    let mut out = vec![0u8; len];
    let _ = imgprep_fs_ntfs::lzx_decompress(&data[2..], &mut out);
}

/// WofCompressedData streams: the chunk table and the chunks of a WOF-compressed file of a
/// fuzzer-chosen format and size, read whole and at an offset, never past the file's size.
///
/// Input: format (1 byte, the reparse point's number 0..=3), uncompressed size (4 bytes LE, at
/// most 1 MiB is read), read offset (4 bytes LE), then the stream (seed with the `ntfs-wof`
/// fixture's streams behind the matching header).
pub fn ntfs_wof(data: &[u8]) {
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
}

/// XPRESS Huffman chunks as WOF stores them: decode the input into a chunk of 4, 8 or 16 KiB
/// (chosen by the first byte) and check the decoder fills exactly that buffer or refuses.
///
/// Input: one byte, then a compressed chunk (seed with the XPRESS chunks of the `ntfs-wof`
/// fixture's WofCompressedData streams).
pub fn ntfs_xpress(data: &[u8]) {
    let Some((&sel, chunk)) = data.split_first() else {
        return;
    };
    let mut out = vec![0u8; 4096 << (sel % 3)];
    let _ = imgprep_fs_ntfs::xpress_decompress(chunk, &mut out);
}
