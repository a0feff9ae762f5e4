//! `imgprep mapping`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use imgprep_mapping::{Inputs, file_facts, mapping};
use imgprep_rules::{Cloud, Context, RuleSet, effective_params, run};

/// Output formats of `mapping`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// Everything as one JSON object.
    Json,
    /// A shell script: what was found as comments, then the conversion and registration
    /// commands (`openstack image create … --property …` on OpenStack and Rackspace).
    Shell,
}

/// What an image needs when it is registered with a cloud (the "map images" step).
///
/// From the native inspection and the cloudcenter-worker rules (and rackspace-nova-agent on
/// Rackspace), for the one --cloud:
///   - OpenStack and Rackspace: the Glance image properties (os_distro as OpenStack and
///     libosinfo name it, os_version, os_type, hw_disk_bus, architecture; on Rackspace, for a
///     cloud-init image without nova-agent, img_config_drive=mandatory, vm_mode=hvm and
///     xenapi_use_agent=False) and the `openstack image create` command line;
///   - the disk format the cloud imports (AWS VM Import: raw, VMDK, VHD, VHDX; Azure: fixed VHD
///     with a size aligned to 1 MiB; Google: raw disk.raw in a tar.gz, whole GiB; …), whether
///     this file meets it, what is wrong and how to convert it;
///   - the CloudCenter image-mapping record: OS type, worker baked in or bootstrapped, and the
///     bootstrap method and support per the matrix (imgprep matrix).
///
/// Exit status: 0 when the file can be imported as it is and the worker is baked in or can be
/// bootstrapped, 1 when something must be done first (the output says what), 2 when imgprep
/// could not run.
///
/// Examples:
///   imgprep mapping golden.qcow2 --cloud openstack --format shell
///   imgprep mapping golden.vhd --cloud azure
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The disk image (its first OS is mapped).
    #[arg(value_name = "IMAGE")]
    image: PathBuf,
    /// Target cloud.
    #[arg(long, value_parser = crate::cmd_check::cloud_parser())]
    cloud: Cloud,
    /// cloudcenter-worker parameter, e.g. agent_paths=/opt/agent (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = crate::cmd_check::parse_param)]
    params: Vec<(String, String)>,
    /// Extra directory of rule files (*.yaml) to load with the built-in ones (repeatable).
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Json)]
    format: Format,
    #[command(flatten)]
    open: crate::OpenArgs,
}

/// The profiles whose results the mapping reads.
const WORKER: &str = "cloudcenter-worker";
const RACKSPACE: &str = "rackspace-nova-agent";

pub(crate) fn run_mapping(a: Args) -> anyhow::Result<ExitCode> {
    let set = RuleSet::load(&a.rules)?;
    let shown = a.image.display().to_string();
    let image = a.open.open(std::slice::from_ref(&a.image))?;
    let (root, disks) = crate::first_root(&image, &shown, "map")?;
    let Some(disk) = disks.first() else {
        bail!("{shown}: no disk");
    };
    let mut results = Vec::new();
    let mut profiles = vec![(WORKER, a.params.clone())];
    if a.cloud == Cloud::Rackspace {
        profiles.push((RACKSPACE, Vec::new()));
    }
    for (profile, given) in profiles {
        let params = effective_params(&set, profile, &given).map_err(anyhow::Error::msg)?;
        let cx = Context::new(
            &root.os,
            &root.guest,
            Some(a.cloud),
            &params,
            &set.matrix,
            &disks,
        );
        results.extend(run(&set, profile, &cx));
    }
    let file = file_facts(&a.image, &disk.format).with_context(|| shown.clone())?;
    let m = mapping(&Inputs {
        image: &a.image,
        cloud: a.cloud,
        os: &root.os,
        disk,
        file: &file,
        results: &results,
        matrix: &set.matrix,
    });
    let text = match a.format {
        Format::Json => imgprep_report::mapping::json(&m),
        Format::Shell => imgprep_report::mapping::shell(&m),
    };
    crate::emit(&text)?;
    Ok(if m.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
