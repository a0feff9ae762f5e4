//! Planning `imgprep prepare`: from the failing results of a profile, the concrete operations
//! that fix them, computed natively from the guest's own configuration.
//!
//! Each failing (or warning) rule whose remediation names an `Action` becomes a [`Step`]: the
//! file operations the guest-configuration library (`imgprep_sysconf`) computes for it (which
//! unit directory and init system, which UID the new account gets from login.defs, which
//! trust-store files the distribution regenerates, whether sudoers reads `/etc/sudoers.d`, which
//! `ControlSetNNN` is current), plus what only the appliance can do (unpack a bundle, run the
//! guest's own `dpkg`, `rpm`, `update-ca-certificates` or `visudo`). Steps are computed in order
//! on a [`Staged`] view of the guest, so later edits see earlier ones. A rule that cannot be fixed
//! with what was given is a [`Skipped`] entry with the reason (e.g. which `--package` it needs).
//!
//! It launches nothing and writes nothing: `imgprep-apply` carries the plan out.
#![forbid(unsafe_code)]

mod linux;
mod packages;
mod staged;
mod windows;

use std::fmt;
use std::path::PathBuf;

use imgprep_guest::Guest;
use imgprep_rules::{Action, Context, RuleResult, RuleSet, Status};
use imgprep_sysconf::FileOp;
use serde::{Deserialize, Serialize};

pub use staged::Staged;
pub use windows::VIRT_TOOLS_DIR;

/// One thing done to the guest in the appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Instr {
    /// A file, directory, link or registry operation computed natively.
    File(FileOp),
    /// Copy a host file into the guest with this mode and owner.
    Upload {
        /// Host file.
        from: PathBuf,
        /// Guest path.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// Unpack a validated bundle (re-validated when applied) into its prefix.
    Unpack {
        /// The bundle file on the host.
        bundle: PathBuf,
        /// The guest directory.
        prefix: String,
    },
    /// Run a program of the guest in the appliance (chrooted, network off); a failure fails
    /// the apply with what the program printed.
    Run {
        /// Program and arguments.
        argv: Vec<String>,
        /// What it is for.
        why: String,
    },
    /// Give the files written the SELinux labels of the guest's policy (`setfiles` in the
    /// appliance when it has it, else `/.autorelabel` for the first boot).
    Relabel {
        /// The policy's file contexts (`/etc/selinux/TYPE/contexts/files/file_contexts`).
        file_contexts: String,
    },
}

impl Instr {
    /// A one-line description for plans and logs.
    pub fn describe(&self) -> String {
        match self {
            Instr::File(op) => describe_op(op),
            Instr::Upload {
                from, path, mode, ..
            } => {
                format!("upload {} to {path} ({mode:04o})", from.display())
            }
            Instr::Unpack { bundle, prefix } => {
                format!("unpack {} into {prefix}", bundle.display())
            }
            Instr::Run { argv, .. } => format!("run `{}`", argv.join(" ")),
            Instr::Relabel { file_contexts } => format!("relabel for SELinux ({file_contexts})"),
        }
    }
}

fn describe_op(op: &FileOp) -> String {
    use imgprep_sysconf::Op;
    match &op.op {
        Op::Write {
            content,
            mode,
            uid,
            gid,
        } => format!(
            "write {} ({} bytes, {mode:04o}, {uid}:{gid})",
            op.path,
            content.len()
        ),
        Op::Symlink { target } => format!("link {} -> {target}", op.path),
        Op::Mkdir { mode, uid, gid } => format!("mkdir {} ({mode:04o}, {uid}:{gid})", op.path),
        Op::Remove => format!("remove {}", op.path),
        Op::RegistrySet {
            key, name, value, ..
        } => {
            format!("registry {}: set {key}\\{name} = {value}", op.path)
        }
        Op::RegistryDelete { key, name, .. } => match name {
            Some(n) => format!("registry {}: delete {key}\\{n}", op.path),
            None => format!("registry {}: delete {key}", op.path),
        },
    }
}

/// The operations that fix one or more rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The rules it fixes.
    pub rules: Vec<String>,
    /// The action, as the rule names it (`sudoers`, `install-package:net-tools`).
    pub action: String,
    /// One sentence saying what it does.
    pub summary: String,
    /// What it does, in order.
    #[serde(skip)]
    pub instrs: Vec<Instr>,
}

/// A failing rule the plan does not fix, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The rule.
    pub rule: String,
    /// Its status now.
    pub status: Status,
    /// Why it stays.
    pub reason: String,
}

/// What `prepare` will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The steps, in the order they are applied.
    pub steps: Vec<Step>,
    /// Failing rules left as they are.
    pub skipped: Vec<Skipped>,
    /// Things the user should know (a relabel at first boot, a tool run in the appliance).
    pub notes: Vec<String>,
    /// True when the guest is Windows (no guest program runs in the appliance; owners and
    /// modes mean nothing to it).
    #[serde(skip)]
    pub windows: bool,
}

