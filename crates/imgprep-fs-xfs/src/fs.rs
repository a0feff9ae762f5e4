//! The opened filesystem: path resolution, listings, symlinks and file reads.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use imgprep_fs::{DirEntry, FileKind, Filesystem, FsError, FsInfo, Metadata};
use imgprep_io::{ReadAt, be};

use crate::bmap::{self, Extent};
use crate::crc;
use crate::dir::{self, Entry};
use crate::error::{Error, Result};
use crate::inode::{Format, Inode, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use crate::log::{self, LogState};
use crate::overlay::Overlaid;
use crate::sb::{self, Superblock};

const SYMLINK_MAXLEN: u64 = 1024;
const SYMLINK_MAGIC: u32 = 0x5853_4c4d; // "XSLM"
const SYMLINK_HDR: usize = 56;
const SYMLINK_CRC_OFF: usize = 12;
/// Directory listings kept for lookups, and their total entry budget.
const DIR_CACHE_DIRS: usize = 32;
const DIR_CACHE_ENTRIES: usize = 1 << 21;
/// Extent lists of regular files kept for repeated reads.
const EXTENT_CACHE_FILES: usize = 8;
/// Inodes kept (directories along paths are looked up again and again).
const INODE_CACHE: usize = 256;

/// How to open a filesystem.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check the CRC32C of v5 metadata (superblock, inodes, directory and B+tree blocks,
    /// remote symlinks). On by default; turning it off only helps to look at damaged images.
    pub verify_checksums: bool,
    /// Replay the log in memory when the filesystem was not unmounted cleanly, as Linux does
    /// when mounting it. On by default; off shows the metadata as last written in place.
    pub replay_log: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            verify_checksums: true,
            replay_log: true,
        }
    }
}

/// A directory's entries with an index by name (lower-cased on ASCII case-insensitive
/// filesystems).
struct Listing {
    entries: Vec<Entry>,
    index: HashMap<Vec<u8>, usize>,
}

#[derive(Default)]
struct Cache {
    inodes: HashMap<u64, Arc<Inode>>,
    dirs: VecDeque<(u64, Arc<Listing>)>,
    dir_entries: usize,
    extents: VecDeque<(u64, Arc<Vec<Extent>>)>,
}

/// An opened, read-only XFS filesystem.
pub struct Xfs {
    dev: Arc<dyn ReadAt>,
    sb: Superblock,
    info: FsInfo,
    log: LogState,
    verify: bool,
    cache: Mutex<Cache>,
}

impl fmt::Debug for Xfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xfs")
            .field("info", &self.info)
            .field("v5", &self.sb.v5)
            .field("blocksize", &self.sb.blocksize)
            .field("agcount", &self.sb.agcount)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// Label and UUID as `blkid` reports them: the label up to its first NUL with trailing
