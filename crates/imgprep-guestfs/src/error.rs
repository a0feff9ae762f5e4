//! The crate's one error type.

use std::time::Duration;

/// Why a libguestfs call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// libguestfs reported an error (`guestfs_last_error` and `guestfs_last_errno`).
    #[error("libguestfs {call}: {}", one_line(call, message))]
    Call {
        /// The libguestfs call, without the `guestfs_` prefix (`mount`, `hivex_commit`).
        call: &'static str,
        /// libguestfs's message (for a guest command: what it wrote on stderr), lossily decoded.
        message: String,
        /// The errno libguestfs recorded (from the appliance for daemon calls), if any.
        errno: Option<i32>,
    },
    /// A string argument holds a NUL byte, which cannot cross into C.
    #[error("libguestfs {call}: argument {arg} contains a NUL byte at offset {offset}")]
    Nul {
        /// The libguestfs call.
        call: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// Byte offset of the first NUL.
        offset: usize,
    },
    /// A numeric argument does not fit what libguestfs takes.
    #[error("libguestfs {call}: argument {arg} is out of range ({value}, expected {expected})")]
    OutOfRange {
        /// The libguestfs call.
        call: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The value given.
        value: u64,
        /// What fits.
        expected: &'static str,
    },
    /// libguestfs returned something its API does not allow (a negative size, a NULL list).
    #[error("libguestfs {call}: unexpected result: {what}")]
    Unexpected {
        /// The libguestfs call.
        call: &'static str,
        /// What was wrong with it.
        what: String,
    },
    /// `guestfs_create` failed (out of memory, or a bad `LIBGUESTFS_*` environment variable).
    #[error("libguestfs create: {message}")]
    Create {
        /// What failed.
        message: String,
    },
    /// The appliance did not start in time; the watchdog killed its qemu.
    #[error(
        "the libguestfs appliance did not start within {}s and was stopped ({}); \
         where nested KVM hangs the appliance, set LIBGUESTFS_BACKEND_SETTINGS=force_tcg",
        timeout.as_secs_f64(),
        one_line("launch", message)
    )]
    LaunchTimeout {
        /// The time limit.
        timeout: Duration,
        /// What libguestfs said when its launch was cut short.
        message: String,
    },
    /// [`crate::AbortHandle::abort`] was called: the appliance was stopped.
    #[error("libguestfs {call}: cancelled")]
    Aborted {
        /// The call that was running or refused.
        call: &'static str,
    },
}

impl Error {
    /// The errno libguestfs recorded for a failed call, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Call { errno, .. } => *errno,
            _ => None,
        }
    }

    /// The libguestfs call that failed, where there is one.
    pub fn call(&self) -> Option<&'static str> {
        match self {
            Error::Call { call, .. }
            | Error::Nul { call, .. }
            | Error::OutOfRange { call, .. }
            | Error::Unexpected { call, .. }
            | Error::Aborted { call } => Some(call),
            Error::LaunchTimeout { .. } => Some("launch"),
            Error::Create { .. } => Some("create"),
        }
    }

    /// True when the call failed because a path does not exist (`ENOENT`).
    pub fn is_not_found(&self) -> bool {
        self.errno() == Some(libc::ENOENT)
    }
}

/// A message on one line, naming the call once: libguestfs prefixes most messages with the
/// call's name, and some (and a guest program's stderr) span lines.
fn one_line(call: &str, message: &str) -> String {
    let m = message
        .strip_prefix(call)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(message);
    m.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Result of libguestfs calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_call_once() {
        let e = Error::Call {
            call: "mount",
            message: "mount: /dev/sda1 on / (options: ''): mount exited with status 32\n".into(),
            errno: None,
        };
        assert_eq!(
            e.to_string(),
            "libguestfs mount: /dev/sda1 on / (options: ''): mount exited with status 32"
        );
        let e = Error::Call {
            call: "launch",
            message: "guestfs_launch failed".into(),
            errno: Some(libc::EIO),
        };
        assert_eq!(e.to_string(), "libguestfs launch: guestfs_launch failed");
        assert_eq!(e.errno(), Some(libc::EIO));
        assert!(!e.is_not_found());
        let e = Error::Call {
            call: "command",
            message: "command: line one\n\n  line two \n".into(),
            errno: Some(libc::ENOENT),
        };
        assert_eq!(e.to_string(), "libguestfs command: line one; line two");
        assert!(e.is_not_found());
        let e = Error::LaunchTimeout {
            timeout: Duration::from_millis(1500),
            message: "launch: qemu died".into(),
        };
        let text = e.to_string();
        assert!(text.starts_with("the libguestfs appliance did not start within 1.5s"));
        assert!(text.contains("(qemu died)"), "{text}");
        assert!(
            text.contains("LIBGUESTFS_BACKEND_SETTINGS=force_tcg"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }
}
