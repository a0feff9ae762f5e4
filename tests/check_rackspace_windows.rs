//! `imgprep check --profile rackspace-nova-agent` on Windows Server 2012 R2 guests laid out as
//! real Rackspace installs lay them out (images-test/rules-rackspace-windows.sh), against
//! verdicts written from Rackspace's article "Nova-agent (Linux) and Rackspace agent (Windows)"
//! before the rules ran. Every rule of the profile is asserted on every image (8 rules × 4
//! images, and the version rule again with `--param rackconnect=v3`), with the message fragments
//! and the evidence (the deciding file or registry key) behind each verdict.
//!
//! The version resource reader is also compared, on every executable the fixture built, with
//! what `x86_64-w64-mingw32-windres -i EXE -O rc` prints back (the fixture's `pe/*.rc.txt`).

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

/// Runs the profile on IMAGE (with `params`), expecting exit status `code` and exactly one want
/// per rule.
fn check(image: &str, params: &[&str], code: i32, wants: &[Want]) {
    let rules: Vec<&str> = wants.iter().map(|w| w.rule).collect();
    assert_eq!(
        rules, RULES,
        "{image}: one expected verdict per rule, in order"
    );
    let path = common::fixture("rules-rackspace-windows").join(image);
    let params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
    let results = common::check(&path, "rackspace-nova-agent", None, &params, code, wants);
    let ids: Vec<&str> = results.iter().filter_map(|r| r["rule"].as_str()).collect();
    assert_eq!(ids, RULES, "{image}: rules in file order");
}

/// The Linux-only rules, and the rules every image here passes the same way.
const BRANCH: Want = want("nova-agent.branch", "skip", &["applies to linux only"], &[]);
const ORDER: Want = want(
    "xe-tools.before-nova-agent",
    "skip",
    &["applies to linux only"],
    &[],
);
// "You must enable IPv6 on the public interface": none of these images disables it.
const IPV6: Want = want(
    "windows.ipv6",
    "pass",
    &["DisabledComponents is not set"],
    &[
        "registry:SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters\\DisabledComponents not set",
    ],
);
const ONE_FILE: Want = want("image.self-contained", "pass", &["one file"], &[]);

// Each verdict below carries the sentence of the article it comes from. The rules that are
// Linux-only (the nova-agent branch and the boot order of the tools) are skipped on Windows.

/// Agent 1.2.9.0: present (its version named), too old for RackConnect v3 (a warning: not every
/// server uses it), the XenServer tools' agent automatic, no TAP adapter.
fn agent129(version: Want) -> Vec<Want> {
    vec![
        // "Nova-agent is a required service for all virtualized servers in the Rackspace public
        // cloud." (the Windows agent: "Installing nova-agent on Windows")
        want(
            "nova-agent.present",
            "pass",
            &[
                "the Rackspace Cloud Servers agent 1.2.9.0 (from the executable's version \
                 resource (ProductVersion)) is installed (service RackspaceCloudServersAgent, \
                 start automatic), with its updater",
            ],
            &[
                "registry:SYSTEM\\CurrentControlSet\\Services\\RackspaceCloudServersAgent service \
                 RackspaceCloudServersAgent (C:\\Program Files\\Rackspace\\Cloud \
                 Servers\\Agent\\Rackspace.Cloud.Server.Agent.Service.exe), start automatic",
                "/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
                 StringFileInfo\\000004b0\\ProductVersion \"1.2.9.0\"",
            ],
        ),
        BRANCH,
        version,
        // "Windows systems must run the XenServer Tools."
        want(
            "xe-tools.enabled",
            "pass",
            &["XenSvc starts at boot (Start 2 (automatic) in ControlSet001)"],
            &[
                "registry:SYSTEM\\CurrentControlSet\\Services\\XenSvc\\Start 2 (automatic) in \
                 ControlSet001; ImagePath \"C:\\Program Files (x86)\\Citrix\\XenTools\\\
                 xenservice.exe\"; DisplayName \"Citrix Tools for Virtual Machines Service\"",
                "registry:SYSTEM\\CurrentControlSet\\Services\\xenbus\\Start 0 (boot)",
                "registry:SYSTEM\\CurrentControlSet\\Services\\xennet\\Start 3 (manual)",
            ],
        ),
        ORDER,
        // "Nova-agent for Linux and Windows does not deal with unexpected Ethernet interfaces. For
        // example, Tun and Tap devices, created by VPN applications, can cause nova-agent to crash."
        want(
            "nova-agent.tun-tap",
            "pass",
            &["no TAP/TUN adapter driver (tap0901, tapoas, tap0801, wintun, ovpn-dco)"],
            &[],
        ),
        IPV6,
        ONE_FILE,
    ]
}

