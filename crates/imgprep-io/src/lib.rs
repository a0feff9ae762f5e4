//! Positioned, read-only byte sources: the one abstraction every imgprep layer reads through.
//!
//! A [`ReadAt`] is a fixed-size run of bytes that can be read at any offset through a shared
//! reference, so one disk can feed many partitions and filesystems at once, and tests can hand in
//! a `Vec<u8>`. Container formats turn an image file into a `ReadAt` of the virtual disk; volumes
//! cut it into [`Slice`]s; filesystems read from those. Nothing here can write.
//!
//! This crate knows nothing about formats. It offers [`read_vec`], which refuses allocations
//! larger than a caller-given limit, so no layer sizes a buffer from an untrusted header unchecked.
#![forbid(unsafe_code)]

pub mod crc;
pub mod host;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A read-only, fixed-size byte source readable at any offset through `&self`.
pub trait ReadAt: Send + Sync {
    /// Size in bytes. Reads must stay within `0..size()`.
    fn size(&self) -> u64;

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`.
    ///
    /// A read that does not fit inside `size()` fails with [`io::ErrorKind::UnexpectedEof`].
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_exact_at(offset, buf)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Box<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_exact_at(offset, buf)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_exact_at(offset, buf)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let range = check_range(offset, buf.len(), self.len() as u64)?;
        buf.copy_from_slice(&self[range.start as usize..range.end as usize]);
        Ok(())
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.as_slice().read_exact_at(offset, buf)
    }
}

/// Checks that `offset..offset + len` lies within `0..size` and returns that range.
pub fn check_range(offset: u64, len: usize, size: u64) -> io::Result<std::ops::Range<u64>> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(offset..end),
        _ => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("read of {len} bytes at {offset:#x} is past the end ({size:#x})"),
        )),
    }
}

/// Reads `len` bytes at `offset` into a new vector, refusing lengths above `limit`.
///
/// `what` names the structure being read for the error message, e.g. "GPT partition array".
pub fn read_vec(
    src: &(impl ReadAt + ?Sized),
    offset: u64,
    len: u64,
    limit: u64,
    what: &str,
) -> io::Result<Vec<u8>> {
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} at {offset:#x} is {len} bytes, more than the {limit} allowed"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    src.read_exact_at(offset, &mut buf)?;
    Ok(buf)
}

/// A regular file on the host, opened read-only.
pub struct FileSource {
    file: fs_err::File,
    size: u64,
}

impl FileSource {
    /// Opens the image `path` read-only: a regular file or a block device (symlinks followed;
    /// a FIFO, socket or character device is refused without blocking). Never written.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        Self::from_host(host::open(
            &path,
            host::Accept::RegularOrBlock,
            host::Follow::Yes,
        )?)
    }

    /// A source over a file opened by [`host::open`] (which checked its type).
    pub fn from_host(f: host::HostFile) -> io::Result<Self> {
        Ok(Self {
            file: f.file,
            size: f.size,
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.file.path())
            .field("size", &self.size)
            .finish()
    }
}

impl ReadAt for FileSource {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        check_range(offset, buf.len(), self.size)?;
        self.file.file().read_exact_at(buf, offset).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: read at {offset:#x}: {e}", self.file.path().display()),
            )
        })
    }
}

/// A window `start..start + len` of another source, such as a partition of a disk.
#[derive(Clone)]
pub struct Slice {
    inner: Arc<dyn ReadAt>,
    start: u64,
    len: u64,
}

impl Slice {
    /// A window of `inner`. Fails when the window does not fit inside `inner`.
    pub fn new(inner: Arc<dyn ReadAt>, start: u64, len: u64) -> io::Result<Self> {
        let size = inner.size();
        match start.checked_add(len) {
            Some(end) if end <= size => Ok(Self { inner, start, len }),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "region {start:#x}+{len:#x} extends past the end of its source ({size:#x})"
                ),
            )),
        }
    }

    /// Offset of the window in its source.
    pub fn start(&self) -> u64 {
        self.start
    }
}

impl fmt::Debug for Slice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slice")
            .field("start", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

impl ReadAt for Slice {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.len)?;
        self.inner.read_exact_at(self.start + offset, buf)
    }
}

/// Little-endian field readers for fixed-layout on-disk structures.
///
/// Each takes a slice and an offset into it and panics only if the caller's slice is shorter than
/// the structure it has already length-checked; callers check lengths first.
pub mod le {
    /// `u16` at `off`.
    pub fn u16(b: &[u8], off: usize) -> u16 {
        u16::from_le_bytes([b[off], b[off + 1]])
    }
    /// `u32` at `off`.
    pub fn u32(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
    }
    /// `u64` at `off`.
    pub fn u64(b: &[u8], off: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[off..off + 8]);
        u64::from_le_bytes(a)
    }
}

/// Big-endian field readers, as [`le`].
pub mod be {
    /// `u16` at `off`.
    pub fn u16(b: &[u8], off: usize) -> u16 {
        u16::from_be_bytes([b[off], b[off + 1]])
    }
    /// `u32` at `off`.
    pub fn u32(b: &[u8], off: usize) -> u32 {
        u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
    }
    /// `u64` at `off`.
    pub fn u64(b: &[u8], off: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[off..off + 8]);
        u64::from_be_bytes(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_reads_inside_and_refuses_outside() {
        let disk: Arc<dyn ReadAt> = Arc::new((0u8..=255).collect::<Vec<u8>>());
        let part = Slice::new(disk.clone(), 16, 32).unwrap();
        let mut buf = [0u8; 4];
        part.read_exact_at(28, &mut buf).unwrap();
        assert_eq!(buf, [44, 45, 46, 47]);
        assert!(part.read_exact_at(29, &mut buf).is_err());
        assert!(part.read_exact_at(u64::MAX, &mut buf).is_err());
        assert!(Slice::new(disk, 250, 7).is_err());
    }

    #[test]
    fn read_vec_refuses_lengths_over_the_limit() {
        let src = vec![0u8; 64];
        let err = read_vec(&src, 0, 1 << 40, 1 << 20, "GPT partition array").unwrap_err();
        assert!(
            err.to_string().contains("GPT partition array at 0x0"),
            "{err}"
        );
        assert_eq!(read_vec(&src, 8, 8, 16, "x").unwrap().len(), 8);
    }
}
