//! `imgprep check`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::builder::TypedValueParser as _;
use imgprep_inspect::{Options, inspect_roots};
use imgprep_report::check::{CheckReport, OsSummary};
use imgprep_rules::{Cloud, Context, RuleSet, Status, effective_params, run, summary};

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// Findings grouped by status, with evidence and fixes.
    Table,
    /// One object per image: summary and results with evidence.
    Json,
    /// JUnit XML: one test case per rule, for CI dashboards.
    Junit,
    /// SARIF 2.1.0: failing and warning rules with their evidence as locations.
    Sarif,
}

/// Check images against a profile of pre-flight rules: what fails, the evidence and the fix.
///
/// Each IMAGE is inspected natively (never modified) and every rule of the profile gives pass,
/// fail, warn, skip (does not apply, with the reason) or error (cannot be decided offline, with
/// the reason). Profiles and their parameters: `imgprep rules list`. Bootstrapping support per
/// cloud: `imgprep matrix`.
///
/// Exit status: 0 when nothing reaches --fail-on, 1 when something does, 2 when imgprep could
/// not run (unreadable image, unknown profile or parameter, bad rules file).
///
/// Examples:
///   imgprep check golden.qcow2 --profile cloudcenter-worker --cloud openstack
///   imgprep check *.vmdk --profile rackspace-nova-agent --format junit > preflight.xml
///   imgprep check win2016.vhdx --profile cloudcenter-worker --param ca=corp-ca.pem --format sarif
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Disk images to check, each on its own.
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    #[command(flatten)]
    profile: ProfileArgs,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Lowest status that makes the exit status 1.
    #[arg(long, value_enum, default_value_t = FailOn::Fail)]
    fail_on: FailOn,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum FailOn {
    /// Exit 1 when a rule fails or errors.
    #[default]
    Fail,
    /// Exit 1 when a rule fails, errors or warns.
    Warn,
}

impl FailOn {
    /// True when `s` reaches this level.
    fn reached_by(self, s: Status) -> bool {
        match self {
            FailOn::Fail => matches!(s, Status::Fail | Status::Error),
            FailOn::Warn => matches!(s, Status::Fail | Status::Error | Status::Warn),
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
    let mut reports = Vec::new();
    for path in &a.images {
        let shown = path.display().to_string();
        let image = a.open.open(std::slice::from_ref(path))?;
        let (roots, notes) = inspect_roots(&image, Options::default());
        let disks = imgprep_inspect::disks(&image);
        let Some(root) = roots.first() else {
            let why = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            bail!("{shown}: no operating system found, nothing to check{why}");
        };
        let cx = Context::new(
            &root.os,
            &root.guest,
            a.profile.cloud,
            &params,
            &set.matrix,
            &disks,
        );
        let results = run(&set, &a.profile.profile, &cx);
        reports.push(CheckReport {
            image: shown,
            profile: a.profile.profile.clone(),
            cloud: a.profile.cloud.map(|c| c.to_string()),
            os: OsSummary::from(&root.os),
            summary: summary(&results),
            results,
        });
    }
    let text = match a.format {
        Format::Table => imgprep_report::check::table(&reports),
        Format::Json => imgprep_report::check::json(&reports),
        Format::Junit => imgprep_report::check::junit(&reports, a.fail_on == FailOn::Warn),
        Format::Sarif => imgprep_report::check::sarif(&reports, &set),
    };
    crate::emit(&text)?;
    let failed = reports
        .iter()
        .flat_map(|r| &r.results)
        .any(|r| a.fail_on.reached_by(r.status));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
