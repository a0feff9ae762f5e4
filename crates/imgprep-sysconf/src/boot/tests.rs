//! The boot graph on guests built in memory: ordering and enablement across systemd, SysV
//! init and upstart, symlinked scripts by systemd version, hostile loops.

use imgprep_testkit::MemGuest;

use super::*;
use crate::path::normalize;
use crate::systemd::settings;
use crate::sysv::{rc_link, sysv_facility};
use crate::text::Lines;

/// A systemd guest booting multi-user.target.
fn systemd() -> MemGuest {
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
}

fn service(g: MemGuest, name: &str, unit: &str) -> MemGuest {
    g.file(&format!("/usr/lib/systemd/system/{name}.service"), unit)
        .link(
            &format!("/etc/systemd/system/multi-user.target.wants/{name}.service"),
            &format!("/usr/lib/systemd/system/{name}.service"),
        )
}

/// A SysV init guest with the default runlevel `level`.
fn sysv(level: u8) -> MemGuest {
    MemGuest::new()
        .exec("/sbin/init", "\x7fELF")
        .file("/etc/inittab", format!("id:{level}:initdefault:\n"))
}

fn script(g: MemGuest, dir: &str, name: &str, header: &str) -> MemGuest {
    let body = if header.is_empty() {
        "#!/bin/sh\n".to_owned()
    } else {
        format!("#!/bin/sh\n### BEGIN INIT INFO\n{header}### END INIT INFO\n")
    };
    g.exec(&format!("{dir}/{name}"), &body)
}

fn short(o: &Order) -> &'static str {
    match o {
        Order::Before(..) => "before",
        Order::After(..) => "after",
        Order::Cycle(..) => "cycle",
        Order::Unordered(_) => "unordered",
    }
}

fn check(name: &str, g: MemGuest, a: &str, b: &str, want: &str) {
    let graph = BootGraph::read(&g, None);
    let got = graph.order(a, b);
    assert_eq!(short(&got), want, "{name}: {got:#?}");
}

