//! Evaluating a profile against one inspected OS.

use std::collections::BTreeMap;

use imgprep_guest::Guest;
use imgprep_inspect::{DiskInfo, OperatingSystem};

use crate::load::RuleSet;
use crate::matrix::Matrix;
use crate::model::{Applies, Cloud, Outcome, Rule, RuleResult, Status};

/// What a probe may look at.
pub struct Context<'a> {
    /// The inspected OS.
    pub os: &'a OperatingSystem,
    /// Its files, mounted as the OS mounts them.
    pub guest: &'a dyn Guest,
    /// The target cloud, when given.
    pub cloud: Option<Cloud>,
    /// Profile parameters: defaults overridden by `--param`.
    pub params: &'a BTreeMap<String, String>,
    /// The bootstrapping support matrix.
    pub matrix: &'a Matrix,
    /// The disk images and the host files behind them.
    pub disks: &'a [DiskInfo],
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("os", &self.os.root)
            .field("cloud", &self.cloud)
            .field("params", &self.params)
            .finish()
    }
}

impl Context<'_> {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// `{name}` in `s` replaced by parameter values.
    pub fn expand(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (k, v) in self.params {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    /// The OS's major and minor version.
    pub fn version(&self) -> (u32, u32) {
        (self.os.major_version, self.os.minor_version)
    }

    /// True for a Windows guest.
    pub fn is_windows(&self) -> bool {
        self.os.name.as_deref() == Some("windows")
    }

    /// Installed packages named `name`.
    pub fn packages<'b>(
        &'b self,
        name: &'b str,
    ) -> impl Iterator<Item = &'b imgprep_inspect::Application> + 'b {
        self.os
            .applications
            .iter()
            .flatten()
            .filter(move |a| a.name == name)
    }
}

/// A version constraint on (major, minor): `>=7.2`, `<8`, `=16.04`, `16.04`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VersionReq {
    op: Op,
    v: (u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl VersionReq {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (op, rest) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r)))
        .unwrap_or((Op::Eq, s));
        let (a, b) = rest.trim().split_once('.').unwrap_or((rest.trim(), "0"));
        let n = |x: &str| {
            x.parse::<u32>()
                .map_err(|_| format!("{x:?} is not a number"))
        };
        Ok(Self {
            op,
            v: (n(a)?, n(b)?),
        })
    }

    pub(crate) fn matches(self, v: (u32, u32)) -> bool {
        match self.op {
            Op::Eq => v == self.v,
            Op::Lt => v < self.v,
            Op::Le => v <= self.v,
            Op::Gt => v > self.v,
            Op::Ge => v >= self.v,
        }
    }
}

/// `None` when the rule applies, else why it does not.
pub(crate) fn not_applicable(a: &Applies, cx: &Context<'_>) -> Option<String> {
    let os_name = cx.os.name.as_deref().unwrap_or("unknown");
    if !a.os.is_empty() && !a.os.iter().any(|o| o == os_name) {
        return Some(format!(
            "applies to {} only; this image is {os_name}",
            a.os.join(", ")
        ));
    }
    let distro = cx.os.distro.as_deref().unwrap_or("unknown");
    if !a.distro.is_empty() && !a.distro.iter().any(|d| d == distro) {
        return Some(format!(
            "applies to {} only; this image is {distro}",
            a.distro.join(", ")
        ));
    }
    for v in &a.version {
        if let Ok(req) = VersionReq::parse(v)
            && !req.matches(cx.version())
        {
            return Some(format!(
                "applies to version {v}; this image is {}",
                crate::matrix::os_version(cx.os)
            ));
        }
    }
    if !a.cloud.is_empty() {
        let list = a
            .cloud
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match cx.cloud {
            None => return Some(format!("applies with --cloud {list}; no --cloud given")),
            Some(c) if !a.cloud.contains(&c) => {
                return Some(format!("applies with --cloud {list}; the cloud is {c}"));
            }
            Some(_) => {}
        }
    }
    for (k, want) in &a.params {
        match cx.param(k) {
            None => return Some(format!("applies when {k} is set; it is not")),
            Some(_) if want == "*" => {}
            Some(v) if v != want => {
                return Some(format!("applies when {k}={want}; it is {v}"));
            }
            Some(_) => {}
        }
    }
    None
}

/// Parameters of `profile` with the user's values applied. Unknown names are an error.
pub fn effective_params(
    set: &RuleSet,
    profile: &str,
    given: &[(String, String)],
) -> Result<BTreeMap<String, String>, String> {
    let p = set
        .profile(profile)
        .ok_or_else(|| format!("unknown profile {profile:?} (imgprep rules list shows them)"))?;
    let mut out: BTreeMap<String, String> = p
        .params
        .iter()
        .filter_map(|(k, s)| s.default.clone().map(|d| (k.clone(), d)))
        .collect();
    for (k, v) in given {
        if !p.params.contains_key(k) {
            let known = p.params.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(format!(
                "profile {profile} has no parameter {k:?} (it has: {known})"
            ));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// Runs every rule of `profile` against `cx`, in file order.
pub fn run(set: &RuleSet, profile: &str, cx: &Context<'_>) -> Vec<RuleResult> {
    set.rules_of(profile).map(|r| run_rule(r, cx)).collect()
}

fn run_rule(r: &Rule, cx: &Context<'_>) -> RuleResult {
    let outcome = match not_applicable(&r.applies, cx) {
        Some(why) => Outcome::new(Status::Skip, why),
        None => r.check.run(cx),
    };
    RuleResult {
        rule: r.id.clone(),
        status: outcome.status,
        severity: r.severity,
        title: r.title.clone(),
        message: outcome.message,
        evidence: outcome.evidence,
        remediation: cx.expand(&r.remediation.text),
        fixable: r.remediation.action.is_some()
            && matches!(outcome.status, Status::Fail | Status::Warn),
    }
}

/// Counts of each status.
pub fn summary(results: &[RuleResult]) -> BTreeMap<&'static str, usize> {
    let mut m: BTreeMap<&'static str, usize> =
        Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for r in results {
        *m.entry(r.status.as_str()).or_default() += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constraints() {
        for (req, v, want) in [
            (">=7.2", (7, 9), true),
            (">=7.2", (7, 1), false),
            ("<8", (7, 9), true),
            ("16.04", (16, 4), true),
            ("=16.04", (16, 10), false),
            (">6", (7, 0), true),
            ("<=6.10", (6, 10), true),
        ] {
            assert_eq!(
                VersionReq::parse(req).unwrap().matches(v),
                want,
                "{req} {v:?}"
            );
        }
        assert!(VersionReq::parse(">=x").is_err());
    }
}
