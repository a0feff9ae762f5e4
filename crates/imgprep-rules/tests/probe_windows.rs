//! `probe: ca-trusted` and `probe: agent-present` on Windows guests built in memory, their hives
//! grown from `tests/data/hives/minimal` with `hivexregedit --merge` (package libhivex-bin): the
//! root stores read by thumbprint and Blob, and a pending first-boot install of the agent.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::process::Command;

use imgprep_inspect::OperatingSystem;
use imgprep_rules::{Outcome, Status};
use imgprep_sysconf::certstore::{Blob, thumbprint};
use imgprep_sysconf::firstboot;
use imgprep_sysconf::trust::pem;
use imgprep_testkit::MemGuest;

fn windows() -> OperatingSystem {
    OperatingSystem {
        name: Some("windows".into()),
        distro: Some("windows".into()),
        major_version: 10,
        windows_systemroot: Some("/Windows".into()),
        ..Default::default()
    }
}

/// A hive grown from the minimal one by merging `reg` (regedit text, keys below the root; the
/// parents of its keys are added first, as hivexregedit creates no parents).
fn hive(reg: &str) -> Vec<u8> {
    let mut parents: Vec<String> = Vec::new();
    for key in reg
        .lines()
        .filter_map(|l| l.strip_prefix("[\\")?.strip_suffix(']'))
    {
        let parts: Vec<&str> = key.split('\\').collect();
        for n in 1..parts.len() {
            let p = parts[..n].join("\\");
            if !parents.contains(&p) {
                parents.push(p);
            }
        }
    }
    let reg: String = parents
        .iter()
        .map(|p| format!("[\\{p}]\n\n"))
        .chain([reg.to_owned()])
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let hive = dir.path().join("hive");
    fs_err::write(
        &hive,
        fs_err::read(imgprep_testkit::repo().join("tests/data/hives/minimal")).unwrap(),
    )
    .unwrap();
    let regf = dir.path().join("in.reg");
    fs_err::write(
        &regf,
        format!("Windows Registry Editor Version 5.00\n\n{reg}"),
    )
    .unwrap();
    let out = Command::new("hivexregedit")
        .arg("--merge")
        .arg(&hive)
        .arg(&regf)
        .output()
        .expect("hivexregedit (package libhivex-bin) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs_err::read(&hive).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(",")
}

const CA: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];
const OTHER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x07];

/// `ca-trusted` for [`CA`] on a guest whose SOFTWARE hive holds `keys`: (store, key name, Blob).
fn ca_trusted(keys: &[(&str, &str, Vec<u8>)]) -> Outcome {
    let mut reg = String::new();
    for (store, name, blob) in keys {
        reg.push_str(&format!(
            "[\\{store}\\{name}]\n\"Blob\"=hex:{}\n\n",
            hex(blob)
        ));
    }
    let g = MemGuest::new().file("/Windows/System32/config/SOFTWARE", hive(&reg));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    fs_err::write(&file, pem(CA)).unwrap();
    common::run(
        "probe: ca-trusted\n",
        &g,
        &windows(),
        &[("ca", file.to_str().unwrap())],
    )
}

