//! Read-only NTFS reader behind imgprep's [`Filesystem`] interface, for the system volumes of
//! offline Windows images.
//!
//! It reads the boot sector, the MFT (records with their update sequence fixups, attribute lists
//! and extension records), resident and non-resident attribute values (sparse runs and data past
//! the initialized size read as zeros), and directory indexes (`$INDEX_ROOT` and `INDX` records
//! of `$INDEX_ALLOCATION`), looking names up case-insensitively through the volume's `$UpCase`
//! table as Windows does.
//!
//! What it reports, and how that maps onto the interface:
//! - names are UTF-8 (unpaired UTF-16 surrogates become U+FFFD); DOS 8.3 aliases resolve in
//!   lookups but are not listed, and the metadata files (`$MFT`, `$Volume`, …, records below 16)
//!   are not listed, as ntfs-3g hides them;
//! - symbolic links and junctions (reparse points) whose target is a drive path (`\??\C:\…`) or
//!   relative are [`FileKind::Symlink`] with a `/`-separated target (a drive path becomes
//!   `/…`, whatever the letter); WSL symlinks likewise; Interix symlinks and device files (the
//!   `IntxLNK`/`IntxCHR`/`IntxBLK` system files ntfs-3g writes) as ntfs-3g shows them; every
//!   other reparse point (volume GUID or UNC targets, deduplication, OneDrive, …) is
//!   [`FileKind::Other`] and its data is not read;
//! - metadata: mode `0o777` for directories and links, `0o644` for files (NTFS has no Unix
//!   modes; the security descriptor is not read), uid and gid 0, mtime from
//!   `$STANDARD_INFORMATION`, the MFT record number as inode, directories of size 0.
//!
//! LZNT1-compressed values (files written into a compressed directory, `compact /c` before
//! Windows 10) are decoded a compression unit at a time (`lznt1`): units stored whole, sparse,
//! or compressed into their first clusters. WOF-compressed files (CompactOS, `compact /exe`:
//! Windows 10 and later compress system binaries this way) are regular files whose bytes are
//! decoded from their `WofCompressedData` stream a chunk at a time (`wof`; the XPRESS Huffman
//! and LZX decoders, `xpress` and `lzx`, are ours: `xpress` says why the `xpress-huffman` crate
//! is not used, and no crate decodes LZX as WOF writes it). EFS-encrypted data,
//! WIM-backed WOF files (WIMBoot) and other compression formats are refused
//! ([`FsError::Unsupported`]), never misread. It does not replay `$LogFile`, list alternate
//! data streams, or write anything.
//!
//! The `ntfs` crate was evaluated for this and is not used: on hostile volumes it panics (index
//! entries shorter than their header, attribute headers cut short at the end of a record) and
//! loops without end (an index sub-node that refers to itself).
#![forbid(unsafe_code)]

mod disk;
mod huffman;
mod index;
mod lznt1;
mod lzx;
mod wof;
mod xpress;

use std::io;
use std::sync::Arc;

use imgprep_fs::{DirEntry, FileKind, Filesystem, FsError, FsInfo, Metadata, components};
use imgprep_io::ReadAt;

use disk::{
    AT_DATA, AT_REPARSE_POINT, AT_STANDARD_INFORMATION, AT_VOLUME_NAME, Body, FIRST_USER_RECORD,
    MFT_DIRECTORY, Record, Stream, Volume, u16_at, u32_at, u64_at, units,
};
use index::{Index, NAMESPACE_DOS};

/// Record number of the root directory.
const ROOT: u64 = 5;
/// Record number of `$UpCase`.
const UPCASE: u64 = 10;
/// Record number of `$Volume`.
const VOLUME: u64 = 3;
/// Largest reparse point or Interix link read.
const MAX_LINK: u64 = 64 << 10;

