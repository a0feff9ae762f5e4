//! The boot graph of a Linux guest, read offline: which services start at boot, and which start
//! before which.
//!
//! The model is small: units (a systemd unit, a SysV init script or an upstart job, all named
//! like systemd names them, `foo.service`), how each is pulled into the boot (a `.wants/` link,
//! `Wants=`, an rc `S##` link, an upstart `start on`), and ordering edges "A starts before B",
//! each with the file line that creates it. [`BootGraph::order`] answers "does A start before B
//! when the guest boots into its default target or runlevel", following chains of edges only
//! through units that boot starts (systemd orders two jobs through a third only when that third
//! is part of the same transaction).
//!
//! Which init system decides is read from `/sbin/init`:
//! - systemd: unit files in `/etc/systemd/system`, `/usr/local/lib/systemd/system`,
//!   `/usr/lib/systemd/system`, `/lib/systemd/system` (first found wins; a link to `/dev/null`
//!   or an empty file masks), drop-ins `UNIT.d/*.conf` from all of them (same file name: the
//!   earlier directory wins; drop-ins can add dependencies, never remove them), `After=` and
//!   `Before=` for ordering, `Wants=`/`Requires=`/`BindsTo=` and `.wants/`/`.requires/` links
//!   for what boot starts (they do not order), the default dependencies of services and targets,
//!   and SysV scripts the way `systemd-sysv-generator` wraps them (LSB header to `After=`/
//!   `Before=`, `S##` links in `rc1.d`..`rc5.d` to the runlevel targets, start priorities only
//!   between scripts of which one has no LSB header);
//! - SysV init: `S##` links of the default runlevel (from `/etc/inittab`) in the order `rc`
//!   runs them; for scripts with the same number, the LSB headers (`Required-Start:`,
//!   `Should-Start:`, `X-Start-Before:`, names mapped through `Provides:`) as insserv orders them;
//! - upstart: `/etc/init/*.conf` jobs with a `start on` stanza (not `manual`), `started X` /
//!   `starting X` / `stopped rc` events for ordering, plus the rc scripts of the default runlevel.
//!
//! Every directory listing, file, unit count and edge count is capped, and every walk keeps a
//! visited set, so a hostile image cannot make it hang or grow without bound.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use imgprep_fs::FileKind;
use imgprep_guest::Guest;
use serde::{Deserialize, Serialize};

use super::text::{Lines, list_dir, read_lines};
use crate::eval::Context;
use crate::model::{Evidence, Outcome, Status};

/// Entries read from one directory.
const MAX_DIR_ENTRIES: usize = 4096;
/// Units, scripts and jobs in one graph.
const MAX_UNITS: usize = 16384;
/// Ordering edges and pulls in one graph.
const MAX_EDGES: usize = 1 << 18;
/// Symbolic links followed for one path.
const MAX_LINKS: usize = 40;
/// Steps shown for a chain of evidence.
const MAX_CHAIN: usize = 16;

/// systemd's system unit directories, highest priority first (`/run` is empty offline).
pub(crate) const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];
/// Where SysV init scripts live (RHEL family, Debian family).
const INIT_DIRS: [&str; 2] = ["/etc/rc.d/init.d", "/etc/init.d"];
/// systemd versions whose sysv-generator ignores init scripts that are symlinks (from, to).
const SYSV_SKIPS_SYMLINKS: (u32, u32) = (219, 227);
/// Unit types systemd knows.
const UNIT_SUFFIXES: [&str; 11] = [
    ".service",
    ".socket",
    ".target",
    ".mount",
    ".automount",
    ".swap",
    ".path",
    ".timer",
    ".slice",
    ".scope",
    ".device",
];

/// The init system that decides what starts at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Init {
    /// systemd (with SysV scripts wrapped by systemd-sysv-generator).
    Systemd,
    /// SysV init running rc scripts of a runlevel.
    SysV,
    /// upstart jobs plus the rc scripts of the runlevel.
    Upstart,
}

impl Init {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Init::Systemd => "systemd",
            Init::SysV => "SysV init",
            Init::Upstart => "upstart",
        }
    }
}

/// Where a unit comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A systemd unit file (the file the name resolves to).
    Unit(String),
    /// Masked: the name resolves to `/dev/null` or an empty file.
    Masked(String),
    /// A SysV init script.
    SysV {
        /// Script path.
        path: String,
        /// It has an LSB header.
        lsb: bool,
    },
    /// An upstart job file.
    Upstart(String),
    /// A standard systemd target with no unit file in the image.
    Implicit,
}

/// One unit, script or job.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    /// Where it comes from.
    pub source: Source,
    /// Drop-in files applied, in order.
    pub dropins: Vec<String>,
    /// systemd's `DefaultDependencies=` (true unless set to no).
    default_deps: bool,
    /// Facts worth showing when it does not start at boot (`WantedBy=` without a link, a
    /// non-executable script, …).
    pub notes: Vec<Evidence>,
}

impl Unit {
    /// The file that defines it, when there is one.
    pub(crate) fn path(&self) -> Option<&str> {
        match &self.source {
            Source::Unit(p) | Source::Masked(p) | Source::Upstart(p) => Some(p),
            Source::SysV { path, .. } => Some(path),
            Source::Implicit => None,
        }
    }

    fn evidence(&self) -> Option<Evidence> {
        let (path, what) = match &self.source {
            Source::Unit(p) => (p.as_str(), "unit file"),
            Source::Masked(p) => (p.as_str(), "masked"),
            Source::SysV { path, lsb: true } => (path.as_str(), "SysV init script with LSB header"),
            Source::SysV { path, lsb: false } => {
                (path.as_str(), "SysV init script without LSB header")
            }
            Source::Upstart(p) => (p.as_str(), "upstart job"),
            Source::Implicit => return None,
        };
        Some(Evidence::file(path, what))
    }
}

/// "`first` starts before `then`", and the line that says so.
#[derive(Debug, Clone)]
struct Edge {
    first: String,
    then: String,
    evidence: Evidence,
}

/// How a unit pulls another into the boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PullKind {
    /// `Wants=`, `Requires=`, `BindsTo=`: pulls without ordering.
    Dependency,
    /// A `.wants/` or `.requires/` link.
    Link,
    /// An rc `S##` link.
    Rc,
    /// An upstart job's `start on`.
    Job,
}

#[derive(Debug, Clone)]
struct Pull {
    parent: String,
    child: String,
    kind: PullKind,
    evidence: Evidence,
}

/// Whether a service starts at boot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Enablement {
    /// Boot starts it; the evidence is the chain from the default target or runlevel.
    Enabled(Vec<Evidence>),
    /// Installed, but nothing in the boot starts it.
    Disabled(Vec<Evidence>),
    /// Masked: it cannot start at all.
    Masked(Vec<Evidence>),
    /// No unit, script or job by that name.
    Missing(Vec<Evidence>),
}

/// The answer to "does A start before B".
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Order {
    /// Yes: the chain (A → … → B) and the lines that make each step.
    Before(String, Vec<Evidence>),
    /// No, the other way round: the chain B → … → A.
    After(String, Vec<Evidence>),
    /// Both ways: an ordering cycle, which systemd breaks by dropping a job.
    Cycle(String, Vec<Evidence>),
    /// Nothing orders them (or only through units boot does not start); notes explain.
    Unordered(Vec<Evidence>),
}

/// What starts at boot and in which order.
#[derive(Debug, Clone)]
pub(crate) struct BootGraph {
    /// The init system.
    pub init: Init,
    /// Why that init system.
    pub init_evidence: Evidence,
    /// `multi-user.target`, or `runlevel 3`.
    pub default: String,
    /// Why that default.
    default_evidence: Evidence,
    /// The default runlevel (SysV and upstart).
    runlevel: Option<u8>,
    units: BTreeMap<String, Unit>,
    aliases: BTreeMap<String, (String, Evidence)>,
    edges: Vec<Edge>,
    pulls: Vec<Pull>,
    /// Units boot starts, with the pull that brought each in (`None`: the root).
    booted: BTreeMap<String, Option<usize>>,
    /// rc `S##` links that boot runs: unit -> (position, link evidence). Debian's `rcS.d`
    /// (positions 0-99) runs before the default runlevel (100-199).
    rc: BTreeMap<String, (u16, Evidence)>,
    /// Links in `.wants/` dirs that point at masked units or at nothing.
    dead_pulls: Vec<(String, Evidence)>,
    /// Init scripts systemd-sysv-generator skips (or may skip), and why.
    skipped: BTreeMap<String, Evidence>,
}

/// `foo` -> `foo.service`; names with a unit suffix stay.
pub(crate) fn unit_name(service: &str) -> String {
    if UNIT_SUFFIXES.iter().any(|s| service.ends_with(s)) {
        service.to_owned()
    } else {
        format!("{service}.service")
    }
}

/// A SysV script file name as systemd names its unit: `foo.sh` -> `foo.service`.
fn script_unit(file: &str) -> String {
    format!("{}.service", file.strip_suffix(".sh").unwrap_or(file))
}

fn is_unit_name(name: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| name.len() > s.len() && name.ends_with(s))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `path` with `.` and `..` removed, lexically (`..` stops at `/`).
pub(crate) fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// The target of the link at `path`, as stored.
pub(crate) fn link_text(g: &dyn Guest, path: &str) -> Option<String> {
    g.read_link(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Where `path` ends up after following the links of its last component, lexically (the target
/// may be missing). Stops after [`MAX_LINKS`] links.
pub(crate) fn follow_links(g: &dyn Guest, path: &str) -> String {
    let mut cur = normalize(path);
    for _ in 0..MAX_LINKS {
        if !g.is_symlink(&cur) {
            break;
        }
        let Some(t) = link_text(g, &cur) else {
            break;
        };
        cur = if t.starts_with('/') {
            normalize(&t)
        } else {
            normalize(&format!("{}/{t}", parent(&cur)))
        };
    }
    cur
}

/// Evidence for a link: `path -> target`.
fn link_evidence(g: &dyn Guest, path: &str) -> Evidence {
    match link_text(g, path) {
        Some(t) => Evidence::file(path, format!("-> {t}")),
        None => Evidence::file(path, "exists"),
    }
}

/// Directories that exist, each once (`/lib/systemd/system` is often `/usr/lib/systemd/system`).
fn distinct_dirs<'a>(g: &dyn Guest, dirs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for d in dirs {
        if !g.is_dir(d) {
            continue;
        }
        let real = g.realpath(d).unwrap_or_else(|_| d.to_owned());
        if seen.insert(real) {
            out.push(d.to_owned());
        }
    }
    out
}

fn entries(g: &dyn Guest, dir: &str) -> Vec<String> {
    let mut v = list_dir(g, dir);
    v.truncate(MAX_DIR_ENTRIES);
    v
}

/// One `Key=value` of a unit file (or any systemd-style ini file), with where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Setting {
    /// `Unit`, `Install`, `NetDev`, …
    pub(crate) section: String,
    pub(crate) key: String,
    pub(crate) value: String,
    /// 1-based line (the first line of a continued value).
    pub(crate) line: usize,
}

