//! The `imgprep` side of the helper: starts `imgprep-appliance`, sends requests, reads replies.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imgprep_plan::Instr;

use crate::Error;
use crate::protocol::{Reply, Request, Response};

/// The helper's file name.
pub const HELPER: &str = "imgprep-appliance";

/// Longest response line read (a bound on what the helper can make `imgprep` hold).
const MAX_LINE: u64 = 64 << 20;

/// Where the helper is: `$IMGPREP_APPLIANCE`, else beside the running executable, else in
/// `../lib/imgprep/` from it (where the Debian package installs it).
pub fn locate() -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os("IMGPREP_APPLIANCE") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(Error::Io)?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let candidates = [dir.join(HELPER), dir.join("../lib/imgprep").join(HELPER)];
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            Error::Usage(format!(
                "{HELPER} (the helper that runs the libguestfs appliance) is not beside {} nor \
                 in {}: install it with imgprep (Debian package imgprep), or build it \
                 (`cargo build -p imgprep-cli`, which needs libguestfs-dev)",
                exe.display(),
                dir.join("../lib/imgprep").display()
            ))
        })
}

/// Closes the helper's input, which makes it kill the appliance and exit: safe to call from a
/// signal handler thread, and more than once.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<Mutex<Option<ChildStdin>>>);

impl Stopper {
    /// Stops the helper.
    pub fn stop(&self) {
        drop(self.0.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

/// A running helper, and the appliance it launches.
#[derive(Debug)]
pub struct Appliance {
    child: Child,
    input: Stopper,
    output: BufReader<ChildStdout>,
}

impl Appliance {
    /// Starts the helper found by [`locate`].
    pub fn start() -> Result<Appliance, Error> {
        Appliance::start_program(&locate()?)
    }

    /// Starts `program` as the helper.
    pub fn start_program(program: &Path) -> Result<Appliance, Error> {
        let mut child = Command::new(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                Error::Usage(format!(
                    "starting {HELPER}, the helper that runs the libguestfs appliance ({}): {e}",
                    program.display()
                ))
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::Usage(format!(
                "{}: no pipes to the helper",
                program.display()
            )));
        };
        Ok(Appliance {
            child,
            input: Stopper(Arc::new(Mutex::new(Some(stdin)))),
            output: BufReader::new(stdout),
        })
    }

    /// What stops the helper from another thread (a Ctrl-C handler).
    pub fn stopper(&self) -> Stopper {
        self.input.clone()
    }

    fn call(&mut self, req: &Request, progress: &mut dyn FnMut(u64, u64)) -> Result<Reply, Error> {
        let mut line = serde_json::to_vec(req)
            .map_err(|e| Error::Helper(format!("encoding a request: {e}")))?;
        line.push(b'\n');
        let written = match self
            .input
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            Some(stdin) => stdin.write_all(&line).and_then(|()| stdin.flush()),
            None => return Err(Error::Helper(format!("{HELPER} was stopped"))),
        };
        written.map_err(|e| self.gone(&e.to_string()))?;
        loop {
            let mut buf = Vec::new();
            let n = (&mut self.output)
                .take(MAX_LINE)
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::Helper(format!("reading from {HELPER}: {e}")))?;
            if n == 0 {
                return Err(self.gone("it closed its output"));
            }
            let resp: Response = serde_json::from_slice(&buf).map_err(|e| {
                Error::Helper(format!(
                    "{HELPER} said something unexpected ({e}): {:?}",
                    String::from_utf8_lossy(&buf[..buf.len().min(200)])
                ))
            })?;
            match resp {
                Response::Progress { position, total } => progress(position, total),
                Response::Done(r) => return Ok(r),
                Response::Failed(msg) => return Err(Error::Appliance(msg)),
            }
        }
    }

