//! What a probe may look at: the inspected OS, its files, the cloud, the profile's parameters
//! and the support matrix, with the facts several probes need (the boot graph, interpreters,
//! package evidence) read once per guest.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use imgprep_guest::Guest;
use imgprep_inspect::{Application, DiskInfo, OperatingSystem, Service};
use imgprep_sysconf::boot::{BootGraph, SystemdPackage};
use imgprep_sysconf::python::{self, Python};
use imgprep_sysconf::windows::ServiceKey;
use regex::Regex;

use crate::matrix::Matrix;
use crate::verdict::{Cloud, Evidence};

/// What a probe may look at.
pub struct Context<'a> {
    /// The inspected OS.
    pub os: &'a OperatingSystem,
    /// Its files, mounted as the OS mounts them.
    pub guest: &'a dyn Guest,
    /// The target cloud, when given.
    pub cloud: Option<Cloud>,
    /// Profile parameters: defaults overridden by `--param`.
    pub params: &'a BTreeMap<String, String>,
    /// The bootstrapping support matrix.
    pub matrix: &'a Matrix,
    /// The disk images and the host files behind them.
    pub disks: &'a [DiskInfo],
    boot: OnceLock<BootGraph>,
    pythons: OnceLock<Vec<Python>>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("os", &self.os.root)
            .field("cloud", &self.cloud)
            .field("params", &self.params)
            .finish()
    }
}

/// Package names of Python interpreters (`python`, `python2.7`, `python36`, `python3-minimal`).
static PYTHON_PKG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^python(?:(\d)(?:\.?(\d+))?)?(?:-minimal)?$").unwrap_or_else(|e| panic!("{e}"))
});

