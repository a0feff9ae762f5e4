//! Rackspace Cloud Servers: nova-agent (its 1.x and 2.x branches) or cloud-init as the
//! alternative on Linux, the Rackspace agent services on Windows.

mod linux;
mod windows;

use imgprep_sysconf::boot::Enablement;
use serde::{Deserialize, Serialize};

use self::linux::{V1_DIR, absent_evidence, cloud_init, find, release_evidence};
use crate::context::Context;
use crate::matrix::os_label;
use crate::probe::Probe;
use crate::verdict::{Evidence, Outcome, Status};
use crate::version::VersionReq;

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
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NovaAgentBranch {
    /// Distros on which a 1.x agent fails.
    pub legacy_fails_on: Vec<String>,
    /// From which versions of them, e.g. `">=7.2"`.
    pub legacy_fails_version: String,
}

impl Probe for NovaAgentBranch {
    fn validate(&self) -> Result<(), String> {
        VersionReq::parse(&self.legacy_fails_version)
            .map(|_| ())
            .map_err(|e| format!("legacy_fails_version: {e}"))
    }

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
        let distro = cx.os.distro.as_deref().unwrap_or("unknown");
        let broken = self.legacy_fails_on.iter().any(|d| d == distro)
            && VersionReq::parse(&self.legacy_fails_version).is_ok_and(|r| r.matches(cx.version()));
        let os = os_label(cx.os);
        if one && broken {
            let graph = cx.boot();
            let notes = graph
                .unit("nova-agent")
                .map(|u| u.notes.clone())
                .unwrap_or_default();
            return Outcome::new(
                Status::Fail,
                format!(
                    "nova-agent 1.x{} on {os}: the December 2015 RHEL/CentOS 7.2 update \
                     (systemd 219) broke the legacy behaviour 1.x relies on, so the agent does \
                     not start; install the 2.x branch{}",
                    f.version(true)
                        .map(|v| format!(" ({v})"))
                        .unwrap_or_default(),
                    if two {
                        " and remove the 1.x files, which still own the service"
                    } else {
                        ""
                    }
                ),
            )
            .with(f.evidence())
            .with(release_evidence(cx))
            .with(notes);
        }
        match (one, two) {
            (true, true) => Outcome::new(
                Status::Warn,
                format!(
                    "both nova-agent branches are installed ({}): the 1.x files can take over \
                     the nova-agent service; remove them",
                    f.describe()
                ),
            )
            .with(f.evidence()),
            (true, false) => Outcome::new(
                Status::Pass,
                format!(
                    "nova-agent {} (the legacy branch) works on {os}; 2.x is the recommended \
                     branch where it is supported",
                    f.describe()
                ),
            )
            .with(f.evidence()),
            (false, true) => Outcome::new(Status::Pass, format!("nova-agent {}", f.describe()))
                .with(f.evidence()),
            (false, false) => Outcome::new(
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
