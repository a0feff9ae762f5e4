//! Linux root detection and OS facts, from one filesystem seen on its own.
//!
//! Like libguestfs, these checks look at a candidate filesystem alone (symlinks resolved inside
//! it), before any fstab is applied: the facts must come from the root filesystem itself.

use std::sync::LazyLock;

use imgprep_guest::Guest;
use regex::Regex;

use crate::arch;
use crate::fstab::{self, FstabEntry};

/// Largest release or hostname file read, as libguestfs's `is_small_file`.
pub(crate) const SMALL_FILE: u64 = 2 * 1048 * 1024;

/// What one filesystem is to an OS.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Role {
    /// An OS root.
    Root(Box<Data>),
    /// A Linux `/usr` that may carry os-release facts for its root.
    Usr(Box<Data>),
    /// Anything else (a /boot, a /var, data).
    Other,
}

/// Facts about one OS, as libguestfs's inspection data.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Data {
    pub os_type: Option<&'static str>,
    pub distro: Option<&'static str>,
    pub product_name: Option<String>,
    pub product_variant: Option<String>,
    pub version: Option<(u32, u32)>,
    pub package_format_name: Option<&'static str>,
    pub package_management_name: Option<&'static str>,
    pub arch: Option<String>,
    pub hostname: Option<String>,
    pub fstab: Vec<FstabEntry>,
    pub fstab_notes: Vec<String>,
    pub windows: Option<crate::windows::WindowsData>,
}

/// Decides what the filesystem seen by `g` (mounted alone at `/`) is.
pub(crate) fn check_filesystem(g: &dyn Guest) -> Role {
    let mut data = Data::default();
    let role = if g.is_file_nofollow("/grub/menu.lst")
        || g.is_file_nofollow("/grub/grub.conf")
        || g.is_file_nofollow("/grub2/grub.cfg")
    {
        Role::Other
    } else if g.is_dir_nofollow("/etc")
        && (g.is_dir_nofollow("/bin") || is_symlink_to(g, "/bin", b"usr/bin"))
        && (g.is_file_nofollow("/etc/fstab") || g.is_file_nofollow("/etc/hosts"))
    {
        check_linux_root(g, &mut data);
        Role::Root(Box::default())
    } else if g.is_dir_nofollow("/bin")
        && g.is_dir_nofollow("/local")
        && g.is_dir_nofollow("/share")
        && g.is_dir_nofollow("/src")
        && !g.is_file_nofollow("/etc/fstab")
    {
        data.os_type = Some("linux");
        if g.is_file("/lib/os-release") {
            parse_os_release(g, "/lib/os-release", &mut data);
        }
        if let Some(a) = arch::check_architecture(g) {
            data.arch = Some(a);
        }
        Role::Usr(Box::default())
    } else if crate::windows::is_windows_systemroot(g) {
        crate::windows::check_windows_root(g, &mut data);
        Role::Root(Box::default())
    } else {
        Role::Other
    };
    let role = match role {
        Role::Root(_) => Role::Root(Box::new(data)),
        Role::Usr(_) => Role::Usr(Box::new(data)),
        Role::Other => Role::Other,
    };
    finish_package_facts(role, g)
}

fn finish_package_facts(role: Role, g: &dyn Guest) -> Role {
    match role {
        Role::Root(mut d) => {
            d.set_package_facts(g);
            Role::Root(d)
        }
        Role::Usr(mut d) => {
            d.set_package_facts(g);
            Role::Usr(d)
        }
        Role::Other => Role::Other,
    }
}

