//! The volume targets: partition tables and LVM2.

use std::sync::Arc;

use imgprep_io::ReadAt;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recomputes the entry-array and header CRCs of the header at `lba`, where they fit.
fn fix_gpt_crcs(d: &mut [u8], ss: usize, lba: usize) {
    let h = lba * ss;
    let Some(hdr) = d.get(h..h + 92) else { return };
    let array_lba = u64::from_le_bytes(hdr[72..80].try_into().unwrap_or_default());
    let count = u32::from_le_bytes(hdr[80..84].try_into().unwrap_or_default()) as usize;
    let esize = u32::from_le_bytes(hdr[84..88].try_into().unwrap_or_default()) as usize;
    let hsize = (u32::from_le_bytes(hdr[12..16].try_into().unwrap_or_default()) as usize).min(ss);
    let len = count.saturating_mul(esize);
    if let Some(start) = usize::try_from(array_lba)
        .ok()
        .and_then(|l| l.checked_mul(ss))
        && let Some(array) = start.checked_add(len).and_then(|end| d.get(start..end))
    {
        let crc = crc32(array);
        d[h + 88..h + 92].copy_from_slice(&crc.to_le_bytes());
    }
    if hsize >= 20 && h + hsize <= d.len() {
        d[h + 16..h + 20].fill(0);
        let crc = crc32(&d[h..h + hsize]);
        d[h + 16..h + 20].copy_from_slice(&crc.to_le_bytes());
    }
}

/// GPT headers and entry arrays. The first input byte picks the sector size (512 or 4096) and
/// whether the primary header's and entry array's CRCs are recomputed before parsing, so the
/// fuzzer gets past the checksums; the rest is the disk.
///
/// Input: flags byte + disk (seed it with small GPT disks).
pub fn volume_gpt(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let ss = if flags & 1 != 0 { 4096 } else { 512 };
    let mut disk = rest.to_vec();
    if flags & 2 != 0 {
        fix_gpt_crcs(&mut disk, ss, 1);
    }
    let src: Arc<dyn ReadAt> = Arc::new(disk);
    if let Ok(t) = imgprep_volume::read_partition_table(&*src, ss as u32) {
        for p in t.table.partitions() {
            assert!(p.number >= 1 && p.number <= imgprep_volume::MAX_PARTITION_NUMBER);
        }
    }
    let _ = imgprep_volume::scan(&[src], ss as u32);
}

fn lvm_crc(data: &[u8]) -> u32 {
    let mut crc = 0xf597_a6cfu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn u64_at(d: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?))
}

/// Recomputes the checksums of the label in sector 1 and of the first metadata area it lists.
fn fix_lvm_crcs(d: &mut [u8]) {
    let Some(label) = d.get_mut(512..1024) else {
        return;
    };
    let crc = lvm_crc(&label[20..]);
    label[16..20].copy_from_slice(&crc.to_le_bytes());
    let off = u32::from_le_bytes(label[20..24].try_into().unwrap_or_default()) as usize;
    // Skip the data-area list to the first metadata area.
    let mut p = 512 + off + 40;
    while u64_at(d, p).is_some_and(|v| v != 0) {
        p += 16;
    }
    p += 16;
    let Some(mda) = u64_at(d, p).and_then(|v| usize::try_from(v).ok()) else {
        return;
    };
    let Some(h) = d.get(mda..mda.saturating_add(512)) else {
        return;
    };
    let size = u64_at(h, 32).unwrap_or(0) as usize;
    let (toff, tlen) = (
        u64_at(h, 40).unwrap_or(0) as usize,
        u64_at(h, 48).unwrap_or(0) as usize,
    );
    if toff >= 512 && toff < size && tlen <= size.saturating_sub(512) {
        let first = tlen.min(size - toff);
        let a = mda.saturating_add(toff);
        let b = mda + 512;
        if let (Some(x), Some(y)) = (
            d.get(a..a.saturating_add(first)),
            d.get(b..b + (tlen - first)),
        ) {
            let mut text = x.to_vec();
            text.extend_from_slice(y);
            let crc = lvm_crc(&text);
            d[mda + 56..mda + 60].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let crc = lvm_crc(&d[mda + 4..mda + 512]);
    d[mda..mda + 4].copy_from_slice(&crc.to_le_bytes());
}

/// LVM2 on a PV: label, metadata-area header, circular-buffer text, metadata, LV mapping and
/// reads. The first input byte says whether the label, area-header and text checksums are
/// recomputed before parsing (so the fuzzer gets past them); the rest is the PV, scanned as a
/// whole disk, and every LV found is read at its start and end.
///
/// Input: flags byte + PV (seed it with small synthetic PVs).
pub fn volume_lvm_label(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut pv = rest.to_vec();
    if flags & 1 != 0 {
        fix_lvm_crcs(&mut pv);
    }
    let disk: Arc<dyn ReadAt> = Arc::new(pv);
    if let Ok(Some(label)) = imgprep_volume::lvm::read_label(&*disk) {
        for &(off, size) in &label.metadata_areas {
            if let Ok(Some(t)) = imgprep_volume::lvm::read_metadata_area(&*disk, off, size) {
                let _ = imgprep_volume::lvm::parse_metadata(&t.text);
            }
        }
    }
    let Ok(vols) = imgprep_volume::scan(&[disk], 512) else {
        return;
    };
    for d in &vols.devices {
        let size = d.source.size();
        let mut buf = vec![0u8; size.min(8192) as usize];
        let _ = d.source.read_exact_at(0, &mut buf);
        let _ = d.source.read_exact_at(size - buf.len() as u64, &mut buf);
    }
}

/// The LVM2 text metadata parser and the volume group model built from it.
///
/// Input: a metadata text (seed it with real metadata, e.g. from `vgcfgbackup` or a PV's
/// metadata area).
pub fn volume_lvm_metadata(data: &[u8]) {
    let _ = imgprep_volume::lvm::parse_metadata(data);
}

/// MBR and EBR chains (and everything else `scan` does on one disk): scan the input as a disk of
/// 512-byte sectors, then read the first and last bytes of every device found.
///
/// Input: the disk itself (seed it with small sfdisk images whose partitions start within the
/// first few sectors).
pub fn volume_mbr(data: &[u8]) {
    let disk: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    let Ok(vols) = imgprep_volume::scan(&[disk], 512) else {
        return;
    };
    for d in &vols.devices {
        let size = d.source.size();
        let mut buf = [0u8; 16];
        let n = size.min(16) as usize;
        let _ = d.source.read_exact_at(0, &mut buf[..n]);
        let _ = d.source.read_exact_at(size - n as u64, &mut buf[..n]);
    }
    for n in &vols.notes {
        let _ = n.to_string();
    }
}
