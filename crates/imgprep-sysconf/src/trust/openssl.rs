//! OpenSSL's "TRUSTED CERTIFICATE" PEM blocks, as p11-kit's openssl-bundle extractor writes
//! them into `/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt`: the DER certificate
//! followed by the DER of OpenSSL's `X509_CERT_AUX`:
//!
//! ```text
//! CertAux ::= SEQUENCE {
//!     trust   SEQUENCE OF OBJECT IDENTIFIER OPTIONAL,          -- trusted uses
//!     reject  [0] IMPLICIT SEQUENCE OF OBJECT IDENTIFIER OPTIONAL,
//!     alias   UTF8String OPTIONAL,
//!     keyid   OCTET STRING OPTIONAL,
//!     other   [1] IMPLICIT SEQUENCE OF AlgorithmIdentifier OPTIONAL }
//! ```
//!
//! For an anchor of `source/anchors` with no other attributes, p11-kit's
//! `write_trust_and_rejects` takes the trusted uses from an extended key usage *attached* to the
//! certificate (a `.p11-kit` file stapling one); a plain PEM anchor has none, so `trust` is left
//! out, as are `reject`, `keyid` (also only an attached extension) and `other`: the block carries
//! the alias (the certificate's label) alone. OpenSSL reads a trusted certificate without
//! trust settings as trusted for every purpose when it is self-signed, as for a plain
//! certificate. Each block follows a `# LABEL` comment line, and a blank line separates it from
//! the block before it.

use super::cert::{self, SEQUENCE, UTF8_STRING, elements, encode};
use super::der;

/// The OpenSSL trust bundle `update-ca-trust extract` writes (`--format=openssl-bundle
/// --filter=certificates --comment`).
pub const BUNDLE: &str = "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt";

/// A PEM block type.
const TRUSTED: &str = "TRUSTED CERTIFICATE";

/// OpenSSL's auxiliary trust information of a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertAux {
    /// Trusted uses (the contents of each OID); `None` when the field is absent.
    pub trust: Option<Vec<Vec<u8>>>,
    /// Rejected uses; `None` when absent.
    pub reject: Option<Vec<Vec<u8>>>,
    /// The alias (a friendly name).
    pub alias: Option<String>,
    /// The key identifier.
    pub keyid: Option<Vec<u8>>,
}

impl CertAux {
    /// The DER encoding, fields in their order, absent ones left out.
    pub fn to_der(&self) -> Vec<u8> {
        let oids = |list: &[Vec<u8>]| {
            let mut body = Vec::new();
            for o in list {
                encode(&mut body, cert::OID, o);
            }
            body
        };
        let mut body = Vec::new();
        if let Some(t) = &self.trust {
            encode(&mut body, SEQUENCE, &oids(t));
        }
        if let Some(r) = &self.reject {
            encode(&mut body, 0xa0, &oids(r));
        }
        if let Some(a) = &self.alias {
            encode(&mut body, UTF8_STRING, a.as_bytes());
        }
        if let Some(k) = &self.keyid {
            encode(&mut body, 0x04, k);
        }
        let mut out = Vec::new();
        encode(&mut out, SEQUENCE, &body);
        out
    }

    /// Reads the DER encoding; `None` when it is not a CertAux (fields out of order, unknown
    /// tags, trailing bytes, an alias that is not UTF-8). The `other` field is skipped.
    pub fn from_der(b: &[u8]) -> Option<CertAux> {
        let (tag, body, rest) = der(b)?;
        if tag != SEQUENCE || !rest.is_empty() {
            return None;
        }
        let oids = |list: &[u8]| -> Option<Vec<Vec<u8>>> {
            elements(list)?
                .into_iter()
                .map(|(t, o)| (t == cert::OID).then(|| o.to_vec()))
                .collect()
        };
        let mut aux = CertAux::default();
        let mut order = 0;
        for (tag, v) in elements(body)? {
            let rank = match tag {
                SEQUENCE => 1,
                0xa0 => 2,
                UTF8_STRING => 3,
                0x04 => 4,
                0xa1 => 5,
                _ => return None,
            };
            if rank <= order {
                return None;
            }
            order = rank;
            match rank {
                1 => aux.trust = Some(oids(v)?),
                2 => aux.reject = Some(oids(v)?),
                3 => aux.alias = Some(std::str::from_utf8(v).ok()?.to_owned()),
                4 => aux.keyid = Some(v.to_vec()),
                _ => {}
            }
        }
        Some(aux)
    }
}

