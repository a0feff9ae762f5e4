//! Reading guest text files line by line, for evidence with line numbers.

use imgprep_guest::{Guest, GuestError};

/// Largest configuration file a probe reads.
pub(crate) const MAX_TEXT: u64 = 8 << 20;

/// A guest text file as numbered lines.
#[derive(Debug, Clone)]
pub(crate) struct Lines {
    /// The guest path.
    pub path: String,
    /// `(1-based line number, text)`.
    pub lines: Vec<(usize, String)>,
}

impl Lines {
    /// Lines that are neither blank nor `#` comments, trimmed.
    pub(crate) fn meaningful(&self) -> impl Iterator<Item = (usize, &str)> {
        self.lines
            .iter()
            .map(|(n, l)| (*n, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    }
}

/// The file as lines; `Ok(None)` when it does not exist.
pub(crate) fn read_lines(g: &dyn Guest, path: &str) -> Result<Option<Lines>, GuestError> {
    let Some(text) = g.read_text(path, MAX_TEXT)? else {
        return Ok(None);
    };
    Ok(Some(Lines {
        path: path.to_owned(),
        lines: text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_owned()))
            .collect(),
    }))
}

/// Entries of a guest directory, sorted by name; empty when it does not exist.
pub(crate) fn list_dir(g: &dyn Guest, path: &str) -> Vec<String> {
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
