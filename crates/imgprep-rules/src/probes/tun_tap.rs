//! `probe: tun-tap`: persistent tun/tap interfaces and VPN services that start at boot, which
//! make nova-agent crash or hang. On Windows: TAP and TUN adapter drivers (OpenVPN's
//! tap-windows6 registers its driver service under its component id, `tap0901`; `tapoas` is
//! OpenVPN Access Server's renamed copy, `tap0801` the older TAP-Win32; WireGuard's `wintun`;
//! OpenVPN's data channel offload `ovpn-dco`), VPN services that start automatically, and the
//! VPN clients of the Uninstall entries.

use imgprep_sysconf::boot::Enablement;
use imgprep_sysconf::network;
use imgprep_sysconf::registry::uninstall_key;
use imgprep_sysconf::windows::service;
use serde::{Deserialize, Serialize};

use crate::context::{Context, no_service_evidence, start_evidence};
use crate::probe::{Probe, Template};
use crate::verdict::{Evidence, Outcome, Status};

/// `probe: tun-tap`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TunTap {
    /// On Windows, the service the check is for: where it has no key, the rule is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_only_with: Option<Template>,
}

/// VPN services that create tun/tap devices when they start.
const VPN_SERVICES: [&str; 3] = ["openvpn", "openconnect", "vpnc"];

/// Windows drivers of TAP and TUN adapters, by service name.
const WINDOWS_TAP_DRIVERS: [&str; 5] = ["tap0901", "tapoas", "tap0801", "wintun", "ovpn-dco"];

/// Windows VPN services that bring their adapters up when they start.
const WINDOWS_VPN_SERVICES: [&str; 6] = [
    "OpenVPNService",
    "OpenVPNServiceInteractive",
    "OpenVPNServiceLegacy",
    "ovpnagent",
    "agent_ovpnconnect",
    "WireGuardManager",
];

/// Words of Uninstall DisplayNames of VPN clients and TAP drivers (lower case).
const WINDOWS_VPN_PRODUCTS: [&str; 4] = ["openvpn", "tap-windows", "wireguard", "wintun"];

impl Probe for TunTap {
    fn templates(&self) -> Vec<&Template> {
        self.windows_only_with.iter().collect()
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return windows(self, cx);
        }
        let mut ev = network::tuntap_definitions(cx.guest);
        // VPN services started at boot.
        let graph = cx.boot();
        let vpns: Vec<String> = graph
            .booted()
            .filter(|u| {
                let base = u.split(['@', '.']).next().unwrap_or("");
                u.ends_with(".service") && VPN_SERVICES.iter().any(|v| base.starts_with(v))
            })
            .map(str::to_owned)
            .collect();
        for u in &vpns {
            if let Enablement::Enabled(e) = graph.enablement(u) {
                ev.extend(e.into_iter().take(1));
            }
        }
        if ev.is_empty() {
            return Outcome::new(
                Status::Pass,
                "no persistent tun/tap device or VPN service that starts at boot",
            );
        }
        let mut msg = format!(
            "{} persistent tun/tap definition(s) or VPN service(s) found: nova-agent does not \
             handle unexpected interfaces such as the tun/tap devices VPN software creates, and \
             can crash or hang on them",
            ev.len()
        );
        if !vpns.is_empty() {
            msg.push_str(&format!(
                " (VPN services started at boot: {})",
                vpns.join(", ")
            ));
        }
        Outcome::new(Status::Warn, msg).with(ev)
    }
}

/// The Windows half: adapter drivers, VPN services that start automatically, and VPN clients
/// listed in Add/Remove Programs.
fn windows(p: &TunTap, cx: &Context<'_>) -> Outcome {
    let system = match cx.hive("SYSTEM") {
        Ok(h) => h,
        Err(e) => return Outcome::new(Status::Error, e),
    };
    if let Some(with) = &p.windows_only_with {
        let with = with.expand(cx);
        match service(&system, &with) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Outcome::new(
                    Status::Skip,
                    format!(
                        "{with} is not installed: unexpected network adapters matter only to it"
                    ),
                )
                .with([no_service_evidence(&with)]);
            }
            Err(e) => return Outcome::new(Status::Error, e),
        }
    }
    let mut ev: Vec<Evidence> = Vec::new();
    let mut found: Vec<String> = Vec::new();
    for d in WINDOWS_TAP_DRIVERS {
        match service(&system, d) {
            Ok(Some(s)) => {
                found.push(format!("adapter driver {}", s.name));
                ev.push(start_evidence(&s));
            }
            Ok(None) => {}
            Err(e) => return Outcome::new(Status::Error, e),
        }
    }
    for v in WINDOWS_VPN_SERVICES {
        match service(&system, v) {
            Ok(Some(s)) if matches!(s.start, Some(0..=2)) => {
                found.push(format!("VPN service {} (automatic)", s.name));
                ev.push(start_evidence(&s));
            }
            Ok(_) => {}
            Err(e) => return Outcome::new(Status::Error, e),
        }
    }
    let software = cx.hive("SOFTWARE").ok();
    for a in cx.os.applications.iter().flatten() {
        let Some(name) = a.display_name.as_deref() else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if !WINDOWS_VPN_PRODUCTS.iter().any(|w| lower.contains(w)) {
            continue;
        }
        found.push(format!("installed {name}"));
        ev.push(Evidence::file(
            format!("registry:{}", uninstall_key(software.as_ref(), &a.name)),
            match a.version.as_deref() {
                Some(v) => format!("DisplayName {name:?}, DisplayVersion {v:?}"),
                None => format!("DisplayName {name:?}"),
            },
        ));
    }
    if found.is_empty() {
        return Outcome::new(
            Status::Pass,
            format!(
                "no TAP/TUN adapter driver ({}), VPN service that starts automatically or VPN \
                 client in the Uninstall entries",
                WINDOWS_TAP_DRIVERS.join(", ")
            ),
        );
    }
    Outcome::new(
        Status::Warn,
        format!(
            "{}: the Rackspace agent does not handle unexpected network interfaces such as the \
             TAP adapters VPN software creates, and can crash on them",
            found.join("; ")
        ),
    )
    .with(ev)
}
