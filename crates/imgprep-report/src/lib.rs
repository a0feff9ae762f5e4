//! Renders inspections and check results for people and programs.
//!
//! Every renderer returns a `String`; the inspection's JSON and XML, which grow with the
//! package list, can also be written piece by piece to an `io::Write` the caller gives. This
//! crate never prints and never decides exit codes (the cli does). The XML form of an inspection is virt-inspector's document, element for element.
#![forbid(unsafe_code)]

pub mod check;
pub mod inspect;
pub mod mapping;
pub mod plan;
pub mod rules;
mod xml;

/// Why a report could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A JSON Lines report has a line that is not an image report.
    #[error("{file}:{line}: not an imgprep check report line: {message}")]
    Jsonl {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
}
