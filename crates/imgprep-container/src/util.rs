//! Small shared pieces: a byte-budgeted LRU, a page cache for on-disk tables, bounded reads,
//! CRC-32C and inflate helpers.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use imgprep_io::ReadAt;

use crate::{Error, Format};

/// Locks a mutex, ignoring poisoning: the caches hold plain data that a panicking reader cannot
/// leave half-updated in a way that matters (the worst case is a missing entry).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A least-recently-used map to shared values, bounded by a byte budget.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    entries: HashMap<K, (V, usize, u64)>,
    /// Use stamp -> key, oldest first.
    order: BTreeMap<u64, K>,
    used: usize,
    budget: usize,
    clock: u64,
}

impl<K: Copy + Eq + Hash, V: Clone> Lru<K, V> {
    /// An empty cache holding at most `budget` bytes (and always at least one entry).
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            used: 0,
            budget,
            clock: 0,
        }
    }

    pub(crate) fn get(&mut self, key: K) -> Option<V> {
        self.clock += 1;
        let clock = self.clock;
        let (v, _, stamp) = self.entries.get_mut(&key)?;
        self.order.remove(stamp);
        *stamp = clock;
        self.order.insert(clock, key);
        Some(v.clone())
    }

    pub(crate) fn insert(&mut self, key: K, value: V, cost: usize) {
        if let Some((_, old_cost, stamp)) = self.entries.remove(&key) {
            self.used -= old_cost;
            self.order.remove(&stamp);
        }
        while self.used.saturating_add(cost) > self.budget {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, c, _)) = self.entries.remove(&oldest) {
                self.used -= c;
            }
        }
        self.clock += 1;
        self.used += cost;
        self.entries.insert(key, (value, cost, self.clock));
        self.order.insert(self.clock, key);
    }
}

const PAGE: u64 = 4096;
/// Table pages cached per opened disk (all its files together).
const PAGE_BUDGET: usize = 4 << 20;
/// Inflated compressed clusters and grains cached per opened disk.
const INFLATED_BUDGET: usize = 16 << 20;

/// A cache key: (file id, offset in that file).
type FileOffset = (u32, u64);

/// The caches of one opened disk, shared by every file of its chain and extents, so memory stays
/// bounded however many files there are. Keys are (file id, offset).
pub(crate) struct Cache {
    pages: Mutex<Lru<FileOffset, Arc<[u8]>>>,
    inflated: Mutex<Lru<FileOffset, Arc<Vec<u8>>>>,
    next_id: AtomicU32,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

impl Cache {
    pub(crate) fn new() -> Arc<Cache> {
        Arc::new(Cache {
            pages: Mutex::new(Lru::new(PAGE_BUDGET)),
            inflated: Mutex::new(Lru::new(INFLATED_BUDGET)),
            next_id: AtomicU32::new(0),
        })
    }
}

/// Cached, page-wise access to the tables of one file (L1/L2 tables, BATs, grain directories),
/// and to the inflated compressed data of that file.
///
/// Memory is bounded by the shared [`Cache`] whatever the table sizes: only pages that reads
/// touch are loaded.
pub(crate) struct Tables {
    file: Arc<dyn ReadAt>,
    cache: Arc<Cache>,
    id: u32,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables").field("id", &self.id).finish()
    }
}

impl Tables {
    pub(crate) fn new(file: Arc<dyn ReadAt>, cache: &Arc<Cache>) -> Self {
        Self {
            file,
            id: cache.next_id.fetch_add(1, Ordering::Relaxed),
            cache: cache.clone(),
        }
    }

    fn page(&self, start: u64) -> io::Result<Arc<[u8]>> {
        if let Some(p) = lock(&self.cache.pages).get((self.id, start)) {
            return Ok(p);
        }
        let len = PAGE.min(self.file.size().saturating_sub(start));
        let mut buf = vec![0u8; len as usize];
        self.file.read_exact_at(start, &mut buf)?;
        let page: Arc<[u8]> = buf.into();
        lock(&self.cache.pages).insert((self.id, start), page.clone(), PAGE as usize);
        Ok(page)
    }

