//! Probes that user rules can use for their own requirements.

use std::cmp::Ordering;

use imgprep_inspect::Application;
use imgprep_registry::Data;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::text::read_lines;
use crate::eval::Context;
use crate::model::{Evidence, Outcome, Status};

/// `probe: file-exists`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileExists {
    /// Guest paths (symlinks followed inside the guest).
    pub paths: Vec<String>,
    /// Require every path instead of any.
    #[serde(default)]
    pub all: bool,
}

impl FileExists {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        let paths: Vec<String> = self.paths.iter().map(|p| cx.expand(p)).collect();
        let (found, missing): (Vec<&String>, Vec<&String>) = paths
            .iter()
            .partition(|p| matches!(cx.guest.stat(p), Ok(Some(_))));
        let ok = if self.all {
            missing.is_empty()
        } else {
            !found.is_empty()
        };
        let ev = found
            .iter()
            .map(|p| Evidence::file(*p, "exists"))
            .chain(missing.iter().map(|p| Evidence::file(*p, "missing")));
        let msg = if ok {
            format!("found {}", join(&found))
        } else if self.all {
            format!("missing {}", join(&missing))
        } else {
            format!("none of {} exists", join(&missing))
        };
        Outcome::new(if ok { Status::Pass } else { Status::Fail }, msg).with(ev)
    }
}

/// `probe: file-matches`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileMatches {
    /// Guest path.
    pub path: String,
    /// Regular expression (Rust `regex` syntax) matched against each line.
    pub pattern: String,
    /// Pass when no line matches instead.
    #[serde(default)]
    pub absent: bool,
}

impl FileMatches {
    pub(crate) fn validate(&self) -> Result<(), String> {
        Regex::new(&self.pattern)
            .map(|_| ())
            .map_err(|e| format!("pattern {:?}: {e}", self.pattern))
    }

    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        let path = cx.expand(&self.path);
        let Ok(re) = Regex::new(&self.pattern) else {
            return Outcome::new(Status::Error, format!("bad pattern {:?}", self.pattern));
        };
        let lines = match read_lines(cx.guest, &path) {
            Ok(Some(l)) => l,
            Ok(None) => {
                let s = if self.absent {
                    Status::Pass
                } else {
                    Status::Fail
                };
                return Outcome::new(s, format!("{path} does not exist"));
            }
            Err(e) => return Outcome::new(Status::Error, format!("{path}: {e}")),
        };
        let hits: Vec<Evidence> = lines
            .lines
            .iter()
            .filter(|(_, l)| re.is_match(l))
            .map(|(n, l)| Evidence::line(&path, *n, l.as_str()))
            .collect();
        let matched = !hits.is_empty();
        let status = if matched != self.absent {
            Status::Pass
        } else {
            Status::Fail
        };
        let msg = match (matched, self.absent) {
            (true, false) => format!("{path} has a line matching {}", self.pattern),
            (false, false) => format!("no line of {path} matches {}", self.pattern),
            (true, true) => format!(
                "{path} has a line matching {}, which it must not",
                self.pattern
            ),
            (false, true) => format!("no line of {path} matches {}", self.pattern),
        };
        Outcome::new(status, msg).with(hits)
    }
}

/// `probe: package`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Package names; any one installed passes.
    pub names: Vec<String>,
    /// Lowest acceptable upstream version, compared the package manager's way.
    #[serde(default)]
    pub min_version: Option<String>,
}

