//! Guest text files: read line by line for evidence, and edited with the smallest change.

use imgprep_guest::{Guest, GuestError};

/// Largest configuration file read.
pub const MAX_TEXT: u64 = 8 << 20;

/// A guest text file as numbered lines.
#[derive(Debug, Clone)]
pub struct Lines {
    /// The guest path.
    pub path: String,
    /// `(1-based line number, text)`.
    pub lines: Vec<(usize, String)>,
}

impl Lines {
    /// Lines of `text` as read from `path`.
    pub fn new(path: impl Into<String>, text: &str) -> Self {
        Lines {
            path: path.into(),
            lines: text
                .lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.to_owned()))
                .collect(),
        }
    }

    /// Lines that are neither blank nor `#` comments, trimmed.
    pub fn meaningful(&self) -> impl Iterator<Item = (usize, &str)> {
        self.lines
            .iter()
            .map(|(n, l)| (*n, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    }

    /// The text of line `n` (1-based), trimmed; empty when there is no such line.
    pub fn text(&self, n: usize) -> &str {
        n.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map_or("", |(_, l)| l.trim())
    }
}

/// The file as lines; `Ok(None)` when it does not exist.
pub fn read_lines(g: &dyn Guest, path: &str) -> Result<Option<Lines>, GuestError> {
    let Some(text) = g.read_text(path, MAX_TEXT)? else {
        return Ok(None);
    };
    Ok(Some(Lines::new(path, &text)))
}

/// Entries of a guest directory, sorted by name (as the C locale sorts bytes); empty when it
/// does not exist.
pub fn list_dir(g: &dyn Guest, path: &str) -> Vec<String> {
    let mut names: Vec<String> = g
        .read_dir(path)
        .map(|es| {
            es.into_iter()
                .map(|e| String::from_utf8_lossy(&e.name).into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The first non-blank line of a guest file, trimmed.
pub fn first_line(g: &dyn Guest, path: &str) -> Option<String> {
    let lines = read_lines(g, path).ok()??;
    lines
        .lines
        .iter()
        .map(|(_, l)| l.trim())
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// A text file held as its exact bytes, split into lines that keep their terminators, so that
/// an edit changes only the lines it touches and everything else round-trips byte for byte
/// (CRLF endings, a missing final newline, invalid UTF-8 in other lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFile {
    /// Each line with its terminator (`\n` or `\r\n`; the last one may have none).
    lines: Vec<Vec<u8>>,
}

impl TextFile {
    /// Splits `bytes` into lines.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                lines.push(bytes[start..=i].to_vec());
                start = i + 1;
            }
        }
        if start < bytes.len() {
            lines.push(bytes[start..].to_vec());
        }
        TextFile { lines }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.lines.concat()
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Line `n` (1-based) without its terminator, as lossy text.
    pub fn line(&self, n: usize) -> Option<String> {
        let l = self.lines.get(n.checked_sub(1)?)?;
        Some(String::from_utf8_lossy(strip_eol(l)).into_owned())
    }

    /// Every line without its terminator, as lossy text, numbered from 1.
    pub fn numbered(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, String::from_utf8_lossy(strip_eol(l)).into_owned()))
    }

    /// The terminator new lines get: the file's own (CRLF when its first line has one).
    fn eol(&self) -> &'static [u8] {
        match self.lines.first() {
            Some(l) if l.ends_with(b"\r\n") => b"\r\n",
            _ => b"\n",
        }
    }

    /// Replaces line `n` (1-based) with `text`, keeping its terminator. `text` is usually the
    /// line as [`TextFile::line`] gives it, edited: what it has in common with that text at the
    /// start and at the end keeps the line's own bytes (invalid UTF-8 included), so only the
    /// edited part changes. No-op when `text` is what the line already says; false when there
    /// is no line `n`.
    pub fn replace(&mut self, n: usize, text: &str) -> bool {
        let Some(l) = n.checked_sub(1).and_then(|i| self.lines.get_mut(i)) else {
            return false;
        };
        let raw = strip_eol(l);
        if raw == text.as_bytes() {
            return true;
        }
        let old = String::from_utf8_lossy(raw);
        // Common prefix and suffix, in characters, not overlapping.
        let prefix: usize = old
            .chars()
            .zip(text.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum();
        let suffix: usize = old[prefix..]
            .chars()
            .rev()
            .zip(text[prefix..].chars().rev())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum();
        let start = raw_offset(raw, prefix);
        let end = raw_offset(raw, old.len() - suffix);
        let mut new = raw[..start].to_vec();
        new.extend_from_slice(&text.as_bytes()[prefix..text.len() - suffix]);
        new.extend_from_slice(&l[end..]);
        *l = new;
        true
    }

    /// Inserts `text` as a new line after line `n` (0: at the top). A last line without a
    /// terminator gets one first.
    pub fn insert_after(&mut self, n: usize, text: &str) {
        let eol = self.eol().to_vec();
        let n = n.min(self.lines.len());
        if n > 0
            && n == self.lines.len()
            && let Some(last) = self.lines.last_mut()
            && !last.ends_with(b"\n")
        {
            last.extend_from_slice(&eol);
        }
        let mut new = text.as_bytes().to_vec();
        new.extend_from_slice(&eol);
        self.lines.insert(n, new);
    }

    /// Appends `text` as a new last line.
    pub fn append(&mut self, text: &str) {
        let n = self.lines.len();
        self.insert_after(n, text);
    }

    /// Removes line `n` (1-based); false when there is no such line.
    pub fn remove(&mut self, n: usize) -> bool {
        match n.checked_sub(1) {
            Some(i) if i < self.lines.len() => {
                self.lines.remove(i);
                true
            }
            _ => false,
        }
    }
}

/// The offset in `raw` of byte `at` of `String::from_utf8_lossy(raw)` (a character boundary):
/// valid UTF-8 is the same in both, each invalid sequence is one U+FFFD (3 bytes) in the text.
fn raw_offset(raw: &[u8], at: usize) -> usize {
    let (mut text, mut bytes) = (0, 0);
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid().len();
        if at <= text + valid {
            return bytes + (at - text);
        }
        text += valid;
        bytes += valid;
        if !chunk.invalid().is_empty() {
            if at < text + 3 {
                return bytes;
            }
            text += 3;
            bytes += chunk.invalid().len();
        }
    }
    bytes
}

fn strip_eol(l: &[u8]) -> &[u8] {
    let l = l.strip_suffix(b"\n").unwrap_or(l);
    l.strip_suffix(b"\r").unwrap_or(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_keeps_the_bytes_it_does_not_change() {
        let raw = b"plugins=a.A,\xe9\xe9 # caf\xc3\xa9\r\nx=\xff\n";
        let mut f = TextFile::parse(raw);
        let old = f.line(1).unwrap();
        assert!(f.replace(1, &old.replace(" #", ",c.C #")));
        assert_eq!(
            f.to_bytes(),
            b"plugins=a.A,\xe9\xe9,c.C # caf\xc3\xa9\r\nx=\xff\n"
        );
        // The edit at the very end of a line ending in invalid bytes.
        assert!(f.replace(2, &format!("{}y", f.line(2).unwrap())));
        assert!(f.to_bytes().ends_with(b"\r\nx=\xffy\n"));
        // A whole new line; nothing to do when the text is the line.
        let mut g = TextFile::parse(b"\xfe\n");
        assert!(g.replace(1, "umask 022"));
        assert_eq!(g.to_bytes(), b"umask 022\n");
        assert!(g.replace(1, "umask 022") && !g.replace(2, "x"));
        assert_eq!(g.to_bytes(), b"umask 022\n");
    }
}
