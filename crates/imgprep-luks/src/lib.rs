//! LUKS1 and LUKS2 encrypted devices: their headers, unlocking a keyslot with a passphrase, and
//! the decrypted payload as a [`ReadAt`].
//!
//! [`probe`] reads the header (LUKS2: the binary header, its SHA-256 checksum and the JSON
//! metadata, falling back to the secondary copy). [`unlock`] derives each keyslot's key from
//! the passphrase (PBKDF2 with SHA-1/SHA-256/SHA-512, Argon2i/Argon2id), decrypts the keyslot
//! area, merges the anti-forensic stripes, and accepts the volume key only when it matches the
//! header's digest (LUKS1 `mk_digest`, LUKS2 digest object). [`Decrypted`] then reads the payload
//! sector by sector: AES in XTS (`xts-plain64`, `xts-plain`) or CBC (`cbc-essiv:sha256`,
//! `cbc-plain64`, `cbc-plain`) mode, 512- or 4096-byte sectors.
//!
//! Key derivation costs come from the header, so they are capped ([`Limits`]): a keyslot above
//! the caps is refused by name, never run. The passphrase and the volume key are wiped from
//! memory when dropped and never appear in `Debug` output or errors.
//!
//! This crate does not write, does not support detached headers, LUKS2 reencryption in progress,
//! integrity (dm-integrity) segments, or token-based unlocking (TPM, FIDO2, clevis). It knows
//! nothing of partitions or LVM: it is handed the device that starts with the header.
#![forbid(unsafe_code)]

mod af;
mod cipher;
mod hash;
mod luks1;
mod luks2;

use std::fmt;
use std::io;
use std::sync::Arc;

use imgprep_io::ReadAt;
use zeroize::Zeroizing;

pub use cipher::Decrypted;

/// Why a LUKS header could not be read or a device could not be unlocked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the device failed.
    #[error("reading {what} at {offset:#x}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// Device offset.
        offset: u64,
        /// The device's error.
        #[source]
        source: io::Error,
    },
    /// A header field holds a value it cannot have.
    #[error("{what} at {offset:#x}: expected {expected}, found {found}")]
    Invalid {
        /// The structure and field.
        what: String,
        /// Device offset of the structure.
        offset: u64,
        /// What a valid header has there.
        expected: String,
        /// What is there.
        found: String,
    },
    /// A cipher, hash, KDF or feature this crate does not implement.
    #[error("unsupported LUKS feature: {0}")]
    Unsupported(String),
    /// A keyslot's key derivation costs more than the limits allow.
    #[error("keyslot {keyslot}: {what} {cost} is above the limit of {limit}; not tried")]
    CostTooHigh {
        /// The keyslot number.
        keyslot: u32,
        /// The cost parameter (e.g. "argon2id memory (KiB)").
        what: &'static str,
        /// Its value in the header.
        cost: u64,
        /// The limit.
        limit: u64,
    },
    /// No keyslot opens with the passphrase given.
    #[error("the passphrase opens none of the {tried} active keyslots")]
    WrongPassphrase {
        /// How many keyslots were tried.
        tried: usize,
    },
}

