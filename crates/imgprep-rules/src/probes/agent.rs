//! The management agent and the dynamic-bootstrapping matrix.
//!
//! On Windows the agent may also be on its way: an installer that the first-boot service
//! (rhsrvany, as virt-customize and `imgprep prepare --worker` set it up) runs when the guest
//! first boots. Such a pending install passes, with the evidence that it will run: the image is
//! ready to map, since the agent is installed before the platform first talks to the VM, with no
//! network and no bootstrapping by the cloud. An install that is set up but cannot run (the
//! service disabled, a file missing) fails with what is wrong.

use imgprep_sysconf::firstboot;
use serde::{Deserialize, Serialize};

use crate::context::{Context, service_evidence};
use crate::matrix::{Cell, Support, os_key, os_label};
use crate::probe::{Probe, Template};
use crate::verdict::{Cloud, Evidence, Outcome, Status};

/// `probe: agent-present`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentPresent {
    /// Linux marker paths, `:`-separated after parameter expansion; any one present passes.
    pub linux: Template,
    /// Windows service names, `,`-separated after parameter expansion; any one present passes.
    pub windows: Template,
}

impl Probe for AgentPresent {
    fn templates(&self) -> Vec<&Template> {
        vec![&self.linux, &self.windows]
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        let (found, looked): (Vec<Evidence>, Vec<String>) = if cx.is_windows() {
            let wanted: Vec<String> = split(&self.windows.expand(cx), ',');
            let found = cx
                .os
                .services
                .iter()
                .filter(|s| wanted.iter().any(|w| w.eq_ignore_ascii_case(&s.name)))
                .map(service_evidence)
                .collect();
            (
                found,
                wanted.iter().map(|w| format!("service {w}")).collect(),
            )
        } else {
            let wanted = split(&self.linux.expand(cx), ':');
            let found = wanted
                .iter()
                .filter(|p| matches!(cx.guest.stat(p), Ok(Some(_))))
                .map(|p| Evidence::file(p.as_str(), "exists"))
                .collect();
            (found, wanted)
        };
        if !found.is_empty() {
            return Outcome::new(Status::Pass, "the management agent is installed").with(found);
        }
        let mut ran = Vec::new();
        if cx.is_windows() {
            match first_boot_install(cx) {
                FirstBoot::Pending(o) => return o,
                FirstBoot::Ran(ev) => ran = ev,
                FirstBoot::None => {}
            }
        }
        let missing = format!(
            "no management agent found (looked for {}{})",
            looked.join(", "),
            if ran.is_empty() {
                ""
            } else {
                "; its first-boot install ran already, see its log"
            }
        );
        let looked_ev: Vec<Evidence> = looked
            .iter()
            .map(|l| match l.strip_prefix("service ") {
                Some(s) => Evidence::file(
                    format!("registry:SYSTEM\\CurrentControlSet\\Services\\{s}"),
                    "no such service",
                ),
                None => Evidence::file(l.as_str(), "missing"),
            })
            .chain(ran)
            .collect();
        let Some(cloud) = cx.cloud else {
            return Outcome::new(
                Status::Fail,
                format!(
                    "{missing}; without --cloud imgprep cannot tell whether the platform can \
                     install it at first boot"
                ),
            )
            .with(looked_ev);
        };
        let key = os_key(cx.os);
        match key.as_deref().and_then(|k| cx.matrix.cell(cloud, k)) {
            Some(cell) if cell.support != Support::No => Outcome::new(
                Status::Warn,
                format!(
                    "{missing}; {cloud} bootstraps {} dynamically ({}), so the platform can push \
                     the agent at provisioning{}",
                    cell.os_label,
                    cell.support.label(),
                    notes_suffix(&cell)
                ),
            )
            .with(looked_ev.clone())
            .with([matrix_evidence(cx, cloud, &cell)]),
            Some(cell) => Outcome::new(
                Status::Fail,
                format!(
                    "{missing}, and {cloud} cannot bootstrap {} dynamically: the image must carry \
                     the agent",
                    cell.os_label
                ),
            )
            .with(looked_ev.clone())
            .with([matrix_evidence(cx, cloud, &cell)]),
            None => Outcome::new(
                Status::Fail,
                format!(
                    "{missing}, and the support matrix does not list {} on {cloud}: the image \
                     must carry the agent",
                    os_label(cx.os)
                ),
            )
            .with(looked_ev)
            .with([unlisted_evidence(cx)]),
        }
    }
}

