//! SysV init scripts: LSB headers (`### BEGIN INIT INFO`), chkconfig lines, and the names
//! systemd-sysv-generator gives scripts and facilities.

use crate::text::Lines;

/// A SysV script file name as systemd names its unit: `foo.sh` -> `foo.service`.
pub fn script_unit(file: &str) -> String {
    format!("{}.service", file.strip_suffix(".sh").unwrap_or(file))
}
/// An LSB header dependency.
#[derive(Debug, Clone, PartialEq)]
pub struct LsbDep {
    /// True for `X-Start-Before:` (this script first), false for the others (the named one
    /// first).
    pub before: bool,
    /// The name or `$facility`.
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// The header line, without its `#`.
    pub text: String,
}

/// What an init script's LSB header says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lsb {
    /// The script has a header.
    pub present: bool,
    /// `Provides:` names, each with its line and text.
    pub provides: Vec<(String, usize, String)>,
    /// `Required-Start:`, `Should-Start:`, `X-Start-After:`, `X-Start-Before:` names.
    pub deps: Vec<LsbDep>,
    /// `Default-Start:` runlevels.
    pub default_start: Vec<u8>,
    /// `Default-Stop:` runlevels.
    pub default_stop: Vec<u8>,
}

/// The LSB header of an init script (`### BEGIN INIT INFO` .. `### END INIT INFO`).
pub fn lsb_header(lines: &Lines) -> Lsb {
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
            "default-start" | "default-stop" => {
                let levels: Vec<u8> = value
                    .split_whitespace()
                    .filter_map(|v| match v {
                        "S" | "s" => Some(b'S'),
                        _ => v.parse::<u8>().ok().filter(|n| *n <= 6),
                    })
                    .collect();
                if key == "default-start" {
                    out.default_start = levels;
                } else {
                    out.default_stop = levels;
                }
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
pub fn sysv_facility(name: &str, own_file: &str) -> Option<String> {
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

/// A Red Hat `# chkconfig: LEVELS START STOP` line: the runlevels (`-` for none) and the start
/// and stop priorities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chkconfig {
    /// 1-based line.
    pub line: usize,
    /// Runlevels it starts in.
    pub levels: Vec<u8>,
    /// Start priority (the `S##` number).
    pub start: u8,
    /// Stop priority (the `K##` number).
    pub stop: u8,
}

/// The first `# chkconfig:` line of a script.
pub fn chkconfig(lines: &Lines) -> Option<Chkconfig> {
    lines.lines.iter().find_map(|(n, l)| {
        let body = l.trim().strip_prefix('#')?.trim_start();
        let rest = body.strip_prefix("chkconfig:")?;
        let mut f = rest.split_whitespace();
        let levels = f.next()?;
        let levels: Vec<u8> = if levels == "-" {
            Vec::new()
        } else {
            levels
                .bytes()
                .filter(u8::is_ascii_digit)
                .map(|b| b - b'0')
                .filter(|n| *n <= 6)
                .collect()
        };
        let start = f.next()?.parse::<u8>().ok().filter(|n| *n <= 99)?;
        let stop = f.next()?.parse::<u8>().ok().filter(|n| *n <= 99)?;
        Some(Chkconfig {
            line: *n,
            levels,
            start,
            stop,
        })
    })
}
