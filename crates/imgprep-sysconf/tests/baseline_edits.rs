//! The edit APIs against the programs that make or read the same files: `useradd` picks the
//! ids `add_account` picks and `getent` reads the account it wrote; `update-ca-certificates`
//! writes the bundle `debian_bundle` computes; `hivexregedit` applies the registry operations
//! and the hive reader sees them; Python's configparser reads the plugins list the INI edit
//! wrote. (systemd, SysV, sudoers and umask edits are checked in the other baselines.)
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::path::Path;
use std::process::Command;

use common::{apply, materialize, run, update_ca_certificates, written};
use imgprep_sysconf::accounts::{self, Accounts, NewAccount};
use imgprep_sysconf::{Op, RegValue, ini, registry, trust};
use imgprep_testkit::MemGuest;

const DEFS: &str = "UID_MIN 1000\nUID_MAX 60000\nSYS_UID_MIN 101\nSYS_UID_MAX 999\nGID_MIN 1000\nGID_MAX 60000\nSYS_GID_MIN 101\nSYS_GID_MAX 999\nUSERGROUPS_ENAB yes\n";

/// login.defs lines as shadow-utils splits them: a key ending in a vertical tab, a key with no
/// value, a quoted value, trailing form feed and carriage return.
const ODD_DEFS: &str = "UID_MIN 2000 \x0c\r\nUID_MIN\x0b 5000\nUID_MAX\nSYS_UID_MAX \"800\"\nGID_MIN\t\"3000\nUSERGROUPS_ENAB yes\n";

/// Account databases of a guest with ids already in use around the ranges' edges.
fn accounts_guest(passwd: &str, group: &str, defs: &str) -> MemGuest {
    MemGuest::new()
        .file("/etc/passwd", passwd)
        .file_owned("/etc/shadow", "root:*:19000:0:99999:7:::\n", (0o640, 0, 0))
        .file("/etc/group", group)
        .file_owned("/etc/gshadow", "root:*::\n", (0o640, 0, 0))
        .file("/etc/login.defs", defs)
        .dir("/home")
}

#[test]
fn accounts_match_useradd() {
    common::program("useradd");
    let cases = [
        ("root:x:0:0::/root:/bin/bash\n", "root:x:0:\n", DEFS),
        (
            "root:x:0:0::/root:/bin/bash\nsvc:x:998:998::/:/bin/false\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1005:100::/home/bob:/bin/bash\n",
            "root:x:0:\nusers:x:100:\nsvc:x:998:\nalice:x:1000:\n",
            DEFS,
        ),
        (
            // The user id the group would take is in use as a group id.
            "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
            "root:x:0:\nalice:x:1000:\nextra:x:1001:\n",
            DEFS,
        ),
        ("root:x:0:0::/root:/bin/bash\n", "root:x:0:\n", ODD_DEFS),
    ];
    for (passwd, group, defs) in cases {
        for system in [false, true] {
            let g = accounts_guest(passwd, group, defs);
            let a = NewAccount {
                name: "agent".into(),
                system,
                home: Some("/home/agent".into()),
                create_home: false,
                shell: "/bin/bash".into(),
                gecos: String::new(),
                last_change_days: 0,
            };
            let ops = accounts::add_account(&g, &a).unwrap();
            let mine = Accounts::read(&apply(g.clone(), &ops)).unwrap();
            let mine_u = mine.user("agent").unwrap();
            // useradd on the same files.
            let tmp = tempfile::tempdir().unwrap();
            materialize(&g, tmp.path(), 1000);
            let mut cmd = Command::new("useradd");
            cmd.arg("--prefix")
                .arg(tmp.path())
                .args(["-d", "/home/agent", "-s", "/bin/bash"]);
            if system {
                cmd.arg("-r");
            }
            run(cmd.arg("agent"));
            let real = fs_err::read_to_string(tmp.path().join("etc/passwd")).unwrap();
            let real_u = accounts::parse_passwd(&real)
                .into_iter()
                .find(|p| p.name == "agent")
                .unwrap();
            assert_eq!(
                (mine_u.uid, mine_u.gid),
                (real_u.uid, real_u.gid),
                "system={system} over\n{passwd}{group}{defs}"
            );
            // getent reads the passwd line this crate wrote.
            let out = tempfile::tempdir().unwrap();
            materialize(&apply(g, &ops), out.path(), 1000);
            common::install_host_programs(out.path(), &[common::program("getent")]);
            let line = run(Command::new("chroot").arg(out.path()).args([
                "/usr/bin/getent",
                "passwd",
                "agent",
            ]));
            assert!(
                line.starts_with(&format!("agent:x:{}:", mine_u.uid.unwrap())),
                "{line}"
            );
        }
    }
}

#[test]
fn debian_bundle_matches_update_ca_certificates() {
    let prog = common::program("update-ca-certificates");
    let a = trust::pem(&[0x30, 0x03, 0x02, 0x01, 0x01]);
    let b = trust::pem(&[0x30, 0x03, 0x02, 0x01, 0x02]);
    let c = trust::pem(&[0x30, 0x03, 0x02, 0x01, 0x03]);
    let g = MemGuest::new()
        .file(
            "/etc/ca-certificates.conf",
            "# managed\nmozilla/B.crt\nmozilla/A.crt\n!mozilla/Gone.crt\nmozilla/Missing.crt\n",
        )
        .file("/usr/share/ca-certificates/mozilla/A.crt", a.trim_end())
        .file("/usr/share/ca-certificates/mozilla/B.crt", &b)
        .file("/usr/share/ca-certificates/mozilla/Gone.crt", &c)
        .file("/usr/local/share/ca-certificates/site/z.crt", &c)
        .dir("/etc/ssl/certs");
    let ours = trust::pem(&[0x30, 0x03, 0x02, 0x01, 0x09]);
    let ops = trust::add_anchor(&g, "corp", ours.as_bytes()).unwrap();
    let edited = apply(g, &ops);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    materialize(&edited, t, 1000);
    update_ca_certificates(&prog, t);
    let real = fs_err::read(t.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(written(&ops, "/etc/ssl/certs/ca-certificates.crt").unwrap()),
        String::from_utf8_lossy(&real)
    );
}

