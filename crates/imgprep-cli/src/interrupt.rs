//! Ctrl-C during `prepare`: the appliance helper is told to stop (it kills the appliance), the
//! temporary files are removed (the workspace's drop), and imgprep exits 2 with no output
//! written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use imgprep_apply::Stopper;

/// What the signal handler and the command share.
#[derive(Clone, Default)]
pub(crate) struct Interrupt {
    hit: Arc<AtomicBool>,
    abort: Arc<Mutex<Vec<Stopper>>>,
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
        for h in shared
            .abort
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            h.stop();
        }
    })?;
    *slot = Some(i.clone());
    Ok(i)
}

impl Interrupt {
    /// An appliance helper to stop on Ctrl-C (fleets run several).
    pub(crate) fn set_abort(&self, h: Stopper) {
        self.abort.lock().unwrap_or_else(|p| p.into_inner()).push(h);
    }

    /// An error once Ctrl-C was pressed.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if self.hit.load(Ordering::SeqCst) {
            anyhow::bail!("interrupted: nothing was written, the input is unchanged");
        }
        Ok(())
    }
}
