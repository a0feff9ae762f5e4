//! `imgprep_sysconf::shell::login_umask` against the real shells: every layout (SCAP Security
//! Guide's, the umask fixture images, a debootstrap'd Debian root, and hand-made ones) is
//! written into a directory with bash, dash, csh and tcsh copied from this machine, and each
//! account's login shell is started in a chroot of it, as the account, with the umask the
//! session starts with (login.defs, pam_umask). The umask it ends with must be the one
//! login_umask resolves, or one of them where login_umask says the conditions cannot be
//! decided offline. Needs root (chroot, chown), as CI runs.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use imgprep_guest::{Guest, Image, Mountable};
use imgprep_sysconf::accounts::Accounts;
use imgprep_sysconf::shell::{Session, State, Val, login_umask, shell_startup_umask, system_umask};
use imgprep_testkit::MemGuest;
use imgprep_testkit::startup::{RHEL_CSHRC, RHEL_PROFILE};

/// Accounts every layout gets, one per login shell checked: (name, uid, shell).
const SHELL_USERS: [(&str, u32, &str); 4] = [
    ("bashu", 1100, "/bin/bash"),
    ("dashu", 1101, "/bin/dash"),
    ("cshu", 1102, "/bin/csh"),
    ("tcshu", 1103, "/bin/tcsh"),
];

/// Host programs the startup files and the launcher use. `csh` is linked to `bsd-csh`, as
/// Debian's alternatives link it.
const PROGRAMS: [&str; 10] = [
    "bash", "dash", "bsd-csh", "tcsh", "env", "id", "cat", "grep", "tty", "uname",
];

