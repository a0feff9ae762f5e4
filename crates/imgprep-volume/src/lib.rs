//! Block devices of virtual disks, named exactly as libguestfs names them: whole disks
//! (`/dev/sda`), MBR and GPT partitions (`/dev/sda1`, logical partitions from `/dev/sda5`) and
//! LVM2 logical volumes (`/dev/VG/LV`), each readable as a [`ReadAt`].
//!
//! [`scan`] reads partition tables the way the Linux kernel does, finds LVM2 physical volumes,
//! assembles the newest valid metadata of each volume group and maps linear and striped LVs onto
//! their PVs. LUKS devices are recognised and reported; given a key ([`ScanOptions::keys`]) they
//! are unlocked and their decrypted contents become devices of their own (`/dev/mapper/…`),
//! scanned for LVM like any other, so LVM on LUKS and filesystems on LUKS are read. Everything
//! this crate cannot read (thin, RAID, snapshot LVs, missing PVs, broken chains, LUKS without a
//! key) becomes a [`Note`], never wrong bytes; a key that does not unlock its device is an
//! error.
//!
//! This crate knows nothing about filesystems: it says which devices might hold one
//! ([`Volumes::filesystem_candidates`]) and leaves probing to the filesystem crates. It never
//! writes.
#![forbid(unsafe_code)]

mod crc;
mod error;
pub mod gpt;
pub mod luks;
pub mod lvm;
mod mbr;
mod table;

use std::fmt;
use std::sync::Arc;

use imgprep_io::{ReadAt, Slice};

pub use error::Error;
pub use table::{
    MAX_PARTITION_NUMBER, Partition, PartitionTable, Scheme, TableRead, read_partition_table,
};

/// A block device: a disk, a partition or an LV.
#[derive(Clone)]
pub struct BlockDevice {
    /// `/dev/sda`, `/dev/sda1`, `/dev/VG/LV`.
    pub name: String,
    /// The device's bytes.
    pub source: Arc<dyn ReadAt>,
    pub kind: DeviceKind,
    /// What this crate found on the device.
    pub content: Content,
}

impl fmt::Debug for BlockDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockDevice")
            .field("name", &self.name)
            .field("size", &self.source.size())
            .field("kind", &self.kind)
            .field("content", &self.content)
            .finish()
    }
}

/// Where a block device comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    Disk {
        /// 0 for `/dev/sda`.
        index: usize,
        mbr_signature: Option<u32>,
        /// Upper-case disk GUID of a GPT disk.
        gpt_guid: Option<String>,
    },
    Partition {
        /// The disk's name, `/dev/sda`.
        disk: String,
        number: u32,
        /// Byte offset on the disk.
        start: u64,
        /// Size in bytes.
        size: u64,
        scheme: Scheme,
        mbr_type: Option<u8>,
        /// Upper-case GUID, as libguestfs's `part-get-gpt-type` prints it.
        gpt_type: Option<String>,
        /// PARTUUID as blkid prints it: lower-case GUID for GPT, `%08x-%02x` for MBR.
        part_uuid: Option<String>,
        gpt_name: Option<String>,
        bootable: bool,
        /// An MBR extended partition: a container of logical partitions, never a filesystem.
        /// Its `size` is the table's, as sfdisk and parted report it (the Linux device node of
        /// an extended partition is only 1 KiB long).
        extended: bool,
    },
    LogicalVolume {
        vg: String,
        lv: String,
        /// LV UUID as in the metadata (with dashes; libguestfs's `lvuuid` drops them).
        lv_uuid: String,
        vg_uuid: String,
    },
    /// The decrypted contents of an unlocked LUKS device.
    Decrypted {
        /// The LUKS device, e.g. `/dev/sda2`.
        of: String,
        /// Its LUKS UUID.
        luks_uuid: String,
    },
}

