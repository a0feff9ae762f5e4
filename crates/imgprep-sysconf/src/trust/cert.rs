//! The fields of a DER certificate the trust-store writers need (subject, label, extended key
//! usage), read with the bounded DER reader of `trust`, and DER encoding of what they write.
//!
//! Nothing here checks a signature or a date: a trust store takes the administrator's CA as
//! given. A certificate that does not parse has no label, no subject hash and no extended key
//! usage (so it is taken for every purpose).

use super::der;

/// `id-at-commonName` (2.5.4.3), the contents of its OID.
pub const CN: &[u8] = &[0x55, 0x04, 0x03];
/// `id-at-organizationalUnitName` (2.5.4.11).
pub const OU: &[u8] = &[0x55, 0x04, 0x0b];
/// `id-at-organizationName` (2.5.4.10).
pub const O: &[u8] = &[0x55, 0x04, 0x0a];
/// `id-kp-serverAuth` (1.3.6.1.5.5.7.3.1): the purpose of the TLS bundle, the Java keystore and
/// the EDK2 list.
pub const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// `id-kp-codeSigning` (1.3.6.1.5.5.7.3.3): the purpose of the object-signing bundle.
pub const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// `id-kp-emailProtection` (1.3.6.1.5.5.7.3.4): the purpose of the e-mail bundle.
pub const EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];
/// `anyExtendedKeyUsage` (2.5.29.37.0).
const ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
/// `id-ce-extKeyUsage` (2.5.29.37).
const EKU: &[u8] = &[0x55, 0x1d, 0x25];

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTF8_STRING: u8 = 0x0c;

/// Most RDNs, attributes or extensions looked at in one certificate.
const MAX_ITEMS: usize = 1024;

/// The elements of DER `contents`, in order; `None` when one of them does not parse or there
/// are more than [`MAX_ITEMS`].
pub(crate) fn elements(mut contents: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !contents.is_empty() {
        if out.len() == MAX_ITEMS {
            return None;
        }
        let (tag, inner, rest) = der(contents)?;
        // Tags of more than one byte are not read by `der`.
        if tag & 0x1f == 0x1f {
            return None;
        }
        out.push((tag, inner));
        contents = rest;
    }
    Some(out)
}

/// The TBSCertificate's fields, the optional `[0]` version left out.
fn tbs_fields(cert: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let (tag, c, _) = der(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der(c)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut fields = elements(tbs)?;
    if fields.first().is_some_and(|(t, _)| *t == 0xa0) {
        fields.remove(0);
    }
    // serial, signature, issuer, validity, subject, subjectPublicKeyInfo.
    (fields.len() >= 6).then_some(fields)
}

/// The contents of the subject Name (its RDN SETs, one after another).
pub fn subject(cert: &[u8]) -> Option<&[u8]> {
    let fields = tbs_fields(cert)?;
    let (tag, name) = fields[4];
    (tag == SEQUENCE).then_some(name)
}

/// The contents of the extension `oid`'s `extnValue`, when the certificate has it.
fn extension<'a>(cert: &'a [u8], oid: &[u8]) -> Option<&'a [u8]> {
    let fields = tbs_fields(cert)?;
    let (_, exts) = fields[6..].iter().find(|(t, _)| *t == 0xa3)?;
    let (tag, list, _) = der(exts)?;
    if tag != SEQUENCE {
        return None;
    }
    for (tag, ext) in elements(list)? {
        if tag != SEQUENCE {
            return None;
        }
        let parts = elements(ext)?;
        if parts.first() != Some(&(OID, oid)) {
            continue;
        }
        // extnID, critical (optional), extnValue.
        return match parts.last() {
            Some((0x04, value)) => Some(value),
            _ => None,
        };
    }
    None
}

/// Whether p11-kit extracts `cert` for `purpose` (an OID's contents): a certificate without an
/// extended key usage extension serves every purpose, one with it those it lists (any purpose
/// with `anyExtendedKeyUsage`, as p11-kit 0.23.10 and later read it). An extension that does
/// not parse serves none. A certificate that does not parse at all is not judged: it serves
/// every purpose.
pub fn serves(cert: &[u8], purpose: &[u8]) -> bool {
    if tbs_fields(cert).is_none() {
        return true;
    }
    let Some(value) = extension(cert, EKU) else {
        return true;
    };
    let Some((SEQUENCE, oids, _)) = der(value) else {
        return false;
    };
    elements(oids).is_some_and(|oids| {
        oids.iter()
            .any(|(t, o)| *t == OID && (*o == purpose || *o == ANY_EKU))
    })
}

