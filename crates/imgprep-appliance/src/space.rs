//! A full output filesystem must not hang `prepare`: when a write to a disk fails with ENOSPC,
//! qemu stops the appliance until space is freed, and the call in progress waits forever. A
//! watcher polls the free space of the filesystems the overlays live on and kills the appliance
//! when one of them has run out.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Below this many free bytes a filesystem counts as full (qcow2 grows by 64 KiB clusters plus
/// metadata; qemu has stopped well before the last bytes are used).
const MIN_FREE: u64 = 1 << 20;
/// How often the free space is read.
const POLL: Duration = Duration::from_millis(200);
/// How many polls in a row must find the filesystem full (a brief dip that recovers is not a
/// stopped appliance).
const FULL_POLLS: u32 = 5;

/// The running watcher; stops when dropped.
pub(crate) struct SpaceWatch {
    stop: Arc<AtomicBool>,
    full: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

/// Free bytes for an unprivileged writer on the filesystem holding `dir`.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

impl SpaceWatch {
    /// Watches the directories of `disks`; calls `kill` once when one's filesystem is full.
    pub(crate) fn start(disks: &[PathBuf], kill: impl Fn() + Send + 'static) -> SpaceWatch {
        let mut dirs: Vec<PathBuf> = disks
            .iter()
            .map(|d| match d.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                _ => PathBuf::from("."),
            })
            .collect();
        dirs.dedup();
        let stop = Arc::new(AtomicBool::new(false));
        let full = Arc::new(Mutex::new(None));
        let (stop2, full2) = (stop.clone(), full.clone());
        let thread = std::thread::spawn(move || {
            let mut streak = vec![0u32; dirs.len()];
            while !stop2.load(Ordering::SeqCst) {
                for (dir, n) in dirs.iter().zip(streak.iter_mut()) {
                    match free_bytes(dir) {
                        Some(free) if free < MIN_FREE => *n += 1,
                        _ => *n = 0,
                    }
                    if *n >= FULL_POLLS {
                        let free = free_bytes(dir).unwrap_or(0);
                        *full2.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                            "{}: the filesystem is full ({free} bytes free): the appliance was \
                             stopped, since it cannot write the output there; make room or write \
                             -o elsewhere",
                            dir.display()
                        ));
                        kill();
                        return;
                    }
                }
                std::thread::sleep(POLL);
            }
        });
        SpaceWatch {
            stop,
            full,
            thread: Some(thread),
        }
    }

    /// Why the appliance was stopped, when the watcher stopped it.
    pub(crate) fn full(&self) -> Option<String> {
        self.full.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for SpaceWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
