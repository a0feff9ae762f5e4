//! Read-only reader for Windows registry hive files (the `regf` format of `SYSTEM`, `SOFTWARE`,
//! `NTUSER.DAT`, …), so inspection can read keys and values from an offline Windows image.
//!
//! A [`Hive`] reads one hive file through a [`ReadAt`], cell by cell: opening it checks the base
//! block (signature, sequence numbers, checksum) and walks the hive bins and the cells in them
//! in one streaming pass, keeping only a bitmap of where allocated cells start (one bit per four
//! bytes of file); cells are then read on demand through a small page cache (at most 1 MiB of a
//! structure's cell, value data only to its declared length and at most [`MAX_VALUE_LEN`]), so
//! a hive of hundreds of MiB costs a few MiB of memory. Keys with more than [`MAX_SUBKEYS`]
//! subkeys or [`MAX_VALUES`] values are refused. [`Key`]s and [`Value`]s are views of cells;
//! names are looked up case-insensitively as Windows does. Value data is decoded into [`Data`]
//! the way hivex decodes it (strings stop at the first UTF-16 NUL, big-data `db` cells are
//! joined).
//!
//! It does not write hives, does not replay transaction logs (`.LOG1`/`.LOG2`; a hive whose
//! sequence numbers differ is reported by [`Hive::is_dirty`] and read as it is), and knows
//! nothing about where hives live in a guest. Every offset, count and length read from the file
//! is checked: damaged or hostile hives give an [`Error`] naming the structure and its offset.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

pub use imgprep_io::ReadAt;

/// Size of the base block at the start of the file; cell offsets count from its end.
const BASE_BLOCK: usize = 0x1000;
/// Largest value data this reader returns (hivex's `HIVEX_MAX_VALUE_LEN`).
pub const MAX_VALUE_LEN: u32 = 8_000_000;
/// Bytes of a cell read for a structure (`nk`, `vk`, a list, a `db` record): the largest real
/// one, an `lf` list of 65535 subkeys, is 512 KiB, and hivex refuses larger allocations. Only
/// value data is read to its declared length.
const MAX_RECORD: u64 = 1 << 20;
/// Most subkeys one key may have (hivex allows 70000; real `SOFTWARE` hives have keys with over
/// 100000). A key's subkeys cost about 70 bytes each when listed.
pub const MAX_SUBKEYS: usize = 200_000;
/// Most values one key may have (hivex's `HIVEX_MAX_VALUES`).
pub const MAX_VALUES: usize = 110_000;
/// Data bytes in one segment of a big-data value.
const DB_SEGMENT: u32 = 16344;
/// How deeply `ri` subkey lists may nest (Windows writes one level).
const MAX_LIST_DEPTH: u32 = 4;
/// Largest hive file read (the largest real SOFTWARE hives are a few hundred MiB). The cell
/// bitmap costs 1/32 of this at most.
pub const MAX_HIVE_SIZE: u64 = 1 << 30;
/// Size of a page of the cache cells are read through.
const PAGE: u64 = 64 << 10;
/// Pages the cache keeps (4 MiB).
const CACHE_PAGES: usize = 64;
/// Bytes read at a time while the bins are walked on open.
const SCAN_CHUNK: usize = 1 << 20;

