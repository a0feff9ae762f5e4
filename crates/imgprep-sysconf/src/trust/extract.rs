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

#[cfg(test)]
mod tests {
    use imgprep_testkit::MemGuest;

    use super::*;
    use crate::Op;
    use crate::trust::cert::tests::{cert, name, utf8};
    use crate::trust::cert::{CN, CODE_SIGNING, EMAIL_PROTECTION, SERVER_AUTH};
    use crate::trust::{add_anchor_at, certificates, pem};

    const EXTRACTED: &str = "/etc/pki/ca-trust/extracted";

    fn written<'a>(ops: &'a [FileOp], path: &str) -> Option<&'a [u8]> {
        ops.iter().find_map(|o| match &o.op {
            Op::Write { content, .. } if o.path == path => Some(content.as_slice()),
            _ => None,
        })
    }

    fn apply(mut g: MemGuest, ops: &[FileOp]) -> MemGuest {
        for o in ops {
            g = match &o.op {
                Op::Write {
                    content,
                    mode,
                    uid,
                    gid,
                } => g.file_owned(&o.path, content, (*mode, *uid, *gid)),
                Op::Symlink { target } => g.link(&o.path, target),
                Op::Mkdir { .. } => g.dir(&o.path),
                Op::Remove => g.remove(&o.path),
                other => panic!("{other:?}"),
            };
        }
        g
    }

    /// A Red Hat trust store as update-ca-trust leaves it, holding `old`.
    fn red_hat(old: &[u8]) -> MemGuest {
        let empty_ks = {
            let mut b = vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0];
            let d = jks::digest(jks::PASSWORD, &b);
            b.extend_from_slice(&d);
            b
        };
        let ks = jks::Keystore::parse("/k", &empty_ks, jks::PASSWORD)
            .unwrap()
            .with_trusted_cert("old", 1, old, jks::PASSWORD)
            .unwrap();
        let ro = (0o444, 0, 0);
        MemGuest::new()
            .dir("/etc/pki/ca-trust/source/anchors")
            .file_owned(
                &format!("{EXTRACTED}/pem/tls-ca-bundle.pem"),
                format!("# old\n{}", pem(old)),
                ro,
            )
            .file_owned(&format!("{EXTRACTED}/pem/email-ca-bundle.pem"), "", ro)
            .file_owned(&format!("{EXTRACTED}/pem/objsign-ca-bundle.pem"), "", ro)
            .file_owned(
                openssl::BUNDLE,
                openssl::append(b"", &[old.to_vec()]).unwrap(),
                ro,
            )
            .file_owned(jks::CACERTS, ks, ro)
            .file_owned(edk2::CACERTS, edk2::list(old).unwrap(), ro)
    }

    #[test]
    fn red_hat_outputs_gain_the_anchors_for_their_purposes() {
        let old = cert(&name(&[&[(CN, utf8("Old"))]]), None);
        let corp = cert(&name(&[&[(CN, utf8("Corp CA"))]]), None);
        let signer = cert(&name(&[&[(CN, utf8("Signer"))]]), Some(&[CODE_SIGNING]));
        let g = red_hat(&old);
        let ca = format!("{}{}{}", pem(&corp), pem(&signer), pem(&corp));
        let ops = add_anchor_at(&g, "corp", ca.as_bytes(), 1_700_000_000_000).unwrap();
        let pem_of = |p: &str| {
            certificates(written(&ops, &format!("{EXTRACTED}/pem/{p}")).unwrap_or_default())
        };
        assert_eq!(pem_of("tls-ca-bundle.pem"), [old.clone(), corp.clone()]);
        assert_eq!(
            pem_of("objsign-ca-bundle.pem"),
            [corp.clone(), signer.clone()]
        );
        assert_eq!(pem_of("email-ca-bundle.pem"), std::slice::from_ref(&corp));
        let ob = openssl::trusted_certificates(written(&ops, openssl::BUNDLE).unwrap());
        assert_eq!(
            ob.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            [old.clone(), corp.clone(), signer.clone()]
        );
        let ks_bytes = written(&ops, jks::CACERTS).unwrap();
        let ks = jks::Keystore::parse(jks::CACERTS, ks_bytes, jks::PASSWORD).unwrap();
        let entries: Vec<_> = ks
            .entries
            .iter()
            .map(|e| (e.alias.as_str(), e.created_ms))
            .collect();
        assert_eq!(entries, [("old", 1), ("corpca", 1_700_000_000_000)]);
        let lists = edk2::parse(edk2::CACERTS, written(&ops, edk2::CACERTS).unwrap()).unwrap();
        assert_eq!(edk2::certificates(&lists), [old.as_slice(), &corp]);
        // Modes are kept; the same edit again changes nothing in the extracted files.
        assert!(
            ops.iter()
                .filter(|o| o.path.starts_with(EXTRACTED))
                .all(|o| matches!(o.op, Op::Write { mode: 0o444, .. }))
        );
        let again = add_anchor_at(&apply(g, &ops), "corp", ca.as_bytes(), 5).unwrap();
        assert!(
            again.iter().all(|o| !o.path.starts_with(EXTRACTED)),
            "{again:?}"
        );
        assert!(cert::serves(&corp, SERVER_AUTH) && cert::serves(&corp, EMAIL_PROTECTION));
    }

    #[test]
    fn a_damaged_keystore_is_an_error_naming_the_offset() {
        let old = cert(&name(&[&[(CN, utf8("Old"))]]), None);
        let mut ks = red_hat(&old).read_file(jks::CACERTS, 1 << 20).unwrap();
        ks[20] ^= 0xff;
        let g = red_hat(&old).file(jks::CACERTS, &ks);
        let err = add_anchor_at(&g, "corp", pem(&old).as_bytes(), 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{} at 0x", jks::CACERTS)),
            "{err}"
        );
        let g = red_hat(&old).file(edk2::CACERTS, b"short");
        let err = add_anchor_at(&g, "corp", pem(&old).as_bytes(), 0).unwrap_err();
        assert!(err.to_string().contains("signature list header"), "{err}");
    }

    #[test]
    fn debian_gets_its_links() {
        let corp = cert(&name(&[&[(CN, utf8("Corp CA"))]]), None);
        let h = format!("{:08x}", hash::subject_hash(&corp).unwrap());
        let g = MemGuest::new()
            .file("/etc/ca-certificates.conf", "")
            .dir("/usr/share/ca-certificates")
            .link("/etc/ssl/certs/0badf00d.0", "corp_ca=1=.pem");
        let ops = add_anchor_at(&g, "corp ca(1)", pem(&corp).as_bytes(), 0).unwrap();
        let links: Vec<(&str, &str)> = ops
            .iter()
            .filter_map(|o| match &o.op {
                Op::Symlink { target } => Some((o.path.as_str(), target.as_str())),
                _ => None,
            })
            .collect();
        let hash_link = format!("/etc/ssl/certs/{h}.0");
        assert_eq!(
            links,
            [
                (
                    "/etc/ssl/certs/corp_ca=1=.pem",
                    "/usr/local/share/ca-certificates/corp ca(1).crt"
                ),
                (hash_link.as_str(), "corp_ca=1=.pem"),
            ]
        );
        assert!(
            ops.iter()
                .any(|o| o.path == "/etc/ssl/certs/0badf00d.0" && o.op == Op::Remove)
        );
        let again = add_anchor_at(&apply(g, &ops), "corp ca(1)", pem(&corp).as_bytes(), 0).unwrap();
        assert!(
            !again
                .iter()
                .any(|o| o.op == Op::Remove || o.path == hash_link),
            "{again:?}"
        );
        // Two certificates in one file: rehash links none.
        let two = format!("{}{}", pem(&corp), pem(&corp));
        let ops = add_anchor_at(
            &MemGuest::new().file("/etc/ca-certificates.conf", ""),
            "c",
            two.as_bytes(),
            0,
        )
        .unwrap();
        assert!(!ops.iter().any(|o| o.path.contains(&h)));
    }

    #[test]
    fn outputs_left_to_the_guest_are_named() {
        let g = MemGuest::new()
            .dir("/etc/pki/ca-trust/extracted/pem/directory-hash")
            .file("/etc/ssl/certs/java/cacerts", "");
        assert_eq!(
            not_regenerated(&g),
            [
                "/etc/pki/ca-trust/extracted/pem/directory-hash",
                "/etc/ssl/certs/java/cacerts"
            ]
        );
    }
}
