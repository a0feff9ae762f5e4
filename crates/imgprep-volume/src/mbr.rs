//! MBR (msdos) partition tables with extended partitions, following the Linux kernel's
//! block/partitions/msdos.c: primary slots keep their numbers 1..4, logical partitions are numbered
//! from 5 in chain order, a logical partition's start is relative to its EBR and the next EBR's
//! start relative to the start of the extended partition.

use std::collections::HashSet;

use imgprep_io::{ReadAt, le};

use crate::Error;
use crate::table::{MAX_PARTITION_NUMBER, Partition, PartitionTable, Scheme, TableRead};

/// Consecutive EBRs without a data partition after which Linux gives up on a chain.
const MAX_EMPTY_EBRS: usize = 100;
/// EBRs read in all, whatever they hold.
const MAX_EBRS: usize = 1024;

pub(crate) enum Probe {
    /// No MBR: the disk is not partitioned (or is a FAT filesystem with a boot sector).
    None,
    /// A protective MBR (type 0xEE at LBA 1): the disk has a GPT.
    Gpt,
    Mbr(TableRead),
}

#[derive(Clone, Copy)]
struct Entry {
    boot: u8,
    kind: u8,
    start: u32,
    sectors: u32,
}

fn entries(sector: &[u8]) -> [Entry; 4] {
    std::array::from_fn(|i| {
        let e = 0x1be + 16 * i;
        Entry {
            boot: sector[e],
            kind: sector[e + 4],
            start: le::u32(sector, e + 8),
            sectors: le::u32(sector, e + 12),
        }
    })
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

fn has_magic(sector: &[u8]) -> bool {
    sector[510] == 0x55 && sector[511] == 0xaa
}

fn read_sector(disk: &dyn ReadAt, offset: u64, what: &'static str) -> Result<[u8; 512], Error> {
    let mut buf = [0u8; 512];
    disk.read_exact_at(offset, &mut buf)
        .map_err(|e| Error::read(what, offset, e))?;
    Ok(buf)
}

pub(crate) fn read(disk: &dyn ReadAt, ss: u64) -> Result<Probe, Error> {
    if disk.size() < 512 {
        return Ok(Probe::None);
    }
    let mbr = read_sector(disk, 0, "MBR")?;
    if !has_magic(&mbr) {
        return Ok(Probe::None);
    }
    let slots = entries(&mbr);
    // efi.c runs first: any 0xEE entry starting at LBA 1 makes the MBR protective (or hybrid).
    if slots.iter().any(|e| e.kind == 0xee && e.start == 1) {
        return Ok(Probe::Gpt);
    }
    // A boot indicator other than 0 or 0x80 means this is not a partition table (a FAT boot
    // sector, or boot code).
    if slots.iter().any(|e| e.boot != 0 && e.boot != 0x80) {
        return Ok(Probe::None);
    }
    // An 0xEE entry that efi.c did not accept still stops msdos.c.
    if slots.iter().any(|e| e.kind == 0xee) {
        return Ok(Probe::None);
    }
    // Four empty slots make no partition, so the whole disk is looked at for a filesystem, as
    // libguestfs does: a FAT boot sector (mkfs.fat's leaves the table area zero) is one.
    if slots.iter().all(|e| e.sectors == 0) {
        return Ok(Probe::None);
    }
    let signature = le::u32(&mbr, 440);
    let mut parts = Vec::new();
    let mut notes = Vec::new();
    let mut next = 5u32;
    for (i, e) in slots.iter().enumerate() {
        if e.sectors == 0 {
            continue;
        }
        let number = i as u32 + 1;
        let start = u64::from(e.start) * ss;
        let size = u64::from(e.sectors) * ss;
        parts.push(partition(number, start, size, e, signature));
        if is_extended(e.kind) {
            extended(
                disk, ss, start, size, signature, &mut next, &mut parts, &mut notes,
            );
        }
    }
    // Linux adds the partitions in number order: primaries 1..4, then logicals.
    parts.sort_by_key(|p| p.number);
    Ok(Probe::Mbr(TableRead {
        table: PartitionTable::Mbr {
            signature,
            partitions: parts,
        },
        notes,
    }))
}

fn partition(number: u32, start: u64, size: u64, e: &Entry, signature: u32) -> Partition {
    Partition {
        number,
        start,
        size,
        scheme: Scheme::Mbr,
        mbr_type: Some(e.kind),
        gpt_type: None,
        part_uuid: Some(format!("{signature:08x}-{number:02x}")),
        gpt_name: None,
        bootable: e.boot == 0x80,
        extended: is_extended(e.kind),
    }
}

/// Walks the EBR chain of the extended partition at `first` (`first_size` bytes).
#[allow(clippy::too_many_arguments)]
fn extended(
    disk: &dyn ReadAt,
    ss: u64,
    first: u64,
    first_size: u64,
    signature: u32,
    next: &mut u32,
    parts: &mut Vec<Partition>,
    notes: &mut Vec<Error>,
) {
    let mut this = first;
    let mut this_size = first_size;
    let mut visited = HashSet::new();
    let mut empty = 0usize;
    loop {
        if *next > MAX_PARTITION_NUMBER {
            return;
        }
        if !visited.insert(this) {
            notes.push(Error::EbrLoop { offset: this });
            return;
        }
        if visited.len() > MAX_EBRS || empty > MAX_EMPTY_EBRS {
            notes.push(Error::EbrChainTooLong {
                offset: first,
                limit: if empty > MAX_EMPTY_EBRS {
                    MAX_EMPTY_EBRS
                } else {
                    MAX_EBRS
                },
            });
            return;
        }
        empty += 1;
        let ebr = match read_sector(disk, this, "EBR") {
            Ok(s) => s,
            Err(e) => {
                notes.push(e);
                return;
            }
        };
        if !has_magic(&ebr) {
            return;
        }
        let slots = entries(&ebr);
        // Data partitions first: usually the first entry; the 3rd and 4th often hold garbage
        // and are used only when they fit inside the extended partition.
        for (i, e) in slots.iter().enumerate() {
            if e.sectors == 0 || is_extended(e.kind) {
                continue;
            }
            let offs = u64::from(e.start) * ss;
            let size = u64::from(e.sectors) * ss;
            let start = this + offs;
            if i >= 2
                && (offs + size > this_size || start < first || start + size > first + first_size)
            {
                continue;
            }
            parts.push(partition(*next, start, size, e, signature));
            empty = 0;
            *next += 1;
            if *next > MAX_PARTITION_NUMBER {
                notes.push(Error::TooManyPartitions {
                    number: u64::from(*next),
                    offset: this,
                    limit: MAX_PARTITION_NUMBER,
                });
                return;
            }
        }
        // Then the first link to the next EBR, relative to the start of the extended partition.
        let Some(link) = slots.iter().find(|e| e.sectors != 0 && is_extended(e.kind)) else {
            return;
        };
        this = first + u64::from(link.start) * ss;
        this_size = u64::from(link.sectors) * ss;
    }
}
