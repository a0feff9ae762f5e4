//! The body is `imgprep_fuzz_targets::sysconf_trust_stores` (crates/imgprep-fuzz-targets), replayed in `cargo test`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgprep_fuzz_targets::sysconf_trust_stores(data));
