//! dpkg and apk databases full of libguestfs's parsing quirks (images-test/
//! rpmdb-libguestfs-quirks.sh), against what virt-inspector (libguestfs 1.48) reported from
//! them: every application, every field.
#![allow(clippy::unwrap_used)] // test helpers, not library code

use std::path::PathBuf;

use imgprep_pkgdb::{Listing, apk_installed, dpkg_status};

fn fixture() -> PathBuf {
    imgprep_testkit::fixture("rpmdb-libguestfs-quirks")
}

const FIELDS: [&str; 9] = [
    "name",
    "epoch",
    "version",
    "release",
    "arch",
    "url",
    "source_package",
    "summary",
    "description",
];

/// The applications of the operating system whose distro is `distro`, one line each with the
/// fields in FIELDS order (`0` for no epoch, empty for an absent field), sorted.
fn inspector(xml: &str, distro: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let os = doc
        .descendants()
        .filter(|n| n.has_tag_name("operatingsystem"))
        .find(|os| {
            os.children()
                .any(|c| c.has_tag_name("distro") && c.text() == Some(distro))
        })
        .unwrap();
    let apps = os
        .children()
        .find(|c| c.has_tag_name("applications"))
        .unwrap();
    let mut v: Vec<String> = apps
        .children()
        .filter(|a| a.has_tag_name("application"))
        .map(|a| {
            FIELDS
                .iter()
                .map(|f| {
                    let t = a
                        .children()
                        .find(|c| c.has_tag_name(*f))
                        .and_then(|c| c.text());
                    match (*f, t) {
                        ("epoch", None) => "0".to_string(),
                        (_, t) => t.unwrap_or("").to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    v.sort();
    v
}

fn ours(l: &Listing) -> Vec<String> {
    let o = |s: &Option<String>| s.clone().unwrap_or_default();
    let mut v: Vec<String> = l
        .packages
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.epoch.to_string(),
                p.version.clone(),
                p.release.clone(),
                p.arch.clone(),
                o(&p.url),
                o(&p.source_package),
                o(&p.summary),
                o(&p.description),
            ]
            .join("|")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn dpkg_and_apk_report_what_virt_inspector_reports() {
    let dir = fixture();
    let xml = fs_err::read_to_string(dir.join("inspector.xml")).unwrap();

    let deb = dpkg_status(&fs_err::read(dir.join("status")).unwrap()).unwrap();
    let want = inspector(&xml, "debian");
    assert_eq!(want.len(), 11, "{want:#?}");
    assert_eq!(ours(&deb), want);
    // The paragraphs libguestfs drops with a reason: two bad epochs, the unterminated one.
    assert_eq!(deb.problems.len(), 3, "{:#?}", deb.problems);

    let apk = apk_installed(&fs_err::read(dir.join("installed")).unwrap()).unwrap();
    let want = inspector(&xml, "alpinelinux");
    assert_eq!(want.len(), 6, "{want:#?}");
    assert_eq!(ours(&apk), want);
    assert_eq!(apk.problems.len(), 2, "{:#?}", apk.problems);
}
