//! `imgprep inspect --format json` against virt-inspector's XML, recorded when each fixture was
//! built (images-test/lib.sh `inspector`), on every field virt-inspector reports.
//!
//! Where imgprep deliberately reports more than libguestfs 1.48 (fstab `PARTUUID=` entries, which
//! libguestfs resolves only from 1.52), the case lists the extra entries and why; where it
//! deliberately reports something else (a distribution libguestfs does not know, a device name
//! libguestfs gets wrong), the case names the field or device, imgprep's value and why; anything
//! else that differs fails.

mod common;

use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// An entry imgprep reports that virt-inspector 1.48 does not, with the reason.
struct Extra {
    field: &'static str,
    entry: Value,
    why: &'static str,
}

/// Where imgprep deliberately reports something else than virt-inspector 1.48, with the reason.
enum Known {
    /// imgprep reports `imgprep` for `field`; `None`: the reference lacks the field on purpose
    /// (virt-inspector could not produce it) and another test checks imgprep's value.
    Field {
        field: &'static str,
        imgprep: Option<Value>,
        why: &'static str,
    },
    /// The reference may name a device `reference` (a prefix) where imgprep names it `imgprep`.
    Device {
        reference: &'static str,
        imgprep: &'static str,
    },
    /// A `--key` both were given (virt-inspector when the fixture was built).
    Key(String),
}

const PARTUUID: &str = "libguestfs 1.48 ignores PARTUUID= in fstab (resolved upstream since 1.52)";

/// `dev` mounted on `path` through a `PARTUUID=` fstab entry, with what blkid says of it.
fn partuuid_mount(dev: &str, path: &str, fs: Value) -> Vec<Extra> {
    let mut fs = fs;
    fs["dev"] = json!(dev);
    vec![
        Extra {
            field: "mountpoints",
            entry: json!({"dev": dev, "path": path}),
            why: PARTUUID,
        },
        Extra {
            field: "filesystems",
            entry: fs,
            why: PARTUUID,
        },
    ]
}

/// virt-inspector's XML as the JSON imgprep prints.
fn xml_to_json(xml: &str) -> Value {
    let doc = roxmltree::Document::parse(xml).expect("virt-inspector XML parses");
    let oses: Vec<Value> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("operatingsystem"))
        .map(|os| {
            let mut m = Map::new();
            for c in os.children().filter(roxmltree::Node::is_element) {
                let name = c.tag_name().name();
                let v = match name {
                    "major_version" | "minor_version" => {
                        json!(c.text().unwrap_or("0").parse::<u64>().expect("number"))
                    }
                    "mountpoints" => Value::Array(
                        elements(c)
                            .map(|e| json!({"dev": e.attribute("dev"), "path": text(e)}))
                            .collect(),
                    ),
                    "drive_mappings" => Value::Array(
                        elements(c)
                            .map(|e| json!({"name": e.attribute("name"), "dev": text(e)}))
                            .collect(),
                    ),
                    "filesystems" => Value::Array(
                        elements(c)
                            .map(|e| {
                                let mut f = fields(e);
                                f.insert("dev".into(), json!(e.attribute("dev")));
                                Value::Object(f)
                            })
                            .collect(),
                    ),
                    "applications" => Value::Array(
                        elements(c)
                            .map(|e| {
                                let mut f = fields(e);
                                if let Some(ep) = f.get_mut("epoch") {
                                    *ep = json!(
                                        ep.as_str()
                                            .and_then(|s| s.parse::<u64>().ok())
                                            .expect("virt-inspector epochs are integers")
                                    );
                                }
                                Value::Object(f)
                            })
                            .collect(),
                    ),
                    _ => json!(text(c)),
                };
                m.insert(name.into(), v);
            }
            Value::Object(m)
        })
        .collect();
    json!({ "operatingsystems": oses })
}

fn elements<'a>(n: roxmltree::Node<'a, 'a>) -> impl Iterator<Item = roxmltree::Node<'a, 'a>> {
    n.children().filter(roxmltree::Node::is_element)
}

fn text(n: roxmltree::Node<'_, '_>) -> String {
    n.text().unwrap_or("").to_owned()
}

fn fields(n: roxmltree::Node<'_, '_>) -> Map<String, Value> {
    elements(n)
        .map(|c| (c.tag_name().name().to_owned(), json!(text(c))))
        .collect()
}

/// Applications in a stable order (virt-inspector sorts by name only, unstably).
fn sort_apps(os: &mut Value) {
    if let Some(Value::Array(apps)) = os.get_mut("applications") {
        apps.sort_by_key(|a| a.to_string());
    }
}

