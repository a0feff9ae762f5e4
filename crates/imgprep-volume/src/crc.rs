//! CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320) in the two flavours disks use.

pub(crate) use imgprep_io::crc::{crc32, crc32_update as update};

/// LVM2's seed for label, metadata-area header and metadata text checksums.
pub(crate) const LVM_INITIAL: u32 = 0xf597_a6cf;

/// LVM2's checksum: the raw update from [`LVM_INITIAL`], no inversion.
pub(crate) fn lvm(data: &[u8]) -> u32 {
    update(LVM_INITIAL, data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn standard_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
    }
}
