//! `imgprep inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use imgprep_inspect::{Options, inspect};

/// Output formats of `inspect`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// A summary for people.
    Table,
    /// virt-inspector's fields as JSON.
    Json,
    /// virt-inspector's XML document.
    Xml,
}

/// Report the operating systems in a disk image, in virt-inspector's vocabulary.
///
/// For each: distro, version, architecture, hostname, mounts, filesystems and installed packages.
/// The image is read natively (no appliance, no root) and never modified. Its format is detected
/// from its content. Extra disks of the same VM (e.g. a second disk holding /var) can follow.
///
/// Examples:
///   imgprep inspect golden.qcow2
///   imgprep inspect --format json golden.vmdk | jq '.operatingsystems[0].distro'
///   imgprep inspect --format xml --no-applications disk1.vhdx disk2.vhdx
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Disk image(s) of one VM, in disk order (the first is /dev/sda).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Do not list installed packages (faster on large package databases).
    #[arg(long)]
    no_applications: bool,
    #[command(flatten)]
    open: crate::OpenArgs,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let image = a.open.open(&a.images)?;
    let i = inspect(
        &image,
        Options {
            applications: !a.no_applications,
        },
    );
    let name = a.images[0].display().to_string();
    // JSON and XML go out as they are rendered: a long package list is not held twice.
    match a.format {
        Format::Table => crate::emit(&imgprep_report::inspect::table(&i, &name))?,
        Format::Json => crate::emit_with(|out| imgprep_report::inspect::write_json(&i, out))?,
        Format::Xml => crate::emit_with(|out| imgprep_report::inspect::write_xml(&i, out))?,
    }
    if i.operatingsystems.is_empty() && !matches!(a.format, Format::Table) {
        eprintln!("imgprep: no operating system found in {name}");
    }
    Ok(ExitCode::SUCCESS)
}