impl Error {
    pub(crate) fn invalid(
        what: impl Into<String>,
        offset: u64,
        expected: impl Into<String>,
        found: impl fmt::Display,
    ) -> Error {
        Error::Invalid {
            what: what.into(),
            offset,
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    pub(crate) fn io(what: impl Into<String>, offset: u64, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            offset,
            source,
        }
    }
}

/// A passphrase: its bytes are wiped when dropped and never shown by `Debug`.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// A passphrase of these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Passphrase {
        Passphrase(Zeroizing::new(bytes.into()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for Passphrase {
    /// Compares without an early exit.
    fn eq(&self, other: &Passphrase) -> bool {
        same(&self.0, &other.0)
    }
}

impl Eq for Passphrase {}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Caps on the key-derivation costs a header may ask for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most memory one Argon2 derivation may use, in KiB.
    pub argon2_memory_kib: u32,
    /// Most Argon2 passes.
    pub argon2_passes: u32,
    /// Most PBKDF2 iterations (keyslots and digests).
    pub pbkdf2_iterations: u32,
}

impl Default for Limits {
    /// 1 GiB of Argon2 memory (cryptsetup's own default maximum, so headers made with default
    /// settings open), 64 Argon2 passes, 2^26 PBKDF2 iterations (about 30 s of SHA-256).
    fn default() -> Limits {
        Limits {
            argon2_memory_kib: 1 << 20,
            argon2_passes: 64,
            pbkdf2_iterations: 1 << 26,
        }
    }
}

/// What a LUKS header says about itself at first sight (what blkid reports); [`unlock`] reads
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 1 or 2.
    pub version: u16,
    /// The UUID as `cryptsetup luksUUID` and blkid print it.
    pub uuid: String,
    /// LUKS2 label (empty for LUKS1 and unlabelled LUKS2).
    pub label: String,
}

const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";

/// A NUL-terminated string field.
pub(crate) fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Reads the LUKS magic, version, UUID and label at the start of `dev`, as blkid does:
/// `Ok(None)` when there is no LUKS magic. The rest of the header is checked by [`unlock`].
pub fn probe(dev: &dyn ReadAt) -> Result<Option<Header>, Error> {
    let mut h = [0u8; 208];
    if dev.size() < 592 {
        return Ok(None);
    }
    dev.read_exact_at(0, &mut h)
        .map_err(|e| Error::io("LUKS header", 0, e))?;
    if &h[..6] != MAGIC {
        return Ok(None);
    }
    let version = u16::from_be_bytes([h[6], h[7]]);
    if version != 1 && version != 2 {
        return Err(Error::invalid("LUKS header version", 6, "1 or 2", version));
    }
    Ok(Some(Header {
        version,
        uuid: cstr(&h[168..208]),
        label: if version == 2 {
            cstr(&h[24..72])
        } else {
            String::new()
        },
    }))
}

/// The volume key is wiped when dropped.
pub(crate) type Key = Zeroizing<Vec<u8>>;

/// Reads the whole header of `dev` (which [`probe`] found to be `header`), unlocks it with
/// `pass`, trying every active keyslot in order, and returns its decrypted payload.
pub fn unlock(
    dev: Arc<dyn ReadAt>,
    header: &Header,
    pass: &Passphrase,
    limits: &Limits,
) -> Result<Decrypted, Error> {
    match header.version {
        1 => luks1::Luks1::read(&*dev)?.unlock(dev, pass, limits),
        _ => luks2::Luks2::read(&*dev)?.unlock(dev, pass, limits),
    }
}

/// Outcome of trying every keyslot: the first that opens, or why none did. A keyslot refused
/// for its cost is reported when no other opens, since a user cannot tell it from a wrong key.
pub(crate) fn try_keyslots<T>(
    slots: impl IntoIterator<Item = u32>,
    mut attempt: impl FnMut(u32) -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let mut tried = 0usize;
    let mut refused = None;
    for slot in slots {
        match attempt(slot) {
            Ok(Some(t)) => return Ok(t),
            Ok(None) => tried += 1,
            Err(e @ Error::CostTooHigh { .. }) => {
                refused.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    match refused {
        Some(e) => Err(e),
        None => Err(Error::WrongPassphrase { tried }),
    }
}

/// Reads `len` bytes at `offset`, refusing more than `limit`.
pub(crate) fn read_bytes(
    dev: &dyn ReadAt,
    offset: u64,
    len: u64,
    limit: u64,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if len > limit {
        return Err(Error::invalid(
            format!("{what} length"),
            offset,
            format!("at most {limit} bytes"),
            len,
        ));
    }
    let mut buf = Zeroizing::new(vec![0u8; len as usize]);
    dev.read_exact_at(offset, &mut buf)
        .map_err(|e| Error::io(what, offset, e))?;
    Ok(buf)
}

/// Compares two byte strings without an early exit.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_debug_hides_the_bytes() {
        let p = Passphrase::new("hunter2-secret");
        let shown = format!("{p:?} {:#?}", p);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn no_magic_is_not_luks() {
        assert!(probe(&vec![0u8; 4096]).unwrap().is_none());
        assert!(probe(&vec![0u8; 10]).unwrap().is_none());
    }

    #[test]
    fn unknown_version_is_refused() {
        let mut h = vec![0u8; 4096];
        h[..6].copy_from_slice(MAGIC);
        h[7] = 3;
        let e = probe(&h).unwrap_err().to_string();
        assert!(e.contains("version") && e.contains('3'), "{e}");
    }
}
