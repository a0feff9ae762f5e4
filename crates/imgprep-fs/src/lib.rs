//! The read-only filesystem interface every imgprep filesystem reader implements.
//!
//! A [`Filesystem`] answers questions about paths *inside one filesystem*: `lstat`, list a
//! directory, read a symlink's target, read a file's bytes. It never follows symbolic links and
//! knows nothing of mounts: the guest layer resolves links and mount points component by
//! component and only ever asks a filesystem about paths whose every parent is a real directory.
//!
//! [`FsInfo`] is what probing a block device says (type, label, UUID, as `blkid` would print
//! them). The readers themselves live in their own crates (`imgprep-fs-ext`, …) and each exposes
//! `probe(&dyn ReadAt) -> Option<FsInfo>` and `open(Arc<dyn ReadAt>) -> Box<dyn Filesystem>`.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

pub mod mem;
pub mod swap;
pub use mem::MemFs;
pub use swap::probe_swap;

/// What probing a block device found, spelled as libguestfs and `blkid` spell it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsInfo {
    /// `ext2`, `ext3`, `ext4`, `xfs`, `btrfs`, `ntfs`, `vfat`, `swap`, `crypto_LUKS`, …
    pub fstype: String,
    /// Volume label, when the filesystem has a non-empty one.
    pub label: Option<String>,
    /// UUID as blkid prints it (lower-case hyphenated for ext/xfs/btrfs, 16 upper-case hex digits
    /// for NTFS, `XXXX-XXXX` for FAT).
    pub uuid: Option<String>,
}

/// The kind of a directory entry or inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Named pipe.
    Fifo,
    /// Unix socket.
    Socket,
    /// Anything else (NTFS reparse points that are not links, unknown types).
    Other,
}

impl FileKind {
    /// The file type bits (`S_IFMT`) of a POSIX mode, as ext, XFS and btrfs inodes store it;
    /// `None` for a type that does not exist.
    pub fn from_mode(mode: u32) -> Option<FileKind> {
        Some(match mode & 0o170000 {
            0o100000 => FileKind::File,
            0o040000 => FileKind::Dir,
            0o120000 => FileKind::Symlink,
            0o020000 => FileKind::CharDevice,
            0o060000 => FileKind::BlockDevice,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            _ => return None,
        })
    }

    /// The Linux directory-entry type code (`DT_*` order, as ext4 `file_type`, btrfs `type` and
    /// XFS `ftype` store it: 1 file … 7 symlink); `None` for 0 (unknown) and other values.
    pub fn from_dirent_type(t: u8) -> Option<FileKind> {
        Some(match t {
            1 => FileKind::File,
            2 => FileKind::Dir,
            3 => FileKind::CharDevice,
            4 => FileKind::BlockDevice,
            5 => FileKind::Fifo,
            6 => FileKind::Socket,
            7 => FileKind::Symlink,
            _ => return None,
        })
    }
}

/// What `lstat` says about an inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Type of the inode.
    pub kind: FileKind,
    /// Size in bytes (for symlinks, the length of the target).
    pub size: u64,
    /// Permission bits, including setuid/setgid/sticky (`0o7777` mask). NTFS reports 0o777 for
    /// directories and 0o644 for files.
    pub mode: u32,
    /// Owner user id (0 where the filesystem has none).
    pub uid: u32,
    /// Owner group id (0 where the filesystem has none).
    pub gid: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Inode (or MFT record) number.
    pub ino: u64,
}

/// One entry of a directory listing. `.` and `..` are never included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// File name as stored (UTF-8 for NTFS and FAT, raw bytes elsewhere).
    pub name: Vec<u8>,
    /// Type, when the directory records it without reading the inode.
    pub kind: Option<FileKind>,
}

