//! `imgprep bundle`: build agent bundles (a Cloudify agent virtualenv, a vendor worker) and
//! verify them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use imgprep_bundle::agent::{self, BuildOptions};
use imgprep_bundle::{
    Bundle, FileKind, Installer, Kind, Manifest, Service, collect_tree, write_bundle,
};

/// Build and verify agent bundles: what `prepare --worker` injects into an image.
///
/// Without a subcommand, builds a Cloudify agent as the agent packager (cfy-ap) does, from its
/// YAML configuration (keys: distribution, release, venv, python_path, requirements_file,
/// cloudify_agent_version, cloudify_agent_module, core_modules, core_plugins,
/// additional_modules, additional_plugins, output_tar, keep_virtualenv/keep_venv). Steps: create
/// the virtualenv with python_path; install setuptools and wheel, the requirements file, the
/// core modules and plugins, the agent module, the additional modules and plugins; uninstall
/// core plugins set to `exclude`; check every named module is installed; write
/// cloudify_agent/included_plugins.py; pack the virtualenv, rewritten for the directory it
/// will have in the guest (--prefix, default /opt/cloudify-agent/agent-VERSION/env).
///
/// A bundle is a reproducible .tar.gz whose first member is imgprep-bundle.json (kind, prefix,
/// target system, every file's size, mode and SHA-256, service, account): the same inputs and
/// SOURCE_DATE_EPOCH give the same bytes.
///
/// Examples:
///   imgprep bundle -c config.yaml --dryrun
///   imgprep bundle -c config.yaml --offline --find-links ./wheels -o agent.tar.gz
///   imgprep bundle -c config.yaml --find-links ./wheels --image debian12.qcow2
///   imgprep bundle worker --from ./osmosix --prefix /usr/local/osmosix \
///       --service cliqr-agent --exec '/usr/local/osmosix/bin/agent run' --user cliqruser
///   imgprep bundle verify agent.tar.gz
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    #[command(flatten)]
    agent: AgentArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    Worker(Box<WorkerArgs>),
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct AgentArgs {
    /// The agent packager configuration (YAML).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "CONFIG.yaml",
        default_value = "config.yaml"
    )]
    config: PathBuf,
    /// Install into an existing virtualenv and replace an existing output.
    #[arg(short = 'f', long)]
    force: bool,
    /// List what would be installed, where, and the output; install and write nothing.
    #[arg(short = 'd', long)]
    dryrun: bool,
    /// Do not check that every named module was installed.
    #[arg(short = 'n', long)]
    no_validation: bool,
    /// Show each step and pip's output on stderr.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Also look for packages in DIR (pip --find-links; repeatable).
    #[arg(long = "find-links", value_name = "DIR")]
    find_links: Vec<PathBuf>,
    /// Use no package index: only --find-links and local sources.
    #[arg(long)]
    offline: bool,
    /// The virtualenv's directory in the guest (default /opt/cloudify-agent/agent-VERSION/env).
    #[arg(long, value_name = "PATH")]
    prefix: Option<String>,
    /// The bundle to write (default: output_tar, else DISTRIBUTION-RELEASE-agent.tar.gz).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Build inside this image's own userland (its Python, compiler and libraries) on a
    /// throwaway overlay, at the guest prefix, in one appliance launch; the image is not
    /// changed and the manifest records its distribution. Local sources and --find-links are
    /// uploaded; there is no network (as --offline).
    #[arg(long, value_name = "IMAGE")]
    image: Option<PathBuf>,
    #[command(flatten)]
    open: crate::OpenArgs,
}

