//! The appliance side of `prepare` and `bundle --image`: the only code that links libguestfs.
//!
//! `imgprep` starts the `imgprep-appliance` executable (built from this crate by the cli
//! package) and talks to it in `imgprep_apply::protocol`: launch one appliance on the overlays
//! `imgprep` made, mount the guest where the native inspection says, carry out plan instructions
//! and the few calls `bundle --image` makes, shut down with a check. Keeping libguestfs out of
//! `imgprep` itself keeps the read path (inspect, check) free of its ~60 shared libraries.
//!
//! It decides nothing: the plan is computed natively and verified natively by `imgprep`.
#![forbid(unsafe_code)]

mod server;
mod session;
mod space;

pub use server::serve;
pub use session::{LaunchSpec, Session};

/// Why the appliance could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// A host file could not be created, read or removed.
    #[error(transparent)]
    Io(std::io::Error),
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
