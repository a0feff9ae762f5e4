//! The two CRC-32 variants on-disk formats use, table-driven, with the raw register update
//! exposed because formats chain and seed it differently (ext4 and jbd2 chain without the final
//! inversion, btrfs hashes names from seed `!1`, LVM2 seeds with `0xf597a6cf`).

const fn table(poly: u32) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CASTAGNOLI: [u32; 256] = table(0x82f6_3b78);
static IEEE: [u32; 256] = table(0xedb8_8320);

fn run(t: &[u32; 256], mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = t[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The CRC-32C (Castagnoli) register continued over `data`, with no inversion (the kernel's
/// `crc32c(seed, data)`).
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    run(&CASTAGNOLI, crc, data)
}

/// The standard CRC-32C of `data` (as in VHDX, btrfs, XFS v5, ext4 superblocks).
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

/// The CRC-32 (IEEE 802.3) register continued over `data`, with no inversion.
pub fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    run(&IEEE, crc, data)
}

/// The standard CRC-32 of `data` (as in GPT headers and partition arrays).
pub fn crc32(data: &[u8]) -> u32 {
    !crc32_update(!0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_values() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32c(b""), 0);
        let chained = crc32c_update(crc32c_update(!0, b"1234"), b"56789");
        assert_eq!(!chained, 0xe306_9283);
    }
}
