//! Rackspace Cloud Servers: nova-agent (its 1.x and 2.x branches), cloud-init as the
//! alternative, and the tun/tap devices that make nova-agent crash or hang.
//!
//! Where the facts come from:
//! - nova-agent 1.x (openstack-guest-agents-unix) is installed by a script into
//!   `/usr/share/nova-agent/<version>/` (`sbin/nova-agent`, `etc/generic/nova-agent`), with
//!   `/etc/init.d/nova-agent` and `/usr/sbin/nova-agent` symlinked into it;
//! - nova-agent 2.x (the Python rewrite) is the `novaagent` Python package with a
//!   `/usr/bin/nova-agent` console script and a systemd unit, SysV script or upstart job,
//!   packaged as `nova-agent` (rpm and deb);
//! - the Windows agent (the Rackspace Cloud Servers agent service, `SOFTWARE\Rackspace`) is read
//!   by `probes/windows.rs`.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::boot::{BootGraph, Enablement, link_text, settings};
use super::generic::{package_evidence, package_evidence_none};
use super::text::{list_dir, read_lines};
use crate::eval::{Context, VersionReq};
use crate::matrix::os_label;
use crate::model::{Evidence, Outcome, Status};

/// Package names nova-agent ships under.
const PACKAGES: [&str; 5] = [
    "nova-agent",
    "rax-nova-agent",
    "python-novaagent",
    "python2-novaagent",
    "python3-novaagent",
];

/// Where 1.x installs itself.
const V1_DIR: &str = "/usr/share/nova-agent";

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
struct Found {
    /// 1.x install directories and links into them.
    one: Vec<Evidence>,
    /// 1.x versions (install directory names).
    one_versions: Vec<String>,
    /// 2.x Python package, metadata and console script.
    two: Vec<Evidence>,
    /// 2.x version, when its metadata says.
    two_version: Option<String>,
    /// Packages: (version, evidence).
    packages: Vec<(String, Evidence)>,
}

impl Found {
    fn installed(&self) -> bool {
        !self.one.is_empty() || !self.two.is_empty() || !self.packages.is_empty()
    }

    /// (1.x present, 2.x present): files first, then a package version of 2 or more.
    fn branches(&self) -> (bool, bool) {
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

    fn version(&self, one: bool) -> Option<String> {
        if one {
            return (!self.one_versions.is_empty()).then(|| self.one_versions.join(", "));
        }
        self.two_version
            .clone()
            .or_else(|| self.packages.first().map(|(v, _)| v.clone()))
    }

    fn describe(&self) -> String {
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

    fn evidence(&self) -> Vec<Evidence> {
        self.one
            .iter()
            .chain(&self.two)
            .cloned()
            .chain(self.packages.iter().map(|(_, e)| e.clone()))
            .collect()
    }
}

fn find(cx: &Context<'_>) -> Found {
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
                package_evidence(cx, a),
            ));
        }
    }
    f
}

/// cloud-init: the package, or its program.
fn cloud_init(cx: &Context<'_>) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = cx
        .packages("cloud-init")
        .map(|a| package_evidence(cx, a))
        .collect();
    for p in ["/usr/bin/cloud-init", "/usr/local/bin/cloud-init"] {
        if cx.guest.is_file(p) {
            out.push(Evidence::file(p, "exists"));
        }
    }
    out
}

/// Evidence that nova-agent is absent: where it was looked for.
fn absent_evidence(cx: &Context<'_>) -> Vec<Evidence> {
    let mut ev = vec![
        Evidence::file(V1_DIR, "missing (no nova-agent 1.x)"),
        Evidence::file(
            "/usr/bin/nova-agent",
            "missing (no nova-agent 2.x console script)",
        ),
    ];
    if cx.os.applications.is_some() {
        let names: Vec<String> = PACKAGES.iter().map(|s| (*s).to_owned()).collect();
        ev.push(package_evidence_none(cx, &names));
    }
    ev
}

