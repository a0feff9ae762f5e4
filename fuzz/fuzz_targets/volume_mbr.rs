//! MBR and EBR chains (and everything else `scan` does on one disk): scan the input as a disk of
//! 512-byte sectors, then read the first and last bytes of every device found.
//!
//! Input: the disk itself (seed it with small sfdisk images whose partitions start within the
//! first few sectors).
#![no_main]

use std::sync::Arc;

use imgprep_io::ReadAt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
