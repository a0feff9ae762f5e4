//! Python virtualenvs: finding one by pattern, what it holds (`bin/python`, `bin/activate`,
//! `pyvenv.cfg` or `orig-prefix.txt`, a package), the interpreter it was made from, and the
//! distributions installed in its `site-packages`.
//!
//! A virtualenv points at the interpreter it was made from: `bin/python` is a symbolic link to
//! it (or a copy), `pyvenv.cfg` names its directory (`home =`, PEP 405 and virtualenv 20), and
//! virtualenv before 20 writes the base prefix into `lib/pythonX.Y/orig-prefix.txt` and links
//! standard modules such as `lib/pythonX.Y/os.py` into the base library directory.

use std::collections::{BTreeMap, BTreeSet};

use imgprep_fs::FileKind;
use imgprep_guest::Guest;

use super::{PYDIR, parse_version, patchlevel_fact, pydir_version, shown};
use crate::Evidence;
use crate::path::{basename, glob_match, join, normalize, parent};
use crate::text::{first_line, list_dir, read_lines};

/// Entries read from one directory while expanding `*` or scanning a library directory.
const MAX_SCAN: usize = 256;
/// Candidate virtualenv directories looked at, over all patterns.
const MAX_CANDIDATES: usize = 256;
/// Entries read from one `site-packages`.
const MAX_SITE: usize = 8192;
/// Symbolic links followed from `bin/python` (as the kernel's limit).
const MAX_HOPS: usize = imgprep_guest::MAX_SYMLINKS;
/// Dangling links of the library directory shown as evidence.
const MAX_SHOWN: usize = 8;

/// What the interpreter a virtualenv was made from turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    /// Found, and every source agrees on its version.
    Found {
        /// Major and minor version.
        version: (u32, u32),
        /// The full version as far as known (`2.7.5`).
        shown: String,
        /// The interpreter's guest path.
        base: String,
        /// The links, files and lines that say so.
        evidence: Vec<Evidence>,
    },
    /// Missing, a loop, or a version the sources disagree on: the virtualenv cannot run as made.
    Broken {
        /// Why.
        message: String,
        /// What shows it.
        evidence: Vec<Evidence>,
    },
    /// The image does not say (or could not be read).
    Unknown {
        /// Why.
        message: String,
        /// What was looked at.
        evidence: Vec<Evidence>,
    },
}

