//! `imgprep mapping` on fixture images: the OpenStack properties and command line, the disk
//! format check per cloud, and the CloudCenter record, each against what the rules (README of
//! rules/, the support matrix) and the clouds' import requirements say.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn cc(name: &str) -> PathBuf {
    common::fixture("rules-cloudcenter").join(name)
}

fn rs(name: &str) -> PathBuf {
    common::fixture("rules-rackspace").join(name)
}

/// `imgprep mapping IMAGE --cloud CLOUD` as JSON, expecting exit status `code`.
fn mapping(image: &Path, cloud: &str, code: i32) -> Value {
    let out = common::imgprep_ok(
        [
            "mapping".as_ref(),
            image.as_os_str(),
            "--cloud".as_ref(),
            cloud.as_ref(),
        ],
        code,
    );
    serde_json::from_str(&out).expect("mapping JSON")
}

fn shell(image: &Path, cloud: &str, code: i32) -> String {
    common::imgprep_ok(
        [
            "mapping".as_ref(),
            image.as_os_str(),
            "--cloud".as_ref(),
            cloud.as_ref(),
            "--format".as_ref(),
            "shell".as_ref(),
        ],
        code,
    )
}

/// Converts `src` with qemu-img into `dir/name`.
fn convert(src: &Path, dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let st = Command::new("qemu-img")
        .arg("convert")
        .args(args)
        .arg(src)
        .arg(&out)
        .status()
        .expect("qemu-img runs");
    assert!(st.success(), "qemu-img convert {args:?}");
    out
}

#[test]
fn openstack_centos7_with_the_worker_is_ready_with_every_property() {
    let img = cc("cc-centos7-ready.qcow2");
    let m = mapping(&img, "openstack", 0);
    assert_eq!(
        m["openstack"]["properties"],
        json!({
            "architecture": "x86_64",
            "hw_disk_bus": "virtio",
            "os_distro": "centos",
            "os_type": "linux",
            "os_version": "7.9",
        })
    );
    assert_eq!(
        m["openstack"]["command"],
        format!(
            "openstack image create --disk-format qcow2 --container-format bare --file {} \
             --property architecture=x86_64 --property hw_disk_bus=virtio \
             --property os_distro=centos --property os_type=linux --property os_version=7.9 \
             cc-centos7-ready",
            img.display()
        )
    );
    assert_eq!(m["disk"]["format"], "qcow2");
    assert_eq!(m["disk"]["meets"], true);
    assert_eq!(m["disk"]["problems"], json!([]));
    assert_eq!(m["cloudcenter"]["os_type"], "Linux");
    assert_eq!(m["cloudcenter"]["worker"], "baked-in");
    assert_eq!(m["cloudcenter"]["bootstrap"]["matrix_os"], "centos-7");
    assert_eq!(m["cloudcenter"]["bootstrap"]["support"], "yes");
    assert_eq!(m["ready"], true);
}

#[test]
fn without_the_worker_or_cloud_init_the_bootstrap_is_not_ready() {
    let m = mapping(&cc("cc-centos7-bare.qcow2"), "openstack", 1);
    assert_eq!(m["os"]["version"], "7.1");
    assert_eq!(m["cloudcenter"]["worker"], "bootstrap");
    assert_eq!(
        m["cloudcenter"]["bootstrap"]["method"],
        "cloud-init user data"
    );
    assert_eq!(m["cloudcenter"]["bootstrap"]["method_ready"], false);
    assert_eq!(m["cloudcenter"]["ready"], false);
    let reason = m["cloudcenter"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("cloud-init.present did not pass"),
        "{reason}"
    );
    // The disk itself is fine for OpenStack.
    assert_eq!(m["disk"]["meets"], true);
}

#[test]
fn rhel7_on_openstack_cannot_be_bootstrapped_per_the_matrix() {
    let m = mapping(&cc("cc-rhel7-requiretty.qcow2"), "openstack", 1);
    assert_eq!(m["openstack"]["properties"]["os_distro"], "rhel");
    assert_eq!(m["cloudcenter"]["bootstrap"]["support"], "no");
    if m["cloudcenter"]["worker"] != "baked-in" {
        assert_eq!(m["cloudcenter"]["worker"], "missing");
        assert_eq!(m["ready"], false);
    }
}

