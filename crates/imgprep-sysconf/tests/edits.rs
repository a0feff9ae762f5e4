//! Every edit API on guests built in memory: the operations it returns, applied, give the fact
//! the edit was for as this crate's own readers see it; the same edit on the result is a no-op
//! (nothing written, or bytes identical); an edit of an existing file changes only its lines.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::{apply, changed_lines, written};
use imgprep_guest::Guest;
use imgprep_sysconf::accounts::{self, Accounts, NewAccount};
use imgprep_sysconf::boot::{BootGraph, Enablement, Order};
use imgprep_sysconf::shell::{Val, login_umask, profile_umask, shell_startup_umask, system_umask};
use imgprep_sysconf::sudoers::{self, Sudoers};
use imgprep_sysconf::sysv::{NewScript, add_script, start_before};
use imgprep_sysconf::{Error, Op, ini, logindefs, systemd, trust};
use imgprep_testkit::MemGuest;

fn enabled(g: &MemGuest, unit: &str) -> bool {
    matches!(
        BootGraph::read(g, None).enablement(unit),
        Enablement::Enabled(_)
    )
}

fn before(g: &MemGuest, a: &str, b: &str) -> bool {
    matches!(BootGraph::read(g, None).order(a, b), Order::Before(..))
}

/// A systemd guest booting multi-user.target, with a vendor unit `xe.service` enabled and
/// `agent.service` installed but not enabled.
fn systemd_guest() -> MemGuest {
    MemGuest::new()
        .link("/sbin/init", "../lib/systemd/systemd")
        .link(
            "/etc/systemd/system/default.target",
            "/usr/lib/systemd/system/multi-user.target",
        )
        .file(
            "/usr/lib/systemd/system/multi-user.target",
            "[Unit]\nRequires=basic.target\nAfter=basic.target\n",
        )
        .file(
            "/usr/lib/systemd/system/xe.service",
            "[Service]\nExecStart=/usr/sbin/xe\n[Install]\nWantedBy=multi-user.target\n",
        )
        .link(
            "/etc/systemd/system/multi-user.target.wants/xe.service",
            "/usr/lib/systemd/system/xe.service",
        )
        .file(
            "/usr/lib/systemd/system/agent.service",
            "[Service]\nExecStart=/usr/bin/agent\n[Install]\nWantedBy=multi-user.target\nAlias=nova.service\n",
        )
}

