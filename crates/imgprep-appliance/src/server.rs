//! The request loop: one request per line on stdin, responses on stdout
//! (`imgprep_apply::protocol`). End of input, or SIGINT, kills the appliance.

use std::io::{BufRead, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imgprep_apply::protocol::{Reply, Request, Response};
use imgprep_guestfs::{AbortHandle, Event, TarCompress};

use crate::space::SpaceWatch;
use crate::{Error, LaunchSpec, Session};

/// Longest request line read (plan instructions carry file contents).
const MAX_LINE: u64 = 256 << 20;

/// The appliance to kill when `imgprep` goes away or the user presses Ctrl-C.
#[derive(Clone, Default)]
struct Abort(Arc<Mutex<Option<AbortHandle>>>);

impl Abort {
    fn set(&self, h: AbortHandle) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
    }

    fn fire(&self) {
        if let Some(h) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            h.abort();
        }
    }
}

/// Where responses go; shared with the launch's progress callback.
#[derive(Clone)]
struct Out(Arc<Mutex<Box<dyn Write + Send>>>);

impl Out {
    fn send(&self, r: &Response) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        w.write_all(&line)?;
        w.flush()
    }
}

/// Serves requests from `input` until it ends; the exit status for the process (0 when the
/// appliance was shut down cleanly or never launched, 1 otherwise).
pub fn serve(
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> Result<i32, Error> {
    let abort = Abort::default();
    let on_signal = abort.clone();
    ctrlc::set_handler(move || on_signal.fire())
        .map_err(|e| Error::Usage(format!("installing the Ctrl-C handler: {e}")))?;
    let out = Out(Arc::new(Mutex::new(Box::new(output))));
    let (tx, rx) = mpsc::channel::<Result<Request, String>>();
    let on_eof = abort.clone();
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            let mut buf = Vec::new();
            match (&mut input).take(MAX_LINE).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let req = serde_json::from_slice(&buf)
                        .map_err(|e| format!("a request imgprep-appliance cannot read: {e}"));
                    if tx.send(req).is_err() {
                        break;
                    }
                }
            }
        }
        // imgprep is gone or stopped us: kill the appliance now, even mid-launch.
        on_eof.fire();
    });
    let mut session: Option<Session> = None;
    let mut watch: Option<SpaceWatch> = None;
    let mut clean = true;
    for req in rx {
        let result = match req {
            Ok(req) => handle(req, &mut session, &mut watch, &abort, &out).map_err(|e| {
                // A full output filesystem is the cause, whatever libguestfs said once the
                // watcher had killed the appliance.
                watch
                    .as_ref()
                    .and_then(SpaceWatch::full)
                    .unwrap_or_else(|| chain(&e))
            }),
            Err(e) => Err(e),
        };
        let resp = match result {
            Ok(r) => Response::Done(r),
            Err(e) => {
                clean = false;
                Response::Failed(e)
            }
        };
        if out.send(&resp).is_err() {
            break;
        }
    }
    let launched = session.is_some();
    drop(session);
    Ok(if clean && !launched { 0 } else { 1 })
}

/// An error and its causes, as `imgprep` prints them (`a: b: c`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cause = c.source();
    }
    s
}

fn handle(
    req: Request,
    session: &mut Option<Session>,
    watch: &mut Option<SpaceWatch>,
    abort: &Abort,
    out: &Out,
) -> Result<Reply, Error> {
    if let Request::Launch {
        disks,
        mounts,
        timeout_secs,
    } = &req
    {
        if session.is_some() {
            return Err(Error::Usage("the appliance is already launched".into()));
        }
        let on_full = abort.clone();
        *watch = Some(SpaceWatch::start(disks, move || on_full.fire()));
        let progress = out.clone();
        let mut on_abort = |h| abort.set(h);
        *session = Some(Session::launch(LaunchSpec {
            disks,
            mounts,
            timeout: Duration::from_secs(*timeout_secs),
            progress: Box::new(move |e| {
                if let Event::Progress { position, total } = e {
                    let _ = progress.send(&Response::Progress {
                        position: *position,
                        total: *total,
                    });
                }
            }),
            on_abort_handle: &mut on_abort,
        })?);
        return Ok(Reply::Unit);
    }
    if let Request::Finish = req {
        let s = session
            .take()
            .ok_or_else(|| Error::Usage("no appliance to shut down".into()))?;
        s.finish()?;
        *watch = None;
        return Ok(Reply::Unit);
    }
    let s = session
        .as_mut()
        .ok_or_else(|| Error::Usage("no appliance launched".into()))?;
    if let Request::Apply(i) = &req {
        return s.apply(i).map(Reply::Note);
    }
    let h = s.handle();
    Ok(match req {
        Request::Exists(p) => Reply::Bool(h.exists(&p)?),
        Request::IsDir(p) => Reply::Bool(h.is_dir(&p)?),
        Request::Mkdtemp(t) => Reply::Text(h.mkdtemp(&t)?),
        Request::Sh(c) => Reply::Text(h.sh(&c)?),
        Request::TarIn { tar, dir } => {
            h.tar_in(&tar, &dir, None::<TarCompress>)?;
            Reply::Unit
        }
        Request::TarOut { dir, tar, excludes } => {
            let ex: Vec<&str> = excludes.iter().map(String::as_str).collect();
            h.tar_out(&dir, &tar, None::<TarCompress>, &ex)?;
            Reply::Unit
        }
        Request::Write { path, content } => {
            h.write(&path, &content)?;
            Reply::Unit
        }
        other => return Err(Error::Usage(format!("unexpected request {other:?}"))),
    })
}
