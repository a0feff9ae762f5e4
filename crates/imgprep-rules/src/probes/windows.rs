//! Windows guests: whether cloudbase-init runs user data, and the Rackspace Cloud Servers agent.
//!
//! Where the facts come from:
//! - cloudbase-init's MSI installs into `C:\Program Files\Cloudbase Solutions\Cloudbase-Init`
//!   (`Program Files (x86)` for the 32-bit one) with an Uninstall entry "Cloudbase-Init
//!   VERSION" and the `cloudbase-init` service, whose ImagePath passes
//!   `--config-file …\conf\cloudbase-init.conf`; `conf\cloudbase-init-unattend.conf` is the one
//!   run from sysprep. Both are oslo.config INI files; `plugins` in `[DEFAULT]` is a comma
//!   separated list of plugin classes, and when it is unset cloudbase-init runs its default
//!   list, which includes `cloudbaseinit.plugins.common.userdata.UserDataPlugin`
//!   (`cloudbaseinit/conf/default.py`); the pre-1.0 name
//!   `cloudbaseinit.plugins.windows.userdata.UserDataPlugin` is still mapped to it
//!   (`cloudbaseinit/plugins/factory.py`).
//! - The Rackspace agent is the `RackspaceCloudServersAgent` service (with
//!   `RackspaceCloudServersAgentUpdater`), installed under
//!   `C:\Program Files\Rackspace\Cloud Servers\Agent`, and keeps its settings in
//!   `SOFTWARE\Rackspace` (Rackspace, "Nova-agent (Linux) and Rackspace agent (Windows)",
//!   "Installing nova-agent on Windows").

use imgprep_inspect::Service;
use serde::{Deserialize, Serialize};

use super::generic::open_hive;
use super::text::read_lines;
use crate::eval::Context;
use crate::matrix::os_key;
use crate::model::{Evidence, Outcome, Status};

/// The plugin class that runs user data, and its pre-1.0 name.
const USERDATA_PLUGINS: [&str; 2] = [
    "cloudbaseinit.plugins.common.userdata.UserDataPlugin",
    "cloudbaseinit.plugins.windows.userdata.UserDataPlugin",
];

/// Where the MSI installs cloudbase-init when nothing in the registry says otherwise.
const CBI_DIRS: [&str; 2] = [
    "C:\\Program Files\\Cloudbase Solutions\\Cloudbase-Init",
    "C:\\Program Files (x86)\\Cloudbase Solutions\\Cloudbase-Init",
];

const CBI_SERVICE: &str = "cloudbase-init";
const UNINSTALL: &str = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall";

/// Path components followed when matching a guest path case-insensitively.
const MAX_COMPONENTS: usize = 64;

/// `probe: cloudbase-init-userdata`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudbaseInitUserdata {}

impl CloudbaseInitUserdata {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        let service = find_service(cx, CBI_SERVICE);
        let apps: Vec<&imgprep_inspect::Application> = cx
            .os
            .applications
            .iter()
            .flatten()
            .filter(|a| {
                a.display_name
                    .as_deref()
                    .is_some_and(|d| starts_with_nocase(d, "Cloudbase-Init"))
            })
            .collect();
        let software = open_hive(cx, "SOFTWARE").ok();
        let mut installed: Vec<Evidence> = apps
            .iter()
            .map(|a| {
                Evidence::file(
                    format!("registry:{}", uninstall_key(software.as_ref(), &a.name)),
                    format!(
                        "{}{}",
                        a.display_name.as_deref().unwrap_or(&a.name),
                        a.install_path
                            .as_deref()
                            .map(|p| format!(", installed in {p}"))
                            .unwrap_or_default()
                    ),
                )
            })
            .collect();
        installed.extend(service.map(service_evidence));
        if installed.is_empty() {
            return not_installed(cx);
        }
        let Some(service) = service else {
            return Outcome::new(
                Status::Fail,
                format!(
                    "cloudbase-init is listed as installed but its {CBI_SERVICE} service is \
                     missing: nothing starts it at boot, so user data never runs{}",
                    matrix_note(cx)
                ),
            )
            .with(installed)
            .with([Evidence::file(
                format!("registry:SYSTEM\\CurrentControlSet\\Services\\{CBI_SERVICE}"),
                "no such service",
            )]);
        };
        if service.start.as_deref() == Some("disabled") {
            return Outcome::new(
                Status::Fail,
                format!(
                    "the {CBI_SERVICE} service is disabled, so user data never runs{}",
                    matrix_note(cx)
                ),
            )
            .with(installed);
        }

