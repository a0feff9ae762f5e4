//! Shared helpers: fixture paths, devices, and a patchable device for hostile rows.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use imgprep_fs::{FileKind, Filesystem};
use imgprep_io::{FileSource, ReadAt};
use sha2::{Digest, Sha256};

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

/// What a listing says about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: FileKind,
    pub mode: u32,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    pub ino: u64,
    pub mtime: i64,
    /// sha256 of a regular file, the target of a symlink, empty otherwise.
    pub content: String,
}

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every path under `/` of `fs` (relative, no leading slash), walking the whole tree.
pub fn walk(fs: &dyn Filesystem) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![b"/".to_vec()];
    while let Some(dir) = stack.pop() {
        let entries = fs
            .read_dir(&dir)
            .unwrap_or_else(|e| panic!("read_dir {:?}: {e}", String::from_utf8_lossy(&dir)));
        for e in entries {
            let mut p = dir.clone();
            if p.len() > 1 {
                p.push(b'/');
            }
            p.extend_from_slice(&e.name);
            let shown = String::from_utf8_lossy(&p).into_owned();
            let m = fs
                .lstat(&p)
                .unwrap_or_else(|e| panic!("lstat {shown}: {e}"))
                .unwrap_or_else(|| panic!("{shown} is listed but not found"));
            let content = match m.kind {
                FileKind::File => sha256(
                    &fs.read_file(&p, 1 << 30)
                        .unwrap_or_else(|e| panic!("read {shown}: {e}")),
                ),
                FileKind::Symlink => String::from_utf8_lossy(&fs.read_link(&p).unwrap()).into(),
                FileKind::Dir => {
                    stack.push(p.clone());
                    String::new()
                }
                _ => String::new(),
            };
            let entry = Entry {
                kind: m.kind,
                mode: m.mode,
                size: m.size,
                uid: m.uid,
                gid: m.gid,
                ino: m.ino,
                mtime: m.mtime,
                content,
            };
            out.insert(shown[1..].to_owned(), entry);
        }
    }
    out
}

fn kind_of(stat_type: &str) -> FileKind {
    match stat_type {
        "directory" => FileKind::Dir,
        "regular file" | "regular empty file" => FileKind::File,
        "symbolic link" => FileKind::Symlink,
        "character special file" => FileKind::CharDevice,
        "block special file" => FileKind::BlockDevice,
        "fifo" => FileKind::Fifo,
        "socket" => FileKind::Socket,
        t => panic!("unknown stat type {t}"),
    }
}

/// The kernel's view recorded next to an image: `NAME.find` (`stat -c
/// %F:%a:%s:%u:%g:%Y:%i:%N` of every path) and `NAME.sha256`.
pub fn kernel_view(dir: &Path, name: &str) -> BTreeMap<String, Entry> {
    let find = fs_err::read_to_string(dir.join(format!("{name}.find"))).unwrap();
    let sums = fs_err::read_to_string(dir.join(format!("{name}.sha256"))).unwrap();
    let sums: BTreeMap<&str, &str> = sums
        .lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").unwrap();
            (p.strip_prefix("./").unwrap(), h)
        })
        .collect();
    let mut out = BTreeMap::new();
    for line in find.lines() {
        let f: Vec<&str> = line.splitn(8, ':').collect();
        let quoted = f[7];
        let (name, target) = match quoted.split_once("' -> '") {
            Some((n, t)) => (n, t.strip_suffix('\'').unwrap()),
            None => (quoted.strip_suffix('\'').unwrap(), ""),
        };
        let path = name.strip_prefix("'./").unwrap().to_string();
        let kind = kind_of(f[0]);
        let content = match kind {
            FileKind::File => sums[path.as_str()].to_string(),
            FileKind::Symlink => target.to_string(),
            _ => String::new(),
        };
        let entry = Entry {
            kind,
            mode: u32::from_str_radix(f[1], 8).unwrap(),
            size: f[2].parse().unwrap(),
            uid: f[3].parse().unwrap(),
            gid: f[4].parse().unwrap(),
            mtime: f[5].parse().unwrap(),
            ino: f[6].parse().unwrap(),
            content,
        };
        out.insert(path, entry);
    }
    assert!(!out.is_empty(), "{name}.find is empty");
    out
}
