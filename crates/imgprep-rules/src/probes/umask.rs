//! `probe: umask`: the umask root-run installs and logins end up with (resolved by
//! `imgprep_sysconf::shell::login_umask` from login.defs, PAM and the shell startup files),
//! against the one the agent installer needs.

use imgprep_sysconf::shell::{
    LoginUmask, Session, State, Val, format_octal, login_umask, octal_umask,
};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::probe::{Probe, Template};
use crate::verdict::{Outcome, Status};

/// `probe: umask`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Umask {
    /// The umask installs need, in octal (`"022"`).
    pub expect: String,
    /// The account whose logins are checked as the regular user, when it exists; otherwise a
    /// regular user as useradd would create one.
    #[serde(default)]
    pub user: Option<Template>,
}

/// How a session's umask compares with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Pass,
    Looser,
    MaybeStricter,
    Stricter,
    Bad,
}

impl Probe for Umask {
    fn validate(&self) -> Result<(), String> {
        octal_umask(&self.expect)
            .map(|_| ())
            .ok_or_else(|| format!("umask: expect {:?} is not an octal umask", self.expect))
    }

    fn templates(&self) -> Vec<&Template> {
        self.user.iter().collect()
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "the umask is a Unix matter");
        }
        let user = self.user.as_ref().map(|u| u.expand(cx));
        let Some(expect) = octal_umask(&self.expect) else {
            return Outcome::new(
                Status::Error,
                format!("expect {:?} is not an octal umask", self.expect),
            );
        };
        let u = login_umask(cx.guest, user.as_deref());
        let evidence = u.evidence.clone();
        // The agent's own account, when it exists: a umask scoped to it (the hardened system
        // default kept) is the fix the remediation asks for.
        let account = user.filter(|name| {
            imgprep_sysconf::accounts::Accounts::read(cx.guest)
                .is_ok_and(|a| a.user(name).is_some())
        });
        verdict(expect, &u, account.as_deref()).with(evidence)
    }
}

fn level(state: &State, expect: u16, root: bool) -> Level {
    let masks: Vec<u16> = state
        .keys()
        .filter_map(|v| match v {
            Val::Mask(m) => Some(*m),
            Val::Bad(_) => None,
        })
        .collect();
    if masks.len() < state.len() {
        return Level::Bad;
    }
    let stricter = masks.iter().filter(|m| **m & !expect != 0).count();
    let looser = masks
        .iter()
        .filter(|m| **m != expect && **m & !expect == 0)
        .count();
    if stricter > 0 && stricter == masks.len() {
        Level::Stricter
    } else if stricter > 0 {
        Level::MaybeStricter
    } else if looser > 0 && root {
        Level::Looser
    } else {
        Level::Pass
    }
}

/// Sessions grouped by identical outcome: "`console login, ssh`: STATE".
fn grouped(sessions: &[Session]) -> Vec<(Vec<&'static str>, &State)> {
    let mut out: Vec<(Vec<&'static str>, &State)> = Vec::new();
    for s in sessions {
        match out.iter_mut().find(|(_, st)| **st == s.state) {
            Some((names, _)) => names.push(s.path),
            None => out.push((vec![s.path], &s.state)),
        }
    }
    out
}

const HARDENING: &str = "CIS and DISA STIG hardening require 027 or stricter, so rather than \
     weakening the system-wide default, set `umask {e}` in the install script or for the agent's \
     account";

fn verdict(expect: u16, u: &LoginUmask, account: Option<&str>) -> Outcome {
    let (root, user) = (&u.root[..], &u.user[..]);
    let e = format_octal(expect);
    let hardening = HARDENING.replace("{e}", &e);
    let lv = |ss: &[Session], is_root: bool| {
        ss.iter()
            .map(|s| level(&s.state, expect, is_root))
            .max()
            .unwrap_or(Level::Pass)
    };
    let (rl, ul) = (lv(root, true), lv(user, false));
    let say = |ss: &[Session], who: &str| -> String {
        let groups = grouped(ss);
        match groups.as_slice() {
            [(_, st)] => format!("{who} get umask {}", u.describe(st)),
            many => format!(
                "{who} get umask {}",
                many.iter()
                    .map(|(names, st)| format!("{} via {}", u.describe(st), names.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    };
    let root_s = say(root, "root-run installs (root logins, su -, sudo -i)");
    let user_s = say(user, &format!("logins of {}", u.user_label));
    let worst = rl.max(ul);
    // The sessions at the worst level, root first.
    let who = [(rl, &root_s), (ul, &user_s)]
        .iter()
        .filter(|(l, _)| *l == worst)
        .map(|(_, s)| s.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    // Scoped: the system default stays hardened (stricter for root-run sessions) while the
    // agent's existing account gets exactly the umask it needs.
    if let Some(name) = account
        && matches!(rl, Level::Stricter | Level::MaybeStricter)
        && ul == Level::Pass
        && user
            .iter()
            .all(|s| s.state.keys().all(|v| *v == Val::Mask(expect)))
    {
        return Outcome::new(
            Status::Pass,
            format!(
                "{user_s}, as the agent needs, scoped to its account {name}; {root_s} (the \
                 hardened system default is kept)"
            ),
        );
    }
    let (status, msg) = match worst {
        Level::Bad => (
            Status::Error,
            format!("the umask cannot be decided offline: {who}"),
        ),
        Level::Stricter => (
            Status::Fail,
            format!(
                "{who}, stricter than the {e} the agent installer needs: files and directories \
                 it creates would be unreadable by the agent's account. {hardening}"
            ),
        ),
        Level::MaybeStricter => (
            Status::Warn,
            format!("{who}: possibly stricter than the {e} the agent installer needs. {hardening}"),
        ),
        Level::Looser => (
            Status::Warn,
            format!(
                "{who}, looser than the {e} the agent installer expects: files it creates are \
                 writable by more than their owner"
            ),
        ),
        Level::Pass => {
            let looser_users = user.iter().any(|s| {
                s.state
                    .keys()
                    .any(|v| matches!(v, Val::Mask(m) if *m != expect))
            });
            (
                Status::Pass,
                if looser_users {
                    format!(
                        "{root_s}, as the agent installer needs; {user_s} (looser, which does \
                         not stop the agent's account reading files)"
                    )
                } else {
                    format!("{root_s}, as the agent installer needs; {user_s}")
                },
            )
        }
    };
    Outcome::new(status, msg)
}
