//! Rules, profiles and results, as they are written in `rules/*.yaml` and reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::check::Check;
use crate::verdict::{Cloud, Evidence, Severity, Status};

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
    pub action: Option<Action>,
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

/// One rule's result for one image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// The action that fixes it, as the rule names it (not part of the JSON report).
    #[serde(skip)]
    pub action: Option<Action>,
    /// The waiver that accepted this result (status `waived`), or an expired one that no longer
    /// does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<crate::waiver::WaiverNote>,
}