impl Data {
    /// Package format and manager, a function of distro and major version (and, on Fedora,
    /// whether dnf is installed), as libguestfs decides them.
    pub(crate) fn set_package_facts(&mut self, g: &dyn Guest) {
        let major = self.version.map_or(0, |v| v.0);
        let Some(distro) = self.distro else {
            return;
        };
        self.package_format_name = match distro {
            "altlinux" | "centos" | "rocky" | "fedora" | "mageia" | "mandriva" | "meego"
            | "neokylin" | "openmandriva" | "opensuse" | "oraclelinux" | "redhat-based"
            | "rhel" | "scientificlinux" | "sles" | "suse-based" | "almalinux" | "amazonlinux" => {
                Some("rpm")
            }
            "debian" | "kalilinux" | "kylin" | "linuxmint" | "ubuntu" => Some("deb"),
            "archlinux" => Some("pacman"),
            "gentoo" => Some("ebuild"),
            "pardus" => Some("pisi"),
            "alpinelinux" => Some("apk"),
            "voidlinux" => Some("xbps"),
            _ => None,
        };
        self.package_management_name = match distro {
            "meego" => Some("yum"),
            "fedora" => {
                if major >= 22 && g.is_file("/usr/bin/dnf") {
                    Some("dnf")
                } else if major >= 1 {
                    Some("yum")
                } else {
                    None
                }
            }
            "neokylin" | "openmandriva" => Some("dnf"),
            "centos" | "rocky" | "oraclelinux" | "redhat-based" | "rhel" | "scientificlinux"
            | "almalinux" => match major {
                8.. => Some("dnf"),
                5..=7 => Some("yum"),
                2..=4 => Some("up2date"),
                _ => None,
            },
            "amazonlinux" => match major {
                2022.. => Some("dnf"),
                _ => Some("yum"),
            },
            "altlinux" | "debian" | "kalilinux" | "kylin" | "linuxmint" | "ubuntu" => Some("apt"),
            "archlinux" => Some("pacman"),
            "gentoo" => Some("portage"),
            "pardus" => Some("pisi"),
            "mageia" | "mandriva" => Some("urpmi"),
            "opensuse" | "sles" | "suse-based" => Some("zypper"),
            "alpinelinux" => Some("apk"),
            "voidlinux" => Some("xbps"),
            _ => None,
        };
    }
}

fn is_symlink_to(g: &dyn Guest, path: &str, target: &[u8]) -> bool {
    g.is_symlink(path) && g.read_link(path).is_ok_and(|t| t == target)
}

fn check_linux_root(g: &dyn Guest, data: &mut Data) {
    data.os_type = Some("linux");
    run_release_tests(g, data);
    data.arch = arch::check_architecture(g);
    let (entries, notes) = fstab::read_fstab(g);
    data.fstab = entries;
    data.fstab_notes = notes;
    data.hostname = check_hostname(g);
}

/// Reads a small regular file (following links) as lines, as libguestfs's `read_small_file`.
fn read_small_file(g: &dyn Guest, path: &str) -> Option<Vec<String>> {
    let meta = g.stat(path).ok()??;
    if meta.kind != imgprep_fs::FileKind::File || meta.size > SMALL_FILE {
        return None;
    }
    let text = g.read_text(path, SMALL_FILE).ok()??;
    Some(text.split('\n').map(str::to_owned).collect())
}

/// `KEY=value` lines; blank and `#` lines dropped; split at the first `=`.
fn key_values(lines: &[String], unquote: fn(&str) -> String) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_owned(), unquote(v)),
            None => (l.clone(), unquote("")),
        })
        .collect()
}

/// Shell unquoting as libguestfs does it: single quotes verbatim, double quotes with `\$`, `` \` ``,
/// `\"`, `\\` and `\<newline>` escapes.
pub(crate) fn shell_unquote(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 2 && b[0] == b'\'' && b[n - 1] == b'\'' {
        return s[1..n - 1].to_owned();
    }
    if n >= 2 && b[0] == b'"' && b[n - 1] == b'"' {
        let mut out = Vec::with_capacity(n);
        let mut i = 1;
        while i < n - 1 {
            if i < n - 2 && b[i] == b'\\' && matches!(b[i + 1], b'$' | b'`' | b'"' | b'\\' | b'\n')
            {
                i += 1;
            }
            out.push(b[i]);
            i += 1;
        }
        return String::from_utf8_lossy(&out).into_owned();
    }
    s.to_owned()
}

