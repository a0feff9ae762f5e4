//! Decompression of btrfs extents: zlib, LZO (btrfs's segmented framing) and zstd.
//!
//! Every decoder is told how many bytes the extent says it holds (`ram_bytes`) and fails when
//! the data would decode to more; data that decodes to less is padded with zeros, as the kernel
//! leaves the rest of the page zeroed.

use std::io::Read;

use crate::lzo;

/// The compression field of a file extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Zlib,
    Lzo,
    Zstd,
}

impl Algorithm {
    pub(crate) fn from_code(code: u8) -> Option<Algorithm> {
        match code {
            1 => Some(Algorithm::Zlib),
            2 => Some(Algorithm::Lzo),
            3 => Some(Algorithm::Zstd),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Algorithm::Zlib => "zlib",
            Algorithm::Lzo => "lzo",
            Algorithm::Zstd => "zstd",
        }
    }
}

/// Why compressed data could not be decoded (the caller adds where it lies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The data decodes to more than `limit` bytes.
    TooLong { limit: usize },
    /// The decoder rejected the data.
    Invalid(String),
}

/// Largest zstd window accepted (btrfs compresses with a 128 KiB window).
const ZSTD_MAX_WINDOW: u64 = 1 << 20;

/// Decodes `src`, which must produce at most `ram_bytes` bytes; shorter output is zero-padded.
pub(crate) fn decompress(
    alg: Algorithm,
    src: &[u8],
    ram_bytes: usize,
    sectorsize: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = match alg {
        Algorithm::Zlib => zlib(src, ram_bytes)?,
        Algorithm::Zstd => zstd(src, ram_bytes)?,
        Algorithm::Lzo => lzo_segments(src, ram_bytes, sectorsize)?,
    };
    if out.len() > ram_bytes {
        return Err(DecodeError::TooLong { limit: ram_bytes });
    }
    out.resize(ram_bytes, 0);
    Ok(out)
}

/// Reads at most `limit + 1` bytes so over-long output is seen without decoding all of it.
fn read_bounded(mut r: impl Read, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(limit.min(1 << 20));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    (&mut r)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Invalid(e.to_string()))?;
    if out.len() > limit {
        return Err(DecodeError::TooLong { limit });
    }
    Ok(out)
}

/// A zlib stream. Like the kernel, the two-byte header is checked and skipped and the deflate
/// data decoded raw, so the trailing Adler-32 is not required.
fn zlib(src: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let body = match src {
        [cmf, flg, rest @ ..]
            if cmf & 0x0f == 8
                && flg & 0x20 == 0
                && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 =>
        {
            rest
        }
        _ => {
            return Err(DecodeError::Invalid(
                "not a zlib stream (bad header)".into(),
            ));
        }
    };
    read_bounded(flate2::read::DeflateDecoder::new(body), limit)
}

fn zstd(src: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let dec = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(src, ZSTD_MAX_WINDOW)
        .map_err(|e| DecodeError::Invalid(format!("zstd frame header: {e}")))?;
    read_bounded(dec, limit)
}

fn le32(b: &[u8], off: usize) -> Option<usize> {
    let s = b.get(off..off.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok()
}

/// btrfs's LZO framing: a 32-bit total length, then segments of a 32-bit length and LZO1X data
/// each decoding to at most one sector; a segment header never straddles a sector boundary
/// (zero padding fills the gap).
fn lzo_segments(src: &[u8], limit: usize, sectorsize: usize) -> Result<Vec<u8>, DecodeError> {
    let bad = |m: String| DecodeError::Invalid(m);
    let total =
        le32(src, 0).ok_or_else(|| bad("LZO data shorter than its length header".into()))?;
    if total < 4 || total > src.len() {
        return Err(bad(format!(
            "LZO total length {total} outside 4..={} (the compressed extent)",
            src.len()
        )));
    }
    let mut out = Vec::with_capacity(limit.min(1 << 20));
    let mut pos = 4;
    while pos < total {
        let seg_len = le32(src, pos)
            .ok_or_else(|| bad(format!("LZO segment header at byte {pos} is cut off")))?;
        let start = pos + 4;
        let end = start
            .checked_add(seg_len)
            .filter(|&e| e <= total)
            .ok_or_else(|| {
                bad(format!(
                    "LZO segment at byte {pos} is {seg_len} bytes, past the total length {total}"
                ))
            })?;
        let room = limit - out.len();
        let part = lzo::decompress(&src[start..end], room).map_err(|e| match e {
            lzo::LzoError::OutputOverrun => DecodeError::TooLong { limit },
            e => bad(format!("LZO segment at byte {pos}: {e}")),
        })?;
        out.extend_from_slice(&part);
        pos = end;
        let left = sectorsize - pos % sectorsize;
        if left < 4 {
            pos += left;
        }
        if out.len() >= limit && pos < total {
            // Another segment follows output that is already complete.
            return Err(DecodeError::TooLong { limit });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(alg: Algorithm, src: &[u8], ram: usize, expected: Result<&[u8], DecodeError>) {
        let got = decompress(alg, src, ram, 4096);
        assert_eq!(got.as_deref().map_err(Clone::clone), expected, "{alg:?}");
    }

    fn zlib_of(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn zlib_decodes_pads_and_refuses_overlong_output() {
        let z = zlib_of(b"hello hello hello");
        check(Algorithm::Zlib, &z, 17, Ok(b"hello hello hello"));
        check(Algorithm::Zlib, &z, 20, Ok(b"hello hello hello\0\0\0"));
        check(
            Algorithm::Zlib,
            &z,
            10,
            Err(DecodeError::TooLong { limit: 10 }),
        );
        assert!(matches!(
            decompress(Algorithm::Zlib, b"\x00\x00junk", 10, 4096),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn lzo_framing_is_checked() {
        // total 17: one segment of 9 bytes decoding to "hello".
        let mut f = 17u32.to_le_bytes().to_vec();
        f.extend_from_slice(&9u32.to_le_bytes());
        f.extend_from_slice(b"\x16hello\x11\x00\x00");
        check(Algorithm::Lzo, &f, 5, Ok(b"hello"));
        check(
            Algorithm::Lzo,
            &f,
            4,
            Err(DecodeError::TooLong { limit: 4 }),
        );
        let mut long = f.clone();
        long[4] = 200;
        assert!(matches!(
            decompress(Algorithm::Lzo, &long, 5, 4096),
            Err(DecodeError::Invalid(m)) if m.contains("past the total length")
        ));
        // A second segment after output that is already complete.
        let mut two = 30u32.to_le_bytes().to_vec();
        for _ in 0..2 {
            two.extend_from_slice(&9u32.to_le_bytes());
            two.extend_from_slice(b"\x16hello\x11\x00\x00");
        }
        check(Algorithm::Lzo, &two, 10, Ok(b"hellohello"));
        check(
            Algorithm::Lzo,
            &two,
            5,
            Err(DecodeError::TooLong { limit: 5 }),
        );
        let mut huge_total = f;
        huge_total[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decompress(Algorithm::Lzo, &huge_total, 5, 4096).is_err());
    }
}