/// Why a hive could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file cannot even hold a base block.
    #[error("hive is {len} bytes, shorter than its 4096-byte base block")]
    TooShort {
        /// File length.
        len: u64,
    },
    /// The file is larger than this reader reads.
    #[error("hive is {len} bytes, more than the {limit} read")]
    TooBig {
        /// File length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// Reading the file failed.
    #[error("reading {len} bytes of the hive at {offset:#x}: {source}")]
    Read {
        /// File offset.
        offset: u64,
        /// Bytes asked for.
        len: usize,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A structure does not start with the signature it must have.
    #[error("{what} at {offset:#x}: expected signature {expected:?}, found {found:?}")]
    Signature {
        /// The structure.
        what: &'static str,
        /// Its file offset.
        offset: u64,
        /// The signature it must have.
        expected: &'static str,
        /// What is there.
        found: String,
    },
    /// The base block names a format version this reader does not know.
    #[error("base block: hive format version {major}.{minor} is not supported (expected 1.x)")]
    Version {
        /// Major version.
        major: u32,
        /// Minor version.
        minor: u32,
    },
    /// The base block checksum does not match its contents.
    #[error("base block checksum at 0x1fc is {found:#010x}, expected {expected:#010x}")]
    Checksum {
        /// The checksum computed over the base block.
        expected: u32,
        /// The checksum stored.
        found: u32,
    },
    /// A hive bin header is inconsistent.
    #[error("hbin at {offset:#x}: {field} is {found:#x}, expected {expected}")]
    Bin {
        /// File offset of the hbin.
        offset: u64,
        /// The header field.
        field: &'static str,
        /// What it holds.
        found: u64,
        /// What it should hold.
        expected: String,
    },
    /// A cell's size field is impossible.
    #[error(
        "cell at {offset:#x} has size {size}, not a multiple of 4 of at least 8 bytes inside its \
         hbin (which ends at {bin_end:#x})"
    )]
    CellSize {
        /// File offset of the cell.
        offset: u64,
        /// The size field (negative when allocated).
        size: i32,
        /// End of the hbin holding the cell.
        bin_end: u64,
    },
    /// A reference points outside every hive bin.
    #[error("{what} at {offset:#x} is outside the hive bins (0x1000..{end:#x})")]
    Outside {
        /// What the reference is to.
        what: &'static str,
        /// The file offset it points to.
        offset: u64,
        /// End of the hive bins.
        end: u64,
    },
    /// A reference points inside the hive bins but not to the start of an allocated cell.
    #[error("{what} at {offset:#x} is not the start of an allocated cell")]
    NotACell {
        /// What the reference is to.
        what: &'static str,
        /// The file offset it points to.
        offset: u64,
    },
    /// A structure is longer than the cell holding it.
    #[error("{what} at {offset:#x} needs {needed} bytes but its cell holds {available}")]
    Short {
        /// The structure.
        what: &'static str,
        /// File offset of the cell.
        offset: u64,
        /// Bytes the structure's own fields say it needs.
        needed: u64,
        /// Bytes the cell holds.
        available: u64,
    },
    /// A subkey list refers back to a list already being walked.
    #[error("{what} at {offset:#x} was already visited: the subkey lists loop")]
    Loop {
        /// The structure.
        what: &'static str,
        /// File offset of the cell visited twice.
        offset: u64,
    },
    /// Subkey lists nest deeper than any hive writer makes them.
    #[error("{what} at {offset:#x} nests deeper than {limit} levels")]
    TooDeep {
        /// The structure.
        what: &'static str,
        /// File offset of the cell.
        offset: u64,
        /// The limit.
        limit: u32,
    },
    /// A value declares more data than this reader returns.
    #[error("value at {offset:#x} declares {len} bytes of data, more than the {limit} allowed")]
    TooLarge {
        /// File offset of the vk cell.
        offset: u64,
        /// Declared length.
        len: u32,
        /// The limit.
        limit: u32,
    },
    /// A key declares or lists more subkeys or values than this reader takes.
    #[error("key at {offset:#x} has more than {limit} {what}")]
    TooMany {
        /// What was counted (`subkeys`, `values`).
        what: &'static str,
        /// File offset of the key's nk cell.
        offset: u64,
        /// The limit.
        limit: usize,
    },
    /// A value says its data is stored inline but declares more than 4 bytes.
    #[error("value at {offset:#x} declares {len} bytes of inline data (at most 4 fit)")]
    InlineTooLong {
        /// File offset of the vk cell.
        offset: u64,
        /// Declared length.
        len: u32,
    },
}

/// Result of hive operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A registry hive, read cell by cell from its file.
pub struct Hive {
    src: Arc<dyn ReadAt>,
    len: u64,
    cache: Mutex<PageCache>,
    /// Number of hive bins and the file offset where the last one ends.
    bins: usize,
    bins_end: u64,
    /// One bit per 4-byte slot of the file: set where an allocated cell starts.
    cells: Vec<u64>,
    root: u32,
    dirty: bool,
    version: (u32, u32),
}

impl fmt::Debug for Hive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hive")
            .field("len", &self.len)
            .field("bins", &self.bins)
            .field("root", &self.root)
            .field("dirty", &self.dirty)
            .field("version", &self.version)
            .finish()
    }
}

/// The most recently used pages of the file.
#[derive(Default)]
struct PageCache {
    pages: HashMap<u64, (Arc<[u8]>, u64)>,
    tick: u64,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | (u64::from(u32_at(b, off + 4)) << 32)
}

