//! Helpers shared by the btrfs reader's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use imgprep_fs::{FileKind, Filesystem};
use imgprep_io::{FileSource, ReadAt};
use sha2::{Digest, Sha256};

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

pub fn sha256(data: &[u8]) -> String {
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
            let m = fs.lstat(&p).unwrap().unwrap();
            assert_eq!(e.kind, Some(m.kind), "{}", String::from_utf8_lossy(&p));
            let content = match m.kind {
                FileKind::File => sha256(&fs.read_file(&p, 1 << 30).unwrap()),
                FileKind::Symlink => {
                    String::from_utf8_lossy(&fs.read_link(&p).unwrap()).into_owned()
                }
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
            out.insert(String::from_utf8_lossy(&p[1..]).into_owned(), entry);
        }
    }
    out
}

pub fn open_file(path: &Path) -> Arc<dyn ReadAt> {
    Arc::new(FileSource::open(path).unwrap())
}

/// Builds a btrfs image of `dir` with `mkfs.btrfs --rootdir` into `img`.
pub fn mkfs_rootdir(dir: &Path, img: &Path, extra: &[&str]) {
    fs_err::File::create(img).unwrap();
    let out = Command::new("mkfs.btrfs")
        .args(["-q", "-f", "--rootdir"])
        .arg(dir)
        .args(extra)
        .arg(img)
        .output()
        .expect("mkfs.btrfs (btrfs-progs) must be installed: .ci/deps installs it");
    assert!(
        out.status.success(),
        "mkfs.btrfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
