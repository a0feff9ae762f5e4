//! The bodies of imgprep's fuzz targets, as plain functions of the input bytes that build on
//! stable Rust.
//!
//! Each `pub fn NAME(data: &[u8])` here is the whole of the cargo-fuzz target `NAME` in `fuzz/`
//! (those are one-line `fuzz_target!` wrappers), so the committed corpora in
//! `fuzz/corpus-min/NAME/` and the inputs that once failed in `fuzz/regressions/NAME/` replay
//! through the very same code in `cargo test` (`tests/replay.rs`). [`TARGETS`] lists them all.
//! A target returns normally on any input a parser rejects; it panics only where a parser
//! panicked or an invariant it checks (a version ordering that is not antisymmetric, a
//! partition number out of range, a rule verdict without a message) does not hold.
//!
//! Not here: a fuzzing engine, and anything the tool itself uses. The input formats (records
//! laid over a sparse device, flag bytes that recompute checksums, and so on) are documented on
//! each function; the seed scripts in `fuzz/seeds/` write them.
#![forbid(unsafe_code)]

mod certstore;
mod container;
mod fs;
mod luks;
mod ntfs;
mod pe;
mod pkgdb;
mod registry;
mod rules;
mod sparse;
mod sysconf_edits;
mod sysconf_text;
mod sysconf_trust;
mod volume;
mod walk;

pub use certstore::sysconf_cert_blob;
pub use container::{container_qcow2, container_vhd, container_vhdx, container_vmdk};
pub use fs::{fs_btrfs, fs_ext, fs_fat, fs_ntfs, fs_xfs};
pub use luks::luks_header;
pub use ntfs::{ntfs_lznt1, ntfs_lzx, ntfs_wof, ntfs_xpress};
pub use pe::pe_version;
pub use pkgdb::{pkgdb_apk, pkgdb_bdb, pkgdb_dpkg, pkgdb_ndb, pkgdb_rpm_header, pkgdb_sqlite};
pub use registry::registry_hive;
pub use rules::rules_guest_files;
pub use sysconf_edits::sysconf_guest_edits;
pub use sysconf_text::sysconf_text;
pub use sysconf_trust::sysconf_trust_stores;
pub use volume::{volume_gpt, volume_lvm_label, volume_lvm_metadata, volume_mbr};

/// A fuzz target: its name (the cargo-fuzz binary and the corpus directory) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target, by name.
pub const TARGETS: &[Target] = &[
    ("container_qcow2", container_qcow2),
    ("container_vhd", container_vhd),
    ("container_vhdx", container_vhdx),
    ("container_vmdk", container_vmdk),
    ("fs_btrfs", fs_btrfs),
    ("fs_ext", fs_ext),
    ("fs_fat", fs_fat),
    ("fs_ntfs", fs_ntfs),
    ("fs_xfs", fs_xfs),
    ("luks_header", luks_header),
    ("ntfs_lznt1", ntfs_lznt1),
    ("ntfs_lzx", ntfs_lzx),
    ("ntfs_wof", ntfs_wof),
    ("ntfs_xpress", ntfs_xpress),
    ("pe_version", pe_version),
    ("pkgdb_apk", pkgdb_apk),
    ("pkgdb_bdb", pkgdb_bdb),
    ("pkgdb_dpkg", pkgdb_dpkg),
    ("pkgdb_ndb", pkgdb_ndb),
    ("pkgdb_rpm_header", pkgdb_rpm_header),
    ("pkgdb_sqlite", pkgdb_sqlite),
    ("registry_hive", registry_hive),
    ("rules_guest_files", rules_guest_files),
    ("sysconf_cert_blob", sysconf_cert_blob),
    ("sysconf_guest_edits", sysconf_guest_edits),
    ("sysconf_text", sysconf_text),
    ("sysconf_trust_stores", sysconf_trust_stores),
    ("volume_gpt", volume_gpt),
    ("volume_lvm_label", volume_lvm_label),
    ("volume_lvm_metadata", volume_lvm_metadata),
    ("volume_mbr", volume_mbr),
];
