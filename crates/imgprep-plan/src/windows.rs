//! The actions on Windows guests: registry values under the current control set,
//! cloudbase-init's configuration, the machine ROOT certificate store, and the agent's installer
//! run at first boot through the first-boot service virt-customize installs (rhsrvany).

use std::path::{Path, PathBuf};

use imgprep_bundle::{Bundle, FileKind};
use imgprep_rules::{Action, RuleResult};
use imgprep_sysconf::firstboot::{self, InstallerKind};
use imgprep_sysconf::path::join;
use imgprep_sysconf::windows::windows_path;
use imgprep_sysconf::{FileOp, RegValue, certstore, ini, ops, registry};

use crate::{Error, Instr, Planner};

/// Where rhsrvany.exe and pnp_wait.exe are found on the host when `Inputs::virt_tools` is not
/// set (the Debian package `rhsrvany`, as virt-customize looks for them).
pub const VIRT_TOOLS_DIR: &str = "/usr/share/virt-tools";

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

/// `install-ca`: the CA's certificates in the machine ROOT store of the SOFTWARE hive, each a key
/// named by its thumbprint holding the serialized certificate Windows writes.
pub(crate) fn install_ca(p: &mut Planner<'_, '_>, r: &RuleResult, a: &Action) -> Result<(), Error> {
    let Some(ca) = p.inputs.ca.clone() else {
        p.skip(r, "needs the CA: pass --param ca=FILE");
        return Ok(());
    };
    let rule = r.rule.as_str();
    let Some(root) = p.cx.os.windows_systemroot.clone() else {
        p.skip(r, "no Windows system root: no registry to change");
        return Ok(());
    };
    let ops = certstore::add_root(p.guest(), &root, &ca).map_err(Planner::sysconf(rule))?;
    let thumbs: Vec<String> = imgprep_sysconf::trust::certificates(&ca)
        .iter()
        .map(|d| certstore::thumbprint(d))
        .collect();
    p.push(
        rule,
        a,
        format!(
            "trust the bundle store's CA in the machine ROOT store (SOFTWARE\\{}\\{})",
            certstore::MACHINE_ROOT,
            thumbs.join(", ")
        ),
        ops.into_iter().map(Instr::File).collect(),
    );
    Ok(())
}

/// A regular file on the host (opened without blocking, its type checked).
fn host_file(p: &Path) -> bool {
    imgprep_io::host::open(
        p,
        imgprep_io::host::Accept::Regular,
        imgprep_io::host::Follow::Yes,
    )
    .is_ok()
}

/// A guest directory given as `C:\…` (on the system drive) or `/…`, as a guest path.
fn guest_dir(dest: &str, drive: &str) -> Result<String, Error> {
    let d = dest.trim();
    if d.starts_with('/') {
        return Ok(d.to_owned());
    }
    match d.split_once(':') {
        Some((letter, rest)) if letter.eq_ignore_ascii_case(drive) && rest.starts_with('\\') => {
            Ok(rest.replace('\\', "/"))
        }
        _ => Err(Error::Input(format!(
            "--param agent_dest={dest}: a directory on the system drive ({drive}:\\…) or a guest \
             path (/…)"
        ))),
    }
}

