//! The trust-store writers against the programs that make or read the same files:
//! `openssl x509 -subject_hash` gives the hash `trust::hash` computes for every CA of the host
//! and for certificates with every kind of subject string; `openssl rehash` (run by
//! `update-ca-certificates`) makes the `/etc/ssl/certs` hash link `add_anchor` makes; OpenSSL
//! reads the TRUSTED CERTIFICATE blocks written and trusts them; `keytool` accepts the Java
//! keystore written; and p11-kit's `trust extract` (what `update-ca-trust extract` runs) writes
//! the same entries `add_anchor` appends to its PEM bundles, OpenSSL bundle, Java keystore and
//! EDK2 list.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{apply, materialize, run, update_ca_certificates, written};
use imgprep_sysconf::trust::{self, edk2, hash, jks, openssl};
use imgprep_sysconf::{FileOp, Op};
use imgprep_testkit::MemGuest;

fn openssl() -> Command {
    Command::new(common::program("openssl"))
}

/// A self-signed CA made by `openssl req` in `dir` (NAME.pem, NAME.key) with `subject`, its
/// strings of `string_mask`, and `args` added; its DER.
fn make_ca(dir: &Path, name: &str, subject: &str, string_mask: &str, args: &[&str]) -> Vec<u8> {
    let cnf = dir.join(format!("{name}.cnf"));
    fs_err::write(
        &cnf,
        format!(
            "[req]\ndistinguished_name = dn\nstring_mask = {string_mask}\nx509_extensions = v3\n\
             [dn]\n[v3]\nbasicConstraints = critical, CA:true\nsubjectKeyIdentifier = hash\n"
        ),
    )
    .unwrap();
    let pem = dir.join(format!("{name}.pem"));
    run(openssl()
        .args(["req", "-x509", "-new", "-utf8", "-days", "3650", "-nodes"])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(&pem)
        .arg("-config")
        .arg(&cnf)
        .args(["-subj", subject])
        .args(args));
    let ders = trust::certificates(&fs_err::read(&pem).unwrap());
    assert_eq!(ders.len(), 1);
    ders.into_iter().next().unwrap()
}

/// The subject strings OpenSSL canonicalises, each kind once: PrintableString with runs of
/// spaces, T61String holding Latin-1, BMPString, IA5String (DC, e-mail), a multi-valued RDN,
/// UTF8String with capitals and a tab.
fn odd_subjects(dir: &Path) -> Vec<Vec<u8>> {
    let multi = ["-multivalue-rdn"];
    [
        (
            "printable",
            "/O=Test Org/CN=My Test  CA",
            "default",
            &[][..],
        ),
        (
            "latin1",
            "/C=DE/O=  Ünïcödé   GmbH /CN=Größe Test",
            "default",
            &[],
        ),
        ("bmp", "/CN=漢字 Root/O=BMP Org", "default", &[]),
        (
            "multi",
            "/DC=com/DC=Example/OU=b+CN=A  B",
            "default",
            &multi,
        ),
        ("utf8", "/CN=UPPER lower\tTab /O=x", "utf8only", &[]),
        (
            "email",
            "/emailAddress=Admin@Example.COM/CN=x",
            "default",
            &[],
        ),
    ]
    .into_iter()
    .map(|(n, s, m, a)| make_ca(dir, n, s, m, a))
    .collect()
}

