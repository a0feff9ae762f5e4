//! The shell layer on its own: SCAP Security Guide's scanner and verdict, umask values as the
//! shell reads them, and hostile startup files that must stay bounded.

use imgprep_testkit::MemGuest;

use super::session::{MAX_EVIDENCE, login_umask};
use super::ssg::{Keyword, SsgResult, ssg_file_result, umask_lines};
use super::value::{Clause, Spec, apply_symbolic, parse_spec, parse_value, usergroups};

#[test]
fn ssg_scanner_reads_what_the_oval_pattern_reads() {
    for (text, key, want) in [
        ("umask 022\n", Keyword::Shell, vec![(1, 1, "022")]),
        ("  \tumask\t027 # c\n", Keyword::Shell, vec![(1, 1, "027")]),
        ("#umask 077\n", Keyword::Shell, vec![]),
        ("UMASK 077\n", Keyword::Shell, vec![]),
        ("umask\n077\n", Keyword::Shell, vec![(1, 2, "077")]),
        ("x\numask 0#22\n", Keyword::Shell, vec![(2, 2, "0")]),
        (
            "UMASK\t\t077\nUMASK 022\n",
            Keyword::LoginDefs,
            vec![(1, 1, "077"), (2, 2, "022")],
        ),
        ("umask 022;\n", Keyword::Shell, vec![(1, 1, "022;")]),
        ("umask\u{a0}022\n", Keyword::Shell, vec![]),
    ] {
        let got: Vec<(usize, usize, String)> = umask_lines(text.as_bytes(), key)
            .into_iter()
            .map(|m| (m.line, m.value_line, m.value))
            .collect();
        let want: Vec<(usize, usize, String)> = want
            .into_iter()
            .map(|(a, b, c)| (a, b, c.to_owned()))
            .collect();
        assert_eq!(got, want, "{text:?}");
    }
}

#[test]
fn ssg_results_follow_the_oval_arithmetic() {
    use SsgResult::*;
    for (text, req, want) in [
        (Some("umask 027\n"), "027", Pass),
        (Some("umask 077\n"), "027", Pass),
        (Some("umask 022\n"), "027", Fail),
        (Some("umask 027\numask 022\n"), "027", Fail),
        (Some("umask 0022\n"), "022", Fail),
        (Some("umask 22\n"), "022", Unknown),
        (Some("umask 002\numask 22\n"), "022", Unknown),
        (Some("umask u=rwx,g=rx,o=rx\n"), "022", Fail),
        (Some("umask u=rwx,g=rx,o=rx\n"), "000", Pass),
        (Some("umask 082\n"), "022", Fail),
        (Some("umask\n077\n"), "077", Pass),
        (Some("umask\numask 022\n"), "022", Fail),
        (Some("umask \n"), "022", Unknown),
        (Some("# umask 077\n"), "022", Fail),
        (Some(""), "022", Fail),
        (None, "022", Fail),
    ] {
        assert_eq!(
            ssg_file_result(text.map(str::as_bytes), Keyword::Shell, req),
            want,
            "{text:?} against {req}"
        );
    }
}

#[test]
fn umask_values_as_the_shell_reads_them() {
    let w = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    for (args, want) in [
        ("022", Some(0o022)),
        ("0022", Some(0o022)),
        ("7", Some(0o007)),
        ("-S 027", Some(0o027)),
        ("u=rwx,g=rx,o=rx", Some(0o022)),
        ("u=rwx,g=,o=", Some(0o077)),
        ("a=rx,u+w", Some(0o022)),
        ("\"077\"", Some(0o077)),
        ("1000", None),
        ("089", None),
        ("$MASK", None),
        ("u=rwz", None),
    ] {
        let got = match parse_spec(&w(args)) {
            Spec::Octal(m) => Some(m),
            Spec::Symbolic(c) => Some(apply_symbolic(0o777, &c)),
            _ => None,
        };
        assert_eq!(got, want, "umask {args}");
    }
    assert_eq!(parse_spec(&w("-S")), Spec::Print);
    assert_eq!(apply_symbolic(0o077, &symbolic("g+rx")), 0o027);
    assert_eq!(apply_symbolic(0o022, &symbolic("o-r")), 0o026);
    assert_eq!(usergroups(0o022), 0o002);
    assert_eq!(usergroups(0o077), 0o007);
}

fn symbolic(s: &str) -> Vec<Clause> {
    match parse_value(s) {
        Spec::Symbolic(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_text_terminates() {
    // Each stays bounded: nesting, events per file and per walk, condition sizes, expansion
    // length, source depth and PAM includes are capped.
    let nasty = [
        "if if if if\nthen then\n".repeat(200),
        "$(((((((((".repeat(300),
        "`".repeat(1001),
        "case x in\n".repeat(500),
        "{ ".repeat(5000),
        ". /etc/profile\n".into(),
        "<<".repeat(400),
        "\"unterminated\numask 077\n".into(),
        "umask 022\n".repeat(50_000),
        format!(
            "if {}; then\n{}fi\n",
            "[ a ] && ".repeat(5000),
            "umask 077\n".repeat(20_000)
        ),
        format!("if {} [ a ]; then umask 077; fi\n", "! ".repeat(100_000)),
        format!("umask {}\n", "${x-".repeat(50_000)),
        format!("{}umask 077\n", "a && ".repeat(50_000)),
        format!(
            "if a; then :\n{}fi\nx\n",
            "elif b; then umask 077\n".repeat(5_000)
        ),
        ". /etc/profile.d/a.sh\n".repeat(20_000),
        "for i in /etc/profile.d/*.sh; do . $i; done\n".repeat(2_000),
        "umask\n".repeat(20_000),
    ];
    for n in nasty {
        let g = MemGuest::new()
            .file("/etc/profile", &n)
            .file("/etc/profile.d/a.sh", ". /etc/profile\numask 027\n")
            .file("/etc/profile.d/b.sh", "umask g-w\n".repeat(1000))
            .file("/etc/pam.d/sshd", "@include sshd\n".repeat(1000))
            .file("/etc/login.defs", "UMASK 077\n".repeat(2_000));
        let u = login_umask(&g, None);
        assert!(u.evidence.len() <= MAX_EVIDENCE + 1, "{}", u.evidence.len());
    }
}

#[test]
fn a_branch_is_decided_when_the_shell_reaches_it() {
    // RHEL's /etc/profile under dash: UID is unset until the branch assigns it, and the
    // assignment of EUID inside the branch does not stop the branch.
    let profile = "if [ -x /usr/bin/id ]; then\n    if [ -z \"$EUID\" ]; then\n        EUID=`/usr/bin/id -u`\n        UID=`/usr/bin/id -ru`\n    fi\nfi\nif [ $UID -gt 199 ]; then\n    umask 002\nelse\n    umask 022\nfi\n";
    let g = MemGuest::new()
        .exec("/usr/bin/id", "x")
        .file(
            "/etc/passwd",
            "root:x:0:0::/root:/bin/bash\nd:x:1101:1101::/home/d:/bin/dash\n",
        )
        .file("/etc/group", "d:x:1101:\n")
        .file("/etc/profile", profile);
    let u = login_umask(&g, Some("d"));
    assert_eq!(u.describe(&u.user[0].state), "002 (set by /etc/profile:8)");
    assert_eq!(u.describe(&u.root[0].state), "022 (set by /etc/profile:10)");
    // Without /usr/bin/id, dash leaves UID empty and test fails on the number.
    let u = login_umask(&g.remove("/usr/bin/id"), Some("d"));
    assert_eq!(u.describe(&u.user[0].state), "022 (set by /etc/profile:10)");
}
