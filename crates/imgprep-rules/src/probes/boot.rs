//! Boot probes: a service starts at boot, one service starts before another. The boot graph
//! (systemd, SysV init, upstart) is `imgprep_sysconf::boot`'s, read once per guest.

use imgprep_sysconf::boot::{Enablement, Order};
use imgprep_sysconf::windows::service;
use serde::{Deserialize, Serialize};

use crate::context::{Context, no_service_evidence, start_evidence};
use crate::probe::{Probe, Template};
use crate::verdict::{Outcome, Status};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceEnabled {
    /// Service names (`xe-linux-distribution`, or `foo.service`); any one started at boot passes.
    pub names: Vec<Template>,
    /// The service these are needed for: where it is not installed (no unit, script or job),
    /// the rule is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_with: Option<Template>,
    /// The same requirement on Windows, where services have other names; without it the rule
    /// is skipped on Windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsServices>,
}

/// `service-enabled` on Windows: services of the SYSTEM hive's current control set.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowsServices {
    /// Service key names (`XenSvc`, compared without regard to case); any one whose `Start` is
    /// automatic passes (boot and system count too, for drivers).
    pub names: Vec<Template>,
    /// The service these are needed for: where it has no key, the rule is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_with: Option<Template>,
    /// Services shown in the evidence with their start type (drivers that come with `names`);
    /// they do not decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Template>,
}

impl Probe for ServiceEnabled {
    fn templates(&self) -> Vec<&Template> {
        let mut t: Vec<&Template> = self.names.iter().chain(&self.only_with).collect();
        if let Some(w) = &self.windows {
            t.extend(w.names.iter().chain(&w.only_with).chain(&w.related));
        }
        t
    }

    fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("service-enabled: names is empty".into());
        }
        if self.windows.as_ref().is_some_and(|w| w.names.is_empty()) {
            return Err("service-enabled: windows.names is empty".into());
        }
        Ok(())
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return match &self.windows {
                Some(w) => windows_enabled(w, cx),
                None => Outcome::new(
                    Status::Skip,
                    "the rule names no Windows services (service-enabled: windows)",
                ),
            };
        }
        let g = cx.boot();
        let names: Vec<String> = self.names.iter().map(|n| n.expand(cx)).collect();
        if let Some(with) = &self.only_with {
            let with = with.expand(cx);
            if let Enablement::Missing(e) = g.enablement(&with) {
                return Outcome::new(
                    Status::Skip,
                    format!(
                        "{with} is not installed, and {} are needed only with it",
                        names.join(", ")
                    ),
                )
                .with(e);
            }
        }
        let mut why = Vec::new();
        let mut ev = vec![g.init_evidence.clone()];
        for n in &names {
            match g.enablement(n) {
                Enablement::Enabled(e) => {
                    let mut all = vec![g.init_evidence.clone()];
                    all.extend(e);
                    return Outcome::new(
                        Status::Pass,
                        format!("{n} starts at boot ({}, {})", g.init.name(), g.default),
                    )
                    .with(all);
                }
                Enablement::Disabled(e) => {
                    why.push(format!("{n} is installed but nothing starts it"));
                    ev.extend(e);
                }
                Enablement::Masked(e) => {
                    why.push(format!("{n} is masked"));
                    ev.extend(e);
                }
                Enablement::Missing(e) => {
                    why.push(format!("{n} is not installed"));
                    ev.extend(e);
                }
            }
        }
        Outcome::new(
            Status::Fail,
            format!(
                "none of {} starts at boot ({}, {}): {}",
                names.join(", "),
                g.init.name(),
                g.default,
                why.join("; ")
            ),
        )
        .with(ev)
    }
}

