//! Agent bundles: what `imgprep prepare --worker` injects into an image and `imgprep bundle`
//! builds.
//!
//! A bundle is a `.tar.gz` whose first member is `imgprep-bundle.json`, the [`Manifest`]: what
//! the bundle is (a vendor worker or a Cloudify agent virtualenv), the directory it installs to
//! in the guest (its prefix), the distribution it was built for, every file with its type, size,
//! mode, owner and SHA-256, the service that runs it and the account it runs as, or the
//! installer a Windows guest runs at first boot. Bundles are
//! byte-for-byte reproducible ([`write_bundle`]): entries sorted, one fixed mtime
//! (`SOURCE_DATE_EPOCH`), numeric owners, no gzip timestamp.
//!
//! [`Bundle::open`] validates a bundle before anything uses it: paths stay inside the prefix
//! (no absolute names, no `..`, no entry under a symbolic link), links point inside it (but a
//! `cloudify-agent` virtualenv's `bin/python*`, which may link to the base interpreter its
//! manifest declares in `target.interpreter`, and to nothing else), only
//! regular files, directories and symbolic links, sizes bounded before anything is read, every
//! file's checksum as the manifest says. [`Bundle::open_plain`] does the same for a plain
//! `.tar.gz` without a manifest. [`Bundle::write_clean_tar`] then writes the validated entries as
//! a plain tar (numeric owners, nothing else) for the appliance to unpack.
//!
//! [`collect_tree`] reads a host directory (a vendor worker) into bundle members. The [`agent`]
//! module builds a Cloudify agent virtualenv on the host from the agent packager's configuration
//! file, running the chosen Python and pip, and rewrites it for its guest prefix. Building inside
//! an image, and installing a bundle into one, belong to other crates.
#![forbid(unsafe_code)]

pub mod agent;
mod manifest;
mod read;
mod tree;
mod write;

pub use manifest::{FileEntry, FileKind, Installer, Kind, MANIFEST, Manifest, Service, Target};
pub use read::{Bundle, Entry, Limits};
pub use tree::{collect_tree, members_of_tar};
pub use write::{SourceFile, write_bundle};

/// Why a bundle is refused or cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a host file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The archive is not a readable gzip-compressed tar.
    #[error("{path}: not a readable tar.gz ({detail})")]
    Archive {
        /// The bundle file.
        path: String,
        /// What the decoder said.
        detail: String,
    },
    /// An entry is refused.
    #[error("{bundle}: entry {entry:?}: {reason}")]
    Entry {
        /// The bundle file.
        bundle: String,
        /// The entry's name as stored.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The manifest is missing, unreadable or disagrees with the archive.
    #[error("{bundle}: {reason}")]
    Manifest {
        /// The bundle file.
        bundle: String,
        /// What is wrong.
        reason: String,
    },
    /// A host file or directory cannot go into a bundle.
    #[error("{path}: {reason}")]
    Source {
        /// The host path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The agent packager configuration is refused.
    #[error("{path}: {reason}")]
    Config {
        /// The configuration file.
        path: String,
        /// What is wrong, and where.
        reason: String,
    },
    /// A build step failed.
    #[error("{step}: {reason}")]
    Build {
        /// The step.
        step: String,
        /// What failed.
        reason: String,
    },
}