impl Plan {
    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.steps.iter().all(|s| s.instrs.is_empty())
    }

    /// Every instruction, in order.
    pub fn instrs(&self) -> impl Iterator<Item = &Instr> {
        self.steps.iter().flat_map(|s| &s.instrs)
    }

    /// The rules the plan fixes.
    pub fn fixed_rules(&self) -> Vec<String> {
        let mut v: Vec<String> = self.steps.iter().flat_map(|s| s.rules.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// What the user gave `prepare` beyond the profile.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--worker BUNDLE`.
    pub worker: Option<PathBuf>,
    /// `--package FILE`s.
    pub packages: Vec<PathBuf>,
    /// The bytes of `--param ca=FILE`, read by the caller.
    pub ca: Option<Vec<u8>>,
    /// `--only RULE`s (empty: every rule).
    pub only: Vec<String>,
    /// `--skip RULE`s.
    pub skip: Vec<String>,
    /// The host's architecture (`x86_64`): guest programs run in the appliance only when the
    /// guest's is the same.
    pub host_arch: String,
    /// Where `rhsrvany.exe` and `pnp_wait.exe` are on the host, for the Windows first-boot
    /// service (`VIRT_TOOLS_DATA_DIR`, as virt-customize reads it); `None`: [`VIRT_TOOLS_DIR`].
    pub virt_tools: Option<PathBuf>,
}

/// Why a plan could not be made (a fix was needed and could not be computed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The guest's configuration could not be read or edited.
    #[error("{rule}")]
    Sysconf {
        /// The rule being fixed.
        rule: String,
        /// What the library said.
        #[source]
        source: imgprep_sysconf::Error,
    },
    /// The worker bundle was refused.
    #[error(transparent)]
    Bundle(#[from] imgprep_bundle::Error),
    /// An input cannot be used.
    #[error("{0}")]
    Input(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.action,
            self.rules.join(", "),
            self.summary
        )
    }
}

/// The order actions are planned and applied in: packages first (their scripts change files
/// the native edits cannot foresee), then what creates accounts and services, then what edits
/// them, then the rest.
fn rank(a: &Action) -> u8 {
    match a {
        Action::InstallPackage(_) => 0,
        Action::InjectWorker => 1,
        Action::Sudoers => 2,
        Action::ScopedUmask => 3,
        Action::InstallCa => 4,
        Action::EnableService(_) => 5,
        Action::OrderAfter { .. } => 6,
        _ => 7,
    }
}

/// Plans the fixes of `results` (from `set`'s rules run in `cx`).
pub fn plan(
    results: &[RuleResult],
    cx: &Context<'_>,
    set: &RuleSet,
    inputs: &Inputs,
) -> Result<Plan, Error> {
    let mut plan = Plan {
        windows: cx.is_windows(),
        ..Plan::default()
    };
    let mut todo: Vec<(&RuleResult, &Action)> = Vec::new();
    for r in results {
        if !matches!(r.status, Status::Fail | Status::Warn) {
            continue;
        }
        let selected = (inputs.only.is_empty() || inputs.only.contains(&r.rule))
            && !inputs.skip.contains(&r.rule);
        let reason = match (&r.action, selected) {
            (_, false) => Some("not selected (--only/--skip)".to_owned()),
            (None, _) => Some("no automated fix: see the remediation".to_owned()),
            (Some(a), true) => {
                todo.push((r, a));
                None
            }
        };
        if let Some(reason) = reason {
            plan.skipped.push(Skipped {
                rule: r.rule.clone(),
                status: r.status,
                reason,
            });
        }
    }
    todo.sort_by_key(|(r, a)| (rank(a), r.rule.clone()));

    let mut staged = Staged::new(cx.guest);
    let mut planner = Planner {
        cx,
        set,
        inputs,
        staged: &mut staged,
        plan: &mut plan,
        packages_done: false,
        sudoers_touched: false,
        ca_tool: None,
    };
    for (r, a) in todo {
        let steps = planner.plan.steps.len();
        let notes = planner.plan.notes.len();
        let staged = planner.staged.checkpoint();
        let flags = (
            planner.packages_done,
            planner.sudoers_touched,
            planner.ca_tool.clone(),
        );
        match planner.action(r, a) {
            // The guest lacks a file the fix edits (a trimmed or broken image): the rule stays
            // failing, with the reason.
            Err(Error::Sysconf {
                source: e @ imgprep_sysconf::Error::Missing { .. },
                ..
            }) => {
                // Nothing of a fix that cannot be completed is applied.
                planner.plan.steps.truncate(steps);
                planner.plan.notes.truncate(notes);
                planner.staged.restore(staged);
                (
                    planner.packages_done,
                    planner.sudoers_touched,
                    planner.ca_tool,
                ) = flags;
                planner.skip(r, format!("cannot fix it here: {e}"));
            }
            other => other?,
        }
    }
    planner.finish()?;
    Ok(plan)
}