/// A layout: a guest tree, and the umask an edit gave some accounts.
struct Layout {
    name: String,
    guest: MemGuest,
    expect: Vec<(&'static str, u16)>,
}

/// Hand-made layouts: what distributions ship and what hardening guides add.
fn synthetic() -> Vec<Layout> {
    let rhel = || {
        MemGuest::new()
            .file(
                "/etc/login.defs",
                "UMASK           077\nUSERGROUPS_ENAB yes\n",
            )
            .file("/etc/profile", RHEL_PROFILE)
            .file(
                "/etc/bashrc",
                "if ! shopt -q login_shell ; then\n    umask 022\nfi\n",
            )
            .file("/etc/csh.cshrc", RHEL_CSHRC)
            .file(
                "/root/.bash_profile",
                "if [ -f ~/.bashrc ]; then\n\t. ~/.bashrc\nfi\n",
            )
            .file(
                "/root/.bashrc",
                "if [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n",
            )
            .dir("/etc/profile.d")
    };
    let mut v = vec![
        ("RHEL 7 defaults", rhel()),
        (
            "RHEL 7 with a hardening profile.d script",
            rhel().file("/etc/profile.d/zz-cis.sh", "umask 027\n").file(
                "/etc/profile.d/zz-cis.csh",
                "umask 027\n",
            ),
        ),
        (
            "Debian bash.bashrc returning early for non-interactive shells",
            MemGuest::new()
                .file("/etc/login.defs", "UMASK 022\n")
                .file(
                    "/etc/profile",
                    "if [ \"${PS1-}\" ]; then\n  if [ \"${BASH-}\" ] && [ \"$BASH\" != \"/bin/sh\" ]; then\n    if [ -f /etc/bash.bashrc ]; then\n      . /etc/bash.bashrc\n    fi\n  fi\nfi\n",
                )
                .file("/etc/bash.bashrc", "[ -z \"$PS1\" ] && return\numask 027\n"),
        ),
        (
            "here-document, function and a bare umask",
            MemGuest::new().file("/etc/login.defs", "UMASK 022\n").file(
                "/etc/profile",
                "cat > /dev/null <<'EOF'\numask 077\nEOF\nharden() {\n  umask 077\n}\numask\n",
            ),
        ),
        (
            "symbolic masks and a case on the user",
            MemGuest::new().file("/etc/login.defs", "UMASK 077\n").file(
                "/etc/profile",
                "umask u=rwx,g=rx,o=\ncase \"$USER\" in\n  root) umask g-rx ;;\n  *sh*) umask o+r ;;\nesac\n",
            ),
        ),
        (
            "csh-only settings and a test on $uid",
            MemGuest::new()
                .file("/etc/login.defs", "UMASK 022\n")
                .file("/etc/csh.login", "if ( $uid == 0 ) then\n  umask 077\nendif\n")
                .file("/etc/csh.cshrc", "umask 027\n"),
        ),
    ];
    v.push((
        "a user's own .profile",
        MemGuest::new()
            .file("/etc/login.defs", "UMASK 022\n")
            .file("/etc/profile", "umask 022\n")
            .file("/home/dashu/.profile", "umask 007\n")
            .file("/home/bashu/.bash_login", "umask 002\n"),
    ));
    v.into_iter()
        .map(|(n, g)| Layout {
            name: n.to_owned(),
            guest: g,
            expect: Vec::new(),
        })
        .collect()
}

/// The umask edits applied to a hardened RHEL layout: one account's startup file for each
/// shell, and the system-wide edit.
fn edited() -> Vec<Layout> {
    let hardened = with_users(
        MemGuest::new()
            .file(
                "/etc/login.defs",
                "UMASK           077\nUSERGROUPS_ENAB yes\n",
            )
            .file(
                "/etc/profile",
                RHEL_PROFILE.replace("umask 022", "umask 077"),
            )
            .file(
                "/etc/csh.cshrc",
                RHEL_CSHRC.replace("umask 022", "umask 077"),
            )
            .file(
                "/home/bashu/.bash_profile",
                "[ -f ~/.bashrc ] && . ~/.bashrc\n",
            )
            .dir("/etc/profile.d"),
    );
    let mut out = Vec::new();
    for (user, _, _) in SHELL_USERS {
        let ops = shell_startup_umask(&hardened, user, 0o022).unwrap();
        out.push(Layout {
            name: format!("shell_startup_umask({user})"),
            guest: common::apply(hardened.clone(), &ops),
            // RHEL's csh.cshrc under BSD csh stops the startup before ~/.login.
            expect: if user == "cshu" {
                Vec::new()
            } else {
                vec![(user, 0o022)]
            },
        });
    }
    let ops = system_umask(&hardened, 0o022).unwrap();
    out.push(Layout {
        name: "system_umask()".into(),
        guest: common::apply(hardened, &ops),
        expect: vec![("root", 0o022), ("bashu", 0o022), ("dashu", 0o022)],
    });
    out
}

fn ssg() -> Vec<Layout> {
    common::layouts::LAYOUTS
        .iter()
        .map(|l| Layout {
            name: format!("SSG: {}", l.name),
            guest: l
                .files
                .iter()
                .fold(MemGuest::new(), |g, (p, t)| g.file(&format!("/{p}"), t)),
            expect: Vec::new(),
        })
        .collect()
}

/// The umask fixture images (images-test/rules-linux.sh) and the debootstrap'd Debian root.
fn fixtures() -> Vec<Layout> {
    let mut out = Vec::new();
    let dir = imgprep_testkit::fixture("rules-linux");
    let mut names: Vec<PathBuf> = fs_err::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("umask-"))
                && p.extension().is_some_and(|e| e == "qcow2")
        })
        .collect();
    names.sort();
    for p in names {
        let image = Image::open(std::slice::from_ref(&p)).unwrap();
        let (g, notes) = image.guest(&[("/".into(), Mountable::device("/dev/sda"))]);
        assert!(notes.is_empty(), "{}: {notes:?}", p.display());
        out.push(Layout {
            name: format!("fixture {}", p.file_name().unwrap().to_string_lossy()),
            guest: common::copy_guest(&g),
            expect: Vec::new(),
        });
    }
    out
}