/// The settings of a unit file: sections, comments (`#`, `;`) and `\` continuations handled.
pub(crate) fn settings(lines: &Lines) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending: Option<(usize, String)> = None;
    let emit = |section: &str, line: usize, text: &str, out: &mut Vec<Setting>| {
        if let Some((k, v)) = text.split_once('=') {
            out.push(Setting {
                section: section.to_owned(),
                key: k.trim().to_owned(),
                value: v.trim().to_owned(),
                line,
            });
        }
    };
    for (n, raw) in &lines.lines {
        let t = raw.trim();
        if let Some((start, mut acc)) = pending.take() {
            if t.starts_with('#') || t.starts_with(';') {
                pending = Some((start, acc));
                continue;
            }
            acc.push(' ');
            match t.strip_suffix('\\') {
                Some(s) => {
                    acc.push_str(s.trim());
                    pending = Some((start, acc));
                }
                None => {
                    acc.push_str(t);
                    emit(&section, start, &acc, &mut out);
                }
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_owned();
            continue;
        }
        match t.strip_suffix('\\') {
            Some(s) => pending = Some((*n, s.trim().to_owned())),
            None => emit(&section, *n, t, &mut out),
        }
    }
    if let Some((start, acc)) = pending {
        emit(&section, start, &acc, &mut out);
    }
    out
}

fn truthy(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "0" | "off" | "n"
    )
}

/// An LSB header dependency.
#[derive(Debug, Clone, PartialEq)]
struct LsbDep {
    /// True for `X-Start-Before:` (this script first), false for the others (the named one
    /// first).
    before: bool,
    name: String,
    line: usize,
    text: String,
}

/// What an init script's LSB header says.
#[derive(Debug, Clone, Default, PartialEq)]
struct Lsb {
    present: bool,
    provides: Vec<(String, usize, String)>,
    deps: Vec<LsbDep>,
}

/// The LSB header of an init script (`### BEGIN INIT INFO` .. `### END INIT INFO`).
fn lsb_header(lines: &Lines) -> Lsb {
    let mut out = Lsb::default();
    let mut inside = false;
    for (n, raw) in &lines.lines {
        let t = raw.trim();
        if !inside {
            if t == "### BEGIN INIT INFO" {
                inside = true;
                out.present = true;
            }
            continue;
        }
        if t == "### END INIT INFO" {
            break;
        }
        let Some(body) = t.strip_prefix('#') else {
            continue;
        };
        let body = body.trim();
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let names = value.split_whitespace().map(str::to_owned);
        match key.as_str() {
            "provides" => out.provides.extend(names.map(|v| (v, *n, body.to_owned()))),
            "required-start" | "should-start" | "x-start-after" => {
                out.deps.extend(names.map(|name| LsbDep {
                    before: false,
                    name,
                    line: *n,
                    text: body.to_owned(),
                }))
            }
            "x-start-before" => out.deps.extend(names.map(|name| LsbDep {
                before: true,
                name,
                line: *n,
                text: body.to_owned(),
            })),
            _ => {}
        }
    }
    out
}

/// An LSB name as systemd-sysv-generator translates it: facilities to targets, other names to
/// services; `None` for facilities it drops and for the script's own name.
fn sysv_facility(name: &str, own_file: &str) -> Option<String> {
    let bare = name.strip_prefix('$').unwrap_or(name);
    match bare {
        "local_fs" | "syslog" => return None,
        "network" => return Some("network-online.target".into()),
        "named" => return Some("nss-lookup.target".into()),
        "portmap" => return Some("rpcbind.target".into()),
        "remote_fs" => return Some("remote-fs.target".into()),
        "time" => return Some("time-sync.target".into()),
        _ => {}
    }
    if name.starts_with('$') {
        return Some(format!("{bare}.target"));
    }
    if bare == own_file.strip_suffix(".sh").unwrap_or(own_file) {
        return None;
    }
    Some(script_unit(bare))
}

/// An rc link name `S15nova-agent`: (start?, number, unit).
fn rc_link(name: &str) -> Option<(bool, u8, String)> {
    let b = name.as_bytes();
    if b.len() < 4 {
        return None;
    }
    let start = match b[0] {
        b'S' => true,
        b'K' => false,
        _ => return None,
    };
    let (d1, d2) = (b[1], b[2]);
    if !d1.is_ascii_digit() || !d2.is_ascii_digit() {
        return None;
    }
    let n = (d1 - b'0') * 10 + (d2 - b'0');
    Some((start, n, script_unit(name.get(3..)?)))
}

/// Builds a [`BootGraph`].
struct Builder<'g> {
    g: &'g dyn Guest,
    units: BTreeMap<String, Unit>,
    aliases: BTreeMap<String, (String, Evidence)>,
    edges: Vec<Edge>,
    pulls: Vec<Pull>,
    rc: BTreeMap<String, (u16, Evidence)>,
    /// systemd's version, when the package database says.
    systemd_version: Option<u32>,
    /// Init scripts systemd-sysv-generator skips, and why.
    skipped: BTreeMap<String, Evidence>,
}

impl<'g> Builder<'g> {
    fn new(g: &'g dyn Guest, systemd_version: Option<u32>) -> Self {
        Self {
            g,
            units: BTreeMap::new(),
            aliases: BTreeMap::new(),
            edges: Vec::new(),
            pulls: Vec::new(),
            rc: BTreeMap::new(),
            systemd_version,
            skipped: BTreeMap::new(),
        }
    }

    fn add_unit(&mut self, name: &str, source: Source) -> bool {
        if self.units.contains_key(name) {
            return false;
        }
        if self.units.len() >= MAX_UNITS {
            return false;
        }
        self.units.insert(
            name.to_owned(),
            Unit {
                source,
                dropins: Vec::new(),
                default_deps: true,
                notes: Vec::new(),
            },
        );
        true
    }

    fn note(&mut self, name: &str, e: Evidence) {
        if let Some(u) = self.units.get_mut(name)
            && u.notes.len() < 32
        {
            u.notes.push(e);
        }
    }

    fn edge(&mut self, first: &str, then: &str, evidence: Evidence) {
        if first != then && self.edges.len() < MAX_EDGES {
            self.edges.push(Edge {
                first: first.to_owned(),
                then: then.to_owned(),
                evidence,
            });
        }
    }

    fn pull(&mut self, parent: &str, child: &str, kind: PullKind, evidence: Evidence) {
        if parent != child && self.pulls.len() < MAX_EDGES {
            self.pulls.push(Pull {
                parent: parent.to_owned(),
                child: child.to_owned(),
                kind,
                evidence,
            });
        }
    }

    fn canonical<'a>(&'a self, name: &'a str) -> &'a str {
        let mut cur = name;
        for _ in 0..MAX_LINKS {
            match self.aliases.get(cur) {
                Some((c, _)) if c != cur => cur = c,
                _ => break,
            }
        }
        cur
    }

    // ---- systemd ----

