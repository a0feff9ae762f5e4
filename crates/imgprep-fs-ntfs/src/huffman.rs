//! The bit reader and canonical Huffman codes shared by the XPRESS Huffman and LZX decoders.
//!
//! Bits come in little-endian 16-bit words, most significant bit first. The reader keeps the
//! buffering of the reference decoders (wimlib's, which Windows' compressors and decompressors
//! agree with): a word is loaded only when fewer bits remain than a read needs, literal bytes
//! are read from after the words loaded so far, and aligning drops the whole buffer (where an
//! LZX uncompressed block's header starts depends on it). Input past the end reads as zero bits
//! and zero bytes, as there; callers bound their output.

/// Why a chunk could not be decoded: `at` is the input byte the reader had reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// Bits in little-endian 16-bit words, most significant bit first.
pub(crate) struct Bits<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) next: usize,
    /// Left-justified: the next bit is bit 31.
    buf: u32,
    left: u32,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Bits<'a> {
        Bits {
            data,
            next: 0,
            buf: 0,
            left: 0,
        }
    }

    fn word(&mut self) -> Option<u32> {
        let w = self.data.get(self.next..self.next + 2)?;
        self.next += 2;
        Some(u32::from(u16::from_le_bytes([w[0], w[1]])))
    }

    /// Makes at least `n` (at most 17) bits available; past the end of the input they are zeros.
    pub(crate) fn ensure(&mut self, n: u32) {
        if self.left >= n {
            return;
        }
        let Some(w) = self.word() else {
            self.left = 32;
            return;
        };
        self.buf |= w << (16 - self.left);
        self.left += 16;
        if n == 17 && self.left == 16 {
            let Some(w) = self.word() else {
                self.left = 32;
                return;
            };
            self.buf |= w;
            self.left = 32;
        }
    }

    pub(crate) fn peek(&self, n: u32) -> u32 {
        (self.buf >> 1) >> (31 - n)
    }

    pub(crate) fn pop(&mut self, n: u32) -> u32 {
        let v = self.peek(n);
        self.buf = self.buf.checked_shl(n).unwrap_or(0);
        self.left -= n;
        v
    }

    pub(crate) fn read(&mut self, n: u32) -> u32 {
        self.ensure(n);
        self.pop(n)
    }

    pub(crate) fn align(&mut self) {
        self.buf = 0;
        self.left = 0;
    }

    /// The next byte after the words loaded so far (0 past the end).
    pub(crate) fn byte(&mut self) -> u8 {
        match self.data.get(self.next) {
            Some(&b) => {
                self.next += 1;
                b
            }
            None => 0,
        }
    }

    /// The next 16-bit little-endian integer after the words loaded so far (0 past the end).
    pub(crate) fn u16_le(&mut self) -> u16 {
        match self.data.get(self.next..self.next + 2) {
            Some(b) => {
                self.next += 2;
                u16::from_le_bytes([b[0], b[1]])
            }
            None => 0,
        }
    }

    /// The next 32-bit little-endian integer after the words loaded so far (0 past the end).
    pub(crate) fn u32_le(&mut self) -> u32 {
        match self.data.get(self.next..self.next + 4) {
            Some(b) => {
                self.next += 4;
                u32::from_le_bytes([b[0], b[1], b[2], b[3]])
            }
            None => 0,
        }
    }

    pub(crate) fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            at: self.next,
            what,
        }
    }
}

/// A canonical Huffman code: symbols sorted by code length, then by value.
pub(crate) struct Code {
    counts: [u16; 17],
    symbols: Vec<u16>,
    max: u32,
    pub(crate) empty: bool,
}

impl Code {
    /// The code of `lens` (each at most `max`), which must fill the code space exactly or be
    /// empty (an empty code decodes symbol 0 from no bits).
    pub(crate) fn new(lens: &[u8], max: u32) -> Result<Code, &'static str> {
        let mut counts = [0u16; 17];
        for &l in lens {
            if u32::from(l) > max {
                return Err("Huffman code length above the maximum");
            }
            counts[usize::from(l)] += 1;
        }
        let mut left: i32 = 1;
        for &c in &counts[1..=max as usize] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err("Huffman code lengths overflow the code space");
            }
        }
        let empty = left == 1 << max;
        if left != 0 && !empty {
            return Err("Huffman code lengths leave the code incomplete");
        }
        let mut symbols: Vec<u16> = (0..lens.len() as u16)
            .filter(|&s| lens[usize::from(s)] != 0)
            .collect();
        symbols.sort_by_key(|&s| lens[usize::from(s)]);
        counts[0] = 0;
        Ok(Code {
            counts,
            symbols,
            max,
            empty,
        })
    }

    pub(crate) fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, DecodeError> {
        bits.ensure(self.max);
        if self.empty {
            return Ok(0);
        }
        let v = bits.peek(self.max);
        let (mut code, mut first, mut index) = (0u32, 0u32, 0u32);
        for len in 1..=self.max {
            code |= (v >> (self.max - len)) & 1;
            let count = u32::from(self.counts[len as usize]);
            if code < first + count {
                bits.pop(len);
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        // A complete code always ends above.
        Err(bits.err("Huffman code without a codeword for the input"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_lengths_must_fill_the_code_space() {
        assert!(Code::new(&[1, 1], 16).is_ok());
        assert!(Code::new(&[0, 0, 0], 16).unwrap().empty);
        assert!(Code::new(&[1, 1, 1], 16).is_err());
        assert!(Code::new(&[1, 0, 0], 16).is_err());
    }
}