#[test]
fn a_root_counts_when_its_key_is_its_thumbprint_and_its_blob_holds_it() {
    const ROOT: &str = r"Microsoft\SystemCertificates\ROOT\Certificates";
    const POLICY: &str = r"Policies\Microsoft\SystemCertificates\Root\Certificates";
    let (ca, other) = (thumbprint(CA), thumbprint(OTHER));
    let good = Blob::for_certificate(CA).to_bytes();
    let o = ca_trusted(&[
        (ROOT, &other, Blob::for_certificate(OTHER).to_bytes()),
        (ROOT, &ca, good.clone()),
    ]);
    assert_eq!(o.status, Status::Pass, "{}", o.message);
    assert_eq!(
        common::shown(&o),
        [format!(
            "registry:SOFTWARE\\{ROOT}\\{ca}\\Blob:0 machine Trusted Root Certification \
             Authorities: holds the certificate {ca}"
        )]
    );
    // Group Policy's store counts too; a key name in lower case is still the thumbprint.
    let o = ca_trusted(&[(POLICY, &ca.to_lowercase(), good.clone())]);
    assert_eq!(o.status, Status::Pass, "{}", o.message);
    assert!(common::shown(&o)[0].contains("Group Policy"), "{o:?}");

    // Not what Windows writes: each reported, none counted.
    let o = ca_trusted(&[
        (ROOT, &ca, Blob::for_certificate(OTHER).to_bytes()),
        (ROOT, &other, good.clone()),
        (
            r"Microsoft\SystemCertificates\AuthRoot\Certificates",
            &ca,
            good[..good.len() - 2].to_vec(),
        ),
    ]);
    assert_eq!(o.status, Status::Fail, "{}", o.message);
    assert!(
        o.message
            .contains(&format!("no key {ca} with its certificate")),
        "{}",
        o.message
    );
    let shown = common::shown(&o);
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert!(
        shown[0].contains(&format!(
            "the key is named {ca} but its Blob holds the certificate {other}"
        )),
        "{shown:#?}"
    );
    assert!(
        shown[1].contains(&format!(
            "the key is named {other} but its Blob holds the certificate {ca}"
        )),
        "{shown:#?}"
    );
    assert!(
        shown[2].contains(
            "its Blob cannot be read: serialized certificate (registry Blob) at offset 0x28: \
             expected a length of at most 3 bytes for property 0x20, found 5"
        ),
        "{shown:#?}"
    );

    // No store at all, or only other roots.
    let o = ca_trusted(&[]);
    assert_eq!(o.status, Status::Fail, "{}", o.message);
    assert!(o.evidence.is_empty(), "{o:?}");
    let o = ca_trusted(&[(ROOT, &other, Blob::for_certificate(OTHER).to_bytes())]);
    assert_eq!(
        common::shown(&o),
        [format!(
            "registry:SOFTWARE\\{ROOT}:0 machine Trusted Root Certification Authorities: 1 \
             other certificate(s), not this CA"
        )]
    );
}

const FB: &str = "/Program Files/Guestfs/Firstboot";
const FB_WIN: &str = r"C:\Program Files\Guestfs\Firstboot";
const INSTALLER: &str = r"C:\Program Files\CliQr\agent.msi";

/// A SYSTEM hive whose current control set has the first-boot service starting `start`.
fn system(start: u32) -> Vec<u8> {
    let mut reg = String::from("[\\Select]\n\"Current\"=dword:00000001\n\n");
    reg.push_str("[\\ControlSet001\\Services\\firstboot]\n");
    for (_, name, value) in firstboot::service_values(FB_WIN)
        .into_iter()
        .filter(|(sub, _, _)| sub.is_empty())
    {
        let v = match (name, value) {
            ("Start", _) => format!("dword:{start:08x}"),
            (_, imgprep_sysconf::RegValue::Dword(n)) => format!("dword:{n:08x}"),
            (_, imgprep_sysconf::RegValue::Sz(s)) => format!("\"{}\"", s.replace('\\', "\\\\")),
            other => panic!("{other:?}"),
        };
        reg.push_str(&format!("\"{name}\"={v}\n"));
    }
    reg.push_str(&format!(
        "\n[\\ControlSet001\\Services\\firstboot\\Parameters]\n\"CommandLine\"=\"cmd /c \\\"{}\\\\firstboot.bat\\\"\"\n",
        FB_WIN.replace('\\', "\\\\")
    ));
    hive(&reg)
}

