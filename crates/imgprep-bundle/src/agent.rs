//! Building a Cloudify agent virtualenv on the host from the agent packager's (`cfy-ap`)
//! configuration file, and writing it as a bundle.
//!
//! The steps follow the packager: create the virtualenv with the chosen Python; install the
//! modules needed to build the others (setuptools, wheel), the requirements file, the core
//! modules and plugins, the agent module, then the additional modules and plugins; uninstall the
//! excluded core plugins; validate that every named module is installed; write
//! `cloudify_agent/included_plugins.py`; pack the virtualenv. The virtualenv is built where the
//! configuration says (`venv`) and rewritten for the prefix it has in the guest: every text file
//! and link naming the build directory names the prefix instead, and the `RECORD` lines of the
//! files rewritten get their new hashes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::manifest::{FileKind, Kind, Manifest, Target};
use crate::read::Bundle;
use crate::tree::collect_tree;
use crate::write::{SourceFile, write_bundle};
use crate::{Error, read::hex};

/// The core modules the packager knows, in the order it installs them.
const CORE_MODULES: &[&str] = &["cloudify_rest_client", "cloudify_plugins_common"];
/// The core plugins the packager knows, in the order it installs them.
const CORE_PLUGINS: &[&str] = &[
    "cloudify_script_plugin",
    "cloudify_diamond_plugin",
    "cloudify_agent_installer_plugin",
    "cloudify_plugin_installer_plugin",
    "cloudify_windows_agent_installer_plugin",
    "cloudify_windows_plugin_installer_plugin",
];
/// Installed before anything else: what building the other modules needs.
const PREINSTALL: &[&str] = &["setuptools", "wheel"];
/// Where the packager fetches the agent module when only its version is given.
const AGENT_URL: &str = "https://github.com/cloudify-cosmo/cloudify-agent/archive/{}.tar.gz";

/// The packager's configuration file (`cfy-ap -c CONFIG.yaml`), its keys with its meaning.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The distribution the agent is for; detected from the build system when absent. Names the
    /// virtualenv and the output.
    pub distribution: Option<String>,
    /// Its release (`trusty`); detected when absent.
    pub release: Option<Scalar>,
    /// Where the virtualenv is built (default `cloudify/DISTRIBUTION-RELEASE-agent/env`).
    pub venv: Option<String>,
    /// The Python the virtualenv is made from (default `/usr/bin/python`, else python3).
    pub python_path: Option<String>,
    /// A pip requirements file installed first.
    pub requirements_file: Option<String>,
    /// The agent's version: the agent module is fetched from its release archive.
    pub cloudify_agent_version: Option<Scalar>,
    /// Where the agent module comes from (wins over `cloudify_agent_version`).
    pub cloudify_agent_module: Option<String>,
    /// Core modules: a source, or `false` (installed as a dependency of the agent).
    pub core_modules: Option<BTreeMap<String, CoreSource>>,
    /// Core plugins: a source, `false`, or `exclude` (uninstalled after everything).
    pub core_plugins: Option<BTreeMap<String, CoreSource>>,
    /// More modules (requirement strings, URLs, paths).
    pub additional_modules: Option<Vec<String>>,
    /// More plugins: name → source, or a list of sources.
    pub additional_plugins: Option<Plugins>,
    /// The archive to write (default `DISTRIBUTION-RELEASE-agent.tar.gz`).
    pub output_tar: Option<String>,
    /// Keep the virtualenv once packed (default: keep it only if it existed before).
    #[serde(alias = "keep_venv")]
    pub keep_virtualenv: Option<bool>,
    /// Output name part: `_VERSION`.
    pub version: Option<Scalar>,
    /// Output name part: `-MILESTONE`.
    pub milestone: Option<Scalar>,
    /// Output name part: `-bBUILD`.
    pub build: Option<Scalar>,
}

/// A YAML scalar read as text (`release: 14.04`, `cloudify_agent_version: 3.1`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    Text(String),
    /// An integer.
    Int(i64),
    /// A float, as written.
    Float(f64),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Text(s) => f.write_str(s),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
        }
    }
}

/// A core module's or plugin's entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum CoreSource {
    /// `false`: installed as the agent's dependency (`true` is refused).
    Flag(bool),
    /// A source, or `exclude`.
    Source(String),
}

