//! Check results: JSON, a table for people, JUnit XML for CI, SARIF for code-scanning UIs.

use std::collections::BTreeMap;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use imgprep_inspect::OperatingSystem;
use imgprep_rules::{Rule, RuleResult, RuleSet, Status};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Error;

/// The OS facts a check report repeats, so a reader knows what was checked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OsSummary {
    /// Root device.
    pub root: String,
    /// `linux` / `windows`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Distro.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// Product name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Major version.
    pub major_version: u32,
    /// Minor version.
    pub minor_version: u32,
    /// Architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// libosinfo id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osinfo: Option<String>,
}

impl From<&OperatingSystem> for OsSummary {
    fn from(os: &OperatingSystem) -> Self {
        Self {
            root: os.root.clone(),
            name: os.name.clone(),
            distro: os.distro.clone(),
            product_name: os.product_name.clone(),
            major_version: os.major_version,
            minor_version: os.minor_version,
            arch: os.arch.clone(),
            osinfo: os.osinfo.clone(),
        }
    }
}

/// One image's check results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckReport {
    /// The image as given on the command line.
    pub image: String,
    /// Profile name.
    pub profile: String,
    /// Target cloud, when given.
    pub cloud: Option<String>,
    /// What was checked.
    pub os: OsSummary,
    /// Count per status.
    pub summary: BTreeMap<String, usize>,
    /// One result per rule of the profile, in rule order.
    pub results: Vec<RuleResult>,
}

impl CheckReport {
    /// A report whose summary counts `results`.
    pub fn new(
        image: String,
        profile: String,
        cloud: Option<String>,
        os: OsSummary,
        results: Vec<RuleResult>,
    ) -> Self {
        let mut summary: BTreeMap<String, usize> = Status::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        for r in &results {
            *summary.entry(r.status.as_str().to_owned()).or_default() += 1;
        }
        Self {
            image,
            profile,
            cloud,
            os,
            summary,
            results,
        }
    }
}

/// An image that could not be checked (unreadable, corrupt, no operating system), and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unreadable {
    /// The image as given.
    pub image: String,
    /// Always `error`.
    pub status: String,
    /// Why it could not be checked.
    pub reason: String,
}

/// One image of a run: its check report, or why there is none.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ImageReport {
    /// The image was checked.
    Checked(CheckReport),
    /// The image could not be checked.
    Unreadable(Unreadable),
}

/// An image's overall outcome, for summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageStatus {
    /// Nothing failed or warned.
    Pass,
    /// A rule warned, none failed.
    Warn,
    /// A rule failed or could not be decided.
    Fail,
    /// The image could not be checked.
    Error,
}

impl ImageStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Pass => "pass",
            ImageStatus::Warn => "warn",
            ImageStatus::Fail => "fail",
            ImageStatus::Error => "error",
        }
    }
}

impl ImageReport {
    /// An unreadable image.
    pub fn unreadable(image: String, reason: String) -> Self {
        ImageReport::Unreadable(Unreadable {
            image,
            status: "error".into(),
            reason,
        })
    }

    /// The image as given.
    pub fn image(&self) -> &str {
        match self {
            ImageReport::Checked(r) => &r.image,
            ImageReport::Unreadable(u) => &u.image,
        }
    }

    /// Its outcome (waived results count as passed).
    pub fn status(&self) -> ImageStatus {
        let ImageReport::Checked(r) = self else {
            return ImageStatus::Error;
        };
        if r.results
            .iter()
            .any(|x| matches!(x.status, Status::Fail | Status::Error))
        {
            ImageStatus::Fail
        } else if r.results.iter().any(|x| x.status == Status::Warn) {
            ImageStatus::Warn
        } else {
            ImageStatus::Pass
        }
    }
}

