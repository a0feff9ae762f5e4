//! Boot sector geometry, the FAT (read in cached chunks), cluster chains, and the
//! `Filesystem` interface.

use crate::Error;
use crate::dir::{self, ATTR_DIR, ATTR_READ_ONLY, Entry};
use imgprep_fs::{DirEntry, FileKind, FsError, FsInfo, Metadata};
use imgprep_io::{ReadAt, le};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Largest directory: 65536 entries of 32 bytes.
const MAX_DIR_BYTES: u64 = 2 << 20;
/// FAT bytes read and cached at a time.
const CHUNK: u64 = 64 << 10;
/// FAT chunks kept per cache generation.
const CHUNKS_PER_GENERATION: usize = 64;
/// Inode number Linux gives the FAT root directory.
const ROOT_INO: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    Fat12,
    Fat16,
    Fat32,
}

/// Where a directory's entries live.
#[derive(Debug, Clone, Copy)]
enum DirLoc {
    /// The fixed root directory region of FAT12/16.
    FixedRoot,
    /// A cluster chain.
    Chain(u32),
}

/// A file or directory found by walking a path.
#[derive(Debug, Clone)]
enum Node {
    Root,
    Entry(Entry),
}

#[derive(Debug, Default)]
struct ChunkCache {
    current: HashMap<u64, Arc<[u8]>>,
    previous: HashMap<u64, Arc<[u8]>>,
}

/// An opened FAT filesystem.
pub(crate) struct FatFs {
    dev: Arc<dyn ReadAt>,
    info: FsInfo,
    width: Width,
    /// Bytes per cluster.
    cluster_bytes: u64,
    /// Byte offset of the first FAT.
    fat_offset: u64,
    /// Bytes of one FAT.
    fat_bytes: u64,
    /// Byte offset and entry count of the FAT12/16 root directory.
    root_offset: u64,
    root_entries: u64,
    /// FAT32 root directory cluster.
    root_cluster: u32,
    /// Byte offset of cluster 2.
    data_offset: u64,
    /// Data clusters: valid cluster numbers are 2..clusters + 2.
    clusters: u32,
    cache: Mutex<ChunkCache>,
}

impl fmt::Debug for FatFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FatFs")
            .field("info", &self.info)
            .field("width", &self.width)
            .field("cluster_bytes", &self.cluster_bytes)
            .field("clusters", &self.clusters)
            .finish_non_exhaustive()
    }
}

fn bad(field: &'static str, found: u64, expected: &'static str) -> Error {
    Error::Bpb {
        field,
        found,
        expected,
    }
}

impl FatFs {
    /// Reads and checks the boot sector (the checks of Linux's `fat_fill_super`).
    pub(crate) fn open(dev: Arc<dyn ReadAt>) -> Result<Self, Error> {
        let mut bs = [0u8; 512];
        dev.read_exact_at(0, &mut bs)?;
        let bps = u64::from(le::u16(&bs, 0x0b));
        if !bps.is_power_of_two() || !(512..=4096).contains(&bps) {
            return Err(bad("bytes per sector", bps, "512, 1024, 2048 or 4096"));
        }
        let spc = u64::from(bs[0x0d]);
        if !spc.is_power_of_two() {
            return Err(bad(
                "sectors per cluster",
                spc,
                "a power of two from 1 to 128",
            ));
        }
        let reserved = u64::from(le::u16(&bs, 0x0e));
        if reserved == 0 {
            return Err(bad("reserved sectors", 0, "at least 1"));
        }
        let fats = u64::from(bs[0x10]);
        if fats == 0 {
            return Err(bad("number of FATs", 0, "at least 1"));
        }
        let root_entries = u64::from(le::u16(&bs, 0x11));
        let mut total = u64::from(le::u16(&bs, 0x13));
        if total == 0 {
            total = u64::from(le::u32(&bs, 0x20));
        }
        let fat16_len = u64::from(le::u16(&bs, 0x16));
        let is_fat32 = fat16_len == 0;
        let fat_len = if is_fat32 {
            u64::from(le::u32(&bs, 0x24))
        } else {
            fat16_len
        };
        if fat_len == 0 {
            return Err(bad("sectors per FAT", 0, "at least 1"));
        }
        if !is_fat32 && (root_entries == 0 || root_entries * 32 % bps != 0) {
            return Err(bad(
                "root directory entries",
                root_entries,
                "a non-zero multiple of the entries per sector (FAT12/16)",
            ));
        }
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let data_start = reserved + fats * fat_len + root_sectors;
        if data_start >= total {
            return Err(bad(
                "total sectors",
                total,
                "more than the reserved, FAT and root directory sectors",
            ));
        }
        let clusters = (total - data_start) / spc;
        let width = if is_fat32 {
            Width::Fat32
        } else if clusters <= 0xff4 {
            Width::Fat12
        } else {
            Width::Fat16
        };
        let (max_clusters, bits) = match width {
            Width::Fat12 => (0xff4, 12),
            Width::Fat16 => (0xfff4, 16),
            Width::Fat32 => (0x0fff_fff6, 32),
        };
        if clusters == 0 || clusters > max_clusters {
            return Err(bad(
                "cluster count",
                clusters,
                "1 to the maximum of the FAT width",
            ));
        }
        let fat_bytes = fat_len * bps;
        if fat_bytes * 8 / bits < clusters + 2 {
            return Err(bad(
                "sectors per FAT",
                fat_len,
                "enough to hold an entry for every cluster",
            ));
        }
        let root_cluster = if is_fat32 {
            let c = le::u32(&bs, 0x2c);
            if c < 2 || u64::from(c) >= clusters + 2 {
                return Err(bad("FAT32 root cluster", c.into(), "a data cluster"));
            }
            c
        } else {
            0
        };
        let info = crate::probe(&*dev).unwrap_or_else(|| FsInfo {
            fstype: "vfat".into(),
            label: None,
            uuid: None,
        });
        Ok(FatFs {
            dev,
            info,
            width,
            cluster_bytes: spc * bps,
            fat_offset: reserved * bps,
            fat_bytes,
            root_offset: (reserved + fats * fat_len) * bps,
            root_entries,
            root_cluster,
            data_offset: data_start * bps,
            clusters: clusters as u32,
            cache: Mutex::new(ChunkCache::default()),
        })
    }