/// Reads `buf.len()` bytes at `offset` of `src`.
fn read(src: &dyn ReadAt, offset: u64, buf: &mut [u8]) -> Result<()> {
    src.read_exact_at(offset, buf)
        .map_err(|source| Error::Read {
            offset,
            len: buf.len(),
            source,
        })
}

/// Forward reads in large chunks, for the one pass over the bins on open.
struct Sequential<'a> {
    src: &'a dyn ReadAt,
    len: u64,
    start: u64,
    buf: Vec<u8>,
}

impl<'a> Sequential<'a> {
    fn new(src: &'a dyn ReadAt, len: u64) -> Self {
        Self {
            src,
            len,
            start: 0,
            buf: Vec::new(),
        }
    }

    /// `n` bytes at `off` (which the caller checked lie inside the file).
    fn bytes(&mut self, off: u64, n: usize) -> Result<Vec<u8>> {
        let end = off + n as u64;
        if off < self.start || end > self.start + self.buf.len() as u64 {
            let want = (SCAN_CHUNK as u64).max(n as u64).min(self.len - off) as usize;
            self.buf.resize(want, 0);
            self.start = off;
            read(self.src, off, &mut self.buf)?;
        }
        let from = (off - self.start) as usize;
        Ok(self.buf[from..from + n].to_vec())
    }
}

