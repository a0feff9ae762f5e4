//! What a Linux image shows of nova-agent:
//! - nova-agent 1.x (openstack-guest-agents-unix) is installed by a script into
//!   `/usr/share/nova-agent/<version>/` (`sbin/nova-agent`, `etc/generic/nova-agent`), with
//!   `/etc/init.d/nova-agent` and `/usr/sbin/nova-agent` symlinked into it;
//! - nova-agent 2.x (the Python rewrite) is the `novaagent` Python package with a
//!   `/usr/bin/nova-agent` console script and a systemd unit, SysV script or upstart job,
//!   packaged as `nova-agent` (rpm and deb).

use std::sync::LazyLock;

use imgprep_sysconf::path::link_text;
use imgprep_sysconf::text::{list_dir, read_lines};
use regex::Regex;

use crate::context::Context;
use crate::verdict::Evidence;

/// Package names nova-agent ships under.
const PACKAGES: [&str; 5] = [
    "nova-agent",
    "rax-nova-agent",
    "python-novaagent",
    "python2-novaagent",
    "python3-novaagent",
];

/// Where 1.x installs itself.
pub(super) const V1_DIR: &str = "/usr/share/nova-agent";

/// Directories scanned per listing.
const MAX_SCAN: usize = 256;

static PYTHON_DIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^python\d(\.\d+)?$").unwrap_or_else(|e| panic!("{e}")));
static DIST_INFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^novaagent-(\d[0-9A-Za-z.]*?)(-py\d.*)?\.(egg-info|dist-info)$")
        .unwrap_or_else(|e| panic!("{e}"))
});
static VERSION_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^__version__\s*=\s*['"]([^'"]+)['"]"#).unwrap_or_else(|e| panic!("{e}"))
});
static SCRIPT_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"novaagent==([0-9][0-9A-Za-z.]*)").unwrap_or_else(|e| panic!("{e}"))
});

/// What the image shows of nova-agent.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// 1.x install directories and links into them.
    one: Vec<Evidence>,
    /// 1.x versions (install directory names).
    one_versions: Vec<String>,
    /// 2.x Python package, metadata and console script.
    two: Vec<Evidence>,
    /// 2.x version, when its metadata says.
    two_version: Option<String>,
    /// Packages: (version, evidence).
    pub(super) packages: Vec<(String, Evidence)>,
}

impl Found {
    pub(super) fn installed(&self) -> bool {
        !self.one.is_empty() || !self.two.is_empty() || !self.packages.is_empty()
    }

    /// (1.x present, 2.x present): files first, then a package version of 2 or more.
    pub(super) fn branches(&self) -> (bool, bool) {
        let one = !self.one.is_empty();
        let two = !self.two.is_empty()
            || (!one
                && self.packages.iter().any(|(v, _)| {
                    v.split('.')
                        .next()
                        .and_then(|m| m.parse::<u32>().ok())
                        .is_some_and(|m| m >= 2)
                }));
        (one, two)
    }

    pub(super) fn version(&self, one: bool) -> Option<String> {
        if one {
            return (!self.one_versions.is_empty()).then(|| self.one_versions.join(", "));
        }
        self.two_version
            .clone()
            .or_else(|| self.packages.first().map(|(v, _)| v.clone()))
    }

    pub(super) fn describe(&self) -> String {
        let (one, two) = self.branches();
        let v = |one| {
            self.version(one)
                .map(|v| format!(" ({v})"))
                .unwrap_or_default()
        };
        match (one, two) {
            (true, true) => format!("1.x{} and 2.x{}", v(true), v(false)),
            (true, false) => format!("1.x{}", v(true)),
            (false, true) => format!("2.x{}", v(false)),
            (false, false) => "(branch unknown)".into(),
        }
    }

    pub(super) fn evidence(&self) -> Vec<Evidence> {
        self.one
            .iter()
            .chain(&self.two)
            .cloned()
            .chain(self.packages.iter().map(|(_, e)| e.clone()))
            .collect()
    }
}