#[test]
fn agent_1_2_9_warns_that_rackconnect_v3_needs_1_3_1() {
    check(
        "rsw-agent129.qcow2",
        &[],
        0,
        // "(Windows only) Versions older versions than 1.3.1 do not work with RackConnect v3, because
        // the agent can't properly create virtual Network Interface Cards (NICs) with the Cloud
        // Network names."
        &agent129(want(
            "nova-agent.windows-version",
            "warn",
            &[
                "the Rackspace agent is 1.2.9.0 (from the executable's version resource \
                 (ProductVersion)), older than 1.3.1",
                "versions before 1.3.1 do not work with RackConnect v3",
                "servers that do not use RackConnect v3 are not affected",
            ],
            &[
                "/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
                 version resource at 0x",
                "/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
                 StringFileInfo\\000004b0\\ProductVersion \"1.2.9.0\" (VS_FIXEDFILEINFO FileVersion \
                 1.2.9.0, ProductVersion 1.2.9.0)",
            ],
        )),
    );
}

#[test]
fn agent_1_2_9_fails_when_the_servers_use_rackconnect_v3() {
    check(
        "rsw-agent129.qcow2",
        &["rackconnect=v3"],
        1,
        // "(Windows only) Versions older versions than 1.3.1 do not work with RackConnect v3, because
        // the agent can't properly create virtual Network Interface Cards (NICs) with the Cloud
        // Network names."
        &agent129(want(
            "nova-agent.windows-version",
            "fail",
            &[
                "the Rackspace agent is 1.2.9.0",
                "older than 1.3.1",
                "rackconnect=v3 says the servers use it",
            ],
            &[
                "/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
               StringFileInfo\\000004b0\\ProductVersion \"1.2.9.0\"",
            ],
        )),
    );
}

/// Agent 1.3.1.2 (new enough, with or without RackConnect v3), the XenServer tools' agent
/// disabled, and OpenVPN with its TAP adapter driver.
fn agent1312_vpn() -> Vec<Want> {
    vec![
        // "Nova-agent is a required service for all virtualized servers in the Rackspace public
        // cloud." (the Windows agent: "Installing nova-agent on Windows")
        want(
            "nova-agent.present",
            "pass",
            &["the Rackspace Cloud Servers agent 1.3.1.2 (from the executable's version resource"],
            &[
                "/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
                 StringFileInfo\\000004b0\\ProductVersion \"1.3.1.2\"",
            ],
        ),
        BRANCH,
        // "(Windows only) Versions older versions than 1.3.1 do not work with RackConnect v3, because
        // the agent can't properly create virtual Network Interface Cards (NICs) with the Cloud
        // Network names."
        want(
            "nova-agent.windows-version",
            "pass",
            &[
                "the Rackspace agent is 1.3.1.2 (from the executable's version resource \
               (ProductVersion)), 1.3.1 or later",
            ],
            &[
                "/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
               StringFileInfo\\000004b0\\ProductVersion \"1.3.1.2\"",
            ],
        ),
        // "Windows systems must run the XenServer Tools."
        want(
            "xe-tools.enabled",
            "fail",
            &["none of XenSvc starts at boot: XenSvc is disabled (Start 4)"],
            &[
                "registry:SYSTEM\\CurrentControlSet\\Services\\XenSvc\\Start 4 (disabled) in \
                 ControlSet001",
                "registry:SYSTEM\\CurrentControlSet\\Services\\xenvbd\\Start 0 (boot)",
            ],
        ),
        ORDER,
        // "Nova-agent for Linux and Windows does not deal with unexpected Ethernet interfaces. For
        // example, Tun and Tap devices, created by VPN applications, can cause nova-agent to crash."
        want(
            "nova-agent.tun-tap",
            "warn",
            &[
                "adapter driver tap0901",
                "VPN service OpenVPNService (automatic)",
                "VPN service OpenVPNServiceInteractive (automatic)",
                "installed OpenVPN 2.4.9-I601-Win10",
                "installed TAP-Windows 9.24.2",
                "does not handle unexpected network interfaces",
            ],
            &[
                "registry:SYSTEM\\CurrentControlSet\\Services\\tap0901\\Start 3 (manual) in \
                 ControlSet001; ImagePath System32\\drivers\\tap0901.sys; DisplayName \
                 \"TAP-Windows Adapter V9\"",
                "registry:SYSTEM\\CurrentControlSet\\Services\\OpenVPNService\\Start 2 (automatic)",
                "registry:SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\OpenVPN \
                 DisplayName \"OpenVPN 2.4.9-I601-Win10\", DisplayVersion \"2.4.9-I601-Win10\"",
                "registry:SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\TAP-Windows \
                 DisplayName \"TAP-Windows 9.24.2\"",
            ],
        ),
        IPV6,
        ONE_FILE,
    ]
}

