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

mod build;
mod query;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use imgprep_fs::FileKind;
use imgprep_guest::Guest;

use crate::Evidence;
use crate::path::{basename, follow_links, link_text};

/// Entries read from one directory.
pub(crate) const MAX_DIR_ENTRIES: usize = 4096;
/// Units, scripts and jobs in one graph.
pub(crate) const MAX_UNITS: usize = 16384;
/// Ordering edges and pulls in one graph.
pub(crate) const MAX_EDGES: usize = 1 << 18;
/// Steps shown for a chain of evidence.
pub(crate) const MAX_CHAIN: usize = 16;

/// Upstream systemd versions whose sysv-generator ignores init scripts that are symlinks (from,
/// to): systemd issue 2141, followed again since pull request 1249 (systemd 227).
pub(crate) const SYSV_SKIPS_SYMLINKS: (u32, u32) = (219, 227);

/// RHEL/CentOS 7 releases of systemd 219 whose sysv-generator skips symlinked init scripts
/// (from, to): from the RHEL 7.2 package (219-19.el7, December 2015) until the z-stream update
/// that fixed it (reported as 219-19.el7_2.3 for Red Hat bug 1288005; that exact release
/// could not be checked against Red Hat's errata offline). Later minor releases (219-30.el7 of
/// RHEL 7.3 onwards) carry the fix.
pub(crate) const EL7_SKIPS_SYMLINKS: (&str, &str) = ("19.el7", "19.el7_2.3");

/// The installed systemd package (version and release as the package database lists them),
/// which decides how its sysv-generator treats init scripts that are symlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdPackage {
    /// Upstream version, e.g. `219`.
    pub version: String,
    /// Package release, e.g. `19.el7_2.3` (empty when there is none).
    pub release: String,
}

impl SystemdPackage {
    /// `version-release`, as rpm prints it.
    pub fn label(&self) -> String {
        if self.release.is_empty() {
            self.version.clone()
        } else {
            format!("{}-{}", self.version, self.release)
        }
    }

    /// True when this systemd's sysv-generator makes no unit of a symlinked init script:
    /// upstream 219 to 226, and RHEL/CentOS 7's 219 between [`EL7_SKIPS_SYMLINKS`]; other
    /// RHEL 7 builds (208 of 7.0 and 7.1, fixed 219 releases) follow the link.
    pub fn skips_symlinked_scripts(&self) -> bool {
        use imgprep_pkgdb::version::rpmvercmp;
        use std::cmp::Ordering::Less;
        let digits: String = self
            .version
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let Ok(major) = digits.parse::<u32>() else {
            return false;
        };
        if self.release.contains(".el7") {
            let (from, to) = EL7_SKIPS_SYMLINKS;
            return major == 219
                && rpmvercmp(&self.release, from) != Less
                && rpmvercmp(&self.release, to) == Less;
        }
        (SYSV_SKIPS_SYMLINKS.0..SYSV_SKIPS_SYMLINKS.1).contains(&major)
    }
}
/// The init system that decides what starts at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// systemd (with SysV scripts wrapped by systemd-sysv-generator).
    Systemd,
    /// SysV init running rc scripts of a runlevel.
    SysV,
    /// upstart jobs plus the rc scripts of the runlevel.
    Upstart,
}

impl Init {
    pub fn name(self) -> &'static str {
        match self {
            Init::Systemd => "systemd",
            Init::SysV => "SysV init",
            Init::Upstart => "upstart",
        }
    }
}

/// Where a unit comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
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
pub struct Unit {
    /// Where it comes from.
    pub source: Source,
    /// Drop-in files applied, in order.
    pub dropins: Vec<String>,
    /// systemd's `DefaultDependencies=` (true unless set to no).
    pub(crate) default_deps: bool,
    /// Facts worth showing when it does not start at boot (`WantedBy=` without a link, a
    /// non-executable script, …).
    pub notes: Vec<Evidence>,
}

impl Unit {
    /// The file that defines it, when there is one.
    pub fn path(&self) -> Option<&str> {
        match &self.source {
            Source::Unit(p) | Source::Masked(p) | Source::Upstart(p) => Some(p),
            Source::SysV { path, .. } => Some(path),
            Source::Implicit => None,
        }
    }

    pub(crate) fn evidence(&self) -> Option<Evidence> {
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
pub(crate) struct Edge {
    pub(crate) first: String,
    pub(crate) then: String,
    pub(crate) evidence: Evidence,
}

/// How a unit pulls another into the boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PullKind {
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
pub(crate) struct Pull {
    pub(crate) parent: String,
    pub(crate) child: String,
    pub(crate) kind: PullKind,
    pub(crate) evidence: Evidence,
}

/// Whether a service starts at boot.
#[derive(Debug, Clone, PartialEq)]
pub enum Enablement {
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
pub enum Order {
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
pub struct BootGraph {
    /// The init system.
    pub init: Init,
    /// Why that init system.
    pub init_evidence: Evidence,
    /// `multi-user.target`, or `runlevel 3`.
    pub default: String,
    /// Why that default.
    pub(crate) default_evidence: Evidence,
    /// The default runlevel (SysV and upstart).
    pub(crate) runlevel: Option<u8>,
    pub(crate) units: BTreeMap<String, Unit>,
    pub(crate) aliases: BTreeMap<String, (String, Evidence)>,
    pub(crate) edges: Vec<Edge>,
    pub(crate) pulls: Vec<Pull>,
    /// Units boot starts, with the pull that brought each in (`None`: the root).
    pub(crate) booted: BTreeMap<String, Option<usize>>,
    /// rc `S##` links that boot runs: unit -> (position, link evidence). Debian's `rcS.d`
    /// (positions 0-99) runs before the default runlevel (100-199).
    pub(crate) rc: BTreeMap<String, (u16, Evidence)>,
    /// Links in `.wants/` dirs that point at masked units or at nothing.
    pub(crate) dead_pulls: Vec<(String, Evidence)>,
    /// Init scripts systemd-sysv-generator skips (or may skip), and why.
    pub(crate) skipped: BTreeMap<String, Evidence>,
}

/// Which init system boots the guest, and why.
pub fn detect_init(g: &dyn Guest) -> (Init, Evidence) {
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