    /// `len` bytes of the first FAT starting at byte `at` of it.
    fn fat_bytes_at(&self, at: u64, out: &mut [u8]) -> Result<(), Error> {
        let within = (at % CHUNK) as usize;
        if within + out.len() <= CHUNK as usize {
            let chunk = self.chunk(at / CHUNK)?;
            for (i, b) in out.iter_mut().enumerate() {
                *b = chunk.get(within + i).copied().unwrap_or(0);
            }
            return Ok(());
        }
        for (i, b) in out.iter_mut().enumerate() {
            let pos = at + i as u64;
            let chunk = self.chunk(pos / CHUNK)?;
            *b = chunk.get((pos % CHUNK) as usize).copied().unwrap_or(0);
        }
        Ok(())
    }

    fn chunk(&self, index: u64) -> Result<Arc<[u8]>, Error> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.current.get(&index) {
            return Ok(c.clone());
        }
        let c = match cache.previous.remove(&index) {
            Some(c) => c,
            None => {
                let start = index * CHUNK;
                let len = CHUNK.min(self.fat_bytes.saturating_sub(start));
                let mut buf = vec![0u8; len as usize];
                self.dev.read_exact_at(self.fat_offset + start, &mut buf)?;
                Arc::from(buf)
            }
        };
        if cache.current.len() >= CHUNKS_PER_GENERATION {
            cache.previous = std::mem::take(&mut cache.current);
        }
        cache.current.insert(index, c.clone());
        Ok(c)
    }

    /// The FAT entry of `cluster` and the byte offset of that entry on the device.
    fn fat_entry(&self, cluster: u32) -> Result<(u32, u64), Error> {
        let c = u64::from(cluster);
        Ok(match self.width {
            Width::Fat12 => {
                let at = c * 3 / 2;
                let mut b = [0u8; 2];
                self.fat_bytes_at(at, &mut b)?;
                let v = u16::from_le_bytes(b);
                let v = if cluster & 1 == 1 { v >> 4 } else { v & 0xfff };
                (u32::from(v), self.fat_offset + at)
            }
            Width::Fat16 => {
                let mut b = [0u8; 2];
                self.fat_bytes_at(c * 2, &mut b)?;
                (u32::from(u16::from_le_bytes(b)), self.fat_offset + c * 2)
            }
            Width::Fat32 => {
                let mut b = [0u8; 4];
                self.fat_bytes_at(c * 4, &mut b)?;
                (u32::from_le_bytes(b) & 0x0fff_ffff, self.fat_offset + c * 4)
            }
        })
    }

    /// End-of-chain and bad-cluster markers of this FAT width.
    fn markers(&self) -> (u32, u32) {
        match self.width {
            Width::Fat12 => (0xff8, 0xff7),
            Width::Fat16 => (0xfff8, 0xfff7),
            Width::Fat32 => (0x0fff_fff8, 0x0fff_fff7),
        }
    }

    /// The chain from `start`: at most `want` clusters when given (a file needs no more),
    /// otherwise until the end marker, refusing more than `limit`.
    fn chain(
        &self,
        start: u32,
        want: Option<u64>,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u32>, Error> {
        let (end, bad_cluster) = self.markers();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut c = start;
        let mut prev_entry = 0u64;
        loop {
            if c < 2 || u64::from(c) >= u64::from(self.clusters) + 2 {
                return Err(Error::Chain {
                    what: what.to_owned(),
                    cluster: c,
                    offset: prev_entry,
                    detail: format!(
                        "is outside the data clusters 2..{}",
                        u64::from(self.clusters) + 2
                    ),
                });
            }
            if !seen.insert(c) {
                return Err(Error::Chain {
                    what: what.to_owned(),
                    cluster: c,
                    offset: prev_entry,
                    detail: "appears twice: the chain loops".to_owned(),
                });
            }
            if out.len() as u64 >= limit {
                return Err(Error::ChainTooLong {
                    what: what.to_owned(),
                    start,
                    limit,
                });
            }
            out.push(c);
            if want.is_some_and(|w| out.len() as u64 >= w) {
                return Ok(out);
            }
            let (next, at) = self.fat_entry(c)?;
            if next >= end {
                return Ok(out);
            }
            if next == bad_cluster || next == 0 {
                return Err(Error::Chain {
                    what: what.to_owned(),
                    cluster: c,
                    offset: at,
                    detail: format!(
                        "is followed by {}",
                        if next == 0 {
                            "a free cluster"
                        } else {
                            "a bad-cluster mark"
                        }
                    ),
                });
            }
            prev_entry = at;
            c = next;
        }
    }

    fn cluster_offset(&self, c: u32) -> u64 {
        self.data_offset + u64::from(c - 2) * self.cluster_bytes
    }

    /// Reads the clusters of `chain` covering bytes `offset..offset + len` of their data.
    fn read_chain(&self, chain: &[u32], offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; len as usize];
        let mut done = 0u64;
        while done < len {
            let pos = offset + done;
            let idx = (pos / self.cluster_bytes) as usize;
            let within = pos % self.cluster_bytes;
            // Extend over physically consecutive clusters.
            let mut run = 1usize;
            while idx + run < chain.len() && chain[idx + run] == chain[idx] + run as u32 {
                run += 1;
            }
            let avail = run as u64 * self.cluster_bytes - within;
            let n = avail.min(len - done);
            let at = self.cluster_offset(chain[idx]) + within;
            self.dev
                .read_exact_at(at, &mut out[done as usize..(done + n) as usize])?;
            done += n;
        }
        Ok(out)
    }

    /// The raw bytes of a directory.
    fn dir_bytes(&self, loc: DirLoc, what: &str) -> Result<(Vec<u8>, Vec<u32>), Error> {
        match loc {
            DirLoc::FixedRoot => {
                let mut data = vec![0u8; (self.root_entries * 32) as usize];
                self.dev.read_exact_at(self.root_offset, &mut data)?;
                Ok((data, Vec::new()))
            }
            DirLoc::Chain(start) => {
                let limit = (MAX_DIR_BYTES / self.cluster_bytes).max(1);
                let chain = self.chain(start, None, limit, what)?;
                let len = chain.len() as u64 * self.cluster_bytes;
                Ok((self.read_chain(&chain, 0, len)?, chain))
            }
        }
    }

    fn entries(&self, loc: DirLoc, what: &str) -> Result<Vec<Entry>, Error> {
        let (data, chain) = self.dir_bytes(loc, what)?;
        let cb = self.cluster_bytes as usize;
        Ok(dir::parse(
            &data,
            self.width == Width::Fat32,
            |i| match loc {
                DirLoc::FixedRoot => self.root_offset + i as u64,
                DirLoc::Chain(_) => self.cluster_offset(chain[i / cb]) + (i % cb) as u64,
            },
        ))
    }

    fn root_loc(&self) -> DirLoc {
        if self.width == Width::Fat32 {
            DirLoc::Chain(self.root_cluster)
        } else {
            DirLoc::FixedRoot
        }
    }

    fn dir_loc(&self, node: &Node) -> Result<DirLoc, Error> {
        match node {
            Node::Root => Ok(self.root_loc()),
            Node::Entry(e) if e.cluster == 0 => Err(Error::Entry {
                offset: e.offset,
                detail: format!("directory {:?} has no first cluster", e.name),
            }),
            Node::Entry(e) => Ok(DirLoc::Chain(e.cluster)),
        }
    }

    /// The node at `path`; `None` when a component does not exist.
    fn resolve(&self, path: &[u8]) -> Result<Option<Node>, FsError> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let mut node = Node::Root;
        for comp in imgprep_fs::components(path)? {
            let is_dir = match &node {
                Node::Root => true,
                Node::Entry(e) => e.is_dir(),
            };
            if !is_dir {
                return Err(FsError::NotADirectory { path: shown() });
            }
            let Ok(name) = std::str::from_utf8(comp) else {
                return Ok(None);
            };
            let loc = self.dir_loc(&node).map_err(FsError::corrupt)?;
            let entries = self.entries(loc, &shown()).map_err(FsError::corrupt)?;
            let found = entries
                .into_iter()
                .find(|e| dir::names_match(&e.name, name) || dir::names_match(&e.short, name));
            match found {
                Some(e) => node = Node::Entry(e),
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    fn resolve_existing(&self, path: &[u8]) -> Result<Node, FsError> {
        self.resolve(path)?.ok_or_else(|| FsError::NotFound {
            path: String::from_utf8_lossy(path).into_owned(),
        })
    }

    /// Size Linux reports: the file size, or the bytes a directory's clusters hold.
    fn dir_size(&self, loc: DirLoc, what: &str) -> Result<u64, Error> {
        Ok(match loc {
            DirLoc::FixedRoot => self.root_entries * 32,
            DirLoc::Chain(start) => {
                let limit = (MAX_DIR_BYTES / self.cluster_bytes).max(1);
                self.chain(start, None, limit, what)?.len() as u64 * self.cluster_bytes
            }
        })
    }
}

impl imgprep_fs::Filesystem for FatFs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn lstat(&self, path: &[u8]) -> imgprep_fs::Result<Option<Metadata>> {
        let shown = String::from_utf8_lossy(path).into_owned();
        let Some(node) = self.resolve(path)? else {
            return Ok(None);
        };
        let meta = match &node {
            Node::Root => Metadata {
                kind: FileKind::Dir,
                size: self
                    .dir_size(self.root_loc(), &shown)
                    .map_err(FsError::corrupt)?,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 0,
                ino: ROOT_INO,
            },
            Node::Entry(e) => {
                let (kind, size, mode) = if e.attr & ATTR_DIR != 0 {
                    let loc = self.dir_loc(&node).map_err(FsError::corrupt)?;
                    let size = self.dir_size(loc, &shown).map_err(FsError::corrupt)?;
                    (FileKind::Dir, size, 0o755)
                } else if e.attr & ATTR_READ_ONLY != 0 {
                    (FileKind::File, u64::from(e.size), 0o555)
                } else {
                    (FileKind::File, u64::from(e.size), 0o755)
                };
                Metadata {
                    kind,
                    size,
                    mode,
                    uid: 0,
                    gid: 0,
                    mtime: e.mtime,
                    ino: e.offset / 32,
                }
            }
        };
        Ok(Some(meta))
    }

    fn read_dir(&self, path: &[u8]) -> imgprep_fs::Result<Vec<DirEntry>> {
        let shown = String::from_utf8_lossy(path).into_owned();
        let node = self.resolve_existing(path)?;
        if let Node::Entry(e) = &node
            && !e.is_dir()
        {
            return Err(FsError::NotADirectory { path: shown });
        }
        let loc = self.dir_loc(&node).map_err(FsError::corrupt)?;
        let entries = self.entries(loc, &shown).map_err(FsError::corrupt)?;
        Ok(entries
            .into_iter()
            .map(|e| DirEntry {
                kind: Some(if e.is_dir() {
                    FileKind::Dir
                } else {
                    FileKind::File
                }),
                name: e.name.into_bytes(),
            })
            .collect())
    }

    fn read_link(&self, path: &[u8]) -> imgprep_fs::Result<Vec<u8>> {
        self.resolve_existing(path)?;
        Err(FsError::NotASymlink {
            path: String::from_utf8_lossy(path).into_owned(),
        })
    }

    fn read(&self, path: &[u8], offset: u64, len: usize) -> imgprep_fs::Result<Vec<u8>> {
        let shown = String::from_utf8_lossy(path).into_owned();
        let e = match self.resolve_existing(path)? {
            Node::Root => return Err(FsError::IsADirectory { path: shown }),
            Node::Entry(e) if e.is_dir() => return Err(FsError::IsADirectory { path: shown }),
            Node::Entry(e) => e,
        };
        let size = u64::from(e.size);
        let end = size.min(offset.saturating_add(len as u64));
        if offset >= end {
            return Ok(Vec::new());
        }
        if e.cluster == 0 {
            return Err(FsError::corrupt(Error::Entry {
                offset: e.offset,
                detail: format!("file {:?} of {size} bytes has no first cluster", e.name),
            }));
        }
        let want = end.div_ceil(self.cluster_bytes);
        let chain = self
            .chain(e.cluster, Some(want), u64::from(self.clusters), &shown)
            .map_err(FsError::corrupt)?;
        if (chain.len() as u64) < want {
            return Err(FsError::corrupt(Error::ChainTooShort {
                what: shown,
                start: e.cluster,
                size,
                found: chain.len() as u64 * self.cluster_bytes,
            }));
        }
        self.read_chain(&chain, offset, end - offset)
            .map_err(|e| match e {
                Error::Io(io) => FsError::Io(io),
                other => FsError::corrupt(other),
            })
    }
}