/// Strips one pair of matching outer quotes.
fn simple_unquote(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 2 && ((b[0] == b'"' && b[n - 1] == b'"') || (b[0] == b'\'' && b[n - 1] == b'\'')) {
        s[1..n - 1].to_owned()
    } else {
        s.to_owned()
    }
}

static RE_MAJOR_MINOR: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+)\.(\d+)"));
static RE_MAJOR: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+)"));

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this module; a typo is caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad built-in pattern {pattern}: {e}"))
}

fn num(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// Sets the version from the first `N.N` (or `N`) in `s`.
pub(crate) fn parse_version_from_major_minor(s: &str, data: &mut Data) {
    if let Some(c) = RE_MAJOR_MINOR.captures(s) {
        if let (Some(a), Some(b)) = (num(&c[1]), num(&c[2])) {
            data.version = Some((a, b));
        }
    } else if let Some(c) = RE_MAJOR.captures(s)
        && let Some(a) = num(&c[1])
    {
        data.version = Some((a, 0));
    }
}

fn distro_of_os_release_id(id: &str) -> Option<&'static str> {
    Some(match id {
        "alpine" => "alpinelinux",
        "altlinux" => "altlinux",
        "arch" => "archlinux",
        "centos" => "centos",
        "coreos" => "coreos",
        "debian" => "debian",
        "fedora" => "fedora",
        "frugalware" => "frugalware",
        "gentoo" => "gentoo",
        "kali" => "kalilinux",
        "kylin" => "kylin",
        "mageia" => "mageia",
        "neokylin" => "neokylin",
        "openmandriva" => "openmandriva",
        "opensuse" => "opensuse",
        s if s.starts_with("opensuse-") => "opensuse",
        "pardus" => "pardus",
        "pld" => "pldlinux",
        "rhel" => "rhel",
        "rocky" => "rocky",
        "sles" | "sled" => "sles",
        "ubuntu" => "ubuntu",
        "void" => "voidlinux",
        _ => return None,
    })
}

fn parse_os_release(g: &dyn Guest, path: &str, data: &mut Data) -> bool {
    let Some(lines) = read_small_file(g, path) else {
        return false;
    };
    for (k, v) in key_values(&lines, shell_unquote) {
        match k.as_str() {
            "ID" => {
                if let Some(d) = distro_of_os_release_id(&v) {
                    data.distro = Some(d);
                }
            }
            "PRETTY_NAME" => data.product_name = Some(v),
            "VERSION_ID" => parse_version_from_major_minor(&v, data),
            _ => {}
        }
    }
    if data.distro.is_none() || data.product_name.is_none() {
        return false;
    }
    match (data.distro, data.version) {
        // Debian's and CentOS's VERSION_ID carry only the major version: use the release files.
        (Some("debian" | "centos" | "rocky"), Some((_, 0))) => false,
        (Some("archlinux" | "gentoo" | "voidlinux"), None) => {
            data.version = Some((0, 0));
            true
        }
        (_, None) => false,
        _ => true,
    }
}

fn parse_lsb_release(g: &dyn Guest, path: &str, data: &mut Data) -> bool {
    let Some(lines) = read_small_file(g, path) else {
        return false;
    };
    let mut ok = false;
    for (k, v) in key_values(&lines, simple_unquote) {
        match k.as_str() {
            "DISTRIB_ID" => {
                let d = match v.as_str() {
                    "CoreOS" => Some("coreos"),
                    "LinuxMint" => Some("linuxmint"),
                    "Mageia" => Some("mageia"),
                    "Ubuntu" => Some("ubuntu"),
                    _ => None,
                };
                if d.is_some() {
                    ok = true;
                    data.distro = d;
                }
            }
            "DISTRIB_RELEASE" => parse_version_from_major_minor(&v, data),
            "DISTRIB_DESCRIPTION" => {
                ok = true;
                data.product_name = Some(v);
            }
            _ => {}
        }
    }
    ok
}

