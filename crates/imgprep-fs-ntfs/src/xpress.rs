//! XPRESS Huffman ([MS-XCA] 2.1, LZ77 + Huffman) as WOF uses it: each chunk (at most 16 KiB, so
//! one 64 KiB Huffman block) starts with 512 four-bit code lengths, then the coded literals and
//! matches; a match symbol holds the length's low nibble and the offset's bit count, longer
//! lengths follow as a byte or a 16-bit integer among the coded words.
//!
//! Written here: the `xpress-huffman` crate (0.1.3) stops decoding when its input cursor reaches
//! the end of the chunk while codes are still buffered, so a chunk whose last symbols sit in its
//! last words comes back short (an XPRESS4K chunk of the ntfs-wof fixture decodes to 4095 of its
//! 4096 bytes). This decoder stops when the output is full, and refuses a match that would
//! reach before the chunk or past its end.

use crate::huffman::{Bits, Code, DecodeError};

/// Largest output: one Huffman block.
const MAX_OUT: usize = 65536;
const TABLE: usize = 256;
const MIN_MATCH: usize = 3;

/// Decodes one chunk into exactly `out.len()` bytes.
pub(crate) fn decompress(input: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
    if out.len() > MAX_OUT {
        return Err(DecodeError {
            at: 0,
            what: "chunk larger than one 64 KiB Huffman block",
        });
    }
    let table = input.get(..TABLE).ok_or(DecodeError {
        at: input.len(),
        what: "chunk shorter than its 256-byte code length table",
    })?;
    let lens: Vec<u8> = table.iter().flat_map(|&b| [b & 0xf, b >> 4]).collect();
    let code = Code::new(&lens, 15).map_err(|what| DecodeError { at: 0, what })?;
    let mut bits = Bits::new(&input[TABLE..]);
    let err = |bits: &Bits<'_>, what| DecodeError {
        at: TABLE + bits.next,
        what,
    };
    let mut pos = 0usize;
    while pos < out.len() {
        let sym = usize::from(code.decode(&mut bits).map_err(|e| DecodeError {
            at: TABLE + e.at,
            what: e.what,
        })?);
        if sym < 256 {
            out[pos] = sym as u8;
            pos += 1;
            continue;
        }
        let mut length = sym & 0xf;
        let log2 = ((sym >> 4) & 0xf) as u32;
        bits.ensure(16);
        let offset = (1usize << log2) | bits.pop(log2) as usize;
        if length == 0xf {
            length += usize::from(bits.byte());
            if length == 0xf + 0xff {
                length = usize::from(bits.u16_le());
            }
        }
        length += MIN_MATCH;
        if offset > pos {
            return Err(err(&bits, "match offset before the start of the chunk"));
        }
        if length > out.len() - pos {
            return Err(err(&bits, "match past the end of the chunk"));
        }
        for k in pos..pos + length {
            out[k] = out[k - offset];
        }
        pos += length;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code where symbols `a` and `b` have 1-bit codes (0 and 1).
    fn two_symbols(a: usize, b: usize) -> Vec<u8> {
        let mut t = vec![0u8; TABLE];
        for s in [a, b] {
            t[s / 2] |= if s % 2 == 0 { 1 } else { 0x10 };
        }
        t
    }

    #[test]
    fn literals_and_a_match() {
        // 'A' (code 0), then match symbol 0x100 | (log2 0 << 4) | length 2 (code 1): offset 1,
        // length 2 + 3 = 5.
        let mut input = two_symbols(b'A' as usize, 0x102);
        // Bits: 0 (A), 1 (match), no offset bits; rest zeros (more A's).
        input.extend(0b0100_0000_0000_0000u16.to_le_bytes());
        input.extend([0, 0]);
        let mut out = [0u8; 8];
        decompress(&input, &mut out).unwrap();
        assert_eq!(&out, b"AAAAAAAA");
    }

    #[test]
    fn the_last_symbols_in_the_last_word_are_decoded() {
        // Ten literals in the first (and only) word: nothing after it.
        let mut input = two_symbols(b'x' as usize, b'y' as usize);
        input.extend(0b0101_0101_0100_0000u16.to_le_bytes());
        let mut out = [0u8; 10];
        decompress(&input, &mut out).unwrap();
        assert_eq!(&out, b"xyxyxyxyxy");
    }

    #[test]
    fn hostile_chunks_are_errors() {
        // A match first: nothing to copy from.
        let mut input = two_symbols(b'A' as usize, 0x102);
        input.extend(0x8000u16.to_le_bytes());
        assert_eq!(
            decompress(&input, &mut [0u8; 8]).unwrap_err().what,
            "match offset before the start of the chunk"
        );
        // A match longer than what is left.
        let mut input = two_symbols(b'A' as usize, 0x10e);
        input.extend(0b0100_0000_0000_0000u16.to_le_bytes());
        assert_eq!(
            decompress(&input, &mut [0u8; 8]).unwrap_err().what,
            "match past the end of the chunk"
        );
        assert!(decompress(&[0u8; 100], &mut [0u8; 8]).is_err());
        // Three 1-bit codes overflow the code space.
        let mut t = two_symbols(1, 2);
        t[0] |= 1;
        assert!(decompress(&t, &mut [0u8; 8]).is_err());
        assert!(decompress(&[0u8; 300], &mut vec![0u8; MAX_OUT + 1]).is_err());
    }
}
