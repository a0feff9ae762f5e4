//! Trust: CA certificates in the guest trust store, and sudo rights of the agent's user.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::text::{Lines, list_dir, read_lines};
use crate::eval::Context;
use crate::model::{Evidence, Outcome, Status};

/// Bundles that hold the CAs TLS clients trust, by distribution family.
const BUNDLES: [&str; 6] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/var/lib/ca-certificates/ca-bundle.pem",
];

/// Directories of CAs added by the administrator, merged into the bundle by update-ca-trust or
/// update-ca-certificates.
const ANCHORS: [&str; 5] = [
    "/etc/pki/ca-trust/source/anchors",
    "/usr/local/share/ca-certificates",
    "/usr/share/pki/trust/anchors",
    "/etc/pki/trust/anchors",
    "/etc/ssl/certs",
];

/// DER certificates in PEM text (or the bytes themselves when they are DER).
pub(crate) fn certificates(data: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + 27..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else {
            break;
        };
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &body[end..];
    }
    if out.is_empty() && data.first() == Some(&0x30) {
        out.push(data.to_vec());
    }
    out
}

/// `probe: ca-trusted`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaTrusted {}

impl CaTrusted {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        let Some(file) = cx.param("ca") else {
            return Outcome::new(Status::Skip, "no --param ca=FILE given: no CA to look for");
        };
        // A CA certificate (or a small bundle of them); never a FIFO or device.
        let data = match imgprep_io::host::read(std::path::Path::new(file), 4 << 20) {
            Ok(d) => d,
            Err(e) => return Outcome::new(Status::Error, format!("--param ca: {e}")),
        };
        let wanted = certificates(&data);
        if wanted.is_empty() {
            return Outcome::new(
                Status::Error,
                format!("--param ca: {file} holds no PEM or DER certificate"),
            );
        }
        if cx.is_windows() {
            return Outcome::new(
                Status::Error,
                "the Windows certificate store is not read offline yet; check it after first boot",
            );
        }
        let mut found: Vec<Evidence> = Vec::new();
        let mut other: Vec<Evidence> = Vec::new();
        let mut places: Vec<String> = BUNDLES.iter().map(|s| (*s).to_owned()).collect();
        for dir in ANCHORS {
            places.extend(
                list_dir(cx.guest, dir)
                    .into_iter()
                    .map(|n| format!("{dir}/{n}")),
            );
        }
        // Each file once: bundles are linked under several names (/etc/pki/tls/certs/ca-bundle.crt
        // -> the extracted bundle), and /etc/ssl/certs holds the Debian bundle and links to the
        // anchors.
        let mut seen: Vec<String> = Vec::new();
        for path in &places {
            let Ok(Some(meta)) = cx.guest.stat(path) else {
                continue;
            };
            if meta.kind != imgprep_fs::FileKind::File || meta.size > 16 << 20 {
                continue;
            }
            let real = cx.guest.realpath(path).unwrap_or_else(|_| path.clone());
            if seen.contains(&real) {
                continue;
            }
            seen.push(real.clone());
            let Ok(bytes) = cx.guest.read_file(path, 16 << 20) else {
                continue;
            };
            let have = certificates(&bytes);
            let n = wanted.iter().filter(|w| have.contains(w)).count();
            let link = if real == *path {
                String::new()
            } else {
                format!(" (links to {real})")
            };
            if n > 0 {
                found.push(Evidence::file(
                    path.as_str(),
                    format!("holds {n} of the {} certificate(s){link}", wanted.len()),
                ));
            } else if !have.is_empty() {
                other.push(Evidence::file(
                    path.as_str(),
                    format!("{} other certificate(s), not this CA{link}", have.len()),
                ));
            }
        }
        let in_bundle = found.iter().any(|e| BUNDLES.contains(&e.path.as_str()));
        match (found.is_empty(), in_bundle) {
            (true, _) => Outcome::new(
                Status::Fail,
                format!(
                    "the CA in {file} is in none of the guest's trust bundles or anchor directories"
                ),
            )
            .with(other),
            (false, true) => Outcome::new(
                Status::Pass,
                format!("the CA in {file} is in the guest trust store"),
            )
            .with(found),
            (false, false) => Outcome::new(
                Status::Warn,
                format!(
                    "the CA in {file} is in an anchor directory but in none of the bundles TLS \
                     clients read: it is trusted only once update-ca-trust / \
                     update-ca-certificates has run in the image"
                ),
            )
            .with(found),
        }
    }
}

/// `probe: user-sudo`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserSudo {
    /// The account.
    pub user: String,
}

/// A sudoers line that grants `user` something.
#[derive(Debug, Clone)]
struct Grant {
    evidence: Evidence,
    all_commands: bool,
    nopasswd: bool,
}

