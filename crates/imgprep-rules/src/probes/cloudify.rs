//! Cloudify agents: the agent's virtualenv, the interpreter it was made from, and the plugins
//! its package says it includes.
//!
//! A Linux agent is a virtualenv with the `cloudify-agent` module and plugins installed in it,
//! made by the agent packager (`cfy-ap`: `virtualenv -p python_path cloudify/env`, then a tar of
//! it) and extracted by the agent installer with the first component stripped, so the
//! virtualenv lands in `<agent_dir>/env`: `~<user>/<agent name>/env` up to Cloudify 5.1,
//! `/opt/cloudify-agent-<version>/<agent name>/env` in 5.2 to 6.x,
//! `/opt/cloudify-agent/agent-<version>/env` from 7.0. cloudify-agent 3.2 and 3.3 list the
//! plugins an agent includes in `cloudify_agent/included_plugins.py` (`included_plugins =
//! ['cloudify-script-plugin', …]`), which the packager regenerates from what it installed; the
//! agent's daemon registers each name at start. The file is read as a literal list, never run.

use imgprep_sysconf::path::{basename, join};
use imgprep_sysconf::pylit::parse_included_plugins;
use imgprep_sysconf::python::venv::{
    Base, base_interpreter, find_venv, installed_dists, normalize_name,
};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::probe::{Probe, Template};
use crate::verdict::{Evidence, Outcome, Status};

/// Largest `included_plugins.py` read.
const MAX_PLUGINS_FILE: u64 = 1 << 20;

/// `probe: cloudify-agent-venv`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudifyAgentVenv {
    /// Where the virtualenv may be: guest paths separated by `:`; `*` matches within one path
    /// component.
    pub venv: Template,
}

impl Probe for CloudifyAgentVenv {
    fn templates(&self) -> Vec<&Template> {
        vec![&self.venv]
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(
                Status::Skip,
                "the Windows agent is an installer with its own Python, not a virtualenv",
            );
        }
        let spec = self.venv.expand(cx);
        let search = match find_venv(cx.guest, &spec) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let Some(v) = search.venv else {
            return Outcome::new(
                Status::Fail,
                format!("no Cloudify agent virtualenv: no directory matches {spec}"),
            )
            .with(
                search
                    .unmatched
                    .iter()
                    .map(|p| Evidence::file(p, "no such directory")),
            );
        };
        let missing = v.missing();
        if missing.is_empty() && v.bundled {
            return Outcome::new(
                Status::Pass,
                format!(
                    "the Cloudify agent is {}, a Python installation of its own (bin/python and \
                     its standard library) with the cloudify_agent package",
                    v.root
                ),
            )
            .with(v.evidence());
        }
        if missing.is_empty() {
            return Outcome::new(
                Status::Pass,
                format!(
                    "the Cloudify agent virtualenv is {} (bin/python, bin/activate, {} and the \
                     cloudify_agent package)",
                    v.root,
                    basename(&v.pieces[2].path)
                ),
            )
            .with(v.evidence());
        }
        let what = if v.package.is_none() && missing.len() == v.pieces.len() {
            format!("{} is not a virtualenv", v.root)
        } else {
            format!("{} is not a complete Cloudify agent virtualenv", v.root)
        };
        Outcome::new(
            Status::Fail,
            format!("{what}: missing {}", missing.join(", ")),
        )
        .with(v.evidence())
    }
}

/// A Python version range the agent supports: `X.Y` or `X.Y+` (that and any later version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Supported {
    v: (u32, u32),
    or_later: bool,
}

fn parse_supported(spec: &str) -> Result<Vec<Supported>, String> {
    let out: Vec<Supported> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (body, or_later) = match s.strip_suffix('+') {
                Some(b) => (b.trim(), true),
                None => (s, false),
            };
            let (a, b) = body
                .split_once('.')
                .ok_or_else(|| format!("python_versions: {s:?} is not X.Y or X.Y+"))?;
            match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) => Ok(Supported {
                    v: (a, b),
                    or_later,
                }),
                _ => Err(format!("python_versions: {s:?} is not X.Y or X.Y+")),
            }
        })
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Err("python_versions is empty".into());
    }
    Ok(out)
}

fn supports(list: &[Supported], v: (u32, u32)) -> bool {
    list.iter()
        .any(|s| if s.or_later { v >= s.v } else { v == s.v })
}

/// `probe: cloudify-agent-python`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudifyAgentPython {
    /// Where the virtualenv may be (as `cloudify-agent-venv`).
    pub venv: Template,
    /// Supported interpreter versions: `X.Y` or `X.Y+`, separated by `,`.
    pub supported: Template,
}

