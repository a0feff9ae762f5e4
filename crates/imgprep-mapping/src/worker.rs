//! The CloudCenter image-mapping record: OS type, and whether the worker is baked in or is
//! bootstrapped at first boot, per the dynamic-bootstrapping matrix.

use imgprep_rules::{Status, Support, os_key};
use serde::Serialize;

use crate::{Inputs, status_of};

/// How the worker gets onto VMs launched from the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Worker {
    /// The image carries it.
    BakedIn,
    /// The cloud installs it at first boot (dynamic bootstrapping).
    Bootstrap,
    /// Neither: the image must carry it and does not.
    Missing,
}

/// Dynamic bootstrapping of the worker on this cloud and OS.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Bootstrap {
    /// The matrix row (`centos-7`, `windows-2012`, …), when it lists the OS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix_os: Option<String>,
    /// The matrix cell: `yes`, `no`, `depends`, `openlogic`, or `unlisted`.
    pub support: String,
    /// How the bootstrap reaches the VM: the agent installer as user data, run by
    /// `cloud-init` (Linux) or `cloudbase-init` (Windows).
    pub method: String,
    /// Whether the image has what runs the user data (the `cloud-init.present` or
    /// `cloudbase-init.userdata` rule passed).
    pub method_ready: bool,
    /// The matrix's footnotes for this cell.
    pub notes: Vec<String>,
}

/// The record for the platform's image mapping.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CloudCenter {
    /// `Linux` or `Windows`, as the mapping form asks.
    pub os_type: String,
    /// Baked in, bootstrapped, or missing.
    pub worker: Worker,
    /// What the matrix says about bootstrapping (always given, so a baked-in image shows its
    /// fallback too).
    pub bootstrap: Bootstrap,
    /// True when the worker is baked in, or bootstrapping is supported and its method is ready.
    pub ready: bool,
    /// Why, in one sentence.
    pub reason: String,
}

pub(crate) fn record(inputs: &Inputs<'_>) -> CloudCenter {
    let os = inputs.os;
    let cloud = inputs.cloud;
    let windows = os.name.as_deref() == Some("windows");
    let key = os_key(os);
    let cell = key.as_deref().and_then(|k| inputs.matrix.cell(cloud, k));
    let (method, method_rule) = if windows {
        ("cloudbase-init user data", "cloudbase-init.userdata")
    } else {
        ("cloud-init user data", "cloud-init.present")
    };
    let method_ready = status_of(inputs.results, method_rule) == Some(Status::Pass);
    let support = match cell.as_ref().map(|c| c.support) {
        Some(Support::Yes) => "yes",
        Some(Support::No) => "no",
        Some(Support::Depends) => "depends",
        Some(Support::Openlogic) => "openlogic",
        None => "unlisted",
    };
    let bootstrap = Bootstrap {
        matrix_os: key.clone(),
        support: support.into(),
        method: method.into(),
        method_ready,
        notes: cell.as_ref().map(|c| c.notes.clone()).unwrap_or_default(),
    };
    let label = cell
        .as_ref()
        .map(|c| c.os_label.clone())
        .unwrap_or_else(|| {
            format!(
                "{} {}",
                os.distro.as_deref().unwrap_or("this OS"),
                crate::os_version(os)
            )
        });
    let baked = status_of(inputs.results, "agent.present") == Some(Status::Pass);
    let (worker, ready, reason) = if baked {
        (
            Worker::BakedIn,
            true,
            // The rule says how: installed, or (Windows) its installer pending at first boot.
            format!(
                "the image carries the worker (agent.present passed: {})",
                inputs
                    .results
                    .iter()
                    .find(|r| r.rule == "agent.present")
                    .map_or("", |r| r.message.as_str())
            ),
        )
    } else {
        match cell.as_ref().map(|c| c.support) {
            Some(Support::No) | None => (
                Worker::Missing,
                false,
                format!(
                    "the image lacks the worker and {cloud} cannot bootstrap {label} ({}): \
                     inject it with imgprep prepare --profile cloudcenter-worker --worker BUNDLE",
                    if cell.is_some() {
                        "the matrix says no"
                    } else {
                        "the matrix does not list it"
                    }
                ),
            ),
            Some(s) if method_ready => (
                Worker::Bootstrap,
                true,
                format!(
                    "{cloud} bootstraps {label} ({}) through {method}",
                    if s == Support::Yes {
                        "supported".to_owned()
                    } else {
                        support.to_owned()
                    }
                ),
            ),
            Some(_) => (
                Worker::Bootstrap,
                false,
                format!(
                    "{cloud} bootstraps {label} through {method}, but the rule {method_rule} did \
                     not pass: fix it first (imgprep check --profile cloudcenter-worker)"
                ),
            ),
        }
    };
    CloudCenter {
        os_type: if windows { "Windows" } else { "Linux" }.into(),
        worker,
        bootstrap,
        ready,
        reason,
    }
}
