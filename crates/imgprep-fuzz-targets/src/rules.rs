//! The rules target.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use imgprep_fs::MemFs;
use imgprep_guest::{MountTable, NativeGuest};
use imgprep_inspect::OperatingSystem;
use imgprep_rules::{Cloud, Context, RuleSet, effective_params, run};

const PATHS: &[&str] = &[
    "/etc/login.defs",
    "/etc/profile",
    "/etc/bashrc",
    "/etc/bash.bashrc",
    "/etc/profile.d/a.sh",
    "/etc/profile.d/z.sh",
    "/etc/csh.cshrc",
    "/etc/csh.login",
    "/etc/pam.d/common-session",
    "/etc/pam.d/login",
    "/etc/pam.d/sshd",
    "/etc/pam.d/system-auth",
    "/etc/passwd",
    "/etc/group",
    "/etc/sudoers",
    "/etc/sudoers.d/cliqruser",
    "/etc/skel/.bashrc",
    "/root/.bashrc",
    "/etc/systemd/system/nova-agent.service",
    "/etc/systemd/system/nova-agent.service.d/override.conf",
    "/etc/systemd/system/multi-user.target.wants/nova-agent.service",
    "/etc/systemd/system/multi-user.target.wants/xe-linux-distribution.service",
    "/usr/lib/systemd/system/xe-linux-distribution.service",
    "/lib/systemd/system/xe-daemon.service",
    "/etc/init.d/nova-agent",
    "/etc/init.d/xe-linux-distribution",
    "/etc/rc3.d/S15nova-agent",
    "/etc/rc3.d/S14xe-linux-distribution",
    "/etc/rc2.d/S02xe-linux-distribution",
    "/etc/inittab",
    "/etc/init/nova-agent.conf",
    "/etc/init/xe-daemon.conf",
    "/etc/init/xe-daemon.override",
    "/usr/share/nova-agent/1.39.0/sbin/nova-agent",
    "/usr/bin/nova-agent",
    "/usr/sbin/nova-agent",
    "/etc/network/interfaces",
    "/etc/network/interfaces.d/vpn",
    "/etc/sysconfig/network-scripts/ifcfg-tun0",
    "/etc/NetworkManager/system-connections/tun0.nmconnection",
    "/etc/openvpn/client.conf",
    "/usr/lib64/python2.7/ssl.py",
    "/usr/lib/python2.7/ssl.py",
    "/usr/bin/python2.7",
    "/usr/bin/python3.6",
    "/usr/local/osmosix/etc/userenv",
    "/usr/local/agentlite",
    "/etc/pki/ca-trust/source/anchors/ca.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/usr/local/share/ca-certificates/ca.crt",
    "/etc/cloud/cloud.cfg",
    "/opt/cloudify-agent/agent-7.0/env/bin/python",
    "/opt/cloudify-agent/agent-7.0/env/bin/activate",
    "/opt/cloudify-agent/agent-7.0/env/pyvenv.cfg",
    "/opt/cloudify-agent/agent-7.0/env/lib/python2.7/orig-prefix.txt",
    "/opt/cloudify-agent/agent-7.0/env/lib/python2.7/site-packages/cloudify_agent/included_plugins.py",
    "/opt/cloudify-agent/agent-7.0/env/lib/python2.7/site-packages/cloudify_agent/__init__.py",
];

fn os(distro: &str, major: u32, minor: u32, format: &str) -> OperatingSystem {
    OperatingSystem {
        name: Some("linux".into()),
        distro: Some(distro.into()),
        major_version: major,
        minor_version: minor,
        package_format: Some(format.into()),
        ..Default::default()
    }
}

fn rules() -> &'static (RuleSet, Vec<OperatingSystem>) {
    static RULES: OnceLock<(RuleSet, Vec<OperatingSystem>)> = OnceLock::new();
    RULES.get_or_init(|| {
        let set = RuleSet::builtin().expect("the built-in rules load");
        let oses = vec![
            os("centos", 7, 9, "rpm"),
            os("ubuntu", 16, 4, "deb"),
            os("debian", 12, 5, "deb"),
        ];
        (set, oses)
    })
}

/// The built-in rule profiles on a hostile guest: every file a Linux probe reads (login.defs,
/// PAM, shell startup files, sudoers, systemd units and drop-ins, SysV and upstart scripts,
/// nova-agent, tun/tap configuration, trust store, Python's ssl.py, the Cloudify agent's
/// virtualenv) is fuzzer-written, or a symlink to a fuzzer-written target, in an in-memory
/// filesystem read through the real guest path resolver. Every profile runs on each input for a
/// CentOS 7, an Ubuntu 16.04 and a Debian 12 inspection result, with and without a cloud.
///
/// Input: a selector byte, then records separated by 0x00: a byte choosing the path (high bit:
/// make it a symlink whose target is the rest) and the file's content.
pub fn rules_guest_files(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut fs = MemFs::new();
    for record in rest.split(|&b| b == 0).take(256) {
        let Some((&which, content)) = record.split_first() else {
            continue;
        };
        let path = PATHS[usize::from(which & 0x7f) % PATHS.len()];
        fs = if which & 0x80 != 0 {
            fs.link(path, content)
        } else {
            fs.file(path, content, 0o755)
        };
    }
    let mut table = MountTable::new();
    table.mount("/", Arc::new(fs));
    let guest = NativeGuest::new(table);

    let (set, oses) = rules();
    let os = &oses[usize::from(selector) % oses.len()];
    let cloud = match selector / 3 % 3 {
        0 => None,
        1 => Some(Cloud::Openstack),
        _ => Some(Cloud::Aws),
    };
    for profile in [
        "cloudcenter-worker",
        "rackspace-nova-agent",
        "cloudify-agent",
    ] {
        let Ok(params) = effective_params(set, profile, &[]) else {
            continue;
        };
        let params: BTreeMap<String, String> = params;
        let cx = Context::new(os, &guest, cloud, &params, &set.matrix, &[]);
        for r in run(set, profile, &cx) {
            assert!(
                !r.message.is_empty(),
                "{}: a verdict without a message",
                r.rule
            );
        }
    }
}
