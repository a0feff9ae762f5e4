//! sudoers against sudo itself: each sudoers tree (the cloudcenter fixture images', hand-made
//! ones, and the results of the drop-in edit) is written into a directory with this machine's
//! sudo and visudo, then `visudo -c` must accept it and `sudo -l -U USER` (run as root in a
//! chroot of it, on a pseudo-terminal, with a PAM stack that permits) must list what
//! `imgprep_sysconf::sudoers` reads: whether the account may run every command without a
//! password, whether it may run anything at all, and whether requiretty is on for it. Needs
//! root (chroot, mounts), as CI runs.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ChrootMounts, apply, materialize};
use imgprep_guest::{Image, Mountable};
use imgprep_sysconf::accounts::Accounts;
use imgprep_sysconf::sudoers::{self, Sudoers};
use imgprep_testkit::MemGuest;

/// What sudo lists for a user.
#[derive(Debug, PartialEq, Eq)]
struct Listed {
    /// Any command at all.
    allowed: bool,
    /// `NOPASSWD: ALL` among them.
    all_nopasswd: bool,
    /// The last requiretty setting among the Defaults that match the user.
    requiretty: bool,
}

/// What `sudo -l -U` lists (requiretty is found by running sudo, not from the listing, whose
/// order is the files' and not the one sudo applies).
fn parse(out: &str) -> Listed {
    let mut allowed = false;
    let mut all_nopasswd = false;
    for l in out.lines() {
        if l.contains("may run the following commands") {
            allowed = true;
            continue;
        }
        if allowed {
            let cmds = l.trim().split_once(')').map_or(l.trim(), |(_, c)| c.trim());
            if cmds.starts_with("NOPASSWD:") && cmds.trim_start_matches("NOPASSWD:").trim() == "ALL"
            {
                all_nopasswd = true;
            }
        }
    }
    Listed {
        allowed,
        all_nopasswd,
        requiretty: false,
    }
}

/// sudo, visudo, their plugins and a PAM stack that permits, in the tree `root`.
fn install_sudo(root: &Path) {
    let mut programs = vec![
        common::program("sudo"),
        common::program("visudo"),
        common::program("true"),
    ];
    for e in fs_err::read_dir("/usr/libexec/sudo").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "so") || p.to_string_lossy().contains(".so.") {
            programs.push(p);
        }
    }
    let pam_permit = PathBuf::from("/usr/lib/x86_64-linux-gnu/security/pam_permit.so");
    programs.push(pam_permit.clone());
    common::install_host_programs(root, &programs);
    for dir in [
        "lib/x86_64-linux-gnu/security",
        "usr/lib/x86_64-linux-gnu/security",
    ] {
        let d = root.join(dir);
        if d.symlink_metadata().is_err() {
            fs_err::create_dir_all(&d).unwrap();
        }
        let dst = d.join("pam_permit.so");
        if !dst.exists() {
            fs_err::copy(&pam_permit, dst).unwrap();
        }
    }
    fs_err::create_dir_all(root.join("etc/pam.d")).unwrap();
    let stack = "auth sufficient pam_permit.so\naccount sufficient pam_permit.so\nsession optional pam_permit.so\n";
    for s in ["sudo", "other"] {
        fs_err::write(root.join("etc/pam.d").join(s), stack).unwrap();
    }
    let host = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    fs_err::write(
        root.join("etc/hosts"),
        format!("127.0.0.1 localhost {}\n", host.trim()),
    )
    .unwrap();
}

fn compare(name: &str, g: &MemGuest, users: &[&str]) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    materialize(g, root, 100_000);
    install_sudo(root);
    let mut bad = Vec::new();
    // Syntax: every file parses (modes other than 0440 are visudo's complaint, not sudo's).
    let visudo = Command::new("chroot")
        .arg(root)
        .args(["/usr/sbin/visudo", "-c"])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&visudo.stdout),
        String::from_utf8_lossy(&visudo.stderr)
    );
    if !said
        .lines()
        .all(|l| l.ends_with(": parsed OK") || l.contains("bad permissions"))
    {
        bad.push(format!("{name}: visudo -c refuses the tree: {said}"));
        return bad;
    }
    let accounts = Accounts::read(g).unwrap();
    let model = Sudoers::read(g);
    let _m = ChrootMounts::new(root, &["dev", "proc"]);
    for user in users {
        let p = accounts.user(user).unwrap();
        let groups = accounts.groups_of(user, p.gid);
        let grants = model.grants(user, &groups);
        let mine = Listed {
            allowed: !grants.is_empty(),
            all_nopasswd: grants.iter().any(|x| x.all_commands && x.nopasswd),
            requiretty: model.requiretty(user, &groups).on,
        };
        let out = Command::new("script")
            .arg("-qec")
            .arg(format!(
                "chroot {} /usr/bin/sudo -n -l -U {user}",
                root.display()
            ))
            .arg("/dev/null")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        if text.contains("unable to") || text.contains("error") {
            bad.push(format!("{name}: sudo -l -U {user} failed: {text}"));
            continue;
        }
        let mut real = parse(&text);
        // What sudo does without a terminal, as the user: refuse (requiretty) or go on.
        if real.allowed {
            let uid = p.uid.unwrap_or(0);
            let gid = p.gid.unwrap_or(0);
            let run = Command::new("chroot")
                .arg(format!("--userspec={uid}:{gid}"))
                .arg(root)
                .args(["/usr/bin/sudo", "-n", "/usr/bin/true"])
                .output()
                .unwrap();
            real.requiretty = String::from_utf8_lossy(&run.stderr).contains("must have a tty");
        } else {
            real.requiretty = mine.requiretty;
        }
        if real != mine {
            bad.push(format!(
                "{name}: {user}: sudo lists {real:?}, sudoers reads {mine:?}\n{text}"
            ));
        }
    }
    bad
}