#[test]
fn subject_hashes_match_openssl() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ders: Vec<Vec<u8>> = Vec::new();
    for e in fs_err::read_dir("/etc/ssl/certs").unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            for d in trust::certificates(&fs_err::read(&p).unwrap()) {
                if !ders.contains(&d) {
                    ders.push(d);
                }
            }
        }
    }
    let host = ders.len();
    assert!(host >= 100, "only {host} CA certificates in /etc/ssl/certs");
    let odd = odd_subjects(tmp.path());
    ders.extend(odd);
    let f = tmp.path().join("cert.der");
    let mut differ = Vec::new();
    for d in &ders {
        fs_err::write(&f, d).unwrap();
        let theirs = run(openssl()
            .args(["x509", "-inform", "DER", "-noout", "-subject_hash", "-in"])
            .arg(&f));
        let ours = hash::subject_hash(d).map(|h| format!("{h:08x}"));
        if ours.as_deref() != Some(theirs.trim()) {
            let subject = run(openssl()
                .args(["x509", "-inform", "DER", "-noout", "-subject", "-in"])
                .arg(&f));
            differ.push(format!(
                "{}: openssl {} ours {ours:?}",
                subject.trim(),
                theirs.trim()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} subject hashes differ:\n{}",
        differ.len(),
        ders.len(),
        differ.join("\n")
    );
}

/// A Debian trust store whose `/etc/ssl/certs` holds `other` (a file with its hash link) and
/// the system CA `sys` (listed in ca-certificates.conf).
fn debian(other: Option<&[u8]>, sys: &[u8]) -> MemGuest {
    let mut g = MemGuest::new()
        .file("/etc/ca-certificates.conf", "mozilla/Sys.crt\n")
        .file(
            "/usr/share/ca-certificates/mozilla/Sys.crt",
            trust::pem(sys),
        )
        .dir("/usr/local/share/ca-certificates")
        .dir("/etc/ssl/certs");
    if let Some(o) = other {
        let h = hash::subject_hash(o).unwrap();
        g = g
            .file("/etc/ssl/certs/other.pem", trust::pem(o))
            .link(&format!("/etc/ssl/certs/{h:08x}.0"), "other.pem");
    }
    g
}

/// The hash links in `dir` (a host directory) to `target`.
fn host_links_to(dir: &Path, target: &str) -> BTreeSet<String> {
    fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.len() > 9 && n.as_bytes()[8] == b'.'
        })
        .filter(|e| fs_err::read_link(e.path()).is_ok_and(|t| t == Path::new(target)))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The hash links the operations make to `target`.
fn op_links_to(ops: &[FileOp], target: &str) -> BTreeSet<String> {
    ops.iter()
        .filter(|o| matches!(&o.op, Op::Symlink { target: t } if t == target))
        .map(|o| o.path.rsplit('/').next().unwrap().to_owned())
        .filter(|n| n.len() > 9 && n.as_bytes()[8] == b'.')
        .collect()
}

#[test]
fn debian_hash_links_match_openssl_rehash() {
    let prog = common::program("update-ca-certificates");
    let tmp = tempfile::tempdir().unwrap();
    let ca = make_ca(tmp.path(), "corp", "/O=Corp/CN=Corp  CA", "default", &[]);
    // Another certificate whose subject has the same canonical form: the same hash.
    let twin = make_ca(tmp.path(), "twin", "/O=CORP/CN=corp ca", "utf8only", &[]);
    let sys = make_ca(tmp.path(), "sys", "/CN=Sys", "default", &[]);
    assert_eq!(hash::subject_hash(&ca), hash::subject_hash(&twin));
    let ca_pem = trust::pem(&ca);
    for (case, g) in [
        ("alone", debian(None, &sys)),
        ("twin", debian(Some(&twin), &sys)),
    ] {
        let ops = trust::add_anchor(&g, "corp", ca_pem.as_bytes()).unwrap();
        let root = tmp.path().join(case);
        materialize(&g, &root, 100);
        fs_err::write(
            root.join("usr/local/share/ca-certificates/corp.crt"),
            &ca_pem,
        )
        .unwrap();
        update_ca_certificates(&prog, &root);
        let real = host_links_to(&root.join("etc/ssl/certs"), "corp.pem");
        assert_eq!(real.len(), 1, "{case}: {real:?}");
        assert_eq!(op_links_to(&ops, "corp.pem"), real, "{case}");
        // The edit on its own result adds no link.
        let again = trust::add_anchor(&apply(g, &ops), "corp", ca_pem.as_bytes()).unwrap();
        assert!(
            op_links_to(&again, "corp.pem").is_empty(),
            "{case}: {again:?}"
        );
    }
}

