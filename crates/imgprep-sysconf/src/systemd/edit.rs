//! Where a unit name resolves, its `[Install]` section, and edits as `systemctl enable` and
//! `systemctl edit` would make them.

use imgprep_fs::FileKind;
use imgprep_guest::Guest;

use super::unit::{Setting, UNIT_DIRS, is_unit_name, settings};
use crate::Error;
use crate::ops::existing;
use crate::ops::{FileOp, mkdirs};
use crate::path::{follow_links, join, link_text};
use crate::text::{Lines, TextFile, read_lines};

/// Where administrators' units and links go.
const ETC: &str = "/etc/systemd/system";

/// A unit's `[Install]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Install {
    /// `WantedBy=`: `.wants/` links.
    pub wanted_by: Vec<String>,
    /// `RequiredBy=`: `.requires/` links.
    pub required_by: Vec<String>,
    /// `Alias=`: links named after the alias.
    pub alias: Vec<String>,
    /// `Also=`: units enabled with it.
    pub also: Vec<String>,
}

/// The `[Install]` section of a unit's settings.
pub fn install_section(settings: &[Setting]) -> Install {
    let mut i = Install::default();
    for s in settings.iter().filter(|s| s.section == "Install") {
        let list = match s.key.as_str() {
            "WantedBy" => &mut i.wanted_by,
            "RequiredBy" => &mut i.required_by,
            "Alias" => &mut i.alias,
            "Also" => &mut i.also,
            _ => continue,
        };
        if s.value.is_empty() {
            list.clear();
        } else {
            list.extend(s.value.split_whitespace().map(str::to_owned));
        }
    }
    i
}

/// What a unit name resolves to in the unit directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The first entry of that name, in directory priority order.
    pub path: String,
    /// The file it ends at after links (the unit file).
    pub file: String,
    /// Masked: a link to `/dev/null` or an empty file.
    pub masked: bool,
}

/// The first entry named `name` in [`UNIT_DIRS`] order; `None` when no directory has one.
pub fn locate(g: &dyn Guest, name: &str) -> Result<Option<Located>, Error> {
    for dir in UNIT_DIRS {
        let path = join(dir, name);
        let Some(meta) = g.lstat(&path)? else {
            continue;
        };
        let file = follow_links(g, &path);
        let masked = file == "/dev/null"
            || link_text(g, &path).as_deref() == Some("/dev/null")
            || matches!(g.stat(&path), Ok(Some(m)) if m.kind == FileKind::File && m.size == 0);
        if meta.kind == FileKind::Dir {
            continue;
        }
        return Ok(Some(Located { path, file, masked }));
    }
    Ok(None)
}

fn check_name(name: &str) -> Result<(), Error> {
    if !is_unit_name(name) || name.contains(['/', '\n']) || name.starts_with('.') {
        return Err(Error::Invalid {
            what: format!("unit name {name:?}"),
            why: "a unit name is NAME.TYPE (foo.service), without a slash".into(),
        });
    }
    Ok(())
}

/// The links `systemctl enable` makes for a unit whose file is `file`: one per `WantedBy=`
/// (`TARGET.wants/NAME`), `RequiredBy=` (`TARGET.requires/NAME`) and `Alias=`, in
/// `/etc/systemd/system`, each pointing at `file`, with the directories they need. Links that
/// already point there are left alone.
fn install_links(
    g: &dyn Guest,
    name: &str,
    file: &str,
    install: &Install,
    why: &str,
) -> Result<Vec<FileOp>, Error> {
    let mut ops = Vec::new();
    let mut links: Vec<String> = Vec::new();
    for t in &install.wanted_by {
        check_name(t)?;
        links.push(format!("{ETC}/{t}.wants/{name}"));
    }
    for t in &install.required_by {
        check_name(t)?;
        links.push(format!("{ETC}/{t}.requires/{name}"));
    }
    for a in &install.alias {
        check_name(a)?;
        links.push(join(ETC, a));
    }
    let mut made: Vec<String> = Vec::new();
    for l in links {
        if link_text(g, &l).as_deref() == Some(file) {
            continue;
        }
        let dir = crate::path::parent(&l).to_owned();
        if !made.contains(&dir) {
            for op in mkdirs(g, &dir, why) {
                if !ops.contains(&op) {
                    ops.push(op);
                }
            }
            made.push(dir);
        }
        ops.push(FileOp::symlink(l, file, why));
    }
    Ok(ops)
}

