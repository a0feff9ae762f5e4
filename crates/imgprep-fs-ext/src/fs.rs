//! The reader: blocks (through the journal and a small cache), inodes, directories, file data,
//! and the `Filesystem` interface on top.

use crate::inode::{FL_CASEFOLD, FL_ENCRYPT, FL_INLINE_DATA, Inode, InodeFormat};
use crate::journal::JournalBlock;
use crate::map::Run;
use crate::superblock::{self, Superblock};
use crate::{Error, ROOT_INO};
use imgprep_fs::{DirEntry, FileKind, FsError, FsInfo, Metadata};
use imgprep_io::{ReadAt, le};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Directories larger than this are refused (ext4 without `largedir` stops at 2 GiB).
const MAX_DIR_SIZE: u64 = 4 << 30;
/// Most entries one directory listing returns.
const MAX_DIR_ENTRIES: usize = 4 << 20;
/// Most directory records (live or not) one scan of a directory parses.
const MAX_DIR_RECORDS: u64 = 16 << 20;
/// Bytes of metadata blocks kept in memory.
const CACHE_BYTES: u64 = 8 << 20;

/// A two-generation block cache: bounded, O(1), keeps recently used blocks.
#[derive(Debug)]
struct BlockCache {
    current: HashMap<u64, Arc<[u8]>>,
    previous: HashMap<u64, Arc<[u8]>>,
    per_generation: usize,
}

impl BlockCache {
    fn get(&mut self, block: u64) -> Option<Arc<[u8]>> {
        if let Some(b) = self.current.get(&block) {
            return Some(b.clone());
        }
        let b = self.previous.remove(&block)?;
        self.insert(block, b.clone());
        Some(b)
    }

    fn insert(&mut self, block: u64, data: Arc<[u8]>) {
        if self.current.len() >= self.per_generation {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(block, data);
    }
}

/// An opened ext2/3/4 filesystem.
pub(crate) struct ExtFs {
    pub(crate) dev: Arc<dyn ReadAt>,
    pub(crate) sb: Superblock,
    /// Blocks whose current contents sit in the journal (replayed in memory), by fs block.
    pub(crate) journal: BTreeMap<u64, JournalBlock>,
    /// Whether the filesystem needed recovery and what replaying its journal applied.
    pub(crate) replay: imgprep_fs::LogReplay,
    cache: Mutex<BlockCache>,
}

impl fmt::Debug for ExtFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtFs")
            .field("info", &self.sb.info)
            .field("block_size", &self.sb.block_size)
            .field("blocks_count", &self.sb.blocks_count)
            .field("journal_blocks", &self.journal.len())
            .finish_non_exhaustive()
    }
}

impl ExtFs {
    pub(crate) fn new(dev: Arc<dyn ReadAt>, sb: Superblock) -> Self {
        let per_generation = (CACHE_BYTES / 2 / sb.block_size).max(8) as usize;
        ExtFs {
            dev,
            sb,
            journal: BTreeMap::new(),
            replay: imgprep_fs::LogReplay::Clean,
            cache: Mutex::new(BlockCache {
                current: HashMap::new(),
                previous: HashMap::new(),
                per_generation,
            }),
        }
    }

    fn inode_format(&self) -> InodeFormat {
        InodeFormat {
            block_size: self.sb.block_size,
            huge_file: self.sb.ro_compat & superblock::RO_COMPAT_HUGE_FILE != 0,
            largedir: self.sb.has_incompat(superblock::INCOMPAT_LARGEDIR),
            is_64bit: self.sb.has_incompat(superblock::INCOMPAT_64BIT),
        }
    }

    /// Reads `buf.len()` bytes starting `within` bytes into device block `block`, with the
    /// journal's newer copies of any blocks it covers laid over.
    pub(crate) fn read_blocks(&self, block: u64, within: u64, buf: &mut [u8]) -> Result<(), Error> {
        let bs = self.sb.block_size;
        let start = block
            .checked_mul(bs)
            .and_then(|o| o.checked_add(within))
            .ok_or(Error::BlockOutOfRange {
                block,
                blocks_count: self.sb.blocks_count,
                what: "a read".into(),
            })?;
        self.dev.read_exact_at(start, buf)?;
        if self.journal.is_empty() || buf.is_empty() {
            return Ok(());
        }
        let end = start + buf.len() as u64;
        let mut copy = vec![0u8; bs as usize];
        for (&fs_block, jb) in self.journal.range(start / bs..=(end - 1) / bs) {
            jb.read(self, &mut copy)?;
            let b_start = fs_block * bs;
            let s = start.max(b_start);
            let e = end.min(b_start + bs);
            buf[(s - start) as usize..(e - start) as usize]
                .copy_from_slice(&copy[(s - b_start) as usize..(e - b_start) as usize]);
        }
        Ok(())
    }

