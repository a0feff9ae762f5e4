//! Probes: the checks a rule can name. Generic ones (`file-exists`, `file-matches`, `package`,
//! `registry-value`) let users write their own rules; specialised ones implement requirements
//! that need real parsing (umask resolution, boot order, the support matrix).

mod agent;
mod generic;
mod python;
mod text;
mod trust;

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
    /// Passes when a registry value exists (and equals `equals`, when given).
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
}

impl Check {
    /// Runs the probe.
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        match self {
            Check::FileExists(p) => p.run(cx),
            Check::FileMatches(p) => p.run(cx),
            Check::Package(p) => p.run(cx),
            Check::RegistryValue(p) => p.run(cx),
            Check::AgentPresent(p) => p.run(cx),
            Check::BootstrapSupported(p) => p.run(cx),
            Check::PythonVersion(p) => p.run(cx),
            Check::Python2(p) => p.run(cx),
            Check::CaTrusted(p) => p.run(cx),
            Check::UserSudo(p) => p.run(cx),
        }
    }

    /// Checks the parameters that can be checked without an image (patterns compile, …).
    pub(crate) fn validate(&self) -> Result<(), String> {
        match self {
            Check::FileMatches(p) => p.validate(),
            Check::Package(p) => p.validate(),
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