/// whitespace removed (absent when empty), the UUID unless it is all zeros.
pub(crate) fn label_and_uuid(
    fname: &[u8; 12],
    uuid: &[u8; 16],
) -> (Option<String>, Option<String>) {
    let end = fname.iter().position(|&c| c == 0).unwrap_or(fname.len());
    let mut label = &fname[..end];
    while let [rest @ .., last] = label
        && matches!(last, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
    {
        label = rest;
    }
    let label = (!label.is_empty()).then(|| String::from_utf8_lossy(label).into_owned());
    (label, imgprep_fs::blkid_uuid(uuid))
}

impl Xfs {
    /// Opens the filesystem on `dev`: checks the superblock, replays the log in memory when
    /// the filesystem was not unmounted cleanly (see [`Xfs::log_state`]), and checks the root
    /// directory's inode. Nothing is written.
    pub fn open(dev: Arc<dyn ReadAt>, options: &Options) -> Result<Xfs> {
        let sb = read_superblock(dev.as_ref(), options.verify_checksums)?;
        let recovered = log::recover(
            dev.as_ref(),
            &sb,
            options.replay_log,
            options.verify_checksums,
        )?;
        let log = recovered.state;
        match &log {
            LogState::Clean => {}
            LogState::Replayed { transactions, .. } => tracing::info!(
                transactions,
                "XFS log replayed in memory: the filesystem was not unmounted cleanly"
            ),
            state => tracing::warn!(
                ?state,
                "XFS log not replayed: showing the metadata as last written in place, without \
                 the changes only the log holds"
            ),
        }
        // The superblock itself may have changed in the log.
        let (dev, sb): (Arc<dyn ReadAt>, Superblock) = if recovered.overlay.is_empty() {
            (dev, sb)
        } else {
            let dev: Arc<dyn ReadAt> = Arc::new(Overlaid {
                base: dev,
                overlay: recovered.overlay,
            });
            let sb = read_superblock(dev.as_ref(), options.verify_checksums)?;
            (dev, sb)
        };
        let (label, uuid) = label_and_uuid(&sb.fname, &sb.uuid);
        let fs = Xfs {
            dev,
            sb,
            info: FsInfo {
                fstype: "xfs".into(),
                label,
                uuid,
            },
            log,
            verify: options.verify_checksums,
            cache: Mutex::new(Cache::default()),
        };
        let root = fs.inode(fs.sb.rootino, &|| "root inode".into())?;
        if !root.is_dir() {
            return Err(root.error(format!(
                "root inode has mode {:#o}, expected a directory",
                root.mode
            )));
        }
        Ok(fs)
    }

    /// The state of the log when the filesystem was opened: clean, replayed in memory, or not
    /// replayed (and why), in which case the view may lack the last changes.
    pub fn log_state(&self) -> &LogState {
        &self.log
    }

    fn inode(&self, ino: u64, by: &dyn Fn() -> String) -> Result<Arc<Inode>> {
        if let Some(i) = self.cache().inodes.get(&ino) {
            return Ok(i.clone());
        }
        let inode = Arc::new(Inode::read(
            self.dev.as_ref(),
            &self.sb,
            ino,
            by,
            self.verify,
        )?);
        let mut cache = self.cache();
        if cache.inodes.len() >= INODE_CACHE {
            cache.inodes.clear();
        }
        cache.inodes.insert(ino, inode.clone());
        Ok(inode)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(&self, name: &[u8]) -> Vec<u8> {
        if self.sb.ascii_ci {
            name.to_ascii_lowercase()
        } else {
            name.to_vec()
        }
    }

    fn listing(&self, dir: &Inode) -> Result<Arc<Listing>> {
        if let Some((_, l)) = self.cache().dirs.iter().find(|(ino, _)| *ino == dir.ino) {
            return Ok(l.clone());
        }
        let entries = dir::entries(self.dev.as_ref(), &self.sb, dir, self.verify)?;
        let mut index = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            index.entry(self.key(&e.name)).or_insert(i);
        }
        let listing = Arc::new(Listing { entries, index });
        let mut cache = self.cache();
        cache.dir_entries += listing.entries.len();
        cache.dirs.push_back((dir.ino, listing.clone()));
        while cache.dirs.len() > DIR_CACHE_DIRS
            || (cache.dir_entries > DIR_CACHE_ENTRIES && cache.dirs.len() > 1)
        {
            if let Some((_, old)) = cache.dirs.pop_front() {
                cache.dir_entries -= old.entries.len();
            }
        }
        Ok(listing)
    }

    fn extents(&self, inode: &Inode) -> Result<Arc<Vec<Extent>>> {
        if let Some((_, e)) = self
            .cache()
            .extents
            .iter()
            .find(|(ino, _)| *ino == inode.ino)
        {
            return Ok(e.clone());
        }
        let extents = Arc::new(bmap::extents(
            self.dev.as_ref(),
            &self.sb,
            inode,
            self.verify,
        )?);
        let mut cache = self.cache();
        cache.extents.push_back((inode.ino, extents.clone()));
        if cache.extents.len() > EXTENT_CACHE_FILES {
            cache.extents.pop_front();
        }
        Ok(extents)
    }

    /// The inode at `path`, `Ok(None)` when a component does not exist.
    fn resolve(&self, path: &[u8]) -> Result<Option<Arc<Inode>>, FsError> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let comps = imgprep_fs::components(path)?;
        let mut cur = self
            .inode(self.sb.rootino, &|| "root inode".into())
            .map_err(|e| to_fs_error(e, path))?;
        for name in comps {
            if !cur.is_dir() {
                return Err(FsError::NotADirectory { path: shown() });
            }
            let listing = self.listing(&cur).map_err(|e| to_fs_error(e, path))?;
            let Some(&i) = listing.index.get(&self.key(name)) else {
                return Ok(None);
            };
            let entry = &listing.entries[i];
            let dir_ino = cur.ino;
            cur = self
                .inode(entry.ino, &|| {
                    format!(
                        "entry {:?} of directory inode {dir_ino}",
                        String::from_utf8_lossy(&entry.name)
                    )
                })
                .map_err(|e| to_fs_error(e, path))?;
        }
        Ok(Some(cur))
    }

    fn existing(&self, path: &[u8]) -> Result<Arc<Inode>, FsError> {
        self.resolve(path)?.ok_or_else(|| FsError::NotFound {
            path: String::from_utf8_lossy(path).into_owned(),
        })
    }

    fn link_target(&self, inode: &Inode) -> Result<Vec<u8>> {
        let size = inode.size;
        if size == 0 || size > SYMLINK_MAXLEN {
            return Err(inode.error(format!("symlink length is {size}, expected 1 to 1024")));
        }
        let size = size as usize;
        if inode.format == Format::Local {
            return inode.fork.get(..size).map(<[u8]>::to_vec).ok_or_else(|| {
                inode.error(format!(
                    "inline symlink of {size} bytes does not fit its {}-byte fork",
                    inode.fork.len()
                ))
            });
        }
        let extents = bmap::extents(self.dev.as_ref(), &self.sb, inode, self.verify)?;
        let bs = u64::from(self.sb.blocksize);
        let serr = |offset: u64, detail: String| Error::Symlink {
            ino: inode.ino,
            offset,
            detail,
        };
        if extents.len() > 3 {
            return Err(serr(
                inode.fork_offset,
                format!(
                    "target is stored in {} extents, expected at most 3",
                    extents.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(size);
        let mut next_fb = 0;
        for e in &extents {
            if out.len() == size {
                break;
            }
            if e.startoff != next_fb || e.unwritten {
                return Err(serr(
                    e.byte,
                    format!(
                        "extent at file block {} (unwritten: {}), expected a written extent at \
                         file block {next_fb}",
                        e.startoff, e.unwritten
                    ),
                ));
            }
            next_fb = e.end();
            let len = e.count * bs;
            if len > 4 * SYMLINK_MAXLEN.max(bs) {
                return Err(serr(
                    e.byte,
                    format!("extent of {len} bytes is too long for a symlink"),
                ));
            }
            let mut buf = vec![0u8; len as usize];
            self.dev
                .read_exact_at(e.byte, &mut buf)
                .map_err(|source| Error::Read {
                    what: "symlink block",
                    offset: e.byte,
                    len: buf.len(),
                    source,
                })?;
            let want = size - out.len();
            let data = if self.sb.v5 {
                let magic = be::u32(&buf, 0);
                if magic != SYMLINK_MAGIC {
                    return Err(Error::BadMagic {
                        what: "symlink block",
                        offset: e.byte,
                        found: magic,
                        expected: "0x58534c4d (\"XSLM\")",
                    });
                }
                if self.verify {
                    let found = crc::stored(&buf, SYMLINK_CRC_OFF);
                    let expected = crc::xfs_cksum(&buf, SYMLINK_CRC_OFF);
                    if found != expected {
                        return Err(Error::Checksum {
                            what: "symlink block",
                            offset: e.byte,
                            found,
                            expected,
                        });
                    }
                }
                let offset = be::u32(&buf, 4) as usize;
                let bytes = be::u32(&buf, 8) as usize;
                let owner = be::u64(&buf, 32);
                let blkno = be::u64(&buf, 40);
                let expect_bytes = want.min(buf.len() - SYMLINK_HDR);
                if offset != out.len() || bytes != expect_bytes {
                    return Err(serr(
                        e.byte,
                        format!(
                            "block holds {bytes} bytes at offset {offset}, expected \
                             {expect_bytes} at {}",
                            out.len()
                        ),
                    ));
                }
                if owner != inode.ino || blkno != e.byte >> 9 {
                    return Err(serr(
                        e.byte,
                        format!(
                            "block records owner {owner} and sector {blkno:#x}, expected {} and \
                             {:#x}",
                            inode.ino,
                            e.byte >> 9
                        ),
                    ));
                }
                &buf[SYMLINK_HDR..SYMLINK_HDR + bytes]
            } else {
                &buf[..want.min(buf.len())]
            };
            out.extend_from_slice(data);
        }
        if out.len() != size {
            return Err(serr(
                inode.fork_offset,
                format!("blocks hold {} bytes of the {size}-byte target", out.len()),
            ));
        }
        Ok(out)
    }

    fn read_inode(&self, inode: &Inode, offset: u64, len: usize) -> Result<Vec<u8>> {
        if offset >= inode.size || len == 0 {
            return Ok(Vec::new());
        }
        let n = (inode.size - offset).min(len as u64);
        let end = offset + n;
        let extents = self.extents(inode)?;
        let mut out = vec![0u8; n as usize];
        let blocklog = self.sb.blocklog;
        let mut i = bmap::find(&extents, offset >> blocklog);
        while let Some(e) = extents.get(i) {
            let e_start = e.startoff.saturating_mul(1 << blocklog);
            if e_start >= end {
                break;
            }
            i += 1;
            if e.unwritten {
                continue; // reads as zeros, like a hole
            }
            let e_end = e.end().saturating_mul(1 << blocklog);
            let lo = offset.max(e_start);
            let hi = end.min(e_end);
            if lo >= hi {
                continue;
            }
            let dev_off = e.byte + (lo - e_start);
            let dst = &mut out[(lo - offset) as usize..(hi - offset) as usize];
            self.dev
                .read_exact_at(dev_off, dst)
                .map_err(|source| Error::Read {
                    what: "file data",
                    offset: dev_off,
                    len: dst.len(),
                    source,
                })?;
        }
        Ok(out)
    }
}

fn kind_of(mode: u16) -> FileKind {
    match mode & S_IFMT {
        S_IFREG => FileKind::File,
        S_IFDIR => FileKind::Dir,
        S_IFLNK => FileKind::Symlink,
        0o020000 => FileKind::CharDevice,
        0o060000 => FileKind::BlockDevice,
        0o010000 => FileKind::Fifo,
        0o140000 => FileKind::Socket,
        _ => FileKind::Other,
    }
}

fn kind_of_ftype(ftype: u8) -> Option<FileKind> {
    // 8: a whiteout (XFS_DIR3_FT_WHT).
    if ftype == 8 {
        return Some(FileKind::Other);
    }
    FileKind::from_dirent_type(ftype)
}

/// Reads and checks the primary superblock (the whole sector, which a v5 checksum covers).
fn read_superblock(dev: &dyn ReadAt, verify: bool) -> Result<Superblock> {
    let mut buf = vec![0u8; 512];
    dev.read_exact_at(0, &mut buf)
        .map_err(|source| Error::Read {
            what: "superblock",
            offset: 0,
            len: 512,
            source,
        })?;
    let sectsize = usize::from(be::u16(&buf, 102));
    if be::u32(&buf, 0) == sb::SB_MAGIC && (1024..=32768).contains(&sectsize) {
        buf.resize(sectsize, 0);
        dev.read_exact_at(0, &mut buf)
            .map_err(|source| Error::Read {
                what: "superblock",
                offset: 0,
                len: sectsize,
                source,
            })?;
    }
    let sb = Superblock::parse(&buf, verify)?;
    if sb.fs_bytes() > dev.size() {
        return Err(Error::DeviceTooSmall {
            needed: sb.fs_bytes(),
            size: dev.size(),
        });
    }
    Ok(sb)
}

/// Maps this crate's error to the interface's: unsupported features and device read failures
/// keep their kind, everything else is corruption.
fn to_fs_error(e: Error, path: &[u8]) -> FsError {
    match e {
        Error::Unsupported { feature } => FsError::Unsupported {
            path: String::from_utf8_lossy(path).into_owned(),
            what: format!("XFS {feature}"),
        },
        Error::Read { ref source, .. } => FsError::Io(io::Error::new(source.kind(), e)),
        e => FsError::corrupt(e),
    }
}

impl Filesystem for Xfs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn log_replay(&self) -> imgprep_fs::LogReplay {
        self.log.to_log_replay()
    }

    fn lstat(&self, path: &[u8]) -> imgprep_fs::Result<Option<Metadata>> {
        Ok(self.resolve(path)?.map(|i| Metadata {
            kind: kind_of(i.mode),
            size: i.size,
            mode: u32::from(i.mode & 0o7777),
            uid: i.uid,
            gid: i.gid,
            mtime: i.mtime,
            ino: i.ino,
        }))
    }

    fn read_dir(&self, path: &[u8]) -> imgprep_fs::Result<Vec<DirEntry>> {
        let inode = self.existing(path)?;
        if !inode.is_dir() {
            return Err(FsError::NotADirectory {
                path: String::from_utf8_lossy(path).into_owned(),
            });
        }
        let listing = self.listing(&inode).map_err(|e| to_fs_error(e, path))?;
        Ok(listing
            .entries
            .iter()
            .map(|e| DirEntry {
                name: e.name.clone(),
                kind: if self.sb.ftype {
                    kind_of_ftype(e.ftype)
                } else {
                    None
                },
            })
            .collect())
    }

    fn read_link(&self, path: &[u8]) -> imgprep_fs::Result<Vec<u8>> {
        let inode = self.existing(path)?;
        if inode.mode & S_IFMT != S_IFLNK {
            return Err(FsError::NotASymlink {
                path: String::from_utf8_lossy(path).into_owned(),
            });
        }
        self.link_target(&inode).map_err(|e| to_fs_error(e, path))
    }

    fn read(&self, path: &[u8], offset: u64, len: usize) -> imgprep_fs::Result<Vec<u8>> {
        let inode = self.existing(path)?;
        let shown = || String::from_utf8_lossy(path).into_owned();
        match kind_of(inode.mode) {
            FileKind::File => {}
            FileKind::Dir => return Err(FsError::IsADirectory { path: shown() }),
            kind => {
                return Err(FsError::Unsupported {
                    path: shown(),
                    what: format!("reading a {kind:?} as a file"),
                });
            }
        }
        self.read_inode(&inode, offset, len)
            .map_err(|e| to_fs_error(e, path))
    }
}

#[cfg(test)]
mod tests {
    use super::label_and_uuid;

    #[test]
    fn label_and_uuid_as_blkid_prints_them() {
        fn check(fname: &[u8], uuid: [u8; 16], want: (Option<&str>, Option<&str>)) {
            let mut f = [0u8; 12];
            f[..fname.len()].copy_from_slice(fname);
            let (l, u) = label_and_uuid(&f, &uuid);
            assert_eq!((l.as_deref(), u.as_deref()), want, "{fname:?}");
        }
        let id = [
            0x3f, 0x1c, 0x0a, 0x2e, 0x5b, 0x6d, 0x4e, 0x7f, 0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f,
            0x4a, 0x5b,
        ];
        let some = Some("3f1c0a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b");
        check(b"root", id, (Some("root"), some));
        check(b"", id, (None, some));
        check(b"lbl  \t", id, (Some("lbl"), some));
        check(b"   ", id, (None, some));
        check(b" a b", id, (Some(" a b"), some));
        check(b"abcdefghijkl", id, (Some("abcdefghijkl"), some));
        check(b"ab\0cd", id, (Some("ab"), some));
        check(b"x", [0; 16], (Some("x"), None));
    }
}
