//! Python interpreters: at least 2.7.9 (or RHEL 7's back-port of its `ssl` features), and a
//! Python 2 where the bootstrap scripts need one.

use imgprep_sysconf::python::{Python, parse_version, ssl_backport};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::probe::Probe;
use crate::verdict::{Evidence, Outcome, Status};

/// `probe: python-version`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PythonVersion {
    /// Lowest acceptable version.
    #[serde(default = "default_min")]
    pub min: String,
}

fn default_min() -> String {
    "2.7.9".into()
}

impl Probe for PythonVersion {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the Windows agent bundles its own Python");
        }
        let min = parse_version(&self.min).unwrap_or_else(|| vec![2, 7, 9]);
        let pythons = cx.pythons();
        let ev: Vec<Evidence> = pythons.iter().map(|p| p.evidence.clone()).collect();
        if let Some(good) = pythons.iter().find(|p| p.version >= min) {
            return Outcome::new(
                Status::Pass,
                format!(
                    "Python {} is installed (need {} or later)",
                    good.shown(),
                    self.min
                ),
            )
            .with(ev);
        }
        let old27: Vec<&Python> = pythons
            .iter()
            .filter(|p| p.version.get(..2) == Some(&[2, 7][..]))
            .collect();
        for py in &old27 {
            if let Some(e) = py.libdir.as_deref().and_then(|l| ssl_backport(cx.guest, l)) {
                return Outcome::new(
                    Status::Warn,
                    format!(
                        "Python {} is older than {}, but its ssl module has \
                         create_default_context: the distribution back-ported 2.7.9's TLS \
                         features (as RHEL and CentOS 7 do). HTTPS certificate validation works; \
                         confirm the agent version accepts it.",
                        py.shown(),
                        self.min
                    ),
                )
                .with(ev)
                .with([e]);
            }
        }
        if pythons.is_empty() {
            let names = ["python", "python2.7", "python3"].map(String::from);
            return Outcome::new(
                Status::Fail,
                format!(
                    "no Python interpreter is installed (need {} or later)",
                    self.min
                ),
            )
            .with([
                cx.package_evidence_none(&names),
                Evidence::file("/usr/bin", "no pythonX.Y interpreter"),
                Evidence::file("/usr/local/bin", "no pythonX.Y interpreter"),
            ]);
        }
        let msg = format!(
            "Python {} is older than {} and has no back-ported ssl features",
            pythons
                .iter()
                .map(Python::shown)
                .collect::<Vec<_>>()
                .join(", "),
            self.min
        );
        // Where the back-port was looked for.
        let ssl: Vec<Evidence> = old27
            .iter()
            .filter_map(|py| {
                let path = format!("{}/ssl.py", py.libdir.as_deref()?);
                let text = if cx.guest.is_file(&path) {
                    "no create_default_context: 2.7.9's TLS features are not back-ported"
                } else {
                    "missing"
                };
                Some(Evidence::file(path, text))
            })
            .collect();
        Outcome::new(Status::Fail, msg).with(ev).with(ssl)
    }
}

/// `probe: python2`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Python2 {}

impl Probe for Python2 {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        let pythons = cx.pythons();
        let ev: Vec<Evidence> = pythons.iter().map(|p| p.evidence.clone()).collect();
        match pythons.iter().find(|p| p.version.first() == Some(&2)) {
            Some(p) => {
                Outcome::new(Status::Pass, format!("Python {} is installed", p.shown())).with(ev)
            }
            None => Outcome::new(
                Status::Fail,
                "no Python 2 interpreter: the dynamic bootstrap scripts need Python 2, and this \
                 release ships only Python 3",
            )
            .with(ev)
            .with([cx.package_evidence_none(&["python2.7".into(), "python-minimal".into()])]),
        }
    }
}