    /// One whole metadata block, cached. `what` names the structure for errors.
    pub(crate) fn metadata_block(
        &self,
        block: u64,
        what: impl FnOnce() -> String,
    ) -> Result<Arc<[u8]>, Error> {
        if block == 0 || block >= self.sb.blocks_count {
            return Err(Error::BlockOutOfRange {
                block,
                blocks_count: self.sb.blocks_count,
                what: what(),
            });
        }
        if let Some(b) = self.lock_cache().get(block) {
            return Ok(b);
        }
        let mut data = vec![0u8; self.sb.block_size as usize];
        self.read_blocks(block, 0, &mut data)?;
        let data: Arc<[u8]> = Arc::from(data);
        self.lock_cache().insert(block, data.clone());
        Ok(data)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, BlockCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads inode `ino` from its block group's inode table.
    pub(crate) fn inode(&self, ino: u64) -> Result<Inode, Error> {
        if ino == 0 || ino > u64::from(self.sb.inodes_count) {
            return Err(Error::InodeOutOfRange {
                ino,
                inodes_count: self.sb.inodes_count,
            });
        }
        let ipg = u64::from(self.sb.inodes_per_group);
        let group = (ino - 1) / ipg;
        let index = (ino - 1) % ipg;
        let (desc_block, desc_off) = self.sb.descriptor_location(group);
        let desc = self.metadata_block(desc_block, || {
            format!("block group descriptor of group {group}")
        })?;
        let d = desc_off as usize;
        let mut table = u64::from(le::u32(&desc, d + 0x8));
        if self.sb.desc_size >= 64 {
            table |= u64::from(le::u32(&desc, d + 0x28)) << 32;
        }
        let byte = index * u64::from(self.sb.inode_size);
        let block = table.saturating_add(byte / self.sb.block_size);
        let within = (byte % self.sb.block_size) as usize;
        let data = self.metadata_block(block, || {
            format!("inode table block of inode {ino} (group {group}, table at {table})")
        })?;
        let raw = &data[within..within + self.sb.inode_size as usize];
        Inode::parse(
            ino,
            block * self.sb.block_size + within as u64,
            raw,
            self.inode_format(),
        )
    }

    /// Reads up to `len` bytes of `inode`'s data at `offset` (fewer at the end of the file).
    pub(crate) fn read_data(&self, inode: &Inode, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let end = inode.size.min(offset.saturating_add(len));
        if offset >= end {
            return Ok(Vec::new());
        }
        if inode.has_flag(FL_INLINE_DATA) {
            let data = inode.inline_data()?;
            return data
                .get(offset as usize..end as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Error::Inode {
                    ino: inode.ino,
                    offset: inode.offset,
                    detail: format!(
                        "inline data holds {} bytes but the size is {}",
                        data.len(),
                        inode.size
                    ),
                });
        }
        let bs = self.sb.block_size;
        let mut out = Vec::with_capacity((end - offset) as usize);
        let mut pos = offset;
        while pos < end {
            let lblk = pos / bs;
            let within = pos % bs;
            let run = self.map_block(inode, lblk)?;
            let run_len = match run {
                Run::Mapped { len, .. } | Run::Zero { len } => len,
            };
            let run_end = lblk.saturating_add(run_len).saturating_mul(bs);
            let n = (run_end.min(end) - pos) as usize;
            let at = out.len();
            out.resize(at + n, 0);
            if let Run::Mapped { phys, .. } = run {
                self.read_blocks(phys, within, &mut out[at..])?;
            }
            pos += n as u64;
        }
        Ok(out)
    }

    /// Calls `f(name, inode, file type)` for each live entry of `dir` other than `.` and `..`,
    /// stopping at the first `Some`.
    fn scan_dir<T>(
        &self,
        dir: &Inode,
        mut f: impl FnMut(&[u8], u32, u8) -> Option<T>,
    ) -> Result<Option<T>, Error> {
        if dir.has_flag(FL_ENCRYPT) {
            return Err(Error::Unsupported {
                what: format!("listing the encrypted directory inode {}", dir.ino),
            });
        }
        if dir.has_flag(FL_INLINE_DATA) {
            let head = &dir.i_block[4..];
            let mut records = 0;
            if let Some(t) =
                self.scan_block(dir, head, dir.offset + 0x28 + 4, &mut f, &mut records)?
            {
                return Ok(Some(t));
            }
            let tail = dir.inline_tail()?;
            if tail.is_empty() {
                return Ok(None);
            }
            return self.scan_block(dir, tail, dir.offset, &mut f, &mut records);
        }
        if dir.size > MAX_DIR_SIZE {
            return Err(Error::TooLarge {
                what: format!("directory inode {}", dir.ino),
                size: dir.size,
                limit: MAX_DIR_SIZE,
            });
        }
        let bs = self.sb.block_size;
        let nblocks = dir.size.div_ceil(bs);
        let mut records = 0u64;
        let mut lblk = 0;
        while lblk < nblocks {
            match self.map_block(dir, lblk)? {
                Run::Zero { len } => lblk = lblk.saturating_add(len),
                Run::Mapped { phys, len } => {
                    let n = len.min(nblocks - lblk);
                    for k in 0..n {
                        let block = self.metadata_block(phys + k, || {
                            format!("directory block of inode {}", dir.ino)
                        })?;
                        let at = (phys + k) * bs;
                        if let Some(t) = self.scan_block(dir, &block, at, &mut f, &mut records)? {
                            return Ok(Some(t));
                        }
                    }
                    lblk += n;
                }
            }
        }
        Ok(None)
    }

    /// Walks the directory entries packed in `buf` (found at device offset `at`).
    fn scan_block<T>(
        &self,
        dir: &Inode,
        buf: &[u8],
        at: u64,
        f: &mut impl FnMut(&[u8], u32, u8) -> Option<T>,
        records: &mut u64,
    ) -> Result<Option<T>, Error> {
        let filetype = self.sb.has_incompat(superblock::INCOMPAT_FILETYPE);
        let mut off = 0usize;
        while off + 8 <= buf.len() {
            *records += 1;
            if *records > MAX_DIR_RECORDS {
                return Err(Error::TooLarge {
                    what: format!("record count of directory inode {}", dir.ino),
                    size: *records,
                    limit: MAX_DIR_RECORDS,
                });
            }
            let ino = le::u32(buf, off);
            let raw_len = le::u16(buf, off + 4);
            let rec_len = if self.sb.block_size < 65536 {
                usize::from(raw_len)
            } else if raw_len == 0 || raw_len == 0xffff {
                65536
            } else {
                usize::from(raw_len & 0xfffc) | usize::from(raw_len & 3) << 16
            };
            let (name_len, ftype) = if filetype {
                (usize::from(buf[off + 6]), buf[off + 7])
            } else {
                (usize::from(le::u16(buf, off + 6)), 0)
            };
            let problem = if rec_len < 12 || rec_len % 4 != 0 {
                Some(format!(
                    "record length {rec_len} is not a multiple of 4 of at least 12"
                ))
            } else if off + rec_len > buf.len() {
                Some(format!(
                    "record length {rec_len} at byte {off} runs past the {}-byte block",
                    buf.len()
                ))
            } else if 8 + name_len > rec_len {
                Some(format!(
                    "name length {name_len} does not fit the record length {rec_len}"
                ))
            } else {
                None
            };
            if let Some(detail) = problem {
                return Err(Error::DirEntry {
                    dir: dir.ino,
                    offset: at + off as u64,
                    detail,
                });
            }
            if ino != 0 && name_len > 0 {
                let name = &buf[off + 8..off + 8 + name_len];
                if name != b"."
                    && name != b".."
                    && let Some(t) = f(name, ino, ftype)
                {
                    return Ok(Some(t));
                }
            }
            off += rec_len;
        }
        Ok(None)
    }

    /// Inode number of `name` in `dir`.
    fn lookup(&self, dir: &Inode, name: &[u8]) -> Result<Option<u64>, Error> {
        if name.len() > 255 {
            return Ok(None);
        }
        let casefold =
            self.sb.has_incompat(superblock::INCOMPAT_CASEFOLD) && dir.has_flag(FL_CASEFOLD);
        let mut folded: Option<u32> = None;
        let exact = self.scan_dir(dir, |n, ino, _| {
            if n == name {
                return Some(ino);
            }
            if casefold && folded.is_none() && fold_eq(n, name) {
                folded = Some(ino);
            }
            None
        })?;
        Ok(exact.or(folded).map(u64::from))
    }

    fn list(&self, dir: &Inode) -> Result<Vec<DirEntry>, Error> {
        let filetype = self.sb.has_incompat(superblock::INCOMPAT_FILETYPE);
        let mut out = Vec::new();
        let over = self.scan_dir(dir, |name, _, t| {
            if out.len() >= MAX_DIR_ENTRIES {
                return Some(());
            }
            out.push(DirEntry {
                name: name.to_vec(),
                kind: if filetype {
                    FileKind::from_dirent_type(t)
                } else {
                    None
                },
            });
            None
        })?;
        if over.is_some() {
            return Err(Error::TooLarge {
                what: format!("entry count of directory inode {}", dir.ino),
                size: MAX_DIR_ENTRIES as u64 + 1,
                limit: MAX_DIR_ENTRIES as u64,
            });
        }
        Ok(out)
    }

    /// Target of a symbolic link, as the kernel's `readlink` returns it.
    fn symlink_target(&self, inode: &Inode) -> Result<Vec<u8>, Error> {
        if inode.has_flag(FL_ENCRYPT) {
            return Err(Error::Unsupported {
                what: format!("the target of encrypted symlink inode {}", inode.ino),
            });
        }
        let mut target = if inode.has_flag(FL_INLINE_DATA) {
            self.read_data(inode, 0, inode.size)?
        } else if inode.is_fast_symlink(self.sb.cluster_size) {
            let n = inode.size.min(59) as usize;
            inode.i_block[..n].to_vec()
        } else {
            self.read_data(inode, 0, inode.size.min(self.sb.block_size - 1))?
        };
        if let Some(nul) = target.iter().position(|&b| b == 0) {
            target.truncate(nul);
        }
        Ok(target)
    }

    /// The inode at `path`, not following symlinks; `None` when a component is missing.
    fn resolve(&self, path: &[u8]) -> Result<Option<Inode>, FsError> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let mut cur = self.inode(ROOT_INO).map_err(|e| to_fs_error(e, path))?;
        for name in imgprep_fs::components(path)? {
            if cur.kind() != FileKind::Dir {
                return Err(FsError::NotADirectory { path: shown() });
            }
            match self.lookup(&cur, name).map_err(|e| to_fs_error(e, path))? {
                None => return Ok(None),
                Some(ino) => cur = self.inode(ino).map_err(|e| to_fs_error(e, path))?,
            }
        }
        Ok(Some(cur))
    }

