//! Test support for imgprep's crates, in one place: [`MemGuest`], a guest built in memory and
//! read through the real path resolver; [`Patched`], a device with some bytes replaced, for
//! hostile variants of valid images; [`fixture`], the cache directory of a fixture image built
//! by `images-test/build`; [`startup`], shell startup files as distributions ship them.
//!
//! Not for production code: nothing here is used by the `imgprep` binary, and the crate is not
//! published.
#![forbid(unsafe_code)]

mod guest;
mod patched;
pub mod startup;

pub use guest::MemGuest;
pub use patched::{Patched, overlay};

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cache directory of fixture `name`, building it first when needed (`images-test/build
/// --path NAME`). Panics with the builder's message when the build fails.
pub fn fixture(name: &str) -> PathBuf {
    let out = Command::new(repo().join("images-test/build"))
        .args(["--path", name])
        .output()
        .unwrap_or_else(|e| panic!("images-test/build does not run: {e}"));
    assert!(
        out.status.success(),
        "building fixture {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
