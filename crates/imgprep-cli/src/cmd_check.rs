//! `imgprep check`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::bail;
use clap::builder::TypedValueParser as _;
use imgprep_report::check::{CheckReport, ImageReport, ImageStatus, OsSummary};
use imgprep_rules::{
    Cloud, Context, Date, RuleResult, RuleSet, Severity, Status, Waivers, effective_params, run,
};

use crate::fleet::{self, FleetArgs, Outcome};

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Findings grouped by status, with evidence and fixes.
    Table,
    /// One object per image: summary and results with evidence.
    Json,
    /// JSON Lines: one object per image as soon as it is done (with its input position), for
    /// log shippers and for `imgprep report merge`.
    Jsonl,
    /// JUnit XML: one test suite per image, one test case per rule, for CI dashboards.
    Junit,
    /// SARIF 2.1.0: one run per image; failing, warning and waived rules with their evidence.
    Sarif,
}

/// Check images against a profile of pre-flight rules: what fails, the evidence and the fix.
///
/// Each image is inspected natively (never modified) and every rule of the profile gives pass,
/// fail, warn, skip (does not apply, with the reason) or error (cannot be decided offline, with
/// the reason); a waiver (--waivers) turns an accepted fail, warn or error into waived. Profiles
/// and their parameters: `imgprep rules list`. Bootstrapping support per cloud: `imgprep matrix`.
///
/// A PATH is an image, a directory (the images in it, recognised by content; --recursive walks
/// below it) or a quoted glob ('golden/*.qcow2'). Each image is checked on its own, --jobs at a
/// time; an image that cannot be read is reported as an error entry and the others are still
/// checked. Output keeps the input order. Several images get a summary table on stderr.
///
/// Exit status: 0 when no image errored and nothing reaches --fail-on; 1 when an image could not
/// be read or something reaches --fail-on; 2 for a usage error (bad argument, unknown profile or
/// parameter, bad rules or waivers file) or when no image at all could be read.
///
/// Examples:
///   imgprep check golden.qcow2 --profile cloudcenter-worker --cloud openstack
///   imgprep check images/ -r --profile rackspace-nova-agent --format junit > preflight.xml
///   imgprep check 'golden/*.vmdk' -p cloudcenter-worker --waivers waivers.yaml --fail-on high
///   imgprep check /images -r -p cloudcenter-worker --shard 3/8 --format jsonl > shard-3.jsonl
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Disk images, directories of images, or globs.
    #[arg(required = true, value_name = "PATH")]
    images: Vec<PathBuf>,
    #[command(flatten)]
    profile: ProfileArgs,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// What makes the exit status 1: fail (a rule fails or errors), warn (also warnings), or a
    /// severity (info, low, medium, high, critical): a failure or error of a rule of at least
    /// that severity. Waived results never count.
    #[arg(long, value_name = "LEVEL", default_value = "fail", value_parser = FailOn::from_str)]
    fail_on: FailOn,
    /// YAML file of waivers (rule, images glob, reason, optional expires date) for accepted
    /// exceptions. An expired waiver no longer waives; one that matches nothing is reported.
    #[arg(long, value_name = "FILE")]
    waivers: Option<PathBuf>,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    open: crate::OpenArgs,
}

/// The profile and what parameterises it (shared by check and prepare).
#[derive(Debug, clap::Args)]
pub(crate) struct ProfileArgs {
    /// Rule profile (cloudcenter-worker, rackspace-nova-agent, cloudify-agent, or your own).
    #[arg(long, short)]
    pub(crate) profile: String,
    /// Target cloud: decides bootstrapping support and cloud-specific rules.
    #[arg(long, value_parser = cloud_parser())]
    pub(crate) cloud: Option<Cloud>,
    /// Profile parameter, e.g. bundle_store=http or ca=./ca.pem (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub(crate) params: Vec<(String, String)>,
    /// Extra directory of rule files (*.yaml) to load with the built-in ones (repeatable).
    #[arg(long = "rules", value_name = "DIR")]
    pub(crate) rules: Vec<PathBuf>,
}

/// The level at which `check` exits 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FailOn {
    /// A rule fails or errors.
    #[default]
    Fail,
    /// A rule fails, errors or warns.
    Warn,
    /// A rule of at least this severity fails or errors.
    Severity(Severity),
}

impl FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(FailOn::Fail),
            "warn" => Ok(FailOn::Warn),
            _ => s.parse::<Severity>().map(FailOn::Severity).map_err(|_| {
                format!(
                    "expected fail, warn or a severity (info, low, medium, high, critical), \
                     found {s:?}"
                )
            }),
        }
    }
}

impl FailOn {
    /// True when `r` reaches this level (a waived result never does).
    pub(crate) fn reached_by(self, r: &RuleResult) -> bool {
        match self {
            FailOn::Fail => matches!(r.status, Status::Fail | Status::Error),
            FailOn::Warn => matches!(r.status, Status::Fail | Status::Error | Status::Warn),
            FailOn::Severity(min) => {
                matches!(r.status, Status::Fail | Status::Error) && r.severity >= min
            }
        }
    }
}

/// `--cloud`: the clouds the library knows, parsed by it.
pub(crate) fn cloud_parser() -> impl clap::builder::TypedValueParser<Value = Cloud> {
    clap::builder::PossibleValuesParser::new(Cloud::ALL.map(|c| c.as_str()))
        .try_map(|s| s.parse::<Cloud>())
}

