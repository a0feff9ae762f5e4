//! What libblkid says about a FAT boot sector (`libblkid/src/superblocks/vfat.c`): whether it
//! is `vfat`, the label (from the root directory's volume-label entry only; the boot-sector
//! label is blkid's `LABEL_FATBOOT`, not `LABEL`), and the serial number as the UUID.

use imgprep_fs::FsInfo;
use imgprep_io::{ReadAt, le};

const FAT12_MAX: u32 = 0xff4;
const FAT16_MAX: u32 = 0xfff4;
const FAT32_MAX: u32 = 0x0fff_fff6;

/// Magic strings libblkid matches, in its order: (offset, bytes).
const MAGICS: &[(usize, &[u8])] = &[
    (0x52, b"MSWIN"),
    (0x52, b"FAT32   "),
    (0x36, b"MSDOS"),
    (0x36, b"FAT16   "),
    (0x36, b"FAT12   "),
    (0x36, b"FAT     "),
    (0, b"\xeb"),
    (0, b"\xe9"),
    (0x1fe, b"\x55\xaa"),
];

/// The checks of libblkid's `fat_valid_superblock`; returns (cluster count, sectors of all
/// FATs) when the boot sector passes. Arithmetic wraps as libblkid's 32-bit C does.
fn valid_superblock(bs: &[u8], magic_len: usize) -> Option<(u32, u32)> {
    if magic_len <= 2 {
        if bs[0x1fe..0x200] != [0x55, 0xaa] {
            return None;
        }
        if &bs[0x36..0x3e] == b"JFS     " || &bs[0x36..0x3e] == b"HPFS    " {
            return None;
        }
    }
    let fats = u32::from(bs[0x10]);
    let reserved = u32::from(le::u16(bs, 0x0e));
    let media = bs[0x15];
    let cluster_size = u32::from(bs[0x0d]);
    if fats == 0 || reserved == 0 || !(media >= 0xf8 || media == 0xf0) {
        return None;
    }
    if !cluster_size.is_power_of_two() {
        return None;
    }
    let sector_size = u32::from(le::u16(bs, 0x0b));
    if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
        return None;
    }
    let dir_entries = u32::from(le::u16(bs, 0x11));
    let mut sectors = u32::from(le::u16(bs, 0x13));
    if sectors == 0 {
        sectors = le::u32(bs, 0x20);
    }
    let fat_length16 = u32::from(le::u16(bs, 0x16));
    let fat32_length = le::u32(bs, 0x24);
    let fat_length = if fat_length16 == 0 {
        fat32_length
    } else {
        fat_length16
    };
    let fat_size = fat_length.wrapping_mul(fats);
    let dir_size = (dir_entries * 32).div_ceil(sector_size);
    let clusters =
        sectors.wrapping_sub(reserved.wrapping_add(fat_size).wrapping_add(dir_size)) / cluster_size;
    let max = if fat_length16 == 0 && fat32_length != 0 {
        FAT32_MAX
    } else if clusters > FAT12_MAX {
        FAT16_MAX
    } else {
        FAT12_MAX
    };
    if clusters > max {
        return None;
    }
    // BitLocker volumes (Windows 7 and later) carry a FAT-like header.
    if &bs[3..11] == b"-FVE-FS-" {
        return None;
    }
    Some((clusters, fat_size))
}

/// libblkid's `search_fat_label`: the first volume-label entry of a root directory region.
fn search_label(dev: &dyn ReadAt, offset: u64, entries: u64) -> Option<[u8; 11]> {
    let len = usize::try_from(entries.checked_mul(32)?).ok()?;
    if len > 1 << 24 {
        return None;
    }
    let mut dir = vec![0u8; len];
    dev.read_exact_at(offset, &mut dir).ok()?;
    for ent in dir.chunks_exact(32) {
        if ent[0] == 0 {
            break;
        }
        let attr = ent[11];
        if ent[0] == 0xe5 || le::u16(ent, 20) != 0 || le::u16(ent, 26) != 0 || attr & 0x3f == 0x0f {
            continue;
        }
        if attr & (0x08 | 0x10) == 0x08 {
            let mut name = [0u8; 11];
            name.copy_from_slice(&ent[..11]);
            if name[0] == 0x05 {
                name[0] = 0xe5;
            }
            return Some(name);
        }
    }
    None
}

