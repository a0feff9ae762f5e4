//! `probe: ca-trusted` on guests built in memory.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use imgprep_rules::{Outcome, Status};
use imgprep_sysconf::trust::pem;
use imgprep_testkit::MemGuest;

/// Runs `ca-trusted` with `--param ca=` a file holding `ca` (PEM) on a Linux guest.
fn ca_trusted(g: &MemGuest, ca: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    fs_err::write(&file, ca).unwrap();
    let os = common::linux("centos", 7, 9, "rpm");
    common::run(
        "probe: ca-trusted\n",
        g,
        &os,
        &[("ca", file.to_str().unwrap())],
    )
}

#[test]
fn a_bundle_linked_under_several_names_is_evidence_once() {
    let ours = pem(&[0x30, 0x03, 0x02, 0x01, 0x05]);
    let other = pem(&[0x30, 0x03, 0x02, 0x01, 0x07]);
    // The RHEL 7 layout: the extracted bundle, ca-bundle.crt linking to it, /etc/ssl/certs
    // linking to /etc/pki/tls/certs.
    let el7 = |bundle: &str| {
        MemGuest::new()
            .file("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", bundle)
            .link(
                "/etc/pki/tls/certs/ca-bundle.crt",
                "../../ca-trust/extracted/pem/tls-ca-bundle.pem",
            )
            .link("/etc/ssl/certs", "../pki/tls/certs")
            .dir("/etc/pki/ca-trust/source/anchors")
    };
    let o = ca_trusted(&el7(&format!("{other}{ours}")), &ours);
    assert_eq!(o.status, Status::Pass, "{}", o.message);
    let ev: Vec<(&str, &str)> = o
        .evidence
        .iter()
        .map(|e| (e.path.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(
        ev,
        [(
            "/etc/pki/tls/certs/ca-bundle.crt",
            "holds 1 of the 1 certificate(s) (links to \
             /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem)"
        )]
    );
    let o = ca_trusted(&el7(&other), &ours);
    assert_eq!(o.status, Status::Fail, "{}", o.message);
    let ev: Vec<&str> = o.evidence.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        ev,
        ["1 other certificate(s), not this CA (links to \
          /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem)"]
    );
}