    fn systemd(&mut self) -> (String, Evidence) {
        let g = self.g;
        let dirs = distinct_dirs(g, UNIT_DIRS);
        // First entry of each unit name, in directory priority order.
        let mut first: BTreeMap<String, String> = BTreeMap::new();
        let mut wants_dirs: Vec<(String, String)> = Vec::new();
        for dir in &dirs {
            for name in entries(g, dir) {
                let path = format!("{dir}/{name}");
                let parent_unit = name
                    .strip_suffix(".wants")
                    .or_else(|| name.strip_suffix(".requires"));
                if let Some(pu) = parent_unit {
                    if g.is_dir(&path) && is_unit_name(pu) {
                        wants_dirs.push((pu.to_owned(), path));
                    }
                    continue;
                }
                if is_unit_name(&name) && !g.is_dir(&path) {
                    first.entry(name).or_insert(path);
                }
            }
        }
        // What each name resolves to: a file, a mask, or an alias.
        for (name, path) in &first {
            let Ok(Some(meta)) = g.lstat(path) else {
                continue;
            };
            match meta.kind {
                FileKind::Symlink => {
                    let text = link_text(g, path).unwrap_or_default();
                    let end = follow_links(g, path);
                    if text == "/dev/null" || end == "/dev/null" {
                        self.add_unit(name, Source::Masked(path.clone()));
                        self.note(name, Evidence::file(path, format!("-> {text}: masked")));
                        continue;
                    }
                    let base = basename(&end);
                    if base != name && is_unit_name(base) {
                        self.aliases.insert(
                            name.clone(),
                            (base.to_owned(), Evidence::file(path, format!("-> {text}"))),
                        );
                        if !first.contains_key(base) && g.is_file(&end) {
                            self.add_unit(base, Source::Unit(end.clone()));
                        }
                    } else if g.is_file(&end) {
                        match g.stat(&end) {
                            Ok(Some(m)) if m.size == 0 => {
                                self.add_unit(name, Source::Masked(path.clone()));
                                self.note(
                                    name,
                                    Evidence::file(
                                        path,
                                        format!("-> {text}, an empty file: masked"),
                                    ),
                                );
                                true
                            }
                            _ => self.add_unit(name, Source::Unit(end.clone())),
                        };
                    }
                }
                FileKind::File if meta.size == 0 => {
                    self.add_unit(name, Source::Masked(path.clone()));
                    self.note(name, Evidence::file(path, "an empty file: masked"));
                }
                FileKind::File => {
                    self.add_unit(name, Source::Unit(path.clone()));
                }
                _ => {}
            }
        }
        // Unit files and their drop-ins.
        let names: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| matches!(u.source, Source::Unit(_)))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.load_unit(&name, &dirs);
        }
        // .wants/ and .requires/ links.
        for (pu, dir) in wants_dirs {
            let pu = self.canonical(&pu).to_owned();
            for child in entries(g, &dir) {
                if !is_unit_name(&child) {
                    continue;
                }
                let path = format!("{dir}/{child}");
                let ev = link_evidence(g, &path);
                self.pull(&pu, &child, PullKind::Link, ev);
            }
        }
        self.sysv_generator();
        let default = self.default_target();
        self.implicit_targets();
        self.default_dependencies();
        default
    }

    /// Settings of a unit file and its drop-ins.
    fn load_unit(&mut self, name: &str, dirs: &[String]) {
        let g = self.g;
        let Some(Source::Unit(path)) = self.units.get(name).map(|u| u.source.clone()) else {
            return;
        };
        let mut names: Vec<String> = vec![name.to_owned()];
        names.extend(
            self.aliases
                .iter()
                .filter(|(_, (c, _))| c == name)
                .map(|(a, _)| a.clone()),
        );
        // Drop-ins: file name -> first path, over every name and directory.
        let mut dropins: BTreeMap<String, String> = BTreeMap::new();
        for n in &names {
            for dir in dirs {
                let d = format!("{dir}/{n}.d");
                if !g.is_dir(&d) {
                    continue;
                }
                for f in entries(g, &d) {
                    if f.ends_with(".conf") {
                        dropins.entry(f.clone()).or_insert(format!("{d}/{f}"));
                    }
                }
            }
        }
        let mut files = vec![path.clone()];
        let mut applied = Vec::new();
        for p in dropins.values() {
            let masked = link_text(g, p).as_deref() == Some("/dev/null")
                || matches!(g.stat(p), Ok(Some(m)) if m.size == 0);
            if masked {
                self.note(
                    name,
                    Evidence::file(p.as_str(), "masked drop-in: not applied"),
                );
                continue;
            }
            files.push(p.clone());
            applied.push(p.clone());
        }
        if let Some(u) = self.units.get_mut(name) {
            u.dropins = applied;
        }
        for f in files {
            let Ok(Some(lines)) = read_lines(g, &f) else {
                continue;
            };
            for s in settings(&lines) {
                self.apply(name, &f, &s);
            }
        }
    }

    fn apply(&mut self, unit: &str, file: &str, s: &Setting) {
        let ev = || Evidence::line(file, s.line, format!("{}={}", s.key, s.value));
        let names = || {
            s.value
                .split_whitespace()
                .filter(|n| !n.contains('%') && is_unit_name(n))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        match (s.section.as_str(), s.key.as_str()) {
            ("Unit", "After") => {
                for n in names() {
                    self.edge(&n, unit, ev());
                }
            }
            ("Unit", "Before") => {
                for n in names() {
                    self.edge(unit, &n, ev());
                }
            }
            ("Unit", "Wants" | "Requires" | "BindsTo") => {
                for n in names() {
                    self.pull(unit, &n, PullKind::Dependency, ev());
                }
            }
            ("Unit", "DefaultDependencies") => {
                let v = truthy(&s.value);
                if let Some(u) = self.units.get_mut(unit) {
                    u.default_deps = v;
                }
            }
            ("Install", "WantedBy" | "RequiredBy") => {
                self.note(unit, ev());
            }
            _ => {}
        }
    }

    /// SysV scripts as systemd-sysv-generator turns them into units.
    fn sysv_generator(&mut self) {
        let g = self.g;
        let mut scripts: Vec<(String, String, Lsb)> = Vec::new();
        for dir in distinct_dirs(g, INIT_DIRS) {
            for file in entries(g, &dir) {
                if file.starts_with('.') {
                    continue;
                }
                let path = format!("{dir}/{file}");
                let Ok(Some(meta)) = g.stat(&path) else {
                    continue;
                };
                if meta.kind != FileKind::File {
                    continue;
                }
                let name = script_unit(&file);
                if meta.mode & 0o100 == 0 {
                    continue;
                }
                if self.units.contains_key(&name) || self.aliases.contains_key(&name) {
                    let ev = Evidence::file(
                        path.as_str(),
                        format!("not used: the native unit {name} takes precedence"),
                    );
                    let c = self.canonical(&name).to_owned();
                    self.note(&c, ev);
                    continue;
                }
                if scripts.iter().any(|(n, _, _)| *n == name) {
                    continue;
                }
                if g.is_symlink(&path) {
                    let target = link_text(g, &path).unwrap_or_default();
                    // systemd 219 to 226 generate units from regular files only (systemd
                    // issue 2141, RHEL 7.2); 227 follows the link again.
                    match self.systemd_version {
                        Some(v) if (SYSV_SKIPS_SYMLINKS.0..SYSV_SKIPS_SYMLINKS.1).contains(&v) => {
                            self.skipped.insert(
                                name,
                                Evidence::file(
                                    path.as_str(),
                                    format!(
                                        "a symlink (-> {target}): systemd {v}'s sysv-generator \
                                         skips it, so no {} exists at boot",
                                        script_unit(&file)
                                    ),
                                ),
                            );
                            continue;
                        }
                        Some(_) => {}
                        None => {
                            self.skipped.insert(
                                name.clone(),
                                Evidence::file(
                                    path.as_str(),
                                    format!(
                                        "a symlink (-> {target}): systemd 219 to 226 (RHEL/CentOS \
                                         7.2's) skip symlinked scripts; the systemd version is \
                                         unknown"
                                    ),
                                ),
                            );
                        }
                    }
                }
                let lsb = read_lines(g, &path)
                    .ok()
                    .flatten()
                    .map(|l| lsb_header(&l))
                    .unwrap_or_default();
                if !self.add_unit(
                    &name,
                    Source::SysV {
                        path: path.clone(),
                        lsb: lsb.present,
                    },
                ) {
                    continue;
                }
                if let Some(e) = self.skipped.remove(&name) {
                    self.note(&name, e);
                }
                scripts.push((name, path, lsb));
            }
        }
        // rc links: runlevel targets pull the scripts; priorities for scripts without headers.
        let mut prio: BTreeMap<String, (u8, Evidence)> = BTreeMap::new();
        for level in 1..=5u8 {
            let target = match level {
                1 => "rescue.target",
                5 => "graphical.target",
                _ => "multi-user.target",
            };
            for dir in distinct_dirs(
                g,
                [
                    format!("/etc/rc.d/rc{level}.d"),
                    format!("/etc/rc{level}.d"),
                ]
                .iter()
                .map(String::as_str),
            ) {
                for link in entries(g, &dir) {
                    let Some((true, n, name)) = rc_link(&link) else {
                        continue;
                    };
                    if !scripts.iter().any(|(s, _, _)| *s == name) {
                        continue;
                    }
                    let path = format!("{dir}/{link}");
                    let ev = link_evidence(g, &path);
                    self.pull(target, &name, PullKind::Rc, ev.clone());
                    self.edge(
                        &name,
                        target,
                        Evidence::file(
                            path.as_str(),
                            format!("wraps into Before={target} (systemd-sysv-generator)"),
                        ),
                    );
                    let e = prio.entry(name).or_insert((n, ev.clone()));
                    if n > e.0 {
                        *e = (n, ev);
                    }
                }
            }
        }
        for (name, path, lsb) in &scripts {
            let file = basename(path).to_owned();
            for (p, line, text) in &lsb.provides {
                let Some(m) = sysv_facility(p, &file) else {
                    continue;
                };
                let ev = Evidence::line(path.as_str(), *line, text.as_str());
                if m.ends_with(".service") {
                    if !self.units.contains_key(&m) && !self.aliases.contains_key(&m) {
                        self.aliases.insert(m, (name.clone(), ev));
                    }
                } else {
                    self.edge(name, &m, ev.clone());
                    self.pull(name, &m, PullKind::Dependency, ev);
                }
            }
            for d in &lsb.deps {
                let Some(m) = sysv_facility(&d.name, &file) else {
                    continue;
                };
                let ev = Evidence::line(path.as_str(), d.line, d.text.as_str());
                if d.before {
                    self.edge(name, &m, ev);
                } else {
                    self.edge(&m, name, ev);
                }
            }
        }
        // Start priorities order two scripts when at least one has no LSB header.
        let lsb_of: BTreeMap<&str, bool> = scripts
            .iter()
            .map(|(n, _, l)| (n.as_str(), l.present))
            .collect();
        let mut extra = Vec::new();
        'pairs: for (a, (pa, ea)) in &prio {
            if lsb_of.get(a.as_str()).copied().unwrap_or(true) {
                continue;
            }
            for (b, (pb, eb)) in &prio {
                if extra.len() >= MAX_EDGES {
                    break 'pairs;
                }
                if a == b || pa == pb {
                    continue;
                }
                let (first, then, e1, e2) = if pa < pb {
                    (a, b, ea, eb)
                } else {
                    (b, a, eb, ea)
                };
                let text = format!(
                    "start priority {:02} before {:02} ({}): systemd-sysv-generator orders \
                     scripts by priority when one has no LSB header",
                    pa.min(pb),
                    pa.max(pb),
                    e2.path
                );
                extra.push((
                    first.clone(),
                    then.clone(),
                    Evidence::file(e1.path.as_str(), text),
                ));
            }
        }
        for (a, b, e) in extra {
            self.edge(&a, &b, e);
        }
    }

    fn default_target(&mut self) -> (String, Evidence) {
        if let Some((c, ev)) = self.aliases.get("default.target") {
            return (c.clone(), ev.clone());
        }
        if let Some(u) = self.units.get("default.target")
            && let Source::Unit(p) = &u.source
        {
            return (
                "default.target".into(),
                Evidence::file(p.as_str(), "default target"),
            );
        }
        (
            "multi-user.target".into(),
            Evidence::file(
                "/etc/systemd/system/default.target",
                "missing (and in /usr/lib/systemd/system): assuming multi-user.target",
            ),
        )
    }

    /// Standard targets that have no unit file in the image get systemd's stock dependencies,
    /// so a partial tree still boots through them.
    fn implicit_targets(&mut self) {
        const STOCK: [(&str, &str); 3] = [
            ("graphical.target", "multi-user.target"),
            ("multi-user.target", "basic.target"),
            ("basic.target", "sysinit.target"),
        ];
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        for p in &self.pulls {
            referenced.insert(p.parent.clone());
            referenced.insert(p.child.clone());
        }
        for e in &self.edges {
            referenced.insert(e.first.clone());
            referenced.insert(e.then.clone());
        }
        for (t, _) in STOCK {
            referenced.insert(t.to_owned());
        }
        referenced.insert("sysinit.target".into());
        for t in referenced {
            if !t.ends_with(".target") {
                continue;
            }
            let t = self.canonical(&t).to_owned();
            if self.units.contains_key(&t) {
                continue;
            }
            self.add_unit(&t, Source::Implicit);
            if let Some((_, dep)) = STOCK.iter().find(|(n, _)| *n == t) {
                let ev = Evidence::file(
                    format!("/usr/lib/systemd/system/{t}"),
                    format!("missing; systemd ships it with Requires={dep} After={dep}"),
                );
                self.pull(&t, dep, PullKind::Dependency, ev.clone());
                self.edge(dep, &t, ev);
            }
        }
    }

    /// Services are ordered after basic.target; targets after what they pull in.
    fn default_dependencies(&mut self) {
        let mut add = Vec::new();
        for (name, u) in &self.units {
            if !u.default_deps || !name.ends_with(".service") {
                continue;
            }
            let path = u.path().unwrap_or("").to_owned();
            for t in ["sysinit.target", "basic.target"] {
                add.push((
                    t.to_owned(),
                    name.clone(),
                    Evidence::file(
                        path.as_str(),
                        format!("DefaultDependencies=yes: After={t} (implicit)"),
                    ),
                ));
            }
        }
        let existing: BTreeSet<(&str, &str)> = self
            .edges
            .iter()
            .map(|e| (self.canonical(&e.first), self.canonical(&e.then)))
            .collect();
        for p in &self.pulls {
            let t = self.canonical(&p.parent);
            let c = self.canonical(&p.child);
            if !t.ends_with(".target") {
                continue;
            }
            let (Some(tu), Some(cu)) = (self.units.get(t), self.units.get(c)) else {
                continue;
            };
            if !tu.default_deps || !cu.default_deps || existing.contains(&(t, c)) {
                continue;
            }
            add.push((
                c.to_owned(),
                t.to_owned(),
                Evidence::file(
                    p.evidence.path.as_str(),
                    format!(
                        "{t} pulls in {c}, which implies After={c} (target default dependencies)"
                    ),
                ),
            ));
        }
        for (a, b, e) in add {
            self.edge(&a, &b, e);
        }
    }

    // ---- SysV rc and upstart ----

    /// Init scripts (every one, enabled or not) and the `S##` links of `level`.
    fn rc_scripts(&mut self, level: u8, root: &str) {
        let g = self.g;
        let mut scripts: Vec<(String, String, Lsb)> = Vec::new();
        for dir in distinct_dirs(g, INIT_DIRS) {
            for file in entries(g, &dir) {
                if file.starts_with('.') {
                    continue;
                }
                let path = format!("{dir}/{file}");
                if !g.is_file(&path) {
                    continue;
                }
                let name = script_unit(&file);
                if self.units.contains_key(&name) {
                    continue;
                }
                let lsb = read_lines(g, &path)
                    .ok()
                    .flatten()
                    .map(|l| lsb_header(&l))
                    .unwrap_or_default();
                if self.add_unit(
                    &name,
                    Source::SysV {
                        path: path.clone(),
                        lsb: lsb.present,
                    },
                ) {
                    scripts.push((name, path, lsb));
                }
            }
        }
        // Debian's rcS.d runs at boot before any runlevel; then the default runlevel.
        let phases = [
            (0u16, vec!["/etc/rcS.d".to_owned()]),
            (
                100u16,
                vec![
                    format!("/etc/rc.d/rc{level}.d"),
                    format!("/etc/rc{level}.d"),
                ],
            ),
        ];
        for (offset, dirs) in phases {
            for dir in distinct_dirs(g, dirs.iter().map(String::as_str)) {
                self.rc_links(&dir, offset, root);
            }
        }
        self.lsb_edges(&scripts);
    }

    /// The `S##` links of one rc directory, at `offset` in the boot sequence.
    fn rc_links(&mut self, dir: &str, offset: u16, root: &str) {
        let g = self.g;
        for link in entries(g, dir) {
            let Some((true, n, name)) = rc_link(&link) else {
                continue;
            };
            let path = format!("{dir}/{link}");
            let ev = link_evidence(g, &path);
            match g.stat(&path) {
                Ok(Some(m)) if m.kind == FileKind::File && m.mode & 0o100 != 0 => {}
                Ok(Some(_)) => {
                    self.note(
                        &name,
                        Evidence::file(path.as_str(), "link to a non-executable file: rc skips it"),
                    );
                    continue;
                }
                _ => {
                    self.note(
                        &name,
                        Evidence::file(path.as_str(), "dangling link: rc skips it"),
                    );
                    continue;
                }
            }
            if !self.units.contains_key(&name) {
                continue;
            }
            if matches!(
                self.units.get(&name).map(|u| &u.source),
                Some(Source::Upstart(_))
            ) {
                continue;
            }
            let pos = offset.saturating_add(u16::from(n));
            let keep = self.rc.get(&name).is_none_or(|(old, _)| pos < *old);
            if keep {
                self.rc.insert(name.clone(), (pos, ev.clone()));
            }
            self.pull(root, &name, PullKind::Rc, ev);
        }
    }

    /// LSB header edges between scripts, as insserv reads them: names through Provides.
    fn lsb_edges(&mut self, scripts: &[(String, String, Lsb)]) {
        let mut provider: BTreeMap<String, String> = BTreeMap::new();
        for (name, path, lsb) in scripts {
            provider.insert(basename(path).to_owned(), name.clone());
            for (p, _, _) in &lsb.provides {
                provider.entry(p.clone()).or_insert_with(|| name.clone());
            }
        }
        for (name, path, lsb) in scripts {
            for (p, line, text) in &lsb.provides {
                let alias = script_unit(p);
                if !p.starts_with('$') && alias != *name && !self.units.contains_key(&alias) {
                    self.aliases.entry(alias).or_insert_with(|| {
                        (
                            name.clone(),
                            Evidence::line(path.as_str(), *line, text.as_str()),
                        )
                    });
                }
            }
            for d in &lsb.deps {
                if d.name.starts_with('$') {
                    continue;
                }
                let Some(other) = provider.get(&d.name).cloned() else {
                    continue;
                };
                let ev = Evidence::line(path.as_str(), d.line, d.text.as_str());
                if d.before {
                    self.edge(name, &other, ev);
                } else {
                    self.edge(&other, name, ev);
                }
            }
        }
    }

    /// Upstart jobs: `start on` pulls them in and orders them.
    fn upstart_jobs(&mut self, root: &str) {
        let g = self.g;
        let dir = "/etc/init";
        let mut rc_after: Vec<(String, Evidence)> = Vec::new();
        for file in entries(g, dir) {
            let Some(job) = file.strip_suffix(".conf") else {
                continue;
            };
            let path = format!("{dir}/{file}");
            let name = script_unit(job);
            if !matches!(self.units.get(&name).map(|u| &u.source), Some(Source::Upstart(p)) if *p == path)
            {
                continue;
            }
            let Ok(Some(lines)) = read_lines(g, &path) else {
                continue;
            };
            let has_manual = |p: &str| {
                read_lines(g, p)
                    .ok()
                    .flatten()
                    .is_some_and(|l| l.meaningful().any(|(_, t)| t == "manual"))
            };
            let manual = has_manual(&path) || has_manual(&format!("{dir}/{job}.override"));
            let Some((n, expr)) = start_on(&lines) else {
                self.note(
                    &name,
                    Evidence::file(path.as_str(), "no `start on` stanza: started by hand only"),
                );
                continue;
            };
            let ev = Evidence::line(path.as_str(), n, format!("start on {expr}"));
            if manual {
                self.note(
                    &name,
                    Evidence::file(path.as_str(), "`manual` stanza: upstart does not start it"),
                );
                continue;
            }
            self.pull(root, &name, PullKind::Job, ev.clone());
            let words: Vec<&str> = expr
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .filter(|w| !w.is_empty())
                .collect();
            // With `or`, any alternative may start the job: no event is guaranteed first.
            if words.contains(&"or") {
                continue;
            }
            for w in words.windows(2) {
                let other = script_unit(w[1]);
                match w[0] {
                    "started" => self.edge(&other, &name, ev.clone()),
                    "starting" => self.edge(&name, &other, ev.clone()),
                    "stopped" if w[1] == "rc" => rc_after.push((name.clone(), ev.clone())),
                    _ => {}
                }
            }
        }
        let scripts: Vec<String> = self.rc.keys().cloned().collect();
        for (job, ev) in rc_after {
            for s in &scripts {
                if self.edges.len() >= MAX_EDGES {
                    return;
                }
                self.edge(s, &job, ev.clone());
            }
        }
    }
}

