//! The actions on Linux guests.

use imgprep_bundle::Bundle;
use imgprep_guest::Guest;
use imgprep_rules::{Action, RuleResult};
use imgprep_sysconf::accounts::{Accounts, NewAccount};
use imgprep_sysconf::boot::{Init, detect_init};
use imgprep_sysconf::sysv::NewScript;
use imgprep_sysconf::{FileOp, ops, shell, sudoers, systemd, sysv, trust};

use crate::{Error, Instr, Planner};

/// The account the agent runs as when the profile does not say.
const DEFAULT_AGENT_USER: &str = "cliqruser";
/// The umask the agent needs.
const AGENT_UMASK: u16 = 0o022;

/// The file operations as steps; a directory two edits of one step both create is made once.
fn files(ops: Vec<FileOp>) -> Vec<Instr> {
    let mut made: Vec<String> = Vec::new();
    ops.into_iter()
        .filter(|op| match op.op {
            imgprep_sysconf::Op::Mkdir { .. } if made.contains(&op.path) => false,
            imgprep_sysconf::Op::Mkdir { .. } => {
                made.push(op.path.clone());
                true
            }
            _ => true,
        })
        .map(Instr::File)
        .collect()
}

fn agent_user(p: &Planner<'_, '_>) -> String {
    p.param("agent_user")
        .filter(|u| !u.is_empty())
        .unwrap_or(DEFAULT_AGENT_USER)
        .to_owned()
}

/// The edits that add `user` (a regular account with a home from /etc/skel, bash when the guest
/// has it) when it does not exist.
fn account_ops(p: &Planner<'_, '_>, rule: &str, user: &str) -> Result<Vec<FileOp>, Error> {
    let g = p.guest();
    let accounts = Accounts::read(g).map_err(|e| Planner::sysconf(rule)(e.into()))?;
    if accounts.user(user).is_some() || user == "root" {
        return Ok(Vec::new());
    }
    let shell = if g.is_file("/bin/bash") || g.is_file("/usr/bin/bash") {
        "/bin/bash"
    } else {
        "/bin/sh"
    };
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    imgprep_sysconf::accounts::add_account(
        g,
        &NewAccount {
            name: user.to_owned(),
            system: false,
            home: None,
            create_home: true,
            shell: shell.into(),
            gecos: "management agent".into(),
            last_change_days: days,
        },
    )
    .map_err(Planner::sysconf(rule))
}

/// `inject-worker`: the bundle unpacked at its prefix, its service installed for the guest's
/// init system, and its account created with the sudo rights the agent needs.
pub(crate) fn inject_worker(
    p: &mut Planner<'_, '_>,
    r: &RuleResult,
    a: &Action,
) -> Result<(), Error> {
    let Some(path) = p.inputs.worker.clone() else {
        p.skip(
            r,
            "needs the worker: pass --worker BUNDLE (imgprep bundle builds one)",
        );
        return Ok(());
    };
    let bundle = match p.param("agent_dest").filter(|d| !d.is_empty()) {
        Some(dest) => Bundle::open_plain(&path, dest)?,
        None => match Bundle::open(&path) {
            Ok(b) => b,
            Err(imgprep_bundle::Error::Manifest { reason, .. })
                if reason.contains("first member is not") =>
            {
                return Err(Error::Input(format!(
                    "--worker {}: a plain tar.gz needs --param agent_dest=DIR (where it unpacks \
                     in the guest); imgprep bundle worker makes a bundle that says it itself",
                    path.display()
                )));
            }
            Err(e) => return Err(e.into()),
        },
    };
    let manifest = bundle.manifest.clone();
    let rule = r.rule.as_str();
    let why = format!(
        "inject the worker {} into {}",
        path.display(),
        bundle.prefix
    );
    let mut instrs = files(ops::mkdirs(p.guest(), &bundle.prefix, &why));
    instrs.push(Instr::Unpack {
        bundle: path.clone(),
        prefix: bundle.prefix.clone(),
    });
    let mut summary = format!(
        "unpack {} files into {}",
        bundle.entries.len(),
        bundle.prefix
    );
    let service = manifest.as_ref().and_then(|m| m.service.clone());
    // The account the agent runs as: the bundle's, else the profile's agent_user.
    let user = manifest
        .as_ref()
        .and_then(|m| m.user.clone())
        .or_else(|| service.as_ref().and_then(|s| s.user.clone()))
        .or_else(|| {
            p.param("agent_user")
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
        });
    p.push(rule, a, summary.clone(), std::mem::take(&mut instrs));
    // The account, with its sudo rights, before the service that runs as it.
    let acct = match &user {
        Some(u) => account_ops(p, rule, u)?,
        None => Vec::new(),
    };
    if let Some(user) = user.filter(|_| !acct.is_empty()) {
        summary.push_str(&format!("; add the account {user}"));
        p.push(rule, a, summary.clone(), files(acct));
        if p.guest().is_file("/etc/sudoers") {
            let grant = sudoers::grant_all(p.guest(), &user).map_err(Planner::sysconf(rule))?;
            if !grant.is_empty() {
                p.sudoers_touched = true;
                p.push(rule, a, summary.clone(), files(grant));
            }
        } else {
            p.plan.notes.push(format!(
                "the guest has no sudo (/etc/sudoers): the account {user} gets no sudo rights"
            ));
        }
    }
    if let Some(s) = service {
        let run_as = s.user.clone().unwrap_or_else(|| "root".into());
        let description = s
            .description
            .clone()
            .unwrap_or_else(|| format!("{} agent", s.name));
        let ops = install_service(p, rule, &s.name, &description, &s.exec, &run_as)?;
        p.push(rule, a, summary, files(ops));
    }
    Ok(())
}

