//! Sector ciphers of dm-crypt as LUKS names them, and the decrypted payload.

use std::fmt;
use std::io;
use std::sync::Arc;

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};
use imgprep_io::{ReadAt, check_range};
use xts_mode::Xts128;

use crate::Error;
use crate::hash::Hash;

/// How sectors are encrypted: the mode and how the IV comes from the sector number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// XTS, tweak = 64-bit little-endian sector number.
    XtsPlain64,
    /// XTS, tweak = low 32 bits of the sector number.
    XtsPlain,
    /// CBC, IV = AES-256 with key SHA-256(volume key) of the 64-bit sector number.
    CbcEssivSha256,
    /// CBC, IV = 64-bit little-endian sector number.
    CbcPlain64,
    /// CBC, IV = low 32 bits of the sector number.
    CbcPlain,
}

/// A cipher specification: `aes` with one of the modes, and the key length it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) mode: Mode,
    /// As LUKS2 spells it: `aes-xts-plain64`.
    pub(crate) name: String,
}

impl Spec {
    /// Parses `aes` and `xts-plain64` (LUKS1 keeps them apart), checking the key length.
    pub(crate) fn parse(cipher: &str, mode: &str, key_len: usize) -> Result<Spec, Error> {
        let name = format!("{cipher}-{mode}");
        if !cipher.eq_ignore_ascii_case("aes") {
            return Err(Error::Unsupported(format!("cipher {name:?} (only aes)")));
        }
        let mode = match mode {
            "xts-plain64" => Mode::XtsPlain64,
            "xts-plain" => Mode::XtsPlain,
            "cbc-essiv:sha256" => Mode::CbcEssivSha256,
            "cbc-plain64" => Mode::CbcPlain64,
            "cbc-plain" => Mode::CbcPlain,
            _ => return Err(Error::Unsupported(format!("cipher mode {name:?}"))),
        };
        let lens: &[usize] = match mode {
            Mode::XtsPlain64 | Mode::XtsPlain => &[32, 48, 64],
            _ => &[16, 24, 32],
        };
        if !lens.contains(&key_len) {
            return Err(Error::Unsupported(format!(
                "{name} with a {}-bit key",
                key_len * 8
            )));
        }
        Ok(Spec { mode, name })
    }

    /// `aes-xts-plain64` from the LUKS2 spelling.
    pub(crate) fn parse_joined(spec: &str, key_len: usize) -> Result<Spec, Error> {
        match spec.split_once('-') {
            Some((c, m)) => Spec::parse(c, m, key_len),
            None => Err(Error::Unsupported(format!("cipher {spec:?}"))),
        }
    }
}

enum Aes {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Aes {
        match key.len() {
            16 => Aes::A128(Aes128::new(GenericArray::from_slice(key))),
            24 => Aes::A192(Aes192::new(GenericArray::from_slice(key))),
            _ => Aes::A256(Aes256::new(GenericArray::from_slice(key))),
        }
    }

    fn decrypt(&self, b: &mut [u8; 16]) {
        let b = GenericArray::from_mut_slice(b);
        match self {
            Aes::A128(c) => c.decrypt_block(b),
            Aes::A192(c) => c.decrypt_block(b),
            Aes::A256(c) => c.decrypt_block(b),
        }
    }

    fn encrypt(&self, b: &mut [u8; 16]) {
        let b = GenericArray::from_mut_slice(b);
        match self {
            Aes::A128(c) => c.encrypt_block(b),
            Aes::A192(c) => c.encrypt_block(b),
            Aes::A256(c) => c.encrypt_block(b),
        }
    }
}

enum Engine {
    Xts128(Xts128<Aes128>),
    Xts192(Xts128<Aes192>),
    Xts256(Xts128<Aes256>),
    Cbc { aes: Aes, essiv: Option<Aes> },
}

/// A keyed sector cipher. Holds expanded AES keys only; the volume key itself is not kept.
pub(crate) struct SectorCipher {
    spec: Spec,
    engine: Engine,
}