/// The `start on` expression of an upstart job (joined over lines until its parentheses close).
fn start_on(lines: &Lines) -> Option<(usize, String)> {
    let mut it = lines.meaningful();
    while let Some((n, l)) = it.next() {
        let Some(rest) = l.strip_prefix("start on") else {
            continue;
        };
        let mut expr = rest.trim().to_owned();
        let depth = |s: &str| {
            s.chars().filter(|&c| c == '(').count() as i64
                - s.chars().filter(|&c| c == ')').count() as i64
        };
        let mut guard = 0;
        while depth(&expr) > 0 && guard < 64 {
            guard += 1;
            match it.next() {
                Some((_, more)) => {
                    expr.push(' ');
                    expr.push_str(more);
                }
                None => break,
            }
        }
        return Some((n, expr));
    }
    None
}

/// The default runlevel: `/etc/inittab` (`id:N:initdefault:`), upstart's
/// `DEFAULT_RUNLEVEL`, else the family default (2 on Debian, 3 elsewhere).
fn default_runlevel(g: &dyn Guest) -> (u8, Evidence) {
    if let Ok(Some(l)) = read_lines(g, "/etc/inittab") {
        for (n, line) in l.meaningful() {
            let f: Vec<&str> = line.split(':').collect();
            if f.get(2) == Some(&"initdefault")
                && let Some(r) = f.get(1).and_then(|r| r.trim().parse::<u8>().ok())
                && r <= 6
            {
                return (r, Evidence::line("/etc/inittab", n, line));
            }
        }
    }
    if let Ok(Some(l)) = read_lines(g, "/etc/init/rc-sysinit.conf") {
        for (n, line) in l.meaningful() {
            if let Some(v) = line.strip_prefix("env DEFAULT_RUNLEVEL=")
                && let Ok(r) = v.trim().parse::<u8>()
                && r <= 6
            {
                return (r, Evidence::line("/etc/init/rc-sysinit.conf", n, line));
            }
        }
    }
    if g.is_file("/etc/debian_version") {
        (
            2,
            Evidence::file(
                "/etc/inittab",
                "no initdefault: runlevel 2, the Debian default",
            ),
        )
    } else {
        (
            3,
            Evidence::file("/etc/inittab", "no initdefault: assuming runlevel 3"),
        )
    }
}

