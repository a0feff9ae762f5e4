//! The CI gate: waivers (waived results in every format, expiry, stale waivers) and --fail-on
//! with a severity threshold, on the demo image (6 failures: agent.present, python.version and
//! umask.login of high severity, three of medium; one warning).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const DEMO: &str = "images-test/demo/demo.qcow2";

struct Setup {
    _dir: tempfile::TempDir,
    image: std::path::PathBuf,
    waivers: std::path::PathBuf,
}

fn setup(waivers: &str) -> Setup {
    let dir = tempfile::tempdir().expect("test setup");
    let image = dir.path().join("golden-demo.qcow2");
    fs_err::copy(common::repo().join(DEMO), &image).expect("test setup");
    let w = dir.path().join("waivers.yaml");
    fs_err::write(&w, waivers).expect("test setup");
    Setup {
        _dir: dir,
        image,
        waivers: w,
    }
}

fn check(image: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .arg("check")
        .arg(image)
        .args(["--profile", "cloudcenter-worker", "--cloud", "openstack"])
        .args(extra)
        .output()
        .expect("imgprep runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("test setup")
}

const MIXED: &str = "waivers:
  - rule: agent.present
    images: \"golden-*.qcow2\"
    reason: worker is installed at first boot by the platform (CHG-1042)
    expires: 2999-12-31
  - rule: python.version
    images: \"*\"
    reason: python pinned by the vendor
    expires: 2000-01-31
  - rule: no-such.rule
    images: \"*\"
    reason: left over
  - rule: net-tools.present
    images: \"other-*.qcow2\"
    reason: not this image
";

fn result<'a>(v: &'a Value, rule: &str) -> &'a Value {
    v["results"]
        .as_array()
        .expect("test setup")
        .iter()
        .find(|r| r["rule"] == rule)
        .expect("test setup")
}

#[test]
fn waived_expired_and_stale_waivers_in_json_and_on_stderr() {
    let s = setup(MIXED);
    let w = s.waivers.to_str().unwrap();
    let out = check(&s.image, &["--waivers", w, "--format", "json"]);
    assert_eq!(code(&out), 1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let agent = result(&v, "agent.present");
    assert_eq!(agent["status"], "waived");
    assert_eq!(agent["waiver"]["status"], "fail");
    assert_eq!(agent["waiver"]["expires"], "2999-12-31");
    assert!(
        agent["waiver"]["reason"]
            .as_str()
            .unwrap()
            .contains("CHG-1042")
    );
    let python = result(&v, "python.version");
    assert_eq!(python["status"], "fail");
    assert_eq!(python["waiver"]["expired"], true);
    assert_eq!(result(&v, "net-tools.present")["status"], "fail");
    assert_eq!(v["summary"]["waived"], 1);
    assert_eq!(v["summary"]["fail"], 5);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "waiver 2 (rule python.version, images *) expired on 2000-01-31; its results are no \
             longer waived"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("waiver 3 (rule no-such.rule, images *) matched nothing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("waiver 4 (rule net-tools.present, images other-*.qcow2) matched nothing"),
        "{stderr}"
    );
    assert!(!stderr.contains("waiver 1 "), "{stderr}");

    let table = String::from_utf8(check(&s.image, &["--waivers", w]).stdout).unwrap();
    assert!(table.contains("WAIVED"), "{table}");
    assert!(
        table.contains("waived (fail accepted) (until 2999-12-31): worker is installed"),
        "{table}"
    );
    assert!(
        table.contains("waiver expired on 2000-01-31: python pinned"),
        "{table}"
    );
    assert!(table.contains("1 waived"), "{table}");
}

#[test]
fn waived_results_in_junit_and_sarif() {
    let s = setup(MIXED);
    let w = s.waivers.to_str().unwrap();
    let xml =
        String::from_utf8(check(&s.image, &["--waivers", w, "--format", "junit"]).stdout).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("agent.present"))
        .unwrap();
    let skipped = case
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .expect("a waived rule is skipped");
    assert!(skipped.attribute("message").unwrap().contains("CHG-1042"));
    let python = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("python.version"))
        .unwrap();
    assert!(python.children().any(|n| n.has_tag_name("failure")));

    let sarif =
        String::from_utf8(check(&s.image, &["--waivers", w, "--format", "sarif"]).stdout).unwrap();
    let v: Value = serde_json::from_str(&sarif).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let agent = results
        .iter()
        .find(|r| r["ruleId"] == "agent.present")
        .unwrap();
    assert_eq!(agent["level"], "error");
    assert_eq!(agent["suppressions"][0]["kind"], "external");
    assert!(
        agent["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("CHG-1042")
    );
    let python = results
        .iter()
        .find(|r| r["ruleId"] == "python.version")
        .unwrap();
    assert!(python.get("suppressions").is_none());
    common::sarif_validates(&sarif);
}

#[test]
fn fail_on_a_severity_and_waived_failures_do_not_count() {
    let s = setup(
        "waivers:
  - rule: agent.present
    images: \"*\"
    reason: r1
  - rule: python.version
    images: \"*\"
    reason: r2
  - rule: umask.login
    images: \"*\"
    reason: r3
",
    );
    let w = s.waivers.to_str().unwrap();
    assert_eq!(code(&check(&s.image, &["--fail-on", "high"])), 1);
    assert_eq!(code(&check(&s.image, &["--fail-on", "critical"])), 0);
    assert_eq!(code(&check(&s.image, &["--fail-on", "medium"])), 1);
    // Every high failure waived: the high gate passes, the default gate still fails on medium.
    assert_eq!(
        code(&check(&s.image, &["--fail-on", "high", "--waivers", w])),
        0
    );
    assert_eq!(code(&check(&s.image, &["--waivers", w])), 1);
    // A bad level and a bad waivers file are usage errors.
    let out = check(&s.image, &["--fail-on", "severe"]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("expected fail, warn or a severity (info, low, medium, high, critical)")
    );
    fs_err::write(
        &s.waivers,
        "waivers:\n  - rule: x\n    images: '*'\n    reason: r\n    expires: 31/12/2027\n",
    )
    .unwrap();
    let out = check(&s.image, &["--waivers", w]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("waivers.yaml: waiver 1: expires: expected a date YYYY-MM-DD"),
        "{stderr}"
    );
}

#[test]
fn the_example_waivers_file_loads() {
    let s = setup("waivers: []\n");
    let example = common::repo().join("examples/ci/waivers.yaml");
    let out = check(
        &s.image,
        &["--waivers", example.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(code(&out), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("waiver 1 (rule umask.login, images centos7-*.qcow2) matched nothing"),
        "{stderr}"
    );
}