/// The unit's settings with its file's drop-ins left out (the `[Install]` section lives in
/// the unit file).
fn unit_settings(g: &dyn Guest, file: &str) -> Result<Vec<Setting>, Error> {
    Ok(read_lines(g, file)?
        .map(|l| settings(&l))
        .unwrap_or_default())
}

/// Adds the unit `name` with `content` as `/etc/systemd/system/NAME` (mode 0644) and enables
/// it as `systemctl enable` would: the links its `[Install]` section asks for. An existing
/// unit of that name in `/etc` is an error; a vendor unit of that name is overridden.
pub fn add_unit(g: &dyn Guest, name: &str, content: &str) -> Result<Vec<FileOp>, Error> {
    check_name(name)?;
    let path = join(ETC, name);
    if g.lstat(&path)?.is_some() {
        return Err(Error::Exists {
            what: format!("unit {name}"),
            path,
        });
    }
    let why = format!("add and enable {name}");
    let mut ops = mkdirs(g, ETC, &why);
    ops.push(FileOp::write(
        path.clone(),
        content.as_bytes().to_vec(),
        (0o644, 0, 0),
        why.clone(),
    ));
    let install = install_section(&settings(&Lines::new(&path, content)));
    ops.extend(install_links(g, name, &path, &install, &why)?);
    Ok(ops)
}

/// Enables the installed unit `name` as `systemctl enable` would: removes a mask in
/// `/etc/systemd/system` first, then makes the links of its `[Install]` section. A unit with no
/// `[Install]` section, a mask that is not in `/etc`, or no unit at all is an error.
pub fn enable(g: &dyn Guest, name: &str) -> Result<Vec<FileOp>, Error> {
    check_name(name)?;
    let why = format!("enable {name}");
    let mut ops = Vec::new();
    let mut found = locate(g, name)?;
    if let Some(l) = &found
        && l.masked
    {
        if !l.path.starts_with(&format!("{ETC}/")) {
            return Err(Error::Invalid {
                what: format!("unit {name}"),
                why: format!("masked by {}, outside {ETC}", l.path),
            });
        }
        ops.push(FileOp {
            path: l.path.clone(),
            op: crate::Op::Remove,
            why: format!("unmask {name}"),
        });
        // What the name resolves to once the mask is gone.
        found = UNIT_DIRS
            .iter()
            .skip(1)
            .map(|d| join(d, name))
            .find(|p| g.is_file(p))
            .map(|p| Located {
                file: follow_links(g, &p),
                path: p,
                masked: false,
            });
    }
    let Some(unit) = found else {
        return Err(Error::Missing {
            path: format!("{ETC}/{name} (no unit {name} in {})", UNIT_DIRS.join(", ")),
        });
    };
    let install = install_section(&unit_settings(g, &unit.file)?);
    if install.wanted_by.is_empty() && install.required_by.is_empty() && install.alias.is_empty() {
        return Err(Error::Invalid {
            what: format!("unit {name}"),
            why: format!("{} has no [Install] section to enable it by", unit.file),
        });
    }
    ops.extend(install_links(g, name, &unit.path, &install, &why)?);
    Ok(ops)
}

