//! Progress on stderr while the appliance starts and the plan is applied, only when stderr is a
//! terminal (pipelines get no noise).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner with the time spent, while the appliance starts.
pub(crate) struct Launch {
    bar: Option<ProgressBar>,
}

impl Launch {
    pub(crate) fn start() -> Launch {
        if !std::io::stderr().is_terminal() {
            return Launch { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} starting the libguestfs appliance ({elapsed}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Launch { bar: Some(bar) }
    }

    /// Shows launch progress (`position` of `total`).
    pub(crate) fn update(&self, position: u64, total: u64) {
        if let Some(b) = &self.bar
            && total > 0
        {
            b.set_message(format!("{}%", position * 100 / total));
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// One applied operation, on a terminal.
pub(crate) fn step(n: usize, total: usize, what: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("[{n}/{total}] {what}");
    }
}