/// JSON: one report, or `{"images": [...]}` for several.
pub fn json(reports: &[ImageReport]) -> String {
    #[derive(Serialize)]
    struct Many<'a> {
        images: &'a [ImageReport],
    }
    let s = match reports {
        [one] => serde_json::to_string_pretty(one),
        many => serde_json::to_string_pretty(&Many { images: many }),
    };
    let mut s = s.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// One line of JSON Lines: the image's report with its position `index` in the whole input
/// list (before sharding), so that shards can be merged back into input order.
pub fn jsonl_line(index: usize, report: &ImageReport) -> String {
    let mut v = serde_json::to_value(report).unwrap_or_else(|e| json!({"error": e.to_string()}));
    if let Value::Object(m) = &mut v {
        let mut with = serde_json::Map::new();
        with.insert("index".into(), json!(index));
        with.extend(std::mem::take(m));
        *m = with;
    }
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// Reads the lines of a JSON Lines report (`jsonl_line`); `file` names it in errors. Blank lines
/// are skipped.
pub fn parse_jsonl(text: &str, file: &str) -> Result<Vec<(usize, ImageReport)>, Error> {
    #[derive(Deserialize)]
    struct Line {
        index: usize,
        #[serde(flatten)]
        report: ImageReport,
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).map_err(|e| Error::Jsonl {
            file: file.to_owned(),
            line: n + 1,
            message: e.to_string(),
        })?;
        out.push((l.index, l.report));
    }
    Ok(out)
}

