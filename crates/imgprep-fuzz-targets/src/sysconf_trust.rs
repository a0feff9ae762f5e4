//! The trust-store target: the readers of the files CA tools write, and `add_anchor` over them.

use imgprep_sysconf::trust::{self, cert, edk2, hash, jks, openssl};
use imgprep_testkit::MemGuest;

use crate::sysconf_edits::edit;

/// Guest paths of the records (by `which % len`); `None` is the CA file given to `add_anchor`,
/// `HASH` a hash link named after the CA's subject hash.
const SLOTS: &[Option<&str>] = &[
    None,
    Some(openssl::BUNDLE),
    Some(jks::CACERTS),
    Some(edk2::CACERTS),
    Some("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
    Some("HASH"),
    Some("/etc/ssl/certs/other.pem"),
    Some("/usr/share/ca-certificates/mozilla/A.crt"),
    Some("/etc/ssl/certs/ca-certificates.crt"),
];

/// The first SHA-1 bytes, so the fuzzer reaches the keystore's entries: `data` with its last
/// 20 bytes replaced by the keystore digest of the rest.
fn with_digest(data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    if let Some(end) = d.len().checked_sub(20) {
        let digest = jks::digest(jks::PASSWORD, &d[..end]);
        d[end..].copy_from_slice(&digest);
    }
    d
}

/// The readers alone on one input: a Java keystore that reads takes one more entry and reads
/// back with it; EFI signature lists likewise; every TRUSTED CERTIFICATE block's CertAux that
/// reads writes and reads back the same; a Name's canonical form is its own canonical form.
fn readers(data: &[u8]) {
    if let Ok(ks) = jks::Keystore::parse("/k", data, jks::PASSWORD) {
        assert!(ks.entries.len() <= data.len() / 18);
        let alias = ks.unique_alias("fuzz");
        assert!(
            ks.entries
                .iter()
                .all(|e| !e.alias.eq_ignore_ascii_case(&alias))
        );
        let more = ks
            .with_trusted_cert(&alias, 1, b"\x30\x00", jks::PASSWORD)
            .expect("one more entry");
        let again = jks::Keystore::parse("/k", &more, jks::PASSWORD).expect("appended keystore");
        assert_eq!(again.entries.len(), ks.entries.len() + 1);
        assert_eq!(again.entries[..ks.entries.len()], ks.entries[..]);
        assert!(again.has_trusted(b"\x30\x00"));
    }
    if let Ok(lists) = edk2::parse("/e", data) {
        let n = edk2::certificates(&lists).len();
        let mut more = data.to_vec();
        more.extend(edk2::list(b"\x30\x00").expect("a small list"));
        let again = edk2::parse("/e", &more).expect("appended list");
        assert_eq!(edk2::certificates(&again).len(), n + 1);
    }
    for (_, aux) in openssl::trusted_certificates(data) {
        if let Some(a) = openssl::CertAux::from_der(&aux) {
            assert_eq!(openssl::CertAux::from_der(&a.to_der()), Some(a));
        }
    }
    if let Some(canon) = hash::canonical_name(data) {
        assert_eq!(hash::canonical_name(&canon), Some(canon.clone()));
        assert_eq!(hash::name_hash(&canon), hash::name_hash(data));
    }
    let _ = (cert::label(data), cert::serves(data, cert::SERVER_AUTH));
    let _ = hash::subject_hash(data);
}

/// The trust-store readers and `add_anchor` on a hostile guest. Each record goes through the
/// readers (Java keystore, EFI signature lists, TRUSTED CERTIFICATE blocks and their CertAux,
/// canonical Names and subject hashes, labels, extended key usage); then a Red Hat or Debian
/// trust store is built from the records (the extracted OpenSSL bundle, Java keystore, EDK2
/// list and TLS bundle; Debian's `/etc/ssl/certs` with hash links, the system CA and bundle)
/// and the CA record is added to it: the edit either refuses with an error or returns
/// operations that, applied, make the same edit a no-op.
///
/// Input: a selector byte (bit 0: Debian, else Red Hat; bit 1: give keystore records a valid
/// digest), then records `[which][length, u16 little-endian][bytes]`, `which` choosing the
/// slot in `SLOTS`; a hash-link record's first byte is its number, the rest its target.
pub fn sysconf_trust_stores(data: &[u8]) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let mut records = Vec::new();
    while let [which, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        records.push((usize::from(*which) % SLOTS.len(), &tail[..len]));
        rest = &tail[len..];
        if records.len() == 64 {
            break;
        }
    }
    let fix = selector & 2 != 0;
    for (_, r) in &records {
        readers(r);
        if fix {
            readers(&with_digest(r));
        }
    }

    let ca: &[u8] = records
        .iter()
        .find(|(s, _)| SLOTS[*s].is_none())
        .map_or(b"\x30\x00", |(_, r)| r);
    let subject = trust::certificates(ca)
        .first()
        .and_then(|c| hash::subject_hash(c))
        .unwrap_or_default();
    let mut g = if selector & 1 != 0 {
        MemGuest::new()
            .file("/etc/ca-certificates.conf", "mozilla/A.crt\n")
            .dir("/etc/ssl/certs")
    } else {
        MemGuest::new().dir("/etc/pki/ca-trust/source/anchors")
    };
    for (slot, r) in &records {
        g = match SLOTS[*slot] {
            None => g,
            Some("HASH") => {
                let (n, target) = r.split_first().unwrap_or((&0, b""));
                let path = format!("/etc/ssl/certs/{subject:08x}.{}", n % 4);
                g.link(&path, &String::from_utf8_lossy(target))
            }
            Some(p) if p == jks::CACERTS && fix => g.file(p, with_digest(r)),
            Some(p) => g.file(p, r),
        };
    }
    // What the edit writes: the anchor and bundles hold what the records hold, a few times.
    let limit = 16 * data.len() + 64 * 1024;
    edit(&g, limit, "add_anchor", |g| {
        trust::add_anchor_at(g, "corp", ca, 1)
    });
}