/// The label p11-kit gives a certificate: the subject's first common name, else its first
/// organizational unit, else its first organization (the first in the order the subject lists
/// them, as p11-kit before 0.26 looks them up); `None` when it has none of them or the value is
/// not a string p11-kit reads.
pub fn label(cert: &[u8]) -> Option<String> {
    let name = subject(cert)?;
    [CN, OU, O].iter().find_map(|oid| name_value(name, oid))
}

/// The value of the first attribute `oid` of a Name, as p11-kit's `p11_x509_lookup_dn_name`
/// finds it (an empty RDN ends the search); `None` when it is missing or not a string.
fn name_value(name: &[u8], oid: &[u8]) -> Option<String> {
    let mut rest = name;
    for _ in 0..MAX_ITEMS {
        let (_, set, r) = der(rest)?;
        rest = r;
        let atvs = elements(set)?;
        if atvs.is_empty() {
            return None;
        }
        for (_, atv) in atvs {
            let Some((OID, t, value)) = der(atv) else {
                continue;
            };
            if t == oid {
                return directory_string(value);
            }
        }
    }
    None
}

/// A DirectoryString element as p11-kit reads it: UTF8String, NumericString, IA5String,
/// TeletexString and PrintableString when their bytes are UTF-8 (cut at a NUL, as `strndup`
/// cuts them), UniversalString (UCS-4) and BMPString (UCS-2), big-endian.
pub(crate) fn directory_string(tlv: &[u8]) -> Option<String> {
    let (tag, v, rest) = der(tlv)?;
    if !rest.is_empty() {
        return None;
    }
    match tag {
        12 | 18 | 19 | 20 | 22 => {
            let s = std::str::from_utf8(v).ok()?;
            Some(s.split('\0').next().unwrap_or_default().to_owned())
        }
        28 => ucs(v, 4),
        30 => ucs(v, 2),
        _ => None,
    }
}

/// Big-endian UCS-2 (`width` 2) or UCS-4 (`width` 4) as a string; `None` on a partial
/// character or a value that is not a Unicode scalar (a surrogate, above U+10FFFF).
pub(crate) fn ucs(v: &[u8], width: usize) -> Option<String> {
    if !v.len().is_multiple_of(width) {
        return None;
    }
    v.chunks(width)
        .map(|c| char::from_u32(c.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b))))
        .collect()
}