/// `additional_plugins`: a dict (name → source) or a list of sources.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Plugins {
    /// Name → source: the name is validated.
    Named(BTreeMap<String, String>),
    /// Sources only.
    List(Vec<String>),
}

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Replace an existing output, install into an existing virtualenv.
    pub force: bool,
    /// Plan only: install nothing, write nothing.
    pub dryrun: bool,
    /// Skip the validation of the named modules.
    pub no_validation: bool,
    /// pip `--find-links` directories.
    pub find_links: Vec<PathBuf>,
    /// No package index: only `find_links` and local sources.
    pub offline: bool,
    /// The guest directory of the virtualenv (default `/opt/cloudify-agent/agent-VERSION/env`).
    pub prefix: Option<String>,
    /// The output (wins over `output_tar`).
    pub output: Option<PathBuf>,
    /// Show pip's own output.
    pub verbose: bool,
    /// Member mtimes (`SOURCE_DATE_EPOCH`).
    pub epoch: u64,
}

/// One install step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it installs (`core plugin cloudify_script_plugin`).
    pub what: String,
    /// pip's arguments.
    pub args: Vec<String>,
}

/// What a build will do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Target distribution.
    pub distribution: String,
    /// Target release.
    pub release: String,
    /// The base Python.
    pub python: PathBuf,
    /// Why another Python than the configured one is used.
    pub python_note: Option<String>,
    /// The build virtualenv.
    pub venv: PathBuf,
    /// The output archive.
    pub output: PathBuf,
    /// The install steps, in order.
    pub steps: Vec<Step>,
    /// Core plugins to uninstall afterwards.
    pub excluded: Vec<String>,
    /// Distributions that must be installed afterwards (validation).
    pub validate: Vec<String>,
    /// Plugins listed in `included_plugins.py`.
    pub plugins: Vec<String>,
    /// Keep the virtualenv after packing.
    pub keep_venv: bool,
    /// The configuration's SHA-256.
    pub config_sha256: String,
    /// `cloudify_agent_version`, when given (names the default prefix before anything is
    /// installed).
    pub agent_version_hint: Option<String>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Built {
    /// The plan it followed.
    pub plan: Plan,
    /// The manifest written.
    pub manifest: Manifest,
}

/// Reads a configuration file: unknown keys and wrong types are refused with their line.
pub fn load_config(path: &Path) -> Result<(AgentConfig, String), Error> {
    let text = fs_err::read_to_string(path)?;
    let shown = path.display().to_string();
    let cfg: AgentConfig = if text.trim().is_empty() {
        AgentConfig::default()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| Error::Config {
            path: shown.clone(),
            reason: one_line(&e.to_string()),
        })?
    };
    let bad = |reason: String| Error::Config {
        path: shown.clone(),
        reason,
    };
    for (key, map) in [
        ("core_modules", &cfg.core_modules),
        ("core_plugins", &cfg.core_plugins),
    ] {
        for (name, v) in map.iter().flatten() {
            match v {
                CoreSource::Flag(true) => {
                    return Err(bad(format!(
                        "{key}.{name}: true is not a source (a URL, path or requirement, false, \
                         or exclude)"
                    )));
                }
                CoreSource::Source(s) if s == "exclude" && key == "core_modules" => {
                    return Err(bad(format!(
                        "{key}.{name}: exclude applies to core_plugins only"
                    )));
                }
                CoreSource::Source(s) if s.trim().is_empty() => {
                    return Err(bad(format!("{key}.{name}: an empty source")));
                }
                _ => {}
            }
        }
    }
    let digest = hex(&Sha256::digest(text.as_bytes()));
    Ok((cfg, digest))
}

/// A parser's multi-line message on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The pip name of a module key (`cloudify_script_plugin` → `cloudify-script-plugin`).
fn dist_name(key: &str) -> String {
    key.replace('_', "-")
}

/// The distribution a requirement string names (`pyyaml==3.10` → `pyyaml`); `None` for URLs
/// and paths.
fn requirement_name(req: &str) -> Option<String> {
    if req.contains("://") || req.contains('/') || req.starts_with('.') {
        return None;
    }
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(req.len());
    let name = &req[..end];
    (!name.is_empty()).then(|| name.to_owned())
}