static RE_SLES: LazyLock<Regex> = LazyLock::new(|| re(r"^SUSE (Linux|LINUX) Enterprise "));
static RE_NLD: LazyLock<Regex> = LazyLock::new(|| re(r"^Novell Linux Desktop "));
static RE_OPENSUSE: LazyLock<Regex> = LazyLock::new(|| re(r"^(openSUSE|SuSE Linux|SUSE LINUX) "));
static RE_SLES_VERSION: LazyLock<Regex> = LazyLock::new(|| re(r"^VERSION = (\d+)"));
static RE_SLES_PATCHLEVEL: LazyLock<Regex> = LazyLock::new(|| re(r"^PATCHLEVEL = (\d+)"));

fn parse_suse_release(g: &dyn Guest, path: &str, data: &mut Data) -> bool {
    let Some(lines) = read_small_file(g, path) else {
        return false;
    };
    let Some(first) = lines.first() else {
        return false;
    };
    data.product_name = Some(first.clone());
    let line_num = |i: usize, r: &Regex| {
        lines
            .get(i)
            .and_then(|l| r.captures(l))
            .and_then(|c| num(&c[1]))
    };
    if RE_SLES.is_match(first) || RE_NLD.is_match(first) {
        let major = line_num(1, &RE_SLES_VERSION);
        let minor = line_num(2, &RE_SLES_PATCHLEVEL);
        data.distro = Some("sles");
        data.version = major.map(|m| (m, minor.unwrap_or(0)));
    } else if RE_OPENSUSE.is_match(first) {
        if let Some(l) = lines.get(1) {
            parse_version_from_major_minor(l, data);
        }
        data.distro = Some("opensuse");
    }
    true
}

/// The first line of a release file, as libguestfs's `parse_generic`: sets distro and product
/// name; with a pattern, the pattern must match and gives major (and minor).
fn parse_generic(
    g: &dyn Guest,
    path: &str,
    data: &mut Data,
    distro: &'static str,
    rex: Option<&Regex>,
) -> bool {
    let first = match g.stat(path) {
        Ok(Some(m)) if m.kind == imgprep_fs::FileKind::File && m.size <= SMALL_FILE => g
            .read_text(path, SMALL_FILE)
            .ok()
            .flatten()
            .map(|t| t.split('\n').next().unwrap_or("").to_owned())
            .unwrap_or_default(),
        _ => String::new(),
    };
    if first.is_empty() {
        return false;
    }
    data.product_name = Some(first.clone());
    data.distro = Some(distro);
    match rex {
        Some(rex) => match rex.captures(&first) {
            Some(c) => {
                let major = c.get(1).and_then(|m| num(m.as_str()));
                let minor = c.get(2).and_then(|m| num(m.as_str()));
                if let Some(major) = major {
                    data.version = Some((major, minor.unwrap_or(0)));
                }
                true
            }
            None => false,
        },
        None => {
            parse_version_from_major_minor(&first, data);
            true
        }
    }
}

