//! The Windows half of `nova-agent-present`, and the agent's version: the Rackspace Cloud
//! Servers agent is the `RackspaceCloudServersAgent` service (with
//! `RackspaceCloudServersAgentUpdater`), installed under `C:\Program Files\Rackspace\Cloud
//! Servers\Agent`, keeping its settings in `SOFTWARE\Rackspace` (Rackspace, "Nova-agent (Linux)
//! and Rackspace agent (Windows)", "Installing nova-agent on Windows"). Its
//! `installagentservice.bat` registers the service with `sc create … binpath=
//! "%CD%\Rackspace.Cloud.Server.Agent.Service.exe"`, so the ImagePath is that unquoted path;
//! the agent reports its own version, and Rackspace's update script compares it, as the
//! executable's `FileVersionInfo.ProductVersion` (rackerlabs/openstack-guest-agents-windows-
//! xenserver, `Actions/VersionChecker.cs`; Update-Xentools.ps1), the version resource's
//! ProductVersion string.

use imgprep_inspect::Service;
use imgprep_sysconf::registry::uninstall_key;
use imgprep_sysconf::windows::{file_version, service_executable};

use crate::context::{Context, service_evidence};
use crate::verdict::{Evidence, Outcome, Status};

/// The Rackspace agent's service names.
pub(super) const RAX_AGENT: &str = "RackspaceCloudServersAgent";
const RAX_UPDATER: &str = "RackspaceCloudServersAgentUpdater";

/// The agent's version and where it was read.
#[derive(Debug, Clone)]
pub(super) struct AgentVersion {
    /// As written (`1.2.9.0`).
    pub text: String,
    /// Its numbers.
    pub numbers: Vec<u32>,
    /// The file or key, and the field.
    pub evidence: Evidence,
    /// Where it came from, for messages ("the executable's version resource (ProductVersion)").
    pub source: String,
}

