//! `probe: tun-tap`: persistent tun/tap interfaces and VPN services that start at boot, which
//! make nova-agent crash or hang.

use imgprep_sysconf::boot::Enablement;
use imgprep_sysconf::network;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::probe::Probe;
use crate::verdict::{Outcome, Status};

/// `probe: tun-tap`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TunTap {}

/// VPN services that create tun/tap devices when they start.
const VPN_SERVICES: [&str; 3] = ["openvpn", "openconnect", "vpnc"];

impl Probe for TunTap {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "tun/tap definitions are read on Linux only");
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