    fn resolve_existing(&self, path: &[u8]) -> Result<Inode, FsError> {
        self.resolve(path)?.ok_or_else(|| FsError::NotFound {
            path: String::from_utf8_lossy(path).into_owned(),
        })
    }
}

/// Case-insensitive comparison for casefolded directories (Unicode lower-casing; the kernel's
/// NFD-based folding agrees on everything but rare decomposed forms).
fn fold_eq(a: &[u8], b: &[u8]) -> bool {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => a
            .chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase)),
        _ => false,
    }
}

/// Our error as the interface's: unsupported features stay named, damage is `Corrupt`.
pub(crate) fn to_fs_error(e: Error, path: &[u8]) -> FsError {
    match e {
        Error::Io(e) => FsError::Io(e),
        Error::Unsupported { what } => FsError::Unsupported {
            path: String::from_utf8_lossy(path).into_owned(),
            what,
        },
        other => FsError::corrupt(other),
    }
}

impl imgprep_fs::Filesystem for ExtFs {
    fn info(&self) -> &FsInfo {
        &self.sb.info
    }

    fn log_replay(&self) -> imgprep_fs::LogReplay {
        self.replay.clone()
    }

    fn lstat(&self, path: &[u8]) -> imgprep_fs::Result<Option<Metadata>> {
        Ok(self.resolve(path)?.map(|i| Metadata {
            kind: i.kind(),
            size: i.size,
            mode: u32::from(i.mode) & 0o7777,
            uid: i.uid,
            gid: i.gid,
            mtime: i.mtime,
            ino: i.ino,
        }))
    }

