//! `imgprep check --profile rackspace-nova-agent` on the rules-rackspace fixture images
//! (images-test/rules-rackspace.sh says what each image holds): the status of every rule, the
//! message fragments that explain it, and the evidence (paths and lines) behind it.

mod common;

use common::{Want, want};

/// Runs the profile on IMAGE (expecting exit status `code`), checks every rule of `wants`, and
/// that the report lists the profile's rules in file order.
fn check(image: &str, code: i32, wants: &[Want]) {
    let path = common::fixture("rules-rackspace").join(image);
    let results = common::check(&path, "rackspace-nova-agent", None, &[], code, wants);
    let ids: Vec<&str> = results.iter().filter_map(|r| r["rule"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "nova-agent.present",
            "nova-agent.branch",
            "nova-agent.windows-version",
            "xe-tools.enabled",
            "xe-tools.before-nova-agent",
            "nova-agent.tun-tap",
            "windows.ipv6",
            "image.self-contained",
        ],
        "{image}: rules in file order"
    );
}

#[test]
fn nova_agent_2x_ordered_after_the_xe_tools_passes_everything() {
    check(
        "rs-v2-ordered.qcow2",
        0,
        &[
            want(
                "nova-agent.present",
                "pass",
                &["nova-agent 2.x (2.1.20) is installed"],
                &[
                    "/usr/lib/python2.7/site-packages/novaagent",
                    "/usr/lib/python2.7/site-packages/novaagent/__init__.py:2 __version__ = '2.1.20'",
                    "/usr/bin/nova-agent:2 novaagent==2.1.20",
                ],
            ),
            want("nova-agent.branch", "pass", &["2.x (2.1.20)"], &[]),
            want(
                "xe-tools.enabled",
                "pass",
                &["xe-linux-distribution starts at boot (systemd, multi-user.target)"],
                &[
                    "/sbin/init -> ../lib/systemd/systemd",
                    "/etc/systemd/system/multi-user.target.wants/xe-linux-distribution.service",
                    "/etc/systemd/system/default.target -> /usr/lib/systemd/system/multi-user.target",
                ],
            ),
            want(
                "xe-tools.before-nova-agent",
                "pass",
                &["xe-linux-distribution.service → nova-agent.service"],
                &["/etc/systemd/system/xe-linux-distribution.service:3 Before=nova-agent.service"],
            ),
            want(
                "nova-agent.tun-tap",
                "pass",
                &["no persistent tun/tap"],
                &[],
            ),
        ],
    );
}

#[test]
fn nova_agent_1x_on_centos_7_2_without_a_package_database_warns() {
    check(
        "rs-v1-centos72.qcow2",
        0,
        &[
            want(
                "nova-agent.present",
                "pass",
                &["nova-agent 1.x (1.39.0) is installed"],
                &[
                    "/usr/share/nova-agent/1.39.0 with sbin/nova-agent",
                    "/etc/rc.d/init.d/nova-agent -> /usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
                    "/usr/sbin/nova-agent -> /usr/share/nova-agent/1.39.0/sbin/nova-agent",
                ],
            ),
            // No rpm database: the systemd version, which decides, is unknown.
            want(
                "nova-agent.branch",
                "warn",
                &[
                    "nova-agent 1.x (1.39.0) (the legacy branch, installed from GitHub) on centos 7.2",
                    "rather than upgrading 1.x in place",
                    "does not give the systemd version",
                ],
                &[
                    "/usr/share/nova-agent/1.39.0",
                    "/etc/rc.d/init.d/nova-agent the systemd version is unknown",
                ],
            ),
            want(
                "xe-tools.enabled",
                "pass",
                &["xe-linux-distribution starts at boot"],
                &[],
            ),
            // Mixed: the native xe unit, nova-agent's SysV script wrapped by
            // systemd-sysv-generator, ordered by its LSB header.
            want(
                "xe-tools.before-nova-agent",
                "pass",
                &["xe-linux-distribution.service → nova-agent.service"],
                &[
                    "/etc/rc.d/init.d/nova-agent:12 Required-Start: $remote_fs $syslog xe-linux-distribution",
                ],
            ),
            want("nova-agent.tun-tap", "pass", &[], &[]),
        ],
    );
}

#[test]
fn masked_xe_tools_fail_enablement_and_order() {
    check(
        "rs-xe-masked.qcow2",
        1,
        &[
            want(
                "nova-agent.present",
                "pass",
                &["2.x (2.1.20)"],
                &["/var/lib/dpkg/status installed: nova-agent-2.1.20-1"],
            ),
            want("nova-agent.branch", "pass", &[], &[]),
            want(
                "xe-tools.enabled",
                "fail",
                &[
                    "xe-linux-distribution is masked",
                    "xe-daemon is not installed",
                ],
                &[
                    "/etc/systemd/system/xe-linux-distribution.service -> /dev/null: masked",
                    "/etc/systemd/system/multi-user.target.wants/xe-linux-distribution.service starts nothing",
                ],
            ),
            want(
                "xe-tools.before-nova-agent",
                "fail",
                &["none of xe-linux-distribution, xe-daemon starts at boot"],
                &["/etc/systemd/system/xe-linux-distribution.service -> /dev/null: masked"],
            ),
            want("nova-agent.tun-tap", "pass", &[], &[]),
        ],
    );
}

