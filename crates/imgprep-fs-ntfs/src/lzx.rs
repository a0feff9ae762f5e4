//! LZX as Windows writes it in WOF-compressed files (and WIM resources): every 32 KiB chunk is
//! compressed on its own with a 32 KiB window, blocks are verbatim, aligned-offset or
//! uncompressed, a block's size is one flag bit (32768) or 16 bits, and x86 `CALL` targets
//! (E8 bytes) are always translated with the fixed file size 12000000.
//!
//! Written here: the LZX crates implement the cabinet / [MS-PATCH] variant, whose headers
//! differ. The output is bounded by the caller's buffer, and every symbol writes at least one
//! byte, so decoding always ends.

/// Largest chunk (and the window): 32 KiB.
pub(crate) const CHUNK: usize = 32768;

const NUM_CHARS: usize = 256;
/// Offset slots of a 32 KiB window.
const NUM_SLOTS: usize = 30;
const NUM_MAIN: usize = NUM_CHARS + NUM_SLOTS * 8;
const NUM_LEN: usize = 249;
const NUM_PRE: usize = 20;
const NUM_ALIGNED: usize = 8;
const MIN_MATCH: usize = 2;
const PRIMARY_LENS: usize = 7;
const MIN_ALIGNED_SLOT: usize = 8;
const E8_FILE_SIZE: i32 = 12_000_000;

/// Match offset of each slot with its extra bits at zero (recent-offset slots 0..3 unused).
const SLOT_BASE: [u32; NUM_SLOTS] = [
    0, 0, 0, 1, 2, 4, 6, 10, 14, 22, 30, 46, 62, 94, 126, 190, 254, 382, 510, 766, 1022, 1534,
    2046, 3070, 4094, 6142, 8190, 12286, 16382, 24574,
];
const EXTRA_BITS: [u32; NUM_SLOTS] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

use crate::huffman::{Bits, Code, DecodeError};

/// Reads code lengths through a precode, as deltas from `lens` (the previous block's).
fn read_lens(bits: &mut Bits<'_>, lens: &mut [u8]) -> Result<(), DecodeError> {
    let mut pre = [0u8; NUM_PRE];
    for p in &mut pre {
        *p = bits.read(4) as u8;
    }
    let pre = Code::new(&pre, 15).map_err(|w| bits.err(w))?;
    let delta = |old: u8, sym: u16| ((u16::from(old) + 17 - sym) % 17) as u8;
    let mut i = 0;
    while i < lens.len() {
        let sym = pre.decode(bits)?;
        let (run, len) = match sym {
            0..=16 => (1, delta(lens[i], sym)),
            17 => (4 + bits.read(4) as usize, 0),
            18 => (20 + bits.read(5) as usize, 0),
            _ => {
                let run = 4 + bits.read(1) as usize;
                let sym = pre.decode(bits)?;
                if sym > 17 {
                    return Err(bits.err("precode symbol above 17 in a run of equal lengths"));
                }
                (run, delta(lens[i], sym))
            }
        };
        let run_to = lens
            .get_mut(i..i + run)
            .ok_or_else(|| bits.err("run of code lengths past the last symbol"))?;
        run_to.fill(len);
        i += run;
    }
    Ok(())
}

/// Decodes one chunk (`out.len()` at most [`CHUNK`] bytes, all of which it must produce).
pub(crate) fn decompress(input: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
    if out.len() > CHUNK {
        return Err(DecodeError {
            at: 0,
            what: "chunk larger than the 32 KiB window",
        });
    }
    let mut bits = Bits::new(input);
    let mut main_lens = [0u8; NUM_MAIN];
    let mut len_lens = [0u8; NUM_LEN];
    let mut recent = [1u32; 3];
    let mut pos = 0usize;
    while pos < out.len() {
        bits.ensure(4);
        let block_type = bits.pop(3);
        let size = if bits.pop(1) == 1 {
            CHUNK
        } else {
            bits.read(16) as usize
        };
        let mut aligned = None;
        match block_type {
            1 | 2 => {
                if block_type == 2 {
                    let mut lens = [0u8; NUM_ALIGNED];
                    for l in &mut lens {
                        *l = bits.read(3) as u8;
                    }
                    aligned = Some(Code::new(&lens, 7).map_err(|w| bits.err(w))?);
                }
                read_lens(&mut bits, &mut main_lens[..NUM_CHARS])?;
                read_lens(&mut bits, &mut main_lens[NUM_CHARS..])?;
                read_lens(&mut bits, &mut len_lens)?;
            }
            3 => {
                // The header starts on the next 16-bit boundary; when the stream is already
                // there, the next 16 bits are skipped.
                bits.ensure(1);
                bits.align();
                for r in &mut recent {
                    *r = bits.u32_le();
                }
                if recent.contains(&0) {
                    return Err(bits.err("uncompressed block with a recent offset of 0"));
                }
            }
            _ => return Err(bits.err("block type other than 1, 2 or 3")),
        }
        if size == 0 || size > out.len() - pos {
            return Err(bits.err("block size of 0 or past the end of the chunk"));
        }
        let end = pos + size;
        if block_type == 3 {
            let src = input
                .get(bits.next..bits.next + size)
                .ok_or_else(|| bits.err("uncompressed block past the end of the chunk"))?;
            out[pos..end].copy_from_slice(src);
            bits.next += size + (size & 1);
            pos = end;
            continue;
        }
        let main = Code::new(&main_lens, 16).map_err(|w| bits.err(w))?;
        let lens = Code::new(&len_lens, 16).map_err(|w| bits.err(w))?;
        while pos < end {
            let sym = usize::from(main.decode(&mut bits)?);
            if sym < NUM_CHARS {
                out[pos] = sym as u8;
                pos += 1;
                continue;
            }
            let mut length = sym % 8;
            let slot = (sym - NUM_CHARS) / 8;
            if length == PRIMARY_LENS {
                length += usize::from(lens.decode(&mut bits)?);
            }
            length += MIN_MATCH;
            let offset = if slot < 3 {
                let o = recent[slot];
                recent[slot] = recent[0];
                o
            } else {
                let extra = EXTRA_BITS[slot];
                let v = match &aligned {
                    Some(a) if slot >= MIN_ALIGNED_SLOT => {
                        (bits.read(extra - 3) << 3) | u32::from(a.decode(&mut bits)?)
                    }
                    _ => bits.read(extra),
                };
                recent[2] = recent[1];
                recent[1] = recent[0];
                SLOT_BASE[slot] + v
            };
            recent[0] = offset;
            let offset = offset as usize;
            if offset == 0 || offset > pos {
                return Err(bits.err("match offset before the start of the chunk"));
            }
            if length > end - pos {
                return Err(bits.err("match past the end of its block"));
            }
            for k in pos..pos + length {
                out[k] = out[k - offset];
            }
            pos += length;
        }
    }
    undo_e8(out);
    Ok(())
}

