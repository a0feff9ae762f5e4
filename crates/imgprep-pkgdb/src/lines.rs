//! Line-oriented databases (dpkg status, apk installed) read in bounded pieces from a
//! [`ReadAt`], so a large or hostile file never sits in memory whole.

use crate::{Error, ReadAt};

/// Bytes read from the source at a time.
const CHUNK: usize = 64 << 10;

/// Hands out the lines of a source in pieces of at most `max` bytes, as `fgets` into a buffer of
/// `max + 1` bytes does: a longer line comes out in several pieces.
pub(crate) struct Pieces<'a, R: ReadAt + ?Sized> {
    src: &'a R,
    size: u64,
    /// Source offset of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
    /// Start of the next piece in `buf`.
    at: usize,
    what: &'static str,
}

impl<'a, R: ReadAt + ?Sized> Pieces<'a, R> {
    pub(crate) fn new(src: &'a R, what: &'static str) -> Self {
        Self {
            src,
            size: src.size(),
            base: 0,
            buf: Vec::new(),
            at: 0,
            what,
        }
    }

    /// The next piece (with its `\n`, if it has one) and its offset; `None` at the end.
    pub(crate) fn next(&mut self, max: usize) -> Result<Option<(u64, &[u8])>, Error> {
        if self.buf.len() - self.at < max {
            self.refill(max)?;
        }
        let avail = &self.buf[self.at..];
        if avail.is_empty() {
            return Ok(None);
        }
        let window = &avail[..avail.len().min(max)];
        let n = window
            .iter()
            .position(|&c| c == b'\n')
            .map_or(window.len(), |i| i + 1);
        let offset = self.base + self.at as u64;
        let start = self.at;
        self.at += n;
        Ok(Some((offset, &self.buf[start..start + n])))
    }

    /// Keeps the unread bytes and reads on until at least `want` are buffered (or the end).
    fn refill(&mut self, want: usize) -> Result<(), Error> {
        self.buf.drain(..self.at);
        self.base += self.at as u64;
        self.at = 0;
        let end = self.base + self.buf.len() as u64;
        let room = want.max(CHUNK).saturating_sub(self.buf.len());
        let n = (self.size - end).min(room as u64) as usize;
        if n == 0 {
            return Ok(());
        }
        let old = self.buf.len();
        self.buf.resize(old + n, 0);
        self.src
            .read_exact_at(end, &mut self.buf[old..])
            .map_err(|source| Error::Read {
                what: self.what,
                offset: end,
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_long_lines_and_cross_chunks() {
        let mut data = b"a\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', CHUNK + 10));
        data.extend(b"\nlast");
        let mut p = Pieces::new(&data, "test");
        let mut got = Vec::new();
        while let Some((off, piece)) = p.next(1023).unwrap() {
            got.push((off, piece.len(), piece.last().copied()));
        }
        assert_eq!(got[0], (0, 2, Some(b'\n')));
        assert_eq!(got[1], (2, 1023, Some(b'x')));
        let total: usize = got.iter().map(|g| g.1).sum();
        assert_eq!(total, data.len());
        assert_eq!(*got.last().unwrap(), (data.len() as u64 - 4, 4, Some(b't')));
    }
}
