//! Installed packages and programs, read through the assembled guest view.

use std::sync::Arc;

use imgprep_guest::Guest;
use imgprep_pkgdb::{Listing, Package, ReadAt};

use crate::linux::Data;
use crate::model::{Application, nonempty};

/// Largest package database read (on demand, never whole).
const MAX_DB: u64 = 1 << 30;

/// The OS's installed packages, sorted by name as virt-inspector sorts them, and notes about what
/// could not be read.
pub(crate) fn list(g: &dyn Guest, d: &Data) -> (Vec<Application>, Vec<String>) {
    let mut notes = Vec::new();
    let mut apps = match (d.os_type, d.package_format_name) {
        (Some("linux"), Some(format)) => match packages(g, format) {
            Ok(Some((path, listing))) => {
                notes.extend(
                    listing
                        .problems
                        .iter()
                        .map(|p| format!("{path}: a package record is unreadable: {p}")),
                );
                listing
                    .packages
                    .into_iter()
                    .map(|p| application(p, format))
                    .collect()
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                notes.push(e);
                Vec::new()
            }
        },
        (Some("windows"), _) => match d.windows.as_ref().and_then(|w| w.software_hive.clone()) {
            Some(sw) => match crate::windows::load_hive(g, &sw) {
                Ok(h) => crate::windows::applications(&h, &mut notes),
                Err(e) => {
                    notes.push(e);
                    Vec::new()
                }
            },
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    apps.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    (apps, notes)
}

/// A package as virt-inspector reports it. For rpm, libguestfs formats `%{URL}` (so a missing URL
/// is `(none)`) and does not report the source rpm.
fn application(p: Package, format: &str) -> Application {
    let rpm = format == "rpm";
    Application {
        name: p.name,
        epoch: p.epoch,
        version: nonempty(p.version),
        release: nonempty(p.release),
        arch: nonempty(p.arch),
        url: if rpm {
            Some(p.url.unwrap_or_else(|| "(none)".into()))
        } else {
            p.url
        },
        source_package: if rpm { None } else { p.source_package },
        summary: p.summary,
        description: p.description,
        ..Default::default()
    }
}

type Found = Option<(String, Listing)>;

/// Reads the first package database of `format` that exists in the guest.
fn packages(g: &dyn Guest, format: &str) -> Result<Found, String> {
    let read = |path: &str| -> Result<Option<Arc<dyn ReadAt>>, String> {
        if !g.is_file(path) {
            return Ok(None);
        }
        g.open_file(path, MAX_DB)
            .map(Some)
            .map_err(|e| format!("{path}: cannot read the package database: {e}"))
    };
    let parsed = |path: &str, r: Result<Listing, imgprep_pkgdb::Error>| {
        r.map(|l| Some((path.to_owned(), l)))
            .map_err(|e| format!("{path}: the package database is unreadable: {e}"))
    };
    match format {
        "deb" => {
            let path = "/var/lib/dpkg/status";
            match read(path)? {
                Some(b) => parsed(path, imgprep_pkgdb::dpkg_status(&*b)),
                None => Ok(None),
            }
        }
        "apk" => {
            let path = "/lib/apk/db/installed";
            match read(path)? {
                Some(b) => parsed(path, imgprep_pkgdb::apk_installed(&*b)),
                None => Ok(None),
            }
        }
        "rpm" => {
            for dir in ["/usr/lib/sysimage/rpm", "/var/lib/rpm"] {
                let sqlite = format!("{dir}/rpmdb.sqlite");
                if let Some(b) = read(&sqlite)? {
                    // Committed transactions may still sit in the write-ahead log.
                    let wal = read(&format!("{sqlite}-wal"))?;
                    return parsed(&sqlite, imgprep_pkgdb::rpm_sqlite(&*b, wal.as_deref()));
                }
                let ndb = format!("{dir}/Packages.db");
                if let Some(b) = read(&ndb)? {
                    return parsed(&ndb, imgprep_pkgdb::rpm_ndb(&*b));
                }
                let bdb = format!("{dir}/Packages");
                if let Some(b) = read(&bdb)? {
                    return parsed(&bdb, imgprep_pkgdb::rpm_bdb(&*b));
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}