/// Package a vendor worker directory (e.g. a CloudCenter worker tree) with its service and
/// account.
///
/// Every file, directory and link under DIR goes in, owned by root, modes kept; links must stay
/// inside the prefix; device nodes, FIFOs and sockets are refused. prepare installs the service
/// for the guest's init system (systemd unit or SysV script) and creates the account.
///
/// Example:
///   imgprep bundle worker --from ./osmosix --prefix /usr/local/osmosix --name cliqr-worker \
///       --service cliqr-agent --exec '/usr/local/osmosix/bin/agent run' --user cliqruser
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
struct WorkerArgs {
    /// The worker's files, as they are to be installed under PATH.
    #[arg(long = "from", value_name = "DIR")]
    from: PathBuf,
    /// The absolute guest directory the files install to.
    #[arg(long, value_name = "PATH")]
    prefix: String,
    /// The bundle's name (default: DIR's name).
    #[arg(long)]
    name: Option<String>,
    /// The bundle's version.
    #[arg(long = "bundle-version", value_name = "VERSION", default_value = "0")]
    bundle_version: String,
    /// Service name (a systemd unit NAME.service or an init script NAME).
    #[arg(long, value_name = "NAME", requires = "exec")]
    service: Option<String>,
    /// The service's command line (absolute paths in the guest).
    #[arg(long, value_name = "CMD", requires = "service")]
    exec: Option<String>,
    /// One-line description of the service.
    #[arg(long, requires = "service")]
    description: Option<String>,
    /// The account the worker runs as (prepare creates it when missing).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The installer a Windows guest runs at first boot (a file under DIR: .msi, .exe, .ps1,
    /// .bat or .cmd), instead of a service.
    #[arg(long, value_name = "FILE", conflicts_with = "service")]
    installer: Option<String>,
    /// Arguments for the installer's unattended run (an .exe's silent switches such as /S).
    #[arg(
        long,
        value_name = "ARGS",
        requires = "installer",
        allow_hyphen_values = true
    )]
    installer_args: Option<String>,
    /// The bundle to write (default NAME-VERSION.tar.gz).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Replace an existing output.
    #[arg(short = 'f', long)]
    force: bool,
}

/// Check a bundle as prepare does: manifest, every entry's path, type, link and checksum.
///
/// Exit 0 with a summary when it is sound; 2 with one line naming the first problem otherwise.
#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The bundle (.tar.gz).
    bundle: PathBuf,
    /// Accept a plain .tar.gz without a manifest, to be unpacked at PATH.
    #[arg(long, value_name = "PATH")]
    prefix: Option<String>,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.sub {
        Some(Sub::Worker(w)) => worker(*w),
        Some(Sub::Verify(v)) => verify(v),
        None => cloudify_agent(a.agent),
    }
}

/// `SOURCE_DATE_EPOCH`, 0 when unset.
fn epoch() -> anyhow::Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH {v:?} is not a number of seconds")),
        Err(_) => Ok(0),
    }
}

