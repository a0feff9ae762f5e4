//! Adding an init script with the rc links `chkconfig NAME on` or `update-rc.d NAME defaults`
//! would make, and renumbering links so one script starts before another.

use std::collections::BTreeMap;

use imgprep_guest::Guest;

use super::lsb::{Lsb, chkconfig, lsb_header};
use super::rc::rc_link;
use crate::ops::{FileOp, mkdirs};
use crate::path::{basename, join, link_text};
use crate::text::{Lines, list_dir, read_lines};
use crate::{Error, Op};

/// Where a distribution keeps init scripts and rc links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Red Hat: `/etc/rc.d/init.d`, `/etc/rc.d/rcN.d`, chkconfig numbering (default 50).
    RedHat,
    /// Debian: `/etc/init.d`, `/etc/rcN.d`, update-rc.d numbering (from 01).
    Debian,
}

impl Layout {
    /// The guest's layout: Red Hat when `/etc/rc.d/init.d` is a directory.
    pub fn of(g: &dyn Guest) -> Layout {
        if g.is_dir_nofollow("/etc/rc.d/init.d") {
            Layout::RedHat
        } else {
            Layout::Debian
        }
    }

    /// The directory of init scripts.
    pub fn init_dir(self) -> &'static str {
        match self {
            Layout::RedHat => "/etc/rc.d/init.d",
            Layout::Debian => "/etc/init.d",
        }
    }

    /// The rc directory of runlevel `level` (`b'S'` for Debian's rcS.d).
    pub fn rc_dir(self, level: u8) -> String {
        let l = if level == b'S' {
            "S".to_owned()
        } else {
            level.to_string()
        };
        match self {
            Layout::RedHat => format!("/etc/rc.d/rc{l}.d"),
            Layout::Debian => format!("/etc/rc{l}.d"),
        }
    }

    fn default_priority(self) -> u8 {
        match self {
            Layout::RedHat => 50,
            Layout::Debian => 1,
        }
    }
}

/// A new init script: its LSB header and body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewScript {
    /// File name in the init directory.
    pub name: String,
    /// `Provides:` (the name when empty).
    pub provides: Vec<String>,
    /// `Required-Start:` (and `Required-Stop:`).
    pub required_start: Vec<String>,
    /// `Should-Start:`.
    pub should_start: Vec<String>,
    /// `X-Start-Before:`.
    pub start_before: Vec<String>,
    /// `Default-Start:` runlevels.
    pub default_start: Vec<u8>,
    /// `Default-Stop:` runlevels.
    pub default_stop: Vec<u8>,
    /// `Short-Description:`.
    pub description: String,
    /// A `# chkconfig:` line with these start and stop priorities (Red Hat).
    pub chkconfig: Option<(u8, u8)>,
    /// The script after the header (`case "$1" in start) …`).
    pub body: String,
}

