//! WOF-compressed files ("CompactOS", `compact /exe:…`): a reparse point tagged
//! `IO_REPARSE_TAG_WOF` names the format, the unnamed `$DATA` is sparse with the uncompressed
//! size, and the named stream `WofCompressedData` holds a table of chunk offsets followed by
//! the chunks, each compressed on its own (XPRESS Huffman in 4, 8 or 16 KiB chunks, LZX in
//! 32 KiB chunks) or stored as it is when compressing did not make it smaller.
//!
//! The codecs sit behind [`ChunkCodec`] (`xpress`, `lzx`). Every chunk is checked against the
//! table before it is read, and decodes into a buffer of the chunk size, never more.

use crate::{lzx, xpress};

/// The reparse tag of files the Windows Overlay Filter provides.
pub(crate) const IO_REPARSE_TAG_WOF: u32 = 0x8000_0017;
/// Name of the stream holding the compressed chunks.
pub(crate) const STREAM: &str = "WofCompressedData";

const WOF_CURRENT_VERSION: u32 = 1;
const WOF_PROVIDER_WIM: u32 = 1;
const WOF_PROVIDER_FILE: u32 = 2;
const FILE_PROVIDER_CURRENT_VERSION: u32 = 1;

/// A compression format of the file provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// XPRESS Huffman, 4 KiB chunks.
    Xpress4k,
    /// LZX, 32 KiB chunks.
    Lzx,
    /// XPRESS Huffman, 8 KiB chunks.
    Xpress8k,
    /// XPRESS Huffman, 16 KiB chunks.
    Xpress16k,
}

impl Format {
    /// The format numbered `n` in the reparse point.
    pub(crate) fn from_number(n: u32) -> Option<Format> {
        Some(match n {
            0 => Format::Xpress4k,
            1 => Format::Lzx,
            2 => Format::Xpress8k,
            3 => Format::Xpress16k,
            _ => return None,
        })
    }

    /// Uncompressed bytes per chunk.
    pub(crate) fn chunk_size(self) -> u64 {
        match self {
            Format::Xpress4k => 4096,
            Format::Xpress8k => 8192,
            Format::Xpress16k => 16384,
            Format::Lzx => lzx::CHUNK as u64,
        }
    }

    fn codec(self) -> &'static dyn ChunkCodec {
        match self {
            Format::Lzx => &Lzx,
            _ => &Xpress,
        }
    }
}

/// Why a chunk did not decode: `at` is an offset in the compressed chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecError {
    pub(crate) at: usize,
    pub(crate) what: String,
}

/// Decoder of one chunk of a compression format.
pub(crate) trait ChunkCodec: Sync {
    /// Decodes `input` (one compressed chunk) into exactly `out.len()` bytes.
    fn decode(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError>;
}

struct Xpress;

impl ChunkCodec for Xpress {
    fn decode(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        xpress::decompress(input, out).map_err(|e| CodecError {
            at: e.at,
            what: e.what.into(),
        })
    }
}

struct Lzx;

impl ChunkCodec for Lzx {
    fn decode(&self, input: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        lzx::decompress(input, out).map_err(|e| CodecError {
            at: e.at,
            what: e.what.into(),
        })
    }
}

/// What the WOF reparse data (the whole reparse buffer, tag first) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reparse {
    /// A file compressed by the file provider in this format.
    File(Format),
    /// Something imgprep does not read: the name of the feature.
    Unsupported(&'static str),
}

pub(crate) fn parse_reparse(b: &[u8]) -> Reparse {
    let u32_at = |off: usize| crate::disk::u32_at(b, off);
    if b.len() < 8 + 16 || u32_at(8) != WOF_CURRENT_VERSION {
        return Reparse::Unsupported("WOF reparse point of an unknown version");
    }
    match u32_at(12) {
        WOF_PROVIDER_FILE => {}
        WOF_PROVIDER_WIM => {
            return Reparse::Unsupported("WOF file backed by a WIM image (WIMBoot)");
        }
        _ => return Reparse::Unsupported("WOF file of an unknown provider"),
    }
    if u32_at(16) != FILE_PROVIDER_CURRENT_VERSION {
        return Reparse::Unsupported("WOF file provider data of an unknown version");
    }
    match Format::from_number(u32_at(20)) {
        Some(f) => Reparse::File(f),
        None => Reparse::Unsupported("WOF compression format other than XPRESS or LZX"),
    }
}

/// Why a WOF stream could not be read; the caller adds where the stream lives.
#[derive(Debug)]
pub(crate) enum WofError<E> {
    /// Reading the compressed stream failed.
    Read(E),
    /// The chunk table or a chunk is not what the format allows.
    Invalid {
        what: String,
        /// Offset in the compressed stream.
        offset: u64,
        expected: String,
        found: String,
    },
}

/// Reads bytes of the compressed stream at an offset.
pub(crate) type ReadAt<'a, E> = &'a dyn Fn(u64, &mut [u8]) -> Result<(), E>;

/// A WOF-compressed file's data: `size` uncompressed bytes in chunks of `format`, read from the
/// compressed stream of `compressed_len` bytes through `read_at`.
pub(crate) struct WofFile<'a, E> {
    pub(crate) format: Format,
    pub(crate) size: u64,
    pub(crate) compressed_len: u64,
    pub(crate) read_at: ReadAt<'a, E>,
}

