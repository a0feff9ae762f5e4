//! The Kubernetes example (examples/k8s) validates against the Kubernetes schema with
//! kubernetes-validate (from PyPI; test.sh installs it and sets IMGPREP_K8S_VALIDATE), strictly,
//! and its Job is an Indexed Job that turns the completion index into --shard.

mod common;

use std::process::Command;

fn validate(files: &[std::path::PathBuf]) -> std::process::Output {
    let tool =
        std::env::var("IMGPREP_K8S_VALIDATE").unwrap_or_else(|_| "kubernetes-validate".into());
    Command::new(&tool)
        .args(["--strict", "--no-warn"])
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e} (run ./test.sh, which installs it)"))
}

#[test]
fn manifests_validate_against_the_kubernetes_schema() {
    let dir = common::repo().join("examples/k8s");
    let mut files: Vec<_> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    let out = validate(&files);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let job = fs_err::read_to_string(dir.join("check-job.yaml")).unwrap();
    assert!(job.contains("completionMode: Indexed"));
    assert!(job.contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\""));
    assert!(job.contains("--format jsonl"));

    // The validator does catch a mistake.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    fs_err::write(&bad, job.replace("completionMode:", "completionModes:")).unwrap();
    assert!(!validate(&[bad]).status.success());
}
