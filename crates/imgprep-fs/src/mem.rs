//! An in-memory filesystem: a tree built in code, answering like an on-disk reader (parents must
//! be real directories, links are never followed). For tests and fuzz harnesses that need a
//! guest without an image; nothing here reads a device.

use std::collections::BTreeMap;

use crate::{DirEntry, FileKind, Filesystem, FsError, FsInfo, Metadata, Result, components};

#[derive(Debug, Clone)]
enum Node {
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    File {
        data: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Link(Vec<u8>),
}

const ROOT_DIR: Node = Node::Dir {
    mode: 0o755,
    uid: 0,
    gid: 0,
};

/// Directories, regular files and symbolic links by absolute path. Builder methods create
/// missing parent directories; a later entry for a path replaces the earlier one.
#[derive(Debug, Clone)]
pub struct MemFs {
    info: FsInfo,
    nodes: BTreeMap<Vec<u8>, Node>,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemFs {
    /// An empty filesystem: only the root directory.
    pub fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(b"/".to_vec(), ROOT_DIR);
        MemFs {
            info: FsInfo::default(),
            nodes,
        }
    }

    /// Sets what probing the filesystem says (type, label, UUID).
    pub fn with_info(mut self, info: FsInfo) -> Self {
        self.info = info;
        self
    }

    /// A directory at `path`.
    pub fn dir(mut self, path: &str) -> Self {
        self.insert(path, ROOT_DIR);
        self
    }

    /// A directory at `path` with permission bits `mode`, owned by `uid`:`gid`.
    pub fn dir_owned(mut self, path: &str, mode: u32, uid: u32, gid: u32) -> Self {
        self.insert(path, Node::Dir { mode, uid, gid });
        self
    }

    /// A regular file at `path` with permission bits `mode`, owned by `uid`:`gid`.
    pub fn file_owned(
        mut self,
        path: &str,
        data: impl Into<Vec<u8>>,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Self {
        let data = data.into();
        self.insert(
            path,
            Node::File {
                data,
                mode,
                uid,
                gid,
            },
        );
        self
    }

    /// Removes what is at `path` (and, for a directory, everything below it). The root stays.
    pub fn remove(mut self, path: &str) -> Self {
        let mut p = Vec::new();
        for c in path
            .as_bytes()
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
        {
            p.push(b'/');
            p.extend_from_slice(c);
        }
        if !p.is_empty() {
            let mut below = p.clone();
            below.push(b'/');
            self.nodes
                .retain(|k, _| *k != p && !k.starts_with(below.as_slice()));
        }
        self
    }

    /// A regular file at `path` with permission bits `mode` (e.g. `0o644`).
    pub fn file(mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        let data = data.into();
        self.insert(
            path,
            Node::File {
                data,
                mode,
                uid: 0,
                gid: 0,
            },
        );
        self
    }

    /// A symbolic link at `path` pointing at `target` (stored as given).
    pub fn link(mut self, path: &str, target: impl Into<Vec<u8>>) -> Self {
        self.insert(path, Node::Link(target.into()));
        self
    }

    /// Inserts `node` at the normalized `path`, turning every missing or non-directory parent
    /// into a directory.
    fn insert(&mut self, path: &str, node: Node) {
        let comps: Vec<&[u8]> = path
            .as_bytes()
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        let mut p = Vec::new();
        for (i, c) in comps.iter().enumerate() {
            p.push(b'/');
            p.extend_from_slice(c);
            if i + 1 < comps.len() && !matches!(self.nodes.get(&p), Some(Node::Dir { .. })) {
                self.nodes.insert(p.clone(), ROOT_DIR);
            }
        }
        if p.is_empty() {
            return; // The root stays a directory.
        }
        self.nodes.insert(p, node);
    }

    /// The node at `path`, every parent a directory (as a real reader walks it).
    fn node(&self, path: &[u8]) -> Result<Option<&Node>> {
        let mut p = Vec::new();
        let mut node = self.nodes.get(b"/".as_slice());
        for c in components(path)? {
            match node {
                Some(Node::Dir { .. }) => {}
                Some(_) => {
                    return Err(FsError::NotADirectory {
                        path: String::from_utf8_lossy(&p).into(),
                    });
                }
                None => return Ok(None),
            }
            p.push(b'/');
            p.extend_from_slice(c);
            node = self.nodes.get(&p);
        }
        Ok(node)
    }

    fn not_found(path: &[u8]) -> FsError {
        FsError::NotFound {
            path: String::from_utf8_lossy(path).into(),
        }
    }
}

impl Filesystem for MemFs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn lstat(&self, path: &[u8]) -> Result<Option<Metadata>> {
        Ok(self.node(path)?.map(|n| {
            let (kind, size, mode, uid, gid) = match n {
                Node::Dir { mode, uid, gid } => (FileKind::Dir, 0, *mode, *uid, *gid),
                Node::File {
                    data,
                    mode,
                    uid,
                    gid,
                } => (FileKind::File, data.len() as u64, *mode, *uid, *gid),
                Node::Link(t) => (FileKind::Symlink, t.len() as u64, 0o777, 0, 0),
            };
            Metadata {
                kind,
                size,
                mode,
                uid,
                gid,
                mtime: 0,
                ino: 0,
            }
        }))
    }

