//! `imgprep check` on the Windows look-alike fixtures (images-test/windows-*.sh say what each
//! image holds): the Windows rules of the cloudcenter-worker and rackspace-nova-agent profiles,
//! their status, the message fragments that explain it and the evidence behind it.

mod common;

use common::{Want, want};

/// Runs `imgprep check FIXTURE/IMAGE --profile PROFILE [--cloud CLOUD]` (expecting exit status
/// `code`) and checks every rule of `wants`.
fn check(
    fixture: &str,
    image: &str,
    profile: &str,
    cloud: Option<&str>,
    code: i32,
    wants: &[Want],
) {
    let path = common::fixture(fixture).join(image);
    common::check(&path, profile, cloud, &[], code, wants);
}

#[test]
fn cloudcenter_worker_on_2008r2_without_cloudbase_init() {
    check(
        "windows-2008r2",
        "win2008r2-like.qcow2",
        "cloudcenter-worker",
        Some("openstack"),
        1,
        &[
            want(
                "agent.present",
                "warn",
                &[
                    "no management agent found",
                    "openstack bootstraps Windows 2008 dynamically",
                ],
                &["registry:SYSTEM\\CurrentControlSet\\Services\\AgentService no such service"],
            ),
            want(
                "cloudbase-init.userdata",
                "fail",
                &[
                    "cloudbase-init is not installed",
                    "rules/matrix.yaml marks Windows 2008 on openstack with the cloudbase-init \
                     footnote: Windows needs cloudbase-init set to run the user data",
                ],
                &[
                    "registry:SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall no entry",
                    "registry:SYSTEM\\CurrentControlSet\\Services\\cloudbase-init no such service",
                ],
            ),
        ],
    );
}

#[test]
fn cloudcenter_worker_on_2012r2_with_agent_and_userdata() {
    check(
        "windows-2012r2",
        "win2012r2-like.vhdx",
        "cloudcenter-worker",
        Some("openstack"),
        0,
        &[
            want(
                "agent.present",
                "pass",
                &["the management agent is installed"],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\AgentService service \
                     AgentService (\"C:\\Program Files\\osmosix\\agent\\AgentService.exe\"), \
                     start automatic",
                    "registry:SYSTEM\\CurrentControlSet\\Services\\CliQrStartupService service",
                ],
            ),
            want(
                "cloudbase-init.userdata",
                "pass",
                &[
                    "cloudbase-init runs user data as a script",
                    "cloudbase-init.conf lists UserDataPlugin in its plugins",
                ],
                &[
                    "registry:SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\\
                     {3E3C6F11-5F5D-4B36-9B5A-6D2C1E4B7A01} Cloudbase-Init 1.1.2, installed in \
                     C:\\Program Files\\Cloudbase Solutions\\Cloudbase-Init\\",
                    "registry:SYSTEM\\CurrentControlSet\\Services\\cloudbase-init service \
                     cloudbase-init",
                    "/Program Files/Cloudbase Solutions/Cloudbase-Init/conf/cloudbase-init.conf:20 \
                     plugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,",
                    "/Program Files/Cloudbase Solutions/Cloudbase-Init/conf/\
                     cloudbase-init-unattend.conf:13 plugins=",
                ],
            ),
        ],
    );
}

#[test]
fn cloudcenter_worker_on_2016_with_default_plugins() {
    check(
        "windows-2016",
        "win2016-like.vmdk",
        "cloudcenter-worker",
        None,
        1,
        &[
            want(
                "agent.present",
                "fail",
                &[
                    "no management agent found (looked for service AgentService, service \
                     CliQrStartupService)",
                    "without --cloud",
                ],
                &["registry:SYSTEM\\CurrentControlSet\\Services\\CliQrStartupService no such"],
            ),
            want(
                "cloudbase-init.userdata",
                "pass",
                &["sets no plugins, so cloudbase-init runs its default plugin list"],
                &[
                    "registry:SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\\
                     Uninstall\\{6A2B7C4D-1E3F-4A5B-8C9D-0E1F2A3B4C5D} Cloudbase-Init 0.9.11",
                    "/Program Files (x86)/Cloudbase Solutions/Cloudbase-Init/conf/\
                     cloudbase-init.conf no plugins option in [DEFAULT]",
                ],
            ),
        ],
    );
}

#[test]
fn cloudcenter_worker_on_2016_without_the_userdata_plugin() {
    check(
        "windows-2016-noipv6",
        "win2016-noipv6.qcow2",
        "cloudcenter-worker",
        Some("openstack"),
        1,
        &[want(
            "cloudbase-init.userdata",
            "fail",
            &[
                "cloudbase-init is installed but does not run user data",
                "leaves out UserDataPlugin",
            ],
            &[
                "/Program Files/Cloudbase Solutions/Cloudbase-Init/conf/cloudbase-init.conf:20 \
                 plugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,cloudbaseinit.plugins.common.\
                 sethostname.SetHostNamePlugin",
                "/Program Files/Cloudbase Solutions/Cloudbase-Init/conf/\
                 cloudbase-init-unattend.conf:13 plugins=",
            ],
        )],
    );
}

