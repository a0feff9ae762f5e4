//! CRC32C (Castagnoli), the checksum of XFS v5 metadata.

use imgprep_io::crc::crc32c_update as update;

/// The checksum XFS stores (little-endian) at `field` of `buf`: CRC32C of `buf` with the four
/// bytes at `field` taken as zero. `field + 4` must not exceed `buf.len()`.
pub(crate) fn xfs_cksum(buf: &[u8], field: usize) -> u32 {
    let (head, rest) = buf.split_at(field.min(buf.len()));
    let tail = rest.get(4..).unwrap_or(&[]);
    let crc = update(!0, head);
    let crc = update(crc, &[0u8; 4]);
    !update(crc, tail)
}

/// The checksum stored at `field` of `buf`.
pub(crate) fn stored(buf: &[u8], field: usize) -> u32 {
    match buf.get(field..field + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C over "123456789".
        assert_eq!(!super::update(!0, b"123456789"), 0xe306_9283);
        // The four bytes of the checksum field count as zeros whatever they hold.
        let a = super::xfs_cksum(b"abcd\x01\x02\x03\x04efgh", 4);
        assert_eq!(a, super::xfs_cksum(b"abcd\0\0\0\0efgh", 4));
        assert_eq!(a, !super::update(!0, b"abcd\0\0\0\0efgh"));
    }
}
