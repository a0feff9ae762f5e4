//! Accounts: `/etc/passwd`, `/etc/group`, `/etc/shadow` and `/etc/gshadow`, read as glibc's
//! `files` backend reads them (leading blanks skipped, blank and `#` lines ignored, fields split
//! on `:`), and a new account added as shadow-utils' `useradd` would add it.

use imgprep_guest::{Guest, GuestError};

use crate::logindefs::LoginDefs;
use crate::ops::{FileOp, existing};
use crate::path::join;
use crate::text::{MAX_TEXT, TextFile};
use crate::{Error, Evidence};

/// Where the account databases are.
pub const PASSWD: &str = "/etc/passwd";
/// The group database.
pub const GROUP: &str = "/etc/group";
/// Shadow passwords.
pub const SHADOW: &str = "/etc/shadow";
/// Shadow group passwords.
pub const GSHADOW: &str = "/etc/gshadow";

/// Entries of /etc/skel copied at most, their bytes, and its depth.
const MAX_SKEL: usize = 1024;
const MAX_SKEL_BYTES: u64 = 64 << 20;
const MAX_SKEL_DEPTH: usize = 8;

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    /// 1-based line.
    pub line: usize,
    /// Login name.
    pub name: String,
    /// User id, when the field is a number.
    pub uid: Option<u32>,
    /// Primary group id, when the field is a number.
    pub gid: Option<u32>,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One `/etc/group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// 1-based line.
    pub line: usize,
    /// Group name.
    pub name: String,
    /// Group id, when the field is a number.
    pub gid: Option<u32>,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// The fields of each entry line of an account database: `(line, fields)`.
pub fn entries(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let l = raw.trim_start();
        (!l.is_empty() && !l.starts_with('#')).then(|| (i + 1, l.split(':').collect()))
    })
}

fn field(f: &[&str], i: usize) -> String {
    f.get(i).copied().unwrap_or("").to_owned()
}

fn number(f: &[&str], i: usize) -> Option<u32> {
    f.get(i).and_then(|v| v.trim().parse().ok())
}

/// The entries of a passwd file.
pub fn parse_passwd(text: &str) -> Vec<Passwd> {
    entries(text)
        .map(|(line, f)| Passwd {
            line,
            name: field(&f, 0),
            uid: number(&f, 2),
            gid: number(&f, 3),
            home: field(&f, 5),
            shell: field(&f, 6),
        })
        .collect()
}

/// The entries of a group file.
pub fn parse_group(text: &str) -> Vec<Group> {
    entries(text)
        .map(|(line, f)| Group {
            line,
            name: field(&f, 0),
            gid: number(&f, 2),
            members: f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The account databases of a guest.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// `/etc/passwd` entries (empty when the file is missing).
    pub passwd: Vec<Passwd>,
    /// `/etc/group` entries.
    pub group: Vec<Group>,
    /// Whether `/etc/passwd` exists.
    pub has_passwd: bool,
}

impl Accounts {
    /// Reads `/etc/passwd` and `/etc/group`; a missing file is empty.
    pub fn read(g: &dyn Guest) -> Result<Self, GuestError> {
        let passwd = g.read_text(PASSWD, MAX_TEXT)?;
        let group = g.read_text(GROUP, MAX_TEXT)?.unwrap_or_default();
        Ok(Accounts {
            has_passwd: passwd.is_some(),
            passwd: parse_passwd(&passwd.unwrap_or_default()),
            group: parse_group(&group),
        })
    }

    /// The first passwd entry named `name`, as getpwnam returns it.
    pub fn user(&self, name: &str) -> Option<&Passwd> {
        self.passwd.iter().find(|p| p.name == name)
    }

    /// The first group with id `gid`, as getgrgid returns it.
    pub fn group_by_gid(&self, gid: u32) -> Option<&Group> {
        self.group.iter().find(|g| g.gid == Some(gid))
    }

    /// The names of the groups `user` belongs to: its primary group `gid` and every group that
    /// lists it as a member, in file order.
    pub fn groups_of(&self, user: &str, gid: Option<u32>) -> Vec<String> {
        self.group
            .iter()
            .filter(|g| (gid.is_some() && g.gid == gid) || g.members.iter().any(|m| m == user))
            .map(|g| g.name.clone())
            .collect()
    }

    /// Evidence that `user` exists: its passwd line.
    pub fn evidence(&self, user: &str) -> Option<Evidence> {
        self.user(user)
            .map(|p| Evidence::line(PASSWD, p.line, format!("{user} exists")))
    }
}

/// What to create with [`add_account`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Login name.
    pub name: String,
    /// A system account (ids from `SYS_UID_MIN`..`SYS_UID_MAX`, no home unless asked).
    pub system: bool,
    /// Home directory; `None` for `/home/NAME`.
    pub home: Option<String>,
    /// Create the home directory from `/etc/skel`.
    pub create_home: bool,
    /// Login shell.
    pub shell: String,
    /// Comment field.
    pub gecos: String,
    /// Day of the last password change (days since 1970-01-01) for `/etc/shadow`.
    pub last_change_days: u64,
}

/// A valid login name as shadow-utils accepts it: `[a-z_][a-z0-9_-]*[$]?`, at most 32 bytes.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    let body = b.strip_suffix(b"$").unwrap_or(b);
    !body.is_empty()
        && b.len() <= 32
        && (body[0].is_ascii_lowercase() || body[0] == b'_')
        && body
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// The id useradd gives a new account in `min..=max` given the ids in use: for a regular
/// account one more than the highest used id of the range (the lowest free one when that is
/// past `max`); for a system account one less than the lowest used id of the range (the highest
/// free one when that is below `min`). `preferred` is taken when it is free and in range.
pub fn next_id(
    used: &[u32],
    (min, max): (u32, u32),
    system: bool,
    preferred: Option<u32>,
) -> Option<u32> {
    let free = |id: u32| !used.contains(&id);
    if let Some(p) = preferred
        && (min..=max).contains(&p)
        && free(p)
    {
        return Some(p);
    }
    let in_range: Vec<u32> = used
        .iter()
        .copied()
        .filter(|u| (min..=max).contains(u))
        .collect();
    if system {
        let start = match in_range.iter().min() {
            Some(&lo) => lo.checked_sub(1).filter(|i| *i >= min),
            None => Some(max),
        };
        if let Some(id) = start.filter(|i| free(*i)) {
            return Some(id);
        }
        (min..=max).rev().find(|i| free(*i))
    } else {
        let start = match in_range.iter().max() {
            Some(&hi) => hi.checked_add(1).filter(|i| *i <= max),
            None => Some(min),
        };
        if let Some(id) = start.filter(|i| free(*i)) {
            return Some(id);
        }
        (min..=max).find(|i| free(*i))
    }
}

/// The operations that add account `a` as `useradd` does: a passwd line, a locked shadow entry
/// (`!`), a group of the same name (its id the user id when that is free), a gshadow entry,
/// and, with `create_home`, the home directory with a copy of `/etc/skel`. Files that do not
/// exist (`/etc/shadow`, `/etc/gshadow`) are not created; `/etc/passwd` and `/etc/group` must
/// exist. Ids follow `login.defs` and the ids in use.
pub fn add_account(g: &dyn Guest, a: &NewAccount) -> Result<Vec<FileOp>, Error> {
    if !valid_name(&a.name) {
        return Err(Error::Invalid {
            what: format!("account name {:?}", a.name),
            why: "not a name useradd accepts ([a-z_][a-z0-9_-]*, at most 32 bytes)".into(),
        });
    }
    let invalid = |what: &str| Error::Invalid {
        what: what.to_owned(),
        why: "a field may hold no `:` and no newline".into(),
    };
    for (what, v) in [("shell", &a.shell), ("gecos", &a.gecos)] {
        if v.contains([':', '\n']) {
            return Err(invalid(what));
        }
    }
    let home = a
        .home
        .clone()
        .unwrap_or_else(|| format!("/home/{}", a.name));
    if home.contains([':', '\n']) || !home.starts_with('/') {
        return Err(invalid("home"));
    }
    let Some((passwd, passwd_owner)) = existing(g, PASSWD)? else {
        return Err(Error::Missing {
            path: PASSWD.into(),
        });
    };
    let Some((group, group_owner)) = existing(g, GROUP)? else {
        return Err(Error::Missing { path: GROUP.into() });
    };
    let users = parse_passwd(&String::from_utf8_lossy(&passwd));
    let groups = parse_group(&String::from_utf8_lossy(&group));
    if users.iter().any(|u| u.name == a.name) {
        return Err(Error::Exists {
            what: format!("account {}", a.name),
            path: PASSWD.into(),
        });
    }
    if groups.iter().any(|x| x.name == a.name) {
        return Err(Error::Exists {
            what: format!("group {}", a.name),
            path: GROUP.into(),
        });
    }
    let defs = LoginDefs::read(g)?.unwrap_or_default();
    let uids: Vec<u32> = users.iter().filter_map(|u| u.uid).collect();
    let gids: Vec<u32> = groups.iter().filter_map(|x| x.gid).collect();
    let range = defs.uid_range(a.system);
    let uid = next_id(&uids, range, a.system, None).ok_or_else(|| Error::Invalid {
        what: format!("account {}", a.name),
        why: format!("no free user id in {}..{}", range.0, range.1),
    })?;
    let grange = defs.gid_range(a.system);
    let gid = next_id(&gids, grange, a.system, Some(uid)).ok_or_else(|| Error::Invalid {
        what: format!("group {}", a.name),
        why: format!("no free group id in {}..{}", grange.0, grange.1),
    })?;
    let why = format!("add the account {} (uid {uid}, gid {gid})", a.name);
    let mut ops = Vec::new();
    let append = |bytes: &[u8], line: String| {
        let mut f = TextFile::parse(bytes);
        f.append(&line);
        f.to_bytes()
    };
    ops.push(FileOp::write(
        PASSWD,
        append(
            &passwd,
            format!("{}:x:{uid}:{gid}:{}:{home}:{}", a.name, a.gecos, a.shell),
        ),
        passwd_owner,
        why.clone(),
    ));
    if let Some((shadow, owner)) = existing(g, SHADOW)? {
        let num = |k: &str| {
            defs.get(k)
                .and_then(|s| s.value.parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .map_or(String::new(), |n| n.to_string())
        };
        let line = format!(
            "{}:!:{}:{}:{}:{}:::",
            a.name,
            a.last_change_days,
            num("PASS_MIN_DAYS"),
            num("PASS_MAX_DAYS"),
            num("PASS_WARN_AGE")
        );
        ops.push(FileOp::write(
            SHADOW,
            append(&shadow, line),
            owner,
            why.clone(),
        ));
    }
    ops.push(FileOp::write(
        GROUP,
        append(&group, format!("{}:x:{gid}:", a.name)),
        group_owner,
        why.clone(),
    ));
    if let Some((gshadow, owner)) = existing(g, GSHADOW)? {
        ops.push(FileOp::write(
            GSHADOW,
            append(&gshadow, format!("{}:!::", a.name)),
            owner,
            why.clone(),
        ));
    }
    if a.create_home {
        if g.stat(&home)?.is_some() {
            return Err(Error::Exists {
                what: "home directory".into(),
                path: home,
            });
        }
        let umask = defs
            .get("UMASK")
            .and_then(|s| crate::logindefs::parse_c_number(&s.value))
            .unwrap_or(0o022);
        let mode = defs
            .get("HOME_MODE")
            .and_then(|s| crate::logindefs::parse_c_number(&s.value))
            .unwrap_or(0o777 & !umask)
            & 0o7777;
        ops.push(FileOp {
            path: home.clone(),
            op: crate::Op::Mkdir { mode, uid, gid },
            why: format!("home of {}", a.name),
        });
        copy_skel(g, "/etc/skel", &home, (uid, gid), 0, &mut (0, 0), &mut ops)?;
    }
    Ok(ops)
}

/// Copies the tree `from` to `to`, owned by `owner`, as useradd copies `/etc/skel`.
fn copy_skel(
    g: &dyn Guest,
    from: &str,
    to: &str,
    (uid, gid): (u32, u32),
    depth: usize,
    budget: &mut (usize, u64),
    ops: &mut Vec<FileOp>,
) -> Result<(), Error> {
    let too_large = |what: String| Error::Invalid {
        what: "/etc/skel".into(),
        why: format!("more than {what}; useradd would copy it all"),
    };
    if depth > MAX_SKEL_DEPTH {
        return Err(too_large(format!("{MAX_SKEL_DEPTH} directory levels")));
    }
    for name in crate::text::list_dir(g, from) {
        budget.0 += 1;
        if budget.0 > MAX_SKEL {
            return Err(too_large(format!("{MAX_SKEL} entries")));
        }
        let src = join(from, &name);
        let dst = join(to, &name);
        let Some(meta) = g.lstat(&src)? else { continue };
        let why = format!("copy of {src}");
        match meta.kind {
            imgprep_fs::FileKind::Dir => {
                ops.push(FileOp {
                    path: dst.clone(),
                    op: crate::Op::Mkdir {
                        mode: meta.mode & 0o7777,
                        uid,
                        gid,
                    },
                    why,
                });
                copy_skel(g, &src, &dst, (uid, gid), depth + 1, budget, ops)?;
            }
            imgprep_fs::FileKind::File => {
                let content = g.read_file(&src, MAX_TEXT)?;
                budget.1 += content.len() as u64;
                if budget.1 > MAX_SKEL_BYTES {
                    return Err(too_large(format!("{MAX_SKEL_BYTES} bytes")));
                }
                ops.push(FileOp::write(
                    dst,
                    content,
                    (meta.mode & 0o7777, uid, gid),
                    why,
                ));
            }
            imgprep_fs::FileKind::Symlink => {
                let target = String::from_utf8_lossy(&g.read_link(&src)?).into_owned();
                ops.push(FileOp::symlink(dst, target, why));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_glibc_reads_them() {
        let p = parse_passwd("# c\n\n  root:x:0:0:root:/root:/bin/bash\nbad:x:zz:1::/h:/bin/sh\n");
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].line, p[0].name.as_str(), p[0].uid),
            (3, "root", Some(0))
        );
        assert_eq!((p[1].uid, p[1].gid), (None, Some(1)));
        let g = parse_group("wheel:x:10:a, b,\nusers:x:100:\n");
        assert_eq!(g[0].members, ["a", "b"]);
        assert!(g[1].members.is_empty());
    }

    #[test]
    fn ids_as_useradd_picks_them() {
        assert_eq!(
            next_id(&[0, 1000, 1001], (1000, 60000), false, None),
            Some(1002)
        );
        assert_eq!(next_id(&[0], (1000, 60000), false, None), Some(1000));
        assert_eq!(
            next_id(&[0, 60000, 1000], (1000, 60000), false, None),
            Some(1001)
        );
        assert_eq!(next_id(&[0, 999, 998], (101, 999), true, None), Some(997));
        assert_eq!(next_id(&[0], (101, 999), true, None), Some(999));
        assert_eq!(next_id(&[101, 999], (101, 999), true, None), Some(998));
        assert_eq!(
            next_id(&[1000], (1000, 60000), false, Some(1000)),
            Some(1001)
        );
        assert_eq!(
            next_id(&[1000], (1000, 60000), false, Some(1005)),
            Some(1005)
        );
        assert_eq!(next_id(&[1, 2], (1, 2), false, None), None);
        assert!(valid_name("cliqruser") && valid_name("_x$") && !valid_name("Root"));
        assert!(!valid_name("") && !valid_name("a:b") && !valid_name(&"a".repeat(33)));
    }
}
