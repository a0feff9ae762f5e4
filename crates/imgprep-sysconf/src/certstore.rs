//! Windows certificate stores in the registry: the machine ROOT store and its siblings in the
//! SOFTWARE hive, each certificate a key named by its SHA-1 thumbprint holding a `Blob` value,
//! and the edit that adds a trusted root the way Windows stores one.
//!
//! A `Blob` is a serialized certificate store element (the format of
//! `CertSerializeCertificateStoreElement`, and of the entries of MS-OSHARED's serialized
//! certificate store, section 2.3.2.5): a run of properties, each a 12-byte little-endian header
//! `u32 property id, u32 encoding type (always 1), u32 length` followed by `length` bytes, the
//! certificate itself being property 0x20 (`CERT_CERT_PROP_ID`, DER), written last. A property id
//! of 0 ends the list early (the end marker of a serialized store). Windows adds cached
//! properties (hashes, key identifiers) beside the certificate; a root imported with certutil
//! carries at least the SHA-1 hash (property 0x03) and the certificate.

use imgprep_guest::Guest;
use imgprep_registry::{Data, Hive};
use sha1::{Digest, Sha1};

use crate::Error;
use crate::ops::{FileOp, RegValue};
use crate::registry;

/// `CERT_SHA1_HASH_PROP_ID`: the SHA-1 hash of the DER certificate (its thumbprint).
pub const SHA1_HASH_PROP_ID: u32 = 0x03;
/// `CERT_CERT_PROP_ID`: the DER certificate.
pub const CERT_PROP_ID: u32 = 0x20;
/// Largest Blob parsed (the largest certificates are a few KiB).
pub const MAX_BLOB: usize = 1 << 20;
/// Most properties one Blob may hold (Windows writes fewer than twenty).
pub const MAX_PROPERTIES: usize = 256;
/// Most certificates read from one store key.
pub const MAX_STORE_KEYS: usize = 10_000;

/// The stores of the SOFTWARE hive whose certificates Windows trusts as roots for every user of
/// the machine, with a label for reports.
pub const ROOT_STORES: [(&str, &str); 3] = [
    (
        r"Microsoft\SystemCertificates\ROOT\Certificates",
        "machine Trusted Root Certification Authorities",
    ),
    (
        r"Policies\Microsoft\SystemCertificates\Root\Certificates",
        "Group Policy Trusted Root Certification Authorities",
    ),
    (
        r"Microsoft\SystemCertificates\AuthRoot\Certificates",
        "third-party Trusted Root Certification Authorities",
    ),
];

/// The store `prepare` adds roots to: the machine ROOT store (what `certutil -addstore root`
/// and `Import-Certificate -CertStoreLocation Cert:\LocalMachine\Root` write).
pub const MACHINE_ROOT: &str = r"Microsoft\SystemCertificates\ROOT\Certificates";

/// One property of a serialized certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property id (`CERT_*_PROP_ID`).
    pub id: u32,
    /// Its data.
    pub data: Vec<u8>,
}

/// A parsed `Blob`: its properties in order, exactly one of them the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Every property, the certificate (0x20) included.
    pub properties: Vec<Property>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn bad(offset: usize, expected: impl Into<String>, found: impl Into<String>) -> Error {
    Error::Format {
        what: "serialized certificate (registry Blob)".into(),
        offset: offset as u64,
        expected: expected.into(),
        found: found.into(),
    }
}

