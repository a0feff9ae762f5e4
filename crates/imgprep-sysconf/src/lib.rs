//! The guest's configuration languages as a library: each parser reads files of a guest into
//! facts with evidence (file, line, text), and next to each reader is a minimal-diff editor that
//! returns the file operations an edit amounts to.
//!
//! Modules, one per language: `shell` (sh and csh startup files and the umask they set),
//! `logindefs`, `pam`, `accounts` (passwd, group, shadow, gshadow), `sudoers`, `systemd` (units,
//! drop-ins, enablement links), `sysv` (LSB headers, chkconfig lines, rc links, inittab,
//! upstart), `boot` (the boot graph built from both), `ini` (cloudbase-init.conf and friends),
//! `pylit` (the Python literal subset), `python` (interpreters and virtualenvs), `trust` (CA
//! store layouts and the files their tools write), `certstore` (Windows certificate stores in
//! the registry and their serialized certificates), `registry` (hives by guest path,
//! `CurrentControlSet`, Uninstall keys), `windows` (Windows paths, service keys and command
//! lines, executables' version resources), `firstboot` (the Windows first-boot service
//! virt-customize installs, and scripts for it), `network`
//! (tun/tap definitions).
//!
//! It reads through `imgprep_guest::Guest` only and never writes: an edit is a list of
//! [`FileOp`]s for something else to apply. It does not decide whether a fact is good or bad;
//! the rules do.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod boot;
pub mod certstore;
mod evidence;
pub mod firstboot;
pub mod ini;
pub mod logindefs;
pub mod network;
pub mod ops;
pub mod pam;
pub mod path;
pub mod pylit;
pub mod python;
pub mod registry;
pub mod shell;
pub mod sudoers;
pub mod systemd;
pub mod sysv;
pub mod text;
pub mod trust;
pub mod windows;

pub use evidence::Evidence;
pub use ops::{FileOp, Op, RegValue};

use imgprep_guest::GuestError;

/// Why a read or an edit could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The guest could not be read.
    #[error(transparent)]
    Guest(#[from] GuestError),
    /// An argument of an edit is not acceptable.
    #[error("{what}: {why}")]
    Invalid {
        /// What was given.
        what: String,
        /// Why it is refused.
        why: String,
    },
    /// A file the edit needs does not exist.
    #[error("{path} does not exist")]
    Missing {
        /// The guest path.
        path: String,
    },
    /// What the edit would create is already there.
    #[error("{what} already exists ({path})")]
    Exists {
        /// What.
        what: String,
        /// Where.
        path: String,
    },
    /// An executable's version resource could not be read.
    #[error("{path}: {source}")]
    Executable {
        /// Guest path of the executable.
        path: String,
        /// What the PE reader said.
        #[source]
        source: imgprep_pe::Error,
    },
    /// A binary structure is malformed.
    #[error("{what} at offset {offset:#x}: expected {expected}, found {found}")]
    Format {
        /// What was being read.
        what: String,
        /// Where, in bytes from its start.
        offset: u64,
        /// What should be there.
        expected: String,
        /// What is there.
        found: String,
    },
    /// A registry hive could not be read.
    #[error("registry hive {path}: {message}")]
    Hive {
        /// Guest path of the hive.
        path: String,
        /// What the hive reader said.
        message: String,
    },
    /// A binary file of the guest (a Java keystore, an EFI signature list) is not in the format
    /// its path says.
    #[error("{path} at {offset:#x}: {why}")]
    Malformed {
        /// Guest path of the file.
        path: String,
        /// Byte offset of what is wrong.
        offset: u64,
        /// What was expected and what was found.
        why: String,
    },
}