impl Package {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("package: names is empty".into());
        }
        Ok(())
    }

    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.os.applications.is_none() {
            return Outcome::new(Status::Error, "the package list was not read");
        }
        let installed: Vec<&Application> = self.names.iter().flat_map(|n| cx.packages(n)).collect();
        let ev: Vec<Evidence> = installed.iter().map(|a| package_evidence(cx, a)).collect();
        let none = || [package_evidence_none(cx, &self.names)];
        let Some(min) = &self.min_version else {
            return if installed.is_empty() {
                Outcome::new(
                    Status::Fail,
                    format!("{} is not installed", self.names.join(" or ")),
                )
                .with(none())
            } else {
                Outcome::new(
                    Status::Pass,
                    format!("{} is installed", describe(&installed)),
                )
                .with(ev)
            };
        };
        let good = installed.iter().any(|a| {
            compare_versions(cx, a.version.as_deref().unwrap_or(""), min) != Ordering::Less
        });
        match (installed.is_empty(), good) {
            (true, _) => Outcome::new(
                Status::Fail,
                format!(
                    "{} is not installed (need {min} or later)",
                    self.names.join(" or ")
                ),
            )
            .with(none()),
            (false, true) => Outcome::new(
                Status::Pass,
                format!(
                    "{} is installed (need {min} or later)",
                    describe(&installed)
                ),
            )
            .with(ev),
            (false, false) => Outcome::new(
                Status::Fail,
                format!("{} is older than {min}", describe(&installed)),
            )
            .with(ev),
        }
    }
}

/// Compares upstream versions with the OS's package manager ordering.
pub(crate) fn compare_versions(cx: &Context<'_>, a: &str, b: &str) -> Ordering {
    match cx.os.package_format.as_deref() {
        Some("deb") => imgprep_pkgdb::version::debian_cmp(a, b),
        Some("apk") => imgprep_pkgdb::version::apk_cmp(a, b),
        _ => imgprep_pkgdb::version::rpmvercmp(a, b),
    }
}

/// `name-version-release.arch`, the way rpm and dpkg users read it.
pub(crate) fn nevra(a: &Application) -> String {
    let mut s = a.name.clone();
    if let Some(v) = &a.version {
        s.push('-');
        if a.epoch != 0 {
            s.push_str(&format!("{}:", a.epoch));
        }
        s.push_str(v);
    }
    if let Some(r) = &a.release {
        s.push('-');
        s.push_str(r);
    }
    if let Some(arch) = &a.arch {
        s.push('.');
        s.push_str(arch);
    }
    s
}

fn describe(apps: &[&Application]) -> String {
    apps.iter().map(|a| nevra(a)).collect::<Vec<_>>().join(", ")
}

/// The package database of the OS, for evidence.
fn package_db(cx: &Context<'_>) -> &'static str {
    match cx.os.package_format.as_deref() {
        Some("deb") => "/var/lib/dpkg/status",
        Some("apk") => "/lib/apk/db/installed",
        Some("rpm") => "rpm database",
        _ => "package list",
    }
}

/// Evidence naming the package database an installed package was read from.
pub(crate) fn package_evidence(cx: &Context<'_>, a: &Application) -> Evidence {
    Evidence::file(package_db(cx), format!("installed: {}", nevra(a)))
}

/// Evidence that none of `names` is in the package database.
pub(crate) fn package_evidence_none(cx: &Context<'_>, names: &[String]) -> Evidence {
    let n = cx.os.applications.as_ref().map_or(0, Vec::len);
    Evidence::file(
        package_db(cx),
        format!(
            "no package named {} among {n} installed",
            names.join(" or ")
        ),
    )
}

/// `probe: registry-value`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegistryValue {
    /// `SOFTWARE` or `SYSTEM`.
    pub hive: String,
    /// Key path below the hive root; `CurrentControlSet` is resolved.
    pub key: String,
    /// Value name (empty for the default value).
    pub value: String,
    /// Expected value: a string, or a number (decimal or `0x` hex) for DWORD/QWORD values.
    #[serde(default)]
    pub equals: Option<String>,
    /// Values it must not have (same notation). With `not_equals` and no `equals`, an unset
    /// value passes: it has none of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_equals: Vec<String>,
}