/// The first line of the OS release file, for evidence.
fn release_evidence(cx: &Context<'_>) -> Option<Evidence> {
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

/// `probe: nova-agent-present`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NovaAgentPresent {}

impl NovaAgentPresent {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return windows_agent(cx);
        }
        let f = find(cx);
        if f.installed() {
            let graph = BootGraph::for_context(cx);
            if let Enablement::Missing(_) = graph.enablement("nova-agent") {
                return Outcome::new(
                    Status::Fail,
                    format!(
                        "nova-agent {} is installed, but no systemd unit, init script or \
                         upstart job named nova-agent exists to start it ({})",
                        f.describe(),
                        graph.init.name()
                    ),
                )
                .with(f.evidence())
                .with([graph.init_evidence.clone()]);
            }
            return Outcome::new(
                Status::Pass,
                format!("nova-agent {} is installed", f.describe()),
            )
            .with(f.evidence());
        }
        let ci = cloud_init(cx);
        if !ci.is_empty() {
            return Outcome::new(
                Status::Warn,
                "nova-agent is not installed, but cloud-init is: build the image with the \
                 metadata img_config_drive=mandatory (always attach the config drive cloud-init \
                 reads), vm_mode=hvm (boot in HVM mode, not PV) and xenapi_use_agent=False (do \
                 not wait for nova-agent before marking the server ACTIVE)",
            )
            .with(absent_evidence(cx))
            .with(ci);
        }
        Outcome::new(
            Status::Fail,
            "neither nova-agent nor cloud-init is installed: servers built from this image get \
             no root password, network configuration or RHEL registration from the Rackspace API",
        )
        .with(absent_evidence(cx))
        .with([Evidence::file(
            "/usr/bin/cloud-init",
            "missing (no cloud-init)",
        )])
    }
}

/// The Windows half: the Rackspace Cloud Servers agent service and `SOFTWARE\Rackspace`.
fn windows_agent(cx: &Context<'_>) -> Outcome {
    super::windows::rackspace_agent(cx)
}

/// `probe: nova-agent-branch`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NovaAgentBranch {
    /// Distros on which a 1.x agent fails.
    pub legacy_fails_on: Vec<String>,
    /// From which versions of them, e.g. `">=7.2"`.
    pub legacy_fails_version: String,
}

impl NovaAgentBranch {
    pub(crate) fn validate(&self) -> Result<(), String> {
        VersionReq::parse(&self.legacy_fails_version)
            .map(|_| ())
            .map_err(|e| format!("legacy_fails_version: {e}"))
    }

    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the 1.x and 2.x branches are Linux agents");
        }
        let f = find(cx);
        if !f.installed() {
            return Outcome::new(
                Status::Skip,
                "nova-agent is not installed (nova-agent.present reports it)",
            );
        }
        let (one, two) = f.branches();
        let distro = cx.os.distro.as_deref().unwrap_or("unknown");
        let broken = self.legacy_fails_on.iter().any(|d| d == distro)
            && VersionReq::parse(&self.legacy_fails_version).is_ok_and(|r| r.matches(cx.version()));
        let os = os_label(cx.os);
        if one && broken {
            let graph = BootGraph::for_context(cx);
            let notes = graph
                .unit("nova-agent")
                .map(|u| u.notes.clone())
                .unwrap_or_default();
            return Outcome::new(
                Status::Fail,
                format!(
                    "nova-agent 1.x{} on {os}: the December 2015 RHEL/CentOS 7.2 update \
                     (systemd 219) broke the legacy behaviour 1.x relies on, so the agent does \
                     not start; install the 2.x branch{}",
                    f.version(true)
                        .map(|v| format!(" ({v})"))
                        .unwrap_or_default(),
                    if two {
                        " and remove the 1.x files, which still own the service"
                    } else {
                        ""
                    }
                ),
            )
            .with(f.evidence())
            .with(release_evidence(cx))
            .with(notes);
        }
        match (one, two) {
            (true, true) => Outcome::new(
                Status::Warn,
                format!(
                    "both nova-agent branches are installed ({}): the 1.x files can take over \
                     the nova-agent service; remove them",
                    f.describe()
                ),
            )
            .with(f.evidence()),
            (true, false) => Outcome::new(
                Status::Pass,
                format!(
                    "nova-agent {} (the legacy branch) works on {os}; 2.x is the recommended \
                     branch where it is supported",
                    f.describe()
                ),
            )
            .with(f.evidence()),
            (false, true) => Outcome::new(Status::Pass, format!("nova-agent {}", f.describe()))
                .with(f.evidence()),
            (false, false) => Outcome::new(
                Status::Warn,
                format!(
                    "cannot tell the nova-agent branch: no 1.x install directory under {V1_DIR}, \
                     no novaagent Python package, and the package version ({}) does not say",
                    f.packages
                        .iter()
                        .map(|(v, _)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with(f.evidence()),
        }
    }
}

/// `probe: tun-tap`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TunTap {}

static IFACE_TUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(iface\s+(tun|tap)\S*\s|(auto|allow-hotplug)\s.*\b(tun|tap)\d+\b)")
        .unwrap_or_else(|e| panic!("{e}"))
});
static TUNTAP_CMD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bip\s+tuntap\b|\btunctl\b|\bopenvpn\s+--mktun\b")
        .unwrap_or_else(|e| panic!("{e}"))
});
static TUNTAP_DEV: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(tun|tap)\d*$").unwrap_or_else(|e| panic!("{e}")));