pub(super) fn find(cx: &Context<'_>) -> Found {
    let g = cx.guest;
    let mut f = Found::default();
    // 1.x: /usr/share/nova-agent/<version>/ and links into it.
    for v in list_dir(g, V1_DIR).into_iter().take(MAX_SCAN) {
        let dir = format!("{V1_DIR}/{v}");
        if !v.starts_with(|c: char| c.is_ascii_digit()) || !g.is_dir(&dir) {
            continue;
        }
        let prog = format!("{dir}/sbin/nova-agent");
        let what = if g.is_file(&prog) {
            "nova-agent 1.x install directory (with sbin/nova-agent)"
        } else {
            "nova-agent 1.x install directory"
        };
        f.one.push(Evidence::file(dir, what));
        f.one_versions.push(v);
    }
    let mut dirs_seen = Vec::new();
    for p in [
        "/etc/rc.d/init.d/nova-agent",
        "/etc/init.d/nova-agent",
        "/usr/sbin/nova-agent",
        "/etc/systemd/system/nova-agent.service",
    ] {
        // /etc/init.d is often a link to /etc/rc.d/init.d: show the script once.
        let dir = p.rsplit_once('/').map_or("/", |(d, _)| d);
        let real = g.realpath(dir).unwrap_or_else(|_| dir.to_owned());
        if dirs_seen.contains(&real) {
            continue;
        }
        if let Some(t) = link_text(g, p)
            && t.contains("/share/nova-agent/")
        {
            dirs_seen.push(real);
            f.one.push(Evidence::file(p, format!("-> {t}")));
        }
    }
    // 2.x: the novaagent Python package and its console script.
    for base in [
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/local/lib64",
    ] {
        for py in list_dir(g, base).into_iter().take(MAX_SCAN) {
            if !PYTHON_DIR.is_match(&py) {
                continue;
            }
            for sub in ["site-packages", "dist-packages"] {
                let d = format!("{base}/{py}/{sub}");
                let pkg = format!("{d}/novaagent");
                if g.is_dir(&pkg) {
                    f.two.push(Evidence::file(
                        pkg.as_str(),
                        "the novaagent Python package (nova-agent 2.x)",
                    ));
                    let init = format!("{pkg}/__init__.py");
                    if let Ok(Some(lines)) = read_lines(g, &init)
                        && let Some((n, l, v)) = lines.meaningful().find_map(|(n, l)| {
                            VERSION_LINE.captures(l).map(|c| (n, l, c[1].to_owned()))
                        })
                    {
                        f.two.push(Evidence::line(init.as_str(), n, l));
                        f.two_version.get_or_insert(v);
                    }
                }
                if !g.is_dir(&d) {
                    continue;
                }
                for e in list_dir(g, &d).into_iter().take(4 * MAX_SCAN) {
                    if let Some(c) = DIST_INFO.captures(&e) {
                        f.two.push(Evidence::file(
                            format!("{d}/{e}"),
                            "novaagent package metadata (nova-agent 2.x)",
                        ));
                        f.two_version.get_or_insert_with(|| c[1].to_owned());
                    }
                }
            }
        }
    }
    for p in ["/usr/bin/nova-agent", "/usr/local/bin/nova-agent"] {
        if g.is_symlink(p) || !g.is_file(p) {
            continue;
        }
        let Ok(Some(lines)) = read_lines(g, p) else {
            continue;
        };
        if let Some((n, l)) = lines
            .lines
            .iter()
            .take(64)
            .find(|(_, l)| l.contains("novaagent"))
        {
            f.two.push(Evidence::line(p, *n, l.trim()));
            if let Some(c) = SCRIPT_VERSION.captures(l) {
                f.two_version.get_or_insert_with(|| c[1].to_owned());
            }
        }
    }
    for name in PACKAGES {
        for a in cx.packages(name) {
            f.packages.push((
                a.version.clone().unwrap_or_default(),
                cx.package_evidence(a),
            ));
        }
    }
    f
}

/// cloud-init: the package, or its program.
pub(super) fn cloud_init(cx: &Context<'_>) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = cx
        .packages("cloud-init")
        .map(|a| cx.package_evidence(a))
        .collect();
    for p in ["/usr/bin/cloud-init", "/usr/local/bin/cloud-init"] {
        if cx.guest.is_file(p) {
            out.push(Evidence::file(p, "exists"));
        }
    }
    out
}

/// Evidence that nova-agent is absent: where it was looked for.
pub(super) fn absent_evidence(cx: &Context<'_>) -> Vec<Evidence> {
    let mut ev = vec![
        Evidence::file(V1_DIR, "missing (no nova-agent 1.x)"),
        Evidence::file(
            "/usr/bin/nova-agent",
            "missing (no nova-agent 2.x console script)",
        ),
    ];
    if cx.os.applications.is_some() {
        let names: Vec<String> = PACKAGES.iter().map(|s| (*s).to_owned()).collect();
        ev.push(cx.package_evidence_none(&names));
    }
    ev
}

/// The first line of the OS release file, for evidence.
pub(super) fn release_evidence(cx: &Context<'_>) -> Option<Evidence> {
    [
        "/etc/centos-release",
        "/etc/redhat-release",
        "/etc/os-release",
    ]
    .iter()
    .find_map(|p| {
        let lines = read_lines(cx.guest, p).ok()??;
        let (n, l) = lines.meaningful().next()?;
        Some(Evidence::line(*p, n, l))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names() {
        for (name, want) in [
            ("novaagent-2.1.16-py2.7.egg-info", Some("2.1.16")),
            ("novaagent-2.1.20.dist-info", Some("2.1.20")),
            ("novaagent", None),
            ("novaagent-x.egg-info", None),
        ] {
            assert_eq!(
                DIST_INFO.captures(name).map(|c| c[1].to_owned()).as_deref(),
                want,
                "{name}"
            );
        }
    }
}
