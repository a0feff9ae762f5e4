//! `probe: umask` on guests built in memory: RHEL's and Debian's startup files, login.defs
//! and PAM, conditions, csh, here-documents and functions, undecidable and bad values.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use imgprep_rules::{Outcome, Status};
use imgprep_testkit::MemGuest;
use imgprep_testkit::startup::{RHEL_BASHRC, RHEL_PROFILE, ROOT_BASH_PROFILE, ROOT_BASHRC};

fn rhel() -> MemGuest {
    MemGuest::new()
        .file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\ncliqruser:x:1000:1000::/home/cliqruser:/bin/bash\n",
        )
        .file("/etc/group", "root:x:0:\ncliqruser:x:1000:\n")
        .file(
            "/etc/login.defs",
            "UMASK           077\nUSERGROUPS_ENAB yes\n",
        )
        .file("/etc/profile", RHEL_PROFILE)
        .file("/etc/bashrc", RHEL_BASHRC)
        .file("/root/.bash_profile", ROOT_BASH_PROFILE)
        .file("/root/.bashrc", ROOT_BASHRC)
        .file("/etc/skel/.bash_profile", ROOT_BASH_PROFILE)
        .file("/etc/skel/.bashrc", ROOT_BASHRC)
        .file("/home/cliqruser/.bash_profile", ROOT_BASH_PROFILE)
        .file("/home/cliqruser/.bashrc", ROOT_BASHRC)
        .dir("/etc/profile.d")
}

/// Runs the resolver: status, message, and `path:line` of every evidence line.
fn resolve(g: &MemGuest, expect: &str, user: Option<&str>) -> Outcome {
    let yaml = match user {
        Some(u) => format!("probe: umask\nexpect: \"{expect}\"\nuser: {u}\n"),
        None => format!("probe: umask\nexpect: \"{expect}\"\n"),
    };
    common::run(&yaml, g, &common::linux("centos", 7, 9, "rpm"), &[])
}

fn check(g: MemGuest, user: Option<&str>, status: Status, fragments: &[&str], lines: &[&str]) {
    let o = resolve(&g, "022", user);
    let shown: Vec<String> = o
        .evidence
        .iter()
        .map(|e| format!("{}:{} {}", e.path, e.line.unwrap_or(0), e.text))
        .collect();
    assert_eq!(o.status, status, "{}\n{}", o.message, shown.join("\n"));
    for f in fragments {
        assert!(o.message.contains(f), "{f:?} not in {}", o.message);
    }
    for l in lines {
        assert!(
            shown.iter().any(|s| s.starts_with(&format!("{l} "))),
            "no evidence {l}:\n{}",
            shown.join("\n")
        );
    }
}

#[test]
fn rhel_defaults_give_root_022_and_private_group_users_002() {
    check(
        rhel(),
        Some("cliqruser"),
        Status::Pass,
        &[
            "root-run installs (root logins, su -, sudo -i) get umask 022 (set by /etc/profile:27)",
            "logins of cliqruser get umask 002 (set by /etc/profile:25)",
        ],
        &[
            "/etc/login.defs:1",
            "/etc/profile:25",
            "/etc/profile:27",
            "/etc/bashrc:8",
            "/etc/bashrc:10",
        ],
    );
}

#[test]
fn rhel_branches_are_reported_with_their_conditions() {
    let o = resolve(&rhel(), "022", Some("cliqruser"));
    let e = |line: u32, path: &str| {
        o.evidence
            .iter()
            .find(|e| e.path == path && e.line == Some(line))
            .map(|e| e.text.clone())
            .unwrap_or_default()
    };
    let (then, els) = (e(25, "/etc/profile"), e(27, "/etc/profile"));
    let cond = "if [ $UID -gt 199 ] && [ \"`/usr/bin/id -gn`\" = \"`/usr/bin/id -un`\" ]";
    assert!(then.contains(cond), "{then}");
    assert!(
        then.contains("not for root; applies to cliqruser"),
        "{then}"
    );
    assert!(els.contains(&format!("else of {cond}")), "{els}");
    assert!(els.contains("applies to root; not for cliqruser"), "{els}");
    assert!(e(8, "/etc/bashrc").contains("if ! shopt -q login_shell"));
    assert!(e(8, "/etc/bashrc").contains("not for root; not for cliqruser"));
}

#[test]
fn profile_d_is_read_in_c_locale_order_and_the_last_setting_wins() {
    check(
        rhel()
            .file("/etc/profile.d/zz.sh", "umask 077\n")
            .file("/etc/profile.d/Z.sh", "umask 027\n")
            .file("/etc/profile.d/.hidden.sh", "umask 000\n"),
        Some("cliqruser"),
        Status::Fail,
        &[
            "get umask 077 (set by /etc/profile.d/zz.sh:1)",
            "CIS and DISA STIG",
            "set `umask 022` in the install script",
        ],
        &["/etc/profile.d/zz.sh:1", "/etc/profile.d/Z.sh:1"],
    );
}

