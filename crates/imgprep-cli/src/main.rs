//! The `imgprep` command: the only place that prints or chooses an exit code.
//!
//! Exit codes: 0 nothing failed; 1 at least one rule failed; 2 imgprep could not do its job (bad
//! argument, unreadable or corrupt image, missing dependency), with a one-line reason on stderr.

mod bundle_image;
mod cmd_bundle;
mod cmd_check;
mod cmd_docs;
mod cmd_inspect;
mod cmd_mapping;
mod cmd_prepare;
mod cmd_report;
mod cmd_rules;
mod fleet;
mod interrupt;
mod keys;
mod progress;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imgprep_guest::{Image, ImageError};

/// Inspect, validate and prepare offline VM disk images (qcow2, raw, VMDK, VHD, VHDX) without
/// booting them.
#[derive(Debug, Parser)]
#[command(name = "imgprep", version, max_term_width = 100)]
#[command(
    after_help = "Exit status: 0 nothing failed, 1 a rule failed (or, of several images, one \
could not be read), 2 imgprep could not do its job (the reason is on stderr)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Inspect(cmd_inspect::Args),
    Check(cmd_check::Args),
    Prepare(Box<cmd_prepare::Args>),
    Rules(cmd_rules::Args),
    Report(cmd_report::Args),
    Matrix(cmd_rules::MatrixArgs),
    Bundle(Box<cmd_bundle::Args>),
    Mapping(cmd_mapping::Args),
    /// Write the man pages and shell completions into a directory (for packagers).
    #[command(hide = true)]
    GenerateDocs(cmd_docs::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => cmd_inspect::run(a),
        Command::Check(a) => cmd_check::run_check(a),
        Command::Prepare(a) => cmd_prepare::run_prepare(*a),
        Command::Rules(a) => cmd_rules::run(a),
        Command::Report(a) => cmd_report::run(a),
        Command::Matrix(a) => cmd_rules::matrix(a),
        Command::Bundle(a) => cmd_bundle::run(*a),
        Command::Mapping(a) => cmd_mapping::run_mapping(a),
        Command::GenerateDocs(a) => cmd_docs::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "imgprep: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// How images are opened: which other host files they may name, and the keys of their LUKS
/// devices.
#[derive(Debug, clap::Args)]
pub(crate) struct OpenArgs {
    /// Also allow backing files and VMDK extent files inside DIR (repeatable). By default an
    /// image may name only files in its own directory (or below it): a qcow2 backing file or an
    /// extent that resolves elsewhere, or to anything but a regular file, is refused.
    #[arg(long = "allow-backing", value_name = "DIR")]
    allow_backing: Vec<PathBuf>,
    /// Passphrase for a LUKS device, as virt-inspector takes it: ID:key:PASSPHRASE or
    /// ID:file:PATH (first line of the file); ID is the device (/dev/sda2) or the LUKS UUID
    /// (repeatable).
    #[arg(long = "key", value_name = "ID:key:PASSPHRASE", value_parser = crate::keys::key_arg)]
    keys: Vec<crate::keys::KeyArg>,
}

impl OpenArgs {
    /// Opens the disks of one VM; errors name the image.
    pub(crate) fn open(&self, paths: &[PathBuf]) -> anyhow::Result<Image> {
        self.open_allowing_more(paths, &[])
    }

    /// [`OpenArgs::open`] also allowing backing files in `more` (prepare's overlays, backed by
    /// the input).
    pub(crate) fn open_allowing_more(
        &self,
        paths: &[PathBuf],
        more: &[PathBuf],
    ) -> anyhow::Result<Image> {
        let opts = crate::keys::scan_options(&self.keys)?;
        let mut allow = self.allow_backing.clone();
        allow.extend(more.iter().cloned());
        Image::open_with(paths, &allow, &opts).map_err(|e| match e {
            // Already names the image it is about.
            e @ (ImageError::Disk { .. }
            | ImageError::Container(imgprep_container::Error::Io(_))) => anyhow::Error::new(e),
            e => {
                let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                anyhow::Error::new(e).context(shown.join(", "))
            }
        })
    }
}

/// Writes `s` to stdout; a closed pipe (`imgprep … | head`) is not an error.
/// The first operating system of `image` (what check, prepare and mapping work on) and its
/// disks; an error naming `shown` and the notes of what could not be read when it has none.
fn first_root(
    image: &Image,
    shown: &str,
    nothing_to: &str,
) -> anyhow::Result<(imgprep_inspect::Root, Vec<imgprep_inspect::DiskInfo>)> {
    let (mut roots, notes) =
        imgprep_inspect::inspect_roots(image, imgprep_inspect::Options::default());
    let disks = imgprep_inspect::disks(image);
    if roots.is_empty() {
        let why = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        anyhow::bail!("{shown}: no operating system found, nothing to {nothing_to}{why}");
    }
    Ok((roots.remove(0), disks))
}

fn emit(s: &str) -> anyhow::Result<()> {
    emit_with(|out| out.write_all(s.as_bytes()))
}

/// Lets `write` write to stdout; a closed pipe is not an error.
fn emit_with(
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
