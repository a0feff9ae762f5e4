//! On-disk structures: boot sector, MFT records with their update sequence fixups, attributes,
//! data runs, and reading attribute values from the device.

use std::collections::HashSet;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::Error;

/// `$STANDARD_INFORMATION`
pub(crate) const AT_STANDARD_INFORMATION: u32 = 0x10;
/// `$ATTRIBUTE_LIST`
pub(crate) const AT_ATTRIBUTE_LIST: u32 = 0x20;
/// `$VOLUME_NAME`
pub(crate) const AT_VOLUME_NAME: u32 = 0x60;
/// `$DATA`
pub(crate) const AT_DATA: u32 = 0x80;
/// `$INDEX_ROOT`
pub(crate) const AT_INDEX_ROOT: u32 = 0x90;
/// `$INDEX_ALLOCATION`
pub(crate) const AT_INDEX_ALLOCATION: u32 = 0xa0;
/// `$REPARSE_POINT`
pub(crate) const AT_REPARSE_POINT: u32 = 0xc0;
const AT_END: u32 = 0xffff_ffff;

/// Attribute flags: the compression format (1: LZNT1) and encryption.
const ATTR_COMPRESSED: u16 = 0x00ff;
const COMPRESSION_LZNT1: u16 = 0x0001;
/// Largest compression unit decoded (Windows uses 16 clusters of at most 4 KiB).
const MAX_COMPRESSION_UNIT: u64 = 1 << 20;
const ATTR_ENCRYPTED: u16 = 0x4000;

/// MFT record flags.
const MFT_IN_USE: u16 = 0x0001;
pub(crate) const MFT_DIRECTORY: u16 = 0x0002;

/// Records 0..16 are the metadata files ($MFT … $Extend and reserved ones).
pub(crate) const FIRST_USER_RECORD: u64 = 16;

/// Fixups always protect 512-byte blocks, whatever the sector size.
const FIXUP_BLOCK: usize = 512;
/// Largest attribute list read (Windows keeps them far smaller).
const MAX_ATTRIBUTE_LIST: u64 = 4 << 20;
/// Most extension records one file may use, and most bytes of them read for one file.
const MAX_EXTENSION_RECORDS: usize = 4096;
const MAX_EXTENSION_BYTES: usize = 16 << 20;

pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    match b.get(off..off.saturating_add(2)) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.saturating_add(4)) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | (u64::from(u32_at(b, off.saturating_add(4))) << 32)
}