/// A guest set up as `prepare --worker` leaves it: the service, its files, the script and the
/// installer.
fn prepared(start: u32) -> MemGuest {
    let script = firstboot::agent_script(
        "cloudcenter-worker",
        "4.10.0",
        INSTALLER,
        &firstboot::install_command(INSTALLER, None).unwrap(),
        FB_WIN,
    );
    MemGuest::new()
        .file("/Windows/System32/config/SYSTEM", system(start))
        .file(&format!("{FB}/rhsrvany.exe"), "MZ")
        .file(
            &format!("{FB}/firstboot.bat"),
            firstboot::crlf(&firstboot::firstboot_bat(FB_WIN)),
        )
        .file(
            &format!("{FB}/scripts/0001-install-cloudcenter-worker.bat"),
            firstboot::crlf(&script),
        )
        .file("/Program Files/CliQr/agent.msi", "msi")
}

fn agent_present(g: &MemGuest) -> Outcome {
    common::run(
        "probe: agent-present\nlinux: /usr/local/agentlite\nwindows: AgentService\n",
        g,
        &windows(),
        &[],
    )
}

#[test]
fn a_pending_first_boot_install_passes_with_its_evidence() {
    let o = agent_present(&prepared(2));
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert!(
        o.message
            .contains("cloudcenter-worker 4.10.0 installs at first boot (pending"),
        "{}",
        o.message
    );
    assert_eq!(
        common::shown(&o),
        [
            format!(
                "{FB}/scripts/0001-install-cloudcenter-worker.bat:0 first-boot script installing \
                 cloudcenter-worker 4.10.0"
            ),
            format!("/Program Files/CliQr/agent.msi:0 the installer it runs ({INSTALLER})"),
            format!(
                "registry:SYSTEM\\ControlSet001\\Services\\firstboot:0 automatic service \
                 {FB_WIN}\\rhsrvany.exe -s firstboot, runs cmd /c \"{FB_WIN}\\firstboot.bat\""
            ),
            format!("{FB}/firstboot.bat:0 runs each script of scripts\\ once"),
        ]
    );
}

#[test]
fn a_first_boot_install_that_cannot_run_fails_and_one_that_ran_is_noted() {
    let fails = |g: &MemGuest, why: &str| {
        let o = agent_present(g);
        assert_eq!(o.status, Status::Fail, "{o:?}");
        assert!(
            o.message.contains("is set up but will not run") && o.message.contains(why),
            "{why}: {}",
            o.message
        );
        o
    };
    let o = fails(&prepared(4), "no first-boot service that would run it");
    assert!(
        common::shown(&o)
            .iter()
            .any(|e| e.contains("rhsrvany service: starts never (disabled)")),
        "{o:?}"
    );
    fails(
        &prepared(2).remove("/Program Files/CliQr/agent.msi"),
        &format!("its installer {INSTALLER} is not in the image"),
    );
    let o = fails(
        &prepared(2).remove(&format!("{FB}/rhsrvany.exe")),
        "no first-boot service that would run it",
    );
    assert!(
        common::shown(&o)
            .iter()
            .any(|e| e.contains("its program") && e.contains("is missing")),
        "{o:?}"
    );
    fails(
        &prepared(2).remove(&format!("{FB}/firstboot.bat")),
        "no first-boot service that would run it",
    );
    fails(
        &prepared(2).file(
            "/Windows/System32/config/SYSTEM",
            hive("[\\Select]\n\"Current\"=dword:00000001\n"),
        ),
        "no first-boot service (rhsrvany) in the SYSTEM hive runs it",
    );

    // It ran at an earlier boot and left no agent: the usual failure, with where to look.
    let script = format!("{FB}/scripts/0001-install-cloudcenter-worker.bat");
    let text = imgprep_guest::Guest::read_file(&prepared(2), &script, 1 << 20).unwrap();
    let g = prepared(2).remove(&script).file(
        &format!("{FB}/scripts-done/0001-install-cloudcenter-worker.bat"),
        text,
    );
    let o = agent_present(&g);
    assert_eq!(o.status, Status::Fail, "{o:?}");
    assert!(
        o.message
            .contains("its first-boot install ran already, see its log"),
        "{}",
        o.message
    );
    assert!(
        common::shown(&o)
            .iter()
            .any(|e| e.contains(&format!("ran already (its output is in {FB_WIN}\\log.txt)"))),
        "{o:?}"
    );
}
