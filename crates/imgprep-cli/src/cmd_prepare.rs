//! `imgprep prepare`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use imgprep_inspect::Root;
use imgprep_plan::{Inputs, Plan};
use imgprep_rules::{Context, RuleResult, RuleSet, Status, effective_params, run};

/// Output formats of `prepare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// The plan for people, then each rule before and after.
    Table,
    /// The plan (every operation, with sizes and checksums) as JSON.
    Json,
    /// The plan as an equivalent `virt-customize` command line (with --dry-run).
    VirtCustomize,
}

/// Output image formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// qcow2 (OpenStack, KVM).
    Qcow2,
    /// Raw, sparse (Google Cloud takes it as disk.raw in a tar.gz).
    Raw,
    /// streamOptimized VMDK (vSphere, AWS VM Import).
    Vmdk,
    /// Fixed VHD, size aligned to 1 MiB (Azure).
    Vhd,
    /// VHDX (Hyper-V).
    Vhdx,
}

/// Fix what the profile finds wrong, offline: plan natively, apply in one appliance launch,
/// verify natively.
///
/// The profile's rules run on the image as `check` runs them. Every failing rule whose fix is
/// known becomes concrete file operations computed from the guest's own configuration: the init
/// system and unit directories, the next free UID from login.defs, the trust store's files,
/// whether sudoers reads /etc/sudoers.d, the current control set. `--dry-run` prints that plan
/// and launches nothing. Otherwise the plan is applied through libguestfs to an overlay of the
/// input (the input's bytes never change), the result is checked again natively, and only then
/// does the output appear (renamed into place); any failure, timeout or Ctrl-C leaves no output.
///
/// The output (-o) is a self-contained image in --output-format (default qcow2), what a cloud
/// imports; --overlay keeps the small qcow2 overlay backed by the input instead; --in-place
/// writes into the input itself, after the result was verified.
///
/// Exit status: 0 when every failing rule was fixed, 1 when some still fail (no fix known, or
/// not selected), 2 when imgprep could not do its job (nothing written).
///
/// Examples:
///   imgprep prepare golden.qcow2 --profile cloudcenter-worker --dry-run
///   imgprep prepare golden.qcow2 --profile cloudcenter-worker --worker worker.tar.gz \
///       --package net-tools_2.10_amd64.deb --param ca=corp-ca.pem -o ready.qcow2
///   imgprep prepare win2016.vhdx --profile rackspace-nova-agent -o ready.vhd --output-format vhd
///   imgprep prepare golden.qcow2 --profile cloudcenter-worker --dry-run --format virt-customize
///   imgprep prepare golden/ --profile cloudcenter-worker --worker worker.tar.gz -o ready/
///
/// A fleet (a directory or a glob as IMAGE) prepares each image on its own, one at a time unless
/// --jobs says otherwise (each costs an appliance launch), into -o DIR/NAME.FORMAT; an image
/// that cannot be prepared is reported and the others go on. Exit status then: 2 when no image
/// could be prepared, 1 when one failed or still fails a rule, else 0. --format json prints
/// one object per line.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("target").args(["output", "in_place", "dry_run"]).required(true).multiple(true)))]
pub(crate) struct Args {
    /// Disk image(s) of one VM, in disk order (the first is /dev/sda); or directories and
    /// globs of images, each prepared on its own (a fleet: -o then names a directory).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    #[command(flatten)]
    fleet: crate::fleet::FleetArgs,
    #[command(flatten)]
    profile: crate::cmd_check::ProfileArgs,
    /// The worker to inject: a bundle (imgprep bundle) or a tar.gz with --param agent_dest=DIR.
    #[arg(long, value_name = "BUNDLE")]
    worker: Option<PathBuf>,
    /// A local .deb or .rpm for install-package fixes, with what it depends on (repeatable).
    #[arg(long = "package", value_name = "FILE")]
    packages: Vec<PathBuf>,
    /// Fix only this rule (repeatable).
    #[arg(long = "only", value_name = "RULE")]
    only: Vec<String>,
    /// Do not fix this rule (repeatable).
    #[arg(long = "skip", value_name = "RULE")]
    skip: Vec<String>,
    /// Where to write the prepared image (a directory for several disks).
    #[arg(short, long, value_name = "OUT", conflicts_with = "in_place")]
    output: Option<PathBuf>,
    /// Format of the output image.
    #[arg(long, value_enum, default_value_t = OutputFormat::Qcow2, requires = "output")]
    output_format: OutputFormat,
    /// Write the qcow2 overlay (backed by the input, small and fast) instead of a
    /// self-contained image; it needs the input beside it to be read.
    #[arg(long, requires = "output", conflicts_with = "output_format")]
    overlay: bool,
    /// Compress the output's clusters (qcow2 only, as `qemu-img convert -c`: smaller uploads,
    /// slower to write; a streamOptimized VMDK is always compressed).
    #[arg(long, requires = "output", conflicts_with = "overlay")]
    compress: bool,
    /// Change the input image itself (qcow2, raw, VHD, VHDX, monolithicSparse VMDK; the changes
    /// are verified on an overlay first, then committed).
    #[arg(long)]
    in_place: bool,
    /// Print the plan and change nothing (no appliance).
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Seconds the libguestfs appliance may take to start before it is stopped.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    appliance_timeout: u64,
    #[command(flatten)]
    open: crate::OpenArgs,
}

