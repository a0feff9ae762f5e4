//! The on-disk LVM2 structures around the text: the PV label, the metadata-area header and the
//! circular buffer that holds the metadata text.

use imgprep_io::{ReadAt, le};

use crate::{Error, crc};

/// LVM's structures are addressed in 512-byte sectors whatever the device's sector size.
const SECTOR: u64 = 512;
/// The label may sit in any of the first four sectors.
const LABEL_SCAN_SECTORS: u64 = 4;
/// The metadata-area header occupies the first sector of the area; the buffer follows.
const MDA_HEADER_SIZE: u64 = 512;
const MDA_MAGIC: &[u8; 16] = b"\x20\x4c\x56\x4d\x32\x20\x78\x5b\x35\x41\x25\x72\x30\x4e\x2a\x3e";
/// Metadata texts larger than this are refused (LVM's default area is 1 MiB, and a VG with
/// thousands of LVs writes a few MiB).
pub const MAX_TEXT: u64 = 8 << 20;
/// raw_locn flag: this area is ignored (`pvchange --metadataignore`).
const RAW_LOCN_IGNORED: u32 = 1;

/// What the PV label says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLabel {
    /// The 512-byte sector (0..3) holding the label.
    pub sector: u64,
    /// PV UUID, 32 characters without dashes.
    pub uuid: String,
    pub device_size: u64,
    /// (offset, size) in bytes of each data area; size 0 runs to the end of the device.
    pub data_areas: Vec<(u64, u64)>,
    /// (offset, size) in bytes of each metadata area.
    pub metadata_areas: Vec<(u64, u64)>,
}

/// Looks for an LVM2 PV label in the first four sectors. `Ok(None)` when there is none.
pub fn read_label(dev: &dyn ReadAt) -> Result<Option<PvLabel>, Error> {
    for sector in 0..LABEL_SCAN_SECTORS {
        let offset = sector * SECTOR;
        let mut buf = [0u8; SECTOR as usize];
        if offset + SECTOR > dev.size() {
            break;
        }
        dev.read_exact_at(offset, &mut buf)
            .map_err(|e| Error::read("LVM label sector", offset, e))?;
        if &buf[0..8] != b"LABELONE" {
            continue;
        }
        return parse_label(&buf, sector, offset).map(Some);
    }
    Ok(None)
}

fn parse_label(buf: &[u8; 512], sector: u64, offset: u64) -> Result<PvLabel, Error> {
    const WHAT: &str = "LVM label";
    let sector_xl = le::u64(buf, 8);
    if sector_xl != sector {
        return Err(Error::field(WHAT, offset, "sector_xl", sector, sector_xl));
    }
    let stored = le::u32(buf, 16);
    let computed = crc::lvm(&buf[20..]);
    if stored != computed {
        return Err(Error::Checksum {
            what: WHAT,
            offset,
            expected: computed,
            found: stored,
        });
    }
    if &buf[24..32] != b"LVM2 001" {
        return Err(Error::field(
            WHAT,
            offset,
            "type",
            "\"LVM2 001\"",
            format!("{:?}", String::from_utf8_lossy(&buf[24..32])),
        ));
    }
    let header = le::u32(buf, 20) as usize;
    // pv_header: uuid[32], device_size, then two zero-terminated lists of 16-byte disk_locn.
    if !(32..=512 - 56).contains(&header) {
        return Err(Error::field(WHAT, offset, "offset_xl", "32..=456", header));
    }
    let uuid_bytes = &buf[header..header + 32];
    if !uuid_bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Error::field(
            WHAT,
            offset,
            "PV UUID",
            "32 printable characters",
            format!("{uuid_bytes:02x?}"),
        ));
    }
    let uuid = String::from_utf8_lossy(uuid_bytes).into_owned();
    let device_size = le::u64(buf, header + 32);
    let mut pos = header + 40;
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        loop {
            let Some(entry) = buf.get(pos..pos + 16) else {
                return Err(Error::field(
                    WHAT,
                    offset,
                    "disk area list",
                    "a zero entry before the end of the sector",
                    "none",
                ));
            };
            let (off, size) = (le::u64(entry, 0), le::u64(entry, 8));
            pos += 16;
            if off == 0 {
                break;
            }
            list.push((off, size));
        }
    }
    let [data_areas, metadata_areas] = lists;
    Ok(PvLabel {
        sector,
        uuid,
        device_size,
        data_areas,
        metadata_areas,
    })
}

