//! The Windows first-boot service as virt-customize installs it (libguestfs 1.48, the layout
//! virt-v2v's conversions share): `rhsrvany.exe` and `firstboot.bat` in
//! `C:\Program Files\Guestfs\Firstboot`, and the service `firstboot` in the SYSTEM hive's current
//! control set, started automatically as LocalSystem, whose `ImagePath` is `rhsrvany.exe -s
//! firstboot` and whose `Parameters\CommandLine` is `cmd /c "…\firstboot.bat"`. At boot,
//! `firstboot.bat` runs each `scripts\*.bat` once (moving it to `scripts-done\` first, logging to
//! `log.txt`), then uninstalls the service. Sharing the layout lets images customised by
//! virt-customize and by imgprep carry each other's scripts.
//!
//! Next to the edits that install the service and add a script, the reader the rules use: the
//! rhsrvany services of a SYSTEM hive, and the scripts waiting (or done) with what the agent
//! installs they hold declare (a `rem imgprep-agent:` line, then `rem installer:` naming the
//! installer).

use imgprep_guest::{Guest, path_nocase};
use imgprep_registry::{Data, Hive};

use crate::Error;
use crate::ops::{FileOp, RegValue, mkdirs};
use crate::path::join;
use crate::registry;

/// The directory, below the system drive's root.
pub const DIR: &str = "/Program Files/Guestfs/Firstboot";
/// The service's key name under `Services`.
pub const SERVICE: &str = "firstboot";
/// The service wrapper that runs a command line as a Windows service (Debian package `rhsrvany`).
pub const SRVANY: &str = "rhsrvany.exe";
/// The helper that waits for Plug and Play installs to finish (same package).
pub const PNP_WAIT: &str = "pnp_wait.exe";
/// The first line of a script that installs the management agent: `rem imgprep-agent: NAME
/// VERSION`.
pub const AGENT_MARKER: &str = "rem imgprep-agent:";
/// The line naming the installer such a script runs: `rem installer: C:\…`.
pub const INSTALLER_MARKER: &str = "rem installer:";
/// Largest script read.
pub const MAX_SCRIPT: u64 = 64 << 10;
/// Most scripts and services looked at.
const MAX_ITEMS: usize = 4096;

/// `s` with CRLF line ends, as cmd.exe scripts are written.
pub fn crlf(s: &str) -> Vec<u8> {
    s.lines().flat_map(|l| l.bytes().chain(*b"\r\n")).collect()
}

/// The first-boot directory as a Windows path on `drive` (`C`).
pub fn dir_win(drive: &str) -> String {
    format!("{drive}:{}", DIR.replace('/', "\\"))
}

/// The first-boot directory of the guest, each existing component spelled as stored.
pub fn dir(g: &dyn Guest) -> String {
    path_nocase(g, DIR).0
}

/// `firstboot.bat` as virt-customize writes it (LF line ends; see [`crlf`]).
pub fn firstboot_bat(dir_win: &str) -> String {
    format!(
        "@echo off\n\nsetlocal EnableDelayedExpansion\nset firstboot={dir_win}\n\
         set log=%firstboot%\\log.txt\n\nset scripts=%firstboot%\\scripts\n\
         set scripts_done=%firstboot%\\scripts-done\n\ncall :main >> \"%log%\" 2>&1\nexit /b\n\n\
         :main\necho starting firstboot service\n\nif not exist \"%scripts_done%\" (\n  \
         mkdir \"%scripts_done%\"\n)\n\nfor %%f in (\"%scripts%\"\\*.bat) do (\n  \
         echo running \"%%f\"\n  move \"%%f\" \"%scripts_done%\"\n  pushd \"%scripts_done%\"\n  \
         call \"%%~nf\"\n  set elvl=!errorlevel!\n  echo .... exit code !elvl!\n  popd\n)\n\n\
         echo uninstalling firstboot service\n\"%firstboot%\\{SRVANY}\" -s firstboot uninstall\n"
    )
}

/// The values of the service key and of its `Parameters` subkey.
pub fn service_values(dir_win: &str) -> Vec<(&'static str, &'static str, RegValue)> {
    vec![
        ("", "Type", RegValue::Dword(0x10)),
        ("", "Start", RegValue::Dword(2)),
        ("", "ErrorControl", RegValue::Dword(1)),
        (
            "",
            "ImagePath",
            RegValue::Sz(format!("{dir_win}\\{SRVANY} -s {SERVICE}")),
        ),
        (
            "",
            "DisplayName",
            RegValue::Sz("Virt tools firstboot service".into()),
        ),
        ("", "ObjectName", RegValue::Sz("LocalSystem".into())),
        (
            "Parameters",
            "CommandLine",
            RegValue::Sz(format!("cmd /c \"{dir_win}\\firstboot.bat\"")),
        ),
        ("Parameters", "PWD", RegValue::Sz(dir_win.to_owned())),
    ]
}

