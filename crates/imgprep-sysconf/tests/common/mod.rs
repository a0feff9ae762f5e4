//! Test support for the edit APIs and the baselines: file operations applied to a guest built
//! in memory or to a host directory, a guest written out as a host tree, host programs and
//! their libraries copied into a chroot.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset; test helpers

pub(crate) mod layouts;

use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use imgprep_fs::FileKind;
use imgprep_guest::Guest;
use imgprep_sysconf::{FileOp, Op};
use imgprep_testkit::MemGuest;

/// `g` with `ops` applied. Registry operations are refused: they do not apply to files.
pub(crate) fn apply(mut g: MemGuest, ops: &[FileOp]) -> MemGuest {
    for op in ops {
        g = match &op.op {
            Op::Write {
                content,
                mode,
                uid,
                gid,
            } => g.file_owned(&op.path, content, (*mode, *uid, *gid)),
            Op::Symlink { target } => g.link(&op.path, target),
            Op::Mkdir { mode, uid, gid } => g.dir_owned(&op.path, (*mode, *uid, *gid)),
            Op::Remove => g.remove(&op.path),
            other => panic!("{}: not a file operation: {other:?}", op.path),
        };
    }
    g
}

/// The bytes `ops` write to `path` (the last write).
pub(crate) fn written<'a>(ops: &'a [FileOp], path: &str) -> Option<&'a [u8]> {
    ops.iter().rev().find_map(|o| match &o.op {
        Op::Write { content, .. } if o.path == path => Some(content.as_slice()),
        _ => None,
    })
}

