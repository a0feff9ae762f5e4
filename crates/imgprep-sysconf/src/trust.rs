//! CA trust stores: where each distribution family keeps the bundles TLS clients read and the
//! anchors administrators add, and the edit that adds an anchor together with the bundles
//! `update-ca-trust` or `update-ca-certificates` would regenerate, computed natively.
//!
//! The formats those tools write have a module each: `hash` (OpenSSL's subject hash and the
//! `HASH.N` links of `openssl rehash`), `openssl` (TRUSTED CERTIFICATE blocks), `jks` (Java
//! keystores), `edk2` (EFI signature lists); `cert` reads the certificate fields they need.

use base64::Engine;
use imgprep_guest::Guest;

use crate::Error;
use crate::ops::existing;
use crate::ops::{FileOp, mkdirs};
use crate::path::join;
use crate::text::{list_dir, read_lines};

pub mod cert;
pub mod edk2;
mod extract;
pub mod hash;
pub mod jks;
pub mod openssl;

pub use extract::not_regenerated;

/// Bundles that hold the CAs TLS clients trust, by distribution family.
pub const BUNDLES: [&str; 6] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/var/lib/ca-certificates/ca-bundle.pem",
];

/// Directories of CAs added by the administrator, merged into the bundle by update-ca-trust or
/// update-ca-certificates.
pub const ANCHORS: [&str; 5] = [
    "/etc/pki/ca-trust/source/anchors",
    "/usr/local/share/ca-certificates",
    "/usr/share/pki/trust/anchors",
    "/etc/pki/trust/anchors",
    "/etc/ssl/certs",
];

/// Largest bundle or certificate file read.
pub const MAX_BUNDLE: u64 = 16 << 20;

/// DER certificates in PEM text (or the bytes themselves when they are DER). A block left open
/// (a `BEGIN` line before the previous block's `END`) is skipped, as Go's `pem.Decode` skips
/// it, so a certificate appended after a damaged one is still found.
pub fn certificates(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = pem_blocks(data, "CERTIFICATE");
    if out.is_empty() && data.first() == Some(&0x30) {
        out.push(data.to_vec());
    }
    out
}

/// The decoded bodies of the PEM blocks of type `label` in `data`, damaged blocks skipped as
/// [`certificates`] skips them.
fn pem_blocks(data: &[u8], label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end_line = format!("-----END {label}-----");
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(&begin) {
        let body = &rest[start + begin.len()..];
        let Some(end) = body.find(&end_line) else {
            break;
        };
        if let Some(inner) = body[..end].rfind(&begin) {
            rest = &body[inner..];
            continue;
        }
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &body[end..];
    }
    out
}

/// A DER certificate as PEM, 64 characters a line.
pub fn pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

/// `der` as a PEM block of type `label`, 64 characters a line.
fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// Appends the comment line p11-kit's `--comment` writes before a certificate's block: `# LABEL`
/// (`certificate` when it has no label), after a blank line unless `out` is empty.
fn comment_line(out: &mut Vec<u8>, der: &[u8]) {
    if !out.is_empty() {
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    let label = cert::label(der).unwrap_or_else(|| "certificate".into());
    out.extend_from_slice(format!("# {label}\n").as_bytes());
}

/// One DER element: (tag, contents, the rest after it).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, b.get(hdr..end)?, b.get(end..)?))
}

/// The subject common name of a DER certificate, when it has one.
pub fn subject_cn(cert: &[u8]) -> Option<String> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let (_, c, _) = der(cert)?; // Certificate
    let (_, tbs, _) = der(c)?; // TBSCertificate
    let mut rest = tbs;
    // [0] version (optional), serial, signature, issuer, validity, subject.
    let (tag, _, r) = der(rest)?;
    rest = if tag == 0xa0 { r } else { rest };
    for _ in 0..4 {
        rest = der(rest)?.2;
    }
    let (_, subject, _) = der(rest)?;
    let mut rdns = subject;
    let mut found = None;
    for _ in 0..64 {
        let Some((_, set, r)) = der(rdns) else { break };
        rdns = r;
        let Some((_, atv, _)) = der(set) else {
            continue;
        };
        let Some((_, oid, value)) = der(atv) else {
            continue;
        };
        if oid == CN
            && let Some((_, v, _)) = der(value)
        {
            found = Some(String::from_utf8_lossy(v).into_owned());
        }
    }
    found
}