/// Installs the service on the guest whose system root is `systemroot` and system drive
/// `drive`: the directory and its `scripts`, `firstboot.bat`, and the service's registry values
/// (`CurrentControlSet` resolved). What is already as wanted gets no operation. `rhsrvany.exe`
/// itself is a host file the caller uploads to [`dir`]`/`[`SRVANY`].
pub fn install(g: &dyn Guest, systemroot: &str, drive: &str) -> Result<Vec<FileOp>, Error> {
    let why = "the first-boot service (rhsrvany), as virt-customize installs it";
    let dir = dir(g);
    let win = dir_win(drive);
    // The directory and its parents come with `scripts`.
    let mut ops = mkdirs(g, &join(&dir, "scripts"), why);
    let bat = join(&dir, "firstboot.bat");
    let content = crlf(&firstboot_bat(&win));
    if !matches!(g.read_file(&bat, MAX_SCRIPT), Ok(b) if b == content) {
        ops.push(FileOp::write(bat, content, (0o644, 0, 0), why));
    }
    let key = format!(r"CurrentControlSet\Services\{SERVICE}");
    for (sub, name, value) in service_values(&win) {
        let k = if sub.is_empty() {
            key.clone()
        } else {
            format!("{key}\\{sub}")
        };
        ops.extend(registry::set(g, systemroot, "SYSTEM", &k, name, value)?);
    }
    Ok(ops)
}

/// `name` as virt-customize puts it in a script's file name: letters, digits and `_` kept,
/// anything else `-`, at most 60 characters.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect()
}

/// The guest path of a new script named after `name` in `dir`'s `scripts`: `NNNN-name.bat`,
/// numbered after every script waiting or done, so it runs after them.
pub fn next_script(g: &dyn Guest, dir: &str, name: &str) -> String {
    let mut last = 0u32;
    for sub in ["scripts", "scripts-done"] {
        for n in crate::text::list_dir(g, &join(dir, sub))
            .into_iter()
            .take(MAX_ITEMS)
        {
            if let Some(num) = n.get(..4).and_then(|d| d.parse::<u32>().ok()) {
                last = last.max(num);
            }
        }
    }
    join(
        &join(dir, "scripts"),
        &format!("{:04}-{}.bat", (last + 1).min(9999), sanitize(name)),
    )
}

/// The kinds of installer a first-boot script runs unattended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallerKind {
    /// Windows Installer package: `msiexec /i … /qn /norestart`.
    Msi,
    /// A setup program: run with its own silent switches.
    Exe,
    /// A PowerShell script: `powershell -ExecutionPolicy Bypass -File …`.
    PowerShell,
    /// A batch file: `call …`.
    Batch,
}

impl InstallerKind {
    /// The kind of installer a file name (`.msi`, `.exe`, `.ps1`, `.bat`, `.cmd`) says.
    pub fn of(name: &str) -> Option<InstallerKind> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "msi" => Some(InstallerKind::Msi),
            "exe" => Some(InstallerKind::Exe),
            "ps1" => Some(InstallerKind::PowerShell),
            "bat" | "cmd" => Some(InstallerKind::Batch),
            _ => None,
        }
    }
}

/// The command line that runs `installer` (a Windows path) unattended, `args` appended: for an
/// MSI `msiexec.exe /i "…" /qn /norestart /l*v "….log"`, for PowerShell `powershell.exe
/// -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "…"`, for a batch file `call "…"`,
/// and for an `.exe` the program with `args`, which must then be its silent switches.
pub fn install_command(installer: &str, args: Option<&str>) -> Result<String, Error> {
    let invalid = |why: &str| Error::Invalid {
        what: format!("installer {installer}"),
        why: why.into(),
    };
    if installer.contains(['"', '\r', '\n', '%']) {
        return Err(invalid(
            "a path with a quote, a line break or % cannot be run from a batch file",
        ));
    }
    let args = args.map(str::trim).filter(|a| !a.is_empty());
    if let Some(a) = args
        && a.contains(['\r', '\n'])
    {
        return Err(invalid("its arguments hold a line break"));
    }
    let Some(kind) = InstallerKind::of(installer) else {
        return Err(invalid(
            "not an installer kind run at first boot (.msi, .exe, .ps1, .bat, .cmd)",
        ));
    };
    let mut cmd = match kind {
        InstallerKind::Msi => {
            format!("msiexec.exe /i \"{installer}\" /qn /norestart /l*v \"{installer}.log\"")
        }
        InstallerKind::PowerShell => format!(
            "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File \"{installer}\""
        ),
        InstallerKind::Batch => format!("call \"{installer}\""),
        InstallerKind::Exe if args.is_none() => {
            return Err(invalid(
                "a setup program needs its silent-install switches (the bundle's installer \
                 arguments, or --param agent_install_args=…), or it waits for a click at first \
                 boot",
            ));
        }
        InstallerKind::Exe => format!("\"{installer}\""),
    };
    if let Some(a) = args {
        cmd.push(' ');
        cmd.push_str(a);
    }
    Ok(cmd)
}

