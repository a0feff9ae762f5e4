//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

use crate::{Format, Role};

/// Why an image could not be opened or read.
///
/// Offsets are byte offsets in the file that holds the structure (the image itself, or the
/// backing file or extent named by the variant wrapping it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the image file (or a file it names) failed.
    #[error(transparent)]
    Io(#[from] io::Error),

    /// A header field holds a value the format does not allow.
    #[error("{format} {field} at {offset:#x}: expected {expected}, found {found}")]
    InvalidField {
        /// Format being parsed.
        format: Format,
        /// Name of the field or structure.
        field: &'static str,
        /// Offset of the field in its file.
        offset: u64,
        /// What the format allows.
        expected: String,
        /// What the file holds.
        found: String,
    },

    /// A structure lies (partly) past the end of its file.
    #[error(
        "{format} {what} at {offset:#x} points past the end of the file ({end:#x} > {file_size:#x})"
    )]
    PastEof {
        /// Format being parsed.
        format: Format,
        /// The structure, e.g. "L2 table".
        what: &'static str,
        /// Offset of the structure in its file.
        offset: u64,
        /// Offset of the end of the structure.
        end: u64,
        /// Size of the file.
        file_size: u64,
    },

    /// A table is larger than the virtual size (or a sane limit) allows.
    #[error("{format} {what} at {offset:#x} has {entries} entries, more than the {limit} allowed")]
    TableTooLarge {
        /// Format being parsed.
        format: Format,
        /// The table, e.g. "L1 table".
        what: &'static str,
        /// Offset of the table.
        offset: u64,
        /// Number of entries the header claims.
        entries: u64,
        /// Largest number accepted.
        limit: u64,
    },

    /// A table is too small to cover the virtual size.
    #[error(
        "{format} {what} at {offset:#x} has {entries} entries, fewer than the {needed} the \
         virtual size needs"
    )]
    TableTooSmall {
        /// Format being parsed.
        format: Format,
        /// The table.
        what: &'static str,
        /// Offset of the table.
        offset: u64,
        /// Number of entries the header claims.
        entries: u64,
        /// Number of entries needed.
        needed: u64,
    },

    /// An offset that must be aligned is not.
    #[error("{format} {what} at {offset:#x} is not aligned to {alignment:#x} (found {value:#x})")]
    Misaligned {
        /// Format being parsed.
        format: Format,
        /// What the offset locates.
        what: &'static str,
        /// Where the offset is stored.
        offset: u64,
        /// The offset found.
        value: u64,
        /// Required alignment.
        alignment: u64,
    },

    /// A checksum does not match.
    #[error("{format} {what} at {offset:#x}: checksum {found:#010x}, expected {expected:#010x}")]
    Checksum {
        /// Format being parsed.
        format: Format,
        /// The structure.
        what: &'static str,
        /// Offset of the structure.
        offset: u64,
        /// Checksum computed from the data.
        expected: u32,
        /// Checksum stored in the file.
        found: u32,
    },

    /// A compressed cluster or grain does not inflate to what the format requires.
    #[error("{format} compressed {what} at {offset:#x}: {detail}")]
    Decompress {
        /// Format being parsed.
        format: Format,
        /// "cluster" or "grain".
        what: &'static str,
        /// Offset of the compressed data.
        offset: u64,
        /// What went wrong.
        detail: String,
    },

    /// The image uses a feature this reader does not implement; reading on would give wrong data.
    #[error("{format} image uses an unsupported feature: {feature}")]
    Unsupported {
        /// Format of the image.
        format: Format,
        /// The feature, with the value that names it.
        feature: String,
    },

    /// The file is in a disk image format that this crate does not read at all.
    #[error("image at {offset:#x} is in the {name} format, which is not supported")]
    UnsupportedFormat {
        /// qemu's name of the format.
        name: &'static str,
        /// Offset of the signature that identified it.
        offset: u64,
    },

    /// A VMDK descriptor line cannot be parsed.
    #[error("vmdk descriptor line {line}: {detail}")]
    Descriptor {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },

    /// The image names a backing file (or extent file) that could not be opened.
    #[error("{role} {name:?} (resolved to {})", path.display())]
    BackingOpen {
        /// Where the image names it.
        role: Role,
        /// The name as stored in the image.
        name: String,
        /// The path it resolved to.
        path: PathBuf,
        /// Why opening failed.
        source: io::Error,
    },

    /// The image names a file outside the directories it may read from.
    #[error(
        "{role} {name:?} resolves to {}, outside the image's directory ({}); files an image \
         names are read only from there unless allowed (--allow-backing {})",
        path.display(),
        join_paths(allowed),
        outside.display()
    )]
    BackingOutside {
        /// Where the image names it.
        role: Role,
        /// The name as stored in the image.
        name: String,
        /// The path it resolved to (canonical).
        path: PathBuf,
        /// The directories it could have been in.
        allowed: Vec<PathBuf>,
        /// The directory that would have to be allowed.
        outside: PathBuf,
    },

    /// A directory given to allow backing files cannot be used.
    #[error("allowed backing directory {}: {source}", path.display())]
    AllowedDir {
        /// The directory as given.
        path: PathBuf,
        /// What is wrong with it.
        source: io::Error,
    },

    /// The image names a backing file (or extent), but the caller allows no other files.
    #[error("image names {role} {name:?}, but no files may be opened besides the image")]
    BackingRefused {
        /// Where the image names it.
        role: Role,
        /// The name as stored in the image.
        name: String,
    },

    /// A backing file was not given a format and its content looks like a raw image.
    #[error(
        "backing file {} has no declared format and looks like a raw image; raw backing files \
         are never probed, the backing format must be declared in the image \
         (qemu-img rebase -u -F raw)",
        path.display()
    )]
    UndeclaredRawBacking {
        /// The backing file.
        path: PathBuf,
    },

    /// The image declares a backing format this crate does not know.
    #[error("unknown backing file format {name:?}")]
    UnknownBackingFormat {
        /// The name as stored in the image.
        name: String,
    },

    /// A backing chain comes back to a file already in it.
    #[error("backing chain loops: {} is already in the chain", path.display())]
    BackingLoop {
        /// The file seen twice.
        path: PathBuf,
    },

    /// A backing chain is deeper than the limit.
    #[error("backing chain is deeper than {limit} images")]
    BackingTooDeep {
        /// The limit.
        limit: usize,
    },

    /// A differencing disk names its parent, but none of the names leads to a file.
    #[error("{format} differencing disk: no parent locator leads to a file: {tried}")]
    ParentNotFound {
        /// Format of the child.
        format: Format,
        /// Each locator tried and why it did not lead to a file.
        tried: String,
    },

    /// A differencing disk's parent is not an image of the child's format.
    #[error(
        "parent {} is a {found} image; a {child} differencing disk's parent must be a {child} \
         image",
        path.display()
    )]
    ParentFormat {
        /// Format of the child.
        child: Format,
        /// The parent file.
        path: PathBuf,
        /// The format detected in it.
        found: Format,
    },

    /// A differencing disk's record of its parent's identity does not match the parent found.
    #[error(
        "{format} {child_field} {expected} does not match the {parent_field} {found} of the \
         parent {}",
        parent.display()
    )]
    ParentMismatch {
        /// Format of the child.
        format: Format,
        /// The child's field naming the parent's identity, e.g. `parentCID`.
        child_field: &'static str,
        /// Its value.
        expected: String,
        /// The parent's field holding its identity, e.g. `CID`.
        parent_field: &'static str,
        /// Its value.
        found: String,
        /// The parent file.
        parent: PathBuf,
    },

    /// An error in a backing file or extent file, with its path.
    #[error("in {}", path.display())]
    InFile {
        /// The file the error is about.
        path: PathBuf,
        /// The error.
        source: Box<Error>,
    },
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// Converts into an `io::Error` for the `ReadAt` read path, keeping this error as the source.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            Error::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }

    pub(crate) fn invalid(
        format: Format,
        field: &'static str,
        offset: u64,
        expected: impl Into<String>,
        found: impl ToString,
    ) -> Self {
        Error::InvalidField {
            format,
            field,
            offset,
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    pub(crate) fn unsupported(format: Format, feature: impl Into<String>) -> Self {
        Error::Unsupported {
            format,
            feature: feature.into(),
        }
    }
}