/// Little-endian UTF-16 code units of `b` (an odd trailing byte is dropped).
pub(crate) fn units(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// What the boot sector says about the volume's geometry.
#[derive(Debug, Clone)]
pub(crate) struct Boot {
    pub(crate) sector_size: u64,
    pub(crate) cluster_size: u64,
    pub(crate) total_sectors: u64,
    pub(crate) mft_lcn: u64,
    pub(crate) record_size: usize,
    pub(crate) serial: u64,
}

fn boot_err(field: &str, expected: &str, found: u64) -> Error {
    Error::Invalid {
        what: format!("NTFS boot sector {field}"),
        offset: 0,
        expected: expected.to_owned(),
        found: format!("{found:#x}"),
    }
}

impl Boot {
    /// Parses and checks the boot sector with the checks `blkid` applies, plus the limits this
    /// reader needs (record sizes it can allocate, the MFT inside the volume).
    pub(crate) fn parse(b: &[u8]) -> Result<Boot, Error> {
        if b.len() < 512 {
            return Err(boot_err("length", "512 bytes", b.len() as u64));
        }
        if &b[3..11] != b"NTFS    " {
            return Err(Error::Invalid {
                what: "NTFS boot sector OEM id".into(),
                offset: 3,
                expected: "\"NTFS    \"".into(),
                found: format!("{:?}", b[3..11].escape_ascii().to_string()),
            });
        }
        let sector_size = u64::from(u16_at(b, 0x0b));
        if !(256..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
            return Err(boot_err(
                "bytes per sector (0xb)",
                "a power of two in 256..=4096",
                sector_size,
            ));
        }
        let spc = b[0x0d];
        let sectors_per_cluster: u64 = match spc {
            1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 => u64::from(spc),
            240..=249 => 1 << (256 - u32::from(spc)),
            _ => {
                return Err(boot_err(
                    "sectors per cluster (0xd)",
                    "1, 2, 4, … 128 or 240..=249",
                    u64::from(spc),
                ));
            }
        };
        let cluster_size = sector_size * sectors_per_cluster;
        if cluster_size > 2 << 20 {
            return Err(boot_err("cluster size", "at most 2 MiB", cluster_size));
        }
        // Fields FAT uses and NTFS leaves zero.
        let unused = u64::from(u16_at(b, 0x0e))
            | u64::from(b[0x10])
            | u64::from(u16_at(b, 0x11))
            | u64::from(u16_at(b, 0x13))
            | u64::from(u16_at(b, 0x16))
            | u64::from(u32_at(b, 0x20));
        if unused != 0 {
            return Err(boot_err("FAT fields (0xe..0x24)", "zero", unused));
        }
        let total_sectors = u64_at(b, 0x28);
        let mft_lcn = u64_at(b, 0x30);
        let nr_clusters = total_sectors / sectors_per_cluster;
        if mft_lcn == 0 || mft_lcn >= nr_clusters {
            return Err(boot_err("MFT cluster (0x30)", "inside the volume", mft_lcn));
        }
        let record_size = record_size(b[0x40] as i8, cluster_size).ok_or_else(|| {
            boot_err(
                "clusters per MFT record (0x40)",
                "a record size of 512..=64 KiB",
                u64::from(b[0x40]),
            )
        })?;
        Ok(Boot {
            sector_size,
            cluster_size,
            total_sectors,
            mft_lcn,
            record_size,
            serial: u64_at(b, 0x48),
        })
    }

    /// Size of the volume in bytes as the boot sector states it.
    pub(crate) fn volume_size(&self) -> u64 {
        self.total_sectors.saturating_mul(self.sector_size)
    }
}

/// Record size from a "clusters per record" byte: a cluster count, or 2^-n bytes when negative.
pub(crate) fn record_size(v: i8, cluster_size: u64) -> Option<usize> {
    let size = if v > 0 {
        u64::from(v.unsigned_abs()).checked_mul(cluster_size)?
    } else {
        let shift = u32::from(v.unsigned_abs());
        if shift >= 31 {
            return None;
        }
        1u64 << shift
    };
    (512..=65536)
        .contains(&size)
        .then_some(size as usize)
        .filter(|s| s.is_power_of_two())
}

/// Applies the update sequence fixups of a multi-sector record (`FILE` or `INDX`) in place.
pub(crate) fn fixup(rec: &mut [u8], what: &dyn Fn() -> String, offset: u64) -> Result<(), Error> {
    let usa_off = usize::from(u16_at(rec, 4));
    let usa_count = usize::from(u16_at(rec, 6));
    let blocks = rec.len() / FIXUP_BLOCK;
    if usa_count == 0 || usa_count - 1 > blocks || usa_off + usa_count * 2 > FIXUP_BLOCK - 2 {
        return Err(Error::Invalid {
            what: format!("update sequence array of {}", what()),
            offset,
            expected: format!("1..={} entries inside the first 510 bytes", blocks + 1),
            found: format!("{usa_count} entries at +{usa_off:#x}"),
        });
    }
    let usn = [rec[usa_off], rec[usa_off + 1]];
    for i in 1..usa_count {
        let end = i * FIXUP_BLOCK;
        let found = [rec[end - 2], rec[end - 1]];
        if found != usn {
            return Err(Error::Invalid {
                what: format!("update sequence of {} (block {})", what(), i - 1),
                offset: offset + end as u64 - 2,
                expected: format!("{:#06x}", u16::from_le_bytes(usn)),
                found: format!("{:#06x}", u16::from_le_bytes(found)),
            });
        }
        rec[end - 2] = rec[usa_off + 2 * i];
        rec[end - 1] = rec[usa_off + 2 * i + 1];
    }
    Ok(())
}

/// One run of clusters: `len` clusters from virtual cluster `vcn`, at `lcn` or sparse (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) vcn: u64,
    pub(crate) lcn: Option<u64>,
    pub(crate) len: u64,
}