/// Compares the disks of one VM (the reference XML is next to the first); returns the differences.
fn compare(images: &[PathBuf], extras: &[Extra], known: &[Known]) -> Vec<String> {
    let xml = PathBuf::from(format!("{}.inspector.xml", images[0].display()));
    compare_with(&xml, images, extras, known)
}

/// Compares the disks of one VM with the virt-inspector XML `reference`.
fn compare_with(
    reference: &std::path::Path,
    images: &[PathBuf],
    extras: &[Extra],
    known: &[Known],
) -> Vec<String> {
    let mut xml = fs_err::read_to_string(reference).expect("reference XML");
    let mut diffs = Vec::new();
    for k in known {
        if let Known::Device { reference, imgprep } = k {
            xml = xml.replace(reference, imgprep);
        }
    }
    let want = xml_to_json(&xml);
    let mut args = vec!["inspect", "--format", "json"];
    for k in known {
        if let Known::Key(key) = k {
            args.extend(["--key", key.as_str()]);
        }
    }
    args.extend(
        images
            .iter()
            .map(|i| i.to_str().expect("UTF-8 fixture path")),
    );
    let ours: Value =
        serde_json::from_str(&common::imgprep_ok(args, 0)).expect("imgprep prints JSON");
    let (w, o) = (&want["operatingsystems"], &ours["operatingsystems"]);
    let w = w.as_array().expect("virt-inspector lists operatingsystems");
    let o = o.as_array().expect("imgprep lists operatingsystems");
    if w.len() != o.len() {
        diffs.push(format!(
            "{} operating systems, virt-inspector {}",
            o.len(),
            w.len()
        ));
    }
    for (mut w, o) in w.iter().cloned().zip(o.iter().cloned()) {
        let mut o = o;
        for x in extras {
            let list = o[x.field]
                .as_array_mut()
                .expect("an extra entry's field is a list");
            match list.iter().position(|e| *e == x.entry) {
                Some(i) => {
                    list.remove(i);
                }
                None => diffs.push(format!(
                    "expected extra {} entry {} ({}) is missing",
                    x.field, x.entry, x.why
                )),
            }
        }
        for k in known {
            let Known::Field {
                field,
                imgprep,
                why,
            } = k
            else {
                continue;
            };
            match (imgprep, o.get(field)) {
                (Some(v), Some(ov)) if v == ov => {}
                (None, Some(_)) => {}
                (_, ov) => diffs.push(format!(
                    "{field}: imgprep {}, expected {} ({why})",
                    ov.unwrap_or(&Value::Null),
                    imgprep.as_ref().map_or("a value".into(), Value::to_string),
                )),
            }
            match w.get(field) {
                Some(wv) => o[field] = wv.clone(),
                None => {
                    o.as_object_mut()
                        .expect("an operating system is an object")
                        .remove(*field);
                }
            }
        }
        sort_apps(&mut w);
        sort_apps(&mut o);
        let wm = w.as_object().expect("an operating system is an object");
        let om = o.as_object().expect("an operating system is an object");
        for (k, wv) in wm {
            let ov = om.get(k).cloned().unwrap_or(Value::Null);
            if *wv == ov {
                continue;
            }
            match (wv, &ov) {
                (Value::Array(wa), Value::Array(oa)) => {
                    for e in wa.iter().filter(|e| !oa.contains(e)) {
                        diffs.push(format!("{k}: missing {e}"));
                    }
                    for e in oa.iter().filter(|e| !wa.contains(e)) {
                        diffs.push(format!("{k}: unexpected {e}"));
                    }
                    if diffs.is_empty() {
                        diffs.push(format!("{k}: same entries, different order"));
                    }
                }
                _ => diffs.push(format!("{k}: imgprep {ov}, virt-inspector {wv}")),
            }
        }
        // Fields virt-inspector leaves out must be left out by imgprep too (or be imgprep's own).
        for (k, ov) in om {
            let ours_only = matches!(k.as_str(), "notes" | "services");
            let empty = ov.as_array().is_some_and(Vec::is_empty);
            if !wm.contains_key(k) && !ours_only && !empty {
                diffs.push(format!("{k}: imgprep {ov}, virt-inspector has none"));
            }
        }
    }
    diffs
}

fn check(fixture: &str, image: &str, extras: &[Extra]) {
    check_vm(fixture, &[image], extras, &[]);
}