/// `inject-worker` on Windows: the bundle unpacked into the guest, and its installer run
/// unattended at first boot by a script of the first-boot service (rhsrvany.exe from the host,
/// `firstboot.bat`, the service in the SYSTEM hive), as `virt-customize --firstboot` sets it up.
pub(crate) fn inject_worker(
    p: &mut Planner<'_, '_>,
    r: &RuleResult,
    a: &Action,
) -> Result<(), Error> {
    let rule = r.rule.as_str();
    let Some(path) = p.inputs.worker.clone() else {
        p.skip(
            r,
            "needs the worker: pass --worker BUNDLE (a bundle with its installer, made by \
             imgprep bundle worker --installer, or a tar.gz holding one .msi, .exe, .ps1 or .bat)",
        );
        return Ok(());
    };
    let Some(root) = p.cx.os.windows_systemroot.clone() else {
        p.skip(r, "no Windows system root: no registry to change");
        return Ok(());
    };
    let tools = p
        .inputs
        .virt_tools
        .clone()
        .unwrap_or_else(|| PathBuf::from(VIRT_TOOLS_DIR));
    let srvany = tools.join(firstboot::SRVANY);
    if !host_file(&srvany) {
        p.skip(
            r,
            format!(
                "the first-boot service that runs the installer needs {}: install the rhsrvany \
                 package (Debian bookworm-backports: apt-get install -t bookworm-backports \
                 rhsrvany), or set VIRT_TOOLS_DATA_DIR to where rhsrvany.exe is",
                srvany.display()
            ),
        );
        return Ok(());
    }
    let drive = p.cx.system_drive();
    let fb_dir = firstboot::dir(p.guest());
    let bundle = match p.param("agent_dest").filter(|d| !d.is_empty()) {
        Some(dest) => Bundle::open_plain(&path, &guest_dir(dest, &drive)?)?,
        None => match Bundle::open(&path) {
            Ok(b) => b,
            Err(imgprep_bundle::Error::Manifest { reason, .. })
                if reason.contains("first member is not") =>
            {
                Bundle::open_plain(&path, &join(&fb_dir, "agent"))?
            }
            Err(e) => return Err(e.into()),
        },
    };
    let shown = path.display().to_string();
    let declared = bundle.manifest.as_ref().and_then(|m| m.installer.clone());
    let (installer, bundle_args) = match declared {
        Some(i) => (i.path, i.args),
        None => {
            let found: Vec<&str> = bundle
                .entries
                .iter()
                .filter(|e| e.kind == FileKind::File && InstallerKind::of(&e.path).is_some())
                .map(|e| e.path.as_str())
                .collect();
            match found.as_slice() {
                [one] => ((*one).to_owned(), None),
                [] => {
                    return Err(Error::Input(format!(
                        "--worker {shown}: no installer to run at first boot on Windows (an \
                         .msi, .exe, .ps1, .bat or .cmd file)"
                    )));
                }
                many => {
                    return Err(Error::Input(format!(
                        "--worker {shown}: {} installers ({}): name the one to run with imgprep \
                         bundle worker --installer FILE",
                        many.len(),
                        many.join(", ")
                    )));
                }
            }
        }
    };
    let args = p
        .param("agent_install_args")
        .filter(|a| !a.trim().is_empty())
        .map(str::to_owned)
        .or(bundle_args);
    // Windows finds names whatever their case, but the appliance's NTFS driver does not: a
    // prefix spelled unlike the guest's directories would unpack into a second directory.
    let prefix = imgprep_guest::path_nocase(p.guest(), &bundle.prefix).0;
    if prefix != bundle.prefix {
        return Err(Error::Input(format!(
            "--worker {shown}: it installs to {}, which the guest spells {prefix}; make the \
             bundle with --prefix '{prefix}' (or pass --param agent_dest= so spelled)",
            bundle.prefix
        )));
    }
    let installer_win = windows_path(&drive, &join(&prefix, &installer));
    let command = match firstboot::install_command(&installer_win, args.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            p.skip(r, format!("cannot run the installer at first boot: {e}"));
            return Ok(());
        }
    };
    let (name, version) = match &bundle.manifest {
        Some(m) => (m.name.clone(), m.version.clone()),
        None => (
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "agent".into()),
            String::new(),
        ),
    };
    let why = format!("install the management agent {name} at first boot");
    let summary = format!(
        "unpack {} files into {}; run {} at first boot through the first-boot service \
         (rhsrvany): {command}",
        bundle.entries.len(),
        windows_path(&drive, &prefix),
        installer,
    );

    // The service, then its programs from the host, then the bundle, then the script that runs
    // the installer: each computed on the guest as the steps before it leave it.
    let service = firstboot::install(p.guest(), &root, &drive).map_err(Planner::sysconf(rule))?;
    p.push(rule, a, summary.clone(), files(service));
    let mut uploads = Vec::new();
    for exe in [firstboot::SRVANY, firstboot::PNP_WAIT] {
        let from = tools.join(exe);
        if !host_file(&from) {
            continue;
        }
        let to = join(&fb_dir, exe);
        let same = imgprep_io::host::read(&from, 64 << 20)
            .ok()
            .zip(p.guest().read_file(&to, 64 << 20).ok())
            .is_some_and(|(h, g)| h == g);
        if !same {
            uploads.push(Instr::Upload {
                from,
                path: to,
                mode: 0o755,
                uid: 0,
                gid: 0,
            });
        }
    }
    p.push(rule, a, summary.clone(), uploads);
    let mut unpack = files(ops::mkdirs(p.guest(), &prefix, &why));
    unpack.push(Instr::Unpack {
        bundle: path.clone(),
        prefix: bundle.prefix.clone(),
    });
    p.push(rule, a, summary.clone(), unpack);
    let script = firstboot::next_script(p.guest(), &fb_dir, &format!("install {name}"));
    let content = firstboot::crlf(&firstboot::agent_script(
        &name,
        &version,
        &installer_win,
        &command,
        &firstboot::dir_win(&drive),
    ));
    p.push(
        rule,
        a,
        summary,
        vec![Instr::File(FileOp::write(
            script.clone(),
            content,
            (0o644, 0, 0),
            &why,
        ))],
    );
    p.plan.notes.push(format!(
        "the management agent is installed when the guest first boots ({}): until then {rule} \
         reports a pending first-boot install",
        windows_path(&drive, &script)
    ));
    Ok(())
}

/// File operations as instructions.
fn files(ops: Vec<FileOp>) -> Vec<Instr> {
    ops.into_iter().map(Instr::File).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_dest_on_the_system_drive_or_as_a_guest_path() {
        assert_eq!(guest_dir(r"C:\CliQr\agent", "C").unwrap(), "/CliQr/agent");
        assert_eq!(guest_dir(r"c:\CliQr", "C").unwrap(), "/CliQr");
        assert_eq!(
            guest_dir("/Program Files/x", "C").unwrap(),
            "/Program Files/x"
        );
        for bad in [r"D:\CliQr", "CliQr", r"C:CliQr"] {
            let e = guest_dir(bad, "C").unwrap_err().to_string();
            assert!(
                e.contains("a directory on the system drive (C:"),
                "{bad}: {e}"
            );
        }
    }
}