/// A distribution family's trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Red Hat, CentOS, Fedora: p11-kit's `update-ca-trust`.
    RedHat,
    /// Debian, Ubuntu, Alpine: `update-ca-certificates` (the ca-certificates scripts).
    Debian,
    /// SUSE: p11-kit's `update-ca-certificates`.
    Suse,
}

impl Family {
    /// The guest's family, from the directories its ca-certificates package made.
    pub fn of(g: &dyn Guest) -> Option<Family> {
        if g.is_dir("/etc/pki/ca-trust") {
            Some(Family::RedHat)
        } else if g.is_dir("/var/lib/ca-certificates") || g.is_dir("/usr/share/pki/trust") {
            Some(Family::Suse)
        } else if g.is_file("/etc/ca-certificates.conf") || g.is_dir("/usr/share/ca-certificates") {
            Some(Family::Debian)
        } else {
            None
        }
    }

    /// Where an administrator's anchor goes.
    pub fn anchor_dir(self) -> &'static str {
        match self {
            Family::RedHat => "/etc/pki/ca-trust/source/anchors",
            Family::Debian => "/usr/local/share/ca-certificates",
            Family::Suse => "/etc/pki/trust/anchors",
        }
    }

    /// The tool that merges anchors into the bundles.
    pub fn tool(self) -> &'static str {
        match self {
            Family::RedHat => "update-ca-trust extract",
            Family::Debian | Family::Suse => "update-ca-certificates",
        }
    }

    /// The PEM bundles that tool regenerates (the files, not links to them).
    pub fn bundles(self) -> &'static [&'static str] {
        match self {
            Family::RedHat => &[
                "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                "/etc/pki/ca-trust/extracted/pem/email-ca-bundle.pem",
                "/etc/pki/ca-trust/extracted/pem/objsign-ca-bundle.pem",
            ],
            Family::Debian => &["/etc/ssl/certs/ca-certificates.crt"],
            Family::Suse => &["/var/lib/ca-certificates/ca-bundle.pem"],
        }
    }
}

/// The Debian bundle as `update-ca-certificates` writes it: every certificate file named in
/// `/etc/ca-certificates.conf` (from `/usr/share/ca-certificates`, `!` lines and missing files
/// left out), then every `*.crt` below `/usr/local/share/ca-certificates` in `sort` order, each
/// with a newline added when it lacks one; `extra` is a local file not written yet
/// (`(guest path, bytes)`).
pub fn debian_bundle(g: &dyn Guest, extra: Option<(&str, &[u8])>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    // A file named many times is added each time, as the script does: the total is capped.
    let add = |out: &mut Vec<u8>, bytes: &[u8]| {
        if (out.len() + bytes.len()) as u64 >= MAX_BUNDLE {
            return Err(Error::Invalid {
                what: "/etc/ssl/certs/ca-certificates.crt".into(),
                why: format!("the certificates listed come to more than {MAX_BUNDLE} bytes"),
            });
        }
        out.extend_from_slice(bytes);
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            out.push(b'\n');
        }
        Ok(())
    };
    if let Some(conf) = read_lines(g, "/etc/ca-certificates.conf")? {
        for (_, l) in &conf.lines {
            if l.is_empty() || l.starts_with('#') || l.starts_with('!') {
                continue;
            }
            let p = join("/usr/share/ca-certificates", l);
            if g.is_file(&p) {
                add(&mut out, &g.read_file(&p, MAX_BUNDLE)?)?;
            }
        }
    }
    let mut local: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let mut stack = vec![("/usr/local/share/ca-certificates".to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if depth > 8 || local.len() > 4096 {
            break;
        }
        for name in list_dir(g, &dir) {
            let p = join(&dir, &name);
            if g.is_dir(&p) {
                stack.push((p, depth + 1));
            } else if name.ends_with(".crt") && g.is_file(&p) {
                local.push((p, None));
            }
        }
    }
    if let Some((p, bytes)) = extra {
        local.retain(|(x, _)| x != p);
        local.push((p.to_owned(), Some(bytes.to_vec())));
    }
    local.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (p, bytes) in local {
        match bytes {
            Some(b) => add(&mut out, &b)?,
            None => add(&mut out, &g.read_file(&p, MAX_BUNDLE)?)?,
        }
    }
    Ok(out)
}

