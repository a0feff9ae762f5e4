//! The LVM2 text metadata parser and the volume group model built from it.
//!
//! Input: a metadata text (seed it with real metadata, e.g. from `vgcfgbackup` or a PV's
//! metadata area).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = imgprep_volume::lvm::parse_metadata(data);
});