/// Compares the VM made of `images` (disk order), with the known extra entries and differences.
fn check_vm(fixture: &str, images: &[&str], extras: &[Extra], known: &[Known]) {
    let dir = common::fixture(fixture);
    let paths: Vec<PathBuf> = images.iter().map(|i| dir.join(i)).collect();
    let diffs = compare(&paths, extras, known);
    assert!(
        diffs.is_empty(),
        "{fixture}/{} differs from virt-inspector:\n  {}",
        images.join(" + "),
        diffs.join("\n  ")
    );
}

#[test]
fn debian_gpt_qcow2() {
    let srv =
        json!({"type": "ext2", "label": "srv", "uuid": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"});
    check(
        "debian-gpt",
        "debian-gpt.qcow2",
        &partuuid_mount("/dev/sda4", "/srv", srv),
    );
}

// Windows look-alikes (images-test/windows-*.sh): MBR and GPT drive letters, both Uninstall
// views, CurrentVersion with and without the version DWORDs.

#[test]
fn windows_2008r2_qcow2() {
    check("windows-2008r2", "win2008r2-like.qcow2", &[]);
    check_services("windows-2008r2", "win2008r2-like.qcow2");
}

#[test]
fn windows_2012r2_vhdx() {
    check("windows-2012r2", "win2012r2-like.vhdx", &[]);
    check_services("windows-2012r2", "win2012r2-like.vhdx");
}

#[test]
fn windows_2016_vmdk() {
    check("windows-2016", "win2016-like.vmdk", &[]);
    check_services("windows-2016", "win2016-like.vmdk");
}

#[test]
fn windows_2016_noipv6_qcow2() {
    check("windows-2016-noipv6", "win2016-noipv6.qcow2", &[]);
    check_services("windows-2016-noipv6", "win2016-noipv6.qcow2");
}

/// imgprep's `services` against the SYSTEM hive as `hivexregedit --export` wrote it next to the
/// image: every key under the current control set's `Services` whose `Type` has a Win32 service
/// bit (0x10 own process, 0x20 shared process), with its DisplayName, ImagePath and Start.
fn check_services(fixture: &str, image: &str) {
    let path = common::fixture(fixture).join(image);
    let reg = fs_err::read_to_string(format!("{}.SYSTEM.reg", path.display()))
        .expect("hive export next to the image");
    let keys = parse_reg(&reg, "HKEY_LOCAL_MACHINE\\SYSTEM\\");
    let current = match keys.get("Select").and_then(|v| v.get("Current")) {
        Some(RegValue::Dword(n)) => format!("ControlSet{n:03}"),
        other => panic!("{image}: Select\\Current is {other:?}"),
    };
    let prefix = format!("{current}\\Services\\");
    let mut want: Vec<Value> = keys
        .iter()
        .filter_map(|(k, values)| {
            let name = k.strip_prefix(&prefix).filter(|n| !n.contains('\\'))?;
            let Some(RegValue::Dword(ty)) = values.get("Type") else {
                return None;
            };
            if ty & 0x30 == 0 {
                return None;
            }
            let mut s = Map::new();
            s.insert("name".into(), json!(name));
            for (value, field) in [("DisplayName", "display_name"), ("ImagePath", "image_path")] {
                if let Some(RegValue::Str(v)) = values.get(value) {
                    s.insert(field.into(), json!(v));
                }
            }
            if let Some(RegValue::Dword(n)) = values.get("Start") {
                let start = ["boot", "system", "automatic", "manual", "disabled"]
                    .get(*n as usize)
                    .copied()
                    .unwrap_or("unknown");
                s.insert("start".into(), json!(start));
            }
            Some(Value::Object(s))
        })
        .collect();
    let ours: Value = serde_json::from_str(&common::imgprep_ok(
        [
            "inspect",
            "--format",
            "json",
            path.to_str().expect("UTF-8 fixture path"),
        ],
        0,
    ))
    .expect("imgprep prints JSON");
    let mut got = ours["operatingsystems"][0]["services"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_name = |v: &Value| v["name"].as_str().unwrap_or("").to_ascii_lowercase();
    want.sort_by_key(by_name);
    got.sort_by_key(by_name);
    assert!(
        want.len() > 3,
        "{image}: the hive export lists too few services to compare: {want:?}"
    );
    assert_eq!(
        got, want,
        "{image}: services differ from the SYSTEM hive export"
    );
}

/// A registry value from a `.reg` export.
#[derive(Debug, Clone, PartialEq)]
enum RegValue {
    Str(String),
    Dword(u32),
    Other,
}

/// Keys (below `prefix`) and their values from a `hivexregedit --export` file. Strings are
/// written as hex(1) / hex(2): UTF-16LE with a terminating NUL.
fn parse_reg(text: &str, prefix: &str) -> std::collections::BTreeMap<String, Map2> {
    let mut keys = std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        assert!(
            !line.ends_with('\\'),
            "continuation lines are not expected: {line}"
        );
        if let Some(k) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let k = k
                .strip_prefix(prefix)
                .expect("key under the prefix")
                .to_owned();
            keys.entry(k.clone()).or_insert_with(Map2::new);
            current = Some(k);
        } else if let Some(rest) = line.strip_prefix('"') {
            let (name, data) = split_value(rest);
            let key = current.as_ref().expect("a value inside a key");
            keys.get_mut(key)
                .expect("the current key was recorded")
                .insert(name, parse_data(data));
        }
    }
    keys
}

type Map2 = std::collections::BTreeMap<String, RegValue>;

/// `name"=data` (after the opening quote): the unescaped name and the data.
fn split_value(s: &str) -> (String, &str) {
    let mut name = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => name.push(chars.next().expect("escaped character").1),
            '"' => return (name, s[i + 1..].strip_prefix('=').expect("=")),
            c => name.push(c),
        }
    }
    panic!("unterminated value name: {s}");
}