/// The accounts of the layout checked: root and the shell users (added to passwd and group,
/// with homes), and the layout's own users.
fn with_users(g: MemGuest) -> MemGuest {
    let passwd = g
        .read_text("/etc/passwd", 1 << 20)
        .unwrap()
        .unwrap_or_default();
    let group = g
        .read_text("/etc/group", 1 << 20)
        .unwrap()
        .unwrap_or_default();
    let mut passwd = if passwd.contains("root:") {
        passwd
    } else {
        format!("root:x:0:0:root:/root:/bin/bash\n{passwd}")
    };
    let mut group = if group.contains("root:") {
        group
    } else {
        format!("root:x:0:\n{group}")
    };
    let mut g = g;
    for (name, uid, shell) in SHELL_USERS {
        passwd.push_str(&format!("{name}:x:{uid}:{uid}::/home/{name}:{shell}\n"));
        group.push_str(&format!("{name}:x:{uid}:\n"));
        if !g.is_dir(&format!("/home/{name}")) {
            g = g.dir_owned(&format!("/home/{name}"), (0o755, uid, uid));
        }
    }
    g.file("/etc/passwd", passwd).file("/etc/group", group)
}

/// The masks a state can hold (`None` for an unreadable value).
fn masks(state: &State) -> BTreeSet<Option<u16>> {
    state
        .keys()
        .map(|v| match v {
            Val::Mask(m) => Some(*m),
            Val::Bad(_) => None,
        })
        .collect()
}