#[test]
fn trusted_certificate_blocks_are_read_and_trusted_by_openssl() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ca = make_ca(t, "ca", "/O=Test Org/CN=My Test  CA", "default", &[]);
    let bundle = openssl::append(b"", std::slice::from_ref(&ca)).unwrap();
    let bundle_path = t.join("bundle.crt");
    fs_err::write(&bundle_path, &bundle).unwrap();
    let text = run(openssl()
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&bundle_path));
    assert!(
        text.contains("No Trusted Uses.\nNo Rejected Uses.\nAlias: My Test  CA\n"),
        "{text}"
    );
    // OpenSSL writes the block back byte for byte.
    let out = run(openssl()
        .args(["x509", "-trustout", "-in"])
        .arg(&bundle_path));
    let bundle = String::from_utf8(bundle).unwrap();
    assert_eq!(bundle, format!("# My Test  CA\n{out}"));
    // A server certificate the CA issued verifies against the bundle alone.
    run(openssl()
        .args(["req", "-new", "-nodes", "-subj", "/CN=leaf.example"])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .arg("-keyout")
        .arg(t.join("leaf.key"))
        .arg("-out")
        .arg(t.join("leaf.csr")));
    fs_err::write(
        t.join("leaf.ext"),
        "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:leaf.example\n",
    )
    .unwrap();
    run(openssl()
        .args(["x509", "-req", "-days", "30", "-set_serial", "7", "-in"])
        .arg(t.join("leaf.csr"))
        .arg("-CA")
        .arg(t.join("ca.pem"))
        .arg("-CAkey")
        .arg(t.join("ca.key"))
        .arg("-extfile")
        .arg(t.join("leaf.ext"))
        .arg("-out")
        .arg(t.join("leaf.pem")));
    let ok = run(openssl()
        .args(["verify", "-purpose", "sslserver", "-CAfile"])
        .arg(&bundle_path)
        .arg(t.join("leaf.pem")));
    assert!(ok.trim_end().ends_with(": OK"), "{ok}");
    // What OpenSSL writes with trust settings reads back as written.
    let set = run(openssl()
        .args(["x509", "-trustout", "-addtrust", "serverAuth", "-addreject"])
        .args(["emailProtection", "-setalias", "Named", "-in"])
        .arg(t.join("ca.pem")));
    let blocks = openssl::trusted_certificates(set.as_bytes());
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].0, ca);
    let aux = openssl::CertAux::from_der(&blocks[0].1).unwrap();
    assert_eq!(aux.alias.as_deref(), Some("Named"));
    assert_eq!(
        aux.trust,
        Some(vec![vec![0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]])
    );
    assert_eq!(
        aux.reject,
        Some(vec![vec![0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04]])
    );
    assert_eq!(aux.to_der(), blocks[0].1);
}

fn keytool() -> Command {
    let mut c = Command::new(common::program("keytool"));
    c.env("TZ", "UTC");
    c
}

/// Imports `pem` into the JKS keystore `ks` (created when missing) under `alias`.
fn keytool_import(ks: &Path, pass: &str, alias: &str, pem: &Path) {
    run(keytool()
        .args([
            "-importcert",
            "-noprompt",
            "-storetype",
            "JKS",
            "-storepass",
            pass,
        ])
        .args(["-alias", alias, "-keystore"])
        .arg(ks)
        .arg("-file")
        .arg(pem));
}

/// A Red Hat trust store with the Java keystore `ks`.
fn red_hat_with_keystore(ks: &[u8]) -> MemGuest {
    MemGuest::new()
        .dir("/etc/pki/ca-trust/source/anchors")
        .file_owned(jks::CACERTS, ks, (0o444, 0, 0))
}

#[test]
fn keytool_accepts_the_keystore_written() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let a = make_ca(t, "a", "/CN=First", "default", &[]);
    make_ca(t, "b", "/CN=Corp Root CA/O=Other", "default", &[]);
    let ours = make_ca(t, "ours", "/O=Corp/CN=Corp  Root  CA", "default", &[]);
    let ks = t.join("cacerts");
    keytool_import(&ks, jks::PASSWORD, "first", &t.join("a.pem"));
    // The alias p11-kit derives for ours is taken already.
    keytool_import(&ks, jks::PASSWORD, "corprootca", &t.join("b.pem"));
    let before = fs_err::read(&ks).unwrap();
    let g = red_hat_with_keystore(&before);
    let ops =
        trust::add_anchor_at(&g, "corp", trust::pem(&ours).as_bytes(), 1_700_000_000_000).unwrap();
    let after = written(&ops, jks::CACERTS).unwrap();
    assert!(
        ops.iter()
            .any(|o| o.path == jks::CACERTS && matches!(o.op, Op::Write { mode: 0o444, .. }))
    );
    // Every byte of the entries before is kept.
    let end = before.len() - 20;
    assert_eq!(after[..8], before[..8]);
    assert_eq!(after[12..end], before[12..end]);
    let out = t.join("cacerts.new");
    fs_err::write(&out, after).unwrap();
    let list = run(keytool()
        .args([
            "-list",
            "-storetype",
            "JKS",
            "-storepass",
            jks::PASSWORD,
            "-keystore",
        ])
        .arg(&out));
    assert!(list.contains("Your keystore contains 3 entries"), "{list}");
    let fingerprint = run(openssl()
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(t.join("ours.pem")));
    let fingerprint = fingerprint.trim().rsplit('=').next().unwrap();
    let line = format!(
        "corprootca-1, Nov 14, 2023, trustedCertEntry, \nCertificate fingerprint (SHA-256): {fingerprint}"
    );
    assert!(list.contains(&line), "{line}\n{list}");
    assert!(
        list.contains("first, ") && list.contains("corprootca, "),
        "{list}"
    );
    // Nothing more to add the second time.
    let again = trust::add_anchor(&apply(g, &ops), "corp", trust::pem(&ours).as_bytes()).unwrap();
    assert!(written(&again, jks::CACERTS).is_none());
    // A keystore another password protects is refused, naming where its digest is.
    let other = t.join("other");
    keytool_import(&other, "secret", "first", &t.join("a.pem"));
    let g = red_hat_with_keystore(&fs_err::read(&other).unwrap());
    let err = trust::add_anchor(&g, "corp", trust::pem(&a).as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{} at 0x", jks::CACERTS))
            && err.contains("integrity digest does not match the password \"changeit\""),
        "{err}"
    );
}