pub fn expand(g: &dyn Guest, pattern: &str) -> Vec<String> {
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
                        .filter(|n| !n.starts_with('.') && glob_match(comp, n))
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
pub struct Piece {
    pub what: &'static str,
    pub path: String,
    pub found: Option<String>,
}

impl Piece {
    pub fn evidence(&self) -> Evidence {
        Evidence::file(
            &self.path,
            self.found.clone().unwrap_or_else(|| "missing".into()),
        )
    }
}

/// A directory that may be the agent's virtualenv, and what it holds.
#[derive(Debug, Clone)]
pub struct Venv {
    pub root: String,
    /// bin/python, bin/activate, the virtualenv marker, the cloudify_agent package.
    pub pieces: [Piece; 4],
    /// The `lib/pythonX.Y` directory holding the agent (or the first one).
    pub libdir: Option<String>,
    /// Its `site-packages` directories.
    pub sites: Vec<String>,
    /// The `cloudify_agent` package directory.
    pub package: Option<String>,
    /// The directory holds a Python of its own rather than a virtualenv (Cloudify 7).
    pub bundled: bool,
}

impl Venv {
    pub fn inspect(g: &dyn Guest, root: &str) -> Self {
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
            let site64 = join(root, &format!("lib64/{}/site-packages", basename(lib)));
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

    pub fn score(&self) -> usize {
        self.pieces.iter().filter(|p| p.found.is_some()).count()
    }

    pub fn missing(&self) -> Vec<&'static str> {
        self.pieces
            .iter()
            .filter(|p| p.found.is_none())
            .map(|p| p.what)
            .collect()
    }

    pub fn evidence(&self) -> Vec<Evidence> {
        self.pieces.iter().map(Piece::evidence).collect()
    }
}

/// True when `root` holds its own interpreter and standard library rather than pointing at a
/// base installation: no `pyvenv.cfg`, `bin/python` a file or a link within `root`, and
/// `libdir/os.py` a regular file (Cloudify 7's agent packages copy a whole Python into `env`).
pub fn bundled_python(g: &dyn Guest, root: &str, libdir: Option<&str>) -> bool {
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
pub fn agent_package(g: &dyn Guest, site: &str) -> Option<String> {
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
#[derive(Debug)]
pub struct Search {
    /// The first candidate holding the agent, else the most complete one.
    pub venv: Option<Venv>,
    /// Patterns that matched no directory.
    pub unmatched: Vec<String>,
}

pub fn find_venv(g: &dyn Guest, spec: &str) -> Result<Search, String> {
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

/// Where a chain of symbolic links ends.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
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
pub fn follow(g: &dyn Guest, start: &str) -> (Vec<Evidence>, End) {
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
pub fn tidy(g: &dyn Guest, path: &str) -> String {
    let base = basename(path);
    if matches!(base, "" | "." | "..") {
        return g.realpath(path).unwrap_or_else(|_| normalize(path));
    }
    match g.realpath(parent(path)) {
        Ok(dir) => join(&dir, base),
        Err(_) => normalize(path),
    }
}

/// `key = value` settings of `pyvenv.cfg`, with their lines.
pub fn pyvenv_cfg(g: &dyn Guest, path: &str) -> BTreeMap<String, (usize, String, String)> {
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
pub(crate) struct VersionFact {
    pub(crate) v: Vec<u32>,
    pub(crate) what: String,
    pub(crate) evidence: Evidence,
}

pub fn base_interpreter(
    g: &dyn Guest,
    v: &Venv,
    packaged: &dyn Fn((u32, u32)) -> Option<(Vec<u32>, Evidence)>,
) -> Base {
    let root_real = g.realpath(&v.root).unwrap_or_else(|_| v.root.clone());
    let inside = |p: &str| p == root_real || p.starts_with(&format!("{root_real}/"));
    let mut ev: Vec<Evidence> = Vec::new();
    let mut facts: Vec<VersionFact> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let fail = |evidence: Vec<Evidence>, message: String| Base::Broken { message, evidence };

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
        End::Unreadable(e) => {
            return Base::Unknown {
                message: e,
                evidence: ev,
            };
        }
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
        && let Some(mm) = pydir_version(basename(lib))
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
                    if let Some(mm) = pydir_version(basename(stdlib)) {
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
                End::Unreadable(e) => {
                    return Base::Unknown {
                        message: e,
                        evidence: ev,
                    };
                }
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
            return Base::Unknown {
                message: format!(
                    "cannot tell which interpreter the virtualenv was made from: {py} is a copy, \
                     and there is neither a pyvenv.cfg home nor an orig-prefix.txt"
                ),
                evidence: ev,
            };
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
    if let Some(mm) = pydir_version(basename(&base)) {
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
            return Base::Unknown {
                message: format!(
                    "cannot tell the Python version of the agent's base interpreter {base}: no \
                     pythonX.Y name, pyvenv.cfg version or library directory says it"
                ),
                evidence: ev,
            };
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
        if let Some(f) =
            patchlevel_fact(g, p, mm).map(|(v, what, evidence)| VersionFact { v, what, evidence })
        {
            full = Some(f);
            break;
        }
    }
    if full.is_none() {
        full = packaged(mm).map(|(v, evidence)| VersionFact {
            v,
            what: "the package database".into(),
            evidence,
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
    Base::Found {
        version: mm,
        shown: version,
        base,
        evidence: ev,
    }
}

/// A project name as pip compares them (PEP 503): lower case, runs of `-`, `_`, `.` as `-`.
pub fn normalize_name(name: &str) -> String {
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
pub fn installed_dists(g: &dyn Guest, sites: &[String]) -> BTreeMap<String, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_as_pip_compares_them() {
        for (name, want) in [
            ("cloudify-script-plugin", "cloudify-script-plugin"),
            ("Cloudify_Script.Plugin", "cloudify-script-plugin"),
            ("a__b--c", "a-b-c"),
            ("_a_", "a"),
        ] {
            assert_eq!(normalize_name(name), want, "{name}");
        }
    }
}