    fn read_dir(&self, path: &[u8]) -> imgprep_fs::Result<Vec<DirEntry>> {
        let dir = self.resolve_existing(path)?;
        if dir.kind() != FileKind::Dir {
            return Err(FsError::NotADirectory {
                path: String::from_utf8_lossy(path).into_owned(),
            });
        }
        self.list(&dir).map_err(|e| to_fs_error(e, path))
    }

    fn read_link(&self, path: &[u8]) -> imgprep_fs::Result<Vec<u8>> {
        let inode = self.resolve_existing(path)?;
        if inode.kind() != FileKind::Symlink {
            return Err(FsError::NotASymlink {
                path: String::from_utf8_lossy(path).into_owned(),
            });
        }
        self.symlink_target(&inode)
            .map_err(|e| to_fs_error(e, path))
    }

    fn read(&self, path: &[u8], offset: u64, len: usize) -> imgprep_fs::Result<Vec<u8>> {
        let inode = self.resolve_existing(path)?;
        let shown = || String::from_utf8_lossy(path).into_owned();
        match inode.kind() {
            FileKind::File => {}
            FileKind::Dir => return Err(FsError::IsADirectory { path: shown() }),
            other => {
                return Err(FsError::Unsupported {
                    path: shown(),
                    what: format!("reading a {other:?} as a file"),
                });
            }
        }
        if inode.has_flag(FL_ENCRYPT) {
            return Err(FsError::Unsupported {
                path: shown(),
                what: "ext4 encrypted file contents".into(),
            });
        }
        self.read_data(&inode, offset, len as u64)
            .map_err(|e| to_fs_error(e, path))
    }
}
