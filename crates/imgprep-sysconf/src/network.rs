//! Network configuration that defines tun and tap interfaces: RHEL-family `ifcfg` files,
//! Debian's `/etc/network/interfaces` (with the files it sources), systemd-networkd `.netdev`
//! files and NetworkManager keyfiles.

use std::sync::LazyLock;

use imgprep_guest::Guest;
use regex::Regex;

use crate::Evidence;
use crate::path::{glob_match, join, link_text};
use crate::systemd::settings;
use crate::text::{list_dir, read_lines};

/// Entries read per directory.
const MAX_SCAN: usize = 256;
/// Deepest `source` chain and most files followed from `/etc/network/interfaces`.
const MAX_SOURCE_DEPTH: usize = 4;
const MAX_SOURCED: usize = 64;

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

/// systemd-networkd's directories, highest priority first.
const NETWORKD_DIRS: [&str; 4] = [
    "/etc/systemd/network",
    "/usr/local/lib/systemd/network",
    "/usr/lib/systemd/network",
    "/lib/systemd/network",
];

/// Every persistent tun or tap interface definition, each as the line (or file) that makes it.
pub fn tuntap_definitions(g: &dyn Guest) -> Vec<Evidence> {
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
    interfaces(g, "/etc/network/interfaces", 0, &mut seen, &mut ev);
    // systemd-networkd: .netdev with Kind=tun or Kind=tap (first directory wins per name).
    let mut netdevs: Vec<(String, String)> = Vec::new();
    for dir in NETWORKD_DIRS {
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
                    .filter(|s| s.section == "connection" && s.key == "type" && s.value == "tun")
                    .map(|s| Evidence::line(path.as_str(), s.line, "type=tun")),
            );
        }
    }
    ev
}

/// Tun/tap lines of an interfaces(5) file and the files it sources, depth-limited.
fn interfaces(
    g: &dyn Guest,
    path: &str,
    depth: usize,
    seen: &mut Vec<String>,
    ev: &mut Vec<Evidence>,
) {
    if depth > MAX_SOURCE_DEPTH || seen.len() > MAX_SOURCED || seen.iter().any(|s| s == path) {
        return;
    }
    seen.push(path.to_owned());
    let Ok(Some(lines)) = read_lines(g, path) else {
        return;
    };
    let mut sources = Vec::new();
    for (n, l) in lines.meaningful() {
        if IFACE_TUN.is_match(l) || TUNTAP_CMD.is_match(l) {
            ev.push(Evidence::line(path, n, l));
        }
        if let Some(rest) = l.strip_prefix("source-directory") {
            let dir = absolute(rest.trim());
            for name in list_dir(g, &dir).into_iter().take(MAX_SCAN) {
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
                Some((dir, glob)) if glob.contains(['*', '?']) => {
                    for name in list_dir(g, dir).into_iter().take(MAX_SCAN) {
                        if glob_match(glob, &name) && !name.starts_with('.') {
                            sources.push(join(dir, &name));
                        }
                    }
                }
                _ => sources.push(pat),
            }
        }
    }
    for s in sources {
        interfaces(g, &s, depth + 1, seen, ev);
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
