//! The packages `imgprep inspect` lists for each rpm-based fixture against what rpm itself lists
//! from the database put into the image (`IMAGE.rpm-qa.txt`, written when the fixture was built
//! with `rpm -qa --qf '%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}\n'`), on name, epoch,
//! version, release and arch.
//!
//! This is the package reference where virt-inspector cannot give one: libguestfs 1.48 lists rpm
//! packages with the appliance's librpm, which on this platform has no NDB backend (SUSE).

mod common;

use serde_json::Value;

/// `name|epoch|version|release|arch` of each application imgprep reports, sorted.
fn imgprep_packages(images: &[std::path::PathBuf]) -> Vec<String> {
    let mut args: Vec<String> = vec!["inspect".into(), "--format".into(), "json".into()];
    args.extend(images.iter().map(|p| p.display().to_string()));
    let out: Value = serde_json::from_str(&common::imgprep_ok(&args, 0)).expect("JSON");
    let oses = out["operatingsystems"]
        .as_array()
        .expect("operatingsystems");
    assert_eq!(oses.len(), 1, "one operating system in {images:?}");
    // imgprep leaves out a zero epoch and an empty field.
    let field = |a: &Value, k: &str| match &a[k] {
        Value::Null if k == "epoch" => "0".to_owned(),
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut apps: Vec<String> = oses[0]["applications"]
        .as_array()
        .expect("applications")
        .iter()
        .map(|a| {
            ["name", "epoch", "version", "release", "arch"]
                .map(|k| field(a, k))
                .join("|")
        })
        .collect();
    apps.sort();
    apps
}

fn check(fixture: &str, images: &[&str]) {
    let dir = common::fixture(fixture);
    let paths: Vec<_> = images.iter().map(|i| dir.join(i)).collect();
    let reference = format!("{}.rpm-qa.txt", paths[0].display());
    let mut want: Vec<String> = fs_err::read_to_string(&reference)
        .expect("rpm -qa list next to the image")
        .lines()
        .map(str::to_owned)
        .collect();
    want.sort();
    assert!(!want.is_empty(), "{reference} lists no package");
    let ours = imgprep_packages(&paths);
    let missing: Vec<_> = want.iter().filter(|p| !ours.contains(p)).collect();
    let unexpected: Vec<_> = ours.iter().filter(|p| !want.contains(p)).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty() && ours.len() == want.len(),
        "{fixture}: imgprep's packages differ from rpm -qa ({} vs {}):\n  missing: {missing:?}\n  \
         unexpected: {unexpected:?}",
        ours.len(),
        want.len()
    );
}

#[test]
fn centos7_bdb() {
    check("centos7-like", &["centos7-like.qcow2"]);
}

#[test]
fn centos6_bdb() {
    check("centos6-like", &["centos6-like.vmdk"]);
}

#[test]
fn rhel7_bdb() {
    check("rhel7-like", &["rhel7-like.qcow2"]);
}

#[test]
fn fedora_sqlite_under_usr_lib_sysimage() {
    check("fedora-like", &["fedora-like.qcow2"]);
}

#[test]
fn alma9_sqlite() {
    check("alma9-like", &["alma9-like.vmdk"]);
}

#[test]
fn suse_ndb() {
    check("suse-like", &["suse-like.vhdx"]);
}

#[test]
fn rocky9_sqlite_on_a_var_lv_spanning_two_disks() {
    check(
        "lvm-striped",
        &["lvm-striped-a.qcow2", "lvm-striped-b.qcow2"],
    );
}