    /// The error for a helper that stopped answering, with its exit status when it has one.
    fn gone(&mut self, what: &str) -> Error {
        let status = match self.child.try_wait() {
            Ok(Some(s)) => format!(" ({s})"),
            _ => String::new(),
        };
        Error::Helper(format!("{HELPER} stopped: {what}{status}"))
    }

    /// Adds the disks (network off), launches within `timeout` and mounts the guest.
    pub fn launch(
        &mut self,
        disks: &[PathBuf],
        mounts: &[(String, String)],
        timeout: Duration,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), Error> {
        let req = Request::Launch {
            disks: disks.to_vec(),
            mounts: mounts.to_vec(),
            timeout_secs: timeout.as_secs().max(1),
        };
        self.call(&req, progress).map(drop)
    }

    fn plain(&mut self, req: Request) -> Result<Reply, Error> {
        self.call(&req, &mut |_, _| {})
    }

    /// Carries out one instruction; a note for the report when it did something other than
    /// asked.
    pub fn apply(&mut self, i: &Instr) -> Result<Option<String>, Error> {
        match self.plain(Request::Apply(i.clone()))? {
            Reply::Note(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }

    fn boolean(&mut self, req: Request) -> Result<bool, Error> {
        match self.plain(req)? {
            Reply::Bool(b) => Ok(b),
            other => Err(unexpected(&other)),
        }
    }

    fn text(&mut self, req: Request) -> Result<String, Error> {
        match self.plain(req)? {
            Reply::Text(t) => Ok(t),
            other => Err(unexpected(&other)),
        }
    }

    /// Whether the guest path exists.
    pub fn exists(&mut self, path: &str) -> Result<bool, Error> {
        self.boolean(Request::Exists(path.into()))
    }

    /// Whether the guest path is a directory.
    pub fn is_dir(&mut self, path: &str) -> Result<bool, Error> {
        self.boolean(Request::IsDir(path.into()))
    }

    /// A new temporary guest directory.
    pub fn mkdtemp(&mut self, template: &str) -> Result<String, Error> {
        self.text(Request::Mkdtemp(template.into()))
    }

    /// Runs a shell command line in the guest; what it printed.
    pub fn sh(&mut self, command: &str) -> Result<String, Error> {
        self.text(Request::Sh(command.into()))
    }

    /// Unpacks a host tar into a guest directory.
    pub fn tar_in(&mut self, tar: &Path, dir: &str) -> Result<(), Error> {
        self.plain(Request::TarIn {
            tar: tar.to_owned(),
            dir: dir.into(),
        })
        .map(drop)
    }

    /// Packs a guest directory into a host tar, leaving out `excludes`.
    pub fn tar_out(&mut self, dir: &str, tar: &Path, excludes: &[&str]) -> Result<(), Error> {
        self.plain(Request::TarOut {
            dir: dir.into(),
            tar: tar.to_owned(),
            excludes: excludes.iter().map(|s| (*s).to_owned()).collect(),
        })
        .map(drop)
    }

    /// Writes a guest file.
    pub fn write(&mut self, path: &str, content: &[u8]) -> Result<(), Error> {
        self.plain(Request::Write {
            path: path.into(),
            content: content.to_vec(),
        })
        .map(drop)
    }

    /// Unmounts, shuts the appliance down, checks that everything was written back, and waits
    /// for the helper to exit.
    pub fn finish(mut self) -> Result<(), Error> {
        self.plain(Request::Finish)?;
        self.input.stop();
        let status = self.child.wait().map_err(Error::Io)?;
        if !status.success() {
            return Err(Error::Helper(format!("{HELPER} exited with {status}")));
        }
        Ok(())
    }
}

fn unexpected(r: &Reply) -> Error {
    Error::Helper(format!("{HELPER} answered {r:?}"))
}

impl Drop for Appliance {
    /// Stops the helper (it kills the appliance) and reaps it.
    fn drop(&mut self) {
        self.input.stop();
        let _ = self.child.wait();
    }
}