/// Decodes a mapping-pairs array starting at virtual cluster `vcn`.
///
/// `total_clusters` bounds real runs to the volume; `at` is the file offset of the array, for
/// errors.
pub(crate) fn decode_runs(
    b: &[u8],
    mut vcn: u64,
    total_clusters: u64,
    cluster_size: u64,
    at: u64,
) -> Result<Vec<Run>, Error> {
    let mut runs = Vec::new();
    let mut lcn: i64 = 0;
    let mut i = 0usize;
    let bad = |i: usize, expected: &str, found: String| Error::Invalid {
        what: "data run".into(),
        offset: at + i as u64,
        expected: expected.to_owned(),
        found,
    };
    while let Some(&h) = b.get(i) {
        if h == 0 {
            return Ok(runs);
        }
        let len_size = usize::from(h & 0x0f);
        let off_size = usize::from(h >> 4);
        if len_size == 0 || len_size > 8 || off_size > 8 {
            return Err(bad(
                i,
                "length of 1..=8 bytes and offset of 0..=8",
                format!("header {h:#04x}"),
            ));
        }
        let field = b.get(i + 1..i + 1 + len_size + off_size).ok_or_else(|| {
            bad(
                i,
                "the run inside its attribute",
                format!("header {h:#04x} at the end"),
            )
        })?;
        let mut len_bytes = [0u8; 8];
        len_bytes[..len_size].copy_from_slice(&field[..len_size]);
        let len = u64::from_le_bytes(len_bytes);
        if len == 0 || len > i64::MAX as u64 {
            return Err(bad(i, "a positive cluster count", format!("{len:#x}")));
        }
        let run_lcn = if off_size == 0 {
            None
        } else {
            let mut off_bytes = [0u8; 8];
            off_bytes[..off_size].copy_from_slice(&field[len_size..]);
            if field[len_size + off_size - 1] & 0x80 != 0 {
                for byte in off_bytes.iter_mut().skip(off_size) {
                    *byte = 0xff;
                }
            }
            let delta = i64::from_le_bytes(off_bytes);
            lcn = lcn.checked_add(delta).filter(|&l| l >= 0).ok_or_else(|| {
                bad(
                    i,
                    "a cluster number inside the volume",
                    format!("{lcn} + {delta}"),
                )
            })?;
            let start = lcn as u64;
            if start
                .checked_add(len)
                .is_none_or(|end| end > total_clusters)
            {
                return Err(bad(
                    i,
                    &format!("clusters inside the volume (< {total_clusters:#x})"),
                    format!("{len:#x} clusters at {start:#x}"),
                ));
            }
            Some(start)
        };
        runs.push(Run {
            vcn,
            lcn: run_lcn,
            len,
        });
        // Byte offsets of every run must fit in 64 bits.
        vcn = vcn
            .checked_add(len)
            .filter(|end| end.checked_mul(cluster_size).is_some())
            .ok_or_else(|| {
                bad(
                    i,
                    "byte offsets that fit in 64 bits",
                    format!("{len:#x} clusters at VCN {vcn:#x}"),
                )
            })?;
        i += 1 + len_size + off_size;
    }
    Ok(runs)
}

/// One attribute of a record, with its value (resident) or its runs (non-resident).
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub(crate) ty: u32,
    pub(crate) name: Vec<u16>,
    pub(crate) flags: u16,
    /// File offset of the attribute header, for errors.
    pub(crate) at: u64,
    pub(crate) body: Body,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Resident(Vec<u8>),
    NonResident(NonResident),
}

#[derive(Debug, Clone)]
pub(crate) struct NonResident {
    pub(crate) lowest_vcn: u64,
    pub(crate) data_size: u64,
    pub(crate) init_size: u64,
    /// log2 of the clusters per compression unit (0: not compressed).
    pub(crate) compression_unit: u8,
    pub(crate) runs: Vec<Run>,
}

/// A parsed MFT record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) number: u64,
    pub(crate) flags: u16,
    pub(crate) base: u64,
    pub(crate) attrs: Vec<Attr>,
}