/// The build system's distribution and release, from `/etc/os-release`.
fn host_os() -> (Option<String>, Option<String>) {
    let Ok(text) = fs_err::read_to_string("/etc/os-release") else {
        return (None, None);
    };
    let mut v = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, val)) = line.split_once('=') {
            v.insert(k.trim(), val.trim().trim_matches('"').to_owned());
        }
    }
    let release = v
        .get("VERSION_CODENAME")
        .filter(|s| !s.is_empty())
        .or_else(|| v.get("VERSION_ID"))
        .cloned();
    (v.get("ID").cloned(), release)
}

/// Makes the plan: names, paths and the install steps, nothing run.
pub fn plan(cfg: &AgentConfig, config_sha256: &str, opts: &BuildOptions) -> Result<Plan, Error> {
    let (host_distro, host_release) = host_os();
    let distribution = cfg
        .distribution
        .clone()
        .or(host_distro)
        .ok_or_else(|| Error::Build {
            step: "configuration".into(),
            reason: "no distribution in the configuration and none detected from \
                     /etc/os-release: set `distribution`"
                .into(),
        })?;
    let release = cfg
        .release
        .as_ref()
        .map(ToString::to_string)
        .or(host_release)
        .ok_or_else(|| Error::Build {
            step: "configuration".into(),
            reason: "no release in the configuration and none detected from /etc/os-release: \
                     set `release`"
                .into(),
        })?;
    let (python, python_note) = choose_python(cfg.python_path.as_deref())?;
    let venv = PathBuf::from(
        cfg.venv
            .clone()
            .unwrap_or_else(|| format!("cloudify/{distribution}-{release}-agent/env")),
    );
    let output = match (&opts.output, &cfg.output_tar) {
        (Some(o), _) => o.clone(),
        (None, Some(o)) => PathBuf::from(o),
        (None, None) => {
            let mut n = format!("{distribution}-{release}-agent");
            if let Some(v) = &cfg.version {
                n.push_str(&format!("_{v}"));
            }
            if let Some(m) = &cfg.milestone {
                n.push_str(&format!("-{m}"));
            }
            if let Some(b) = &cfg.build {
                n.push_str(&format!("-b{b}"));
            }
            PathBuf::from(format!("{n}.tar.gz"))
        }
    };
    let mut steps = Vec::new();
    let mut validate = Vec::new();
    let mut plugins = Vec::new();
    let mut excluded = Vec::new();
    steps.push(Step {
        what: "modules needed to build the others".into(),
        args: PREINSTALL.iter().map(|s| (*s).to_owned()).collect(),
    });
    if let Some(r) = &cfg.requirements_file {
        steps.push(Step {
            what: format!("requirements file {r}"),
            args: vec!["-r".into(), r.clone()],
        });
    }
    let ordered = |map: &Option<BTreeMap<String, CoreSource>>, known: &[&str]| {
        let map = map.clone().unwrap_or_default();
        let mut v: Vec<(String, CoreSource)> = known
            .iter()
            .filter_map(|k| map.get(*k).map(|s| ((*k).to_owned(), s.clone())))
            .collect();
        v.extend(
            map.into_iter()
                .filter(|(k, _)| !known.contains(&k.as_str())),
        );
        v
    };
    for (name, src) in ordered(&cfg.core_modules, CORE_MODULES) {
        if let CoreSource::Source(s) = src {
            steps.push(Step {
                what: format!("core module {name}"),
                args: vec![s],
            });
            validate.push(dist_name(&name));
        }
    }
    for (name, src) in ordered(&cfg.core_plugins, CORE_PLUGINS) {
        match src {
            CoreSource::Source(s) if s == "exclude" => excluded.push(dist_name(&name)),
            CoreSource::Source(s) => {
                steps.push(Step {
                    what: format!("core plugin {name}"),
                    args: vec![s],
                });
                validate.push(dist_name(&name));
                plugins.push(dist_name(&name));
            }
            CoreSource::Flag(_) => {}
        }
    }
    let agent = match (&cfg.cloudify_agent_module, &cfg.cloudify_agent_version) {
        (Some(m), _) => m.clone(),
        (None, Some(v)) if opts.offline => format!("cloudify-agent=={v}"),
        (None, Some(v)) => AGENT_URL.replace("{}", &v.to_string()),
        (None, None) => {
            return Err(Error::Build {
                step: "configuration".into(),
                reason: "either cloudify_agent_module or cloudify_agent_version must be set".into(),
            });
        }
    };
    steps.push(Step {
        what: "agent module cloudify-agent".into(),
        args: vec![agent],
    });
    validate.push("cloudify-agent".into());
    for m in cfg.additional_modules.iter().flatten() {
        steps.push(Step {
            what: format!("additional module {m}"),
            args: vec![m.clone()],
        });
        if let Some(n) = requirement_name(m) {
            validate.push(n);
        }
    }
    match &cfg.additional_plugins {
        Some(Plugins::Named(map)) => {
            for (name, src) in map {
                steps.push(Step {
                    what: format!("additional plugin {name}"),
                    args: vec![src.clone()],
                });
                validate.push(dist_name(name));
                plugins.push(dist_name(name));
            }
        }
        Some(Plugins::List(list)) => {
            for src in list {
                steps.push(Step {
                    what: format!("additional plugin {src}"),
                    args: vec![src.clone()],
                });
                if let Some(n) = requirement_name(src) {
                    validate.push(n.clone());
                    plugins.push(n);
                }
            }
        }
        None => {}
    }
    let keep_venv = cfg.keep_virtualenv.unwrap_or_else(|| is_venv(&venv));
    Ok(Plan {
        distribution,
        release,
        python,
        python_note,
        venv,
        output,
        steps,
        excluded,
        validate,
        plugins,
        keep_venv,
        config_sha256: config_sha256.to_owned(),
        agent_version_hint: cfg.cloudify_agent_version.as_ref().map(ToString::to_string),
    })
}