/// The lines of `after` that are not in `before`, and the lines of `before` not in `after`, in
/// order: what an edit changed, line by line.
pub(crate) fn changed_lines(before: &[u8], after: &[u8]) -> (Vec<String>, Vec<String>) {
    let b: Vec<&[u8]> = before.split_inclusive(|&c| c == b'\n').collect();
    let a: Vec<&[u8]> = after.split_inclusive(|&c| c == b'\n').collect();
    // Common prefix and suffix; what is left between them is the change.
    let p = b.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let s = b[p..]
        .iter()
        .rev()
        .zip(a[p..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let show = |v: &[&[u8]]| {
        v.iter()
            .map(|l| {
                String::from_utf8_lossy(l)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned()
            })
            .collect()
    };
    (show(&a[p..a.len() - s]), show(&b[p..b.len() - s]))
}

/// Writes the tree of `g` below `/` into `dir` (files with their modes and owners, links,
/// directories), at most `limit` entries.
pub(crate) fn materialize(g: &dyn Guest, dir: &Path, limit: usize) {
    let mut stack = vec!["/".to_owned()];
    let mut n = 0;
    while let Some(p) = stack.pop() {
        for e in g.read_dir(&p).unwrap_or_default() {
            n += 1;
            assert!(n <= limit, "more than {limit} entries below {p}");
            let name = String::from_utf8_lossy(&e.name).into_owned();
            let gp = if p == "/" {
                format!("/{name}")
            } else {
                format!("{p}/{name}")
            };
            let host = dir.join(gp.trim_start_matches('/'));
            let Ok(Some(m)) = g.lstat(&gp) else { continue };
            match m.kind {
                FileKind::Dir => {
                    fs_err::create_dir_all(&host).unwrap();
                    stack.push(gp);
                }
                FileKind::Symlink => {
                    let t = String::from_utf8_lossy(&g.read_link(&gp).unwrap()).into_owned();
                    symlink(t, &host).unwrap();
                }
                FileKind::File => {
                    fs_err::write(&host, g.read_file(&gp, 64 << 20).unwrap()).unwrap();
                    fs_err::set_permissions(&host, std::fs::Permissions::from_mode(m.mode))
                        .unwrap();
                }
                _ => continue,
            }
            if m.kind != FileKind::Symlink {
                chown(&host, Some(m.uid), Some(m.gid)).unwrap();
            }
        }
    }
}

/// Applies `ops` to the host tree `dir` (a chroot of the guest).
pub(crate) fn apply_dir(dir: &Path, ops: &[FileOp]) {
    for op in ops {
        let host = dir.join(op.path.trim_start_matches('/'));
        match &op.op {
            Op::Write {
                content,
                mode,
                uid,
                gid,
            } => {
                fs_err::write(&host, content).unwrap();
                fs_err::set_permissions(&host, std::fs::Permissions::from_mode(*mode)).unwrap();
                chown(&host, Some(*uid), Some(*gid)).unwrap();
            }
            Op::Symlink { target } => {
                let _ = fs_err::remove_file(&host);
                symlink(target, &host).unwrap();
            }
            Op::Mkdir { mode, uid, gid } => {
                fs_err::create_dir(&host).unwrap();
                fs_err::set_permissions(&host, std::fs::Permissions::from_mode(*mode)).unwrap();
                chown(&host, Some(*uid), Some(*gid)).unwrap();
            }
            Op::Remove => fs_err::remove_file(&host).unwrap(),
            other => panic!("{}: not a file operation: {other:?}", op.path),
        }
    }
}

/// The host path of `program` (`PATH` searched), failing the test when it is not installed:
/// CI installs every program the baselines run (.ci/deps).
pub(crate) fn program(name: &str) -> PathBuf {
    for dir in [
        "/usr/bin",
        "/bin",
        "/usr/sbin",
        "/sbin",
        "/usr/lib/systemd",
        "/lib/systemd",
    ] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is not installed (.ci/deps installs it)");
}

/// Copies host `programs` (absolute paths) and the shared libraries they load into the tree
/// `root`, at the same paths, so that they run in `chroot root`.
pub(crate) fn install_host_programs(root: &Path, programs: &[PathBuf]) {
    // A merged /usr where the tree has no /bin, /sbin, /lib of its own, as on the host.
    for d in ["bin", "sbin", "lib", "lib64"] {
        fs_err::create_dir_all(root.join("usr").join(d)).unwrap();
        if root.join(d).symlink_metadata().is_err() {
            symlink(format!("usr/{d}"), root.join(d)).unwrap();
        }
    }
    let mut files: Vec<PathBuf> = programs.to_vec();
    for p in programs {
        let out = Command::new("ldd").arg(p).output().unwrap();
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(lib) = l.split_whitespace().find(|w| w.starts_with('/')) {
                files.push(PathBuf::from(lib));
            }
        }
    }
    for f in files {
        let real = fs_err::canonicalize(&f).unwrap();
        for host in [&f, &real] {
            let dst = root.join(host.strip_prefix("/").unwrap());
            if dst.symlink_metadata().is_ok() {
                continue;
            }
            // Through a guest link (a merged /usr): write where the link points.
            if let Some(parent) = dst.parent() {
                fs_err::create_dir_all(parent).unwrap_or(());
            }
            if fs_err::copy(&real, &dst).is_err() {
                let _ = fs_err::copy(&real, root.join(real.strip_prefix("/").unwrap()));
            }
        }
    }
}

/// True when the tests run as root (CI does): chroot and chown need it.
pub(crate) fn root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Copies every small regular file, link and directory of `g` into a MemGuest.
pub(crate) fn copy_guest(g: &dyn Guest) -> MemGuest {
    let mut out = MemGuest::new();
    let mut stack = vec!["/".to_owned()];
    let mut n = 0;
    while let Some(dir) = stack.pop() {
        for e in g.read_dir(&dir).unwrap_or_default() {
            n += 1;
            assert!(n < 50_000, "an unexpectedly large tree");
            let name = String::from_utf8_lossy(&e.name).into_owned();
            let p = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            let Ok(Some(m)) = g.lstat(&p) else { continue };
            out = match m.kind {
                imgprep_fs::FileKind::Dir => {
                    stack.push(p.clone());
                    out.dir_owned(&p, (m.mode, m.uid, m.gid))
                }
                imgprep_fs::FileKind::Symlink => {
                    let t = String::from_utf8_lossy(&g.read_link(&p).unwrap()).into_owned();
                    out.link(&p, &t)
                }
                imgprep_fs::FileKind::File if m.size <= 1 << 20 => out.file_owned(
                    &p,
                    g.read_file(&p, 1 << 20).unwrap(),
                    (m.mode, m.uid, m.gid),
                ),
                _ => out,
            };
        }
    }
    out
}

/// Filesystems mounted in a chroot while it lives: `proc` as a new proc filesystem, any other
/// name as a recursive bind of the host's `/NAME`. Unmounted in reverse order on drop.
pub(crate) struct ChrootMounts {
    root: PathBuf,
    names: Vec<&'static str>,
}

impl ChrootMounts {
    pub(crate) fn new(root: &Path, names: &[&'static str]) -> Self {
        let mut m = ChrootMounts {
            root: root.to_owned(),
            names: Vec::new(),
        };
        for name in names {
            let at = root.join(name);
            fs_err::create_dir_all(&at).unwrap();
            let mut c = Command::new("mount");
            if *name == "proc" {
                c.args(["-t", "proc", "proc"]);
            } else {
                c.arg("--rbind").arg(format!("/{name}"));
            }
            assert!(c.arg(&at).status().unwrap().success(), "mounting {name}");
            m.names.push(name);
        }
        m
    }
}

impl Drop for ChrootMounts {
    fn drop(&mut self) {
        for name in self.names.iter().rev() {
            let mut c = Command::new("umount");
            if *name != "proc" {
                c.arg("-R");
            }
            let _ = c.arg(self.root.join(name)).status();
        }
    }
}

/// Runs `cmd`, which must succeed; what it printed.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the host's `update-ca-certificates` (`prog`) on the tree `root`, without its hooks.
pub(crate) fn update_ca_certificates(prog: &Path, root: &Path) {
    let p = |rel: &str| root.join(rel).display().to_string();
    run(Command::new(prog).args([
        "--certsconf",
        &p("etc/ca-certificates.conf"),
        "--certsdir",
        &p("usr/share/ca-certificates"),
        "--localcertsdir",
        &p("usr/local/share/ca-certificates"),
        "--etccertsdir",
        &p("etc/ssl/certs"),
        "--hooksdir",
        &p("no-hooks"),
    ]));
}