/// `probe: bootstrap-supported`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSupported {}

impl Probe for BootstrapSupported {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        let Some(cloud) = cx.cloud else {
            return Outcome::new(Status::Skip, "no --cloud given: the matrix is per cloud");
        };
        if !cx.matrix.clouds.contains(&cloud) {
            return Outcome::new(
                Status::Warn,
                format!(
                    "the support matrix does not list {cloud}: dynamic bootstrapping is unproven"
                ),
            );
        }
        let Some(key) = os_key(cx.os) else {
            return Outcome::new(
                Status::Warn,
                format!(
                    "the support matrix does not list {}: dynamic bootstrapping on {cloud} is \
                     unproven",
                    os_label(cx.os)
                ),
            )
            .with([unlisted_evidence(cx)]);
        };
        let Some(cell) = cx.matrix.cell(cloud, &key) else {
            return Outcome::new(
                Status::Warn,
                format!("the support matrix has no entry for {key} on {cloud}"),
            );
        };
        let ev = matrix_evidence(cx, cloud, &cell);
        // SoftLayer fetches the bootstrap scripts over HTTPS only.
        if cell.support == Support::Yes
            && cloud == Cloud::Softlayer
            && cx.param("bundle_store") != Some("https")
        {
            return Outcome::new(
                Status::Fail,
                format!(
                    "{cloud} bootstraps {} only from an HTTPS bundle store; bundle_store is {}",
                    cell.os_label,
                    cx.param("bundle_store").unwrap_or("unset")
                ),
            )
            .with([ev]);
        }
        let verdict = match cell.support {
            Support::Yes => "supports",
            Support::No => "does not support",
            Support::Depends => "supports, depending on the setup,",
            Support::Openlogic => "supports, with Openlogic images only,",
        };
        Outcome::new(
            cell.support.status(),
            format!(
                "{cloud} {verdict} dynamic bootstrapping of {}{}",
                cell.os_label,
                notes_suffix(&cell)
            ),
        )
        .with([ev])
    }
}

fn notes_suffix(cell: &Cell) -> String {
    if cell.notes.is_empty() {
        String::new()
    } else {
        format!(". Note: {}", cell.notes.join(" "))
    }
}

fn matrix_evidence(cx: &Context<'_>, cloud: Cloud, cell: &Cell) -> Evidence {
    Evidence::file(
        "rules/matrix.yaml",
        format!(
            "{} on {cloud}: {} (source: {})",
            cell.os_label,
            cell.support.label(),
            cx.matrix.source
        ),
    )
}

fn unlisted_evidence(cx: &Context<'_>) -> Evidence {
    let rows: Vec<&str> = cx.matrix.rows.iter().map(|r| r.label.as_str()).collect();
    Evidence::file(
        "rules/matrix.yaml",
        format!("no row for {}; rows: {}", os_label(cx.os), rows.join(", ")),
    )
}