/// The body of a TRUSTED CERTIFICATE block as p11-kit writes it for an anchor with no other
/// attributes: the certificate, then a CertAux holding only the label as alias (an empty
/// CertAux when the certificate has no label).
pub fn anchor_block(cert: &[u8]) -> Vec<u8> {
    let aux = CertAux {
        alias: cert::label(cert),
        ..CertAux::default()
    };
    let mut out = cert.to_vec();
    out.extend(aux.to_der());
    out
}

/// The TRUSTED CERTIFICATE blocks of PEM text, each split into the certificate and what
/// follows it (the CertAux, possibly empty: OpenSSL writes blocks without one too). A block
/// whose first element does not parse is left out.
pub fn trusted_certificates(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    super::pem_blocks(data, TRUSTED)
        .into_iter()
        .filter_map(|b| {
            let (_, _, rest) = der(&b)?;
            let cert_len = b.len() - rest.len();
            Some((b[..cert_len].to_vec(), rest.to_vec()))
        })
        .collect()
}

/// `bundle` with a block for each certificate of `ders` it does not hold yet, appended as
/// p11-kit writes each block: a `# LABEL` line (`certificate` for a certificate without a
/// label), with a blank line before it unless the bundle is empty, then the PEM block. What is
/// not one DER element (the block could not be read back, and p11-kit would not parse it) is
/// left out. `None` when nothing is missing.
pub fn append(bundle: &[u8], ders: &[Vec<u8>]) -> Option<Vec<u8>> {
    let have: Vec<Vec<u8>> = trusted_certificates(bundle)
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let mut out = bundle.to_vec();
    for d in ders {
        let whole = der(d).is_some_and(|(_, _, rest)| rest.is_empty());
        if !whole || have.contains(d) || trusted_certificates(&out).iter().any(|(c, _)| c == d) {
            continue;
        }
        super::comment_line(&mut out, d);
        out.extend_from_slice(super::pem_block(TRUSTED, &anchor_block(d)).as_bytes());
    }
    (out != bundle).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::cert::tests::{cert, name, utf8};
    use crate::trust::cert::{CN, SERVER_AUTH};

    #[test]
    fn anchor_blocks_carry_the_alias_only() {
        let c = cert(&name(&[&[(CN, utf8("My  CA"))]]), None);
        let block = anchor_block(&c);
        assert_eq!(&block[..c.len()], c);
        assert_eq!(&block[c.len()..], b"\x30\x08\x0c\x06My  CA");
        let aux = CertAux::from_der(&block[c.len()..]).unwrap();
        assert_eq!(aux.alias.as_deref(), Some("My  CA"));
        assert_eq!((aux.trust, aux.reject, aux.keyid), (None, None, None));
        // No label: an empty CertAux.
        let bare = b"\x30\x03\x02\x01\x05".to_vec();
        assert_eq!(&anchor_block(&bare)[5..], b"\x30\x00");
    }

    #[test]
    fn cert_aux_round_trips_and_refuses_disorder() {
        let aux = CertAux {
            trust: Some(vec![SERVER_AUTH.to_vec()]),
            reject: Some(vec![]),
            alias: Some("x".into()),
            keyid: Some(vec![1, 2]),
        };
        assert_eq!(CertAux::from_der(&aux.to_der()), Some(aux));
        assert_eq!(CertAux::from_der(b"\x30\x06\x0c\x01x\x30\x01\x06"), None);
        assert_eq!(CertAux::from_der(b"\x30\x00\x00"), None);
        assert_eq!(CertAux::from_der(b"\x30\x02\x05\x00"), None);
    }

    #[test]
    fn appends_missing_blocks_after_a_blank_line() {
        let a = cert(&name(&[&[(CN, utf8("A"))]]), None);
        let b = cert(&name(&[&[(CN, utf8("B"))]]), None);
        let first = append(b"", std::slice::from_ref(&a)).unwrap();
        let text = String::from_utf8(first.clone()).unwrap();
        assert!(
            text.starts_with("# A\n-----BEGIN TRUSTED CERTIFICATE-----\n"),
            "{text}"
        );
        assert!(
            text.ends_with("-----END TRUSTED CERTIFICATE-----\n"),
            "{text}"
        );
        let both = append(&first, &[a.clone(), b.clone(), b.clone()]).unwrap();
        let text = String::from_utf8(both.clone()).unwrap();
        assert!(text.contains("-----\n\n# B\n-----BEGIN"), "{text}");
        let blocks = trusted_certificates(&both);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].0, b);
        assert_eq!(append(&both, &[a.clone(), b]), None);
        // Not one DER element: left out.
        let trailing = [a.as_slice(), b"\x05\x00"].concat();
        assert_eq!(append(b"", &[trailing, b"\x30".to_vec()]), None);
    }
}
