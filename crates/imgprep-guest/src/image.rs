//! An opened image: its disks, block devices and the filesystems on them.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use imgprep_container::Disk;
use imgprep_fs::{Filesystem, FsInfo};
use imgprep_io::ReadAt;
use imgprep_volume::{BlockDevice, Content, DeviceKind, ScanOptions, Scheme};

use crate::{MountTable, NativeGuest};

/// Why an image could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The container format could not be read.
    #[error(transparent)]
    Container(#[from] imgprep_container::Error),
    /// One disk image of the VM could not be opened (the reason is the source).
    #[error("{}", path.display())]
    Disk {
        /// The image as given.
        path: std::path::PathBuf,
        /// Why (boxed: it is large, and every `Result` of this crate carries it).
        #[source]
        source: Box<imgprep_container::Error>,
    },
    /// The partition table or LVM metadata could not be read.
    #[error(transparent)]
    Volume(#[from] imgprep_volume::Error),
    /// A filesystem could not be opened.
    #[error("{mountable}: {source}")]
    Filesystem {
        /// What was being opened.
        mountable: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A device name that the image does not have.
    #[error("{0}: no such device in the image")]
    NoDevice(String),
    /// A device without a recognised filesystem.
    #[error("{0}: no filesystem recognised")]
    NotAFilesystem(String),
}

/// Something that can be mounted: a device, or a btrfs subvolume of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mountable {
    /// Device name, e.g. `/dev/sda1` or `/dev/VG/LV`.
    pub device: String,
    /// btrfs subvolume path, without a leading `/`.
    pub subvol: Option<String>,
}

impl Mountable {
    /// A whole device.
    pub fn device(name: impl Into<String>) -> Self {
        Self {
            device: name.into(),
            subvol: None,
        }
    }
}

impl fmt::Display for Mountable {
    /// libguestfs's spelling: `/dev/sda1` or `btrfsvol:/dev/sda2/root`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subvol {
            None => f.write_str(&self.device),
            Some(s) => write!(f, "btrfsvol:{}/{}", self.device, s),
        }
    }
}

/// A filesystem found on a device (libguestfs's `list_filesystems`).
#[derive(Debug, Clone)]
pub struct FsEntry {
    /// Where it is.
    pub mountable: Mountable,
    /// What blkid would say; `None` when nothing was recognised.
    pub info: Option<FsInfo>,
}

/// Partition facts used to resolve fstab and Windows drive letters.
#[derive(Debug, Clone)]
struct DeviceFacts {
    info: Option<FsInfo>,
    part_uuid: Option<String>,
    part_label: Option<String>,
}

/// An opened disk image (one or more disks of one VM), read-only.
pub struct Image {
    disks: Vec<Disk>,
    devices: Vec<BlockDevice>,
    facts: HashMap<String, DeviceFacts>,
    filesystems: Vec<FsEntry>,
    notes: Vec<String>,
    cache: Mutex<HashMap<Mountable, Arc<dyn Filesystem>>>,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("disks", &self.disks.len())
            .field("devices", &self.devices.len())
            .field("filesystems", &self.filesystems)
            .finish()
    }
}

/// GPT partition types that cannot hold a filesystem (libguestfs skips them).
const NOT_FILESYSTEMS: [&str; 4] = [
    "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", // LDM metadata
    "AF9B60A0-1431-4F62-BC68-3311714A69AD", // LDM data
    "E3C9E316-0B5C-4DB8-817D-F92DF00215AE", // Microsoft reserved
    "CADDEBF1-4400-4DE8-B103-12117DCF3CCF", // Windows snapshot
];

impl Image {
    /// Opens the disk images of one VM, in disk order. Nothing is written. Backing and extent
    /// files must live in each image's directory (see `imgprep_container::HostFiles`).
    pub fn open(paths: &[impl AsRef<Path>]) -> Result<Image, ImageError> {
        Self::open_allowing(paths, &[])
    }