impl<'a> Context<'a> {
    /// A context for one guest.
    pub fn new(
        os: &'a OperatingSystem,
        guest: &'a dyn Guest,
        cloud: Option<Cloud>,
        params: &'a BTreeMap<String, String>,
        matrix: &'a Matrix,
        disks: &'a [DiskInfo],
    ) -> Self {
        Context {
            os,
            guest,
            cloud,
            params,
            matrix,
            disks,
            boot: OnceLock::new(),
            pythons: OnceLock::new(),
        }
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// `{name}` in `s` replaced by parameter values.
    pub fn expand(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (k, v) in self.params {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    /// The OS's major and minor version.
    pub fn version(&self) -> (u32, u32) {
        (self.os.major_version, self.os.minor_version)
    }

    /// True for a Windows guest.
    pub fn is_windows(&self) -> bool {
        self.os.name.as_deref() == Some("windows")
    }

    /// Installed packages named `name`.
    pub fn packages<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'b Application> + 'b {
        self.os
            .applications
            .iter()
            .flatten()
            .filter(move |a| a.name == name)
    }

    /// The boot graph, read once: which services start at boot and in which order. The
    /// systemd version (for how its sysv-generator treats symlinked scripts) comes from the
    /// package database.
    pub fn boot(&self) -> &BootGraph {
        self.boot.get_or_init(|| {
            let package = self.packages("systemd").find_map(|a| {
                Some(SystemdPackage {
                    version: a.version.clone()?,
                    release: a.release.clone().unwrap_or_default(),
                })
            });
            BootGraph::read(self.guest, package)
        })
    }

    /// Every Python interpreter the package list or the filesystem shows, read once.
    pub fn pythons(&self) -> &[Python] {
        self.pythons.get_or_init(|| {
            let mut packaged = Vec::new();
            for a in self.os.applications.iter().flatten() {
                if !PYTHON_PKG.is_match(&a.name) {
                    continue;
                }
                let Some(v) = a.version.as_deref().and_then(python::parse_version) else {
                    continue;
                };
                // `python` on Debian is a dependency package whose version is not the
                // interpreter's.
                if self.os.package_format.as_deref() == Some("deb") && !a.name.contains('.') {
                    continue;
                }
                if v.first().copied() < Some(2) {
                    continue;
                }
                packaged.push((v, self.package_evidence(a)));
            }
            python::interpreters(self.guest, packaged)
        })
    }

    /// Compares upstream versions with the OS's package manager ordering.
    pub fn compare_versions(&self, a: &str, b: &str) -> Ordering {
        match self.os.package_format.as_deref() {
            Some("deb") => imgprep_pkgdb::version::debian_cmp(a, b),
            Some("apk") => imgprep_pkgdb::version::apk_cmp(a, b),
            _ => imgprep_pkgdb::version::rpmvercmp(a, b),
        }
    }

    /// The package database of the OS, for evidence.
    fn package_db(&self) -> &'static str {
        match self.os.package_format.as_deref() {
            Some("deb") => "/var/lib/dpkg/status",
            Some("apk") => "/lib/apk/db/installed",
            Some("rpm") => "rpm database",
            _ => "package list",
        }
    }

    /// Evidence naming the package database an installed package was read from.
    pub fn package_evidence(&self, a: &Application) -> Evidence {
        Evidence::file(self.package_db(), format!("installed: {}", nevra(a)))
    }

    /// Evidence that none of `names` is in the package database.
    pub fn package_evidence_none(&self, names: &[String]) -> Evidence {
        let n = self.os.applications.as_ref().map_or(0, Vec::len);
        Evidence::file(
            self.package_db(),
            format!(
                "no package named {} among {n} installed",
                names.join(" or ")
            ),
        )
    }

    /// The service of the current control set named `name` (case-insensitive).
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.os
            .services
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The drive letter of the Windows root (`C` when MountedDevices does not say).
    pub fn system_drive(&self) -> String {
        self.os
            .drive_mappings
            .iter()
            .find(|m| m.dev == self.os.root)
            .map_or_else(|| "C".to_owned(), |m| m.name.clone())
    }

    /// The guest path of a Windows path on the system drive, when every component exists.
    pub fn guest_path(&self, win: &str) -> Option<String> {
        imgprep_sysconf::windows::guest_path(self.guest, &self.system_drive(), win)
    }

    /// The guest's registry hive `name` (`SOFTWARE`, `SYSTEM`).
    pub fn hive(&self, name: &str) -> Result<imgprep_registry::Hive, String> {
        let Some(root) = self.os.windows_systemroot.as_deref() else {
            return Err("not a Windows image: no registry".into());
        };
        imgprep_sysconf::registry::open(self.guest, root, name)
            .map(|(_, h)| h)
            .map_err(|e| e.to_string())
    }
}

/// `name-version-release.arch`, the way rpm and dpkg users read it.
pub fn nevra(a: &Application) -> String {
    let mut s = a.name.clone();
    if let Some(v) = &a.version {
        s.push('-');
        if a.epoch != 0 {
            s.push_str(&format!("{}:", a.epoch));
        }
        s.push_str(v);
    }
    if let Some(r) = &a.release {
        s.push('-');
        s.push_str(r);
    }
    if let Some(arch) = &a.arch {
        s.push('.');
        s.push_str(arch);
    }
    s
}

/// A Windows service as evidence: its registry key, command line and start type.
pub fn service_evidence(s: &Service) -> Evidence {
    Evidence::file(
        format!("registry:SYSTEM\\CurrentControlSet\\Services\\{}", s.name),
        format!(
            "service {} ({}), start {}",
            s.name,
            s.image_path.as_deref().unwrap_or("no ImagePath"),
            s.start.as_deref().unwrap_or("unknown")
        ),
    )
}

/// The `Start` value of a service key as evidence: hive, key, value, and what it means.
pub(crate) fn start_evidence(s: &ServiceKey) -> Evidence {
    let mut text = format!("{} in {}", s.start_text(), s.control_set);
    if s.delayed {
        text.push_str(", delayed");
    }
    if let Some(p) = &s.image_path {
        text.push_str(&format!("; ImagePath {p}"));
    }
    if let Some(d) = &s.display_name {
        text.push_str(&format!("; DisplayName \"{d}\""));
    }
    Evidence::file(format!("registry:{}\\Start", s.key_path()), text)
}

/// Evidence that the current control set has no key `name` under Services.
pub(crate) fn no_service_evidence(name: &str) -> Evidence {
    Evidence::file(
        format!("registry:SYSTEM\\CurrentControlSet\\Services\\{name}"),
        "no such service",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_package_names() {
        for (name, ok) in [
            ("python", true),
            ("python2.7", true),
            ("python2.7-minimal", true),
            ("python3", true),
            ("python36", true),
            ("python3.11-minimal", true),
            ("python-libs", false),
            ("python3-pip", false),
            ("python2.7-dev", false),
        ] {
            assert_eq!(PYTHON_PKG.is_match(name), ok, "{name}");
        }
        assert_eq!(python::parse_version("2.7.5"), Some(vec![2, 7, 5]));
        assert_eq!(
            python::parse_version("2.7.12-1ubuntu0~16.04.18"),
            Some(vec![2, 7, 12])
        );
        assert_eq!(python::parse_version("3.6"), Some(vec![3, 6]));
        assert_eq!(python::parse_version("x"), None);
    }
}