/// Whether a filesystem was cleanly unmounted, and what its reader did about it when it was not.
///
/// A filesystem snapshotted from a running machine usually has changes that exist only in its
/// log (journal, log tree). Linux replays them when it mounts the filesystem; a reader that can
/// replays them in memory too (never writing the image), and says so here. A reader that cannot
/// says why: its view then lacks the last changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogReplay {
    /// Cleanly unmounted, or nothing was waiting in the log: the metadata is complete as written.
    #[default]
    Clean,
    /// Not cleanly unmounted; the log was replayed in memory, as Linux replays it when mounting.
    Replayed {
        /// What was replayed, e.g. "XFS log".
        log: String,
        /// What was applied, e.g. "12 transactions".
        applied: String,
        /// Work the replay left undone that Linux would have finished after replaying, and which
        /// may leave some facts stale; `None` when there was none.
        unfinished: Option<String>,
    },
    /// Not cleanly unmounted and the log not replayed: the metadata is shown as last written in
    /// place, without the changes only the log holds.
    NotReplayed {
        /// The log, e.g. "XFS log".
        log: String,
        /// Why it was not replayed.
        reason: String,
    },
}

impl LogReplay {
    /// The note inspection reports about this state; `None` for a clean filesystem.
    pub fn note(&self) -> Option<String> {
        match self {
            LogReplay::Clean => None,
            LogReplay::Replayed {
                log,
                applied,
                unfinished,
            } => {
                let mut s = format!("not cleanly unmounted: {log} replayed in memory ({applied})");
                if let Some(u) = unfinished {
                    s.push_str(&format!("; not finished: {u}, so facts may be stale"));
                }
                Some(s)
            }
            LogReplay::NotReplayed { log, reason } => Some(format!(
                "not cleanly unmounted and the {log} was not replayed ({reason}): facts may be \
                 stale"
            )),
        }
    }
}

/// Why a filesystem operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// The path does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// A component of the path, or the path itself where a directory was needed, is not a
    /// directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path asked for.
        path: String,
    },
    /// `read_link` on something that is not a symbolic link.
    #[error("{path}: not a symbolic link")]
    NotASymlink {
        /// The path asked for.
        path: String,
    },
    /// A file read on a directory.
    #[error("{path}: is a directory")]
    IsADirectory {
        /// The path asked for.
        path: String,
    },
    /// The data exists but this reader does not decode it (NTFS compression, encryption, …).
    #[error("{path}: {what} is not supported")]
    Unsupported {
        /// The path asked for.
        path: String,
        /// The feature, e.g. "NTFS compressed data".
        what: String,
    },
    /// A file is larger than the caller allowed.
    #[error("{path}: file is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// The path asked for.
        path: String,
        /// Its size.
        size: u64,
        /// The caller's limit.
        limit: u64,
    },
    /// The filesystem structures are damaged; the reader's own error says where.
    #[error(transparent)]
    Corrupt(Box<dyn std::error::Error + Send + Sync>),
    /// Reading the underlying device failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl FsError {
    /// Wraps a reader's own error (which names offsets and expected/found values).
    pub fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        FsError::Corrupt(Box::new(e))
    }

    /// True for [`FsError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::NotFound { .. })
    }
}

/// Result of filesystem operations.
pub type Result<T, E = FsError> = std::result::Result<T, E>;

/// A read-only filesystem, addressed by absolute paths inside it.
///
/// Paths are byte strings starting with `/`, components separated by single `/`, with no `.`,
/// `..` or empty components; `/` is the root. Implementations must not follow symbolic links in
/// any component (the guest layer does that); where a component is not a directory they return
/// [`FsError::NotADirectory`]. Case-insensitive filesystems (NTFS, FAT) match names as Windows
/// does.
pub trait Filesystem: Send + Sync + fmt::Debug {
    /// Type, label and UUID.
    fn info(&self) -> &FsInfo;

    /// Metadata of `path` without following a final symlink; `Ok(None)` when it does not exist.
    fn lstat(&self, path: &[u8]) -> Result<Option<Metadata>>;

    /// Entries of the directory at `path`, in on-disk order.
    fn read_dir(&self, path: &[u8]) -> Result<Vec<DirEntry>>;

    /// Target of the symbolic link at `path`, as stored.
    fn read_link(&self, path: &[u8]) -> Result<Vec<u8>>;

    /// Up to `len` bytes of the regular file at `path` starting at `offset` (fewer at the end).
    fn read(&self, path: &[u8], offset: u64, len: usize) -> Result<Vec<u8>>;

    /// Whether the filesystem was cleanly unmounted and, if not, whether its log was replayed.
    /// Readers of filesystems without a log keep the default, [`LogReplay::Clean`].
    fn log_replay(&self) -> LogReplay {
        LogReplay::Clean
    }

