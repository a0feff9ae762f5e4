//! Python interpreters: which are installed and at which version.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::generic::package_evidence;
use super::text::list_dir;
use crate::eval::Context;
use crate::model::{Evidence, Outcome, Status};

/// An interpreter found in the image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Python {
    /// Upstream version, e.g. `2.7.5`; only major.minor when nothing says more.
    pub version: Vec<u32>,
    /// Where the version came from.
    pub evidence: Evidence,
    /// The `X.Y` library directory, e.g. `/usr/lib64/python2.7`.
    pub libdir: Option<String>,
}

impl Python {
    fn shown(&self) -> String {
        self.version
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }
}

static PKG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^python(?:(\d)(?:\.?(\d+))?)?(?:-minimal)?$").unwrap_or_else(|e| panic!("{e}"))
});
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)\.(\d+)(?:\.(\d+))?").unwrap_or_else(|e| panic!("{e}")));
static BIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^python(\d)\.(\d+)$").unwrap_or_else(|e| panic!("{e}")));

fn parse_version(s: &str) -> Option<Vec<u32>> {
    let c = VERSION.captures(s)?;
    Some(
        (1..=3)
            .filter_map(|i| c.get(i).and_then(|m| m.as_str().parse().ok()))
            .collect(),
    )
}

/// Every Python interpreter the package list or the filesystem shows.
pub(crate) fn find_pythons(cx: &Context<'_>) -> Vec<Python> {
    let mut out: Vec<Python> = Vec::new();
    for a in cx.os.applications.iter().flatten() {
        if !PKG.is_match(&a.name) {
            continue;
        }
        let Some(v) = a.version.as_deref().and_then(parse_version) else {
            continue;
        };
        // `python` on Debian is a dependency package whose version is not the interpreter's.
        if cx.os.package_format.as_deref() == Some("deb") && !a.name.contains('.') {
            continue;
        }
        if v.first().copied() < Some(2) {
            continue;
        }
        let libdir = lib_dir(cx, v[0], *v.get(1).unwrap_or(&0));
        out.push(Python {
            version: v,
            evidence: package_evidence(cx, a),
            libdir,
        });
    }
    // Interpreters outside the package manager (built from source, /usr/local).
    for dir in ["/usr/bin", "/usr/local/bin", "/opt/python/bin"] {
        for name in list_dir(cx.guest, dir) {
            let Some(c) = BIN.captures(&name) else {
                continue;
            };
            let (Ok(major), Ok(minor)) = (c[1].parse::<u32>(), c[2].parse::<u32>()) else {
                continue;
            };
            if out
                .iter()
                .any(|p| p.version.get(..2) == Some(&[major, minor][..]))
            {
                continue;
            }
            let path = format!("{dir}/{name}");
            let prefix = dir.trim_end_matches("/bin");
            let patch = patchlevel(cx, prefix, major, minor);
            let version = patch.clone().map_or(vec![major, minor], |(v, _)| v);
            let evidence = match patch {
                Some((_, e)) => e,
                None => Evidence::file(&path, "interpreter (patch level unknown)"),
            };
            out.push(Python {
                version,
                evidence,
                libdir: lib_dir(cx, major, minor),
            });
        }
    }
    out
}

/// `PY_VERSION` from the interpreter's `patchlevel.h`, when headers are installed.
fn patchlevel(
    cx: &Context<'_>,
    prefix: &str,
    major: u32,
    minor: u32,
) -> Option<(Vec<u32>, Evidence)> {
    let path = format!("{prefix}/include/python{major}.{minor}/patchlevel.h");
    let lines = super::read_lines(cx.guest, &path).ok()??;
    lines.lines.iter().find_map(|(n, l)| {
        let v = l
            .trim()
            .strip_prefix("#define PY_VERSION")?
            .trim()
            .trim_matches('"');
        Some((parse_version(v)?, Evidence::line(&path, *n, l.trim())))
    })
}

fn lib_dir(cx: &Context<'_>, major: u32, minor: u32) -> Option<String> {
    ["/usr/lib64", "/usr/lib", "/usr/local/lib"]
        .iter()
        .map(|d| format!("{d}/python{major}.{minor}"))
        .find(|d| cx.guest.is_dir(d))
}

/// True when the interpreter's `ssl.py` has `create_default_context` (2.7.9's ssl features,
/// back-ported by RHEL and CentOS 7 into 2.7.5).
fn ssl_backport(cx: &Context<'_>, py: &Python) -> Option<Evidence> {
    let path = format!("{}/ssl.py", py.libdir.as_deref()?);
    let lines = super::read_lines(cx.guest, &path).ok()??;
    lines
        .lines
        .iter()
        .find(|(_, l)| l.starts_with("def create_default_context"))
        .map(|(n, l)| Evidence::line(&path, *n, l.as_str()))
}

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

impl PythonVersion {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the Windows agent bundles its own Python");
        }
        let min = parse_version(&self.min).unwrap_or_else(|| vec![2, 7, 9]);
        let pythons = find_pythons(cx);
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
            if let Some(e) = ssl_backport(cx, py) {
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
        let msg = if pythons.is_empty() {
            let names = ["python", "python2.7", "python3"].map(String::from);
            return Outcome::new(
                Status::Fail,
                format!(
                    "no Python interpreter is installed (need {} or later)",
                    self.min
                ),
            )
            .with([
                super::generic::package_evidence_none(cx, &names),
                Evidence::file("/usr/bin", "no pythonX.Y interpreter"),
                Evidence::file("/usr/local/bin", "no pythonX.Y interpreter"),
            ]);
        } else {
            format!(
                "Python {} is older than {} and has no back-ported ssl features",
                pythons
                    .iter()
                    .map(Python::shown)
                    .collect::<Vec<_>>()
                    .join(", "),
                self.min
            )
        };
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

impl Python2 {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        let pythons = find_pythons(cx);
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
            .with([super::generic::package_evidence_none(
                cx,
                &["python2.7".into(), "python-minimal".into()],
            )]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_package_names() {
        for (name, ok) in [
            ("python", true),
            ("python2.7", true),
            ("python2.7-minimal", true),
            ("python3", true),
            ("python36", true),
            ("python3.11-minimal", true),
            ("python-libs", false),
            ("python3-pip", false),
            ("python2.7-dev", false),
        ] {
            assert_eq!(PKG.is_match(name), ok, "{name}");
        }
        assert_eq!(parse_version("2.7.5"), Some(vec![2, 7, 5]));
        assert_eq!(
            parse_version("2.7.12-1ubuntu0~16.04.18"),
            Some(vec![2, 7, 12])
        );
        assert_eq!(parse_version("3.6"), Some(vec![3, 6]));
        assert_eq!(parse_version("x"), None);
    }
}
