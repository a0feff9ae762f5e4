//! Cloudify agents: the agent's virtualenv, the interpreter it was made from, and the plugins
//! its package says it includes.
//!
//! Where the facts come from:
//! - a Linux agent is a virtualenv with the `cloudify-agent` module and plugins installed in it,
//!   made by the agent packager (`cfy-ap`: `virtualenv -p python_path cloudify/env`, then a tar
//!   of it) and extracted by the agent installer with the first component stripped, so the
//!   virtualenv lands in `<agent_dir>/env`: `~<user>/<agent name>/env` up to Cloudify 5.1,
//!   `/opt/cloudify-agent-<version>/<agent name>/env` in 5.2 to 6.x,
//!   `/opt/cloudify-agent/agent-<version>/env` from 7.0;
//! - a virtualenv points at the interpreter it was made from: `bin/python` is a symbolic link to
//!   it (or a copy), `pyvenv.cfg` names its directory (`home =`, PEP 405 and virtualenv 20), and
//!   virtualenv before 20 writes the base prefix into `lib/pythonX.Y/orig-prefix.txt` and links
//!   standard modules such as `lib/pythonX.Y/os.py` into the base library directory;
//! - cloudify-agent 3.2 and 3.3 list the plugins an agent includes in
//!   `cloudify_agent/included_plugins.py` (`included_plugins = ['cloudify-script-plugin', …]`),
//!   which the packager regenerates from what it installed; the agent's daemon registers each
//!   name at start. The file is Python: it is read as a literal list, never run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use imgprep_fs::FileKind;
use imgprep_guest::Guest;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::boot::normalize;
use super::text::{list_dir, read_lines};
use crate::eval::Context;
use crate::model::{Evidence, Outcome, Status};

/// Entries read from one directory while expanding `*` or scanning a library directory.
const MAX_SCAN: usize = 256;
/// Candidate virtualenv directories looked at, over all patterns.
const MAX_CANDIDATES: usize = 256;
/// Entries read from one `site-packages`.
const MAX_SITE: usize = 8192;
/// Largest `included_plugins.py` read.
const MAX_PLUGINS_FILE: u64 = 1 << 20;
/// Deepest bracket nesting accepted in `included_plugins.py`.
const MAX_DEPTH: usize = 32;
/// Most names accepted in `included_plugins`.
const MAX_ITEMS: usize = 4096;
/// Symbolic links followed from `bin/python` (as the kernel's limit).
const MAX_HOPS: usize = imgprep_guest::MAX_SYMLINKS;
/// Dangling links of the library directory shown as evidence.
const MAX_SHOWN: usize = 8;

/// The assignment `included_plugins.py` holds.
const LIST_NAME: &str = "included_plugins";

static PYDIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^python(\d)\.(\d+)$").unwrap_or_else(|e| panic!("{e}")));
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)\.(\d+)(?:\.(\d+))?").unwrap_or_else(|e| panic!("{e}")));

/// `2.7.5` from the start of `s` (`2.7.5.final.0`, `2.7.5-89.el7` …).
fn parse_version(s: &str) -> Option<Vec<u32>> {
    let c = VERSION.captures(s.trim())?;
    Some(
        (1..=3)
            .filter_map(|i| c.get(i).and_then(|m| m.as_str().parse().ok()))
            .collect(),
    )
}

/// `(X, Y)` from a `pythonX.Y` name.
fn pydir_version(name: &str) -> Option<(u32, u32)> {
    let c = PYDIR.captures(name)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
}

fn shown(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((p, _)) => p,
    }
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit_once('/')
        .map_or(path, |(_, b)| b)
}

/// `dir/name` without a doubled slash at the root.
fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// True when `name` matches `pat`, where `*` matches any run of characters.
fn glob(pat: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if Some(c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// Directories matching `pattern`; `*` in a component matches names not starting with `.`.
fn expand(g: &dyn Guest, pattern: &str) -> Vec<String> {
    let mut cur: Vec<String> = vec![String::new()];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &cur {
            if comp.contains('*') {
                let dir = if base.is_empty() { "/" } else { base.as_str() };
                next.extend(
                    list_dir(g, dir)
                        .into_iter()
                        .take(MAX_SCAN)
                        .filter(|n| !n.starts_with('.') && glob(comp, n))
                        .map(|n| format!("{base}/{n}")),
                );
            } else {
                next.push(format!("{base}/{comp}"));
            }
            if next.len() >= MAX_CANDIDATES {
                next.truncate(MAX_CANDIDATES);
                break;
            }
        }
        cur = next;
    }
    cur.into_iter()
        .map(|p| if p.is_empty() { "/".to_owned() } else { p })
        .filter(|p| g.is_dir(p))
        .collect()
}

/// One thing a virtualenv must hold: the path looked at and, when found, what it is.
#[derive(Debug, Clone)]
struct Piece {
    what: &'static str,
    path: String,
    found: Option<String>,
}

impl Piece {
    fn evidence(&self) -> Evidence {
        Evidence::file(
            &self.path,
            self.found.clone().unwrap_or_else(|| "missing".into()),
        )
    }
}

/// A directory that may be the agent's virtualenv, and what it holds.
#[derive(Debug, Clone)]
struct Venv {
    root: String,
    /// bin/python, bin/activate, the virtualenv marker, the cloudify_agent package.
    pieces: [Piece; 4],
    /// The `lib/pythonX.Y` directory holding the agent (or the first one).
    libdir: Option<String>,
    /// Its `site-packages` directories.
    sites: Vec<String>,
    /// The `cloudify_agent` package directory.
    package: Option<String>,
    /// The directory holds a Python of its own rather than a virtualenv (Cloudify 7).
    bundled: bool,
}

impl Venv {
    fn inspect(g: &dyn Guest, root: &str) -> Self {
        let libs: Vec<String> = list_dir(g, &join(root, "lib"))
            .into_iter()
            .take(MAX_SCAN)
            .filter(|n| PYDIR.is_match(n))
            .map(|n| join(root, &format!("lib/{n}")))
            .filter(|d| g.is_dir(d))
            .collect();
        let mut package = None;
        let mut libdir = None;
        let mut sites = Vec::new();
        for lib in &libs {
            let site = join(lib, "site-packages");
            if package.is_none()
                && g.is_dir(&site)
                && let Some(p) = agent_package(g, &site)
            {
                package = Some(p);
                libdir = Some(lib.clone());
                sites = vec![site];
            }
        }
        if libdir.is_none() {
            libdir = libs
                .iter()
                .find(|l| g.is_dir(&join(l, "site-packages")))
                .or(libs.first())
                .cloned();
            sites = libdir
                .iter()
                .map(|l| join(l, "site-packages"))
                .filter(|s| g.is_dir(s))
                .collect();
        }
        // RHEL-family virtualenvs may keep compiled packages in lib64.
        if let Some(lib) = &libdir {
            let site64 = join(root, &format!("lib64/{}/site-packages", base_name(lib)));
            let real = |p: &str| g.realpath(p).ok();
            if g.is_dir(&site64) && sites.iter().all(|s| real(s) != real(&site64)) {
                sites.push(site64);
            }
        }
        let bundled = bundled_python(g, root, libdir.as_deref());

        let py = join(root, "bin/python");
        let python = Piece {
            what: "bin/python",
            found: match g.lstat(&py) {
                Ok(Some(m)) if m.kind == FileKind::Symlink => Some(match g.read_link(&py) {
                    Ok(t) => format!("symbolic link to {}", String::from_utf8_lossy(&t)),
                    Err(e) => format!("symbolic link ({e})"),
                }),
                Ok(Some(m)) if m.kind == FileKind::File => {
                    Some("the interpreter (a copy, not a link)".into())
                }
                _ => None,
            },
            path: py,
        };
        let act = join(root, "bin/activate");
        let activate = Piece {
            what: "bin/activate",
            found: if g.is_file(&act) {
                Some("activation script".into())
            } else if bundled {
                Some("absent, as expected where the agent bundles its own Python".into())
            } else {
                None
            },
            path: act,
        };
        let cfg = join(root, "pyvenv.cfg");
        let orig = libdir
            .as_deref()
            .map(|l| join(l, "orig-prefix.txt"))
            .unwrap_or_else(|| join(root, "lib/pythonX.Y/orig-prefix.txt"));
        let what = "pyvenv.cfg or lib/pythonX.Y/orig-prefix.txt";
        let marker = if g.is_file(&cfg) {
            Piece {
                what,
                path: cfg,
                found: Some("virtualenv marker (PEP 405 / virtualenv 20 and later)".into()),
            }
        } else if g.is_file(&orig) {
            Piece {
                what,
                found: Some(format!(
                    "virtualenv marker (virtualenv before 20), base prefix {}",
                    first_line(g, &orig).unwrap_or_default()
                )),
                path: orig,
            }
        } else if bundled && let Some(lib) = &libdir {
            Piece {
                what,
                path: join(lib, "os.py"),
                found: Some(
                    "a standard library of its own: the agent bundles its Python instead of \
                     being a virtualenv (Cloudify 7 agent packages)"
                        .into(),
                ),
            }
        } else {
            Piece {
                what,
                path: orig,
                found: None,
            }
        };
        let pkg = Piece {
            what: "the cloudify_agent package",
            path: package.clone().unwrap_or_else(|| match &libdir {
                Some(l) => join(l, "site-packages/cloudify_agent"),
                None => join(root, "lib/pythonX.Y/site-packages/cloudify_agent"),
            }),
            found: package
                .as_ref()
                .map(|_| "the cloudify_agent package (cloudify-agent module)".into()),
        };
        Venv {
            root: root.to_owned(),
            pieces: [python, activate, marker, pkg],
            libdir,
            sites,
            package,
            bundled,
        }
    }

    fn score(&self) -> usize {
        self.pieces.iter().filter(|p| p.found.is_some()).count()
    }

    fn missing(&self) -> Vec<&'static str> {
        self.pieces
            .iter()
            .filter(|p| p.found.is_none())
            .map(|p| p.what)
            .collect()
    }

    fn evidence(&self) -> Vec<Evidence> {
        self.pieces.iter().map(Piece::evidence).collect()
    }
}

