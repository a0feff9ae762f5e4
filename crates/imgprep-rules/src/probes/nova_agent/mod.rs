//! Rackspace Cloud Servers: nova-agent (its 1.x and 2.x branches) or cloud-init as the
//! alternative on Linux, the Rackspace agent services and the agent's version on Windows.

mod linux;
mod windows;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use imgprep_sysconf::boot::Enablement;
use serde::{Deserialize, Serialize};

use self::linux::{V1_DIR, absent_evidence, cloud_init, find, release_evidence};
use crate::context::Context;
use crate::matrix::os_label;
use crate::probe::Probe;
use crate::verdict::{Evidence, Outcome, Status};

/// `probe: nova-agent-present`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NovaAgentPresent {}

impl Probe for NovaAgentPresent {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return windows::rackspace_agent(cx);
        }
        let f = find(cx);
        if f.installed() {
            let graph = cx.boot();
            if let Enablement::Missing(_) = graph.enablement("nova-agent") {
                return Outcome::new(
                    Status::Fail,
                    format!(
                        "nova-agent {} is installed, but no systemd unit, init script or \
                         upstart job named nova-agent exists to start it ({})",
                        f.describe(),
                        graph.init.name()
                    ),
                )
                .with(f.evidence())
                .with([graph.init_evidence.clone()]);
            }
            return Outcome::new(
                Status::Pass,
                format!("nova-agent {} is installed", f.describe()),
            )
            .with(f.evidence());
        }
        let ci = cloud_init(cx);
        if !ci.is_empty() {
            return Outcome::new(
                Status::Warn,
                "nova-agent is not installed, but cloud-init is: build the image with the \
                 metadata img_config_drive=mandatory (always attach the config drive cloud-init \
                 reads), vm_mode=hvm (boot in HVM mode, not PV) and xenapi_use_agent=False (do \
                 not wait for nova-agent before marking the server ACTIVE)",
            )
            .with(absent_evidence(cx))
            .with(ci);
        }
        Outcome::new(
            Status::Fail,
            "neither nova-agent nor cloud-init is installed: servers built from this image get \
             no root password, network configuration or RHEL registration from the Rackspace API",
        )
        .with(absent_evidence(cx))
        .with([Evidence::file(
            "/usr/bin/cloud-init",
            "missing (no cloud-init)",
        )])
    }
}

/// `probe: nova-agent-branch`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NovaAgentBranch {}

