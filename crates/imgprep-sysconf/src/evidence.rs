//! Evidence: the file, line and text a fact was read from.

use serde::{Deserialize, Serialize};

/// One file, one line, one piece of text that shows why a fact (or a verdict) holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Evidence {
    /// Guest path (or `registry:HIVE\key\value`, or a host path for parameters).
    pub path: String,
    /// 1-based line, when the evidence is a line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The line or value.
    pub text: String,
}

impl Evidence {
    /// Evidence from a line of a guest file.
    pub fn line(path: impl Into<String>, line: usize, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: u32::try_from(line).ok(),
            text: text.into(),
        }
    }

    /// Evidence about a whole file or key.
    pub fn file(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            text: text.into(),
        }
    }
}