#[test]
fn rackspace_on_2008r2_without_agent_and_ipv6() {
    check(
        "windows-2008r2",
        "win2008r2-like.qcow2",
        "rackspace-nova-agent",
        None,
        1,
        &[
            want(
                "windows.ipv6",
                "fail",
                &["DisabledComponents is 0xffffffff (4294967295), which it must not be"],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters\\\
                   DisabledComponents 0xffffffff",
                ],
            ),
            want(
                "nova-agent.present",
                "fail",
                &[
                    "the Rackspace Cloud Servers agent (the RackspaceCloudServersAgent service) is \
                   not installed",
                ],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\RackspaceCloudServersAgent no \
                   such service",
                ],
            ),
            // "Windows systems must run the XenServer Tools", for the agent: without it, the
            // tools and TAP rules do not apply.
            want(
                "xe-tools.enabled",
                "skip",
                &[
                    "RackspaceCloudServersAgent is not installed, and XenSvc are needed only with it",
                ],
                &[],
            ),
            want(
                "nova-agent.tun-tap",
                "skip",
                &["RackspaceCloudServersAgent is not installed"],
                &[],
            ),
        ],
    );
}

#[test]
fn rackspace_on_2012r2_without_tcpip6_parameters() {
    check(
        "windows-2012r2",
        "win2012r2-like.vhdx",
        "rackspace-nova-agent",
        None,
        1,
        &[
            want(
                "windows.ipv6",
                "pass",
                &["DisabledComponents is not set, so it is none of 0xff, 0xffffffff"],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters\\\
                   DisabledComponents not set",
                ],
            ),
            want("nova-agent.present", "fail", &["is not installed"], &[]),
        ],
    );
}

#[test]
fn rackspace_on_2016_with_agent() {
    check(
        "windows-2016",
        "win2016-like.vmdk",
        "rackspace-nova-agent",
        None,
        1,
        &[
            want(
                "windows.ipv6",
                "pass",
                &["DisabledComponents is 0x20 (32), none of 0xff, 0xffffffff"],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters\\\
                   DisabledComponents 0x20 (32)",
                ],
            ),
            want(
                "nova-agent.present",
                "pass",
                &[
                    "the Rackspace Cloud Servers agent (version unknown: /Program \
                     Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
                     has no version resource, and no Uninstall entry gives one) is installed",
                    "(service RackspaceCloudServersAgent, start automatic), with its updater",
                ],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\RackspaceCloudServersAgent \
                     service RackspaceCloudServersAgent (\"C:\\Program Files\\Rackspace\\Cloud \
                     Servers\\Agent\\Rackspace.Cloud.Server.Agent.Service.exe\")",
                    "registry:SYSTEM\\CurrentControlSet\\Services\\\
                     RackspaceCloudServersAgentUpdater service",
                    "registry:SOFTWARE\\Rackspace key exists, values: cloud-automation-run",
                    "/Program Files/Rackspace/Cloud Servers/Agent/\
                     Rackspace.Cloud.Server.Agent.Service.exe the agent's executable exists",
                ],
            ),
            // The look-alike's executables are PE stubs without a version resource, and no
            // Uninstall entry names the agent.
            want(
                "nova-agent.windows-version",
                "warn",
                &["cannot tell the Rackspace agent's version"],
                &["/Program Files/Rackspace/Cloud Servers/Agent/\
                     Rackspace.Cloud.Server.Agent.Service.exe no version resource (RT_VERSION)"],
            ),
            // No XenServer tools on the look-alike.
            want(
                "xe-tools.enabled",
                "fail",
                &["none of XenSvc starts at boot: XenSvc is not installed"],
                &["registry:SYSTEM\\CurrentControlSet\\Services\\XenSvc no such service"],
            ),
        ],
    );
}

#[test]
fn rackspace_on_2016_with_ipv6_off() {
    check(
        "windows-2016-noipv6",
        "win2016-noipv6.qcow2",
        "rackspace-nova-agent",
        None,
        1,
        &[
            want(
                "windows.ipv6",
                "fail",
                &["DisabledComponents is 0xff (255), which it must not be (0xff)"],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters\\\
                   DisabledComponents 0xff (255)",
                ],
            ),
            want(
                "nova-agent.present",
                "pass",
                &["the Rackspace Cloud Servers agent (version unknown"],
                &["registry:SOFTWARE\\Rackspace key exists"],
            ),
        ],
    );
}
