//! `imgprep rules` and `imgprep matrix`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use imgprep_rules::{Cloud, RuleSet};

/// List rules and profiles, or explain one rule.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: RulesCommand,
    /// Extra directory of rule files (*.yaml) to load with the built-in ones (repeatable).
    #[arg(long = "rules", value_name = "DIR", global = true)]
    rules: Vec<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// Profiles with their parameters, and their rules (id, severity, title).
    List {
        /// Only this profile.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Everything about one rule: rationale, source, when it applies, the check, the fix.
    Explain {
        /// Rule id, e.g. umask.login.
        id: String,
    },
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let set = RuleSet::load(&a.rules)?;
    let text = match a.command {
        RulesCommand::List { profile } => list(&set, profile.as_deref())?,
        RulesCommand::Explain { id } => explain(&set, &id)?,
    };
    crate::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn list(set: &RuleSet, only: Option<&str>) -> anyhow::Result<String> {
    if let Some(p) = only
        && set.profile(p).is_none()
    {
        bail!("unknown profile {p:?}");
    }
    Ok(imgprep_report::rules::list(set, only))
}

fn explain(set: &RuleSet, id: &str) -> anyhow::Result<String> {
    match imgprep_report::rules::explain(set, id) {
        Some(s) => Ok(s),
        None => bail!("unknown rule {id:?} (imgprep rules list shows them)"),
    }
}

/// Output formats of `matrix`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum MatrixFormat {
    /// A table.
    Table,
    /// JSON: rows with a cell per cloud.
    Json,
}

/// Show which clouds can install the management agent at first boot (dynamic bootstrapping) on
/// which OS, with the conditions.
#[derive(Debug, clap::Args)]
pub(crate) struct MatrixArgs {
    /// Only this cloud.
    #[arg(long, value_parser = crate::cmd_check::cloud_parser())]
    cloud: Option<Cloud>,
    /// Only rows whose OS matches, e.g. centos-7, centos, windows-2016.
    #[arg(long)]
    os: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = MatrixFormat::Table)]
    format: MatrixFormat,
}

pub(crate) fn matrix(a: MatrixArgs) -> anyhow::Result<ExitCode> {
    let set = RuleSet::builtin()?;
    let m = &set.matrix;
    let clouds: Vec<Cloud> = m
        .clouds
        .iter()
        .copied()
        .filter(|c| a.cloud.is_none_or(|w| w == *c))
        .collect();
    if clouds.is_empty() {
        bail!(
            "the matrix does not list {} (it lists {})",
            a.cloud.map(|c| c.to_string()).unwrap_or_default(),
            m.clouds
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let rows: Vec<_> = m
        .rows
        .iter()
        .filter(|r| a.os.as_deref().is_none_or(|o| r.os.starts_with(o)))
        .collect();
    if rows.is_empty() {
        bail!("no matrix row matches --os {}", a.os.unwrap_or_default());
    }
    let text = match a.format {
        MatrixFormat::Json => imgprep_report::rules::matrix_json(m, &clouds, &rows),
        MatrixFormat::Table => imgprep_report::rules::matrix_table(m, &clouds, &rows),
    };
    crate::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