/// The service `name` running `exec` as `user` with umask 022, installed and enabled for the
/// guest's init system: a systemd unit, or a SysV script with an LSB header and the rc links
/// chkconfig / update-rc.d would make.
fn install_service(
    p: &Planner<'_, '_>,
    rule: &str,
    name: &str,
    description: &str,
    exec: &str,
    user: &str,
) -> Result<Vec<FileOp>, Error> {
    let g = p.guest();
    let (init, _) = detect_init(g);
    match init {
        Init::Systemd => {
            let mut unit = format!(
                "[Unit]\nDescription={description}\nAfter=network-online.target\n\
                 Wants=network-online.target\n\n[Service]\nExecStart={exec}\nUMask=0022\n\
                 Restart=on-failure\n"
            );
            if user != "root" {
                unit.push_str(&format!("User={user}\n"));
            }
            unit.push_str("\n[Install]\nWantedBy=multi-user.target\n");
            systemd::add_unit(g, &format!("{name}.service"), &unit).map_err(Planner::sysconf(rule))
        }
        Init::SysV | Init::Upstart => {
            let launch = if user == "root" {
                format!("{exec} &")
            } else {
                format!("su -s /bin/sh {user} -c '{exec} &'")
            };
            let redhat = sysv::Layout::of(g) == sysv::Layout::RedHat;
            let script = NewScript {
                name: name.to_owned(),
                provides: vec![name.to_owned()],
                required_start: vec!["$network".into(), "$remote_fs".into()],
                should_start: Vec::new(),
                start_before: Vec::new(),
                default_start: vec![2, 3, 4, 5],
                default_stop: vec![0, 1, 6],
                description: description.to_owned(),
                chkconfig: redhat.then_some((85, 15)),
                body: format!(
                    "umask 022\ncase \"$1\" in\n  start) {launch} ;;\n  stop) pkill -f '{exec}' ;;\n  \
                     restart) \"$0\" stop; \"$0\" start ;;\n  *) echo \"Usage: $0 {{start|stop|restart}}\"; \
                     exit 2 ;;\nesac\n"
                ),
            };
            let mut ops = sysv::add_script(g, &script).map_err(Planner::sysconf(rule))?;
            let mut staged = crate::Staged::new(g);
            for op in &ops {
                staged.apply(op);
            }
            ops.extend(sysv::enable_script(&staged, name).map_err(Planner::sysconf(rule))?);
            Ok(ops)
        }
    }
}

