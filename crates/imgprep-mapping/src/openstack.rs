//! Glance image properties.

use std::collections::BTreeMap;

use imgprep_inspect::OperatingSystem;
use imgprep_rules::{Cloud, Status};
use serde::Serialize;

use crate::disk::{DiskCheck, sh};
use crate::{Inputs, os_version, status_of};

/// What to tell Glance when the image is created.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpenStack {
    /// `--disk-format`.
    pub disk_format: String,
    /// `--container-format`.
    pub container_format: String,
    /// `--property` key/value pairs.
    pub properties: BTreeMap<String, String>,
    /// Why a property has the value it has, where that is not obvious.
    pub notes: Vec<String>,
    /// The `openstack image create` command line, shell-quoted.
    pub command: String,
}

/// `os_distro` as OpenStack ("Useful image properties") and libosinfo name the distribution
/// inspection reports, or `None` where they have no name for it.
pub(crate) fn os_distro(distro: &str) -> Option<&'static str> {
    Some(match distro {
        "archlinux" => "arch",
        "centos" => "centos",
        "debian" => "debian",
        "fedora" => "fedora",
        "freebsd" => "freebsd",
        "gentoo" => "gentoo",
        "mandriva" => "mandriva",
        "msdos" => "msdos",
        "netbsd" => "netbsd",
        "openbsd" => "openbsd",
        "opensuse" => "opensuse",
        "rhel" => "rhel",
        "rocky" => "rocky",
        "sles" => "sles",
        "ubuntu" => "ubuntu",
        "windows" => "windows",
        // libosinfo's distribution names for these.
        "alpinelinux" => "alpinelinux",
        "almalinux" => "almalinux",
        "oraclelinux" => "ol",
        "mageia" => "mageia",
        "cirros" => "cirros",
        _ => return None,
    })
}

/// Windows drivers for virtio disks: the viostor (virtio-blk) or vioscsi service.
fn has_virtio_storage(os: &OperatingSystem) -> bool {
    os.services
        .iter()
        .any(|s| s.name.eq_ignore_ascii_case("viostor") || s.name.eq_ignore_ascii_case("vioscsi"))
}

pub(crate) fn properties(inputs: &Inputs<'_>, disk: &DiskCheck) -> OpenStack {
    let os = inputs.os;
    let mut props = BTreeMap::new();
    let mut notes = Vec::new();
    let distro = os.distro.as_deref().unwrap_or("unknown");
    match os_distro(distro) {
        Some(d) => {
            props.insert("os_distro".into(), d.to_owned());
        }
        None => {
            props.insert("os_distro".into(), distro.to_owned());
            notes.push(format!(
                "os_distro: OpenStack and libosinfo have no name for {distro:?}; set as \
                 inspection reports it"
            ));
        }
    }
    props.insert("os_version".into(), os_version(os));
    let windows = os.name.as_deref() == Some("windows");
    props.insert(
        "os_type".into(),
        if windows { "windows" } else { "linux" }.into(),
    );
    let bus = if !windows || has_virtio_storage(os) {
        "virtio"
    } else {
        notes.push(
            "hw_disk_bus: no virtio storage driver (viostor, vioscsi service) in the image, so \
             the disk is attached as IDE; install the virtio-win drivers for virtio"
                .into(),
        );
        "ide"
    };
    props.insert("hw_disk_bus".into(), bus.into());
    if let Some(arch) = &os.arch {
        props.insert("architecture".into(), arch.clone());
    }
    let mut container_format = "bare";
    if inputs.cloud == Cloud::Rackspace {
        container_format = "ovf";
        let nova = status_of(inputs.results, "nova-agent.present");
        let cloud_init = status_of(inputs.results, "cloud-init.present");
        if !windows && nova != Some(Status::Pass) && cloud_init == Some(Status::Pass) {
            props.insert("img_config_drive".into(), "mandatory".into());
            props.insert("vm_mode".into(), "hvm".into());
            props.insert("xenapi_use_agent".into(), "False".into());
            notes.push(
                "img_config_drive, vm_mode, xenapi_use_agent: cloud-init is installed and \
                 nova-agent is not, so servers get their settings from the config drive \
                 (Rackspace, \"Installing nova-agent on Linux\")"
                    .into(),
            );
        }
    }
    // Glance names the formats as imgprep does (`vhd` where qemu says `vpc`).
    let disk_format = disk
        .output_format
        .clone()
        .unwrap_or_else(|| disk.format.clone());
    let name = inputs
        .image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let mut args: Vec<String> = vec![
        "openstack".into(),
        "image".into(),
        "create".into(),
        "--disk-format".into(),
        disk_format.clone(),
        "--container-format".into(),
        container_format.into(),
        "--file".into(),
        sh(&disk.import_file),
    ];
    for (k, v) in &props {
        args.push("--property".into());
        args.push(sh(&format!("{k}={v}")));
    }
    args.push(sh(&name));
    OpenStack {
        disk_format,
        container_format: container_format.into(),
        properties: props,
        notes,
        command: args.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_in_openstack_and_libosinfo_names() {
        for (inspected, want) in [
            ("archlinux", Some("arch")),
            ("centos", Some("centos")),
            ("rhel", Some("rhel")),
            ("ubuntu", Some("ubuntu")),
            ("windows", Some("windows")),
            ("oraclelinux", Some("ol")),
            ("sles", Some("sles")),
            ("redhat-based", None),
            ("unknown", None),
        ] {
            assert_eq!(os_distro(inspected), want, "{inspected}");
        }
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        for (word, want) in [
            ("os_distro=centos", "os_distro=centos"),
            ("/tmp/a b.qcow2", "'/tmp/a b.qcow2'"),
            ("it's", r"'it'\''s'"),
            ("", "''"),
            ("$(reboot)", "'$(reboot)'"),
        ] {
            assert_eq!(sh(word), want, "{word}");
        }
    }
}