/// True when `root` holds its own interpreter and standard library rather than pointing at a
/// base installation: no `pyvenv.cfg`, `bin/python` a file or a link within `root`, and
/// `libdir/os.py` a regular file (Cloudify 7's agent packages copy a whole Python into `env`).
fn bundled_python(g: &dyn Guest, root: &str, libdir: Option<&str>) -> bool {
    let Some(lib) = libdir else {
        return false;
    };
    if g.is_file(&join(root, "pyvenv.cfg")) || !g.is_file_nofollow(&join(lib, "os.py")) {
        return false;
    }
    let root_real = g.realpath(root).unwrap_or_else(|_| root.to_owned());
    g.realpath(&join(root, "bin/python"))
        .is_ok_and(|p| p.starts_with(&format!("{root_real}/")) && g.is_file(&p))
}

/// The `cloudify_agent` package in `site`: a package directory, or a develop install's
/// `.egg-link` pointing at a source tree that holds it.
fn agent_package(g: &dyn Guest, site: &str) -> Option<String> {
    let dir = join(site, "cloudify_agent");
    if g.is_file(&join(&dir, "__init__.py")) {
        return Some(dir);
    }
    ["cloudify-agent.egg-link", "cloudify_agent.egg-link"]
        .iter()
        .find_map(|l| {
            let src = first_line(g, &join(site, l))?;
            let dir = join(&src, "cloudify_agent");
            (src.starts_with('/') && g.is_file(&join(&dir, "__init__.py"))).then_some(dir)
        })
}

/// The first non-blank line of a guest file, trimmed.
fn first_line(g: &dyn Guest, path: &str) -> Option<String> {
    let lines = read_lines(g, path).ok()??;
    lines
        .lines
        .iter()
        .map(|(_, l)| l.trim())
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// What a search for the agent's virtualenv found.
#[derive(Debug)]
struct Search {
    /// The first candidate holding the agent, else the most complete one.
    venv: Option<Venv>,
    /// Patterns that matched no directory.
    unmatched: Vec<String>,
}

fn find_venv(g: &dyn Guest, spec: &str) -> Result<Search, String> {
    let patterns: Vec<&str> = spec
        .split(':')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if patterns.is_empty() {
        return Err("agent_dir is empty: give the guest path of the agent's virtualenv".into());
    }
    if let Some(p) = patterns.iter().find(|p| !p.starts_with('/')) {
        return Err(format!("agent_dir: {p:?} is not an absolute guest path"));
    }
    let mut unmatched = Vec::new();
    let mut seen = BTreeSet::new();
    let mut best: Option<Venv> = None;
    for p in &patterns {
        let dirs = expand(g, p);
        if dirs.is_empty() {
            unmatched.push((*p).to_owned());
        }
        for d in dirs {
            if seen.len() >= MAX_CANDIDATES || !seen.insert(d.clone()) {
                continue;
            }
            let v = Venv::inspect(g, &d);
            if v.package.is_some() {
                return Ok(Search {
                    venv: Some(v),
                    unmatched,
                });
            }
            if best.as_ref().is_none_or(|b| v.score() > b.score()) {
                best = Some(v);
            }
        }
    }
    Ok(Search {
        venv: best,
        unmatched,
    })
}

/// `probe: cloudify-agent-venv`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudifyAgentVenv {
    /// Where the virtualenv may be: guest paths separated by `:`; `*` matches within one path
    /// component.
    pub venv: String,
}

impl CloudifyAgentVenv {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(
                Status::Skip,
                "the Windows agent is an installer with its own Python, not a virtualenv",
            );
        }
        let spec = cx.expand(&self.venv);
        let search = match find_venv(cx.guest, &spec) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let Some(v) = search.venv else {
            return Outcome::new(
                Status::Fail,
                format!("no Cloudify agent virtualenv: no directory matches {spec}"),
            )
            .with(
                search
                    .unmatched
                    .iter()
                    .map(|p| Evidence::file(p, "no such directory")),
            );
        };
        let missing = v.missing();
        if missing.is_empty() && v.bundled {
            return Outcome::new(
                Status::Pass,
                format!(
                    "the Cloudify agent is {}, a Python installation of its own (bin/python and \
                     its standard library) with the cloudify_agent package",
                    v.root
                ),
            )
            .with(v.evidence());
        }
        if missing.is_empty() {
            return Outcome::new(
                Status::Pass,
                format!(
                    "the Cloudify agent virtualenv is {} (bin/python, bin/activate, {} and the \
                     cloudify_agent package)",
                    v.root,
                    base_name(&v.pieces[2].path)
                ),
            )
            .with(v.evidence());
        }
        let what = if v.package.is_none() && missing.len() == v.pieces.len() {
            format!("{} is not a virtualenv", v.root)
        } else {
            format!("{} is not a complete Cloudify agent virtualenv", v.root)
        };
        Outcome::new(
            Status::Fail,
            format!("{what}: missing {}", missing.join(", ")),
        )
        .with(v.evidence())
    }
}

/// A Python version range the agent supports: `X.Y` or `X.Y+` (that and any later version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Supported {
    v: (u32, u32),
    or_later: bool,
}

fn parse_supported(spec: &str) -> Result<Vec<Supported>, String> {
    let out: Vec<Supported> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (body, or_later) = match s.strip_suffix('+') {
                Some(b) => (b.trim(), true),
                None => (s, false),
            };
            let (a, b) = body
                .split_once('.')
                .ok_or_else(|| format!("python_versions: {s:?} is not X.Y or X.Y+"))?;
            match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) => Ok(Supported {
                    v: (a, b),
                    or_later,
                }),
                _ => Err(format!("python_versions: {s:?} is not X.Y or X.Y+")),
            }
        })
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Err("python_versions is empty".into());
    }
    Ok(out)
}

fn supports(list: &[Supported], v: (u32, u32)) -> bool {
    list.iter()
        .any(|s| if s.or_later { v >= s.v } else { v == s.v })
}

/// Where a chain of symbolic links ends.
#[derive(Debug, Clone, PartialEq)]
enum End {
    /// An existing object that is not a link: (path, kind).
    Found(String, FileKind),
    /// A path that does not exist.
    Missing(String),
    /// A link seen twice, or more links than the kernel follows.
    Loop(String),
    /// The filesystem could not be read.
    Unreadable(String),
}

/// Follows the links of `start` one by one inside the guest, with evidence for each link.
fn follow(g: &dyn Guest, start: &str) -> (Vec<Evidence>, End) {
    let mut ev = Vec::new();
    let mut cur = start.to_owned();
    let mut seen = BTreeSet::new();
    for _ in 0..=MAX_HOPS {
        let meta = match g.lstat(&cur) {
            Ok(m) => m,
            Err(e) => return (ev, End::Unreadable(format!("{cur}: {e}"))),
        };
        let shown = tidy(g, &cur);
        match meta {
            None => return (ev, End::Missing(shown)),
            Some(m) if m.kind == FileKind::Symlink => {
                if !seen.insert(shown.clone()) {
                    return (ev, End::Loop(shown));
                }
                let target = match g.read_link(&cur) {
                    Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                    Err(e) => return (ev, End::Unreadable(format!("{shown}: {e}"))),
                };
                ev.push(Evidence::file(&shown, format!("symbolic link to {target}")));
                cur = if target.starts_with('/') {
                    target
                } else {
                    let dir = parent(&cur);
                    join(&g.realpath(dir).unwrap_or_else(|_| dir.to_owned()), &target)
                };
            }
            Some(m) => return (ev, End::Found(shown, m.kind)),
        }
    }
    (ev, End::Loop(tidy(g, &cur)))
}