#[test]
fn sysv_links_in_the_wrong_order_fail_and_tun0_warns() {
    check(
        "rs-sysv-wrong-order.qcow2",
        1,
        &[
            want("nova-agent.present", "pass", &["2.x"], &[]),
            want(
                "xe-tools.enabled",
                "pass",
                &["(SysV init, runlevel 2)"],
                &[
                    "/sbin/init SysV init",
                    "/etc/rc2.d/S03xe-linux-distribution -> ../init.d/xe-linux-distribution",
                    "/etc/inittab:1 id:2:initdefault:",
                ],
            ),
            want(
                "xe-tools.before-nova-agent",
                "fail",
                &[
                    "xe-linux-distribution starts after nova-agent",
                    "S01nova-agent → S03xe-linux-distribution in runlevel 2",
                    "LSB header asks for the opposite",
                ],
                &[
                    "/etc/rc2.d/S01nova-agent -> ../init.d/nova-agent",
                    "/etc/rc2.d/S03xe-linux-distribution",
                    "/etc/init.d/nova-agent:4 Required-Start:    $remote_fs $syslog xe-linux-distribution",
                ],
            ),
            want(
                "nova-agent.tun-tap",
                "warn",
                &["tun/tap", "crash or hang"],
                &[
                    "/etc/network/interfaces:4 auto tun0",
                    "/etc/network/interfaces:5 iface tun0 inet static",
                    "/etc/network/interfaces:8 pre-up ip tuntap add dev tun0 mode tun",
                ],
            ),
        ],
    );
}

#[test]
fn after_from_a_drop_in_in_etc_passes() {
    check(
        "rs-dropin.qcow2",
        0,
        &[
            want(
                "xe-tools.before-nova-agent",
                "pass",
                &["xe-linux-distribution starts before nova-agent"],
                &[
                    "/etc/systemd/system/nova-agent.service.d/10-xe-tools.conf:3 After=xe-linux-distribution.service",
                ],
            ),
            want("xe-tools.enabled", "pass", &[], &[]),
            want("nova-agent.present", "pass", &[], &[]),
        ],
    );
}

#[test]
fn cloud_init_without_nova_agent_warns_with_the_metadata() {
    check(
        "rs-cloud-init-only.qcow2",
        0,
        &[
            want(
                "nova-agent.present",
                "warn",
                &[
                    "img_config_drive=mandatory",
                    "vm_mode=hvm",
                    "xenapi_use_agent=False",
                ],
                &[
                    "/var/lib/dpkg/status installed: cloud-init-22.4.2-1",
                    "/usr/bin/cloud-init exists",
                    "/usr/share/nova-agent missing",
                ],
            ),
            want("nova-agent.branch", "skip", &["not installed"], &[]),
            // The XenServer tools are needed only with nova-agent.
            want(
                "xe-tools.enabled",
                "skip",
                &[
                    "nova-agent is not installed, and xe-linux-distribution, xe-daemon are needed only with it",
                ],
                &["/etc/systemd/system no nova-agent.service"],
            ),
            want(
                "xe-tools.before-nova-agent",
                "skip",
                &["nova-agent is not installed"],
                &[],
            ),
            want("nova-agent.tun-tap", "pass", &[], &[]),
        ],
    );
}

#[test]
fn tun_tap_definitions_and_an_enabled_vpn_warn() {
    check(
        "rs-tuntap.qcow2",
        0,
        &[
            want(
                "nova-agent.tun-tap",
                "warn",
                &["VPN services started at boot: openvpn@client.service"],
                &[
                    "/etc/sysconfig/network-scripts/ifcfg-tap0:2 TYPE=Tap",
                    "/etc/systemd/network/50-tun1.netdev:3 Kind=tun",
                    "/etc/NetworkManager/system-connections/vpn-tun.nmconnection:3 type=tun",
                    "/etc/systemd/system/multi-user.target.wants/openvpn@client.service -> /usr/lib/systemd/system/openvpn@.service",
                ],
            ),
            want("xe-tools.before-nova-agent", "pass", &[], &[]),
        ],
    );
}

#[test]
fn neither_nova_agent_nor_cloud_init_fails() {
    check(
        "rs-neither.qcow2",
        1,
        &[
            want(
                "nova-agent.present",
                "fail",
                &["neither nova-agent nor cloud-init is installed"],
                &[
                    "/usr/share/nova-agent missing",
                    "/usr/bin/nova-agent missing",
                    "/usr/bin/cloud-init missing",
                ],
            ),
            want("nova-agent.branch", "skip", &[], &[]),
            want("xe-tools.enabled", "skip", &[], &[]),
            want("xe-tools.before-nova-agent", "skip", &[], &[]),
        ],
    );
}
