//! `imgprep inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use imgprep_inspect::{Options, inspect};
use imgprep_report::check::ImageStatus;

use crate::fleet::{self, FleetArgs, Outcome};

/// Output formats of `inspect`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// A summary for people.
    Table,
    /// virt-inspector's fields as JSON.
    Json,
    /// virt-inspector's XML document (one image, or the disks of one VM).
    Xml,
    /// JSON Lines: one object per image (`index`, `image`, then the JSON fields) as soon as it
    /// is done.
    Jsonl,
}

/// Report the operating systems in a disk image, in virt-inspector's vocabulary.
///
/// For each: distro, version, architecture, hostname, mounts, filesystems and installed packages.
/// The image is read natively (no appliance, no root) and never modified. Its format is detected
/// from its content. Extra disks of the same VM (e.g. a second disk holding /var) can follow.
///
/// A directory PATH (the images in it, recognised by content; --recursive walks below it) or a
/// quoted glob makes a fleet run instead: each image is inspected on its own, --jobs at a time,
/// in input order; JSON becomes {"images": [...]} with an "image" field in each. An image that
/// cannot be read is an entry with status "error" and the reason, and the others are still
/// inspected. Exit status of a fleet run: 0 every image was read, 1 some could not be, 2 none
/// could (or a usage error).
///
/// Examples:
///   imgprep inspect golden.qcow2
///   imgprep inspect --format json golden.vmdk | jq '.operatingsystems[0].distro'
///   imgprep inspect --format xml --no-applications disk1.vhdx disk2.vhdx
///   imgprep inspect /srv/images --recursive --format jsonl --jobs 4
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Disk image(s) of one VM, in disk order (the first is /dev/sda); or directories and globs
    /// of images, each inspected on its own.
    #[arg(required = true, value_name = "PATH")]
    images: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Do not list installed packages (faster on large package databases).
    #[arg(long)]
    no_applications: bool,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    open: crate::OpenArgs,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let inputs = fleet::expand(&a.images, &a.fleet)?;
    if inputs.expanded {
        return run_fleet(&a, &inputs);
    }
    let options = Options {
        applications: !a.no_applications,
    };
    let image = a.open.open(&a.images)?;
    let i = inspect(&image, options);
    let name = a.images[0].display().to_string();
    // JSON and XML go out as they are rendered: a long package list is not held twice.
    match a.format {
        Format::Table => crate::emit(&imgprep_report::inspect::table(&i, &name))?,
        Format::Json => crate::emit_with(|out| imgprep_report::inspect::write_json(&i, out))?,
        Format::Xml => crate::emit_with(|out| imgprep_report::inspect::write_xml(&i, out))?,
        Format::Jsonl => crate::emit(&imgprep_report::inspect::jsonl_line(
            0,
            &imgprep_report::inspect::image_value(&name, Ok(&i)),
        ))?,
    }
    if i.operatingsystems.is_empty() && !matches!(a.format, Format::Table) {
        eprintln!("imgprep: no operating system found in {name}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Each image on its own.
fn run_fleet(a: &Args, inputs: &fleet::Inputs) -> anyhow::Result<ExitCode> {
    if matches!(a.format, Format::Xml) && inputs.images.len() != 1 {
        bail!("--format xml describes one VM; use json or jsonl for several images");
    }
    let options = Options {
        applications: !a.no_applications,
    };
    let mut values = Vec::new();
    let mut tables = String::new();
    let mut outcomes = Vec::new();
    fleet::run(
        &inputs.images,
        fleet::jobs(&a.fleet),
        |input| {
            a.open
                .open(std::slice::from_ref(&input.path))
                .map(|image| inspect(&image, options))
                .map_err(|e| format!("{e:#}"))
        },
        |input, result, took| {
            let status = match &result {
                Ok(i) if i.operatingsystems.is_empty() => ImageStatus::Warn,
                Ok(_) => ImageStatus::Pass,
                Err(_) => ImageStatus::Error,
            };
            outcomes.push(Outcome {
                shown: input.shown.clone(),
                status,
                took: Some(took),
            });
            match a.format {
                Format::Table => {
                    tables.push_str(&match &result {
                        Ok(i) => imgprep_report::inspect::table(i, &input.shown),
                        Err(reason) => format!("{}: ERROR: {reason}\n", input.shown),
                    });
                    tables.push('\n');
                }
                Format::Xml => {
                    tables.push_str(&match &result {
                        Ok(i) => imgprep_report::inspect::xml(i),
                        Err(reason) => bail!("{reason}"),
                    });
                }
                Format::Json | Format::Jsonl => {
                    let v = imgprep_report::inspect::image_value(
                        &input.shown,
                        result.as_ref().map_err(String::as_str),
                    );
                    if matches!(a.format, Format::Jsonl) {
                        crate::emit(&imgprep_report::inspect::jsonl_line(input.index, &v))?;
                    } else {
                        values.push(v);
                    }
                }
            }
            Ok(())
        },
    )?;
    match a.format {
        Format::Json => crate::emit(&imgprep_report::inspect::json_many(&values))?,
        Format::Table | Format::Xml => crate::emit(&tables)?,
        Format::Jsonl => {}
    }
    let failed = outcomes.iter().any(|o| o.status == ImageStatus::Error);
    crate::cmd_check::finish(&outcomes, failed)
}
