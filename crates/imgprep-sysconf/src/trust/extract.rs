//! What the trust-store tools write besides the PEM bundles, computed natively for
//! `add_anchor`: on Red Hat the other outputs of `update-ca-trust extract` that exist in the
//! guest (the OpenSSL trust bundle, the Java keystore, the EDK2 list), each with the new
//! anchors appended as p11-kit writes them and the rest kept byte for byte; on Debian the
//! `/etc/ssl/certs` links `update-ca-certificates` makes (`NAME.pem`, and `HASH.N` from
//! `openssl rehash`). And the outputs of those tools that are not computed here.

use imgprep_guest::Guest;

use super::{cert, edk2, hash, jks, openssl};
use crate::Error;
use crate::ops::{FileOp, existing};
use crate::path::join;

/// The directory `update-ca-certificates` links certificates into.
const ETC_CERTS: &str = "/etc/ssl/certs";

/// The purpose p11-kit extracts a PEM bundle for (`--purpose`).
pub(super) fn purpose(bundle: &str) -> &'static [u8] {
    match bundle {
        "/etc/pki/ca-trust/extracted/pem/email-ca-bundle.pem" => cert::EMAIL_PROTECTION,
        "/etc/pki/ca-trust/extracted/pem/objsign-ca-bundle.pem" => cert::CODE_SIGNING,
        _ => cert::SERVER_AUTH,
    }
}

/// The outputs of the trust tool present in the guest that `add_anchor` does not write: the
/// guest's own tool regenerates them at its next run.
pub fn not_regenerated(g: &dyn Guest) -> Vec<&'static str> {
    [
        // EL9: p11-kit's pem-directory-hash.
        "/etc/pki/ca-trust/extracted/pem/directory-hash",
        // Debian: the ca-certificates-java hook.
        "/etc/ssl/certs/java/cacerts",
        // SUSE: p11-kit's openssl-directory, pem-directory and java-cacerts.
        "/var/lib/ca-certificates/openssl",
        "/var/lib/ca-certificates/pem",
        "/var/lib/ca-certificates/java-cacerts",
    ]
    .into_iter()
    .filter(|p| matches!(g.lstat(p), Ok(Some(_))))
    .collect()
}

/// The `/etc/ssl/certs` name `update-ca-certificates` links a local certificate `NAME.crt`
/// under: spaces and commas become `_`, parentheses `=`, and `.pem` is added.
fn debian_pem_name(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            ' ' | ',' => '_',
            '(' | ')' => '=',
            c => c,
        })
        .collect();
    format!("{mapped}.pem")
}

/// The links `update-ca-certificates` makes for the local anchor `anchor`: `NAME.pem` to it,
/// and the `HASH.N` link to `NAME.pem` that `openssl rehash` makes when the file holds exactly
/// one certificate (rehash skips other files); hash links to `NAME.pem` under another hash (a
/// certificate it held before) are removed, as rehash removes them.
pub(super) fn debian_links(
    g: &dyn Guest,
    name: &str,
    anchor: &str,
    ders: &[Vec<u8>],
    why: &str,
) -> Result<Vec<FileOp>, Error> {
    let pem_name = debian_pem_name(name);
    let mut ops = vec![FileOp::symlink(join(ETC_CERTS, &pem_name), anchor, why)];
    let only = match ders {
        [only] => Some(only.as_slice()),
        _ => None,
    };
    for stale in hash::stale_links(g, ETC_CERTS, &pem_name, only.and_then(hash::subject_hash)) {
        ops.push(FileOp {
            path: stale,
            op: crate::Op::Remove,
            why: why.to_owned(),
        });
    }
    if let Some(cert) = only
        && let Some(link) = hash::rehash_link(g, ETC_CERTS, &pem_name, cert)?
    {
        ops.push(FileOp::symlink(link, pem_name, why));
    }
    Ok(ops)
}

/// The certificates of `ders` p11-kit extracts for `purpose`, each once.
fn for_purpose<'a>(ders: &'a [Vec<u8>], purpose: &[u8]) -> Vec<&'a [u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    for d in ders {
        if cert::serves(d, purpose) && !out.contains(&d.as_slice()) {
            out.push(d);
        }
    }
    out
}

/// The Red Hat outputs of `update-ca-trust extract` besides the PEM bundles that exist in the
/// guest, with the anchors of `ders` they lack appended: the OpenSSL trust bundle (every
/// certificate), the Java keystore and the EDK2 list (those for TLS servers). New keystore
/// entries are created at `now_ms` with the alias p11-kit derives, made unique. A keystore or
/// list that does not read is an error naming the offset: p11-kit would replace it, this edit
/// cannot keep what it does not understand.
pub(super) fn p11kit_files(
    g: &dyn Guest,
    ders: &[Vec<u8>],
    now_ms: u64,
    why: &str,
) -> Result<Vec<FileOp>, Error> {
    let mut ops = Vec::new();
    if let Some((bytes, owner)) = existing(g, openssl::BUNDLE)?
        && let Some(out) = openssl::append(&bytes, ders)
    {
        ops.push(FileOp::write(openssl::BUNDLE, out, owner, why));
    }
    let tls = for_purpose(ders, cert::SERVER_AUTH);
    if let Some((bytes, owner)) = existing(g, jks::CACERTS)? {
        let mut out = bytes.clone();
        for d in &tls {
            let ks = jks::Keystore::parse(jks::CACERTS, &out, jks::PASSWORD)?;
            if ks.has_trusted(d) {
                continue;
            }
            let alias = ks.unique_alias(&jks::p11kit_alias(cert::label(d).as_deref()));
            out = ks.with_trusted_cert(&alias, now_ms, d, jks::PASSWORD)?;
        }
        if out != bytes {
            ops.push(FileOp::write(jks::CACERTS, out, owner, why));
        }
    }
    if let Some((bytes, owner)) = existing(g, edk2::CACERTS)? {
        let lists = edk2::parse(edk2::CACERTS, &bytes)?;
        let have = edk2::certificates(&lists);
        let mut out = bytes.clone();
        for d in tls.iter().filter(|d| !have.contains(d)) {
            out.extend(edk2::list(d).ok_or_else(|| Error::Invalid {
                what: "CA certificate".into(),
                why: "too large for an EFI signature list".into(),
            })?);
        }
        if out != bytes {
            ops.push(FileOp::write(edk2::CACERTS, out, owner, why));
        }
    }
    Ok(ops)
}