#[test]
fn agent_1_3_1_2_with_the_tools_disabled_and_a_tap_adapter() {
    check("rsw-agent1312-vpn.qcow2", &[], 1, &agent1312_vpn());
    check(
        "rsw-agent1312-vpn.qcow2",
        &["rackconnect=v3"],
        1,
        &agent1312_vpn(),
    );
}

/// The MSI-installed agent's Uninstall entry, which gives its version.
const MSI_VERSION: &str = "registry:SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\\
                           {2B4F7C1A-6D3E-4F5A-9B8C-1D2E3F4A5B6C}\\DisplayVersion \"1.3.0.3\" \
                           (DisplayName \"Rackspace Cloud Server Agent\")";

/// An agent whose executables have no version resource: its version from the Uninstall entry,
/// and no XenServer tools at all.
fn agent_msi(version: Want) -> Vec<Want> {
    vec![
        // "Nova-agent is a required service for all virtualized servers in the Rackspace public
        // cloud." (the Windows agent: "Installing nova-agent on Windows")
        want(
            "nova-agent.present",
            "pass",
            &[
                "the Rackspace Cloud Servers agent 1.3.0.3 (from the Uninstall entry's \
                 DisplayVersion: /Program Files/Rackspace/Cloud \
                 Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe has no version resource) \
                 is installed",
            ],
            &[MSI_VERSION],
        ),
        BRANCH,
        version,
        // "Windows systems must run the XenServer Tools."
        want(
            "xe-tools.enabled",
            "fail",
            &["none of XenSvc starts at boot: XenSvc is not installed"],
            &["registry:SYSTEM\\CurrentControlSet\\Services\\XenSvc no such service"],
        ),
        ORDER,
        // "Nova-agent for Linux and Windows does not deal with unexpected Ethernet interfaces. For
        // example, Tun and Tap devices, created by VPN applications, can cause nova-agent to crash."
        want(
            "nova-agent.tun-tap",
            "pass",
            &["no TAP/TUN adapter driver"],
            &[],
        ),
        IPV6,
        ONE_FILE,
    ]
}

#[test]
fn an_agent_without_a_version_resource_is_read_from_its_uninstall_entry() {
    const EVIDENCE: &[&str] = &[
        "/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe \
         no version resource (RT_VERSION)",
        MSI_VERSION,
    ];
    check(
        "rsw-agent-msi.qcow2",
        &[],
        1,
        // "(Windows only) Versions older versions than 1.3.1 do not work with RackConnect v3, because
        // the agent can't properly create virtual Network Interface Cards (NICs) with the Cloud
        // Network names."
        &agent_msi(want(
            "nova-agent.windows-version",
            "warn",
            &[
                "the Rackspace agent is 1.3.0.3 (from the Uninstall entry's DisplayVersion \
                 (/Program Files/Rackspace/Cloud Servers/Agent/\
                 Rackspace.Cloud.Server.Agent.Service.exe has no version resource)), older \
                 than 1.3.1",
            ],
            EVIDENCE,
        )),
    );
    check(
        "rsw-agent-msi.qcow2",
        &["rackconnect=v3"],
        1,
        // "(Windows only) Versions older versions than 1.3.1 do not work with RackConnect v3, because
        // the agent can't properly create virtual Network Interface Cards (NICs) with the Cloud
        // Network names."
        &agent_msi(want(
            "nova-agent.windows-version",
            "fail",
            &[
                "the Rackspace agent is 1.3.0.3",
                "rackconnect=v3 says the servers use it",
            ],
            EVIDENCE,
        )),
    );
}