/// Parses the attributes of a fixed-up `FILE` record at file offset `at`.
pub(crate) fn parse_record(
    rec: &[u8],
    number: u64,
    at: u64,
    total_clusters: u64,
    cluster_size: u64,
) -> Result<Record, Error> {
    let invalid = |field: &str, off: usize, expected: String, found: u64| Error::Invalid {
        what: format!("MFT record {number} {field}"),
        offset: at + off as u64,
        expected,
        found: format!("{found:#x}"),
    };
    let flags = u16_at(rec, 0x16);
    let used = u32_at(rec, 0x18) as usize;
    if used > rec.len() || used < 0x30 {
        return Err(invalid(
            "bytes in use (+0x18)",
            0x18,
            format!("0x30..={:#x}", rec.len()),
            used as u64,
        ));
    }
    let base = u64_at(rec, 0x20) & 0x0000_ffff_ffff_ffff;
    let mut off = usize::from(u16_at(rec, 0x14));
    let mut attrs = Vec::new();
    loop {
        if off + 4 > used {
            return Err(invalid(
                "attribute list end",
                off,
                format!("an end marker before {used:#x}"),
                off as u64,
            ));
        }
        let ty = u32_at(rec, off);
        if ty == AT_END {
            break;
        }
        let len = u32_at(rec, off + 4) as usize;
        if len < 16 || off + len > used {
            return Err(invalid(
                "attribute length",
                off + 4,
                format!("16..={:#x}", used - off),
                len as u64,
            ));
        }
        let a = &rec[off..off + len];
        let non_resident = a[8] != 0;
        let name_len = usize::from(a[9]) * 2;
        let name_off = usize::from(u16_at(a, 10));
        let header = if non_resident { 0x40 } else { 0x18 };
        if len < header {
            return Err(invalid(
                "attribute length",
                off + 4,
                format!("at least {header:#x}"),
                len as u64,
            ));
        }
        let name = if name_len == 0 {
            Vec::new()
        } else {
            units(a.get(name_off..name_off + name_len).ok_or_else(|| {
                invalid(
                    "attribute name",
                    off + 10,
                    format!("a name inside {len:#x} bytes"),
                    name_off as u64,
                )
            })?)
        };
        let body = if non_resident {
            let runs_off = usize::from(u16_at(a, 0x20));
            if runs_off > len {
                return Err(invalid(
                    "mapping pairs offset",
                    off + 0x20,
                    format!("at most {len:#x}"),
                    runs_off as u64,
                ));
            }
            let lowest_vcn = u64_at(a, 0x10);
            let runs = decode_runs(
                &a[runs_off..],
                lowest_vcn,
                total_clusters,
                cluster_size,
                at + (off + runs_off) as u64,
            )?;
            Body::NonResident(NonResident {
                lowest_vcn,
                data_size: u64_at(a, 0x30),
                init_size: u64_at(a, 0x38),
                compression_unit: a[0x22],
                runs,
            })
        } else {
            let vlen = u32_at(a, 0x10) as usize;
            let voff = usize::from(u16_at(a, 0x14));
            let value = a.get(voff..voff.saturating_add(vlen)).ok_or_else(|| {
                invalid(
                    "resident value",
                    off + 0x10,
                    format!("{vlen:#x} bytes at +{voff:#x} inside {len:#x}"),
                    vlen as u64,
                )
            })?;
            Body::Resident(value.to_vec())
        };
        attrs.push(Attr {
            ty,
            name,
            flags: u16_at(a, 12),
            at: at + off as u64,
            body,
        });
        off += len;
    }
    Ok(Record {
        number,
        flags,
        base,
        attrs,
    })
}

/// The bytes of an attribute value, with where they live.
#[derive(Debug, Clone)]
pub(crate) enum Stream {
    Resident(Vec<u8>),
    NonResident {
        runs: Vec<Run>,
        size: u64,
        init_size: u64,
        /// File offset of the (first) attribute, for errors.
        at: u64,
        /// Clusters per LZNT1 compression unit; 0 when the value is not compressed.
        unit: u64,
    },
}

impl Stream {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Stream::Resident(v) => v.len() as u64,
            Stream::NonResident { size, .. } => *size,
        }
    }
}

/// A mounted volume's geometry and its MFT, enough to read any record.
pub(crate) struct Volume {
    pub(crate) dev: Arc<dyn ReadAt>,
    pub(crate) boot: Boot,
    pub(crate) total_clusters: u64,
    mft: Stream,
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("boot", &self.boot)
            .field("mft_size", &self.mft.len())
            .finish()
    }
}

