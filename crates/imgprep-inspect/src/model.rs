//! What inspection reports, named as virt-inspector names it.

use serde::Serialize;

/// Everything found in one image.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Inspection {
    /// One entry per operating system root found, in device order.
    pub operatingsystems: Vec<OperatingSystem>,
    /// Facts about the image that are not an OS's: unreadable volumes, encrypted devices,
    /// filesystems that could not be opened.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The disk images read (beyond virt-inspector): format, size and every other file each one
    /// reads (its backing chain or parents, its extent files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<DiskInfo>,
}

/// One disk of the VM and the host files behind it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DiskInfo {
    /// The device the guest sees it as, e.g. `/dev/sda`.
    pub device: String,
    /// The image file as given.
    pub path: String,
    /// Its container format (`qcow2`, `vmdk`, …).
    pub format: String,
    /// Size of the virtual disk in bytes.
    pub virtual_size: u64,
    /// The image, then each backing file or parent (the chain qemu would read).
    pub chain: Vec<ChainLayer>,
    /// Files the disk reads besides the image itself: backing files, parents of differencing
    /// disks, external data files and VMDK extent files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub companions: Vec<CompanionFile>,
}

/// One image of a backing chain.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ChainLayer {
    /// Host path (canonical for backing files and parents).
    pub path: String,
    /// Container format.
    pub format: String,
}

/// A host file an image names.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CompanionFile {
    /// Where it is named, e.g. `backing file name`, `extent file on descriptor line 8` or
    /// `parent locator W2ru`.
    pub role: String,
    /// The image that names it.
    pub named_by: String,
    /// The name as stored.
    pub name: String,
    /// The file it resolved to (canonical).
    pub path: String,
}

impl DiskInfo {
    /// True when the disk is one file: no backing file or parent, no extent in another file.
    pub fn is_self_contained(&self) -> bool {
        self.companions.is_empty()
    }
}

/// One operating system, with virt-inspector's field names. Fields virt-inspector leaves out
/// when unknown are `None` and are left out of JSON the same way.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OperatingSystem {
    /// The root filesystem, e.g. `/dev/sda2`, `/dev/centos/root`, `btrfsvol:/dev/sda3/root`.
    pub root: String,
    /// `linux`, `windows`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `x86_64`, `i386`, `aarch64`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `debian`, `ubuntu`, `centos`, `rhel`, `windows`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// Product name as the OS spells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// `Server`, `Client` (Windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_variant: Option<String>,
    /// Major version, 0 when unknown.
    pub major_version: u32,
    /// Minor version, 0 when unknown.
    pub minor_version: u32,
    /// `deb`, `rpm`, `apk`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_format: Option<String>,
    /// `apt`, `yum`, `dnf`, `zypper`, `apk`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_management: Option<String>,
    /// Windows system root, e.g. `/Windows`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_systemroot: Option<String>,
    /// Windows current control set, e.g. `ControlSet001`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_current_control_set: Option<String>,
    /// Host name configured in the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// libosinfo short id, e.g. `debian12`, `centos7.0`, `win2k16`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osinfo: Option<String>,
    /// Mount points, shortest path first, then by name.
    pub mountpoints: Vec<MountPoint>,
    /// Filesystems belonging to this OS (mounted ones and swap), sorted by device.
    pub filesystems: Vec<FilesystemInfo>,
    /// Windows drive letters, sorted by letter.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drive_mappings: Vec<DriveMapping>,
    /// Installed packages or programs, sorted by name; `None` when not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applications: Option<Vec<Application>>,
    /// Windows services (beyond virt-inspector): the rules need them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// Things inspection skipped or could not read for this OS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A filesystem mounted at a path.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct MountPoint {
    /// Device, e.g. `/dev/sda1`.
    pub dev: String,
    /// Guest path, e.g. `/boot`.
    pub path: String,
}

/// A filesystem with what blkid says of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FilesystemInfo {
    /// Device.
    pub dev: String,
    /// Filesystem type (`ext4`, `swap`, …), when recognised.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub fstype: Option<String>,
    /// Label, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// UUID, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// A Windows drive letter and the device behind it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DriveMapping {
    /// Drive letter without colon, e.g. `C`.
    pub name: String,
    /// Device.
    pub dev: String,
}

/// An installed package or program.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Application {
    /// Package name.
    pub name: String,
    /// Display name (Windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Epoch, left out when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub epoch: u32,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Install path (Windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_path: Option<String>,
    /// Publisher (Windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// Home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Source package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_package: Option<String>,
    /// One-line summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Long description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A Windows service from the current control set.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Service {
    /// Key name under `Services`.
    pub name: String,
    /// `DisplayName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `ImagePath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_path: Option<String>,
    /// `Start`: `boot`, `system`, `automatic`, `manual`, `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Non-empty, or `None`: virt-inspector leaves empty strings out.
pub(crate) fn nonempty(s: impl Into<String>) -> Option<String> {
    let s = s.into();
    (!s.is_empty()).then_some(s)
}