impl UserSudo {
    pub(crate) fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "sudo rights are a Linux matter");
        }
        let user = cx.expand(&self.user);
        let passwd = match read_lines(cx.guest, "/etc/passwd") {
            Ok(Some(l)) => l,
            Ok(None) => return Outcome::new(Status::Error, "/etc/passwd does not exist"),
            Err(e) => return Outcome::new(Status::Error, format!("/etc/passwd: {e}")),
        };
        let Some((pw_line, gid)) = passwd.meaningful().find_map(|(n, l)| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&user.as_str()))
                .then(|| (n, f.get(3).copied().unwrap_or("").to_owned()))
        }) else {
            return Outcome::new(Status::Skip, format!("there is no {user} account"));
        };
        let groups = groups_of(cx, &user, &gid);
        let mut files = Vec::new();
        collect_sudoers(cx, "/etc/sudoers", &mut files, 0);
        let grants: Vec<Grant> = files
            .iter()
            .flat_map(|f| grants(f, &user, &groups))
            .collect();
        let tty = requiretty(&files, &user, &groups);
        let mut ev = vec![Evidence::line(
            "/etc/passwd",
            pw_line,
            format!("{user} exists"),
        )];
        ev.extend(grants.iter().map(|g| g.evidence.clone()));
        let full = grants.iter().any(|g| g.all_commands && g.nopasswd);
        if grants.is_empty() {
            return Outcome::new(
                Status::Fail,
                format!(
                    "{user} exists but no sudoers rule grants it anything (groups: {})",
                    groups.join(", ")
                ),
            )
            .with(ev);
        }
        if tty.on {
            return Outcome::new(
                Status::Warn,
                format!("{user} has sudo rights, but `Defaults requiretty` stops sudo in the agent's non-interactive sessions"),
            )
            .with(ev)
            .with(tty.evidence);
        }
        if full {
            let exempt = match tty.evidence.last() {
                Some(e) => format!(
                    " (exempt from requiretty by {}:{})",
                    e.path,
                    e.line.unwrap_or(0)
                ),
                None => String::new(),
            };
            Outcome::new(
                Status::Pass,
                format!("{user} may run any command as root without a password{exempt}"),
            )
            .with(ev)
            .with(tty.evidence)
        } else {
            Outcome::new(
                Status::Warn,
                format!("{user} has sudo rights, but not for all commands without a password, which the agent needs"),
            )
            .with(ev)
        }
    }
}

/// Whether sudo requires a tty for the user, and the `Defaults` lines that decide it.
#[derive(Debug, Clone, Default)]
struct Tty {
    on: bool,
    /// The global setting and, when one applies, the user's own (`Defaults:USER`), in that
    /// order; empty when nothing sets requiretty.
    evidence: Vec<Evidence>,
}

/// `requiretty` for `user`: sudo applies the global `Defaults` lines first and the per-user
/// ones (`Defaults:USER_LIST`) after them, whatever their order in the files; within each kind
/// the last setting wins. Host, runas and command `Defaults` (`@`, `>`, `!`) are ignored.
fn requiretty(files: &[Lines], user: &str, groups: &[String]) -> Tty {
    let mut global: Option<(bool, Evidence)> = None;
    let mut own: Option<(bool, Evidence)> = None;
    for f in files {
        for (n, l) in f.meaningful() {
            let Some((head, opts)) = l.split_once(char::is_whitespace) else {
                continue;
            };
            let slot = if head == "Defaults" {
                &mut global
            } else if let Some(users) = head.strip_prefix("Defaults:") {
                if !users
                    .split(',')
                    .any(|u| matches_user(u.trim(), user, groups))
                {
                    continue;
                }
                &mut own
            } else {
                continue;
            };
            for o in opts.split(',').map(str::trim) {
                let value = match o {
                    "requiretty" => true,
                    "!requiretty" => false,
                    _ => continue,
                };
                *slot = Some((value, Evidence::line(&f.path, n, l)));
            }
        }
    }
    let on = own.as_ref().or(global.as_ref()).is_some_and(|(v, _)| *v);
    // Without a global requiretty there is nothing to show (a per-user `!requiretty` alone
    // changes nothing).
    let evidence = match (&global, &own) {
        (Some((true, g)), Some((_, o))) => vec![g.clone(), o.clone()],
        (Some((true, g)), None) => vec![g.clone()],
        (_, Some((true, o))) => vec![o.clone()],
        _ => Vec::new(),
    };
    Tty { on, evidence }
}