/// Why the volume or a structure in it could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the device failed.
    #[error("reading {what} at {offset:#x}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// Device offset.
        offset: u64,
        /// The device's error.
        #[source]
        source: io::Error,
    },
    /// A structure holds a value it cannot have.
    #[error("{what} at {offset:#x}: expected {expected}, found {found}")]
    Invalid {
        /// The structure and field.
        what: String,
        /// Device offset of the structure or field (0 where it has none).
        offset: u64,
        /// What a valid volume has there.
        expected: String,
        /// What is there.
        found: String,
    },
    /// A structure refers back to itself.
    #[error("{what} (index at {offset:#x}) was already visited: the structure loops")]
    Loop {
        /// The structure.
        what: String,
        /// Device offset of the structure holding the reference.
        offset: u64,
    },
    /// A structure is larger than this reader accepts.
    #[error("{what} at {offset:#x} is {size}, more than the {limit} allowed")]
    TooLarge {
        /// The structure.
        what: String,
        /// Device offset.
        offset: u64,
        /// Its size or count.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Data this reader does not decode.
    #[error("{what} (attribute at {offset:#x}) is not supported")]
    Unsupported {
        /// The feature.
        what: &'static str,
        /// Device offset of the attribute.
        offset: u64,
    },
}

/// Type, label and serial number of an NTFS volume, as `blkid` reports them, or `None` when
/// `dev` does not hold one.
///
/// Applies blkid's checks (boot sector fields, `FILE` signatures of records 0 and 3, read where
/// the boot sector puts the MFT) and reads the label from `$Volume`'s `$VOLUME_NAME`.
pub fn probe(dev: &dyn ReadAt) -> Option<FsInfo> {
    let mut bs = [0u8; 512];
    dev.read_exact_at(0, &mut bs).ok()?;
    let boot = disk::Boot::parse(&bs).ok()?;
    let mft = boot.mft_lcn.checked_mul(boot.cluster_size)?;
    let size = boot.record_size;
    let mut rec = vec![0u8; size];
    dev.read_exact_at(mft, &mut rec).ok()?;
    if &rec[0..4] != b"FILE" {
        return None;
    }
    let vol_at = mft.checked_add(VOLUME * size as u64)?;
    dev.read_exact_at(vol_at, &mut rec).ok()?;
    if &rec[0..4] != b"FILE" {
        return None;
    }
    let label = disk::fixup(&mut rec, &|| "$Volume".into(), vol_at)
        .ok()
        .and_then(|()| disk::parse_record(&rec, VOLUME, vol_at, u64::MAX, boot.cluster_size).ok())
        .and_then(|r| {
            r.attrs
                .iter()
                .find(|a| a.ty == AT_VOLUME_NAME)
                .and_then(|a| match &a.body {
                    Body::Resident(v) => Some(String::from_utf16_lossy(&units(v))),
                    Body::NonResident(_) => None,
                })
        })
        .filter(|l| !l.is_empty());
    Some(FsInfo {
        fstype: "ntfs".into(),
        label,
        uuid: Some(format!("{:016X}", boot.serial)),
    })
}

/// Opens the NTFS volume on `dev` (which must hold the volume and nothing before it).
pub fn open(dev: Arc<dyn ReadAt>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(Ntfs::open(dev)?))
}

/// An open NTFS volume.
pub struct Ntfs {
    vol: Volume,
    upcase: Vec<u16>,
    info: FsInfo,
}

impl std::fmt::Debug for Ntfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ntfs")
            .field("vol", &self.vol)
            .field("info", &self.info)
            .finish()
    }
}

/// What a record is, as the interface sees it.
enum Kind {
    File,
    /// A WOF-compressed file: a regular file whose data the overlay provides.
    Wof(wof::Reparse),
    Dir,
    Link(Vec<u8>),
    Device(FileKind),
    Other,
}