#[test]
fn rackspace_cloud_init_without_nova_agent_gets_the_config_drive_metadata() {
    let m = mapping(&rs("rs-cloud-init-only.qcow2"), "rackspace", 1);
    let p = &m["openstack"]["properties"];
    assert_eq!(p["img_config_drive"], "mandatory");
    assert_eq!(p["vm_mode"], "hvm");
    assert_eq!(p["xenapi_use_agent"], "False");
    assert_eq!(p["os_distro"], "debian");
    assert_eq!(m["openstack"]["container_format"], "ovf");
    // Rackspace imports VHD: the qcow2 must be converted, and the command uses the result.
    assert_eq!(m["disk"]["meets"], false);
    assert_eq!(
        m["disk"]["problems"],
        json!(["rackspace does not import qcow2 images (it takes vhd)"])
    );
    let convert = m["disk"]["convert"].as_str().unwrap_or_default();
    assert!(
        convert.ends_with("-o rs-cloud-init-only.vhd --output-format vhd"),
        "{convert}"
    );
    assert_eq!(m["openstack"]["disk_format"], "vhd");
    let cmd = m["openstack"]["command"].as_str().unwrap_or_default();
    assert!(cmd.contains("--file rs-cloud-init-only.vhd "), "{cmd}");
    assert!(cmd.contains("--property xenapi_use_agent=False"), "{cmd}");
}

#[test]
fn rackspace_with_nova_agent_gets_no_config_drive_metadata() {
    let m = mapping(&rs("rs-v2-ordered.qcow2"), "rackspace", 1);
    let p = m["openstack"]["properties"]
        .as_object()
        .expect("properties");
    for k in ["img_config_drive", "vm_mode", "xenapi_use_agent"] {
        assert!(
            !p.contains_key(k),
            "{k} set with nova-agent installed: {p:?}"
        );
    }
    // The same cloud-init image on plain OpenStack: no Rackspace metadata either.
    let m = mapping(&rs("rs-cloud-init-only.qcow2"), "openstack", 1);
    assert!(
        m["openstack"]["properties"]
            .get("img_config_drive")
            .is_none()
    );
}

#[test]
fn windows_without_virtio_drivers_is_attached_as_ide_and_bootstraps_through_cloudbase_init() {
    let img = common::fixture("windows-2012r2").join("win2012r2-like.vhdx");
    let m = mapping(&img, "openstack", 0);
    let p = &m["openstack"]["properties"];
    assert_eq!(p["os_type"], "windows");
    assert_eq!(p["os_distro"], "windows");
    assert_eq!(p["os_version"], "6.3");
    assert_eq!(p["hw_disk_bus"], "ide");
    assert_eq!(m["openstack"]["disk_format"], "vhdx");
    assert_eq!(m["cloudcenter"]["os_type"], "Windows");
    assert_eq!(
        m["cloudcenter"]["bootstrap"]["method"],
        "cloudbase-init user data"
    );
    assert_eq!(m["cloudcenter"]["bootstrap"]["matrix_os"], "windows-2012");
}

#[test]
fn azure_takes_a_fixed_vhd_aligned_to_1_mib_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = cc("cc-centos7-ready.qcow2");

    let m = mapping(&src, "azure", 1);
    assert_eq!(
        m["disk"]["problems"],
        json!(["azure does not import qcow2 images (it takes vhd)"])
    );
    assert_eq!(
        m["disk"]["convert"],
        format!(
            "imgprep prepare {} --profile cloudcenter-worker -o cc-centos7-ready.vhd \
             --output-format vhd",
            src.display()
        )
    );

    // qemu-img's default VHD is dynamic, with a CHS-rounded size.
    let dynamic = convert(&src, dir.path(), "dyn.vhd", &["-O", "vpc"]);
    let m = mapping(&dynamic, "azure", 1);
    assert_eq!(m["disk"]["vhd"], "dynamic");
    let problems = m["disk"]["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(
        problems[0],
        "this is a dynamic VHD; azure takes only fixed VHDs"
    );
    let size = m["disk"]["virtual_size"].as_u64().expect("size");
    assert_ne!(size % (1 << 20), 0);
    assert_eq!(
        problems[1],
        format!(
            "the virtual size {size} bytes is not a multiple of 1 MiB (1048576 bytes); grow it \
             to 26 MiB (27262976 bytes)"
        )
    );
    // Run in its own directory, the output must not be named like the input.
    let convert_cmd = m["disk"]["convert"].as_str().unwrap_or_default();
    assert!(convert_cmd.contains("-o dyn-azure.vhd "), "{convert_cmd}");

    // What imgprep prepare --output-format vhd writes: fixed, 25 MiB exactly.
    let fixed = convert(
        &src,
        dir.path(),
        "fixed.vhd",
        &["-O", "vpc", "-o", "subformat=fixed,force_size=on"],
    );
    let m = mapping(&fixed, "azure", 0);
    assert_eq!(m["disk"]["vhd"], "fixed");
    assert_eq!(m["disk"]["virtual_size"], 26_214_400);
    assert_eq!(m["disk"]["meets"], true);
    assert!(m["disk"].get("convert").is_none());
    assert!(m.get("openstack").is_none());
}

