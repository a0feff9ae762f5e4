//! The Windows half of `nova-agent-present`: the Rackspace Cloud Servers agent is the
//! `RackspaceCloudServersAgent` service (with `RackspaceCloudServersAgentUpdater`), installed
//! under `C:\Program Files\Rackspace\Cloud Servers\Agent`, keeping its settings in
//! `SOFTWARE\Rackspace` (Rackspace, "Nova-agent (Linux) and Rackspace agent (Windows)",
//! "Installing nova-agent on Windows").

use imgprep_sysconf::windows::service_executable;

use crate::context::{Context, service_evidence};
use crate::verdict::{Evidence, Outcome, Status};

/// The Rackspace agent's service names.
const RAX_AGENT: &str = "RackspaceCloudServersAgent";
const RAX_UPDATER: &str = "RackspaceCloudServersAgentUpdater";

/// The Windows half of `nova-agent-present`: the Rackspace Cloud Servers agent service, its
/// executable, the updater service and `SOFTWARE\Rackspace`.
pub(super) fn rackspace_agent(cx: &Context<'_>) -> Outcome {
    let agent = cx.service(RAX_AGENT);
    let updater = cx.service(RAX_UPDATER);
    let mut ev: Vec<Evidence> = agent
        .into_iter()
        .chain(updater)
        .map(service_evidence)
        .collect();
    let key = match cx.hive("SOFTWARE") {
        Ok(h) => match h.open("Rackspace") {
            Ok(Some(k)) => {
                let values: Vec<String> = k
                    .values()
                    .unwrap_or_default()
                    .iter()
                    .map(imgprep_registry::Value::name)
                    .collect();
                let text = if values.is_empty() {
                    "key exists".to_owned()
                } else {
                    format!("key exists, values: {}", values.join(", "))
                };
                ev.push(Evidence::file("registry:SOFTWARE\\Rackspace", text));
                true
            }
            Ok(None) => false,
            Err(e) => {
                ev.push(Evidence::file(
                    "registry:SOFTWARE\\Rackspace",
                    e.to_string(),
                ));
                false
            }
        },
        Err(e) => return Outcome::new(Status::Error, e).with(ev),
    };
    let Some(agent) = agent else {
        let msg = if key {
            "SOFTWARE\\Rackspace exists but the Rackspace Cloud Servers agent service \
             (RackspaceCloudServersAgent) does not: the agent was removed, so servers built from \
             the image keep the image's network settings and Administrator password"
        } else {
            "the Rackspace Cloud Servers agent (the RackspaceCloudServersAgent service) is not \
             installed: servers built from the image keep the image's network settings and \
             Administrator password"
        };
        ev.push(Evidence::file(
            format!("registry:SYSTEM\\CurrentControlSet\\Services\\{RAX_AGENT}"),
            "no such service",
        ));
        return Outcome::new(Status::Fail, msg).with(ev);
    };
    let exe = agent.image_path.as_deref().and_then(service_executable);
    let exe_found = exe.as_deref().map(|w| (w, cx.guest_path(w)));
    if let Some((w, p)) = &exe_found {
        ev.push(match p {
            Some(p) => Evidence::file(p.as_str(), "the agent's executable exists"),
            None => Evidence::file(*w, "missing"),
        });
    }
    if agent.start.as_deref() == Some("disabled") {
        return Outcome::new(
            Status::Fail,
            "the Rackspace Cloud Servers agent service is installed but disabled: it must run at \
             every boot",
        )
        .with(ev);
    }
    if let Some((w, None)) = exe_found {
        return Outcome::new(
            Status::Fail,
            format!(
                "the Rackspace Cloud Servers agent service is registered but its executable {w} \
                 is missing"
            ),
        )
        .with(ev);
    }
    let updater_note = if updater.is_some() {
        ", with its updater"
    } else {
        " (its updater service RackspaceCloudServersAgentUpdater is missing)"
    };
    Outcome::new(
        Status::Pass,
        format!(
            "the Rackspace Cloud Servers agent is installed (service {}, start {}){updater_note}",
            agent.name,
            agent.start.as_deref().unwrap_or("unknown")
        ),
    )
    .with(ev)
}