/// One metadata text read from a metadata area, its checksum verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataText {
    /// Byte offset of the metadata area on the PV.
    pub area: u64,
    pub text: Vec<u8>,
}

/// Reads the current metadata text of the metadata area at `area` (`size` bytes) of `dev`.
/// `Ok(None)` when the area holds no metadata or is marked ignored.
pub fn read_metadata_area(
    dev: &dyn ReadAt,
    area: u64,
    size: u64,
) -> Result<Option<MetadataText>, Error> {
    const WHAT: &str = "LVM metadata area header";
    let mut h = [0u8; MDA_HEADER_SIZE as usize];
    dev.read_exact_at(area, &mut h)
        .map_err(|e| Error::read(WHAT, area, e))?;
    let stored = le::u32(&h, 0);
    let computed = crc::lvm(&h[4..]);
    if stored != computed {
        return Err(Error::Checksum {
            what: WHAT,
            offset: area,
            expected: computed,
            found: stored,
        });
    }
    if &h[4..20] != MDA_MAGIC {
        return Err(Error::field(
            WHAT,
            area,
            "magic",
            format!("{MDA_MAGIC:02x?}"),
            format!("{:02x?}", &h[4..20]),
        ));
    }
    let version = le::u32(&h, 20);
    if version != 1 {
        return Err(Error::field(WHAT, area, "version", 1, version));
    }
    let start = le::u64(&h, 24);
    if start != area {
        return Err(Error::field(WHAT, area, "start", area, start));
    }
    let buf_size = le::u64(&h, 32);
    if buf_size <= MDA_HEADER_SIZE || (size != 0 && buf_size > size) {
        return Err(Error::field(
            WHAT,
            area,
            "size",
            format!("more than 512 and at most the area's {size}"),
            buf_size,
        ));
    }
    let (off, len, checksum, flags) = (
        le::u64(&h, 40),
        le::u64(&h, 48),
        le::u32(&h, 56),
        le::u32(&h, 60),
    );
    if off == 0 || flags & RAW_LOCN_IGNORED != 0 {
        return Ok(None);
    }
    if off < MDA_HEADER_SIZE || off >= buf_size {
        return Err(Error::field(
            WHAT,
            area,
            "raw_locn offset",
            format!("{MDA_HEADER_SIZE}..{buf_size}"),
            off,
        ));
    }
    let usable = buf_size - MDA_HEADER_SIZE;
    if len == 0 || len > usable || len > MAX_TEXT {
        return Err(Error::field(
            WHAT,
            area,
            "raw_locn size",
            format!("1..={}", usable.min(MAX_TEXT)),
            len,
        ));
    }
    // The text may wrap around the end of the circular buffer back to just after the header.
    let first = len.min(buf_size - off);
    let wrap = len - first;
    if wrap > off - MDA_HEADER_SIZE {
        return Err(Error::field(
            WHAT,
            area,
            "raw_locn size",
            format!("at most {} (wrapped text would overwrite itself)", usable),
            len,
        ));
    }
    let text_at = area.checked_add(off).ok_or_else(|| {
        Error::field(
            WHAT,
            area,
            "raw_locn offset",
            "an offset on the device",
            off,
        )
    })?;
    let mut text = imgprep_io::read_vec(dev, text_at, first, MAX_TEXT, "LVM metadata text")
        .map_err(|e| Error::read("LVM metadata text", text_at, e))?;
    if wrap > 0 {
        let wrap_at = area + MDA_HEADER_SIZE;
        let rest = imgprep_io::read_vec(dev, wrap_at, wrap, MAX_TEXT, "LVM metadata text")
            .map_err(|e| Error::read("LVM metadata text (wrapped part)", wrap_at, e))?;
        text.extend_from_slice(&rest);
    }
    let computed = crc::lvm(&text);
    if computed != checksum {
        return Err(Error::Checksum {
            what: "LVM metadata text",
            offset: text_at,
            expected: computed,
            found: checksum,
        });
    }
    Ok(Some(MetadataText { area, text }))
}