#[test]
fn without_the_rackspace_agent_its_requirements_are_skipped() {
    check(
        "rsw-no-agent.qcow2",
        &[],
        1,
        &[
            // "Nova-agent is a required service for all virtualized servers in the Rackspace public
            // cloud." (the Windows agent: "Installing nova-agent on Windows")
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
            BRANCH,
            // "(Windows only) Versions older versions than 1.3.1 do not work with RackConnect v3, because
            // the agent can't properly create virtual Network Interface Cards (NICs) with the Cloud
            // Network names."
            want(
                "nova-agent.windows-version",
                "skip",
                &[
                    "the Rackspace Cloud Servers agent is not installed (nova-agent.present \
                   reports it)",
                ],
                &[],
            ),
            // "Windows systems must run the XenServer Tools."
            want(
                "xe-tools.enabled",
                "skip",
                &[
                    "RackspaceCloudServersAgent is not installed, and XenSvc are needed only with \
                   it",
                ],
                &[
                    "registry:SYSTEM\\CurrentControlSet\\Services\\RackspaceCloudServersAgent no \
                   such service",
                ],
            ),
            ORDER,
            // "Nova-agent for Linux and Windows does not deal with unexpected Ethernet interfaces. For
            // example, Tun and Tap devices, created by VPN applications, can cause nova-agent to crash."
            want(
                "nova-agent.tun-tap",
                "skip",
                &[
                    "RackspaceCloudServersAgent is not installed: unexpected network adapters \
                   matter only to it",
                ],
                &[],
            ),
            IPV6,
            ONE_FILE,
        ],
    );
}

/// `FILEVERSION 1, 2, 9, 0` and the like, and the `VALUE "k", "v"` lines of a string table, as
/// windres prints a version resource.
struct Rc {
    file_version: String,
    product_version: String,
    table: String,
    strings: Vec<(String, String)>,
}

fn parse_rc(text: &str) -> Rc {
    let numbers = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.split(',').map(str::trim).collect::<Vec<_>>().join("."))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
    };
    let mut table = String::new();
    let mut strings = Vec::new();
    let mut in_strings = false;
    for l in text.lines().map(str::trim) {
        if let Some(b) = l.strip_prefix("BLOCK \"") {
            let b = b.trim_end_matches('"');
            in_strings = b != "StringFileInfo" && b != "VarFileInfo";
            if in_strings {
                table = b.to_owned();
            }
        } else if in_strings && let Some(v) = l.strip_prefix("VALUE \"") {
            let (k, rest) = v.split_once("\", \"").expect("a string VALUE");
            strings.push((k.to_owned(), rest.trim_end_matches('"').to_owned()));
        }
    }
    Rc {
        file_version: numbers("FILEVERSION "),
        product_version: numbers("PRODUCTVERSION "),
        table,
        strings,
    }
}

#[test]
fn the_version_reader_agrees_with_windres_on_every_executable() {
    let dir = common::fixture("rules-rackspace-windows").join("pe");
    let mut exes: Vec<_> = fs_err::read_dir(&dir)
        .expect("pe/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "exe"))
        .collect();
    exes.sort();
    assert_eq!(exes.len(), 7, "{exes:?}");
    let mut with_resource = 0;
    for exe in &exes {
        let bytes = fs_err::read(exe).expect("the executable");
        let info = imgprep_pe::version_info(&bytes).expect("a readable PE");
        let rc_path = exe.with_extension("exe.rc.txt");
        let Ok(rc) = fs_err::read_to_string(&rc_path) else {
            assert_eq!(info, None, "{}: windres finds no resource", exe.display());
            continue;
        };
        with_resource += 1;
        let rc = parse_rc(&rc);
        let info = info.unwrap_or_else(|| panic!("{}: no version resource read", exe.display()));
        let fixed = info.fixed.expect("VS_FIXEDFILEINFO");
        assert_eq!(
            fixed.file_version.to_string(),
            rc.file_version,
            "{}",
            exe.display()
        );
        assert_eq!(
            fixed.product_version.to_string(),
            rc.product_version,
            "{}",
            exe.display()
        );
        assert_eq!(info.string_tables.len(), 1, "{}", exe.display());
        assert_eq!(info.string_tables[0].key, rc.table, "{}", exe.display());
        assert_eq!(
            info.string_tables[0].strings,
            rc.strings,
            "{}",
            exe.display()
        );
    }
    assert_eq!(with_resource, 5);
}
