//! Java KeyStore (JKS) files as `update-ca-trust extract` writes
//! `/etc/pki/ca-trust/extracted/java/cacerts` (p11-kit's java-cacerts extractor, after
//! OpenJDK's `sun.security.provider.JavaKeyStore`): a reader that checks every count and length
//! against the bytes left before it allocates or reads, and an append of one trusted-certificate
//! entry that keeps every other byte and rewrites the integrity digest.
//!
//! ```text
//! magic 0xFEEDFEED, version (1 or 2), entry count             u32 each, big-endian
//! entry: tag (1 private key, 2 trusted certificate)            u32
//!        alias                                                 u16 length + modified UTF-8
//!        creation time in milliseconds                         u64
//!   tag 1: protected key (u32 length + bytes), chain length (u32), each certificate
//!   tag 2: one certificate
//!   certificate: type ("X.509", version 2 only; u16 length + UTF-8), u32 length + DER
//! digest: SHA-1 of the password as UTF-16BE, "Mighty Aphrodite", and every byte before it
//! ```
//!
//! The password of the extracted keystore is Java's default, `changeit`. The crate chosen for
//! this is our own: the `jks` crate rewrites a keystore from its in-memory entries, so it does
//! not keep the other entries byte for byte, and was not written for hostile files.

use sha1::{Digest, Sha1};

use crate::Error;

/// The Java keystore `update-ca-trust extract` writes (`--format=java-cacerts
/// --filter=ca-anchors --purpose server-auth`).
pub const CACERTS: &str = "/etc/pki/ca-trust/extracted/java/cacerts";

/// The password of the system keystores.
pub const PASSWORD: &str = "changeit";

const MAGIC: u32 = 0xfeed_feed;
const PRIVATE_KEY: u32 = 1;
const TRUSTED_CERT: u32 = 2;
/// Fewest bytes an entry takes (tag, empty alias, time, a version 1 certificate's length).
const MIN_ENTRY: usize = 4 + 2 + 8 + 4;
/// Longest alias p11-kit writes (`INT16_MAX`, it cuts longer ones).
const MAX_ALIAS: usize = 0x7fff;

/// A keystore read from bytes.
#[derive(Debug, Clone)]
pub struct Keystore<'a> {
    /// The format version (1 or 2; 2 names each certificate's type).
    pub version: u32,
    /// The entries, in file order.
    pub entries: Vec<Entry<'a>>,
    data: &'a [u8],
    /// Where the digest starts.
    end: usize,
}

/// One keystore entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Byte offset of the entry's tag.
    pub offset: u64,
    /// The alias.
    pub alias: String,
    /// Creation time, milliseconds since 1970.
    pub created_ms: u64,
    /// What it holds.
    pub kind: EntryKind<'a>,
}

/// What an entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind<'a> {
    /// A protected private key with its certificate chain (DER).
    PrivateKey {
        /// The certificates of the chain.
        chain: Vec<&'a [u8]>,
    },
    /// A trusted certificate (DER).
    TrustedCert(&'a [u8]),
}

/// The keystore integrity digest of `body` under `password`.
pub fn digest(password: &str, body: &[u8]) -> [u8; 20] {
    let mut h = Sha1::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_be_bytes());
    }
    h.update(b"Mighty Aphrodite");
    h.update(body);
    h.finalize().into()
}

/// A bounded reader over the keystore's bytes whose errors name the file and the offset.
struct Reader<'a> {
    path: &'a str,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, offset: usize, why: String) -> Error {
        Error::Malformed {
            path: self.path.to_owned(),
            offset: offset as u64,
            why,
        }
    }

    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        if n > self.left() {
            return Err(self.error(
                self.pos,
                format!(
                    "{what}: {n} bytes run past the end of the file ({} left)",
                    self.left()
                ),
            ));
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32, Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length or count: Java reads them as signed ints.
    fn len(&mut self, what: &str) -> Result<usize, Error> {
        let at = self.pos;
        let n = self.u32(what)?;
        if n > i32::MAX as u32 {
            return Err(self.error(at, format!("{what} {n:#x} is negative as Java reads it")));
        }
        Ok(n as usize)
    }

    fn utf(&mut self, what: &str) -> Result<String, Error> {
        let b = self.take(2, what)?;
        let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
        Ok(String::from_utf8_lossy(self.take(n, what)?).into_owned())
    }

    fn cert(&mut self, version: u32, what: &str) -> Result<&'a [u8], Error> {
        if version == 2 {
            self.utf(&format!("{what} type"))?;
        }
        let n = self.len(&format!("{what} length"))?;
        self.take(n, what)
    }
}