/// The user's primary group name and supplementary groups.
fn groups_of(cx: &Context<'_>, user: &str, gid: &str) -> Vec<String> {
    let Ok(Some(group)) = read_lines(cx.guest, "/etc/group") else {
        return Vec::new();
    };
    group
        .meaningful()
        .filter_map(|(_, l)| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f.get(3).copied().unwrap_or("");
            let is_member = f.get(2) == Some(&gid) || members.split(',').any(|m| m.trim() == user);
            is_member.then(|| f[0].to_owned())
        })
        .collect()
}

/// `/etc/sudoers` and the files it includes (`#include`, `@include`, `#includedir`,
/// `@includedir`), depth-limited against include loops.
fn collect_sudoers(cx: &Context<'_>, path: &str, out: &mut Vec<Lines>, depth: usize) {
    if depth > 8 || out.iter().any(|l| l.path == path) {
        return;
    }
    let Ok(Some(lines)) = read_lines(cx.guest, path) else {
        return;
    };
    let includes: Vec<(bool, String)> = lines
        .lines
        .iter()
        .filter_map(|(_, l)| {
            let l = l.trim();
            let (dir, rest) = if let Some(r) = l
                .strip_prefix("#includedir")
                .or_else(|| l.strip_prefix("@includedir"))
            {
                (true, r)
            } else if let Some(r) = l
                .strip_prefix("#include")
                .or_else(|| l.strip_prefix("@include"))
            {
                (false, r)
            } else {
                return None;
            };
            Some((dir, rest.trim().to_owned()))
        })
        .collect();
    out.push(lines);
    for (dir, p) in includes {
        if dir {
            for name in list_dir(cx.guest, &p) {
                // sudo skips names with a dot or ending in ~.
                if !name.contains('.') && !name.ends_with('~') {
                    collect_sudoers(cx, &format!("{p}/{name}"), out, depth + 1);
                }
            }
        } else {
            collect_sudoers(cx, &p, out, depth + 1);
        }
    }
}

/// User specification lines of `f` that apply to `user` (directly, via `%group`, `ALL`, or a
/// `User_Alias`).
fn grants(f: &Lines, user: &str, groups: &[String]) -> Vec<Grant> {
    let mut aliases: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (n, l) in f.meaningful() {
        if let Some(rest) = l.strip_prefix("User_Alias") {
            for def in rest.split(':') {
                if let Some((name, members)) = def.split_once('=')
                    && members
                        .split(',')
                        .map(str::trim)
                        .any(|m| matches_user(m, user, groups))
                {
                    aliases.push(name.trim().to_owned());
                }
            }
            continue;
        }
        if l.starts_with("Defaults") || l.contains("_Alias") {
            continue;
        }
        let Some((who, rest)) = l.split_once(char::is_whitespace) else {
            continue;
        };
        let applies = who
            .split(',')
            .map(str::trim)
            .any(|w| matches_user(w, user, groups) || aliases.iter().any(|a| a == w));
        if !applies || !rest.contains('=') {
            continue;
        }
        let cmds = rest
            .rsplit_once(')')
            .map_or_else(|| rest.split_once('=').map_or("", |(_, c)| c), |(_, c)| c);
        out.push(Grant {
            evidence: Evidence::line(&f.path, n, l),
            all_commands: cmds
                .split(',')
                .any(|c| c.trim().trim_start_matches("NOPASSWD:").trim() == "ALL"),
            nopasswd: rest.contains("NOPASSWD:"),
        });
    }
    out
}