/// What a block device holds, as far as this crate can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing this crate recognises: maybe a filesystem, maybe swap, maybe nothing.
    Unknown,
    /// A partition table (the disk's partitions are listed as their own devices).
    PartitionTable(Scheme),
    /// The container of an MBR extended partition.
    ExtendedPartition,
    /// An LVM2 physical volume; `vg` when its volume group was assembled.
    LvmPv { uuid: String, vg: Option<String> },
    /// A LUKS-encrypted device, not readable without its key.
    Luks { version: u16, uuid: String },
}

/// A fact worth reporting that did not stop the scan.
#[derive(Debug)]
pub struct Note {
    /// The device (or `/dev/VG` for a volume group) the note is about.
    pub device: String,
    pub kind: NoteKind,
}

/// The kinds of [`Note`].
#[derive(Debug)]
#[non_exhaustive]
pub enum NoteKind {
    /// The device is LUKS-encrypted; its contents are not readable.
    Encrypted { version: u16, uuid: String },
    /// An LV that exists but cannot be read (unsupported type, missing PV, broken mapping).
    LvUnreadable(Error),
    /// A partition table problem that Linux tolerates: a partition skipped or truncated, an
    /// extended chain cut short, the backup GPT used instead of a bad primary.
    PartitionTable(Error),
    /// LVM problems: a bad metadata copy ignored, a missing PV, an unreadable label.
    Lvm(Error),
    /// A device that could not be examined (its header could not be read or made no sense).
    Unreadable(Error),
    /// A `--key` names no LUKS device of the image.
    UnusedKey,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            NoteKind::Encrypted { version, uuid } => write!(
                f,
                "{}: encrypted (LUKS{version}, UUID {uuid}); not readable",
                self.device
            ),
            NoteKind::UnusedKey => write!(
                f,
                "{}: a key was given for it, but the image has no such LUKS device",
                self.device
            ),
            NoteKind::LvUnreadable(e)
            | NoteKind::PartitionTable(e)
            | NoteKind::Lvm(e)
            | NoteKind::Unreadable(e) => write!(f, "{}: {e}", self.device),
        }
    }
}

/// Every block device of a set of disks, in libguestfs order (disks, each followed by its
/// partitions, then LVs sorted by VG and LV name), with the notes the scan made.
#[derive(Debug, Default)]
pub struct Volumes {
    pub devices: Vec<BlockDevice>,
    pub notes: Vec<Note>,
}

impl Volumes {
    /// The device called `name`.
    pub fn get(&self, name: &str) -> Option<&BlockDevice> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Devices that may hold a filesystem: not partitioned disks, partitions other than extended
    /// containers, LVs; never PVs or LUKS devices.
    pub fn filesystem_candidates(&self) -> impl Iterator<Item = &BlockDevice> {
        self.devices
            .iter()
            .filter(|d| d.content == Content::Unknown)
    }
}

/// One disk given to [`scan_disks`].
#[derive(Clone)]
pub struct DiskInput {
    pub source: Arc<dyn ReadAt>,
    /// Logical sector size in bytes: 512, or 4096 for 4Kn disks.
    pub sector_size: u32,
}

impl fmt::Debug for DiskInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskInput")
            .field("size", &self.source.size())
            .field("sector_size", &self.sector_size)
            .finish()
    }
}

/// The Linux name of disk `index` (0 = `/dev/sda`, 25 = `/dev/sdz`, 26 = `/dev/sdaa`).
pub fn disk_name(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index;
    loop {
        letters.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    letters.reverse();
    format!("/dev/sd{}", String::from_utf8_lossy(&letters))
}

/// What [`scan_disks_with`] is given besides the disks.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Passphrases for LUKS devices, by device name or LUKS UUID. Each LUKS device is tried with
    /// every key that names it, in order.
    pub keys: Vec<luks::LuksKey>,
    /// Caps on the key-derivation costs a LUKS header may ask for.
    pub limits: luks::Limits,
}

/// Scans disks that all have the same logical sector size (512 for nearly every image).
pub fn scan(disks: &[Arc<dyn ReadAt>], sector_size: u32) -> Result<Volumes, Error> {
    scan_with(disks, sector_size, &ScanOptions::default())
}

