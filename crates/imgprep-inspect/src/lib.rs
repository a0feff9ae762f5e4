//! Operating system inspection of offline disk images, reporting what virt-inspector reports.
//!
//! [`inspect`] walks an [`Image`]'s filesystems the way libguestfs does: each filesystem is
//! looked at on its own to decide whether it is an OS root (release files, architecture, fstab,
//! host name, or the Windows registry), then each root's mounts are assembled from its fstab (or
//! drive letters) and its package database is read through the assembled guest view.
//!
//! Field names and values follow virt-inspector, so its users can switch tools. Where this crate
//! knows better than libguestfs 1.48 (PARTUUID= in fstab, AlmaLinux, Amazon Linux), it says so in
//! ARCHITECTURE.md. Unreadable parts are notes in the result, never a failed inspection.
//!
//! It does not open images (`imgprep-guest` does) and does not judge them (`imgprep-rules`).
#![forbid(unsafe_code)]

mod apps;
mod arch;
mod fstab;
mod linux;
mod model;
mod osinfo;
mod windows;

use std::sync::Arc;

pub use model::{
    Application, ChainLayer, CompanionFile, DiskInfo, DriveMapping, FilesystemInfo, Inspection,
    MountPoint, OperatingSystem, Service,
};

use imgprep_guest::{Image, MountTable, Mountable, NativeGuest};
use linux::{Data, Role};
use model::nonempty;

/// What to gather beyond the OS facts.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// List installed packages / programs.
    pub applications: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { applications: true }
    }
}

/// One OS root with everything needed to look inside it.
#[derive(Debug)]
pub struct Root {
    /// What inspection reports.
    pub os: OperatingSystem,
    /// The guest as the OS mounts it.
    pub guest: NativeGuest,
}

/// Inspects every OS in `image`.
pub fn inspect(image: &Image, opts: Options) -> Inspection {
    let (roots, notes) = inspect_roots(image, opts);
    Inspection {
        operatingsystems: roots.into_iter().map(|r| r.os).collect(),
        notes,
        disks: disks(image),
    }
}

/// The disks of `image` with the host files each reads, in disk order (`/dev/sda` first).
pub fn disks(image: &Image) -> Vec<DiskInfo> {
    let shown = |p: &std::path::Path| p.display().to_string();
    image
        .disks()
        .iter()
        .enumerate()
        .map(|(i, d)| DiskInfo {
            device: imgprep_volume::disk_name(i),
            path: d
                .chain()
                .first()
                .map(|l| shown(&l.path))
                .unwrap_or_default(),
            format: d.format().to_string(),
            virtual_size: d.virtual_size(),
            chain: d
                .chain()
                .iter()
                .map(|l| ChainLayer {
                    path: shown(&l.path),
                    format: l.format.to_string(),
                })
                .collect(),
            companions: d
                .companions()
                .iter()
                .map(|c| CompanionFile {
                    role: c.role.to_string(),
                    named_by: shown(&c.named_by),
                    name: c.name.clone(),
                    path: shown(&c.path),
                })
                .collect(),
        })
        .collect()
}

