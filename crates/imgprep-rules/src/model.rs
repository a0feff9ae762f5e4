//! Rules, profiles and results, as they are written in `rules/*.yaml` and reported.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::probes::Check;

/// How much a failure matters.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Cosmetic or easily worked around.
    Low,
    /// Degrades the agent.
    Medium,
    /// Breaks bootstrapping or the agent.
    High,
    /// Breaks every deployment of the image.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The requirement holds.
    Pass,
    /// The requirement does not hold.
    Fail,
    /// It holds only under conditions the image cannot show, or something needs a look.
    Warn,
    /// The rule does not apply to this image, cloud or parameters.
    Skip,
    /// The rule could not be decided offline; the message says why.
    Error,
}

impl Status {
    /// All statuses in report order.
    pub const ALL: [Status; 5] = [
        Status::Fail,
        Status::Error,
        Status::Warn,
        Status::Pass,
        Status::Skip,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The level at which `check` exits 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Exit 1 when a rule fails or errors.
    #[default]
    Fail,
    /// Exit 1 when a rule fails, errors or warns.
    Warn,
}

impl FailOn {
    /// True when `s` reaches this level.
    pub fn reached_by(self, s: Status) -> bool {
        match self {
            FailOn::Fail => matches!(s, Status::Fail | Status::Error),
            FailOn::Warn => matches!(s, Status::Fail | Status::Error | Status::Warn),
        }
    }
}

/// The clouds the support matrix and rules know.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure (Resource Manager).
    Azure,
    /// Google Cloud.
    Google,
    /// OpenStack.
    Openstack,
    /// IBM SoftLayer.
    Softlayer,
    /// Alibaba Cloud.
    Alibaba,
    /// VMware vSphere.
    Vmware,
    /// Rackspace (OpenStack on XenServer).
    Rackspace,
}

impl Cloud {
    /// Lower-case name as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
            Cloud::Google => "google",
            Cloud::Openstack => "openstack",
            Cloud::Softlayer => "softlayer",
            Cloud::Alibaba => "alibaba",
            Cloud::Vmware => "vmware",
            Cloud::Rackspace => "rackspace",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parameter a profile declares.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Value when the user gives none; no default means "unset".
    #[serde(default)]
    pub default: Option<String>,
    /// What it means, for `rules list` and `--help`.
    pub help: String,
}

/// A named set of rules with parameters.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `cloudcenter-worker`, …
    pub name: String,
    /// One line.
    pub title: String,
    /// What the profile checks and for whom.
    pub description: String,
    /// Parameters and their defaults.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
}

/// When a rule applies. Every given condition must hold.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Applies {
    /// OS names (`linux`, `windows`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os: Vec<String>,
    /// Distros (`centos`, `rhel`, `ubuntu`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distro: Vec<String>,
    /// Version constraints on major.minor, e.g. `">=7.2"`, `"16.04"` (all must hold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub version: Vec<String>,
    /// Clouds; when set, the rule is skipped without `--cloud` or on other clouds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloud: Vec<Cloud>,
    /// Required parameter values, e.g. `bundle_store: https`; `"*"` means "set to anything".
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

/// How to fix a failure.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// What to do, for people.
    pub text: String,
    /// The `prepare` action that fixes it, when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// One rule, as written in a rules file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, e.g. `python.version`.
    pub id: String,
    /// Profiles the rule belongs to.
    pub profiles: Vec<String>,
    /// One line.
    pub title: String,
    /// How much a failure matters.
    pub severity: Severity,
    /// Why the requirement exists.
    pub rationale: String,
    /// Where the requirement comes from (document and section).
    pub source: String,
    /// When it applies.
    #[serde(default)]
    pub applies: Applies,
    /// How it is checked.
    pub check: Check,
    /// How to fix a failure.
    pub remediation: Remediation,
}

/// One file, one line, one piece of text that shows why a verdict was reached.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    /// Guest path (or `registry:HIVE\key\value`, or a host path for parameters).
    pub path: String,
    /// 1-based line, when the evidence is a line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The line or value.
    pub text: String,
}

impl Evidence {
    /// Evidence from a line of a guest file.
    pub fn line(path: impl Into<String>, line: usize, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: u32::try_from(line).ok(),
            text: text.into(),
        }
    }

    /// Evidence about a whole file or key.
    pub fn file(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            text: text.into(),
        }
    }
}

/// What a probe concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Verdict.
    pub status: Status,
    /// One or two sentences explaining it.
    pub message: String,
    /// What it looked at.
    pub evidence: Vec<Evidence>,
}

impl Outcome {
    /// A verdict with a message and no evidence yet.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    /// Adds evidence.
    pub fn with(mut self, e: impl IntoIterator<Item = Evidence>) -> Self {
        self.evidence.extend(e);
        self
    }
}

/// One rule's result for one image.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleResult {
    /// Rule id.
    pub rule: String,
    /// Verdict.
    pub status: Status,
    /// Rule severity.
    pub severity: Severity,
    /// Rule title.
    pub title: String,
    /// Why this verdict.
    pub message: String,
    /// What was looked at.
    pub evidence: Vec<Evidence>,
    /// How to fix it.
    pub remediation: String,
    /// Whether `imgprep prepare` can fix it.
    pub fixable: bool,
}
