//! A small safe wrapper over libguestfs (through `libguestfs-sys`), the one way imgprep writes
//! into a disk image: a [`Handle`] that owns one libguestfs handle, the calls `prepare` applies a
//! plan with, and a launch watchdog.
//!
//! [`Handle`] closes its `guestfs_h` on drop, replaces libguestfs's default error handler (nothing
//! is printed on stderr: warnings and debug messages are collected or forwarded as [`Event`]s)
//! and turns every failure into a typed [`Error`] naming the call. Strings passed to C are checked
//! for NUL bytes; strings and buffers returned by C are copied and freed. Autosync stays on and
//! [`Handle::shutdown`] reports whether the appliance wrote everything back: call it, and check
//! it, before trusting a written image. libguestfs has no launch timeout of its own, and a nested
//! KVM appliance can hang for good: [`Handle::launch_with`] bounds the launch with a watchdog that
//! kills the appliance's qemu, and an [`AbortHandle`] lets another thread (a Ctrl-C handler) stop
//! a launch or a running appliance the same way.
//!
//! When `IMGPREP_GUESTFS_LAUNCH_LOG` names a file, every launch (successful or not) appends one
//! line to it: `<unix-time> <seconds-taken> <ok|error> <drives>`, the drives being the host paths
//! added, comma-separated, with `%`, `,`, white space, control and non-ASCII bytes written as
//! `%XX` (`-` for none). The test suite counts appliance launches and their cost with it;
//! [`Handle::set_launch_log`] overrides it per handle.
//!
//! This crate is the only one in imgprep allowed `unsafe` code; every `unsafe` block says why it is
//! sound. It is not on the read path: inspection and checks read images natively and never need
//! libguestfs. It does not plan what to write (that is computed natively from the guest's
//! configuration) and it does not run libguestfs's OS inspection (mount points come from
//! imgprep's own).
#![allow(unsafe_code)]

mod error;
mod events;
mod ffi;
mod handle;
mod hivex;
mod launch;
mod optargs;

pub use error::{Error, Result};
pub use events::Event;
pub use handle::{CacheMode, Discard, DriveOptions, Handle, Stat, TarCompress};
pub use hivex::{HiveNode, HiveValue, RegType, reg_sz};
pub use launch::{AbortHandle, DEFAULT_LAUNCH_TIMEOUT, LAUNCH_LOG_ENV, LaunchOptions};