    /// Like [`Image::open`], also allowing backing and extent files inside the directories
    /// `allow`.
    pub fn open_allowing(
        paths: &[impl AsRef<Path>],
        allow: &[std::path::PathBuf],
    ) -> Result<Image, ImageError> {
        Self::open_with(paths, allow, &ScanOptions::default())
    }

    /// Like [`Image::open_allowing`], with keys for LUKS devices (`opts`).
    pub fn open_with(
        paths: &[impl AsRef<Path>],
        allow: &[std::path::PathBuf],
        opts: &ScanOptions,
    ) -> Result<Image, ImageError> {
        let disks = paths
            .iter()
            .map(|p| {
                Disk::open_allowing(p.as_ref(), allow).map_err(|source| match source {
                    // Opening or reading the file: the error names it already.
                    e @ imgprep_container::Error::Io(_) => ImageError::Container(e),
                    source => ImageError::Disk {
                        path: p.as_ref().to_owned(),
                        source: Box::new(source),
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_disks_with(disks, opts)
    }

    /// Builds the device and filesystem lists of already opened disks.
    pub fn from_disks(disks: Vec<Disk>) -> Result<Image, ImageError> {
        Self::from_disks_with(disks, &ScanOptions::default())
    }

    /// [`Image::from_disks`] with keys for LUKS devices.
    pub fn from_disks_with(disks: Vec<Disk>, opts: &ScanOptions) -> Result<Image, ImageError> {
        let sources: Vec<Arc<dyn ReadAt>> = disks.iter().map(Disk::source).collect();
        let sector = disks.first().map_or(512, Disk::sector_size);
        let volumes = imgprep_volume::scan_with(&sources, sector, opts)?;
        let mut notes: Vec<String> = volumes.notes.iter().map(ToString::to_string).collect();
        let mut facts = HashMap::new();
        let mut filesystems = Vec::new();
        for dev in &volumes.devices {
            let info = match &dev.content {
                Content::Unknown => probe(dev.source.as_ref()),
                Content::Luks { uuid, .. } => Some(FsInfo {
                    fstype: "crypto_LUKS".into(),
                    label: None,
                    uuid: Some(uuid.clone()),
                }),
                Content::LvmPv { uuid, .. } => Some(FsInfo {
                    fstype: "LVM2_member".into(),
                    label: None,
                    uuid: Some(uuid.clone()),
                }),
                Content::PartitionTable(_) | Content::ExtendedPartition => None,
            };
            let (part_uuid, part_label) = match &dev.kind {
                DeviceKind::Partition {
                    part_uuid,
                    gpt_name,
                    ..
                } => (part_uuid.clone(), gpt_name.clone()),
                _ => (None, None),
            };
            facts.insert(
                dev.name.clone(),
                DeviceFacts {
                    info: info.clone(),
                    part_uuid,
                    part_label,
                },
            );
            if dev.content != Content::Unknown || !can_hold_filesystem(dev) {
                continue;
            }
            match info.as_ref().map(|i| i.fstype.as_str()) {
                Some("crypto_LUKS" | "LVM2_member") => {}
                Some("btrfs") => {
                    filesystems.push(FsEntry {
                        mountable: Mountable::device(&dev.name),
                        info: info.clone(),
                    });
                    match btrfs_subvolumes(dev.source.as_ref()) {
                        Ok(subs) => filesystems.extend(subs.into_iter().map(|s| FsEntry {
                            mountable: Mountable {
                                device: dev.name.clone(),
                                subvol: Some(s),
                            },
                            info: info.clone(),
                        })),
                        Err(e) => notes.push(format!("{}: btrfs subvolumes: {e}", dev.name)),
                    }
                }
                _ => filesystems.push(FsEntry {
                    mountable: Mountable::device(&dev.name),
                    info,
                }),
            }
        }
        Ok(Image {
            disks,
            devices: volumes.devices,
            facts,
            filesystems,
            notes,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The disks, in order.
    pub fn disks(&self) -> &[Disk] {
        &self.disks
    }

    /// Every block device: whole disks, partitions, logical volumes.
    pub fn devices(&self) -> &[BlockDevice] {
        &self.devices
    }

    /// Filesystems libguestfs would list, in device order.
    pub fn filesystems(&self) -> &[FsEntry] {
        &self.filesystems
    }

    /// Facts about the image that are not errors: unreadable LVs, encrypted devices, …
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> Option<&BlockDevice> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// What blkid says of the device (or btrfs subvolume) `name`.
    pub fn probe(&self, name: &str) -> Option<FsInfo> {
        let dev = name
            .strip_prefix("btrfsvol:")
            .and_then(|r| {
                self.devices
                    .iter()
                    .find(|d| r.starts_with(&format!("{}/", d.name)))
            })
            .map_or(name, |d| d.name.as_str());
        self.facts.get(dev).and_then(|f| f.info.clone())
    }

    fn find(&self, pred: impl Fn(&DeviceFacts) -> bool) -> Option<String> {
        // Device order, as blkid's cache would find them.
        self.devices
            .iter()
            .find(|d| self.facts.get(&d.name).is_some_and(&pred))
            .map(|d| d.name.clone())
    }

    /// The device whose filesystem has UUID `uuid` (case-insensitive, as findfs).
    pub fn find_uuid(&self, uuid: &str) -> Option<String> {
        self.find(|f| {
            f.info
                .as_ref()
                .and_then(|i| i.uuid.as_deref())
                .is_some_and(|u| u.eq_ignore_ascii_case(uuid))
        })
    }

    /// The device whose filesystem has label `label`.
    pub fn find_label(&self, label: &str) -> Option<String> {
        self.find(|f| f.info.as_ref().and_then(|i| i.label.as_deref()) == Some(label))
    }

    /// The partition with PARTUUID `uuid`.
    pub fn find_partuuid(&self, uuid: &str) -> Option<String> {
        self.find(|f| {
            f.part_uuid
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(uuid))
        })
    }

    /// The GPT partition named `label`.
    pub fn find_partlabel(&self, label: &str) -> Option<String> {
        self.find(|f| f.part_label.as_deref() == Some(label))
    }

    /// Whole disks, in order (`/dev/sda`, `/dev/sdb`, …).
    fn whole_disks(&self) -> impl Iterator<Item = &BlockDevice> {
        self.devices
            .iter()
            .filter(|d| matches!(d.kind, DeviceKind::Disk { .. }))
    }

    /// A guest device path from fstab as libguestfs 1.48 prints it: `/dev/vdb2` and
    /// `/dev/xvdb2` become the second disk's partition 2 when it exists, `/dev/mapper/VG-LV`
    /// becomes `/dev/VG/LV`; anything else is kept as written.
    pub fn resolve_device_path(&self, spec: &str) -> String {
        if let Some(mapper) = spec.strip_prefix("/dev/mapper/") {
            return self
                .lv_from_mapper(mapper)
                .unwrap_or_else(|| spec.to_owned());
        }
        if let Some((letters, part)) = parse_xdev(spec) {
            let index = drive_index(letters);
            if let Some(disk) = index.and_then(|i| self.whole_disks().nth(i)) {
                let dev = format!("{}{part}", disk.name);
                if self.is_partition(&dev) {
                    return dev;
                }
            }
            return spec.to_owned();
        }
        if let Some(part) = spec
            .strip_prefix("/dev/disk/by-id/")
            .and_then(|s| s.rsplit_once("-part"))
            .and_then(|(_, n)| n.parse::<u32>().ok())
            && self.whole_disks().count() == 1
        {
            let dev = format!("/dev/sda{part}");
            if self.is_partition(&dev) {
                return dev;
            }
        }
        spec.to_owned()
    }

    /// The device a `/dev/disk/by-*` link names in the guest, for mounting.
    pub fn resolve_by_path(&self, spec: &str) -> Option<String> {
        let (kind, value) = spec.strip_prefix("/dev/disk/")?.split_once('/')?;
        let value = unescape_udev(value);
        match kind {
            "by-uuid" => self.find_uuid(&value),
            "by-label" => self.find_label(&value),
            "by-partuuid" => self.find_partuuid(&value),
            "by-partlabel" => self.find_partlabel(&value),
            _ => None,
        }
    }

    fn is_partition(&self, name: &str) -> bool {
        self.device(name)
            .is_some_and(|d| matches!(d.kind, DeviceKind::Partition { .. }))
    }

    /// `VG-LV` with `--` standing for `-`, as device-mapper names LVs.
    fn lv_from_mapper(&self, mapper: &str) -> Option<String> {
        self.devices.iter().find_map(|d| match &d.kind {
            DeviceKind::LogicalVolume { vg, lv, .. }
                if format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--")) == mapper =>
            {
                Some(d.name.clone())
            }
            _ => None,
        })
    }

    /// The partition a Windows `MountedDevices` entry names: by MBR disk signature and byte
    /// offset, or by GPT partition GUID.
    pub fn device_for_mbr(&self, signature: u32, offset: u64) -> Option<String> {
        let disk = self.whole_disks().find(
            |d| matches!(d.kind, DeviceKind::Disk { mbr_signature: Some(s), .. } if s == signature),
        )?;
        self.devices.iter().find_map(|d| match &d.kind {
            DeviceKind::Partition {
                disk: dn,
                start,
                scheme: Scheme::Mbr,
                ..
            } if *dn == disk.name && *start == offset => Some(d.name.clone()),
            _ => None,
        })
    }

    /// The GPT partition whose unique GUID is `guid`.
    pub fn device_for_gpt(&self, guid: &str) -> Option<String> {
        self.devices.iter().find_map(|d| match &d.kind {
            DeviceKind::Partition {
                scheme: Scheme::Gpt,
                part_uuid: Some(u),
                ..
            } if u.eq_ignore_ascii_case(guid) => Some(d.name.clone()),
            _ => None,
        })
    }

    /// Opens the filesystem of `m` (cached: each is opened once).
    pub fn open_fs(&self, m: &Mountable) -> Result<Arc<dyn Filesystem>, ImageError> {
        if let Some(fs) = self.cache.lock().ok().and_then(|c| c.get(m).cloned()) {
            return Ok(fs);
        }
        let dev = self
            .device(&m.device)
            .ok_or_else(|| ImageError::NoDevice(m.device.clone()))?;
        let info = self
            .facts
            .get(&m.device)
            .and_then(|f| f.info.clone())
            .ok_or_else(|| ImageError::NotAFilesystem(m.to_string()))?;
        let fs = open_filesystem(dev.source.clone(), &info.fstype, m.subvol.as_deref()).map_err(
            |source| ImageError::Filesystem {
                mountable: m.to_string(),
                source,
            },
        )?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(m.clone(), fs.clone());
        }
        Ok(fs)
    }

    /// A guest view with each `(path, mountable)` mounted, shallowest first. Mounts that fail are
    /// skipped and explained in the returned notes, as libguestfs skips them.
    pub fn guest(&self, mounts: &[(String, Mountable)]) -> (NativeGuest, Vec<String>) {
        let mut sorted: Vec<&(String, Mountable)> = mounts.iter().collect();
        sorted.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
        let mut table = MountTable::new();
        let mut notes = Vec::new();
        for (path, m) in sorted {
            match self.open_fs(m) {
                Ok(fs) => table.mount(path, fs),
                Err(e) => notes.push(format!("{m} could not be mounted on {path}: {e}")),
            }
        }
        (NativeGuest::new(table), notes)
    }
}

/// Partitions libguestfs does not probe: Windows LDM / reserved / snapshot partitions.
fn can_hold_filesystem(dev: &BlockDevice) -> bool {
    match &dev.kind {
        DeviceKind::Partition {
            gpt_type: Some(t), ..
        } => !NOT_FILESYSTEMS.iter().any(|n| n.eq_ignore_ascii_case(t)),
        _ => true,
    }
}

/// What blkid would say of a device.
fn probe(dev: &dyn ReadAt) -> Option<FsInfo> {
    imgprep_fs::probe_swap(dev)
        .or_else(|| imgprep_fs_xfs::probe(dev))
        .or_else(|| imgprep_fs_ext::probe(dev))
        .or_else(|| imgprep_fs_btrfs::probe(dev))
        .or_else(|| imgprep_fs_ntfs::probe(dev))
        .or_else(|| imgprep_fs_fat::probe(dev))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn open_filesystem(
    dev: Arc<dyn ReadAt>,
    fstype: &str,
    subvol: Option<&str>,
) -> Result<Arc<dyn Filesystem>, BoxError> {
    let fs: Box<dyn Filesystem> = match fstype {
        "ext2" | "ext3" | "ext4" => imgprep_fs_ext::open(dev)?,
        "xfs" => imgprep_fs_xfs::open(dev)?,
        "btrfs" => match subvol {
            None => imgprep_fs_btrfs::open(dev)?,
            Some(s) => {
                imgprep_fs_btrfs::open_subvolume(dev, imgprep_fs_btrfs::Subvol::Path(s.to_owned()))?
            }
        },
        "ntfs" => imgprep_fs_ntfs::open(dev)?,
        "vfat" => imgprep_fs_fat::open(dev)?,
        other => return Err(format!("filesystem type {other} is not readable").into()),
    };
    Ok(Arc::from(fs))
}

/// Subvolumes other than the default one (the whole device mounts that), as libguestfs lists them.
fn btrfs_subvolumes(dev: &dyn ReadAt) -> Result<Vec<String>, BoxError> {
    let default = imgprep_fs_btrfs::default_subvolume(dev)?;
    Ok(imgprep_fs_btrfs::subvolumes(dev)?
        .into_iter()
        .filter(|s| s.id != default)
        .map(|s| s.path)
        .collect())
}

/// `/dev/(h|s|v|xv)d<letters><digits>`: the disk letters and the partition digits.
fn parse_xdev(spec: &str) -> Option<(&str, &str)> {
    let rest = spec.strip_prefix("/dev/")?;
    let rest = ["xvd", "hd", "sd", "vd"]
        .iter()
        .find_map(|p| rest.strip_prefix(p))?;
    let split = rest
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(rest.len());
    let (letters, digits) = rest.split_at(split);
    (!letters.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some((letters, digits))
}

/// `a` is 0, `z` 25, `aa` 26, as Linux names disks.
fn drive_index(letters: &str) -> Option<usize> {
    let mut n: usize = 0;
    for b in letters.bytes() {
        n = n.checked_mul(26)?.checked_add(usize::from(b - b'a') + 1)?;
    }
    n.checked_sub(1)
}

/// udev escapes unsafe characters in by-label links as `\xNN`.
fn unescape_udev(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_device_paths_parse_like_libguestfs() {
        assert_eq!(parse_xdev("/dev/vda1"), Some(("a", "1")));
        assert_eq!(parse_xdev("/dev/xvdb"), Some(("b", "")));
        assert_eq!(parse_xdev("/dev/sdaa12"), Some(("aa", "12")));
        assert_eq!(parse_xdev("/dev/sda1p2"), None);
        assert_eq!(parse_xdev("/dev/md0"), None);
        assert_eq!(drive_index("a"), Some(0));
        assert_eq!(drive_index("z"), Some(25));
        assert_eq!(drive_index("aa"), Some(26));
        assert_eq!(unescape_udev("my\\x20disk"), "my disk");
        assert_eq!(Mountable::device("/dev/sda1").to_string(), "/dev/sda1");
        let sub = Mountable {
            device: "/dev/sda2".into(),
            subvol: Some("root".into()),
        };
        assert_eq!(sub.to_string(), "btrfsvol:/dev/sda2/root");
    }
}