/// Runs p11-kit's `trust extract` as `update-ca-trust extract` runs it, over the anchors of
/// `source` (a directory holding `anchors/`), into `out` (`pem/`, `openssl/`, `java/`,
/// `edk2/`); `root` is the temporary directory holding both. p11-kit reads the paths of its
/// trust module from a user configuration (in `root/home`), which it ignores for root: as
/// root it runs as nobody.
fn p11_kit_extract(root: &Path, source: &Path, out: &Path, epoch: u64) {
    let home = root.join("home");
    let modules = home.join(".config/pkcs11/modules");
    fs_err::create_dir_all(&modules).unwrap();
    fs_err::write(
        modules.join("p11-kit-trust.module"),
        format!(
            "module: p11-kit-trust.so\npriority: 1\ntrust-policy: yes\nx-init-reserved: paths={}\n",
            source.display()
        ),
    )
    .unwrap();
    for d in ["pem", "openssl", "java", "edk2"] {
        fs_err::create_dir_all(out.join(d)).unwrap();
    }
    open_up(root);
    let trust = common::program("trust");
    let extract = |args: &[&str], dest: &str| {
        let mut cmd = if common::root() {
            let mut c = Command::new(common::program("setpriv"));
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&trust);
            c
        } else {
            Command::new(&trust)
        };
        run(cmd
            .env("HOME", &home)
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env_remove("P11_KIT_NO_USER_CONFIG")
            .arg("extract")
            .args(args)
            .args(["--overwrite"])
            .arg(out.join(dest)));
    };
    let anchors = ["--filter=ca-anchors"];
    extract(
        &[
            "--format=openssl-bundle",
            "--filter=certificates",
            "--comment",
        ],
        "openssl/ca-bundle.trust.crt",
    );
    for (purpose, file) in [
        ("server-auth", "tls-ca-bundle.pem"),
        ("email", "email-ca-bundle.pem"),
        ("code-signing", "objsign-ca-bundle.pem"),
    ] {
        extract(
            &[
                &["--format=pem-bundle", "--comment", "--purpose", purpose][..],
                &anchors,
            ]
            .concat(),
            &format!("pem/{file}"),
        );
    }
    let tls = ["--purpose", "server-auth"];
    extract(
        &[&["--format=java-cacerts"][..], &anchors, &tls].concat(),
        "java/cacerts",
    );
    extract(
        &[&["--format=edk2-cacerts"][..], &anchors, &tls].concat(),
        "edk2/cacerts.bin",
    );
}

/// Makes `dir` and what is below it readable by everyone and writable where p11-kit writes.
fn open_up(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        fs_err::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        for e in fs_err::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.is_symlink() {
                fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
    }
}

/// The entries of a p11-kit PEM bundle written with `--comment`: each comment line with its
/// block, in a set (p11-kit's order is that of its object store).
fn pem_entries(text: &[u8]) -> BTreeSet<String> {
    String::from_utf8(text.to_vec())
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| format!("{}\n", e.trim_end()))
        .collect()
}

/// The (alias, creation time, certificate) entries of a JKS keystore.
fn jks_entries(b: &[u8]) -> BTreeSet<(String, u64, Vec<u8>)> {
    let ks = jks::Keystore::parse("/k", b, jks::PASSWORD).unwrap();
    ks.entries
        .iter()
        .map(|e| match e.kind {
            jks::EntryKind::TrustedCert(c) => (e.alias.clone(), e.created_ms, c.to_vec()),
            _ => panic!("{e:?}"),
        })
        .collect()
}

/// The signature lists of an EDK2 file, each as its bytes.
fn edk2_entries(b: &[u8]) -> BTreeSet<Vec<u8>> {
    let lists = edk2::parse("/e", b).unwrap();
    let mut ends: Vec<usize> = lists.iter().skip(1).map(|l| l.offset as usize).collect();
    ends.push(b.len());
    lists
        .iter()
        .zip(ends)
        .map(|(l, end)| b[l.offset as usize..end].to_vec())
        .collect()
}

