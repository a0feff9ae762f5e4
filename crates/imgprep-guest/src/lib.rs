//! The guest view: filesystems mounted where the guest mounts them, and paths resolved the way the
//! guest's kernel would resolve them, but never outside the guest.
//!
//! [`Guest`] is the one interface inspection and rules read through: `lstat`, `stat`, list a
//! directory, read a link, read a file. [`NativeGuest`] implements it over the pure-Rust
//! filesystem readers with a [`MountTable`]: absolute symlinks are relative to the guest root,
//! `..` stops at the root, at most [`MAX_SYMLINKS`] links are followed per lookup. Nothing in an
//! image can make a lookup reach the host.
//!
//! [`Image`] opens the disk images of one VM (container -> partitions and LVs -> filesystems) and
//! lists the filesystems on them as libguestfs would; [`Image::guest`] mounts a set of them.
//!
//! This crate does not know which OS an image holds; see `imgprep-inspect`.
#![forbid(unsafe_code)]

mod image;
mod resolve;

pub use image::{FsEntry, Image, ImageError, Mountable};
pub use imgprep_volume::ScanOptions;
pub use imgprep_volume::luks::{Limits, LuksKey};
pub use resolve::{MAX_SYMLINKS, MountTable, NativeGuest};

use imgprep_fs::{DirEntry, FileKind, FsError, Metadata};

/// Why a guest path operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuestError {
    /// The path, or a directory on the way to it, does not exist.
    #[error("{path}: no such file or directory in the guest")]
    NotFound {
        /// The guest path asked for.
        path: String,
    },
    /// A component on the way is not a directory.
    #[error("{path}: not a directory (at {at})")]
    NotADirectory {
        /// The guest path asked for.
        path: String,
        /// The guest path of the component that is not a directory.
        at: String,
    },
    /// More than [`MAX_SYMLINKS`] symbolic links on the way: a loop or an absurd chain.
    #[error("{path}: too many levels of symbolic links (more than {MAX_SYMLINKS})")]
    Loop {
        /// The guest path asked for.
        path: String,
    },
    /// The path is not absolute or not valid.
    #[error("{path}: guest paths must be absolute")]
    BadPath {
        /// The guest path asked for.
        path: String,
    },
    /// No filesystem is mounted at `/`.
    #[error("no filesystem is mounted at / in this guest view")]
    NoRoot,
    /// The filesystem reader failed.
    #[error("{path}: {source}")]
    Fs {
        /// The guest path asked for.
        path: String,
        /// What the filesystem said.
        #[source]
        source: FsError,
    },
}

impl GuestError {
    /// True when the path does not exist (as opposed to an unreadable filesystem).
    pub fn is_not_found(&self) -> bool {
        matches!(self, GuestError::NotFound { .. })
            || matches!(self, GuestError::Fs { source, .. } if source.is_not_found())
    }
}

/// Result of guest operations.
pub type Result<T, E = GuestError> = std::result::Result<T, E>;

/// Read-only access to a guest's files by guest path.
///
/// Paths are absolute guest paths (`/etc/fstab`). Symbolic links are followed inside the guest.
pub trait Guest: Send + Sync {
    /// Metadata of `path`, not following a final symlink; `Ok(None)` when it does not exist.
    fn lstat(&self, path: &str) -> Result<Option<Metadata>>;

    /// Metadata of `path`, following symlinks; `Ok(None)` when it (or a link target) does not
    /// exist.
    fn stat(&self, path: &str) -> Result<Option<Metadata>>;

    /// Entries of the directory `path` (symlinks followed).
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>>;

    /// Target of the symbolic link at `path`, as stored.
    fn read_link(&self, path: &str) -> Result<Vec<u8>>;

    /// Contents of the regular file `path` (symlinks followed), refusing files over `limit` bytes.
    fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>>;

    /// Up to `len` bytes of the regular file `path` (symlinks followed) from `offset`.
    fn read(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>>;

    /// The regular file `path` (symlinks followed) as a byte source, refusing files over
    /// `limit` bytes. [`NativeGuest`] reads it on demand, so a large file (a package database, a
    /// registry hive) never sits in memory whole; this default (for test doubles) reads it
    /// whole.
    fn open_file(&self, path: &str, limit: u64) -> Result<std::sync::Arc<dyn imgprep_io::ReadAt>> {
        Ok(std::sync::Arc::new(self.read_file(path, limit)?))
    }

    /// The canonical guest path of `path`, all symlinks resolved.
    fn realpath(&self, path: &str) -> Result<String>;

    /// True when `path` is a regular file, following symlinks. Unreadable counts as false.
    fn is_file(&self, path: &str) -> bool {
        matches!(self.stat(path), Ok(Some(m)) if m.kind == FileKind::File)
    }

    /// True when `path` is a directory, following symlinks.
    fn is_dir(&self, path: &str) -> bool {
        matches!(self.stat(path), Ok(Some(m)) if m.kind == FileKind::Dir)
    }

    /// True when `path` itself is a directory (a symlink to one does not count).
    fn is_dir_nofollow(&self, path: &str) -> bool {
        matches!(self.lstat(path), Ok(Some(m)) if m.kind == FileKind::Dir)
    }

    /// True when `path` itself is a regular file (a symlink to one does not count).
    fn is_file_nofollow(&self, path: &str) -> bool {
        matches!(self.lstat(path), Ok(Some(m)) if m.kind == FileKind::File)
    }

    /// True when `path` itself is a symbolic link.
    fn is_symlink(&self, path: &str) -> bool {
        matches!(self.lstat(path), Ok(Some(m)) if m.kind == FileKind::Symlink)
    }

    /// The file as text (lossy UTF-8), `Ok(None)` when it does not exist.
    fn read_text(&self, path: &str, limit: u64) -> Result<Option<String>> {
        match self.read_file(path, limit) {
            Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Most path components [`path_nocase`] looks up.
const MAX_NOCASE_COMPONENTS: usize = 64;

/// `path` with each existing component spelled as stored, names matched without regard to
/// ASCII case as Windows matches them; components that do not exist (and those past the 64th)
/// are kept as given. The flag is true when every component exists.
pub fn path_nocase(g: &dyn Guest, path: &str) -> (String, bool) {
    let mut out = String::new();
    let mut missing = false;
    for (i, comp) in path
        .split(['/', '\\'])
        .filter(|c| !c.is_empty())
        .enumerate()
    {
        let parent = if out.is_empty() { "/" } else { out.as_str() };
        let found = if missing || i >= MAX_NOCASE_COMPONENTS {
            None
        } else {
            g.read_dir(parent).ok().and_then(|entries| {
                entries
                    .into_iter()
                    .map(|e| String::from_utf8_lossy(&e.name).into_owned())
                    .find(|n| n.eq_ignore_ascii_case(comp))
            })
        };
        missing |= found.is_none();
        out.push('/');
        out.push_str(found.as_deref().unwrap_or(comp));
    }
    if out.is_empty() {
        out.push('/');
    }
    (out, !missing)
}
