//! CRC-32C (Castagnoli), the checksum of ext4 metadata and of the jbd2 journal.
//!
//! `crc32c(seed, data)` runs the reflected CRC register from `seed` without the final inversion,
//! which is how ext4 and jbd2 chain it (`ext4_chksum`, `jbd2_chksum`).

/// Continues the CRC-32C register `crc` over `data`.
pub(crate) use imgprep_io::crc::crc32c_update as crc32c;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_check_value() {
        // The CRC-32C check value of "123456789" (with the usual pre- and post-inversion).
        assert_eq!(!crc32c(!0, b"123456789"), 0xe306_9283);
    }
}