/// The rules of `profile` on the first OS root of `paths`.
struct Checked {
    root: Root,
    disks: Vec<imgprep_inspect::DiskInfo>,
    results: Vec<RuleResult>,
}

fn check(
    open: &crate::OpenArgs,
    paths: &[PathBuf],
    set: &RuleSet,
    p: &crate::cmd_check::ProfileArgs,
    params: &std::collections::BTreeMap<String, String>,
    allow: &[PathBuf],
) -> anyhow::Result<Checked> {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let image = open.open_allowing_more(paths, allow)?;
    let (root, disks) = crate::first_root(&image, &shown.join(", "), "prepare")?;
    let results = {
        let cx = Context::new(&root.os, &root.guest, p.cloud, params, &set.matrix, &disks);
        run(set, &p.profile, &cx)
    };
    Ok(Checked {
        root,
        disks,
        results,
    })
}

fn failing(results: &[RuleResult]) -> impl Iterator<Item = &RuleResult> {
    results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Error))
}

pub(crate) fn run_prepare(a: Args) -> anyhow::Result<ExitCode> {
    let set = RuleSet::load(&a.profile.rules)?;
    let params = effective_params(&set, &a.profile.profile, &a.profile.params)
        .map_err(anyhow::Error::msg)?;
    if a.compress && a.output_format != OutputFormat::Qcow2 {
        bail!(
            "--compress applies to qcow2 output only (--output-format {} cannot hold compressed \
             clusters; a streamOptimized vmdk is compressed anyway)",
            clap::ValueEnum::to_possible_value(&a.output_format)
                .map_or_else(String::new, |v| v.get_name().to_owned())
        );
    }
    let inputs = crate::fleet::expand(&a.images, &a.fleet)?;
    if !inputs.expanded {
        let (text, code) = prepare_one(&a, &set, &params, &a.images, a.output.clone())?;
        crate::emit(&text)?;
        return Ok(code);
    }
    run_fleet(&a, &set, &params, &inputs.images)
}

/// The output of `input` in the fleet's output directory.
fn fleet_output(a: &Args, dir: &std::path::Path, input: &std::path::Path) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    let ext = match (a.overlay, a.output_format) {
        (true, _) | (false, OutputFormat::Qcow2) => "qcow2",
        (false, OutputFormat::Raw) => "raw",
        (false, OutputFormat::Vmdk) => "vmdk",
        (false, OutputFormat::Vhd) => "vhd",
        (false, OutputFormat::Vhdx) => "vhdx",
    };
    dir.join(format!("{stem}.{ext}"))
}