/// The state of one planning run.
pub(crate) struct Planner<'p, 'g> {
    pub(crate) cx: &'p Context<'p>,
    pub(crate) set: &'p RuleSet,
    pub(crate) inputs: &'p Inputs,
    pub(crate) staged: &'p mut Staged<'g>,
    pub(crate) plan: &'p mut Plan,
    /// All `--package` files went into one step already.
    pub(crate) packages_done: bool,
    /// A sudoers file was written: check the result with the guest's visudo.
    pub(crate) sudoers_touched: bool,
    /// The guest's CA tool to run after the anchors are written.
    pub(crate) ca_tool: Option<Vec<String>>,
}

impl Planner<'_, '_> {
    /// The guest as planned so far.
    pub(crate) fn guest(&self) -> &dyn Guest {
        &*self.staged
    }

    /// A profile parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.cx.param(name)
    }

    /// Adds a step and applies its file operations to the staged view.
    pub(crate) fn push(
        &mut self,
        rule: &str,
        action: &Action,
        summary: String,
        instrs: Vec<Instr>,
    ) {
        for i in &instrs {
            if let Instr::File(op) = i {
                self.staged.apply(op);
            }
        }
        // Two rules fixed by one action (both install-package:nova-agent) share a step.
        let name = action.to_string();
        if let Some(s) = self.plan.steps.iter_mut().find(|s| s.action == name) {
            if !s.rules.iter().any(|r| r == rule) {
                s.rules.push(rule.to_owned());
            }
            s.instrs.extend(instrs);
            // Later parts of one action say more (the account, the service added).
            if !summary.is_empty() {
                s.summary = summary;
            }
            return;
        }
        self.plan.steps.push(Step {
            rules: vec![rule.to_owned()],
            action: name,
            summary,
            instrs,
        });
    }

    /// Records that `rule` stays failing, and why.
    pub(crate) fn skip(&mut self, r: &RuleResult, reason: impl Into<String>) {
        self.plan.skipped.push(Skipped {
            rule: r.rule.clone(),
            status: r.status,
            reason: reason.into(),
        });
    }

    /// The sysconf error of `rule` as a planning error.
    pub(crate) fn sysconf(rule: &str) -> impl Fn(imgprep_sysconf::Error) -> Error + '_ {
        move |source| Error::Sysconf {
            rule: rule.to_owned(),
            source,
        }
    }

    fn action(&mut self, r: &RuleResult, a: &Action) -> Result<(), Error> {
        let windows = self.cx.is_windows();
        match a {
            Action::InstallPackage(name) => packages::install(self, r, name),
            Action::InjectWorker if !windows => linux::inject_worker(self, r, a),
            Action::InjectWorker => windows::inject_worker(self, r, a),
            Action::Sudoers if !windows => linux::sudoers(self, r, a),
            Action::ScopedUmask if !windows => linux::scoped_umask(self, r, a),
            Action::InstallCa if !windows => linux::install_ca(self, r, a),
            Action::InstallCa => windows::install_ca(self, r, a),
            Action::EnableService(unit) if !windows => linux::enable_service(self, r, a, unit),
            Action::OrderAfter { unit, after } if !windows => {
                linux::order_after(self, r, a, unit, after)
            }
            Action::ConfigureCloudbaseInit if windows => windows::cloudbase_init(self, r, a),
            Action::RegistrySet { .. } | Action::RegistryDelete { .. } if windows => {
                windows::registry(self, r, a)
            }
            _ => {
                let os = if windows { "Windows" } else { "Linux" };
                self.skip(r, format!("{a} is not done on {os} images yet"));
                Ok(())
            }
        }
    }

    /// What every plan ends with: checks of what was written with the guest's own tools, and
    /// SELinux labels.
    fn finish(&mut self) -> Result<(), Error> {
        let mut tail = Vec::new();
        if let Some(argv) = self.ca_tool.take() {
            tail.push(Instr::Run {
                why: "regenerate the trust store with the guest's own tool".into(),
                argv,
            });
        }
        if self.sudoers_touched && self.guest_can_run("/usr/sbin/visudo") {
            tail.push(Instr::Run {
                argv: vec!["/usr/sbin/visudo".into(), "-c".into()],
                why: "check the sudoers files as sudo reads them".into(),
            });
        }
        if !self.plan.is_empty()
            && let Some(fc) = linux::selinux_file_contexts(self.guest())
        {
            self.plan.notes.push(format!(
                "SELinux is enabled in the guest: the files written get their labels from {fc} \
                 (setfiles in the appliance, or at first boot through /.autorelabel)"
            ));
            tail.push(Instr::Relabel { file_contexts: fc });
        }
        if !tail.is_empty() {
            self.plan.steps.push(Step {
                rules: Vec::new(),
                action: "finish".into(),
                summary: "check and label what was written".into(),
                instrs: tail,
            });
        }
        Ok(())
    }

    /// True when the guest's program `path` exists and can run in the appliance (the guest's
    /// architecture is the host's).
    pub(crate) fn guest_can_run(&self, path: &str) -> bool {
        let arch_ok = self.cx.os.arch.as_deref() == Some(self.inputs.host_arch.as_str());
        arch_ok && self.guest().is_file(path)
    }
}
