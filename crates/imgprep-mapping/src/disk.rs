//! The disk format each cloud imports, and whether the image file is in it.

use std::io::Read as _;
use std::path::Path;

use imgprep_rules::Cloud;
use serde::Serialize;

use crate::{Error, Inputs};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The two kinds of VHD a cloud tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VhdKind {
    /// The disk's bytes, then a 512-byte footer.
    Fixed,
    /// A footer copy, a header and a block allocation table first; blocks allocated on write.
    Dynamic,
}

/// What [`crate::mapping`] needs to know about the image file beyond the inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// Which kind of VHD, for a VHD.
    pub vhd: Option<VhdKind>,
}

/// Reads what the inspection does not say about the file at `path` whose container format is
/// `format` (as [`imgprep_inspect::DiskInfo::format`] names it): for a VHD, whether it is fixed
/// or dynamic. A dynamic VHD keeps a copy of its footer (cookie `conectix`) at offset 0; a fixed
/// one has it only at the end.
pub fn file_facts(path: &Path, format: &str) -> Result<FileFacts, Error> {
    if format != "vhd" {
        return Ok(FileFacts { vhd: None });
    }
    let mut head = [0u8; 8];
    fs_err::File::open(path)?.read_exact(&mut head)?;
    let kind = if &head == b"conectix" {
        VhdKind::Dynamic
    } else {
        VhdKind::Fixed
    };
    Ok(FileFacts { vhd: Some(kind) })
}

/// What a cloud imports.
struct Target {
    /// Container formats it takes, as imgprep names them.
    accepted: &'static [&'static str],
    /// Only fixed VHDs.
    fixed_vhd: bool,
    /// The virtual size must be a multiple of this.
    align: Option<u64>,
    /// `imgprep prepare --output-format` to convert to.
    convert_to: &'static str,
    requirement: &'static str,
    source: &'static str,
}

fn target(cloud: Cloud) -> Target {
    match cloud {
        Cloud::Aws => Target {
            accepted: &["raw", "vmdk", "vhd", "vhdx"],
            fixed_vhd: false,
            align: None,
            convert_to: "vmdk",
            requirement: "VM Import takes OVA, VMDK (stream-optimized), VHD and VHDX (fixed or \
                          dynamic) and raw disk images; not qcow2",
            source: "AWS VM Import/Export User Guide, \"Image formats supported by VM \
                     Import/Export\"",
        },
        Cloud::Azure => Target {
            accepted: &["vhd"],
            fixed_vhd: true,
            align: Some(MIB),
            convert_to: "vhd",
            requirement: "a fixed VHD whose virtual size is a multiple of 1 MiB",
            source: "Azure, \"Prepare a Windows VHD or VHDX to upload to Azure\" and \"Prepare \
                     Linux for imaging in Azure\" (VHDX and dynamic VHD are not supported; sizes \
                     aligned to 1 MB)",
        },
        Cloud::Google => Target {
            accepted: &["raw"],
            fixed_vhd: false,
            align: Some(GIB),
            convert_to: "raw",
            requirement: "a raw disk named disk.raw, in a gzip-compressed tar archive (oldgnu \
                          format), its size a whole number of GiB",
            source: "Google Compute Engine, \"Manually import boot disks\"",
        },
        Cloud::Openstack => Target {
            accepted: &["qcow2", "raw", "vmdk", "vhd", "vhdx"],
            fixed_vhd: false,
            align: None,
            convert_to: "qcow2",
            requirement: "any Glance disk format; qcow2 is what KVM clouds run best",
            source: "OpenStack Glance, \"Disk and container formats\"",
        },
        Cloud::Rackspace => Target {
            accepted: &["vhd"],
            fixed_vhd: false,
            align: None,
            convert_to: "vhd",
            requirement: "a VHD (XenServer), imported with container format ovf",
            source: "Rackspace Cloud Images, \"Preparing an image for import into the Rackspace \
                     open cloud\"",
        },
        Cloud::Softlayer => Target {
            accepted: &["vhd", "vmdk"],
            fixed_vhd: false,
            align: None,
            convert_to: "vhd",
            requirement: "a VHD or VMDK image",
            source: "IBM Cloud classic infrastructure, \"Importing an image\"",
        },
        Cloud::Alibaba => Target {
            accepted: &["qcow2", "raw", "vhd", "vmdk"],
            fixed_vhd: false,
            align: None,
            convert_to: "qcow2",
            requirement: "a qcow2, raw, VHD or VMDK image",
            source: "Alibaba Cloud ECS, \"Import custom images\"",
        },
        Cloud::Vmware => Target {
            accepted: &["vmdk"],
            fixed_vhd: false,
            align: None,
            convert_to: "vmdk",
            requirement: "a VMDK (stream-optimized to upload)",
            source: "VMware vSphere, \"Deploying OVF and OVA templates\"",
        },
    }
}