impl<E> WofFile<'_, E> {
    fn invalid(&self, what: String, offset: u64, expected: String, found: String) -> WofError<E> {
        WofError::Invalid {
            what,
            offset,
            expected,
            found,
        }
    }

    /// Number of chunks, the size of one table entry and of the table (checked against the
    /// stream: a table larger than the stream is refused before anything is read).
    fn layout(&self) -> Result<(u64, u64, u64), WofError<E>> {
        let chunks = self.size.div_ceil(self.format.chunk_size());
        let entry = if self.size <= u64::from(u32::MAX) {
            4
        } else {
            8
        };
        let table = chunks.saturating_sub(1).saturating_mul(entry);
        if table > self.compressed_len {
            return Err(self.invalid(
                "WOF chunk table".into(),
                0,
                format!(
                    "{} entries ({table:#x} bytes) inside the {:#x}-byte {STREAM} stream",
                    chunks.saturating_sub(1),
                    self.compressed_len
                ),
                "a shorter stream".into(),
            ));
        }
        Ok((chunks, entry, table))
    }

    /// Where chunk `i` starts, relative to the end of the table.
    fn chunk_start(&self, i: u64, entry: u64, table: u64) -> Result<u64, WofError<E>> {
        if i == 0 {
            return Ok(0);
        }
        let mut b = [0u8; 8];
        let at = (i - 1) * entry;
        (self.read_at)(at, &mut b[..entry as usize]).map_err(WofError::Read)?;
        let v = u64::from_le_bytes(b);
        if v > self.compressed_len - table {
            return Err(self.invalid(
                format!("WOF chunk table entry {}", i - 1),
                at,
                format!("at most {:#x}", self.compressed_len - table),
                format!("{v:#x}"),
            ));
        }
        Ok(v)
    }

    /// Reads `buf.len()` bytes at `pos` (the caller keeps them inside `size`).
    pub(crate) fn read(&self, pos: u64, buf: &mut [u8]) -> Result<(), WofError<E>> {
        let (chunks, entry, table) = self.layout()?;
        let cs = self.format.chunk_size();
        let mut plain = vec![0u8; cs as usize];
        let mut stored = Vec::new();
        let mut done = 0usize;
        while done < buf.len() {
            let p = pos + done as u64;
            let i = p / cs;
            if i >= chunks {
                return Err(self.invalid(
                    "read of a WOF file".into(),
                    p,
                    format!("inside its {} bytes", self.size),
                    format!("byte {p:#x}"),
                ));
            }
            let start = self.chunk_start(i, entry, table)?;
            let end = if i + 1 == chunks {
                self.compressed_len - table
            } else {
                self.chunk_start(i + 1, entry, table)?
            };
            let len = (self.size - i * cs).min(cs) as usize;
            let found = end.checked_sub(start);
            match found {
                Some(n) if n > 0 && n <= len as u64 => {}
                _ => {
                    return Err(self.invalid(
                        format!("stored size of WOF chunk {i}"),
                        table + start,
                        format!("1..={len} bytes"),
                        match found {
                            Some(n) => format!("{n} bytes"),
                            None => format!("an end ({end:#x}) before its start ({start:#x})"),
                        },
                    ));
                }
            }
            let n = (end - start) as usize;
            stored.resize(n, 0);
            (self.read_at)(table + start, &mut stored).map_err(WofError::Read)?;
            let out = &mut plain[..len];
            if n == len {
                out.copy_from_slice(&stored);
            } else {
                self.format
                    .codec()
                    .decode(&stored, out)
                    .map_err(|e| WofError::Invalid {
                        what: format!("WOF chunk {i} ({:?})", self.format),
                        offset: table + start + e.at as u64,
                        expected: "valid compressed data".into(),
                        found: e.what,
                    })?;
            }
            let in_chunk = (p - i * cs) as usize;
            let take = (len - in_chunk).min(buf.len() - done);
            buf[done..done + take].copy_from_slice(&out[in_chunk..in_chunk + take]);
            done += take;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reparse(provider: u32, format: u32) -> Vec<u8> {
        let mut b = IO_REPARSE_TAG_WOF.to_le_bytes().to_vec();
        b.extend(16u16.to_le_bytes());
        b.extend([0, 0]);
        for v in [1, provider, 1, format] {
            b.extend(u32::to_le_bytes(v));
        }
        b
    }

    #[test]
    fn reparse_points() {
        assert_eq!(
            parse_reparse(&reparse(2, 0)),
            Reparse::File(Format::Xpress4k)
        );
        assert_eq!(parse_reparse(&reparse(2, 1)), Reparse::File(Format::Lzx));
        assert_eq!(
            parse_reparse(&reparse(2, 3)),
            Reparse::File(Format::Xpress16k)
        );
        assert!(matches!(
            parse_reparse(&reparse(1, 0)),
            Reparse::Unsupported(w) if w.contains("WIMBoot")
        ));
        assert!(matches!(
            parse_reparse(&reparse(2, 4)),
            Reparse::Unsupported(_)
        ));
        assert!(matches!(
            parse_reparse(&reparse(2, 0)[..20]),
            Reparse::Unsupported(_)
        ));
    }

    fn file(
        data: &[u8],
        size: u64,
        format: Format,
        pos: u64,
        len: usize,
    ) -> Result<Vec<u8>, String> {
        let read = |at: u64, b: &mut [u8]| -> Result<(), ()> {
            let s = data.get(at as usize..at as usize + b.len()).ok_or(())?;
            b.copy_from_slice(s);
            Ok(())
        };
        let f = WofFile {
            format,
            size,
            compressed_len: data.len() as u64,
            read_at: &read,
        };
        let mut out = vec![0u8; len];
        f.read(pos, &mut out).map_err(|e| match e {
            WofError::Read(()) => "read".to_string(),
            WofError::Invalid { what, found, .. } => format!("{what}: {found}"),
        })?;
        Ok(out)
    }

    #[test]
    fn stored_chunks_and_table_checks() {
        // Two stored 4 KiB chunks and a stored 100-byte tail: table of two entries.
        let plain: Vec<u8> = (0..8292u32).map(|i| (i % 251) as u8).collect();
        let mut data = Vec::new();
        data.extend(4096u32.to_le_bytes());
        data.extend(8192u32.to_le_bytes());
        data.extend(&plain);
        assert_eq!(file(&data, 8292, Format::Xpress4k, 0, 8292).unwrap(), plain);
        assert_eq!(
            file(&data, 8292, Format::Xpress4k, 4000, 200).unwrap(),
            &plain[4000..4200]
        );
        // An entry going backwards, a chunk stored larger than its data, a table too large.
        let mut back = data.clone();
        back[4..8].copy_from_slice(&10u32.to_le_bytes());
        assert!(
            file(&back, 8292, Format::Xpress4k, 4096, 10)
                .unwrap_err()
                .contains("before")
        );
        let mut big = data.clone();
        big[0..4].copy_from_slice(&5000u32.to_le_bytes());
        assert!(
            file(&big, 8292, Format::Xpress4k, 0, 10)
                .unwrap_err()
                .contains("5000 bytes")
        );
        assert!(
            file(&data, 1 << 40, Format::Xpress4k, 0, 10)
                .unwrap_err()
                .contains("chunk table")
        );
    }
}