impl RegistryValue {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        let shown = format!("{}\\{}\\{}", self.hive, self.key, self.value);
        let banned = self.not_equals.join(", ");
        let data = match registry_value(cx, &self.hive, &self.key, &self.value) {
            Ok(Some(d)) => d,
            Ok(None) if self.equals.is_none() && !self.not_equals.is_empty() => {
                return Outcome::new(
                    Status::Pass,
                    format!("{shown} is not set, so it is none of {banned}"),
                )
                .with([Evidence::file(format!("registry:{shown}"), "not set")]);
            }
            Ok(None) => return Outcome::new(Status::Fail, format!("{shown} is not set")),
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let text = data_text(&data);
        let ev = Evidence::file(format!("registry:{shown}"), text.clone());
        if let Some(bad) = self.not_equals.iter().find(|b| data_equals(&data, b)) {
            return Outcome::new(
                Status::Fail,
                format!("{shown} is {text}, which it must not be ({bad})"),
            )
            .with([ev]);
        }
        let ok = match &self.equals {
            None => true,
            Some(want) => data_equals(&data, want),
        };
        let msg = match (&self.equals, ok) {
            (None, _) if !banned.is_empty() => format!("{shown} is {text}, none of {banned}"),
            (None, _) => format!("{shown} is {text}"),
            (Some(w), true) => format!("{shown} is {text} as required ({w})"),
            (Some(w), false) => format!("{shown} is {text}, not {w}"),
        };
        Outcome::new(if ok { Status::Pass } else { Status::Fail }, msg).with([ev])
    }
}

/// The guest's hive `hive` (`SOFTWARE`, `SYSTEM`), read and parsed.
pub(crate) fn open_hive(cx: &Context<'_>, hive: &str) -> Result<imgprep_registry::Hive, String> {
    let Some(root) = cx.os.windows_systemroot.as_deref() else {
        return Err("not a Windows image: no registry".into());
    };
    let path = format!("{root}/System32/config/{}", hive.to_ascii_uppercase());
    let file = cx
        .guest
        .open_file(&path, imgprep_registry::MAX_HIVE_SIZE)
        .map_err(|e| format!("registry hive {path}: {e}"))?;
    imgprep_registry::Hive::from_source(file).map_err(|e| format!("registry hive {path}: {e}"))
}

/// Reads a registry value of the guest. `CurrentControlSet` in `key` becomes the OS's current
/// control set.
pub(crate) fn registry_value(
    cx: &Context<'_>,
    hive: &str,
    key: &str,
    value: &str,
) -> Result<Option<Data>, String> {
    let h = open_hive(cx, hive)?;
    let key = match &cx.os.windows_current_control_set {
        Some(ccs) => key.replace("CurrentControlSet", ccs),
        None => key.to_owned(),
    };
    let Some(k) = h.open(&key).map_err(|e| format!("{hive}\\{key}: {e}"))? else {
        return Ok(None);
    };
    let Some(v) = k.value(value).map_err(|e| format!("{hive}\\{key}: {e}"))? else {
        return Ok(None);
    };
    v.data()
        .map(Some)
        .map_err(|e| format!("{hive}\\{key}\\{value}: {e}"))
}

/// A registry value as text: numbers in hex and decimal.
pub(crate) fn data_text(d: &Data) -> String {
    match d {
        Data::Sz(s) | Data::ExpandSz(s) => format!("{s:?}"),
        Data::MultiSz(v) => format!("{v:?}"),
        Data::Dword(n) => format!("{n:#x} ({n})"),
        Data::Qword(n) => format!("{n:#x} ({n})"),
        Data::Binary(b) => format!("{} bytes of binary data", b.len()),
        Data::None => "(none)".into(),
        other => format!("{other:?}"),
    }
}

fn data_equals(d: &Data, want: &str) -> bool {
    let num = want
        .strip_prefix("0x")
        .map(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| want.parse::<u64>().ok());
    match d {
        Data::Dword(n) => num == Some(u64::from(*n)),
        Data::Qword(n) => num == Some(*n),
        Data::Sz(s) | Data::ExpandSz(s) => s == want,
        Data::MultiSz(v) => v.iter().any(|s| s == want),
        _ => false,
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