/// `path` for people: its directory resolved inside the guest when it exists, else lexically.
fn tidy(g: &dyn Guest, path: &str) -> String {
    let base = base_name(path);
    if matches!(base, "" | "." | "..") {
        return g.realpath(path).unwrap_or_else(|_| normalize(path));
    }
    match g.realpath(parent(path)) {
        Ok(dir) => join(&dir, base),
        Err(_) => normalize(path),
    }
}

/// `key = value` settings of `pyvenv.cfg`, with their lines.
fn pyvenv_cfg(g: &dyn Guest, path: &str) -> BTreeMap<String, (usize, String, String)> {
    let mut out = BTreeMap::new();
    if let Ok(Some(lines)) = read_lines(g, path) {
        for (n, l) in lines.meaningful() {
            if let Some((k, v)) = l.split_once('=') {
                out.insert(
                    k.trim().to_ascii_lowercase(),
                    (n, v.trim().to_owned(), l.to_owned()),
                );
            }
        }
    }
    out
}

/// A fact about the base interpreter's version: major.minor, maybe the patch level.
#[derive(Debug, Clone)]
struct VersionFact {
    v: Vec<u32>,
    what: String,
    evidence: Evidence,
}

/// `PY_VERSION` of `patchlevel.h` under `prefix`.
fn patchlevel(g: &dyn Guest, prefix: &str, mm: (u32, u32)) -> Option<VersionFact> {
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
        Some(VersionFact {
            v: parse_version(v)?,
            what: format!("{path} (PY_VERSION)"),
            evidence: Evidence::line(&path, *n, l.trim()),
        })
    })
}

/// `probe: cloudify-agent-python`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudifyAgentPython {
    /// Where the virtualenv may be (as `cloudify-agent-venv`).
    pub venv: String,
    /// Supported interpreter versions: `X.Y` or `X.Y+`, separated by `,`.
    pub supported: String,
}

impl CloudifyAgentPython {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the Windows agent bundles its own Python");
        }
        let spec = cx.expand(&self.supported);
        let supported = match parse_supported(&spec) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let search = match find_venv(cx.guest, &cx.expand(&self.venv)) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let Some(v) = search.venv.filter(|v| v.pieces[0].found.is_some()) else {
            return Outcome::new(
                Status::Skip,
                "no agent virtualenv with a bin/python was found (see cloudify-agent.present)",
            );
        };
        base_interpreter(cx, &v, &supported, &spec)
    }
}

