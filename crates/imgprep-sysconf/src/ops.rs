//! File operations: what an edit of the guest's configuration amounts to, computed natively and
//! applied later by whatever writes the image.
//!
//! Every edit API of this crate returns `Vec<FileOp>`. Paths are guest paths. An edit of an
//! existing file is a whole-file [`Op::Write`] whose bytes differ from the original only in the
//! lines the edit touches, with the file's own mode and owner; an edit that changes nothing
//! returns no operation. Registry operations name the hive by its guest path and the key below
//! the hive root with `CurrentControlSet` already resolved.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One operation on the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOp {
    /// Guest path of the file, link or directory (for registry operations, the hive file).
    pub path: String,
    /// What to do there.
    pub op: Op,
    /// Why, for plans and logs.
    pub why: String,
}

/// What a [`FileOp`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Create or replace the whole file.
    Write {
        /// The new contents.
        content: Vec<u8>,
        /// Permission bits (`0o644`).
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// Create a symbolic link (replacing what is there).
    Symlink {
        /// The target, stored as given.
        target: String,
    },
    /// Create a directory (and nothing else: parents are operations of their own).
    Mkdir {
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// Remove a file or link.
    Remove,
    /// Set a registry value.
    RegistrySet {
        /// Guest path of the hive file.
        hive: String,
        /// Key below the hive root, `\`-separated.
        key: String,
        /// Value name (`""` for the default value).
        name: String,
        /// The data.
        value: RegValue,
    },
    /// Delete a registry value, or a whole key when `name` is `None`.
    RegistryDelete {
        /// Guest path of the hive file.
        hive: String,
        /// Key below the hive root.
        key: String,
        /// Value name; `None` deletes the key.
        name: Option<String>,
    },
}

/// Registry data to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegValue {
    /// REG_SZ.
    Sz(String),
    /// REG_EXPAND_SZ.
    ExpandSz(String),
    /// REG_MULTI_SZ.
    MultiSz(Vec<String>),
    /// REG_DWORD.
    Dword(u32),
    /// REG_QWORD.
    Qword(u64),
    /// REG_BINARY.
    Binary(Vec<u8>),
}

impl fmt::Display for RegValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegValue::Sz(s) | RegValue::ExpandSz(s) => write!(f, "{s:?}"),
            RegValue::MultiSz(v) => write!(f, "{v:?}"),
            RegValue::Dword(n) => write!(f, "{n:#x} ({n})"),
            RegValue::Qword(n) => write!(f, "{n:#x} ({n})"),
            RegValue::Binary(b) => write!(f, "{} bytes of binary data", b.len()),
        }
    }
}

impl FileOp {
    /// A whole-file write.
    pub fn write(
        path: impl Into<String>,
        content: Vec<u8>,
        (mode, uid, gid): (u32, u32, u32),
        why: impl Into<String>,
    ) -> Self {
        FileOp {
            path: path.into(),
            op: Op::Write {
                content,
                mode,
                uid,
                gid,
            },
            why: why.into(),
        }
    }

    /// A symbolic link.
    pub fn symlink(
        path: impl Into<String>,
        target: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        FileOp {
            path: path.into(),
            op: Op::Symlink {
                target: target.into(),
            },
            why: why.into(),
        }
    }

    /// A directory owned by root.
    pub fn mkdir(path: impl Into<String>, mode: u32, why: impl Into<String>) -> Self {
        FileOp {
            path: path.into(),
            op: Op::Mkdir {
                mode,
                uid: 0,
                gid: 0,
            },
            why: why.into(),
        }
    }
}

/// [`Op::Mkdir`] operations (mode 0755, root's) for `dir` and each missing parent, outermost
/// first; none when it exists.
pub fn mkdirs(g: &dyn imgprep_guest::Guest, dir: &str, why: &str) -> Vec<FileOp> {
    let mut missing = Vec::new();
    let mut cur = crate::path::normalize(dir);
    while cur != "/" && !matches!(g.lstat(&cur), Ok(Some(_))) {
        missing.push(cur.clone());
        cur = crate::path::parent(&cur).to_owned();
    }
    missing
        .into_iter()
        .rev()
        .map(|d| FileOp::mkdir(d, 0o755, why))
        .collect()
}

/// A file's permission bits and owner: `(mode, uid, gid)`.
pub type Owner = (u32, u32, u32);

/// The bytes and owner of an existing guest file; `None` when it does not exist.
pub(crate) fn existing(
    g: &dyn imgprep_guest::Guest,
    path: &str,
) -> Result<Option<(Vec<u8>, Owner)>, crate::Error> {
    let Some(meta) = g.stat(path)? else {
        return Ok(None);
    };
    let bytes = g.read_file(path, crate::text::MAX_TEXT)?;
    Ok(Some((bytes, (meta.mode & 0o7777, meta.uid, meta.gid))))
}