fn parse_data(d: &str) -> RegValue {
    if let Some(h) = d.strip_prefix("dword:") {
        return RegValue::Dword(u32::from_str_radix(h, 16).expect("dword"));
    }
    let Some(hex) = d
        .strip_prefix("hex(1):")
        .or_else(|| d.strip_prefix("hex(2):"))
    else {
        return RegValue::Other;
    };
    let bytes: Vec<u8> = hex
        .split(',')
        .filter(|b| !b.is_empty())
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect();
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16(&units).expect("UTF-16");
    RegValue::Str(s.trim_end_matches('\0').to_owned())
}

#[test]
fn alpine_qcow2() {
    check("alpine-like", "alpine-like.qcow2", &[]);
}

// Debian and Ubuntu (images-test/debian-*.sh, ubuntu-like.sh): every container format, MBR with
// logical partitions, backing chains, a partitionless disk.

#[test]
fn debian_mbr_vmdk_vhd_vhdx() {
    for image in ["debian-mbr.vmdk", "debian-mbr.vhd", "debian-mbr.vhdx"] {
        check("debian-mbr", image, &[]);
    }
}

#[test]
fn debian_backing_chain() {
    for image in [
        "debian-backing-base.qcow2",
        "debian-backing-overlay.qcow2",
        "debian-backing-top.qcow2",
    ] {
        check("debian-backing", image, &[]);
    }
}

#[test]
fn debian_raw_without_partitions() {
    check("debian-raw-nopart", "debian-raw-nopart.img", &[]);
}

#[test]
fn ubuntu_1604_and_2204() {
    check("ubuntu-like", "ubuntu1604.qcow2", &[]);
    check("ubuntu-like", "ubuntu2204.qcow2", &[]);
}

#[test]
fn centos7_lvm_xfs_bdb_qcow2() {
    check("centos7-like", "centos7-like.qcow2", &[]);
}

#[test]
fn centos6_lvm_ext4_bdb_vmdk() {
    check("centos6-like", "centos6-like.vmdk", &[]);
}

#[test]
fn rhel7_xfs_bdb_qcow2_v2() {
    check("rhel7-like", "rhel7-like.qcow2", &[]);
}

#[test]
fn fedora_btrfs_subvolumes_qcow2() {
    check_vm(
        "fedora-like",
        &["fedora-like.qcow2"],
        &[],
        // libguestfs 1.48 names btrfs subvolumes by the appliance kernel's device name, which is
        // sdb in the runs where that kernel finds the guest disk second.
        &[Known::Device {
            reference: "btrfsvol:/dev/sdb4/",
            imgprep: "btrfsvol:/dev/sda4/",
        }],
    );
}

#[test]
fn suse_ndb_vhdx() {
    check_vm(
        "suse-like",
        &["suse-like.vhdx"],
        &[],
        &[Known::Field {
            field: "applications",
            imgprep: None,
            why: "virt-inspector ran with --no-applications: libguestfs 1.48 lists rpm packages \
                  with the appliance's librpm, which has no NDB backend (tests/rpm_packages.rs \
                  checks the list)",
        }],
    );
}

#[test]
fn alma9_vmdk() {
    const ALMA: &str = "libguestfs 1.48 knows no AlmaLinux and reports the redhat-release \
                        fallback (distro redhat-based); imgprep names it";
    check_vm(
        "alma9-like",
        &["alma9-like.vmdk"],
        &[],
        &[
            Known::Field {
                field: "distro",
                imgprep: Some(json!("almalinux")),
                why: ALMA,
            },
            Known::Field {
                field: "osinfo",
                imgprep: Some(json!("almalinux9")),
                why: ALMA,
            },
        ],
    );
}

