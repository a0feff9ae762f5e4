//! The umask of login sessions: login.defs `UMASK` and `USERGROUPS_ENAB`, the pam_umask lines of
//! each session's PAM stack, then the startup files of the subject's login shell.

use std::collections::BTreeSet;

use imgprep_guest::Guest;

use super::cond::{Subject, Tri};
use super::structure::{Dialect, Event};
use super::value::{Spec, apply_symbolic, octal, parse_octal, parse_spec, usergroups};
use super::walk::{Files, MAX_GLOB, MAX_WALK_EVENTS, Note, Notes, Origin, State, Val, Walk, Who};
use crate::Evidence;
use crate::accounts::Accounts;
use crate::logindefs::LoginDefs;
use crate::pam::{self, ModuleLine};
use crate::path::glob;

/// Evidence lines kept at most.
pub const MAX_EVIDENCE: usize = 200;

/// Files always reported, read by a shell or not.
const LISTED: [(&str, Dialect); 8] = [
    ("/etc/profile", Dialect::Sh),
    ("/etc/bashrc", Dialect::Sh),
    ("/etc/bash.bashrc", Dialect::Sh),
    ("/etc/csh.cshrc", Dialect::Csh),
    ("/etc/csh.login", Dialect::Csh),
    ("/root/.bash_profile", Dialect::Sh),
    ("/root/.bashrc", Dialect::Sh),
    ("/root/.profile", Dialect::Sh),
];

/// How a session is opened: the PAM service it goes through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path {
    pub(crate) name: &'static str,
    pub(crate) services: &'static [&'static str],
}

pub(crate) const ROOT_PATHS: [Path; 4] = [
    Path {
        name: "console login",
        services: &["login"],
    },
    Path {
        name: "ssh",
        services: &["sshd"],
    },
    Path {
        name: "su -",
        services: &["su-l", "su"],
    },
    Path {
        name: "sudo -i",
        services: &["sudo-i", "sudo"],
    },
];

pub(crate) const USER_PATHS: [Path; 2] = [
    Path {
        name: "console login",
        services: &["login"],
    },
    Path {
        name: "ssh",
        services: &["sshd"],
    },
];

pub(crate) fn subjects(g: &dyn Guest, user: Option<&str>, upg: bool) -> (Subject, Subject) {
    let accounts = Accounts::read(g).unwrap_or_default();
    let passwd_entry = |name: &str| {
        accounts.user(name).map(|p| {
            (
                p.uid.unwrap_or(0),
                p.gid.unwrap_or(0),
                p.home.clone(),
                p.shell.clone(),
            )
        })
    };
    let group_name = |gid: u32| accounts.group_by_gid(gid).map(|x| x.name.clone());
    let (uid, gid, home, shell) =
        passwd_entry("root").unwrap_or((0, 0, "/root".into(), "/bin/bash".into()));
    let root = Subject {
        label: "root".into(),
        uid,
        gid,
        user: "root".into(),
        group: group_name(gid).or(Some("root".into())),
        home: if home.is_empty() {
            "/root".into()
        } else {
            home
        },
        shell,
        assumed: None,
        bsd_csh: false,
    };
    let real = user.and_then(|u| passwd_entry(u).map(|e| (u, e)));
    let regular = match real {
        Some((name, (uid, gid, home, shell))) => Subject {
            label: name.to_owned(),
            uid,
            gid,
            user: name.to_owned(),
            group: group_name(gid),
            home,
            shell,
            assumed: None,
            bsd_csh: false,
        },
        None => Subject {
            label: "regular users".into(),
            uid: 1000,
            gid: if upg { 1000 } else { 100 },
            user: "user".into(),
            group: Some(if upg { "user" } else { "users" }.into()),
            home: "/etc/skel".into(),
            shell: "/bin/bash".into(),
            assumed: Some(format!(
                "{}a regular user as useradd creates one: UID 1000, {}, home from /etc/skel, \
                 /bin/bash",
                user.map(|u| format!("{u} does not exist; "))
                    .unwrap_or_default(),
                if upg {
                    "its own group (USERGROUPS_ENAB yes)"
                } else {
                    "group users"
                }
            )),
            bsd_csh: false,
        },
    };
    let bsd = |s: Subject| Subject {
        bsd_csh: crate::path::basename(&crate::path::follow_links(g, &s.shell)) == "bsd-csh",
        ..s
    };
    (bsd(root), bsd(regular))
}