impl<'a> Keystore<'a> {
    /// Reads a keystore and checks its digest under `password`. `path` names the file in
    /// errors.
    pub fn parse(path: &'a str, data: &'a [u8], password: &str) -> Result<Self, Error> {
        let mut r = Reader { path, data, pos: 0 };
        let magic = r.u32("magic")?;
        if magic != MAGIC {
            let what = if magic == 0xcece_cece {
                "a JCEKS keystore"
            } else {
                "not a Java keystore"
            };
            return Err(r.error(
                0,
                format!("magic {magic:#010x}: {what}, 0xfeedfeed expected"),
            ));
        }
        let version = r.u32("version")?;
        if version != 1 && version != 2 {
            return Err(r.error(4, format!("version {version}, 1 or 2 expected")));
        }
        let count = r.len("entry count")?;
        if count > r.left() / MIN_ENTRY {
            return Err(r.error(
                8,
                format!(
                    "{count} entries cannot fit in the {} bytes that follow",
                    r.left()
                ),
            ));
        }
        let mut entries = Vec::with_capacity(count);
        for i in 0..count {
            let offset = r.pos;
            let what = format!("entry {i}");
            let tag = r.u32(&format!("{what} tag"))?;
            let alias = r.utf(&format!("{what} alias"))?;
            let t = r.take(8, &format!("{what} creation time"))?;
            let created_ms = u64::from_be_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]);
            let kind = match tag {
                PRIVATE_KEY => {
                    let n = r.len(&format!("{what} key length"))?;
                    r.take(n, &format!("{what} key"))?;
                    let at = r.pos;
                    let certs = r.len(&format!("{what} chain length"))?;
                    if certs > r.left() / 4 {
                        return Err(r.error(
                            at,
                            format!("{what}: a chain of {certs} certificates cannot fit"),
                        ));
                    }
                    let mut chain = Vec::with_capacity(certs);
                    for c in 0..certs {
                        chain.push(r.cert(version, &format!("{what} certificate {c}"))?);
                    }
                    EntryKind::PrivateKey { chain }
                }
                TRUSTED_CERT => {
                    EntryKind::TrustedCert(r.cert(version, &format!("{what} certificate"))?)
                }
                other => {
                    return Err(r.error(
                        offset,
                        format!("{what}: tag {other}, 1 (private key) or 2 (trusted certificate) expected"),
                    ));
                }
            };
            entries.push(Entry {
                offset: offset as u64,
                alias,
                created_ms,
                kind,
            });
        }
        let end = r.pos;
        let stored = r.take(20, "integrity digest")?;
        if stored != digest(password, &data[..end]) {
            return Err(r.error(
                end,
                format!(
                    "the integrity digest does not match the password {password:?} (the file \
                     was changed, or another password protects it)"
                ),
            ));
        }
        if r.left() != 0 {
            return Err(r.error(
                r.pos,
                format!("{} bytes follow the integrity digest", r.left()),
            ));
        }
        Ok(Keystore {
            version,
            entries,
            data,
            end,
        })
    }

    /// Whether a trusted-certificate entry holds `cert`.
    pub fn has_trusted(&self, cert: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.kind == EntryKind::TrustedCert(cert))
    }

    /// `base`, or `base-1`, `base-2`, … : the first no entry has (aliases compare without case,
    /// as Java compares them).
    pub fn unique_alias(&self, base: &str) -> String {
        let taken = |a: &str| {
            self.entries
                .iter()
                .any(|e| e.alias.to_lowercase() == a.to_lowercase())
        };
        (0..=self.entries.len())
            .map(|i| {
                if i == 0 {
                    base.to_owned()
                } else {
                    format!("{base}-{i}")
                }
            })
            .find(|a| !taken(a))
            .unwrap_or_else(|| base.to_owned())
    }

    /// The keystore's bytes with one more trusted-certificate entry at the end: the entries
    /// before it unchanged, the count one higher, the digest (under `password`) recomputed.
    pub fn with_trusted_cert(
        &self,
        alias: &str,
        created_ms: u64,
        cert: &[u8],
        password: &str,
    ) -> Result<Vec<u8>, Error> {
        let count = self.entries.len() + 1;
        if count > i32::MAX as usize || cert.len() > i32::MAX as usize {
            return Err(Error::Invalid {
                what: format!("keystore entry {alias:?}"),
                why: "too large for a Java keystore".into(),
            });
        }
        let alias = &alias.as_bytes()[..alias.len().min(MAX_ALIAS)];
        let mut out = Vec::with_capacity(self.end + alias.len() + cert.len() + 64);
        out.extend_from_slice(&self.data[..self.end]);
        out[8..12].copy_from_slice(&(count as u32).to_be_bytes());
        out.extend_from_slice(&TRUSTED_CERT.to_be_bytes());
        out.extend_from_slice(&(alias.len() as u16).to_be_bytes());
        out.extend_from_slice(alias);
        out.extend_from_slice(&created_ms.to_be_bytes());
        if self.version == 2 {
            out.extend_from_slice(&5u16.to_be_bytes());
            out.extend_from_slice(b"X.509");
        }
        out.extend_from_slice(&(cert.len() as u32).to_be_bytes());
        out.extend_from_slice(cert);
        let d = digest(password, &out);
        out.extend_from_slice(&d);
        Ok(out)
    }
}