        // The configuration files: the one the service is started with, the unattend one next
        // to it, then the install directory's (from the Uninstall entry, else the default).
        let mut dirs: Vec<String> = Vec::new();
        let mut files: Vec<String> = Vec::new();
        if let Some(conf) = service.image_path.as_deref().and_then(config_file_arg) {
            if let Some((dir, _)) = conf.rsplit_once('\\') {
                files.push(format!("{dir}\\cloudbase-init-unattend.conf"));
            }
            files.insert(0, conf);
        }
        dirs.extend(apps.iter().filter_map(|a| a.install_path.clone()));
        dirs.extend(CBI_DIRS.iter().map(|d| (*d).to_owned()));
        for d in dirs {
            let d = d.trim_end_matches('\\');
            for f in ["cloudbase-init.conf", "cloudbase-init-unattend.conf"] {
                files.push(format!("{d}\\conf\\{f}"));
            }
        }
        let mut seen: Vec<String> = Vec::new();
        files.retain(|f| {
            let key = f.to_ascii_lowercase();
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });

        let mut read: Vec<(String, Plugins)> = Vec::new();
        let mut evidence = installed;
        let mut problems: Vec<String> = Vec::new();
        for win in &files {
            let Some(path) = guest_path(cx, win) else {
                continue;
            };
            match read_lines(cx.guest, &path) {
                Ok(Some(lines)) => {
                    let p = plugins(&lines.lines);
                    evidence.push(p.evidence(&path));
                    read.push((path, p));
                }
                Ok(None) => {}
                Err(e) => problems.push(format!("{path}: {e}")),
            }
        }
        if read.is_empty() {
            if let Some(p) = problems.first() {
                return Outcome::new(
                    Status::Error,
                    format!("cloudbase-init is installed but its configuration is unreadable: {p}"),
                )
                .with(evidence);
            }
            let looked = files.first().cloned().unwrap_or_default();
            return Outcome::new(
                Status::Fail,
                format!(
                    "cloudbase-init is installed but has no configuration file (looked for \
                     {looked} and the install directory's conf\\cloudbase-init.conf): the \
                     service cannot start without the file it is given"
                ),
            )
            .with(evidence);
        }
        let running: Vec<&(String, Plugins)> =
            read.iter().filter(|(_, p)| p.runs_user_data()).collect();
        if let Some((path, p)) = running.first() {
            let why = match p {
                Plugins::Unset => {
                    "sets no plugins, so cloudbase-init runs its default plugin list, \
                                   which includes UserDataPlugin"
                        .to_owned()
                }
                Plugins::List { .. } => "lists UserDataPlugin in its plugins".to_owned(),
            };
            return Outcome::new(
                Status::Pass,
                format!("cloudbase-init runs user data as a script: {path} {why}"),
            )
            .with(evidence);
        }
        let names: Vec<&str> = read.iter().map(|(p, _)| p.as_str()).collect();
        Outcome::new(
            Status::Fail,
            format!(
                "cloudbase-init is installed but does not run user data: the plugins option of {} \
                 leaves out UserDataPlugin, so the agent's bootstrap script passed as user data \
                 never runs{}",
                names.join(" and "),
                matrix_note(cx)
            ),
        )
        .with(evidence)
    }
}