fn levels(v: &[u8]) -> String {
    v.iter()
        .map(|l| {
            if *l == b'S' {
                "S".into()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl NewScript {
    /// The script's text: shebang, chkconfig line, LSB header, body.
    pub fn text(&self) -> String {
        let provides = if self.provides.is_empty() {
            self.name.clone()
        } else {
            self.provides.join(" ")
        };
        let mut t = String::from("#!/bin/sh\n");
        if let Some((s, k)) = self.chkconfig {
            let lv: String = self
                .default_start
                .iter()
                .filter(|l| l.is_ascii_digit() || **l <= 6)
                .map(|l| l.to_string())
                .collect();
            t.push_str(&format!(
                "# chkconfig: {} {s:02} {k:02}\n",
                if lv.is_empty() { "-".to_owned() } else { lv }
            ));
            t.push_str(&format!("# description: {}\n", self.description));
        }
        t.push_str("### BEGIN INIT INFO\n");
        t.push_str(&format!("# Provides:          {provides}\n"));
        let req = self.required_start.join(" ");
        t.push_str(&format!("# Required-Start:    {req}\n"));
        t.push_str(&format!("# Required-Stop:     {req}\n"));
        if !self.should_start.is_empty() {
            t.push_str(&format!(
                "# Should-Start:      {}\n",
                self.should_start.join(" ")
            ));
        }
        if !self.start_before.is_empty() {
            t.push_str(&format!(
                "# X-Start-Before:    {}\n",
                self.start_before.join(" ")
            ));
        }
        t.push_str(&format!(
            "# Default-Start:     {}\n",
            levels(&self.default_start)
        ));
        t.push_str(&format!(
            "# Default-Stop:      {}\n",
            levels(&self.default_stop)
        ));
        t.push_str(&format!("# Short-Description: {}\n", self.description));
        t.push_str("### END INIT INFO\n");
        t.push_str(&self.body);
        if !t.ends_with('\n') {
            t.push('\n');
        }
        t
    }
}

/// The start links of each runlevel: level -> script file name -> (number, link path).
type Links = BTreeMap<u8, BTreeMap<String, (u8, String)>>;

fn start_links(g: &dyn Guest, layout: Layout) -> Links {
    let mut out = Links::new();
    for level in [b'S', 0, 1, 2, 3, 4, 5, 6] {
        let dir = layout.rc_dir(level);
        for link in list_dir(g, &dir) {
            if let Some((true, n, _)) = rc_link(&link) {
                let file = link.get(3..).unwrap_or_default().to_owned();
                out.entry(level)
                    .or_default()
                    .insert(file, (n, join(&dir, &link)));
            }
        }
    }
    out
}

/// Script file names by what they provide (their own name included).
fn providers(g: &dyn Guest, layout: Layout) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for file in list_dir(g, layout.init_dir()) {
        let path = join(layout.init_dir(), &file);
        if let Ok(Some(lines)) = read_lines(g, &path) {
            for (p, _, _) in lsb_header(&lines).provides {
                out.entry(p).or_insert_with(|| file.clone());
            }
        }
        out.entry(file.clone()).or_insert(file);
    }
    out
}

/// The links that start and stop script `name` (header `lsb`, chkconfig line `ck`) as
/// chkconfig (Red Hat) or update-rc.d (Debian) would make them: start links in `Default-Start`
/// levels (the chkconfig line's on Red Hat) numbered after every script the header requires
/// and before every `X-Start-Before:` one, stop links in `Default-Stop` levels.
fn links_for(
    g: &dyn Guest,
    layout: Layout,
    name: &str,
    lsb: &Lsb,
    ck: Option<(Vec<u8>, u8, u8)>,
) -> Result<Vec<FileOp>, Error> {
    let existing = start_links(g, layout);
    let provided = providers(g, layout);
    let (start_levels, base_start, base_stop) = match &ck {
        Some((lv, s, k)) => (lv.clone(), *s, *k),
        None => (
            lsb.default_start.clone(),
            layout.default_priority(),
            layout.default_priority(),
        ),
    };
    let stop_levels: Vec<u8> = if ck.is_some() {
        (0..=6).filter(|l| !start_levels.contains(l)).collect()
    } else {
        lsb.default_stop.clone()
    };
    let why = format!("enable the init script {name}");
    let target = format!("../init.d/{name}");
    let mut ops = Vec::new();
    for level in &start_levels {
        let in_level = existing.get(level);
        let number = |dep: &str| {
            let file = provided.get(dep)?;
            in_level?.get(file).map(|(n, _)| *n)
        };
        let after = lsb
            .deps
            .iter()
            .filter(|d| !d.before && !d.name.starts_with('$'))
            .filter_map(|d| number(&d.name))
            .max();
        let before = lsb
            .deps
            .iter()
            .filter(|d| d.before && !d.name.starts_with('$'))
            .filter_map(|d| number(&d.name))
            .min();
        let n = after.map_or(base_start, |a| base_start.max(a.saturating_add(1)));
        if n > 99 || before.is_some_and(|b| n >= b) {
            return Err(Error::Invalid {
                what: format!("start links of {name} in runlevel {}", levels(&[*level])),
                why: format!(
                    "no number satisfies its header: after {} and before {}",
                    after.map_or("nothing".into(), |a| format!("S{a:02}")),
                    before.map_or("nothing".into(), |b| format!("S{b:02}"))
                ),
            });
        }
        let dir = layout.rc_dir(*level);
        if in_level.and_then(|m| m.get(name)).is_some() {
            continue;
        }
        ops.extend(mkdirs(g, &dir, &why));
        ops.push(FileOp::symlink(
            join(&dir, &format!("S{n:02}{name}")),
            &target,
            &why,
        ));
    }
    for level in &stop_levels {
        let dir = layout.rc_dir(*level);
        let has_k = list_dir(g, &dir)
            .iter()
            .any(|l| matches!(rc_link(l), Some((false, _, _))) && l.get(3..) == Some(name));
        if has_k {
            continue;
        }
        ops.extend(mkdirs(g, &dir, &why));
        ops.push(FileOp::symlink(
            join(&dir, &format!("K{base_stop:02}{name}")),
            &target,
            &why,
        ));
    }
    Ok(ops)
}

/// Adds the init script `s` (mode 0755) and the rc links its header asks for, numbered as
/// chkconfig (Red Hat layout) or update-rc.d (Debian layout) would number them.
pub fn add_script(g: &dyn Guest, s: &NewScript) -> Result<Vec<FileOp>, Error> {
    if s.name.is_empty() || s.name.contains(['/', ' ', '\n']) || s.name.starts_with('.') {
        return Err(Error::Invalid {
            what: format!("init script name {:?}", s.name),
            why: "a file name without slashes or blanks".into(),
        });
    }
    let layout = Layout::of(g);
    let path = join(layout.init_dir(), &s.name);
    if g.lstat(&path)?.is_some() {
        return Err(Error::Exists {
            what: format!("init script {}", s.name),
            path,
        });
    }
    let text = s.text();
    let lines = Lines::new(&path, &text);
    let lsb = lsb_header(&lines);
    let ck = chkconfig(&lines).map(|c| (c.levels, c.start, c.stop));
    let why = format!("add the init script {}", s.name);
    let mut ops = mkdirs(g, layout.init_dir(), &why);
    ops.push(FileOp::write(path, text.into_bytes(), (0o755, 0, 0), why));
    ops.extend(links_for(g, layout, &s.name, &lsb, ck)?);
    Ok(ops)
}

/// The rc links that enable the installed script `name`, as `chkconfig NAME on` or
/// `update-rc.d NAME defaults` would make them; none where links exist.
pub fn enable_script(g: &dyn Guest, name: &str) -> Result<Vec<FileOp>, Error> {
    let layout = Layout::of(g);
    let path = join(layout.init_dir(), name);
    let Some(lines) = read_lines(g, &path)? else {
        return Err(Error::Missing { path });
    };
    let lsb = lsb_header(&lines);
    let ck = chkconfig(&lines).map(|c| (c.levels, c.start, c.stop));
    if ck.is_none() && lsb.default_start.is_empty() {
        return Err(Error::Invalid {
            what: format!("init script {path}"),
            why: "neither a chkconfig line nor Default-Start says where it starts".into(),
        });
    }
    links_for(g, layout, name, &lsb, ck)
}

/// Renumbers start links so that script `first` starts before script `then` in every rc
/// directory where both have one (as insserv does when a header asks for it): `then`'s link
/// moves to the number after `first`'s, or, when that is past 99, `first`'s to the number
/// before `then`'s. No operation where the order already holds.
pub fn start_before(g: &dyn Guest, first: &str, then: &str) -> Result<Vec<FileOp>, Error> {
    let layout = Layout::of(g);
    let links = start_links(g, layout);
    let mut ops = Vec::new();
    let rename = |from: &str, to: String, ops: &mut Vec<FileOp>| {
        let target = link_text(g, from).unwrap_or_else(|| format!("../init.d/{}", basename(from)));
        let why = format!("start {first} before {then}");
        ops.push(FileOp {
            path: from.to_owned(),
            op: Op::Remove,
            why: why.clone(),
        });
        ops.push(FileOp::symlink(to, target, why));
    };
    for (level, scripts) in &links {
        let (Some((a, pa)), Some((b, pb))) = (scripts.get(first), scripts.get(then)) else {
            continue;
        };
        if a < b {
            continue;
        }
        let dir = layout.rc_dir(*level);
        if *a < 99 {
            rename(pb, join(&dir, &format!("S{:02}{then}", a + 1)), &mut ops);
        } else if *b > 0 {
            rename(pa, join(&dir, &format!("S{:02}{first}", b - 1)), &mut ops);
        } else {
            return Err(Error::Invalid {
                what: format!("rc links of {first} and {then} in {dir}"),
                why: "S99 and S00: no number is left between them".into(),
            });
        }
    }
    Ok(ops)
}