/// The configured Python; the default `/usr/bin/python` (configured or not) falls back to
/// `/usr/bin/python3` when absent, with a note; any other path must exist.
fn choose_python(configured: Option<&str>) -> Result<(PathBuf, Option<String>), Error> {
    let exists = |p: &Path| fs_err::metadata(p).is_ok_and(|m| m.is_file());
    let default = "/usr/bin/python";
    let p = PathBuf::from(configured.unwrap_or(default));
    if exists(&p) {
        return Ok((p, None));
    }
    if p == Path::new(default) {
        let py3 = PathBuf::from("/usr/bin/python3");
        if exists(&py3) {
            return Ok((
                py3,
                Some("/usr/bin/python does not exist: using /usr/bin/python3".into()),
            ));
        }
    }
    Err(Error::Build {
        step: "configuration".into(),
        reason: format!("python_path {}: no such interpreter", p.display()),
    })
}

fn is_venv(p: &Path) -> bool {
    fs_err::metadata(p.join("pyvenv.cfg")).is_ok()
        || fs_err::metadata(p.join("bin/activate")).is_ok()
}

/// Builds the virtualenv the plan describes and writes the bundle. `log` receives one line per
/// step.
pub fn build(plan: Plan, opts: &BuildOptions, log: &mut dyn FnMut(&str)) -> Result<Built, Error> {
    let existed = is_venv(&plan.venv);
    if fs_err::symlink_metadata(&plan.venv).is_ok() && !(existed && opts.force) {
        return Err(Error::Build {
            step: "virtualenv".into(),
            reason: if existed {
                format!(
                    "{} already exists (--force installs into it)",
                    plan.venv.display()
                )
            } else {
                format!("{} exists and is not a virtualenv", plan.venv.display())
            },
        });
    }
    if fs_err::symlink_metadata(&plan.output).is_ok() && !opts.force {
        return Err(Error::Build {
            step: "output".into(),
            reason: format!(
                "{} already exists (--force replaces it)",
                plan.output.display()
            ),
        });
    }
    if let Some(n) = &plan.python_note {
        log(n);
    }
    if !existed {
        log(&format!(
            "creating the virtualenv {} with {}",
            plan.venv.display(),
            plan.python.display()
        ));
        if let Some(parent) = plan.venv.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs_err::create_dir_all(parent)?;
        }
        run(
            Command::new(&plan.python)
                .arg("-m")
                .arg("venv")
                .arg(&plan.venv),
            "virtualenv",
            opts.verbose,
            log,
        )?;
    }
    let venv = fs_err::canonicalize(&plan.venv)?;
    let python = venv.join("bin/python");
    let pip_base = |cmd: &mut Command| {
        cmd.arg("-m")
            .arg("pip")
            .arg("--disable-pip-version-check")
            .arg("--no-input")
            .arg("--no-cache-dir");
        cmd.env("SOURCE_DATE_EPOCH", opts.epoch.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env(
                "CFLAGS",
                format!("{} -g0", std::env::var("CFLAGS").unwrap_or_default()),
            );
    };
    for step in &plan.steps {
        log(&format!("installing {}", step.what));
        let mut cmd = Command::new(&python);
        pip_base(&mut cmd);
        cmd.arg("install")
            .arg("--no-compile")
            .arg("--no-build-isolation");
        if opts.offline {
            cmd.arg("--no-index");
        }
        for d in &opts.find_links {
            cmd.arg("--find-links").arg(d);
        }
        cmd.args(&step.args);
        run(
            &mut cmd,
            &format!("installing {}", step.what),
            opts.verbose,
            log,
        )?;
    }
    for name in &plan.excluded {
        log(&format!("uninstalling excluded {name}"));
        let mut cmd = Command::new(&python);
        pip_base(&mut cmd);
        cmd.arg("uninstall").arg("-y").arg(name);
        // pip says "not installed" and succeeds when it is absent.
        run(&mut cmd, &format!("uninstalling {name}"), opts.verbose, log)?;
    }
    let info = venv_info(&python, &plan.validate)?;
    if !opts.no_validation {
        log("validating the installation");
        if !info.missing.is_empty() {
            return Err(Error::Build {
                step: "validation".into(),
                reason: format!(
                    "not installed in {}: {}",
                    plan.venv.display(),
                    info.missing.join(", ")
                ),
            });
        }
    }
    let agent_pkg = Path::new(&info.purelib).join("cloudify_agent");
    if fs_err::metadata(&agent_pkg).is_ok_and(|m| m.is_dir()) {
        log("writing cloudify_agent/included_plugins.py");
        fs_err::write(
            agent_pkg.join("included_plugins.py"),
            included_plugins_py(&plan.plugins),
        )?;
    } else {
        log("no cloudify_agent package: included_plugins.py not written");
    }
    let version = info.agent_version.clone().unwrap_or_else(|| "0".to_owned());
    let prefix = opts
        .prefix
        .clone()
        .unwrap_or_else(|| format!("/opt/cloudify-agent/agent-{version}/env"));
    log(&format!("packing {} for {prefix}", plan.venv.display()));
    let staging = scratch_beside(&plan.output)?;
    let (files, interpreter) = relocate(&venv, &prefix, staging.path())?;
    let manifest = Manifest {
        format: 1,
        kind: Kind::CloudifyAgent,
        name: "cloudify-agent".into(),
        version,
        prefix: prefix.clone(),
        target: Some(Target {
            distribution: plan.distribution.clone(),
            release: plan.release.clone(),
            arch: std::env::consts::ARCH.into(),
            python: Some(info.python.clone()),
            interpreter,
        }),
        files: Vec::new(),
        service: None,
        user: None,
        installer: None,
        build: build_info(&plan, opts, "host"),
    };
    let written = write_bundle(&plan.output, &manifest, &files, opts.epoch)?;
    if let Err(e) = Bundle::open(&plan.output) {
        let _ = fs_err::remove_file(&plan.output);
        return Err(e);
    }
    if !plan.keep_venv {
        log(&format!("removing the virtualenv {}", plan.venv.display()));
        fs_err::remove_dir_all(&plan.venv)?;
    }
    Ok(Built {
        plan,
        manifest: written,
    })
}

