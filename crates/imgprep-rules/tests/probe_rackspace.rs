//! The Rackspace probes on guests built in memory: nova-agent's branches and presence,
//! cloud-init instead, and tun/tap definitions.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use imgprep_inspect::OperatingSystem;
use imgprep_rules::{Outcome, Status};
use imgprep_testkit::MemGuest;

fn os(distro: &str, major: u32, minor: u32, apps: &[(&str, &str)]) -> OperatingSystem {
    common::with_packages(common::linux(distro, major, minor, "rpm"), apps)
}

fn run(check: &str, g: &MemGuest, os: &OperatingSystem) -> Outcome {
    let yaml = match check {
        "present" => "probe: nova-agent-present\n",
        "branch" => "probe: nova-agent-branch\n",
        "tun-tap" => "probe: tun-tap\n",
        other => panic!("{other}"),
    };
    common::run(yaml, g, os, &[])
}

/// A CentOS 7.MINOR whose package database lists systemd VERSION-RELEASE.
fn centos_with_systemd(minor: u32, version: &str, release: &str) -> OperatingSystem {
    let mut os = common::linux("centos", 7, minor, "rpm");
    os.applications = Some(vec![imgprep_inspect::Application {
        name: "systemd".into(),
        version: Some(version.into()),
        release: Some(release.into()),
        ..Default::default()
    }]);
    os
}

fn v1(g: MemGuest) -> MemGuest {
    g.exec("/usr/share/nova-agent/1.39.0/sbin/nova-agent", "\x7fELF")
        .exec(
            "/usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: Nova-Agent\n### END INIT INFO\n",
        )
        .link(
            "/etc/init.d/nova-agent",
            "/usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
        )
        .link(
            "/usr/sbin/nova-agent",
            "/usr/share/nova-agent/1.39.0/sbin/nova-agent",
        )
}

fn v2(g: MemGuest) -> MemGuest {
    g.file(
        "/usr/lib/python2.7/site-packages/novaagent/__init__.py",
        "\n__version__ = '2.1.16'\n",
    )
    .dir("/usr/lib/python2.7/site-packages/novaagent-2.1.16-py2.7.egg-info")
    .exec(
        "/usr/bin/nova-agent",
        "#!/usr/bin/python\n# EASY-INSTALL-ENTRY-SCRIPT: 'novaagent==2.1.16','console_scripts','nova-agent'\n",
    )
    .file("/usr/lib/systemd/system/nova-agent.service", "[Unit]\n")
}

fn systemd() -> MemGuest {
    MemGuest::new().link("/sbin/init", "../lib/systemd/systemd")
}

#[test]
fn presence_and_branch_table() {
    let centos72 = os("centos", 7, 2, &[]);
    let debian = os("debian", 9, 0, &[]);
    for (name, g, os, present, branch, fragment) in [
        (
            "2.x files",
            v2(systemd()),
            &centos72,
            Status::Pass,
            Status::Pass,
            "2.x (2.1.16)",
        ),
        (
            "1.x on CentOS 7.2, systemd version unknown",
            v1(systemd()),
            &centos72,
            Status::Pass,
            Status::Warn,
            "does not give the systemd version",
        ),
        (
            "1.x on a never-updated CentOS 7.2",
            v1(systemd()),
            &centos_with_systemd(2, "219", "19.el7"),
            Status::Pass,
            Status::Fail,
            "never starts",
        ),
        (
            "1.x on CentOS 7.2 with the fixed systemd",
            v1(systemd()),
            &centos_with_systemd(2, "219", "19.el7_2.3"),
            Status::Pass,
            Status::Warn,
            "rather than upgrading 1.x in place",
        ),
        (
            "1.x on CentOS 7.9",
            v1(systemd()),
            &centos_with_systemd(9, "219", "78.el7_9.9"),
            Status::Pass,
            Status::Warn,
            "build a new image with 2.x",
        ),
        (
            "1.x on Debian",
            v1(systemd()),
            &debian,
            Status::Pass,
            Status::Warn,
            "legacy branch",
        ),
        (
            "both",
            v1(v2(systemd())),
            &debian,
            Status::Pass,
            Status::Warn,
            "Both branches",
        ),
        (
            "package only, 2.x version",
            systemd().file("/usr/lib/systemd/system/nova-agent.service", "[Unit]\n"),
            &os("centos", 7, 9, &[("nova-agent", "2.1.20")]),
            Status::Pass,
            Status::Pass,
            "2.x (2.1.20)",
        ),
        (
            "program without a service",
            systemd().file("/usr/lib/python3/dist-packages/novaagent/__init__.py", ""),
            &debian,
            Status::Fail,
            Status::Pass,
            "no systemd unit",
        ),
        (
            "cloud-init only",
            systemd().exec("/usr/bin/cloud-init", "#!/usr/bin/python3\n"),
            &debian,
            Status::Warn,
            Status::Skip,
            "xenapi_use_agent=False",
        ),
        (
            "neither",
            systemd(),
            &debian,
            Status::Fail,
            Status::Skip,
            "neither",
        ),
    ] {
        let p = run("present", &g, os);
        let b = run("branch", &g, os);
        assert_eq!(
            (p.status, b.status),
            (present, branch),
            "{name}: {p:#?} {b:#?}"
        );
        assert!(
            p.message.contains(fragment) || b.message.contains(fragment),
            "{name}: {fragment:?} in {p:#?} {b:#?}"
        );
    }
}

