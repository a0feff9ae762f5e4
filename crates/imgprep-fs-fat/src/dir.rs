//! FAT directory entries: 8.3 short names (OEM code page 437, with the Windows NT lower-case
//! flags), VFAT long names checked against the short name's checksum, and the entries' times.

use imgprep_io::le;

/// Code page 437, bytes 0x80..=0xff (Linux's default `codepage=437` for short names).
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

/// Decodes OEM (code page 437) bytes.
pub(crate) fn decode_oem(raw: &[u8]) -> String {
    raw.iter()
        .map(|&b| {
            if b < 0x80 {
                char::from(b)
            } else {
                CP437_HIGH
                    .chars()
                    .nth(usize::from(b - 0x80))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            }
        })
        .collect()
}

pub(crate) const ATTR_READ_ONLY: u8 = 0x01;
const ATTR_VOLUME: u8 = 0x08;
pub(crate) const ATTR_DIR: u8 = 0x10;
const ATTR_LFN: u8 = 0x0f;
/// Lower-case flags in the NT reserved byte.
const CASE_LOWER_BASE: u8 = 0x08;
const CASE_LOWER_EXT: u8 = 0x10;

/// One file or directory in a FAT directory.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The long name when a valid one precedes the short entry, else the short name.
    pub(crate) name: String,
    /// The 8.3 name as displayed.
    pub(crate) short: String,
    pub(crate) attr: u8,
    pub(crate) cluster: u32,
    pub(crate) size: u32,
    pub(crate) mtime: i64,
    /// Byte offset of the short entry on the device.
    pub(crate) offset: u64,
}

impl Entry {
    pub(crate) fn is_dir(&self) -> bool {
        self.attr & ATTR_DIR != 0
    }
}

/// Long-name slots collected so far, waiting for their short entry.
struct LongName {
    checksum: u8,
    /// Next sequence number expected (counting down to 1), 0 when complete.
    next: u8,
    units: Vec<u16>,
}

/// The checksum of an 11-byte short name that its long-name slots carry.
fn short_checksum(name: &[u8]) -> u8 {
    name.iter()
        .fold(0u8, |sum, &b| (sum >> 1 | (sum & 1) << 7).wrapping_add(b))
}

/// The short name as Linux's `shortname=mixed` shows it.
fn short_display(slot: &[u8]) -> String {
    let mut raw = [0u8; 11];
    raw.copy_from_slice(&slot[..11]);
    if raw[0] == 0x05 {
        raw[0] = 0xe5;
    }
    let case = slot[12];
    let part = |bytes: &[u8], lower: bool| {
        let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
        let mut s = decode_oem(&bytes[..end]);
        if lower {
            s.make_ascii_lowercase();
        }
        s
    };
    let base = part(&raw[..8], case & CASE_LOWER_BASE != 0);
    let ext = part(&raw[8..], case & CASE_LOWER_EXT != 0);
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// Seconds since the epoch of a FAT date and time (taken as UTC, as Linux does with `tz=UTC`
/// and as a guest's local time is unknown).
fn fat_time(date: u16, time: u16) -> i64 {
    let year = 1980 + i64::from(date >> 9);
    let month = i64::from((date >> 5) & 0xf).max(1);
    let day = i64::from(date & 0x1f).max(1);
    let secs = i64::from(time >> 11) * 3600
        + i64::from((time >> 5) & 0x3f) * 60
        + i64::from(time & 0x1f) * 2;
    // Days from 1970-01-01 to year-month-day (proleptic Gregorian).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400 + secs
}

/// Parses the entries of a directory whose bytes are `data`, where byte `i` lives at device
/// offset `offset_of(i)`. `fat32` says whether the high cluster word counts.
pub(crate) fn parse(data: &[u8], fat32: bool, offset_of: impl Fn(usize) -> u64) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut long: Option<LongName> = None;
    for (i, slot) in data.chunks_exact(32).enumerate() {
        let first = slot[0];
        if first == 0 {
            break;
        }
        if first == 0xe5 {
            long = None;
            continue;
        }
        let attr = slot[11];
        if attr & 0x3f == ATTR_LFN {
            let seq = first & 0x1f;
            if first & 0x40 != 0 {
                long = (1..=20).contains(&seq).then(|| LongName {
                    checksum: slot[13],
                    next: seq,
                    units: vec![0xffff; usize::from(seq) * 13],
                });
            }
            long = long.and_then(|mut l| {
                if seq == 0 || seq != l.next || slot[13] != l.checksum {
                    return None;
                }
                let at = usize::from(seq - 1) * 13;
                let pos = (1..11)
                    .step_by(2)
                    .chain((14..26).step_by(2))
                    .chain((28..32).step_by(2));
                for (k, p) in pos.enumerate() {
                    l.units[at + k] = le::u16(slot, p);
                }
                l.next -= 1;
                Some(l)
            });
            continue;
        }
        let pending = long.take();
        if attr & ATTR_VOLUME != 0 {
            continue;
        }
        let short = short_display(slot);
        if short == "." || short == ".." {
            continue;
        }
        let long_name = pending
            .filter(|l| l.next == 0 && l.checksum == short_checksum(&slot[..11]))
            .map(|l| {
                let end = l
                    .units
                    .iter()
                    .position(|&u| u == 0)
                    .unwrap_or(l.units.len());
                let units = &l.units[..end];
                let end = units
                    .iter()
                    .rposition(|&u| u != 0xffff)
                    .map_or(0, |p| p + 1);
                char::decode_utf16(units[..end].iter().copied())
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect::<String>()
            })
            .filter(|n| !n.is_empty());
        let hi = if fat32 {
            u32::from(le::u16(slot, 20))
        } else {
            0
        };
        out.push(Entry {
            name: long_name.unwrap_or_else(|| short.clone()),
            short,
            attr,
            cluster: hi << 16 | u32::from(le::u16(slot, 26)),
            size: le::u32(slot, 28),
            mtime: fat_time(le::u16(slot, 24), le::u16(slot, 22)),
            offset: offset_of(i * 32),
        });
    }
    out
}

/// Case-insensitive name comparison as Windows does it (simple upper-casing per character).
pub(crate) fn names_match(a: &str, b: &str) -> bool {
    fn up(c: char) -> char {
        let mut u = c.to_uppercase();
        match (u.next(), u.next()) {
            (Some(x), None) => x,
            _ => c,
        }
    }
    a.chars().map(up).eq(b.chars().map(up))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp437_table_covers_the_upper_half() {
        assert_eq!(CP437_HIGH.chars().count(), 128);
        assert_eq!(decode_oem(b"A\x80\x81\xe1"), "AÇüß");
    }

    #[test]
    fn fat_times_convert_to_unix_seconds() {
        // 1980-01-01 00:00:00 and 2024-02-29 13:45:30.
        assert_eq!(fat_time(0x21, 0), 315_532_800);
        let date = (44 << 9) | (2 << 5) | 29;
        let time = (13 << 11) | (45 << 5) | 15;
        assert_eq!(fat_time(date, time), 1_709_214_330);
    }

    #[test]
    fn names_match_ignoring_case() {
        assert!(names_match("EFI", "efi"));
        assert!(names_match("bootx64.EFI", "BOOTX64.efi"));
        assert!(names_match("Ärger", "äRGER"));
        assert!(!names_match("a", "b"));
    }
}