    /// Inflated data cached for `offset` of this file.
    pub(crate) fn inflated(&self, offset: u64) -> Option<Arc<Vec<u8>>> {
        lock(&self.cache.inflated).get((self.id, offset))
    }

    /// Caches inflated data for `offset` of this file.
    pub(crate) fn keep_inflated(&self, offset: u64, data: Arc<Vec<u8>>) {
        let cost = data.len().max(64);
        lock(&self.cache.inflated).insert((self.id, offset), data, cost);
    }

    /// Reads `buf.len()` bytes at `offset` through the page cache.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), self.file.size())?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let start = pos - pos % PAGE;
            let page = self.page(start)?;
            let within = (pos - start) as usize;
            let n = (buf.len() - done).min(page.len().saturating_sub(within));
            let src = page.get(within..within + n).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "table page shorter than expected",
                )
            })?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("table read at {pos:#x} is past the end of the file"),
                ));
            }
            buf[done..done + n].copy_from_slice(src);
            done += n;
        }
        Ok(())
    }

    pub(crate) fn be_u64(&self, offset: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    pub(crate) fn le_u64(&self, offset: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn be_u32(&self, offset: u64) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read(offset, &mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    pub(crate) fn le_u32(&self, offset: u64) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read(offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

/// Fails with [`Error::PastEof`] unless `offset..offset + len` lies inside a file of `file_size`.
pub(crate) fn check_within(
    format: Format,
    what: &'static str,
    offset: u64,
    len: u64,
    file_size: u64,
) -> Result<(), Error> {
    match offset.checked_add(len) {
        Some(end) if end <= file_size => Ok(()),
        end => Err(Error::PastEof {
            format,
            what,
            offset,
            end: end.unwrap_or(u64::MAX),
            file_size,
        }),
    }
}

/// Reads exactly `len` bytes at `offset`, failing with [`Error::PastEof`] when they are not all
/// in the file. `len` must already be bounded by the caller.
pub(crate) fn read_struct(
    src: &dyn ReadAt,
    format: Format,
    what: &'static str,
    offset: u64,
    len: usize,
) -> Result<Vec<u8>, Error> {
    check_within(format, what, offset, len as u64, src.size())?;
    let mut buf = vec![0u8; len];
    src.read_exact_at(offset, &mut buf)?;
    Ok(buf)
}

/// Reads what is in the file at `offset..offset + buf.len()` and zero-fills the part past its
/// end, as qemu's file layer does.
pub(crate) fn read_zero_past_eof(src: &dyn ReadAt, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let avail = src.size().saturating_sub(offset).min(buf.len() as u64) as usize;
    let (head, tail) = buf.split_at_mut(avail);
    if !head.is_empty() {
        src.read_exact_at(offset, head)?;
    }
    tail.fill(0);
    Ok(())
}

/// Big-endian and little-endian field readers over a slice, returning 0 for bytes outside it.
/// Callers size their buffers before parsing; this only keeps a miscount from panicking.
pub(crate) mod field {
    fn get<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
        let mut a = [0u8; N];
        if let Some(s) = off.checked_add(N).and_then(|end| b.get(off..end)) {
            a.copy_from_slice(s);
        }
        a
    }
    pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
        u16::from_be_bytes(get(b, off))
    }
    pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
        u32::from_be_bytes(get(b, off))
    }
    pub(crate) fn be64(b: &[u8], off: usize) -> u64 {
        u64::from_be_bytes(get(b, off))
    }
    pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
        u16::from_le_bytes(get(b, off))
    }
    pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(get(b, off))
    }
    pub(crate) fn le64(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(get(b, off))
    }
    pub(crate) fn bytes<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
        get(b, off)
    }
}

/// Running CRC-32C (Castagnoli), as VHDX checksums use it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc32c(u32);

