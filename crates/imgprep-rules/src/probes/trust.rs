//! `probe: ca-trusted`: the CA certificate given as `--param ca=FILE` in the guest's trust
//! store: on Linux in a bundle TLS clients read or only in an anchor directory; on Windows in a
//! root store of the SOFTWARE hive (machine, Group Policy or third-party roots), found by
//! thumbprint and confirmed by the certificate the key's Blob holds.

use imgprep_sysconf::certstore::{ROOT_STORES, store_entries, thumbprint};
use imgprep_sysconf::text::list_dir;
use imgprep_sysconf::trust::{ANCHORS, BUNDLES, MAX_BUNDLE, certificates};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::probe::Probe;
use crate::verdict::{Evidence, Outcome, Status};

/// `probe: ca-trusted`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaTrusted {}

impl Probe for CaTrusted {
    fn implicit_params(&self) -> &'static [&'static str] {
        &["ca"]
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
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
            return windows(cx, file, &wanted);
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
            if meta.kind != imgprep_fs::FileKind::File || meta.size > MAX_BUNDLE {
                continue;
            }
            let real = cx.guest.realpath(path).unwrap_or_else(|_| path.clone());
            if seen.contains(&real) {
                continue;
            }
            seen.push(real.clone());
            let Ok(bytes) = cx.guest.read_file(path, MAX_BUNDLE) else {
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

/// The CA on Windows: a key of a root store named by the certificate's thumbprint whose Blob
/// holds that certificate. A key whose name is not the SHA-1 of the certificate its Blob holds
/// is not what Windows wrote and does not count (it is reported).
fn windows(cx: &Context<'_>, file: &str, wanted: &[Vec<u8>]) -> Outcome {
    let software = match cx.hive("SOFTWARE") {
        Ok(h) => h,
        Err(e) => return Outcome::new(Status::Error, format!("SOFTWARE hive: {e}")),
    };
    let thumbs: Vec<String> = wanted.iter().map(|d| thumbprint(d)).collect();
    let mut found: Vec<Evidence> = Vec::new();
    let mut problems: Vec<Evidence> = Vec::new();
    let mut others: Vec<Evidence> = Vec::new();
    let mut trusted = vec![false; wanted.len()];
    for (store, label) in ROOT_STORES {
        let entries = match store_entries(&software, store) {
            Ok(e) => e,
            Err(e) => {
                problems.push(Evidence::file(format!("registry:SOFTWARE\\{store}"), e));
                continue;
            }
        };
        let mut count = 0usize;
        for e in &entries {
            let at = format!("registry:SOFTWARE\\{}\\Blob", e.key);
            let named = thumbs.iter().position(|t| t.eq_ignore_ascii_case(&e.name));
            let held = e
                .blob_thumbprint()
                .and_then(|t| thumbs.iter().position(|w| *w == t));
            match (&e.blob, named, held) {
                (Ok(_), Some(i), Some(j)) if i == j => {
                    trusted[i] = true;
                    found.push(Evidence::file(
                        at,
                        format!("{label}: holds the certificate {}", thumbs[i]),
                    ));
                }
                (Err(why), Some(_), _) => problems.push(Evidence::file(
                    at,
                    format!("named after the CA, but its Blob cannot be read: {why}"),
                )),
                (Ok(_), _, _) if named.is_some() || held.is_some() => {
                    problems.push(Evidence::file(
                        at,
                        format!(
                            "the key is named {} but its Blob holds the certificate {}: not \
                             what Windows writes, not counted",
                            e.name,
                            e.blob_thumbprint().unwrap_or_default()
                        ),
                    ))
                }
                _ => count += 1,
            }
        }
        if count > 0 {
            others.push(Evidence::file(
                format!("registry:SOFTWARE\\{store}"),
                format!("{label}: {count} other certificate(s), not this CA"),
            ));
        }
    }
    let n = trusted.iter().filter(|t| **t).count();
    if n == wanted.len() {
        return Outcome::new(
            Status::Pass,
            format!("the CA in {file} is in the guest's trusted root certificates"),
        )
        .with(found)
        .with(problems);
    }
    let missing: Vec<&str> = thumbs
        .iter()
        .zip(&trusted)
        .filter(|(_, t)| !**t)
        .map(|(s, _)| s.as_str())
        .collect();
    Outcome::new(
        Status::Fail,
        format!(
            "the CA in {file} is not a trusted root of the guest: no key {} with its certificate \
             in the machine, Group Policy or third-party root stores{}",
            missing.join(", "),
            if n > 0 {
                format!(" ({n} of its {} certificates are)", wanted.len())
            } else {
                String::new()
            }
        ),
    )
    .with(found)
    .with(problems)
    .with(others)
}
