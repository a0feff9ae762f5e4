//! The management agent and the dynamic-bootstrapping matrix.

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
        let missing = format!(
            "no management agent found (looked for {})",
            looked.join(", ")
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