/// Table grouped by status, failures first, with evidence and the fix.
pub fn table(reports: &[ImageReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let r = match r {
            ImageReport::Checked(r) => r,
            ImageReport::Unreadable(u) => {
                out.push_str(&format!("{}: ERROR: {}\n\n", u.image, u.reason));
                continue;
            }
        };
        out.push_str(&format!(
            "{}: {} {} ({}) — profile {}{}\n",
            r.image,
            r.os.distro.as_deref().unwrap_or("unknown OS"),
            r.os.product_name.as_deref().unwrap_or(""),
            r.os.root,
            r.profile,
            r.cloud
                .as_ref()
                .map(|c| format!(", cloud {c}"))
                .unwrap_or_default()
        ));
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(120)
            .set_header(vec!["status", "rule", "finding"]);
        for status in Status::ALL {
            for res in r.results.iter().filter(|x| x.status == status) {
                let mut text = format!("{}\n{}", res.title, res.message);
                for e in &res.evidence {
                    match e.line {
                        Some(l) => text.push_str(&format!("\n  {}:{l}: {}", e.path, e.text)),
                        None => text.push_str(&format!("\n  {}: {}", e.path, e.text)),
                    }
                }
                if matches!(status, Status::Fail | Status::Warn | Status::Error) {
                    text.push_str(&format!("\nfix: {}", res.remediation));
                }
                if let Some(w) = &res.waiver {
                    text.push_str(&format!("\n{}", waiver_text(w)));
                }
                t.add_row(vec![
                    status_cell(status),
                    Cell::new(format!("{}\n{}", res.rule, res.severity)),
                    Cell::new(text),
                ]);
            }
        }
        out.push_str(&t.to_string());
        out.push('\n');
        let counts: Vec<String> = Status::ALL
            .iter()
            .map(|s| (s, r.summary.get(s.as_str()).copied().unwrap_or(0)))
            .filter(|(s, n)| **s != Status::Waived || *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        out.push_str(&format!("{}\n\n", counts.join(", ")));
    }
    out
}

/// What a waiver did, in words.
fn waiver_text(w: &imgprep_rules::WaiverNote) -> String {
    let until = w
        .expires
        .as_ref()
        .map(|d| format!(" (until {d})"))
        .unwrap_or_default();
    if w.expired {
        format!(
            "waiver expired on {}: {}",
            w.expires.as_deref().unwrap_or("?"),
            w.reason
        )
    } else {
        format!("waived ({} accepted){until}: {}", w.status, w.reason)
    }
}

fn status_cell(s: Status) -> Cell {
    let c = Cell::new(s.as_str().to_uppercase());
    match s {
        Status::Fail | Status::Error => c.fg(Color::Red),
        Status::Warn => c.fg(Color::Yellow),
        Status::Pass => c.fg(Color::Green),
        Status::Skip | Status::Waived => c,
    }
}

/// JUnit XML: one test suite per image, one test case per rule. `fail` is a failure, `error` an
/// error, `skip` skipped; `warn` is a failure when `warn_fails`, else a pass with the warning in
/// system-out.
pub fn junit(reports: &[ImageReport], warn_fails: bool) -> String {
    let mut report = Report::new("imgprep check");
    for r in reports {
        let r = match r {
            ImageReport::Checked(r) => r,
            ImageReport::Unreadable(u) => {
                let mut suite = TestSuite::new(u.image.clone());
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(u.reason.clone()).set_type("error");
                let mut case = TestCase::new("image", s);
                case.set_classname("imgprep.image");
                suite.add_test_case(case);
                report.add_test_suite(suite);
                continue;
            }
        };
        let mut suite = TestSuite::new(format!("{} [{}]", r.image, r.profile));
        for res in &r.results {
            let detail = detail_text(res);
            let status = match res.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Warn if !warn_fails => TestCaseStatus::success(),
                Status::Skip => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(res.message.clone());
                    s
                }
                Status::Waived => {
                    let mut s = TestCaseStatus::skipped();
                    let text = res.waiver.as_ref().map(waiver_text).unwrap_or_default();
                    s.set_message(text).set_type("waived");
                    s
                }
                Status::Fail | Status::Warn | Status::Error => {
                    let kind = if res.status == Status::Error {
                        NonSuccessKind::Error
                    } else {
                        NonSuccessKind::Failure
                    };
                    let mut s = TestCaseStatus::non_success(kind);
                    s.set_message(res.message.clone())
                        .set_type(res.status.as_str())
                        .set_description(detail.clone());
                    s
                }
            };
            let mut case = TestCase::new(res.rule.clone(), status);
            case.set_classname(format!("imgprep.{}", r.profile));
            if res.status == Status::Warn && !warn_fails {
                case.set_system_out(format!("WARN: {detail}"));
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- JUnit serialisation failed: {e} -->\n"))
}

fn detail_text(res: &RuleResult) -> String {
    let mut s = format!("{}\n{}", res.title, res.message);
    for e in &res.evidence {
        match e.line {
            Some(l) => s.push_str(&format!("\n{}:{l}: {}", e.path, e.text)),
            None => s.push_str(&format!("\n{}: {}", e.path, e.text)),
        }
    }
    s.push_str(&format!("\nremediation: {}", res.remediation));
    s
}

/// SARIF 2.1.0: one run per image; one result per failing, erroring or warning rule, with the
/// evidence as locations in the guest filesystem.
pub fn sarif(reports: &[ImageReport], set: &RuleSet) -> String {
    let runs: Vec<Value> = reports
        .iter()
        .map(|r| match r {
            ImageReport::Checked(r) => sarif_run(r, set),
            ImageReport::Unreadable(u) => sarif_unreadable(u),
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": runs,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn sarif_run(r: &CheckReport, set: &RuleSet) -> Value {
    let rules: Vec<&Rule> = r.results.iter().filter_map(|x| set.rule(&x.rule)).collect();
    let descriptors: Vec<Value> = rules
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.id.replace(['.', '-'], "_"),
                "shortDescription": {"text": rule.title},
                "fullDescription": {"text": format!("{} Source: {}", rule.rationale.trim(), rule.source.trim())},
                "help": {"text": rule.remediation.text.trim()},
                "defaultConfiguration": {"level": level_of_severity(rule.severity)},
                "properties": {"severity": rule.severity.to_string(), "profiles": rule.profiles},
            })
        })
        .collect();
    let results: Vec<Value> = r
        .results
        .iter()
        .filter(|x| {
            matches!(
                x.status,
                Status::Fail | Status::Warn | Status::Error | Status::Waived
            )
        })
        .map(|x| {
            let shown = x.waiver.as_ref().map(|w| w.status).unwrap_or(x.status);
            let index = rules.iter().position(|rule| rule.id == x.rule);
            let locations: Vec<Value> = x
                .evidence
                .iter()
                .filter(|e| e.path.starts_with('/'))
                .map(|e| {
                    let mut phys = json!({
                        "artifactLocation": {
                            "uri": uri_path(&e.path),
                            "uriBaseId": "GUESTROOT",
                        },
                    });
                    if let Some(l) = e.line {
                        phys["region"] = json!({"startLine": l, "snippet": {"text": e.text}});
                    }
                    json!({"physicalLocation": phys, "message": {"text": e.text}})
                })
                .collect();
            let logical: Vec<Value> = x
                .evidence
                .iter()
                .filter(|e| !e.path.starts_with('/'))
                .map(|e| json!({"fullyQualifiedName": e.path, "kind": "resource"}))
                .collect();
            let mut res = json!({
                "ruleId": x.rule,
                "level": match shown {
                    Status::Warn => "warning",
                    _ => "error",
                },
                "kind": "fail",
                "message": {"text": format!("{} {}", x.message, x.remediation)},
                "properties": {"status": x.status.as_str(), "fixable": x.fixable},
            });
            if let Some(w) = &x.waiver
                && x.status == Status::Waived
            {
                res["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": waiver_text(w),
                }]);
            }
            if let Some(i) = index {
                res["ruleIndex"] = json!(i);
            }
            if !locations.is_empty() {
                res["locations"] = json!(locations);
            } else if !logical.is_empty() {
                res["locations"] = json!([{"logicalLocations": logical}]);
            }
            res
        })
        .collect();
    json!({
        "tool": {"driver": {
            "name": "imgprep",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": descriptors,
        }},
        "originalUriBaseIds": {
            "WORKDIR": {
                "description": {"text": "The directory imgprep ran in"},
            },
            "GUESTROOT": {
                "uri": "file:///",
                "description": {"text": format!("The root of the guest filesystem in {}", r.image)},
            },
        },
        "artifacts": [{"location": image_location(&r.image), "roles": ["analysisTarget"]}],
        "properties": {"image": r.image, "profile": r.profile, "cloud": r.cloud},
        "results": results,
    })
}

