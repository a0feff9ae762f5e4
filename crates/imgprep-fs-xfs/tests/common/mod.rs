//! Shared helpers: fixture paths, devices, and a patchable device for hostile rows.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use imgprep_io::{FileSource, ReadAt};

/// The cache directory of fixture `name` (built by images-test/build when missing).
pub fn fixture(name: &str) -> PathBuf {
    imgprep_testkit::fixture(name)
}

pub fn image(fixture_name: &str, image: &str) -> PathBuf {
    fixture(fixture_name).join(format!("{image}.img"))
}

pub fn device(fixture_name: &str, image_name: &str) -> Arc<dyn ReadAt> {
    Arc::new(FileSource::open(image(fixture_name, image_name)).unwrap())
}

/// Runs `xfs_db -r` with the given commands on `img` and returns its output.
pub fn xfs_db(img: &std::path::Path, cmds: &[&str]) -> String {
    let mut c = Command::new("xfs_db");
    c.arg("-r");
    for cmd in cmds {
        c.args(["-c", cmd]);
    }
    let out = c.arg(img).output().expect("xfs_db runs");
    assert!(
        out.status.success(),
        "xfs_db {cmds:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Parses `blkid -p -o export` output into (LABEL, UUID, TYPE), undoing its backslash escapes.
pub fn blkid_export(text: &str) -> (Option<String>, Option<String>, Option<String>) {
    let mut label = None;
    let mut uuid = None;
    let mut ty = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let mut s = String::new();
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    s.push(n);
                }
            } else {
                s.push(c);
            }
        }
        match k {
            "LABEL" => label = Some(s),
            "UUID" => uuid = Some(s),
            "TYPE" => ty = Some(s),
            _ => {}
        }
    }
    (label, uuid, ty)
}
