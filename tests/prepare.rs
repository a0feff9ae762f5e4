//! `imgprep prepare` end to end on fixture images: the plan (a dry run launches nothing), one
//! appliance launch per prepared image, the native verification, the input left untouched,
//! idempotence, guestfish and virt-customize agreeing with what was written, and the faults that
//! must leave nothing behind.
//!
//! Appliance launches are what these tests cost (10–30 s each under TCG). Every prepared output is
//! cached under `$IMGPREP_PREPARED_CACHE` (default `~/.cache/imgprep/prepared`) by the hash of the
//! imgprep binary, the arguments and the content of every file they name, the way fixtures are
//! cached; runs of guestfish and virt-customize append to `IMGPREP_GUESTFS_LAUNCH_LOG` like
//! imgprep's own launches, so that `./test.sh` counts them all.

#![allow(clippy::unwrap_used)] // a failed step of a test fails the test, at its line

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{fixture, repo};
use imgprep_bundle::{FileKind, Kind, Manifest, Service, SourceFile, write_bundle};
use imgprep_guest::{Guest, Image};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PROFILE: &str = "cloudcenter-worker";
const PREFIX: &str = "/usr/local/osmosix";

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_imgprep"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(p: &Path) -> String {
    let mut f = fs_err::File::open(p).expect("open");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex(&h.finalize())
}

fn binary_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| sha256_file(bin()))
}

/// Appends a line for a launch made by another libguestfs program to the launch log in use.
fn log_foreign_launch(started: SystemTime, took: Duration, ok: bool, what: &str) {
    let Some(log) = std::env::var_os("IMGPREP_GUESTFS_LAUNCH_LOG") else {
        return;
    };
    let unix = started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = format!(
        "{unix} {:.3} {} {what}\n",
        took.as_secs_f64(),
        if ok { "ok" } else { "error" }
    );
    use std::io::Write;
    let mut f = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("launch log");
    f.write_all(line.as_bytes()).expect("launch log");
}

/// The result of a run whose outputs live in `dir`.
struct Run {
    dir: PathBuf,
    code: i32,
    stdout: String,
    stderr: String,
}

fn cache_root() -> PathBuf {
    let root = std::env::var_os("IMGPREP_PREPARED_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/imgprep/prepared")
        });
    fs_err::create_dir_all(&root).expect("cache directory");
    root
}

/// What identifies `args`: each argument, or the content hash of the file it names.
fn key_of(tool: &str, args: &[OsString]) -> String {
    let mut h = Sha256::new();
    h.update(tool.as_bytes());
    for a in args {
        let p = Path::new(a);
        let part = if p.is_file() {
            sha256_file(p)
        } else {
            a.to_string_lossy().into_owned()
        };
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())[..20].to_owned()
}

/// Runs `make(dir)` in a fresh directory unless a successful run (exit 0 or 1) with the same key
/// is cached; failed runs are not kept.
fn cached(name: &str, key: &str, make: impl FnOnce(&Path) -> Output) -> Run {
    // Tests of this file that need the same run wait for the first one to make it.
    static LOCKS: Mutex<BTreeMap<String, Arc<Mutex<()>>>> = Mutex::new(BTreeMap::new());
    let lock = LOCKS
        .lock()
        .unwrap()
        .entry(key.to_owned())
        .or_default()
        .clone();
    let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
    let root = cache_root();
    let dir = root.join(format!("{name}-{key}"));
    if !dir.join("code").is_file() {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}-"))
            .tempdir_in(&root)
            .expect("temporary directory");
        let out = make(tmp.path());
        let code = out.status.code().unwrap_or(-1);
        fs_err::write(tmp.path().join("stdout"), &out.stdout).unwrap();
        fs_err::write(tmp.path().join("stderr"), &out.stderr).unwrap();
        fs_err::write(tmp.path().join("code"), code.to_string()).unwrap();
        if code != 0 && code != 1 {
            return Run {
                dir: tmp.path().to_owned(),
                code,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            };
        }
        let kept = tmp.keep();
        if fs_err::rename(&kept, &dir).is_err() {
            // Another test process stored the same run first.
            let _ = fs_err::remove_dir_all(&kept);
        }
        // Runs of an older binary or older inputs are not needed again: keep the newest only.
        let stale = fs_err::read_dir(&root).into_iter().flatten().flatten();
        for e in stale {
            let n = e.file_name().to_string_lossy().into_owned();
            if n != format!("{name}-{key}")
                && n.strip_prefix(&format!("{name}-")).is_some_and(|k| {
                    k.len() == key.len() && k.bytes().all(|b| b.is_ascii_hexdigit())
                })
            {
                let _ = fs_err::remove_dir_all(e.path());
            }
        }
    }
    let read = |f: &str| fs_err::read_to_string(dir.join(f)).expect("cached run");
    Run {
        code: read("code").trim().parse().expect("exit code"),
        stdout: read("stdout"),
        stderr: read("stderr"),
        dir,
    }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn p(path: &Path) -> OsString {
    path.as_os_str().to_owned()
}

/// `imgprep ARGS` with its launch log redirected to `log` (to count this run's launches).
fn imgprep_logged(args: &[OsString], log: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .env("IMGPREP_GUESTFS_LAUNCH_LOG", log)
        .output()
        .expect("imgprep runs")
}

/// The launches recorded in a test's own `log`, also added to the suite's launch log so that
/// they are counted with the others.
fn launches(log: &Path) -> usize {
    let text = fs_err::read_to_string(log).unwrap_or_default();
    if let Some(all) = std::env::var_os("IMGPREP_GUESTFS_LAUNCH_LOG") {
        use std::io::Write;
        let mut f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(all)
            .expect("launch log");
        f.write_all(text.as_bytes()).expect("launch log");
        let _ = fs_err::write(log, "");
    }
    text.lines().count()
}

