//! OpenSSL's subject hash (`X509_NAME_hash`, `openssl x509 -subject_hash`) and the
//! `/etc/ssl/certs/HASH.N` links `openssl rehash` makes from it, so a CA directory
//! (`SSL_CERT_DIR`, `-CApath`) finds a certificate by its subject.
//!
//! The hash is the first four bytes, little-endian, of the SHA-1 of the subject's canonical
//! encoding (OpenSSL's `x509_name_canon`): each RDN re-encoded as a DER SET whose attribute
//! values of the string types (UTF8String, BMPString, UniversalString, PrintableString,
//! T61String, IA5String, VisibleString) are converted to UTF-8 (the 8-bit types as Latin-1),
//! stripped of leading and trailing ASCII white space, their inner white space runs collapsed
//! to one space and their ASCII letters lowercased, and written as UTF8String; other values
//! are kept as they are. The RDNs follow each other with no outer SEQUENCE.

use imgprep_guest::Guest;
use sha1::{Digest, Sha1};

use super::cert::{self, OID, SEQUENCE, SET, UTF8_STRING, elements, encode};
use crate::Error;
use crate::path::join;
use crate::text::list_dir;

/// The subject hash of a DER certificate; `None` when its subject does not parse or a string
/// in it does not convert (OpenSSL refuses such a certificate).
pub fn subject_hash(cert: &[u8]) -> Option<u32> {
    name_hash(cert::subject(cert)?)
}

/// The hash of a Name given by its contents (the RDN SETs).
pub fn name_hash(name: &[u8]) -> Option<u32> {
    let canon = canonical_name(name)?;
    let md = Sha1::digest(&canon);
    Some(u32::from_le_bytes([md[0], md[1], md[2], md[3]]))
}

/// The canonical encoding of a Name given by its contents; empty for an empty Name.
pub fn canonical_name(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for (tag, set) in elements(name)? {
        if tag != SET {
            return None;
        }
        let mut entries = Vec::new();
        for (tag, atv) in elements(set)? {
            if tag != SEQUENCE {
                return None;
            }
            let [(OID, oid), (vtag, value)] = elements(atv)?[..] else {
                return None;
            };
            let mut entry = Vec::new();
            encode(&mut entry, OID, oid);
            match canonical_string(vtag, value) {
                Some(s) => encode(&mut entry, UTF8_STRING, &s),
                None if is_string(vtag) => return None,
                None => encode(&mut entry, vtag, value),
            }
            let mut seq = Vec::new();
            encode(&mut seq, SEQUENCE, &entry);
            entries.push(seq);
        }
        // An empty RDN adds nothing; a multi-valued one is a DER SET OF: sorted.
        if entries.is_empty() {
            continue;
        }
        entries.sort();
        encode(&mut out, SET, &entries.concat());
    }
    Some(out)
}

/// Whether OpenSSL canonicalises values of this tag (its `ASN1_MASK_CANON`).
fn is_string(tag: u8) -> bool {
    matches!(tag, 12 | 19 | 20 | 22 | 26 | 28 | 30)
}

/// A string value in canonical form; `None` when `tag` is not a string type or the value does
/// not convert to UTF-8.
fn canonical_string(tag: u8, v: &[u8]) -> Option<Vec<u8>> {
    let utf8: Vec<u8> = match tag {
        12 => std::str::from_utf8(v).ok()?.as_bytes().to_vec(),
        19 | 20 | 22 | 26 => v
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into_bytes(),
        28 => cert::ucs(v, 4)?.into_bytes(),
        30 => cert::ucs(v, 2)?.into_bytes(),
        _ => return None,
    };
    // OpenSSL's ossl_isspace: space, \t, \n, \v, \f, \r.
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = utf8.iter().position(|b| !space(b)).unwrap_or(utf8.len());
    let end = utf8
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |e| e + 1);
    let mut out = Vec::with_capacity(end - start);
    let mut in_space = false;
    for &b in &utf8[start..end] {
        if space(&b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b.to_ascii_lowercase());
            in_space = false;
        }
    }
    Some(out)
}

/// The link `openssl rehash` makes in `dir` for the certificate `cert` in the file `target`
/// (a name in `dir`): `HASH.N` with the first `N` not taken. `None` when the hash cannot be
/// computed, or when a `HASH.N` already names `target` or a file holding the same certificate
/// (rehash links a certificate once).
pub fn rehash_link(
    g: &dyn Guest,
    dir: &str,
    target: &str,
    cert: &[u8],
) -> Result<Option<String>, Error> {
    let Some(hash) = subject_hash(cert) else {
        return Ok(None);
    };
    let prefix = format!("{hash:08x}.");
    let mut taken = Vec::new();
    for name in list_dir(g, dir) {
        let Some(n) = name
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        taken.push(n);
        let path = join(dir, &name);
        if g.read_link(&path).is_ok_and(|t| t == target.as_bytes()) {
            return Ok(None);
        }
        if g.is_file(&path)
            && super::certificates(&g.read_file(&path, super::MAX_BUNDLE)?) == [cert]
        {
            return Ok(None);
        }
    }
    let n = (0..=taken.len() as u32)
        .find(|n| !taken.contains(n))
        .unwrap_or_default();
    Ok(Some(join(dir, &format!("{prefix}{n}"))))
}

