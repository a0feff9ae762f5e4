//! Python interpreters in a guest: the versions the package database and the filesystem show,
//! `patchlevel.h`, the library directory and RHEL 7's back-port of 2.7.9's `ssl` features; and
//! virtualenvs (`venv`).

pub mod venv;

use std::sync::LazyLock;

use imgprep_guest::Guest;
use regex::Regex;

use crate::Evidence;
use crate::path::join;
use crate::text::{list_dir, read_lines};

pub(crate) static PYDIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^python(\d)\.(\d+)$").unwrap_or_else(|e| panic!("{e}")));
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)\.(\d+)(?:\.(\d+))?").unwrap_or_else(|e| panic!("{e}")));

/// `2.7.5` from the start of `s` (`2.7.5.final.0`, `2.7.5-89.el7`, …): up to three numbers.
pub fn parse_version(s: &str) -> Option<Vec<u32>> {
    let c = VERSION.captures(s.trim())?;
    Some(
        (1..=3)
            .filter_map(|i| c.get(i).and_then(|m| m.as_str().parse().ok()))
            .collect(),
    )
}

/// `(X, Y)` from a `pythonX.Y` name.
pub fn pydir_version(name: &str) -> Option<(u32, u32)> {
    let c = PYDIR.captures(name)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
}

/// A version for people: `2.7.5`.
pub fn shown(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// `PY_VERSION` of `PREFIX/include/pythonX.Y/patchlevel.h`: the version, what said it, the line.
pub(crate) fn patchlevel_fact(
    g: &dyn Guest,
    prefix: &str,
    mm: (u32, u32),
) -> Option<(Vec<u32>, String, Evidence)> {
    let path = join(
        prefix,
        &format!("include/python{}.{}/patchlevel.h", mm.0, mm.1),
    );
    let lines = read_lines(g, &path).ok()??;
    lines.lines.iter().find_map(|(n, l)| {
        let v = l
            .trim()
            .strip_prefix("#define")?
            .trim()
            .strip_prefix("PY_VERSION")?;
        // Not PY_VERSION_HEX.
        if !v.starts_with(char::is_whitespace) {
            return None;
        }
        let v = v.trim().trim_matches('"');
        Some((
            parse_version(v)?,
            format!("{path} (PY_VERSION)"),
            Evidence::line(&path, *n, l.trim()),
        ))
    })
}

/// An interpreter found in the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Python {
    /// Upstream version, e.g. `2.7.5`; only major.minor when nothing says more.
    pub version: Vec<u32>,
    /// Where the version came from.
    pub evidence: Evidence,
    /// The `X.Y` library directory, e.g. `/usr/lib64/python2.7`.
    pub libdir: Option<String>,
}

impl Python {
    /// The version for people.
    pub fn shown(&self) -> String {
        shown(&self.version)
    }
}

/// The first `X.Y` library directory that exists.
pub fn lib_dir(g: &dyn Guest, major: u32, minor: u32) -> Option<String> {
    ["/usr/lib64", "/usr/lib", "/usr/local/lib"]
        .iter()
        .map(|d| format!("{d}/python{major}.{minor}"))
        .find(|d| g.is_dir(d))
}

/// Every interpreter: `packaged` (from the package database: version and evidence), then
/// `pythonX.Y` programs in `/usr/bin`, `/usr/local/bin` and `/opt/python/bin` that no package
/// accounts for, with their patch level from `patchlevel.h` when headers are installed.
pub fn interpreters(g: &dyn Guest, packaged: Vec<(Vec<u32>, Evidence)>) -> Vec<Python> {
    let mut out: Vec<Python> = packaged
        .into_iter()
        .map(|(version, evidence)| {
            let libdir = lib_dir(g, version[0], *version.get(1).unwrap_or(&0));
            Python {
                version,
                evidence,
                libdir,
            }
        })
        .collect();
    for dir in ["/usr/bin", "/usr/local/bin", "/opt/python/bin"] {
        for name in list_dir(g, dir) {
            let Some((major, minor)) = pydir_version(&name) else {
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
            let patch = patchlevel_fact(g, prefix, (major, minor));
            let version = patch
                .as_ref()
                .map_or(vec![major, minor], |(v, _, _)| v.clone());
            let evidence = match patch {
                Some((_, _, e)) => e,
                None => Evidence::file(&path, "interpreter (patch level unknown)"),
            };
            out.push(Python {
                version,
                evidence,
                libdir: lib_dir(g, major, minor),
            });
        }
    }
    out
}

/// The `def create_default_context` line of the interpreter's `ssl.py`: 2.7.9's TLS features,
/// back-ported by RHEL and CentOS 7 into 2.7.5.
pub fn ssl_backport(g: &dyn Guest, libdir: &str) -> Option<Evidence> {
    let path = format!("{libdir}/ssl.py");
    let lines = read_lines(g, &path).ok()??;
    lines
        .lines
        .iter()
        .find(|(_, l)| l.starts_with("def create_default_context"))
        .map(|(n, l)| Evidence::line(&path, *n, l.as_str()))
}
