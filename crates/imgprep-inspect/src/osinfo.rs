//! The libosinfo short id of an OS, as libguestfs derives it.

/// libosinfo id for the OS, or `None` for libguestfs's "unknown".
pub(crate) fn osinfo(
    os_type: &str,
    distro: &str,
    major: u32,
    minor: u32,
    product_name: &str,
    product_variant: &str,
) -> Option<String> {
    match os_type {
        "linux" => linux(distro, major, minor),
        "freebsd" | "netbsd" | "openbsd" => Some(format!("{distro}{major}.{minor}")),
        "dos" if distro == "msdos" => Some("msdos6.22".into()),
        "windows" => windows(major, minor, product_name, product_variant).map(str::to_owned),
        _ => None,
    }
}

fn linux(distro: &str, major: u32, minor: u32) -> Option<String> {
    let special = match distro {
        "centos" if major >= 8 => Some(format!("{distro}{major}")),
        "centos" if major == 7 => Some(format!("{distro}{major}.0")),
        "centos" if major == 6 => Some(format!("{distro}{major}.{minor}")),
        "rocky" | "almalinux" if major >= 8 => Some(format!("{distro}{major}")),
        "debian" if major >= 4 => Some(format!("{distro}{major}")),
        "fedora" | "mageia" => Some(format!("{distro}{major}")),
        "sles" if minor == 0 => Some(format!("{distro}{major}")),
        "sles" => Some(format!("{distro}{major}sp{minor}")),
        "ubuntu" => Some(format!("{distro}{major}.{minor:02}")),
        "archlinux" | "gentoo" | "voidlinux" => Some(distro.to_owned()),
        "altlinux" if major >= 8 => Some(format!("alt{major}.{minor}")),
        "altlinux" => Some(format!("{distro}{major}.{minor}")),
        _ => None,
    };
    special.or_else(|| {
        (distro != "unknown" && (major > 0 || minor > 0))
            .then(|| format!("{distro}{major}.{minor}"))
    })
}

fn windows(major: u32, minor: u32, name: &str, variant: &str) -> Option<&'static str> {
    let server = variant.contains("Server");
    Some(match (major, minor) {
        (5, 1) => "winxp",
        (5, 2) if name.contains("XP") => "winxp",
        (5, 2) if name.contains("R2") => "win2k3r2",
        (5, 2) => "win2k3",
        (6, 0) if server => "win2k8",
        (6, 0) => "winvista",
        (6, 1) if server => "win2k8r2",
        (6, 1) => "win7",
        (6, 2) if server => "win2k12",
        (6, 2) => "win8",
        (6, 3) if server => "win2k12r2",
        (6, 3) => "win8.1",
        (10, 0) if server && name.contains("2022") => "win2k22",
        (10, 0) if server && name.contains("2019") => "win2k19",
        (10, 0) if server => "win2k16",
        (10, 0) => "win10",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_libguestfs() {
        for (ty, distro, major, minor, name, variant, want) in [
            ("linux", "debian", 12, 5, "", "", Some("debian12")),
            ("linux", "ubuntu", 16, 4, "", "", Some("ubuntu16.04")),
            ("linux", "centos", 7, 9, "", "", Some("centos7.0")),
            ("linux", "centos", 6, 10, "", "", Some("centos6.10")),
            ("linux", "centos", 8, 5, "", "", Some("centos8")),
            ("linux", "rhel", 7, 9, "", "", Some("rhel7.9")),
            ("linux", "sles", 15, 3, "", "", Some("sles15sp3")),
            ("linux", "sles", 12, 0, "", "", Some("sles12")),
            (
                "linux",
                "alpinelinux",
                3,
                18,
                "",
                "",
                Some("alpinelinux3.18"),
            ),
            ("linux", "unknown", 0, 0, "", "", None),
            ("linux", "redhat-based", 0, 0, "", "", None),
            (
                "windows",
                "windows",
                6,
                1,
                "Windows Server 2008 R2",
                "Server",
                Some("win2k8r2"),
            ),
            (
                "windows",
                "windows",
                6,
                3,
                "Windows Server 2012 R2",
                "Server",
                Some("win2k12r2"),
            ),
            (
                "windows",
                "windows",
                10,
                0,
                "Windows Server 2016",
                "Server",
                Some("win2k16"),
            ),
            (
                "windows",
                "windows",
                10,
                0,
                "Windows Server 2019",
                "Server",
                Some("win2k19"),
            ),
            (
                "windows",
                "windows",
                10,
                0,
                "Windows 10 Pro",
                "Client",
                Some("win10"),
            ),
            ("windows", "windows", 11, 0, "?", "Server", None),
        ] {
            assert_eq!(
                osinfo(ty, distro, major, minor, name, variant).as_deref(),
                want,
                "{distro} {major}.{minor} {name}"
            );
        }
    }
}