/// A SYSTEM hive with the current control set at 002 and an IPv6 value in it.
fn system_hive(dir: &Path) -> std::path::PathBuf {
    let hive = dir.join("SYSTEM");
    fs_err::copy(
        imgprep_testkit::repo().join("tests/data/hives/minimal"),
        &hive,
    )
    .unwrap();
    let reg = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000002\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet002]\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet002\\Services]\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet002\\Services\\Tcpip6]\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet002\\Services\\Tcpip6\\Parameters]\r\n\"DisabledComponents\"=dword:000000ff\r\n";
    let regf = dir.join("in.reg");
    fs_err::write(&regf, reg).unwrap();
    run(Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM"])
        .arg(&hive)
        .arg(&regf));
    hive
}

/// Applies registry operations to host hive `hive` with hivexregedit.
fn apply_reg(dir: &Path, hive: &Path, ops: &[imgprep_sysconf::FileOp]) {
    let mut reg = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
    for o in ops {
        match &o.op {
            Op::RegistrySet {
                key, name, value, ..
            } => {
                let data = match value {
                    RegValue::Dword(n) => format!("dword:{n:08x}"),
                    other => panic!("{other:?}"),
                };
                reg.push_str(&format!(
                    "[HKEY_LOCAL_MACHINE\\SYSTEM\\{key}]\r\n\"{name}\"={data}\r\n\r\n"
                ));
            }
            Op::RegistryDelete {
                key, name: Some(n), ..
            } => {
                reg.push_str(&format!(
                    "[HKEY_LOCAL_MACHINE\\SYSTEM\\{key}]\r\n\"{n}\"=-\r\n\r\n"
                ));
            }
            other => panic!("{other:?}"),
        }
    }
    let regf = dir.join("edit.reg");
    fs_err::write(&regf, reg).unwrap();
    run(Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM"])
        .arg(hive)
        .arg(&regf));
}

#[test]
fn registry_operations_apply_with_hivexregedit() {
    common::program("hivexregedit");
    let tmp = tempfile::tempdir().unwrap();
    let hive = system_hive(tmp.path());
    let g = MemGuest::new().file(
        "/Windows/System32/config/SYSTEM",
        fs_err::read(&hive).unwrap(),
    );
    let key = "CurrentControlSet\\Services\\Tcpip6\\Parameters";
    let ops = registry::delete(&g, "/Windows", "SYSTEM", key, Some("DisabledComponents")).unwrap();
    let [op] = ops.as_slice() else {
        panic!("{ops:?}")
    };
    assert!(
        matches!(&op.op, Op::RegistryDelete { key, .. } if key == "ControlSet002\\Services\\Tcpip6\\Parameters"),
        "{op:?}"
    );
    apply_reg(tmp.path(), &hive, &ops);
    let g = MemGuest::new().file(
        "/Windows/System32/config/SYSTEM",
        fs_err::read(&hive).unwrap(),
    );
    let (_, h) = registry::open(&g, "/Windows", "SYSTEM").unwrap();
    assert_eq!(
        registry::value(&h, key, "DisabledComponents").unwrap(),
        None
    );
    assert_eq!(
        registry::delete(&g, "/Windows", "SYSTEM", key, Some("DisabledComponents")).unwrap(),
        []
    );
    let ops = registry::set(
        &g,
        "/Windows",
        "system",
        key,
        "DisabledComponents",
        RegValue::Dword(0x20),
    )
    .unwrap();
    apply_reg(tmp.path(), &hive, &ops);
    let g = MemGuest::new().file(
        "/Windows/System32/config/SYSTEM",
        fs_err::read(&hive).unwrap(),
    );
    let (_, h) = registry::open(&g, "/Windows", "SYSTEM").unwrap();
    assert_eq!(
        registry::value(&h, key, "DisabledComponents").unwrap(),
        Some(imgprep_registry::Data::Dword(0x20))
    );
    assert_eq!(
        registry::set(
            &g,
            "/Windows",
            "SYSTEM",
            key,
            "DisabledComponents",
            RegValue::Dword(0x20)
        )
        .unwrap(),
        []
    );
}

#[test]
fn configparser_reads_the_edited_plugins() {
    let conf = "[DEFAULT]\r\nusername=Admin\r\nplugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,\r\n  cloudbaseinit.plugins.common.sethostname.SetHostNamePlugin\r\n\r\n[openstack]\r\nx=1\r\n";
    let g = MemGuest::new().file("/c.conf", conf);
    let ud = "cloudbaseinit.plugins.common.userdata.UserDataPlugin";
    let ops = ini::add_to_list_op(&g, "/c.conf", "DEFAULT", "plugins", ud, &[]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("c.conf");
    fs_err::write(&f, written(&ops, "/c.conf").unwrap()).unwrap();
    let out = run(Command::new("python3").args([
        "-c",
        "import configparser,sys\nc=configparser.ConfigParser(interpolation=None)\nc.read(sys.argv[1])\nprint([p.strip() for p in c['DEFAULT']['plugins'].replace('\\n','').split(',')])",
    ]).arg(&f));
    assert_eq!(
        out.trim(),
        format!(
            "['cloudbaseinit.plugins.common.mtu.MTUPlugin', 'cloudbaseinit.plugins.common.sethostname.SetHostNamePlugin', '{ud}']"
        )
    );
}