impl SectorCipher {
    /// Keys `spec` with `key` (whose length [`Spec::parse`] checked).
    pub(crate) fn new(spec: &Spec, key: &[u8]) -> SectorCipher {
        let engine = match spec.mode {
            Mode::XtsPlain64 | Mode::XtsPlain => {
                let (k1, k2) = key.split_at(key.len() / 2);
                match k1.len() {
                    16 => Engine::Xts128(Xts128::new(
                        Aes128::new(GenericArray::from_slice(k1)),
                        Aes128::new(GenericArray::from_slice(k2)),
                    )),
                    24 => Engine::Xts192(Xts128::new(
                        Aes192::new(GenericArray::from_slice(k1)),
                        Aes192::new(GenericArray::from_slice(k2)),
                    )),
                    _ => Engine::Xts256(Xts128::new(
                        Aes256::new(GenericArray::from_slice(k1)),
                        Aes256::new(GenericArray::from_slice(k2)),
                    )),
                }
            }
            Mode::CbcEssivSha256 => Engine::Cbc {
                aes: Aes::new(key),
                essiv: Some(Aes::new(&Hash::Sha256.digest(&[key]))),
            },
            Mode::CbcPlain64 | Mode::CbcPlain => Engine::Cbc {
                aes: Aes::new(key),
                essiv: None,
            },
        };
        SectorCipher {
            spec: spec.clone(),
            engine,
        }
    }

    /// Decrypts `buf`, whole sectors of `sector_size` bytes whose IV numbers start at `iv`.
    pub(crate) fn decrypt(&self, buf: &mut [u8], sector_size: usize, iv: u64) {
        for (i, sector) in buf.chunks_exact_mut(sector_size).enumerate() {
            let n = iv.wrapping_add(i as u64);
            let n = match self.spec.mode {
                Mode::XtsPlain | Mode::CbcPlain => n & 0xffff_ffff,
                _ => n,
            };
            let mut tweak = [0u8; 16];
            tweak[..8].copy_from_slice(&n.to_le_bytes());
            match &self.engine {
                Engine::Xts128(x) => x.decrypt_sector(sector, tweak),
                Engine::Xts192(x) => x.decrypt_sector(sector, tweak),
                Engine::Xts256(x) => x.decrypt_sector(sector, tweak),
                Engine::Cbc { aes, essiv } => {
                    let mut prev = tweak;
                    if let Some(e) = essiv {
                        e.encrypt(&mut prev);
                    }
                    for block in sector.chunks_exact_mut(16) {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(block);
                        let cipher_text = b;
                        aes.decrypt(&mut b);
                        for (x, p) in b.iter_mut().zip(prev) {
                            *x ^= p;
                        }
                        block.copy_from_slice(&b);
                        prev = cipher_text;
                    }
                }
            }
        }
    }
}

/// The decrypted payload of an unlocked LUKS device, read sector by sector as dm-crypt does.
pub struct Decrypted {
    source: Arc<dyn ReadAt>,
    /// Byte offset of the payload on `source`.
    offset: u64,
    size: u64,
    sector_size: u64,
    /// Added to the 512-byte sector number before it becomes an IV (LUKS2 `iv_tweak`).
    iv_tweak: u64,
    cipher: SectorCipher,
    key_bits: usize,
    keyslot: u32,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("cipher", &self.cipher.spec.name)
            .field("key_bits", &self.key_bits)
            .field("offset", &self.offset)
            .field("size", &self.size)
            .field("sector_size", &self.sector_size)
            .field("keyslot", &self.keyslot)
            .finish()
    }
}

/// Where the payload is and how it is encrypted.
pub(crate) struct Payload {
    pub(crate) offset: u64,
    /// `None`: to the end of the device.
    pub(crate) size: Option<u64>,
    pub(crate) sector_size: u64,
    pub(crate) iv_tweak: u64,
    pub(crate) spec: Spec,
}

impl Decrypted {
    pub(crate) fn new(
        source: Arc<dyn ReadAt>,
        payload: &Payload,
        key: &[u8],
        keyslot: u32,
    ) -> Result<Decrypted, Error> {
        let dev_size = source.size();
        let avail = dev_size.checked_sub(payload.offset).ok_or_else(|| {
            Error::invalid(
                "LUKS payload offset",
                0,
                format!("inside the device ({dev_size:#x} bytes)"),
                format!("{:#x}", payload.offset),
            )
        })?;
        let size = match payload.size {
            Some(s) if s <= avail => s,
            Some(s) => {
                return Err(Error::invalid(
                    "LUKS payload size",
                    0,
                    format!("at most the {avail:#x} bytes after its offset"),
                    format!("{s:#x}"),
                ));
            }
            None => avail,
        };
        let ss = payload.sector_size;
        Ok(Decrypted {
            source,
            offset: payload.offset,
            size: size / ss * ss,
            sector_size: ss,
            iv_tweak: payload.iv_tweak,
            cipher: SectorCipher::new(&payload.spec, key),
            key_bits: key.len() * 8,
            keyslot,
        })
    }