impl Ntfs {
    /// Opens the volume: boot sector, MFT, `$UpCase` and `$Volume`.
    pub fn open(dev: Arc<dyn ReadAt>) -> Result<Ntfs, Error> {
        let vol = Volume::mount(dev)?;
        let up = vol.record(UPCASE)?;
        let stream = vol.data_stream(&up, &[], "$UpCase")?;
        if stream.len() != 0x20000 {
            return Err(Error::Invalid {
                what: "$UpCase size".into(),
                offset: 0,
                expected: "0x20000 bytes (65536 characters)".into(),
                found: format!("{:#x}", stream.len()),
            });
        }
        let upcase = units(&vol.read_all(&stream, 0x20000, "$UpCase")?);
        let volume = vol.record(VOLUME)?;
        let label = volume
            .attrs
            .iter()
            .find(|a| a.ty == AT_VOLUME_NAME)
            .and_then(|a| match &a.body {
                Body::Resident(v) => Some(String::from_utf16_lossy(&units(v))),
                Body::NonResident(_) => None,
            })
            .filter(|l| !l.is_empty());
        let info = FsInfo {
            fstype: "ntfs".into(),
            label,
            uuid: Some(format!("{:016X}", vol.boot.serial)),
        };
        Ok(Ntfs { vol, upcase, info })
    }