/// `cloudify_agent/included_plugins.py`: the plugins the agent loads.
pub fn included_plugins_py(plugins: &[String]) -> String {
    let mut text = String::from("included_plugins = [\n");
    for p in plugins {
        text.push_str(&format!("    '{p}',\n"));
    }
    text.push_str("]\n");
    text
}

/// pip's arguments for one install step (after `python -m pip`).
pub fn pip_install(step: &Step, offline: bool, find_links: &[String]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--disable-pip-version-check",
        "--no-input",
        "--no-cache-dir",
        "install",
        "--no-compile",
        "--no-build-isolation",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if offline {
        a.push("--no-index".into());
    }
    for d in find_links {
        a.push("--find-links".into());
        a.push(d.clone());
    }
    a.extend(step.args.iter().cloned());
    a
}

/// The manifest's `build` record: where it was built, no times, no host paths.
pub fn build_info(
    plan: &Plan,
    opts: &BuildOptions,
    environment: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut b = serde_json::Map::new();
    b.insert(
        "tool".into(),
        format!("imgprep {}", env!("CARGO_PKG_VERSION")).into(),
    );
    b.insert("environment".into(), environment.into());
    b.insert("config_sha256".into(), plan.config_sha256.clone().into());
    b.insert("source_date_epoch".into(), opts.epoch.into());
    b.insert(
        "installed".into(),
        plan.steps
            .iter()
            .map(|s| serde_json::Value::from(s.what.clone()))
            .collect::<Vec<_>>()
            .into(),
    );
    b.insert("plugins".into(), plan.plugins.clone().into());
    b
}

