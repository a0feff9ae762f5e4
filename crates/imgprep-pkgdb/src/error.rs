use std::io;

/// Why a database (or one record of it) could not be read.
///
/// Every variant names the structure (`what`) and the byte offset where it was found. For
/// [`crate::rpm_header`] the offset is relative to the start of the blob.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the bytes failed (usually: the structure runs past the end of the file).
    #[error("{what} at {offset:#x}: {source}")]
    Read {
        /// The structure being read.
        what: &'static str,
        /// Where.
        offset: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A size taken from the data is above the limit this crate allows.
    #[error("{what} at {offset:#x} is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// The structure.
        what: &'static str,
        /// Where.
        offset: u64,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The database holds more of something than a listing keeps; the rest is left out.
    #[error("more than {limit} {what}: the rest are left out")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A magic number did not match.
    #[error("{what} at {offset:#x}: bad magic (expected {expected}, found {found})")]
    BadMagic {
        /// The structure.
        what: &'static str,
        /// Where.
        offset: u64,
        /// The magic it should have.
        expected: String,
        /// The bytes found.
        found: String,
    },
    /// A field has a value the format does not allow.
    #[error("{what} at {offset:#x}: expected {expected}, found {found}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// Where.
        offset: u64,
        /// What the format allows.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A pointer (offset, page number, block number) lies outside the file or structure.
    #[error("{what} at {offset:#x} points to {target:#x}, past the end ({limit:#x})")]
    OutOfBounds {
        /// The pointer.
        what: &'static str,
        /// Where the pointer is.
        offset: u64,
        /// Where it points.
        target: u64,
        /// The end it must stay below.
        limit: u64,
    },
    /// A chain of pages comes back to a page already visited.
    #[error("{what} at {offset:#x} loops back to page {page}")]
    Loop {
        /// The chain.
        what: &'static str,
        /// Where the looping pointer is.
        offset: u64,
        /// The page visited twice.
        page: u64,
    },
    /// A tree nests deeper than any real database does.
    #[error("{what} at {offset:#x} nests deeper than {limit} levels")]
    TooDeep {
        /// The tree.
        what: &'static str,
        /// The page where the limit was hit.
        offset: u64,
        /// The limit.
        limit: u32,
    },
    /// The data uses a feature of the format that this crate does not read.
    #[error("{what} at {offset:#x}: {feature} is not supported")]
    Unsupported {
        /// The structure.
        what: &'static str,
        /// Where.
        offset: u64,
        /// The feature.
        feature: String,
    },
    /// Something the format requires is absent.
    #[error("{what} is missing (looked at {offset:#x})")]
    Missing {
        /// What is missing.
        what: &'static str,
        /// Where it was looked for.
        offset: u64,
    },
}
