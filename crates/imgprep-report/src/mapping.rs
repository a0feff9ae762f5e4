//! `imgprep mapping`: what an image needs on a cloud, as JSON or as a shell script.

use imgprep_mapping::Mapping;

/// The mapping as pretty JSON.
pub fn json(m: &Mapping) -> String {
    let mut s = serde_json::to_string_pretty(m).unwrap_or_default();
    s.push('\n');
    s
}

/// The mapping as a POSIX shell script: comments saying what was found, then the commands to
/// run: the conversion when the file is not in a format the cloud imports, the packaging for
/// Google, and `openstack image create` with every property on OpenStack and Rackspace.
pub fn shell(m: &Mapping) -> String {
    let mut out = String::new();
    let mut comment = |s: &str| {
        out.push_str("# ");
        out.push_str(s);
        out.push('\n');
    };
    comment(&format!(
        "imgprep mapping: {} on {}: {}",
        m.image,
        m.cloud,
        if m.ready { "ready" } else { "not ready" }
    ));
    comment(&format!(
        "OS: {} {} {}{}",
        m.os.os_type,
        m.os.distro,
        m.os.version,
        m.os.arch
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default()
    ));
    let cc = &m.cloudcenter;
    comment(&format!(
        "CloudCenter: OS type {}, worker {}, bootstrap {} via {}",
        cc.os_type,
        match cc.worker {
            imgprep_mapping::Worker::BakedIn => "baked in",
            imgprep_mapping::Worker::Bootstrap => "bootstrapped",
            imgprep_mapping::Worker::Missing => "missing",
        },
        cc.bootstrap.support,
        cc.bootstrap.method
    ));
    comment(&format!("  {}", cc.reason));
    comment(&format!(
        "disk: {}{} wanted: {}",
        m.disk.format,
        m.disk
            .vhd
            .map(|k| format!(
                " ({})",
                match k {
                    imgprep_mapping::VhdKind::Fixed => "fixed",
                    imgprep_mapping::VhdKind::Dynamic => "dynamic",
                }
            ))
            .unwrap_or_default(),
        m.disk.requirement
    ));
    for p in &m.disk.problems {
        comment(&format!("  problem: {p}"));
    }
    if let Some(os) = &m.openstack {
        for n in &os.notes {
            comment(&format!("  note: {n}"));
        }
    }
    let mut cmds = Vec::new();
    if let Some(c) = &m.disk.convert {
        cmds.push(c.clone());
    }
    if let Some(p) = &m.disk.package {
        cmds.push(p.clone());
    }
    if let Some(os) = &m.openstack {
        cmds.push(os.command.clone());
    }
    for c in cmds {
        out.push_str(&c);
        out.push('\n');
    }
    out
}