/// The drop-in `/etc/systemd/system/UNIT.d/FILE` with `entries` in `[SECTION]`: created, or
/// merged into an existing drop-in of that name (lines it lacks appended to the section, the
/// section appended when missing). No operation when every entry is already there.
pub fn dropin(
    g: &dyn Guest,
    unit: &str,
    file: &str,
    section: &str,
    entries: &[(&str, &str)],
    why: &str,
) -> Result<Vec<FileOp>, Error> {
    check_name(unit)?;
    if !file.ends_with(".conf") || file.contains('/') {
        return Err(Error::Invalid {
            what: format!("drop-in {file:?}"),
            why: "a drop-in is NAME.conf".into(),
        });
    }
    for (k, v) in entries {
        if k.is_empty() || k.contains(['=', '\n']) || v.contains('\n') {
            return Err(Error::Invalid {
                what: format!("{k}={v}"),
                why: "one Key=value per line".into(),
            });
        }
    }
    let dir = format!("{ETC}/{unit}.d");
    let path = join(&dir, file);
    match existing(g, &path)? {
        None => {
            let mut text = format!("[{section}]\n");
            for (k, v) in entries {
                text.push_str(&format!("{k}={v}\n"));
            }
            let mut ops = mkdirs(g, &dir, why);
            ops.push(FileOp::write(path, text.into_bytes(), (0o644, 0, 0), why));
            Ok(ops)
        }
        Some((bytes, owner)) => {
            let lines = Lines::new(&path, &String::from_utf8_lossy(&bytes));
            let have = settings(&lines);
            let mut f = TextFile::parse(&bytes);
            let missing: Vec<&(&str, &str)> = entries
                .iter()
                .filter(|(k, v)| {
                    !have.iter().any(|s| {
                        s.section == section
                            && s.key == *k
                            && v.split_whitespace()
                                .all(|w| s.value.split_whitespace().any(|x| x == w))
                    })
                })
                .collect();
            if missing.is_empty() {
                return Ok(Vec::new());
            }
            // The last line of the section (its header when it has no settings yet).
            let header = lines
                .lines
                .iter()
                .filter(|(_, l)| l.trim() == format!("[{section}]"))
                .map(|(n, _)| *n)
                .next_back();
            match header {
                Some(h) => {
                    let end = lines
                        .lines
                        .iter()
                        .filter(|(n, l)| *n > h && l.trim_start().starts_with('['))
                        .map(|(n, _)| *n - 1)
                        .next()
                        .unwrap_or(lines.lines.len());
                    let mut at = end;
                    while at > h && lines.text(at).is_empty() {
                        at -= 1;
                    }
                    for (i, (k, v)) in missing.iter().enumerate() {
                        f.insert_after(at + i, &format!("{k}={v}"));
                    }
                }
                None => {
                    f.append(&format!("[{section}]"));
                    for (k, v) in &missing {
                        f.append(&format!("{k}={v}"));
                    }
                }
            }
            Ok(vec![FileOp::write(path, f.to_bytes(), owner, why)])
        }
    }
}

/// A drop-in that orders `unit` after `after` (`After=`), and with `wants` pulls it in too
/// (`Wants=`): what `systemctl edit UNIT` would hold to say "start AFTER first".
pub fn order_after(
    g: &dyn Guest,
    unit: &str,
    after: &[&str],
    wants: bool,
) -> Result<Vec<FileOp>, Error> {
    for a in after {
        check_name(a)?;
    }
    let list = after.join(" ");
    let mut entries = vec![("After", list.as_str())];
    if wants {
        entries.push(("Wants", list.as_str()));
    }
    dropin(
        g,
        unit,
        "imgprep-order.conf",
        "Unit",
        &entries,
        &format!("start {unit} after {list}"),
    )
}

/// A drop-in that gives the service `unit` the umask `mask` (`UMask=` in `[Service]`).
pub fn service_umask(g: &dyn Guest, unit: &str, mask: u16) -> Result<Vec<FileOp>, Error> {
    if mask > 0o777 {
        return Err(Error::Invalid {
            what: format!("umask {mask:o}"),
            why: "a umask has three octal digits".into(),
        });
    }
    let value = format!("{mask:04o}");
    // Already the unit's own setting, with no drop-in that could change it: nothing to add.
    if let Some(found) = locate(g, unit)?
        && let Some(lines) = read_lines(g, &found.file)?
    {
        let own = settings(&lines)
            .into_iter()
            .rfind(|s| s.section == "Service" && s.key == "UMask");
        let dropins = UNIT_DIRS
            .iter()
            .any(|d| g.is_dir(&join(d, &format!("{unit}.d"))));
        if own.is_some_and(|s| s.value == value || s.value == format!("{mask:o}")) && !dropins {
            return Ok(Vec::new());
        }
    }
    dropin(
        g,
        unit,
        "imgprep-umask.conf",
        "Service",
        &[("UMask", value.as_str())],
        &format!("umask {value} for {unit}"),
    )
}