#[test]
fn tun_tap_table() {
    let debian = os("debian", 12, 0, &[]);
    for (name, g, want) in [
        ("nothing", systemd(), 0),
        (
            "ifcfg TYPE=Tap",
            systemd().file(
                "/etc/sysconfig/network-scripts/ifcfg-vpn0",
                "DEVICE=vpn0\nTYPE=Tap\nONBOOT=yes\n",
            ),
            1,
        ),
        (
            "ifcfg-tun0 by name only",
            systemd().file("/etc/sysconfig/network-scripts/ifcfg-tun0", "ONBOOT=yes\n"),
            1,
        ),
        (
            "ifcfg of an ethernet device",
            systemd().file(
                "/etc/sysconfig/network-scripts/ifcfg-eth0",
                "DEVICE=eth0\nTYPE=Ethernet\n",
            ),
            0,
        ),
        (
            "interfaces with tuntap and a sourced tap stanza",
            systemd()
                .file(
                    "/etc/network/interfaces",
                    "auto lo\niface lo inet loopback\n  pre-up ip tuntap add dev tun0 mode tun\nsource interfaces.d/*\n",
                )
                .file("/etc/network/interfaces.d/vpn", "iface tap1 inet manual\n# iface tun9 x\n"),
            2,
        ),
        (
            "interfaces sourcing itself",
            systemd().file("/etc/network/interfaces", "source /etc/network/interfaces\n"),
            0,
        ),
        (
            "networkd netdev",
            systemd().file("/etc/systemd/network/10-tun.netdev", "[NetDev]\nName=tun0\nKind=tun\n"),
            1,
        ),
        (
            "networkd netdev masked in /etc",
            systemd()
                .file("/usr/lib/systemd/network/10-tun.netdev", "[NetDev]\nKind=tap\n")
                .link("/etc/systemd/network/10-tun.netdev", "/dev/null"),
            0,
        ),
        (
            "NetworkManager tun connection",
            systemd().file(
                "/etc/NetworkManager/system-connections/tun0.nmconnection",
                "[connection]\nid=tun0\ntype=tun\n[tun]\nmode=1\n",
            ),
            1,
        ),
        (
            "openvpn@client enabled",
            systemd()
                .file("/usr/lib/systemd/system/openvpn@.service", "[Unit]\n")
                .link(
                    "/etc/systemd/system/multi-user.target.wants/openvpn@client.service",
                    "/usr/lib/systemd/system/openvpn@.service",
                ),
            1,
        ),
        (
            "openvpn installed, not enabled",
            systemd().file("/usr/lib/systemd/system/openvpn@.service", "[Unit]\n"),
            0,
        ),
    ] {
        let o = run("tun-tap", &g, &debian);
        let want_status = if want == 0 { Status::Pass } else { Status::Warn };
        assert_eq!((o.status, o.evidence.len()), (want_status, want), "{name}: {o:#?}");
    }
}

#[test]
fn windows_without_a_registry_is_an_error() {
    let win = OperatingSystem {
        name: Some("windows".into()),
        ..Default::default()
    };
    let o = run("present", &MemGuest::new(), &win);
    assert_eq!(o.status, Status::Error);
    assert!(o.message.contains("no registry"), "{o:?}");
}
