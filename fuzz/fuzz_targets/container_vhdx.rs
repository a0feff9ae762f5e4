//! vhdx container: open the input as vhdx (files it names, parents included, from 16 MiB into the
//! input) and read a handful of regions. Input format: see container_common.rs.
#![no_main]

#[path = "container_common.rs"]
mod common;
#[path = "sparse.rs"]
mod sparse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::run(data, imgprep_container::Format::Vhdx);
});
