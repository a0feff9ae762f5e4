//! Bounding a launch: the watchdog, the abort handle, and launch accounting.
//!
//! libguestfs has no launch timeout of its own (it waits up to 20 minutes for the daemon), and a
//! nested-KVM appliance hangs after "Booting from ROM". Another thread cannot close or cancel a
//! handle that is inside `guestfs_launch`, but killing the appliance's qemu makes libguestfs see
//! its console close and return an error at once. Each launch puts a unique word on the
//! appliance's kernel command line (`guestfs_set_append`), which qemu carries in its argv; the
//! watchdog finds the processes whose `/proc/PID/cmdline` holds that exact word and kills them.
//! Nothing else can match, so a concurrent launch in the same process, or anyone else's qemu, is
//! never touched.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::events::{Event, Progress};

/// The launch time limit when none is given: generous, since a launch takes 10–30 s under TCG on
/// a busy machine, but finite.
pub const DEFAULT_LAUNCH_TIMEOUT: Duration = Duration::from_secs(600);

/// The environment variable naming the launch log.
pub const LAUNCH_LOG_ENV: &str = "IMGPREP_GUESTFS_LAUNCH_LOG";

/// How often the watchdog looks again for qemu to kill once it decided to stop a launch (qemu may
/// not have been started yet when the time ran out).
const KILL_INTERVAL: Duration = Duration::from_millis(100);

/// How a launch runs: its time limit and where its progress goes.
pub struct LaunchOptions {
    pub(crate) timeout: Duration,
    pub(crate) progress: Option<Progress>,
}

impl LaunchOptions {
    /// [`DEFAULT_LAUNCH_TIMEOUT`], no progress closure.
    pub fn new() -> Self {
        LaunchOptions {
            timeout: DEFAULT_LAUNCH_TIMEOUT,
            progress: None,
        }
    }

    /// Stop the launch (killing the appliance) when it has not finished after `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Call `progress` with every [`Event`] while the launch runs. It is called on the launching
    /// thread; if it panics, it is not called again and the panic resumes once the launch has
    /// returned.
    #[must_use]
    pub fn progress(mut self, progress: impl FnMut(&Event) + Send + 'static) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions::new()
    }
}

impl fmt::Debug for LaunchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaunchOptions")
            .field("timeout", &self.timeout)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What the watchdog, the abort handle and the launching thread share.
