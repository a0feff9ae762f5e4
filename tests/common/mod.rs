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
    let out = Command::new(repo().join("images-test/build"))
        .args(["--path", name])
        .output()
        .expect("images-test/build runs");
    assert!(
        out.status.success(),
        "building fixture {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
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