/// VPN services that create tun/tap devices when they start.
const VPN_SERVICES: [&str; 3] = ["openvpn", "openconnect", "vpnc"];

impl TunTap {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "tun/tap definitions are read on Linux only");
        }
        let g = cx.guest;
        let mut ev = Vec::new();
        // RHEL family: ifcfg files.
        let scripts = "/etc/sysconfig/network-scripts";
        for name in list_dir(g, scripts).into_iter().take(MAX_SCAN) {
            let Some(dev) = name.strip_prefix("ifcfg-") else {
                continue;
            };
            let path = format!("{scripts}/{name}");
            let Ok(Some(lines)) = read_lines(g, &path) else {
                continue;
            };
            let hits: Vec<Evidence> = lines
                .meaningful()
                .filter(|(_, l)| {
                    let Some((k, v)) = l.split_once('=') else {
                        return false;
                    };
                    let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                    match k.trim() {
                        "TYPE" => v.eq_ignore_ascii_case("tap") || v.eq_ignore_ascii_case("tun"),
                        "DEVICE" => TUNTAP_DEV.is_match(v),
                        _ => false,
                    }
                })
                .map(|(n, l)| Evidence::line(path.as_str(), n, l))
                .collect();
            if hits.is_empty() && TUNTAP_DEV.is_match(dev) {
                ev.push(Evidence::file(
                    path.as_str(),
                    "a tun/tap interface definition",
                ));
            }
            ev.extend(hits);
        }
        // Debian family: /etc/network/interfaces and the files it sources.
        let mut seen = Vec::new();
        interfaces(cx, "/etc/network/interfaces", 0, &mut seen, &mut ev);
        // systemd-networkd: .netdev with Kind=tun or Kind=tap (first directory wins per name).
        let mut netdevs: Vec<(String, String)> = Vec::new();
        for dir in [
            "/etc/systemd/network",
            "/usr/local/lib/systemd/network",
            "/usr/lib/systemd/network",
            "/lib/systemd/network",
        ] {
            for name in list_dir(g, dir).into_iter().take(MAX_SCAN) {
                if name.ends_with(".netdev") && !netdevs.iter().any(|(n, _)| *n == name) {
                    netdevs.push((name.clone(), format!("{dir}/{name}")));
                }
            }
        }
        for (_, path) in &netdevs {
            if link_text(g, path).as_deref() == Some("/dev/null") {
                continue;
            }
            let Ok(Some(lines)) = read_lines(g, path) else {
                continue;
            };
            ev.extend(
                settings(&lines)
                    .into_iter()
                    .filter(|s| {
                        s.section == "NetDev"
                            && s.key == "Kind"
                            && matches!(s.value.as_str(), "tun" | "tap")
                    })
                    .map(|s| Evidence::line(path.as_str(), s.line, format!("Kind={}", s.value))),
            );
        }
        // NetworkManager keyfiles of type tun.
        for dir in [
            "/etc/NetworkManager/system-connections",
            "/usr/lib/NetworkManager/system-connections",
        ] {
            for name in list_dir(g, dir).into_iter().take(MAX_SCAN) {
                let path = format!("{dir}/{name}");
                let Ok(Some(lines)) = read_lines(g, &path) else {
                    continue;
                };
                ev.extend(
                    settings(&lines)
                        .into_iter()
                        .filter(|s| {
                            s.section == "connection" && s.key == "type" && s.value == "tun"
                        })
                        .map(|s| Evidence::line(path.as_str(), s.line, "type=tun")),
                );
            }
        }
        // VPN services started at boot.
        let graph = BootGraph::for_context(cx);
        let vpns: Vec<String> = graph
            .booted()
            .filter(|u| {
                let base = u.split(['@', '.']).next().unwrap_or("");
                u.ends_with(".service") && VPN_SERVICES.iter().any(|v| base.starts_with(v))
            })
            .map(str::to_owned)
            .collect();
        for u in &vpns {
            if let Enablement::Enabled(e) = graph.enablement(u) {
                ev.extend(e.into_iter().take(1));
            }
        }
        if ev.is_empty() {
            return Outcome::new(
                Status::Pass,
                "no persistent tun/tap device or VPN service that starts at boot",
            );
        }
        let mut msg = format!(
            "{} persistent tun/tap definition(s) or VPN service(s) found: nova-agent does not \
             handle unexpected interfaces such as the tun/tap devices VPN software creates, and \
             can crash or hang on them",
            ev.len()
        );
        if !vpns.is_empty() {
            msg.push_str(&format!(
                " (VPN services started at boot: {})",
                vpns.join(", ")
            ));
        }
        Outcome::new(Status::Warn, msg).with(ev)
    }
}

