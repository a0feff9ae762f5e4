//! `imgprep check --profile rackspace-nova-agent` on guests laid out as real installs lay them
//! out (images-test/rules-rackspace-real.sh), against verdicts written from Rackspace's article
//! "Nova-agent (Linux) and Rackspace agent (Windows)" before the rules ran:
//!
//! - "UNIX-like systems must run the xe-linux-distribution service … configure the
//!   xe-linux-distribution service to start before nova-agent" (what nova-agent requires; a
//!   cloud-init image without nova-agent needs only the image metadata);
//! - the 2.x branch is the recommended one and GitHub installs are not supported; the December
//!   2015 RHEL/CentOS 7.2 breakage concerns older images and servers that were not updated (a
//!   systemd whose sysv-generator skips 1.x's symlinked init script), and the advice is to build
//!   with 2.x rather than upgrade 1.x in place.
//!
//! Every rule of the profile is asserted on every image (8 rules × 4 images), with the message
//! fragments and the evidence (deciding file and line) behind each verdict.

mod common;

use common::{Want, want};

/// The profile's rules, in file order.
const RULES: [&str; 8] = [
    "nova-agent.present",
    "nova-agent.branch",
    "nova-agent.windows-version",
    "xe-tools.enabled",
    "xe-tools.before-nova-agent",
    "nova-agent.tun-tap",
    "windows.ipv6",
    "image.self-contained",
];

/// Runs the profile on IMAGE, expecting exit status `code` and exactly one want per rule.
fn check(image: &str, code: i32, wants: &[Want]) {
    let rules: Vec<&str> = wants.iter().map(|w| w.rule).collect();
    assert_eq!(
        rules, RULES,
        "{image}: one expected verdict per rule, in order"
    );
    let path = common::fixture("rules-rackspace-real").join(image);
    let results = common::check(&path, "rackspace-nova-agent", None, &[], code, wants);
    let ids: Vec<&str> = results.iter().filter_map(|r| r["rule"].as_str()).collect();
    assert_eq!(ids, RULES, "{image}: rules in file order");
}

/// What every Linux image here shares: no tun/tap, not Windows, one file.
const LINUX_TAIL: [Want; 3] = [
    want(
        "nova-agent.tun-tap",
        "pass",
        &["no persistent tun/tap device or VPN service"],
        &[],
    ),
    want("windows.ipv6", "skip", &["applies to windows only"], &[]),
    want("image.self-contained", "pass", &["one file"], &[]),
];

/// The Windows agent's version rule, after the branch rule.
const WINDOWS_VERSION: Want = want(
    "nova-agent.windows-version",
    "skip",
    &["applies to windows only"],
    &[],
);

fn with_tail(head: [Want; 4]) -> Vec<Want> {
    let [present, branch, enabled, order] = head;
    [present, branch, WINDOWS_VERSION, enabled, order]
        .into_iter()
        .chain(LINUX_TAIL)
        .collect()
}

#[test]
fn nova_agent_1x_on_an_updated_centos_7_9_starts_after_the_tools_but_warns() {
    check(
        "rsr-v1-centos79.qcow2",
        0,
        &with_tail([
            want(
                "nova-agent.present",
                "pass",
                &["nova-agent 1.x (1.39.0) is installed"],
                &[
                    "/etc/rc.d/init.d/nova-agent -> /usr/share/nova-agent/1.39.0/etc/generic/nova-agent",
                ],
            ),
            want(
                "nova-agent.branch",
                "warn",
                &[
                    "nova-agent 1.x (1.39.0) (the legacy branch, installed from GitHub) on centos 7.9",
                    "it starts here",
                    "Rackspace recommends the 2.x branch",
                    "build a new image with 2.x rather than upgrading 1.x in place",
                ],
                &["/usr/share/nova-agent/1.39.0"],
            ),
            want(
                "xe-tools.enabled",
                "pass",
                &["xe-linux-distribution starts at boot (systemd, multi-user.target)"],
                &["/etc/systemd/system/multi-user.target.wants/xe-linux-distribution.service"],
            ),
            // systemd 219-78.el7_9.9 follows the symlink: the generated unit takes After= from
            // the 1.x script's LSB header.
            want(
                "xe-tools.before-nova-agent",
                "pass",
                &["xe-linux-distribution.service → nova-agent.service"],
                &[
                    "/etc/rc.d/init.d/nova-agent:12 Required-Start: $remote_fs $syslog xe-linux-distribution",
                ],
            ),
        ]),
    );
}

