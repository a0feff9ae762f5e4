//! What `imgprep` and the `imgprep-appliance` helper say to each other: one JSON object per line,
//! requests on the helper's stdin, responses on its stdout.
//!
//! The helper owns the libguestfs handle, so `imgprep` itself never links libguestfs (the read
//! path starts in milliseconds and maps no appliance libraries). A request is answered by any
//! number of [`Response::Progress`] lines and then one [`Response::Done`] or
//! [`Response::Failed`]. End of input means "stop": the helper kills the appliance (if one is
//! starting or running) and exits; that is also how an interrupted `imgprep` stops it.

use std::path::PathBuf;

use imgprep_plan::Instr;
use serde::{Deserialize, Serialize};

/// One request to the helper.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Request {
    /// Add the disks (network off), launch within the time limit, mount the guest.
    Launch {
        /// The qcow2 overlays to write, in disk order.
        disks: Vec<PathBuf>,
        /// The guest's mounts: (mountable as libguestfs names it, guest path).
        mounts: Vec<(String, String)>,
        /// The launch time limit in seconds.
        timeout_secs: u64,
    },
    /// Carry out one plan instruction (answered with [`Reply::Note`]).
    Apply(Instr),
    /// Does the guest path exist ([`Reply::Bool`])?
    Exists(String),
    /// Is the guest path a directory ([`Reply::Bool`])?
    IsDir(String),
    /// Make a temporary guest directory from a `…XXXXXX` template ([`Reply::Text`]).
    Mkdtemp(String),
    /// Unpack a host tar into a guest directory.
    TarIn {
        /// Host tar file.
        tar: PathBuf,
        /// Guest directory.
        dir: String,
    },
    /// Pack a guest directory into a host tar.
    TarOut {
        /// Guest directory.
        dir: String,
        /// Host tar file to write.
        tar: PathBuf,
        /// Glob patterns left out.
        excludes: Vec<String>,
    },
    /// Run a shell command line in the guest ([`Reply::Text`]: what it printed).
    Sh(String),
    /// Write a guest file.
    Write {
        /// Guest path.
        path: String,
        /// The bytes.
        content: Vec<u8>,
    },
    /// Unmount, shut the appliance down and check that everything was written back.
    Finish,
}

/// One line from the helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Response {
    /// Launch progress.
    Progress {
        /// Done so far.
        position: u64,
        /// Of.
        total: u64,
    },
    /// The request succeeded.
    Done(Reply),
    /// The request failed: the error and its causes, on one line.
    Failed(String),
}

/// What a successful request returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Reply {
    /// Nothing.
    Unit,
    /// A yes or no.
    Bool(bool),
    /// Text.
    Text(String),
    /// An instruction was carried out; a note for the report when it did something other than
    /// asked (a relabel left for the first boot).
    Note(Option<String>),
}