    /// The record at `path`, `None` when a component does not exist.
    fn resolve(&self, path: &[u8]) -> Result<Option<Record>, FsError> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let mut rec = self.vol.record(ROOT).map_err(FsError::corrupt)?;
        for comp in components(path)? {
            if !matches!(self.kind(&rec).map_err(FsError::corrupt)?, Kind::Dir) {
                return Err(FsError::NotADirectory { path: shown() });
            }
            let Ok(name) = std::str::from_utf8(comp) else {
                return Ok(None);
            };
            let name: Vec<u16> = name.encode_utf16().collect();
            let idx = Index::open(&self.vol, &rec).map_err(FsError::corrupt)?;
            match idx.find(&name, &self.upcase).map_err(FsError::corrupt)? {
                Some(e) => rec = self.vol.record(e.record).map_err(FsError::corrupt)?,
                None => return Ok(None),
            }
        }
        Ok(Some(rec))
    }

    fn need(&self, path: &[u8]) -> Result<Record, FsError> {
        self.resolve(path)?.ok_or_else(|| FsError::NotFound {
            path: String::from_utf8_lossy(path).into_owned(),
        })
    }

    fn kind(&self, rec: &Record) -> Result<Kind, Error> {
        if let Some(rp) = self.vol.named_stream(rec, AT_REPARSE_POINT, &[])? {
            let data = self.vol.read_all(&rp, MAX_LINK, "$REPARSE_POINT")?;
            if u32_at(&data, 0) == wof::IO_REPARSE_TAG_WOF {
                return Ok(Kind::Wof(wof::parse_reparse(&data)));
            }
            return Ok(match reparse_target(&data) {
                Some(t) => Kind::Link(t),
                None => Kind::Other,
            });
        }
        if rec.flags & MFT_DIRECTORY != 0 {
            return Ok(Kind::Dir);
        }
        // Interix special files ntfs-3g writes: system files starting with a magic.
        if file_attributes(rec) & FILE_ATTRIBUTE_SYSTEM != 0
            && let Ok(data) = self.vol.data_stream(rec, &[], "file data")
        {
            {
                let len = data.len();
                let mut magic = [0u8; 8];
                if (8..=MAX_LINK).contains(&len)
                    && self
                        .vol
                        .read_stream(&data, 0, &mut magic, "Interix file")
                        .is_ok()
                    && magic.starts_with(b"Intx")
                {
                    let bytes = self.vol.read_all(&data, MAX_LINK, "Interix file")?;
                    if let Some(k) = interix(&bytes) {
                        return Ok(k);
                    }
                }
            }
        }
        Ok(Kind::File)
    }

    fn metadata(&self, rec: &Record) -> Result<Metadata, FsError> {
        let kind = self.kind(rec).map_err(FsError::corrupt)?;
        let (kind, size, mode) = match kind {
            Kind::Dir => (FileKind::Dir, 0, 0o777),
            Kind::Link(t) => (FileKind::Symlink, t.len() as u64, 0o777),
            Kind::Device(k) => (k, 0, 0o644),
            Kind::File | Kind::Wof(_) => (FileKind::File, self.data_len(rec)?, 0o644),
            Kind::Other => (FileKind::Other, self.data_len(rec).unwrap_or(0), 0o644),
        };
        Ok(Metadata {
            kind,
            size,
            mode,
            uid: 0,
            gid: 0,
            mtime: mtime(rec),
            ino: rec.number,
        })
    }

    /// Length of the unnamed `$DATA` (0 when there is none).
    fn data_len(&self, rec: &Record) -> Result<u64, FsError> {
        let first = rec
            .attrs
            .iter()
            .filter(|a| a.ty == AT_DATA && a.name.is_empty())
            .find(|a| match &a.body {
                Body::Resident(_) => true,
                Body::NonResident(nr) => nr.lowest_vcn == 0,
            });
        Ok(match first.map(|a| &a.body) {
            Some(Body::Resident(v)) => v.len() as u64,
            Some(Body::NonResident(nr)) => nr.data_size,
            None => 0,
        })
    }

    /// The bytes of the file at `path`: its unnamed `$DATA`, or what WOF decompresses.
    fn file_content(&self, path: &[u8], rec: &Record) -> Result<Content, FsError> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        match self.kind(rec).map_err(FsError::corrupt)? {
            Kind::File => {}
            Kind::Wof(wof::Reparse::File(format)) => {
                let name: Vec<u16> = wof::STREAM.encode_utf16().collect();
                let compressed = self
                    .vol
                    .named_stream(rec, AT_DATA, &name)
                    .map_err(FsError::corrupt)?
                    .ok_or_else(|| {
                        FsError::corrupt(Error::Invalid {
                            what: format!("WOF-compressed file (MFT record {})", rec.number),
                            offset: 0,
                            expected: format!("a {} stream", wof::STREAM),
                            found: "none".into(),
                        })
                    })?;
                return Ok(Content::Wof {
                    format,
                    size: self.data_len(rec)?,
                    compressed,
                });
            }
            Kind::Wof(wof::Reparse::Unsupported(what)) => {
                return Err(FsError::Unsupported {
                    path: shown(),
                    what: what.into(),
                });
            }
            Kind::Dir => return Err(FsError::IsADirectory { path: shown() }),
            _ => {
                return Err(FsError::Unsupported {
                    path: shown(),
                    what: "reading a link or special file as a file".into(),
                });
            }
        }
        match self.vol.named_stream(rec, AT_DATA, &[]) {
            Ok(Some(s)) => Ok(Content::Plain(s)),
            Ok(None) => Ok(Content::Plain(Stream::Resident(Vec::new()))),
            Err(Error::Unsupported { what, .. }) => Err(FsError::Unsupported {
                path: shown(),
                what: what.into(),
            }),
            Err(e) => Err(FsError::corrupt(e)),
        }
    }
}

/// What a file's bytes are read from.
enum Content {
    Plain(Stream),
    Wof {
        format: wof::Format,
        size: u64,
        compressed: Stream,
    },
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Content::Plain(s) => s.len(),
            Content::Wof { size, .. } => *size,
        }
    }
}

const FILE_ATTRIBUTE_SYSTEM: u32 = 0x0004;
const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0400;
const FILE_NAME_INDEX_PRESENT: u32 = 0x1000_0000;

/// `FILE_ATTRIBUTE_*` flags from `$STANDARD_INFORMATION`.
fn file_attributes(rec: &Record) -> u32 {
    standard_information(rec).map_or(0, |si| u32_at(si, 32))
}