impl Volume {
    pub(crate) fn mount(dev: Arc<dyn ReadAt>) -> Result<Volume, Error> {
        let mut bs = [0u8; 512];
        dev.read_exact_at(0, &mut bs).map_err(|source| Error::Io {
            what: "boot sector".into(),
            offset: 0,
            source,
        })?;
        let boot = Boot::parse(&bs)?;
        let total_clusters = boot.volume_size().min(dev.size()) / boot.cluster_size;
        if boot.mft_lcn >= total_clusters {
            return Err(boot_err(
                "MFT cluster (0x30)",
                "inside the device",
                boot.mft_lcn,
            ));
        }
        // Inside the device, so the product fits.
        let mft_at = boot.mft_lcn * boot.cluster_size;
        // Record 0 is read where the boot sector says; its $DATA maps the rest of the MFT.
        let mut vol = Volume {
            dev,
            total_clusters,
            mft: Stream::NonResident {
                runs: vec![Run {
                    vcn: 0,
                    lcn: Some(boot.mft_lcn),
                    len: (boot.record_size as u64).div_ceil(boot.cluster_size),
                }],
                size: boot.record_size as u64,
                init_size: boot.record_size as u64,
                at: mft_at,
                unit: 0,
            },
            boot,
        };
        // A fragmented MFT keeps later extents of its $DATA in extension records, which the
        // first extent maps: read record 0 alone first, then again with its attribute list.
        let rec0 = vol.record_alone(0)?;
        vol.mft = vol.data_stream(&rec0, &[], "$MFT")?;
        if rec0.attrs.iter().any(|a| a.ty == AT_ATTRIBUTE_LIST) {
            let rec0 = vol.record(0)?;
            vol.mft = vol.data_stream(&rec0, &[], "$MFT")?;
        }
        let mft = vol.mft.clone();
        if mft.len() < 16 * vol.boot.record_size as u64 {
            return Err(Error::Invalid {
                what: "$MFT data size".into(),
                offset: mft_at,
                expected: format!(
                    "at least 16 records ({:#x} bytes)",
                    16 * vol.boot.record_size
                ),
                found: format!("{:#x}", mft.len()),
            });
        }
        vol.mft = mft;
        Ok(vol)
    }

    /// Number of records the MFT holds.
    pub(crate) fn record_count(&self) -> u64 {
        self.mft.len() / self.boot.record_size as u64
    }

    /// Reads, fixes up and parses MFT record `n`, with the attributes of its extension records
    /// merged in when it has an attribute list.
    pub(crate) fn record(&self, n: u64) -> Result<Record, Error> {
        let mut rec = self.record_alone(n)?;
        let list = rec
            .attrs
            .iter()
            .find(|a| a.ty == AT_ATTRIBUTE_LIST)
            .cloned();
        let Some(list) = list else {
            return Ok(rec);
        };
        let bytes = self.read_all(
            &self.stream_of(&[&list])?,
            MAX_ATTRIBUTE_LIST,
            "attribute list",
        )?;
        let mut extensions = Vec::new();
        let mut seen = HashSet::new();
        let mut off = 0usize;
        while off + 26 <= bytes.len() {
            let len = usize::from(u16_at(&bytes, off + 4));
            if len < 26 {
                return Err(Error::Invalid {
                    what: format!("attribute list entry of MFT record {n}"),
                    offset: list.at,
                    expected: "a length of at least 26".into(),
                    found: format!("{len} at +{off:#x}"),
                });
            }
            let r = u64_at(&bytes, off + 16) & 0x0000_ffff_ffff_ffff;
            if r != n && seen.insert(r) {
                extensions.push(r);
            }
            off += len;
        }
        let limit = MAX_EXTENSION_RECORDS.min(MAX_EXTENSION_BYTES / self.boot.record_size);
        if extensions.len() > limit {
            return Err(Error::TooLarge {
                what: format!("extension records of MFT record {n}"),
                offset: list.at,
                size: extensions.len() as u64,
                limit: limit as u64,
            });
        }
        for r in extensions {
            let ext = self.record_alone(r)?;
            if ext.base != n {
                return Err(Error::Invalid {
                    what: format!("extension record {r} listed by MFT record {n}"),
                    offset: list.at,
                    expected: format!("base record {n}"),
                    found: format!("base record {}", ext.base),
                });
            }
            // Extension records never carry attribute lists of their own; ignore any.
            rec.attrs
                .extend(ext.attrs.into_iter().filter(|a| a.ty != AT_ATTRIBUTE_LIST));
        }
        Ok(rec)
    }

