//! Helpers shared by the integration tests: running qemu-img / qemu-io and building patterned
//! raw disks.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `prog args...` in `dir` and panics with its output when it fails.
pub fn run(dir: &Path, prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog} (install qemu-utils: .ci/deps): {e}"));
    assert!(
        out.status.success(),
        "{prog} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn qemu_img(dir: &Path, args: &[&str]) -> String {
    run(dir, "qemu-img", args)
}

/// `qemu-io -c CMD IMAGE` with the image's format given explicitly.
pub fn qemu_io(dir: &Path, fmt: &str, image: &str, cmd: &str) {
    run(
        dir,
        "qemu-io",
        &["-t", "unsafe", "-f", fmt, "-c", cmd, image],
    );
}

/// The byte at `pos` of the patterned disk: every 512-byte sector differs, and every third
/// 64 KiB run is a hole of zeros so sparse formats leave clusters unallocated.
pub fn pattern_byte(pos: u64) -> u8 {
    if (pos / 65536) % 3 == 2 {
        0
    } else {
        let sector = pos / 512;
        ((sector.wrapping_mul(31) + (pos % 512) * 7) % 251) as u8 + 1
    }
}

/// The patterned disk's first `size` bytes (a multiple of 512).
pub fn pattern(size: u64) -> Vec<u8> {
    // Sectors repeat with period 251, so build those once and copy them.
    let sectors: Vec<Vec<u8>> = (0..251u64)
        .map(|s| (s * 512..s * 512 + 512).map(pattern_byte).collect())
        .collect();
    let mut data = Vec::with_capacity(size as usize);
    for sector in 0..size / 512 {
        if (sector * 512 / 65536) % 3 == 2 {
            data.extend_from_slice(&[0u8; 512]);
        } else {
            data.extend_from_slice(&sectors[(sector % 251) as usize]);
        }
    }
    data
}

/// Writes a patterned raw disk of `size` bytes (a multiple of 512) to `dir/name`.
pub fn make_raw(dir: &Path, name: &str, size: u64) -> PathBuf {
    let data = pattern(size);
    let path = dir.join(name);
    fs_err::write(&path, data).unwrap();
    path
}

/// `virtual-size` from `qemu-img info --output=json`.
pub fn qemu_virtual_size(dir: &Path, fmt: &str, image: &Path) -> u64 {
    let json = qemu_img(
        dir,
        &["info", "-f", fmt, "--output=json", image.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["virtual-size"].as_u64().unwrap()
}