fn standard_information(rec: &Record) -> Option<&[u8]> {
    rec.attrs
        .iter()
        .find(|a| a.ty == AT_STANDARD_INFORMATION)
        .and_then(|a| match &a.body {
            Body::Resident(v) if v.len() >= 48 => Some(v.as_slice()),
            _ => None,
        })
}

/// Modification time from `$STANDARD_INFORMATION`, in Unix seconds.
fn mtime(rec: &Record) -> i64 {
    const EPOCH_DIFF: i64 = 11_644_473_600;
    standard_information(rec).map_or(0, |si| {
        let ft = u64_at(si, 8);
        (ft / 10_000_000) as i64 - EPOCH_DIFF
    })
}

/// An Interix special file's kind from its data.
fn interix(b: &[u8]) -> Option<Kind> {
    match b.get(0..8)? {
        b"IntxLNK\x01" => {
            let target = String::from_utf16_lossy(&units(&b[8..]));
            Some(Kind::Link(target.into_bytes()))
        }
        b"IntxCHR\0" => Some(Kind::Device(FileKind::CharDevice)),
        b"IntxBLK\0" => Some(Kind::Device(FileKind::BlockDevice)),
        _ => None,
    }
}

const IO_REPARSE_TAG_MOUNT_POINT: u32 = 0xa000_0003;
const IO_REPARSE_TAG_SYMLINK: u32 = 0xa000_000c;
const IO_REPARSE_TAG_LX_SYMLINK: u32 = 0xa000_001d;
const SYMLINK_FLAG_RELATIVE: u32 = 1;

/// The `/`-separated target of a reparse point that is a link inside the volume, or `None`.
fn reparse_target(b: &[u8]) -> Option<Vec<u8>> {
    let tag = u32_at(b, 0);
    let len = usize::from(u16_at(b, 4));
    let data = b.get(8..8 + len)?;
    let (buffer, relative) = match tag {
        IO_REPARSE_TAG_MOUNT_POINT => (data.get(8..)?, false),
        IO_REPARSE_TAG_SYMLINK => (
            data.get(12..)?,
            u32_at(data, 8) & SYMLINK_FLAG_RELATIVE != 0,
        ),
        IO_REPARSE_TAG_LX_SYMLINK => {
            // Version 2, then the target in UTF-8 as Linux wrote it.
            return (u32_at(data, 0) == 2).then(|| data.get(4..).unwrap_or(&[]).to_vec());
        }
        _ => return None,
    };
    let off = usize::from(u16_at(data, 0));
    let sub_len = usize::from(u16_at(data, 2));
    let name = String::from_utf16_lossy(&units(buffer.get(off..off + sub_len)?));
    if relative {
        return Some(name.replace('\\', "/").into_bytes());
    }
    let rest = name.strip_prefix("\\??\\").unwrap_or(&name);
    let bytes = rest.as_bytes();
    let path = if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        &rest[2..]
    } else if rest.starts_with('\\') && name.starts_with("\\??\\") {
        // `\??\UNC\…`, `\??\Volume{…}\…`: another volume.
        return None;
    } else if rest.starts_with('\\') && !rest.starts_with("\\\\") {
        rest
    } else {
        return None;
    };
    let mut target = path.replace('\\', "/");
    if !target.starts_with('/') {
        target.insert(0, '/');
    }
    Some(target.into_bytes())
}