fn shown(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// File offset of a cell given its offset relative to the first hive bin.
fn abs(rel: u32) -> u64 {
    u64::from(rel) + BASE_BLOCK as u64
}

impl Hive {
    /// Parses a hive from the bytes of the whole file.
    pub fn from_bytes(data: Vec<u8>) -> Result<Hive> {
        Hive::from_source(Arc::new(data))
    }

    /// Opens the hive file `src`: checks the base block and walks every hive bin and cell once
    /// (streaming), then reads cells on demand.
    pub fn from_source(src: Arc<dyn ReadAt>) -> Result<Hive> {
        let len = src.size();
        if len < BASE_BLOCK as u64 {
            return Err(Error::TooShort { len });
        }
        if len > MAX_HIVE_SIZE {
            return Err(Error::TooBig {
                len,
                limit: MAX_HIVE_SIZE,
            });
        }
        let mut base = vec![0u8; BASE_BLOCK];
        read(&*src, 0, &mut base)?;
        if &base[0..4] != b"regf" {
            return Err(Error::Signature {
                what: "base block",
                offset: 0,
                expected: "regf",
                found: shown(&base[0..4]),
            });
        }
        let major = u32_at(&base, 20);
        let minor = u32_at(&base, 24);
        if major != 1 {
            return Err(Error::Version { major, minor });
        }
        let expected = checksum(&base[..0x1fc]);
        let found = u32_at(&base, 0x1fc);
        if expected != found {
            return Err(Error::Checksum { expected, found });
        }
        let dirty = u32_at(&base, 4) != u32_at(&base, 8);
        let root = u32_at(&base, 36);
        let bins_size = u64::from(u32_at(&base, 40));
        let bins_end = (BASE_BLOCK as u64).saturating_add(bins_size).min(len);

        let mut hive = Hive {
            cells: vec![0; len.div_ceil(4 * 64) as usize],
            src,
            len,
            cache: Mutex::new(PageCache::default()),
            bins: 0,
            bins_end: BASE_BLOCK as u64,
            root,
            dirty,
            version: (major, minor),
        };
        hive.scan_bins(bins_end)?;
        // The root must be a key.
        hive.key_at(root)?;
        Ok(hive)
    }

    /// Walks the hive bins and the cells in each, recording where allocated cells start.
    fn scan_bins(&mut self, bins_end: u64) -> Result<()> {
        let mut r = Sequential::new(&*self.src, self.len);
        let mut off = BASE_BLOCK as u64;
        while off < bins_end {
            if self.len - off < 32 {
                return Err(Error::Bin {
                    offset: off,
                    field: "header",
                    found: self.len - off,
                    expected: "32 bytes before the end of the file".into(),
                });
            }
            let hdr = r.bytes(off, 32)?;
            if &hdr[0..4] != b"hbin" {
                return Err(Error::Signature {
                    what: "hbin",
                    offset: off,
                    expected: "hbin",
                    found: shown(&hdr[0..4]),
                });
            }
            let rel = u64::from(u32_at(&hdr, 4));
            if rel != off - BASE_BLOCK as u64 {
                return Err(Error::Bin {
                    offset: off,
                    field: "offset field",
                    found: rel,
                    expected: format!("{:#x}", off - BASE_BLOCK as u64),
                });
            }
            let size = u64::from(u32_at(&hdr, 8));
            if size < 0x1000 || !size.is_multiple_of(0x1000) || size > self.len - off {
                return Err(Error::Bin {
                    offset: off,
                    field: "size",
                    found: size,
                    expected: format!(
                        "a multiple of 0x1000 that fits in the file ({:#x} bytes left)",
                        self.len - off
                    ),
                });
            }
            let end = off + size;
            let mut c = off + 32;
            while c < end {
                let raw = u32_at(&r.bytes(c, 4)?, 0) as i32;
                let len = u64::from(raw.unsigned_abs());
                if len < 8 || !len.is_multiple_of(4) || len > end - c {
                    return Err(Error::CellSize {
                        offset: c,
                        size: raw,
                        bin_end: end,
                    });
                }
                if raw < 0 {
                    let slot = (c / 4) as usize;
                    self.cells[slot / 64] |= 1 << (slot % 64);
                }
                c += len;
            }
            self.bins += 1;
            self.bins_end = end;
            off = end;
        }
        Ok(())
    }

    /// End of the hive bins (file offset).
    fn bins_end(&self) -> u64 {
        self.bins_end
    }

    /// `len` bytes at file offset `off`, through the page cache.
    fn read_at(&self, off: u64, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let mut pos = off;
        let end = off + len as u64;
        while pos < end {
            let page_start = pos - pos % PAGE;
            let page = self.page(page_start)?;
            let from = (pos - page_start) as usize;
            let to = ((end - page_start) as usize).min(page.len());
            if from >= to {
                return Err(Error::Read {
                    offset: pos,
                    len: (end - pos) as usize,
                    source: std::io::ErrorKind::UnexpectedEof.into(),
                });
            }
            out.extend_from_slice(&page[from..to]);
            pos = page_start + to as u64;
        }
        Ok(out)
    }

    /// The cached page starting at `start`, read when missing (least recently used one evicted).
    fn page(&self, start: u64) -> Result<Arc<[u8]>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.tick += 1;
        let tick = cache.tick;
        if let Some((page, used)) = cache.pages.get_mut(&start) {
            *used = tick;
            return Ok(page.clone());
        }
        let n = PAGE.min(self.len - start) as usize;
        let mut buf = vec![0u8; n];
        read(&*self.src, start, &mut buf)?;
        let page: Arc<[u8]> = buf.into();
        if cache.pages.len() >= CACHE_PAGES
            && let Some(old) = cache
                .pages
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
        {
            cache.pages.remove(&old);
        }
        cache.pages.insert(start, (page.clone(), tick));
        Ok(page)
    }

    /// The data of the allocated cell at relative offset `rel` (without its size field), at most
    /// [`MAX_RECORD`] bytes of it.
    fn cell(&self, rel: u32, what: &'static str) -> Result<Vec<u8>> {
        let len = self.cell_len(rel, what)?;
        self.read_at(abs(rel) + 4, len.min(MAX_RECORD) as usize)
    }

    /// Bytes of data in the allocated cell at relative offset `rel` (without its size field).
    fn cell_len(&self, rel: u32, what: &'static str) -> Result<u64> {
        let off = abs(rel);
        let end = self.bins_end();
        if off >= end || !off.is_multiple_of(4) {
            if off >= end {
                return Err(Error::Outside {
                    what,
                    offset: off,
                    end,
                });
            }
            return Err(Error::NotACell { what, offset: off });
        }
        let slot = (off / 4) as usize;
        if self
            .cells
            .get(slot / 64)
            .is_none_or(|w| w & (1 << (slot % 64)) == 0)
        {
            return Err(Error::NotACell { what, offset: off });
        }
        // The scan checked that the cell fits in its bin.
        let len = u64::from((u32_at(&self.read_at(off, 4)?, 0) as i32).unsigned_abs());
        Ok(len - 4)
    }

    /// A cell checked for its two-byte signature and a minimum length.
    fn record(
        &self,
        rel: u32,
        what: &'static str,
        sigs: &[&'static str],
        min: usize,
    ) -> Result<Vec<u8>> {
        let cell = self.cell(rel, what)?;
        let sig = cell.get(0..2).unwrap_or(&[]);
        if !sigs.iter().any(|s| s.as_bytes() == sig) {
            return Err(Error::Signature {
                what,
                offset: abs(rel),
                expected: sigs.first().copied().unwrap_or(""),
                found: shown(sig),
            });
        }
        if cell.len() < min {
            return Err(Error::Short {
                what,
                offset: abs(rel),
                needed: min as u64,
                available: cell.len() as u64,
            });
        }
        Ok(cell)
    }

    fn key_at(&self, rel: u32) -> Result<Key<'_>> {
        let nk = self.record(rel, "key (nk)", &["nk"], 76)?;
        let name_len = usize::from(u16_at(&nk, 72));
        let raw = nk.get(76..76 + name_len).ok_or(Error::Short {
            what: "key (nk) name",
            offset: abs(rel),
            needed: 76 + name_len as u64,
            available: nk.len() as u64,
        })?;
        let flags = u16_at(&nk, 2);
        let name = if flags & 0x20 != 0 {
            latin1(raw)
        } else {
            utf16(raw)
        };
        Ok(Key {
            hive: self,
            offset: rel,
            name,
        })
    }

    /// The root key.
    pub fn root(&self) -> Result<Key<'_>> {
        self.key_at(self.root)
    }

    /// The key at a backslash-separated path below the root (`"Microsoft\\Windows NT"`), or
    /// `None` when a component does not exist. Names match case-insensitively; empty components
    /// (a leading or doubled backslash) are skipped, so `""` is the root.
    pub fn open(&self, path: &str) -> Result<Option<Key<'_>>> {
        let mut key = self.root()?;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match key.subkey(part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// True when the base block's primary and secondary sequence numbers differ: the hive was
    /// not cleanly written and its transaction logs hold changes this reader does not apply.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Format version from the base block, e.g. `(1, 5)`.
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// Calls `visit` for every key, parents before children, with the key's path below the root
    /// (`""` for the root, then `"Software"`, `"Software\\Microsoft"`, …).
    ///
    /// A key reachable twice (subkey lists that lead back to an ancestor or share a key) is an
    /// [`Error::Loop`]; nesting deeper than Windows allows (512 levels) is [`Error::TooDeep`].
    pub fn walk(&self, visit: &mut dyn FnMut(&str, &Key<'_>) -> Result<()>) -> Result<()> {
        const MAX_DEPTH: u32 = 512;
        let mut seen = HashSet::new();
        let mut stack = vec![(String::new(), self.root()?, 0u32)];
        while let Some((path, key, depth)) = stack.pop() {
            if !seen.insert(key.offset) {
                return Err(Error::Loop {
                    what: "key (nk)",
                    offset: key.offset(),
                });
            }
            if depth > MAX_DEPTH {
                return Err(Error::TooDeep {
                    what: "key (nk)",
                    offset: key.offset(),
                    limit: MAX_DEPTH,
                });
            }
            visit(&path, &key)?;
            let mut children = key.subkeys()?;
            children.reverse();
            for child in children {
                let p = if path.is_empty() {
                    child.name.clone()
                } else {
                    format!("{path}\\{}", child.name)
                };
                stack.push((p, child, depth + 1));
            }
        }
        Ok(())
    }
}

/// XOR of the first 127 little-endian dwords, with 0 and -1 mapped as Windows maps them.
fn checksum(b: &[u8]) -> u32 {
    let x = b.chunks_exact(4).fold(0u32, |acc, c| {
        acc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]])
    });
    match x {
        0xffff_ffff => 0xffff_fffe,
        0 => 1,
        x => x,
    }
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// UTF-16LE to UTF-8, lossy on unpaired surrogates; an odd trailing byte is ignored.
fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// UTF-16LE up to the first NUL code unit (as hivex does for REG_SZ).
fn utf16_until_nul(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Case folding for name comparison: the simple upper-case mapping of each character, as
/// Windows compares key and value names through its upcase table.
fn fold(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// The name of a service key's `Start` value (`SYSTEM\…\Services\NAME\Start`), as the
/// service control manager calls it.
pub fn service_start_name(n: u32) -> &'static str {
    match n {
        0 => "boot",
        1 => "system",
        2 => "automatic",
        3 => "manual",
        4 => "disabled",
        _ => "unknown",
    }
}

/// Whether two names are equal ignoring case the way Windows does.
pub fn names_equal(a: &str, b: &str) -> bool {
    a.chars().map(fold).eq(b.chars().map(fold))
}

/// A registry key: a view of one `nk` cell.
#[derive(Clone)]
pub struct Key<'h> {
    hive: &'h Hive,
    offset: u32,
    name: String,
}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("offset", &format_args!("{:#x}", abs(self.offset)))
            .field("name", &self.name)
            .finish()
    }
}