#[derive(Debug, Default)]
struct Watch {
    /// The kernel command-line word of the current (or last) launch.
    token: Option<String>,
    /// [`AbortHandle::abort`] was called; sticky.
    aborted: bool,
    /// A `guestfs_launch` is running.
    launching: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    watch: Mutex<Watch>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Watch> {
        // The lock is never held across code that can panic; recover the data anyway.
        self.watch.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn aborted(&self) -> bool {
        self.lock().aborted
    }

    /// Records the token of a launch about to start; `false` when aborted already.
    pub(crate) fn begin(&self, token: &str) -> bool {
        let mut w = self.lock();
        if w.aborted {
            return false;
        }
        w.token = Some(token.to_owned());
        w.launching = true;
        true
    }

    /// The launch returned: stops the watchdog.
    pub(crate) fn end(&self) {
        self.lock().launching = false;
        self.changed.notify_all();
    }

    /// The watchdog: waits until the launch ends, or kills its appliance when `timeout` passes
    /// or an abort comes first, and keeps killing until the launch has returned. True when the
    /// time ran out.
    pub(crate) fn watch(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut timed_out = false;
        let mut w = self.lock();
        while w.launching {
            let now = Instant::now();
            if !w.aborted && deadline.is_some_and(|d| now >= d) {
                timed_out = true;
            }
            if timed_out || w.aborted {
                let token = w.token.clone();
                drop(w);
                if let Some(token) = token {
                    kill_appliance(&token);
                }
                w = self.lock();
                if w.launching {
                    w = self
                        .changed
                        .wait_timeout(w, KILL_INTERVAL)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                continue;
            }
            let wait = deadline.map_or(Duration::from_secs(3600), |d| d - now);
            w = self
                .changed
                .wait_timeout(w, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        timed_out
    }
}

/// Stops a handle's appliance from another thread (a Ctrl-C handler, a supervisor).
///
/// [`AbortHandle::abort`] kills the qemu of the handle's launch in progress or of its running
/// appliance. The launch or call that was running fails with [`crate::Error::Aborted`], and so does
/// every later launch of the handle: an abort is final. Dropping the handle afterwards is safe.
#[derive(Debug, Clone)]
pub struct AbortHandle {
    pub(crate) shared: Arc<Shared>,
}

impl AbortHandle {
    /// Kills the handle's appliance (if one is starting or running) and marks the handle aborted.
    pub fn abort(&self) {
        let token = {
            let mut w = self.shared.lock();
            w.aborted = true;
            w.token.clone()
        };
        self.shared.changed.notify_all();
        if let Some(token) = token {
            kill_appliance(&token);
        }
    }

    /// True once [`AbortHandle::abort`] was called.
    pub fn is_aborted(&self) -> bool {
        self.shared.aborted()
    }
}

/// A word for the appliance's kernel command line that no other launch carries: this process's
/// id, a sequence number and the time. The `imgprep.` prefix makes the kernel treat it as a
/// parameter of a module that does not exist, so it is ignored and not handed to the init.
pub(crate) fn new_token() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{TOKEN_PREFIX}{}-{seq}-{nanos}", std::process::id())
}

/// How every launch word starts.
pub(crate) const TOKEN_PREFIX: &str = "imgprep.launch=";

/// The kernel command-line extras for a launch: the user's (`LIBGUESTFS_APPEND`) kept, the word
/// of an earlier launch of the handle replaced by `token`.
pub(crate) fn append_token(current: Option<&str>, token: &str) -> String {
    current
        .iter()
        .flat_map(|a| a.split_whitespace())
        .filter(|w| !w.starts_with(TOKEN_PREFIX))
        .chain(std::iter::once(token))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pids of processes whose command line holds `token` as one word.
pub(crate) fn appliance_pids(token: &str) -> Vec<i32> {
    let me = std::process::id();
    let Ok(dir) = fs_err::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // A process can exit between the listing and the read: skip it.
        let Ok(cmdline) = fs_err::read(entry.path().join("cmdline")) else {
            continue;
        };
        let holds_token = cmdline
            .split(|&b| b == 0)
            .flat_map(|arg| arg.split(u8::is_ascii_whitespace))
            .any(|word| word == token.as_bytes());
        if holds_token && let Ok(pid) = i32::try_from(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills (SIGKILL) every process carrying `token`; returns how many were signalled.
pub(crate) fn kill_appliance(token: &str) -> usize {
    let mut killed = 0;
    for pid in appliance_pids(token) {
        // SAFETY: kill(2) has no memory-safety preconditions. The pid is a process that carried
        // this launch's unique token an instant ago; were it gone, the pid could only have been
        // reused by a process started since, which would not carry the token and is not matched
        // again (the window is the time between reading /proc and this call).
        if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
            killed += 1;
        }
    }
    killed
}

/// The launch log named by [`LAUNCH_LOG_ENV`], if set and not empty.
pub(crate) fn launch_log_from_env() -> Option<PathBuf> {
    std::env::var_os(LAUNCH_LOG_ENV)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
}

/// Appends the launch's line to `file`.
pub(crate) fn log_launch(
    file: &Path,
    started: SystemTime,
    took: Duration,
    ok: bool,
    drives: &[PathBuf],
) -> std::io::Result<()> {
    let line = log_line(started, took, ok, drives);
    let mut f = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    // One write of one short line: appends from concurrent test processes do not interleave.
    f.write_all(line.as_bytes())
}

/// `<unix-time> <seconds-taken> <ok|error> <drives>\n`.
pub(crate) fn log_line(
    started: SystemTime,
    took: Duration,
    ok: bool,
    drives: &[PathBuf],
) -> String {
    let unix = started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let drives = if drives.is_empty() {
        "-".to_owned()
    } else {
        drives
            .iter()
            .map(|d| encode_path(d))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{unix} {:.3} {} {drives}\n",
        took.as_secs_f64(),
        if ok { "ok" } else { "error" }
    )
}

/// A host path as one word of the log: `%`, `,`, white space, control and non-ASCII bytes as
/// `%XX`.
fn encode_path(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut s = String::new();
    for &b in p.as_os_str().as_bytes() {
        if b.is_ascii_graphic() && b != b'%' && b != b',' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn log_lines_have_four_fields() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let line = log_line(
            t,
            Duration::from_millis(12_345),
            true,
            &[PathBuf::from("/tmp/a b,c%.qcow2"), PathBuf::from("/x/é")],
        );
        assert_eq!(
            line,
            "1700000000 12.345 ok /tmp/a%20b%2Cc%25.qcow2,/x/%C3%A9\n"
        );
        assert_eq!(
            log_line(t, Duration::ZERO, false, &[]),
            "1700000000 0.000 error -\n"
        );
    }

    #[test]
    fn the_token_joins_the_users_kernel_arguments() {
        let t = "imgprep.launch=1-2-3";
        assert_eq!(append_token(None, t), t);
        assert_eq!(
            append_token(Some("console=ttyS0  selinux=0"), t),
            "console=ttyS0 selinux=0 imgprep.launch=1-2-3"
        );
        assert_eq!(
            append_token(Some("quiet imgprep.launch=1-1-1"), t),
            "quiet imgprep.launch=1-2-3"
        );
    }

    #[test]
    fn tokens_are_unique_words() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert!(!a.contains(char::is_whitespace));
    }

    /// A process that waits on its stdin with `word` in its argv (as qemu carries the kernel
    /// command line in one argument).
    /// The pipe to its stdin is returned apart: `Child::wait` would close it.
    fn waiter(word: &str) -> (std::process::Child, std::process::ChildStdin) {
        let mut child = Command::new("sh")
            .args(["-c", "read line", &format!("kernel quiet {word} ro")])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        (child, stdin)
    }

    fn wait_for_pids(token: &str, n: usize) {
        for _ in 0..500 {
            if appliance_pids(token).len() == n {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn kill_finds_only_processes_carrying_the_exact_token() {
        use std::os::unix::process::ExitStatusExt;
        let token = new_token();
        let (mut target, _in1) = waiter(&token);
        let (mut bystander, _in2) = waiter(&format!("{token}0"));
        wait_for_pids(&token, 1);
        assert_eq!(appliance_pids(&token), [target.id() as i32]);
        assert_eq!(kill_appliance(&token), 1);
        assert_eq!(target.wait().unwrap().signal(), Some(libc::SIGKILL));
        // The other process, whose word merely starts with the token, is untouched.
        assert!(bystander.try_wait().unwrap().is_none());
        bystander.kill().unwrap();
        bystander.wait().unwrap();
        assert_eq!(kill_appliance(&token), 0);
    }

    #[test]
    fn watchdog_kills_after_the_timeout_and_stops_when_the_launch_ends() {
        use std::os::unix::process::ExitStatusExt;
        let shared = Arc::new(Shared::default());
        let token = new_token();
        let (mut appliance, _stdin) = waiter(&token);
        wait_for_pids(&token, 1);
        assert!(shared.begin(&token));
        let s = Arc::clone(&shared);
        let watchdog = std::thread::spawn(move || s.watch(Duration::from_millis(50)));
        // Returns once the watchdog killed it, as libguestfs notices qemu's death.
        assert_eq!(appliance.wait().unwrap().signal(), Some(libc::SIGKILL));
        shared.end();
        assert!(watchdog.join().unwrap(), "the time ran out");

        let token = new_token();
        let (mut appliance, _stdin) = waiter(&token);
        wait_for_pids(&token, 1);
        assert!(shared.begin(&token));
        let s = Arc::clone(&shared);
        let watchdog = std::thread::spawn(move || s.watch(Duration::from_secs(600)));
        shared.end();
        assert!(!watchdog.join().unwrap(), "ended before the time ran out");
        assert!(appliance.try_wait().unwrap().is_none(), "not killed");

        // An abort kills the running appliance and refuses later launches.
        let abort = AbortHandle {
            shared: Arc::clone(&shared),
        };
        abort.abort();
        assert_eq!(appliance.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert!(abort.is_aborted());
        assert!(!shared.begin(&new_token()), "an abort is final");
    }
}
