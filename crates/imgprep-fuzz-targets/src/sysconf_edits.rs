//! The sysconf guest-edit target.

use imgprep_guest::Guest;
use imgprep_sysconf::accounts::{self, NewAccount};
use imgprep_sysconf::shell::{shell_startup_umask, system_umask};
use imgprep_sysconf::sysv::{NewScript, add_script, start_before};
use imgprep_sysconf::{Error, FileOp, Op, ini, sudoers, systemd, trust};
use imgprep_testkit::MemGuest;

const PATHS: &[&str] = &[
    "/sbin/init",
    "/etc/systemd/system/default.target",
    "/usr/lib/systemd/system/multi-user.target",
    "/usr/lib/systemd/system/agent.service",
    "/etc/systemd/system/agent.service",
    "/etc/systemd/system/agent.service.d/imgprep-order.conf",
    "/etc/systemd/system/agent.service.d/imgprep-umask.conf",
    "/etc/systemd/system/multi-user.target.wants/agent.service",
    "/usr/lib/systemd/system/xe.service",
    "/etc/systemd/system/worker.service",
    "/etc/inittab",
    "/etc/debian_version",
    "/etc/redhat-release",
    "/etc/init.d/xe-linux-distribution",
    "/etc/init.d/nova-agent",
    "/etc/rc.d/init.d/nova-agent",
    "/etc/rc2.d/S03xe-linux-distribution",
    "/etc/rc2.d/S01nova-agent",
    "/etc/rc3.d/S20nova-agent",
    "/etc/rc3.d/S10xe-linux-distribution",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/login.defs",
    "/etc/skel/.bashrc",
    "/etc/skel/.config/x",
    "/home/cliqruser/.bash_profile",
    "/home/cliqruser/.profile",
    "/home/cliqruser/.login",
    "/etc/sudoers",
    "/etc/sudoers.d/cliqruser",
    "/etc/sudoers.d/imgprep-cliqruser",
    "/etc/profile",
    "/etc/profile.d/a.sh",
    "/etc/bashrc",
    "/etc/csh.login",
    "/etc/ca-certificates.conf",
    "/usr/share/ca-certificates/mozilla/A.crt",
    "/usr/local/share/ca-certificates/corp.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/source/anchors/corp.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/var/lib/ca-certificates/ca-bundle.pem",
    "/c/cloudbase-init.conf",
];

const UNIT: &str = "[Unit]\nAfter=xe.service\n[Service]\nExecStart=/bin/w\n[Install]\nWantedBy=multi-user.target\n";
const CERT: &[u8] = b"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";

/// `g` with `ops` applied.
pub(crate) fn apply(mut g: MemGuest, ops: &[FileOp]) -> MemGuest {
    for o in ops {
        g = match &o.op {
            Op::Write {
                content,
                mode,
                uid,
                gid,
            } => g.file_owned(&o.path, content, (*mode, *uid, *gid)),
            Op::Symlink { target } => g.link(&o.path, target),
            Op::Mkdir { mode, uid, gid } => g.dir_owned(&o.path, (*mode, *uid, *gid)),
            Op::Remove => g.remove(&o.path),
            other => panic!("{}: not a file operation: {other:?}", o.path),
        };
    }
    g
}

/// True when applying `o` to `g` changes nothing.
fn no_op(g: &MemGuest, o: &FileOp) -> bool {
    let Ok(meta) = g.lstat(&o.path) else {
        return false;
    };
    match (&o.op, meta) {
        (Op::Write { content, .. }, Some(_)) => {
            g.read_file(&o.path, 1 << 30).ok().as_ref() == Some(content)
        }
        (Op::Symlink { target }, Some(_)) => {
            g.read_link(&o.path).ok().as_deref() == Some(target.as_bytes())
        }
        (Op::Mkdir { .. }, Some(m)) => m.kind == imgprep_fs::FileKind::Dir,
        (Op::Remove, None) => true,
        _ => false,
    }
}

/// Bytes the operations write.
fn size(ops: &[FileOp]) -> usize {
    ops.iter()
        .map(|o| match &o.op {
            Op::Write { content, .. } => content.len(),
            _ => o.path.len(),
        })
        .sum()
}

