//! `imgprep bundle -c CONFIG --image IMAGE`: the agent virtualenv built inside the image's own
//! userland, at its guest prefix, through one appliance launch on a throwaway overlay.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use imgprep_apply::{Appliance, Input, Layout, Workspace};
use imgprep_bundle::agent::{self, BuildOptions, Plan, VenvInfo};
use imgprep_bundle::{Bundle, Kind, Manifest, Target, members_of_tar, write_bundle};

/// Where sources are uploaded in the guest (inside the overlay, discarded).
const SRC_TEMPLATE: &str = "/var/tmp/imgprep-bundle-XXXXXX";

/// Builds the plan's virtualenv in `image` at `prefix` and writes the bundle; returns its
/// manifest. One launch.
pub(crate) fn build(
    image_path: &Path,
    open: &crate::OpenArgs,
    plan: &Plan,
    opts: &BuildOptions,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Manifest> {
    if fs_err::symlink_metadata(&plan.output).is_ok() && !opts.force {
        bail!(
            "{}: already exists (--force replaces it)",
            plan.output.display()
        );
    }
    let image = open.open(&[image_path.to_owned()])?;
    let ins = imgprep_inspect::inspect(
        &image,
        imgprep_inspect::Options {
            applications: false,
        },
    );
    let shown = image_path.display().to_string();
    let os = ins
        .operatingsystems
        .iter()
        .find(|o| o.name.as_deref() == Some("linux"))
        .with_context(|| format!("{shown}: no Linux operating system found"))?;
    let arch = os.arch.clone().unwrap_or_default();
    if arch != std::env::consts::ARCH {
        bail!(
            "{shown}: its architecture is {:?}, this machine's {}: the appliance runs the \
             image's programs, so it must be the same",
            arch,
            std::env::consts::ARCH
        );
    }
    let distribution = os.distro.clone().unwrap_or_else(|| "linux".into());
    let release = if os.minor_version == 0 {
        os.major_version.to_string()
    } else {
        format!("{}.{}", os.major_version, os.minor_version)
    };
    let prefix = opts.prefix.clone().unwrap_or_else(|| {
        format!(
            "/opt/cloudify-agent/agent-{}/env",
            plan.agent_version_hint.as_deref().unwrap_or("current")
        )
    });
    let mounts: Vec<(String, String)> = os
        .mountpoints
        .iter()
        .map(|m| (m.dev.clone(), m.path.clone()))
        .collect();

    // The sources: every local path a step names, the find-links directories.
    let scratch = imgprep_bundle::agent::scratch_beside(&plan.output)?;
    let mut uploads: Vec<(PathBuf, String)> = Vec::new();
    let guest_of = |host: &Path, uploads: &mut Vec<(PathBuf, String)>| -> String {
        let name = host
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "src".into());
        let rel = format!("{}/{name}", uploads.len());
        uploads.push((host.to_owned(), rel.clone()));
        rel
    };
    let mut steps = Vec::new();
    for st in &plan.steps {
        let mut s = st.clone();
        for a in &mut s.args {
            let host = a.strip_prefix("file://").unwrap_or(a);
            if (a.starts_with("file://") || a.contains('/') || a.starts_with('.'))
                && fs_err::metadata(host).is_ok()
            {
                *a = format!("@SRC@/{}", guest_of(Path::new(host), &mut uploads));
            }
        }
        steps.push(s);
    }
    let mut links = Vec::new();
    for d in &opts.find_links {
        links.push(format!("@SRC@/{}", guest_of(d, &mut uploads)));
    }
    let src_tar = scratch.path().join("sources.tar");
    {
        let mut b = tar::Builder::new(fs_err::File::create(&src_tar)?);
        b.follow_symlinks(false);
        for (host, rel) in &uploads {
            if fs_err::metadata(host)?.is_dir() {
                b.append_dir_all(rel, host)
                    .with_context(|| format!("packing {}", host.display()))?;
            } else {
                b.append_path_with_name(host, rel)
                    .with_context(|| format!("packing {}", host.display()))?;
            }
        }
        b.into_inner()?.sync_all()?;
    }

    let overlay_dir = scratch.path().join("overlay");
    fs_err::create_dir(&overlay_dir)?;
    let inputs: Vec<Input> = image
        .disks()
        .iter()
        .zip([image_path.to_owned()])
        .map(|(d, p)| Input {
            path: p,
            format: d.format(),
        })
        .collect();
    let ws = Workspace::create(
        &inputs,
        Layout::Overlay {
            path: overlay_dir.join("overlay.qcow2"),
        },
    )?;
    log(&format!("launching the appliance on an overlay of {shown}"));
    let terminal = std::io::stderr().is_terminal();
    let mut h = Appliance::start()?;
    h.launch(
        &ws.overlays(),
        &mounts,
        Duration::from_secs(600),
        &mut |position, total| {
            if terminal {
                eprint!("\rimgprep: launching the appliance {position}/{total}");
            }
        },
    )?;
    if terminal {
        eprintln!();
    }
    let src = h.mkdtemp(SRC_TEMPLATE)?;
    h.tar_in(&src_tar, &src)?;
    let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let env = format!(
        "export SOURCE_DATE_EPOCH={} PYTHONDONTWRITEBYTECODE=1 CFLAGS=-g0 HOME=/root; cd {src}; ",
        opts.epoch
    );
    let python = plan.python.display().to_string();
    let python = if h.exists(&python)? {
        python
    } else if python == "/usr/bin/python" && h.exists("/usr/bin/python3")? {
        log("/usr/bin/python does not exist in the image: using /usr/bin/python3");
        "/usr/bin/python3".into()
    } else {
        bail!("{shown}: python_path {python}: no such interpreter in the image");
    };
    if h.exists(&prefix)? {
        bail!("{shown}: {prefix} already exists in the image");
    }
    let mut run = |h: &mut Appliance, what: &str, cmd: String| {
        log(what);
        h.sh(&format!("{env}{cmd}"))
            .map_err(|e| anyhow::anyhow!("{what} in {shown}: {}", last(&e.to_string())))
    };
    run(
        &mut h,
        &format!("creating the virtualenv {prefix} with {python}"),
        format!("{} -m venv {}", q(&python), q(&prefix)),
    )?;
    let gpy = format!("{prefix}/bin/python");
    for st in &steps {
        let links: Vec<String> = links.iter().map(|l| l.replace("@SRC@", &src)).collect();
        let mut s = st.clone();
        for a in &mut s.args {
            *a = a.replace("@SRC@", &src);
        }
        let args = agent::pip_install(&s, true, &links);
        let line: Vec<String> = args.iter().map(|a| q(a)).collect();
        run(
            &mut h,
            &format!("installing {}", st.what),
            format!("{} -m pip {}", q(&gpy), line.join(" ")),
        )?;
    }
    for name in &plan.excluded {
        run(
            &mut h,
            &format!("uninstalling excluded {name}"),
            format!(
                "{} -m pip --disable-pip-version-check uninstall -y {}",
                q(&gpy),
                q(name)
            ),
        )?;
    }
    h.write(&format!("{src}/info.py"), agent::INFO_PY.as_bytes())?;
    let names: Vec<String> = plan.validate.iter().map(|n| q(n)).collect();
    let out = h
        .sh(&format!(
            "{env}IMGPREP_IMPORT=1 {} {src}/info.py {}",
            q(&gpy),
            names.join(" ")
        ))
        .map_err(|e| anyhow::anyhow!("validation in {shown}: {}", last(&e.to_string())))?;
    let info: VenvInfo = serde_json::from_str(out.trim())
        .with_context(|| format!("validation in {shown}: unexpected output"))?;
    if !opts.no_validation {
        log("validating the installation and importing every module in the image");
        if !info.missing.is_empty() {
            bail!(
                "validation: not installed in {prefix}: {}",
                info.missing.join(", ")
            );
        }
        if !info.unimportable.is_empty() {
            bail!(
                "validation: cannot be imported in {shown}: {}",
                info.unimportable.join("; ")
            );
        }
    }
    let pkg = format!("{}/cloudify_agent", info.purelib);
    if h.is_dir(&pkg)? {
        h.write(
            &format!("{pkg}/included_plugins.py"),
            agent::included_plugins_py(&plan.plugins).as_bytes(),
        )?;
    }
    let out_tar = scratch.path().join("venv.tar");
    h.tar_out(&prefix, &out_tar, &["__pycache__", "*.pyc"])?;
    // The overlay is thrown away: no shutdown needed.
    drop(h);
    drop(ws);
    let staging = scratch.path().join("members");
    fs_err::create_dir(&staging)?;
    let files = members_of_tar(&out_tar, &staging)?;
    let interpreter = files
        .iter()
        .find(|f| {
            f.path.starts_with("bin/python")
                && f.target.as_deref().is_some_and(|t| t.starts_with('/'))
        })
        .and_then(|f| f.target.clone());
    let manifest = Manifest {
        format: 1,
        kind: Kind::CloudifyAgent,
        name: "cloudify-agent".into(),
        version: info.agent_version.clone().unwrap_or_else(|| "0".into()),
        prefix: prefix.clone(),
        target: Some(Target {
            distribution,
            release,
            arch,
            python: Some(info.python.clone()),
            interpreter,
        }),
        files: Vec::new(),
        service: None,
        user: None,
        installer: None,
        build: agent::build_info(plan, opts, "image"),
    };
    let written = write_bundle(&plan.output, &manifest, &files, opts.epoch)?;
    if let Err(e) = Bundle::open(&plan.output) {
        let _ = fs_err::remove_file(&plan.output);
        return Err(e.into());
    }
    Ok(written)
}

/// The last non-empty line of a guest command's error.
fn last(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_owned()
}