impl Probe for CloudifyAgentPython {
    fn templates(&self) -> Vec<&Template> {
        vec![&self.venv, &self.supported]
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the Windows agent bundles its own Python");
        }
        let spec = self.supported.expand(cx);
        let supported = match parse_supported(&spec) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let search = match find_venv(cx.guest, &self.venv.expand(cx)) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let Some(v) = search.venv.filter(|v| v.pieces[0].found.is_some()) else {
            return Outcome::new(
                Status::Skip,
                "no agent virtualenv with a bin/python was found (see cloudify-agent.present)",
            );
        };
        let packaged = |mm: (u32, u32)| {
            cx.pythons()
                .iter()
                .find(|p| p.version.len() > 2 && p.version.get(..2) == Some(&[mm.0, mm.1][..]))
                .map(|p| (p.version.clone(), p.evidence.clone()))
        };
        match base_interpreter(cx.guest, &v, &packaged) {
            Base::Broken { message, evidence } => {
                Outcome::new(Status::Fail, message).with(evidence)
            }
            Base::Unknown { message, evidence } => {
                Outcome::new(Status::Error, message).with(evidence)
            }
            Base::Found {
                version: mm,
                shown: version,
                base,
                evidence,
            } => {
                let who = if v.bundled {
                    "the agent"
                } else {
                    "the agent's virtualenv"
                };
                if supports(&supported, mm) {
                    Outcome::new(
                        Status::Pass,
                        format!(
                            "{who} runs on Python {version} ({base}), a version the agent \
                             supports ({spec})"
                        ),
                    )
                    .with(evidence)
                } else {
                    Outcome::new(
                        Status::Fail,
                        format!(
                            "{who} runs on Python {version} ({base}), which the agent does not \
                             support (supported: {spec})"
                        ),
                    )
                    .with(evidence)
                }
            }
        }
    }
}

/// `probe: cloudify-agent-plugins`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudifyAgentPlugins {
    /// Where the virtualenv may be (as `cloudify-agent-venv`).
    pub venv: Template,
}

impl Probe for CloudifyAgentPlugins {
    fn templates(&self) -> Vec<&Template> {
        vec![&self.venv]
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "applies to the Linux agent's virtualenv");
        }
        let search = match find_venv(cx.guest, &self.venv.expand(cx)) {
            Ok(s) => s,
            Err(e) => return Outcome::new(Status::Error, e),
        };
        let Some((v, pkg)) = search.venv.and_then(|v| v.package.clone().map(|p| (v, p))) else {
            return Outcome::new(
                Status::Skip,
                "no cloudify_agent package was found (see cloudify-agent.present)",
            );
        };
        let path = join(&pkg, "included_plugins.py");
        let text = match cx.guest.read_text(&path, MAX_PLUGINS_FILE) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Outcome::new(
                    Status::Error,
                    format!(
                        "{path} does not exist, so the plugins this agent must include cannot be \
                         read: cloudify-agent 3.2 and 3.3 packages list them there (the agent \
                         packager writes the file); later agents have no such list and get their \
                         plugins from the manager"
                    ),
                )
                .with([Evidence::file(&path, "missing")]);
            }
            Err(e) => {
                return Outcome::new(Status::Error, format!("cannot read {path}: {e}"));
            }
        };
        let (line, listed) = match parse_included_plugins(&text) {
            Ok(x) => x,
            Err(e) => {
                let ev = e
                    .line
                    .checked_sub(1)
                    .and_then(|i| text.lines().nth(i))
                    .map(|l| Evidence::line(&path, e.line, l.trim()));
                return Outcome::new(
                    Status::Error,
                    format!(
                        "{path} is not a literal list of plugin names ({e}); imgprep reads it \
                         without running it, so the plugins cannot be checked"
                    ),
                )
                .with(ev);
            }
        };
        let mut ev = vec![Evidence::line(
            &path,
            line,
            text.lines()
                .nth(line.saturating_sub(1))
                .unwrap_or_default()
                .trim(),
        )];
        let installed = installed_dists(cx.guest, &v.sites);
        let mut missing = Vec::new();
        let mut names = Vec::new();
        for p in &listed {
            if names.contains(&p.name) {
                continue;
            }
            names.push(p.name.clone());
            match installed.get(&normalize_name(&p.name)) {
                Some(at) => ev.push(Evidence::file(at, format!("installed: {}", p.name))),
                None => missing.push(p),
            }
        }
        if names.is_empty() {
            return Outcome::new(
                Status::Pass,
                format!("{path} lists no plugins: there is nothing to check"),
            )
            .with(ev);
        }
        if missing.is_empty() {
            return Outcome::new(
                Status::Pass,
                format!(
                    "all {} plugins listed in included_plugins.py are installed in the agent's \
                     virtualenv: {}",
                    names.len(),
                    names.join(", ")
                ),
            )
            .with(ev);
        }
        let sites = if v.sites.is_empty() {
            "no site-packages".to_owned()
        } else {
            v.sites.join(", ")
        };
        for p in &missing {
            ev.push(Evidence::line(
                &path,
                p.line,
                format!("{} (no dist-info, egg-info or egg-link in {sites})", p.name),
            ));
        }
        Outcome::new(
            Status::Fail,
            format!(
                "{} of {} plugins listed in included_plugins.py {} not installed in the agent's \
                 virtualenv: {}; the agent registers every listed plugin when it starts",
                missing.len(),
                names.len(),
                if missing.len() == 1 { "is" } else { "are" },
                missing
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_versions() {
        for (spec, v, want) in [
            ("2.7,3.6+", (2, 7), true),
            ("2.7,3.6+", (2, 6), false),
            ("2.7,3.6+", (3, 11), true),
            ("2.7, 3.6+", (3, 5), false),
            ("2.6", (2, 6), true),
        ] {
            assert_eq!(supports(&parse_supported(spec).unwrap(), v), want, "{spec}");
        }
        for bad in ["", "2", "2.x", "three.6+"] {
            assert!(parse_supported(bad).is_err(), "{bad}");
        }
    }
}