impl<'h> Key<'h> {
    fn nk(&self) -> Vec<u8> {
        // Checked by `key_at`; an empty cell reads as zeros should it ever not be.
        self.hive.cell(self.offset, "key (nk)").unwrap_or_default()
    }

    /// The key's name (the root key's name is whatever the hive stores, e.g. `ROOT`).
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// File offset of the key's `nk` cell.
    pub fn offset(&self) -> u64 {
        abs(self.offset)
    }

    /// Last write time as a Windows FILETIME (100 ns units since 1601-01-01).
    pub fn last_written(&self) -> u64 {
        u64_at(&self.nk(), 4)
    }

    /// Number of subkeys the key records.
    pub fn subkey_count(&self) -> u32 {
        u32_at(&self.nk(), 20)
    }

    /// The key's class name, if it has one.
    pub fn class(&self) -> Result<Option<String>> {
        let nk = self.nk();
        let off = u32_at(&nk, 48);
        let len = usize::from(u16_at(&nk, 74));
        if off == u32::MAX || len == 0 {
            return Ok(None);
        }
        let cell = self.hive.cell(off, "key class name")?;
        let raw = cell.get(..len).ok_or(Error::Short {
            what: "key class name",
            offset: abs(off),
            needed: len as u64,
            available: cell.len() as u64,
        })?;
        Ok(Some(utf16(raw)))
    }

