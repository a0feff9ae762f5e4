//! sudoers: `/etc/sudoers` and the files it includes (`#include`, `@include`, `#includedir`,
//! `@includedir`), the user specifications that grant an account something, and the
//! `Defaults` that decide `requiretty` for it. Edits add a drop-in (mode 0440) and, when the
//! include tree does not read its directory, the `#includedir` line.

use imgprep_guest::Guest;

use crate::ops::existing;
use crate::ops::{FileOp, mkdirs};
use crate::path::{join, parent};
use crate::text::{Lines, TextFile, list_dir, read_lines};
use crate::{Error, Evidence};

/// The main file.
pub const SUDOERS: &str = "/etc/sudoers";
/// The drop-in directory distributions include.
pub const SUDOERS_D: &str = "/etc/sudoers.d";
/// Deepest include chain followed.
const MAX_DEPTH: usize = 8;

/// A sudoers line that grants a user something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The line.
    pub evidence: Evidence,
    /// The command list is `ALL`.
    pub all_commands: bool,
    /// `NOPASSWD:` is given.
    pub nopasswd: bool,
}

/// Whether sudo requires a tty for a user, and the `Defaults` lines that decide it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tty {
    /// `requiretty` is on for the user.
    pub on: bool,
    /// The global setting and, when one applies, the user's own (`Defaults:USER`), in that
    /// order; empty when nothing sets requiretty.
    pub evidence: Vec<Evidence>,
}

/// `/etc/sudoers` and the files it includes, in the order sudo reads them.
#[derive(Debug, Clone, Default)]
pub struct Sudoers {
    /// Each file read, main file first.
    pub files: Vec<Lines>,
    /// Directories an `includedir` line reads, with that line.
    pub dirs: Vec<(String, Evidence)>,
}

/// An include line: `(is a directory, path)`; relative paths are relative to the including
/// file's directory (sudo 1.9.1 and later).
fn include(line: &str, from: &str) -> Option<(bool, String)> {
    let l = line.trim();
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
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let p = rest.trim().trim_matches('"');
    let p = if p.starts_with('/') {
        p.to_owned()
    } else {
        join(parent(from), p)
    };
    Some((dir, p))
}

/// True for a name sudo reads from an include directory: no `.`, not ending in `~`.
pub fn read_from_dir(name: &str) -> bool {
    !name.contains('.') && !name.ends_with('~')
}

impl Sudoers {
    /// Reads `/etc/sudoers` and everything it includes (depth-limited against include loops);
    /// empty when the main file does not exist.
    pub fn read(g: &dyn Guest) -> Self {
        let mut s = Sudoers::default();
        s.collect(g, SUDOERS, 0);
        s
    }

    fn collect(&mut self, g: &dyn Guest, path: &str, depth: usize) {
        if depth > MAX_DEPTH || self.files.iter().any(|l| l.path == path) {
            return;
        }
        let Ok(Some(lines)) = read_lines(g, path) else {
            return;
        };
        let includes: Vec<(bool, String, Evidence)> = lines
            .lines
            .iter()
            .filter_map(|(n, l)| {
                let (dir, p) = include(l, path)?;
                Some((dir, p, Evidence::line(path, *n, l.trim())))
            })
            .collect();
        self.files.push(lines);
        for (dir, p, ev) in includes {
            if dir {
                self.dirs.push((p.clone(), ev));
                for name in list_dir(g, &p) {
                    if read_from_dir(&name) {
                        self.collect(g, &format!("{p}/{name}"), depth + 1);
                    }
                }
            } else {
                self.collect(g, &p, depth + 1);
            }
        }
    }

    /// The `includedir` line that makes sudo read `dir`, when one does.
    pub fn reads_dir(&self, dir: &str) -> Option<&Evidence> {
        self.dirs
            .iter()
            .find(|(d, _)| d.trim_end_matches('/') == dir.trim_end_matches('/'))
            .map(|(_, e)| e)
    }

    /// User specifications that apply to `user` (directly, through `%group` for one of
    /// `groups`, `ALL`, or a `User_Alias`), in file order.
    pub fn grants(&self, user: &str, groups: &[String]) -> Vec<Grant> {
        self.files
            .iter()
            .flat_map(|f| grants(f, user, groups))
            .collect()
    }

    /// `requiretty` for `user`: sudo applies global `Defaults` and the user's own
    /// (`Defaults:USER_LIST`) in the order it reads them, the last setting winning (sudoers(5):
    /// "global, host, user, and runas Defaults first, then command defaults"; `sudo -n` run as
    /// the user agrees, tests/baseline_sudo.rs). Host, runas and command `Defaults` (`@`, `>`,
    /// `!`) are ignored.
    pub fn requiretty(&self, user: &str, groups: &[String]) -> Tty {
        requiretty(&self.files, user, groups)
    }
}