fn base_interpreter(cx: &Context<'_>, v: &Venv, supported: &[Supported], spec: &str) -> Outcome {
    let g = cx.guest;
    let root_real = g.realpath(&v.root).unwrap_or_else(|_| v.root.clone());
    let inside = |p: &str| p == root_real || p.starts_with(&format!("{root_real}/"));
    let mut ev: Vec<Evidence> = Vec::new();
    let mut facts: Vec<VersionFact> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let fail = |ev: Vec<Evidence>, msg: String| Outcome::new(Status::Fail, msg).with(ev);

    // 1. bin/python and its chain of links.
    let py = join(&v.root, "bin/python");
    let (hops, end) = follow(g, &py);
    ev.extend(hops);
    let mut base: Option<String> = None;
    match end {
        End::Found(p, FileKind::File) if !inside(&p) => {
            ev.push(Evidence::file(&p, "the base interpreter"));
            base = Some(p);
        }
        End::Found(p, FileKind::File) if v.bundled => {
            ev.push(Evidence::file(
                &p,
                "the agent's own interpreter (it bundles its standard library)",
            ));
            prefixes.push(v.root.clone());
            base = Some(p);
        }
        End::Found(p, FileKind::File) => {
            ev.push(Evidence::file(
                &p,
                "a copy of the interpreter inside the virtualenv",
            ));
        }
        End::Found(p, kind) => {
            ev.push(Evidence::file(&p, format!("{kind:?}, not an interpreter")));
            return fail(
                ev,
                format!("{py} leads to {p}, which is not a file: the virtualenv cannot start"),
            );
        }
        End::Missing(p) => {
            ev.push(Evidence::file(&p, "missing"));
            return fail(
                ev,
                format!(
                    "the agent's base interpreter is missing: {py} leads to {p}, which does not \
                     exist in the image"
                ),
            );
        }
        End::Loop(p) => {
            return fail(
                ev,
                format!("{py} is a loop of symbolic links (at {p}): the virtualenv cannot start"),
            );
        }
        End::Unreadable(e) => return Outcome::new(Status::Error, e).with(ev),
    }

    // 2. pyvenv.cfg: home and version.
    let cfg_path = join(&v.root, "pyvenv.cfg");
    let cfg = pyvenv_cfg(g, &cfg_path);
    let mut home = None;
    if let Some((n, h, line)) = cfg.get("home") {
        if g.is_dir(h) {
            ev.push(Evidence::line(&cfg_path, *n, format!("{line} (exists)")));
            home = Some(h.clone());
            prefixes.push(parent(h).to_owned());
        } else {
            ev.push(Evidence::line(&cfg_path, *n, line.as_str()));
            ev.push(Evidence::file(h, "missing"));
            return fail(
                ev,
                format!(
                    "the agent's base interpreter is missing: pyvenv.cfg says it is in {h}, \
                     which does not exist in the image"
                ),
            );
        }
    }
    for key in ["version", "version_info"] {
        if let Some((n, val, line)) = cfg.get(key)
            && let Some(ver) = parse_version(val)
        {
            facts.push(VersionFact {
                v: ver,
                what: format!("pyvenv.cfg {key}"),
                evidence: Evidence::line(&cfg_path, *n, line.as_str()),
            });
            break;
        }
    }

    // 3. The virtualenv's own library directory, orig-prefix.txt and the links into the base
    // library (virtualenv before 20).
    let mut prefix = None;
    if let Some(lib) = &v.libdir
        && let Some(mm) = pydir_version(base_name(lib))
    {
        facts.push(VersionFact {
            v: vec![mm.0, mm.1],
            what: format!("{lib} (the virtualenv's library directory)"),
            evidence: Evidence::file(
                lib,
                format!("library directory for Python {}.{}", mm.0, mm.1),
            ),
        });
        let orig = join(lib, "orig-prefix.txt");
        if let Some(p) = first_line(g, &orig) {
            if g.is_dir(&p) {
                ev.push(Evidence::file(&orig, format!("base prefix {p} (exists)")));
                prefixes.insert(0, p.clone());
                prefix = Some(p);
            } else {
                ev.push(Evidence::file(&orig, format!("base prefix {p}")));
                ev.push(Evidence::file(&p, "missing"));
                return fail(
                    ev,
                    format!(
                        "the agent's base interpreter is missing: orig-prefix.txt says it was \
                         installed under {p}, which does not exist in the image"
                    ),
                );
            }
        }
        let mut dangling = Vec::new();
        let mut names = list_dir(g, lib);
        names.truncate(MAX_SCAN);
        // os.py first: virtualenv links it to find the base prefix.
        if let Some(i) = names.iter().position(|n| n == "os.py") {
            let os = names.remove(i);
            names.insert(0, os);
        }
        for name in names {
            let path = join(lib, &name);
            if !g.is_symlink(&path) {
                continue;
            }
            let (hops, end) = follow(g, &path);
            match end {
                End::Found(p, _) if name == "os.py" => {
                    ev.extend(hops);
                    ev.push(Evidence::file(&p, "the base standard library's os.py"));
                    let stdlib = parent(&p);
                    if let Some(mm) = pydir_version(base_name(stdlib)) {
                        facts.push(VersionFact {
                            v: vec![mm.0, mm.1],
                            what: format!("{stdlib} (the base standard library)"),
                            evidence: Evidence::file(
                                stdlib,
                                format!("standard library of Python {}.{}", mm.0, mm.1),
                            ),
                        });
                    }
                }
                End::Found(..) => {}
                End::Missing(p) | End::Loop(p) => {
                    if dangling.len() < MAX_SHOWN {
                        ev.extend(hops);
                        ev.push(Evidence::file(&p, "missing"));
                    }
                    dangling.push(name);
                }
                End::Unreadable(e) => return Outcome::new(Status::Error, e).with(ev),
            }
        }
        if !dangling.is_empty() {
            return fail(
                ev,
                format!(
                    "the agent's base interpreter is missing: {} link{} of {lib} ({}) lead{} to \
                     nothing in the image",
                    dangling.len(),
                    if dangling.len() == 1 { "" } else { "s" },
                    dangling.join(", "),
                    if dangling.len() == 1 { "s" } else { "" },
                ),
            );
        }
    }

    // 4. The base interpreter itself, when bin/python is a copy.
    let libmm = facts
        .iter()
        .find(|f| f.what.contains("library directory"))
        .and_then(|f| Some((*f.v.first()?, *f.v.get(1)?)));
    if base.is_none() {
        let dirs: Vec<String> = home
            .iter()
            .cloned()
            .chain(prefix.iter().map(|p| join(p, "bin")))
            .collect();
        if dirs.is_empty() {
            return Outcome::new(
                Status::Error,
                format!(
                    "cannot tell which interpreter the virtualenv was made from: {py} is a copy, \
                     and there is neither a pyvenv.cfg home nor an orig-prefix.txt"
                ),
            )
            .with(ev);
        }
        let mut names = Vec::new();
        if let Some((a, b)) = libmm {
            names.push(format!("python{a}.{b}"));
            names.push(format!("python{a}"));
        }
        names.push("python".into());
        let looked: Vec<String> = dirs
            .iter()
            .flat_map(|d| names.iter().map(move |n| join(d, n)))
            .collect();
        match looked.iter().find(|p| g.is_file(p)) {
            Some(p) => {
                let real = g.realpath(p).unwrap_or_else(|_| p.clone());
                ev.push(Evidence::file(&real, "the base interpreter"));
                base = Some(real);
            }
            None => {
                ev.extend(looked.iter().map(|p| Evidence::file(p, "missing")));
                return fail(
                    ev,
                    format!(
                        "the agent's base interpreter is missing: none of {} exists in the image",
                        looked.join(", ")
                    ),
                );
            }
        }
    }
    let base = base.unwrap_or_default();
    if let Some(mm) = pydir_version(base_name(&base)) {
        facts.push(VersionFact {
            v: vec![mm.0, mm.1],
            what: format!("{base} (the base interpreter's name)"),
            evidence: Evidence::file(
                &base,
                format!("interpreter named for Python {}.{}", mm.0, mm.1),
            ),
        });
    }
    if let Some(bin) = base.rsplit_once('/').map(|(d, _)| d)
        && bin.ends_with("/bin")
    {
        prefixes.push(parent(bin).to_owned());
    }

    // 5. major.minor: every source must agree.
    let mut mms: BTreeMap<(u32, u32), Vec<&VersionFact>> = BTreeMap::new();
    for f in &facts {
        if let (Some(a), Some(b)) = (f.v.first(), f.v.get(1)) {
            mms.entry((*a, *b)).or_default().push(f);
        }
    }
    let mm = match mms.len() {
        0 => {
            return Outcome::new(
                Status::Error,
                format!(
                    "cannot tell the Python version of the agent's base interpreter {base}: no \
                     pythonX.Y name, pyvenv.cfg version or library directory says it"
                ),
            )
            .with(ev);
        }
        1 => mms.keys().next().copied().unwrap_or_default(),
        _ => {
            let said = mms
                .iter()
                .map(|((a, b), fs)| {
                    format!(
                        "{a}.{b} ({})",
                        fs.iter()
                            .map(|f| f.what.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(" but ");
            return fail(
                ev.into_iter()
                    .chain(facts.iter().map(|f| f.evidence.clone()))
                    .collect(),
                format!(
                    "the agent's virtualenv and its base interpreter disagree on the Python \
                     version: {said}; the virtualenv was made with another interpreter than the \
                     one the image has now"
                ),
            );
        }
    };

    // 6. The patch level: headers, the package database, then pyvenv.cfg.
    let mut full: Option<VersionFact> = None;
    let mut seen = BTreeSet::new();
    prefixes.retain(|p| seen.insert(p.clone()));
    for p in &prefixes {
        if let Some(f) = patchlevel(g, p, mm) {
            full = Some(f);
            break;
        }
    }
    if full.is_none() {
        full = super::python::find_pythons(cx)
            .into_iter()
            .find(|p| p.version.len() > 2 && p.version.get(..2) == Some(&[mm.0, mm.1][..]))
            .map(|p| VersionFact {
                v: p.version,
                what: "the package database".into(),
                evidence: p.evidence,
            });
    }
    if full.is_none() {
        full = facts.iter().find(|f| f.v.len() > 2).cloned();
    }
    let version = full
        .as_ref()
        .map_or_else(|| format!("{}.{}", mm.0, mm.1), |f| shown(&f.v));
    ev.extend(facts.iter().map(|f| f.evidence.clone()));
    if let Some(f) = &full
        && !facts.iter().any(|x| x.evidence == f.evidence)
    {
        ev.push(f.evidence.clone());
    }
    let who = if v.bundled {
        "the agent"
    } else {
        "the agent's virtualenv"
    };
    if supports(supported, mm) {
        Outcome::new(
            Status::Pass,
            format!(
                "{who} runs on Python {version} ({base}), a version the agent supports ({spec})"
            ),
        )
        .with(ev)
    } else {
        fail(
            ev,
            format!(
                "{who} runs on Python {version} ({base}), which the agent does not support \
                 (supported: {spec})"
            ),
        )
    }
}

/// `probe: cloudify-agent-plugins`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudifyAgentPlugins {
    /// Where the virtualenv may be (as `cloudify-agent-venv`).
    pub venv: String,
}

impl CloudifyAgentPlugins {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "applies to the Linux agent's virtualenv");
        }
        let search = match find_venv(cx.guest, &cx.expand(&self.venv)) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let Some((v, pkg)) = search.venv.and_then(|v| v.package.clone().map(|p| (v, p))) else {
            return Outcome::new(
                Status::Skip,
                "no cloudify_agent package was found (see cloudify-agent.present)",
            );
        };
        let path = join(&pkg, "included_plugins.py");
        let text = match cx.guest.read_text(&path, MAX_PLUGINS_FILE) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Outcome::new(
                    Status::Error,
                    format!(
                        "{path} does not exist, so the plugins this agent must include cannot be \
                         read: cloudify-agent 3.2 and 3.3 packages list them there (the agent \
                         packager writes the file); later agents have no such list and get their \
                         plugins from the manager"
                    ),
                )
                .with([Evidence::file(&path, "missing")]);
            }
            Err(e) => {
                return Outcome::new(Status::Error, format!("cannot read {path}: {e}"));
            }
        };
        let (line, listed) = match parse_included_plugins(&text) {
            Ok(x) => x,
            Err(e) => {
                let ev = e
                    .line
                    .checked_sub(1)
                    .and_then(|i| text.lines().nth(i))
                    .map(|l| Evidence::line(&path, e.line, l.trim()));
                return Outcome::new(
                    Status::Error,
                    format!(
                        "{path} is not a literal list of plugin names ({e}); imgprep reads it \
                         without running it, so the plugins cannot be checked"
                    ),
                )
                .with(ev);
            }
        };
        let mut ev = vec![Evidence::line(
            &path,
            line,
            text.lines()
                .nth(line.saturating_sub(1))
                .unwrap_or_default()
                .trim(),
        )];
        let installed = installed_dists(cx.guest, &v.sites);
        let mut missing = Vec::new();
        let mut names = Vec::new();
        for p in &listed {
            if names.contains(&p.name) {
                continue;
            }
            names.push(p.name.clone());
            match installed.get(&normalize_name(&p.name)) {
                Some(at) => ev.push(Evidence::file(at, format!("installed: {}", p.name))),
                None => missing.push(p),
            }
        }
        if names.is_empty() {
            return Outcome::new(
                Status::Pass,
                format!("{path} lists no plugins: there is nothing to check"),
            )
            .with(ev);
        }
        if missing.is_empty() {
            return Outcome::new(
                Status::Pass,
                format!(
                    "all {} plugins listed in included_plugins.py are installed in the agent's \
                     virtualenv: {}",
                    names.len(),
                    names.join(", ")
                ),
            )
            .with(ev);
        }
        let sites = if v.sites.is_empty() {
            "no site-packages".to_owned()
        } else {
            v.sites.join(", ")
        };
        for p in &missing {
            ev.push(Evidence::line(
                &path,
                p.line,
                format!("{} (no dist-info, egg-info or egg-link in {sites})", p.name),
            ));
        }
        Outcome::new(
            Status::Fail,
            format!(
                "{} of {} plugins listed in included_plugins.py {} not installed in the agent's \
                 virtualenv: {}; the agent registers every listed plugin when it starts",
                missing.len(),
                names.len(),
                if missing.len() == 1 { "is" } else { "are" },
                missing
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with(ev)
    }
}

/// A project name as pip compares them (PEP 503): lower case, runs of `-`, `_`, `.` as `-`.
fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// Installed distributions of `sites` by normalized name: `*.dist-info`, `*.egg-info`, `*.egg`
/// (`name-version…`) and `*.egg-link` (develop installs, `name.egg-link`).
fn installed_dists(g: &dyn Guest, sites: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for site in sites {
        for entry in list_dir(g, site).into_iter().take(MAX_SITE) {
            let project = if let Some(stem) = entry.strip_suffix(".egg-link") {
                stem
            } else if let Some(stem) = [".dist-info", ".egg-info", ".egg"]
                .iter()
                .find_map(|s| entry.strip_suffix(s))
            {
                stem.split_once('-').map_or(stem, |(n, _)| n)
            } else {
                continue;
            };
            let key = normalize_name(project);
            if !key.is_empty() {
                out.entry(key).or_insert_with(|| join(site, &entry));
            }
        }
    }
    out
}