#[test]
fn ordering_table() {
    let xe_before = "[Unit]\nBefore=nova-agent.service\n";
    let na_after = "[Unit]\nAfter=xe-linux-distribution.service\n";
    let plain = "[Unit]\nDescription=x\n";
    // The tools as a SysV script (systemd-sysv-generator's unit) with a drop-in of its own.
    let generated = |dropin: &str| {
        let tools = script(
            systemd(),
            "/etc/init.d",
            "xe-linux-distribution",
            "# Provides: xe-linux-distribution\n",
        )
        .link(
            "/etc/rc3.d/S14xe-linux-distribution",
            "../init.d/xe-linux-distribution",
        )
        .file(
            "/etc/systemd/system/xe-linux-distribution.service.d/order.conf",
            dropin,
        );
        service(tools, "nova-agent", plain)
    };
    let cases: Vec<(&str, MemGuest, &str)> = vec![
        (
            "Before= in the first unit",
            service(service(systemd(), "xe-linux-distribution", xe_before), "nova-agent", plain),
            "before",
        ),
        (
            "After= in the second unit",
            service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", na_after),
            "before",
        ),
        (
            "After= the other way",
            service(
                service(systemd(), "xe-linux-distribution", "[Unit]\nAfter=nova-agent.service\n"),
                "nova-agent",
                plain,
            ),
            "after",
        ),
        (
            "no ordering; Wants= does not order",
            service(
                service(systemd(), "xe-linux-distribution", plain),
                "nova-agent",
                "[Unit]\nWants=xe-linux-distribution.service\n",
            ),
            "unordered",
        ),
        (
            "After= in a drop-in in /etc",
            service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", plain).file(
                "/etc/systemd/system/nova-agent.service.d/xe.conf",
                na_after,
            ),
            "before",
        ),
        (
            "Before= in a drop-in of a unit generated from a SysV script",
            generated(xe_before),
            "before",
        ),
        (
            "After= in a drop-in of a generated unit, the other way",
            generated("[Unit]\nAfter=nova-agent.service\n"),
            "after",
        ),
        (
            "a drop-in in /etc replaces the vendor drop-in of the same name",
            service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", plain)
                .file(
                    "/usr/lib/systemd/system/nova-agent.service.d/order.conf",
                    "[Unit]\nBefore=xe-linux-distribution.service\n",
                )
                .file("/etc/systemd/system/nova-agent.service.d/order.conf", na_after),
            "before",
        ),
        (
            "a masked drop-in is not applied",
            service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", plain)
                .file("/usr/lib/systemd/system/nova-agent.service.d/order.conf", na_after)
                .link("/etc/systemd/system/nova-agent.service.d/order.conf", "/dev/null"),
            "unordered",
        ),
        (
            "a full unit in /etc replaces the vendor unit and its After=",
            service(service(systemd(), "xe-linux-distribution", plain), "nova-agent", na_after)
                .file("/etc/systemd/system/nova-agent.service", plain),
            "unordered",
        ),
        (
            "cycle",
            service(
                service(systemd(), "xe-linux-distribution", xe_before),
                "nova-agent",
                "[Unit]\nBefore=xe-linux-distribution.service\n",
            ),
            "cycle",
        ),
        (
            "transitively through a target that boots",
            service(
                service(
                    systemd(),
                    "xe-linux-distribution",
                    "[Unit]\nDefaultDependencies=no\nBefore=sysinit.target\n",
                ),
                "nova-agent",
                plain,
            ),
            "before",
        ),
        (
            "transitively only through a unit nothing starts",
            service(
                service(systemd(), "xe-linux-distribution", "[Unit]\nBefore=xe-ready.target\n"),
                "nova-agent",
                "[Unit]\nAfter=xe-ready.target\n",
            ),
            "unordered",
        ),
        (
            "mixed: SysV nova-agent whose LSB header requires xe-linux-distribution",
            script(
                service(systemd(), "xe-linux-distribution", plain),
                "/etc/init.d",
                "nova-agent",
                "# Provides: Nova-Agent\n# Required-Start: $remote_fs $syslog xe-linux-distribution\n",
            )
            .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent"),
            "before",
        ),
        (
            "systemd: two scripts without headers by start priority",
            script(
                script(systemd(), "/etc/init.d", "nova-agent", ""),
                "/etc/init.d",
                "xe-linux-distribution",
                "",
            )
            .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent")
            .link("/etc/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution"),
            "before",
        ),
        (
            "systemd: two scripts with headers ignore start priorities",
            script(
                script(systemd(), "/etc/init.d", "nova-agent", "# Provides: nova-agent\n"),
                "/etc/init.d",
                "xe-linux-distribution",
                "# Provides: xe-linux-distribution\n",
            )
            .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent")
            .link("/etc/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution"),
            "unordered",
        ),
        (
            "SysV: S-numbers in the default runlevel",
            script(
                script(sysv(3), "/etc/rc.d/init.d", "nova-agent", ""),
                "/etc/rc.d/init.d",
                "xe-linux-distribution",
                "",
            )
            .link("/etc/init.d", "rc.d/init.d")
            .link("/etc/rc.d/rc3.d/S15nova-agent", "../init.d/nova-agent")
            .link("/etc/rc.d/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution")
            .link("/etc/rc3.d", "rc.d/rc3.d"),
            "before",
        ),
        (
            "SysV: S-numbers the wrong way, whatever the header says",
            script(
                script(
                    sysv(2),
                    "/etc/init.d",
                    "nova-agent",
                    "# Provides: nova-agent\n# Required-Start: xe-linux-distribution\n",
                ),
                "/etc/init.d",
                "xe-linux-distribution",
                "# Provides: xe-linux-distribution\n",
            )
            .link("/etc/rc2.d/S01nova-agent", "../init.d/nova-agent")
            .link("/etc/rc2.d/S03xe-linux-distribution", "../init.d/xe-linux-distribution"),
            "after",
        ),
        (
            "SysV: same S-number, LSB header through Provides decides",
            script(
                script(
                    sysv(2),
                    "/etc/init.d",
                    "nova-agent",
                    "# Provides: nova-agent\n# Required-Start: $remote_fs xe-tools\n",
                ),
                "/etc/init.d",
                "xe-linux-distribution",
                "# Provides: xe-tools\n",
            )
            .link("/etc/rc2.d/S02nova-agent", "../init.d/nova-agent")
            .link("/etc/rc2.d/S02xe-linux-distribution", "../init.d/xe-linux-distribution"),
            "before",
        ),
        (
            "SysV: X-Start-Before in the first script",
            script(
                script(sysv(2), "/etc/init.d", "nova-agent", "# Provides: nova-agent\n"),
                "/etc/init.d",
                "xe-linux-distribution",
                "# Provides: xe-linux-distribution\n# X-Start-Before: nova-agent\n",
            )
            .link("/etc/rc2.d/S02nova-agent", "../init.d/nova-agent")
            .link("/etc/rc2.d/S02xe-linux-distribution", "../init.d/xe-linux-distribution"),
            "before",
        ),
        (
            "SysV: Debian's rcS.d runs before the runlevel, whatever the numbers",
            script(
                script(sysv(2), "/etc/init.d", "nova-agent", ""),
                "/etc/init.d",
                "xe-linux-distribution",
                "",
            )
            .link("/etc/rc2.d/S01nova-agent", "../init.d/nova-agent")
            .link(
                "/etc/rcS.d/S20xe-linux-distribution",
                "../init.d/xe-linux-distribution",
            ),
            "before",
        ),
        (
            "SysV: same S-number, no header",
            script(
                script(sysv(2), "/etc/init.d", "nova-agent", ""),
                "/etc/init.d",
                "xe-linux-distribution",
                "",
            )
            .link("/etc/rc2.d/S02nova-agent", "../init.d/nova-agent")
            .link("/etc/rc2.d/S02xe-linux-distribution", "../init.d/xe-linux-distribution"),
            "unordered",
        ),
        (
            "upstart: start on started",
            MemGuest::new()
                .exec("/sbin/init", "\x7fELF")
                .exec("/sbin/initctl", "\x7fELF")
                .file("/etc/init/xe-linux-distribution.conf", "start on runlevel [2345]\n")
                .file(
                    "/etc/init/nova-agent.conf",
                    "start on (started xe-linux-distribution\n and runlevel [2345])\n",
                ),
            "before",
        ),
        (
            "upstart: `or` guarantees nothing",
            MemGuest::new()
                .exec("/sbin/init", "\x7fELF")
                .exec("/sbin/initctl", "\x7fELF")
                .file("/etc/init/xe-linux-distribution.conf", "start on runlevel [2345]\n")
                .file(
                    "/etc/init/nova-agent.conf",
                    "start on started xe-linux-distribution or runlevel [2345]\n",
                ),
            "unordered",
        ),
    ];
    for (name, g, want) in cases {
        check(name, g, "xe-linux-distribution", "nova-agent", want);
    }
}

