//! LZNT1, the compression of NTFS compressed attributes ([MS-XCA] 2.5): a compression unit is a
//! sequence of chunks, each holding up to 4096 bytes of output, stored raw or as LZ77 tokens
//! whose offset/length split depends on the position inside the chunk.
//!
//! Written here rather than taken from a crate: the decoder must write into a buffer the caller
//! sized from the volume's compression unit and refuse anything that does not fit it.

/// Output bytes per chunk.
const CHUNK: usize = 4096;

/// Why a compression unit could not be decoded; `at` is the offset in the compressed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lznt1Error {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// Decodes the chunks of `input` into `out` (the whole compression unit, pre-sized by the
/// caller). Output the chunks do not reach, and the rest of a short chunk, is zero, as ntfs-3g
/// and Windows read it. Returns the number of bytes the chunks produced.
pub(crate) fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, Lznt1Error> {
    let mut i = 0usize;
    let mut o = 0usize;
    out.fill(0);
    while i + 2 <= input.len() && o < out.len() {
        let h = u16::from_le_bytes([input[i], input[i + 1]]);
        if h == 0 {
            break;
        }
        let len = usize::from(h & 0x0fff) + 1;
        let start = i + 2;
        let data = input.get(start..start + len).ok_or(Lznt1Error {
            at: i,
            what: "chunk longer than the compressed data",
        })?;
        let chunk_out = out
            .get_mut(o..(o + CHUNK).min(out.len()))
            .ok_or(Lznt1Error {
                at: i,
                what: "more chunks than the compression unit holds",
            })?;
        if h & 0x8000 == 0 {
            // Stored: the bytes as they are.
            let n = data.len().min(chunk_out.len());
            if data.len() > chunk_out.len() {
                return Err(Lznt1Error {
                    at: i,
                    what: "stored chunk larger than its output",
                });
            }
            chunk_out[..n].copy_from_slice(&data[..n]);
        } else {
            chunk(data, chunk_out).map_err(|(at, what)| Lznt1Error {
                at: start + at,
                what,
            })?;
        }
        i = start + len;
        o += CHUNK;
    }
    Ok(o.min(out.len()))
}

/// One compressed chunk into `out` (at most 4096 bytes).
fn chunk(data: &[u8], out: &mut [u8]) -> Result<(), (usize, &'static str)> {
    let mut i = 0usize;
    let mut pos = 0usize;
    while i < data.len() {
        let flags = data[i];
        i += 1;
        for bit in 0..8 {
            if i >= data.len() {
                return Ok(());
            }
            if flags & (1 << bit) == 0 {
                if pos >= out.len() {
                    return Err((i, "literal past the end of the chunk's output"));
                }
                out[pos] = data[i];
                pos += 1;
                i += 1;
            } else {
                let Some(t) = data.get(i..i + 2) else {
                    return Err((i, "token cut short"));
                };
                let token = u16::from_le_bytes([t[0], t[1]]);
                if pos == 0 {
                    return Err((i, "back reference before any output"));
                }
                // The offset takes more bits the further into the chunk we are.
                let mut lg = 0u32;
                let mut p = pos - 1;
                while p >= 0x10 {
                    lg += 1;
                    p >>= 1;
                }
                let offset = usize::from(token >> (12 - lg)) + 1;
                let length = usize::from(token & (0x0fff >> lg)) + 3;
                if offset > pos {
                    return Err((i, "back reference before the start of the chunk"));
                }
                if pos + length > out.len() {
                    return Err((i, "back reference past the end of the chunk's output"));
                }
                for k in 0..length {
                    out[pos + k] = out[pos + k - offset];
                }
                pos += length;
                i += 2;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_literals_and_references() {
        // "abcabcabcabc": 3 literals, then a token copying 9 bytes from offset 3.
        // At pos 3 the split is 12 bits of offset... lg = 0: offset in bits 15..12.
        let token: u16 = ((3 - 1) << 12) | (9 - 3);
        let mut data = vec![0b0000_1000, b'a', b'b', b'c'];
        data.extend(token.to_le_bytes());
        let h: u16 = 0xb000 | (data.len() as u16 - 1);
        let mut input = h.to_le_bytes().to_vec();
        input.extend(&data);
        let mut out = vec![0xffu8; 8192];
        assert_eq!(decompress(&input, &mut out), Ok(4096));
        assert_eq!(&out[..12], b"abcabcabcabc");
        assert!(out[12..].iter().all(|&b| b == 0));
    }

    #[test]
    fn stored_chunks_and_the_end_marker() {
        let mut input = (0x3000u16 | 4095).to_le_bytes().to_vec();
        input.extend(vec![7u8; 4096]);
        input.extend([0, 0]);
        input.extend([1, 2, 3]);
        let mut out = vec![0u8; 8192];
        assert_eq!(decompress(&input, &mut out), Ok(4096));
        assert!(out[..4096].iter().all(|&b| b == 7));
        assert!(out[4096..].iter().all(|&b| b == 0));
    }

    #[test]
    fn hostile_input_is_refused_not_overrun() {
        let mut out = vec![0u8; 4096];
        // Reference before any output.
        assert!(decompress(&[0x02, 0xb0, 0x01, 0x00, 0x00], &mut out).is_err());
        // A chunk header promising more bytes than there are.
        assert!(decompress(&[0xff, 0xbf, 0x00], &mut out).is_err());
        // Two chunks for a one-chunk unit: the second is not decoded.
        let mut two = (0x3000u16 | 4095).to_le_bytes().to_vec();
        two.extend(vec![1u8; 4096]);
        two.extend((0x3000u16 | 4095).to_le_bytes());
        two.extend(vec![2u8; 4096]);
        assert_eq!(decompress(&two, &mut out), Ok(4096));
        // Length running past the chunk: 'a' then copy 4100 bytes from offset 1.
        let token: u16 = 0x0fff; // lg = 0 at pos 1: offset 1, length 0xfff + 3
        let mut data = vec![0b10, b'a'];
        data.extend(token.to_le_bytes());
        data.extend([0b1]);
        data.extend(0x0fffu16.to_le_bytes());
        let mut input = (0xb000u16 | (data.len() as u16 - 1)).to_le_bytes().to_vec();
        input.extend(&data);
        let mut big = vec![0u8; 8192];
        assert!(decompress(&input, &mut big).is_err());
    }
}
