//! Shared helpers: fixture paths, devices, and a patchable device for hostile rows.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use imgprep_io::{FileSource, ReadAt};

/// The cache directory of fixture `name` (built by images-test/build when missing).
pub fn fixture(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("images-test/build"))
        .args(["--path", name])
        .output()
        .expect("images-test/build runs");
    assert!(
        out.status.success(),
        "fixture {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

pub fn image(fixture_name: &str, image: &str) -> PathBuf {
    fixture(fixture_name).join(format!("{image}.img"))
}

pub fn device(fixture_name: &str, image_name: &str) -> Arc<dyn ReadAt> {
    Arc::new(FileSource::open(image(fixture_name, image_name)).unwrap())
}

/// A device with some bytes replaced.
pub struct Patched {
    pub base: Arc<dyn ReadAt>,
    pub patches: Vec<(u64, Vec<u8>)>,
}

impl ReadAt for Patched {
    fn size(&self) -> u64 {
        self.base.size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.base.read_exact_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for (at, bytes) in &self.patches {
            let pend = at + bytes.len() as u64;
            if *at < end && pend > offset {
                let lo = (*at).max(offset);
                let hi = pend.min(end);
                buf[(lo - offset) as usize..(hi - offset) as usize]
                    .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
            }
        }
        Ok(())
    }
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
