//! `imgprep check --profile cloudcenter-worker --format json` on the umask fixtures
//! (images-test/rules-linux.sh): the `umask.login` result's status, message and evidence.

mod common;

use serde_json::Value;

/// One expected evidence line: path, line, a fragment of its text.
type Ev = (&'static str, u64, &'static str);

/// Runs the check on fixture image `image` and compares the `umask.login` result.
fn check(image: &str, status: &str, message: &[&str], evidence: &[Ev]) {
    let path = common::fixture("rules-linux").join(format!("{image}.qcow2"));
    // Other rules of the profile (the agent, Python, …) fail on these bare images: exit 1.
    let args: Vec<std::ffi::OsString> = vec![
        "check".into(),
        path.into(),
        "--profile".into(),
        "cloudcenter-worker".into(),
        "--format".into(),
        "json".into(),
    ];
    let out = common::imgprep_ok(args, 1);
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    let result = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["rule"] == "umask.login")
        .unwrap_or_else(|| panic!("{image}: no umask.login result in\n{out}"));
    let shown = serde_json::to_string_pretty(result).expect("JSON");
    assert_eq!(result["status"], status, "{image}:\n{shown}");
    let msg = result["message"].as_str().expect("message");
    for m in message {
        assert!(
            msg.contains(m),
            "{image}: {m:?} not in the message:\n{shown}"
        );
    }
    let ev = result["evidence"].as_array().expect("evidence");
    for (p, line, text) in evidence {
        assert!(
            ev.iter().any(|e| e["path"] == *p
                && e["line"].as_u64() == Some(*line)
                && e["text"].as_str().unwrap_or("").contains(text)),
            "{image}: no evidence {p}:{line} containing {text:?}:\n{shown}"
        );
    }
}

#[test]
fn debian_with_umask_022_passes() {
    check(
        "umask-022",
        "pass",
        &[
            "root-run installs (root logins, su -, sudo -i) get umask 022 (set by /etc/login.defs:2)",
            "logins of cliqruser get umask 002 (set by /etc/login.defs:3)",
        ],
        &[
            (
                "/etc/login.defs",
                2,
                "UMASK\t\t022 — initial umask of login sessions",
            ),
            (
                "/etc/login.defs",
                3,
                "USERGROUPS_ENAB yes — users whose UID equals their GID",
            ),
            ("/etc/login.defs", 3, "never root: applies to cliqruser"),
        ],
    );
}

#[test]
fn login_defs_077_fails() {
    check(
        "umask-login-defs-077",
        "fail",
        &[
            "root-run installs (root logins, su -, sudo -i) get umask 077 (set by /etc/login.defs:2)",
            "stricter than the 022 the agent installer needs",
            "CIS and DISA STIG hardening require 027 or stricter",
            "set `umask 022` in the install script or for the agent's account",
        ],
        &[("/etc/login.defs", 2, "UMASK\t\t077")],
    );
}

#[test]
fn profile_d_027_fails_after_the_rhel_conditional() {
    check(
        "umask-profile-d-027",
        "fail",
        &[
            "root-run installs (root logins, su -, sudo -i) get umask 027 (set by /etc/profile.d/zz-hardening.sh:2)",
            "; logins of cliqruser get umask 027 (set by /etc/profile.d/zz-hardening.sh:2), \
             stricter than the 022",
        ],
        &[
            (
                "/etc/profile.d/zz-hardening.sh",
                2,
                "umask 027 — sets 027: applies to root; applies to cliqruser",
            ),
            (
                "/etc/profile",
                38,
                "umask 002 — sets 002 under `if [ $UID -gt 199 ]",
            ),
            ("/etc/login.defs", 7, "UMASK           077"),
        ],
    );
}

#[test]
fn rhel_conditional_passes_for_root_and_gives_users_002() {
    check(
        "umask-rhel-conditional",
        "pass",
        &[
            "root-run installs (root logins, su -, sudo -i) get umask 022 (set by /etc/profile:40)",
            "logins of cliqruser get umask 002 (set by /etc/profile:38)",
        ],
        &[
            ("/etc/profile", 38, "not for root; applies to cliqruser"),
            ("/etc/profile", 40, "applies to root; not for cliqruser"),
            ("/etc/bashrc", 16, "if ! shopt -q login_shell"),
            ("/etc/bashrc", 18, "not for root; not for cliqruser"),
            ("/etc/csh.cshrc", 3, "read by csh/tcsh login shells only"),
        ],
    );
}

#[test]
fn pam_umask_077_fails_for_sessions_through_pam() {
    check(
        "umask-pam-077",
        "fail",
        &[
            "077 (set by /etc/pam.d/common-session:2) via console login, ssh",
            "022 (set by /etc/login.defs:2) via su -, sudo -i",
        ],
        &[(
            "/etc/pam.d/common-session",
            2,
            "pam_umask sets the session's umask to 077",
        )],
    );
}

#[test]
fn a_umask_from_a_variable_the_file_sets_is_read() {
    // SITE_UMASK=027 then `umask $SITE_UMASK`: what bash and dash get (tests/baseline_shells).
    check(
        "umask-variable",
        "fail",
        &["get umask 027 (set by /etc/profile.d/mask.sh:2)"],
        &[("/etc/profile.d/mask.sh", 2, "umask $SITE_UMASK — sets 027")],
    );
}
