//! The boot graph against systemd itself: each layout (the Rackspace fixture images that boot
//! with systemd, hand-made unit and SysV layouts, and the results of the systemd and SysV edit
//! APIs) is written into a directory with this machine's systemd and systemd-sysv-generator,
//! and `systemd --test --system` runs in a chroot of it, computing the boot transaction as the
//! real manager would (generators included). Every service the layout defines must start at
//! boot exactly when BootGraph says so, and every pair of them that starts must be ordered the
//! way BootGraph orders it. `systemctl --root` must agree on masks and links. Needs root
//! (chroot, mounts), as CI runs.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ChrootMounts, apply, materialize};
use imgprep_guest::{Guest, Image, Mountable};
use imgprep_sysconf::boot::{BootGraph, Enablement, Order, SystemdPackage};
use imgprep_sysconf::systemd::{self, UNIT_DIRS};
use imgprep_sysconf::sysv::{self, INIT_DIRS, NewScript};
use imgprep_testkit::MemGuest;

/// The version of this machine's systemd (its sysv-generator follows symlinked scripts).
const HOST_SYSTEMD: &str = "252";

/// What `systemd --test` computed: units with a start job, their ordering edges.
#[derive(Debug, Default)]
struct Transaction {
    started: BTreeSet<String>,
    /// Alias -> unit.
    aliases: BTreeMap<String, String>,
    /// (first, then) from every After=/Before= the dump lists.
    edges: BTreeSet<(String, String)>,
}

impl Transaction {
    fn parse(dump: &str) -> Self {
        let mut t = Transaction::default();
        let mut unit = String::new();
        for l in dump.lines() {
            if let Some(u) = l
                .strip_prefix("\t-> Unit ")
                .and_then(|u| u.strip_suffix(':'))
            {
                unit = u.to_owned();
                continue;
            }
            let l = l.trim();
            if let Some(a) = l.strip_prefix("Alias: ") {
                t.aliases.insert(a.to_owned(), unit.clone());
            } else if let Some(rest) = l.strip_prefix("Action: ") {
                if let Some((u, "start")) = rest.split_once(" -> ") {
                    t.started.insert(u.to_owned());
                }
            } else if let Some(o) = l.strip_prefix("After: ") {
                let o = o.split(' ').next().unwrap_or("");
                t.edges.insert((o.to_owned(), unit.clone()));
            } else if let Some(o) = l.strip_prefix("Before: ") {
                let o = o.split(' ').next().unwrap_or("");
                t.edges.insert((unit.clone(), o.to_owned()));
            }
        }
        t
    }

    fn canonical<'a>(&'a self, name: &'a str) -> &'a str {
        self.aliases.get(name).map_or(name, String::as_str)
    }

    /// A chain of ordering edges from `a` to `b` through units that start.
    fn before(&self, a: &str, b: &str) -> bool {
        let (a, b) = (self.canonical(a), self.canonical(b));
        let mut seen = BTreeSet::from([a.to_owned()]);
        let mut q = VecDeque::from([a.to_owned()]);
        while let Some(n) = q.pop_front() {
            for (x, y) in &self.edges {
                if *x != n || !self.started.contains(y) || !seen.insert(y.clone()) {
                    continue;
                }
                if y == b {
                    return true;
                }
                q.push_back(y.clone());
            }
        }
        false
    }
}

/// /run and /tmp of the chroot, world-writable as systemd expects them.
fn scratch_dirs(root: &Path) {
    for d in ["run", "tmp"] {
        fs_err::create_dir_all(root.join(d)).unwrap();
        Command::new("chmod")
            .arg("1777")
            .arg(root.join(d))
            .status()
            .unwrap();
    }
}

/// Adds this machine's stock targets the layout does not define, to the guest and so to the
/// tree: systemd cannot boot without sysinit.target and friends.
fn with_stock_targets(mut g: MemGuest) -> MemGuest {
    for e in fs_err::read_dir("/usr/lib/systemd/system").unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".target") || !e.path().is_file() {
            continue;
        }
        let defined = UNIT_DIRS
            .iter()
            .any(|d| g.lstat(&format!("{d}/{name}")).ok().flatten().is_some());
        if !defined {
            g = g.file(
                &format!("/usr/lib/systemd/system/{name}"),
                fs_err::read(e.path()).unwrap(),
            );
        }
    }
    g
}

/// The services and scripts the layout defines.
fn services(g: &MemGuest) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in UNIT_DIRS.iter().chain(INIT_DIRS.iter()) {
        for e in g.read_dir(d).unwrap_or_default() {
            let n = String::from_utf8_lossy(&e.name).into_owned();
            let is_script = INIT_DIRS.contains(d)
                && g.is_file(&format!("{d}/{n}"))
                && g.stat(&format!("{d}/{n}"))
                    .ok()
                    .flatten()
                    .is_some_and(|m| m.mode & 0o100 != 0);
            if n.ends_with(".service") && !n.contains('@') {
                out.insert(n);
            } else if is_script {
                out.insert(format!("{n}.service"));
            }
        }
    }
    out
}