    /// The subkeys, in the order their lists store them (Windows keeps them sorted by
    /// upper-cased name).
    ///
    /// A key that declares or lists more than [`MAX_SUBKEYS`] is an [`Error::TooMany`].
    pub fn subkeys(&self) -> Result<Vec<Key<'h>>> {
        let mut out = Vec::new();
        self.each_subkey(&mut |k| {
            out.push(k);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Calls `visit` for each subkey in list order until it breaks.
    fn each_subkey(&self, visit: &mut dyn FnMut(Key<'h>) -> ControlFlow<()>) -> Result<()> {
        let nk = self.nk();
        let count = u32_at(&nk, 20);
        let list = u32_at(&nk, 28);
        if count == 0 || list == u32::MAX {
            return Ok(());
        }
        let too_many = || Error::TooMany {
            what: "subkeys",
            offset: self.offset(),
            limit: MAX_SUBKEYS,
        };
        if count as usize > MAX_SUBKEYS {
            return Err(too_many());
        }
        let mut visited = HashSet::new();
        let mut listed = 0usize;
        let mut counted = |k: Key<'h>| {
            listed += 1;
            if listed > MAX_SUBKEYS {
                return Err(too_many());
            }
            Ok(visit(k))
        };
        // Whether the visitor stopped early makes no difference here.
        let _stopped = self.walk_list(list, 0, &mut visited, &mut counted)?;
        Ok(())
    }

    fn walk_list(
        &self,
        rel: u32,
        depth: u32,
        visited: &mut HashSet<u32>,
        visit: &mut dyn FnMut(Key<'h>) -> Result<ControlFlow<()>>,
    ) -> Result<ControlFlow<()>> {
        const WHAT: &str = "subkey list";
        if !visited.insert(rel) {
            return Err(Error::Loop {
                what: WHAT,
                offset: abs(rel),
            });
        }
        if depth > MAX_LIST_DEPTH {
            return Err(Error::TooDeep {
                what: WHAT,
                offset: abs(rel),
                limit: MAX_LIST_DEPTH,
            });
        }
        let cell = self.hive.record(rel, WHAT, &["lf", "lh", "li", "ri"], 4)?;
        let count = usize::from(u16_at(&cell, 2));
        let (stride, nested) = match &cell[0..2] {
            b"lf" | b"lh" => (8, false),
            b"li" => (4, false),
            _ => (4, true),
        };
        let needed = 4 + count * stride;
        if needed > cell.len() {
            return Err(Error::Short {
                what: WHAT,
                offset: abs(rel),
                needed: needed as u64,
                available: cell.len() as u64,
            });
        }
        for i in 0..count {
            let target = u32_at(&cell, 4 + i * stride);
            let flow = if nested {
                self.walk_list(target, depth + 1, visited, visit)?
            } else {
                visit(self.hive.key_at(target)?)?
            };
            if flow.is_break() {
                return Ok(flow);
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The subkey called `name` (case-insensitive), if any. The lists are searched without
    /// collecting the subkeys.
    pub fn subkey(&self, name: &str) -> Result<Option<Key<'h>>> {
        let mut found = None;
        self.each_subkey(&mut |k| {
            if names_equal(&k.name, name) {
                found = Some(k);
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(found)
    }

    /// The key's values, in stored order. A key with more than [`MAX_VALUES`] is an
    /// [`Error::TooMany`].
    pub fn values(&self) -> Result<Vec<Value<'h>>> {
        let nk = self.nk();
        let count = u32_at(&nk, 36) as usize;
        let list = u32_at(&nk, 40);
        if count == 0 || list == u32::MAX {
            return Ok(Vec::new());
        }
        if count > MAX_VALUES {
            return Err(Error::TooMany {
                what: "values",
                offset: self.offset(),
                limit: MAX_VALUES,
            });
        }
        let cell = self.hive.cell(list, "value list")?;
        let needed = count.saturating_mul(4);
        if needed > cell.len() {
            return Err(Error::Short {
                what: "value list",
                offset: abs(list),
                needed: needed as u64,
                available: cell.len() as u64,
            });
        }
        (0..count)
            .map(|i| self.hive.value_at(u32_at(&cell, i * 4)))
            .collect()
    }

    /// The value called `name` (case-insensitive; `""` is the key's default value), if any.
    pub fn value(&self, name: &str) -> Result<Option<Value<'h>>> {
        Ok(self
            .values()?
            .into_iter()
            .find(|v| names_equal(&v.name, name)))
    }
}

impl Hive {
    fn value_at(&self, rel: u32) -> Result<Value<'_>> {
        let vk = self.record(rel, "value (vk)", &["vk"], 20)?;
        let name_len = usize::from(u16_at(&vk, 2));
        let raw = vk.get(20..20 + name_len).ok_or(Error::Short {
            what: "value (vk) name",
            offset: abs(rel),
            needed: 20 + name_len as u64,
            available: vk.len() as u64,
        })?;
        let name = if u16_at(&vk, 16) & 1 != 0 {
            latin1(raw)
        } else {
            utf16(raw)
        };
        Ok(Value {
            hive: self,
            offset: rel,
            name,
            ty: u32_at(&vk, 12),
        })
    }
}

/// A registry value: a view of one `vk` cell.
#[derive(Clone)]
pub struct Value<'h> {
    hive: &'h Hive,
    offset: u32,
    name: String,
    ty: u32,
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("offset", &format_args!("{:#x}", abs(self.offset)))
            .field("name", &self.name)
            .field("ty", &self.ty)
            .finish()
    }
}

/// Registry value types (`REG_*`).
pub mod types {
    /// REG_NONE
    pub const NONE: u32 = 0;
    /// REG_SZ
    pub const SZ: u32 = 1;
    /// REG_EXPAND_SZ
    pub const EXPAND_SZ: u32 = 2;
    /// REG_BINARY
    pub const BINARY: u32 = 3;
    /// REG_DWORD (little-endian)
    pub const DWORD: u32 = 4;
    /// REG_DWORD_BIG_ENDIAN
    pub const DWORD_BIG_ENDIAN: u32 = 5;
    /// REG_LINK
    pub const LINK: u32 = 6;
    /// REG_MULTI_SZ
    pub const MULTI_SZ: u32 = 7;
    /// REG_QWORD (little-endian)
    pub const QWORD: u32 = 11;
}

/// A value's data, decoded by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// REG_SZ: UTF-16LE up to the first NUL, unpaired surrogates replaced by U+FFFD.
    Sz(String),
    /// REG_EXPAND_SZ, decoded as [`Data::Sz`]; variables are not expanded.
    ExpandSz(String),
    /// REG_MULTI_SZ: the NUL-separated strings up to the first empty one.
    MultiSz(Vec<String>),
    /// REG_DWORD or REG_DWORD_BIG_ENDIAN of at least 4 bytes (the first 4, in their order).
    Dword(u32),
    /// REG_QWORD of at least 8 bytes (the first 8).
    Qword(u64),
    /// REG_BINARY.
    Binary(Vec<u8>),
    /// REG_NONE (its bytes, if any, are in [`Value::bytes`]).
    None,
    /// Any other type, and DWORD/QWORD values too short for their type.
    Other {
        /// The type number.
        ty: u32,
        /// The raw data.
        bytes: Vec<u8>,
    },
}

impl<'h> Value<'h> {
    /// The value's name; `""` for a key's default value.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The type number (`REG_*`, see [`types`]).
    pub fn ty(&self) -> u32 {
        self.ty
    }

    /// File offset of the value's `vk` cell.
    pub fn offset(&self) -> u64 {
        abs(self.offset)
    }

    /// The raw data bytes, joined from big-data segments where the value has them.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        let vk = self.hive.cell(self.offset, "value (vk)")?;
        let raw_len = u32_at(&vk, 4);
        let len = raw_len & 0x7fff_ffff;
        let data_off = u32_at(&vk, 8);
        if raw_len & 0x8000_0000 != 0 {
            if len > 4 {
                return Err(Error::InlineTooLong {
                    offset: self.offset(),
                    len,
                });
            }
            return Ok(vk.get(8..8 + len as usize).unwrap_or(&[]).to_vec());
        }
        // No value holds more bytes than the file has (segments are never shared).
        let limit = MAX_VALUE_LEN.min(u32::try_from(self.hive.len).unwrap_or(u32::MAX));
        if len > limit {
            return Err(Error::TooLarge {
                offset: self.offset(),
                len,
                limit,
            });
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        if self.hive.cell_len(data_off, "value data")? >= u64::from(len) {
            return self.hive.read_at(abs(data_off) + 4, len as usize);
        }
        // Longer than its cell: it must be a big-data record.
        let db = self
            .hive
            .record(data_off, "big-data value (db)", &["db"], 8)?;
        let segments = usize::from(u16_at(&db, 2));
        let list_off = u32_at(&db, 4);
        let list = self.hive.cell(list_off, "big-data segment list")?;
        if segments * 4 > list.len() {
            return Err(Error::Short {
                what: "big-data segment list",
                offset: abs(list_off),
                needed: segments as u64 * 4,
                available: list.len() as u64,
            });
        }
        let mut out = Vec::with_capacity((len as usize).min(segments * DB_SEGMENT as usize));
        for i in 0..segments {
            if out.len() >= len as usize {
                break;
            }
            let seg = self.hive.cell(u32_at(&list, i * 4), "big-data segment")?;
            // Each segment holds its data followed by 4 bytes of padding, as hivex reads it.
            let usable = seg.len().saturating_sub(4);
            let take = usable.min(len as usize - out.len());
            out.extend_from_slice(&seg[..take]);
        }
        Ok(out)
    }

    /// The data decoded by type.
    pub fn data(&self) -> Result<Data> {
        let bytes = self.bytes()?;
        Ok(decode(self.ty, bytes))
    }
}

/// Decodes raw value bytes of type `ty` the way hivex does.
pub fn decode(ty: u32, bytes: Vec<u8>) -> Data {
    match ty {
        types::SZ => Data::Sz(utf16_until_nul(&bytes)),
        types::EXPAND_SZ => Data::ExpandSz(utf16_until_nul(&bytes)),
        types::MULTI_SZ => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            Data::MultiSz(
                units
                    .split(|&u| u == 0)
                    .take_while(|s| !s.is_empty())
                    .map(String::from_utf16_lossy)
                    .collect(),
            )
        }
        types::DWORD if bytes.len() >= 4 => {
            Data::Dword(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        types::DWORD_BIG_ENDIAN if bytes.len() >= 4 => {
            Data::Dword(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        types::QWORD if bytes.len() >= 8 => Data::Qword(u64_at(&bytes, 0)),
        types::BINARY => Data::Binary(bytes),
        types::NONE => Data::None,
        ty => Data::Other { ty, bytes },
    }
}
