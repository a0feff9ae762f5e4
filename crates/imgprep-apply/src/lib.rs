//! Applying a prepare plan: the one place imgprep writes into a disk image.
//!
//! A plan is computed natively (no appliance) as a list of [`Instr`]uctions: write a file, make
//! a directory or link, set a registry value, run a program of the guest in the appliance. This
//! crate carries them out through `imgprep-guestfs` in one appliance launch ([`Session`]), on
//! qcow2 overlays of the input disks that a [`Workspace`] creates next to the output, so the
//! input's bytes never change until the result is verified; the overlays then become the output
//! (converted to the format the cloud imports, renamed into place) or, with `--in-place`, are
//! committed into the input. Any failure leaves no output and the input untouched.
//!
//! It does not decide what to write (`imgprep-plan` does, from the guest's configuration) and
//! does not verify the result (the caller re-runs the checks natively on [`Workspace::stage`]'s
//! images before [`Workspace::commit`]).
#![forbid(unsafe_code)]

mod output;
mod session;

use std::path::PathBuf;

pub use output::{Input, Layout, OutputFormat, Workspace};
pub use session::{LaunchSpec, Session};

/// Registry data to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegData {
    /// REG_SZ.
    Sz(String),
    /// REG_EXPAND_SZ.
    ExpandSz(String),
    /// REG_MULTI_SZ.
    MultiSz(Vec<String>),
    /// REG_DWORD.
    Dword(u32),
    /// REG_QWORD.
    Qword(u64),
    /// REG_BINARY.
    Binary(Vec<u8>),
}

/// One thing done to the guest, in the appliance. Guest paths are absolute, inside the guest's
/// mounted tree; parent directories exist (a plan creates them first with [`Instr::Mkdir`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instr {
    /// Create a directory (and missing parents), then set its mode and owner.
    Mkdir {
        /// Guest path.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// Create or replace a file with `content`, then set its mode and owner.
    Write {
        /// Guest path.
        path: String,
        /// The bytes.
        content: Vec<u8>,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// Copy a host file into the guest, then set its mode and owner.
    Upload {
        /// Host file.
        from: PathBuf,
        /// Guest path.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// Create (or replace) a symbolic link at `path` pointing to `target`.
    Symlink {
        /// Guest path of the link.
        path: String,
        /// Its target, stored as given.
        target: String,
    },
    /// Remove a file or link (nothing if absent).
    Remove {
        /// Guest path.
        path: String,
    },
    /// Unpack an uncompressed tar archive (numeric owners) from the host into a guest directory.
    TarIn {
        /// Host archive.
        tar: PathBuf,
        /// Guest directory.
        dir: String,
    },
    /// Run a program of the guest (chrooted into it, network off).
    Run {
        /// Program and arguments.
        argv: Vec<String>,
    },
    /// Set a registry value (creating the keys on the way).
    RegistrySet {
        /// Guest path of the hive file.
        hive: String,
        /// Key below the hive root, `\`-separated.
        key: String,
        /// Value name (`""` for the default value).
        name: String,
        /// The data.
        value: RegData,
    },
    /// Delete a registry value, or a key with everything below it when `name` is `None`.
    RegistryDelete {
        /// Guest path of the hive file.
        hive: String,
        /// Key below the hive root.
        key: String,
        /// Value name.
        name: Option<String>,
    },
}

/// Why applying failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// A host file could not be created, read or renamed.
    #[error(transparent)]
    Io(std::io::Error),
    /// An external tool failed.
    #[error("{tool}: {detail}")]
    Tool {
        /// The tool.
        tool: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// libguestfs failed outside a particular file.
    #[error(transparent)]
    Guestfs(#[from] imgprep_guestfs::Error),
    /// A filesystem of the guest could not be mounted in the appliance.
    #[error("mounting {device} at {path} in the appliance")]
    Mount {
        /// libguestfs mountable.
        device: String,
        /// Guest path.
        path: String,
        /// Why.
        #[source]
        source: imgprep_guestfs::Error,
    },
    /// A guest file operation failed.
    #[error("{path}")]
    Guest {
        /// Guest path.
        path: String,
        /// Why.
        #[source]
        source: imgprep_guestfs::Error,
    },
    /// A guest program failed.
    #[error("running `{argv}` in the guest")]
    Command {
        /// The command line.
        argv: String,
        /// What it said.
        #[source]
        source: imgprep_guestfs::Error,
    },
    /// A registry edit failed.
    #[error("registry {hive}\\{key}")]
    Registry {
        /// Guest path of the hive.
        hive: String,
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// An edit was refused as unsafe or unbounded.
    #[error("{0}")]
    Refused(String),
}