/// `sudoers`: the agent's account (created when missing) may run commands as root.
pub(crate) fn sudoers(p: &mut Planner<'_, '_>, r: &RuleResult, a: &Action) -> Result<(), Error> {
    let user = agent_user(p);
    let rule = r.rule.as_str();
    let acct = account_ops(p, rule, &user)?;
    let created = !acct.is_empty();
    if created {
        p.push(
            rule,
            a,
            format!("add the account {user} and let it use sudo"),
            files(acct),
        );
    }
    let grant = sudoers::grant_all(p.guest(), &user).map_err(Planner::sysconf(rule))?;
    if !grant.is_empty() {
        p.sudoers_touched = true;
        let summary = format!("let {user} run commands as root without a password or a tty");
        p.push(rule, a, summary, files(grant));
    }
    Ok(())
}

/// `scoped-umask`: umask 022 for the agent only (its service and its account's login shells),
/// the system default untouched; `--param umask_scope=system` edits the system default instead.
pub(crate) fn scoped_umask(
    p: &mut Planner<'_, '_>,
    r: &RuleResult,
    a: &Action,
) -> Result<(), Error> {
    let rule = r.rule.as_str();
    if p.param("umask_scope") == Some("system") {
        let ops = shell::system_umask(p.guest(), AGENT_UMASK).map_err(Planner::sysconf(rule))?;
        p.push(
            rule,
            a,
            "set the system default umask to 022 (login.defs and /etc/profile)".into(),
            files(ops),
        );
        return Ok(());
    }
    let user = agent_user(p);
    let mut ops = Vec::new();
    let mut scope = Vec::new();
    let accounts = Accounts::read(p.guest()).map_err(|e| Planner::sysconf(rule)(e.into()))?;
    if accounts.user(&user).is_some() {
        ops.extend(
            shell::shell_startup_umask(p.guest(), &user, AGENT_UMASK)
                .map_err(Planner::sysconf(rule))?,
        );
        scope.push(format!("{user}'s login shells"));
    }
    for service in agent_services(p) {
        if let Ok(Some(_)) = systemd::locate(p.guest(), &service) {
            ops.extend(
                systemd::service_umask(p.guest(), &service, AGENT_UMASK)
                    .map_err(Planner::sysconf(rule))?,
            );
            scope.push(service);
        }
    }
    if scope.is_empty() {
        p.skip(
            r,
            format!(
                "no agent account ({user}) or service to give umask 022 to: inject the worker \
                 with --worker, or pass --param umask_scope=system to change the system default"
            ),
        );
        return Ok(());
    }
    p.push(
        rule,
        a,
        format!("umask 022 for {} only", scope.join(" and ")),
        files(ops),
    );
    Ok(())
}

/// The systemd services of the agent: the worker bundle's, if one is injected.
fn agent_services(p: &Planner<'_, '_>) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(w) = &p.inputs.worker
        && let Ok(b) = Bundle::open(w)
        && let Some(s) = b.manifest.and_then(|m| m.service)
    {
        v.push(format!("{}.service", s.name));
    }
    v
}