    /// The cipher as LUKS2 spells it, e.g. `aes-xts-plain64`.
    pub fn cipher(&self) -> &str {
        &self.cipher.spec.name
    }

    /// The keyslot the passphrase opened.
    pub fn keyslot(&self) -> u32 {
        self.keyslot
    }

    /// Byte offset of the encrypted payload on the LUKS device.
    pub fn payload_offset(&self) -> u64 {
        self.offset
    }
}

impl ReadAt for Decrypted {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.size)?;
        if buf.is_empty() {
            return Ok(());
        }
        let ss = self.sector_size;
        let start = offset / ss * ss;
        // Inside the payload, which is whole sectors.
        let end = (offset + buf.len() as u64).div_ceil(ss) * ss;
        let mut tmp = vec![0u8; (end - start) as usize];
        self.source.read_exact_at(self.offset + start, &mut tmp)?;
        // dm-crypt numbers IVs in 512-byte units (plus the tweak), whatever the sector size.
        for (k, sector) in tmp.chunks_exact_mut(ss as usize).enumerate() {
            let iv = ((start + k as u64 * ss) / 512).wrapping_add(self.iv_tweak);
            self.cipher.decrypt(sector, ss as usize, iv);
        }
        let skip = (offset - start) as usize;
        buf.copy_from_slice(&tmp[skip..skip + buf.len()]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn xts_matches_ieee_1619_vector_4() {
        // IEEE P1619 XTS-AES-128 vector 4 (data unit 0, 512 bytes of 00..ff twice).
        let key = hex("2718281828459045235360287471352631415926535897932384626433832795");
        let spec = Spec::parse("aes", "xts-plain64", 32).unwrap();
        let c = SectorCipher::new(&spec, &key);
        let expected_start =
            hex("27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c");
        let mut ct = Vec::new();
        // Encrypt with the crate, then check decryption returns the plain text and the known
        // cipher text prefix.
        let plain: Vec<u8> = (0..512).map(|i| i as u8).collect();
        {
            let (k1, k2) = key.split_at(16);
            let x = Xts128::new(
                Aes128::new(GenericArray::from_slice(k1)),
                Aes128::new(GenericArray::from_slice(k2)),
            );
            ct.extend_from_slice(&plain);
            x.encrypt_sector(&mut ct, [0u8; 16]);
        }
        assert_eq!(&ct[..32], &expected_start[..]);
        c.decrypt(&mut ct, 512, 0);
        assert_eq!(ct, plain);
    }

    #[test]
    fn cbc_essiv_iv_is_the_encrypted_sector_number() {
        let key = [7u8; 32];
        let spec = Spec::parse("aes", "cbc-essiv:sha256", 32).unwrap();
        let c = SectorCipher::new(&spec, &key);
        // One sector of zeros encrypted by hand: C1 = E(P1 ^ IV), IV = E_s(sector 5).
        let aes = Aes::new(&key);
        let essiv = Aes::new(&Hash::Sha256.digest(&[&key]));
        let mut iv = [0u8; 16];
        iv[0] = 5;
        essiv.encrypt(&mut iv);
        let mut sector = Vec::new();
        let mut prev = iv;
        for _ in 0..32 {
            let mut b = prev; // plain text zero ^ prev
            aes.encrypt(&mut b);
            sector.extend_from_slice(&b);
            prev = b;
        }
        c.decrypt(&mut sector, 512, 5);
        assert_eq!(sector, vec![0u8; 512]);
    }

    #[test]
    fn specs() {
        assert!(Spec::parse("aes", "xts-plain64", 64).is_ok());
        assert!(Spec::parse("aes", "xts-plain64", 16).is_err());
        assert!(Spec::parse("serpent", "xts-plain64", 64).is_err());
        assert!(Spec::parse("aes", "cbc-essiv:sha1", 32).is_err());
        assert_eq!(
            Spec::parse_joined("aes-cbc-essiv:sha256", 16).unwrap().mode,
            Mode::CbcEssivSha256
        );
    }
}
