//! `probe: user-sudo`: the agent's account, when it exists, may run commands as root through
//! sudo, without a password and without a tty.

use imgprep_sysconf::accounts::Accounts;
use imgprep_sysconf::sudoers::Sudoers;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::probe::{Probe, Template};
use crate::verdict::{Evidence, Outcome, Status};

/// `probe: user-sudo`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserSudo {
    /// The account.
    pub user: Template,
}

impl Probe for UserSudo {
    fn templates(&self) -> Vec<&Template> {
        vec![&self.user]
    }

    fn run(&self, cx: &Context<'_>) -> Outcome {
        if cx.is_windows() {
            return Outcome::new(Status::Skip, "sudo rights are a Linux matter");
        }
        let user = self.user.expand(cx);
        let accounts = match Accounts::read(cx.guest) {
            Ok(a) if a.has_passwd => a,
            Ok(_) => return Outcome::new(Status::Error, "/etc/passwd does not exist"),
            Err(e) => return Outcome::new(Status::Error, format!("/etc/passwd: {e}")),
        };
        let Some(pw) = accounts.user(&user) else {
            return Outcome::new(Status::Skip, format!("there is no {user} account"));
        };
        let pw_line = pw.line;
        let groups = accounts.groups_of(&user, pw.gid);
        let sudoers = Sudoers::read(cx.guest);
        let grants = sudoers.grants(&user, &groups);
        let tty = sudoers.requiretty(&user, &groups);
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
