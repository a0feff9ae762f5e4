//! Typed remediation actions: what `prepare` can do about a failed rule. A rule file writes one
//! as text (`enable-service:xe-linux-distribution`); it is parsed when the rules load, so an
//! unknown action is a load error naming the file and line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An automated fix, as `remediation.action` of a rule names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum Action {
    /// `inject-worker`: put the management agent (the worker bundle) into the image.
    InjectWorker,
    /// `install-package:NAME`: install a package with the guest's package manager.
    InstallPackage(String),
    /// `install-ca`: add the `--param ca` certificate to the guest's trust store and regenerate
    /// its bundles.
    InstallCa,
    /// `sudoers`: a sudoers drop-in that lets the agent's user run commands as root.
    Sudoers,
    /// `enable-service:UNIT`: start a service at boot (unmasking it where it is masked).
    EnableService(String),
    /// `order-after:UNIT:AFTER`: start UNIT after AFTER (a systemd drop-in, or renumbered rc
    /// links).
    OrderAfter {
        /// The service that must start later.
        unit: String,
        /// The service that must start first.
        after: String,
    },
    /// `scoped-umask`: umask 022 for the agent's install and account only, not system-wide.
    ScopedUmask,
    /// `configure-cloudbase-init`: make cloudbase-init run user data (add UserDataPlugin).
    ConfigureCloudbaseInit,
    /// `registry-delete:HIVE\KEY\VALUE`: delete a registry value.
    RegistryDelete {
        /// `SOFTWARE` or `SYSTEM`.
        hive: String,
        /// Key below the hive root (`CurrentControlSet` is resolved when applied).
        key: String,
        /// Value name.
        value: String,
    },
    /// `registry-set:HIVE\KEY\VALUE=DATA`: set a registry value (a number for DWORDs, else a
    /// string).
    RegistrySet {
        /// `SOFTWARE` or `SYSTEM`.
        hive: String,
        /// Key below the hive root.
        key: String,
        /// Value name.
        value: String,
        /// The data, as written.
        data: String,
    },
}

/// The action names, with the argument each takes, as `rules/README.md` documents them.
pub const ACTIONS: [&str; 10] = [
    "inject-worker",
    "install-package:NAME",
    "install-ca",
    "sudoers",
    "enable-service:UNIT",
    "order-after:UNIT:AFTER",
    "scoped-umask",
    "configure-cloudbase-init",
    "registry-delete:HIVE\\KEY\\VALUE",
    "registry-set:HIVE\\KEY\\VALUE=DATA",
];

fn word(s: &str, what: &str, action: &str) -> Result<String, String> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        return Err(format!(
            "action {action}: {what} {s:?} must be one non-empty word"
        ));
    }
    Ok(s.to_owned())
}

/// `HIVE\KEY…\VALUE` into its three parts; the hive must be SOFTWARE or SYSTEM.
fn registry_path(p: &str, action: &str) -> Result<(String, String, String), String> {
    let (hive, rest) = p
        .split_once('\\')
        .ok_or_else(|| format!("action {action}: expected HIVE\\KEY\\VALUE, found {p:?}"))?;
    if !matches!(hive, "SOFTWARE" | "SYSTEM") {
        return Err(format!(
            "action {action}: the hive must be SOFTWARE or SYSTEM, found {hive:?}"
        ));
    }
    let (key, value) = rest
        .rsplit_once('\\')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("action {action}: expected HIVE\\KEY\\VALUE, found {p:?}"))?;
    Ok((hive.to_owned(), key.to_owned(), value.to_owned()))
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        let none = |a: Action| match arg {
            None => Ok(a),
            Some(_) => Err(format!("action {kind} takes no argument, found {s:?}")),
        };
        let need = |what: &str| {
            arg.filter(|a| !a.is_empty())
                .ok_or_else(|| format!("action {kind} needs {what}: {kind}:{what}"))
        };
        match kind {
            "inject-worker" => none(Action::InjectWorker),
            "install-ca" => none(Action::InstallCa),
            "sudoers" => none(Action::Sudoers),
            "scoped-umask" => none(Action::ScopedUmask),
            "configure-cloudbase-init" => none(Action::ConfigureCloudbaseInit),
            "install-package" => Ok(Action::InstallPackage(word(
                need("NAME")?,
                "package",
                kind,
            )?)),
            "enable-service" => Ok(Action::EnableService(word(need("UNIT")?, "unit", kind)?)),
            "order-after" => {
                let (unit, after) = need("UNIT:AFTER")?
                    .split_once(':')
                    .ok_or_else(|| format!("action {kind} needs UNIT:AFTER, found {s:?}"))?;
                Ok(Action::OrderAfter {
                    unit: word(unit, "unit", kind)?,
                    after: word(after, "unit", kind)?,
                })
            }
            "registry-delete" => {
                let (hive, key, value) = registry_path(need("HIVE\\KEY\\VALUE")?, kind)?;
                Ok(Action::RegistryDelete { hive, key, value })
            }
            "registry-set" => {
                let (path, data) = need("HIVE\\KEY\\VALUE=DATA")?
                    .split_once('=')
                    .ok_or_else(|| format!("action {kind} needs HIVE\\KEY\\VALUE=DATA"))?;
                let (hive, key, value) = registry_path(path, kind)?;
                Ok(Action::RegistrySet {
                    hive,
                    key,
                    value,
                    data: data.to_owned(),
                })
            }
            _ => Err(format!(
                "unknown action {s:?} (known: {})",
                ACTIONS.join(", ")
            )),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::InjectWorker => f.write_str("inject-worker"),
            Action::InstallPackage(p) => write!(f, "install-package:{p}"),
            Action::InstallCa => f.write_str("install-ca"),
            Action::Sudoers => f.write_str("sudoers"),
            Action::EnableService(u) => write!(f, "enable-service:{u}"),
            Action::OrderAfter { unit, after } => write!(f, "order-after:{unit}:{after}"),
            Action::ScopedUmask => f.write_str("scoped-umask"),
            Action::ConfigureCloudbaseInit => f.write_str("configure-cloudbase-init"),
            Action::RegistryDelete { hive, key, value } => {
                write!(f, "registry-delete:{hive}\\{key}\\{value}")
            }
            Action::RegistrySet {
                hive,
                key,
                value,
                data,
            } => write!(f, "registry-set:{hive}\\{key}\\{value}={data}"),
        }
    }
}

impl TryFrom<String> for Action {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Action> for String {
    fn from(a: Action) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_bad_ones_say_why() {
        for s in [
            "inject-worker",
            "install-package:nova-agent",
            "enable-service:xe-linux-distribution",
            "order-after:nova-agent:xe-linux-distribution",
            "registry-delete:SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters\\DisabledComponents",
            "registry-set:SYSTEM\\CurrentControlSet\\Services\\X\\Start=2",
            "scoped-umask",
        ] {
            let a: Action = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        for (s, why) in [
            ("install-agent", "unknown action"),
            ("install-package", "needs NAME"),
            ("install-package:", "needs NAME"),
            ("sudoers:x", "takes no argument"),
            ("order-after:a", "needs UNIT:AFTER"),
            ("registry-delete:HKLM\\X\\Y", "SOFTWARE or SYSTEM"),
            ("registry-delete:SYSTEM\\X", "HIVE\\KEY\\VALUE"),
            ("install-package:a b", "one non-empty word"),
        ] {
            let e = s.parse::<Action>().unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