/// The alias p11-kit derives from a certificate's label (`unlabeled` without one): ASCII
/// lowercased, white space and non-ASCII bytes left out.
pub fn p11kit_alias(label: Option<&str>) -> String {
    label
        .unwrap_or("unlabeled")
        .bytes()
        .filter(|b| b.is_ascii() && !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty version 2 keystore.
    fn empty() -> Vec<u8> {
        let mut b = vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0];
        let d = digest(PASSWORD, &b);
        b.extend_from_slice(&d);
        b
    }

    fn err(data: &[u8]) -> String {
        Keystore::parse("/k", data, PASSWORD)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn appends_keep_the_entries_and_fix_the_digest() {
        let e = empty();
        let ks = Keystore::parse("/k", &e, PASSWORD).unwrap();
        assert!(ks.entries.is_empty());
        let one = ks.with_trusted_cert("a", 7, b"\x30\x00", PASSWORD).unwrap();
        let ks1 = Keystore::parse("/k", &one, PASSWORD).unwrap();
        assert_eq!(
            ks1.entries,
            [Entry {
                offset: 12,
                alias: "a".into(),
                created_ms: 7,
                kind: EntryKind::TrustedCert(b"\x30\x00"),
            }]
        );
        assert_eq!(ks1.unique_alias("A"), "A-1");
        let two = ks1
            .with_trusted_cert("a-1", 8, b"\x30\x01\x00", PASSWORD)
            .unwrap();
        assert_eq!(
            two[..12 + 23],
            [&one[..8], &[0, 0, 0, 2], &one[12..12 + 23]].concat()
        );
        let ks2 = Keystore::parse("/k", &two, PASSWORD).unwrap();
        assert!(ks2.has_trusted(b"\x30\x01\x00") && ks2.has_trusted(b"\x30\x00"));
        assert_eq!(ks2.unique_alias("a"), "a-2");
    }

    #[test]
    fn hostile_keystores_are_refused_with_the_offset() {
        let e = empty();
        assert_eq!(
            err(b"\xfe\xed"),
            "/k at 0x0: magic: 4 bytes run past the end of the file (2 left)"
        );
        assert!(err(b"\xce\xce\xce\xce\0\0\0\x02").contains("JCEKS"));
        assert!(err(&[&e[..4], &[0, 0, 0, 3]].concat()).contains("version 3"));
        // A count the file cannot hold is refused before anything is allocated.
        let mut big = e.clone();
        big[8..12].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        assert_eq!(
            err(&big),
            "/k at 0x8: 2147483647 entries cannot fit in the 20 bytes that follow"
        );
        big[8..12].copy_from_slice(&0x8000_0000u32.to_be_bytes());
        assert!(err(&big).contains("negative"));
        // A certificate length past the end.
        let ks = Keystore::parse("/k", &e, PASSWORD).unwrap();
        let mut one = ks.with_trusted_cert("a", 1, b"\x30\x00", PASSWORD).unwrap();
        one[12 + 4 + 3 + 8 + 7..12 + 4 + 3 + 8 + 11].copy_from_slice(&0x1000u32.to_be_bytes());
        assert_eq!(
            err(&one),
            "/k at 0x26: entry 0 certificate: 4096 bytes run past the end of the file (22 left)"
        );
        let mut bad = ks.with_trusted_cert("a", 1, b"\x30\x00", PASSWORD).unwrap();
        bad[12..16].copy_from_slice(&3u32.to_be_bytes());
        assert!(err(&bad).contains("entry 0: tag 3"), "{}", err(&bad));
        let mut tampered = ks.with_trusted_cert("a", 1, b"\x30\x00", PASSWORD).unwrap();
        tampered[12 + 6] ^= 1;
        assert!(err(&tampered).contains("integrity digest does not match"));
        assert!(err(&[&e[..], b"x"].concat()).contains("1 bytes follow"));
        assert!(Keystore::parse("/k", &e, "other").is_err());
    }

    #[test]
    fn private_key_entries_are_walked() {
        let mut b = vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1];
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(b"\0\x01k");
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&[0, 0, 0, 2, 9, 9]);
        b.extend_from_slice(&[0, 0, 0, 1, 0, 5]);
        b.extend_from_slice(b"X.509");
        b.extend_from_slice(&[0, 0, 0, 2, 0x30, 0]);
        let d = digest(PASSWORD, &b);
        b.extend_from_slice(&d);
        let ks = Keystore::parse("/k", &b, PASSWORD).unwrap();
        assert_eq!(
            ks.entries[0].kind,
            EntryKind::PrivateKey {
                chain: vec![b"\x30\0"]
            }
        );
        assert!(!ks.has_trusted(b"\x30\0"));
    }

    #[test]
    fn aliases_as_p11_kit_derives_them() {
        assert_eq!(p11kit_alias(Some("My Test  CA (R2)")), "mytestca(r2)");
        assert_eq!(p11kit_alias(Some("Größe\tX")), "grex");
        assert_eq!(p11kit_alias(None), "unlabeled");
    }
}
