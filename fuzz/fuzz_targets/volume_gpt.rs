//! GPT headers and entry arrays. The first input byte picks the sector size (512 or 4096) and
//! whether the primary header's and entry array's CRCs are recomputed before parsing, so the
//! fuzzer gets past the checksums; the rest is the disk.
//!
//! Input: flags byte + disk (seed it with small GPT disks).
#![no_main]

use std::sync::Arc;

use imgprep_io::ReadAt;
use libfuzzer_sys::fuzz_target;

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
fn fix_crcs(d: &mut [u8], ss: usize, lba: usize) {
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
    {
        if let Some(array) = start.checked_add(len).and_then(|end| d.get(start..end)) {
            let crc = crc32(array);
            d[h + 88..h + 92].copy_from_slice(&crc.to_le_bytes());
        }
    }
    if hsize >= 20 && h + hsize <= d.len() {
        d[h + 16..h + 20].fill(0);
        let crc = crc32(&d[h..h + hsize]);
        d[h + 16..h + 20].copy_from_slice(&crc.to_le_bytes());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let ss = if flags & 1 != 0 { 4096 } else { 512 };
    let mut disk = rest.to_vec();
    if flags & 2 != 0 {
        fix_crcs(&mut disk, ss, 1);
    }
    let src: Arc<dyn ReadAt> = Arc::new(disk);
    if let Ok(t) = imgprep_volume::read_partition_table(&*src, ss as u32) {
        for p in t.table.partitions() {
            assert!(p.number >= 1 && p.number <= imgprep_volume::MAX_PARTITION_NUMBER);
        }
    }
    let _ = imgprep_volume::scan(&[src], ss as u32);
});
