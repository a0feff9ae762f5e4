//! Verdicts and the words they are given in: status, severity, cloud, and what a probe
//! concludes (an [`Outcome`] with evidence).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use imgprep_sysconf::Evidence;

/// How much a failure matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.to_string() == s)
            .ok_or_else(|| format!("unknown severity {s:?}"))
    }
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// A fail, warn or error that a waiver accepts; the result's waiver says which and why.
    Waived,
}

impl Status {
    /// All statuses in report order.
    pub const ALL: [Status; 6] = [
        Status::Fail,
        Status::Error,
        Status::Warn,
        Status::Waived,
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
            Status::Waived => "waived",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The clouds the support matrix and rules know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

impl Cloud {
    /// Every cloud, in the order `--help` lists them.
    pub const ALL: [Cloud; 8] = [
        Cloud::Aws,
        Cloud::Azure,
        Cloud::Google,
        Cloud::Openstack,
        Cloud::Softlayer,
        Cloud::Alibaba,
        Cloud::Vmware,
        Cloud::Rackspace,
    ];
}

impl FromStr for Cloud {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cloud::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown cloud {s:?}"))
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
