//! The EDK2 (OVMF) HTTPS boot CA list `update-ca-trust extract` writes on EL8 and later
//! (`/etc/pki/ca-trust/extracted/edk2/cacerts.bin`, p11-kit's edk2-cacerts extractor): a
//! sequence of UEFI `EFI_SIGNATURE_LIST`s (UEFI 2.7, 31.4.1), one per certificate, each of type
//! `EFI_CERT_X509_GUID` with an empty header and one `EFI_SIGNATURE_DATA` (owner GUID, then the
//! DER certificate). All fields little-endian.
//!
//! ```text
//! SignatureType GUID | SignatureListSize u32 | SignatureHeaderSize u32 | SignatureSize u32
//! SignatureHeader (SignatureHeaderSize bytes)
//! (SignatureListSize - 28 - SignatureHeaderSize) / SignatureSize signatures:
//!     SignatureOwner GUID | SignatureData (SignatureSize - 16 bytes)
//! ```

use crate::Error;

/// The list `update-ca-trust extract` writes (`--format=edk2-cacerts --filter=ca-anchors
/// --purpose=server-auth`).
pub const CACERTS: &str = "/etc/pki/ca-trust/extracted/edk2/cacerts.bin";

/// `EFI_CERT_X509_GUID` (a5c059a1-94e4-4aa7-87b5-ab155c2bf072) as stored.
pub const CERT_X509: [u8; 16] = [
    0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72,
];

/// The owner GUID p11-kit writes (dcdd3b50-f405-43fd-96be-bd33b1734776) as stored.
pub const OWNER: [u8; 16] = [
    0x50, 0x3b, 0xdd, 0xdc, 0x05, 0xf4, 0xfd, 0x43, 0x96, 0xbe, 0xbd, 0x33, 0xb1, 0x73, 0x47, 0x76,
];

const LIST_HEADER: usize = 16 + 4 + 4 + 4;

/// One signature list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureList<'a> {
    /// Byte offset of the list.
    pub offset: u64,
    /// Its signature type GUID, as stored.
    pub kind: [u8; 16],
    /// Each signature: owner GUID and data.
    pub signatures: Vec<([u8; 16], &'a [u8])>,
}

/// Reads the signature lists of `data`; `path` names the file in errors. Every size is checked
/// against the bytes left before it is used.
pub fn parse<'a>(path: &str, data: &'a [u8]) -> Result<Vec<SignatureList<'a>>, Error> {
    let err = |offset: usize, why: String| Error::Malformed {
        path: path.to_owned(),
        offset: offset as u64,
        why,
    };
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let guid = |b: &[u8]| -> [u8; 16] {
        let mut g = [0; 16];
        g.copy_from_slice(&b[..16]);
        g
    };
    let mut lists = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        if rest.len() < LIST_HEADER {
            return Err(err(
                pos,
                format!(
                    "signature list header: {LIST_HEADER} bytes run past the end of the file ({} left)",
                    rest.len()
                ),
            ));
        }
        let list_size = u32_at(rest, 16) as usize;
        let header_size = u32_at(rest, 20) as usize;
        let sig_size = u32_at(rest, 24) as usize;
        if list_size > rest.len() {
            return Err(err(
                pos + 16,
                format!(
                    "signature list size {list_size} runs past the end of the file ({} left)",
                    rest.len()
                ),
            ));
        }
        let body = list_size
            .checked_sub(LIST_HEADER)
            .and_then(|b| b.checked_sub(header_size))
            .ok_or_else(|| {
                err(
                    pos + 16,
                    format!(
                        "signature list size {list_size} is smaller than its headers ({LIST_HEADER} + {header_size})"
                    ),
                )
            })?;
        if sig_size < 16 || !body.is_multiple_of(sig_size) {
            return Err(err(
                pos + 24,
                format!(
                    "signature size {sig_size}: at least 16 and a divisor of the {body} bytes of signatures expected"
                ),
            ));
        }
        let sigs = &rest[LIST_HEADER + header_size..list_size];
        let signatures = sigs.chunks(sig_size).map(|s| (guid(s), &s[16..])).collect();
        lists.push(SignatureList {
            offset: pos as u64,
            kind: guid(rest),
            signatures,
        });
        pos += list_size;
    }
    Ok(lists)
}

/// The X.509 certificates (DER) of the lists.
pub fn certificates<'a>(lists: &[SignatureList<'a>]) -> Vec<&'a [u8]> {
    lists
        .iter()
        .filter(|l| l.kind == CERT_X509)
        .flat_map(|l| l.signatures.iter().map(|(_, d)| *d))
        .collect()
}

/// The signature list p11-kit writes for one certificate; `None` when it is too large for the
/// 32-bit sizes.
pub fn list(cert: &[u8]) -> Option<Vec<u8>> {
    let sig_size = u32::try_from(cert.len().checked_add(16)?).ok()?;
    let list_size = sig_size.checked_add(LIST_HEADER as u32)?;
    let mut out = Vec::with_capacity(list_size as usize);
    out.extend_from_slice(&CERT_X509);
    out.extend_from_slice(&list_size.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&sig_size.to_le_bytes());
    out.extend_from_slice(&OWNER);
    out.extend_from_slice(cert);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        let mut data = list(b"\x30\x00").unwrap();
        data.extend(list(b"\x30\x01\x05").unwrap());
        let lists = parse("/e", &data).unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[1].offset, 46);
        assert_eq!(lists[1].signatures, [(OWNER, &b"\x30\x01\x05"[..])]);
        assert_eq!(certificates(&lists), [&b"\x30\x00"[..], b"\x30\x01\x05"]);
        assert!(parse("/e", b"").unwrap().is_empty());
    }

    #[test]
    fn hostile_lists_are_refused_with_the_offset() {
        let good = list(b"\x30\x00").unwrap();
        let e = |d: &[u8]| parse("/e", d).unwrap_err().to_string();
        assert_eq!(
            e(&good[..20]),
            "/e at 0x0: signature list header: 28 bytes run past the end of the file (20 left)"
        );
        let mut big = good.clone();
        big[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(e(&big).starts_with("/e at 0x10: signature list size 4294967295 runs past"));
        let mut small = good.clone();
        small[16..20].copy_from_slice(&20u32.to_le_bytes());
        assert!(e(&small).contains("smaller than its headers"));
        let mut hdr = good.clone();
        hdr[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(e(&hdr).contains("smaller than its headers"));
        let mut zero = good.clone();
        zero[24..28].copy_from_slice(&0u32.to_le_bytes());
        assert!(e(&zero).starts_with("/e at 0x18: signature size 0"));
        let mut odd = good;
        odd[24..28].copy_from_slice(&17u32.to_le_bytes());
        assert!(e(&odd).contains("signature size 17"));
    }
}