/// Tun/tap lines of an interfaces(5) file and the files it sources, depth-limited.
fn interfaces(
    cx: &Context<'_>,
    path: &str,
    depth: usize,
    seen: &mut Vec<String>,
    ev: &mut Vec<Evidence>,
) {
    if depth > 4 || seen.len() > 64 || seen.iter().any(|s| s == path) {
        return;
    }
    seen.push(path.to_owned());
    let Ok(Some(lines)) = read_lines(cx.guest, path) else {
        return;
    };
    let mut sources = Vec::new();
    for (n, l) in lines.meaningful() {
        if IFACE_TUN.is_match(l) || TUNTAP_CMD.is_match(l) {
            ev.push(Evidence::line(path, n, l));
        }
        if let Some(rest) = l.strip_prefix("source-directory") {
            let dir = absolute(rest.trim());
            for name in list_dir(cx.guest, &dir).into_iter().take(MAX_SCAN) {
                // ifup reads names made of letters, digits, `_` and `-` only.
                if name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    sources.push(format!("{dir}/{name}"));
                }
            }
        } else if let Some(rest) = l.strip_prefix("source") {
            let pat = absolute(rest.trim());
            match pat.rsplit_once('/') {
                Some((dir, glob)) if glob.contains('*') => {
                    let (pre, post) = glob.split_once('*').unwrap_or((glob, ""));
                    for name in list_dir(cx.guest, dir).into_iter().take(MAX_SCAN) {
                        if name.starts_with(pre) && name.ends_with(post) && !name.starts_with('.') {
                            sources.push(format!("{dir}/{name}"));
                        }
                    }
                }
                _ => sources.push(pat),
            }
        }
    }
    for s in sources {
        interfaces(cx, &s, depth + 1, seen, ev);
    }
}