/// One entry of the release-file table: the file and how to parse it.
enum Test {
    OsRelease,
    LsbRelease,
    Suse,
    Generic(&'static str, Option<&'static LazyLock<Regex>>),
    /// The file's existence alone decides the distro.
    Exists(&'static str),
}

macro_rules! res {
    ($($name:ident = $pat:expr;)*) => {
        $(static $name: LazyLock<Regex> = LazyLock::new(|| re($pat));)*
    };
}

res! {
    RE_FEDORA = r"Fedora release (\d+)";
    RE_RHEL_OLD = r"Red Hat.*release (\d+).*Update (\d+)";
    RE_RHEL = r"Red Hat.*release (\d+)\.(\d+)";
    RE_RHEL_NO_MINOR = r"Red Hat.*release (\d+)";
    RE_CENTOS_OLD = r"CentOS.*release (\d+).*Update (\d+)";
    RE_CENTOS = r"CentOS.*release (\d+)\.(\d+)";
    RE_CENTOS_NO_MINOR = r"CentOS.*release (\d+)";
    RE_ROCKY = r"Rocky Linux.*release (\d+)\.(\d+)";
    RE_ROCKY_NO_MINOR = r"Rocky Linux.*release (\d+)";
    RE_ALMA = r"AlmaLinux.*release (\d+)\.(\d+)";
    RE_ALMA_NO_MINOR = r"AlmaLinux.*release (\d+)";
    RE_SCIENTIFIC_OLD = r"Scientific Linux.*release (\d+).*Update (\d+)";
    RE_SCIENTIFIC = r"Scientific Linux.*release (\d+)\.(\d+)";
    RE_SCIENTIFIC_NO_MINOR = r"Scientific Linux.*release (\d+)";
    RE_ORACLE_OLD = r"Oracle Linux.*release (\d+).*Update (\d+)";
    RE_ORACLE = r"Oracle Linux.*release (\d+)\.(\d+)";
    RE_ORACLE_NO_MINOR = r"Oracle Linux.*release (\d+)";
    RE_AMAZON = r"Amazon Linux.*release (\d+)";
    RE_OPENMANDRIVA = r"OpenMandriva.*release (\d+)\.(\d+)\.?(\d+)? .*";
    RE_FRUGALWARE = r"Frugalware (\d+)\.(\d+)";
    RE_PLDLINUX = r"(\d+)\.(\d+) PLD Linux";
}

/// The release-file tests, in libguestfs's order: the first file that exists and parses wins.
/// AlmaLinux and Amazon Linux, which libguestfs reports as `redhat-based` or not at all, are
/// recognised by their own release files (`/etc/almalinux-release`, `/etc/system-release`), so
/// their product name stays the one libguestfs would print.
fn linux_root_tests() -> Vec<(&'static str, Test)> {
    use Test::*;
    vec![
        ("/etc/os-release", OsRelease),
        ("/etc/lsb-release", LsbRelease),
        (
            "/etc/openmandriva-release",
            Generic("openmandriva", Some(&RE_OPENMANDRIVA)),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(&RE_ORACLE_OLD)),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(&RE_ORACLE)),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(&RE_ORACLE_NO_MINOR)),
        ),
        (
            "/etc/centos-release",
            Generic("centos", Some(&RE_CENTOS_OLD)),
        ),
        ("/etc/centos-release", Generic("centos", Some(&RE_CENTOS))),
        (
            "/etc/centos-release",
            Generic("centos", Some(&RE_CENTOS_NO_MINOR)),
        ),
        ("/etc/rocky-release", Generic("rocky", Some(&RE_ROCKY))),
        (
            "/etc/rocky-release",
            Generic("rocky", Some(&RE_ROCKY_NO_MINOR)),
        ),
        (
            "/etc/almalinux-release",
            Generic("almalinux", Some(&RE_ALMA)),
        ),
        (
            "/etc/almalinux-release",
            Generic("almalinux", Some(&RE_ALMA_NO_MINOR)),
        ),
        ("/etc/altlinux-release", Generic("altlinux", None)),
        ("/etc/redhat-release", Generic("fedora", Some(&RE_FEDORA))),
        ("/etc/redhat-release", Generic("rhel", Some(&RE_RHEL_OLD))),
        ("/etc/redhat-release", Generic("rhel", Some(&RE_RHEL))),
        (
            "/etc/redhat-release",
            Generic("rhel", Some(&RE_RHEL_NO_MINOR)),
        ),
        (
            "/etc/redhat-release",
            Generic("centos", Some(&RE_CENTOS_OLD)),
        ),
        ("/etc/redhat-release", Generic("centos", Some(&RE_CENTOS))),
        (
            "/etc/redhat-release",
            Generic("centos", Some(&RE_CENTOS_NO_MINOR)),
        ),
        ("/etc/redhat-release", Generic("rocky", Some(&RE_ROCKY))),
        (
            "/etc/redhat-release",
            Generic("rocky", Some(&RE_ROCKY_NO_MINOR)),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(&RE_SCIENTIFIC_OLD)),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(&RE_SCIENTIFIC)),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(&RE_SCIENTIFIC_NO_MINOR)),
        ),
        ("/etc/redhat-release", Generic("redhat-based", None)),
        ("/etc/redhat-release", Exists("redhat-based")),
        (
            "/etc/system-release",
            Generic("amazonlinux", Some(&RE_AMAZON)),
        ),
        ("/etc/debian_version", Generic("debian", None)),
        ("/etc/pardus-release", Generic("pardus", None)),
        ("/etc/arch-release", Exists("archlinux")),
        ("/etc/gentoo-release", Generic("gentoo", None)),
        ("/etc/meego-release", Generic("meego", None)),
        ("/etc/slackware-version", Generic("slackware", None)),
        ("/etc/ttylinux-target", Generic("ttylinux", None)),
        ("/etc/SuSE-release", Suse),
        ("/etc/SuSE-release", Exists("suse-based")),
        ("/etc/cirros/version", Generic("cirros", None)),
        ("/etc/alpine-release", Generic("alpinelinux", None)),
        (
            "/etc/frugalware-release",
            Generic("frugalware", Some(&RE_FRUGALWARE)),
        ),
        ("/etc/pld-release", Generic("pldlinux", Some(&RE_PLDLINUX))),
    ]
}