    /// One MFT record without following its attribute list.
    fn record_alone(&self, n: u64) -> Result<Record, Error> {
        let size = self.boot.record_size;
        if n >= self.record_count() {
            return Err(Error::Invalid {
                what: "MFT record number".into(),
                offset: self.mft_offset(0),
                expected: format!("less than {}", self.record_count()),
                found: n.to_string(),
            });
        }
        let pos = n * size as u64;
        let mut rec = vec![0u8; size];
        self.read_stream(&self.mft, pos, &mut rec, "$MFT")?;
        let at = self.mft_offset(pos);
        if &rec[0..4] != b"FILE" {
            return Err(Error::Invalid {
                what: format!("MFT record {n} signature"),
                offset: at,
                expected: "\"FILE\"".into(),
                found: format!("{:?}", rec[0..4].escape_ascii().to_string()),
            });
        }
        fixup(&mut rec, &|| format!("MFT record {n}"), at)?;
        let parsed = parse_record(&rec, n, at, self.total_clusters, self.boot.cluster_size)?;
        if parsed.flags & MFT_IN_USE == 0 {
            return Err(Error::Invalid {
                what: format!("MFT record {n} flags"),
                offset: at + 0x16,
                expected: "a record in use".into(),
                found: format!("{:#x} (deleted)", parsed.flags),
            });
        }
        Ok(parsed)
    }

    /// File offset of byte `pos` of the MFT, for messages (0 when unmapped).
    fn mft_offset(&self, pos: u64) -> u64 {
        match &self.mft {
            Stream::Resident(_) => 0,
            Stream::NonResident { runs, .. } => {
                let cs = self.boot.cluster_size;
                let vcn = pos / cs;
                runs.iter()
                    .find(|r| vcn >= r.vcn && vcn - r.vcn < r.len)
                    .and_then(|r| r.lcn.map(|l| (l + (vcn - r.vcn)) * cs + pos % cs))
                    .unwrap_or(0)
            }
        }
    }

    /// The stream of the attributes `parts` (extents of one non-resident value, or one
    /// resident attribute). Compressed and encrypted values are refused.
    pub(crate) fn stream_of(&self, parts: &[&Attr]) -> Result<Stream, Error> {
        let Some(first) = parts.first() else {
            return Ok(Stream::Resident(Vec::new()));
        };
        if first.flags & ATTR_ENCRYPTED != 0 {
            return Err(Error::Unsupported {
                what: "NTFS encrypted data",
                offset: first.at,
            });
        }
        let compressed = first.flags & ATTR_COMPRESSED != 0;
        if compressed && first.flags & ATTR_COMPRESSED != COMPRESSION_LZNT1 {
            return Err(Error::Unsupported {
                what: "NTFS compressed data in a format other than LZNT1",
                offset: first.at,
            });
        }
        match &first.body {
            Body::Resident(v) => Ok(Stream::Resident(v.clone())),
            Body::NonResident(nr) => {
                // The compression unit alone means nothing: ntfs-3g sets it on sparse values.
                let mut extents: Vec<(&NonResident, u64)> = Vec::new();
                for p in parts {
                    match &p.body {
                        Body::NonResident(x) => extents.push((x, p.at)),
                        Body::Resident(_) => {
                            return Err(Error::Invalid {
                                what: "attribute extent".into(),
                                offset: p.at,
                                expected: "non-resident like its first extent".into(),
                                found: "resident".into(),
                            });
                        }
                    }
                }
                extents.sort_by_key(|(x, _)| x.lowest_vcn);
                let mut runs = Vec::new();
                let mut next_vcn = 0u64;
                for (x, at) in extents {
                    if x.lowest_vcn != next_vcn {
                        return Err(Error::Invalid {
                            what: "attribute extent lowest VCN".into(),
                            offset: at + 0x10,
                            expected: format!("{next_vcn:#x}"),
                            found: format!("{:#x}", x.lowest_vcn),
                        });
                    }
                    let end = x.runs.last().map_or(x.lowest_vcn, |r| r.vcn + r.len);
                    runs.extend_from_slice(&x.runs);
                    next_vcn = end;
                }
                let unit = if compressed {
                    let cs = self.boot.cluster_size;
                    let unit = 1u64 << nr.compression_unit.min(31);
                    if nr.compression_unit == 0 || unit * cs > MAX_COMPRESSION_UNIT {
                        return Err(Error::Invalid {
                            what: "compression unit of a compressed attribute".into(),
                            offset: first.at + 0x22,
                            expected: format!(
                                "2^1..=2^n clusters of at most {MAX_COMPRESSION_UNIT:#x} bytes"
                            ),
                            found: format!("2^{} clusters of {cs:#x} bytes", nr.compression_unit),
                        });
                    }
                    unit
                } else {
                    0
                };
                Ok(Stream::NonResident {
                    runs,
                    size: nr.data_size,
                    init_size: nr.init_size.min(nr.data_size),
                    at: first.at,
                    unit,
                })
            }
        }
    }

