//! Probes: the checks a rule can name. Generic ones (`file-exists`, `file-matches`, `package`,
//! `registry-value`) let users write their own rules; specialised ones implement requirements
//! that need real parsing (umask resolution, boot order, the support matrix).

mod agent;
mod boot;
mod cloudify;
mod generic;
mod image;
mod python;
mod rackspace;
mod text;
mod trust;
pub(crate) mod umask;
mod windows;

use serde::{Deserialize, Serialize};

use crate::eval::Context;
use crate::model::Outcome;

pub(crate) use text::read_lines;

/// How a rule is checked: `probe:` names the probe, the other keys are its parameters.
/// Strings may name profile parameters as `{name}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "probe", rename_all = "kebab-case")]
pub enum Check {
    /// Passes when any (or, with `all: true`, every) path exists in the guest.
    FileExists(generic::FileExists),
    /// Passes when a line of the file matches the regular expression.
    FileMatches(generic::FileMatches),
    /// Passes when one of the packages is installed (at least `min_version`, when given).
    Package(generic::Package),
    /// Passes when a registry value exists (and equals `equals`, when given), or has none of
    /// the `not_equals` values (unset counts).
    RegistryValue(generic::RegistryValue),
    /// The management agent's markers, with the support matrix deciding how bad absence is.
    AgentPresent(agent::AgentPresent),
    /// The (cloud, OS) dynamic-bootstrapping support matrix.
    BootstrapSupported(agent::BootstrapSupported),
    /// A Python at least `min` (2.7.9 by default), or the RHEL 7 back-port of its ssl features.
    PythonVersion(python::PythonVersion),
    /// A Python 2 interpreter (Ubuntu 16.04 ships only Python 3).
    Python2(python::Python2),
    /// The CA certificate given as `--param ca=FILE` is in the guest's trust store.
    CaTrusted(trust::CaTrusted),
    /// The user, when it exists, may run commands as root through sudo.
    UserSudo(trust::UserSudo),
    /// nova-agent (1.x or 2.x) is installed, or cloud-init with the metadata that replaces it.
    NovaAgentPresent(rackspace::NovaAgentPresent),
    /// The nova-agent branch, failing 1.x where the OS update broke it.
    NovaAgentBranch(rackspace::NovaAgentBranch),
    /// Any of the services starts at boot (systemd, SysV rc or upstart).
    ServiceEnabled(boot::ServiceEnabled),
    /// The boot order starts one of `first` before `then`.
    BootOrder(boot::BootOrder),
    /// Persistent tun/tap devices or VPN services (nova-agent crashes on them).
    TunTap(rackspace::TunTap),
    /// The umask root-run installs and logins get (`expect`, e.g. `022`), resolved from
    /// login.defs, PAM and the shell startup files.
    Umask(umask::Umask),
    /// The Cloudify agent's virtualenv (bin/python, activate, marker, `cloudify_agent`).
    CloudifyAgentVenv(cloudify::CloudifyAgentVenv),
    /// The interpreter the Cloudify agent's virtualenv was made from exists and is supported.
    CloudifyAgentPython(cloudify::CloudifyAgentPython),
    /// Every plugin of the agent's `included_plugins.py` is installed in its virtualenv.
    CloudifyAgentPlugins(cloudify::CloudifyAgentPlugins),
    /// cloudbase-init is installed and its configuration runs user data (UserDataPlugin).
    CloudbaseInitUserdata(windows::CloudbaseInitUserdata),
    /// Every disk is one file: no backing file or parent, no extent in another file.
    SelfContained(image::SelfContained),
}

impl Check {
    /// Runs the probe.
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        match self {
            Check::FileExists(p) => p.run(cx),
            Check::SelfContained(p) => p.run(cx),
            Check::FileMatches(p) => p.run(cx),
            Check::Package(p) => p.run(cx),
            Check::RegistryValue(p) => p.run(cx),
            Check::AgentPresent(p) => p.run(cx),
            Check::BootstrapSupported(p) => p.run(cx),
            Check::PythonVersion(p) => p.run(cx),
            Check::Python2(p) => p.run(cx),
            Check::CaTrusted(p) => p.run(cx),
            Check::UserSudo(p) => p.run(cx),
            Check::NovaAgentPresent(p) => p.run(cx),
            Check::NovaAgentBranch(p) => p.run(cx),
            Check::ServiceEnabled(p) => p.run(cx),
            Check::BootOrder(p) => p.run(cx),
            Check::TunTap(p) => p.run(cx),
            Check::Umask(p) => p.run(cx),
            Check::CloudifyAgentVenv(p) => p.run(cx),
            Check::CloudifyAgentPython(p) => p.run(cx),
            Check::CloudifyAgentPlugins(p) => p.run(cx),
            Check::CloudbaseInitUserdata(p) => p.run(cx),
        }
    }

    /// Checks the parameters that can be checked without an image (patterns compile, …).
    pub(crate) fn validate(&self) -> Result<(), String> {
        match self {
            Check::FileMatches(p) => p.validate(),
            Check::Package(p) => p.validate(),
            Check::NovaAgentBranch(p) => p.validate(),
            Check::ServiceEnabled(p) => p.validate(),
            Check::BootOrder(p) => p.validate(),
            Check::Umask(p) => p.validate(),
            _ => Ok(()),
        }
    }

    /// Profile parameters the check reads: `{name}` references and implicit ones.
    pub(crate) fn params_used(&self) -> Vec<String> {
        let text = format!("{self:?}");
        let mut out: Vec<String> = text
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .map(str::to_owned)
            .collect();
        if let Check::CaTrusted(_) = self {
            out.push("ca".into());
        }
        out.sort();
        out.dedup();
        out
    }
}
