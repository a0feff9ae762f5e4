//! GUID partition tables: the primary header at LBA 1, or the backup at the last LBA when the
//! primary is unusable. Partition number = entry index + 1; empty entries are skipped.

use imgprep_io::{ReadAt, le};

use crate::table::{MAX_PARTITION_NUMBER, Partition, PartitionTable, Scheme, TableRead};
use crate::{Error, crc};

/// Entry arrays larger than this are refused (128 entries of 128 bytes is 16 KiB).
pub const MAX_ENTRY_ARRAY: u64 = 1 << 20;
const HEADER_MIN: u32 = 92;

/// Formats a GUID stored in the mixed-endian on-disk layout.
pub(crate) fn guid(b: &[u8; 16]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

struct Header {
    disk_guid: [u8; 16],
    entries_lba: u64,
    entry_size: u32,
    entries: Vec<u8>,
}

pub(crate) fn read(disk: &dyn ReadAt, ss: u64) -> Result<TableRead, Error> {
    let sectors = disk.size() / ss;
    let last_lba = sectors.saturating_sub(1);
    let mut notes = Vec::new();
    let header = match header(disk, ss, 1, last_lba) {
        Ok(h) => h,
        Err(primary) => match header(disk, ss, last_lba, last_lba) {
            Ok(h) => {
                notes.push(primary);
                h
            }
            Err(backup) => {
                return Err(Error::GptBothBad {
                    primary: Box::new(primary),
                    backup: Box::new(backup),
                });
            }
        },
    };
    let mut parts = Vec::new();
    let size = header.entry_size as usize;
    for (i, e) in header.entries.chunks_exact(size).enumerate() {
        let type_guid: [u8; 16] = e[0..16].try_into().unwrap_or([0; 16]);
        if type_guid == [0; 16] {
            continue;
        }
        let index = i as u32;
        let offset = header.entries_lba * ss + u64::from(index) * u64::from(header.entry_size);
        if index >= MAX_PARTITION_NUMBER {
            notes.push(Error::TooManyPartitions {
                number: u64::from(index) + 1,
                offset,
                limit: MAX_PARTITION_NUMBER,
            });
            break;
        }
        let (first, last) = (le::u64(e, 32), le::u64(e, 40));
        if first > last_lba || last > last_lba || first > last {
            notes.push(Error::GptEntryOutside {
                index,
                offset,
                first,
                last,
                last_lba,
            });
            continue;
        }
        let unique: [u8; 16] = e[16..32].try_into().unwrap_or([0; 16]);
        let attributes = le::u64(e, 48);
        let name: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        parts.push(Partition {
            number: index + 1,
            start: first * ss,
            size: (last - first + 1) * ss,
            scheme: Scheme::Gpt,
            mbr_type: None,
            gpt_type: Some(guid(&type_guid)),
            part_uuid: Some(guid(&unique).to_ascii_lowercase()),
            gpt_name: Some(String::from_utf16_lossy(&name)),
            bootable: attributes & (1 << 2) != 0,
            extended: false,
        });
    }
    Ok(TableRead {
        table: PartitionTable::Gpt {
            guid: guid(&header.disk_guid),
            partitions: parts,
        },
        notes,
    })
}

/// Reads and checks the header at `lba` and its entry array.
fn header(disk: &dyn ReadAt, ss: u64, lba: u64, last_lba: u64) -> Result<Header, Error> {
    let what = if lba == 1 {
        "primary GPT header"
    } else {
        "backup GPT header"
    };
    let offset = lba.saturating_mul(ss);
    let mut h = vec![0u8; ss as usize];
    disk.read_exact_at(offset, &mut h)
        .map_err(|e| Error::read(what, offset, e))?;
    let bad = |field, expected: String, found: String| Error::Field {
        what,
        offset,
        field,
        expected,
        found,
    };
    if &h[0..8] != b"EFI PART" {
        return Err(bad(
            "signature",
            "\"EFI PART\"".into(),
            format!("{:02x?}", &h[0..8]),
        ));
    }
    let revision = le::u32(&h, 8);
    if revision >> 16 != 1 {
        return Err(bad("revision", "1.x".into(), format!("{revision:#010x}")));
    }
    let header_size = le::u32(&h, 12);
    if header_size < HEADER_MIN || u64::from(header_size) > ss {
        return Err(bad(
            "header size",
            format!("{HEADER_MIN}..={ss}"),
            header_size.to_string(),
        ));
    }
    let stored = le::u32(&h, 16);
    let mut copy = h[..header_size as usize].to_vec();
    copy[16..20].fill(0);
    let computed = crc::crc32(&copy);
    if stored != computed {
        return Err(Error::Checksum {
            what,
            offset,
            expected: computed,
            found: stored,
        });
    }
    let my_lba = le::u64(&h, 24);
    if my_lba != lba {
        return Err(bad("my LBA", lba.to_string(), my_lba.to_string()));
    }
    let (first_usable, last_usable) = (le::u64(&h, 40), le::u64(&h, 48));
    if first_usable > last_lba || last_usable > last_lba || last_usable < first_usable {
        return Err(bad(
            "usable LBA range",
            format!("inside 0..={last_lba}"),
            format!("{first_usable}..={last_usable}"),
        ));
    }
    let disk_guid: [u8; 16] = h[56..72].try_into().unwrap_or([0; 16]);
    let entries_lba = le::u64(&h, 72);
    let count = le::u32(&h, 80);
    let entry_size = le::u32(&h, 84);
    if entry_size < 128 || !entry_size.is_multiple_of(128) {
        return Err(bad(
            "partition entry size",
            "a multiple of 128".into(),
            entry_size.to_string(),
        ));
    }
    let array = u64::from(count) * u64::from(entry_size);
    if array > MAX_ENTRY_ARRAY {
        return Err(bad(
            "partition entry array size",
            format!("at most {MAX_ENTRY_ARRAY} bytes"),
            format!("{count} entries of {entry_size} bytes"),
        ));
    }
    let array_offset = entries_lba
        .checked_mul(ss)
        .filter(|o| o.checked_add(array).is_some_and(|end| end <= disk.size()))
        .ok_or_else(|| {
            bad(
                "partition entry LBA",
                "an entry array inside the disk".into(),
                entries_lba.to_string(),
            )
        })?;
    let entries = imgprep_io::read_vec(
        disk,
        array_offset,
        array,
        MAX_ENTRY_ARRAY,
        "GPT partition entry array",
    )
    .map_err(|e| Error::read("GPT partition entry array", array_offset, e))?;
    let stored = le::u32(&h, 88);
    let computed = crc::crc32(&entries);
    if stored != computed {
        return Err(Error::Checksum {
            what: "GPT partition entry array",
            offset: array_offset,
            expected: computed,
            found: stored,
        });
    }
    Ok(Header {
        disk_guid,
        entries_lba,

        entry_size,
        entries,
    })
}