/// Which init system boots the guest, and why.
pub(crate) fn detect_init(g: &dyn Guest) -> (Init, Evidence) {
    for p in ["/sbin/init", "/usr/sbin/init"] {
        let Ok(Some(m)) = g.lstat(p) else {
            continue;
        };
        if m.kind == FileKind::Symlink {
            let end = follow_links(g, p);
            let text = link_text(g, p).unwrap_or_default();
            let b = basename(&end);
            let init = if b == "systemd" || end.contains("/systemd/") {
                Init::Systemd
            } else if b.contains("upstart") {
                Init::Upstart
            } else {
                Init::SysV
            };
            return (init, Evidence::file(p, format!("-> {text}")));
        }
        if m.kind == FileKind::File {
            if g.is_file("/sbin/initctl") && g.is_dir("/etc/init") {
                return (
                    Init::Upstart,
                    Evidence::file(p, "a program, with /sbin/initctl and /etc/init: upstart"),
                );
            }
            return (
                Init::SysV,
                Evidence::file(p, "a program, not a link to systemd: SysV init"),
            );
        }
    }
    for p in ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"] {
        if g.is_file(p) {
            return (
                Init::Systemd,
                Evidence::file(p, "no /sbin/init; systemd is installed"),
            );
        }
    }
    if g.is_file("/etc/inittab") {
        return (
            Init::SysV,
            Evidence::file("/etc/inittab", "no /sbin/init; an inittab: SysV init"),
        );
    }
    (
        Init::Systemd,
        Evidence::file("/sbin/init", "missing: assuming systemd"),
    )
}

impl BootGraph {
    /// Reads the boot configuration of the guest, with systemd's version from its package.
    pub(crate) fn for_context(cx: &Context<'_>) -> Self {
        let version = cx.packages("systemd").find_map(|a| {
            let v = a.version.as_deref()?;
            let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        Self::read(cx.guest, version)
    }

    /// Reads the boot configuration of the guest. `systemd_version` decides how
    /// systemd-sysv-generator treats symlinked init scripts; unknown means "follows them"
    /// (systemd 227 and later), with a note where it matters.
    pub(crate) fn read(g: &dyn Guest, systemd_version: Option<u32>) -> Self {
        let (init, init_evidence) = detect_init(g);
        let mut b = Builder::new(g, systemd_version);
        let (root, default_evidence, runlevel) = match init {
            Init::Systemd => {
                let (t, e) = b.systemd();
                (t, e, None)
            }
            Init::SysV | Init::Upstart => {
                let (level, e) = default_runlevel(g);
                let root = format!("runlevel {level}");
                if init == Init::Upstart {
                    b.upstart_units();
                }
                b.rc_scripts(level, &root);
                if init == Init::Upstart {
                    b.upstart_jobs(&root);
                }
                (root, e, Some(level))
            }
        };
        let mut graph = BootGraph {
            init,
            init_evidence,
            default: root,
            default_evidence,
            runlevel,
            units: b.units,
            aliases: b.aliases,
            edges: b.edges,
            pulls: b.pulls,
            booted: BTreeMap::new(),
            rc: b.rc,
            dead_pulls: Vec::new(),
            skipped: b.skipped,
        };
        graph.boot_closure();
        graph
    }

    fn canonical<'a>(&'a self, name: &'a str) -> &'a str {
        let mut cur = name;
        for _ in 0..MAX_LINKS {
            match self.aliases.get(cur) {
                Some((c, _)) if c != cur => cur = c,
                _ => break,
            }
        }
        cur
    }

    /// The unit a name (or alias, or template instance) loads.
    fn lookup(&self, name: &str) -> Option<&Unit> {
        let c = self.canonical(name);
        if let Some(u) = self.units.get(c) {
            return Some(u);
        }
        let (prefix, rest) = c.split_once('@')?;
        let suffix = rest.rfind('.').map(|i| &rest[i..])?;
        self.units.get(&format!("{prefix}@{suffix}"))
    }

    /// What boot starts: everything the default target or runlevel pulls in, transitively,
    /// minus masked and missing units.
    fn boot_closure(&mut self) {
        let mut by_parent: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, p) in self.pulls.iter().enumerate() {
            by_parent
                .entry(self.canonical(&p.parent).to_owned())
                .or_default()
                .push(i);
        }
        let root = self.canonical(&self.default).to_owned();
        let mut booted: BTreeMap<String, Option<usize>> = BTreeMap::new();
        let mut dead = Vec::new();
        booted.insert(root.clone(), None);
        let mut queue = VecDeque::from([root]);
        while let Some(n) = queue.pop_front() {
            for &i in by_parent.get(&n).into_iter().flatten() {
                let Some(p) = self.pulls.get(i) else {
                    continue;
                };
                let child = self.canonical(&p.child).to_owned();
                if booted.contains_key(&child) {
                    continue;
                }
                match self.lookup(&child).map(|u| &u.source) {
                    Some(Source::Masked(_)) | None => {
                        dead.push((child, p.evidence.clone()));
                        continue;
                    }
                    Some(_) => {}
                }
                if booted.len() >= MAX_UNITS {
                    break;
                }
                booted.insert(child.clone(), Some(i));
                queue.push_back(child);
            }
        }
        self.booted = booted;
        self.dead_pulls = dead;
    }

    /// The unit a service name loads, when there is one.
    pub(crate) fn unit(&self, service: &str) -> Option<&Unit> {
        self.lookup(&unit_name(service))
    }

    /// Units boot starts, canonical names.
    pub(crate) fn booted(&self) -> impl Iterator<Item = &str> {
        self.booted.keys().map(String::as_str)
    }

    /// The pulls from the default target down to `name`.
    fn chain(&self, name: &str) -> Vec<Evidence> {
        let mut out = Vec::new();
        let mut cur = name.to_owned();
        for _ in 0..MAX_CHAIN {
            let Some(Some(i)) = self.booted.get(&cur) else {
                break;
            };
            let Some(p) = self.pulls.get(*i) else {
                break;
            };
            out.push(p.evidence.clone());
            cur = self.canonical(&p.parent).to_owned();
        }
        out.push(self.default_evidence.clone());
        out
    }

    /// Whether `service` starts at boot.
    pub(crate) fn enablement(&self, service: &str) -> Enablement {
        let name = unit_name(service);
        let canon = self.canonical(&name).to_owned();
        let mut alias_ev: Vec<Evidence> = self
            .aliases
            .get(&name)
            .map(|(_, e)| e.clone())
            .into_iter()
            .collect();
        let Some(u) = self.lookup(&canon) else {
            if let Some(e) = self.skipped.get(&canon) {
                // The script is installed, but this systemd makes no unit of it.
                return Enablement::Disabled(vec![e.clone()]);
            }
            return Enablement::Missing(vec![self.missing_evidence(service)]);
        };
        if let Source::Masked(_) = &u.source {
            let mut ev = u.notes.clone();
            ev.extend(
                self.dead_pulls
                    .iter()
                    .filter(|(c, _)| *c == canon)
                    .map(|(_, e)| {
                        Evidence::file(
                            e.path.as_str(),
                            format!("{} (starts nothing: the unit is masked)", e.text),
                        )
                    }),
            );
            return Enablement::Masked(ev);
        }
        if self.booted.contains_key(&canon) {
            let mut ev = alias_ev;
            ev.extend(self.chain(&canon));
            return Enablement::Enabled(ev);
        }
        alias_ev.extend(u.evidence());
        alias_ev.extend(u.notes.iter().cloned());
        let file = canon.trim_end_matches(".service");
        let missing_link = match (&u.source, self.init, self.runlevel) {
            (Source::SysV { .. }, Init::Systemd, _) => Some(Evidence::file(
                "/etc/rc.d",
                format!(
                    "no S##{file} link in rc2.d..rc5.d pulls it into {}",
                    self.default
                ),
            )),
            (Source::SysV { .. }, _, Some(level)) => Some(Evidence::file(
                format!("/etc/rc{level}.d"),
                format!("no S##{file} link in runlevel {level}"),
            )),
            (Source::Unit(_), _, _) => Some(Evidence::file(
                "/etc/systemd/system",
                format!(
                    "no .wants/ or .requires/ link nor Wants=/Requires= pulls {canon} into {}",
                    self.default
                ),
            )),
            _ => None,
        };
        alias_ev.extend(missing_link);
        Enablement::Disabled(alias_ev)
    }

    fn missing_evidence(&self, service: &str) -> Evidence {
        let name = unit_name(service);
        let file = name.trim_end_matches(".service");
        match self.init {
            Init::Systemd => Evidence::file(
                "/etc/systemd/system",
                format!(
                    "no {name} in {} and no /etc/init.d/{file} script",
                    UNIT_DIRS.join(", ")
                ),
            ),
            Init::SysV => Evidence::file(format!("/etc/init.d/{file}"), "no such init script"),
            Init::Upstart => Evidence::file(
                format!("/etc/init/{file}.conf"),
                format!("no such upstart job and no /etc/init.d/{file} script"),
            ),
        }
    }

    /// Does `a` start before `b` when the guest boots into its default target or runlevel?
    pub(crate) fn order(&self, a: &str, b: &str) -> Order {
        let a = self.canonical(&unit_name(a)).to_owned();
        let b = self.canonical(&unit_name(b)).to_owned();
        if let Some(o) = self.rc_order(&a, &b) {
            return o;
        }
        let fwd = self.path(&a, &b, true);
        let back = self.path(&b, &a, true);
        match (fwd, back) {
            (Some((s, e)), None) => Order::Before(s, e),
            (None, Some((s, e))) => Order::After(s, e),
            (Some((s1, mut e1)), Some((s2, e2))) => {
                e1.extend(e2);
                Order::Cycle(format!("{s1} and {s2}"), e1)
            }
            (None, None) => Order::Unordered(self.unordered_notes(&a, &b)),
        }
    }

    /// SysV and upstart: two scripts of the default runlevel start in `S##` order.
    fn rc_order(&self, a: &str, b: &str) -> Option<Order> {
        if self.init == Init::Systemd {
            return None;
        }
        let (na, ea) = self.rc.get(a)?;
        let (nb, eb) = self.rc.get(b)?;
        let level = self.runlevel.unwrap_or(0);
        let same_dir = parent(&ea.path) == parent(&eb.path);
        let shown = |e: &Evidence| {
            if same_dir {
                basename(&e.path).to_owned()
            } else {
                format!("{}/{}", basename(parent(&e.path)), basename(&e.path))
            }
        };
        match na.cmp(nb) {
            std::cmp::Ordering::Less => Some(Order::Before(
                format!("{} → {} in runlevel {level}", shown(ea), shown(eb)),
                vec![ea.clone(), eb.clone()],
            )),
            std::cmp::Ordering::Greater => {
                let mut ev = vec![eb.clone(), ea.clone()];
                let mut chain = format!("{} → {} in runlevel {level}", shown(eb), shown(ea));
                // An LSB header asking for the opposite: insserv would renumber the links.
                if let Some((_, e)) = self.path(a, b, true) {
                    ev.extend(e);
                    chain.push_str(
                        ", although an LSB header asks for the opposite (insserv or update-rc.d \
                         would renumber the links)",
                    );
                }
                Some(Order::After(chain, ev))
            }
            std::cmp::Ordering::Equal => None,
        }
    }

    /// A chain of edges from `from` to `to`; with `booted_only`, every unit between them must be
    /// one that boot starts. Breadth-first, each unit visited once.
    fn path(&self, from: &str, to: &str, booted_only: bool) -> Option<(String, Vec<Evidence>)> {
        let mut succ: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            succ.entry(self.canonical(&e.first)).or_default().push(i);
        }
        let mut prev: BTreeMap<String, usize> = BTreeMap::new();
        let mut seen: BTreeSet<String> = BTreeSet::from([from.to_owned()]);
        let mut queue = VecDeque::from([from.to_owned()]);
        while let Some(n) = queue.pop_front() {
            if n != from && booted_only && !self.booted.contains_key(&n) {
                continue;
            }
            for &i in succ.get(n.as_str()).into_iter().flatten() {
                let Some(e) = self.edges.get(i) else {
                    continue;
                };
                let next = self.canonical(&e.then).to_owned();
                if !seen.insert(next.clone()) {
                    continue;
                }
                prev.insert(next.clone(), i);
                if next == to {
                    return Some(self.unwind(from, to, &prev));
                }
                queue.push_back(next);
            }
        }
        None
    }