/// interfaces(5) resolves relative `source` paths against /etc/network.
fn absolute(p: &str) -> String {
    if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/etc/network/{p}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use imgprep_inspect::{Application, OperatingSystem};

    use super::super::boot::testing::MemGuest;
    use super::*;
    use crate::matrix::Matrix;

    fn os(distro: &str, major: u32, minor: u32, apps: &[(&str, &str)]) -> OperatingSystem {
        OperatingSystem {
            name: Some("linux".into()),
            distro: Some(distro.into()),
            major_version: major,
            minor_version: minor,
            package_format: Some("rpm".into()),
            applications: Some(
                apps.iter()
                    .map(|(n, v)| Application {
                        name: (*n).into(),
                        version: Some((*v).into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn run(check: &str, g: &MemGuest, os: &OperatingSystem) -> Outcome {
        let matrix = Matrix::default();
        let params = BTreeMap::new();
        let cx = Context {
            os,
            guest: g,
            cloud: None,
            params: &params,
            matrix: &matrix,
            disks: &[],
        };
        match check {
            "present" => NovaAgentPresent {}.run(&cx),
            "branch" => NovaAgentBranch {
                legacy_fails_on: vec!["rhel".into(), "centos".into()],
                legacy_fails_version: ">=7.2".into(),
            }
            .run(&cx),
            "tun-tap" => TunTap {}.run(&cx),
            other => panic!("{other}"),
        }
    }

    fn v1(g: MemGuest) -> MemGuest {
        g.exec("/usr/share/nova-agent/1.39.0/sbin/nova-agent", "\x7fELF")
            .exec(
                "/usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
                "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: Nova-Agent\n### END INIT INFO\n",
            )
            .link(
                "/etc/init.d/nova-agent",
                "/usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
            )
            .link(
                "/usr/sbin/nova-agent",
                "/usr/share/nova-agent/1.39.0/sbin/nova-agent",
            )
    }

    fn v2(g: MemGuest) -> MemGuest {
        g.file(
            "/usr/lib/python2.7/site-packages/novaagent/__init__.py",
            "\n__version__ = '2.1.16'\n",
        )
        .dir("/usr/lib/python2.7/site-packages/novaagent-2.1.16-py2.7.egg-info")
        .exec(
            "/usr/bin/nova-agent",
            "#!/usr/bin/python\n# EASY-INSTALL-ENTRY-SCRIPT: 'novaagent==2.1.16','console_scripts','nova-agent'\n",
        )
        .file("/usr/lib/systemd/system/nova-agent.service", "[Unit]\n")
    }

    fn systemd() -> MemGuest {
        MemGuest::new().link("/sbin/init", "../lib/systemd/systemd")
    }

    #[test]
    fn presence_and_branch_table() {
        let centos72 = os("centos", 7, 2, &[]);
        let debian = os("debian", 9, 0, &[]);
        for (name, g, os, present, branch, fragment) in [
            (
                "2.x files",
                v2(systemd()),
                &centos72,
                Status::Pass,
                Status::Pass,
                "2.x (2.1.16)",
            ),
            (
                "1.x on CentOS 7.2",
                v1(systemd()),
                &centos72,
                Status::Pass,
                Status::Fail,
                "December 2015",
            ),
            (
                "1.x on Debian",
                v1(systemd()),
                &debian,
                Status::Pass,
                Status::Pass,
                "legacy branch",
            ),
            (
                "both",
                v1(v2(systemd())),
                &debian,
                Status::Pass,
                Status::Warn,
                "both",
            ),
            (
                "package only, 2.x version",
                systemd().file("/usr/lib/systemd/system/nova-agent.service", "[Unit]\n"),
                &os("centos", 7, 9, &[("nova-agent", "2.1.20")]),
                Status::Pass,
                Status::Pass,
                "2.x (2.1.20)",
            ),
            (
                "program without a service",
                systemd().file("/usr/lib/python3/dist-packages/novaagent/__init__.py", ""),
                &debian,
                Status::Fail,
                Status::Pass,
                "no systemd unit",
            ),
            (
                "cloud-init only",
                systemd().exec("/usr/bin/cloud-init", "#!/usr/bin/python3\n"),
                &debian,
                Status::Warn,
                Status::Skip,
                "xenapi_use_agent=False",
            ),
            (
                "neither",
                systemd(),
                &debian,
                Status::Fail,
                Status::Skip,
                "neither",
            ),
        ] {
            let p = run("present", &g, os);
            let b = run("branch", &g, os);
            assert_eq!(
                (p.status, b.status),
                (present, branch),
                "{name}: {p:#?} {b:#?}"
            );
            assert!(
                p.message.contains(fragment) || b.message.contains(fragment),
                "{name}: {fragment:?} in {p:#?} {b:#?}"
            );
        }
    }

    #[test]
    fn tun_tap_table() {
        let debian = os("debian", 12, 0, &[]);
        for (name, g, want) in [
            ("nothing", systemd(), 0),
            (
                "ifcfg TYPE=Tap",
                systemd().file(
                    "/etc/sysconfig/network-scripts/ifcfg-vpn0",
                    "DEVICE=vpn0\nTYPE=Tap\nONBOOT=yes\n",
                ),
                1,
            ),
            (
                "ifcfg-tun0 by name only",
                systemd().file("/etc/sysconfig/network-scripts/ifcfg-tun0", "ONBOOT=yes\n"),
                1,
            ),
            (
                "ifcfg of an ethernet device",
                systemd().file(
                    "/etc/sysconfig/network-scripts/ifcfg-eth0",
                    "DEVICE=eth0\nTYPE=Ethernet\n",
                ),
                0,
            ),
            (
                "interfaces with tuntap and a sourced tap stanza",
                systemd()
                    .file(
                        "/etc/network/interfaces",
                        "auto lo\niface lo inet loopback\n  pre-up ip tuntap add dev tun0 mode tun\nsource interfaces.d/*\n",
                    )
                    .file("/etc/network/interfaces.d/vpn", "iface tap1 inet manual\n# iface tun9 x\n"),
                2,
            ),
            (
                "interfaces sourcing itself",
                systemd().file("/etc/network/interfaces", "source /etc/network/interfaces\n"),
                0,
            ),
            (
                "networkd netdev",
                systemd().file("/etc/systemd/network/10-tun.netdev", "[NetDev]\nName=tun0\nKind=tun\n"),
                1,
            ),
            (
                "networkd netdev masked in /etc",
                systemd()
                    .file("/usr/lib/systemd/network/10-tun.netdev", "[NetDev]\nKind=tap\n")
                    .link("/etc/systemd/network/10-tun.netdev", "/dev/null"),
                0,
            ),
            (
                "NetworkManager tun connection",
                systemd().file(
                    "/etc/NetworkManager/system-connections/tun0.nmconnection",
                    "[connection]\nid=tun0\ntype=tun\n[tun]\nmode=1\n",
                ),
                1,
            ),
            (
                "openvpn@client enabled",
                systemd()
                    .file("/usr/lib/systemd/system/openvpn@.service", "[Unit]\n")
                    .link(
                        "/etc/systemd/system/multi-user.target.wants/openvpn@client.service",
                        "/usr/lib/systemd/system/openvpn@.service",
                    ),
                1,
            ),
            (
                "openvpn installed, not enabled",
                systemd().file("/usr/lib/systemd/system/openvpn@.service", "[Unit]\n"),
                0,
            ),
        ] {
            let o = run("tun-tap", &g, &debian);
            let want_status = if want == 0 { Status::Pass } else { Status::Warn };
            assert_eq!((o.status, o.evidence.len()), (want_status, want), "{name}: {o:#?}");
        }
    }

    #[test]
    fn windows_without_a_registry_is_an_error() {
        let win = OperatingSystem {
            name: Some("windows".into()),
            ..Default::default()
        };
        let o = run("present", &MemGuest::new(), &win);
        assert_eq!(o.status, Status::Error);
        assert!(o.message.contains("no registry"), "{o:?}");
    }

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