/// The files a login shell of `s` reads first, in order (each may source others).
pub(crate) fn startup(g: &dyn Guest, s: &Subject) -> Vec<(String, Dialect)> {
    let home = s.home.trim_end_matches('/');
    let first = |names: &[&str]| -> Option<String> {
        names
            .iter()
            .map(|n| format!("{home}/{n}"))
            .find(|p| g.is_file(p))
    };
    match s.dialect() {
        None => {
            let mut v = vec![("/etc/profile".to_owned(), Dialect::Sh)];
            v.extend(
                first(&[".bash_profile", ".bash_login", ".profile"]).map(|p| (p, Dialect::Sh)),
            );
            v
        }
        Some(Dialect::Sh) => vec![
            ("/etc/profile".into(), Dialect::Sh),
            (format!("{home}/.profile"), Dialect::Sh),
        ],
        Some(Dialect::Csh) => {
            let mut v = vec![
                ("/etc/csh.cshrc".to_owned(), Dialect::Csh),
                ("/etc/csh.login".to_owned(), Dialect::Csh),
            ];
            v.extend(first(&[".tcshrc", ".cshrc"]).map(|p| (p, Dialect::Csh)));
            v.push((format!("{home}/.login"), Dialect::Csh));
            v
        }
    }
}

/// The state a session starts its shell with: login.defs `UMASK`, `USERGROUPS_ENAB`, then the
/// pam_umask lines of its PAM stack.
pub(crate) fn initial(ld: &UmaskDefs, pam: &[ModuleLine], s: &Subject) -> State {
    let mut state = State::new();
    let first = ld.umask.first();
    let last = ld.umask.last();
    match last {
        Some((line, _, Some(m))) => {
            state.insert(
                Val::Mask(*m),
                Origin {
                    path: "/etc/login.defs".into(),
                    line: Some(*line),
                },
            );
        }
        Some((_, _, None)) | None => {
            state.insert(Val::Mask(0o022), default_origin());
        }
    }
    if let Some((line, _, true)) = &ld.usergroups
        && s.private_group()
    {
        state = state
            .into_iter()
            .map(|(v, o)| match v {
                Val::Mask(m) => (
                    Val::Mask(usergroups(m)),
                    Origin {
                        path: "/etc/login.defs".into(),
                        line: Some(*line),
                    },
                ),
                other => (other, o),
            })
            .collect();
    }
    for p in pam {
        let value = match &p.arg("umask") {
            Some(v) => parse_octal(v),
            None => first.and_then(|(_, _, m)| *m),
        };
        if let Some(m) = value {
            state = [(
                Val::Mask(m),
                Origin {
                    path: p.path.clone(),
                    line: Some(p.line),
                },
            )]
            .into();
        }
        if p.flag("usergroups") && s.uid != 0 && s.group.as_deref() == Some(&s.user) {
            state = state
                .into_iter()
                .map(|(v, o)| match v {
                    Val::Mask(m) => (Val::Mask(usergroups(m)), o),
                    other => (other, o),
                })
                .collect();
        }
    }
    state
}

pub(crate) fn default_origin() -> Origin {
    Origin {
        path: "the default of init and login (no UMASK in /etc/login.defs)".into(),
        line: None,
    }
}

pub(crate) fn describe(state: &State, notes: &Notes) -> String {
    let parts: Vec<String> = state
        .iter()
        .map(|(v, o)| match v {
            Val::Mask(m) => format!("{} (set by {})", octal(*m), o.shown()),
            Val::Bad(i) => format!(
                "unknown ({})",
                notes.list.get(*i).map_or(o.shown(), |n| match &n.spec {
                    Spec::Bad(why) => format!("{}: {why}", o.shown()),
                    _ => o.shown(),
                })
            ),
        })
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        many => format!(
            "{} depending on conditions imgprep cannot decide",
            many.join(" or ")
        ),
    }
}

/// What `login.defs` says about the umask: its `UMASK` lines (as SCAP Security Guide's pattern
/// finds them) and the last `USERGROUPS_ENAB`.
#[derive(Debug, Default)]
pub(crate) struct UmaskDefs {
    pub(crate) umask: Vec<(usize, String, Option<u16>)>,
    pub(crate) usergroups: Option<(usize, String, bool)>,
    pub(crate) exists: bool,
}

/// The umask of one way into the system (console login, ssh, `su -`, `sudo -i`).
#[derive(Debug)]
pub struct Session {
    /// How the session is opened.
    pub path: &'static str,
    /// The umask the login shell starts with (login.defs, `USERGROUPS_ENAB`, pam_umask).
    pub initial: State,
    /// The values the umask can end with, and where each was set.
    pub state: State,
}

/// The umask root-run installs and logins end up with, resolved from login.defs, PAM and the
/// shell startup files, with the evidence for every line that matters.
#[derive(Debug)]
pub struct LoginUmask {
    /// Root's sessions: console login, ssh, `su -`, `sudo -i`.
    pub root: Vec<Session>,
    /// The regular user's sessions: console login, ssh.
    pub user: Vec<Session>,
    /// How messages name the regular user (`cliqruser`, `regular users`).
    pub user_label: String,
    /// login.defs and PAM lines, every umask line with what it does for whom, lines SCAP
    /// Security Guide reads that the shell does not, files that could not be read.
    pub evidence: Vec<Evidence>,
    notes: Notes,
}

