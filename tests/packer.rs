//! Real `packer build` (Debian's Packer 1.6.6, offline: the null builder and the shell-local and
//! manifest post-processors) on the templates in examples/packer/, against fixture images: a
//! passing image gives exit 0 and a manifest; a failing one makes packer exit non-zero with no
//! manifest, the JUnit report names the failing rule, and the input image is unchanged. The
//! fix-then-gate template runs `imgprep prepare` once (one appliance launch) on prepare-debian.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn template(name: &str) -> PathBuf {
    common::repo().join("examples/packer").join(name)
}

/// `packer build -var K=V… TEMPLATE` in `dir`.
fn packer_build(dir: &Path, template: &Path, vars: &[(&str, String)]) -> Output {
    let mut cmd = Command::new("packer");
    cmd.arg("build").arg("-color=false");
    for (k, v) in vars {
        cmd.arg("-var").arg(format!("{k}={v}"));
    }
    cmd.arg(template)
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_NO_COLOR", "1")
        .env("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
        .output()
        .expect("packer runs (apt-get install packer)")
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn show(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The JUnit report: (rule, failed) for every test case.
fn junit_cases(path: &Path) -> Vec<(String, bool)> {
    let text = fs_err::read_to_string(path).expect("JUnit report written");
    let doc = roxmltree::Document::parse(&text).expect("JUnit XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            (
                n.attribute("name").unwrap_or_default().to_owned(),
                n.children().any(|c| c.has_tag_name("failure")),
            )
        })
        .collect()
}

fn vars(dir: &Path, image: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("image", image.display().to_string()),
        ("imgprep", env!("CARGO_BIN_EXE_imgprep").to_owned()),
        ("junit", dir.join("check.xml").display().to_string()),
        ("manifest", dir.join("manifest.json").display().to_string()),
    ]
}

fn gate(template_name: &str) {
    let images = common::fixture("rules-cloudcenter");

    // Passes (python.version only warns): exit 0, a manifest, a JUnit report with no failure.
    let dir = tempfile::tempdir().expect("tempdir");
    let good = images.join("cc-centos7-ready.qcow2");
    let out = packer_build(
        dir.path(),
        &template(template_name),
        &vars(dir.path(), &good),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{template_name}: {}",
        show(&out)
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(dir.path().join("manifest.json")).expect("manifest written"),
    )
    .expect("manifest JSON");
    let build = &manifest["builds"][0];
    assert_eq!(build["builder_type"], "null", "{manifest}");
    assert_eq!(build["custom_data"]["image"], good.display().to_string());
    assert_eq!(build["custom_data"]["profile"], "cloudcenter-worker");
    let cases = junit_cases(&dir.path().join("check.xml"));
    assert!(cases.iter().any(|(r, _)| r == "agent.present"), "{cases:?}");
    assert!(cases.iter().all(|(_, failed)| !failed), "{cases:?}");

    // Fails: packer exits non-zero, no manifest, the JUnit report names the failing rules, and
    // the image is byte-identical.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = images.join("cc-centos7-bare.qcow2");
    let before = sha256(&bad);
    let out = packer_build(
        dir.path(),
        &template(template_name),
        &vars(dir.path(), &bad),
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "{template_name}: {}",
        show(&out)
    );
    assert!(
        !dir.path().join("manifest.json").exists(),
        "{template_name}: a manifest after a failed gate"
    );
    let failed: Vec<String> = junit_cases(&dir.path().join("check.xml"))
        .into_iter()
        .filter(|(_, f)| *f)
        .map(|(r, _)| r)
        .collect();
    assert!(
        failed.contains(&"agent.present".to_owned())
            && failed.contains(&"openssl-devel.present".to_owned()),
        "{template_name}: {failed:?}"
    );
    assert_eq!(sha256(&bad), before, "{template_name}: the input changed");
}

#[test]
fn gate_hcl2_passes_a_good_image_and_fails_a_bad_one() {
    gate("gate.pkr.hcl");
}

#[test]
fn gate_json_passes_a_good_image_and_fails_a_bad_one() {
    gate("gate.json");
}

#[test]
fn every_template_validates() {
    for (t, vars) in [
        ("gate.pkr.hcl", &["image=x.qcow2"][..]),
        ("gate.json", &["image=x.qcow2"][..]),
        ("prepare.pkr.hcl", &["image=x.qcow2", "output=y.qcow2"][..]),
        ("prepare.json", &["image=x.qcow2", "output=y.qcow2"][..]),
    ] {
        let mut cmd = Command::new("packer");
        cmd.arg("validate");
        for v in vars {
            cmd.arg("-var").arg(v);
        }
        let out = cmd
            .arg(template(t))
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("packer runs");
        assert!(out.status.success(), "{t}: {}", show(&out));
    }
}

/// The fix-then-gate chain: prepare fixes what it has fixes for (the worker from a plain
/// tar.gz, libssl-dev from the fixture's .deb files, the umask), into a new image; the gate
/// then still fails on cloud-init.present (no cloud-init package given), so packer fails, the
/// JUnit report names that rule and shows the fixed ones passing, and the input is unchanged.
#[test]
fn prepare_then_gate_fixes_what_it_can_and_gates_the_rest() {
    let fx = common::fixture("prepare-debian");
    let input = fx.join("prepare-debian.qcow2");
    let before = sha256(&input);
    let dir = tempfile::tempdir().expect("tempdir");

    // A plain tar.gz worker: what the agent.present rule looks for once unpacked.
    let stage = dir.path().join("worker");
    fs_err::create_dir_all(stage.join("bin")).expect("mkdir");
    fs_err::write(stage.join("bin/agent"), "#!/bin/sh\nexit 0\n").expect("write");
    let worker = dir.path().join("worker.tar.gz");
    let st = Command::new("tar")
        .arg("-czf")
        .arg(&worker)
        .arg("-C")
        .arg(&stage)
        .arg("bin")
        .status()
        .expect("tar runs");
    assert!(st.success());

    let mut prepare_args = format!(
        "--worker {} --param agent_dest=/usr/local/agentlite",
        worker.display()
    );
    for entry in fs_err::read_dir(fx.join("packages")).expect("packages/") {
        let path = entry.expect("entry").path();
        prepare_args.push_str(&format!(" --package {}", path.display()));
    }
    let output = dir.path().join("ready.qcow2");
    let mut v = vars(dir.path(), &input);
    v.push(("output", output.display().to_string()));
    v.push(("prepare_args", prepare_args));
    let out = packer_build(dir.path(), &template("prepare.pkr.hcl"), &v);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!dir.path().join("manifest.json").exists());
    assert!(output.exists(), "no prepared image: {}", show(&out));
    let cases = junit_cases(&dir.path().join("check.xml"));
    let status = |rule: &str| {
        cases
            .iter()
            .find(|(r, _)| r == rule)
            .map(|(_, failed)| *failed)
            .unwrap_or_else(|| panic!("{rule} not in the report: {cases:?}"))
    };
    // Fixed by prepare, now passing in the gate's report.
    for rule in ["agent.present", "openssl-devel.present", "umask.login"] {
        assert!(!status(rule), "{rule} still fails: {}", show(&out));
    }
    // No fix given: the gate names it and fails the build.
    assert!(status("cloud-init.present"), "{cases:?}");
    assert_eq!(sha256(&input), before, "the input changed");
}
