//! Writers of disk images that qemu-img cannot write, built from the format specifications for
//! tests and fuzz seeds: VHD dynamic and differencing disks with parent locators ([`vhd`]), and
//! VHDX dynamic and differencing disks with any payload block state, sector bitmaps, parent
//! locators and log entries written but not applied ([`vhdx`]). Each also computes the flat disk
//! its image stands for, which tests compare with what the readers read.
//!
//! This crate is not part of the tool: nothing in imgprep depends on it but tests, and it never
//! reads images. It writes what the specifications say and nothing smarter, so a reader that
//! agrees with it agrees with the specification (tests also check the generators against qemu on
//! the images qemu reads).
#![forbid(unsafe_code)]

pub mod vhd;
pub mod vhdx;