#[test]
fn google_takes_raw_packed_as_disk_raw_in_whole_gib() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = convert(
        &cc("cc-centos7-ready.qcow2"),
        dir.path(),
        "golden.img",
        &["-O", "raw"],
    );
    let m = mapping(&raw, "google", 1);
    assert_eq!(m["disk"]["format"], "raw");
    assert_eq!(
        m["disk"]["problems"],
        json!([
            "the virtual size 26214400 bytes is not a multiple of 1 GiB (1073741824 bytes); \
             grow it to 1 GiB (1073741824 bytes)"
        ])
    );
    assert!(m["disk"].get("convert").is_none());
    assert_eq!(
        m["disk"]["package"],
        format!(
            "mkdir -p golden-gce && cp --sparse=always {} golden-gce/disk.raw && qemu-img resize \
             -f raw golden-gce/disk.raw 1073741824 && tar -C golden-gce --format=oldgnu -Sczf \
             golden.tar.gz disk.raw",
            raw.display()
        )
    );

    // Run the packaging it prints, then map the grown copy: it meets the requirement.
    let st = Command::new("sh")
        .arg("-ec")
        .arg(m["disk"]["package"].as_str().unwrap_or_default())
        .current_dir(dir.path())
        .status()
        .expect("sh runs");
    assert!(st.success());
    let grown = dir.path().join("golden-gce/disk.raw");
    let m = mapping(&grown, "google", 0);
    assert_eq!(m["disk"]["virtual_size"], 1u64 << 30);
    assert_eq!(m["disk"]["meets"], true);
    let list = Command::new("tar")
        .args(["-tzf", "golden.tar.gz"])
        .current_dir(dir.path())
        .output()
        .expect("tar runs");
    assert_eq!(String::from_utf8_lossy(&list.stdout), "disk.raw\n");
}

#[test]
fn aws_does_not_import_qcow2_and_vm_import_takes_vmdk() {
    let m = mapping(&cc("cc-centos7-ready.qcow2"), "aws", 1);
    assert_eq!(m["disk"]["accepted"], json!(["raw", "vmdk", "vhd", "vhdx"]));
    assert_eq!(m["disk"]["output_format"], "vmdk");
    assert_eq!(m["disk"]["import_file"], "cc-centos7-ready.vmdk");
    let dir = tempfile::tempdir().expect("tempdir");
    let vmdk = convert(
        &cc("cc-centos7-ready.qcow2"),
        dir.path(),
        "golden.vmdk",
        &["-O", "vmdk", "-o", "subformat=streamOptimized"],
    );
    let m = mapping(&vmdk, "aws", 0);
    assert_eq!(m["disk"]["meets"], true);
}

#[test]
fn the_shell_output_runs_with_every_argument_quoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("golden image's.qcow2");
    fs_err::copy(cc("cc-centos7-ready.qcow2"), &img).expect("copy");
    let text = shell(&img, "openstack", 0);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("# imgprep mapping: ") && lines[0].ends_with("on openstack: ready")
    );
    let cmd = lines.last().copied().unwrap_or_default();
    assert!(cmd.starts_with("openstack image create "), "{text}");
    // Run the script with `openstack` printing its arguments, one per line.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("openstack() {{ printf '%s\\n' \"$@\"; }}\n{text}"))
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let file = args.iter().position(|a| a == "--file").expect("--file");
    assert_eq!(args[file + 1], img.display().to_string());
    assert_eq!(args.last().map(String::as_str), Some("golden image's"));
    assert!(args.contains(&"os_distro=centos".to_owned()), "{args:?}");
}

#[test]
fn an_image_without_an_os_is_exit_2_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("blank.raw");
    fs_err::write(&img, vec![0u8; 1 << 20]).expect("write");
    let out = common::imgprep([
        "mapping".as_ref(),
        img.as_os_str(),
        "--cloud".as_ref(),
        "aws".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no operating system found, nothing to map"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
