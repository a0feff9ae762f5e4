//! Applying a prepare plan: the one place imgprep writes into a disk image.
//!
//! A plan is computed natively (no appliance, `imgprep-plan`) as a list of
//! `imgprep_plan::Instr`uctions: write a file, make a directory or link, set a registry value,
//! unpack a bundle, run a program of the guest in the appliance. This crate carries them out through `imgprep-guestfs` in one appliance launch ([`Session`]), on
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

pub use output::{Input, Layout, OutputFormat, Workspace};
pub use session::{LaunchSpec, Session};

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
    /// The worker bundle no longer validates (it changed since the plan was made).
    #[error(transparent)]
    Bundle(#[from] imgprep_bundle::Error),
}