fn split(s: &str, sep: char) -> Vec<String> {
    s.split(sep)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the first-boot service holds for the agent.
enum FirstBoot {
    /// An install of the agent waits for the first boot: the verdict.
    Pending(Outcome),
    /// An install of the agent ran at an earlier boot (its scripts are done): evidence.
    Ran(Vec<Evidence>),
    /// No first-boot install of the agent.
    None,
}

/// A first-boot install of the agent: a script waiting in the first-boot directory that declares
/// the agent it installs, the installer it names, an automatic rhsrvany service that runs
/// `firstboot.bat`, and that batch file, all present.
fn first_boot_install(cx: &Context<'_>) -> FirstBoot {
    let dir = firstboot::dir(cx.guest);
    let scripts = firstboot::scripts(cx.guest, &dir);
    let win = |p: &str| imgprep_sysconf::windows::windows_path(&cx.system_drive(), p);
    let ran: Vec<Evidence> = scripts
        .iter()
        .filter(|s| s.done && s.agent.is_some())
        .map(|s| {
            Evidence::file(
                s.path.as_str(),
                format!(
                    "the first-boot install of {} ran already (its output is in {})",
                    s.agent.as_deref().unwrap_or_default(),
                    win(&format!("{dir}/log.txt"))
                ),
            )
        })
        .collect();
    let Some(script) = scripts.iter().find(|s| !s.done && s.agent.is_some()) else {
        return if ran.is_empty() {
            FirstBoot::None
        } else {
            FirstBoot::Ran(ran)
        };
    };
    let agent = script.agent.clone().unwrap_or_default();
    let mut ev = vec![Evidence::file(
        script.path.as_str(),
        format!("first-boot script installing {agent}"),
    )];
    let mut wrong: Vec<String> = Vec::new();
    match script.installer.as_deref() {
        Some(i) => match cx.guest_path(i) {
            Some(p) => ev.push(Evidence::file(p, format!("the installer it runs ({i})"))),
            None => wrong.push(format!("its installer {i} is not in the image")),
        },
        None => wrong.push("it names no installer".into()),
    }
    let services = match cx.hive("SYSTEM").and_then(|h| firstboot::services(&h)) {
        Ok(s) => s,
        Err(e) => {
            wrong.push(format!("the SYSTEM hive cannot be read: {e}"));
            Vec::new()
        }
    };
    // The service that runs the scripts: automatic, its wrapper and batch file present.
    let mut ready = None;
    for s in &services {
        let exe = s.executable().and_then(|e| cx.guest_path(&e));
        let bat = s.batch_file().and_then(|b| cx.guest_path(&b));
        let mut why = Vec::new();
        if s.start != Some(2) {
            why.push(format!(
                "starts {}",
                s.start.map_or("(no Start value)".into(), |n| match n {
                    3 => "manually".to_owned(),
                    4 => "never (disabled)".to_owned(),
                    n => format!("with Start {n}"),
                })
            ));
        }
        if exe.is_none() {
            why.push(format!("its program {} is missing", s.image_path));
        }
        match (&bat, s.batch_file()) {
            (Some(b), _) if b.eq_ignore_ascii_case(&format!("{dir}/firstboot.bat")) => {}
            (Some(b), _) => why.push(format!("it runs {b}, not this directory's firstboot.bat")),
            (None, Some(b)) => why.push(format!("its batch file {b} is missing")),
            (None, None) => why.push("its CommandLine runs no batch file".into()),
        }
        let at = format!("registry:SYSTEM\\{}", s.key);
        if why.is_empty() {
            ready = Some((at, s, bat.unwrap_or_default()));
            break;
        }
        ev.push(Evidence::file(
            at,
            format!("rhsrvany service: {}", why.join(", ")),
        ));
    }
    match ready {
        Some((at, s, bat)) => {
            ev.push(Evidence::file(
                at,
                format!(
                    "automatic service {}, runs {}",
                    s.image_path,
                    s.command_line.as_deref().unwrap_or_default()
                ),
            ));
            ev.push(Evidence::file(bat, "runs each script of scripts\\ once"));
        }
        None if services.is_empty() => {
            wrong.push("no first-boot service (rhsrvany) in the SYSTEM hive runs it".into());
        }
        None => wrong.push("no first-boot service that would run it".into()),
    }
    if wrong.is_empty() {
        FirstBoot::Pending(
            Outcome::new(
                Status::Pass,
                format!(
                    "the management agent is not installed yet: {agent} installs at first boot \
                     (pending first-boot install through the rhsrvany service)"
                ),
            )
            .with(ev),
        )
    } else {
        FirstBoot::Pending(
            Outcome::new(
                Status::Fail,
                format!(
                    "a first-boot install of {agent} is set up but will not run: {}",
                    wrong.join("; ")
                ),
            )
            .with(ev),
        )
    }
}