/// Each image of a fleet prepared on its own; errors are the image's, not the run's.
fn run_fleet(
    a: &Args,
    set: &RuleSet,
    params: &std::collections::BTreeMap<String, String>,
    images: &[crate::fleet::Input],
) -> anyhow::Result<ExitCode> {
    use imgprep_report::check::ImageStatus;
    if let Some(dir) = &a.output {
        if !dir.is_dir() {
            bail!(
                "-o {}: with a directory or glob of images, -o names an existing directory \
                 (each output is DIR/NAME.FORMAT)",
                dir.display()
            );
        }
        let mut seen = std::collections::BTreeMap::new();
        for i in images {
            if let Some(first) = seen.insert(fleet_output(a, dir, &i.path), &i.shown) {
                bail!(
                    "{first} and {} would both be written to {}",
                    i.shown,
                    fleet_output(a, dir, &i.path).display()
                );
            }
        }
    }
    let jobs = a.fleet.jobs.map_or(1, |j| j as usize);
    let mut outcomes = Vec::new();
    let mut failed = false;
    crate::fleet::run(
        images,
        jobs,
        |input| {
            let out = a.output.as_ref().map(|d| fleet_output(a, d, &input.path));
            prepare_one(a, set, params, std::slice::from_ref(&input.path), out)
        },
        |input, result, took| {
            let status = match result {
                Ok((text, code)) => {
                    let text = match a.format {
                        // One JSON object per line: the plans of a fleet as JSON Lines.
                        Format::Json => serde_json::from_str::<serde_json::Value>(&text)
                            .map(|v| format!("{v}\n"))
                            .unwrap_or(text),
                        _ => text,
                    };
                    crate::emit(&text)?;
                    if code == ExitCode::SUCCESS {
                        ImageStatus::Pass
                    } else {
                        ImageStatus::Fail
                    }
                }
                Err(e) => {
                    let e = format!("{e:#}");
                    if e.contains(&input.shown) {
                        eprintln!("imgprep: {e}");
                    } else {
                        eprintln!("imgprep: {}: {e}", input.shown);
                    }
                    ImageStatus::Error
                }
            };
            failed |= status != ImageStatus::Pass;
            outcomes.push(crate::fleet::Outcome {
                shown: input.shown.clone(),
                status,
                took: Some(took),
            });
            Ok(())
        },
    )?;
    crate::cmd_check::finish(&outcomes, failed)
}

