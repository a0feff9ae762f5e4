//! Building a [`BootGraph`]: units, scripts and jobs, the pulls that bring them into the boot and
//! the ordering edges between them, for systemd (with systemd-sysv-generator's view of SysV
//! scripts), SysV init and upstart.

use std::collections::{BTreeMap, BTreeSet};

use imgprep_fs::FileKind;
use imgprep_guest::Guest;

use super::{
    Edge, MAX_DIR_ENTRIES, MAX_EDGES, MAX_UNITS, Pull, PullKind, Source, SystemdPackage, Unit,
};
use crate::Evidence;
use crate::path::{MAX_LINKS, basename, distinct_dirs, follow_links, link_evidence, link_text};
use crate::systemd::{Setting, UNIT_DIRS, is_unit_name, settings, truthy};
use crate::sysv::{INIT_DIRS, Lsb, lsb_header, rc_link, script_unit, start_on, sysv_facility};
use crate::text::{list_dir, read_lines};

pub(crate) fn entries(g: &dyn Guest, dir: &str) -> Vec<String> {
    let mut v = list_dir(g, dir);
    v.truncate(MAX_DIR_ENTRIES);
    v
}

/// Builds a [`BootGraph`].
pub(crate) struct Builder<'g> {
    pub(crate) g: &'g dyn Guest,
    pub(crate) units: BTreeMap<String, Unit>,
    pub(crate) aliases: BTreeMap<String, (String, Evidence)>,
    pub(crate) edges: Vec<Edge>,
    pub(crate) pulls: Vec<Pull>,
    pub(crate) rc: BTreeMap<String, (u16, Evidence)>,
    /// The systemd package, when the package database lists it.
    pub(crate) systemd: Option<SystemdPackage>,
    /// Init scripts systemd-sysv-generator skips, and why.
    pub(crate) skipped: BTreeMap<String, Evidence>,
}

impl<'g> Builder<'g> {
    pub(crate) fn new(g: &'g dyn Guest, systemd: Option<SystemdPackage>) -> Self {
        Self {
            g,
            units: BTreeMap::new(),
            aliases: BTreeMap::new(),
            edges: Vec::new(),
            pulls: Vec::new(),
            rc: BTreeMap::new(),
            systemd,
            skipped: BTreeMap::new(),
        }
    }

    pub(crate) fn add_unit(&mut self, name: &str, source: Source) -> bool {
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

    pub(crate) fn note(&mut self, name: &str, e: Evidence) {
        if let Some(u) = self.units.get_mut(name)
            && u.notes.len() < 32
        {
            u.notes.push(e);
        }
    }

    pub(crate) fn edge(&mut self, first: &str, then: &str, evidence: Evidence) {
        if first != then && self.edges.len() < MAX_EDGES {
            self.edges.push(Edge {
                first: first.to_owned(),
                then: then.to_owned(),
                evidence,
            });
        }
    }

    pub(crate) fn pull(&mut self, parent: &str, child: &str, kind: PullKind, evidence: Evidence) {
        if parent != child && self.pulls.len() < MAX_EDGES {
            self.pulls.push(Pull {
                parent: parent.to_owned(),
                child: child.to_owned(),
                kind,
                evidence,
            });
        }
    }

    pub(crate) fn canonical<'a>(&'a self, name: &'a str) -> &'a str {
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

    pub(crate) fn systemd(&mut self) -> (String, Evidence) {
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

    /// Settings of a unit file and its drop-ins. A unit systemd-sysv-generator makes of an init
    /// script takes drop-ins like any other (`/etc/systemd/system/NAME.service.d/*.conf`); its
    /// own settings come from the script's LSB header.
    pub(crate) fn load_unit(&mut self, name: &str, dirs: &[String]) {
        let g = self.g;
        let main = match self.units.get(name).map(|u| &u.source) {
            Some(Source::Unit(path)) => Some(path.clone()),
            Some(Source::SysV { .. }) => None,
            _ => return,
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
        let mut files: Vec<String> = main.into_iter().collect();
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

    pub(crate) fn apply(&mut self, unit: &str, file: &str, s: &Setting) {
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
    pub(crate) fn sysv_generator(&mut self) {
        let g = self.g;
        let unit_dirs = distinct_dirs(g, UNIT_DIRS);
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
                    // systemd 219 to 226, and RHEL 7.2's 219 until its fix, generate units
                    // from regular files only (systemd issue 2141); later ones follow the link.
                    match &self.systemd {
                        Some(p) if p.skips_symlinked_scripts() => {
                            self.skipped.insert(
                                name,
                                Evidence::file(
                                    path.as_str(),
                                    format!(
                                        "a symlink (-> {target}): the sysv-generator of systemd \
                                         {} skips it, so no {} exists at boot",
                                        p.label(),
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
                                        "a symlink (-> {target}): systemd 219 to 226 and RHEL/CentOS \
                                         7.2's 219 before its fix skip symlinked scripts; the \
                                         systemd version is unknown"
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
                self.load_unit(&name, &unit_dirs);
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

    pub(crate) fn default_target(&mut self) -> (String, Evidence) {
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
    pub(crate) fn implicit_targets(&mut self) {
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
    pub(crate) fn default_dependencies(&mut self) {
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
    pub(crate) fn rc_scripts(&mut self, level: u8, root: &str) {
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
    pub(crate) fn rc_links(&mut self, dir: &str, offset: u16, root: &str) {
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
    pub(crate) fn lsb_edges(&mut self, scripts: &[(String, String, Lsb)]) {
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
    pub(crate) fn upstart_jobs(&mut self, root: &str) {
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

impl Builder<'_> {
    /// Upstart jobs are registered before the rc scripts so that a job shadows the compatibility
    /// script of the same name.
    pub(crate) fn upstart_units(&mut self) {
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