/// Runs `systemd --test` on the layout and compares; returns the disagreements, the services
/// compared and the ordered pairs compared.
fn compare(name: &str, g: MemGuest) -> (Vec<String>, usize, usize) {
    let g = with_stock_targets(g);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    materialize(&g, root, 100_000);
    // systemd runs generators from /lib/systemd/system-generators: on a guest with its own
    // /lib (no merged /usr) that is not where /usr/lib's copy lands.
    let programs = [
        common::program("systemd"),
        PathBuf::from("/usr/lib/systemd/system-generators/systemd-sysv-generator"),
        PathBuf::from("/lib/systemd/system-generators/systemd-sysv-generator"),
    ];
    // The layout's /usr/lib/systemd/systemd may be a stand-in; the real one replaces it.
    let _ = fs_err::remove_file(root.join("usr/lib/systemd/systemd"));
    let _ = fs_err::remove_file(root.join("lib/systemd/systemd"));
    common::install_host_programs(root, &programs);
    if !root.join("usr/lib/systemd/systemd").exists() {
        fs_err::create_dir_all(root.join("usr/lib/systemd")).unwrap();
        fs_err::copy(
            "/usr/lib/systemd/systemd",
            root.join("usr/lib/systemd/systemd"),
        )
        .unwrap();
    }
    let dump = {
        scratch_dirs(root);
        let _m = ChrootMounts::new(root, &["proc", "sys"]);
        let out = Command::new("timeout")
            .args([
                "60",
                "env",
                "-i",
                "/usr/sbin/chroot",
                "--userspec=65534:65534",
            ])
            .arg(root)
            .args([
                "/usr/lib/systemd/systemd",
                "--test",
                "--system",
                "--unit=default.target",
                "--log-target=console",
                "--log-level=err",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: systemd --test: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let real = Transaction::parse(&dump);
    let host = SystemdPackage {
        version: HOST_SYSTEMD.into(),
        release: String::new(),
    };
    let model = BootGraph::read(&g, Some(host));
    let names = services(&g);
    let mut bad = Vec::new();
    let mut started = Vec::new();
    let mut pairs = 0;
    for n in &names {
        let r = real.started.contains(real.canonical(n));
        let m = matches!(model.enablement(n), Enablement::Enabled(_));
        if r != m {
            bad.push(format!(
                "{name}: {n}: systemd {} it at boot, BootGraph says {:?}",
                if r { "starts" } else { "does not start" },
                model.enablement(n)
            ));
        }
        if r {
            started.push(n.clone());
        }
    }
    for a in &started {
        for b in &started {
            if a == b || real.canonical(a) == real.canonical(b) {
                continue;
            }
            pairs += 1;
            let r = real.before(a, b) && !real.before(b, a);
            let m = matches!(model.order(a, b), Order::Before(..));
            if r != m {
                bad.push(format!(
                    "{name}: {a} before {b}: systemd {r}, BootGraph {:?}",
                    model.order(a, b)
                ));
            }
        }
    }
    // Masks and links as systemctl reads them offline.
    for n in &names {
        let out = Command::new("systemctl")
            .arg(format!("--root={}", root.display()))
            .args(["is-enabled", n])
            .output()
            .unwrap();
        let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let masked = matches!(model.enablement(n), Enablement::Masked(_));
        if (state == "masked") != masked {
            bad.push(format!(
                "{name}: {n}: systemctl is-enabled says {state:?}, BootGraph masked={masked}"
            ));
        }
    }
    (bad, names.len(), pairs)
}

fn systemd_base() -> MemGuest {
    MemGuest::new()
        .link("/sbin/init", "../lib/systemd/systemd")
        .link(
            "/etc/systemd/system/default.target",
            "/usr/lib/systemd/system/multi-user.target",
        )
}

fn service(g: MemGuest, name: &str, unit: &str) -> MemGuest {
    g.file(&format!("/usr/lib/systemd/system/{name}.service"), unit)
        .link(
            &format!("/etc/systemd/system/multi-user.target.wants/{name}.service"),
            &format!("/usr/lib/systemd/system/{name}.service"),
        )
}

fn script(g: MemGuest, name: &str, header: &str) -> MemGuest {
    let body = if header.is_empty() {
        "#!/bin/sh\n".to_owned()
    } else {
        format!("#!/bin/sh\n### BEGIN INIT INFO\n{header}### END INIT INFO\n")
    };
    g.exec(&format!("/etc/init.d/{name}"), body)
}

const PLAIN: &str = "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n";

fn synthetic() -> Vec<(String, MemGuest)> {
    let xe = |u: &str| service(systemd_base(), "xe-linux-distribution", u);
    let pair = |xe_unit: &str, na_unit: &str| service(xe(xe_unit), "nova-agent", na_unit);
    let order = "[Unit]\nBefore=nova-agent.service\n[Service]\nExecStart=/bin/true\n";
    let after = "[Unit]\nAfter=xe-linux-distribution.service\n[Service]\nExecStart=/bin/true\n";
    // The tools as a SysV script, ordered by a drop-in of the unit the generator makes of it.
    let generated = |line: &str| {
        let tools = script(
            systemd_base(),
            "xe-linux-distribution",
            "# Provides: xe-linux-distribution\n",
        )
        .link(
            "/etc/rc3.d/S14xe-linux-distribution",
            "../init.d/xe-linux-distribution",
        )
        .file(
            "/etc/systemd/system/xe-linux-distribution.service.d/o.conf",
            format!("[Unit]\n{line}\n"),
        );
        service(tools, "nova-agent", PLAIN)
    };
    let v: Vec<(&str, MemGuest)> = vec![
        ("Before= in the first unit", pair(order, PLAIN)),
        ("After= in the second unit", pair(PLAIN, after)),
        ("no ordering", pair(PLAIN, PLAIN)),
        (
            "After= in a drop-in in /etc",
            pair(PLAIN, PLAIN).file("/etc/systemd/system/nova-agent.service.d/x.conf", "[Unit]\nAfter=xe-linux-distribution.service\n"),
        ),
        (
            "a drop-in in /etc replaces the vendor drop-in of the same name",
            pair(PLAIN, PLAIN)
                .file("/usr/lib/systemd/system/nova-agent.service.d/o.conf", "[Unit]\nBefore=xe-linux-distribution.service\n")
                .file("/etc/systemd/system/nova-agent.service.d/o.conf", "[Unit]\nAfter=xe-linux-distribution.service\n"),
        ),
        (
            "a masked drop-in",
            pair(PLAIN, PLAIN)
                .file("/usr/lib/systemd/system/nova-agent.service.d/o.conf", "[Unit]\nAfter=xe-linux-distribution.service\n")
                .link("/etc/systemd/system/nova-agent.service.d/o.conf", "/dev/null"),
        ),
        (
            "a unit in /etc replaces the vendor unit",
            pair(PLAIN, after).file("/etc/systemd/system/nova-agent.service", PLAIN),
        ),
        (
            "ordered through a target that boots",
            pair("[Unit]\nDefaultDependencies=no\nBefore=sysinit.target\n[Service]\nExecStart=/bin/true\n", PLAIN),
        ),
        (
            "ordered only through a unit nothing starts",
            pair(
                "[Unit]\nBefore=xe-ready.target\n[Service]\nExecStart=/bin/true\n",
                "[Unit]\nAfter=xe-ready.target\n[Service]\nExecStart=/bin/true\n",
            )
            .file("/usr/lib/systemd/system/xe-ready.target", "[Unit]\nDescription=x\n"),
        ),
        ("masked", xe(PLAIN).link("/etc/systemd/system/xe-linux-distribution.service", "/dev/null")),
        (
            "WantedBy= without a link",
            systemd_base().file("/usr/lib/systemd/system/xe-daemon.service", PLAIN),
        ),
        (
            "pulled in by Wants=",
            service(systemd_base(), "helper", "[Unit]\nWants=xe-daemon.service\n[Service]\nExecStart=/bin/true\n")
                .file("/usr/lib/systemd/system/xe-daemon.service", PLAIN),
        ),
        (
            "linked into graphical.target only",
            systemd_base().file("/usr/lib/systemd/system/xe-daemon.service", PLAIN).link(
                "/etc/systemd/system/graphical.target.wants/xe-daemon.service",
                "/usr/lib/systemd/system/xe-daemon.service",
            ),
        ),
        (
            "an alias link",
            xe(PLAIN).link("/etc/systemd/system/xe-daemon.service", "/usr/lib/systemd/system/xe-linux-distribution.service"),
        ),
        (
            "SysV nova-agent requiring the native xe unit",
            script(xe(PLAIN), "nova-agent", "# Provides: nova-agent\n# Required-Start: $remote_fs xe-linux-distribution\n# Default-Start: 2 3 4 5\n")
                .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent"),
        ),
        (
            "two scripts without headers, by start priority",
            script(script(systemd_base(), "nova-agent", ""), "xe-linux-distribution", "")
                .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent")
                .link("/etc/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution"),
        ),
        (
            "two scripts with headers, priorities ignored",
            script(
                script(systemd_base(), "nova-agent", "# Provides: nova-agent\n"),
                "xe-linux-distribution",
                "# Provides: xe-linux-distribution\n",
            )
            .link("/etc/rc3.d/S15nova-agent", "../init.d/nova-agent")
            .link("/etc/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution"),
        ),
        (
            "Before= in a drop-in of the unit generated from the tools' script",
            generated("Before=nova-agent.service"),
        ),
        (
            "After= in a drop-in of a generated unit, the other way",
            generated("After=nova-agent.service"),
        ),
        (
            "a script with a native unit of the same name",
            script(xe(PLAIN), "xe-linux-distribution", "# Provides: xe-linux-distribution\n")
                .link("/etc/rc3.d/S14xe-linux-distribution", "../init.d/xe-linux-distribution"),
        ),
    ];
    v.into_iter().map(|(n, g)| (n.to_owned(), g)).collect()
}

/// The edit APIs' results: enable, order, add a unit, add a script.
fn edited() -> Vec<(String, MemGuest)> {
    let base = service(systemd_base(), "xe-linux-distribution", PLAIN)
        .file("/usr/lib/systemd/system/nova-agent.service", PLAIN);
    let mut out = Vec::new();
    let g = apply(
        base.clone(),
        &systemd::enable(&base, "nova-agent.service").unwrap(),
    );
    out.push(("enable()".to_owned(), g.clone()));
    let ordered = apply(
        g.clone(),
        &systemd::order_after(
            &g,
            "nova-agent.service",
            &["xe-linux-distribution.service"],
            true,
        )
        .unwrap(),
    );
    out.push(("order_after()".to_owned(), ordered));
    let added = apply(
        base.clone(),
        &systemd::add_unit(&base, "worker.service", "[Unit]\nAfter=xe-linux-distribution.service\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n")
            .unwrap(),
    );
    out.push(("add_unit()".to_owned(), added));
    let s = NewScript {
        name: "nova-agent".into(),
        required_start: vec!["$remote_fs".into(), "xe-linux-distribution".into()],
        default_start: vec![2, 3, 4, 5],
        default_stop: vec![0, 1, 6],
        description: "nova-agent".into(),
        body: "exit 0\n".into(),
        ..Default::default()
    };
    let deb = service(systemd_base(), "xe-linux-distribution", PLAIN).dir("/etc/init.d");
    out.push((
        "add_script()".to_owned(),
        apply(deb.clone(), &sysv::add_script(&deb, &s).unwrap()),
    ));
    out
}

/// The Rackspace fixture images that boot with systemd.
fn fixtures() -> Vec<(String, MemGuest)> {
    let mut out = Vec::new();
    for (fixture, name) in [
        ("rules-rackspace", "rs-v2-ordered"),
        ("rules-rackspace", "rs-v1-centos72"),
        ("rules-rackspace", "rs-xe-masked"),
        ("rules-rackspace", "rs-dropin"),
        ("rules-rackspace", "rs-cloud-init-only"),
        ("rules-rackspace", "rs-tuntap"),
        ("rules-rackspace", "rs-neither"),
        ("rules-rackspace-real", "rsr-v1-centos79"),
        ("rules-rackspace-real", "rsr-v1-centos72"),
        ("rules-rackspace-real", "rsr-v2-ubuntu1804"),
        ("rules-rackspace-real", "rsr-cloud-init-debian11"),
    ] {
        let p = imgprep_testkit::fixture(fixture).join(format!("{name}.qcow2"));
        let image = Image::open(std::slice::from_ref(&p)).unwrap();
        let (g, notes) = image.guest(&[("/".into(), Mountable::device("/dev/sda"))]);
        assert!(notes.is_empty(), "{notes:?}");
        out.push((format!("fixture {name}"), common::copy_guest(&g)));
    }
    out
}

#[test]
fn boot_graph_agrees_with_systemd() {
    assert!(
        common::root(),
        "the systemd baseline chroots and mounts: run it as root (CI does)"
    );
    let mut layouts = synthetic();
    layouts.extend(edited());
    layouts.extend(fixtures());
    let n = layouts.len();
    let (mut bad, mut services, mut pairs) = (Vec::new(), 0, 0);
    for (name, g) in layouts {
        let (b, s, p) = compare(&name, g);
        bad.extend(b);
        services += s;
        pairs += p;
    }
    assert!(n >= 25, "{n} layouts");
    assert!(
        services >= 50 && pairs >= 30,
        "{services} services, {pairs} ordered pairs"
    );
    eprintln!("{n} layouts, {services} services, {pairs} ordered pairs");
    assert!(
        bad.is_empty(),
        "{} disagreements over {n} layouts:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