#[test]
fn nova_agent_1x_on_a_never_updated_centos_7_2_fails() {
    check(
        "rsr-v1-centos72.qcow2",
        1,
        &with_tail([
            want(
                "nova-agent.present",
                "pass",
                &["nova-agent 1.x (1.39.0) is installed"],
                &[],
            ),
            want(
                "nova-agent.branch",
                "fail",
                &[
                    "nova-agent 1.x (1.39.0) on centos 7.2",
                    "sysv-generator skips symlinked scripts",
                    "the agent never starts",
                    "build a new image with the 2.x branch",
                ],
                &[
                    "/etc/rc.d/init.d/nova-agent the sysv-generator of systemd 219-19.el7 skips it",
                    "/etc/centos-release:1 CentOS Linux release 7.2.1511 (Core)",
                ],
            ),
            want(
                "xe-tools.enabled",
                "pass",
                &["xe-linux-distribution starts at boot"],
                &[],
            ),
            want(
                "xe-tools.before-nova-agent",
                "fail",
                &["nova-agent does not start at boot (systemd, multi-user.target)"],
                &["/etc/rc.d/init.d/nova-agent the sysv-generator of systemd 219-19.el7 skips it"],
            ),
        ]),
    );
}

#[test]
fn nova_agent_2x_ordered_by_a_drop_in_on_the_tools_side_passes() {
    check(
        "rsr-v2-ubuntu1804.qcow2",
        0,
        &with_tail([
            want(
                "nova-agent.present",
                "pass",
                &["nova-agent 2.x (2.1.20) is installed"],
                &["/var/lib/dpkg/status installed: nova-agent-2.1.20-1"],
            ),
            want("nova-agent.branch", "pass", &["2.x (2.1.20)"], &[]),
            want(
                "xe-tools.enabled",
                "pass",
                &["xe-linux-distribution starts at boot (systemd, multi-user.target)"],
                &["/etc/rc2.d/S01xe-linux-distribution -> ../init.d/xe-linux-distribution"],
            ),
            // Before= in a drop-in of the unit systemd-sysv-generator makes of the tools'
            // script orders them first, as After= on nova-agent would.
            want(
                "xe-tools.before-nova-agent",
                "pass",
                &["xe-linux-distribution.service → nova-agent.service"],
                &[
                    "/etc/systemd/system/xe-linux-distribution.service.d/10-before-nova-agent.conf:2 Before=nova-agent.service",
                ],
            ),
        ]),
    );
}

#[test]
fn cloud_init_without_nova_agent_needs_no_xenserver_tools() {
    check(
        "rsr-cloud-init-debian11.qcow2",
        0,
        &with_tail([
            want(
                "nova-agent.present",
                "warn",
                &[
                    "img_config_drive=mandatory",
                    "vm_mode=hvm",
                    "xenapi_use_agent=False",
                ],
                &["/var/lib/dpkg/status installed: cloud-init-20.4.1-2+deb11u1"],
            ),
            want("nova-agent.branch", "skip", &["not installed"], &[]),
            want(
                "xe-tools.enabled",
                "skip",
                &[
                    "nova-agent is not installed, and xe-linux-distribution, xe-daemon are needed only with it",
                ],
                &[],
            ),
            want(
                "xe-tools.before-nova-agent",
                "skip",
                &["nova-agent is not installed"],
                &[],
            ),
        ]),
    );
}
