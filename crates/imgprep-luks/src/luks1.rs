//! LUKS1: a fixed 592-byte big-endian header with eight PBKDF2 keyslots.

use std::sync::Arc;

use imgprep_io::ReadAt;
use zeroize::Zeroizing;

use crate::cipher::{Decrypted, Payload, SectorCipher, Spec};
use crate::hash::Hash;
use crate::{Error, Key, Limits, Passphrase, af, cstr, read_bytes, same, try_keyslots};

const SLOT_ACTIVE: u32 = 0x00ac_71f3;
const SLOT_DISABLED: u32 = 0x0000_dead;
/// Largest key material area read for one keyslot (cryptsetup's: 64-byte keys, 4000 stripes).
const MAX_MATERIAL: u64 = 4 << 20;

#[derive(Debug, Clone)]
struct Slot {
    active: bool,
    iterations: u32,
    salt: [u8; 32],
    /// In 512-byte sectors.
    material_offset: u32,
    stripes: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Luks1 {
    cipher_name: String,
    cipher_mode: String,
    hash_spec: String,
    /// In 512-byte sectors.
    payload_offset: u32,
    key_bytes: u32,
    mk_digest: [u8; 20],
    mk_digest_salt: [u8; 32],
    mk_digest_iter: u32,
    slots: Vec<Slot>,
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl Luks1 {
    pub(crate) fn read(dev: &dyn ReadAt) -> Result<Luks1, Error> {
        let mut h = [0u8; 592];
        dev.read_exact_at(0, &mut h)
            .map_err(|e| Error::io("LUKS1 header", 0, e))?;
        let mut slots = Vec::new();
        for i in 0..8 {
            let s = &h[208 + 48 * i..208 + 48 * (i + 1)];
            let state = be32(s, 0);
            if state != SLOT_ACTIVE && state != SLOT_DISABLED {
                return Err(Error::invalid(
                    format!("LUKS1 keyslot {i} state"),
                    (208 + 48 * i) as u64,
                    "0x00ac71f3 (active) or 0x0000dead (disabled)",
                    format!("{state:#010x}"),
                ));
            }
            let mut salt = [0u8; 32];
            salt.copy_from_slice(&s[8..40]);
            slots.push(Slot {
                active: state == SLOT_ACTIVE,
                iterations: be32(s, 4),
                salt,
                material_offset: be32(s, 40),
                stripes: be32(s, 44),
            });
        }
        let mut mk_digest = [0u8; 20];
        mk_digest.copy_from_slice(&h[112..132]);
        let mut mk_digest_salt = [0u8; 32];
        mk_digest_salt.copy_from_slice(&h[132..164]);
        Ok(Luks1 {
            cipher_name: cstr(&h[8..40]),
            cipher_mode: cstr(&h[40..72]),
            hash_spec: cstr(&h[72..104]),
            payload_offset: be32(&h, 104),
            key_bytes: be32(&h, 108),
            mk_digest,
            mk_digest_salt,
            mk_digest_iter: be32(&h, 164),
            slots,
        })
    }

    pub(crate) fn unlock(
        &self,
        dev: Arc<dyn ReadAt>,
        pass: &Passphrase,
        limits: &Limits,
    ) -> Result<Decrypted, Error> {
        let key_len = self.key_bytes as usize;
        let spec = Spec::parse(&self.cipher_name, &self.cipher_mode, key_len)?;
        let hash = Hash::parse(&self.hash_spec)?;
        if self.mk_digest_iter == 0 || self.mk_digest_iter > limits.pbkdf2_iterations {
            return Err(Error::invalid(
                "LUKS1 volume key digest iterations",
                164,
                format!("1..={}", limits.pbkdf2_iterations),
                self.mk_digest_iter,
            ));
        }
        let active = (0..8u32).filter(|&i| self.slots[i as usize].active);
        let (key, slot) = try_keyslots(active, |i| {
            let s = &self.slots[i as usize];
            Ok(self
                .open_slot(&*dev, i, s, pass, &spec, hash, limits)?
                .map(|k| (k, i)))
        })?;
        let payload = Payload {
            offset: u64::from(self.payload_offset) * 512,
            size: None,
            sector_size: 512,
            iv_tweak: 0,
            spec,
        };
        Decrypted::new(dev, &payload, &key, slot)
    }

    #[allow(clippy::too_many_arguments)]
    fn open_slot(
        &self,
        dev: &dyn ReadAt,
        index: u32,
        s: &Slot,
        pass: &Passphrase,
        spec: &Spec,
        hash: Hash,
        limits: &Limits,
    ) -> Result<Option<Key>, Error> {
        if s.iterations > limits.pbkdf2_iterations {
            return Err(Error::CostTooHigh {
                keyslot: index,
                what: "PBKDF2 iterations",
                cost: s.iterations.into(),
                limit: limits.pbkdf2_iterations.into(),
            });
        }
        let at = (208 + 48 * index) as u64;
        if s.iterations == 0 || s.stripes == 0 {
            return Err(Error::invalid(
                format!("LUKS1 keyslot {index}"),
                at,
                "iterations and stripes of at least 1",
                format!("{} iterations, {} stripes", s.iterations, s.stripes),
            ));
        }
        let key_len = self.key_bytes as usize;
        let len = u64::from(self.key_bytes) * u64::from(s.stripes);
        let area = len.div_ceil(512) * 512;
        let offset = u64::from(s.material_offset) * 512;
        let mut material = read_bytes(
            dev,
            offset,
            area,
            MAX_MATERIAL,
            &format!("LUKS1 keyslot {index} key material"),
        )?;
        let mut slot_key = Zeroizing::new(vec![0u8; key_len]);
        hash.pbkdf2(pass.bytes(), &s.salt, s.iterations, &mut slot_key);
        SectorCipher::new(spec, &slot_key).decrypt(&mut material, 512, 0);
        let key = af::merge(&material[..len as usize], key_len, s.stripes as usize, hash);
        let mut digest = [0u8; 20];
        hash.pbkdf2(&key, &self.mk_digest_salt, self.mk_digest_iter, &mut digest);
        Ok(same(&digest, &self.mk_digest).then_some(key))
    }
}