/// A plugin name listed in `included_plugins.py`, and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// The name as written.
    pub name: String,
    /// 1-based line of the string.
    pub line: usize,
}

/// Why `included_plugins.py` is not a literal list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl SyntaxError {
    fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Number(String),
    Op(String),
    Open(char),
    Close(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Name(s) | Tok::Number(s) | Tok::Op(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "the string {s:?}"),
            Tok::Open(c) | Tok::Close(c) => write!(f, "`{c}`"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    line: usize,
}

/// One logical line: the indentation of its first token and its tokens.
#[derive(Debug)]
struct Logical {
    indent: usize,
    tokens: Vec<Token>,
}

/// Splits Python source into logical lines of tokens: comments dropped, backslash continuations
/// and newlines inside brackets joined, strings decoded.
fn logical_lines(text: &str) -> Result<Vec<Logical>, SyntaxError> {
    let cs: Vec<char> = text.chars().collect();
    let at = |i: usize| cs.get(i).copied();
    let mut out = Vec::new();
    let mut toks: Vec<Token> = Vec::new();
    let mut indent = 0usize;
    let mut col = 0usize;
    let mut line_start = true;
    let mut open: Vec<(char, usize)> = Vec::new();
    let mut line = 1usize;
    let mut i = 0usize;
    while let Some(c) = at(i) {
        let tok_line = line;
        let tok = match c {
            '\n' => {
                line += 1;
                i += 1;
                col = 0;
                line_start = true;
                if open.is_empty() && !toks.is_empty() {
                    out.push(Logical {
                        indent,
                        tokens: std::mem::take(&mut toks),
                    });
                }
                continue;
            }
            ' ' | '\t' | '\x0c' | '\r' => {
                if line_start {
                    col += 1;
                }
                i += 1;
                continue;
            }
            '#' => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
                continue;
            }
            '\\' => {
                let mut j = i + 1;
                if at(j) == Some('\r') {
                    j += 1;
                }
                if at(j) != Some('\n') {
                    return Err(SyntaxError::new(
                        line,
                        "a backslash outside a string that does not end the line",
                    ));
                }
                i = j + 1;
                line += 1;
                line_start = false;
                continue;
            }
            '\'' | '"' => {
                let (s, next) = string(&cs, i, &mut line, false)?;
                i = next;
                Tok::Str(s)
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    i += 1;
                }
                let word: String = cs.get(start..i).unwrap_or_default().iter().collect();
                if matches!(at(i), Some('\'' | '"')) {
                    let raw = match word.to_ascii_lowercase().as_str() {
                        "u" | "b" => false,
                        "r" | "ur" | "br" | "rb" => true,
                        p if p.contains('f') => {
                            return Err(SyntaxError::new(
                                line,
                                "an f-string is computed when the file runs; it is not a literal",
                            ));
                        }
                        _ => {
                            return Err(SyntaxError::new(
                                line,
                                format!("unknown string prefix `{word}`"),
                            ));
                        }
                    };
                    let (s, next) = string(&cs, i, &mut line, raw)?;
                    i = next;
                    Tok::Str(s)
                } else {
                    Tok::Name(word)
                }
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_') {
                    i += 1;
                }
                Tok::Number(cs.get(start..i).unwrap_or_default().iter().collect())
            }
            '(' | '[' | '{' => {
                open.push((c, line));
                if open.len() > MAX_DEPTH {
                    return Err(SyntaxError::new(
                        line,
                        format!("brackets nested more than {MAX_DEPTH} deep"),
                    ));
                }
                i += 1;
                Tok::Open(c)
            }
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match open.pop() {
                    Some((o, _)) if o == want => {}
                    Some((o, l)) => {
                        return Err(SyntaxError::new(
                            line,
                            format!("`{c}` does not close the `{o}` opened on line {l}"),
                        ));
                    }
                    None => {
                        return Err(SyntaxError::new(line, format!("`{c}` closes nothing")));
                    }
                }
                i += 1;
                Tok::Close(c)
            }
            c if "+-*/%&|^<>=!:@~.".contains(c) => {
                let start = i;
                while at(i).is_some_and(|c| "+-*/%&|^<>=!:@~.".contains(c)) {
                    i += 1;
                }
                Tok::Op(cs.get(start..i).unwrap_or_default().iter().collect())
            }
            other => {
                i += 1;
                Tok::Op(other.to_string())
            }
        };
        if toks.is_empty() {
            indent = if line_start { col } else { indent };
        }
        line_start = false;
        toks.push(Token {
            tok,
            line: tok_line,
        });
    }
    if let Some((o, l)) = open.last() {
        return Err(SyntaxError::new(*l, format!("`{o}` is never closed")));
    }
    if !toks.is_empty() {
        out.push(Logical {
            indent,
            tokens: toks,
        });
    }
    Ok(out)
}

/// A string literal starting at `cs[i]` (the quote): its value and the index after it.
fn string(
    cs: &[char],
    mut i: usize,
    line: &mut usize,
    raw: bool,
) -> Result<(String, usize), SyntaxError> {
    let at = |i: usize| cs.get(i).copied();
    let start = *line;
    let Some(q) = at(i) else {
        return Err(SyntaxError::new(start, "the file ends in a string"));
    };
    let triple = at(i + 1) == Some(q) && at(i + 2) == Some(q);
    i += if triple { 3 } else { 1 };
    let mut s = String::new();
    loop {
        let Some(c) = at(i) else {
            return Err(SyntaxError::new(start, "a string that never ends"));
        };
        match c {
            c if c == q => {
                if !triple {
                    return Ok((s, i + 1));
                }
                if at(i + 1) == Some(q) && at(i + 2) == Some(q) {
                    return Ok((s, i + 3));
                }
                s.push(c);
                i += 1;
            }
            '\n' => {
                if !triple {
                    return Err(SyntaxError::new(
                        start,
                        "a string that does not end on its line",
                    ));
                }
                *line += 1;
                s.push(c);
                i += 1;
            }
            '\\' => {
                let Some(n) = at(i + 1) else {
                    return Err(SyntaxError::new(start, "a string that never ends"));
                };
                if n == '\n' {
                    *line += 1;
                }
                if raw {
                    s.push('\\');
                    s.push(n);
                } else {
                    match n {
                        '\n' => {}
                        '\\' | '\'' | '"' => s.push(n),
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'x' | 'u' | 'U' | 'N' | '0'..='7' => {
                            return Err(SyntaxError::new(
                                *line,
                                format!("the escape \\{n} is not read in plugin names"),
                            ));
                        }
                        other => {
                            s.push('\\');
                            s.push(other);
                        }
                    }
                }
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
}

/// A literal value: a string, or a list or tuple of values.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String, usize),
    Seq(Vec<Val>, usize, &'static str),
}

struct Parser<'a> {
    t: &'a [Token],
    i: usize,
    /// Line of the last token, for errors at the end.
    last: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&Token> {
        let t = self.t.get(self.i)?;
        self.i += 1;
        Some(t)
    }

    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i).map(|t| &t.tok)
    }

    fn unexpected(&self, t: Option<&Token>, expected: &str) -> SyntaxError {
        match t {
            Some(t) => SyntaxError::new(t.line, format!("{} where {expected} was expected", t.tok)),
            None => SyntaxError::new(
                self.last,
                format!("the statement ends where {expected} was expected"),
            ),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Val, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                self.last,
                format!("values nested more than {MAX_DEPTH} deep"),
            ));
        }
        let Some(t) = self.next().cloned() else {
            return Err(self.unexpected(None, "a value"));
        };
        match t.tok {
            Tok::Str(mut s) => {
                // Adjacent literals are one string ('cloudify-' 'script-plugin').
                while let Some(Tok::Str(more)) = self.peek() {
                    s.push_str(more);
                    self.i += 1;
                }
                Ok(Val::Str(s, t.line))
            }
            Tok::Open('[') => self.items(depth, ']', t.line, "list", Vec::new()),
            Tok::Open('(') => {
                if self.peek() == Some(&Tok::Close(')')) {
                    self.i += 1;
                    return Ok(Val::Seq(Vec::new(), t.line, "tuple"));
                }
                let first = self.value(depth + 1)?;
                match self.next().cloned() {
                    // Parentheses around one value without a comma are only grouping.
                    Some(Token {
                        tok: Tok::Close(')'),
                        ..
                    }) => Ok(first),
                    Some(Token {
                        tok: Tok::Op(o), ..
                    }) if o == "," => self.items(depth, ')', t.line, "tuple", vec![first]),
                    other => Err(self.unexpected(other.as_ref(), "`,` or `)`")),
                }
            }
            Tok::Open(_) => Err(SyntaxError::new(
                t.line,
                "a dict or set, not a list of plugin names",
            )),
            Tok::Name(n) if matches!(n.as_str(), "None" | "True" | "False") => Err(
                SyntaxError::new(t.line, format!("`{n}` is not a plugin name")),
            ),
            Tok::Name(n) => Err(SyntaxError::new(
                t.line,
                format!(
                    "`{n}` is a name, not a literal: its value is known only when the file runs"
                ),
            )),
            Tok::Number(n) => Err(SyntaxError::new(
                t.line,
                format!("{n} is a number, not a plugin name"),
            )),
            _ => Err(self.unexpected(Some(&t), "a value")),
        }
    }

    /// The rest of a list or tuple after its first items, up to `close`.
    fn items(
        &mut self,
        depth: usize,
        close: char,
        line: usize,
        kind: &'static str,
        mut out: Vec<Val>,
    ) -> Result<Val, SyntaxError> {
        loop {
            if self.peek() == Some(&Tok::Close(close)) {
                self.i += 1;
                return Ok(Val::Seq(out, line, kind));
            }
            if out.len() >= MAX_ITEMS {
                return Err(SyntaxError::new(
                    line,
                    format!("more than {MAX_ITEMS} plugin names"),
                ));
            }
            out.push(self.value(depth + 1)?);
            match self.next().cloned() {
                Some(Token {
                    tok: Tok::Op(o), ..
                }) if o == "," => {}
                Some(Token {
                    tok: Tok::Close(c), ..
                }) if c == close => return Ok(Val::Seq(out, line, kind)),
                other => {
                    return Err(self.unexpected(other.as_ref(), &format!("`,` or `{close}`")));
                }
            }
        }
    }
}