#[test]
fn p11_kit_extracts_what_add_anchor_appends() {
    const EPOCH: u64 = 1_700_000_000;
    const EXTRACTED: &str = "/etc/pki/ca-trust/extracted";
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let certs = t.join("certs");
    fs_err::create_dir_all(&certs).unwrap();
    // The guest's CAs: one for every purpose, one for code signing only, labelled by its OU.
    let base = make_ca(&certs, "base", "/O=Base Org/CN=Base Root", "default", &[]);
    let signing = make_ca(
        &certs,
        "signing",
        "/O=Base Org/OU=Signing Unit",
        "default",
        &["-addext", "extendedKeyUsage = codeSigning"],
    );
    // Ours: a CA for every purpose, and one for e-mail only with no CN or OU.
    let corp = make_ca(&certs, "corp", "/O=Corp/CN=Corp  Root  CA", "default", &[]);
    let mail = make_ca(
        &certs,
        "mail",
        "/C=FR/O=Mail Org",
        "default",
        &["-addext", "extendedKeyUsage = emailProtection"],
    );
    let source = t.join("source");
    fs_err::create_dir_all(source.join("anchors")).unwrap();
    fs_err::write(
        source.join("anchors/base.pem"),
        format!("{}{}", trust::pem(&base), trust::pem(&signing)),
    )
    .unwrap();
    let before = t.join("before");
    p11_kit_extract(t, &source, &before, EPOCH);

    let files = [
        "pem/tls-ca-bundle.pem",
        "pem/email-ca-bundle.pem",
        "pem/objsign-ca-bundle.pem",
        "openssl/ca-bundle.trust.crt",
        "java/cacerts",
        "edk2/cacerts.bin",
    ];
    let mut g = MemGuest::new().dir("/etc/pki/ca-trust/source/anchors");
    for f in files {
        g = g.file_owned(
            &format!("{EXTRACTED}/{f}"),
            fs_err::read(before.join(f)).unwrap(),
            (0o444, 0, 0),
        );
    }
    let ca = format!("{}{}", trust::pem(&corp), trust::pem(&mail));
    let ops = trust::add_anchor_at(&g, "corp", ca.as_bytes(), EPOCH * 1000).unwrap();

    // update-ca-trust over the anchor the edit wrote.
    let anchor = written(&ops, "/etc/pki/ca-trust/source/anchors/corp.pem").unwrap();
    fs_err::write(source.join("anchors/corp.pem"), anchor).unwrap();
    let after = t.join("after");
    p11_kit_extract(t, &source, &after, EPOCH);

    for f in files {
        let path = format!("{EXTRACTED}/{f}");
        let old = fs_err::read(before.join(f)).unwrap();
        let real = fs_err::read(after.join(f)).unwrap();
        let ours = written(&ops, &path).unwrap_or(&old);
        if f.ends_with("cacerts") {
            // The count and the digest change; the entries before stay.
            let end = old.len() - 20;
            assert_eq!(
                (&ours[..8], &ours[12..end]),
                (&old[..8], &old[12..end]),
                "{f}"
            );
            assert_eq!(jks_entries(ours), jks_entries(&real), "{f}");
            assert_eq!(ours.len(), real.len(), "{f}");
        } else if f.ends_with(".bin") {
            assert!(ours.starts_with(&old), "{f}: the old contents are not kept");
            assert_eq!(edk2_entries(ours), edk2_entries(&real), "{f}");
            assert_eq!(ours.len(), real.len(), "{f}");
        } else {
            assert!(ours.starts_with(&old), "{f}: the old contents are not kept");
            assert_eq!(pem_entries(ours), pem_entries(&real), "{f}");
            assert_eq!(ours.len(), real.len(), "{f}");
        }
    }
    // What changed, so the comparison above is not of unchanged files.
    let changed: Vec<&str> = ops
        .iter()
        .filter(|o| o.path.starts_with(EXTRACTED))
        .map(|o| o.path.as_str())
        .collect();
    assert_eq!(
        changed,
        [
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
            "/etc/pki/ca-trust/extracted/pem/email-ca-bundle.pem",
            "/etc/pki/ca-trust/extracted/pem/objsign-ca-bundle.pem",
            "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt",
            "/etc/pki/ca-trust/extracted/java/cacerts",
            "/etc/pki/ca-trust/extracted/edk2/cacerts.bin",
        ]
    );
}