fn matches_user(spec: &str, user: &str, groups: &[String]) -> bool {
    spec == user
        || spec == "ALL"
        || spec
            .strip_prefix('%')
            .is_some_and(|g| groups.iter().any(|x| x == g))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use imgprep_inspect::OperatingSystem;

    use super::super::boot::testing::MemGuest;
    use super::*;
    use crate::matrix::Matrix;

    fn lines(text: &str) -> Lines {
        Lines {
            path: "/etc/sudoers".into(),
            lines: text
                .lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.to_owned()))
                .collect(),
        }
    }

    #[test]
    fn sudoers_grants() {
        let groups = vec!["cliqruser".to_owned(), "wheel".to_owned()];
        for (text, n, all, nopw) in [
            ("cliqruser ALL=(ALL) NOPASSWD: ALL", 1, true, true),
            ("%wheel ALL=(ALL) ALL", 1, true, false),
            ("%admin ALL=(ALL) ALL", 0, false, false),
            (
                "User_Alias AGENTS = cliqruser, bob\nAGENTS ALL = NOPASSWD: /usr/bin/systemctl",
                1,
                false,
                true,
            ),
            (
                "root ALL=(ALL:ALL) ALL\n# cliqruser ALL=(ALL) ALL",
                0,
                false,
                false,
            ),
        ] {
            let g = grants(&lines(text), "cliqruser", &groups);
            assert_eq!(g.len(), n, "{text}");
            if let Some(g) = g.first() {
                assert_eq!((g.all_commands, g.nopasswd), (all, nopw), "{text}");
            }
        }
    }

    #[test]
    fn requiretty_per_user_defaults_override_global_ones() {
        let groups = vec!["cliqruser".to_owned(), "wheel".to_owned()];
        // (sudoers, requiretty for cliqruser, evidence lines)
        for (text, on, ev) in [
            ("Defaults    requiretty\n", true, vec![1]),
            ("Defaults   !visiblepw, requiretty\n", true, vec![1]),
            ("Defaults requiretty\nDefaults !requiretty\n", false, vec![]),
            // The user's own setting wins wherever it stands.
            (
                "Defaults:cliqruser !requiretty\nDefaults    requiretty\n",
                false,
                vec![2, 1],
            ),
            (
                "Defaults    requiretty\nDefaults:%wheel !requiretty\n",
                false,
                vec![1, 2],
            ),
            // Someone else's exemption, or a command's, does not help.
            (
                "Defaults requiretty\nDefaults:bob !requiretty\n",
                true,
                vec![1],
            ),
            (
                "Defaults requiretty\nDefaults!/bin/ls !requiretty\n",
                true,
                vec![1],
            ),
            (
                "Defaults !requiretty\nDefaults:cliqruser requiretty\n",
                true,
                vec![2],
            ),
            ("Defaults:cliqruser !requiretty\n", false, vec![]),
            (
                "# Defaults requiretty\nDefaults env_keep += \"requiretty\"\n",
                false,
                vec![],
            ),
        ] {
            let t = requiretty(&[lines(text)], "cliqruser", &groups);
            assert_eq!(t.on, on, "{text}");
            let got: Vec<Option<u32>> = t.evidence.iter().map(|e| e.line).collect();
            let want: Vec<Option<u32>> = ev.into_iter().map(Some).collect();
            assert_eq!(got, want, "{text}");
        }
    }

    /// Runs `ca-trusted` with `--param ca=` a file holding `ca` (PEM) on a Linux guest.
    fn ca_trusted(g: &MemGuest, ca: &str) -> Outcome {
        let file = std::env::temp_dir().join(format!("imgprep-ca-{}.pem", std::process::id()));
        fs_err::write(&file, ca).unwrap();
        let os = OperatingSystem {
            name: Some("linux".into()),
            ..Default::default()
        };
        let matrix = Matrix::default();
        let params = BTreeMap::from([("ca".to_owned(), file.display().to_string())]);
        let cx = Context {
            os: &os,
            guest: g,
            cloud: None,
            params: &params,
            matrix: &matrix,
            disks: &[],
        };
        let o = CaTrusted {}.run(&cx);
        fs_err::remove_file(&file).unwrap();
        o
    }

    fn pem(der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    }

    #[test]
    fn a_bundle_linked_under_several_names_is_evidence_once() {
        let ours = pem(&[0x30, 0x03, 0x02, 0x01, 0x05]);
        let other = pem(&[0x30, 0x03, 0x02, 0x01, 0x07]);
        // The RHEL 7 layout: the extracted bundle, ca-bundle.crt linking to it, /etc/ssl/certs
        // linking to /etc/pki/tls/certs.
        let el7 = |bundle: &str| {
            MemGuest::new()
                .file("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", bundle)
                .link(
                    "/etc/pki/tls/certs/ca-bundle.crt",
                    "../../ca-trust/extracted/pem/tls-ca-bundle.pem",
                )
                .link("/etc/ssl/certs", "../pki/tls/certs")
                .dir("/etc/pki/ca-trust/source/anchors")
        };
        let o = ca_trusted(&el7(&format!("{other}{ours}")), &ours);
        assert_eq!(o.status, Status::Pass, "{}", o.message);
        let ev: Vec<(&str, &str)> = o
            .evidence
            .iter()
            .map(|e| (e.path.as_str(), e.text.as_str()))
            .collect();
        assert_eq!(
            ev,
            [(
                "/etc/pki/tls/certs/ca-bundle.crt",
                "holds 1 of the 1 certificate(s) (links to \
                 /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem)"
            )]
        );
        let o = ca_trusted(&el7(&other), &ours);
        assert_eq!(o.status, Status::Fail, "{}", o.message);
        let ev: Vec<&str> = o.evidence.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            ev,
            ["1 other certificate(s), not this CA (links to \
              /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem)"]
        );
    }

    #[test]
    fn pem_and_der_certificates() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem = format!("junk\n-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        assert_eq!(certificates(pem.as_bytes()), vec![der.clone()]);
        assert_eq!(certificates(&der), vec![der]);
        assert!(certificates(b"nothing").is_empty());
    }
}
