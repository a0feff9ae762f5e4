//! LZO1X decompression (the format `lzo1x_1_compress` writes), bounds-checked on both sides.
//!
//! Every read of the input and every write or back-reference into the output is checked, so
//! hostile input can only produce an error, and the output never grows past the caller's limit.

/// Why an LZO1X stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LzoError {
    /// The stream ends in the middle of an instruction.
    InputOverrun,
    /// The stream would produce more than the allowed output.
    OutputOverrun,
    /// A match refers to bytes before the start of the output.
    LookBehind,
    /// The end marker is missing or malformed, or bytes follow it.
    BadEnd,
}

impl std::fmt::Display for LzoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LzoError::InputOverrun => "LZO stream ends inside an instruction",
            LzoError::OutputOverrun => "LZO stream decodes to more bytes than allowed",
            LzoError::LookBehind => "LZO match refers to data before the start of the output",
            LzoError::BadEnd => "LZO end marker missing or followed by extra bytes",
        })
    }
}

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> Result<usize, LzoError> {
        let b = *self.data.get(self.pos).ok_or(LzoError::InputOverrun)?;
        self.pos += 1;
        Ok(usize::from(b))
    }

    fn le16(&mut self) -> Result<usize, LzoError> {
        let lo = self.byte()?;
        let hi = self.byte()?;
        Ok(lo | (hi << 8))
    }

    /// A run length encoded as zero bytes (255 each) then a non-zero byte, added to `base`.
    fn long_length(&mut self, base: usize) -> Result<usize, LzoError> {
        let mut len = base;
        loop {
            let b = self.byte()?;
            if b != 0 {
                return len.checked_add(b).ok_or(LzoError::OutputOverrun);
            }
            len = len.checked_add(255).ok_or(LzoError::OutputOverrun)?;
        }
    }

    fn literals(&mut self, n: usize, out: &mut Vec<u8>, limit: usize) -> Result<(), LzoError> {
        let end = self.pos.checked_add(n).ok_or(LzoError::InputOverrun)?;
        let src = self.data.get(self.pos..end).ok_or(LzoError::InputOverrun)?;
        if out.len().saturating_add(n) > limit {
            return Err(LzoError::OutputOverrun);
        }
        out.extend_from_slice(src);
        self.pos = end;
        Ok(())
    }
}

fn copy_match(out: &mut Vec<u8>, dist: usize, len: usize, limit: usize) -> Result<(), LzoError> {
    if dist == 0 || dist > out.len() {
        return Err(LzoError::LookBehind);
    }
    if out.len().saturating_add(len) > limit {
        return Err(LzoError::OutputOverrun);
    }
    let start = out.len() - dist;
    for i in 0..len {
        let b = out[start + i];
        out.push(b);
    }
    Ok(())
}

/// Decodes one LZO1X stream, producing at most `limit` bytes.
pub(crate) fn decompress(src: &[u8], limit: usize) -> Result<Vec<u8>, LzoError> {
    let mut out = Vec::with_capacity(limit.min(src.len().saturating_mul(4)).min(1 << 20));
    let mut inp = Input { data: src, pos: 0 };
    // Literals the previous instruction copied (0..=3, or 4 for "4 or more").
    let mut state;
    let first = *src.first().ok_or(LzoError::InputOverrun)?;
    if first > 17 {
        inp.pos = 1;
        let t = usize::from(first) - 17;
        inp.literals(t, &mut out, limit)?;
        state = if t < 4 { t } else { 4 };
    } else {
        state = 0;
    }
    loop {
        let t = inp.byte()?;
        let (dist, len, next);
        if t < 16 {
            if state == 0 {
                // A run of 4 or more literals.
                let n = if t == 0 { inp.long_length(15)? } else { t };
                inp.literals(n + 3, &mut out, limit)?;
                state = 4;
                continue;
            }
            let h = inp.byte()?;
            next = t & 3;
            if state == 4 {
                dist = (h << 2) + (t >> 2) + 2049;
                len = 3;
            } else {
                dist = (h << 2) + (t >> 2) + 1;
                len = 2;
            }
        } else if t >= 64 {
            let h = inp.byte()?;
            next = t & 3;
            dist = (h << 3) + ((t >> 2) & 7) + 1;
            len = (t >> 5) + 1;
        } else if t >= 32 {
            let l = t & 31;
            len = 2 + if l == 0 { inp.long_length(31)? } else { l };
            let v = inp.le16()?;
            next = v & 3;
            dist = (v >> 2) + 1;
        } else {
            let l = t & 7;
            len = 2 + if l == 0 { inp.long_length(7)? } else { l };
            let v = inp.le16()?;
            next = v & 3;
            let d = ((t & 8) << 11) + (v >> 2);
            if d == 0 {
                // End of stream: 0x11 0x00 0x00 exactly, and nothing after it.
                if len != 3 || inp.pos != src.len() {
                    return Err(LzoError::BadEnd);
                }
                return Ok(out);
            }
            dist = d + 0x4000;
        }
        copy_match(&mut out, dist, len, limit)?;
        inp.literals(next, &mut out, limit)?;
        state = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], expected: Result<&[u8], LzoError>) {
        assert_eq!(decompress(input, 64).as_deref().map_err(|e| *e), expected);
    }

    #[test]
    fn decodes_hand_built_streams() {
        // First-byte literal run of 5, end marker.
        check(b"\x16hello\x11\x00\x00", Ok(b"hello"));
        // Literal "ab", then a 3-byte match at distance 2 (M2: 0b01_0_001_00? built below).
        // 0x40 | (L=0)<<5 | D=1<<2 | S=0 -> len 3, dist = (0<<3) + 1 + 1 = 2.
        check(b"\x13ab\x44\x00\x11\x00\x00", Ok(b"ababa"));
        check(b"\x16hello", Err(LzoError::InputOverrun));
        check(b"\x16hello\x11\x00\x00x", Err(LzoError::BadEnd));
        check(b"\x13ab\x44\x10\x11\x00\x00", Err(LzoError::LookBehind));
        assert_eq!(
            decompress(b"\x16hello\x11\x00\x00", 4),
            Err(LzoError::OutputOverrun)
        );
    }
}