/// The failure when cloudbase-init is absent, with what the support matrix says about it.
fn not_installed(cx: &Context<'_>) -> Outcome {
    Outcome::new(
        Status::Fail,
        format!(
            "cloudbase-init is not installed (no Cloudbase-Init Uninstall entry, no {CBI_SERVICE} \
             service): nothing runs the user data that dynamic bootstrapping passes as a \
             script{}",
            matrix_note(cx)
        ),
    )
    .with([
        Evidence::file(
            format!("registry:{UNINSTALL}"),
            "no entry whose DisplayName starts with Cloudbase-Init (native or WOW6432Node view)",
        ),
        Evidence::file(
            format!("registry:SYSTEM\\CurrentControlSet\\Services\\{CBI_SERVICE}"),
            "no such service",
        ),
    ])
}

/// The Uninstall key of entry `name`: the native view's, or WOW6432Node's when only that one has
/// it.
fn uninstall_key(software: Option<&imgprep_registry::Hive>, name: &str) -> String {
    let native = format!("{UNINSTALL}\\{name}");
    let wow = format!(
        "SOFTWARE\\WOW6432Node\\{}\\{name}",
        &UNINSTALL["SOFTWARE\\".len()..]
    );
    let has = |path: &str| {
        software.is_some_and(|h| matches!(h.open(&path["SOFTWARE\\".len()..]), Ok(Some(_))))
    };
    if !has(&native) && has(&wow) {
        wow
    } else {
        native
    }
}

/// "; the support matrix …" when the matrix row of this OS carries the cloudbase-init footnote.
fn matrix_note(cx: &Context<'_>) -> String {
    let Some(footnote) = cx.matrix.footnotes.get("cloudbase-init") else {
        return String::new();
    };
    let Some(key) = os_key(cx.os) else {
        return String::new();
    };
    let clouds: Vec<String> = match cx.cloud {
        Some(c) => vec![c.as_str().to_owned()],
        None => cx
            .matrix
            .clouds
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
    };
    let marked: Vec<(String, String)> = match cx.cloud {
        Some(c) => cx
            .matrix
            .cell(c, &key)
            .filter(|cell| cell.notes.contains(footnote))
            .map(|cell| (c.as_str().to_owned(), cell.os_label))
            .into_iter()
            .collect(),
        None => cx
            .matrix
            .clouds
            .iter()
            .filter_map(|c| {
                cx.matrix
                    .cell(*c, &key)
                    .filter(|cell| cell.notes.contains(footnote))
                    .map(|cell| (c.as_str().to_owned(), cell.os_label))
            })
            .collect(),
    };
    let Some((_, label)) = marked.first() else {
        return String::new();
    };
    let on: Vec<&str> = marked.iter().map(|(c, _)| c.as_str()).collect();
    let scope = if on.len() == clouds.len() && cx.cloud.is_none() {
        "every cloud that bootstraps it".to_owned()
    } else {
        on.join(", ")
    };
    format!(
        "; rules/matrix.yaml marks {label} on {scope} with the cloudbase-init footnote: {}",
        footnote.trim()
    )
}

/// The `plugins` option of a cloudbase-init configuration file.
#[derive(Debug, Clone, PartialEq)]
enum Plugins {
    /// No `plugins` in `[DEFAULT]`: the default list, which runs user data.
    Unset,
    /// The last `plugins` line of `[DEFAULT]`: its line number, text and entries.
    List {
        line: usize,
        text: String,
        entries: Vec<String>,
    },
}

impl Plugins {
    fn runs_user_data(&self) -> bool {
        match self {
            Plugins::Unset => true,
            Plugins::List { entries, .. } => entries
                .iter()
                .any(|e| USERDATA_PLUGINS.contains(&e.as_str())),
        }
    }

    fn evidence(&self, path: &str) -> Evidence {
        match self {
            Plugins::Unset => Evidence::file(
                path,
                "no plugins option in [DEFAULT]: the default plugin list, with UserDataPlugin",
            ),
            Plugins::List { line, text, .. } => Evidence::line(path, *line, text.as_str()),
        }
    }
}

