//! `imgprep check` output formats on the committed demo image: JSON, JUnit and SARIF are
//! snapshot-tested, the JUnit file is read by a real consumer (junitparser, from PyPI) and the
//! SARIF file passes Microsoft's validator (@microsoft/sarif-multitool, from npm). test.sh
//! installs both and points IMGPREP_JUNIT_PYTHON / IMGPREP_SARIF_MULTITOOL at them.

mod common;

use std::process::Command;

use serde_json::Value;

const DEMO: &str = "images-test/demo/demo.qcow2";

fn check(format: &str) -> String {
    let repo = common::repo();
    let out = Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .current_dir(&repo)
        .args([
            "check",
            DEMO,
            "--profile",
            "cloudcenter-worker",
            "--cloud",
            "openstack",
            "--format",
            format,
        ])
        .output()
        .expect("imgprep runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the demo image fails rules: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn json_report() {
    let text = check("json");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["image"], DEMO);
    let results = v["results"].as_array().unwrap();
    let total: u64 = v["summary"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, results.len());
    insta::assert_snapshot!("check_demo_json", text);
}

#[test]
fn junit_report_is_read_by_junitparser() {
    let text = check("junit");
    insta::assert_snapshot!("check_demo_junit", text);
    let json: Value = serde_json::from_str(&check("json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.xml");
    fs_err::write(&path, &text).unwrap();
    let python = std::env::var("IMGPREP_JUNIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, junitparser\n\
                  x = junitparser.JUnitXml.fromfile(sys.argv[1])\n\
                  for s in x:\n\
                  \x20   print(s.tests, s.failures, s.errors, s.skipped)\n\
                  \x20   for c in s:\n\
                  \x20       print(c.name, ','.join(type(r).__name__ for r in c.result) or 'ok')\n";
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (run ./test.sh, which installs junitparser)"));
    assert!(
        out.status.success(),
        "junitparser could not read the report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let counts: Vec<u64> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let s = &json["summary"];
    let n = |k: &str| s[k].as_u64().unwrap();
    let total = n("pass") + n("fail") + n("warn") + n("skip") + n("error");
    assert_eq!(counts, vec![total, n("fail"), n("error"), n("skip")]);
    for (line, r) in lines.zip(json["results"].as_array().unwrap()) {
        let (name, kinds) = line.split_once(' ').unwrap();
        assert_eq!(name, r["rule"]);
        let want = match r["status"].as_str().unwrap() {
            "fail" => "Failure",
            "error" => "Error",
            "skip" => "Skipped",
            _ => "ok",
        };
        assert_eq!(kinds, want, "{name}");
    }
}

#[test]
fn sarif_report_passes_the_validator() {
    let text = check("sarif");
    insta::assert_snapshot!("check_demo_sarif", text);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.sarif");
    fs_err::write(&path, &text).unwrap();
    let tool =
        std::env::var("IMGPREP_SARIF_MULTITOOL").unwrap_or_else(|_| "sarif-multitool".into());
    let out = Command::new(&tool)
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e} (run ./test.sh, which installs it)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "validator failed:\n{stdout}");
    assert!(
        !stdout.contains(": error "),
        "validator reported errors:\n{stdout}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|r| r["level"] == "error" || r["level"] == "warning")
    );
}