pub(crate) fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, found {s:?}")),
    }
}

pub(crate) fn run_check(a: Args) -> anyhow::Result<ExitCode> {
    let set = RuleSet::load(&a.profile.rules)?;
    let params = effective_params(&set, &a.profile.profile, &a.profile.params)
        .map_err(anyhow::Error::msg)?;
    let waivers = a.waivers.as_deref().map(Waivers::load).transpose()?;
    let inputs = fleet::expand(&a.images, &a.fleet)?;
    let today = Date::today();
    let check_one = |input: &fleet::Input| -> (ImageReport, imgprep_rules::Applied) {
        match check_image(&a, &set, &params, input) {
            Ok(mut report) => {
                let applied = waivers
                    .as_ref()
                    .map(|w| w.apply(&report.image, &mut report.results, today))
                    .unwrap_or_default();
                let report = CheckReport::new(
                    report.image,
                    report.profile,
                    report.cloud,
                    report.os,
                    report.results,
                );
                (ImageReport::Checked(report), applied)
            }
            Err(e) => (
                ImageReport::unreadable(input.shown.clone(), format!("{e:#}")),
                Default::default(),
            ),
        }
    };
    // One image named on its own: its error is the command's error (exit 2, empty stdout).
    let single = !inputs.expanded && inputs.images.len() == 1;
    let mut reports = Vec::new();
    let mut outcomes = Vec::new();
    let mut used = vec![(false, false); waivers.as_ref().map_or(0, |w| w.entries.len())];
    let mut failed = false;
    fleet::run(
        &inputs.images,
        fleet::jobs(&a.fleet),
        check_one,
        |input, (report, applied), took| {
            if let (true, ImageReport::Unreadable(u)) = (single, &report) {
                bail!("{}", u.reason);
            }
            for i in applied.waived {
                used[i].0 = true;
            }
            for i in applied.expired {
                used[i].1 = true;
            }
            failed |= match &report {
                ImageReport::Checked(r) => r.results.iter().any(|x| a.fail_on.reached_by(x)),
                ImageReport::Unreadable(_) => true,
            };
            outcomes.push(Outcome {
                shown: input.shown.clone(),
                status: report.status(),
                took: Some(took),
            });
            if a.format == Format::Jsonl {
                crate::emit(&imgprep_report::check::jsonl_line(input.index, &report))
            } else {
                reports.push(report);
                Ok(())
            }
        },
    )?;
    let text = match a.format {
        Format::Jsonl => String::new(),
        Format::Table => imgprep_report::check::table(&reports),
        Format::Json => imgprep_report::check::json(&reports),
        Format::Junit => imgprep_report::check::junit(&reports, a.fail_on == FailOn::Warn),
        Format::Sarif => imgprep_report::check::sarif(&reports, &set),
    };
    crate::emit(&text)?;
    if let Some(w) = &waivers {
        for (i, (waived, expired)) in used.iter().enumerate() {
            if let Some(msg) = waiver_warning(w, i, *waived, *expired, today) {
                eprintln!("imgprep: warning: {msg}");
            }
        }
    }
    finish(&outcomes, failed)
}

/// The summary on stderr for several images, and the exit status.
pub(crate) fn finish(outcomes: &[Outcome], failed: bool) -> anyhow::Result<ExitCode> {
    if outcomes.len() > 1 {
        eprint!("{}", fleet::summary(outcomes));
    }
    if !outcomes.is_empty() && outcomes.iter().all(|o| o.status == ImageStatus::Error) {
        bail!(
            "none of the {} images could be read (see the report)",
            outcomes.len()
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What to say about waiver `i` after the run, if anything.
fn waiver_warning(
    w: &Waivers,
    i: usize,
    waived: bool,
    expired_hit: bool,
    today: Date,
) -> Option<String> {
    let e = &w.entries[i];
    let which = format!(
        "{}: waiver {} (rule {}, images {})",
        w.file,
        i + 1,
        e.rule,
        e.images
    );
    if e.expired_on(today) {
        let date = e.expires.map(|d| d.to_string()).unwrap_or_default();
        return Some(if expired_hit {
            format!("{which} expired on {date}; its results are no longer waived")
        } else {
            format!("{which} expired on {date} and matched nothing")
        });
    }
    (!waived).then(|| format!("{which} matched nothing (stale waiver?)"))
}

/// Checks one image; `Err` when it cannot be read or holds no operating system.
fn check_image(
    a: &Args,
    set: &RuleSet,
    params: &std::collections::BTreeMap<String, String>,
    input: &fleet::Input,
) -> anyhow::Result<CheckReport> {
    let image = a.open.open(std::slice::from_ref(&input.path))?;
    let (root, disks) = crate::first_root(&image, &input.shown, "check")?;
    let cx = Context::new(
        &root.os,
        &root.guest,
        a.profile.cloud,
        params,
        &set.matrix,
        &disks,
    );
    let results = run(set, &a.profile.profile, &cx);
    Ok(CheckReport::new(
        input.shown.clone(),
        a.profile.profile.clone(),
        a.profile.cloud.map(|c| c.to_string()),
        OsSummary::from(&root.os),
        results,
    ))
}
