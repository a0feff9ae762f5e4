//! CRC-32C (Castagnoli), as btrfs uses it for checksums and directory name hashes.

const fn table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = table();

/// The raw CRC register update, without the initial and final inversions (the kernel's
/// `crc32c(seed, data)`).
pub(crate) fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The standard CRC-32C of `data`, as stored in btrfs checksum fields.
pub(crate) fn checksum(data: &[u8]) -> u32 {
    !update(!0, data)
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