fn enabled_kind(e: &Enablement) -> &'static str {
    match e {
        Enablement::Enabled(_) => "enabled",
        Enablement::Disabled(_) => "disabled",
        Enablement::Masked(_) => "masked",
        Enablement::Missing(_) => "missing",
    }
}

#[test]
fn enablement_table() {
    let unit = "[Unit]\nDescription=x\n[Install]\nWantedBy=multi-user.target\n";
    let cases: Vec<(&str, MemGuest, &str)> = vec![
        (
            "linked in multi-user.target.wants",
            service(systemd(), "xe-daemon", unit),
            "enabled",
        ),
        (
            "WantedBy= but no link",
            systemd().file("/usr/lib/systemd/system/xe-daemon.service", unit),
            "disabled",
        ),
        (
            "masked in /etc though linked",
            service(systemd(), "xe-daemon", unit)
                .link("/etc/systemd/system/xe-daemon.service", "/dev/null"),
            "masked",
        ),
        (
            "masked by an empty file",
            service(systemd(), "xe-daemon", unit).file("/etc/systemd/system/xe-daemon.service", ""),
            "masked",
        ),
        ("missing", systemd(), "missing"),
        (
            "pulled in by Wants= of an enabled unit",
            service(systemd(), "helper", "[Unit]\nWants=xe-daemon.service\n")
                .file("/usr/lib/systemd/system/xe-daemon.service", unit),
            "enabled",
        ),
        (
            "linked into graphical.target only, booting multi-user",
            systemd()
                .file("/usr/lib/systemd/system/xe-daemon.service", unit)
                .link(
                    "/etc/systemd/system/graphical.target.wants/xe-daemon.service",
                    "/usr/lib/systemd/system/xe-daemon.service",
                ),
            "disabled",
        ),
        (
            "an alias link names it",
            service(systemd(), "xe-linux-distribution", unit).link(
                "/etc/systemd/system/xe-daemon.service",
                "/usr/lib/systemd/system/xe-linux-distribution.service",
            ),
            "enabled",
        ),
        (
            "SysV script with an rc3.d link under systemd",
            script(
                systemd(),
                "/etc/init.d",
                "xe-daemon",
                "# Provides: xe-daemon\n",
            )
            .link("/etc/rc3.d/S14xe-daemon", "../init.d/xe-daemon"),
            "enabled",
        ),
        (
            "SysV script with no link under systemd",
            script(
                systemd(),
                "/etc/init.d",
                "xe-daemon",
                "# Provides: xe-daemon\n",
            ),
            "disabled",
        ),
        (
            "SysV script masked by a unit link",
            script(systemd(), "/etc/init.d", "xe-daemon", "")
                .link("/etc/rc3.d/S14xe-daemon", "../init.d/xe-daemon")
                .link("/etc/systemd/system/xe-daemon.service", "/dev/null"),
            "masked",
        ),
        (
            "SysV: link in another runlevel only",
            script(sysv(3), "/etc/init.d", "xe-daemon", "")
                .link("/etc/rc5.d/S14xe-daemon", "../init.d/xe-daemon"),
            "disabled",
        ),
        (
            "SysV: link to a non-executable script",
            sysv(3)
                .file("/etc/init.d/xe-daemon", "#!/bin/sh\n")
                .link("/etc/rc3.d/S14xe-daemon", "../init.d/xe-daemon"),
            "disabled",
        ),
        (
            "upstart: job with start on",
            MemGuest::new()
                .exec("/sbin/init", "\x7fELF")
                .exec("/sbin/initctl", "\x7fELF")
                .file(
                    "/etc/init/xe-daemon.conf",
                    "# comment\nstart on runlevel [2345]\n",
                ),
            "enabled",
        ),
        (
            "upstart: job overridden to manual",
            MemGuest::new()
                .exec("/sbin/init", "\x7fELF")
                .exec("/sbin/initctl", "\x7fELF")
                .file("/etc/init/xe-daemon.conf", "start on runlevel [2345]\n")
                .file("/etc/init/xe-daemon.override", "manual\n"),
            "disabled",
        ),
    ];
    for (name, g, want) in cases {
        let graph = BootGraph::read(&g, None);
        let got = graph.enablement("xe-daemon");
        assert_eq!(enabled_kind(&got), want, "{name}: {got:#?}");
    }
}