/// Runs `edit` on `g`; when it gives operations, checks they write at most `limit` bytes and
/// that the edit on the result is a no-op (or refused as done: `Exists`).
pub(crate) fn edit(
    g: &MemGuest,
    limit: usize,
    name: &str,
    edit: impl Fn(&MemGuest) -> Result<Vec<FileOp>, Error>,
) {
    let Ok(ops) = edit(g) else { return };
    assert!(size(&ops) <= limit, "{name}: {} bytes", size(&ops));
    let after = apply(g.clone(), &ops);
    match edit(&after) {
        Ok(again) => assert!(
            again.iter().all(|o| no_op(&after, o)),
            "{name} again: {again:?}\nfirst: {ops:?}"
        ),
        Err(Error::Exists { .. }) => {}
        Err(e) => panic!("{name} again: {e}\nfirst: {ops:?}"),
    }
}

/// Every edit API of `imgprep-sysconf` on a hostile guest: the files each edit reads (units and
/// their links, SysV scripts and rc links, account databases and login.defs, /etc/skel, sudoers
/// and its drop-ins, shell startup files, trust stores, cloudbase-init.conf) are fuzzer-written,
/// or symlinks to fuzzer-written targets, in an in-memory guest. Each edit either refuses with an
/// error or returns operations that, applied, make the same edit a no-op (nothing to do, or only
/// writes of what is there already); what an edit writes is bounded by what the guest holds.
///
/// Input: a selector byte, then records separated by 0x00: a byte choosing the path (high bit:
/// make it a symlink whose target is the rest) and the file's content.
pub fn sysconf_guest_edits(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut g = MemGuest::new();
    for record in rest.split(|&b| b == 0).take(256) {
        let Some((&which, content)) = record.split_first() else {
            continue;
        };
        let path = PATHS[usize::from(which & 0x7f) % PATHS.len()];
        g = if which & 0x80 != 0 {
            g.link(path, &String::from_utf8_lossy(content))
        } else {
            g.file(path, content)
        };
    }
    // What an edit writes is about what it read, except trust bundles: a certificate file may
    // be named many times in ca-certificates.conf, and is added as often, up to a cap.
    let n = 64 * rest.len() + 64 * 1024;
    let wants = selector & 1 != 0;
    edit(&g, n, "enable", |g| systemd::enable(g, "agent.service"));
    edit(&g, n, "order_after", |g| {
        systemd::order_after(g, "agent.service", &["xe.service"], wants)
    });
    edit(&g, n, "add_unit", |g| {
        systemd::add_unit(g, "worker.service", UNIT)
    });
    edit(&g, n, "service_umask", |g| {
        systemd::service_umask(g, "agent.service", 0o022)
    });
    let script = NewScript {
        name: "nova-agent".into(),
        required_start: vec!["$remote_fs".into(), "xe-linux-distribution".into()],
        default_start: vec![2, 3, 4, 5],
        default_stop: vec![0, 1, 6],
        chkconfig: wants.then_some((20, 80)),
        body: "exit 0\n".into(),
        ..Default::default()
    };
    edit(&g, n, "add_script", |g| add_script(g, &script));
    edit(&g, n, "start_before", |g| {
        start_before(g, "xe-linux-distribution", "nova-agent")
    });
    let account = NewAccount {
        name: "cliqruser".into(),
        system: wants,
        home: None,
        create_home: true,
        shell: "/bin/bash".into(),
        gecos: String::new(),
        last_change_days: 20000,
    };
    edit(&g, n, "add_account", |g| accounts::add_account(g, &account));
    edit(&g, n, "grant_all", |g| sudoers::grant_all(g, "cliqruser"));
    edit(&g, n, "shell_startup_umask", |g| {
        shell_startup_umask(g, "cliqruser", 0o022)
    });
    edit(&g, n, "system_umask", |g| system_umask(g, 0o027));
    let bundles = 3 * trust::MAX_BUNDLE as usize;
    edit(&g, bundles, "add_anchor", |g| {
        trust::add_anchor(g, "corp", CERT)
    });
    edit(&g, n, "add_to_list", |g| {
        ini::add_to_list_op(
            g,
            "/c/cloudbase-init.conf",
            "DEFAULT",
            "plugins",
            "c.C",
            &[],
        )
    });
}