/// `install-ca`: the `--param ca` certificate as an anchor of the guest's trust store, with the
/// bundles its tool would regenerate; the guest's own tool also runs in the appliance when it
/// can.
pub(crate) fn install_ca(p: &mut Planner<'_, '_>, r: &RuleResult, a: &Action) -> Result<(), Error> {
    let Some(ca) = p.inputs.ca.clone() else {
        p.skip(r, "needs the CA: pass --param ca=FILE");
        return Ok(());
    };
    let rule = r.rule.as_str();
    let mut ops = trust::add_anchor(p.guest(), "imgprep-bundle-store-ca", &ca)
        .map_err(Planner::sysconf(rule))?;
    let native = match p.param("ca_update") {
        None | Some("guest") => false,
        Some("native") => true,
        Some(other) => {
            p.skip(
                r,
                format!("--param ca_update={other}: expected `guest` or `native`"),
            );
            return Ok(());
        }
    };
    if let Some(f) = trust::Family::of(p.guest()) {
        let tool: Vec<String> = f.tool().split(' ').map(str::to_owned).collect();
        let program = ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"]
            .iter()
            .map(|d| format!("{d}{}", tool[0]))
            .filter(|_| !native)
            .find(|path| p.guest_can_run(path));
        match program {
            Some(prog) => {
                // The guest's own tool regenerates the bundles and links: write only the anchor.
                ops.retain(|op| op.path.starts_with(f.anchor_dir()));
                let mut argv = vec![prog];
                argv.extend(tool[1..].iter().cloned());
                p.plan.notes.push(format!(
                    "the trust store's bundles are regenerated by the guest's own `{}` in the \
                     appliance",
                    f.tool()
                ));
                p.ca_tool = Some(argv);
            }
            None => {
                p.plan.notes.push(if native {
                    format!(
                        "the trust store's files are written as the guest's `{}` would write \
                         them (--param ca_update=native: the tool and its hooks do not run)",
                        f.tool()
                    )
                } else {
                    format!(
                        "the guest's `{}` cannot run here: its bundles are written as it would \
                         write them",
                        f.tool()
                    )
                });
                let left = trust::not_regenerated(p.guest());
                if !left.is_empty() {
                    p.plan.notes.push(format!(
                        "not written natively, left to the guest's next `{}`: {}",
                        f.tool(),
                        left.join(", ")
                    ));
                }
            }
        }
    }
    p.push(rule, a, "trust the bundle store's CA".into(), files(ops));
    Ok(())
}

/// `enable-service:UNIT`.
pub(crate) fn enable_service(
    p: &mut Planner<'_, '_>,
    r: &RuleResult,
    a: &Action,
    unit: &str,
) -> Result<(), Error> {
    let rule = r.rule.as_str();
    let (init, _) = detect_init(p.guest());
    let service = unit_name(unit);
    let ops = match init {
        Init::Systemd if matches!(systemd::locate(p.guest(), &service), Ok(Some(_))) => {
            systemd::enable(p.guest(), &service).map_err(Planner::sysconf(rule))?
        }
        _ => {
            match sysv::enable_script(p.guest(), unit) {
                Ok(ops) => ops,
                Err(imgprep_sysconf::Error::Missing { .. }) => {
                    p.skip(r, format!("{unit} is not installed: install it first (it has no unit or init script)"));
                    return Ok(());
                }
                Err(e) => return Err(Planner::sysconf(rule)(e)),
            }
        }
    };
    p.push(rule, a, format!("start {unit} at boot"), files(ops));
    Ok(())
}

/// `order-after:UNIT:AFTER`: a systemd drop-in, or renumbered rc links.
pub(crate) fn order_after(
    p: &mut Planner<'_, '_>,
    r: &RuleResult,
    a: &Action,
    unit: &str,
    after: &str,
) -> Result<(), Error> {
    let rule = r.rule.as_str();
    let (init, _) = detect_init(p.guest());
    let ops = match init {
        Init::Systemd => {
            systemd::order_after(p.guest(), &unit_name(unit), &[&unit_name(after)], true)
                .map_err(Planner::sysconf(rule))?
        }
        Init::SysV | Init::Upstart => {
            sysv::start_before(p.guest(), after, unit).map_err(Planner::sysconf(rule))?
        }
    };
    p.push(rule, a, format!("start {after} before {unit}"), files(ops));
    Ok(())
}

/// `NAME` → `NAME.service` (a unit name with a suffix stays as it is).
fn unit_name(unit: &str) -> String {
    if unit.contains('.') {
        unit.to_owned()
    } else {
        format!("{unit}.service")
    }
}

/// The policy's file contexts when SELinux is enabled in the guest (`SELINUX=` not `disabled`
/// in `/etc/selinux/config`).
pub(crate) fn selinux_file_contexts(g: &dyn Guest) -> Option<String> {
    let text = g.read_text("/etc/selinux/config", 1 << 20).ok()??;
    let get = |k: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(k)?.strip_prefix('='))
            .next_back()
            .map(|v| v.trim().trim_matches('"').to_owned())
    };
    let mode = get("SELINUX")?;
    if mode == "disabled" {
        return None;
    }
    let ty = get("SELINUXTYPE").unwrap_or_else(|| "targeted".into());
    Some(format!("/etc/selinux/{ty}/contexts/files/file_contexts"))
}