/// Appends the DER element `tag` with `contents` (definite length, shortest form) to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A DER element.
    pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, tag, contents);
        out
    }

    /// A Name of RDNs, each a list of (attribute OID, value element).
    pub(crate) fn name(rdns: &[&[(&[u8], Vec<u8>)]]) -> Vec<u8> {
        let mut body = Vec::new();
        for rdn in rdns {
            let mut set = Vec::new();
            for (oid, value) in *rdn {
                let mut atv = tlv(OID, oid);
                atv.extend_from_slice(value);
                set.extend(tlv(SEQUENCE, &atv));
            }
            body.extend(tlv(SET, &set));
        }
        tlv(SEQUENCE, &body)
    }

    /// A certificate with this subject Name and, when given, an extended key usage extension
    /// listing `eku`; the signature is not a signature (nothing here checks it).
    pub(crate) fn cert(subject: &[u8], eku: Option<&[&[u8]]>) -> Vec<u8> {
        let alg = tlv(
            SEQUENCE,
            &tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let mut tbs = tlv(0xa0, &tlv(0x02, &[2]));
        tbs.extend(tlv(0x02, &[0x01, 0x23]));
        tbs.extend(&alg);
        tbs.extend(subject); // issuer: self-signed
        let mut validity = tlv(0x17, b"250101000000Z");
        validity.extend(tlv(0x17, b"350101000000Z"));
        tbs.extend(tlv(SEQUENCE, &validity));
        tbs.extend(subject);
        let mut spki = alg.clone();
        spki.extend(tlv(0x03, &[0, 4, 1, 2, 3]));
        tbs.extend(tlv(SEQUENCE, &spki));
        if let Some(eku) = eku {
            let oids: Vec<u8> = eku.iter().flat_map(|o| tlv(OID, o)).collect();
            let mut ext = tlv(OID, EKU);
            ext.extend(tlv(0x04, &tlv(SEQUENCE, &oids)));
            tbs.extend(tlv(0xa3, &tlv(SEQUENCE, &tlv(SEQUENCE, &ext))));
        }
        let mut c = tlv(SEQUENCE, &tbs);
        c.extend(alg);
        c.extend(tlv(0x03, &[0, 0x30, 0x00]));
        tlv(SEQUENCE, &c)
    }

    pub(crate) fn utf8(s: &str) -> Vec<u8> {
        tlv(UTF8_STRING, s.as_bytes())
    }

    #[test]
    fn labels_as_p11_kit_finds_them() {
        let printable = |s: &str| tlv(0x13, s.as_bytes());
        let c = cert(
            &name(&[
                &[(O, printable("Org"))],
                &[(OU, utf8("Unit"))],
                &[(CN, utf8("First")), (CN, utf8("Second"))],
                &[(CN, utf8("Third"))],
            ]),
            None,
        );
        assert_eq!(label(&c).as_deref(), Some("First"));
        assert_eq!(subject_cn_of(&c), Some("Third".to_owned()));
        let c = cert(
            &name(&[&[(O, printable("Org"))], &[(OU, utf8("Unit"))]]),
            None,
        );
        assert_eq!(label(&c).as_deref(), Some("Unit"));
        let c = cert(&name(&[&[(O, printable("Org"))]]), None);
        assert_eq!(label(&c).as_deref(), Some("Org"));
        // BMPString, UniversalString, a NUL, and a CN p11-kit cannot read (then the OU).
        let bmp = tlv(30, &[0x6f, 0x22, 0x5b, 0x57]);
        assert_eq!(
            label(&cert(&name(&[&[(CN, bmp)]]), None)).as_deref(),
            Some("漢字")
        );
        let ucs4 = tlv(28, &[0, 0, 0, b'A', 0, 1, 0xf6, 0x00]);
        assert_eq!(
            label(&cert(&name(&[&[(CN, ucs4)]]), None)).as_deref(),
            Some("A😀")
        );
        let nul = utf8("ab\0cd");
        assert_eq!(
            label(&cert(&name(&[&[(CN, nul)]]), None)).as_deref(),
            Some("ab")
        );
        let latin1 = tlv(20, &[b'M', 0xfc, b'n']);
        let c = cert(&name(&[&[(OU, utf8("U"))], &[(CN, latin1)]]), None);
        assert_eq!(label(&c).as_deref(), Some("U"));
        // An empty RDN ends the search.
        let c = cert(&name(&[&[], &[(CN, utf8("after"))]]), None);
        assert_eq!(label(&c), None);
        assert_eq!(label(b"\x30\x03\x02\x01\x05"), None);
    }

    fn subject_cn_of(c: &[u8]) -> Option<String> {
        super::super::subject_cn(c)
    }

    #[test]
    fn purposes_from_the_extended_key_usage() {
        let n = name(&[&[(CN, utf8("x"))]]);
        assert!(serves(&cert(&n, None), SERVER_AUTH));
        let code = cert(&n, Some(&[CODE_SIGNING]));
        assert!(!serves(&code, SERVER_AUTH));
        assert!(serves(&code, CODE_SIGNING));
        assert!(serves(&cert(&n, Some(&[ANY_EKU])), EMAIL_PROTECTION));
        assert!(!serves(&cert(&n, Some(&[])), SERVER_AUTH));
        // Not a certificate: not judged.
        assert!(serves(b"\x30\x03\x02\x01\x05", SERVER_AUTH));
    }

    #[test]
    fn encodes_shortest_lengths() {
        assert_eq!(tlv(4, &[1, 2]), [4, 2, 1, 2]);
        assert_eq!(&tlv(4, &[0; 0x80])[..3], [4, 0x81, 0x80]);
        assert_eq!(&tlv(4, &[0; 0x1234])[..4], [4, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn hostile_der_is_bounded() {
        for b in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x02\x30\x00",
            b"\x30\x04\x30\x02\x1f\x00",
        ] {
            assert_eq!(label(b), None);
            assert!(serves(b, SERVER_AUTH));
            assert_eq!(subject(b), None);
        }
    }
}