/// `requiretty` for `user` over `files` (see [`Sudoers::requiretty`]).
pub fn requiretty(files: &[Lines], user: &str, groups: &[String]) -> Tty {
    // (value, line, a per-user line) of the setting that counts so far, and the last global
    // line that turned requiretty on.
    let mut last: Option<(bool, Evidence, bool)> = None;
    let mut global_on: Option<Evidence> = None;
    for f in files {
        for (n, l) in f.meaningful() {
            let Some((head, opts)) = l.split_once(char::is_whitespace) else {
                continue;
            };
            let own = if head == "Defaults" {
                false
            } else if let Some(users) = head.strip_prefix("Defaults:") {
                if !users
                    .split(',')
                    .any(|u| matches_user(u.trim(), user, groups))
                {
                    continue;
                }
                true
            } else {
                continue;
            };
            for o in opts.split(',').map(str::trim) {
                let value = match o {
                    "requiretty" => true,
                    "!requiretty" => false,
                    _ => continue,
                };
                let ev = Evidence::line(&f.path, n, l);
                if value && !own {
                    global_on = Some(ev.clone());
                }
                last = Some((value, ev, own));
            }
        }
    }
    let Some((on, ev, own)) = last else {
        return Tty::default();
    };
    // The deciding line, after the global line it overrides; nothing to show when requiretty
    // was never on.
    let evidence = match (on, own, global_on) {
        (true, false, _) => vec![ev],
        (_, true, Some(g)) => vec![g, ev],
        (true, true, None) => vec![ev],
        _ => Vec::new(),
    };
    Tty { on, evidence }
}

/// User specification lines of `f` that apply to `user` (directly, via `%group`, `ALL`, or a
/// `User_Alias`).
pub fn grants(f: &Lines, user: &str, groups: &[String]) -> Vec<Grant> {
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

/// The drop-in `/etc/sudoers.d/NAME` holding `content` (mode 0440, root's), and the
/// `#includedir /etc/sudoers.d` line appended to `/etc/sudoers` when its include tree does not
/// read that directory yet. `NAME` must be a name sudo reads (no `.`, no trailing `~`). No
/// operation when the drop-in already holds exactly `content` and is read.
pub fn dropin(g: &dyn Guest, name: &str, content: &str) -> Result<Vec<FileOp>, Error> {
    if name.is_empty() || name.contains('/') || !read_from_dir(name) {
        return Err(Error::Invalid {
            what: format!("sudoers drop-in name {name:?}"),
            why: "sudo skips names with a `.` or ending in `~` (and a name has no `/`)".into(),
        });
    }
    let Some((main, owner)) = existing(g, SUDOERS)? else {
        return Err(Error::Missing {
            path: SUDOERS.into(),
        });
    };
    let why = format!("sudoers drop-in {name}");
    let path = join(SUDOERS_D, name);
    let mut content = content.to_owned();
    if !content.ends_with('\n') {
        content.push('\n');
    }
    let mut ops = Vec::new();
    let current = existing(g, &path)?;
    if current.as_ref().map(|(b, _)| b.as_slice()) != Some(content.as_bytes()) {
        ops.extend(mkdirs(g, SUDOERS_D, &why));
        ops.push(FileOp::write(
            path,
            content.into_bytes(),
            (0o440, 0, 0),
            &why,
        ));
    }
    if Sudoers::read(g).reads_dir(SUDOERS_D).is_none() {
        let mut f = TextFile::parse(&main);
        f.append(&format!("#includedir {SUDOERS_D}"));
        ops.push(FileOp::write(
            SUDOERS,
            f.to_bytes(),
            owner,
            format!("make sudo read {SUDOERS_D}"),
        ));
    }
    Ok(ops)
}

/// The drop-in that lets `user` run any command as root without a password, and exempts it
/// from `requiretty`.
pub fn grant_all(g: &dyn Guest, user: &str) -> Result<Vec<FileOp>, Error> {
    if !crate::accounts::valid_name(user) {
        return Err(Error::Invalid {
            what: format!("user {user:?}"),
            why: "not an account name".into(),
        });
    }
    let name = user.replace('.', "_");
    dropin(
        g,
        &name,
        &format!("{user} ALL=(ALL) NOPASSWD: ALL\nDefaults:{user} !requiretty\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Lines {
        Lines::new("/etc/sudoers", text)
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
            // The last setting wins, global or the user's own, as sudo reads them in order.
            (
                "Defaults:cliqruser !requiretty\nDefaults    requiretty\n",
                true,
                vec![2],
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

    #[test]
    fn include_lines() {
        assert_eq!(
            include("#includedir /etc/sudoers.d", "/etc/sudoers"),
            Some((true, "/etc/sudoers.d".into()))
        );
        assert_eq!(
            include("@include sudoers.local", "/etc/sudoers"),
            Some((false, "/etc/sudoers.local".into()))
        );
        assert_eq!(include("#include_x /y", "/etc/sudoers"), None);
        assert_eq!(include("# includedir /y", "/etc/sudoers"), None);
        assert!(read_from_dir("cliqruser") && !read_from_dir("a.conf") && !read_from_dir("x~"));
    }
}