/// [`scan`] with keys for LUKS devices.
pub fn scan_with(
    disks: &[Arc<dyn ReadAt>],
    sector_size: u32,
    opts: &ScanOptions,
) -> Result<Volumes, Error> {
    let inputs: Vec<DiskInput> = disks
        .iter()
        .map(|d| DiskInput {
            source: d.clone(),
            sector_size,
        })
        .collect();
    scan_disks_with(&inputs, opts)
}

/// Scans disks, named `/dev/sda`, `/dev/sdb`, ... in order, for partitions, PVs, LVs and LUKS.
///
/// Fails when a disk cannot be read, has an unsupported sector size, or has a GPT whose primary
/// and backup headers are both unusable; everything else becomes a [`Note`].
pub fn scan_disks(disks: &[DiskInput]) -> Result<Volumes, Error> {
    scan_disks_with(disks, &ScanOptions::default())
}

/// [`scan_disks`] with keys for LUKS devices: a LUKS device that a key names is unlocked, and
/// its contents listed as `/dev/mapper/luks-UUID` (scanned for an LVM PV like a partition). A
/// key that fails to unlock the device it names is an error ([`Error::Unlock`]).
pub fn scan_disks_with(disks: &[DiskInput], opts: &ScanOptions) -> Result<Volumes, Error> {
    let mut vols = Volumes::default();
    for (index, disk) in disks.iter().enumerate() {
        let name = disk_name(index);
        let read = read_partition_table(&*disk.source, disk.sector_size)?;
        vols.notes.extend(read.notes.into_iter().map(|e| Note {
            device: name.clone(),
            kind: NoteKind::PartitionTable(e),
        }));
        // A table without partitions (the 55AA of a FAT or NTFS boot sector written on the
        // whole disk, or an empty label) leaves the disk itself a filesystem candidate, as
        // libguestfs lists any disk with no partition devices.
        let empty = read.table.partitions().is_empty();
        let (mbr_signature, gpt_guid, content) = match &read.table {
            PartitionTable::None => (None, None, Content::Unknown),
            PartitionTable::Mbr { signature, .. } if empty => {
                (Some(*signature), None, Content::Unknown)
            }
            PartitionTable::Gpt { guid, .. } if empty => {
                (None, Some(guid.clone()), Content::Unknown)
            }
            PartitionTable::Mbr { signature, .. } => {
                (Some(*signature), None, Content::PartitionTable(Scheme::Mbr))
            }
            PartitionTable::Gpt { guid, .. } => (
                None,
                Some(guid.clone()),
                Content::PartitionTable(Scheme::Gpt),
            ),
        };
        vols.devices.push(BlockDevice {
            name: name.clone(),
            source: disk.source.clone(),
            kind: DeviceKind::Disk {
                index,
                mbr_signature,
                gpt_guid,
            },
            content,
        });
        for p in read.table.partitions() {
            let source = Slice::new(disk.source.clone(), p.start, p.size)
                .map_err(|e| Error::read("partition", p.start, e))?;
            vols.devices.push(BlockDevice {
                name: format!("{name}{}", p.number),
                source: Arc::new(source),
                kind: DeviceKind::Partition {
                    disk: name.clone(),
                    number: p.number,
                    start: p.start,
                    size: p.size,
                    scheme: p.scheme,
                    mbr_type: p.mbr_type,
                    gpt_type: p.gpt_type.clone(),
                    part_uuid: p.part_uuid.clone(),
                    gpt_name: p.gpt_name.clone(),
                    bootable: p.bootable,
                    extended: p.extended,
                },
                content: if p.extended {
                    Content::ExtendedPartition
                } else {
                    Content::Unknown
                },
            });
        }
    }

    // PV labels and LUKS headers on whole disks without a table and on partitions, then PV
    // labels on what the LUKS devices decrypt to.
    let mut pvs = Vec::new();
    let mut opened = Vec::new();
    for dev in &mut vols.devices {
        if dev.content != Content::Unknown || find_pv(dev, &mut pvs, &mut vols.notes) {
            continue;
        }
        if let Some(d) = check_luks(dev, opts, &mut vols.notes)? {
            opened.push(d);
        }
    }
    for dev in &mut opened {
        find_pv(dev, &mut pvs, &mut vols.notes);
    }
    vols.devices.extend(opened);

    let mut assembled = lvm::assemble(&pvs, &mut vols.notes);
    for dev in &mut vols.devices {
        if let Content::LvmPv { vg, .. } = &mut dev.content {
            *vg = assembled.pv_vg.remove(&dev.name);
        }
    }
    let mut on_lvs = Vec::new();
    for mut lv in assembled.lvs {
        if let Some(d) = check_luks(&mut lv, opts, &mut vols.notes)? {
            on_lvs.push(d);
        }
        vols.devices.push(lv);
    }
    vols.devices.extend(on_lvs);
    for key in &opts.keys {
        let used = vols.devices.iter().any(|d| match &d.content {
            Content::Luks { uuid, .. } => key.matches(&d.name, uuid),
            _ => false,
        });
        if !used {
            vols.notes.push(Note {
                device: key.selector.clone(),
                kind: NoteKind::UnusedKey,
            });
        }
    }
    Ok(vols)
}

