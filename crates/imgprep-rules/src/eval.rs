//! Evaluating a profile against one inspected OS.

use std::collections::BTreeMap;

use crate::context::Context;
use crate::load::RuleSet;
use crate::model::{Applies, Rule, RuleResult};
use crate::verdict::{Outcome, Status};
use crate::version::VersionReq;

/// `None` when the rule applies, else why it does not.
pub(crate) fn not_applicable(a: &Applies, cx: &Context<'_>) -> Option<String> {
    let os_name = cx.os.name.as_deref().unwrap_or("unknown");
    if !a.os.is_empty() && !a.os.iter().any(|o| o == os_name) {
        return Some(format!(
            "applies to {} only; this image is {os_name}",
            a.os.join(", ")
        ));
    }
    let distro = cx.os.distro.as_deref().unwrap_or("unknown");
    if !a.distro.is_empty() && !a.distro.iter().any(|d| d == distro) {
        return Some(format!(
            "applies to {} only; this image is {distro}",
            a.distro.join(", ")
        ));
    }
    for v in &a.version {
        if let Ok(req) = VersionReq::parse(v)
            && !req.matches(cx.version())
        {
            return Some(format!(
                "applies to version {v}; this image is {}",
                crate::matrix::os_version(cx.os)
            ));
        }
    }
    if !a.cloud.is_empty() {
        let list = a
            .cloud
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match cx.cloud {
            None => return Some(format!("applies with --cloud {list}; no --cloud given")),
            Some(c) if !a.cloud.contains(&c) => {
                return Some(format!("applies with --cloud {list}; the cloud is {c}"));
            }
            Some(_) => {}
        }
    }
    for (k, want) in &a.params {
        match cx.param(k) {
            None => return Some(format!("applies when {k} is set; it is not")),
            Some(_) if want == "*" => {}
            Some(v) if v != want => {
                return Some(format!("applies when {k}={want}; it is {v}"));
            }
            Some(_) => {}
        }
    }
    None
}

/// Parameters of `profile` with the user's values applied. Unknown names are an error.
pub fn effective_params(
    set: &RuleSet,
    profile: &str,
    given: &[(String, String)],
) -> Result<BTreeMap<String, String>, String> {
    let p = set
        .profile(profile)
        .ok_or_else(|| format!("unknown profile {profile:?} (imgprep rules list shows them)"))?;
    let mut out: BTreeMap<String, String> = p
        .params
        .iter()
        .filter_map(|(k, s)| s.default.clone().map(|d| (k.clone(), d)))
        .collect();
    for (k, v) in given {
        if !p.params.contains_key(k) {
            let known = p.params.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(format!(
                "profile {profile} has no parameter {k:?} (it has: {known})"
            ));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// Runs every rule of `profile` against `cx`, in file order.
pub fn run(set: &RuleSet, profile: &str, cx: &Context<'_>) -> Vec<RuleResult> {
    set.rules_of(profile).map(|r| run_rule(r, cx)).collect()
}

fn run_rule(r: &Rule, cx: &Context<'_>) -> RuleResult {
    let outcome = match not_applicable(&r.applies, cx) {
        Some(why) => Outcome::new(Status::Skip, why),
        None => r.check.probe().run(cx),
    };
    RuleResult {
        rule: r.id.clone(),
        status: outcome.status,
        severity: r.severity,
        title: r.title.clone(),
        message: outcome.message,
        evidence: outcome.evidence,
        remediation: cx.expand(&r.remediation.text),
        fixable: r.remediation.action.is_some()
            && matches!(outcome.status, Status::Fail | Status::Warn),
        action: r.remediation.action.clone(),
        waiver: None,
    }
}

/// Counts of each status.
pub fn summary(results: &[RuleResult]) -> BTreeMap<&'static str, usize> {
    let mut m: BTreeMap<&'static str, usize> =
        Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for r in results {
        *m.entry(r.status.as_str()).or_default() += 1;
    }
    m
}