/// The script that installs the management agent `name` `version` at first boot by running
/// `command` (from [`install_command`]) on `installer`, after waiting for Plug and Play installs
/// when the guest has `pnp_wait.exe` in `dir_win` (LF line ends; see [`crlf`]).
pub fn agent_script(
    name: &str,
    version: &str,
    installer: &str,
    command: &str,
    dir_win: &str,
) -> String {
    let name = name.replace(['\r', '\n'], " ");
    let version = version.replace(['\r', '\n'], " ");
    format!(
        "@echo off\n{AGENT_MARKER} {name} {version}\n{INSTALLER_MARKER} {installer}\n\
         if exist \"{dir_win}\\{PNP_WAIT}\" \"{dir_win}\\{PNP_WAIT}\"\n{command}\n"
    )
}

/// A first-boot script of the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Its guest path.
    pub path: String,
    /// True when it ran already (it is in `scripts-done`).
    pub done: bool,
    /// What its [`AGENT_MARKER`] line says it installs (`NAME VERSION`).
    pub agent: Option<String>,
    /// The installer its [`INSTALLER_MARKER`] line names (a Windows path).
    pub installer: Option<String>,
}

/// The scripts waiting in `dir`'s `scripts` (`*.bat`, the ones `firstboot.bat` runs) and those
/// in `scripts-done`, each read for the agent it installs.
pub fn scripts(g: &dyn Guest, dir: &str) -> Vec<Script> {
    let mut out = Vec::new();
    for (sub, done) in [("scripts", false), ("scripts-done", true)] {
        let d = join(dir, sub);
        let mut names = crate::text::list_dir(g, &d);
        names.sort();
        for n in names.into_iter().take(MAX_ITEMS) {
            if !done && !n.to_ascii_lowercase().ends_with(".bat") {
                continue;
            }
            let path = join(&d, &n);
            if !g.is_file(&path) {
                continue;
            }
            let text = g
                .read_file(&path, MAX_SCRIPT)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let line = |marker: &str| {
                text.lines().find_map(|l| {
                    let l = l.trim();
                    l.get(..marker.len())
                        .filter(|m| m.eq_ignore_ascii_case(marker))
                        .map(|_| l[marker.len()..].trim().to_owned())
                })
            };
            out.push(Script {
                path,
                done,
                agent: line(AGENT_MARKER),
                installer: line(INSTALLER_MARKER),
            });
        }
    }
    out
}

/// A service of the current control set that runs a command line through rhsrvany (or its
/// predecessor pvvxsvc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its key below the hive root, control set resolved.
    pub key: String,
    /// `Start` (2: automatic, 3: manual, 4: disabled).
    pub start: Option<u32>,
    /// `ImagePath`.
    pub image_path: String,
    /// `Parameters\CommandLine`.
    pub command_line: Option<String>,
}

impl Service {
    /// The executable `ImagePath` starts.
    pub fn executable(&self) -> Option<String> {
        crate::windows::service_executable(&self.image_path)
    }

    /// The batch file `CommandLine` runs (the quoted or bare word ending in `.bat`).
    pub fn batch_file(&self) -> Option<String> {
        let c = self.command_line.as_deref()?;
        let mut parts = c.split('"').enumerate().flat_map(|(i, p)| {
            if i % 2 == 1 {
                vec![p]
            } else {
                p.split_whitespace().collect()
            }
        });
        parts
            .find(|p| p.to_ascii_lowercase().ends_with(".bat"))
            .map(str::to_owned)
    }
}

fn text(d: Option<Data>) -> Option<String> {
    match d? {
        Data::Sz(s) | Data::ExpandSz(s) => Some(s),
        _ => None,
    }
}

