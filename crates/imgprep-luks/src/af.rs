//! The anti-forensic splitter's merge (cryptsetup `AF_merge`): the volume key is spread over
//! `stripes` blocks so that wiping part of a keyslot destroys it.

use zeroize::Zeroizing;

use crate::hash::Hash;

/// Replaces `buf` by its diffusion: each hash-sized piece `i` becomes `hash(be32(i) || piece)`,
/// a shorter last piece takes the first bytes of its hash.
fn diffuse(buf: &mut [u8], hash: Hash) {
    let n = hash.len();
    for (i, piece) in buf.chunks_mut(n).enumerate() {
        let d = hash.digest(&[&(i as u32).to_be_bytes(), piece]);
        let len = piece.len();
        piece.copy_from_slice(&d[..len]);
    }
}

/// Merges `material` (`stripes` blocks of `key_len` bytes) into the key it was split from.
/// The caller checks `material.len() == key_len * stripes` and `stripes >= 1`.
pub(crate) fn merge(
    material: &[u8],
    key_len: usize,
    stripes: usize,
    hash: Hash,
) -> Zeroizing<Vec<u8>> {
    let mut acc = Zeroizing::new(vec![0u8; key_len]);
    for block in material.chunks_exact(key_len).take(stripes - 1) {
        for (a, b) in acc.iter_mut().zip(block) {
            *a ^= b;
        }
        diffuse(&mut acc, hash);
    }
    let last = &material[(stripes - 1) * key_len..stripes * key_len];
    for (a, b) in acc.iter_mut().zip(last) {
        *a ^= b;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cryptsetup's AF_split with a chosen "random" stream, written from its definition.
    fn split(key: &[u8], stripes: usize, hash: Hash, random: &mut impl FnMut() -> u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut acc = vec![0u8; key.len()];
        for _ in 0..stripes - 1 {
            let block: Vec<u8> = (0..key.len()).map(|_| random()).collect();
            for (a, b) in acc.iter_mut().zip(&block) {
                *a ^= b;
            }
            diffuse(&mut acc, hash);
            out.extend(block);
        }
        out.extend(acc.iter().zip(key).map(|(a, k)| a ^ k));
        out
    }

    #[test]
    fn merge_undoes_split() {
        let mut seed = 7u8;
        let mut random = || {
            seed = seed.wrapping_mul(31).wrapping_add(11);
            seed
        };
        for (hash, key_len) in [(Hash::Sha1, 32), (Hash::Sha256, 64), (Hash::Sha512, 48)] {
            let key: Vec<u8> = (0..key_len as u8).collect();
            for stripes in [1, 2, 4000] {
                let m = split(&key, stripes, hash, &mut random);
                assert_eq!(merge(&m, key_len, stripes, hash).to_vec(), key);
            }
        }
    }

    #[test]
    fn diffusion_pads_a_short_last_piece() {
        // 20-byte hash over a 32-byte key: one whole piece and a 12-byte one.
        let mut b = [1u8; 32];
        diffuse(&mut b, Hash::Sha1);
        let second = Hash::Sha1.digest(&[&1u32.to_be_bytes(), &[1u8; 12]]);
        assert_eq!(&b[20..], &second[..12]);
    }
}