    fn read_dir(&self, path: &[u8]) -> Result<Vec<DirEntry>> {
        match self.node(path)? {
            Some(Node::Dir { .. }) => {}
            Some(_) => {
                return Err(FsError::NotADirectory {
                    path: String::from_utf8_lossy(path).into(),
                });
            }
            None => return Err(Self::not_found(path)),
        }
        let mut prefix = Vec::new();
        for c in components(path)? {
            prefix.push(b'/');
            prefix.extend_from_slice(c);
        }
        prefix.push(b'/');
        Ok(self
            .nodes
            .iter()
            .filter_map(|(k, n)| {
                let name = k.strip_prefix(prefix.as_slice())?;
                if name.is_empty() || name.contains(&b'/') {
                    return None;
                }
                let kind = match n {
                    Node::Dir { .. } => FileKind::Dir,
                    Node::File { .. } => FileKind::File,
                    Node::Link(_) => FileKind::Symlink,
                };
                Some(DirEntry {
                    name: name.to_vec(),
                    kind: Some(kind),
                })
            })
            .collect())
    }

    fn read_link(&self, path: &[u8]) -> Result<Vec<u8>> {
        match self.node(path)? {
            Some(Node::Link(t)) => Ok(t.clone()),
            Some(_) => Err(FsError::NotASymlink {
                path: String::from_utf8_lossy(path).into(),
            }),
            None => Err(Self::not_found(path)),
        }
    }

    fn read(&self, path: &[u8], offset: u64, len: usize) -> Result<Vec<u8>> {
        match self.node(path)? {
            Some(Node::File { data, .. }) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let end = start.saturating_add(len).min(data.len());
                Ok(data.get(start..end).unwrap_or_default().to_vec())
            }
            Some(Node::Dir { .. }) => Err(FsError::IsADirectory {
                path: String::from_utf8_lossy(path).into(),
            }),
            _ => Err(Self::not_found(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_a_reader() {
        let fs = MemFs::new()
            .file("/etc/passwd", "root:x:0:0\n", 0o644)
            .link("/bin", "usr/bin")
            .file("/usr/bin/sh", "#!\n", 0o755)
            .dir("/var/empty");
        let names = |p: &str| -> Vec<String> {
            let mut v: Vec<String> = fs
                .read_dir(p.as_bytes())
                .unwrap()
                .into_iter()
                .map(|e| String::from_utf8(e.name).unwrap())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names("/"), ["bin", "etc", "usr", "var"]);
        assert_eq!(names("/var/empty"), Vec::<String>::new());
        assert_eq!(fs.read_file(b"/etc/passwd", 100).unwrap(), b"root:x:0:0\n");
        assert_eq!(fs.read(b"/etc/passwd", 5, 100).unwrap(), b"x:0:0\n");
        assert_eq!(fs.read(b"/etc/passwd", u64::MAX, 3).unwrap(), b"");
        assert_eq!(fs.lstat(b"/usr/bin/sh").unwrap().unwrap().mode, 0o755);
        assert_eq!(fs.read_link(b"/bin").unwrap(), b"usr/bin");
        // Links are not followed: a path through one is not a directory.
        assert!(matches!(
            fs.lstat(b"/bin/sh"),
            Err(FsError::NotADirectory { .. })
        ));
        assert!(fs.lstat(b"/nope/x").unwrap().is_none());
        assert!(fs.read_file(b"/etc", 10).is_err());
    }
}