/// Inspects every OS in `image` and keeps the assembled guest view of each, for the rules.
pub fn inspect_roots(image: &Image, opts: Options) -> (Vec<Root>, Vec<String>) {
    let mut notes: Vec<String> = image.notes().to_vec();
    let mut found: Vec<(Mountable, Data)> = Vec::new();
    let mut usrs: Vec<(Mountable, Data)> = Vec::new();
    for entry in image.filesystems() {
        let Some(info) = &entry.info else { continue };
        if info.fstype == "swap" {
            continue;
        }
        let fs = match image.open_fs(&entry.mountable) {
            Ok(fs) => fs,
            Err(e) => {
                notes.push(format!("{}: {e:#}", entry.mountable));
                continue;
            }
        };
        // A filesystem that was not cleanly unmounted: said once per device (btrfs subvolumes
        // share their device's log).
        if let Some(note) = fs.log_replay().note() {
            let note = format!("{}: {note}", entry.mountable.device);
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        let alone = alone(fs);
        match linux::check_filesystem(&alone) {
            Role::Root(d) => found.push((entry.mountable.clone(), *d)),
            Role::Usr(d) => usrs.push((entry.mountable.clone(), *d)),
            Role::Other => {
                if let Some(why) = unreadable(&alone) {
                    notes.push(format!(
                        "{}: not recognised as an OS root, and part of it cannot be read: {why}",
                        entry.mountable
                    ));
                }
            }
        }
    }
    let roots = found
        .into_iter()
        .map(|(m, mut d)| {
            merge_usr(image, &m, &mut d, &usrs);
            build_root(image, m, d, opts)
        })
        .collect();
    (roots, notes)
}

/// Directories whose contents decide whether a filesystem is an OS root (Linux and Windows
/// spellings; NTFS and FAT match names without case).
const ROOT_MARKERS: [&str; 6] = [
    "/etc",
    "/bin",
    "/usr",
    "/windows",
    "/winnt",
    "/windows/system32",
];

/// The first read error (not "does not exist") met listing the directories that decide whether
/// a filesystem is an OS root: what makes an unreadable root look like no root at all.
fn unreadable(g: &NativeGuest) -> Option<String> {
    use imgprep_guest::Guest as _;
    if let Err(e) = g.read_dir("/") {
        return Some(e.to_string());
    }
    ROOT_MARKERS.iter().find_map(|p| match g.read_dir(p) {
        Err(e)
            if !e.is_not_found()
                && !matches!(e, imgprep_guest::GuestError::NotADirectory { .. }) =>
        {
            Some(e.to_string())
        }
        _ => None,
    })
}

/// A guest view of one filesystem on its own, as libguestfs's chroot checks see it.
fn alone(fs: Arc<dyn imgprep_fs::Filesystem>) -> NativeGuest {
    let mut t = MountTable::new();
    t.mount("/", fs);
    NativeGuest::new(t)
}

/// A Linux root whose fstab mounts a separate `/usr` takes os-release facts from it when the
/// root has none (libguestfs's `collect_linux_inspection_info`).
fn merge_usr(image: &Image, _root: &Mountable, d: &mut Data, usrs: &[(Mountable, Data)]) {
    let resolved: Vec<Mountable> = d
        .fstab
        .iter()
        .filter_map(|e| resolve_entry(image, e, None).1)
        .collect();
    if let Some((_, u)) = usrs.iter().find(|(m, _)| resolved.contains(m)) {
        if d.distro.is_none() {
            d.distro = u.distro;
        }
        if d.product_name.is_none() {
            d.product_name.clone_from(&u.product_name);
        }
        if d.version.is_none() {
            d.version = u.version;
        }
        if d.arch.is_none() {
            d.arch.clone_from(&u.arch);
        }
        if d.package_format_name.is_none() {
            d.package_format_name = u.package_format_name;
        }
        if d.package_management_name.is_none() {
            d.package_management_name = u.package_management_name;
        }
    }
}

/// Resolves an fstab entry: the device name virt-inspector would print, and what to mount.
fn resolve_entry(
    image: &Image,
    e: &fstab::FstabEntry,
    root: Option<&Mountable>,
) -> (Option<String>, Option<Mountable>) {
    let spec = e.spec.as_str();
    let tagged = |tag: &str| spec.strip_prefix(tag).map(linux::shell_unquote);
    let dev: Option<String> = if let Some(u) = tagged("UUID=") {
        image.find_uuid(&u)
    } else if let Some(l) = tagged("LABEL=") {
        image.find_label(&l)
    } else if let Some(u) = tagged("PARTUUID=") {
        image.find_partuuid(&u)
    } else if let Some(l) = tagged("PARTLABEL=") {
        image.find_partlabel(&l)
    } else if spec == "/dev/root" {
        return (root.map(ToString::to_string), root.cloned());
    } else if spec.starts_with("/dev/") {
        let printed = image.resolve_device_path(spec);
        let mount = image
            .resolve_by_path(spec)
            .or_else(|| image.device(&printed).map(|_| printed.clone()));
        let m = mount.map(|d| with_subvol(e, d));
        return (Some(printed), m);
    } else {
        return (None, None);
    };
    match dev {
        Some(d) => (Some(d.clone()), Some(with_subvol(e, d))),
        None => (None, None),
    }
}

/// A btrfs entry with `subvol=` mounts that subvolume.
fn with_subvol(e: &fstab::FstabEntry, device: String) -> Mountable {
    let subvol = (e.vfstype == "btrfs")
        .then(|| {
            e.opt("subvol")
                .map(|s| s.trim_start_matches('/').to_owned())
        })
        .flatten();
    Mountable { device, subvol }
}

fn build_root(image: &Image, root: Mountable, d: Data, opts: Options) -> Root {
    let mut os = OperatingSystem {
        root: canonical_device_name(&root.to_string()),
        name: d.os_type.map(str::to_owned),
        arch: d.arch.clone(),
        distro: d.distro.map(str::to_owned),
        product_name: d.product_name.clone(),
        product_variant: d.product_variant.clone(),
        major_version: d.version.map_or(0, |v| v.0),
        minor_version: d.version.map_or(0, |v| v.1),
        package_format: d.package_format_name.map(str::to_owned),
        package_management: d.package_management_name.map(str::to_owned),
        hostname: d.hostname.clone(),
        ..Default::default()
    };
    os.osinfo = osinfo::osinfo(
        d.os_type.unwrap_or("unknown"),
        d.distro.unwrap_or("unknown"),
        os.major_version,
        os.minor_version,
        os.product_name.as_deref().unwrap_or("unknown"),
        os.product_variant.as_deref().unwrap_or("unknown"),
    );
    os.notes.extend(d.fstab_notes.iter().cloned());

    // Mount points and filesystems: from fstab, or just the root where there is none.
    let mut mounts: Vec<(String, Mountable)> = Vec::new();
    let mut fs_devs: Vec<String> = Vec::new();
    if d.fstab.is_empty() {
        mounts.push(("/".into(), root.clone()));
        fs_devs.push(root.to_string());
        os.mountpoints.push(MountPoint {
            dev: canonical_device_name(&root.to_string()),
            path: "/".into(),
        });
    } else {
        for e in &d.fstab {
            let (printed, mount) = resolve_entry(image, e, Some(&root));
            let Some(printed) = printed else {
                if is_device_spec(&e.spec) {
                    os.notes.push(format!(
                        "/etc/fstab line {}: {} ({}) matches no device in the image; skipped",
                        e.line, e.spec, e.file
                    ));
                }
                continue;
            };
            let printed = match &mount {
                Some(m) if m.subvol.is_some() => m.to_string(),
                _ => printed,
            };
            fs_devs.push(printed.clone());
            if e.file.starts_with('/') {
                os.mountpoints.push(MountPoint {
                    dev: canonical_device_name(&printed),
                    path: e.file.clone(),
                });
                match mount {
                    Some(m) => mounts.push((e.file.clone(), m)),
                    None => os.notes.push(format!(
                        "/etc/fstab line {}: {} for {} is not a device in the image; not mounted",
                        e.line, e.spec, e.file
                    )),
                }
            }
        }
    }
    os.mountpoints.sort_by(|a, b| {
        a.path
            .len()
            .cmp(&b.path.len())
            .then_with(|| a.path.cmp(&b.path))
    });
    fs_devs.sort();
    os.filesystems = fs_devs
        .iter()
        .map(|dev| {
            let info = image.probe(dev);
            FilesystemInfo {
                dev: canonical_device_name(dev),
                fstype: info.as_ref().and_then(|i| nonempty(i.fstype.clone())),
                label: info
                    .as_ref()
                    .and_then(|i| i.label.clone())
                    .and_then(nonempty),
                uuid: info
                    .as_ref()
                    .and_then(|i| i.uuid.clone())
                    .and_then(nonempty),
            }
        })
        .collect();

    if let Some(w) = &d.windows {
        os.windows_systemroot = Some(w.systemroot.clone());
        os.windows_current_control_set
            .clone_from(&w.current_control_set);
        os.notes.extend(w.notes.iter().cloned());
        let mut maps: Vec<DriveMapping> = w
            .mounted_devices
            .iter()
            .filter_map(|(letter, r)| {
                let dev = match r {
                    windows::DeviceRef::Mbr { signature, offset } => {
                        image.device_for_mbr(*signature, *offset)
                    }
                    windows::DeviceRef::Gpt { guid } => image.device_for_gpt(guid),
                };
                dev.map(|dev| DriveMapping {
                    name: letter.clone(),
                    dev: canonical_device_name(&dev),
                })
            })
            .collect();
        maps.sort_by_key(|m| m.name.to_ascii_lowercase());
        os.drive_mappings = maps;
    }

    let (guest, mount_notes) = image.guest(&mounts);
    os.notes.extend(mount_notes);
    if opts.applications {
        let (apps, app_notes) = apps::list(&guest, &d);
        os.applications = Some(apps);
        os.notes.extend(app_notes);
    }
    if let Some(w) = &d.windows
        && let (Some(sys), Some(ccs)) = (&w.system_hive, &w.current_control_set)
    {
        match windows::load_hive(&guest, sys) {
            Ok(h) => os.services = windows::services(&h, ccs, &mut os.notes),
            Err(e) => os.notes.push(e),
        }
    }
    Root { os, guest }
}

fn is_device_spec(spec: &str) -> bool {
    ["UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=", "/dev/"]
        .iter()
        .any(|p| spec.starts_with(p))
}

/// libguestfs's canonical device name: `/dev/vda1` and `/dev/xvda1` are `/dev/sda1`.
pub fn canonical_device_name(dev: &str) -> String {
    if let Some(rest) = dev.strip_prefix("/dev/")
        && !rest.contains('/')
        && !rest.starts_with('m')
        && let Some(d) = rest.find('d')
        && (1..=2).contains(&d)
    {
        return format!("/dev/sd{}", &rest[d + 1..]);
    }
    dev.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_canonical() {
        for (dev, want) in [
            ("/dev/vda1", "/dev/sda1"),
            ("/dev/xvdb", "/dev/sdb"),
            ("/dev/hda2", "/dev/sda2"),
            ("/dev/sda5", "/dev/sda5"),
            ("/dev/md0", "/dev/md0"),
            ("/dev/centos/root", "/dev/centos/root"),
            ("/dev/disk/by-uuid/x", "/dev/disk/by-uuid/x"),
            ("btrfsvol:/dev/sda2/root", "btrfsvol:/dev/sda2/root"),
        ] {
            assert_eq!(canonical_device_name(dev), want);
        }
    }
}
