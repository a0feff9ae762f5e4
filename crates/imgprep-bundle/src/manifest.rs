//! `imgprep-bundle.json`: what a bundle holds.

use serde::{Deserialize, Serialize};

/// The manifest's member name; it is the archive's first member.
pub const MANIFEST: &str = "imgprep-bundle.json";

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version (1).
    pub format: u32,
    /// What the bundle is.
    pub kind: Kind,
    /// Its name (`cloudcenter-worker`, `cloudify-agent`).
    pub name: String,
    /// Its version.
    pub version: String,
    /// The absolute guest directory the files install to.
    pub prefix: String,
    /// The system it was built for, when it matters (compiled Python modules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Every member but the manifest, sorted by path.
    pub files: Vec<FileEntry>,
    /// The service that runs it, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// The account it runs as (created by prepare when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The installer a Windows guest runs at first boot, when the agent is installed by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installer: Option<Installer>,
    /// How it was built (tool, configuration digest, `SOURCE_DATE_EPOCH`).
    #[serde(default)]
    pub build: serde_json::Map<String, serde_json::Value>,
}

/// What a bundle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A vendor's management agent (files, a service, an account).
    Worker,
    /// A Cloudify agent virtualenv.
    CloudifyAgent,
}

/// The system a bundle was built for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Distribution (`debian`, `centos`, `ubuntu`).
    pub distribution: String,
    /// Release (`12`, `bookworm`, `7.9`).
    pub release: String,
    /// Architecture (`x86_64`).
    pub arch: String,
    /// The Python version of a virtualenv, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// The base interpreter of a virtualenv (`/usr/bin/python3`): a virtualenv's `bin/python`
    /// links to the interpreter it was made from, outside the prefix. A `cloudify-agent`
    /// bundle may hold such links, directly in `bin/`, to exactly this path and no other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
}

/// One member of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the prefix, `/`-separated, no `.` or `..`.
    pub path: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FileKind,
    /// Permission bits, as an octal string (`"0755"`).
    pub mode: String,
    /// Owner (numeric).
    #[serde(default)]
    pub uid: u32,
    /// Group (numeric).
    #[serde(default)]
    pub gid: u32,
    /// Size in bytes (regular files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256 of the content, lower-case hex (regular files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Link target (symbolic links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The types a bundle may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
}

/// The service a bundle's agent runs as, installed for the guest's init system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Service name (`cliqr-agent`): the systemd unit `NAME.service` or the init script `NAME`.
    pub name: String,
    /// The command line, absolute paths inside the guest.
    pub exec: String,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The account it runs as (root when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The installer of a Windows agent, run unattended at the guest's first boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installer {
    /// The installer (`.msi`, `.exe`, `.ps1`, `.bat` or `.cmd`), a file of the bundle, relative
    /// to the prefix.
    pub path: String,
    /// Arguments for an unattended install: an `.exe`'s silent switches (`/S`, `/quiet`), an
    /// MSI's properties (`SERVER=…`); added after the ones imgprep passes for the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
}

impl FileEntry {
    /// The mode as a number.
    pub fn mode_bits(&self) -> Option<u32> {
        u32::from_str_radix(&self.mode, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
    }
}