/// `vfat` with label and UUID as `blkid -p` prints them, or `None` when libblkid would not
/// recognise a FAT filesystem.
pub(crate) fn blkid_info(dev: &dyn ReadAt) -> Option<FsInfo> {
    let mut bs = [0u8; 512];
    dev.read_exact_at(0, &mut bs).ok()?;
    let magic_len = MAGICS
        .iter()
        .find(|(off, m)| bs[*off..*off + m.len()] == **m)
        .map(|(_, m)| m.len())?;
    let (_, fat_size) = valid_superblock(&bs, magic_len)?;
    let sector_size = u64::from(le::u16(&bs, 0x0b));
    let reserved = u64::from(le::u16(&bs, 0x0e));
    let fat_length16 = le::u16(&bs, 0x16);
    let fat32_length = le::u32(&bs, 0x24);
    let mut label = None;
    let mut serial = None;
    if fat_length16 != 0 {
        let root_start = (reserved + u64::from(fat_size)) * sector_size;
        label = search_label(dev, root_start, u64::from(le::u16(&bs, 0x11)));
        if matches!(bs[0x26], 0x28 | 0x29) {
            serial = Some([bs[0x27], bs[0x28], bs[0x29], bs[0x2a]]);
        }
    } else if fat32_length != 0 {
        let cluster_sectors = u64::from(bs[0x0d]);
        let buf_size = cluster_sectors * sector_size;
        let start_data = reserved + u64::from(fat_size);
        let entries = u64::from(fat32_length) * sector_size / 4;
        let mut next = u64::from(le::u32(&bs, 0x2c));
        let mut maxloop = 100;
        while next != 0 && next < entries {
            maxloop -= 1;
            if maxloop == 0 {
                break;
            }
            let sect = u64::from(
                (next as u32)
                    .wrapping_sub(2)
                    .wrapping_mul(cluster_sectors as u32),
            );
            let off = (start_data + sect) * sector_size;
            label = search_label(dev, off, buf_size / 32);
            if label.is_some() {
                break;
            }
            let fat_entry = reserved * sector_size + next * 4;
            let mut buf = vec![0u8; buf_size as usize];
            if dev.read_exact_at(fat_entry, &mut buf).is_err() {
                break;
            }
            next = u64::from(le::u32(&buf, 0) & 0x0fff_ffff);
        }
        serial = Some([bs[0x43], bs[0x44], bs[0x45], bs[0x46]]);
        let fsinfo = u64::from(le::u16(&bs, 0x30));
        if fsinfo != 0 {
            let mut info = [0u8; 512];
            dev.read_exact_at(fsinfo * sector_size, &mut info).ok()?;
            let sig1 = &info[0..4];
            let sig2 = &info[484..488];
            if sig1 != b"RRaA" && sig1 != b"RRdA" && sig1 != [0; 4] {
                return None;
            }
            if sig2 != b"rrAa" && sig2 != [0; 4] {
                return None;
            }
        }
    }
    Some(FsInfo {
        fstype: "vfat".into(),
        label: label.and_then(|l| trimmed_label(&l)),
        uuid: serial
            .filter(|s| s.iter().any(|&b| b != 0))
            .map(|s| format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0])),
    })
}

/// An 11-byte label as libblkid keeps it: up to the first NUL, trailing white space removed.
fn trimmed_label(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let text = crate::dir::decode_oem(&raw[..end]);
    let text = text.trim_end_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    (!text.is_empty()).then(|| text.to_owned())
}
