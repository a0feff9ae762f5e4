//! The `imgprep` command: the only place that prints or chooses an exit code.
//!
//! Exit codes: 0 nothing failed; 1 at least one rule failed; 2 imgprep could not do its job (bad
//! argument, unreadable or corrupt image, missing dependency), with a one-line reason on stderr.

mod cmd_check;
mod cmd_inspect;
mod cmd_rules;
mod keys;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect, validate and prepare offline VM disk images (qcow2, raw, VMDK, VHD, VHDX) without
/// booting them.
#[derive(Debug, Parser)]
#[command(name = "imgprep", version, max_term_width = 100)]
#[command(
    after_help = "Exit status: 0 nothing failed, 1 a rule failed, 2 imgprep could not do \
its job (the reason is on stderr)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Inspect(cmd_inspect::Args),
    Check(cmd_check::Args),
    Rules(cmd_rules::Args),
    Matrix(cmd_rules::MatrixArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => cmd_inspect::run(a),
        Command::Check(a) => cmd_check::run_check(a),
        Command::Rules(a) => cmd_rules::run(a),
        Command::Matrix(a) => cmd_rules::matrix(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "imgprep: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes `s` to stdout; a closed pipe (`imgprep … | head`) is not an error.
fn emit(s: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