/// The services of `system`'s current control set whose `ImagePath` runs `rhsrvany.exe` or
/// `pvvxsvc.exe`.
pub fn services(system: &Hive) -> Result<Vec<Service>, String> {
    let ccs = registry::current_control_set(system);
    let base = registry::resolve_key(r"CurrentControlSet\Services", ccs.as_deref());
    let Some(services) = system.open(&base).map_err(|e| format!("{base}: {e}"))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for k in services
        .subkeys()
        .map_err(|e| format!("{base}: {e}"))?
        .into_iter()
        .take(MAX_ITEMS)
    {
        let key = format!("{base}\\{}", k.name());
        let value = |name: &str| -> Option<Data> { k.value(name).ok()??.data().ok() };
        let Some(image_path) = text(value("ImagePath")) else {
            continue;
        };
        let lower = image_path.to_ascii_lowercase();
        if !lower.contains(SRVANY) && !lower.contains("pvvxsvc.exe") {
            continue;
        }
        let start = match value("Start") {
            Some(Data::Dword(n)) => Some(n),
            _ => None,
        };
        let command_line = registry::value(system, &format!("{key}\\Parameters"), "CommandLine")
            .ok()
            .flatten();
        out.push(Service {
            key,
            start,
            image_path,
            command_line: text(command_line),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imgprep_testkit::MemGuest;

    #[test]
    fn firstboot_bat_is_virt_customizes() {
        let bat = firstboot_bat(r"C:\Program Files\Guestfs\Firstboot");
        assert!(bat.starts_with("@echo off\n\nsetlocal EnableDelayedExpansion\n"));
        assert!(bat.contains("set firstboot=C:\\Program Files\\Guestfs\\Firstboot\n"));
        assert!(bat.contains("for %%f in (\"%scripts%\"\\*.bat) do (\n"));
        assert!(bat.ends_with("\"%firstboot%\\rhsrvany.exe\" -s firstboot uninstall\n"));
        let b = crlf(&bat);
        assert!(b.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'));
        assert_eq!(
            b.iter().filter(|&&c| c == b'\n').count(),
            bat.lines().count()
        );
    }

    #[test]
    fn install_commands_per_installer_kind() {
        let msi = install_command(r"C:\A\agent.msi", Some("SERVER=x")).unwrap();
        assert_eq!(
            msi,
            r#"msiexec.exe /i "C:\A\agent.msi" /qn /norestart /l*v "C:\A\agent.msi.log" SERVER=x"#
        );
        assert_eq!(
            install_command(r"C:\A\i.PS1", None).unwrap(),
            r#"powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\A\i.PS1""#
        );
        assert_eq!(
            install_command(r"C:\A\i.cmd", None).unwrap(),
            r#"call "C:\A\i.cmd""#
        );
        assert_eq!(
            install_command(r"C:\A\setup.exe", Some(" /S ")).unwrap(),
            r#""C:\A\setup.exe" /S"#
        );
        let e = install_command(r"C:\A\setup.exe", None).unwrap_err();
        assert!(e.to_string().contains("silent-install switches"), "{e}");
        assert!(install_command(r"C:\A\x.txt", None).is_err());
        assert!(install_command("C:\\A\\a\".msi", None).is_err());
        assert!(install_command(r"C:\A\a.msi", Some("a\nb")).is_err());
    }

    #[test]
    fn scripts_are_numbered_after_the_others_and_read_back() {
        let dir = DIR;
        let g = MemGuest::new()
            .file(&format!("{dir}/scripts/0002-other.bat"), "echo\r\n")
            .file(&format!("{dir}/scripts/notes.txt"), "x")
            .file(
                &format!("{dir}/scripts-done/0007-old"),
                "REM IMGPREP-AGENT: old 1\r\n",
            );
        let next = next_script(&g, dir, "install agent (x64)");
        assert_eq!(next, format!("{dir}/scripts/0008-install-agent--x64-.bat"));
        let script = agent_script(
            "worker",
            "4.10",
            r"C:\Program Files\Guestfs\Firstboot\agent\agent.msi",
            "msiexec …",
            r"C:\Program Files\Guestfs\Firstboot",
        );
        let g = g.file(&next, crlf(&script));
        let found = scripts(&g, dir);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].agent, None);
        assert_eq!(found[1].path, next);
        assert_eq!(found[1].agent.as_deref(), Some("worker 4.10"));
        assert_eq!(
            found[1].installer.as_deref(),
            Some(r"C:\Program Files\Guestfs\Firstboot\agent\agent.msi")
        );
        assert!(!found[1].done);
        assert!(found[2].done && found[2].agent.as_deref() == Some("old 1"));
        assert_eq!(sanitize(&"x".repeat(70)).len(), 60);
    }

    #[test]
    fn the_batch_file_of_a_command_line() {
        let s = |c: &str| Service {
            key: String::new(),
            start: Some(2),
            image_path: r"C:\F\rhsrvany.exe -s firstboot".into(),
            command_line: Some(c.into()),
        };
        assert_eq!(
            s(r#"cmd /c "C:\Program Files\F\firstboot.bat""#)
                .batch_file()
                .as_deref(),
            Some(r"C:\Program Files\F\firstboot.bat")
        );
        assert_eq!(
            s(r"cmd /c C:\F\FIRSTBOOT.BAT").batch_file().as_deref(),
            Some(r"C:\F\FIRSTBOOT.BAT")
        );
        assert_eq!(s("cmd /c echo").batch_file(), None);
        assert_eq!(s("").executable().as_deref(), Some(r"C:\F\rhsrvany.exe"));
    }
}
