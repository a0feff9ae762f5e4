//! CRC-32C (Castagnoli), as btrfs uses it for checksums and directory name hashes.

use imgprep_io::crc::{crc32c, crc32c_update as update};

/// The standard CRC-32C of `data`, as stored in btrfs checksum fields.
pub(crate) fn checksum(data: &[u8]) -> u32 {
    crc32c(data)
}

/// The hash btrfs keys DIR_ITEM entries with.
pub(crate) fn name_hash(name: &[u8]) -> u64 {
    u64::from(update(!1, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_check_value() {
        assert_eq!(checksum(b"123456789"), 0xe306_9283);
        assert_eq!(checksum(b""), 0);
    }
}