#[test]
fn lvm_striped_two_disks() {
    check_vm(
        "lvm-striped",
        &["lvm-striped-a.qcow2", "lvm-striped-b.qcow2"],
        &[],
        &[],
    );
}

// LUKS (images-test/luks-layouts.sh): LVM on LUKS2 and filesystems on LUKS1 partitions, opened
// with the keys virt-inspector was given.
/// imgprep's JSON for `image` of the luks-layouts fixture, given `key`.
fn luks_inspect(image: &str, key: &str) -> Value {
    let img = common::fixture("luks-layouts").join(image);
    let out = common::imgprep_ok(
        vec![
            "inspect",
            "--format",
            "json",
            "--key",
            key,
            img.to_str().expect("UTF-8 fixture path"),
        ],
        0,
    );
    let secret = key.rsplit(':').next().unwrap_or(key);
    assert!(!out.contains(secret), "{out}");
    serde_json::from_str(&out).expect("imgprep prints JSON")
}

/// virt-inspector opened the LUKS2 device with the PBKDF2 keyslot's passphrase; the Argon2id
/// keyslot's passphrase and a key named by LUKS UUID must give imgprep the same view.
#[test]
fn luks2_lvm_on_luks() {
    let first = "/dev/sda2:key:correct horse battery";
    check_vm(
        "luks-layouts",
        &["luks2-lvm.img"],
        &[],
        &[Known::Key(first.into())],
    );
    let want = luks_inspect("luks2-lvm.img", first);
    assert_eq!(
        want["operatingsystems"][0]["root"],
        json!("/dev/vgluks/root")
    );
    for key in [
        "/dev/sda2:key:second slot",
        "5a5a0002-0000-4000-8000-00000000a002:key:second slot",
    ] {
        assert_eq!(luks_inspect("luks2-lvm.img", key), want, "{key}");
    }
}

#[test]
fn luks1_filesystems_on_luks_partitions() {
    let keyfile = common::fixture("luks-layouts").join("keyfile.txt");
    check_vm(
        "luks-layouts",
        &["luks1-part.img"],
        &[],
        &[
            Known::Key("/dev/sda1:key:correct horse battery".into()),
            Known::Key(format!("/dev/sda2:file:{}", keyfile.display())),
        ],
    );
}

// Windows as CompactOS and WIMBoot leave it, and a dual-boot disk
// (images-test/windows-compact.sh).

/// Both systems of a dual-boot disk, in virt-inspector's order.
#[test]
fn dual_boot_windows_and_linux() {
    check("windows-compact", "dual-boot.img", &[]);
}

/// virt-inspector 1.48 finds no system on these disks: the appliance's ntfs-3g has no system
/// compression plugin, so to it a WOF-compressed cmd.exe is no file and the volume no Windows
/// root. They are the win2016-like disk with cmd.exe (and explorer.exe) compressed by WOF, or
/// turned into a WIMBoot pointer: imgprep must report what virt-inspector reports for that disk
/// before (windows-2016's reference), the architecture coming from the LZX-compressed cmd.exe,
/// or, under WIMBoot, from PROCESSOR_ARCHITECTURE with a note.
#[test]
fn compactos_and_wimboot_windows() {
    let dir = common::fixture("windows-compact");
    let before = common::fixture("windows-2016").join("win2016-like.vmdk.inspector.xml");
    for image in ["compact.img", "wimboot.img"] {
        let own = fs_err::read_to_string(dir.join(format!("{image}.inspector.xml"))).unwrap();
        assert!(!own.contains("<operatingsystem>"), "{image}: {own}");
        let diffs = compare_with(&before, &[dir.join(image)], &[], &[]);
        assert!(diffs.is_empty(), "{image}:\n  {}", diffs.join("\n  "));
    }
    let notes = |image: &str| {
        let v: Value = serde_json::from_str(&common::imgprep_ok(
            vec![
                "inspect",
                "--format",
                "json",
                "--no-applications",
                dir.join(image).to_str().unwrap(),
            ],
            0,
        ))
        .unwrap();
        v["operatingsystems"][0]["notes"].to_string()
    };
    assert!(!notes("compact.img").contains("PROCESSOR_ARCHITECTURE"));
    let n = notes("wimboot.img");
    assert!(
        n.contains("PROCESSOR_ARCHITECTURE (AMD64)") && n.contains("WIMBoot"),
        "{n}"
    );
}