#[test]
fn login_defs_alone_decides_when_no_shell_file_sets_a_umask() {
    let g = MemGuest::new()
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        .file("/etc/login.defs", "UMASK\t\t077\nUSERGROUPS_ENAB yes\n");
    check(
        g,
        Some("cliqruser"),
        Status::Fail,
        &[
            "root-run installs (root logins, su -, sudo -i) get umask 077 (set by /etc/login.defs:1)",
            "stricter than the 022",
        ],
        &["/etc/login.defs:1", "/etc/passwd:0"],
    );
}

#[test]
fn pam_umask_arguments_override_login_defs_per_service() {
    let g = MemGuest::new()
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        .file("/etc/login.defs", "UMASK 022\n")
        .file("/etc/pam.d/sshd", "@include common-session\n")
        .file("/etc/pam.d/login", "session include system-auth\n")
        .file("/etc/pam.d/system-auth", "session optional pam_unix.so\n")
        .file(
            "/etc/pam.d/common-session",
            "session [default=1] pam_permit.so\nsession optional pam_umask.so umask=0027\n",
        );
    check(
        g,
        None,
        Status::Fail,
        &[
            "022 (set by /etc/login.defs:1) via console login, su -, sudo -i",
            "027 (set by /etc/pam.d/common-session:2) via ssh",
        ],
        &["/etc/pam.d/common-session:2"],
    );
}

#[test]
fn debian_reads_bash_bashrc_from_profile_and_root_dotfiles() {
    let profile = "if [ \"${PS1-}\" ]; then\n  if [ \"${BASH-}\" ] && [ \"$BASH\" != \"/bin/sh\" ]; then\n    if [ -f /etc/bash.bashrc ]; then\n      . /etc/bash.bashrc\n    fi\n  fi\nfi\nif [ -d /etc/profile.d ]; then\n  for i in /etc/profile.d/*.sh; do\n    if [ -r $i ]; then\n      . $i\n    fi\n  done\n  unset i\nfi\n";
    let g = MemGuest::new()
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        .file("/etc/login.defs", "UMASK 022\n")
        .file("/etc/profile", profile)
        .file("/etc/bash.bashrc", "[ -z \"$PS1\" ] && return\numask 027\n")
        .file(
            "/root/.profile",
            "if [ \"$BASH\" ]; then\n  if [ -f ~/.bashrc ]; then\n    . ~/.bashrc\n  fi\nfi\n",
        )
        .file("/root/.bashrc", "umask 022\n");
    check(
        g,
        None,
        Status::Fail,
        &["logins of regular users get umask 027 (set by /etc/bash.bashrc:2)"],
        &["/etc/bash.bashrc:2", "/root/.bashrc:1"],
    );
}

#[test]
fn undecidable_conditions_warn_and_bad_values_error() {
    let base = || {
        MemGuest::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/login.defs", "UMASK 022\n")
    };
    check(
        base().file(
            "/etc/profile",
            "if [ -f /run/hardened ] || grep -q x /etc/y; then\n  umask 077\nfi\n",
        ),
        None,
        Status::Warn,
        &["022 (set by /etc/login.defs:1) or 077 (set by /etc/profile:2)"],
        &["/etc/profile:2"],
    );
    check(
        base().file("/etc/profile", "umask $DEFAULT_MASK\n"),
        None,
        Status::Error,
        &["cannot be decided offline", "/etc/profile:1"],
        &["/etc/profile:1"],
    );
    check(
        base().file("/etc/profile", "umask 0999\numask 022\n"),
        None,
        Status::Pass,
        &[],
        &["/etc/profile:1"],
    );
    check(
        base().file("/etc/profile", "umask 002\n"),
        None,
        Status::Warn,
        &["looser than the 022"],
        &["/etc/profile:1"],
    );
}

#[test]
fn csh_files_apply_to_csh_users_only() {
    let cshrc = "if ($uid > 199 && \"`/usr/bin/id -gn`\" == \"`/usr/bin/id -un`\") then\n    umask 002\nelse\n    umask 077\nendif\n";
    let g = MemGuest::new()
        .file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/tcsh\n",
        )
        .file("/etc/group", "ops:x:1000:\n")
        .file("/etc/login.defs", "UMASK 022\n")
        .file("/etc/csh.cshrc", cshrc);
    check(
        g.clone(),
        None,
        Status::Pass,
        &["get umask 022"],
        &["/etc/csh.cshrc:2", "/etc/csh.cshrc:4"],
    );
    let o = resolve(&g, "022", Some("ops"));
    assert_eq!(o.status, Status::Pass, "{}", o.message);
    assert!(
        o.message
            .contains("logins of ops get umask 002 (set by /etc/csh.cshrc:2)"),
        "{}",
        o.message
    );
}

#[test]
fn heredocs_functions_and_bare_umask_are_not_settings() {
    let g = MemGuest::new()
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        .file("/etc/login.defs", "UMASK 022\n")
        .file(
            "/etc/profile",
            "cat > /tmp/x <<'EOF'\numask 077\nEOF\nharden() {\n  umask 077\n}\numask\n077\n",
        );
    check(
        g,
        None,
        Status::Warn,
        &["022 (set by /etc/login.defs:1) or 077 (set by /etc/profile:5)"],
        &["/etc/profile:2", "/etc/profile:5", "/etc/profile:7"],
    );
}
