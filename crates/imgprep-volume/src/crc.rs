//! CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320) in the two flavours disks use.

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// The raw table-driven update, without the pre- and post-inversion of the standard CRC-32.
pub(crate) fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The standard CRC-32 that GPT headers and entry arrays carry.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    !update(0xffff_ffff, data)
}

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