/// What [`INFO_PY`] reports of a virtualenv.
#[derive(Debug, Clone, Deserialize)]
pub struct VenvInfo {
    /// Python version (`3.11.2`).
    pub python: String,
    /// Its site-packages.
    pub purelib: String,
    /// Named distributions not installed.
    pub missing: Vec<String>,
    /// Top-level modules that failed to import.
    #[serde(default)]
    pub unimportable: Vec<String>,
    /// The cloudify-agent distribution's version.
    pub agent_version: Option<String>,
}

/// Prints, as JSON, the virtualenv's Python version, its site-packages, the distributions
/// named in its arguments that are not installed, and the cloudify-agent version. With
/// `IMGPREP_IMPORT=1` it also imports each installed one's top-level modules (`top_level.txt`)
/// and lists those that fail as `unimportable`.
pub const INFO_PY: &str = r#"
import importlib, json, os, sys, sysconfig
import importlib.metadata as md
missing, unimportable = [], []
for n in sys.argv[1:]:
    try:
        d = md.distribution(n)
    except md.PackageNotFoundError:
        missing.append(n)
        continue
    if os.environ.get("IMGPREP_IMPORT") == "1":
        for m in (d.read_text("top_level.txt") or "").split():
            try:
                importlib.import_module(m)
            except Exception as e:
                unimportable.append("%s (%s: %s)" % (m, type(e).__name__, e))
try:
    agent = md.version("cloudify-agent")
except md.PackageNotFoundError:
    agent = None
print(json.dumps({"python": "%d.%d.%d" % sys.version_info[:3],
                  "purelib": sysconfig.get_paths()["purelib"],
                  "missing": missing, "unimportable": unimportable,
                  "agent_version": agent}))
"#;

/// Runs [`INFO_PY`] with the virtualenv's Python.
fn venv_info(python: &Path, names: &[String]) -> Result<VenvInfo, Error> {
    let out = Command::new(python)
        .arg("-c")
        .arg(INFO_PY)
        .args(names)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Build {
            step: "validation".into(),
            reason: format!("{}: {e}", python.display()),
        })?;
    if !out.status.success() {
        return Err(Error::Build {
            step: "validation".into(),
            reason: format!(
                "{} could not list its modules: {}",
                python.display(),
                last_line(&out.stderr)
            ),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(|e| Error::Build {
        step: "validation".into(),
        reason: format!("{}: unexpected output ({e})", python.display()),
    })
}

fn last_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no message)")
        .trim()
        .to_owned()
}

/// Runs a build command and keeps its output: with `verbose` every line goes to `log`, and a
/// failure reports the last line.
fn run(
    cmd: &mut Command,
    step: &str,
    verbose: bool,
    log: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Build {
            step: step.into(),
            reason: e.to_string(),
        })?;
    let mut all = o.stdout;
    all.extend_from_slice(&o.stderr);
    if verbose {
        for line in String::from_utf8_lossy(&all).lines() {
            log(line);
        }
    }
    if o.status.success() {
        Ok(())
    } else {
        Err(Error::Build {
            step: step.into(),
            reason: format!("failed ({}): {}", o.status, last_line(&all)),
        })
    }
}