    fn unwind(
        &self,
        from: &str,
        to: &str,
        prev: &BTreeMap<String, usize>,
    ) -> (String, Vec<Evidence>) {
        let mut names = vec![to.to_owned()];
        let mut ev = Vec::new();
        let mut cur = to.to_owned();
        for _ in 0..MAX_UNITS {
            if cur == from {
                break;
            }
            let Some(e) = prev.get(&cur).and_then(|&i| self.edges.get(i)) else {
                break;
            };
            ev.push(e.evidence.clone());
            cur = self.canonical(&e.first).to_owned();
            names.push(cur.clone());
        }
        names.reverse();
        ev.reverse();
        ev.truncate(MAX_CHAIN);
        (names.join(" → "), ev)
    }

    fn unordered_notes(&self, a: &str, b: &str) -> Vec<Evidence> {
        let mut notes = Vec::new();
        for (x, y) in [(a, b), (b, a)] {
            if let Some((chain, ev)) = self.path(x, y, false) {
                let outside: Vec<&str> = chain
                    .split(" → ")
                    .filter(|n| *n != x && *n != y && !self.booted.contains_key(*n))
                    .collect();
                notes.extend(ev);
                notes.push(Evidence::file(
                    "(boot graph)",
                    format!(
                        "{chain} holds only if {} start at boot, and nothing starts them",
                        outside.join(", ")
                    ),
                ));
            }
        }
        for p in &self.pulls {
            let (pa, pc) = (self.canonical(&p.parent), self.canonical(&p.child));
            if p.kind == PullKind::Dependency && ((pa == a && pc == b) || (pa == b && pc == a)) {
                notes.push(p.evidence.clone());
            }
        }
        notes
    }
}

impl Builder<'_> {
    /// Upstart jobs are registered before the rc scripts so that a job shadows the compatibility
    /// script of the same name.
    fn upstart_units(&mut self) {
        let g = self.g;
        for file in entries(g, "/etc/init") {
            if let Some(job) = file.strip_suffix(".conf") {
                let path = format!("/etc/init/{file}");
                if g.is_file(&path) {
                    self.add_unit(&script_unit(job), Source::Upstart(path));
                }
            }
        }
    }
}

/// `probe: service-enabled`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceEnabled {
    /// Service names (`xe-linux-distribution`, or `foo.service`); any one started at boot passes.
    pub names: Vec<String>,
}

impl ServiceEnabled {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("service-enabled: names is empty".into());
        }
        Ok(())
    }

    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "boot order is read from Linux init systems");
        }
        let g = BootGraph::for_context(cx);
        let names: Vec<String> = self.names.iter().map(|n| cx.expand(n)).collect();
        let mut why = Vec::new();
        let mut ev = vec![g.init_evidence.clone()];
        for n in &names {
            match g.enablement(n) {
                Enablement::Enabled(e) => {
                    let mut all = vec![g.init_evidence.clone()];
                    all.extend(e);
                    return Outcome::new(
                        Status::Pass,
                        format!("{n} starts at boot ({}, {})", g.init.name(), g.default),
                    )
                    .with(all);
                }
                Enablement::Disabled(e) => {
                    why.push(format!("{n} is installed but nothing starts it"));
                    ev.extend(e);
                }
                Enablement::Masked(e) => {
                    why.push(format!("{n} is masked"));
                    ev.extend(e);
                }
                Enablement::Missing(e) => {
                    why.push(format!("{n} is not installed"));
                    ev.extend(e);
                }
            }
        }
        Outcome::new(
            Status::Fail,
            format!(
                "none of {} starts at boot ({}, {}): {}",
                names.join(", "),
                g.init.name(),
                g.default,
                why.join("; ")
            ),
        )
        .with(ev)
    }
}

/// `probe: boot-order`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootOrder {
    /// Services that must start first; any one that starts at boot and is ordered first passes.
    pub first: Vec<String>,
    /// The service that must start after them. When it is not installed the rule is skipped.
    pub then: String,
}