/// `plugins` of the `[DEFAULT]` section, as oslo.config reads it: `key = value` or
/// `key: value`, `#` and `;` comments, values continued on indented lines, the last
/// assignment winning.
fn plugins(lines: &[(usize, String)]) -> Plugins {
    let mut section = String::new();
    let mut found = Plugins::Unset;
    let mut current: Option<(usize, String, String)> = None;
    let finish = |cur: &mut Option<(usize, String, String)>, found: &mut Plugins| {
        if let Some((line, text, value)) = cur.take() {
            *found = Plugins::List {
                line,
                text,
                entries: value
                    .split(',')
                    .map(|e| e.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
                    .filter(|e| !e.is_empty())
                    .collect(),
            };
        }
    };
    for (n, raw) in lines {
        let raw = raw.trim_start_matches('\u{feff}');
        let starts_blank = raw.starts_with([' ', '\t']);
        let l = raw.trim();
        if let Some(cur) = current.as_mut()
            && starts_blank
            && !l.is_empty()
        {
            cur.2.push_str(l);
            continue;
        }
        finish(&mut current, &mut found);
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(name) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.trim().to_owned();
            continue;
        }
        if section != "DEFAULT" {
            continue;
        }
        let Some(sep) = l.find(['=', ':']) else {
            continue;
        };
        if l[..sep].trim() == "plugins" {
            current = Some((*n, l.to_owned(), l[sep + 1..].trim().to_owned()));
        }
    }
    finish(&mut current, &mut found);
    found
}

/// The path after `--config-file` in a service command line (quoted or not).
fn config_file_arg(cmdline: &str) -> Option<String> {
    let rest = cmdline.split_once("--config-file")?.1;
    let rest = rest.trim_start_matches(['=', ' ']);
    let path = match rest.strip_prefix('"') {
        Some(q) => q.split('"').next()?,
        None => rest.split_whitespace().next()?,
    };
    (!path.is_empty()).then(|| path.to_owned())
}

/// The guest path of a Windows path on the system drive (`C:\Program Files\…`), each component
/// spelled as stored (Windows names are case-insensitive). `None` for paths on other drives, or
/// when a component does not exist.
pub(crate) fn guest_path(cx: &Context<'_>, win: &str) -> Option<String> {
    let (drive, rest) = win.split_once(':')?;
    if !system_drive(cx).eq_ignore_ascii_case(drive) {
        return None;
    }
    let mut out = String::new();
    for comp in rest
        .split(['\\', '/'])
        .filter(|c| !c.is_empty())
        .take(MAX_COMPONENTS)
    {
        let parent = if out.is_empty() { "/" } else { out.as_str() };
        let name = cx
            .guest
            .read_dir(parent)
            .ok()?
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .find(|n| n.eq_ignore_ascii_case(comp))?;
        out.push('/');
        out.push_str(&name);
    }
    Some(if out.is_empty() { "/".into() } else { out })
}

/// The drive letter of the Windows root (`C` when MountedDevices does not say).
fn system_drive(cx: &Context<'_>) -> String {
    cx.os
        .drive_mappings
        .iter()
        .find(|m| m.dev == cx.os.root)
        .map_or_else(|| "C".to_owned(), |m| m.name.clone())
}

