//! Questions asked of a [`BootGraph`]: does a service start at boot, does one start before
//! another, and the evidence for either answer.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use imgprep_guest::Guest;

use super::build::Builder;
use super::{
    BootGraph, Enablement, Init, MAX_CHAIN, MAX_UNITS, Order, PullKind, Source, SystemdPackage,
    Unit, detect_init,
};
use crate::Evidence;
use crate::path::{MAX_LINKS, basename, parent};
use crate::systemd::{UNIT_DIRS, unit_name};
use crate::sysv::default_runlevel;
impl BootGraph {
    /// Reads the boot configuration of the guest. The systemd package decides how
    /// systemd-sysv-generator treats symlinked init scripts; unknown means "follows them"
    /// (systemd 227 and later), with a note where it matters.
    pub fn read(g: &dyn Guest, systemd: Option<SystemdPackage>) -> Self {
        let (init, init_evidence) = detect_init(g);
        let mut b = Builder::new(g, systemd);
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

    pub fn canonical<'a>(&'a self, name: &'a str) -> &'a str {
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
    pub fn lookup(&self, name: &str) -> Option<&Unit> {
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
    pub fn boot_closure(&mut self) {
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
    pub fn unit(&self, service: &str) -> Option<&Unit> {
        self.lookup(&unit_name(service))
    }

    /// Why systemd-sysv-generator makes no unit of the init script of `service`, when this
    /// guest's systemd skips it (a symlinked script on a systemd that does not follow links).
    pub fn skipped_script(&self, service: &str) -> Option<&Evidence> {
        let name = unit_name(service);
        self.skipped.get(self.canonical(&name))
    }

    /// Units boot starts, canonical names.
    pub fn booted(&self) -> impl Iterator<Item = &str> {
        self.booted.keys().map(String::as_str)
    }

    /// The pulls from the default target down to `name`.
    pub fn chain(&self, name: &str) -> Vec<Evidence> {
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
    pub fn enablement(&self, service: &str) -> Enablement {
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

    pub fn missing_evidence(&self, service: &str) -> Evidence {
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
    pub fn order(&self, a: &str, b: &str) -> Order {
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
    pub fn rc_order(&self, a: &str, b: &str) -> Option<Order> {
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
    pub fn path(&self, from: &str, to: &str, booted_only: bool) -> Option<(String, Vec<Evidence>)> {
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

    pub fn unwind(
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

    pub fn unordered_notes(&self, a: &str, b: &str) -> Vec<Evidence> {
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