/// Starts `shell` as a login shell of account (uid, gid, home) in `chroot root` with umask
/// `initial`, and returns the umask it ends with.
fn real_umask(
    root: &Path,
    (uid, gid): (u32, u32),
    home: &str,
    user: &str,
    shell: &str,
    initial: u16,
) -> u16 {
    let base = shell.rsplit('/').next().unwrap_or("sh");
    let launcher = format!("umask {initial:03o}; exec -a -{base} {shell} -i");
    let out = Command::new("timeout")
        .args(["20", "chroot"])
        .arg(format!("--userspec={uid}:{gid}"))
        .arg(root)
        .args([
            "/usr/bin/env",
            "-i",
            &format!("HOME={home}"),
            &format!("USER={user}"),
            &format!("LOGNAME={user}"),
            &format!("SHELL={shell}"),
            "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
            "TERM=dumb",
            "/bin/bash",
            "-c",
            &launcher,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"echo \"UMASK=`umask`\"\nexit\n");
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = stdout
        .lines()
        .find_map(|l| l.split("UMASK=").nth(1))
        .unwrap_or_else(|| {
            panic!(
                "{shell} as {user} in {}: no umask printed\nstdout: {stdout}\nstderr: {}",
                root.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
    u16::from_str_radix(value.trim(), 8).unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

#[test]
fn login_shells_end_with_the_umask_login_umask_resolves() {
    assert!(
        common::root(),
        "the shell baselines chroot and chown: run them as root (CI does)"
    );
    let programs: Vec<PathBuf> = PROGRAMS.iter().map(|p| common::program(p)).collect();
    let mut layouts = ssg();
    layouts.extend(synthetic());
    layouts.extend(fixtures());
    layouts.extend(edited());
    let debian = imgprep_testkit::fixture("debian-root").join("root.tar");
    let mut checked = 0;
    let mut disagreements = Vec::new();
    let n_layouts = layouts.len() + 1;
    for layout in layouts.into_iter().map(Some).chain([None]) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let mut expect = Vec::new();
        let (name, g) = match layout {
            Some(l) => {
                let g = with_users(l.guest);
                common::materialize(&g, root, 100_000);
                expect = l.expect;
                (l.name, g)
            }
            None => {
                // A real debootstrap'd Debian: its own /etc/profile, bash.bashrc and dotfiles.
                let st = Command::new("tar")
                    .args(["-x", "-C"])
                    .arg(root)
                    .arg("-f")
                    .arg(&debian)
                    .status()
                    .unwrap();
                assert!(st.success());
                let mut g = MemGuest::new();
                for rel in [
                    "etc/profile",
                    "etc/bash.bashrc",
                    "etc/login.defs",
                    "etc/passwd",
                    "etc/group",
                    "root/.bashrc",
                    "root/.profile",
                    "etc/skel/.bashrc",
                    "etc/skel/.profile",
                    "etc/skel/.bash_logout",
                ] {
                    if let Ok(b) = fs_err::read(root.join(rel)) {
                        g = g.file(&format!("/{rel}"), b);
                    }
                }
                for d in ["etc/profile.d"] {
                    for e in fs_err::read_dir(root.join(d)).unwrap() {
                        let e = e.unwrap();
                        let p = format!("/{d}/{}", e.file_name().to_string_lossy());
                        g = g.file(&p, fs_err::read(e.path()).unwrap());
                    }
                }
                let g = with_users(g);
                for rel in ["etc/passwd", "etc/group"] {
                    fs_err::write(
                        root.join(rel),
                        g.read_file(&format!("/{rel}"), 1 << 20).unwrap(),
                    )
                    .unwrap();
                }
                for (name, uid, _) in SHELL_USERS {
                    let h = root.join(format!("home/{name}"));
                    fs_err::create_dir_all(&h).unwrap();
                    std::os::unix::fs::chown(&h, Some(uid), Some(uid)).unwrap();
                }
                ("debootstrap'd Debian 12".to_owned(), g)
            }
        };
        common::install_host_programs(root, &programs);
        let _ = fs_err::remove_file(root.join("usr/bin/csh"));
        std::os::unix::fs::symlink("bsd-csh", root.join("usr/bin/csh")).unwrap();
        fs_err::create_dir_all(root.join("dev")).unwrap();
        let _ = fs_err::remove_file(root.join("dev/null"));
        assert!(
            Command::new("mknod")
                .args(["-m", "666"])
                .arg(root.join("dev/null"))
                .args(["c", "1", "3"])
                .status()
                .unwrap()
                .success()
        );
        // The model sees the programs too: file tests such as [ -x /usr/bin/id ] agree.
        let mut g = g;
        for p in &programs {
            let gp = p.display().to_string();
            if !g.is_file(&gp) {
                g = g.exec(&gp, "\x7fELF");
            }
        }
        if g.is_symlink("/bin") || !g.is_dir("/bin") {
            g = g.link("/bin", "usr/bin");
        }
        g = g.link("/usr/bin/csh", "bsd-csh");
        let accounts = Accounts::read(&g).unwrap();
        let mut subjects: Vec<(String, Option<String>)> = vec![("root".into(), None)];
        subjects.extend(
            SHELL_USERS
                .iter()
                .map(|(n, _, _)| ((*n).to_owned(), Some((*n).to_owned()))),
        );
        for (label, user) in subjects {
            let u = login_umask(&g, user.as_deref());
            let (sessions, account): (&[Session], &str) = match &user {
                None => (&u.root, "root"),
                Some(n) => (&u.user, n.as_str()),
            };
            // The console login: its PAM stack gave the initial umask.
            let s = &sessions[0];
            let init: Vec<u16> = masks(&s.initial).into_iter().flatten().collect();
            assert_eq!(
                init.len(),
                1,
                "{name} {label}: one initial umask, got {:?}",
                s.initial
            );
            let p = accounts.user(account).unwrap();
            let real = real_umask(
                root,
                (p.uid.unwrap_or(0), p.gid.unwrap_or(0)),
                &p.home,
                account,
                &p.shell,
                init[0],
            );
            let model = masks(&s.state);
            checked += 1;
            if let Some((_, want)) = expect.iter().find(|(a, _)| *a == account) {
                assert_eq!(real, *want, "{name}: {label} after the edit");
            }
            let agrees = if model.len() == 1 {
                model.contains(&Some(real))
            } else {
                model.contains(&Some(real)) || model.contains(&None)
            };
            if !agrees {
                disagreements.push(format!(
                    "{name}: {label} ({}) ends with {real:03o}, login_umask says {}",
                    p.shell,
                    u.describe(&s.state)
                ));
            }
        }
    }
    assert!(n_layouts >= 20, "{n_layouts} layouts");
    assert!(
        disagreements.is_empty(),
        "{} of {checked} login shells disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