#[test]
fn symlinked_init_scripts_by_systemd_version() {
    // nova-agent 1.x's installer links /etc/init.d/nova-agent into /usr/share/nova-agent.
    let g = script(
        systemd(),
        "/usr/share/nova-agent/1.39.0/etc/generic",
        "nova-agent",
        "",
    )
    .link(
        "/etc/init.d/nova-agent",
        "/usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
    )
    .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent");
    let pkg = |version: &str, release: &str| {
        Some(SystemdPackage {
            version: version.into(),
            release: release.into(),
        })
    };
    for (version, want, note) in [
        (None, "enabled", "the systemd version is unknown"),
        (pkg("208", "20.el7_1.6"), "enabled", ""),
        (
            pkg("219", ""),
            "disabled",
            "the sysv-generator of systemd 219 skips it",
        ),
        (
            pkg("226", "1.fc23"),
            "disabled",
            "the sysv-generator of systemd 226-1.fc23 skips it",
        ),
        (pkg("227", "1.fc23"), "enabled", ""),
        // RHEL/CentOS 7: the 7.2 package skips, its fix and later minor releases follow.
        (
            pkg("219", "19.el7"),
            "disabled",
            "the sysv-generator of systemd 219-19.el7 skips it",
        ),
        (
            pkg("219", "19.el7_2.2"),
            "disabled",
            "systemd 219-19.el7_2.2 skips it",
        ),
        (pkg("219", "19.el7_2.3"), "enabled", ""),
        (pkg("219", "30.el7_3.9"), "enabled", ""),
        (pkg("219", "78.el7_9.9"), "enabled", ""),
        (pkg("219", "9.el7"), "enabled", ""),
    ] {
        let graph = BootGraph::read(&g, version.clone());
        let got = graph.enablement("nova-agent");
        assert_eq!(enabled_kind(&got), want, "{version:?}: {got:#?}");
        let notes = graph
            .unit("nova-agent")
            .map(|u| u.notes.clone())
            .unwrap_or_else(|| match &got {
                Enablement::Disabled(e) => e.clone(),
                _ => Vec::new(),
            });
        assert_eq!(
            notes
                .iter()
                .any(|e| !note.is_empty() && e.text.contains(note)),
            !note.is_empty(),
            "{version:?}: {notes:#?}"
        );
    }
}