fn starts_with_nocase(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The service of the current control set named `name` (case-insensitive).
fn find_service<'a>(cx: &'a Context<'_>, name: &str) -> Option<&'a Service> {
    cx.os
        .services
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

/// A service as evidence: its registry key, command line and start type.
pub(crate) fn service_evidence(s: &Service) -> Evidence {
    Evidence::file(
        format!("registry:SYSTEM\\CurrentControlSet\\Services\\{}", s.name),
        format!(
            "service {} ({}), start {}",
            s.name,
            s.image_path.as_deref().unwrap_or("no ImagePath"),
            s.start.as_deref().unwrap_or("unknown")
        ),
    )
}

/// The executable a service command line starts: the quoted path, or the text up to the first
/// `.exe`.
fn service_executable(cmdline: &str) -> Option<String> {
    let c = cmdline.trim();
    if let Some(q) = c.strip_prefix('"') {
        return q.split('"').next().map(str::to_owned);
    }
    let lower = c.to_ascii_lowercase();
    let end = lower.find(".exe")?.checked_add(4)?;
    c.get(..end).map(str::to_owned)
}

/// The Rackspace agent's service names.
const RAX_AGENT: &str = "RackspaceCloudServersAgent";
const RAX_UPDATER: &str = "RackspaceCloudServersAgentUpdater";

/// The Windows half of `nova-agent-present`: the Rackspace Cloud Servers agent service, its
/// executable, the updater service and `SOFTWARE\Rackspace`.
pub(crate) fn rackspace_agent(cx: &Context<'_>) -> Outcome {
    let agent = find_service(cx, RAX_AGENT);
    let updater = find_service(cx, RAX_UPDATER);
    let mut ev: Vec<Evidence> = agent
        .into_iter()
        .chain(updater)
        .map(service_evidence)
        .collect();
    let key = match open_hive(cx, "SOFTWARE") {
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
    let exe_found = exe.as_deref().map(|w| (w, guest_path(cx, w)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_owned()))
            .collect()
    }

    fn check(conf: &str, runs: bool, line: Option<usize>) {
        let p = plugins(&lines(conf));
        assert_eq!(p.runs_user_data(), runs, "{conf:?}: {p:?}");
        let got = match &p {
            Plugins::Unset => None,
            Plugins::List { line, .. } => Some(*line),
        };
        assert_eq!(got, line, "{conf:?}");
    }

    #[test]
    fn plugins_lists_read_like_oslo_config() {
        let ud = "cloudbaseinit.plugins.common.userdata.UserDataPlugin";
        let mtu = "cloudbaseinit.plugins.common.mtu.MTUPlugin";
        check("[DEFAULT]\nusername=Admin\n", true, None);
        check(&format!("[DEFAULT]\nplugins={mtu},{ud}\n"), true, Some(2));
        check(&format!("[DEFAULT]\nplugins = {mtu}\n"), false, Some(2));
        check(&format!("[DEFAULT]\nplugins: {mtu}, {ud}\n"), true, Some(2));
        // Continuation lines.
        check(
            &format!("[DEFAULT]\nplugins={mtu},\n  {ud}\nx=1\n"),
            true,
            Some(2),
        );
        // The last assignment wins.
        check(
            &format!("[DEFAULT]\nplugins={ud}\nplugins={mtu}\n"),
            false,
            Some(3),
        );
        // Other sections and comments do not count.
        check(
            &format!("[DEFAULT]\n#plugins={mtu}\n[x]\nplugins={mtu}\n"),
            true,
            None,
        );
        check(
            &format!("[openstack]\nplugins={ud}\n[DEFAULT]\nplugins={mtu}\n"),
            false,
            Some(4),
        );
        // The pre-1.0 class name, a byte order mark, an empty list.
        check(
            "\u{feff}[DEFAULT]\nplugins=cloudbaseinit.plugins.windows.userdata.UserDataPlugin\n",
            true,
            Some(2),
        );
        check("[DEFAULT]\nplugins=\n", false, Some(2));
        // A prefix of the class name is not the plugin.
        check(&format!("[DEFAULT]\nplugins={ud}Extra\n"), false, Some(2));
    }

    #[test]
    fn command_lines_give_the_config_file_and_executable() {
        let cmd = r#""C:\P F\bin\OpenStackService.exe" cloudbase-init "C:\P F\Scripts\cloudbase-init.exe" --config-file "C:\P F\conf\cloudbase-init.conf""#;
        assert_eq!(
            config_file_arg(cmd).as_deref(),
            Some(r"C:\P F\conf\cloudbase-init.conf")
        );
        assert_eq!(
            config_file_arg(r"C:\x.exe --config-file=C:\c.conf --debug").as_deref(),
            Some(r"C:\c.conf")
        );
        assert_eq!(config_file_arg(r"C:\x.exe"), None);
        assert_eq!(
            service_executable(cmd).as_deref(),
            Some(r"C:\P F\bin\OpenStackService.exe")
        );
        assert_eq!(
            service_executable(r"C:\Agent\Agent.Service.EXE -k x").as_deref(),
            Some(r"C:\Agent\Agent.Service.EXE")
        );
        assert_eq!(service_executable("svchost"), None);
    }
}
