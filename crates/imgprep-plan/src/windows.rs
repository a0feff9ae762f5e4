//! The actions on Windows guests: registry values under the current control set, and
//! cloudbase-init's configuration.

use imgprep_rules::{Action, RuleResult};
use imgprep_sysconf::{RegValue, ini, registry};

use crate::{Instr, Planner};

/// The plugin that runs user data as a script.
const USERDATA: &str = "cloudbaseinit.plugins.common.userdata.UserDataPlugin";

/// `configure-cloudbase-init`: `UserDataPlugin` added to `plugins` in each configuration file the
/// rule found leaving it out, the rest of each file byte for byte as it was.
pub(crate) fn cloudbase_init(
    p: &mut Planner<'_, '_>,
    r: &RuleResult,
    a: &Action,
) -> Result<(), crate::Error> {
    let rule = r.rule.as_str();
    let confs: Vec<String> = r
        .evidence
        .iter()
        .map(|e| e.path.clone())
        .filter(|path| path.to_ascii_lowercase().ends_with(".conf") && p.guest().is_file(path))
        .collect();
    if confs.is_empty() {
        p.skip(
            r,
            "no cloudbase-init configuration file to change: install cloudbase-init first \
             (CloudbaseInitSetup_x64.msi)",
        );
        return Ok(());
    }
    let mut instrs = Vec::new();
    for path in &confs {
        let ops = ini::add_to_list_op(p.guest(), path, "DEFAULT", "plugins", USERDATA, &[])
            .map_err(Planner::sysconf(rule))?;
        instrs.extend(ops.into_iter().map(Instr::File));
    }
    p.push(
        rule,
        a,
        format!("add UserDataPlugin to plugins in {}", confs.join(", ")),
        instrs,
    );
    Ok(())
}

/// `registry-set` / `registry-delete`, `CurrentControlSet` resolved from `Select`.
pub(crate) fn registry(
    p: &mut Planner<'_, '_>,
    r: &RuleResult,
    a: &Action,
) -> Result<(), crate::Error> {
    let rule = r.rule.as_str();
    let Some(root) = p.cx.os.windows_systemroot.clone() else {
        p.skip(r, "no Windows system root: no registry to change");
        return Ok(());
    };
    let (ops, summary) = match a {
        Action::RegistrySet {
            hive,
            key,
            value,
            data,
        } => {
            let v = match registry::parse_number(data) {
                Some(n) => match u32::try_from(n) {
                    Ok(d) => RegValue::Dword(d),
                    Err(_) => RegValue::Qword(n),
                },
                None => RegValue::Sz(data.clone()),
            };
            let ops = registry::set(p.guest(), &root, hive, key, value, v)
                .map_err(Planner::sysconf(rule))?;
            (ops, format!("set {hive}\\{key}\\{value} to {data}"))
        }
        Action::RegistryDelete { hive, key, value } => {
            let ops = registry::delete(p.guest(), &root, hive, key, Some(value))
                .map_err(Planner::sysconf(rule))?;
            (ops, format!("delete {hive}\\{key}\\{value}"))
        }
        _ => return Ok(()),
    };
    p.push(rule, a, summary, ops.into_iter().map(Instr::File).collect());
    Ok(())
}