    /// The stream of attribute `ty` named `name` (UTF-16; empty for unnamed) of `rec`.
    pub(crate) fn named_stream(
        &self,
        rec: &Record,
        ty: u32,
        name: &[u16],
    ) -> Result<Option<Stream>, Error> {
        let parts: Vec<&Attr> = rec
            .attrs
            .iter()
            .filter(|a| a.ty == ty && a.name == name)
            .collect();
        if parts.is_empty() {
            return Ok(None);
        }
        self.stream_of(&parts).map(Some)
    }

    /// The unnamed `$DATA` stream of `rec` (what a file's bytes are).
    pub(crate) fn data_stream(
        &self,
        rec: &Record,
        name: &[u16],
        what: &str,
    ) -> Result<Stream, Error> {
        self.named_stream(rec, AT_DATA, name)?
            .ok_or_else(|| Error::Invalid {
                what: format!("{what} (MFT record {})", rec.number),
                offset: 0,
                expected: "a $DATA attribute".into(),
                found: "none".into(),
            })
    }

    /// Reads `buf.len()` bytes of `s` at `pos` (the caller keeps `pos + len` within the size).
    pub(crate) fn read_stream(
        &self,
        s: &Stream,
        pos: u64,
        buf: &mut [u8],
        what: &str,
    ) -> Result<(), Error> {
        match s {
            Stream::Resident(v) => {
                let start = usize::try_from(pos).unwrap_or(usize::MAX);
                let src = v
                    .get(start..start.saturating_add(buf.len()))
                    .ok_or_else(|| Error::Invalid {
                        what: format!("read of {what}"),
                        offset: pos,
                        expected: format!("inside its {} resident bytes", v.len()),
                        found: format!("{} bytes", buf.len()),
                    })?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Stream::NonResident {
                runs,
                init_size,
                at,
                unit,
                ..
            } if *unit > 0 => self.read_compressed(runs, *init_size, *at, *unit, pos, buf, what),
            Stream::NonResident {
                runs,
                init_size,
                at,
                ..
            } => {
                let cs = self.boot.cluster_size;
                let mut done = 0usize;
                // Runs are in VCN order; find the first one covering `pos` by binary search.
                let mut idx = runs.partition_point(|r| (r.vcn + r.len) * cs <= pos);
                while done < buf.len() {
                    let p = pos + done as u64;
                    let run = runs.get(idx).filter(|r| r.vcn * cs <= p).ok_or_else(|| {
                        Error::Invalid {
                            what: format!("{what}: mapping of byte {p:#x}"),
                            offset: *at,
                            expected: "a data run covering it".into(),
                            found: "none".into(),
                        }
                    })?;
                    let run_end = (run.vcn + run.len) * cs;
                    let n = ((run_end - p) as usize).min(buf.len() - done);
                    let chunk = &mut buf[done..done + n];
                    match run.lcn {
                        None => chunk.fill(0),
                        Some(lcn) => {
                            let dev_off = lcn * cs + (p - run.vcn * cs);
                            // Bytes past the initialized size read as zeros.
                            let valid = init_size.saturating_sub(p).min(n as u64) as usize;
                            if valid > 0 {
                                self.dev
                                    .read_exact_at(dev_off, &mut chunk[..valid])
                                    .map_err(|source| Error::Io {
                                        what: what.to_owned(),
                                        offset: dev_off,
                                        source,
                                    })?;
                            }
                            chunk[valid..].fill(0);
                        }
                    }
                    done += n;
                    idx += 1;
                }
                Ok(())
            }
        }
    }

    /// Reads `buf.len()` bytes at `pos` of an LZNT1-compressed value: each compression unit of
    /// `unit` clusters is stored raw (all its clusters allocated), sparse (none), or compressed
    /// into its first clusters (the rest sparse).
    #[allow(clippy::too_many_arguments)]
    fn read_compressed(
        &self,
        runs: &[Run],
        init_size: u64,
        at: u64,
        unit: u64,
        pos: u64,
        buf: &mut [u8],
        what: &str,
    ) -> Result<(), Error> {
        let cs = self.boot.cluster_size;
        let unit_bytes = unit * cs;
        let mut done = 0usize;
        let mut plain = Vec::new();
        while done < buf.len() {
            let p = pos + done as u64;
            let u = p / unit_bytes;
            let in_unit = p - u * unit_bytes;
            let n = ((unit_bytes - in_unit) as usize).min(buf.len() - done);
            let first_vcn = u * unit;
            // The clusters of this unit, in VCN order: (lcn or sparse, count).
            let mut allocated = Vec::new();
            let mut sparse = 0u64;
            let mut idx = runs.partition_point(|r| r.vcn + r.len <= first_vcn);
            let mut vcn = first_vcn;
            while vcn < first_vcn + unit {
                let Some(r) = runs.get(idx).filter(|r| r.vcn <= vcn) else {
                    return Err(Error::Invalid {
                        what: format!("{what}: mapping of cluster {vcn:#x}"),
                        offset: at,
                        expected: "a data run covering it".into(),
                        found: "none".into(),
                    });
                };
                let take = (r.vcn + r.len - vcn).min(first_vcn + unit - vcn);
                match r.lcn {
                    Some(l) => allocated.push((l + (vcn - r.vcn), take)),
                    None => sparse += take,
                }
                vcn += take;
                idx += 1;
            }
            let chunk = &mut buf[done..done + n];
            if sparse == unit {
                chunk.fill(0);
            } else {
                let mut stored = vec![0u8; ((unit - sparse) * cs) as usize];
                let mut o = 0usize;
                for (lcn, count) in &allocated {
                    let len = (count * cs) as usize;
                    self.dev
                        .read_exact_at(lcn * cs, &mut stored[o..o + len])
                        .map_err(|source| Error::Io {
                            what: what.to_owned(),
                            offset: lcn * cs,
                            source,
                        })?;
                    o += len;
                }
                if sparse == 0 {
                    chunk.copy_from_slice(&stored[in_unit as usize..in_unit as usize + n]);
                } else {
                    plain.resize(unit_bytes as usize, 0);
                    crate::lznt1::decompress(&stored, &mut plain).map_err(|e| Error::Invalid {
                        what: format!("{what}: LZNT1 compression unit {u}"),
                        offset: allocated.first().map_or(at, |(l, _)| l * cs) + e.at as u64,
                        expected: "valid LZNT1 data".into(),
                        found: e.what.into(),
                    })?;
                    chunk.copy_from_slice(&plain[in_unit as usize..in_unit as usize + n]);
                }
            }
            // Bytes past the initialized size read as zeros.
            let valid = init_size.saturating_sub(p).min(n as u64) as usize;
            chunk[valid..].fill(0);
            done += n;
        }
        Ok(())
    }

    /// The whole of stream `s`, refusing streams longer than `limit`.
    pub(crate) fn read_all(&self, s: &Stream, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
        let len = s.len();
        if len > limit {
            let at = match s {
                Stream::NonResident { at, .. } => *at,
                Stream::Resident(_) => 0,
            };
            return Err(Error::TooLarge {
                what: what.to_owned(),
                offset: at,
                size: len,
                limit,
            });
        }
        let mut buf = vec![0u8; len as usize];
        self.read_stream(s, 0, &mut buf, what)?;
        Ok(buf)
    }
}
