//! Ctrl-C during `prepare`: the appliance is stopped, the temporary files are removed (the
//! workspace's drop), and imgprep exits 2 with no output written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use imgprep_guestfs::AbortHandle;

/// What the signal handler and the command share.
#[derive(Clone, Default)]
pub(crate) struct Interrupt {
    hit: Arc<AtomicBool>,
    abort: Arc<Mutex<Option<AbortHandle>>>,
}

static INSTALLED: Mutex<Option<Interrupt>> = Mutex::new(None);

/// Installs the handler (once) and returns the shared state.
pub(crate) fn install() -> anyhow::Result<Interrupt> {
    let mut slot = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = slot.as_ref() {
        return Ok(i.clone());
    }
    let i = Interrupt::default();
    let shared = i.clone();
    ctrlc::set_handler(move || {
        shared.hit.store(true, Ordering::SeqCst);
        if let Some(h) = shared
            .abort
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            h.abort();
        }
    })?;
    *slot = Some(i.clone());
    Ok(i)
}

impl Interrupt {
    /// The appliance to stop on Ctrl-C.
    pub(crate) fn set_abort(&self, h: AbortHandle) {
        *self.abort.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
    }

    /// An error once Ctrl-C was pressed.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if self.hit.load(Ordering::SeqCst) {
            anyhow::bail!("interrupted: nothing was written, the input is unchanged");
        }
        Ok(())
    }
}