#[test]
fn cycles_and_loops_terminate() {
    // Ordering cycles through many units, a .wants loop, an alias loop and a symlink loop.
    let mut g = systemd()
        .link("/etc/systemd/system/loop-a.service", "loop-b.service")
        .link("/etc/systemd/system/loop-b.service", "loop-a.service")
        .link("/etc/systemd/system/self.service", "self.service")
        .link(
            "/etc/systemd/system/multi-user.target.wants/loop-a.service",
            "../loop-a.service",
        );
    for i in 0..50 {
        let next = (i + 1) % 50;
        g = service(
            g,
            &format!("u{i}"),
            &format!("[Unit]\nBefore=u{next}.service\nWants=u{next}.service\n"),
        );
    }
    let graph = BootGraph::read(&g, None);
    assert_eq!(short(&graph.order("u0", "u25")), "cycle");
    assert_eq!(short(&graph.order("u0", "nope")), "unordered");
    assert!(matches!(
        graph.enablement("loop-a"),
        Enablement::Missing(_) | Enablement::Disabled(_)
    ));
    assert!(matches!(
        graph.enablement("self"),
        Enablement::Missing(_) | Enablement::Disabled(_)
    ));
}

#[test]
fn init_detection() {
    for (g, want) in [
        (
            MemGuest::new().link("/sbin/init", "/lib/systemd/systemd"),
            Init::Systemd,
        ),
        (
            MemGuest::new()
                .link("/sbin", "usr/sbin")
                .link("/usr/sbin/init", "../lib/systemd/systemd"),
            Init::Systemd,
        ),
        (MemGuest::new().exec("/sbin/init", "x"), Init::SysV),
        (
            MemGuest::new()
                .exec("/sbin/init", "x")
                .exec("/sbin/initctl", "x")
                .dir("/etc/init"),
            Init::Upstart,
        ),
        (
            MemGuest::new().file("/etc/inittab", "id:3:initdefault:\n"),
            Init::SysV,
        ),
    ] {
        assert_eq!(detect_init(&g).0, want, "{g:?}");
    }
}

#[test]
fn unit_file_syntax() {
    let lines = Lines {
        path: "/x.service".into(),
        lines: "[Unit]\n# c\nAfter=a.service \\\n  b.service\n;x\n[Install]\nWantedBy=multi-user.target\n"
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_owned()))
            .collect(),
    };
    let s = settings(&lines);
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0].key.as_str(), s[0].value.as_str(), s[0].line),
        ("After", "a.service b.service", 3)
    );
    assert_eq!(s[1].section, "Install");
    for (name, want) in [
        (
            "S15nova-agent",
            Some((true, 15, "nova-agent.service".to_owned())),
        ),
        (
            "K85nova-agent",
            Some((false, 85, "nova-agent.service".to_owned())),
        ),
        ("S1x", None),
        ("README", None),
        ("S20foo.sh", Some((true, 20, "foo.service".to_owned()))),
    ] {
        assert_eq!(rc_link(name), want, "{name}");
    }
    for (name, want) in [
        ("$network", Some("network-online.target")),
        ("$syslog", None),
        ("$foo", Some("foo.target")),
        (
            "xe-linux-distribution",
            Some("xe-linux-distribution.service"),
        ),
        ("nova-agent", None),
    ] {
        assert_eq!(sysv_facility(name, "nova-agent").as_deref(), want, "{name}");
    }
    assert_eq!(normalize("/etc/rc3.d/../init.d/./x"), "/etc/init.d/x");
    assert_eq!(normalize("/../../x"), "/x");
}