impl LoginUmask {
    /// A state for people: `022 (set by /etc/profile:28)`, or the alternatives.
    pub fn describe(&self, state: &State) -> String {
        describe(state, &self.notes)
    }
}

/// Resolves the umask of root's and `user`'s login sessions (a regular user as useradd creates
/// one when `user` is `None` or does not exist).
pub fn login_umask(g: &dyn Guest, user: Option<&str>) -> LoginUmask {
    let mut files = Files::default();
    let mut notes = Notes::default();
    let mut read = BTreeSet::new();
    let ld = match LoginDefs::read(g) {
        Ok(Some(defs)) => UmaskDefs {
            umask: defs.umask_lines(),
            usergroups: defs.usergroups(),
            exists: true,
        },
        Ok(None) => UmaskDefs::default(),
        Err(e) => {
            files
                .errors
                .push(Evidence::file("/etc/login.defs", format!("not read: {e}")));
            UmaskDefs::default()
        }
    };
    let upg = ld.usergroups.as_ref().is_some_and(|u| u.2);
    let (root, regular) = subjects(g, user, upg);
    let mut pam_ev: Vec<Evidence> = Vec::new();
    let mut pam_seen: BTreeSet<(String, usize)> = BTreeSet::new();
    let mut ld_ev: Vec<Evidence> = Vec::new();

    let mut run = |s: &Subject, who: Who, paths: &[Path], pam_ev: &mut Vec<Evidence>| {
        let mut sessions = Vec::new();
        for p in paths {
            let service = p
                .services
                .iter()
                .find(|sv| g.is_file(&format!("/etc/pam.d/{sv}")))
                .copied();
            let pam = service
                .map(|sv| pam::module_lines(g, sv, "session", "pam_umask.so"))
                .unwrap_or_default();
            for u in &pam {
                if pam_seen.insert((u.path.clone(), u.line)) {
                    pam_ev.push(Evidence::line(
                        &u.path,
                        u.line,
                        format!(
                            "{} — pam_umask sets the session's umask {}{}",
                            u.text,
                            u.arg("umask")
                                .map_or("from /etc/login.defs UMASK".to_owned(), |m| format!(
                                    "to {m}"
                                )),
                            if u.flag("usergroups") {
                                "; usergroups: users whose name is their primary group's get \
                                 the owner's bits as group bits"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            }
            let state = initial(&ld, &pam, s);
            let start = state.clone();
            let mut w = Walk {
                g,
                s,
                who,
                files: &mut files,
                notes: &mut notes,
                read: &mut read,
                state,
                stack: Vec::new(),
                budget: MAX_WALK_EVENTS,
                vars: Default::default(),
                memo: Vec::new(),
                aborted: false,
            };
            for (f, d) in startup(g, s) {
                w.file(&f, d, Some(true));
            }
            sessions.push(Session {
                path: p.name,
                initial: start,
                state: w.state,
            });
        }
        sessions
    };
    let root_sessions = run(&root, Who::Root, &ROOT_PATHS, &mut pam_ev);
    let user_sessions = run(&regular, Who::User, &USER_PATHS, &mut pam_ev);

    // Evidence: login.defs first, then PAM, then every umask line in the order first read.
    let n_umask = ld.umask.len();
    for (i, (line, text, value)) in ld.umask.iter().enumerate() {
        let role = match value {
            None => "not an octal umask; login and pam_umask ignore it",
            Some(_) if i + 1 < n_umask => {
                "overridden by a later UMASK line (login and useradd read the last one; \
                 pam_umask the first)"
            }
            Some(_) => {
                "initial umask of login sessions (login, su, pam_umask) and the mode useradd \
                 gives new home directories"
            }
        };
        ld_ev.push(Evidence::line(
            "/etc/login.defs",
            *line,
            format!("{text} — {role}"),
        ));
    }
    if ld.exists && ld.umask.is_empty() {
        ld_ev.push(Evidence::file(
            "/etc/login.defs",
            "no UMASK: login sessions start with 022",
        ));
    }
    if let Some((line, text, true)) = &ld.usergroups {
        let example = ld
            .umask
            .last()
            .and_then(|u| u.2)
            .map_or("022 -> 002".to_owned(), |m| {
                format!("{} -> {}", octal(m), octal(usergroups(m)))
            });
        ld_ev.push(Evidence::line(
            "/etc/login.defs",
            *line,
            format!(
                "{text} — users whose UID equals their GID and whose name is their primary \
                 group's get the owner's bits as group bits ({example}), as login and \
                 pam_umask apply it; never root: {} {}",
                if regular.private_group() {
                    "applies to"
                } else {
                    "does not apply to"
                },
                regular.label
            ),
        ));
    }

    // Files a shell of neither subject reads, and csh files.
    let mut extra_files: Vec<(String, Dialect)> =
        LISTED.iter().map(|(p, d)| ((*p).to_owned(), *d)).collect();
    extra_files.extend(
        glob(g, "/etc/profile.d/*.sh", MAX_GLOB)
            .into_iter()
            .map(|p| (p, Dialect::Sh)),
    );
    for (p, d) in extra_files {
        if read.contains(&p) {
            continue;
        }
        let Some(parsed) = files.get(g, &p, d) else {
            continue;
        };
        for ev in parsed.events.iter().take(MAX_EVIDENCE) {
            if let Event::Set { line, args, ctx } = ev {
                let spec = parse_spec(args);
                let text = parsed
                    .lines
                    .get(line.saturating_sub(1))
                    .map_or(String::new(), |l| l.trim().to_owned());
                let idx = notes.index(&p, *line, &text, &spec, ctx);
                if let Some(n) = notes.list.get_mut(idx) {
                    n.extra = Some(if d == Dialect::Csh {
                        format!(
                            "read by csh/tcsh login shells only; root's shell is {} and {}'s {}",
                            root.shell, regular.label, regular.shell
                        )
                    } else {
                        "not read by the login shells of root or regular users on this image".into()
                    });
                }
            }
        }
    }

    // SSG matches that are not commands a shell runs (here-documents, a bare `umask`).
    let mut odd: Vec<Evidence> = Vec::new();
    let mut odd_seen: BTreeSet<(&str, usize)> = BTreeSet::new();
    for ((path, _), parsed) in &files.parsed {
        let Some(parsed) = parsed else { continue };
        for m in &parsed.ssg {
            if odd.len() > MAX_EVIDENCE {
                break;
            }
            if parsed.set_lines.contains(&m.line) && m.value_line == m.line
                || parsed.truncated
                || !odd_seen.insert((path.as_str(), m.line))
            {
                continue;
            }
            let text = parsed
                .lines
                .get(m.line.saturating_sub(1))
                .map_or(String::new(), |l| l.trim().to_owned());
            let why = if parsed.heredoc.contains(&m.line) {
                "inside a here-document: text, not a command".to_owned()
            } else if m.value_line != m.line {
                format!(
                    "`umask` alone prints the mask; SCAP Security Guide's pattern reads line {} \
                     ({:?}) as its value, the shell does not",
                    m.value_line, m.value
                )
            } else {
                "not a command the shell runs here (inside a string?)".to_owned()
            };
            odd.push(Evidence::line(path, m.line, format!("{text} — {why}")));
        }
    }

    let mut evidence: Vec<Evidence> = ld_ev;
    evidence.extend(pam_ev);
    for n in &notes.list {
        evidence.push(Evidence::line(
            &n.path,
            n.line,
            note_text(n, &root, &regular),
        ));
    }
    evidence.extend(odd);
    evidence.extend(files.errors.iter().cloned());
    if let Some(a) = &regular.assumed {
        evidence.push(Evidence::file("/etc/passwd", a.clone()));
    }
    if evidence.len() > MAX_EVIDENCE {
        let more = evidence.len() - MAX_EVIDENCE;
        evidence.truncate(MAX_EVIDENCE);
        evidence.push(Evidence::file(
            "(more)",
            format!("{more} more lines not shown"),
        ));
    }

    LoginUmask {
        root: root_sessions,
        user: user_sessions,
        user_label: regular.label.clone(),
        evidence,
        notes,
    }
}

pub(crate) fn note_text(n: &Note, root: &Subject, user: &Subject) -> String {
    let what = match &n.spec {
        Spec::Octal(m) => format!("sets {}", octal(*m)),
        Spec::Symbolic(c) => format!(
            "sets {} from 022 (symbolic: applied to the current mask)",
            octal(apply_symbolic(0o022, c))
        ),
        Spec::Print => "prints the mask, sets nothing".into(),
        Spec::Bad(why) => format!("cannot be read: {why}"),
    };
    let cond = if n.cond.is_empty() {
        String::new()
    } else {
        format!(" under `{}`", n.cond.join("` and `"))
    };
    let applies = match (n.root, n.user) {
        (None, None) => n
            .extra
            .clone()
            .unwrap_or_else(|| "not read by the login shells checked".into()),
        (r, u) => {
            let who = |t: Option<Tri>, s: &Subject| match t {
                Some(Some(true)) => format!("applies to {}", s.label),
                Some(Some(false)) => format!("not for {}", s.label),
                Some(None) => format!("undecided for {}", s.label),
                None => format!("not read by {}'s login shell", s.label),
            };
            format!("{}; {}", who(r, root), who(u, user))
        }
    };
    format!("{} — {what}{cond}: {applies}", n.text)
}