impl BootOrder {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.first.is_empty() || self.then.trim().is_empty() {
            return Err("boot-order: first and then are required".into());
        }
        Ok(())
    }

    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "boot order is read from Linux init systems");
        }
        let g = BootGraph::for_context(cx);
        let then = cx.expand(&self.then);
        let firsts: Vec<String> = self.first.iter().map(|n| cx.expand(n)).collect();
        let mut ev = vec![g.init_evidence.clone()];
        let ctx = format!("{}, {}", g.init.name(), g.default);
        match g.enablement(&then) {
            Enablement::Missing(_) => {
                return Outcome::new(
                    Status::Skip,
                    format!("{then} is not installed: there is nothing to order"),
                );
            }
            Enablement::Enabled(_) => {}
            Enablement::Disabled(e) | Enablement::Masked(e) => {
                ev.extend(e);
                return Outcome::new(
                    Status::Fail,
                    format!(
                        "{then} does not start at boot ({ctx}), so nothing starts it after {}",
                        firsts.join(" or ")
                    ),
                )
                .with(ev);
            }
        }
        let mut enabled = Vec::new();
        for f in &firsts {
            match g.enablement(f) {
                Enablement::Enabled(_) => enabled.push(f.clone()),
                Enablement::Disabled(e) | Enablement::Masked(e) | Enablement::Missing(e) => {
                    ev.extend(e)
                }
            }
        }
        if enabled.is_empty() {
            return Outcome::new(
                Status::Fail,
                format!(
                    "none of {} starts at boot ({ctx}), so none starts before {then}",
                    firsts.join(", ")
                ),
            )
            .with(ev);
        }
        let mut why = Vec::new();
        for f in &enabled {
            match g.order(f, &then) {
                Order::Before(chain, e) => {
                    let mut all = vec![g.init_evidence.clone()];
                    all.extend(e);
                    return Outcome::new(
                        Status::Pass,
                        format!("{f} starts before {then} ({ctx}): {chain}"),
                    )
                    .with(all);
                }
                Order::After(chain, e) => {
                    why.push(format!("{f} starts after {then}: {chain}"));
                    ev.extend(e);
                }
                Order::Cycle(chain, e) => {
                    why.push(format!(
                        "{f} and {then} are ordered both ways ({chain}); systemd breaks the \
                         cycle by dropping one of them"
                    ));
                    ev.extend(e);
                }
                Order::Unordered(e) => {
                    why.push(format!(
                        "nothing orders {f} before {then}, so they start at the same time \
                         (Wants=/Requires= pull units in without ordering them)"
                    ));
                    ev.extend(e);
                }
            }
        }
        Outcome::new(Status::Fail, format!("{} ({ctx})", why.join("; "))).with(ev)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A guest built in memory for probe tests: an in-memory filesystem mounted on `/` and read
    //! through the real guest path resolver.

    use std::sync::Arc;

    use imgprep_fs::{DirEntry, MemFs, Metadata};
    use imgprep_guest::{Guest, MountTable, NativeGuest, Result};

    /// Files, directories and symlinks by absolute path.
    #[derive(Debug, Clone)]
    pub(crate) struct MemGuest {
        fs: MemFs,
        guest: NativeGuest,
    }

    impl MemGuest {
        pub(crate) fn new() -> Self {
            Self::over(MemFs::new())
        }

        fn over(fs: MemFs) -> Self {
            let mut table = MountTable::new();
            table.mount("/", Arc::new(fs.clone()));
            MemGuest {
                fs,
                guest: NativeGuest::new(table),
            }
        }

        /// A regular file, mode 0644.
        pub(crate) fn file(self, path: &str, text: &str) -> Self {
            Self::over(self.fs.file(path, text, 0o644))
        }

        /// An executable file, mode 0755.
        pub(crate) fn exec(self, path: &str, text: &str) -> Self {
            Self::over(self.fs.file(path, text, 0o755))
        }

        /// A symbolic link.
        pub(crate) fn link(self, path: &str, target: &str) -> Self {
            Self::over(self.fs.link(path, target))
        }

        /// A directory.
        pub(crate) fn dir(self, path: &str) -> Self {
            Self::over(self.fs.dir(path))
        }
    }

    impl Guest for MemGuest {
        fn lstat(&self, path: &str) -> Result<Option<Metadata>> {
            self.guest.lstat(path)
        }

        fn stat(&self, path: &str) -> Result<Option<Metadata>> {
            self.guest.stat(path)
        }

        fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
            self.guest.read_dir(path)
        }

        fn read_link(&self, path: &str) -> Result<Vec<u8>> {
            self.guest.read_link(path)
        }

        fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
            self.guest.read_file(path, limit)
        }

        fn read(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
            self.guest.read(path, offset, len)
        }

        fn realpath(&self, path: &str) -> Result<String> {
            self.guest.realpath(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::MemGuest;
    use super::*;

    /// A systemd guest booting multi-user.target.
    fn systemd() -> MemGuest {
        MemGuest::new()
            .link("/sbin/init", "../lib/systemd/systemd")
            .link(
                "/etc/systemd/system/default.target",
                "/usr/lib/systemd/system/multi-user.target",
            )
            .file(
                "/usr/lib/systemd/system/multi-user.target",
                "[Unit]\nRequires=basic.target\nAfter=basic.target\n",
            )
    }

    fn service(g: MemGuest, name: &str, unit: &str) -> MemGuest {
        g.file(&format!("/usr/lib/systemd/system/{name}.service"), unit)
            .link(
                &format!("/etc/systemd/system/multi-user.target.wants/{name}.service"),
                &format!("/usr/lib/systemd/system/{name}.service"),
            )
    }

    /// A SysV init guest with the default runlevel `level`.
    fn sysv(level: u8) -> MemGuest {
        MemGuest::new()
            .exec("/sbin/init", "\x7fELF")
            .file("/etc/inittab", &format!("id:{level}:initdefault:\n"))
    }

    fn script(g: MemGuest, dir: &str, name: &str, header: &str) -> MemGuest {
        let body = if header.is_empty() {
            "#!/bin/sh\n".to_owned()
        } else {
            format!("#!/bin/sh\n### BEGIN INIT INFO\n{header}### END INIT INFO\n")
        };
        g.exec(&format!("{dir}/{name}"), &body)
    }

    fn short(o: &Order) -> &'static str {
        match o {
            Order::Before(..) => "before",
            Order::After(..) => "after",
            Order::Cycle(..) => "cycle",
            Order::Unordered(_) => "unordered",
        }
    }

    fn check(name: &str, g: MemGuest, a: &str, b: &str, want: &str) {
        let graph = BootGraph::read(&g, None);
        let got = graph.order(a, b);
        assert_eq!(short(&got), want, "{name}: {got:#?}");
    }

    #[test]
    fn ordering_table() {
        let xe_before = "[Unit]\nBefore=nova-agent.service\n";
        let na_after = "[Unit]\nAfter=xe-linux-distribution.service\n";
        let plain = "[Unit]\nDescription=x\n";
        let cases: Vec<(&str, MemGuest, &str)> = vec![
            (
                "Before= in the first unit",
                service(service(systemd(), "xe-linux-distribution", xe_before), "nova-agent", plain),
                "before",
            ),
            (
                "After= in the second unit",
                service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", na_after),
                "before",
            ),
            (
                "After= the other way",
                service(
                    service(systemd(), "xe-linux-distribution", "[Unit]\nAfter=nova-agent.service\n"),
                    "nova-agent",
                    plain,
                ),
                "after",
            ),
            (
                "no ordering; Wants= does not order",
                service(
                    service(systemd(), "xe-linux-distribution", plain),
                    "nova-agent",
                    "[Unit]\nWants=xe-linux-distribution.service\n",
                ),
                "unordered",
            ),
            (
                "After= in a drop-in in /etc",
                service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", plain).file(
                    "/etc/systemd/system/nova-agent.service.d/xe.conf",
                    na_after,
                ),
                "before",
            ),
            (
                "a drop-in in /etc replaces the vendor drop-in of the same name",
                service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", plain)
                    .file(
                        "/usr/lib/systemd/system/nova-agent.service.d/order.conf",
                        "[Unit]\nBefore=xe-linux-distribution.service\n",
                    )
                    .file("/etc/systemd/system/nova-agent.service.d/order.conf", na_after),
                "before",
            ),
            (
                "a masked drop-in is not applied",
                service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", plain)
                    .file("/usr/lib/systemd/system/nova-agent.service.d/order.conf", na_after)
                    .link("/etc/systemd/system/nova-agent.service.d/order.conf", "/dev/null"),
                "unordered",
            ),
            (
                "a full unit in /etc replaces the vendor unit and its After=",
                service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", na_after)
                    .file("/etc/systemd/system/nova-agent.service", plain),
                "unordered",
            ),
            (
                "cycle",
                service(
                    service(systemd(), "xe-linux-distribution", xe_before),
                    "nova-agent",
                    "[Unit]\nBefore=xe-linux-distribution.service\n",
                ),
                "cycle",
            ),
            (
                "transitively through a target that boots",
                service(
                    service(
                        systemd(),
                        "xe-linux-distribution",
                        "[Unit]\nDefaultDependencies=no\nBefore=sysinit.target\n",
                    ),
                    "nova-agent",
                    plain,
                ),
                "before",
            ),
            (
                "transitively only through a unit nothing starts",
                service(
                    service(systemd(), "xe-linux-distribution", "[Unit]\nBefore=xe-ready.target\n"),
                    "nova-agent",
                    "[Unit]\nAfter=xe-ready.target\n",
                ),
                "unordered",
            ),
            (
                "mixed: SysV nova-agent whose LSB header requires xe-linux-distribution",
                script(
                    service(systemd(), "xe-linux-distribution", plain),
                    "/etc/init.d",
                    "nova-agent",
                    "# Provides: Nova-Agent\n# Required-Start: $remote_fs $syslog xe-linux-distribution\n",
                )
                .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent"),
                "before",
            ),
            (
                "systemd: two scripts without headers by start priority",
                script(
                    script(systemd(), "/etc/init.d", "nova-agent", ""),
                    "/etc/init.d",
                    "xe-linux-distribution",
                    "",
                )
                .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent")
                .link("/etc/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution"),
                "before",
            ),
            (
                "systemd: two scripts with headers ignore start priorities",
                script(
                    script(systemd(), "/etc/init.d", "nova-agent", "# Provides: nova-agent\n"),
                    "/etc/init.d",
                    "xe-linux-distribution",
                    "# Provides: xe-linux-distribution\n",
                )
                .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent")
                .link("/etc/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution"),
                "unordered",
            ),
            (
                "SysV: S-numbers in the default runlevel",
                script(
                    script(sysv(3), "/etc/rc.d/init.d", "nova-agent", ""),
                    "/etc/rc.d/init.d",
                    "xe-linux-distribution",
                    "",
                )
                .link("/etc/init.d", "rc.d/init.d")
                .link("/etc/rc.d/rc3.d/S15nova-agent", "../init.d/nova-agent")
                .link("/etc/rc.d/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution")
                .link("/etc/rc3.d", "rc.d/rc3.d"),
                "before",
            ),
            (
                "SysV: S-numbers the wrong way, whatever the header says",
                script(
                    script(
                        sysv(2),
                        "/etc/init.d",
                        "nova-agent",
                        "# Provides: nova-agent\n# Required-Start: xe-linux-distribution\n",
                    ),
                    "/etc/init.d",
                    "xe-linux-distribution",
                    "# Provides: xe-linux-distribution\n",
                )
                .link("/etc/rc2.d/S01nova-agent", "../init.d/nova-agent")
                .link("/etc/rc2.d/S03xe-linux-distribution", "../init.d/xe-linux-distribution"),
                "after",
            ),
            (
                "SysV: same S-number, LSB header through Provides decides",
                script(
                    script(
                        sysv(2),
                        "/etc/init.d",
                        "nova-agent",
                        "# Provides: nova-agent\n# Required-Start: $remote_fs xe-tools\n",
                    ),
                    "/etc/init.d",
                    "xe-linux-distribution",
                    "# Provides: xe-tools\n",
                )
                .link("/etc/rc2.d/S02nova-agent", "../init.d/nova-agent")
                .link("/etc/rc2.d/S02xe-linux-distribution", "../init.d/xe-linux-distribution"),
                "before",
            ),
            (
                "SysV: X-Start-Before in the first script",
                script(
                    script(sysv(2), "/etc/init.d", "nova-agent", "# Provides: nova-agent\n"),
                    "/etc/init.d",
                    "xe-linux-distribution",
                    "# Provides: xe-linux-distribution\n# X-Start-Before: nova-agent\n",
                )
                .link("/etc/rc2.d/S02nova-agent", "../init.d/nova-agent")
                .link("/etc/rc2.d/S02xe-linux-distribution", "../init.d/xe-linux-distribution"),
                "before",
            ),
            (
                "SysV: Debian's rcS.d runs before the runlevel, whatever the numbers",
                script(
                    script(sysv(2), "/etc/init.d", "nova-agent", ""),
                    "/etc/init.d",
                    "xe-linux-distribution",
                    "",
                )
                .link("/etc/rc2.d/S01nova-agent", "../init.d/nova-agent")
                .link(
                    "/etc/rcS.d/S20xe-linux-distribution",
                    "../init.d/xe-linux-distribution",
                ),
                "before",
            ),
            (
                "SysV: same S-number, no header",
                script(
                    script(sysv(2), "/etc/init.d", "nova-agent", ""),
                    "/etc/init.d",
                    "xe-linux-distribution",
                    "",
                )
                .link("/etc/rc2.d/S02nova-agent", "../init.d/nova-agent")
                .link("/etc/rc2.d/S02xe-linux-distribution", "../init.d/xe-linux-distribution"),
                "unordered",
            ),
            (
                "upstart: start on started",
                MemGuest::new()
                    .exec("/sbin/init", "\x7fELF")
                    .exec("/sbin/initctl", "\x7fELF")
                    .file("/etc/init/xe-linux-distribution.conf", "start on runlevel [2345]\n")
                    .file(
                        "/etc/init/nova-agent.conf",
                        "start on (started xe-linux-distribution\n and runlevel [2345])\n",
                    ),
                "before",
            ),
            (
                "upstart: `or` guarantees nothing",
                MemGuest::new()
                    .exec("/sbin/init", "\x7fELF")
                    .exec("/sbin/initctl", "\x7fELF")
                    .file("/etc/init/xe-linux-distribution.conf", "start on runlevel [2345]\n")
                    .file(
                        "/etc/init/nova-agent.conf",
                        "start on started xe-linux-distribution or runlevel [2345]\n",
                    ),
                "unordered",
            ),
        ];
        for (name, g, want) in cases {
            check(name, g, "xe-linux-distribution", "nova-agent", want);
        }
    }

    fn enabled_kind(e: &Enablement) -> &'static str {
        match e {
            Enablement::Enabled(_) => "enabled",
            Enablement::Disabled(_) => "disabled",
            Enablement::Masked(_) => "masked",
            Enablement::Missing(_) => "missing",
        }
    }

    #[test]
    fn enablement_table() {
        let unit = "[Unit]\nDescription=x\n[Install]\nWantedBy=multi-user.target\n";
        let cases: Vec<(&str, MemGuest, &str)> = vec![
            (
                "linked in multi-user.target.wants",
                service(systemd(), "xe-daemon", unit),
                "enabled",
            ),
            (
                "WantedBy= but no link",
                systemd().file("/usr/lib/systemd/system/xe-daemon.service", unit),
                "disabled",
            ),
            (
                "masked in /etc though linked",
                service(systemd(), "xe-daemon", unit)
                    .link("/etc/systemd/system/xe-daemon.service", "/dev/null"),
                "masked",
            ),
            (
                "masked by an empty file",
                service(systemd(), "xe-daemon", unit)
                    .file("/etc/systemd/system/xe-daemon.service", ""),
                "masked",
            ),
            ("missing", systemd(), "missing"),
            (
                "pulled in by Wants= of an enabled unit",
                service(systemd(), "helper", "[Unit]\nWants=xe-daemon.service\n")
                    .file("/usr/lib/systemd/system/xe-daemon.service", unit),
                "enabled",
            ),
            (
                "linked into graphical.target only, booting multi-user",
                systemd()
                    .file("/usr/lib/systemd/system/xe-daemon.service", unit)
                    .link(
                        "/etc/systemd/system/graphical.target.wants/xe-daemon.service",
                        "/usr/lib/systemd/system/xe-daemon.service",
                    ),
                "disabled",
            ),
            (
                "an alias link names it",
                service(systemd(), "xe-linux-distribution", unit).link(
                    "/etc/systemd/system/xe-daemon.service",
                    "/usr/lib/systemd/system/xe-linux-distribution.service",
                ),
                "enabled",
            ),
            (
                "SysV script with an rc3.d link under systemd",
                script(
                    systemd(),
                    "/etc/init.d",
                    "xe-daemon",
                    "# Provides: xe-daemon\n",
                )
                .link("/etc/rc3.d/S14xe-daemon", "../init.d/xe-daemon"),
                "enabled",
            ),
            (
                "SysV script with no link under systemd",
                script(
                    systemd(),
                    "/etc/init.d",
                    "xe-daemon",
                    "# Provides: xe-daemon\n",
                ),
                "disabled",
            ),
            (
                "SysV script masked by a unit link",
                script(systemd(), "/etc/init.d", "xe-daemon", "")
                    .link("/etc/rc3.d/S14xe-daemon", "../init.d/xe-daemon")
                    .link("/etc/systemd/system/xe-daemon.service", "/dev/null"),
                "masked",
            ),
            (
                "SysV: link in another runlevel only",
                script(sysv(3), "/etc/init.d", "xe-daemon", "")
                    .link("/etc/rc5.d/S14xe-daemon", "../init.d/xe-daemon"),
                "disabled",
            ),
            (
                "SysV: link to a non-executable script",
                sysv(3)
                    .file("/etc/init.d/xe-daemon", "#!/bin/sh\n")
                    .link("/etc/rc3.d/S14xe-daemon", "../init.d/xe-daemon"),
                "disabled",
            ),
            (
                "upstart: job with start on",
                MemGuest::new()
                    .exec("/sbin/init", "\x7fELF")
                    .exec("/sbin/initctl", "\x7fELF")
                    .file(
                        "/etc/init/xe-daemon.conf",
                        "# comment\nstart on runlevel [2345]\n",
                    ),
                "enabled",
            ),
            (
                "upstart: job overridden to manual",
                MemGuest::new()
                    .exec("/sbin/init", "\x7fELF")
                    .exec("/sbin/initctl", "\x7fELF")
                    .file("/etc/init/xe-daemon.conf", "start on runlevel [2345]\n")
                    .file("/etc/init/xe-daemon.override", "manual\n"),
                "disabled",
            ),
        ];
        for (name, g, want) in cases {
            let graph = BootGraph::read(&g, None);
            let got = graph.enablement("xe-daemon");
            assert_eq!(enabled_kind(&got), want, "{name}: {got:#?}");
        }
    }

    #[test]
    fn symlinked_init_scripts_by_systemd_version() {
        // nova-agent 1.x's installer links /etc/init.d/nova-agent into /usr/share/nova-agent.
        let g = script(
            systemd(),
            "/usr/share/nova-agent/1.39.0/etc/generic",
            "nova-agent",
            "",
        )
        .link(
            "/etc/init.d/nova-agent",
            "/usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
        )
        .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent");
        for (version, want, note) in [
            (None, "enabled", "the systemd version is unknown"),
            (Some(208), "enabled", ""),
            (
                Some(219),
                "disabled",
                "systemd 219's sysv-generator skips it",
            ),
            (
                Some(226),
                "disabled",
                "systemd 226's sysv-generator skips it",
            ),
            (Some(227), "enabled", ""),
        ] {
            let graph = BootGraph::read(&g, version);
            let got = graph.enablement("nova-agent");
            assert_eq!(enabled_kind(&got), want, "{version:?}: {got:#?}");
            let notes = graph
                .unit("nova-agent")
                .map(|u| u.notes.clone())
                .unwrap_or_else(|| match &got {
                    Enablement::Disabled(e) => e.clone(),
                    _ => Vec::new(),
                });
            assert_eq!(
                notes
                    .iter()
                    .any(|e| !note.is_empty() && e.text.contains(note)),
                !note.is_empty(),
                "{version:?}: {notes:#?}"
            );
        }
    }

    #[test]
    fn cycles_and_loops_terminate() {
        // Ordering cycles through many units, a .wants loop, an alias loop and a symlink loop.
        let mut g = systemd()
            .link("/etc/systemd/system/loop-a.service", "loop-b.service")
            .link("/etc/systemd/system/loop-b.service", "loop-a.service")
            .link("/etc/systemd/system/self.service", "self.service")
            .link(
                "/etc/systemd/system/multi-user.target.wants/loop-a.service",
                "../loop-a.service",
            );
        for i in 0..50 {
            let next = (i + 1) % 50;
            g = service(
                g,
                &format!("u{i}"),
                &format!("[Unit]\nBefore=u{next}.service\nWants=u{next}.service\n"),
            );
        }
        let graph = BootGraph::read(&g, None);
        assert_eq!(short(&graph.order("u0", "u25")), "cycle");
        assert_eq!(short(&graph.order("u0", "nope")), "unordered");
        assert!(matches!(
            graph.enablement("loop-a"),
            Enablement::Missing(_) | Enablement::Disabled(_)
        ));
        assert!(matches!(
            graph.enablement("self"),
            Enablement::Missing(_) | Enablement::Disabled(_)
        ));
    }

    #[test]
    fn init_detection() {
        for (g, want) in [
            (
                MemGuest::new().link("/sbin/init", "/lib/systemd/systemd"),
                Init::Systemd,
            ),
            (
                MemGuest::new()
                    .link("/sbin", "usr/sbin")
                    .link("/usr/sbin/init", "../lib/systemd/systemd"),
                Init::Systemd,
            ),
            (MemGuest::new().exec("/sbin/init", "x"), Init::SysV),
            (
                MemGuest::new()
                    .exec("/sbin/init", "x")
                    .exec("/sbin/initctl", "x")
                    .dir("/etc/init"),
                Init::Upstart,
            ),
            (
                MemGuest::new().file("/etc/inittab", "id:3:initdefault:\n"),
                Init::SysV,
            ),
        ] {
            assert_eq!(detect_init(&g).0, want, "{g:?}");
        }
    }

    #[test]
    fn unit_file_syntax() {
        let lines = Lines {
            path: "/x.service".into(),
            lines: "[Unit]\n# c\nAfter=a.service \\\n  b.service\n;x\n[Install]\nWantedBy=multi-user.target\n"
                .lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.to_owned()))
                .collect(),
        };
        let s = settings(&lines);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].key.as_str(), s[0].value.as_str(), s[0].line),
            ("After", "a.service b.service", 3)
        );
        assert_eq!(s[1].section, "Install");
        for (name, want) in [
            (
                "S15nova-agent",
                Some((true, 15, "nova-agent.service".to_owned())),
            ),
            (
                "K85nova-agent",
                Some((false, 85, "nova-agent.service".to_owned())),
            ),
            ("S1x", None),
            ("README", None),
            ("S20foo.sh", Some((true, 20, "foo.service".to_owned()))),
        ] {
            assert_eq!(rc_link(name), want, "{name}");
        }
        for (name, want) in [
            ("$network", Some("network-online.target")),
            ("$syslog", None),
            ("$foo", Some("foo.target")),
            (
                "xe-linux-distribution",
                Some("xe-linux-distribution.service"),
            ),
            ("nova-agent", None),
        ] {
            assert_eq!(sysv_facility(name, "nova-agent").as_deref(), want, "{name}");
        }
        assert_eq!(normalize("/etc/rc3.d/../init.d/./x"), "/etc/init.d/x");
        assert_eq!(normalize("/../../x"), "/x");
    }
}
