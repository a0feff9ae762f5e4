//! Applying a prepare plan: the one place imgprep writes into a disk image.
//!
//! A plan is computed natively (no appliance, `imgprep-plan`) as a list of
//! `imgprep_plan::Instr`uctions: write a file, make a directory or link, set a registry value,
//! unpack a bundle, run a program of the guest in the appliance. This crate makes the qcow2
//! overlays of the input disks next to the output ([`Workspace`]), so the input's bytes never
//! change until the result is verified, and drives the `imgprep-appliance` helper
//! ([`Appliance`]) that carries the instructions out in one libguestfs launch; the overlays then
//! become the output (converted to the format the cloud imports, renamed into place) or, with
//! `--in-place`, are committed into the input. Any failure leaves no output and the input
//! untouched.
//!
//! It does not link libguestfs (the helper does, `crates/imgprep-appliance`), does not decide
//! what to write (`imgprep-plan` does, from the guest's configuration) and does not verify the
//! result (the caller re-runs the checks natively on [`Workspace::stage`]'s images before
//! [`Workspace::commit`]).
#![forbid(unsafe_code)]

mod client;
mod output;
pub mod protocol;

pub use client::{Appliance, HELPER, Stopper, locate};
pub use output::{Input, Layout, OutputFormat, Workspace};

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
    /// The appliance failed to do what was asked: the helper's words, causes included.
    #[error("{0}")]
    Appliance(String),
    /// The helper could not be talked to (it died, or answered nonsense).
    #[error("{0}")]
    Helper(String),
}