impl Blob {
    /// Parses a serialized certificate. Lengths are checked against the bytes that are there
    /// before anything is copied; errors name the offset, what was expected and what was found.
    pub fn parse(b: &[u8]) -> Result<Blob, Error> {
        if b.len() > MAX_BLOB {
            return Err(bad(
                0,
                format!("at most {MAX_BLOB} bytes"),
                format!("{} bytes", b.len()),
            ));
        }
        let mut properties: Vec<Property> = Vec::new();
        let mut at = 0usize;
        while at < b.len() {
            let rest = b.len() - at;
            if rest < 12 {
                return Err(bad(
                    at,
                    "a 12-byte property header",
                    format!("{rest} bytes left"),
                ));
            }
            let id = u32_at(b, at);
            if id == 0 {
                // The end marker of a serialized store.
                break;
            }
            let encoding = u32_at(b, at + 4);
            if encoding != 1 {
                return Err(bad(
                    at + 4,
                    format!("encoding type 1 for property {id:#x}"),
                    format!("{encoding}"),
                ));
            }
            let len = u32_at(b, at + 8) as usize;
            if len > rest - 12 {
                return Err(bad(
                    at + 8,
                    format!(
                        "a length of at most {} bytes for property {id:#x}",
                        rest - 12
                    ),
                    format!("{len}"),
                ));
            }
            if id == CERT_PROP_ID && properties.iter().any(|p| p.id == CERT_PROP_ID) {
                return Err(bad(at, "one certificate (property 0x20)", "a second one"));
            }
            if properties.len() >= MAX_PROPERTIES {
                return Err(bad(
                    at,
                    format!("at most {MAX_PROPERTIES} properties"),
                    "more",
                ));
            }
            properties.push(Property {
                id,
                data: b[at + 12..at + 12 + len].to_vec(),
            });
            at += 12 + len;
        }
        if !properties.iter().any(|p| p.id == CERT_PROP_ID) {
            return Err(bad(
                at,
                "a certificate (property 0x20)",
                format!(
                    "none among {} propert{}",
                    properties.len(),
                    if properties.len() == 1 { "y" } else { "ies" }
                ),
            ));
        }
        Ok(Blob { properties })
    }

    /// The DER certificate.
    pub fn certificate(&self) -> &[u8] {
        self.properties
            .iter()
            .find(|p| p.id == CERT_PROP_ID)
            .map_or(&[][..], |p| p.data.as_slice())
    }

    /// The data of property `id`, when present.
    pub fn property(&self, id: u32) -> Option<&[u8]> {
        self.properties
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.data.as_slice())
    }

    /// The Blob Windows writes for a root certificate `der` imported into a store: the SHA-1
    /// hash property, then the certificate.
    pub fn for_certificate(der: &[u8]) -> Blob {
        Blob {
            properties: vec![
                Property {
                    id: SHA1_HASH_PROP_ID,
                    data: Sha1::digest(der).to_vec(),
                },
                Property {
                    id: CERT_PROP_ID,
                    data: der.to_vec(),
                },
            ],
        }
    }

    /// The serialized bytes: each property with its header, in order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.properties {
            out.extend_from_slice(&p.id.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
            out.extend_from_slice(&p.data);
        }
        out
    }
}

/// The thumbprint of a DER certificate as Windows names its store key: the SHA-1 of the DER,
/// upper-case hex.
pub fn thumbprint(der: &[u8]) -> String {
    Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// One key of a store: its name and what its `Blob` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEntry {
    /// The key's full path below the hive root.
    pub key: String,
    /// The key's name (a thumbprint, when Windows wrote it).
    pub name: String,
    /// The parsed Blob, or why it could not be read.
    pub blob: Result<Blob, String>,
}

impl StoreEntry {
    /// The thumbprint of the certificate the Blob holds.
    pub fn blob_thumbprint(&self) -> Option<String> {
        self.blob.as_ref().ok().map(|b| thumbprint(b.certificate()))
    }

    /// True when the key is named after the certificate its Blob holds, as Windows names it.
    pub fn name_matches(&self) -> bool {
        self.blob_thumbprint()
            .is_some_and(|t| t.eq_ignore_ascii_case(&self.name))
    }
}

/// The certificates of the store at `store_key` of a SOFTWARE hive (none when the key does not
/// exist); at most [`MAX_STORE_KEYS`] keys are read.
pub fn store_entries(software: &Hive, store_key: &str) -> Result<Vec<StoreEntry>, String> {
    let Some(store) = software
        .open(store_key)
        .map_err(|e| format!("{store_key}: {e}"))?
    else {
        return Ok(Vec::new());
    };
    let keys = store.subkeys().map_err(|e| format!("{store_key}: {e}"))?;
    let mut out = Vec::new();
    for k in keys.into_iter().take(MAX_STORE_KEYS) {
        let name = k.name();
        let key = format!("{store_key}\\{name}");
        let blob = match k.value("Blob") {
            Err(e) => Err(format!("{key}\\Blob: {e}")),
            Ok(None) => Err(format!("{key} has no Blob value")),
            Ok(Some(v)) => match v.data() {
                Ok(Data::Binary(b)) => Blob::parse(&b).map_err(|e| e.to_string()),
                Ok(other) => Err(format!(
                    "{key}\\Blob is {}, not REG_BINARY",
                    registry::data_text(&other)
                )),
                Err(e) => Err(format!("{key}\\Blob: {e}")),
            },
        };
        out.push(StoreEntry { key, name, blob });
    }
    Ok(out)
}