/// Prepares the VM whose disks are `images` into `output`: the report and the exit status.
fn prepare_one(
    a: &Args,
    set: &RuleSet,
    params: &std::collections::BTreeMap<String, String>,
    images: &[PathBuf],
    output: Option<PathBuf>,
) -> anyhow::Result<(String, ExitCode)> {
    let name = images[0].display().to_string();
    let before = check(&a.open, images, set, &a.profile, params, &[])?;
    let ca = match params.get("ca").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            imgprep_io::host::read(std::path::Path::new(c), 4 << 20)
                .with_context(|| format!("--param ca={c}"))?,
        ),
        None => None,
    };
    for p in &a.packages {
        imgprep_io::host::open(
            p,
            imgprep_io::host::Accept::Regular,
            imgprep_io::host::Follow::Yes,
        )
        .with_context(|| format!("--package {}", p.display()))?;
    }
    let inputs = Inputs {
        worker: a.worker.clone(),
        packages: a.packages.clone(),
        ca,
        only: a.only.clone(),
        skip: a.skip.clone(),
        host_arch: std::env::consts::ARCH.to_owned(),
        // Where virt-customize looks for rhsrvany.exe too.
        virt_tools: std::env::var_os("VIRT_TOOLS_DATA_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
    };
    let plan = {
        let cx = Context::new(
            &before.root.os,
            &before.root.guest,
            a.profile.cloud,
            params,
            &set.matrix,
            &before.disks,
        );
        imgprep_plan::plan(&before.results, &cx, set, &inputs)?
    };
    let fixed = plan.fixed_rules();
    let remaining = failing(&before.results).any(|r| !fixed.contains(&r.rule));
    // Nothing to change in place: the input is already what --in-place would make of it, and no
    // appliance is needed to say so.
    if a.dry_run || (a.in_place && plan.is_empty()) {
        let text = match a.format {
            Format::Table => imgprep_report::plan::table(&plan, &name, &a.profile.profile),
            Format::Json => imgprep_report::plan::json(&plan, &name, &a.profile.profile),
            Format::VirtCustomize => imgprep_report::plan::virt_customize(&plan, &name),
        };
        let code = if remaining {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
        return Ok((text, code));
    }
    if a.format == Format::VirtCustomize {
        bail!("--format virt-customize prints a plan: use it with --dry-run");
    }
    apply(a, set, params, before, &plan, images, output)
}

fn apply(
    a: &Args,
    set: &RuleSet,
    params: &std::collections::BTreeMap<String, String>,
    before: Checked,
    plan: &Plan,
    images: &[PathBuf],
    output: Option<PathBuf>,
) -> anyhow::Result<(String, ExitCode)> {
    let name = &images[0].display().to_string();
    use imgprep_apply::{Appliance, Input, Layout, Workspace};

    let format_of = |i: usize| {
        before
            .disks
            .get(i)
            .map(|d| d.format.as_str())
            .and_then(|f| match f {
                "raw" => Some(imgprep_container::Format::Raw),
                "qcow2" => Some(imgprep_container::Format::Qcow2),
                "vmdk" => Some(imgprep_container::Format::Vmdk),
                "vhd" => Some(imgprep_container::Format::Vhd),
                "vhdx" => Some(imgprep_container::Format::Vhdx),
                _ => None,
            })
    };
    let mut inputs = Vec::new();
    for (i, p) in images.iter().enumerate() {
        let format =
            format_of(i).with_context(|| format!("{}: unknown container format", p.display()))?;
        inputs.push(Input {
            path: p.clone(),
            format,
        });
    }
    let layout = match (&output, a.in_place) {
        (_, true) => Layout::InPlace,
        (Some(o), false) if a.overlay => Layout::Overlay { path: o.clone() },
        (Some(o), false) => Layout::Convert {
            path: o.clone(),
            format: match a.output_format {
                OutputFormat::Qcow2 => imgprep_apply::OutputFormat::Qcow2,
                OutputFormat::Raw => imgprep_apply::OutputFormat::Raw,
                OutputFormat::Vmdk => imgprep_apply::OutputFormat::Vmdk,
                OutputFormat::Vhd => imgprep_apply::OutputFormat::Vhd,
                OutputFormat::Vhdx => imgprep_apply::OutputFormat::Vhdx,
            },
            compress: a.compress,
        },
        (None, false) => bail!("give -o OUT or --in-place (or --dry-run)"),
    };
    let interrupted = crate::interrupt::install()?;
    let mut ws = Workspace::create(&inputs, layout)?;
    let mut notes = plan.notes.clone();
    if !plan.is_empty() {
        let mounts: Vec<(String, String)> = before
            .root
            .os
            .mountpoints
            .iter()
            .map(|m| (m.dev.clone(), m.path.clone()))
            .collect();
        let mut session = Appliance::start()?;
        interrupted.set_abort(session.stopper());
        let progress = crate::progress::Launch::start();
        let launched = session.launch(
            &ws.overlays(),
            &mounts,
            std::time::Duration::from_secs(a.appliance_timeout),
            &mut |position, total| progress.update(position, total),
        );
        progress.finish();
        interrupted.check()?;
        launched.context("starting the libguestfs appliance")?;
        let total = plan.instrs().count();
        for (n, i) in plan.instrs().enumerate() {
            interrupted.check()?;
            crate::progress::step(n + 1, total, &i.describe());
            if let Some(note) = session
                .apply(i)
                .with_context(|| format!("applying: {}", i.describe()))?
            {
                notes.push(note);
            }
        }
        session.finish().context("shutting the appliance down")?;
        interrupted.check()?;
    }
    let staged = ws.stage()?;
    interrupted.check()?;
    // Verify natively on what will become the output (an overlay is read with the input's
    // directory allowed, since it is backed by the input).
    let allow: Vec<PathBuf> = images
        .iter()
        .filter_map(|p| fs_err::canonicalize(p).ok()?.parent().map(PathBuf::from))
        .collect();
    let after = check(&a.open, &staged, set, &a.profile, params, &allow)?;
    let fixed = plan.fixed_rules();
    let still: Vec<&RuleResult> = after
        .results
        .iter()
        .filter(|r| fixed.contains(&r.rule) && !matches!(r.status, Status::Pass | Status::Skip))
        .collect();
    if let Some(r) = still.first() {
        bail!(
            "after applying the plan, {} is still {}: {} (nothing was written)",
            r.rule,
            r.status.as_str(),
            r.message
        );
    }
    let outputs = ws.commit(&staged)?;
    let shown: Vec<String> = outputs.iter().map(|p| p.display().to_string()).collect();
    let changes = imgprep_report::plan::changes(&before.results, &after.results);
    let text = match a.format {
        Format::Json => imgprep_report::plan::json(plan, name, &a.profile.profile),
        _ => {
            let mut t = imgprep_report::plan::table(plan, name, &a.profile.profile);
            t.push_str(&imgprep_report::plan::verification(
                &changes,
                &shown.join(", "),
            ));
            for n in notes.iter().filter(|n| !plan.notes.contains(n)) {
                t.push_str(&format!("note: {n}\n"));
            }
            t
        }
    };
    let remaining = failing(&after.results).next().is_some();
    let code = if remaining {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    Ok((text, code))
}
