//! systemd unit files: names, search directories, and the `Key=value` syntax (sections,
//! comments, `\\` continuations) shared by units, drop-ins, `.netdev` files and NetworkManager
//! keyfiles.

use crate::text::Lines;

/// systemd's system unit directories, highest priority first (`/run` is empty offline).
pub const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Unit types systemd knows.
pub const UNIT_SUFFIXES: [&str; 11] = [
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

/// `foo` -> `foo.service`; names with a unit suffix stay.
pub fn unit_name(service: &str) -> String {
    if UNIT_SUFFIXES.iter().any(|s| service.ends_with(s)) {
        service.to_owned()
    } else {
        format!("{service}.service")
    }
}

/// True for `NAME.TYPE` with a known unit type.
pub fn is_unit_name(name: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| name.len() > s.len() && name.ends_with(s))
}

/// One `Key=value` of a unit file (or any systemd-style ini file), with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// `Unit`, `Install`, `NetDev`, …
    pub section: String,
    /// The key.
    pub key: String,
    /// The value, continuation lines joined with a space.
    pub value: String,
    /// 1-based line (the first line of a continued value).
    pub line: usize,
}

/// The settings of a unit file: sections, comments (`#`, `;`) and `\` continuations handled.
pub fn settings(lines: &Lines) -> Vec<Setting> {
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

/// A boolean setting as systemd reads it: anything but no/false/0/off/n is true.
pub fn truthy(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "0" | "off" | "n"
    )
}