/// Adds the certificates in `cert` (PEM or DER, one or more) to the machine ROOT store of the
/// SOFTWARE hive under `systemroot`: for each, the key `ROOT\Certificates\THUMBPRINT` with the
/// `Blob` Windows writes ([`Blob::for_certificate`]); none for a certificate already stored
/// exactly so.
pub fn add_root(g: &dyn Guest, systemroot: &str, cert: &[u8]) -> Result<Vec<FileOp>, Error> {
    let ders = crate::trust::certificates(cert);
    if ders.is_empty() {
        return Err(Error::Invalid {
            what: "CA certificate".into(),
            why: "holds no PEM or DER certificate".into(),
        });
    }
    let mut ops = Vec::new();
    for der in &ders {
        let key = format!("{MACHINE_ROOT}\\{}", thumbprint(der));
        let blob = Blob::for_certificate(der).to_bytes();
        ops.extend(registry::set(
            g,
            systemroot,
            "SOFTWARE",
            &key,
            "Blob",
            RegValue::Binary(blob),
        )?);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(id: u32, enc: u32, len: u32) -> Vec<u8> {
        [id, enc, len]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    const DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];

    #[test]
    fn a_blob_built_for_a_certificate_parses_back() {
        let blob = Blob::for_certificate(DER);
        let bytes = blob.to_bytes();
        // SHA-1 property (12 + 20 bytes), then the certificate (12 + 5).
        assert_eq!(bytes.len(), 32 + 17);
        assert_eq!(&bytes[..12], header(3, 1, 20).as_slice());
        assert_eq!(&bytes[32..44], header(0x20, 1, 5).as_slice());
        let back = Blob::parse(&bytes).unwrap();
        assert_eq!(back, blob);
        assert_eq!(back.certificate(), DER);
        assert_eq!(
            back.property(SHA1_HASH_PROP_ID).unwrap(),
            Sha1::digest(DER).as_slice()
        );
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn thumbprints_are_upper_case_sha1() {
        // SHA-1 of the empty string.
        assert_eq!(thumbprint(b""), "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
    }

    #[test]
    fn properties_before_and_an_end_marker_after_the_certificate() {
        let mut b = header(0x0b, 1, 2);
        b.extend([b'h', 0]);
        b.extend(header(0x20, 1, 5));
        b.extend(DER);
        b.extend(header(0, 0, 0));
        b.extend([0xff; 7]);
        let blob = Blob::parse(&b).unwrap();
        assert_eq!(blob.properties.len(), 2);
        assert_eq!(blob.property(0x0b), Some(&b"h\0"[..]));
        assert_eq!(blob.certificate(), DER);
    }

    fn err(b: &[u8]) -> String {
        Blob::parse(b).unwrap_err().to_string()
    }

    #[test]
    fn truncated_and_lying_blobs_say_where() {
        let good = Blob::for_certificate(DER).to_bytes();
        // A header cut short.
        assert_eq!(
            err(&good[..40]),
            "serialized certificate (registry Blob) at offset 0x20: expected a 12-byte property \
             header, found 8 bytes left"
        );
        // The certificate's length runs past the end.
        assert_eq!(
            err(&good[..good.len() - 1]),
            "serialized certificate (registry Blob) at offset 0x28: expected a length of at most \
             4 bytes for property 0x20, found 5"
        );
        // A length near u32::MAX.
        let mut lying = header(3, 1, u32::MAX);
        lying.extend([0; 20]);
        assert!(err(&lying).contains("at offset 0x8: expected a length of at most 20 bytes"));
        // A wrong encoding type.
        let mut enc = good.clone();
        enc[36] = 2;
        assert_eq!(
            err(&enc),
            "serialized certificate (registry Blob) at offset 0x24: expected encoding type 1 for \
             property 0x20, found 2"
        );
        // No certificate at all.
        assert_eq!(
            err(&good[..32]),
            "serialized certificate (registry Blob) at offset 0x20: expected a certificate \
             (property 0x20), found none among 1 property"
        );
        assert!(err(b"").contains("found none among 0 properties"));
        // Two certificates.
        let mut two = good.clone();
        two.extend_from_slice(&good[32..]);
        assert!(err(&two).contains("at offset 0x31: expected one certificate"));
        // Too many properties.
        let many: Vec<u8> = (0..=MAX_PROPERTIES).flat_map(|_| header(4, 1, 0)).collect();
        assert!(err(&many).contains("expected at most 256 properties"));
    }
}
