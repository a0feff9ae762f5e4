//! Windows paths and service command lines: a `C:\…` path found in the guest the way Windows
//! finds it (names compared without regard to case), the `--config-file` of a command line, and
//! the executable a service starts.

use imgprep_guest::{Guest, path_nocase};

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
