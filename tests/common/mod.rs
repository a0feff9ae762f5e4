//! Shared helpers for the end-to-end tests: fixture images and running the `imgprep` binary.
#![allow(dead_code)] // each test file uses a subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cache directory of fixture `name`, building it first when needed (images-test/build).
pub(crate) fn fixture(name: &str) -> PathBuf {
    imgprep_testkit::fixture(name)
}

/// Runs `imgprep ARGS…`.
pub(crate) fn imgprep<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .args(args)
        .output()
        .expect("imgprep runs")
}

/// Runs `imgprep ARGS…`, expects exit status `code` and returns stdout.
pub(crate) fn imgprep_ok<I, S>(args: I, code: i32) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = imgprep(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Expected result of one rule of an `imgprep check` report: its status, fragments of its
/// message, and evidence written `path[:line][ text]` (each must match one evidence entry: the
/// path equal, the line equal when given, the entry's text containing `text`).
pub(crate) struct Want {
    pub rule: &'static str,
    pub status: &'static str,
    pub message: &'static [&'static str],
    pub evidence: &'static [&'static str],
}

/// A [`Want`], positionally, so that expectations read as a table.
pub(crate) const fn want(
    rule: &'static str,
    status: &'static str,
    message: &'static [&'static str],
    evidence: &'static [&'static str],
) -> Want {
    Want {
        rule,
        status,
        message,
        evidence,
    }
}

/// Runs `imgprep check IMAGE --profile PROFILE [--cloud CLOUD] [--param K=V]... --format json`,
/// expects exit status `code`, compares the result of every rule in `wants`, and returns all the
/// results (in the report's order).
pub(crate) fn check(
    image: &Path,
    profile: &str,
    cloud: Option<&str>,
    params: &[String],
    code: i32,
    wants: &[Want],
) -> Vec<serde_json::Value> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "check".into(),
        image.into(),
        "--profile".into(),
        profile.into(),
        "--format".into(),
        "json".into(),
    ];
    if let Some(c) = cloud {
        args.extend(["--cloud".into(), c.into()]);
    }
    for p in params {
        args.extend(["--param".into(), p.into()]);
    }
    let shown_run = format!(
        "{}{}{}",
        image.file_name().unwrap_or_default().to_string_lossy(),
        cloud.map(|c| format!(" --cloud {c}")).unwrap_or_default(),
        params
            .iter()
            .map(|p| format!(" --param {p}"))
            .collect::<String>()
    );
    let out = imgprep(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{shown_run}: exit status\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    let results = report["results"].as_array().expect("results").clone();
    for w in wants {
        let r = results
            .iter()
            .find(|r| r["rule"] == w.rule)
            .unwrap_or_else(|| panic!("{shown_run}: no result for {}", w.rule));
        let shown = serde_json::to_string_pretty(r).expect("JSON value");
        assert_eq!(r["status"], w.status, "{shown_run} {}:\n{shown}", w.rule);
        let msg = r["message"].as_str().unwrap_or("");
        for m in w.message {
            assert!(
                msg.contains(m),
                "{shown_run} {}: message lacks {m:?}:\n{shown}",
                w.rule
            );
        }
        let evidence = r["evidence"].as_array().expect("evidence");
        for e in w.evidence {
            assert!(
                evidence.iter().any(|x| evidence_matches(x, e)),
                "{shown_run} {}: no evidence {e:?}:\n{shown}",
                w.rule
            );
        }
    }
    results
}

/// `path[:line][ text]` against one evidence entry: the entry's path (which may hold spaces and
/// colons), then `:line` when given, then a fragment of its text.
fn evidence_matches(e: &serde_json::Value, want: &str) -> bool {
    let path = e["path"].as_str().unwrap_or("");
    let Some(rest) = want.strip_prefix(path) else {
        return false;
    };
    let (line, text) = match rest.strip_prefix(':') {
        Some(r) => {
            let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                return false;
            }
            (digits.parse::<u64>().ok(), &r[digits.len()..])
        }
        None => (None, rest),
    };
    if !(text.is_empty() || text.starts_with(' ')) {
        return false;
    }
    if line.is_some() && e["line"].as_u64() != line {
        return false;
    }
    e["text"].as_str().unwrap_or("").contains(text.trim_start())
}

/// Runs Microsoft's SARIF validator on `text` and asserts it reports no error.
pub(crate) fn sarif_validates(text: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.sarif");
    fs_err::write(&path, text).expect("write the report");
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
}
