//! Partition tables: which one a disk has, and its partitions as the Linux kernel numbers them.

use imgprep_io::ReadAt;

use crate::{Error, gpt, mbr};

/// Partition table scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Mbr,
    Gpt,
}

/// One partition, in bytes, as the kernel creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Linux partition number: MBR slot 1..4, logical 5.., GPT entry index + 1.
    pub number: u32,
    pub start: u64,
    pub size: u64,
    pub scheme: Scheme,
    pub mbr_type: Option<u8>,
    /// Upper-case type GUID, as libguestfs's `part-get-gpt-type` prints it.
    pub gpt_type: Option<String>,
    /// PARTUUID as blkid prints it: lower-case GUID for GPT, `%08x-%02x` for MBR.
    pub part_uuid: Option<String>,
    pub gpt_name: Option<String>,
    /// MBR boot flag (0x80), or GPT attribute bit 2 (legacy BIOS bootable).
    pub bootable: bool,
    /// An MBR extended partition (0x05, 0x0f, 0x85): a container, never a filesystem.
    pub extended: bool,
}

/// The partition table found on a disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionTable {
    /// No table: the whole disk is one device.
    None,
    Mbr {
        /// Disk signature at byte 440.
        signature: u32,
        partitions: Vec<Partition>,
    },
    Gpt {
        /// Upper-case disk GUID.
        guid: String,
        partitions: Vec<Partition>,
    },
}

impl PartitionTable {
    pub fn partitions(&self) -> &[Partition] {
        match self {
            PartitionTable::None => &[],
            PartitionTable::Mbr { partitions, .. } | PartitionTable::Gpt { partitions, .. } => {
                partitions
            }
        }
    }
}

/// A partition table and the problems Linux would tolerate in it.
#[derive(Debug)]
pub struct TableRead {
    pub table: PartitionTable,
    /// Skipped or truncated partitions, chain problems, a backup GPT used.
    pub notes: Vec<Error>,
}

/// Linux creates partitions 1..=255 on a disk (DISK_MAX_PARTS is 256).
pub const MAX_PARTITION_NUMBER: u32 = 255;

/// Reads the partition table of `disk` whose logical sector size is `sector_size` bytes.
///
/// Partitions starting at or past the end of the disk are dropped and those running past it
/// truncated, as Linux does, each with a note. A GPT disk whose two headers are both unusable is
/// an error.
pub fn read_partition_table(disk: &dyn ReadAt, sector_size: u32) -> Result<TableRead, Error> {
    if !sector_size.is_power_of_two() || !(512..=65536).contains(&sector_size) {
        return Err(Error::field(
            "disk",
            0,
            "logical sector size",
            "a power of two from 512 to 65536",
            sector_size,
        ));
    }
    let ss = u64::from(sector_size);
    let mut read = match mbr::read(disk, ss)? {
        mbr::Probe::None => TableRead {
            table: PartitionTable::None,
            notes: Vec::new(),
        },
        mbr::Probe::Gpt => gpt::read(disk, ss)?,
        mbr::Probe::Mbr(read) => read,
    };
    let disk_size = disk.size();
    if let PartitionTable::Mbr { partitions, .. } = &mut read.table {
        partitions.retain_mut(|p| {
            if p.start >= disk_size {
                read.notes.push(Error::PartitionBeyondEnd {
                    number: p.number,
                    start: p.start,
                    disk_size,
                });
                return false;
            }
            let end = p.start.saturating_add(p.size);
            if end > disk_size {
                read.notes.push(Error::PartitionTruncated {
                    number: p.number,
                    end,
                    disk_size,
                });
                p.size = disk_size - p.start;
            }
            true
        });
    }
    Ok(read)
}
