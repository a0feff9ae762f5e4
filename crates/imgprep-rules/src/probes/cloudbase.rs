//! `probe: cloudbase-init-userdata`: cloudbase-init is installed on a Windows guest and its
//! configuration runs user data.
//!
//! cloudbase-init's MSI installs into `C:\Program Files\Cloudbase Solutions\Cloudbase-Init`
//! (`Program Files (x86)` for the 32-bit one) with an Uninstall entry "Cloudbase-Init VERSION"
//! and the `cloudbase-init` service, whose ImagePath passes `--config-file
//! …\conf\cloudbase-init.conf`; `conf\cloudbase-init-unattend.conf` is the one run from
//! sysprep. Both are oslo.config INI files; `plugins` in `[DEFAULT]` is a comma separated list
//! of plugin classes, and when it is unset cloudbase-init runs its default list, which includes
//! `cloudbaseinit.plugins.common.userdata.UserDataPlugin` (`cloudbaseinit/conf/default.py`);
//! the pre-1.0 name `cloudbaseinit.plugins.windows.userdata.UserDataPlugin` is still mapped to
//! it (`cloudbaseinit/plugins/factory.py`).

use imgprep_sysconf::ini;
use imgprep_sysconf::registry::{UNINSTALL, uninstall_key};
use imgprep_sysconf::text::{Lines, read_lines};
use imgprep_sysconf::windows::config_file_arg;
use serde::{Deserialize, Serialize};

use crate::context::{Context, service_evidence};
use crate::matrix::os_key;
use crate::probe::Probe;
use crate::verdict::{Evidence, Outcome, Status};

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

/// `probe: cloudbase-init-userdata`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudbaseInitUserdata {}

impl Probe for CloudbaseInitUserdata {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        let service = cx.service(CBI_SERVICE);
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
        let software = cx.hive("SOFTWARE").ok();
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
            let Some(path) = cx.guest_path(win) else {
                continue;
            };
            match read_lines(cx.guest, &path) {
                Ok(Some(lines)) => {
                    let p = plugins(&lines);
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

/// `plugins` of the `[DEFAULT]` section of a cloudbase-init configuration file, as
/// oslo.config reads it (the last assignment winning).
fn plugins(lines: &Lines) -> Plugins {
    match ini::get(&ini::entries(&lines.lines), "DEFAULT", "plugins") {
        None => Plugins::Unset,
        Some(e) => Plugins::List {
            line: e.line,
            text: e.text.clone(),
            entries: ini::list(&e.value),
        },
    }
}

fn starts_with_nocase(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}