impl Probe for NovaAgentBranch {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the 1.x and 2.x branches are Linux agents");
        }
        let f = find(cx);
        if !f.installed() {
            return Outcome::new(
                Status::Skip,
                "nova-agent is not installed (nova-agent.present reports it)",
            );
        }
        let (one, two) = f.branches();
        if one {
            return legacy(cx, &f, two);
        }
        match (one, two) {
            (false, true) => Outcome::new(Status::Pass, format!("nova-agent {}", f.describe()))
                .with(f.evidence()),
            _ => Outcome::new(
                Status::Warn,
                format!(
                    "cannot tell the nova-agent branch: no 1.x install directory under {V1_DIR}, \
                     no novaagent Python package, and the package version ({}) does not say",
                    f.packages
                        .iter()
                        .map(|(v, _)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with(f.evidence()),
        }
    }
}

/// A 1.x agent: it fails where this systemd's sysv-generator skips its symlinked init script
/// (the agent never starts); elsewhere it runs, but Rackspace recommends 2.x and supports no
/// GitHub install, and advises building a new image with 2.x over upgrading 1.x in place.
fn legacy(cx: &Context<'_>, f: &linux::Found, two: bool) -> Outcome {
    let graph = cx.boot();
    let os = os_label(cx.os);
    let version = f
        .version(true)
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    let both = if two {
        " Both branches are installed: the 1.x files still own the nova-agent service."
    } else {
        ""
    };
    if let Some(skip) = graph.skipped_script("nova-agent") {
        return Outcome::new(
            Status::Fail,
            format!(
                "nova-agent 1.x{version} on {os}: its init script is a symlink, and this \
                 systemd's sysv-generator skips symlinked scripts (the RHEL/CentOS 7.2 systemd \
                 219 of December 2015, before its fix), so no nova-agent.service exists and the \
                 agent never starts; build a new image with the 2.x branch{both}"
            ),
        )
        .with(f.evidence())
        .with([skip.clone()])
        .with(release_evidence(cx));
    }
    let notes: Vec<Evidence> = graph
        .unit("nova-agent")
        .map(|u| {
            u.notes
                .iter()
                .filter(|e| e.text.contains("a symlink"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let unknown = if notes.iter().any(|e| e.text.contains("unknown")) {
        " The package database does not give the systemd version: were it RHEL/CentOS 7.2's \
         systemd before its fix, the agent would not start at all."
    } else {
        ""
    };
    Outcome::new(
        Status::Warn,
        format!(
            "nova-agent 1.x{version} (the legacy branch, installed from GitHub) on {os}: it \
             starts here, but Rackspace recommends the 2.x branch and does not support GitHub \
             installs; build a new image with 2.x rather than upgrading 1.x in place.{both}{unknown}"
        ),
    )
    .with(f.evidence())
    .with(notes)
}

/// `probe: rackspace-agent-version`: the Windows agent is at least `min_version`; below it the
/// rule warns, and fails when the profile parameters match `fail_when`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RackspaceAgentVersion {
    /// The first version that works (`1.3.1`).
    pub min_version: String,
    /// Profile parameter values under which an older agent fails instead of warning (as
    /// `applies.params` writes them; `"*"` means "set to anything").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fail_when: BTreeMap<String, String>,
}

impl RackspaceAgentVersion {
    /// `--param k=v` for each `fail_when` that holds, or `None` when one does not.
    fn strict(&self, cx: &Context<'_>) -> Option<String> {
        if self.fail_when.is_empty() {
            return None;
        }
        let mut shown = Vec::new();
        for (k, want) in &self.fail_when {
            let v = cx.param(k)?;
            if want != "*" && v != want {
                return None;
            }
            shown.push(format!("{k}={v}"));
        }
        Some(shown.join(", "))
    }
}

impl Probe for RackspaceAgentVersion {
    fn validate(&self) -> Result<(), String> {
        windows::version_numbers(&self.min_version)
            .map(|_| ())
            .ok_or_else(|| format!("min_version {:?} is not a version", self.min_version))
    }

    fn named_params(&self) -> Vec<String> {
        self.fail_when.keys().cloned().collect()
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if !cx.is_windows() {
            return Outcome::new(Status::Skip, "the Rackspace agent is the Windows agent");
        }
        let Some(agent) = cx.service(windows::RAX_AGENT) else {
            return Outcome::new(
                Status::Skip,
                "the Rackspace Cloud Servers agent is not installed (nova-agent.present reports it)",
            );
        };
        let min = windows::version_numbers(&self.min_version).unwrap_or_default();
        let strict = self.strict(cx);
        let found = windows::agent_version(cx, agent);
        let Some(v) = found.version else {
            let why = found
                .pe_note
                .unwrap_or_else(|| "no version resource".into());
            let (status, tail) = match &strict {
                Some(p) => (
                    Status::Error,
                    format!("with {p} an agent older than {} fails", self.min_version),
                ),
                None => (
                    Status::Warn,
                    format!(
                        "agents older than {} do not work with RackConnect v3",
                        self.min_version
                    ),
                ),
            };
            return Outcome::new(
                status,
                format!(
                    "cannot tell the Rackspace agent's version: {why}, and no Uninstall entry \
                     gives one; {tail}"
                ),
            )
            .with(found.evidence);
        };
        let from = match &found.pe_note {
            Some(note) => format!("{} ({note})", v.source),
            None => v.source.clone(),
        };
        let mut ev = vec![v.evidence.clone()];
        ev.extend(found.evidence);
        if windows::compare(&v.numbers, &min) != Ordering::Less {
            return Outcome::new(
                Status::Pass,
                format!(
                    "the Rackspace agent is {} (from {from}), {} or later",
                    v.text, self.min_version
                ),
            )
            .with(ev);
        }
        let why = format!(
            "the Rackspace agent is {} (from {from}), older than {}: versions before {} do not \
             work with RackConnect v3 (the agent cannot create the virtual NICs with the Cloud \
             Network names)",
            v.text, self.min_version, self.min_version
        );
        match strict {
            Some(p) => Outcome::new(
                Status::Fail,
                format!("{why}, and {p} says the servers use it"),
            )
            .with(ev),
            None => Outcome::new(
                Status::Warn,
                format!("{why}; servers that do not use RackConnect v3 are not affected"),
            )
            .with(ev),
        }
    }
}