fn run_release_tests(g: &dyn Guest, data: &mut Data) {
    for (path, test) in linux_root_tests() {
        if !g.is_file(path) {
            continue;
        }
        let done = match test {
            Test::OsRelease => parse_os_release(g, path, data),
            Test::LsbRelease => parse_lsb_release(g, path, data),
            Test::Suse => parse_suse_release(g, path, data),
            Test::Generic(distro, rex) => parse_generic(g, path, data, distro, rex.map(|r| &**r)),
            Test::Exists(distro) => {
                data.distro = Some(distro);
                true
            }
        };
        if done {
            return;
        }
    }
}

/// Host name from `/etc/HOSTNAME`, `/etc/hostname`, then `/etc/sysconfig/network`.
fn check_hostname(g: &dyn Guest) -> Option<String> {
    for path in ["/etc/HOSTNAME", "/etc/hostname"] {
        if let Some(lines) = read_small_file(g, path)
            && let Some(h) = lines
                .into_iter()
                .find(|l| !l.is_empty() && !l.starts_with('#'))
        {
            return Some(h);
        }
    }
    if g.is_file_nofollow("/etc/sysconfig/network") {
        let lines = read_small_file(g, "/etc/sysconfig/network")?;
        return key_values(&lines, simple_unquote)
            .into_iter()
            .rev()
            .find(|(k, _)| k == "HOSTNAME")
            .map(|(_, v)| v);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_unquote_handles_both_quote_styles() {
        for (input, want) in [
            (
                r#""Debian GNU/Linux 12 (bookworm)""#,
                "Debian GNU/Linux 12 (bookworm)",
            ),
            ("'single \\$x'", "single \\$x"),
            (r#""a \"b\" \$c \\d \e""#, r#"a "b" $c \d \e"#),
            ("plain", "plain"),
            ("\"", "\""),
            ("\"unterminated", "\"unterminated"),
            ("\"\\\"", "\\"),
        ] {
            assert_eq!(shell_unquote(input), want, "{input}");
        }
    }

    #[test]
    fn versions_come_from_the_first_number_pair() {
        for (input, want) in [
            ("12.5", Some((12, 5))),
            ("bookworm/sid", None),
            ("7", Some((7, 0))),
            ("CentOS Linux release 7.9.2009 (Core)", Some((7, 9))),
            ("v3", Some((3, 0))),
            ("99999999999999999999.1", None),
        ] {
            let mut d = Data::default();
            parse_version_from_major_minor(input, &mut d);
            assert_eq!(d.version, want, "{input}");
        }
    }
}