#[test]
fn systemd_units_enablement_and_ordering() {
    let g = systemd_guest();
    assert!(!enabled(&g, "agent"));
    let ops = systemd::enable(&g, "agent.service").unwrap();
    let links: Vec<(&str, &str)> = ops
        .iter()
        .filter_map(|o| match &o.op {
            Op::Symlink { target } => Some((o.path.as_str(), target.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        links,
        [
            (
                "/etc/systemd/system/multi-user.target.wants/agent.service",
                "/usr/lib/systemd/system/agent.service"
            ),
            (
                "/etc/systemd/system/nova.service",
                "/usr/lib/systemd/system/agent.service"
            )
        ]
    );
    let g = apply(g, &ops);
    assert!(enabled(&g, "agent") && enabled(&g, "nova"));
    assert_eq!(systemd::enable(&g, "agent.service").unwrap(), []);

    // A mask in /etc is removed first.
    let masked = g
        .clone()
        .link("/etc/systemd/system/xe.service", "/dev/null");
    assert!(!enabled(&masked, "xe"));
    let ops = systemd::enable(&masked, "xe.service").unwrap();
    assert!(matches!(ops[0].op, Op::Remove), "{ops:?}");
    assert!(enabled(&apply(masked, &ops), "xe"));

    // Ordering through a drop-in; merged into an existing one, only its lines added.
    assert!(!before(&g, "xe", "agent"));
    let ops = systemd::order_after(&g, "agent.service", &["xe.service"], true).unwrap();
    let g2 = apply(g.clone(), &ops);
    assert!(before(&g2, "xe", "agent"));
    assert_eq!(
        systemd::order_after(&g2, "agent.service", &["xe.service"], true).unwrap(),
        []
    );
    let existing = "# site\r\n[Unit]\r\nDescription=x\r\n\r\n[Service]\r\nNice=5\r\n";
    let g3 = g.clone().file(
        "/etc/systemd/system/agent.service.d/imgprep-order.conf",
        existing,
    );
    let ops = systemd::order_after(&g3, "agent.service", &["xe.service"], false).unwrap();
    let after = written(
        &ops,
        "/etc/systemd/system/agent.service.d/imgprep-order.conf",
    )
    .unwrap();
    assert_eq!(
        changed_lines(existing.as_bytes(), after),
        (vec!["After=xe.service".to_owned()], vec![])
    );
    assert!(before(&apply(g3, &ops), "xe", "agent"));

    // A new unit with its links; a second time it exists.
    let unit = "[Unit]\nAfter=xe.service\n[Service]\nExecStart=/bin/w\n[Install]\nWantedBy=multi-user.target\n";
    let ops = systemd::add_unit(&g, "worker.service", unit).unwrap();
    let g4 = apply(g, &ops);
    assert!(enabled(&g4, "worker") && before(&g4, "xe", "worker"));
    assert!(matches!(
        systemd::add_unit(&g4, "worker.service", unit),
        Err(Error::Exists { .. })
    ));
    assert!(systemd::add_unit(&g4, "../x.service", unit).is_err());

    let ops = systemd::service_umask(&g4, "worker.service", 0o022).unwrap();
    assert_eq!(
        written(
            &ops,
            "/etc/systemd/system/worker.service.d/imgprep-umask.conf"
        ),
        Some(&b"[Service]\nUMask=0022\n"[..])
    );
}

/// A Debian SysV guest, runlevel 2, with the XenServer tools at S03.
fn sysv_guest() -> MemGuest {
    let xe = "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: xe-linux-distribution\n# Default-Start: 2 3 4 5\n### END INIT INFO\n";
    MemGuest::new()
        .exec("/sbin/init", "\x7fELF")
        .file("/etc/inittab", "id:2:initdefault:\n")
        .file("/etc/debian_version", "7.11\n")
        .exec("/etc/init.d/xe-linux-distribution", xe)
        .link(
            "/etc/rc2.d/S03xe-linux-distribution",
            "../init.d/xe-linux-distribution",
        )
        .link(
            "/etc/rc3.d/S03xe-linux-distribution",
            "../init.d/xe-linux-distribution",
        )
}

#[test]
fn sysv_scripts_and_renumbering() {
    let g = sysv_guest();
    let s = NewScript {
        name: "nova-agent".into(),
        required_start: vec!["$remote_fs".into(), "xe-linux-distribution".into()],
        default_start: vec![2, 3, 4, 5],
        default_stop: vec![0, 1, 6],
        description: "nova-agent".into(),
        body: "case \"$1\" in start) /usr/bin/nova-agent ;; esac\n".into(),
        ..Default::default()
    };
    let ops = add_script(&g, &s).unwrap();
    let paths: Vec<&str> = ops
        .iter()
        .filter(|o| matches!(o.op, Op::Symlink { .. }))
        .map(|o| o.path.as_str())
        .collect();
    assert!(paths.contains(&"/etc/rc2.d/S04nova-agent"), "{paths:?}");
    assert!(paths.contains(&"/etc/rc4.d/S01nova-agent"), "{paths:?}");
    assert!(paths.contains(&"/etc/rc0.d/K01nova-agent"), "{paths:?}");
    let g2 = apply(g.clone(), &ops);
    assert!(enabled(&g2, "nova-agent") && before(&g2, "xe-linux-distribution", "nova-agent"));
    assert!(matches!(add_script(&g2, &s), Err(Error::Exists { .. })));

    // Links the wrong way round are renumbered; once right, nothing to do.
    let wrong = g
        .exec("/etc/init.d/nova-agent", "#!/bin/sh\n")
        .link("/etc/rc2.d/S01nova-agent", "../init.d/nova-agent");
    assert!(!before(&wrong, "xe-linux-distribution", "nova-agent"));
    let ops = start_before(&wrong, "xe-linux-distribution", "nova-agent").unwrap();
    let fixed = apply(wrong, &ops);
    assert!(before(&fixed, "xe-linux-distribution", "nova-agent"));
    assert!(fixed.is_symlink("/etc/rc2.d/S04nova-agent"));
    assert_eq!(
        start_before(&fixed, "xe-linux-distribution", "nova-agent").unwrap(),
        []
    );
}

fn accounts_guest() -> MemGuest {
    MemGuest::new()
        .file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\n# comment\nsvc:x:998:998::/:/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n",
        )
        .file_owned("/etc/shadow", "root:*:19000:0:99999:7:::\n", (0o640, 0, 42))
        .file("/etc/group", "root:x:0:\nsvc:x:998:\nalice:x:1000:\n")
        .file_owned("/etc/gshadow", "root:*::\n", (0o640, 0, 42))
        .file(
            "/etc/login.defs",
            "UID_MIN 1000\nUID_MAX 60000\nSYS_UID_MAX 999\nUMASK 077\nPASS_MAX_DAYS 99999\n",
        )
        .file("/etc/skel/.bashrc", "umask 022\n")
        .dir("/etc/skel/.config")
        .dir("/home")
}

#[test]
fn accounts_are_added_as_useradd_adds_them() {
    let g = accounts_guest();
    let a = NewAccount {
        name: "cliqruser".into(),
        system: false,
        home: None,
        create_home: true,
        shell: "/bin/bash".into(),
        gecos: "agent".into(),
        last_change_days: 20000,
    };
    let ops = accounts::add_account(&g, &a).unwrap();
    let shadow = written(&ops, "/etc/shadow").unwrap();
    assert_eq!(
        changed_lines(b"root:*:19000:0:99999:7:::\n", shadow),
        (vec!["cliqruser:!:20000::99999::::".to_owned()], vec![])
    );
    assert!(ops.iter().any(|o| o.path == "/etc/shadow"
        && matches!(
            o.op,
            Op::Write {
                mode: 0o640,
                gid: 42,
                ..
            }
        )));
    let g2 = apply(g.clone(), &ops);
    let acc = Accounts::read(&g2).unwrap();
    let u = acc.user("cliqruser").unwrap();
    assert_eq!(
        (u.uid, u.gid, u.home.as_str()),
        (Some(1001), Some(1001), "/home/cliqruser")
    );
    assert_eq!(acc.groups_of("cliqruser", u.gid), ["cliqruser"]);
    assert_eq!(g2.lstat("/home/cliqruser").unwrap().unwrap().mode, 0o700);
    assert_eq!(
        g2.lstat("/home/cliqruser/.bashrc").unwrap().unwrap().uid,
        1001
    );
    assert!(g2.is_dir("/home/cliqruser/.config"));
    assert!(matches!(
        accounts::add_account(&g2, &a),
        Err(Error::Exists { .. })
    ));
    let sys = NewAccount {
        name: "agent".into(),
        system: true,
        create_home: false,
        ..a
    };
    let ops = accounts::add_account(&g, &sys).unwrap();
    let u = Accounts::read(&apply(g, &ops)).unwrap();
    assert_eq!(u.user("agent").unwrap().uid, Some(997));
}

#[test]
fn sudoers_dropins_are_read() {
    let g = MemGuest::new()
        .file(
            "/etc/passwd",
            "root:x:0:0::/root:/bin/bash\ncliqruser:x:1000:1000::/home/c:/bin/bash\n",
        )
        .file("/etc/group", "cliqruser:x:1000:\n")
        .file_owned(
            "/etc/sudoers",
            "Defaults    requiretty\nroot ALL=(ALL) ALL\n",
            (0o440, 0, 0),
        );
    let ops = sudoers::grant_all(&g, "cliqruser").unwrap();
    assert_eq!(ops.len(), 3, "{ops:?}"); // mkdir, drop-in, #includedir
    let main = written(&ops, "/etc/sudoers").unwrap();
    assert_eq!(
        changed_lines(b"Defaults    requiretty\nroot ALL=(ALL) ALL\n", main),
        (vec!["#includedir /etc/sudoers.d".to_owned()], vec![])
    );
    let g2 = apply(g, &ops);
    let s = Sudoers::read(&g2);
    let groups = vec!["cliqruser".to_owned()];
    let grants = s.grants("cliqruser", &groups);
    assert!(
        grants.iter().any(|x| x.all_commands && x.nopasswd),
        "{grants:?}"
    );
    assert!(!s.requiretty("cliqruser", &groups).on);
    assert_eq!(sudoers::grant_all(&g2, "cliqruser").unwrap(), []);
    assert!(sudoers::dropin(&g2, "a.conf", "x").is_err());
}

const RHEL_PROFILE_UMASK: &str = "# /etc/profile\nif [ $UID -gt 199 ] && [ \"`/usr/bin/id -gn`\" = \"`/usr/bin/id -un`\" ]; then\n    umask 002\nelse\n    umask 077 # hardened\nfi\n";

fn masks(states: &[imgprep_sysconf::shell::Session]) -> Vec<u16> {
    let mut v: Vec<u16> = states
        .iter()
        .flat_map(|s| s.state.keys())
        .filter_map(|v| match v {
            Val::Mask(m) => Some(*m),
            Val::Bad(_) => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn umask_edits_reach_the_login_shells() {
    let g = MemGuest::new()
        .file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/tcsh\ncliqruser:x:1001:1001::/home/c:/bin/bash\n",
        )
        .file("/etc/group", "ops:x:1000:\ncliqruser:x:1001:\n")
        .file("/etc/login.defs", "UMASK\t\t077\n")
        .file("/etc/profile", RHEL_PROFILE_UMASK)
        .dir_owned("/home/ops", (0o700, 1000, 1000))
        .dir_owned("/home/c", (0o700, 1001, 1001))
        .file_owned("/home/c/.bash_profile", "# mine\n. ~/.bashrc", (0o644, 1001, 1001));
    assert_eq!(masks(&login_umask(&g, Some("cliqruser")).user), [0o002]);
    assert_eq!(masks(&login_umask(&g, None).root), [0o077]);

    // One account's startup file.
    let ops = shell_startup_umask(&g, "cliqruser", 0o022).unwrap();
    assert_eq!(
        written(&ops, "/home/c/.bash_profile"),
        Some(&b"# mine\n. ~/.bashrc\numask 022\n"[..])
    );
    let g2 = apply(g.clone(), &ops);
    assert_eq!(masks(&login_umask(&g2, Some("cliqruser")).user), [0o022]);
    assert_eq!(
        masks(&login_umask(&g2, None).root),
        [0o077],
        "root is untouched"
    );
    assert_eq!(shell_startup_umask(&g2, "cliqruser", 0o022).unwrap(), []);
    // A csh user gets ~/.login, created with the account's ownership.
    let ops = shell_startup_umask(&g, "ops", 0o022).unwrap();
    assert!(matches!(
        ops[0].op,
        Op::Write {
            uid: 1000,
            gid: 1000,
            mode: 0o644,
            ..
        }
    ));
    assert_eq!(
        masks(&login_umask(&apply(g.clone(), &ops), Some("ops")).user),
        [0o022]
    );

    // System-wide: login.defs, and /etc/profile: a line appended after its branches.
    let ops = system_umask(&g, 0o022).unwrap();
    let profile = written(&ops, "/etc/profile").unwrap();
    assert_eq!(
        changed_lines(RHEL_PROFILE_UMASK.as_bytes(), profile),
        (vec!["umask 022".to_owned()], vec![])
    );
    assert_eq!(
        written(&ops, "/etc/login.defs"),
        Some(&b"UMASK\t\t022\n"[..])
    );
    let g3 = apply(g, &ops);
    assert_eq!(masks(&login_umask(&g3, None).root), [0o022]);
    assert_eq!(system_umask(&g3, 0o022).unwrap(), []);
    assert_eq!(profile_umask(&g3, 0o022).unwrap(), []);
    // A last umask at top level is given the value in place.
    let flat = "umask 027\nexport PATH\numask\t077 # hardening\n";
    let g4 = MemGuest::new().file("/etc/profile", flat);
    let ops = profile_umask(&g4, 0o022).unwrap();
    assert_eq!(
        changed_lines(flat.as_bytes(), written(&ops, "/etc/profile").unwrap()),
        (
            vec!["umask\t022 # hardening".to_owned()],
            vec!["umask\t077 # hardening".to_owned()]
        )
    );
}

#[test]
fn trust_anchors_and_bundles() {
    let ours = trust::pem(&[0x30, 0x03, 0x02, 0x01, 0x05]);
    let other = trust::pem(&[0x30, 0x03, 0x02, 0x01, 0x07]);
    // Debian: the bundle is rebuilt exactly as update-ca-certificates concatenates it.
    let deb = MemGuest::new()
        .file(
            "/etc/ca-certificates.conf",
            "# c\nmozilla/A.crt\n!mozilla/B.crt\n",
        )
        .file("/usr/share/ca-certificates/mozilla/A.crt", other.trim_end())
        .file("/usr/share/ca-certificates/mozilla/B.crt", "ignored")
        .file("/etc/ssl/certs/ca-certificates.crt", "stale");
    let ops = trust::add_anchor(&deb, "corp", ours.as_bytes()).unwrap();
    assert_eq!(
        written(&ops, "/etc/ssl/certs/ca-certificates.crt"),
        Some(format!("{other}{ours}").as_bytes())
    );
    let deb2 = apply(deb, &ops);
    assert_eq!(
        trust::debian_bundle(&deb2, None).unwrap(),
        format!("{other}{ours}").into_bytes()
    );
    // Red Hat: each extracted bundle gains the certificate once.
    let rh = MemGuest::new()
        .dir("/etc/pki/ca-trust/source/anchors")
        .file("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", &other);
    let ops = trust::add_anchor(&rh, "corp", ours.as_bytes()).unwrap();
    let bundle = written(&ops, "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem").unwrap();
    assert_eq!(trust::certificates(bundle).len(), 2);
    let rh2 = apply(rh, &ops);
    let again = trust::add_anchor(&rh2, "corp", ours.as_bytes()).unwrap();
    assert!(
        again
            .iter()
            .all(|o| o.path.starts_with("/etc/pki/ca-trust/source")),
        "bundles unchanged: {again:?}"
    );
}

#[test]
fn ini_lists_and_values() {
    let conf = "[DEFAULT]\r\nusername=Admin\r\nplugins=a.A,\r\n  b.B\r\n[other]\r\nx=1\r\n";
    let g = MemGuest::new().file_owned("/c/cloudbase-init.conf", conf, (0o600, 0, 0));
    let ops = ini::add_to_list_op(
        &g,
        "/c/cloudbase-init.conf",
        "DEFAULT",
        "plugins",
        "c.C",
        &[],
    )
    .unwrap();
    let out = written(&ops, "/c/cloudbase-init.conf").unwrap();
    assert_eq!(
        changed_lines(conf.as_bytes(), out),
        (vec!["  b.B,c.C".to_owned()], vec!["  b.B".to_owned()])
    );
    let g2 = apply(g, &ops);
    assert_eq!(
        ini::add_to_list_op(
            &g2,
            "/c/cloudbase-init.conf",
            "DEFAULT",
            "plugins",
            "c.C",
            &[]
        )
        .unwrap(),
        []
    );
    assert_eq!(
        ini::set_op(
            &g2,
            "/c/cloudbase-init.conf",
            "DEFAULT",
            "username",
            "Admin"
        )
        .unwrap(),
        []
    );
}

#[test]
fn login_defs_keys() {
    let text = b"# c\nPASS_MAX_DAYS\t99999\nUMASK\t\t077\n";
    let defs = logindefs::LoginDefs::parse(text.to_vec());
    let ops = defs.set("UMASK", "027", (0o644, 0, 0), "t").unwrap();
    let Op::Write { content, .. } = &ops[0].op else {
        panic!("{ops:?}")
    };
    assert_eq!(
        changed_lines(text, content),
        (
            vec!["UMASK\t\t027".to_owned()],
            vec!["UMASK\t\t077".to_owned()]
        )
    );
    assert_eq!(
        logindefs::LoginDefs::parse(content.clone())
            .get("UMASK")
            .unwrap()
            .value,
        "027"
    );
}