fn base(sudoers: &str) -> MemGuest {
    MemGuest::new()
        .file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\ncliqruser:x:1000:1000::/home/cliqruser:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n",
        )
        .file("/etc/group", "root:x:0:\nwheel:x:10:cliqruser\ncliqruser:x:1000:\nbob:x:1001:\n")
        .file_owned("/etc/sudoers", sudoers, (0o440, 0, 0))
}

fn synthetic() -> Vec<(String, MemGuest)> {
    let v: Vec<(&str, MemGuest)> = vec![
        (
            "a grant to the user",
            base("root ALL=(ALL) ALL\ncliqruser ALL=(ALL) NOPASSWD: ALL\n"),
        ),
        (
            "a grant through %wheel",
            base("root ALL=(ALL) ALL\n%wheel ALL=(ALL) ALL\n"),
        ),
        (
            "a User_Alias",
            base("User_Alias AGENTS = cliqruser, bob\nAGENTS ALL = NOPASSWD: /usr/bin/id\n"),
        ),
        (
            "requiretty for everyone",
            base("Defaults    requiretty\ncliqruser ALL=(ALL) NOPASSWD: ALL\n"),
        ),
        (
            "the user's own !requiretty before the global one",
            base(
                "Defaults:cliqruser !requiretty\nDefaults    requiretty\ncliqruser ALL=(ALL) NOPASSWD: ALL\n",
            ),
        ),
        (
            "someone else's exemption",
            base(
                "Defaults requiretty\nDefaults:bob !requiretty\ncliqruser ALL=(ALL) NOPASSWD: ALL\n",
            ),
        ),
        (
            "a group's exemption",
            base(
                "Defaults requiretty\nDefaults:%wheel !requiretty\n%wheel ALL=(ALL) NOPASSWD: ALL\n",
            ),
        ),
        (
            "#includedir and a drop-in",
            base("root ALL=(ALL) ALL\n#includedir /etc/sudoers.d\n").file_owned(
                "/etc/sudoers.d/cliqruser",
                "cliqruser ALL=(ALL) NOPASSWD: ALL\n",
                (0o440, 0, 0),
            ),
        ),
        (
            "a drop-in name with a dot is skipped",
            base("root ALL=(ALL) ALL\n@includedir /etc/sudoers.d\n").file_owned(
                "/etc/sudoers.d/cliqruser.conf",
                "cliqruser ALL=(ALL) NOPASSWD: ALL\n",
                (0o440, 0, 0),
            ),
        ),
        (
            "an @include relative to the file",
            base("root ALL=(ALL) ALL\n@include sudoers.local\n").file_owned(
                "/etc/sudoers.local",
                "cliqruser ALL=(ALL) NOPASSWD: ALL\n",
                (0o440, 0, 0),
            ),
        ),
        (
            "a commented grant",
            base("# cliqruser ALL=(ALL) NOPASSWD: ALL\nroot ALL=(ALL) ALL\n"),
        ),
    ];
    v.into_iter().map(|(n, g)| (n.to_owned(), g)).collect()
}

fn fixtures() -> Vec<(String, MemGuest)> {
    let dir = imgprep_testkit::fixture("rules-cloudcenter");
    let mut out = Vec::new();
    for e in fs_err::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "qcow2") {
            continue;
        }
        let image = Image::open(std::slice::from_ref(&p)).unwrap();
        let (g, _) = image.guest(&[("/".into(), Mountable::device("/dev/sda"))]);
        let g = common::copy_guest(&g);
        if Accounts::read(&g).unwrap().user("cliqruser").is_some() {
            out.push((
                format!("fixture {}", p.file_name().unwrap().to_string_lossy()),
                g,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn sudoers_reads_what_sudo_lists() {
    assert!(
        common::root(),
        "the sudo baseline chroots and mounts: run it as root (CI does)"
    );
    let mut layouts = synthetic();
    layouts.extend(fixtures());
    // The drop-in edit, on trees with and without the include line, and with requiretty.
    for (name, sudoers) in [
        (
            "grant_all() without an include",
            "Defaults requiretty\nroot ALL=(ALL) ALL\n",
        ),
        (
            "grant_all() with @includedir",
            "root ALL=(ALL) ALL\n@includedir /etc/sudoers.d\n",
        ),
    ] {
        let g = base(sudoers).dir("/etc/sudoers.d");
        let ops = sudoers::grant_all(&g, "cliqruser").unwrap();
        layouts.push((name.to_owned(), apply(g, &ops)));
    }
    let n = layouts.len();
    let bad: Vec<String> = layouts
        .iter()
        .flat_map(|(name, g)| {
            compare(
                name,
                g,
                &["cliqruser", "bob"]
                    .into_iter()
                    .filter(|u| Accounts::read(g).unwrap().user(u).is_some())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    assert!(n >= 15, "{n} layouts");
    assert!(
        bad.is_empty(),
        "{} disagreements over {n} layouts:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
