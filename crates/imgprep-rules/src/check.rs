//! The probe registry: every probe a rule can name, one line each. From it come the rule
//! file's `check:` syntax (`probe: NAME` plus the probe's parameters), dispatch to the
//! [`Probe`] trait, and the declared parameter references.

use serde::{Deserialize, Serialize};

use crate::probe::Probe;
use crate::probes::{
    agent, boot, cloudbase, cloudify, generic, image, nova_agent, python, sudo, trust, tun_tap,
    umask,
};

macro_rules! registry {
    ($( $variant:ident = $name:literal => $ty:path, )*) => {
        /// How a rule is checked: `probe:` names the probe, the other keys are its parameters.
        /// Strings the probe declares as templates may name profile parameters as `{name}`.
        #[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
        #[serde(tag = "probe")]
        pub enum Check {
            $(
                #[doc = concat!("`probe: ", $name, "`.")]
                #[serde(rename = $name)]
                $variant($ty),
            )*
        }

        impl Check {
            /// The probe.
            pub fn probe(&self) -> &dyn Probe {
                match self {
                    $( Check::$variant(p) => p, )*
                }
            }

            /// The probe's name, as `probe:` writes it.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Check::$variant(_) => $name, )*
                }
            }
        }

        /// Every probe name, in registry order.
        pub const PROBES: &[&str] = &[$( $name, )*];
    };
}

registry! {
    FileExists = "file-exists" => generic::FileExists,
    FileMatches = "file-matches" => generic::FileMatches,
    Package = "package" => generic::Package,
    RegistryValue = "registry-value" => generic::RegistryValue,
    ServiceEnabled = "service-enabled" => boot::ServiceEnabled,
    BootOrder = "boot-order" => boot::BootOrder,
    AgentPresent = "agent-present" => agent::AgentPresent,
    BootstrapSupported = "bootstrap-supported" => agent::BootstrapSupported,
    PythonVersion = "python-version" => python::PythonVersion,
    Python2 = "python2" => python::Python2,
    CaTrusted = "ca-trusted" => trust::CaTrusted,
    UserSudo = "user-sudo" => sudo::UserSudo,
    Umask = "umask" => umask::Umask,
    NovaAgentPresent = "nova-agent-present" => nova_agent::NovaAgentPresent,
    NovaAgentBranch = "nova-agent-branch" => nova_agent::NovaAgentBranch,
    RackspaceAgentVersion = "rackspace-agent-version" => nova_agent::RackspaceAgentVersion,
    TunTap = "tun-tap" => tun_tap::TunTap,
    CloudifyAgentVenv = "cloudify-agent-venv" => cloudify::CloudifyAgentVenv,
    CloudifyAgentPython = "cloudify-agent-python" => cloudify::CloudifyAgentPython,
    CloudifyAgentPlugins = "cloudify-agent-plugins" => cloudify::CloudifyAgentPlugins,
    CloudbaseInitUserdata = "cloudbase-init-userdata" => cloudbase::CloudbaseInitUserdata,
    SelfContained = "self-contained" => image::SelfContained,
}

impl Check {
    /// Profile parameters the check reads: its templates' `{name}` references, the ones its
    /// fields name and the ones it reads implicitly, sorted.
    pub fn params_used(&self) -> Vec<String> {
        let p = self.probe();
        let mut out: Vec<String> = p.templates().iter().flat_map(|t| t.refs()).collect();
        out.extend(p.implicit_params().iter().map(|s| (*s).to_owned()));
        out.extend(p.named_params());
        out.sort();
        out.dedup();
        out
    }

    /// The check as a rule file writes it (YAML).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("probe: {} ({e})", self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first-column names of `rules/README.md`'s tables under `heading`.
    fn documented(heading: &str) -> Vec<String> {
        let readme = include_str!("../../../rules/README.md");
        let section = readme
            .split("\n## ")
            .find(|s| s.starts_with(heading))
            .unwrap_or_else(|| panic!("no section {heading}"));
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| {
                let first = l.split(" | ").next().unwrap_or("");
                first
                    .split('`')
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 1)
                    .map(|(_, n)| n.replace("\\\\", "\\"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn readme_documents_exactly_the_probes_and_actions() {
        let mut probes = documented("Probes");
        probes.sort();
        let mut want: Vec<String> = PROBES.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(probes, want);
        let mut actions = documented("Actions");
        actions.sort();
        let mut want: Vec<String> = crate::ACTIONS.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(actions, want);
    }

    #[test]
    fn checks_print_as_rule_files_write_them() {
        let c: Check =
            serde_saphyr::from_str("probe: boot-order\nfirst: [a, b]\nthen: '{x}'\n").unwrap();
        let y = c.to_yaml();
        assert!(y.starts_with("probe: boot-order\n"), "{y}");
        assert!(
            y.contains("then: '{x}'") || y.contains("then: \"{x}\""),
            "{y}"
        );
        assert_eq!(serde_saphyr::from_str::<Check>(&y).unwrap(), c);
        assert_eq!(c.params_used(), ["x"]);
    }
}