/// What [`agent_version`] found: the version, or why there is none, with what was looked at.
#[derive(Debug, Clone)]
pub(super) struct VersionLookup {
    pub version: Option<AgentVersion>,
    /// Why the executable's version resource gave no version, when it did not.
    pub pe_note: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// The numbers of a version string (`1.3.1.2`, `1, 2, 9, 0`, `1.3.1 beta`): the leading run of
/// numbers separated by dots or commas.
pub(super) fn version_numbers(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(['.', ',']) {
        let digits: String = part
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let Ok(n) = digits.parse::<u32>() else { break };
        out.push(n);
        if digits.len() != part.trim().len() {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Compares versions as numbers, missing ones counting as 0 (`1.3.1` = `1.3.1.0`).
pub(super) fn compare(a: &[u32], b: &[u32]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// The agent's version: the version resource of the executable its service starts
/// (ProductVersion, as the agent reports itself; else the fixed block's product version),
/// and where the executable has none, the DisplayVersion of a Rackspace agent Uninstall entry.
pub(super) fn agent_version(cx: &Context<'_>, agent: &Service) -> VersionLookup {
    let mut evidence = Vec::new();
    let pe_note: Option<String>;
    let exe = agent.image_path.as_deref().and_then(service_executable);
    match exe.as_deref().map(|w| (w, cx.guest_path(w))) {
        None => {
            pe_note = Some(format!(
                "the service's ImagePath ({}) names no executable",
                agent.image_path.as_deref().unwrap_or("not set")
            ));
        }
        Some((w, None)) => pe_note = Some(format!("its executable {w} is missing")),
        Some((_, Some(path))) => match file_version(cx.guest, &path) {
            Ok(Some(info)) => {
                let fixed = info.fixed.map(|f| {
                    format!(
                        "VS_FIXEDFILEINFO FileVersion {}, ProductVersion {}",
                        f.file_version, f.product_version
                    )
                });
                let from_string = info.string("ProductVersion").and_then(|(table, v)| {
                    let numbers = version_numbers(v)?;
                    Some((
                        v.to_owned(),
                        numbers,
                        format!("StringFileInfo\\{table}\\ProductVersion {v:?}"),
                    ))
                });
                let from_fixed = info.fixed.map(|f| {
                    let v = f.product_version;
                    (
                        v.to_string(),
                        v.0.iter().map(|n| u32::from(*n)).collect(),
                        format!("VS_FIXEDFILEINFO ProductVersion {v}"),
                    )
                });
                match from_string.or(from_fixed) {
                    Some((text, numbers, field)) => {
                        let mut detail = format!("version resource at {:#x}: {field}", info.offset);
                        if let Some(f) = fixed.filter(|_| !field.starts_with("VS_FIXED")) {
                            detail.push_str(&format!(" ({f})"));
                        }
                        let source = if field.starts_with("VS_FIXED") {
                            "the executable's version resource (VS_FIXEDFILEINFO ProductVersion)"
                        } else {
                            "the executable's version resource (ProductVersion)"
                        };
                        return VersionLookup {
                            version: Some(AgentVersion {
                                text,
                                numbers,
                                evidence: Evidence::file(path.as_str(), detail),
                                source: source.to_owned(),
                            }),
                            pe_note: None,
                            evidence,
                        };
                    }
                    None => {
                        evidence.push(Evidence::file(
                            path.as_str(),
                            format!(
                                "version resource at {:#x} has neither a ProductVersion string nor \
                                 a VS_FIXEDFILEINFO block",
                                info.offset
                            ),
                        ));
                        pe_note = Some(format!("{path} has a version resource without a version"));
                    }
                }
            }
            Ok(None) => {
                evidence.push(Evidence::file(
                    path.as_str(),
                    "no version resource (RT_VERSION)",
                ));
                pe_note = Some(format!("{path} has no version resource"));
            }
            Err(e) => {
                evidence.push(Evidence::file(path.as_str(), e.to_string()));
                pe_note = Some(format!(
                    "the version resource of {path} cannot be read ({e})"
                ));
            }
        },
    }
    // The Add/Remove Programs entry of an installer-made install.
    let software = cx.hive("SOFTWARE").ok();
    let entry = cx.os.applications.iter().flatten().find(|a| {
        let name = a.display_name.as_deref().unwrap_or("").to_ascii_lowercase();
        name.contains("rackspace") && name.contains("agent") && !name.contains("updater")
    });
    if let Some(a) = entry {
        let key = format!("registry:{}", uninstall_key(software.as_ref(), &a.name));
        let shown = a.display_name.as_deref().unwrap_or(&a.name);
        match a.version.as_deref() {
            Some(v) => {
                if let Some(numbers) = version_numbers(v) {
                    return VersionLookup {
                        version: Some(AgentVersion {
                            text: v.to_owned(),
                            numbers,
                            evidence: Evidence::file(
                                format!("{key}\\DisplayVersion"),
                                format!("{v:?} (DisplayName {shown:?})"),
                            ),
                            source: "the Uninstall entry's DisplayVersion".to_owned(),
                        }),
                        pe_note,
                        evidence,
                    };
                }
                evidence.push(Evidence::file(
                    format!("{key}\\DisplayVersion"),
                    format!("{v:?} is not a version"),
                ));
            }
            None => evidence.push(Evidence::file(
                key,
                format!("{shown:?} has no DisplayVersion"),
            )),
        }
    } else {
        evidence.push(Evidence::file(
            format!("registry:{}", imgprep_sysconf::registry::UNINSTALL),
            "no Rackspace agent entry (native or WOW6432Node view)",
        ));
    }
    VersionLookup {
        version: None,
        pe_note,
        evidence,
    }
}

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
    let found = agent_version(cx, agent);
    let version = match &found.version {
        Some(v) => {
            ev.push(v.evidence.clone());
            let fallback = found
                .pe_note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default();
            format!(" {} (from {}{fallback})", v.text, v.source)
        }
        None => {
            ev.extend(found.evidence.clone());
            format!(
                " (version unknown: {}, and no Uninstall entry gives one)",
                found.pe_note.as_deref().unwrap_or("no version resource")
            )
        }
    };
    Outcome::new(
        Status::Pass,
        format!(
            "the Rackspace Cloud Servers agent{version} is installed (service {}, start \
             {}){updater_note}",
            agent.name,
            agent.start.as_deref().unwrap_or("unknown")
        ),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn version_strings_and_their_order() {
        for (s, want) in [
            ("1.3.1.2", Some(vec![1, 3, 1, 2])),
            ("1, 2, 9, 0", Some(vec![1, 2, 9, 0])),
            ("1.3.1 beta", Some(vec![1, 3, 1])),
            ("1.3.1b.4", Some(vec![1, 3, 1])),
            ("v1.3", None),
            ("", None),
        ] {
            assert_eq!(version_numbers(s), want, "{s:?}");
        }
        let v = |s: &str| version_numbers(s).unwrap();
        assert_eq!(compare(&v("1.2.9.0"), &v("1.3.1")), Less);
        assert_eq!(compare(&v("1.3.0.3"), &v("1.3.1")), Less);
        assert_eq!(compare(&v("1.3.1"), &v("1.3.1.0")), Equal);
        assert_eq!(compare(&v("1.3.1.1"), &v("1.3.1")), Greater);
        assert_eq!(compare(&v("1.10"), &v("1.3.1")), Greater);
    }
}
