//! A guest view with the operations planned so far applied in memory, so each edit is computed
//! against the result of the ones before it (an account added by one step is seen by the
//! sudoers step after it; two edits of one file compose instead of overwriting each other).
//!
//! Overlay entries are keyed by the lexical guest path an operation names; lookups of other
//! paths go to the guest below. Edits name the files they read the way they write them, which is
//! all this needs.

use std::collections::BTreeMap;
use std::sync::Arc;

use imgprep_fs::{DirEntry, FileKind, Metadata};
use imgprep_guest::{Guest, GuestError, Result};
use imgprep_io::ReadAt;
use imgprep_sysconf::path::{normalize, parent};
use imgprep_sysconf::{FileOp, Op};

#[derive(Debug, Clone)]
pub(crate) enum Node {
    File {
        content: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Link(String),
    Removed,
}

/// The guest below with planned operations laid over it.
pub struct Staged<'a> {
    base: &'a dyn Guest,
    nodes: BTreeMap<String, Node>,
}

impl Staged<'_> {
    /// What has been staged so far, to go back to with [`Staged::restore`].
    pub(crate) fn checkpoint(&self) -> BTreeMap<String, Node> {
        self.nodes.clone()
    }

    /// Forgets what was staged after `checkpoint`.
    pub(crate) fn restore(&mut self, checkpoint: BTreeMap<String, Node>) {
        self.nodes = checkpoint;
    }
}

impl std::fmt::Debug for Staged<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("paths", &self.nodes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> Staged<'a> {
    /// The guest `base` with nothing applied yet.
    pub fn new(base: &'a dyn Guest) -> Self {
        Staged {
            base,
            nodes: BTreeMap::new(),
        }
    }

    /// Applies `op` to the view (registry operations do not change files here).
    pub fn apply(&mut self, op: &FileOp) {
        let path = normalize(&op.path);
        let node = match &op.op {
            Op::Write {
                content,
                mode,
                uid,
                gid,
            } => Node::File {
                content: content.clone(),
                mode: *mode,
                uid: *uid,
                gid: *gid,
            },
            Op::Mkdir { mode, uid, gid } => Node::Dir {
                mode: *mode,
                uid: *uid,
                gid: *gid,
            },
            Op::Symlink { target } => Node::Link(target.clone()),
            Op::Remove => Node::Removed,
            _ => return,
        };
        self.nodes.insert(path, node);
    }

    fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(&normalize(path))
    }

    fn meta(node: &Node) -> Option<Metadata> {
        let (kind, size, mode, uid, gid) = match node {
            Node::File {
                content,
                mode,
                uid,
                gid,
            } => (FileKind::File, content.len() as u64, *mode, *uid, *gid),
            Node::Dir { mode, uid, gid } => (FileKind::Dir, 0, *mode, *uid, *gid),
            Node::Link(t) => (FileKind::Symlink, t.len() as u64, 0o777, 0, 0),
            Node::Removed => return None,
        };
        Some(Metadata {
            kind,
            size,
            mode,
            uid,
            gid,
            mtime: 0,
            ino: 0,
        })
    }

    /// The path a staged link at `path` leads to (one level; the base resolves the rest).
    fn through_link(&self, path: &str) -> Option<String> {
        match self.node(path)? {
            Node::Link(t) if t.starts_with('/') => Some(normalize(t)),
            Node::Link(t) => Some(normalize(&format!("{}/{t}", parent(&normalize(path))))),
            _ => None,
        }
    }
}

impl Guest for Staged<'_> {
    fn lstat(&self, path: &str) -> Result<Option<Metadata>> {
        match self.node(path) {
            Some(n) => Ok(Self::meta(n)),
            None => self.base.lstat(path),
        }
    }

    fn stat(&self, path: &str) -> Result<Option<Metadata>> {
        if let Some(t) = self.through_link(path) {
            return self.stat(&t);
        }
        match self.node(path) {
            Some(n) => Ok(Self::meta(n)),
            None => self.base.stat(path),
        }
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let dir = normalize(path);
        let mut entries = match self.node(&dir) {
            Some(Node::Dir { .. }) => match self.base.read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(e),
            },
            Some(Node::Removed) => return Err(GuestError::NotFound { path: dir }),
            Some(_) => {
                return Err(GuestError::NotADirectory {
                    path: dir.clone(),
                    at: dir,
                });
            }
            None => self.base.read_dir(&dir)?,
        };
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        for (p, n) in self.nodes.range(prefix.clone()..) {
            let Some(rest) = p.strip_prefix(&prefix) else {
                break;
            };
            if rest.is_empty() || rest.contains('/') {
                continue;
            }
            let name = rest.as_bytes().to_vec();
            entries.retain(|e| e.name != name);
            if let Some(m) = Self::meta(n) {
                entries.push(DirEntry {
                    name,
                    kind: Some(m.kind),
                });
            }
        }
        Ok(entries)
    }

    fn read_link(&self, path: &str) -> Result<Vec<u8>> {
        match self.node(path) {
            Some(Node::Link(t)) => Ok(t.as_bytes().to_vec()),
            Some(Node::Removed) => Err(GuestError::NotFound { path: path.into() }),
            Some(_) => Err(GuestError::BadPath { path: path.into() }),
            None => self.base.read_link(path),
        }
    }

    fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        if let Some(t) = self.through_link(path) {
            return self.read_file(&t, limit);
        }
        match self.node(path) {
            Some(Node::File { content, .. }) => Ok(content.clone()),
            Some(Node::Removed) => Err(GuestError::NotFound { path: path.into() }),
            Some(_) => Err(GuestError::BadPath { path: path.into() }),
            None => self.base.read_file(path, limit),
        }
    }

    fn read(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        if self.node(path).is_some() || self.through_link(path).is_some() {
            let all = self.read_file(path, u64::MAX)?;
            let start = (offset as usize).min(all.len());
            let end = start.saturating_add(len).min(all.len());
            return Ok(all[start..end].to_vec());
        }
        self.base.read(path, offset, len)
    }

    fn open_file(&self, path: &str, limit: u64) -> Result<Arc<dyn ReadAt>> {
        if self.node(path).is_some() || self.through_link(path).is_some() {
            return Ok(Arc::new(self.read_file(path, limit)?));
        }
        self.base.open_file(path, limit)
    }

    fn realpath(&self, path: &str) -> Result<String> {
        if let Some(t) = self.through_link(path) {
            return self.realpath(&t);
        }
        match self.node(path) {
            Some(Node::Removed) => Err(GuestError::NotFound { path: path.into() }),
            Some(_) => Ok(normalize(path)),
            None => self.base.realpath(path),
        }
    }
}