impl Filesystem for Ntfs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn lstat(&self, path: &[u8]) -> imgprep_fs::Result<Option<Metadata>> {
        match self.resolve(path)? {
            Some(rec) => self.metadata(&rec).map(Some),
            None => Ok(None),
        }
    }

    fn read_dir(&self, path: &[u8]) -> imgprep_fs::Result<Vec<DirEntry>> {
        let rec = self.need(path)?;
        if !matches!(self.kind(&rec).map_err(FsError::corrupt)?, Kind::Dir) {
            return Err(FsError::NotADirectory {
                path: String::from_utf8_lossy(path).into_owned(),
            });
        }
        let idx = Index::open(&self.vol, &rec).map_err(FsError::corrupt)?;
        let entries = idx.list().map_err(FsError::corrupt)?;
        Ok(entries
            .into_iter()
            .filter(|e| e.namespace != NAMESPACE_DOS && e.record >= FIRST_USER_RECORD)
            .map(|e| DirEntry {
                name: String::from_utf16_lossy(&e.name).into_bytes(),
                kind: if e.attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
                    None
                } else if e.attributes & FILE_NAME_INDEX_PRESENT != 0 {
                    Some(FileKind::Dir)
                } else if e.attributes & FILE_ATTRIBUTE_SYSTEM != 0 {
                    // Could be an Interix link or device.
                    None
                } else {
                    Some(FileKind::File)
                },
            })
            .collect())
    }

    fn read_link(&self, path: &[u8]) -> imgprep_fs::Result<Vec<u8>> {
        let rec = self.need(path)?;
        match self.kind(&rec).map_err(FsError::corrupt)? {
            Kind::Link(t) => Ok(t),
            _ => Err(FsError::NotASymlink {
                path: String::from_utf8_lossy(path).into_owned(),
            }),
        }
    }

    fn read(&self, path: &[u8], offset: u64, len: usize) -> imgprep_fs::Result<Vec<u8>> {
        let rec = self.need(path)?;
        let content = self.file_content(path, &rec)?;
        let size = content.len();
        if offset >= size {
            return Ok(Vec::new());
        }
        let n = (size - offset).min(len as u64) as usize;
        let mut buf = vec![0u8; n];
        match &content {
            Content::Plain(stream) => self
                .vol
                .read_stream(stream, offset, &mut buf, "file data")
                .map_err(FsError::corrupt)?,
            Content::Wof {
                format,
                size,
                compressed,
            } => {
                let read_at =
                    |at: u64, b: &mut [u8]| self.vol.read_stream(compressed, at, b, wof::STREAM);
                let file = wof::WofFile {
                    format: *format,
                    size: *size,
                    compressed_len: compressed.len(),
                    read_at: &read_at,
                };
                let base = match compressed {
                    Stream::NonResident { at, .. } => *at,
                    Stream::Resident(_) => 0,
                };
                file.read(offset, &mut buf).map_err(|e| {
                    FsError::corrupt(match e {
                        wof::WofError::Read(e) => e,
                        wof::WofError::Invalid {
                            what,
                            offset,
                            expected,
                            found,
                        } => Error::Invalid {
                            what: format!(
                                "{what} at {offset:#x} of {} (MFT record {})",
                                wof::STREAM,
                                rec.number
                            ),
                            offset: base,
                            expected,
                            found,
                        },
                    })
                })?;
            }
        }
        Ok(buf)
    }
}

/// Reads `len` bytes at `pos` of a WOF-compressed file of `size` bytes in format `format` (the
/// number in the reparse point) whose `WofCompressedData` stream is `compressed`, for the fuzz
/// target: the error is a message.
#[doc(hidden)]
pub fn wof_read(
    format: u32,
    size: u64,
    compressed: &[u8],
    pos: u64,
    len: usize,
) -> Result<Vec<u8>, String> {
    let format = wof::Format::from_number(format).ok_or("unknown format")?;
    let read_at = |at: u64, b: &mut [u8]| -> Result<(), String> {
        let s = usize::try_from(at)
            .ok()
            .and_then(|at| compressed.get(at..at.checked_add(b.len())?))
            .ok_or("read past the stream")?;
        b.copy_from_slice(s);
        Ok(())
    };
    let file = wof::WofFile {
        format,
        size,
        compressed_len: compressed.len() as u64,
        read_at: &read_at,
    };
    let n = size.saturating_sub(pos).min(len as u64) as usize;
    let mut buf = vec![0u8; n];
    file.read(pos, &mut buf).map_err(|e| match e {
        wof::WofError::Read(e) => e,
        wof::WofError::Invalid { what, found, .. } => format!("{what}: {found}"),
    })?;
    Ok(buf)
}