/// The names `included_plugins.py` assigns to `included_plugins`, and the line of the
/// assignment. Only top-level `included_plugins = [...]` (or a tuple) of string literals is
/// accepted; the last such assignment wins, as when Python runs the file. Anything whose value
/// depends on running the file (names, calls, operators, other statements that touch
/// `included_plugins`, assignments inside blocks) is an error naming the line.
pub(crate) fn parse_included_plugins(text: &str) -> Result<(usize, Vec<Listed>), SyntaxError> {
    let mut found: Option<(usize, Vec<Listed>)> = None;
    for logical in logical_lines(text)? {
        let mut stmts: Vec<&[Token]> = Vec::new();
        let mut start = 0usize;
        for (i, t) in logical.tokens.iter().enumerate() {
            if t.tok == Tok::Op(";".into()) {
                stmts.push(logical.tokens.get(start..i).unwrap_or_default());
                start = i + 1;
            }
        }
        stmts.push(logical.tokens.get(start..).unwrap_or_default());
        for stmt in stmts {
            let mentions = stmt.iter().any(|t| t.tok == Tok::Name(LIST_NAME.into()));
            if !mentions {
                continue;
            }
            let line = stmt.first().map_or(1, |t| t.line);
            let rest = match stmt {
                [
                    Token {
                        tok: Tok::Name(n), ..
                    },
                    Token {
                        tok: Tok::Op(eq), ..
                    },
                    rest @ ..,
                ] if n == LIST_NAME && eq == "=" => rest,
                _ => {
                    return Err(SyntaxError::new(
                        line,
                        format!(
                            "{LIST_NAME} is used in a statement other than `{LIST_NAME} = [...]`, \
                             so its value is known only when the file runs"
                        ),
                    ));
                }
            };
            if logical.indent > 0 {
                return Err(SyntaxError::new(
                    line,
                    format!(
                        "{LIST_NAME} is assigned inside an indented block, so its value is known \
                         only when the file runs"
                    ),
                ));
            }
            let mut p = Parser {
                t: rest,
                i: 0,
                last: rest.last().map_or(line, |t| t.line),
            };
            let v = p.value(0)?;
            if let Some(t) = p.next() {
                return Err(SyntaxError::new(
                    t.line,
                    format!(
                        "{} after the value: only a literal list or tuple of strings is read",
                        t.tok
                    ),
                ));
            }
            let items = match v {
                Val::Seq(items, _, _) => items,
                Val::Str(s, l) => {
                    return Err(SyntaxError::new(
                        l,
                        format!("{LIST_NAME} is the string {s:?}, not a list or tuple of names"),
                    ));
                }
            };
            let mut names = Vec::with_capacity(items.len());
            for (n, item) in items.into_iter().enumerate() {
                match item {
                    Val::Str(s, l) if s.trim().is_empty() => {
                        return Err(SyntaxError::new(
                            l,
                            format!("element {} is an empty name", n + 1),
                        ));
                    }
                    Val::Str(s, l) => names.push(Listed { name: s, line: l }),
                    Val::Seq(_, l, kind) => {
                        return Err(SyntaxError::new(
                            l,
                            format!("element {} is a {kind}, not a plugin name", n + 1),
                        ));
                    }
                }
            }
            found = Some((line, names));
        }
    }
    found.ok_or_else(|| {
        SyntaxError::new(
            1,
            format!("no top-level `{LIST_NAME} = [...]` assignment in the file"),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use imgprep_inspect::OperatingSystem;

    use super::super::boot::testing::MemGuest;
    use super::*;
    use crate::matrix::Matrix;

    /// `Ok(names)` or `Err((line, message fragment))`.
    type Want<'a> = Result<&'a [&'a str], (usize, &'a str)>;

    fn check(src: &str, want: Want<'_>) {
        let got = parse_included_plugins(src);
        match (want, got) {
            (Ok(names), Ok((_, listed))) => {
                let got: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
                assert_eq!(got, names, "{src:?}");
            }
            (Err((line, frag)), Err(e)) => {
                assert_eq!(e.line, line, "{src:?}: {e}");
                assert!(e.message.contains(frag), "{src:?}: {e} lacks {frag:?}");
            }
            (want, got) => panic!("{src:?}: want {want:?}, got {got:?}"),
        }
    }

    #[test]
    fn included_plugins_literals() {
        let cases: &[(&str, Want<'_>)] = &[
            // As cloudify-agent 3.3 ships it, under a licence header.
            (
                "#####\n# Copyright\n\nincluded_plugins = [\n    'cloudify-script-plugin',\n    \
                 'cloudify-diamond-plugin'\n]\n",
                Ok(&["cloudify-script-plugin", "cloudify-diamond-plugin"]),
            ),
            // As the packager's template renders it: one line, trailing comma and space.
            (
                "included_plugins = [\n    'a-plugin', 'b_plugin', \n]\n",
                Ok(&["a-plugin", "b_plugin"]),
            ),
            ("included_plugins = []\n", Ok(&[])),
            ("included_plugins = ()", Ok(&[])),
            ("included_plugins = ('a',)", Ok(&["a"])),
            ("included_plugins = ('a', \"b\")", Ok(&["a", "b"])),
            // Parentheses that only group.
            ("included_plugins = (['a', ('b')])", Ok(&["a", "b"])),
            ("included_plugins = [((('a')))]", Ok(&["a"])),
            // Comments everywhere, a '#' inside a string is not one.
            (
                "# head\nincluded_plugins = [  # the list\n  'a#1',  # first\n  # 'b',\n]  # end\n",
                Ok(&["a#1"]),
            ),
            // Backslash continuations.
            (
                "included_plugins = \\\n  ['a', \\\n 'b']\n",
                Ok(&["a", "b"]),
            ),
            ("included_plugins \\\r\n= ['a']\r\n", Ok(&["a"])),
            // Implicit concatenation, prefixes, quotes and escapes.
            (
                "included_plugins = ['cloudify-' 'script-plugin']",
                Ok(&["cloudify-script-plugin"]),
            ),
            (
                "included_plugins = [u'a', r'b\\c', b'd', U\"e\"]",
                Ok(&["a", "b\\c", "d", "e"]),
            ),
            (
                "included_plugins = ['it\\'s', \"q\\\"\"]",
                Ok(&["it's", "q\""]),
            ),
            (
                "included_plugins = ['''a''', \"\"\"b\"\"\"]",
                Ok(&["a", "b"]),
            ),
            // The last top-level assignment wins; other statements are ignored.
            (
                "import os\nX = 1; included_plugins = ['a']\nincluded_plugins = ['b']\n",
                Ok(&["b"]),
            ),
            // A docstring naming the variable is not a use of it.
            (
                "\"\"\"included_plugins = [x]\"\"\"\nincluded_plugins = ['a']",
                Ok(&["a"]),
            ),
            // Not literals.
            (
                "included_plugins = plugins",
                Err((1, "`plugins` is a name")),
            ),
            (
                "included_plugins = ['a'] + extra",
                Err((1, "`+` after the value")),
            ),
            (
                "included_plugins = ['a', 'b'.upper()]",
                Err((1, "`.` where `,` or `]`")),
            ),
            (
                "included_plugins = list(['a'])",
                Err((1, "`list` is a name")),
            ),
            (
                "included_plugins = [p for p in x]",
                Err((1, "`p` is a name")),
            ),
            ("included_plugins = [f'{x}']", Err((1, "f-string"))),
            ("included_plugins = ['a', 1]", Err((1, "1 is a number"))),
            (
                "included_plugins = ['a', None]",
                Err((1, "`None` is not a plugin name")),
            ),
            ("included_plugins = {'a'}", Err((1, "a dict or set"))),
            (
                "included_plugins = ['a', ['b']]",
                Err((1, "element 2 is a list")),
            ),
            (
                "included_plugins = [('a', 'b')]",
                Err((1, "element 1 is a tuple")),
            ),
            ("included_plugins = ('a')", Err((1, "is the string \"a\""))),
            (
                "included_plugins = ['a', '']",
                Err((1, "element 2 is an empty name")),
            ),
            ("included_plugins = ['\\x41']", Err((1, "escape \\x"))),
            ("included_plugins = x = ['a']", Err((1, "`x` is a name"))),
            // Other statements that change the list.
            (
                "included_plugins = ['a']\nincluded_plugins.append('b')",
                Err((2, "statement other")),
            ),
            (
                "included_plugins = ['a']\nincluded_plugins += ['b']",
                Err((2, "statement other")),
            ),
            (
                "if x: included_plugins = ['a']",
                Err((1, "statement other")),
            ),
            (
                "if x:\n    included_plugins = ['a']\n",
                Err((2, "indented block")),
            ),
            (
                "if x:\n    pass\n    included_plugins = ['a']\n",
                Err((3, "indented block")),
            ),
            ("del included_plugins", Err((1, "statement other"))),
            // Broken syntax.
            ("included_plugins = ['a'", Err((1, "never closed"))),
            (
                "included_plugins = ['a')",
                Err((1, "does not close the `[`")),
            ),
            ("included_plugins = 'a']", Err((1, "closes nothing"))),
            (
                "included_plugins = ['a\n]",
                Err((1, "does not end on its line")),
            ),
            ("included_plugins = ['''a", Err((1, "never ends"))),
            ("included_plugins = ['a' \\ 'b']", Err((1, "backslash"))),
            ("included_plugins = ['a',,]", Err((1, "`,` where a value"))),
            ("included_plugins =", Err((1, "ends where a value"))),
            ("included_plugins = [\n\n'a'\n\n", Err((1, "never closed"))),
            ("\n\nplugins = ['a']\n", Err((1, "no top-level"))),
            ("", Err((1, "no top-level"))),
        ];
        for (src, want) in cases {
            check(src, *want);
        }
    }

    #[test]
    fn included_plugins_hostile_sizes() {
        let deep = format!(
            "included_plugins = {}'a'{}",
            "(".repeat(200),
            ")".repeat(200)
        );
        check(&deep, Err((1, "nested more than")));
        let wide = format!("included_plugins = [{}]", "'a', ".repeat(MAX_ITEMS + 1));
        check(&wide, Err((1, "more than 4096")));
        let lines = parse_included_plugins("included_plugins = [\n'a',\n\n  'b']").unwrap();
        assert_eq!(
            lines,
            (
                1,
                vec![
                    Listed {
                        name: "a".into(),
                        line: 2
                    },
                    Listed {
                        name: "b".into(),
                        line: 4
                    }
                ]
            )
        );
        // Mutations of a real file (bytes replaced, inserted, removed, picked by a fixed LCG)
        // give a result or an error, never a panic or a hang.
        let seed = "#####\n# Licensed\nincluded_plugins = [\n    'cloudify-script-plugin', \
                    \"x\" '''y''',  # c\n    ('d'), r'\\e', \\\n]\n";
        let alphabet = b"'\"\\#()[]{},=;:\n\r\t xurfb_.+0";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0)
        };
        assert!(parse_included_plugins(seed).is_ok(), "the seed parses");
        for _ in 0..20_000 {
            let mut b = seed.as_bytes().to_vec();
            for _ in 0..1 + next() % 4 {
                let at = next() % (b.len() + 1);
                let c = alphabet[next() % alphabet.len()];
                match next() % 3 {
                    0 if at < b.len() => b[at] = c,
                    1 => b.insert(at, c),
                    _ if at < b.len() => {
                        b.remove(at);
                    }
                    _ => {}
                }
            }
            let _ = parse_included_plugins(&String::from_utf8_lossy(&b));
        }
        // Non-ASCII and control characters do not panic.
        for src in [
            "included_plugins = ['é', 'ü']",
            "\u{0}\u{7f}included_plugins = ['a']",
            "'\\",
        ] {
            let _ = parse_included_plugins(src);
        }
    }

    #[test]
    fn names_globs_and_versions() {
        for (name, want) in [
            ("cloudify-script-plugin", "cloudify-script-plugin"),
            ("Cloudify_Script.Plugin", "cloudify-script-plugin"),
            ("a__b--c", "a-b-c"),
            ("_a_", "a"),
        ] {
            assert_eq!(normalize_name(name), want, "{name}");
        }
        for (pat, name, want) in [
            ("*", "abc", true),
            ("agent-*", "agent-7.0.0", true),
            ("agent-*", "agent", false),
            ("a*c*e", "abcde", true),
            ("a*c", "abcd", false),
            ("", "", true),
            ("**", "x", true),
        ] {
            assert_eq!(glob(pat, name), want, "{pat} {name}");
        }
        for (spec, v, want) in [
            ("2.7,3.6+", (2, 7), true),
            ("2.7,3.6+", (2, 6), false),
            ("2.7,3.6+", (3, 11), true),
            ("2.7, 3.6+", (3, 5), false),
            ("2.6", (2, 6), true),
        ] {
            assert_eq!(supports(&parse_supported(spec).unwrap(), v), want, "{spec}");
        }
        for bad in ["", "2", "2.x", "three.6+"] {
            assert!(parse_supported(bad).is_err(), "{bad}");
        }
    }

    const ROOT: &str = "/home/centos/agent/env";
    const SITE: &str = "/home/centos/agent/env/lib/python2.7/site-packages";

    /// A legacy-virtualenv agent on a CentOS 7 base interpreter.
    fn agent() -> MemGuest {
        MemGuest::new()
            .exec("/usr/bin/python2.7", "\x7fELF")
            .link("/usr/bin/python2", "python2.7")
            .file("/usr/lib64/python2.7/os.py", "")
            .file(
                "/usr/include/python2.7/patchlevel.h",
                "#define PY_MAJOR_VERSION 2\n#define PY_VERSION \"2.7.5\"\n",
            )
            .link(&format!("{ROOT}/bin/python"), "/usr/bin/python2")
            .file(&format!("{ROOT}/bin/activate"), "")
            .file(&format!("{ROOT}/lib/python2.7/orig-prefix.txt"), "/usr")
            .link(
                &format!("{ROOT}/lib/python2.7/os.py"),
                "/usr/lib64/python2.7/os.py",
            )
            .file(&format!("{SITE}/cloudify_agent/__init__.py"), "")
            .file(
                &format!("{SITE}/cloudify_agent/included_plugins.py"),
                "included_plugins = [\n    'cloudify-script-plugin',\n    'cloudify-diamond-plugin'\n]\n",
            )
            .dir(&format!("{SITE}/cloudify_script_plugin-1.3.dist-info"))
            .dir(&format!("{SITE}/cloudify_diamond_plugin-1.3-py2.7.egg-info"))
    }

    fn run(probe: &str, g: &MemGuest, params: &[(&str, &str)]) -> Outcome {
        let os = OperatingSystem {
            name: Some("linux".into()),
            distro: Some("centos".into()),
            major_version: 7,
            package_format: Some("rpm".into()),
            ..Default::default()
        };
        let matrix = Matrix::default();
        let mut params: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        params
            .entry("agent_dir".into())
            .or_insert_with(|| "/opt/none/*/env:/home/*/*/env".into());
        params
            .entry("python_versions".into())
            .or_insert_with(|| "2.7,3.6+".into());
        let cx = Context {
            os: &os,
            guest: g,
            cloud: None,
            params: &params,
            matrix: &matrix,
            disks: &[],
        };
        let venv = "{agent_dir}".to_owned();
        match probe {
            "venv" => CloudifyAgentVenv { venv }.run(&cx),
            "python" => CloudifyAgentPython {
                venv,
                supported: "{python_versions}".into(),
            }
            .run(&cx),
            "plugins" => CloudifyAgentPlugins { venv }.run(&cx),
            other => panic!("{other}"),
        }
    }

    /// Runs `probe` and checks status, message fragments and evidence `(path, text fragment)`.
    fn expect(
        probe: &str,
        g: &MemGuest,
        params: &[(&str, &str)],
        status: Status,
        msg: &[&str],
        ev: &[(&str, &str)],
    ) {
        let o = run(probe, g, params);
        assert_eq!(o.status, status, "{probe}: {o:#?}");
        for m in msg {
            assert!(o.message.contains(m), "{probe}: {m:?} not in {o:#?}");
        }
        for (p, t) in ev {
            assert!(
                o.evidence
                    .iter()
                    .any(|e| e.path == *p && e.text.contains(t)),
                "{probe}: no evidence {p} / {t:?} in {o:#?}"
            );
        }
    }

    #[test]
    fn legacy_virtualenv_passes() {
        let g = agent();
        expect(
            "venv",
            &g,
            &[],
            Status::Pass,
            &["the Cloudify agent virtualenv is /home/centos/agent/env"],
            &[
                (
                    &format!("{ROOT}/bin/python"),
                    "symbolic link to /usr/bin/python2",
                ),
                (
                    &format!("{ROOT}/lib/python2.7/orig-prefix.txt"),
                    "base prefix /usr",
                ),
                (&format!("{SITE}/cloudify_agent"), "cloudify_agent package"),
            ],
        );
        expect(
            "python",
            &g,
            &[],
            Status::Pass,
            &["Python 2.7.5 (/usr/bin/python2.7)", "supports (2.7,3.6+)"],
            &[
                ("/usr/bin/python2", "symbolic link to python2.7"),
                ("/usr/bin/python2.7", "the base interpreter"),
                ("/usr/include/python2.7/patchlevel.h", "2.7.5"),
                ("/usr/lib64/python2.7", "standard library of Python 2.7"),
            ],
        );
        expect(
            "plugins",
            &g,
            &[],
            Status::Pass,
            &["all 2 plugins"],
            &[
                (
                    &format!("{SITE}/cloudify_script_plugin-1.3.dist-info"),
                    "installed",
                ),
                (
                    &format!("{SITE}/cloudify_diamond_plugin-1.3-py2.7.egg-info"),
                    "installed",
                ),
            ],
        );
    }

    #[test]
    fn pyvenv_cfg_with_a_copied_interpreter() {
        let root = "/opt/cloudify-agent/agent-6.4.0/env";
        let g = MemGuest::new()
            .exec("/usr/bin/python3.6", "\x7fELF")
            .exec(&format!("{root}/bin/python"), "\x7fELF")
            .file(&format!("{root}/bin/activate"), "")
            .file(
                &format!("{root}/pyvenv.cfg"),
                "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.6.8\n",
            )
            .file(
                &format!("{root}/lib/python3.6/site-packages/cloudify_agent/__init__.py"),
                "",
            );
        let params = [("agent_dir", "/opt/cloudify-agent/agent-*/env")];
        expect("venv", &g, &params, Status::Pass, &[root], &[]);
        expect(
            "python",
            &g,
            &params,
            Status::Pass,
            &["Python 3.6.8 (/usr/bin/python3.6)"],
            &[
                (&format!("{root}/pyvenv.cfg"), "home = /usr/bin (exists)"),
                (&format!("{root}/bin/python"), "a copy"),
            ],
        );
        expect(
            "plugins",
            &g,
            &params,
            Status::Error,
            &["included_plugins.py does not exist", "3.2 and 3.3"],
            &[],
        );
    }

    #[test]
    fn cloudify_7_bundled_python() {
        let root = "/opt/cloudify-agent/agent-7.0.0/env";
        let g = MemGuest::new()
            .exec(&format!("{root}/bin/python3.11"), "\x7fELF")
            .link(&format!("{root}/bin/python"), "python3.11")
            .file(&format!("{root}/lib/python3.11/os.py"), "")
            .file(
                &format!("{root}/include/python3.11/patchlevel.h"),
                "#define PY_VERSION_HEX 0x030b04f0\n#define PY_VERSION \"3.11.4\"\n",
            )
            .file(
                &format!("{root}/lib/python3.11/site-packages/cloudify_agent/__init__.py"),
                "",
            );
        let params = [("agent_dir", "/opt/cloudify-agent/agent-*/env")];
        expect(
            "venv",
            &g,
            &params,
            Status::Pass,
            &["a Python installation of its own"],
            &[(&format!("{root}/bin/activate"), "absent, as expected")],
        );
        expect(
            "python",
            &g,
            &params,
            Status::Pass,
            &[
                "the agent runs on Python 3.11.4 (/opt/cloudify-agent/agent-7.0.0/env/bin/python3.11)",
            ],
            &[(&format!("{root}/include/python3.11/patchlevel.h"), "3.11.4")],
        );
        // Without its standard library it is neither a virtualenv nor a Python of its own.
        let g = g.dir(&format!("{root}/lib/python3.11/os.py"));
        expect(
            "venv",
            &g,
            &params,
            Status::Fail,
            &["not a complete Cloudify agent virtualenv: missing bin/activate, pyvenv.cfg or"],
            &[],
        );
    }

    #[test]
    fn broken_agents() {
        // The base interpreter was removed: the chain from bin/python dangles.
        let g = agent().link("/usr/bin/python2.7", "python2.7.old");
        expect(
            "python",
            &g,
            &[],
            Status::Fail,
            &["leads to /usr/bin/python2.7.old, which does not exist"],
            &[("/usr/bin/python2.7", "symbolic link to python2.7.old")],
        );
        // A loop of links.
        let g = agent().link("/usr/bin/python2.7", "python2");
        expect("python", &g, &[], Status::Fail, &["loop"], &[]);
        // orig-prefix.txt names a prefix that is gone.
        let g = agent().file(
            &format!("{ROOT}/lib/python2.7/orig-prefix.txt"),
            "/opt/py27",
        );
        expect(
            "python",
            &g,
            &[],
            Status::Fail,
            &["installed under /opt/py27"],
            &[("/opt/py27", "missing")],
        );
        // The venv was made for 2.7 but its link now reaches a 3.6.
        let g = agent()
            .exec("/usr/bin/python3.6", "")
            .link(&format!("{ROOT}/bin/python"), "/usr/bin/python3.6");
        expect(
            "python",
            &g,
            &[],
            Status::Fail,
            &["disagree", "2.7", "3.6"],
            &[],
        );
        // An unsupported interpreter.
        expect(
            "python",
            &agent(),
            &[("python_versions", "3.6+")],
            Status::Fail,
            &["Python 2.7.5", "does not support (supported: 3.6+)"],
            &[],
        );
        expect(
            "python",
            &agent(),
            &[("python_versions", "2,7")],
            Status::Error,
            &["python_versions"],
            &[],
        );
        // A plugin missing, a literal that is not one.
        let g = agent().file(
            &format!("{SITE}/cloudify_agent/included_plugins.py"),
            "included_plugins = ['cloudify-script-plugin', 'cloudify-fabric-plugin']\n",
        );
        expect(
            "plugins",
            &g,
            &[],
            Status::Fail,
            &[
                "1 of 2 plugins",
                "is not installed",
                "cloudify-fabric-plugin",
            ],
            &[(
                &format!("{SITE}/cloudify_agent/included_plugins.py"),
                "cloudify-fabric-plugin (no dist-info",
            )],
        );
        let g = agent().file(
            &format!("{SITE}/cloudify_agent/included_plugins.py"),
            "import os\nincluded_plugins = os.environ['PLUGINS'].split(',')\n",
        );
        expect(
            "plugins",
            &g,
            &[],
            Status::Error,
            &["line 2: `os` is a name", "without running it"],
            &[(
                &format!("{SITE}/cloudify_agent/included_plugins.py"),
                "os.environ",
            )],
        );
        // No agent at all; a directory that is not a virtualenv.
        let g = MemGuest::new().dir("/home/centos/projects/env/src");
        expect(
            "venv",
            &g,
            &[("agent_dir", "/opt/agent/env:/home/*/*/env")],
            Status::Fail,
            &["/home/centos/projects/env is not a virtualenv"],
            &[("/home/centos/projects/env/bin/python", "missing")],
        );
        expect(
            "venv",
            &MemGuest::new(),
            &[],
            Status::Fail,
            &["no Cloudify agent virtualenv"],
            &[("/opt/none/*/env", "no such directory")],
        );
        expect(
            "python",
            &MemGuest::new(),
            &[],
            Status::Skip,
            &["cloudify-agent.present"],
            &[],
        );
        expect(
            "plugins",
            &MemGuest::new(),
            &[],
            Status::Skip,
            &["cloudify-agent.present"],
            &[],
        );
        expect(
            "venv",
            &MemGuest::new(),
            &[("agent_dir", "opt/agent")],
            Status::Error,
            &["not an absolute guest path"],
            &[],
        );
    }
}