/// Whether the image file is something the cloud imports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DiskCheck {
    /// The file's container format.
    pub format: String,
    /// Fixed or dynamic, for a VHD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vhd: Option<VhdKind>,
    /// Size of the virtual disk in bytes.
    pub virtual_size: u64,
    /// Formats the cloud imports.
    pub accepted: Vec<String>,
    /// What the cloud wants, in words.
    pub requirement: String,
    /// Where that comes from.
    pub source: String,
    /// True when the file meets it as it is.
    pub meets: bool,
    /// What is wrong, one sentence each.
    pub problems: Vec<String>,
    /// How to convert it, when it does not meet the requirement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convert: Option<String>,
    /// The format `convert` writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// The file to import after conversion (or the image itself).
    pub import_file: String,
    /// Google only: how to package the raw disk for upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// A string quoted for a POSIX shell.
pub(crate) fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn size_text(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

pub(crate) fn check(inputs: &Inputs<'_>) -> DiskCheck {
    let t = target(inputs.cloud);
    let d = inputs.disk;
    let mut problems = Vec::new();
    let mut needs_convert = false;
    if !t.accepted.contains(&d.format.as_str()) {
        problems.push(format!(
            "{} does not import {} images (it takes {})",
            inputs.cloud,
            d.format,
            t.accepted.join(", ")
        ));
        needs_convert = true;
    }
    if t.fixed_vhd && d.format == "vhd" && inputs.file.vhd == Some(VhdKind::Dynamic) {
        problems.push(format!(
            "this is a dynamic VHD; {} takes only fixed VHDs",
            inputs.cloud
        ));
        needs_convert = true;
    }
    if d.chain.len() > 1 || !d.companions.is_empty() {
        let other = d
            .chain
            .get(1)
            .map(|l| format!("backing file {}", l.path))
            .or_else(|| d.companions.first().map(|c| c.path.clone()))
            .unwrap_or_default();
        problems.push(format!(
            "the image reads other files ({other}); a cloud imports one self-contained file"
        ));
        needs_convert = true;
    }
    let mut grow_to = None;
    if let Some(align) = t.align
        && !d.virtual_size.is_multiple_of(align)
    {
        let aligned = d.virtual_size.div_ceil(align) * align;
        problems.push(format!(
            "the virtual size {} bytes is not a multiple of {} ({align} bytes); grow it to {} \
             ({aligned} bytes)",
            d.virtual_size,
            size_text(align),
            size_text(aligned),
        ));
        grow_to = Some(aligned);
        // imgprep prepare aligns a VHD to 1 MiB itself; a raw disk is grown before packaging.
        if t.convert_to == "vhd" {
            needs_convert = true;
        }
    }
    let image = inputs.image.display().to_string();
    let stem = inputs
        .image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let (convert, import_file) = if needs_convert {
        let out = format!("{stem}.{}", t.convert_to);
        // Not the input's name: run in its directory, that would be the input itself.
        let same = inputs
            .image
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == out);
        let out = if same {
            format!("{stem}-{}.{}", inputs.cloud, t.convert_to)
        } else {
            out
        };
        (
            Some(format!(
                "imgprep prepare {} --profile cloudcenter-worker -o {} --output-format {}",
                sh(&image),
                sh(&out),
                t.convert_to
            )),
            out,
        )
    } else {
        (None, image)
    };
    // In a directory of its own: the input is never the file resized or packed.
    let package = (inputs.cloud == Cloud::Google).then(|| {
        let dir = sh(&format!("{stem}-gce"));
        let mut steps = vec![
            format!("mkdir -p {dir}"),
            format!("cp --sparse=always {} {dir}/disk.raw", sh(&import_file)),
        ];
        if let Some(size) = grow_to {
            steps.push(format!("qemu-img resize -f raw {dir}/disk.raw {size}"));
        }
        steps.push(format!(
            "tar -C {dir} --format=oldgnu -Sczf {} disk.raw",
            sh(&format!("{stem}.tar.gz"))
        ));
        steps.join(" && ")
    });
    let meets = problems.is_empty();
    DiskCheck {
        format: d.format.clone(),
        vhd: inputs.file.vhd,
        virtual_size: d.virtual_size,
        accepted: t.accepted.iter().map(|s| (*s).to_owned()).collect(),
        requirement: t.requirement.into(),
        source: t.source.into(),
        meets,
        problems,
        output_format: convert.is_some().then(|| t.convert_to.to_owned()),
        convert,
        import_file,
        package,
    }
}