/// Adds the CA in `cert` (PEM or DER, one or more certificates) to the guest's trust store as
/// its family expects: the anchor `NAME` in the anchor directory (`NAME.crt`, PEM, on Debian,
/// where update-ca-certificates reads only `*.crt`; `NAME.pem` elsewhere), and the bundles its
/// tool would regenerate, computed here: on Debian exactly as update-ca-certificates writes
/// `ca-certificates.crt`, plus the `/etc/ssl/certs/NAME.pem` link and the `HASH.N` link to it
/// that `openssl rehash` makes ([`hash::rehash_link`]); on p11-kit families each existing
/// bundle with the certificates it lacks (of those p11-kit extracts for its purpose) appended
/// under a `# LABEL` line, as p11-kit writes them, and on Red Hat the OpenSSL trust bundle,
/// the Java keystore and the EDK2 list the same way (`extract`). Java keystore entries get
/// the current time; [`add_anchor_at`] takes it.
pub fn add_anchor(g: &dyn Guest, name: &str, cert: &[u8]) -> Result<Vec<FileOp>, Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    add_anchor_at(g, name, cert, now)
}

/// [`add_anchor`] with the creation time of new Java keystore entries, in milliseconds since
/// 1970.
pub fn add_anchor_at(
    g: &dyn Guest,
    name: &str,
    cert: &[u8],
    now_ms: u64,
) -> Result<Vec<FileOp>, Error> {
    if name.is_empty() || name.contains(['/', '\n']) || name.starts_with('.') {
        return Err(Error::Invalid {
            what: format!("anchor name {name:?}"),
            why: "a file name".into(),
        });
    }
    let ders = certificates(cert);
    if ders.is_empty() {
        return Err(Error::Invalid {
            what: "CA certificate".into(),
            why: "holds no PEM or DER certificate".into(),
        });
    }
    let Some(family) = Family::of(g) else {
        return Err(Error::Missing {
            path: "/etc/pki/ca-trust, /usr/share/ca-certificates or /var/lib/ca-certificates \
                   (no trust store layout this edit knows)"
                .into(),
        });
    };
    let pems: String = ders.iter().map(|d| pem(d)).collect();
    let file = match family {
        Family::Debian => format!("{name}.crt"),
        _ => format!("{name}.pem"),
    };
    let anchor = join(family.anchor_dir(), &file);
    let why = format!("trust the CA {name} ({})", family.tool());
    let mut ops = mkdirs(g, family.anchor_dir(), &why);
    ops.push(FileOp::write(
        anchor.clone(),
        pems.clone().into_bytes(),
        (0o644, 0, 0),
        &why,
    ));
    match family {
        Family::Debian => {
            let bundle = debian_bundle(g, Some((&anchor, pems.as_bytes())))?;
            let path = family.bundles()[0];
            let owner = existing(g, path)?.map_or((0o644, 0, 0), |(_, o)| o);
            ops.extend(mkdirs(g, "/etc/ssl/certs", &why));
            ops.push(FileOp::write(path, bundle, owner, &why));
            ops.extend(extract::debian_links(g, name, &anchor, &ders, &why)?);
        }
        Family::RedHat | Family::Suse => {
            for path in family.bundles() {
                let Some((bytes, owner)) = existing(g, path)? else {
                    continue;
                };
                let mut have = certificates(&bytes);
                let mut out = bytes.clone();
                for d in &ders {
                    if have.contains(d) || !cert::serves(d, extract::purpose(path)) {
                        continue;
                    }
                    have.push(d.clone());
                    comment_line(&mut out, d);
                    out.extend_from_slice(pem(d).as_bytes());
                }
                if out != bytes {
                    ops.push(FileOp::write(*path, out, owner, &why));
                }
            }
            if family == Family::RedHat {
                ops.extend(extract::p11kit_files(g, &ders, now_ms, &why)?);
            }
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_and_der_certificates() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let p = format!("junk\n{}", pem(&der));
        assert_eq!(certificates(p.as_bytes()), vec![der.clone()]);
        assert_eq!(certificates(&der), vec![der.clone()]);
        assert!(certificates(b"nothing").is_empty());
        // A damaged block (its END line lost) before a good one.
        let damaged = format!("-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTI\n{p}");
        assert_eq!(certificates(damaged.as_bytes()), vec![der]);
    }

    #[test]
    fn hostile_der_is_not_a_name() {
        for b in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x02\x30\x00",
        ] {
            assert_eq!(subject_cn(b), None);
        }
    }
}