fn cloudify_agent(a: AgentArgs) -> anyhow::Result<ExitCode> {
    let (cfg, digest) = agent::load_config(&a.config)?;
    let opts = BuildOptions {
        force: a.force,
        dryrun: a.dryrun,
        no_validation: a.no_validation,
        find_links: a.find_links.clone(),
        offline: a.offline,
        prefix: a.prefix.clone(),
        output: a.output.clone(),
        verbose: a.verbose,
        epoch: epoch()?,
    };
    if let Some(p) = &opts.prefix {
        check_prefix(p)?;
    }
    let plan = agent::plan(&cfg, &digest, &opts)?;
    if opts.dryrun {
        let mut s = String::new();
        s.push_str(&format!(
            "distribution: {} {}\npython: {}\nvirtualenv: {}\noutput: {}\nprefix: {}\n",
            plan.distribution,
            plan.release,
            plan.python.display(),
            plan.venv.display(),
            plan.output.display(),
            opts.prefix
                .as_deref()
                .unwrap_or("/opt/cloudify-agent/agent-VERSION/env (VERSION: the agent module's)")
        ));
        if let Some(n) = &plan.python_note {
            s.push_str(&format!("note: {n}\n"));
        }
        s.push_str("install, in order:\n");
        for st in &plan.steps {
            s.push_str(&format!("  {}: {}\n", st.what, st.args.join(" ")));
        }
        for e in &plan.excluded {
            s.push_str(&format!("uninstall (excluded): {e}\n"));
        }
        if !opts.no_validation {
            s.push_str(&format!("validate: {}\n", plan.validate.join(", ")));
        }
        s.push_str(&format!(
            "included_plugins.py: [{}]\ndryrun: nothing installed, nothing written\n",
            plan.plugins.join(", ")
        ));
        crate::emit(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    let show = a.verbose || std::io::stderr().is_terminal();
    let mut log = |line: &str| {
        if show {
            eprintln!("imgprep: bundle: {line}");
        }
    };
    if let Some(image) = &a.image {
        let m = crate::bundle_image::build(image, &a.open, &plan, &opts, &mut log)?;
        crate::emit(&summary(&plan.output.display().to_string(), &m))?;
        return Ok(ExitCode::SUCCESS);
    }
    let built = agent::build(plan, &opts, &mut log)?;
    crate::emit(&summary(
        &built.plan.output.display().to_string(),
        &built.manifest,
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn check_prefix(p: &str) -> anyhow::Result<()> {
    if !p.starts_with('/') || p.split('/').any(|c| c == ".." || c == ".") || p.contains('\0') {
        bail!("--prefix {p:?}: expected a plain absolute path such as /usr/local/osmosix");
    }
    Ok(())
}

fn worker(w: WorkerArgs) -> anyhow::Result<ExitCode> {
    check_prefix(&w.prefix)?;
    let name = match w.name {
        Some(n) => n,
        None => fs_err::canonicalize(&w.from)?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "worker".into()),
    };
    if let Some(e) = &w.exec
        && !e.trim_start().starts_with('/')
    {
        bail!("--exec {e:?}: the command must be an absolute path in the guest");
    }
    let out = w
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{name}-{}.tar.gz", w.bundle_version)));
    if fs_err::symlink_metadata(&out).is_ok() && !w.force {
        bail!("{}: already exists (--force replaces it)", out.display());
    }
    let files = collect_tree(&w.from)?;
    let service = match (w.service, w.exec) {
        (Some(name), Some(exec)) => Some(Service {
            name,
            exec,
            description: w.description,
            user: w.user.clone(),
        }),
        _ => None,
    };
    let installer = w.installer.map(|path| Installer {
        path,
        args: w.installer_args,
    });
    let mut build = serde_json::Map::new();
    build.insert(
        "tool".into(),
        format!("imgprep {}", env!("CARGO_PKG_VERSION")).into(),
    );
    let epoch = epoch()?;
    build.insert("source_date_epoch".into(), epoch.into());
    let manifest = Manifest {
        format: 1,
        kind: Kind::Worker,
        name,
        version: w.bundle_version,
        prefix: w.prefix,
        target: None,
        files: Vec::new(),
        service,
        user: w.user,
        installer,
        build,
    };
    let written = write_bundle(&out, &manifest, &files, epoch)?;
    // What prepare will accept: refuse (and remove) anything it would refuse.
    if let Err(e) = Bundle::open(&out) {
        let _ = fs_err::remove_file(&out);
        return Err(e.into());
    }
    crate::emit(&summary(&out.display().to_string(), &written))?;
    Ok(ExitCode::SUCCESS)
}

fn verify(v: VerifyArgs) -> anyhow::Result<ExitCode> {
    let b = match &v.prefix {
        Some(p) => Bundle::open_plain(&v.bundle, p)?,
        None => Bundle::open(&v.bundle)?,
    };
    let shown = v.bundle.display().to_string();
    let text = match &b.manifest {
        Some(m) => summary(&shown, m),
        None => format!(
            "{shown}: a plain tar.gz, sound, for {}: {} files, {} bytes\n",
            b.prefix,
            b.entries
                .iter()
                .filter(|e| e.kind == FileKind::File)
                .count(),
            b.entries.iter().map(|e| e.size).sum::<u64>()
        ),
    };
    crate::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// A bundle's summary, one fact a line.
fn summary(path: &str, m: &Manifest) -> String {
    let kind = match m.kind {
        Kind::Worker => "worker",
        Kind::CloudifyAgent => "cloudify-agent",
    };
    let files = m.files.iter().filter(|f| f.kind == FileKind::File).count();
    let bytes: u64 = m.files.iter().filter_map(|f| f.size).sum();
    let mut s = format!(
        "{path}: {kind} {} {}\nprefix: {}\nfiles: {files} files, {} entries, {bytes} bytes\n",
        m.name,
        m.version,
        m.prefix,
        m.files.len()
    );
    if let Some(t) = &m.target {
        s.push_str(&format!(
            "target: {} {} {}{}\n",
            t.distribution,
            t.release,
            t.arch,
            t.python
                .as_deref()
                .map(|p| format!(" python {p}"))
                .unwrap_or_default()
        ));
    }
    if let Some(sv) = &m.service {
        s.push_str(&format!("service: {} ({})\n", sv.name, sv.exec));
    }
    if let Some(u) = &m.user {
        s.push_str(&format!("user: {u}\n"));
    }
    if let Some(i) = &m.installer {
        s.push_str(&format!(
            "installer: {}{}\n",
            i.path,
            i.args
                .as_deref()
                .map(|a| format!(" {a}"))
                .unwrap_or_default()
        ));
    }
    s
}
