//! `imgprep generate-docs DIR` (hidden): the man pages and shell completions that packages
//! install, generated from the same clap definitions the binary parses with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;

/// Write a man page per command (DIR/man/imgprep.1, DIR/man/imgprep-check.1, …) and shell
/// completions (DIR/completions/imgprep.bash, _imgprep, imgprep.fish).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output directory (created if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let man = a.dir.join("man");
    fs_err::create_dir_all(&man)?;
    clap_mangen::generate_to(crate::Cli::command(), &man)
        .with_context(|| format!("man pages in {}", man.display()))?;
    let comp = a.dir.join("completions");
    fs_err::create_dir_all(&comp)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut c = crate::Cli::command();
        clap_complete::generate_to(shell, &mut c, "imgprep", &comp)
            .with_context(|| format!("{shell} completions in {}", comp.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
