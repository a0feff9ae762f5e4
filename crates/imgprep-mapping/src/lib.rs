//! The handoff to a cloud: what an image needs when it is registered ("mapped") there.
//!
//! From the native inspection of an image, the results of its pre-flight rules and the file
//! itself, [`mapping`] derives three things for one cloud: the OpenStack image properties
//! (`os_distro` in the names OpenStack and libosinfo use, `os_version`, `os_type`,
//! `hw_disk_bus`, and Rackspace's metadata for cloud-init images without nova-agent); whether
//! the file is in a disk format the cloud imports, and if not what is wrong and how to convert
//! it; and the CloudCenter image-mapping record (OS type, whether the worker is baked in or is
//! bootstrapped at first boot, and how, per the support matrix).
//!
//! This crate decides; it does not open images, run rules, print or upload anything. The only
//! file it reads is the first bytes of the image file, to tell a fixed VHD from a dynamic one.
#![forbid(unsafe_code)]

mod disk;
mod openstack;
mod worker;

use std::path::Path;

use imgprep_inspect::{DiskInfo, OperatingSystem};
use imgprep_rules::{Cloud, Matrix, RuleResult, Status};
use serde::Serialize;

pub use disk::{DiskCheck, FileFacts, VhdKind, file_facts};
pub use openstack::OpenStack;
pub use worker::{Bootstrap, CloudCenter, Worker};

/// Why the image file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the image file failed (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Everything [`mapping`] works from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The image file as the user named it.
    pub image: &'a Path,
    /// The target cloud.
    pub cloud: Cloud,
    /// The inspected OS (the first root).
    pub os: &'a OperatingSystem,
    /// The image's first disk.
    pub disk: &'a DiskInfo,
    /// Facts of the file that the inspection does not carry.
    pub file: &'a FileFacts,
    /// Results of the rules run on the image for this cloud (the `cloudcenter-worker` profile,
    /// and `rackspace-nova-agent` on Rackspace), looked up by rule id.
    pub results: &'a [RuleResult],
    /// The dynamic-bootstrapping support matrix.
    pub matrix: &'a Matrix,
}

/// What the image needs on one cloud.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mapping {
    /// The image file as given.
    pub image: String,
    /// The target cloud.
    pub cloud: Cloud,
    /// The guest OS as the cloud wants to hear about it.
    pub os: OsFacts,
    /// Glance image properties (OpenStack and Rackspace only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openstack: Option<OpenStack>,
    /// Whether the file is in a format the cloud imports.
    pub disk: DiskCheck,
    /// The CloudCenter image-mapping record.
    pub cloudcenter: CloudCenter,
    /// True when the file can be imported as it is and the worker is baked in or can be
    /// bootstrapped.
    pub ready: bool,
}

/// The guest OS.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OsFacts {
    /// `linux` or `windows` (as inspection names it).
    pub os_type: String,
    /// Distribution as inspection names it (`centos`, `ubuntu`, `windows`, …).
    pub distro: String,
    /// Version as its users write it (`7.9`, `16.04`, `6.3`).
    pub version: String,
    /// Architecture (`x86_64`, …), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Product name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
}

/// The status of rule `id` in `results`, if it ran.
pub(crate) fn status_of(results: &[RuleResult], id: &str) -> Option<Status> {
    results.iter().find(|r| r.rule == id).map(|r| r.status)
}

/// The OS's version as its users write it: `7.9`, but `16.04` for Ubuntu, whose minor version is
/// the release month.
pub(crate) fn os_version(os: &OperatingSystem) -> String {
    if os.distro.as_deref() == Some("ubuntu") {
        format!("{}.{:02}", os.major_version, os.minor_version)
    } else {
        format!("{}.{}", os.major_version, os.minor_version)
    }
}

/// Derives what the image needs on `inputs.cloud`.
pub fn mapping(inputs: &Inputs<'_>) -> Mapping {
    let os = inputs.os;
    let facts = OsFacts {
        os_type: os.name.clone().unwrap_or_else(|| "unknown".into()),
        distro: os.distro.clone().unwrap_or_else(|| "unknown".into()),
        version: os_version(os),
        arch: os.arch.clone(),
        product_name: os.product_name.clone(),
    };
    let disk = disk::check(inputs);
    let openstack = matches!(inputs.cloud, Cloud::Openstack | Cloud::Rackspace)
        .then(|| openstack::properties(inputs, &disk));
    let cloudcenter = worker::record(inputs);
    let ready = disk.meets && cloudcenter.ready;
    Mapping {
        image: inputs.image.display().to_string(),
        cloud: inputs.cloud,
        os: facts,
        openstack,
        disk,
        cloudcenter,
        ready,
    }
}
