//! The tool's own failures: exit status 2 with one line on stderr naming what is wrong and where.

mod common;

use std::path::Path;

/// Runs imgprep and checks the failure contract; returns the stderr line.
fn fails(args: &[&str], fragment: &str) -> String {
    let out = common::imgprep(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line expected, got {stderr:?}"
    );
    assert!(
        stderr.contains(fragment),
        "{args:?}: {stderr:?} does not mention {fragment:?}"
    );
    stderr
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    fs_err::write(&p, bytes).expect("the test file is written");
    p.display().to_string()
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("missing.qcow2").display().to_string();
    fails(&["inspect", &missing], "missing.qcow2");
    fails(
        &["inspect", &d.display().to_string()],
        &d.display().to_string(),
    );

    // A qcow2 header cut short, and one whose L1 table lies past the end of the file.
    let mut q = b"QFI\xfb\0\0\0\x03".to_vec();
    let short = write(d, "short.qcow2", &q);
    fails(&["inspect", &short], "qcow2");
    q.resize(104, 0);
    q[20..24].copy_from_slice(&16u32.to_be_bytes()); // cluster_bits
    q[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes()); // size
    q[36..40].copy_from_slice(&1u32.to_be_bytes()); // l1_size
    q[40..48].copy_from_slice(&(1u64 << 40).to_be_bytes()); // l1_table_offset
    q[100..104].copy_from_slice(&104u32.to_be_bytes()); // header_length
    let lying = write(d, "lying.qcow2", &q);
    fails(&["inspect", &lying], "lying.qcow2");

    let demo = common::repo()
        .join("images-test/demo/demo.qcow2")
        .display()
        .to_string();
    fails(
        &["check", &demo, "--profile", "no-such-profile"],
        "no-such-profile",
    );
    fails(
        &[
            "check",
            &demo,
            "--profile",
            "cloudcenter-worker",
            "--param",
            "nope=1",
        ],
        "nope",
    );
    let rules = tempfile::tempdir().unwrap();
    write(rules.path(), "bad.yaml", b"rules:\n  - id: Bad Id\n");
    fails(
        &[
            "check",
            &demo,
            "--profile",
            "cloudcenter-worker",
            "--rules",
            &rules.path().display().to_string(),
        ],
        "bad.yaml",
    );
    // An action nothing implements: the file and the line.
    let actions = tempfile::tempdir().unwrap();
    write(
        actions.path(),
        "mine.yaml",
        b"rules:\n  - id: my.rule\n    profiles: [cloudcenter-worker]\n    title: t\n    \
          severity: low\n    rationale: r\n    source: s\n    check:\n      probe: \
          file-exists\n      paths: [/x]\n    remediation:\n      text: x\n      \
          action: install-agent\n",
    );
    let line = fails(
        &[
            "check",
            &demo,
            "--profile",
            "cloudcenter-worker",
            "--rules",
            &actions.path().display().to_string(),
        ],
        "mine.yaml",
    );
    assert!(
        line.contains("line 13") && line.contains("unknown action \"install-agent\""),
        "{line}"
    );
}

#[test]
fn rules_explain_prints_the_check_as_written() {
    let out = common::imgprep_ok(["rules", "explain", "xe-tools.before-nova-agent"], 0);
    assert!(
        out.contains("check:\n  probe: boot-order\n  first:\n"),
        "{out}"
    );
    assert!(out.contains("  then: nova-agent\n"), "{out}");
    assert!(
        out.contains("(imgprep prepare action: order-after:nova-agent:xe-linux-distribution)"),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = common::imgprep(["inspect", "--format", "yaml", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = common::imgprep(["check", "x.qcow2"]);
    assert_eq!(out.status.code(), Some(2), "--profile is required");
}

#[test]
fn an_image_without_an_os_is_an_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let blank = write(dir.path(), "blank.img", &vec![0u8; 1 << 20]);
    let out = common::imgprep_ok(["inspect", "--format", "json", &blank], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["operatingsystems"], serde_json::json!([]));
    let out = common::imgprep(["check", &blank, "--profile", "cloudcenter-worker"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no operating system"));
}

/// A wrong LUKS passphrase: exit 2 and one line naming the device, without the passphrase; a
/// malformed --key is refused without echoing it.
#[test]
fn wrong_luks_key_names_the_device_and_hides_the_key() {
    let img = common::fixture("luks-layouts").join("luks2-lvm.img");
    let img = img.to_str().unwrap();
    for args in [
        vec!["inspect", img, "--key", "/dev/sda2:key:Wrong-Secret-42"],
        vec![
            "check",
            img,
            "--profile",
            "cloudcenter-worker",
            "--key",
            "/dev/sda2:key:Wrong-Secret-42",
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgprep"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("/dev/sda2") && err.contains("keyslots"),
            "{err}"
        );
        assert!(!err.contains("Wrong-Secret-42"), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Wrong-Secret-42"));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .args(["inspect", img, "--key", "/dev/sda2:kee:Wrong-Secret-42"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/sda2") && !err.contains("Wrong-Secret-42"),
        "{err}"
    );
}

/// prepare needs its appliance helper: without it, one line that says so, before any
/// temporary file exists, and nothing written.
#[test]
fn prepare_without_the_appliance_helper_says_so_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("scratch directory");
    let img = common::repo().join("images-test/demo/demo.qcow2");
    let out = dir.path().join("out.qcow2");
    let missing = dir.path().join("no-such-helper");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .arg("prepare")
        .arg(&img)
        .args(["--profile", "cloudcenter-worker", "--cloud", "openstack"])
        .args(["--param", "umask_scope=system", "-o"])
        .arg(&out)
        .env("IMGPREP_APPLIANCE", &missing)
        .output()
        .expect("imgprep runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-helper"), "{err}");
    let left: Vec<_> = fs_err::read_dir(dir.path())
        .expect("scratch directory listed")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The helper refuses what it cannot do without an appliance, and stops when its input ends.
#[test]
fn the_appliance_helper_answers_one_line_per_request() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imgprep-appliance"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("imgprep-appliance starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"{\"Exists\":\"/etc\"}\nnot json\n")
        .expect("requests written");
    drop(stdin);
    let o = child.wait_with_output().expect("imgprep-appliance ends");
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], r#"{"Failed":"no appliance launched"}"#);
    assert!(
        lines[1].starts_with(r#"{"Failed":"a request imgprep-appliance cannot read"#),
        "{}",
        lines[1]
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed request is not a clean run"
    );
}
