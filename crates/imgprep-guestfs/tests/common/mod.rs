//! Helpers shared by the tests that launch an appliance.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use imgprep_guestfs::LAUNCH_LOG_ENV;

/// The launch log to use: the suite's (`IMGPREP_GUESTFS_LAUNCH_LOG`, so its count includes these
/// launches) or, when unset, a file in `dir`. Either way the test checks its lines.
pub(crate) fn launch_log(dir: &Path) -> PathBuf {
    std::env::var_os(LAUNCH_LOG_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| dir.join("launches.log"), PathBuf::from)
}

/// Asserts that `log` has a line for a launch of exactly `drives` that ended in `status`
/// (`ok` or `error`): `<unix-time> <seconds> <status> <drives>`, logged in the last hour.
pub(crate) fn assert_logged(log: &Path, drives: &[&Path], status: &str) {
    let text = fs_err::read_to_string(log).unwrap();
    let drives = drives
        .iter()
        .map(|d| d.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(",");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let line = text
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(3) == Some(&drives))
        .unwrap_or_else(|| panic!("no launch of {drives} in {}:\n{text}", log.display()));
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 4, "{line}");
    let when: u64 = fields[0].parse().unwrap();
    assert!(when <= now && now - when < 3600, "{line}");
    let took: f64 = fields[1].parse().unwrap();
    assert!(took > 0.0, "{line}");
    assert_eq!(fields[2], status, "{line}");
}
