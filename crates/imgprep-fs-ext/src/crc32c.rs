//! CRC-32C (Castagnoli), the checksum of ext4 metadata and of the jbd2 journal.
//!
//! `crc32c(seed, data)` runs the reflected CRC register from `seed` without the final inversion,
//! which is how ext4 and jbd2 chain it (`ext4_chksum`, `jbd2_chksum`).

const POLY: u32 = 0x82f6_3b78;

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// Continues the CRC-32C register `crc` over `data`.
pub(crate) fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_check_value() {
        // The CRC-32C check value of "123456789" (with the usual pre- and post-inversion).
        assert_eq!(!crc32c(!0, b"123456789"), 0xe306_9283);
    }
}
