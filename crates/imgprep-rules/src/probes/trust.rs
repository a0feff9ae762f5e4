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
        let data = match fs_err::read(file) {
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
        let mut places: Vec<String> = BUNDLES.iter().map(|s| (*s).to_owned()).collect();
        for dir in ANCHORS {
            places.extend(
                list_dir(cx.guest, dir)
                    .into_iter()
                    .map(|n| format!("{dir}/{n}")),
            );
        }
        for path in &places {
            let Ok(Some(meta)) = cx.guest.stat(path) else {
                continue;
            };
            if meta.kind != imgprep_fs::FileKind::File || meta.size > 16 << 20 {
                continue;
            }
            let Ok(bytes) = cx.guest.read_file(path, 16 << 20) else {
                continue;
            };
            let have = certificates(&bytes);
            let n = wanted.iter().filter(|w| have.contains(w)).count();
            if n > 0 {
                found.push(Evidence::file(
                    path.as_str(),
                    format!("holds {n} of the {} certificate(s)", wanted.len()),
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
            ),
            (false, true) => Outcome::new(
                Status::Pass,
                format!("the CA in {file} is in the guest trust store"),
            )
            .with(found),
            (false, false) => Outcome::new(
                Status::Pass,
                format!(
                    "the CA in {file} is in an anchor directory; the bundle is regenerated from it \
                     by update-ca-trust / update-ca-certificates"
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
        let requiretty: Vec<Evidence> = files
            .iter()
            .flat_map(|f| {
                f.meaningful()
                    .filter(|(_, l)| {
                        l.starts_with("Defaults")
                            && l.contains("requiretty")
                            && !l.contains("!requiretty")
                    })
                    .map(|(n, l)| Evidence::line(&f.path, n, l))
                    .collect::<Vec<_>>()
            })
            .collect();
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
        if !requiretty.is_empty() {
            return Outcome::new(
                Status::Warn,
                format!("{user} has sudo rights, but `Defaults requiretty` stops sudo in the agent's non-interactive sessions"),
            )
            .with(ev)
            .with(requiretty);
        }
        if full {
            Outcome::new(
                Status::Pass,
                format!("{user} may run any command as root without a password"),
            )
            .with(ev)
        } else {
            Outcome::new(
                Status::Warn,
                format!("{user} has sudo rights, but not for all commands without a password, which the agent needs"),
            )
            .with(ev)
        }
    }
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
    use super::*;

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
    fn pem_and_der_certificates() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem = format!("junk\n-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        assert_eq!(certificates(pem.as_bytes()), vec![der.clone()]);
        assert_eq!(certificates(&der), vec![der]);
        assert!(certificates(b"nothing").is_empty());
    }
}
