//! Windows paths, services and executables: a `C:\…` path found in the guest the way Windows
//! finds it (names compared without regard to case), the `--config-file` of a command line, the
//! executable a service starts, a service's key in the current control set (type, start type,
//! command line), and the version resource of an executable.

use imgprep_guest::{Guest, path_nocase};
use imgprep_registry::{Data, Hive, Key};

use crate::Error;
use crate::registry::current_control_set;

/// Largest executable whose version resource is read (the file is read on demand, a few
/// pages of it).
pub const MAX_EXECUTABLE: u64 = 1 << 30;

/// The guest path of a Windows path on the system drive `system_drive` (`C:\Program Files\…`),
/// each component spelled as stored. `None` for paths on other drives, or when a component
/// does not exist.
pub fn guest_path(g: &dyn Guest, system_drive: &str, win: &str) -> Option<String> {
    let (drive, rest) = win.split_once(':')?;
    if !system_drive.eq_ignore_ascii_case(drive) {
        return None;
    }
    let (path, found) = path_nocase(g, rest);
    found.then_some(path)
}

/// The Windows path on `drive` (`C`) of the guest path `path` (`/Program Files/x` →
/// `C:\Program Files\x`).
pub fn windows_path(drive: &str, path: &str) -> String {
    let rest = path.trim_start_matches('/').replace('/', "\\");
    format!("{drive}:\\{rest}")
}

/// The path after `--config-file` in a service command line (quoted or not).
pub fn config_file_arg(cmdline: &str) -> Option<String> {
    let rest = cmdline.split_once("--config-file")?.1;
    let rest = rest.trim_start_matches(['=', ' ']);
    let path = match rest.strip_prefix('"') {
        Some(q) => q.split('"').next()?,
        None => rest.split_whitespace().next()?,
    };
    (!path.is_empty()).then(|| path.to_owned())
}

/// The executable a service command line starts: the quoted path, or the text up to the first
/// `.exe`.
pub fn service_executable(cmdline: &str) -> Option<String> {
    let c = cmdline.trim();
    if let Some(q) = c.strip_prefix('"') {
        return q.split('"').next().map(str::to_owned);
    }
    let lower = c.to_ascii_lowercase();
    let end = lower.find(".exe")?.checked_add(4)?;
    c.get(..end).map(str::to_owned)
}

/// The version resource of the executable at guest path `path`: `Ok(None)` when it is a PE
/// without one. Errors name the path.
pub fn file_version(g: &dyn Guest, path: &str) -> Result<Option<imgprep_pe::VersionInfo>, Error> {
    let file = g.open_file(path, MAX_EXECUTABLE)?;
    imgprep_pe::version_info(&file).map_err(|source| Error::Executable {
        path: path.to_owned(),
        source,
    })
}

/// A service (or driver) key of `SYSTEM\CurrentControlSet\Services`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceKey {
    /// The key's name as stored (`XenSvc`).
    pub name: String,
    /// The control set it was read from (`ControlSet001`).
    pub control_set: String,
    /// `Type`: 1 kernel driver, 2 file system driver, 0x10 own process, 0x20 shared process, …
    pub kind: Option<u32>,
    /// `Start`: 0 boot, 1 system, 2 automatic, 3 manual (on demand), 4 disabled.
    pub start: Option<u32>,
    /// `DelayedAutostart` (automatic services started after the others).
    pub delayed: bool,
    /// `ImagePath`, as stored.
    pub image_path: Option<String>,
    /// `DisplayName`, as stored.
    pub display_name: Option<String>,
}

impl ServiceKey {
    /// The key as evidence names it: `SYSTEM\CurrentControlSet\Services\NAME`.
    pub fn key_path(&self) -> String {
        format!("SYSTEM\\CurrentControlSet\\Services\\{}", self.name)
    }

    /// The start type in words: `Start` as Windows names it.
    pub fn start_text(&self) -> String {
        match self.start {
            Some(n) => format!("{n} ({})", imgprep_registry::service_start_name(n)),
            None => "not set".into(),
        }
    }
}

/// The service or driver `name` (case-insensitive) of the SYSTEM hive's current control set;
/// `Ok(None)` when it has no key there. Errors name the key.
pub fn service(system: &Hive, name: &str) -> Result<Option<ServiceKey>, String> {
    let Some(ccs) = current_control_set(system) else {
        return Err("SYSTEM\\Select has no Current control set".into());
    };
    let path = format!("{ccs}\\Services\\{name}");
    let Some(k) = system
        .open(&path)
        .map_err(|e| format!("SYSTEM\\{path}: {e}"))?
    else {
        return Ok(None);
    };
    let dword = |k: &Key<'_>, v: &str| match k.value(v).ok().flatten().and_then(|v| v.data().ok()) {
        Some(Data::Dword(n)) => Some(n),
        _ => None,
    };
    let string = |k: &Key<'_>, v: &str| match k.value(v).ok().flatten().and_then(|v| v.data().ok())
    {
        Some(Data::Sz(s) | Data::ExpandSz(s)) => Some(s),
        _ => None,
    };
    Ok(Some(ServiceKey {
        name: k.name(),
        control_set: ccs,
        kind: dword(&k, "Type"),
        start: dword(&k, "Start"),
        delayed: dword(&k, "DelayedAutostart").is_some_and(|n| n != 0),
        image_path: string(&k, "ImagePath"),
        display_name: string(&k, "DisplayName"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_give_the_config_file_and_executable() {
        let cmd = r#""C:\P F\bin\OpenStackService.exe" cloudbase-init "C:\P F\Scripts\cloudbase-init.exe" --config-file "C:\P F\conf\cloudbase-init.conf""#;
        assert_eq!(
            config_file_arg(cmd).as_deref(),
            Some(r"C:\P F\conf\cloudbase-init.conf")
        );
        assert_eq!(
            config_file_arg(r"C:\x.exe --config-file=C:\c.conf --debug").as_deref(),
            Some(r"C:\c.conf")
        );
        assert_eq!(config_file_arg(r"C:\x.exe"), None);
        assert_eq!(
            service_executable(cmd).as_deref(),
            Some(r"C:\P F\bin\OpenStackService.exe")
        );
        assert_eq!(
            service_executable(r"C:\Agent\Agent.Service.EXE -k x").as_deref(),
            Some(r"C:\Agent\Agent.Service.EXE")
        );
        assert_eq!(service_executable("svchost"), None);
        assert_eq!(
            windows_path("C", "/Program Files/A b"),
            r"C:\Program Files\A b"
        );
        assert_eq!(windows_path("D", "/"), r"D:\");
    }
}
