//! `imgprep report merge`: shards of a fleet run back into one report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use imgprep_report::check::ImageReport;
use imgprep_rules::RuleSet;

use crate::cmd_check::{FailOn, Format};
use crate::fleet::Outcome;

/// Work on saved reports.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Merge(MergeArgs),
}

/// Merge the `check --format jsonl` outputs of the shards of a run (`--shard I/N`) into one
/// report, in the order of the whole input list: the report a single run over every image gives.
///
/// An image that appears in two files is refused. Exit status as `check`: 0 nothing reaches
/// --fail-on and no image errored, 1 something does, 2 a file cannot be read or is not a jsonl
/// report, or no image at all could be read.
///
/// Example:
///   imgprep report merge results/shard-*.jsonl --format junit > fleet.xml
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
struct MergeArgs {
    /// JSON Lines reports of `imgprep check --format jsonl`.
    #[arg(required = true, value_name = "FILE.jsonl")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// As for `check`.
    #[arg(long, value_name = "LEVEL", default_value = "fail", value_parser = <FailOn as std::str::FromStr>::from_str)]
    fail_on: FailOn,
    /// Extra rule directories the run used (SARIF describes their rules).
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let Command::Merge(a) = a.command;
    let set = RuleSet::load(&a.rules)?;
    let mut all: BTreeMap<usize, (ImageReport, String)> = BTreeMap::new();
    for f in &a.files {
        let shown = f.display().to_string();
        let text = fs_err::read_to_string(f)?;
        for (index, report) in imgprep_report::check::parse_jsonl(&text, &shown)? {
            if let Some((other, file)) = all.get(&index) {
                bail!(
                    "{shown}: image {} (index {index}) is also in {file} (as {}): the files are \
                     not shards of one run",
                    report.image(),
                    other.image()
                );
            }
            all.insert(index, (report, shown.clone()));
        }
    }
    let indexes: Vec<usize> = all.keys().copied().collect();
    let reports: Vec<ImageReport> = all.into_values().map(|(r, _)| r).collect();
    let failed = reports.iter().any(|r| match r {
        ImageReport::Checked(c) => c.results.iter().any(|x| a.fail_on.reached_by(x)),
        ImageReport::Unreadable(_) => true,
    });
    let text = match a.format {
        Format::Jsonl => {
            let mut s = String::new();
            for (i, r) in indexes.iter().zip(&reports) {
                s.push_str(&imgprep_report::check::jsonl_line(*i, r));
            }
            s
        }
        Format::Table => imgprep_report::check::table(&reports),
        Format::Json => imgprep_report::check::json(&reports),
        Format::Junit => imgprep_report::check::junit(&reports, a.fail_on == FailOn::Warn),
        Format::Sarif => imgprep_report::check::sarif(&reports, &set),
    };
    crate::emit(&text)?;
    let outcomes: Vec<Outcome> = reports
        .iter()
        .map(|r| Outcome {
            shown: r.image().to_owned(),
            status: r.status(),
            took: None,
        })
        .collect();
    crate::cmd_check::finish(&outcomes, failed)
}