/// Marks `dev` as a PV and records it when it has an LVM2 label.
fn find_pv(dev: &mut BlockDevice, pvs: &mut Vec<lvm::FoundPv>, notes: &mut Vec<Note>) -> bool {
    match lvm::read_label(&*dev.source) {
        Ok(Some(label)) => {
            dev.content = Content::LvmPv {
                uuid: label.uuid.clone(),
                vg: None,
            };
            pvs.push(lvm::FoundPv {
                device: dev.name.clone(),
                source: dev.source.clone(),
                label,
            });
            true
        }
        Ok(None) => false,
        Err(e) => {
            notes.push(Note {
                device: dev.name.clone(),
                kind: NoteKind::Lvm(e),
            });
            false
        }
    }
}

/// The name of the decrypted device of LUKS device `uuid`.
pub fn decrypted_name(uuid: &str) -> String {
    format!("/dev/mapper/luks-{uuid}")
}

/// Marks `dev` as LUKS when it is, and unlocks it when a key names it: the decrypted device.
fn check_luks(
    dev: &mut BlockDevice,
    opts: &ScanOptions,
    notes: &mut Vec<Note>,
) -> Result<Option<BlockDevice>, Error> {
    let h = match luks::full_probe(&*dev.source) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(None),
        Err(e) => {
            notes.push(Note {
                device: dev.name.clone(),
                kind: NoteKind::Unreadable(e),
            });
            return Ok(None);
        }
    };
    dev.content = Content::Luks {
        version: h.version,
        uuid: h.uuid.clone(),
    };
    let keys: Vec<&luks::LuksKey> = opts
        .keys
        .iter()
        .filter(|k| k.matches(&dev.name, &h.uuid))
        .collect();
    if keys.is_empty() {
        notes.push(Note {
            device: dev.name.clone(),
            kind: NoteKind::Encrypted {
                version: h.version,
                uuid: h.uuid,
            },
        });
        return Ok(None);
    }
    let mut last = None;
    for k in keys {
        match imgprep_luks::unlock(dev.source.clone(), &h, &k.passphrase, &opts.limits) {
            Ok(d) => {
                return Ok(Some(BlockDevice {
                    name: decrypted_name(&h.uuid),
                    source: Arc::new(d),
                    kind: DeviceKind::Decrypted {
                        of: dev.name.clone(),
                        luks_uuid: h.uuid.clone(),
                    },
                    content: Content::Unknown,
                }));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Unlock {
        device: dev.name.clone(),
        source: last.expect("at least one key was tried"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn disk_names_follow_linux() {
        for (i, name) in [
            (0, "/dev/sda"),
            (1, "/dev/sdb"),
            (25, "/dev/sdz"),
            (26, "/dev/sdaa"),
            (27, "/dev/sdab"),
            (51, "/dev/sdaz"),
            (52, "/dev/sdba"),
            (701, "/dev/sdzz"),
            (702, "/dev/sdaaa"),
        ] {
            assert_eq!(super::disk_name(i), name, "index {i}");
        }
    }
}