/// The hash links in `dir` (`XXXXXXXX.N`, eight hex digits) that name `target` under a hash
/// other than `hash` (all of them when `hash` is `None`: the file is no longer one certificate
/// rehash links): what `openssl rehash` removes once `target` holds another certificate.
pub fn stale_links(g: &dyn Guest, dir: &str, target: &str, hash: Option<u32>) -> Vec<String> {
    let ours = hash.map(|h| format!("{h:08x}."));
    list_dir(g, dir)
        .into_iter()
        .filter(|name| {
            let (h, n) = name.split_at_checked(9).unwrap_or_default();
            h.len() == 9
                && h.ends_with('.')
                && h[..8]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && ours.as_deref() != Some(h)
        })
        .map(|name| join(dir, &name))
        .filter(|p| g.read_link(p).is_ok_and(|t| t == target.as_bytes()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::cert::tests::{cert, name, tlv, utf8};
    use crate::trust::cert::{CN, O, OU};
    use imgprep_testkit::MemGuest;

    fn canon(rdns: &[&[(&[u8], Vec<u8>)]]) -> Option<Vec<u8>> {
        let n = name(rdns);
        let (_, contents, _) = super::super::der(&n).unwrap();
        canonical_name(contents)
    }

    #[test]
    fn strings_are_canonicalised() {
        let printable = tlv(19, b"  Mixed \t CASE  Org ");
        assert_eq!(
            canon(&[&[(O, printable)]]).unwrap(),
            name(&[&[(O, utf8("mixed case org"))]])[2..]
        );
        // Latin-1 T61String and BMPString become UTF-8; non-ASCII letters keep their case.
        let t61 = tlv(20, &[0xdc, b'N', b'I']);
        let bmp = tlv(30, &[0x00, 0xc4, 0x00, b'B']);
        assert_eq!(
            canon(&[&[(CN, t61)], &[(OU, bmp)]]).unwrap(),
            name(&[&[(CN, utf8("Üni"))], &[(OU, utf8("Äb"))]])[2..]
        );
        // Other types are kept; a string that does not convert fails the hash.
        let numeric = tlv(18, b"0 1");
        assert_eq!(
            canon(&[&[(CN, numeric.clone())]]).unwrap(),
            name(&[&[(CN, numeric)]])[2..]
        );
        assert_eq!(canon(&[&[(CN, tlv(12, &[0xff]))]]), None);
        assert_eq!(canon(&[&[(CN, tlv(30, &[0xd8, 0x00]))]]), None);
        // Multi-valued RDNs are sorted; empty ones vanish; an empty name is empty.
        let two = canon(&[&[(OU, utf8("b")), (CN, utf8("a"))], &[]]).unwrap();
        assert_eq!(two, name(&[&[(CN, utf8("a")), (OU, utf8("b"))]])[2..]);
        assert_eq!(canon(&[]).unwrap(), b"");
        assert_eq!(name_hash(b""), Some(0xda39_a3ee_u32.swap_bytes()));
    }

    #[test]
    fn rehash_links_take_the_first_free_number() {
        let ca = cert(&name(&[&[(CN, utf8("Corp CA"))]]), None);
        let other = cert(&name(&[&[(CN, utf8("corp   ca"))]]), None);
        let h = format!("{:08x}", subject_hash(&ca).unwrap());
        assert_eq!(subject_hash(&other), subject_hash(&ca));
        let dir = "/etc/ssl/certs";
        let g = MemGuest::new().dir(dir);
        assert_eq!(
            rehash_link(&g, dir, "corp.pem", &ca).unwrap(),
            Some(format!("{dir}/{h}.0"))
        );
        let other_pem = super::super::pem(&other);
        let g = g
            .file(&format!("{dir}/other.pem"), &other_pem)
            .link(&format!("{dir}/{h}.0"), "other.pem")
            .link(&format!("{dir}/{h}.2"), "gone.pem");
        assert_eq!(
            rehash_link(&g, dir, "corp.pem", &ca).unwrap(),
            Some(format!("{dir}/{h}.1"))
        );
        let linked = g.clone().link(&format!("{dir}/{h}.1"), "corp.pem");
        assert_eq!(rehash_link(&linked, dir, "corp.pem", &ca).unwrap(), None);
        // The same certificate already linked under another name.
        let dup = g.file(&format!("{dir}/{h}.1"), super::super::pem(&ca));
        assert_eq!(rehash_link(&dup, dir, "corp.pem", &ca).unwrap(), None);
        assert_eq!(
            rehash_link(&MemGuest::new(), dir, "x.pem", b"\x30\x00").unwrap(),
            None
        );
    }

    #[test]
    fn stale_links_name_the_target_under_another_hash() {
        let dir = "/etc/ssl/certs";
        let g = MemGuest::new()
            .link(&format!("{dir}/0123abcd.0"), "corp.pem")
            .link(&format!("{dir}/0123abcd.1"), "other.pem")
            .link(&format!("{dir}/89abcdef.3"), "corp.pem")
            .link(&format!("{dir}/89ABCDEF.4"), "corp.pem")
            .link(&format!("{dir}/89abcdef.r0"), "corp.pem")
            .link(
                &format!("{dir}/corp.pem"),
                "/usr/local/share/ca-certificates/corp.crt",
            );
        assert_eq!(
            stale_links(&g, dir, "corp.pem", Some(0x89ab_cdef)),
            [format!("{dir}/0123abcd.0")]
        );
        let mut all = stale_links(&g, dir, "corp.pem", None);
        all.sort();
        assert_eq!(
            all,
            [format!("{dir}/0123abcd.0"), format!("{dir}/89abcdef.3")]
        );
    }
}