/// Turns the absolute `CALL` targets the compressor wrote back into relative ones. A `CALL`
/// cannot start in the last 10 bytes.
fn undo_e8(data: &mut [u8]) {
    if data.len() <= 10 {
        return;
    }
    let end = data.len() - 10;
    let mut p = 0usize;
    while p < end {
        if data[p] != 0xe8 {
            p += 1;
            continue;
        }
        let t = &mut data[p + 1..p + 5];
        let abs = i32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let here = p as i32;
        let rel = if abs >= 0 {
            (abs < E8_FILE_SIZE).then(|| abs - here)
        } else {
            (abs >= -here).then(|| abs + E8_FILE_SIZE)
        };
        if let Some(rel) = rel {
            t.copy_from_slice(&rel.to_le_bytes());
        }
        p += 5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bits written most significant first into little-endian 16-bit words.
    #[derive(Default)]
    struct Writer {
        words: Vec<u16>,
        cur: u32,
        n: u32,
    }

    impl Writer {
        fn put(&mut self, v: u32, n: u32) {
            for i in (0..n).rev() {
                self.cur = (self.cur << 1) | ((v >> i) & 1);
                self.n += 1;
                if self.n == 16 {
                    self.words.push(self.cur as u16);
                    self.cur = 0;
                    self.n = 0;
                }
            }
        }
        fn bytes(mut self) -> Vec<u8> {
            if self.n > 0 {
                self.put(0, 16 - self.n);
            }
            self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
        }
    }

    #[test]
    fn an_uncompressed_block_is_copied_and_e8_targets_translated_back() {
        // Block type 3, default size flag 0, size 20; then alignment, R0..R2, the bytes.
        let mut w = Writer::default();
        w.put(3, 3);
        w.put(0, 1);
        w.put(20, 16);
        let mut input = w.bytes();
        for r in [1u32, 1, 1] {
            input.extend(r.to_le_bytes());
        }
        // A CALL at 2 whose absolute target 100 becomes 100 - 2 = 98.
        let mut plain = vec![0x90u8; 20];
        plain[2] = 0xe8;
        plain[3..7].copy_from_slice(&100i32.to_le_bytes());
        input.extend(&plain);
        let mut out = [0u8; 20];
        decompress(&input, &mut out).unwrap();
        let mut want = plain.clone();
        want[3..7].copy_from_slice(&98i32.to_le_bytes());
        assert_eq!(out.to_vec(), want);
    }

    #[test]
    fn hostile_headers_are_errors() {
        let mut w = Writer::default();
        w.put(5, 3); // no such block type
        assert_eq!(
            decompress(&w.bytes(), &mut [0u8; 100]).unwrap_err().what,
            "block type other than 1, 2 or 3"
        );
        let mut w = Writer::default();
        w.put(3, 3);
        w.put(1, 1); // 32768 bytes, more than the 100 wanted
        let mut input = w.bytes();
        input.extend([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(
            decompress(&input, &mut [0u8; 100]).unwrap_err().what,
            "block size of 0 or past the end of the chunk"
        );
        // Nothing at all: a verbatim block of empty codes decodes literal 0s; zero input reads
        // as a block type 0.
        assert!(decompress(&[], &mut [0u8; 10]).is_err());
        assert!(decompress(&[0xff; 64], &mut [0u8; CHUNK + 1]).is_err());
    }

    #[test]
    fn e8_translation_skips_the_last_ten_bytes() {
        let mut d = vec![0u8; 16];
        d[5] = 0xe8; // starts at 5 < 16 - 10 = 6: translated
        d[6..10].copy_from_slice(&10i32.to_le_bytes());
        let mut late = d.clone();
        undo_e8(&mut d);
        assert_eq!(i32::from_le_bytes(d[6..10].try_into().unwrap()), 5);
        late[5] = 0;
        late[6] = 0xe8; // starts at 6: left alone
        let before = late.clone();
        undo_e8(&mut late);
        assert_eq!(late, before);
    }
}