/// The virtualenv's members rewritten for `prefix`: text files naming the build directory are
/// copied to `staging` with the prefix instead (and `RECORD` hashes updated), links likewise.
/// Also returns the base interpreter `bin/python*` links to, when outside.
fn relocate(
    venv: &Path,
    prefix: &str,
    staging: &Path,
) -> Result<(Vec<SourceFile>, Option<String>), Error> {
    let from = venv.to_str().ok_or_else(|| Error::Source {
        path: venv.display().to_string(),
        reason: "a path that is not UTF-8".into(),
    })?;
    let mut files = collect_tree(venv)?;
    // Bytecode is left out: it names the build directory and Python rebuilds it.
    files.retain(|f| !f.path.split('/').any(|c| c == "__pycache__") && !f.path.ends_with(".pyc"));
    let mut rewritten: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut interpreter = None;
    for f in &mut files {
        match f.kind {
            FileKind::Symlink => {
                if let Some(t) = &f.target {
                    if t.contains(from) {
                        f.target = Some(t.replace(from, prefix));
                    } else if t.starts_with('/')
                        && f.path.starts_with("bin/python")
                        && !f.path[4..].contains('/')
                    {
                        interpreter = Some(t.clone());
                    }
                }
            }
            FileKind::File => {
                let src = f.source.clone().unwrap_or_default();
                let bytes = fs_err::read(&src)?;
                if bytes.contains(&0) {
                    continue;
                }
                if let Ok(text) = std::str::from_utf8(&bytes)
                    && text.contains(from)
                {
                    rewritten.insert(f.path.clone(), text.replace(from, prefix).into_bytes());
                }
            }
            FileKind::Dir => {}
        }
    }
    // RECORD lines of the rewritten files.
    let records: Vec<String> = files
        .iter()
        .filter(|f| f.path.ends_with(".dist-info/RECORD"))
        .map(|f| f.path.clone())
        .collect();
    for rec in records {
        let dir = rec.rsplitn(3, '/').nth(2).unwrap_or("").to_owned();
        let text = match rewritten.get(&rec) {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => fs_err::read_to_string(venv.join(&rec))?,
        };
        let mut changed = false;
        let mut out = String::new();
        for line in text.lines() {
            let mut parts = line.rsplitn(3, ',');
            let (size, hash, path) = (parts.next(), parts.next(), parts.next());
            let new = match (path, hash, size) {
                (Some(p), Some(h), Some(_)) if !h.is_empty() => {
                    let rel = normal_join(&dir, p);
                    rewritten.get(&rel).map(|b| {
                        let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .encode(Sha256::digest(b));
                        format!("{p},sha256={d},{}", b.len())
                    })
                }
                _ => None,
            };
            match new {
                Some(n) => {
                    changed = true;
                    out.push_str(&n);
                }
                None => out.push_str(line),
            }
            out.push('\n');
        }
        if changed {
            rewritten.insert(rec, out.into_bytes());
        }
    }
    for (i, (path, bytes)) in rewritten.iter().enumerate() {
        let dst = staging.join(format!("{i}"));
        fs_err::write(&dst, bytes)?;
        if let Some(f) = files.iter_mut().find(|f| &f.path == path) {
            f.source = Some(dst);
        }
    }
    Ok((files, interpreter))
}

/// `a/b` + `../../bin/x` → `bin/x`.
fn normal_join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// A scratch directory next to `output` (same filesystem, so the result can be renamed into
/// place), removed on drop.
pub fn scratch_beside(output: &Path) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".imgprep-bundle-")
        .tempdir_in(
            output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names_and_record_paths() {
        assert_eq!(requirement_name("pyyaml==3.10").as_deref(), Some("pyyaml"));
        assert_eq!(
            requirement_name("a_b>=1; python_version>'3'").as_deref(),
            Some("a_b")
        );
        assert_eq!(requirement_name("file:///x/y.tar.gz"), None);
        assert_eq!(requirement_name("./dir"), None);
        assert_eq!(
            normal_join("lib/python3.11/site-packages", "../../../bin/agent"),
            "bin/agent"
        );
        assert_eq!(
            dist_name("cloudify_script_plugin"),
            "cloudify-script-plugin"
        );
    }
}