impl Crc32c {
    pub(crate) fn new() -> Self {
        Crc32c(!0)
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0 = imgprep_io::crc::crc32c_update(self.0, data);
    }

    pub(crate) fn finish(self) -> u32 {
        !self.0
    }
}

/// Inflates `input` into a buffer of exactly `out_len` bytes.
///
/// `zlib_header` selects zlib framing (VMDK grains) or raw deflate (qcow2 clusters). Returns the
/// buffer and the number of bytes produced, and whether the stream reached its end.
///
/// The decompressor (tens of KiB of state) is kept per thread and reset between calls, and the
/// output is written into fresh capacity, then zero-filled past what was produced: a cluster is
/// not zeroed before it is overwritten.
pub(crate) fn inflate(
    input: &[u8],
    out_len: usize,
    zlib_header: bool,
) -> Result<(Vec<u8>, usize, bool), String> {
    thread_local! {
        static DECOMPRESS: std::cell::RefCell<Option<(bool, flate2::Decompress)>> =
            const { std::cell::RefCell::new(None) };
    }
    DECOMPRESS.with_borrow_mut(|slot| {
        let d = match slot {
            Some((header, d)) if *header == zlib_header => {
                d.reset(zlib_header);
                d
            }
            _ => {
                &mut slot
                    .insert((zlib_header, flate2::Decompress::new(zlib_header)))
                    .1
            }
        };
        let mut out = Vec::with_capacity(out_len);
        let status = d
            .decompress_vec(input, &mut out, flate2::FlushDecompress::Finish)
            .map_err(|e| format!("invalid deflate data: {e}"))?;
        let produced = out.len().min(out_len);
        out.resize(out_len, 0);
        Ok((out, produced, status == flate2::Status::StreamEnd))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        let mut c = Crc32c::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.finish(), 0xe306_9283);
    }

    #[test]
    fn inflate_reuses_its_state_across_streams_and_framings() {
        use std::io::Write as _;
        let deflate = |data: &[u8], zlib: bool| {
            let level = flate2::Compression::default();
            if zlib {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            } else {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        };
        let a: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let b = b"a short stream".to_vec();
        for (data, zlib) in [
            (&a, false),
            (&b, false),
            (&a, true),
            (&b, true),
            (&a, false),
        ] {
            let (out, produced, end) = inflate(&deflate(data, zlib), 1 << 17, zlib).unwrap();
            assert_eq!((produced, end), (data.len(), true));
            assert_eq!(&out[..produced], &data[..]);
            assert!(out.len() == 1 << 17 && out[produced..].iter().all(|&x| x == 0));
        }
        // Output longer than the buffer: cut at its length, stream not ended.
        let (out, produced, end) = inflate(&deflate(&a, false), 1000, false).unwrap();
        assert_eq!((out.len(), produced, end), (1000, 1000, false));
        assert_eq!(&out[..], &a[..1000]);
        assert!(inflate(b"\xff\xff\xff", 100, false).is_err());
        // A failed stream leaves nothing behind for the next one.
        assert_eq!(inflate(&deflate(&b, false), 100, false).unwrap().1, b.len());
    }

    #[test]
    fn lru_evicts_the_least_recently_used_entry() {
        let mut lru = Lru::new(2);
        lru.insert(1, 'a', 1);
        lru.insert(2, 'b', 1);
        assert_eq!(lru.get(1), Some('a'));
        lru.insert(3, 'c', 1);
        assert_eq!(lru.get(2), None);
        assert_eq!(lru.get(1), Some('a'));
        assert_eq!(lru.get(3), Some('c'));
    }

    #[test]
    fn tables_read_across_page_boundaries() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let t = Tables::new(Arc::new(data.clone()), &Cache::new());
        let mut b = [0u8; 8];
        t.read(4092, &mut b).unwrap();
        assert_eq!(&b, &data[4092..4100]);
        assert!(t.read(9996, &mut b).is_err());
    }
}