/// A run for an image that could not be checked: no results, a failed invocation saying why.
fn sarif_unreadable(u: &Unreadable) -> Value {
    json!({
        "tool": {"driver": {"name": "imgprep", "version": env!("CARGO_PKG_VERSION")}},
        "invocations": [{
            "executionSuccessful": false,
            "toolExecutionNotifications": [{
                "level": "error",
                "message": {"text": u.reason},
            }],
        }],
        "artifacts": [{"location": image_location(&u.image), "roles": ["analysisTarget"]}],
        "properties": {"image": u.image, "status": u.status},
        "results": [],
    })
}

/// The host path of an image as an artifact location: `file://` for absolute paths, else a
/// relative reference to the directory imgprep ran in.
fn image_location(image: &str) -> Value {
    if image.starts_with('/') {
        json!({"uri": format!("file:///{}", uri_path(image))})
    } else {
        json!({"uri": uri_path(image), "uriBaseId": "WORKDIR"})
    }
}

fn level_of_severity(s: imgprep_rules::Severity) -> &'static str {
    use imgprep_rules::Severity::*;
    match s {
        Info | Low => "note",
        Medium => "warning",
        High | Critical => "error",
    }
}

/// A guest path as a relative URI reference: percent-encoded, without the leading `/`.
fn uri_path(p: &str) -> String {
    let mut out = String::new();
    for b in p.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(uri_path("/etc/login.defs"), "etc/login.defs");
        assert_eq!(uri_path("/Program Files/x"), "Program%20Files/x");
    }
}