fn shown(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `imgprep prepare INPUT ARGS -o DIR/out.qcow2`, cached.
fn prepared(name: &str, input: &Path, args: &[OsString]) -> (Run, PathBuf) {
    let mut all = vec![OsString::from("prepare"), p(input)];
    all.extend(args.iter().cloned());
    let key = key_of(binary_hash(), &all);
    let run = cached(name, &key, |dir| {
        let mut a = all.clone();
        a.extend([OsString::from("-o"), p(&dir.join("out.qcow2"))]);
        Command::new(bin()).args(&a).output().expect("imgprep runs")
    });
    assert!(
        run.code == 0 || run.code == 1,
        "{name}: prepare failed (exit {})\nstdout:\n{}\nstderr:\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    let out = run.dir.join("out.qcow2");
    (run, out)
}

/// A worker bundle as `imgprep bundle worker` writes it: two files, a service and an account.
fn worker_bundle(dir: &Path) -> PathBuf {
    let src = dir.join("worker-src");
    fs_err::create_dir_all(src.join("bin")).unwrap();
    fs_err::create_dir_all(src.join("etc")).unwrap();
    fs_err::write(
        src.join("bin/worker"),
        "#!/bin/sh\n. /usr/local/osmosix/etc/userenv\nexec sleep infinity\n",
    )
    .unwrap();
    fs_err::write(
        src.join("etc/userenv"),
        "export CLIQR_HOME=/usr/local/osmosix\nexport CLIQR_CLOUD=openstack\n",
    )
    .unwrap();
    let file = |path: &str, mode| SourceFile {
        path: path.into(),
        kind: FileKind::File,
        mode,
        uid: 0,
        gid: 0,
        source: Some(src.join(path)),
        target: None,
    };
    let dir_entry = |path: &str| SourceFile {
        path: path.into(),
        kind: FileKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        source: None,
        target: None,
    };
    let manifest = Manifest {
        format: 1,
        kind: Kind::Worker,
        name: "cloudcenter-worker".into(),
        version: "4.10.0".into(),
        prefix: PREFIX.into(),
        target: None,
        files: Vec::new(),
        service: Some(Service {
            name: "cliqr-agent".into(),
            exec: format!("{PREFIX}/bin/worker"),
            description: Some("CloudCenter management agent".into()),
            user: Some("cliqruser".into()),
        }),
        user: Some("cliqruser".into()),
        installer: None,
        build: serde_json::Map::new(),
    };
    let out = dir.join("worker.tar.gz");
    write_bundle(
        &out,
        &manifest,
        &[
            dir_entry("bin"),
            dir_entry("etc"),
            file("bin/worker", 0o755),
            file("etc/userenv", 0o644),
        ],
        1_700_000_000,
    )
    .expect("bundle");
    out
}

/// The Debian fixture's arguments: the worker, its two packages and the bundle store's CA.
fn debian_args(fx: &Path, bundle: &Path) -> Vec<OsString> {
    let mut a = os(&["--profile", PROFILE, "--cloud", "openstack", "--worker"]);
    a.push(p(bundle));
    for deb in [
        "net-tools_2.10-0.1+deb12u2_amd64.deb",
        "libssl-dev_3.0.20-1~deb12u2_amd64.deb",
    ] {
        a.push("--package".into());
        a.push(p(&fx.join("packages").join(deb)));
    }
    a.push("--param".into());
    a.push(format!("ca={}", fx.join("ca.pem").display()).into());
    a
}

/// The first OS of `image`, read natively (`allow`: directories backing files may be in).
fn guest(image: &Path, allow: &[PathBuf]) -> imgprep_inspect::Root {
    let img = Image::open_allowing(&[image], allow).expect("image opens");
    let (mut roots, notes) =
        imgprep_inspect::inspect_roots(&img, imgprep_inspect::Options::default());
    assert!(!roots.is_empty(), "{}: no OS ({notes:?})", image.display());
    roots.remove(0)
}

/// (type, mode, uid, gid, sha256 of the content or the link target) of `path`, natively.
fn native_stat(g: &dyn Guest, path: &str) -> Option<(String, u32, u32, u32, String)> {
    let m = g.lstat(path).expect("lstat")?;
    let (kind, what) = match m.kind {
        imgprep_fs::FileKind::File => (
            "file",
            hex(&Sha256::digest(g.read_file(path, 64 << 20).expect("read"))),
        ),
        imgprep_fs::FileKind::Dir => ("dir", String::new()),
        imgprep_fs::FileKind::Symlink => (
            "link",
            String::from_utf8_lossy(&g.read_link(path).expect("readlink")).into_owned(),
        ),
        _ => ("other", String::new()),
    };
    Some((kind.into(), m.mode & 0o7777, m.uid, m.gid, what))
}

/// Check results of `image` as a map rule → status.
fn statuses(image: &Path, profile: &str, more: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec![OsString::from("check"), p(image)];
    args.extend(os(&["--profile", profile, "--format", "json"]));
    args.extend(os(more));
    let out = common::imgprep(&args);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check report: {e}\n{}", shown(&out)));
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Every guest path the plan writes, links or creates (the bundle's members included).
fn written_paths(plan: &Value, bundle_files: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for step in plan["steps"].as_array().expect("steps") {
        for op in step["operations"].as_array().expect("operations") {
            let path = op["path"].as_str().unwrap_or_default();
            match op["op"].as_str() {
                Some("write" | "mkdir" | "symlink") => v.push(path.to_owned()),
                Some("unpack") => v.extend(bundle_files.iter().map(|f| format!("{path}/{f}"))),
                _ => {}
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

fn plan_json(input: &Path, args: &[OsString]) -> Value {
    let mut a = vec![OsString::from("prepare"), p(input)];
    a.extend(args.iter().cloned());
    a.extend(os(&["--dry-run", "--format", "json"]));
    let out = common::imgprep(&a);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("plan: {e}\n{}", shown(&out)))
}

#[test]
fn debian_plan_is_computed_natively_and_launches_nothing() {
    let fx = fixture("prepare-debian");
    let input = fx.join("prepare-debian.qcow2");
    let tmp = tempfile::tempdir().unwrap();
    let bundle = worker_bundle(tmp.path());
    let log = tmp.path().join("launches.log");
    let mut args = vec![OsString::from("prepare"), p(&input)];
    args.extend(debian_args(&fx, &bundle));
    args.extend(os(&["--dry-run", "--format", "json"]));
    let started = Instant::now();
    let out = imgprep_logged(&args, &log);
    let took = started.elapsed();
    // cloud-init has no package given: it stays failing, so the exit status is 1.
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(launches(&log), 0, "a dry run launched the appliance");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    for want in [
        "install-package:packages",
        "inject-worker",
        "scoped-umask",
        "install-ca",
        "finish",
    ] {
        assert!(
            actions
                .iter()
                .any(|a| a.starts_with(want.trim_end_matches(":packages"))),
            "no {want} step in {actions:?}"
        );
    }
    let mut left: Vec<&str> = plan["left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rule"].as_str().unwrap())
        .collect();
    left.sort_unstable();
    // Whether OpenStack can bootstrap the agent is the cloud's business (a warning, no fix).
    assert_eq!(
        left,
        ["bootstrap.supported", "cloud-init.present"],
        "{plan:#}"
    );
    let text = serde_json::to_string(&plan).unwrap();
    // The account's ids come from login.defs and passwd; the unit carries the scoped umask.
    assert!(text.contains("cliqruser:x:1000:1000:"), "{text}");
    assert!(
        text.contains("UMask=0022"),
        "no UMask=0022 in the service unit"
    );
    assert!(text.contains("/etc/systemd/system/multi-user.target.wants/cliqr-agent.service"));
    // The hardened system umask stays: only the account's startup file changes.
    for untouched in [
        "\"/etc/login.defs\"",
        "\"/etc/profile\"",
        "\"/etc/bash.bashrc\"",
    ] {
        assert!(!text.contains(untouched), "the plan writes {untouched}");
    }
    // The same plan, as the virt-customize command line users know.
    let mut vc = args.clone();
    vc.truncate(vc.len() - 1);
    vc.push("virt-customize".into());
    let out = imgprep_logged(&vc, &log);
    let cmd = String::from_utf8_lossy(&out.stdout);
    assert!(cmd.starts_with("virt-customize \\\n  -a \\\n"), "{cmd}");
    assert!(cmd.contains("--no-network"));
    assert!(cmd.contains("/usr/sbin/visudo -c"));
    assert_eq!(launches(&log), 0);
    eprintln!("dry run: {:.0} ms", took.as_secs_f64() * 1000.0);
}

/// The Debian fixture prepared with the worker, its packages and the CA, once (cached).
fn debian_prepared() -> (PathBuf, PathBuf, Run, PathBuf, Value) {
    let fx = fixture("prepare-debian");
    let input = fx.join("prepare-debian.qcow2");
    let work = cache_root().join("inputs");
    fs_err::create_dir_all(&work).unwrap();
    let tmp = tempfile::tempdir_in(&work).unwrap();
    let bundle = worker_bundle(tmp.path());
    let args = debian_args(&fx, &bundle);
    let plan = plan_json(&input, &args);
    let (run, out) = prepared("debian", &input, &args);
    let stable = work.join(format!("worker-{}.tar.gz", &sha256_file(&bundle)[..12]));
    if !stable.exists() {
        fs_err::copy(&bundle, &stable).unwrap();
    }
    (input, stable, run, out, plan)
}

#[test]
fn debian_prepare_fixes_every_rule_it_planned_and_leaves_the_input_alone() {
    let fx = fixture("prepare-debian");
    let before_sha = sha256_file(&fx.join("prepare-debian.qcow2"));
    let (input, bundle, run, out, _plan) = debian_prepared();
    assert_eq!(
        run.code, 1,
        "cloud-init stays failing\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(out.is_file(), "no output");
    assert_eq!(sha256_file(&input), before_sha, "the input changed");
    let fixed = [
        "agent.present",
        "net-tools.present",
        "openssl-devel.present",
        "umask.login",
        "certificates.bundle-store",
    ];
    for rule in fixed {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains(rule) && l.contains("fail → pass")),
            "no `{rule} … fail → pass` in\n{}",
            run.stdout
        );
    }
    let ca = format!("ca={}", fx.join("ca.pem").display());
    let more = ["--cloud", "openstack", "--param", ca.as_str()];
    let before = statuses(&input, PROFILE, &more);
    let after = statuses(&out, PROFILE, &more);
    for rule in fixed {
        assert_eq!(before[rule], "fail", "{rule} before");
        assert_eq!(after[rule], "pass", "{rule} after");
    }
    // The account did not exist: the rule skipped; now it passes.
    assert_eq!(before["worker.user-privileges"], "skip");
    assert_eq!(after["worker.user-privileges"], "pass");
    assert_eq!(after["cloud-init.present"], "fail");

    let gi = guest(&input, &[]);
    let go = guest(&out, &[]);
    let (gi, go): (&dyn Guest, &dyn Guest) = (&gi.guest, &go.guest);
    // Hardening stays as it was: the umask fix is scoped to the agent.
    for f in ["/etc/login.defs", "/etc/profile", "/etc/bash.bashrc"] {
        assert_eq!(
            gi.read_file(f, 1 << 20).unwrap(),
            go.read_file(f, 1 << 20).unwrap(),
            "{f} changed"
        );
    }
    let unit = String::from_utf8(
        go.read_file("/etc/systemd/system/cliqr-agent.service", 1 << 20)
            .unwrap(),
    )
    .unwrap();
    assert!(unit.contains("UMask=0022"), "{unit}");
    assert!(unit.contains("User=cliqruser"), "{unit}");
    assert!(
        unit.contains(&format!("ExecStart={PREFIX}/bin/worker")),
        "{unit}"
    );
    let wants = "/etc/systemd/system/multi-user.target.wants/cliqr-agent.service";
    assert_eq!(
        go.read_link(wants).unwrap(),
        b"/etc/systemd/system/cliqr-agent.service"
    );
    let (kind, mode, uid, gid, _) = native_stat(go, "/etc/sudoers.d/cliqruser").unwrap();
    assert_eq!((kind.as_str(), mode, uid, gid), ("file", 0o440, 0, 0));
    let (_, mode, uid, gid, _) = native_stat(go, "/home/cliqruser").unwrap();
    assert_eq!((mode, uid, gid), (0o700, 1000, 1000));
    let env = go
        .read_file(&format!("{PREFIX}/etc/userenv"), 1 << 20)
        .unwrap();
    assert!(env.starts_with(b"export CLIQR_HOME="));
    let (_, mode, ..) = native_stat(go, &format!("{PREFIX}/bin/worker")).unwrap();
    assert_eq!(mode, 0o755);
    // The guest's own update-ca-certificates ran in the appliance: the hash link exists.
    let certs = go.read_dir("/etc/ssl/certs").unwrap();
    assert!(
        certs.iter().any(|e| e.name.ends_with(b".0") && {
            let t = go
                .read_link(&format!(
                    "/etc/ssl/certs/{}",
                    String::from_utf8_lossy(&e.name)
                ))
                .unwrap_or_default();
            t.ends_with(b"imgprep-bundle-store-ca.pem")
        }),
        "no hash link to the new anchor"
    );
    // dpkg in the appliance recorded the packages.
    let status =
        String::from_utf8(go.read_file("/var/lib/dpkg/status", 64 << 20).unwrap()).unwrap();
    assert!(status.contains("Package: net-tools\nStatus: install ok installed"));
    drop(bundle);
}

#[test]
fn debian_prepare_again_plans_nothing_and_launches_nothing() {
    let fx = fixture("prepare-debian");
    let (_, bundle, run, out, _) = debian_prepared();
    assert!(run.code == 0 || run.code == 1);
    // --in-place on an overlay of the prepared image (the cached output stays as it is).
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("top.qcow2");
    let st = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(&out)
        .arg(&top)
        .status()
        .unwrap();
    assert!(st.success());
    let top_sha = sha256_file(&top);
    let log = tmp.path().join("launches.log");
    let mut args = vec![OsString::from("prepare"), p(&top)];
    args.extend(debian_args(&fx, &bundle));
    args.extend(os(&["--in-place", "--allow-backing"]));
    args.push(p(out.parent().unwrap()));
    let started = Instant::now();
    let o = imgprep_logged(&args, &log);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("nothing to change"), "{stdout}");
    assert_eq!(launches(&log), 0);
    assert_eq!(sha256_file(&top), top_sha);
    eprintln!("idempotent run: {:.0} ms", took.as_secs_f64() * 1000.0);
}

/// Runs guestfish (one launch) on `image` with `script`, read-only.
fn guestfish(image: &Path, root_dev: &str, script: &str) -> String {
    let started = SystemTime::now();
    let t = Instant::now();
    let mut child = Command::new("guestfish")
        .args(["--ro", "-a"])
        .arg(image)
        .args(["-m", root_dev])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("guestfish runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    log_foreign_launch(started, t.elapsed(), out.status.success(), "guestfish");
    assert!(out.status.success(), "guestfish: {}", shown(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn debian_written_files_read_the_same_through_guestfish_and_match_virt_customize() {
    let fx = fixture("prepare-debian");
    let (input, bundle, _run, out, _) = debian_prepared();
    let args = debian_args(&fx, &bundle);
    let plan = plan_json(&input, &args);
    let paths = written_paths(&plan, &["bin", "etc", "bin/worker", "etc/userenv"]);
    assert!(paths.len() > 10, "{paths:?}");
    let go = guest(&out, &[]);
    let root_dev = go
        .os
        .mountpoints
        .iter()
        .find(|m| m.path == "/")
        .map(|m| m.dev.clone())
        .expect("root device");

    // guestfish, in one launch: type, mode, owner and content of every written path.
    let mut script = String::new();
    for path in &paths {
        let (kind, ..) =
            native_stat(&go.guest, path).unwrap_or_else(|| panic!("{path} missing natively"));
        script.push_str(&format!("echo @@ {path}\nlstatns \"{path}\"\n"));
        if kind == "file" {
            script.push_str(&format!("echo @sha256\nchecksum sha256 \"{path}\"\n"));
        }
        if kind == "link" {
            script.push_str(&format!("echo @target\nreadlink \"{path}\"\n"));
        }
    }
    let text = guestfish(&out, &root_dev, &script);
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cur = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(pth) = line.strip_prefix("@@ ") {
            cur = pth.to_owned();
        } else if let Some(name) = line.strip_prefix('@') {
            let value = lines.next().unwrap_or_default();
            by_path
                .entry(cur.clone())
                .or_default()
                .push(format!("{name}: {value}"));
        } else {
            by_path
                .entry(cur.clone())
                .or_default()
                .push(line.to_owned());
        }
    }
    let field = |lines: &[String], name: &str| -> String {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
            .trim()
            .to_owned()
    };
    for path in &paths {
        let lines = &by_path[path];
        let (kind, mode, uid, gid, what) = native_stat(&go.guest, path).unwrap();
        let num = |n: &str| field(lines, n).parse::<u64>().unwrap() as u32;
        assert_eq!(num("st_mode") & 0o7777, mode, "{path} mode");
        assert_eq!(num("st_uid"), uid, "{path} uid");
        assert_eq!(num("st_gid"), gid, "{path} gid");
        match kind.as_str() {
            "file" => assert_eq!(field(lines, "sha256"), what, "{path} content"),
            "link" => assert_eq!(field(lines, "target"), what, "{path} target"),
            _ => {}
        }
    }

    // virt-customize, run with the plan printed by --format virt-customize on an overlay of the
    // input, writes the same files with the same modes, owners and link targets.
    let vc_key = key_of(binary_hash(), &{
        let mut a = vec![OsString::from("virt-customize"), p(&input)];
        a.extend(args.iter().cloned());
        a
    });
    let vc = cached("virt-customize", &vc_key, |dir| {
        let top = dir.join("vc.qcow2");
        let st = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
            .arg(&input)
            .arg(&top)
            .status()
            .unwrap();
        assert!(st.success());
        let mut a = vec![OsString::from("prepare"), p(&top)];
        a.extend(args.iter().cloned());
        a.extend(os(&["--allow-backing"]));
        a.push(p(input.parent().unwrap()));
        a.extend(os(&["--dry-run", "--format", "virt-customize"]));
        let cmd = common::imgprep(&a);
        let started = SystemTime::now();
        let t = Instant::now();
        let out = Command::new("sh")
            .arg("-c")
            .arg(String::from_utf8(cmd.stdout).unwrap())
            .output()
            .expect("virt-customize runs");
        log_foreign_launch(started, t.elapsed(), out.status.success(), "virt-customize");
        out
    });
    assert_eq!(vc.code, 0, "virt-customize:\n{}\n{}", vc.stdout, vc.stderr);
    let gv = guest(
        &vc.dir.join("vc.qcow2"),
        &[input.parent().unwrap().to_owned()],
    );
    for path in &paths {
        let ours = native_stat(&go.guest, path);
        let theirs = native_stat(&gv.guest, path);
        assert_eq!(ours, theirs, "{path}: imgprep vs virt-customize");
    }
}

/// The bundle store's CA for the Windows runs: a real root CA (tests/data/ca).
fn windows_ca() -> PathBuf {
    common::repo().join("tests/data/ca/ISRG_Root_X1.crt")
}

/// Where the first-boot service's programs come from (the Debian package rhsrvany).
const VIRT_TOOLS: &str = "/usr/share/virt-tools";

/// A Windows worker bundle as `imgprep bundle worker --installer` writes it: an MSI (its bytes do
/// not matter here: it runs only when the guest boots) and a configuration file, installed under
/// C:\Program Files\CliQr, the installer declared with the properties it is run with.
fn windows_worker_bundle(dir: &Path) -> PathBuf {
    let src = dir.join("win-worker-src");
    fs_err::create_dir_all(&src).unwrap();
    fs_err::write(src.join("agent.msi"), b"\xd0\xcf\x11\xe0 not a real MSI\n").unwrap();
    fs_err::write(src.join("agent.conf"), "server=bundle-store.example\r\n").unwrap();
    let file = |path: &str| SourceFile {
        path: path.into(),
        kind: FileKind::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        source: Some(src.join(path)),
        target: None,
    };
    let manifest = Manifest {
        format: 1,
        kind: Kind::Worker,
        name: "cloudcenter-worker".into(),
        version: "4.10.0".into(),
        prefix: "/Program Files/CliQr".into(),
        target: None,
        files: Vec::new(),
        service: None,
        user: None,
        installer: Some(imgprep_bundle::Installer {
            path: "agent.msi".into(),
            args: Some("SERVER=bundle-store.example".into()),
        }),
        build: serde_json::Map::new(),
    };
    let out = dir.join("win-worker.tar.gz");
    write_bundle(
        &out,
        &manifest,
        &[file("agent.conf"), file("agent.msi")],
        1_700_000_000,
    )
    .expect("bundle");
    out
}

/// The cloudcenter-worker arguments for the Windows fixture: the worker and the CA.
fn windows_args(bundle: &Path) -> Vec<OsString> {
    let mut a = os(&["--profile", PROFILE, "--worker"]);
    a.push(p(bundle));
    a.push("--param".into());
    a.push(format!("ca={}", windows_ca().display()).into());
    a
}

#[test]
fn windows_worker_and_ca_plan_is_computed_natively_and_launches_nothing() {
    let fx = fixture("windows-2016-noipv6");
    let input = fx.join("win2016-noipv6.qcow2");
    let tmp = tempfile::tempdir().unwrap();
    let bundle = windows_worker_bundle(tmp.path());
    let args = windows_args(&bundle);
    let plan = plan_json(&input, &args);
    let step = |action: &str| -> &Value {
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["action"] == action)
            .unwrap_or_else(|| panic!("no {action} step in {plan:#}"))
    };
    let ops =
        |action: &str| -> Vec<Value> { step(action)["operations"].as_array().unwrap().clone() };
    // The worker: the first-boot service, its programs, the bundle and the script.
    let worker = ops("inject-worker");
    let has = |op: &str, path: &str| {
        worker
            .iter()
            .any(|o| o["op"] == op && o["path"].as_str() == Some(path))
    };
    let fb = "/Program Files/Guestfs/Firstboot";
    assert!(has("write", &format!("{fb}/firstboot.bat")), "{worker:#?}");
    assert!(has("upload", &format!("{fb}/rhsrvany.exe")), "{worker:#?}");
    assert!(has("upload", &format!("{fb}/pnp_wait.exe")), "{worker:#?}");
    assert!(has("unpack", "/Program Files/CliQr"), "{worker:#?}");
    let script = format!("{fb}/scripts/0001-install-cloudcenter-worker.bat");
    assert!(has("write", &script), "{worker:#?}");
    let regs: Vec<String> = worker
        .iter()
        .filter(|o| o["op"] == "registry-set")
        .map(|o| {
            format!(
                "{}\\{}",
                o["key"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        regs,
        [
            r"ControlSet001\Services\firstboot\Type",
            r"ControlSet001\Services\firstboot\Start",
            r"ControlSet001\Services\firstboot\ErrorControl",
            r"ControlSet001\Services\firstboot\ImagePath",
            r"ControlSet001\Services\firstboot\DisplayName",
            r"ControlSet001\Services\firstboot\ObjectName",
            r"ControlSet001\Services\firstboot\Parameters\CommandLine",
            r"ControlSet001\Services\firstboot\Parameters\PWD",
        ]
    );
    let text = worker
        .iter()
        .find(|o| o["path"].as_str() == Some(script.as_str()))
        .and_then(|o| o["content"].as_str())
        .unwrap();
    assert!(
        text.contains(
            "\r\nmsiexec.exe /i \"C:\\Program Files\\CliQr\\agent.msi\" /qn /norestart /l*v \
             \"C:\\Program Files\\CliQr\\agent.msi.log\" SERVER=bundle-store.example\r\n"
        ),
        "{text:?}"
    );
    // The CA: one Blob in the machine ROOT store, named by the thumbprint openssl prints.
    let fingerprint = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(windows_ca())
        .output()
        .expect("openssl runs");
    let thumb = String::from_utf8(fingerprint.stdout)
        .unwrap()
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "");
    assert_eq!(thumb.len(), 40);
    let ca = ops("install-ca");
    assert_eq!(ca.len(), 1, "{ca:#?}");
    assert_eq!(
        ca[0]["key"].as_str().unwrap(),
        format!(r"Microsoft\SystemCertificates\ROOT\Certificates\{thumb}")
    );
    assert_eq!(ca[0]["name"], "Blob");

    // The same plan for virt-customize users: what it can do, and what it cannot, said.
    let mut a = vec![OsString::from("prepare"), p(&input)];
    a.extend(args.iter().cloned());
    a.extend(os(&["--dry-run", "--format", "virt-customize"]));
    let vc = common::imgprep_ok(&a, 0);
    for want in [
        "--firstboot-command \\\n  'msiexec.exe /i \"C:\\Program Files\\CliQr\\agent.msi\"",
        &format!("--upload \\\n  '{VIRT_TOOLS}/pnp_wait.exe:{fb}/pnp_wait.exe'"),
        "is what --firstboot-command installs",
        "no virt-customize option unpacks an archive into a Windows guest",
        &format!(r"ROOT\Certificates\{thumb}\Blob = 1435 bytes of binary data (no virt-customize"),
    ] {
        assert!(vc.contains(want), "{want}\nnot in:\n{vc}");
    }
    assert!(
        !vc.contains("rhsrvany.exe:"),
        "virt-customize uploads it itself:\n{vc}"
    );
    assert!(
        !vc.contains("chown"),
        "no command runs in a Windows guest:\n{vc}"
    );

    // Without rhsrvany on the host, the rule stays failing with the reason.
    let mut a = vec![OsString::from("prepare"), p(&input)];
    a.extend(args.iter().cloned());
    a.extend(os(&["--dry-run", "--format", "json"]));
    let out = Command::new(bin())
        .args(&a)
        .env("VIRT_TOOLS_DATA_DIR", tmp.path().join("no-such-dir"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_left(&plan, "agent.present", "install the rhsrvany package");
    assert!(
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] != "inject-worker")
    );

    // A plain tar.gz holding one installer (an .exe, its switches given as a parameter) unpacks
    // into the first-boot directory; without switches the rule stays failing; with two
    // installers, or a destination the guest spells otherwise, nothing is planned (exit 2, one
    // line).
    let plain = |name: &str, files: &[&str]| {
        raw_bundle(tmp.path(), name, |b| {
            for f in files {
                let mut h = tar::Header::new_gnu();
                h.set_size(2);
                h.set_mode(0o644);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                b.append_data(&mut h, f, &b"MZ"[..]).unwrap();
            }
        })
    };
    let run = |bundle: &Path, more: &[&str]| {
        let mut a = vec![OsString::from("prepare"), p(&input)];
        a.extend(os(&[
            "--profile",
            PROFILE,
            "--only",
            "agent.present",
            "--worker",
        ]));
        a.push(p(bundle));
        a.extend(os(more));
        a.extend(os(&["--dry-run", "--format", "json"]));
        common::imgprep(&a)
    };
    let one = plain("one.tar.gz", &["setup.exe", "readme.txt"]);
    // (Exit 1: cloudbase-init.userdata, not selected, still fails.)
    let out = run(&one, &["--param", r"agent_install_args=/S /D=C:\Agent"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops: Vec<Value> = plan["steps"][0]["operations"].as_array().unwrap().clone();
    assert!(
        ops.iter()
            .any(|o| o["op"] == "unpack" && o["path"] == format!("{fb}/agent")),
        "{plan:#}"
    );
    assert!(
        ops.iter().any(|o| o["content"].as_str().is_some_and(|c| c
            .contains(r#""C:\Program Files\Guestfs\Firstboot\agent\setup.exe" /S /D=C:\Agent"#))),
        "{plan:#}"
    );
    let out = run(&one, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan["steps"].as_array().unwrap().is_empty(), "{plan:#}");
    assert_left(&plan, "agent.present", "needs its silent-install switches");
    let two = plain("two.tar.gz", &["a.msi", "b.ps1"]);
    let out = run(&two, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 installers (a.msi, b.ps1)"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = run(&one, &["--param", "agent_dest=/program files/Agent"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("which the guest spells /Program Files/Agent"),
        "{err}"
    );
}

/// `"Name"=TYPE:DATA` lines of `hivexregedit --export` for one key, as (type, bytes) by name.
fn reg_export(hive: &Path, key: &str) -> BTreeMap<String, (u32, Vec<u8>)> {
    let out = Command::new("hivexregedit")
        .args(["--export", "--prefix", "HKEY_LOCAL_MACHINE\\X"])
        .arg(hive)
        .arg(key)
        .output()
        .expect("hivexregedit runs");
    assert!(out.status.success(), "hivexregedit: {}", shown(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let header = format!("[HKEY_LOCAL_MACHINE\\X\\{key}]");
    let mut values = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with('[') {
            inside = line == header;
            continue;
        }
        let Some((name, data)) = line.split_once("\"=").filter(|_| inside) else {
            continue;
        };
        let name = name.trim_start_matches('"').to_owned();
        let hex = |h: &str| -> Vec<u8> {
            h.split(',')
                .filter(|b| !b.is_empty())
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect()
        };
        let v = if let Some(d) = data.strip_prefix("dword:") {
            (
                4,
                u32::from_str_radix(d, 16).unwrap().to_le_bytes().to_vec(),
            )
        } else if let Some(h) = data.strip_prefix("hex:") {
            (3, hex(h))
        } else if let Some(rest) = data.strip_prefix("hex(") {
            let (ty, h) = rest.split_once("):").unwrap();
            (u32::from_str_radix(ty, 16).unwrap(), hex(h))
        } else {
            panic!("{line}: a form this test does not read");
        };
        values.insert(name, v);
    }
    values
}

/// The values of `key` in the guest's hive `name`, read natively: (type, bytes) by name.
fn native_values(g: &dyn Guest, name: &str, key: &str) -> BTreeMap<String, (u32, Vec<u8>)> {
    let (_, hive) = imgprep_sysconf::registry::open(g, "/Windows", name).expect("hive");
    let k = hive
        .open(key)
        .expect("key")
        .unwrap_or_else(|| panic!("no key {key}"));
    k.values()
        .unwrap()
        .iter()
        .map(|v| (v.name(), (v.ty(), v.bytes().unwrap())))
        .collect()
}

#[test]
fn windows_registry_worker_ca_and_cloudbase_init_fixed_in_one_launch_each() {
    let fx = fixture("windows-2016-noipv6");
    let input = fx.join("win2016-noipv6.qcow2");
    let before_sha = sha256_file(&input);
    let (run, out) = prepared(
        "win-ipv6",
        &input,
        &os(&["--profile", "rackspace-nova-agent"]),
    );
    // The look-alike has no XenServer tools, which prepare cannot install: that rule still
    // fails, so the exit status is 1.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let after = statuses(&out, "rackspace-nova-agent", &[]);
    assert_eq!(after["windows.ipv6"], "pass");
    assert_eq!(after["xe-tools.enabled"], "fail");
    // The second profile's fixes on top of the first one's output: the worker through the
    // first-boot service, the CA, and cloudbase-init, in one launch.
    let tmp = tempfile::tempdir().unwrap();
    let bundle = windows_worker_bundle(tmp.path());
    let args = windows_args(&bundle);
    let (run2, out2) = prepared("win-worker", &out, &args);
    assert_eq!(run2.code, 0, "{}\n{}", run2.stdout, run2.stderr);
    for rule in [
        "cloudbase-init.userdata",
        "agent.present",
        "certificates.bundle-store",
    ] {
        assert!(run2.stdout.contains(rule), "{}", run2.stdout);
    }
    let ca_param = format!("ca={}", windows_ca().display());
    let report = common::imgprep_ok(
        [
            OsString::from("check"),
            p(&out2),
            "--profile".into(),
            PROFILE.into(),
            "--param".into(),
            ca_param.clone().into(),
            "--format".into(),
            "json".into(),
        ],
        0,
    );
    let report: Value = serde_json::from_str(&report).unwrap();
    let result = |rule: &str| -> Value {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == rule)
            .unwrap()
            .clone()
    };
    assert_eq!(result("cloudbase-init.userdata")["status"], "pass");
    assert_eq!(result("certificates.bundle-store")["status"], "pass");
    let agent = result("agent.present");
    assert_eq!(agent["status"], "pass", "{agent:#}");
    assert!(
        agent["message"]
            .as_str()
            .unwrap()
            .contains("pending first-boot install"),
        "{agent:#}"
    );
    let fb = "/Program Files/Guestfs/Firstboot";
    let script = format!("{fb}/scripts/0001-install-cloudcenter-worker.bat");
    let evidence: Vec<&str> = agent["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        evidence,
        [
            script.as_str(),
            "/Program Files/CliQr/agent.msi",
            r"registry:SYSTEM\ControlSet001\Services\firstboot",
            &format!("{fb}/firstboot.bat"),
        ]
    );
    assert_eq!(
        statuses(&out2, "rackspace-nova-agent", &[])["windows.ipv6"],
        "pass"
    );
    // Prepared already: nothing more to plan.
    let again = plan_json(&out2, &args);
    assert_eq!(again["steps"].as_array().unwrap().len(), 0, "{again:#}");
    // Only the plugins line of cloudbase-init.conf changed.
    let gi = guest(&input, &[]);
    let go = guest(&out2, &[]);
    let conf = "/Program Files/Cloudbase Solutions/Cloudbase-Init/conf/cloudbase-init.conf";
    let a = String::from_utf8(gi.guest.read_file(conf, 1 << 20).unwrap()).unwrap();
    let b = String::from_utf8(go.guest.read_file(conf, 1 << 20).unwrap()).unwrap();
    let diff: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(a.lines().count(), b.lines().count());
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert!(diff[0].1.contains("UserDataPlugin") && !diff[0].0.contains("UserDataPlugin"));
    assert_eq!(sha256_file(&input), before_sha, "the input changed");

    // Through libguestfs (one read-only launch, cached with the output it read): the hives as
    // hivexregedit exports them, and the checksums of the files written.
    let host_files: Vec<(String, PathBuf)> = vec![
        (
            format!("{fb}/rhsrvany.exe"),
            Path::new(VIRT_TOOLS).join("rhsrvany.exe"),
        ),
        (
            format!("{fb}/pnp_wait.exe"),
            Path::new(VIRT_TOOLS).join("pnp_wait.exe"),
        ),
        (
            "/Program Files/CliQr/agent.msi".into(),
            tmp.path().join("win-worker-src/agent.msi"),
        ),
        (
            "/Program Files/CliQr/agent.conf".into(),
            tmp.path().join("win-worker-src/agent.conf"),
        ),
    ];
    let written: Vec<String> = host_files
        .iter()
        .map(|(g, _)| g.clone())
        .chain([script.clone(), format!("{fb}/firstboot.bat")])
        .collect();
    let root_dev = go.os.root.clone();
    let mut fish = String::new();
    for path in &written {
        fish.push_str(&format!("echo @@ {path}\nchecksum sha256 \"{path}\"\n"));
    }
    let key = key_of(binary_hash(), &[p(&out2), fish.clone().into()]);
    let lg = cached("win-guestfish", &key, |dir| {
        let mut s = fish.clone();
        for hive in ["SYSTEM", "SOFTWARE"] {
            s.push_str(&format!(
                "download /Windows/System32/config/{hive} {}\n",
                dir.join(hive).display()
            ));
        }
        let text = guestfish(&out2, &root_dev, &s);
        Output {
            status: std::process::ExitStatus::default(),
            stdout: text.into_bytes(),
            stderr: Vec::new(),
        }
    });
    let mut sums: BTreeMap<String, String> = BTreeMap::new();
    let mut lines = lg.stdout.lines();
    while let Some(l) = lines.next() {
        if let Some(path) = l.strip_prefix("@@ ") {
            sums.insert(path.to_owned(), lines.next().unwrap().trim().to_owned());
        }
    }
    for path in &written {
        let native = hex(&Sha256::digest(go.guest.read_file(path, 64 << 20).unwrap()));
        assert_eq!(sums[path], native, "{path}: guestfish vs native");
    }
    for (path, host) in &host_files {
        assert_eq!(
            sums[path],
            sha256_file(host),
            "{path}: the guest's copy of {host:?}"
        );
    }
    // Registry values: the same types and bytes, strings with their NUL, both ways.
    let service = r"ControlSet001\Services\firstboot";
    let thumb = imgprep_sysconf::certstore::thumbprint(
        &imgprep_sysconf::trust::certificates(&fs_err::read(windows_ca()).unwrap())[0],
    );
    let cert_key = format!(r"Microsoft\SystemCertificates\ROOT\Certificates\{thumb}");
    for (hive, key) in [
        ("SYSTEM", service.to_owned()),
        ("SYSTEM", format!(r"{service}\Parameters")),
        ("SOFTWARE", cert_key.clone()),
    ] {
        let theirs = reg_export(&lg.dir.join(hive), &key);
        let ours = native_values(&go.guest, hive, &key);
        assert!(!ours.is_empty(), "{key}");
        assert_eq!(ours, theirs, "{hive}\\{key}: native vs hivexregedit");
    }
    let sys = native_values(&go.guest, "SYSTEM", service);
    let (ty, image_path) = &sys["ImagePath"];
    assert_eq!(*ty, 1, "REG_SZ");
    assert!(image_path.ends_with(&[0, 0]), "REG_SZ with its NUL");
    let want: Vec<u8> = r"C:\Program Files\Guestfs\Firstboot\rhsrvany.exe -s firstboot"
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(image_path, &want);
    assert_eq!(sys["Start"], (4, 2u32.to_le_bytes().to_vec()));
    let (ty, blob) = &native_values(&go.guest, "SOFTWARE", &cert_key)["Blob"];
    assert_eq!(*ty, 3, "REG_BINARY");
    let blob = imgprep_sysconf::certstore::Blob::parse(blob).unwrap();
    let der = &imgprep_sysconf::trust::certificates(&fs_err::read(windows_ca()).unwrap())[0];
    assert_eq!(blob.certificate(), der.as_slice());
}

#[test]
fn rackspace_tools_enabled_and_ordered_before_nova_agent() {
    let fx = fixture("rules-rackspace");
    let input = fx.join("rs-xe-masked.qcow2");
    let before = statuses(&input, "rackspace-nova-agent", &[]);
    assert_eq!(before["xe-tools.enabled"], "fail");
    let (run, out) = prepared(
        "rs-xe-masked",
        &input,
        &os(&["--profile", "rackspace-nova-agent"]),
    );
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let after = statuses(&out, "rackspace-nova-agent", &[]);
    assert_eq!(after["xe-tools.enabled"], "pass", "{}", run.stdout);
    assert_eq!(
        after["xe-tools.before-nova-agent"], "pass",
        "{}",
        run.stdout
    );
    let go = guest(&out, &[]);
    let dropin = go
        .guest
        .read_dir("/etc/systemd/system/nova-agent.service.d")
        .expect("drop-in directory");
    assert!(!dropin.is_empty());
}

// ---- faults: nothing is left behind, the input is unchanged -------------------------------

fn assert_nothing_left(dir: &Path) {
    let left: Vec<_> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "launches.log")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn an_appliance_that_does_not_start_in_time_leaves_nothing() {
    let fx = fixture("windows-2016-noipv6");
    let input = fx.join("win2016-noipv6.qcow2");
    let sha = sha256_file(&input);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("launches.log");
    let mut args = vec![OsString::from("prepare"), p(&input)];
    args.extend(os(&[
        "--profile",
        "rackspace-nova-agent",
        "--appliance-timeout",
        "1",
        "-o",
    ]));
    args.push(p(&tmp.path().join("out.qcow2")));
    let o = imgprep_logged(&args, &log);
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("did not start within 1s"), "{err}");
    assert!(
        err.contains("LIBGUESTFS_BACKEND_SETTINGS=force_tcg"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(launches(&log), 1, "the stopped launch is logged");
    assert_nothing_left(tmp.path());
    assert_eq!(sha256_file(&input), sha);
}

/// Starts a prepare of the Windows fixture, waits until its appliance runs, does `to` to it
/// and returns the exit status and stderr.
fn disturbed(to: impl FnOnce(u32, u32)) -> (Option<i32>, String, tempfile::TempDir, String) {
    let fx = fixture("windows-2016-noipv6");
    let input = fx.join("win2016-noipv6.qcow2");
    let sha = sha256_file(&input);
    let tmp = tempfile::tempdir().unwrap();
    let child = Command::new(bin())
        .arg("prepare")
        .arg(&input)
        .args(["--profile", "rackspace-nova-agent", "-o"])
        .arg(tmp.path().join("out.qcow2"))
        .env(
            "IMGPREP_GUESTFS_LAUNCH_LOG",
            tmp.path().join("launches.log"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // qemu is a child of imgprep's appliance helper once the appliance starts.
    let children = |parent: u32, name: &str| -> Vec<u32> {
        let o = Command::new("pgrep")
            .args(["-P", &parent.to_string(), name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let qemu = loop {
        let helpers = children(pid, "imgprep-applian");
        assert!(helpers.len() <= 1, "one helper: {helpers:?}");
        if let Some(q) = helpers
            .iter()
            .flat_map(|h| children(*h, "qemu-system"))
            .next()
        {
            break q;
        }
        assert!(Instant::now() < deadline, "qemu never started");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_secs(2));
    to(pid, qemu);
    let out = child.wait_with_output().unwrap();
    launches(&tmp.path().join("launches.log"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        tmp,
        sha,
    )
}

#[test]
fn a_killed_qemu_leaves_nothing() {
    let (code, err, tmp, sha) = disturbed(|_, qemu| {
        Command::new("kill")
            .args(["-9", &qemu.to_string()])
            .status()
            .unwrap();
    });
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_nothing_left(tmp.path());
    let input = fixture("windows-2016-noipv6").join("win2016-noipv6.qcow2");
    assert_eq!(sha256_file(&input), sha);
}

#[test]
fn ctrl_c_during_the_launch_leaves_nothing() {
    let (code, err, tmp, sha) = disturbed(|imgprep, _| {
        // What a terminal's Ctrl-C sends.
        Command::new("kill")
            .args(["-INT", &imgprep.to_string()])
            .status()
            .unwrap();
    });
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_nothing_left(tmp.path());
    let input = fixture("windows-2016-noipv6").join("win2016-noipv6.qcow2");
    assert_eq!(sha256_file(&input), sha);
}

/// A bundle whose member list is built by hand (what a hostile bundle would hold).
fn raw_bundle(dir: &Path, name: &str, build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    let tar = b.into_inner().unwrap();
    let path = dir.join(name);
    let f = fs_err::File::create(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap();
    path
}

fn header(path: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    // Names set raw, bypassing the builder's own checks, as an attacker's tool would.
    let name = &mut h.as_old_mut().name;
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
    h
}

#[test]
fn hostile_bundles_are_refused_before_any_launch() {
    let fx = fixture("prepare-debian");
    let input = fx.join("prepare-debian.qcow2");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let good = worker_bundle(d);
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (
            raw_bundle(d, "traversal.tar.gz", |b| {
                let h = header("../../etc/cron.d/x", tar::EntryType::Regular, 3);
                b.append(&h, &b"hi\n"[..]).unwrap();
            }),
            "..",
        ),
        (
            raw_bundle(d, "abs-link.tar.gz", |b| {
                let mut h = header("bin/sh", tar::EntryType::Symlink, 0);
                h.set_link_name("/etc/shadow").unwrap();
                h.set_cksum();
                b.append(&h, &b""[..]).unwrap();
            }),
            "link",
        ),
        (
            raw_bundle(d, "device.tar.gz", |b| {
                let h = header("dev/sda", tar::EntryType::Block, 0);
                b.append(&h, &b""[..]).unwrap();
            }),
            "device",
        ),
        (
            raw_bundle(d, "huge.tar.gz", |b| {
                // A 10 GiB member whose data is not there: refused by its declared size.
                let h = header("big.img", tar::EntryType::Regular, 10 << 30);
                b.append(&h, &b""[..]).unwrap();
            }),
            "big.img",
        ),
    ];
    // A manifest whose checksum does not match the member's bytes.
    let bad_sum = d.join("checksum.tar.gz");
    {
        let mut gz = flate2::read::GzDecoder::new(fs_err::File::open(&good).unwrap());
        let mut tarball = Vec::new();
        gz.read_to_end(&mut tarball).unwrap();
        let needle = b"CLIQR_CLOUD=openstack";
        let at = tarball
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("member bytes");
        tarball[at + needle.len() - 1] = b'X';
        let f = fs_err::File::create(&bad_sum).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tarball).unwrap();
        gz.finish().unwrap();
    }
    cases.push((bad_sum, "sha256"));
    for (bundle, says) in cases {
        let log = d.join("launches.log");
        let out_img = d.join("out.qcow2");
        let mut args = vec![OsString::from("prepare"), p(&input)];
        args.extend(os(&[
            "--profile",
            PROFILE,
            "--param",
            "agent_dest=/usr/local/osmosix",
            "--worker",
        ]));
        args.push(p(&bundle));
        args.push("-o".into());
        args.push(p(&out_img));
        let o = imgprep_logged(&args, &log);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}: {}",
            bundle.display(),
            shown(&o)
        );
        assert!(err.contains(says), "{}: {err}", bundle.display());
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(launches(&log), 0, "{}: launched", bundle.display());
        assert!(!out_img.exists());
    }
}

// ---- Red Hat family: nothing of the guest can run in the appliance ------------------------

/// Prepares `image` of the prepare-el fixture with its worker bundle and CA; returns the output
/// and the rules before and after.
fn el_prepared(image: &str) -> (Run, PathBuf, PathBuf) {
    let fx = fixture("prepare-el");
    let input = fx.join(image);
    let sha = sha256_file(&input);
    let mut args = os(&["--profile", PROFILE, "--worker"]);
    args.push(p(&fx.join("worker-bundle.tar.gz")));
    args.push("--param".into());
    args.push(format!("ca={}", fx.join("ca.pem").display()).into());
    let (run, out) = prepared(image.trim_end_matches(".qcow2"), &input, &args);
    assert_eq!(sha256_file(&input), sha, "the input changed");
    let ca = format!("ca={}", fx.join("ca.pem").display());
    let before = statuses(&input, PROFILE, &["--param", &ca]);
    let after = statuses(&out, PROFILE, &["--param", &ca]);
    for rule in ["agent.present", "umask.login", "certificates.bundle-store"] {
        assert_eq!(before[rule], "fail", "{image} {rule} before");
        assert_eq!(after[rule], "pass", "{image} {rule} after\n{}", run.stdout);
    }
    assert_eq!(before["worker.user-privileges"], "skip");
    assert_eq!(after["worker.user-privileges"], "pass");
    (run, input, out)
}

#[test]
fn el7_plan_appends_the_anchor_to_the_openssl_trust_bundle_natively() {
    let fx = fixture("prepare-el");
    let mut args = vec![OsString::from("prepare"), p(&fx.join("prepare-el7.qcow2"))];
    args.extend(os(&[
        "--profile",
        PROFILE,
        "--only",
        "certificates.bundle-store",
    ]));
    args.push("--param".into());
    args.push(format!("ca={}", fx.join("ca.pem").display()).into());
    args.push("--dry-run".into());
    let out = common::imgprep(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    // Other rules still fail: they were not selected.
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    // The fixture has the OpenSSL trust bundle and no Java keystore or EDK2 list.
    for path in [
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt",
    ] {
        assert!(text.contains(&format!("write {path} (")), "{path}\n{text}");
    }
    assert!(
        !text.contains("extracted/java") && !text.contains("extracted/edk2"),
        "{text}"
    );
}

#[test]
fn el7_systemd_guest_gets_its_unit_natively_computed_trust_bundles_and_an_autorelabel() {
    let (run, input, out) = el_prepared("prepare-el7.qcow2");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("`update-ca-trust extract` cannot run here"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("/.autorelabel"), "{}", run.stdout);
    let gi = guest(&input, &[]);
    let go = guest(&out, &[]);
    let g: &dyn Guest = &go.guest;
    assert!(g.is_file("/.autorelabel"));
    let unit = String::from_utf8(
        g.read_file("/etc/systemd/system/cliqr-agent.service", 1 << 20)
            .unwrap(),
    )
    .unwrap();
    assert!(
        unit.contains("UMask=0022") && unit.contains("User=cliqruser"),
        "{unit}"
    );
    // login.defs' UID_MIN 1000 on CentOS 7.
    let passwd = String::from_utf8(g.read_file("/etc/passwd", 1 << 20).unwrap()).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("cliqruser:x:1000:1000:")),
        "{passwd}"
    );
    // The bundles update-ca-trust would write hold the new anchor, natively computed.
    let anchor = fs_err::read_to_string(fixture("prepare-el").join("ca.pem")).unwrap();
    let body: String = anchor.lines().filter(|l| !l.starts_with("-----")).collect();
    let tls = String::from_utf8(
        g.read_file("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", 8 << 20)
            .unwrap(),
    )
    .unwrap();
    assert!(
        tls.replace('\n', "").contains(&body),
        "the TLS bundle lacks the anchor"
    );
    for f in ["/etc/login.defs", "/etc/profile", "/etc/bashrc"] {
        assert_eq!(
            gi.guest.read_file(f, 1 << 20).unwrap(),
            g.read_file(f, 1 << 20).unwrap(),
            "{f} changed"
        );
    }
}

#[test]
fn el6_sysv_guest_gets_an_init_script_with_rc_links() {
    let (run, _input, out) = el_prepared("prepare-el6.qcow2");
    // python 2.6 and cloud-init need packages that were not given.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let go = guest(&out, &[]);
    let g: &dyn Guest = &go.guest;
    let script = String::from_utf8(
        g.read_file("/etc/rc.d/init.d/cliqr-agent", 1 << 20)
            .unwrap(),
    )
    .unwrap();
    assert!(script.contains("### BEGIN INIT INFO"), "{script}");
    assert!(script.contains("umask 022"), "{script}");
    for rc in 0..=6 {
        let dir = format!("/etc/rc.d/rc{rc}.d");
        let names: Vec<String> = g
            .read_dir(&dir)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .filter(|n| n.ends_with("cliqr-agent"))
            .collect();
        let want = if (2..=5).contains(&rc) { 'S' } else { 'K' };
        assert_eq!(names.len(), 1, "{dir}: {names:?}");
        assert!(names[0].starts_with(want), "{dir}: {names:?}");
        assert_eq!(
            g.read_link(&format!("{dir}/{}", names[0])).unwrap(),
            b"../init.d/cliqr-agent"
        );
    }
    // CentOS 6's login.defs: UID_MIN 500.
    let passwd = String::from_utf8(g.read_file("/etc/passwd", 1 << 20).unwrap()).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("cliqruser:x:500:500:")),
        "{passwd}"
    );
}

#[test]
fn rackspace_sysv_links_renumbered_so_the_tools_start_first() {
    let fx = fixture("rules-rackspace");
    let input = fx.join("rs-sysv-wrong-order.qcow2");
    let before = statuses(&input, "rackspace-nova-agent", &[]);
    assert_eq!(before["xe-tools.before-nova-agent"], "fail");
    let (run, out) = prepared(
        "rs-sysv-wrong-order",
        &input,
        &os(&["--profile", "rackspace-nova-agent"]),
    );
    // nova-agent.tun-tap stays a warning: exit 0.
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let after = statuses(&out, "rackspace-nova-agent", &[]);
    assert_eq!(
        after["xe-tools.before-nova-agent"], "pass",
        "{}",
        run.stdout
    );
    let go = guest(&out, &[]);
    let names: Vec<String> = go
        .guest
        .read_dir("/etc/rc2.d")
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8_lossy(&e.name).into_owned())
        .filter(|n| n.ends_with("nova-agent"))
        .collect();
    assert_eq!(names, ["S04nova-agent"]);
}

/// An image with nothing to fix is still written as asked, with no launch: `--compress` gives
/// compressed qcow2 clusters (smaller, same guest bytes), and is refused for formats that
/// cannot hold them before anything is written.
#[test]
fn nothing_to_fix_is_converted_without_a_launch_and_compress_shrinks_the_qcow2() {
    let input = repo().join("images-test/demo/demo.qcow2");
    let sha = sha256_file(&input);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("launches.log");
    let mut sizes = Vec::new();
    for (name, extra) in [("plain.qcow2", None), ("packed.qcow2", Some("--compress"))] {
        let out = tmp.path().join(name);
        let mut args = vec![OsString::from("prepare"), p(&input)];
        args.extend(os(&[
            "--profile",
            "cloudcenter-worker",
            "--cloud",
            "openstack",
        ]));
        args.extend(extra.map(OsString::from));
        args.extend([OsString::from("-o"), p(&out)]);
        let o = imgprep_logged(&args, &log);
        assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("nothing to change"),
            "{}",
            shown(&o)
        );
        sizes.push(fs_err::metadata(&out).unwrap().len());
    }
    assert_eq!(launches(&log), 0);
    assert!(
        sizes[1] < sizes[0],
        "compressed {} >= plain {}",
        sizes[1],
        sizes[0]
    );
    let same = Command::new("qemu-img")
        .arg("compare")
        .arg(tmp.path().join("plain.qcow2"))
        .arg(tmp.path().join("packed.qcow2"))
        .output()
        .unwrap();
    assert!(same.status.success(), "{}", shown(&same));
    let mut args = vec![OsString::from("prepare"), p(&input)];
    args.extend(os(&["--profile", "cloudcenter-worker", "--compress"]));
    args.extend(os(&["--output-format", "vhd", "-o"]));
    args.push(p(&tmp.path().join("out.vhd")));
    let o = imgprep_logged(&args, &log);
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    assert!(shown(&o).contains("--compress applies to qcow2 output only"));
    assert!(!tmp.path().join("out.vhd").exists());
    assert_eq!(sha256_file(&input), sha);
}

/// A small filesystem mounted for the test, unmounted when dropped.
struct SmallFs(PathBuf);

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The output directory fills up while the guest's dpkg writes: qemu would stop the appliance
/// and wait for space forever; imgprep stops it instead, says why in one line, and leaves
/// nothing behind. (Mounting the small filesystem needs root, as CI runs.)
#[test]
fn a_full_output_disk_stops_the_appliance_and_leaves_nothing() {
    let fx = fixture("prepare-debian");
    let input = fx.join("prepare-debian.qcow2");
    let sha = sha256_file(&input);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("small");
    fs_err::create_dir(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "imgprep-test"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a 4 MiB tmpfs (needs root)");
    let _fs = SmallFs(dir.clone());
    let bundle = worker_bundle(tmp.path());
    let mut args = vec![OsString::from("prepare"), p(&input)];
    args.extend(debian_args(&fx, &bundle));
    args.extend([OsString::from("-o"), p(&dir.join("out.qcow2"))]);
    let log = tmp.path().join("launches.log");
    // Bounded, so that a stopped appliance fails the test instead of hanging it.
    let o = Command::new("timeout")
        .args(["-k", "10", "600"])
        .arg(bin())
        .args(&args)
        .env("IMGPREP_GUESTFS_LAUNCH_LOG", &log)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("the filesystem is full"), "{err}");
    assert_eq!(launches(&log), 1, "the stopped launch is logged");
    assert_nothing_left(&dir);
    assert_eq!(sha256_file(&input), sha);
}

/// `rule` is left failing in the JSON plan `plan`, for a reason that mentions `why`.
fn assert_left(plan: &Value, rule: &str, why: &str) {
    let left = plan["left"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rule"] == rule)
        .unwrap_or_else(|| panic!("{rule} not left in {plan:#}"));
    assert!(
        left["reason"].as_str().unwrap().contains(why),
        "{rule}: {left}"
    );
}

/// `--param ca_update=native` writes what the guest's update-ca-certificates writes (the bundle,
/// the `.pem` link and its OpenSSL hash link) instead of running it, and says so; an unknown
/// value leaves the rule failing with the reason. No launch either way.
#[test]
fn ca_update_native_writes_the_tools_files_instead_of_running_it() {
    let fx = fixture("prepare-debian");
    let input = fx.join("prepare-debian.qcow2");
    let tmp = tempfile::tempdir().unwrap();
    let bundle = worker_bundle(tmp.path());
    let mut args = debian_args(&fx, &bundle);
    args.extend(os(&["--param", "ca_update=native"]));
    let plan = plan_json(&input, &args);
    let ops: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["operations"].as_array().unwrap())
        .collect();
    let runs: Vec<String> = ops
        .iter()
        .filter(|o| o["op"] == "run")
        .map(|o| o["argv"].to_string())
        .collect();
    assert!(
        runs.iter().all(|r| !r.contains("update-ca-certificates")),
        "{runs:?}"
    );
    let paths: Vec<&str> = ops.iter().filter_map(|o| o["path"].as_str()).collect();
    assert!(
        paths.contains(&"/etc/ssl/certs/ca-certificates.crt"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/etc/ssl/certs/imgprep-bundle-store-ca.pem"),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/etc/ssl/certs/") && p.ends_with(".0")),
        "no hash link in {paths:?}"
    );
    assert!(
        plan["notes"].to_string().contains("ca_update=native"),
        "{plan:#}"
    );
    let mut args = debian_args(&fx, &bundle);
    args.extend(os(&["--param", "ca_update=sometimes"]));
    let plan = plan_json(&input, &args);
    assert_left(
        &plan,
        "certificates.bundle-store",
        "expected `guest` or `native`",
    );
}