    /// The whole regular file at `path`, refusing files larger than `limit` bytes.
    fn read_file(&self, path: &[u8], limit: u64) -> Result<Vec<u8>> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let meta = self
            .lstat(path)?
            .ok_or_else(|| FsError::NotFound { path: shown() })?;
        match meta.kind {
            FileKind::Dir => return Err(FsError::IsADirectory { path: shown() }),
            FileKind::File => {}
            _ => {
                return Err(FsError::Unsupported {
                    path: shown(),
                    what: format!("reading a {:?} as a file", meta.kind),
                });
            }
        }
        if meta.size > limit {
            return Err(FsError::TooLarge {
                path: shown(),
                size: meta.size,
                limit,
            });
        }
        self.read(path, 0, meta.size as usize)
    }
}

/// A 16-byte UUID as `blkid` prints it: lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn uuid_string(raw: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// [`uuid_string`] of a 16-byte field, absent when it is all zeros or not 16 bytes long (libblkid
/// reports no UUID then).
pub fn blkid_uuid(raw: &[u8]) -> Option<String> {
    let raw: &[u8; 16] = raw.try_into().ok()?;
    raw.iter().any(|&b| b != 0).then(|| uuid_string(raw))
}

/// Splits a filesystem path into its components, checking the form described on [`Filesystem`].
pub fn components(path: &[u8]) -> Result<impl Iterator<Item = &[u8]>> {
    let bad = path.first() != Some(&b'/')
        || (path.len() > 1
            && path[1..]
                .split(|&c| c == b'/')
                .any(|c| c.is_empty() || c == b"." || c == b".."));
    if bad {
        return Err(FsError::NotFound {
            path: String::from_utf8_lossy(path).into_owned(),
        });
    }
    Ok(path[1..].split(|&c| c == b'/').filter(|c| !c.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_print_like_blkid() {
        let u = [
            0x2b, 0x5c, 0x7a, 0x3e, 0x9f, 0x14, 0x4d, 0x7a, 0x8c, 0x21, 0x0e, 0x6f, 0x1d, 0x2a,
            0x3b, 0x4c,
        ];
        assert_eq!(uuid_string(&u), "2b5c7a3e-9f14-4d7a-8c21-0e6f1d2a3b4c");
        assert_eq!(
            blkid_uuid(&u).as_deref(),
            Some("2b5c7a3e-9f14-4d7a-8c21-0e6f1d2a3b4c")
        );
        assert_eq!(blkid_uuid(&[0; 16]), None);
        assert_eq!(blkid_uuid(&u[..15]), None);
    }

    #[test]
    fn log_replay_notes() {
        assert_eq!(LogReplay::Clean.note(), None);
        let r = LogReplay::Replayed {
            log: "XFS log".into(),
            applied: "1 transaction".into(),
            unfinished: None,
        };
        assert_eq!(
            r.note().as_deref(),
            Some("not cleanly unmounted: XFS log replayed in memory (1 transaction)")
        );
        let r = LogReplay::Replayed {
            log: "XFS log".into(),
            applied: "3 transactions".into(),
            unfinished: Some("2 extent-free intents".into()),
        };
        assert_eq!(
            r.note().as_deref(),
            Some(
                "not cleanly unmounted: XFS log replayed in memory (3 transactions); not \
                 finished: 2 extent-free intents, so facts may be stale"
            )
        );
        let r = LogReplay::NotReplayed {
            log: "btrfs log tree".into(),
            reason: "a RAID1 log".into(),
        };
        assert_eq!(
            r.note().as_deref(),
            Some(
                "not cleanly unmounted and the btrfs log tree was not replayed (a RAID1 log): \
                 facts may be stale"
            )
        );
    }

    #[test]
    fn components_accept_only_normal_absolute_paths() {
        fn ok(p: &[u8]) -> Option<Vec<&[u8]>> {
            components(p).map(|c| c.collect()).ok()
        }
        assert_eq!(ok(b"/"), Some(vec![]));
        assert_eq!(ok(b"/etc/fstab"), Some(vec![&b"etc"[..], b"fstab"]));
        assert_eq!(ok(b"etc"), None);
        assert_eq!(ok(b"/etc//x"), None);
        assert_eq!(ok(b"/etc/../x"), None);
        assert_eq!(ok(b"/etc/"), None);
    }
}