/// XPRESS Huffman-decodes `input` (one WOF chunk) into all of `out`, for the fuzz target: the
/// error is `(offset in input, reason)`.
#[doc(hidden)]
pub fn xpress_decompress(input: &[u8], out: &mut [u8]) -> Result<(), (usize, &'static str)> {
    xpress::decompress(input, out).map_err(|e| (e.at, e.what))
}

/// LZX-decodes `input` (one WOF chunk) into all of `out`, for the fuzz target: the error is
/// `(offset in input, reason)`.
#[doc(hidden)]
pub fn lzx_decompress(input: &[u8], out: &mut [u8]) -> Result<(), (usize, &'static str)> {
    lzx::decompress(input, out).map_err(|e| (e.at, e.what))
}

/// LZNT1-decodes `input` (one compression unit) into `out`, for the fuzz target: the error is
/// `(offset in input, reason)`.
#[doc(hidden)]
pub fn lznt1_decompress(input: &[u8], out: &mut [u8]) -> Result<usize, (usize, &'static str)> {
    lznt1::decompress(input, out).map_err(|e| (e.at, e.what))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reparse data: tag, then the buffer after the 8-byte header.
    fn reparse(tag: u32, sub: &str, print: &str, flags: Option<u32>) -> Vec<u8> {
        let sub: Vec<u8> = sub.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let print: Vec<u8> = print.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut data = Vec::new();
        data.extend(0u16.to_le_bytes());
        data.extend((sub.len() as u16).to_le_bytes());
        data.extend((sub.len() as u16).to_le_bytes());
        data.extend((print.len() as u16).to_le_bytes());
        if let Some(f) = flags {
            data.extend(f.to_le_bytes());
        }
        data.extend(&sub);
        data.extend(&print);
        let mut b = tag.to_le_bytes().to_vec();
        b.extend((data.len() as u16).to_le_bytes());
        b.extend([0, 0]);
        b.extend(data);
        b
    }

    #[test]
    fn reparse_targets() {
        let check = |b: Vec<u8>, expected: Option<&str>| {
            assert_eq!(
                reparse_target(&b)
                    .map(|t| String::from_utf8(t).unwrap())
                    .as_deref(),
                expected
            );
        };
        let j = IO_REPARSE_TAG_MOUNT_POINT;
        let s = IO_REPARSE_TAG_SYMLINK;
        check(
            reparse(
                j,
                "\\??\\C:\\Windows\\System32",
                "C:\\Windows\\System32",
                None,
            ),
            Some("/Windows/System32"),
        );
        check(reparse(j, "\\??\\D:\\", "D:\\", None), Some("/"));
        check(
            reparse(s, "\\??\\C:\\Users\\Public", "C:\\Users\\Public", Some(0)),
            Some("/Users/Public"),
        );
        check(
            reparse(s, "..\\config\\SYSTEM", "..\\config\\SYSTEM", Some(1)),
            Some("../config/SYSTEM"),
        );
        check(
            reparse(s, "\\??\\UNC\\server\\share", "\\\\server\\share", Some(0)),
            None,
        );
        check(
            reparse(
                j,
                "\\??\\Volume{0a1b2c3d-0000-0000-0000-100000000000}\\",
                "",
                None,
            ),
            None,
        );
        check(reparse(0x8000_0013, "x", "x", None), None); // deduplication
        let mut lx = IO_REPARSE_TAG_LX_SYMLINK.to_le_bytes().to_vec();
        lx.extend(12u16.to_le_bytes());
        lx.extend([0, 0]);
        lx.extend(2u32.to_le_bytes());
        lx.extend(b"/usr/bin");
        check(lx, Some("/usr/bin"));
        check(vec![3, 0, 0, 0xa0, 0xff, 0xff], None); // length past the end
    }
}
