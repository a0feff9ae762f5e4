//! Probes that user rules can use for their own requirements.

use std::cmp::Ordering;

use imgprep_inspect::Application;
use imgprep_sysconf::registry::{data_equals, data_text};
use imgprep_sysconf::text::read_lines;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::context::{Context, nevra};
use crate::probe::{Probe, Template};
use crate::verdict::{Evidence, Outcome, Status};

/// `probe: file-exists`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileExists {
    /// Guest paths (symlinks followed inside the guest).
    pub paths: Vec<Template>,
    /// Require every path instead of any.
    #[serde(default)]
    pub all: bool,
}

impl Probe for FileExists {
    fn templates(&self) -> Vec<&Template> {
        self.paths.iter().collect()
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        let paths: Vec<String> = self.paths.iter().map(|p| p.expand(cx)).collect();
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
    pub path: Template,
    /// Regular expression (Rust `regex` syntax) matched against each line.
    pub pattern: String,
    /// Pass when no line matches instead.
    #[serde(default)]
    pub absent: bool,
}

impl Probe for FileMatches {
    fn templates(&self) -> Vec<&Template> {
        vec![&self.path]
    }

    fn validate(&self) -> Result<(), String> {
        Regex::new(&self.pattern)
            .map(|_| ())
            .map_err(|e| format!("pattern {:?}: {e}", self.pattern))
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        let path = self.path.expand(cx);
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

impl Probe for Package {
    fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("package: names is empty".into());
        }
        Ok(())
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.os.applications.is_none() {
            return Outcome::new(Status::Error, "the package list was not read");
        }
        let installed: Vec<&Application> = self.names.iter().flat_map(|n| cx.packages(n)).collect();
        let ev: Vec<Evidence> = installed.iter().map(|a| cx.package_evidence(a)).collect();
        let none = || [cx.package_evidence_none(&self.names)];
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
            cx.compare_versions(a.version.as_deref().unwrap_or(""), min) != Ordering::Less
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

fn describe(apps: &[&Application]) -> String {
    apps.iter().map(|a| nevra(a)).collect::<Vec<_>>().join(", ")
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

impl Probe for RegistryValue {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        let shown = format!("{}\\{}\\{}", self.hive, self.key, self.value);
        let banned = self.not_equals.join(", ");
        let data = match cx.hive(&self.hive).and_then(|h| {
            imgprep_sysconf::registry::value(&h, &self.key, &self.value)
                .map_err(|e| format!("{}\\{e}", self.hive))
        }) {
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

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
