//! Differencing disks end to end, over the debian-mbr fixture in each format: a VMDK delta disk
//! written by qemu-img, VHD and VHDX differencing disks written by imgprep-imagegen (naming their
//! parent by a relative Windows path), and a VHDX child whose BAT reads right only once its log
//! is replayed. Each inspects as its parent does, lists its chain and the field naming its
//! parent, fails `image.self-contained`, and is refused (exit 2, one line naming the field) when
//! its parent lies outside the directories imgprep may read.

mod common;

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use imgprep_imagegen::{vhd, vhdx};
use serde_json::Value;

/// `imgprep inspect --format json ARGS…` (exit 0), parsed.
fn inspect(args: &[&str]) -> Value {
    let mut all = vec!["inspect", "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&common::imgprep_ok(&all, 0)).expect("JSON")
}

/// The path of `to` relative to the directory `from` (both absolute, canonical).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to_parts: Vec<Component<'_>> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to_parts[common..] {
        rel.push(c.as_os_str());
    }
    rel
}

fn windows(p: &Path) -> String {
    p.display().to_string().replace('/', "\\")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn differencing_children_inspect_like_their_parent() {
    let fixture = fs_err::canonicalize(common::fixture("debian-mbr")).expect("fixture");
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs_err::canonicalize(tmp.path()).unwrap();
    let allow = ["--allow-backing", s(&fixture)];
    let base = |ext: &str| fixture.join(format!("debian-mbr.{ext}"));
    let parent_view = inspect(&[s(&base("vmdk"))]);
    let os = &parent_view["operatingsystems"];
    assert_eq!(os[0]["hostname"], "golden-deb12", "{parent_view:#}");
    let size = |ext: &str| {
        inspect(&[s(&base(ext))])["disks"][0]["virtual_size"]
            .as_u64()
            .unwrap()
    };

    // VMDK: qemu-img names the parent by its absolute path.
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "vmdk", "-F", "vmdk", "-b"])
        .arg(base("vmdk"))
        .arg(dir.join("delta.vmdk"))
        .output()
        .expect("qemu-img runs");
    assert!(out.status.success(), "{out:?}");

    // VHD: the parent's unique id from its footer, named by W2ru relative to the child.
    let parent = fs_err::read(base("vhd")).unwrap();
    let footer = &parent[parent.len() - 512..];
    let mut child = vhd::Vhd::new(size("vhd"), 2 << 20, [0x31; 16]);
    let rel = windows(&relative(&dir, &base("vhd")));
    child.parent = Some(vhd::Parent {
        unique_id: footer[68..84].try_into().unwrap(),
        name: "debian-mbr.vhd".into(),
        locators: vec![
            vhd::Locator::windows(b"W2ku", "C:\\images\\debian-mbr.vhd"),
            vhd::Locator::windows(b"W2ru", &rel),
        ],
    });
    fs_err::write(dir.join("child.vhd"), child.to_bytes()).unwrap();

    // VHDX: the parent's DataWriteGuid from its current header, named by relative_path.
    let head = {
        let mut f = fs_err::read(base("vhdx")).unwrap();
        f.truncate(1 << 20);
        f
    };
    let (h, _, _) = vhdx::current_header(&head);
    let linkage: [u8; 16] = head[h + 32..h + 48].try_into().unwrap();
    let vhdx_child = || {
        let mut c = vhdx::Vhdx::new(size("vhdx"), 1 << 20, 512, [0x32; 16]);
        c.parent = Some(vec![
            ("parent_linkage".into(), vhdx::guid_text(&linkage)),
            (
                "relative_path".into(),
                windows(&relative(&dir, &base("vhdx"))),
            ),
            (
                "absolute_win32_path".into(),
                "\\\\?\\C:\\images\\debian-mbr.vhdx".into(),
            ),
        ]);
        c
    };
    fs_err::write(dir.join("child.vhdx"), vhdx_child().to_bytes()).unwrap();

    // A VHDX child whose first block is ZERO in its BAT, as a log entry still to be replayed
    // turns back into "not present" (read from the parent): without the replay the disk has no
    // partition table.
    let mut c = vhdx_child();
    c.blocks[0] = vhdx::Payload::Zero;
    let mut img = c.to_bytes();
    let (bat, _) = vhdx::regions(&img);
    let mut sector = img[bat..bat + 4096].to_vec();
    sector[..8].fill(0);
    let entry = vhdx::LogEntry {
        guid: [0x5e; 16],
        sequence: 3,
        tail: 0,
        flushed_file_offset: img.len() as u64,
        last_file_offset: img.len() as u64,
        writes: vec![vhdx::LogWrite::Data {
            offset: bat as u64,
            sector,
        }],
    };
    vhdx::set_log_guid(&mut img, &[0x5e; 16]);
    vhdx::put_log_entry(&mut img, 0, &entry.to_bytes());
    fs_err::write(dir.join("logged.vhdx"), &img).unwrap();
    vhdx::set_log_guid(&mut img, &[0; 16]);
    fs_err::write(dir.join("unreplayed.vhdx"), &img).unwrap();
    let unreplayed = inspect(&[s(&dir.join("unreplayed.vhdx")), allow[0], allow[1]]);
    assert_eq!(unreplayed["operatingsystems"], Value::Array(vec![]));

    let cases = [
        (
            "delta.vmdk",
            "vmdk",
            "descriptor parentFileNameHint",
            s(&base("vmdk")).to_owned(),
        ),
        ("child.vhd", "vhd", "parent locator W2ru", rel.clone()),
        (
            "child.vhdx",
            "vhdx",
            "parent locator relative_path",
            windows(&relative(&dir, &base("vhdx"))),
        ),
        (
            "logged.vhdx",
            "vhdx",
            "parent locator relative_path",
            windows(&relative(&dir, &base("vhdx"))),
        ),
    ];
    for (name, format, role, stored) in cases {
        let image = dir.join(name);
        let view = inspect(&[s(&image), allow[0], allow[1]]);
        assert_eq!(view["operatingsystems"], *os, "{name}");
        let disk = &view["disks"][0];
        let chain: Vec<(&str, &str)> = disk["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["path"].as_str().unwrap(), l["format"].as_str().unwrap()))
            .collect();
        let parent_ext = if format == "vhd" { "vhd" } else { format };
        assert_eq!(
            chain,
            [(s(&image), format), (s(&base(parent_ext)), format)],
            "{name}"
        );
        let companion = &disk["companions"][0];
        assert_eq!(companion["role"], role, "{name}");
        assert_eq!(companion["name"], stored.as_str(), "{name}");
        assert_eq!(companion["path"], s(&base(parent_ext)), "{name}");

        // image.self-contained fails on it, naming the field.
        let out = common::imgprep([
            "check",
            s(&image),
            "--profile",
            "cloudcenter-worker",
            "--format",
            "json",
            allow[0],
            allow[1],
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rule = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == "image.self-contained")
            .expect("image.self-contained result");
        assert_eq!(rule["status"], "fail", "{name}: {rule:#}");
        let evidence = rule["evidence"].to_string();
        assert!(evidence.contains(role), "{name}: {evidence}");

        // Without --allow-backing the parent is outside the child's directory.
        let out = common::imgprep(["inspect", s(&image)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("{role} {stored:?} resolves to"))
                && stderr.contains(&format!("--allow-backing {}", fixture.display())),
            "{name}: {stderr}"
        );
    }
}