/// `service-enabled` on a Windows guest.
fn windows_enabled(w: &WindowsServices, cx: &Context<'_>) -> Outcome {
    let names: Vec<String> = w.names.iter().map(|n| n.expand(cx)).collect();
    let system = match cx.hive("SYSTEM") {
        Ok(h) => h,
        Err(e) => return Outcome::new(Status::Error, e),
    };
    let lookup = |n: &str| service(&system, n);
    if let Some(with) = &w.only_with {
        let with = with.expand(cx);
        match lookup(&with) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Outcome::new(
                    Status::Skip,
                    format!(
                        "{with} is not installed, and {} are needed only with it",
                        names.join(", ")
                    ),
                )
                .with([no_service_evidence(&with)]);
            }
            Err(e) => return Outcome::new(Status::Error, e),
        }
    }
    let mut related = Vec::new();
    for r in &w.related {
        if let Ok(Some(s)) = lookup(&r.expand(cx)) {
            related.push(start_evidence(&s));
        }
    }
    let mut why = Vec::new();
    let mut ev = Vec::new();
    for n in &names {
        let s = match lookup(n) {
            Ok(Some(s)) => s,
            Ok(None) => {
                why.push(format!("{n} is not installed"));
                ev.push(no_service_evidence(n));
                continue;
            }
            Err(e) => return Outcome::new(Status::Error, e).with(ev),
        };
        match s.start {
            Some(0..=2) => {
                return Outcome::new(
                    Status::Pass,
                    format!(
                        "{} starts at boot (Start {} in {})",
                        s.name,
                        s.start_text(),
                        s.control_set
                    ),
                )
                .with([start_evidence(&s)])
                .with(related);
            }
            Some(3) => why.push(format!(
                "{} starts only on demand (Start 3): nothing starts it at boot",
                s.name
            )),
            Some(4) => why.push(format!("{} is disabled (Start 4)", s.name)),
            _ => why.push(format!("{} has Start {}", s.name, s.start_text())),
        }
        ev.push(start_evidence(&s));
    }
    Outcome::new(
        Status::Fail,
        format!(
            "none of {} starts at boot: {}",
            names.join(", "),
            why.join("; ")
        ),
    )
    .with(ev)
    .with(related)
}

/// `probe: boot-order`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootOrder {
    /// Services that must start first; any one that starts at boot and is ordered first passes.
    pub first: Vec<Template>,
    /// The service that must start after them. When it is not installed the rule is skipped.
    pub then: Template,
}

impl Probe for BootOrder {
    fn templates(&self) -> Vec<&Template> {
        self.first.iter().chain([&self.then]).collect()
    }

    fn validate(&self) -> Result<(), String> {
        if self.first.is_empty() || self.then.as_str().trim().is_empty() {
            return Err("boot-order: first and then are required".into());
        }
        Ok(())
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "boot order is read from Linux init systems");
        }
        let g = cx.boot();
        let then = self.then.expand(cx);
        let firsts: Vec<String> = self.first.iter().map(|n| n.expand(cx)).collect();
        let mut ev = vec![g.init_evidence.clone()];
        let ctx = format!("{}, {}", g.init.name(), g.default);
        match g.enablement(&then) {
            Enablement::Missing(_) => {
                return Outcome::new(
                    Status::Skip,
                    format!("{then} is not installed: there is nothing to order"),
                );
            }
            Enablement::Enabled(_) => {}
            Enablement::Disabled(e) | Enablement::Masked(e) => {
                ev.extend(e);
                return Outcome::new(
                    Status::Fail,
                    format!(
                        "{then} does not start at boot ({ctx}), so nothing starts it after {}",
                        firsts.join(" or ")
                    ),
                )
                .with(ev);
            }
        }
        let mut enabled = Vec::new();
        let mut not_started = Vec::new();
        for f in &firsts {
            match g.enablement(f) {
                Enablement::Enabled(_) => enabled.push(f.clone()),
                // Installed but not started: worth showing whatever decides.
                Enablement::Disabled(e) | Enablement::Masked(e) => ev.extend(e),
                Enablement::Missing(e) => not_started.extend(e),
            }
        }
        if enabled.is_empty() {
            ev.extend(not_started);
            return Outcome::new(
                Status::Fail,
                format!(
                    "none of {} starts at boot ({ctx}), so none starts before {then}",
                    firsts.join(", ")
                ),
            )
            .with(ev);
        }
        let mut why = Vec::new();
        for f in &enabled {
            match g.order(f, &then) {
                Order::Before(chain, e) => {
                    let mut all = vec![g.init_evidence.clone()];
                    all.extend(e);
                    return Outcome::new(
                        Status::Pass,
                        format!("{f} starts before {then} ({ctx}): {chain}"),
                    )
                    .with(all);
                }
                Order::After(chain, e) => {
                    why.push(format!("{f} starts after {then}: {chain}"));
                    ev.extend(e);
                }
                Order::Cycle(chain, e) => {
                    why.push(format!(
                        "{f} and {then} are ordered both ways ({chain}); systemd breaks the \
                         cycle by dropping one of them"
                    ));
                    ev.extend(e);
                }
                Order::Unordered(e) => {
                    why.push(format!(
                        "nothing orders {f} before {then}, so they start at the same time \
                         (Wants=/Requires= pull units in without ordering them)"
                    ));
                    ev.extend(e);
                }
            }
        }
        Outcome::new(Status::Fail, format!("{} ({ctx})", why.join("; "))).with(ev)
    }
}
