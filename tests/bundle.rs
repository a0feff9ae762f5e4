//! `imgprep bundle`: real bundles built from small packages made here (a fake agent module with
//! a console script, plugins, a C extension), their reproducibility, relocation and validation,
//! and hostile bundles and configurations refused with one line.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imgprep_bundle::{Bundle, FileKind, Kind, MANIFEST, Manifest};
use sha2::{Digest, Sha256};

/// Runs imgprep in `cwd`.
fn imgprep_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("imgprep runs")
}

fn ok(cwd: &Path, args: &[&str]) -> String {
    let out = imgprep_in(cwd, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit 2, one line on stderr containing every fragment.
fn fails(cwd: &Path, args: &[&str], fragments: &[&str]) -> String {
    let out = imgprep_in(cwd, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
    for f in fragments {
        assert!(stderr.contains(f), "{args:?}: {stderr:?} lacks {f:?}");
    }
    stderr
}

fn write(p: &Path, text: &str) {
    fs_err::create_dir_all(p.parent().unwrap()).unwrap();
    fs_err::write(p, text).unwrap();
}

fn sha(p: &Path) -> String {
    format!("{:x}", Sha256::digest(fs_err::read(p).unwrap()))
}

fn manifest(p: &Path) -> Manifest {
    Bundle::open(p).unwrap().manifest.unwrap()
}

/// The archive's member names, in order.
fn members(p: &Path) -> Vec<String> {
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(p).unwrap());
    tar::Archive::new(gz)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn worker_tree(root: &Path) {
    write(&root.join("bin/agent"), "#!/bin/sh\necho worker\n");
    fs_err::set_permissions(
        root.join("bin/agent"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    write(
        &root.join("etc/userenv"),
        "export CLIQR_HOME=/usr/local/osmosix\n",
    );
    write(&root.join("lib/worker.jar"), "PK\x03\x04 not really\n");
    symlink("agent", root.join("bin/current")).unwrap();
}

#[test]
fn a_worker_bundle_is_reproducible_verified_and_complete() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let tree = d.join("osmosix");
    worker_tree(&tree);
    let args = |out: &str| {
        vec![
            "bundle".to_owned(),
            "worker".into(),
            "--from".into(),
            tree.display().to_string(),
            "--prefix".into(),
            "/usr/local/osmosix".into(),
            "--name".into(),
            "cloudcenter-worker".into(),
            "--bundle-version".into(),
            "4.10".into(),
            "--service".into(),
            "cliqr-agent".into(),
            "--exec".into(),
            "/usr/local/osmosix/bin/agent run".into(),
            "--user".into(),
            "cliqruser".into(),
            "-o".into(),
            out.into(),
        ]
    };
    let run = |out: &str| {
        let a = args(out);
        ok(d, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let s = run("one.tar.gz");
    assert!(s.contains("worker cloudcenter-worker 4.10"), "{s}");
    run("two.tar.gz");
    assert_eq!(sha(&d.join("one.tar.gz")), sha(&d.join("two.tar.gz")));
    // Without --force an existing output is refused; with it, replaced by the same bytes.
    let a = args("one.tar.gz");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    fails(d, &a, &["one.tar.gz", "already exists"]);
    let mut forced = a.clone();
    forced.push("--force");
    ok(d, &forced);
    assert_eq!(sha(&d.join("one.tar.gz")), sha(&d.join("two.tar.gz")));

    let names = members(&d.join("one.tar.gz"));
    assert_eq!(names[0], MANIFEST);
    let m = manifest(&d.join("one.tar.gz"));
    assert_eq!(m.kind, Kind::Worker);
    assert_eq!(m.prefix, "/usr/local/osmosix");
    assert_eq!(m.user.as_deref(), Some("cliqruser"));
    let svc = m.service.as_ref().unwrap();
    assert_eq!(
        (svc.name.as_str(), svc.exec.as_str(), svc.user.as_deref()),
        (
            "cliqr-agent",
            "/usr/local/osmosix/bin/agent run",
            Some("cliqruser")
        )
    );
    let got: Vec<(&str, FileKind, &str)> = m
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.kind, f.mode.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("bin", FileKind::Dir, "0755"),
            ("bin/agent", FileKind::File, "0750"),
            ("bin/current", FileKind::Symlink, "0777"),
            ("etc", FileKind::Dir, "0755"),
            ("etc/userenv", FileKind::File, "0644"),
            ("lib", FileKind::Dir, "0755"),
            ("lib/worker.jar", FileKind::File, "0644"),
        ]
    );
    let userenv = m.files.iter().find(|f| f.path == "etc/userenv").unwrap();
    assert_eq!(
        userenv.sha256.as_deref(),
        Some(sha(&tree.join("etc/userenv")).as_str())
    );
    let v = ok(d, &["bundle", "verify", "one.tar.gz"]);
    assert!(v.contains("service: cliqr-agent"), "{v}");
    assert!(v.contains("files: 3 files, 7 entries"), "{v}");

    // A changed input changes the bundle; SOURCE_DATE_EPOCH changes the mtimes.
    write(&tree.join("etc/userenv"), "export CLIQR_HOME=/opt\n");
    run("three.tar.gz");
    assert_ne!(sha(&d.join("one.tar.gz")), sha(&d.join("three.tar.gz")));
}

#[test]
fn a_windows_worker_bundle_names_its_installer() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(&d.join("win/agent.msi"), "MSI");
    write(&d.join("win/agent.conf"), "server=x\r\n");
    let base = [
        "bundle",
        "worker",
        "--from",
        "win",
        "--prefix",
        "/Program Files/CliQr",
        "--name",
        "cloudcenter-worker",
    ];
    let with =
        |more: &[&'static str]| -> Vec<&'static str> { base.iter().chain(more).copied().collect() };
    let s = ok(
        d,
        &with(&[
            "--installer",
            "agent.msi",
            "--installer-args",
            "SERVER=x /l*v C:\\log.txt",
            "-o",
            "win.tar.gz",
        ]),
    );
    assert!(
        s.contains("installer: agent.msi SERVER=x /l*v C:\\log.txt"),
        "{s}"
    );
    let m = manifest(&d.join("win.tar.gz"));
    let i = m.installer.unwrap();
    assert_eq!(
        (i.path.as_str(), i.args.as_deref()),
        ("agent.msi", Some("SERVER=x /l*v C:\\log.txt"))
    );
    assert!(m.service.is_none());
    let v = ok(d, &["bundle", "verify", "win.tar.gz"]);
    assert!(v.contains("installer: agent.msi"), "{v}");
    // An installer that is not one of the files is refused, and nothing is written.
    fails(
        d,
        &with(&["--installer", "setup.exe", "-o", "bad.tar.gz"]),
        &["installer \"setup.exe\" is not a file of the bundle"],
    );
    assert!(!d.join("bad.tar.gz").exists());
}

/// A gzip'd tar written member by member: (name, type, mode, content or link target).
fn hostile(path: &Path, members: &[(&str, tar::EntryType, u32, &[u8])]) {
    let gz = flate2::write::GzEncoder::new(
        fs_err::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    let mut b = tar::Builder::new(gz);
    for (name, ty, mode, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*ty);
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        let raw = h.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        if *ty == tar::EntryType::Symlink {
            raw.linkname[..data.len()].copy_from_slice(data);
            h.set_size(0);
            h.set_cksum();
            b.append(&h, std::io::empty()).unwrap();
        } else {
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
    }
    b.into_inner().unwrap().finish().unwrap();
}

fn manifest_json(prefix: &str, files: &str) -> Vec<u8> {
    format!(
        r#"{{"format":1,"kind":"worker","name":"w","version":"1","prefix":"{prefix}","files":[{files}]}}"#
    )
    .into_bytes()
}

#[test]
fn hostile_bundles_trees_and_configs_exit_2_with_one_line() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    use tar::EntryType as T;
    let good = b"hello\n";
    let good_sha = format!("{:x}", Sha256::digest(good));
    let file = |path: &str, sha: &str| {
        format!(r#"{{"path":"{path}","type":"file","mode":"0644","size":6,"sha256":"{sha}"}}"#)
    };
    let m = manifest_json("/opt/w", &file("a", &good_sha));
    hostile(
        &d.join("sound.tar.gz"),
        &[
            (MANIFEST, T::Regular, 0o644, &m),
            ("a", T::Regular, 0o644, good),
        ],
    );
    ok(d, &["bundle", "verify", "sound.tar.gz"]);
    let wrong = manifest_json("/opt/w", &file("a", &"0".repeat(64)));
    hostile(
        &d.join("checksum.tar.gz"),
        &[
            (MANIFEST, T::Regular, 0o644, &wrong),
            ("a", T::Regular, 0o644, good),
        ],
    );
    fails(
        d,
        &["bundle", "verify", "checksum.tar.gz"],
        &["checksum.tar.gz", "member a", "checksum mismatch"],
    );
    let m = manifest_json("/opt/w", &file("../evil", &good_sha));
    hostile(
        &d.join("traversal.tar.gz"),
        &[
            (MANIFEST, T::Regular, 0o644, &m),
            ("../evil", T::Regular, 0o644, good),
        ],
    );
    fails(d, &["bundle", "verify", "traversal.tar.gz"], &["../evil"]);
    let m = manifest_json(
        "/opt/w",
        r#"{"path":"l","type":"symlink","mode":"0777","target":"/etc/shadow"}"#,
    );
    hostile(
        &d.join("linkout.tar.gz"),
        &[
            (MANIFEST, T::Regular, 0o644, &m),
            ("l", T::Symlink, 0o777, b"/etc/shadow"),
        ],
    );
    fails(d, &["bundle", "verify", "linkout.tar.gz"], &["/etc/shadow"]);
    let m = manifest_json("/opt/w", "");
    hostile(
        &d.join("device.tar.gz"),
        &[
            (MANIFEST, T::Regular, 0o644, &m),
            ("sda", T::Block, 0o600, b""),
        ],
    );
    fails(d, &["bundle", "verify", "device.tar.gz"], &["sda"]);
    fs_err::write(d.join("notgz.tar.gz"), b"plain text").unwrap();
    fails(d, &["bundle", "verify", "notgz.tar.gz"], &["notgz.tar.gz"]);

    // Worker trees: a link out of the prefix, a FIFO; nothing is left behind.
    let tree = d.join("tree");
    worker_tree(&tree);
    symlink("/etc/passwd", tree.join("etc/passwd")).unwrap();
    let w = |out: &str| {
        vec![
            "bundle",
            "worker",
            "--from",
            "tree",
            "--prefix",
            "/usr/local/osmosix",
            "-o",
            out,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    let a = w("linked.tar.gz");
    fails(
        d,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &["etc/passwd"],
    );
    assert!(!d.join("linked.tar.gz").exists());
    fs_err::remove_file(tree.join("etc/passwd")).unwrap();
    let st = Command::new("mkfifo")
        .arg(tree.join("etc/pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    let a = w("fifo.tar.gz");
    fails(
        d,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &["etc/pipe", "FIFO"],
    );
    assert!(!d.join("fifo.tar.gz").exists());
    fails(
        d,
        &[
            "bundle",
            "worker",
            "--from",
            "tree",
            "--prefix",
            "usr/local",
        ],
        &["--prefix", "absolute"],
    );

    // Configurations: an unknown key with its line, a Python that does not exist, no agent.
    write(
        &d.join("unknown.yaml"),
        "distribution: debian\nrelease: bookworm\ncloudify_agent_module: ./agent\nbogus_key: 1\n",
    );
    fails(
        d,
        &["bundle", "-c", "unknown.yaml", "--dryrun"],
        &["unknown.yaml", "bogus_key", "line 4"],
    );
    write(
        &d.join("nopython.yaml"),
        "cloudify_agent_module: ./agent\npython_path: /usr/bin/python9.9\n",
    );
    fails(
        d,
        &["bundle", "-c", "nopython.yaml"],
        &["python_path /usr/bin/python9.9", "no such interpreter"],
    );
    write(
        &d.join("noagent.yaml"),
        "distribution: debian\nrelease: '12'\n",
    );
    fails(
        d,
        &["bundle", "-c", "noagent.yaml", "--dryrun"],
        &["cloudify_agent_module or cloudify_agent_version"],
    );
    write(
        &d.join("true.yaml"),
        "cloudify_agent_module: ./agent\ncore_plugins:\n  cloudify_script_plugin: true\n",
    );
    fails(
        d,
        &["bundle", "-c", "true.yaml", "--dryrun"],
        &["core_plugins.cloudify_script_plugin"],
    );
    fails(d, &["bundle", "-c", "missing.yaml"], &["missing.yaml"]);
}

// ---- Python packages made in the test ---------------------------------------------------

/// A setuptools project in `dir`: distribution `name`, package `pkg` with `init` as its
/// `__init__.py`, and `extra` setup() arguments.
fn project(dir: &Path, name: &str, pkg: &str, init: &str, extra: &str) {
    write(
        &dir.join("setup.py"),
        &format!(
            "from setuptools import setup\nsetup(name={name:?}, version='1.0', \
             packages=[{pkg:?}]{extra})\n"
        ),
    );
    write(&dir.join(pkg).join("__init__.py"), init);
}

/// `dir` packed as an sdist-like `NAME-1.0/…` tar.gz at `out`.
fn sdist(dir: &Path, top: &str, out: &Path) {
    fs_err::create_dir_all(out.parent().unwrap()).unwrap();
    let gz = flate2::write::GzEncoder::new(
        fs_err::File::create(out).unwrap(),
        flate2::Compression::default(),
    );
    let mut b = tar::Builder::new(gz);
    b.append_dir_all(top, dir).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

/// The directory of prebuilt wheels the builds need offline (wheel itself).
fn wheels() -> String {
    common::repo()
        .join("tests/data/bundle/wheels")
        .display()
        .to_string()
}

fn agent_project(dir: &Path) {
    project(
        dir,
        "cloudify-agent",
        "cloudify_agent",
        "def main():\n    import fastsum\n    print('agent up', fastsum.add(40, 2))\n",
        ", entry_points={'console_scripts': ['cfy-agent = cloudify_agent:main']}",
    );
}

fn c_extension(dir: &Path) {
    write(
        &dir.join("setup.py"),
        "from setuptools import setup, Extension\n\
         setup(name='fastsum', version='1.0', packages=['fastsum'],\n      \
         ext_modules=[Extension('fastsum._add', ['fastsum/_add.c'])])\n",
    );
    write(
        &dir.join("fastsum/__init__.py"),
        "from fastsum._add import add\n",
    );
    write(
        &dir.join("fastsum/_add.c"),
        r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_add", NULL, -1, methods};
PyMODINIT_FUNC PyInit__add(void) { return PyModule_Create(&mod); }
"#,
    );
}

/// Every file under `root` whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs_err::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                let b = fs_err::read(&p).unwrap();
                if b.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    hits.push(p);
                }
            }
        }
    }
    hits
}

/// Unpacks a bundle's members (not its manifest) under `dst`.
fn unpack(bundle: &Path, dst: &Path) {
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(bundle).unwrap());
    let mut a = tar::Archive::new(gz);
    fs_err::create_dir_all(dst).unwrap();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some(MANIFEST) {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            continue;
        }
        e.unpack_in(dst).unwrap();
    }
}

#[test]
fn an_agent_with_a_c_extension_is_built_relocated_validated_and_reproducible() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    agent_project(&d.join("src/agent"));
    c_extension(&d.join("src/fastsum"));
    project(
        &d.join("src/script"),
        "cloudify-script-plugin",
        "script_runner",
        "",
        "",
    );
    project(
        &d.join("src/fabric"),
        "cloudify-fabric-plugin",
        "fabric_plugin",
        "",
        "",
    );
    let prefix = d.join("guest/opt/cloudify-agent/agent-1.0/env");
    let prefix_s = prefix.display().to_string();
    write(
        &d.join("agent.yaml"),
        "distribution: debian\nrelease: bookworm\nvenv: build/env\npython_path: /usr/bin/python3\n\
         cloudify_agent_module: ./src/agent\n\
         core_plugins:\n  cloudify_script_plugin: ./src/script\n  cloudify_diamond_plugin: exclude\n\
         additional_modules:\n  - ./src/fastsum\n\
         additional_plugins:\n  cloudify_fabric_plugin: ./src/fabric\n",
    );
    let build = |out: &str| {
        ok(
            d,
            &[
                "bundle",
                "-c",
                "agent.yaml",
                "--offline",
                "--find-links",
                &wheels(),
                "--prefix",
                &prefix_s,
                "-o",
                out,
            ],
        )
    };

    // --dryrun lists the steps and installs nothing.
    let plan = ok(d, &["bundle", "-c", "agent.yaml", "--dryrun", "--offline"]);
    assert!(
        plan.contains("core plugin cloudify_script_plugin: ./src/script"),
        "{plan}"
    );
    assert!(
        plan.contains("uninstall (excluded): cloudify-diamond-plugin"),
        "{plan}"
    );
    assert!(
        plan.contains("validate: cloudify-script-plugin, cloudify-agent, cloudify-fabric-plugin"),
        "{plan}"
    );
    assert!(!d.join("build").exists() && !d.join("debian-bookworm-agent.tar.gz").exists());

    let s = build("one.tar.gz");
    assert!(s.contains("cloudify-agent cloudify-agent 1.0"), "{s}");
    assert!(s.contains("target: debian bookworm"), "{s}");
    // keep_virtualenv absent and the virtualenv new: removed once packed.
    assert!(!d.join("build/env").exists());
    build("two.tar.gz");
    assert_eq!(sha(&d.join("one.tar.gz")), sha(&d.join("two.tar.gz")));

    let m = manifest(&d.join("one.tar.gz"));
    assert_eq!(m.kind, Kind::CloudifyAgent);
    assert_eq!(m.prefix, prefix_s);
    let target = m.target.as_ref().unwrap();
    assert_eq!(target.interpreter.as_deref(), Some("/usr/bin/python3"));
    assert!(target.python.as_deref().unwrap().starts_with("3."));
    assert!(
        m.files.iter().any(|f| f.path.starts_with("lib/python3")
            && f.path.contains("/fastsum/_add.")
            && f.path.ends_with(".so")),
        "the C extension was compiled"
    );

    // Unpacked at its prefix it runs: the console script, every module, the C extension.
    unpack(&d.join("one.tar.gz"), &prefix);
    let build_dir = fs_err::canonicalize(d).unwrap().join("build/env");
    assert_eq!(
        files_containing(&prefix, &build_dir.display().to_string()),
        Vec::<PathBuf>::new()
    );
    let out = Command::new(prefix.join("bin/cfy-agent")).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "agent up 42\n",
        "{out:?}"
    );
    let out = Command::new(prefix.join("bin/python"))
        .args([
            "-c",
            "import cloudify_agent, script_runner, fabric_plugin, fastsum, sys;\
             from cloudify_agent.included_plugins import included_plugins as p;\
             print(p, sys.prefix)",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("['cloudify-script-plugin', 'cloudify-fabric-plugin'] {prefix_s}\n"),
        "{out:?}"
    );
    // pip sees consistent RECORDs: the console script's new hash matches.
    let out = Command::new(prefix.join("bin/python"))
        .args(["-m", "pip", "uninstall", "-y", "cloudify-agent"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!prefix.join("bin/cfy-agent").exists());
}

#[test]
fn validation_names_a_module_missing_after_install_and_one_that_fails_to_install() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    agent_project(&d.join("src/agent"));
    // Installs as another distribution than its name says.
    project(&d.join("src/liar"), "something-else", "liar", "", "");
    write(
        &d.join("src/broken/setup.py"),
        "raise SystemExit('this package does not build')\n",
    );
    let base = "python_path: /usr/bin/python3\ncloudify_agent_module: ./src/agent\n";
    write(
        &d.join("missing.yaml"),
        &format!("{base}additional_plugins:\n  cloudify_liar_plugin: ./src/liar\n"),
    );
    let e = fails(
        d,
        &[
            "bundle",
            "-c",
            "missing.yaml",
            "--offline",
            "--find-links",
            &wheels(),
        ],
        &["validation", "cloudify-liar-plugin"],
    );
    assert!(!e.contains("cloudify-agent,"), "{e}");
    // --no-validation builds it anyway (the virtualenv left by the failure needs --force).
    ok(
        d,
        &[
            "bundle",
            "-c",
            "missing.yaml",
            "--offline",
            "--find-links",
            &wheels(),
            "--no-validation",
            "--force",
            "-o",
            "novalidation.tar.gz",
        ],
    );
    write(
        &d.join("broken.yaml"),
        &format!("{base}venv: other/env\nadditional_modules:\n  - ./src/broken\n"),
    );
    fails(
        d,
        &[
            "bundle",
            "-c",
            "broken.yaml",
            "--offline",
            "--find-links",
            &wheels(),
        ],
        &["installing additional module ./src/broken", "failed"],
    );
    // The failed build's virtualenv stays; without --force it is refused.
    fails(
        d,
        &["bundle", "-c", "broken.yaml", "--offline"],
        &["other/env", "already exists", "--force"],
    );
}

/// The agent packager's documented example configuration (Ubuntu trusty, core modules and
/// plugins, additional modules and plugins, output_tar, keep_venv), as written, its URLs served
/// from local files.
#[test]
fn the_packager_example_configuration_is_accepted_as_written() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let example =
        fs_err::read_to_string(common::repo().join("tests/data/bundle/cfy-ap-example.yaml"))
            .unwrap();
    let site = d.join("site");
    let url = format!("file://{}/", site.display());
    let config = example.replace("http://github.com/", &url);
    write(&d.join("config.yaml"), &config);
    let pkgs = d.join("pkgs");
    // Every URL of the example, as a local sdist.
    let mut sources = Vec::new();
    for line in example.lines() {
        if let Some(i) = line.find("http://github.com/cloudify-cosmo/") {
            let rest = &line[i + "http://github.com/cloudify-cosmo/".len()..];
            let repo = rest.split('/').next().unwrap().to_owned();
            sources.push(repo);
        }
    }
    assert_eq!(sources.len(), 10, "{sources:?}");
    for repo in &sources {
        let src = pkgs.join(repo);
        if repo == "cloudify-agent" {
            agent_project(&src);
        } else {
            let pkg = repo.replace('-', "_");
            project(&src, repo, &pkg, "", "");
        }
        sdist(
            &src,
            &format!("{repo}-master"),
            &site
                .join("cloudify-cosmo")
                .join(repo)
                .join("archive/master.tar.gz"),
        );
    }
    // pyyaml==3.10 comes from --find-links (the agent's console script is not run here).
    let links = d.join("links");
    fs_err::create_dir_all(&links).unwrap();
    project(&pkgs.join("pyyaml"), "PyYAML", "yaml", "", "");
    fs_err::copy(
        Path::new(&wheels()).join("wheel-0.43.0-py3-none-any.whl"),
        links.join("wheel-0.43.0-py3-none-any.whl"),
    )
    .unwrap();
    // PyYAML's version is 1.0 in setup.py: make it 3.10.
    let setup = pkgs.join("pyyaml/setup.py");
    let s = fs_err::read_to_string(&setup)
        .unwrap()
        .replace("'1.0'", "'3.10'");
    write(&setup, &s);
    sdist(
        &pkgs.join("pyyaml"),
        "PyYAML-3.10",
        &links.join("PyYAML-3.10.tar.gz"),
    );
    let links_s = links.display().to_string();

    let plan = ok(
        d,
        &["bundle", "--dryrun", "--offline", "--find-links", &links_s],
    );
    assert!(plan.contains("distribution: Ubuntu trusty"), "{plan}");
    assert!(plan.contains("virtualenv: cloudify/agent/env"), "{plan}");
    assert!(
        plan.contains("output: Ubuntu-trusty-agent.tar.gz"),
        "{plan}"
    );
    assert!(
        plan.contains("core plugin cloudify_windows_plugin_installer_plugin: file://"),
        "{plan}"
    );
    assert!(!d.join("cloudify").exists() && !d.join("Ubuntu-trusty-agent.tar.gz").exists());

    // The example's Python is trusty's Python 2.7 (/usr/bin/python); here the build uses this
    // system's Python 3, the only line changed.
    let config = config.replace(
        "python_path: '/usr/bin/python'",
        "python_path: /usr/bin/python3",
    );
    assert!(config.contains("python_path: /usr/bin/python3"));
    write(&d.join("config.yaml"), &config);

    let s = ok(
        d,
        &["bundle", "-f", "-v", "--offline", "--find-links", &links_s],
    );
    assert!(s.contains("target: Ubuntu trusty"), "{s}");
    let m = manifest(&d.join("Ubuntu-trusty-agent.tar.gz"));
    assert_eq!(m.prefix, "/opt/cloudify-agent/agent-1.0/env");
    // keep_venv: true keeps the build virtualenv; every named module is in it.
    assert!(d.join("cloudify/agent/env/bin/python").exists());
    let site_pkgs = m
        .files
        .iter()
        .find(|f| f.path.ends_with("cloudify_agent/included_plugins.py"))
        .map(|f| f.path.clone())
        .unwrap();
    let included = fs_err::read_to_string(d.join("cloudify/agent/env").join(&site_pkgs)).unwrap();
    for p in [
        "cloudify-script-plugin",
        "cloudify-diamond-plugin",
        "cloudify-agent-installer-plugin",
        "cloudify-plugin-installer-plugin",
        "cloudify-windows-agent-installer-plugin",
        "cloudify-windows-plugin-installer-plugin",
    ] {
        assert!(included.contains(&format!("'{p}'")), "{included}");
    }
    for dist in [
        "pyyaml-3.10",
        "cloudify_fabric_plugin-1.0",
        "cloudify_rest_client-1.0",
    ] {
        assert!(
            m.files
                .iter()
                .any(|f| f.path.to_lowercase().contains(&format!("{dist}.dist-info"))),
            "{dist}"
        );
    }
    // Again without --force: the virtualenv and the output exist.
    fails(
        d,
        &["bundle", "--offline", "--find-links", &links_s],
        &["cloudify/agent/env", "already exists"],
    );
}

/// `--image`: built with the fixture's own Python and gcc, at the guest prefix, in one launch;
/// every named module (the C extension among them) imported there; the image unchanged.
#[test]
fn an_agent_built_inside_a_debian_image_records_its_distribution() {
    let image = common::fixture("prepare-debian").join("prepare-debian.qcow2");
    let before = fs_err::metadata(&image).unwrap();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    agent_project(&d.join("src/agent"));
    c_extension(&d.join("src/fastsum"));
    project(
        &d.join("src/script"),
        "cloudify-script-plugin",
        "script_runner",
        "",
        "",
    );
    write(
        &d.join("agent.yaml"),
        "cloudify_agent_version: '1.0'\ncloudify_agent_module: ./src/agent\n\
         core_plugins:\n  cloudify_script_plugin: ./src/script\n\
         additional_modules:\n  - ./src/fastsum\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .args([
            "bundle",
            "-c",
            "agent.yaml",
            "--find-links",
            &wheels(),
            "-o",
            "img.tar.gz",
        ])
        .arg("--image")
        .arg(&image)
        .current_dir(d)
        .env("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let m = manifest(&d.join("img.tar.gz"));
    assert_eq!(m.prefix, "/opt/cloudify-agent/agent-1.0/env");
    let target = m.target.as_ref().unwrap();
    assert_eq!(target.distribution, "debian");
    assert!(target.release.starts_with("12"), "{target:?}");
    assert_eq!(target.interpreter.as_deref(), Some("/usr/bin/python3"));
    assert_eq!(
        m.build.get("environment").and_then(|v| v.as_str()),
        Some("image")
    );
    assert!(
        m.files
            .iter()
            .any(|f| f.path.contains("/fastsum/_add.") && f.path.ends_with(".so")),
        "the C extension was compiled in the image"
    );
    let script = m.files.iter().find(|f| f.path == "bin/cfy-agent").unwrap();
    assert_eq!(script.mode, "0755");
    // Built at its prefix: the console script's shebang names it.
    let dst = d.join("unpacked");
    unpack(&d.join("img.tar.gz"), &dst);
    let text = fs_err::read_to_string(dst.join("bin/cfy-agent")).unwrap();
    assert!(
        text.starts_with("#!/opt/cloudify-agent/agent-1.0/env/bin/python"),
        "{text}"
    );
    ok(d, &["bundle", "verify", "img.tar.gz"]);
    // Nothing of the image changed, nothing left next to the output.
    let after = fs_err::metadata(&image).unwrap();
    assert_eq!(
        (before.len(), before.modified().unwrap()),
        (after.len(), after.modified().unwrap())
    );
    let left: Vec<_> = fs_err::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

/// Runs guestfish (one launch) read-only on `image` with its root filesystem `root` mounted and
/// `script` on stdin; counted in the suite's launch log like imgprep's own launches.
fn guestfish(image: &Path, root: &str, script: &str) -> String {
    let started = std::time::SystemTime::now();
    let t = std::time::Instant::now();
    let mut child = Command::new("guestfish")
        .args(["--ro", "-a"])
        .arg(image)
        .args(["-m", root])
        .env("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if let Some(log) = std::env::var_os("IMGPREP_GUESTFS_LAUNCH_LOG") {
        let unix = started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let line = format!(
            "{unix} {:.3} {} guestfish\n",
            t.elapsed().as_secs_f64(),
            if out.status.success() { "ok" } else { "error" }
        );
        let mut f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        f.write_all(line.as_bytes()).unwrap();
    }
    assert!(out.status.success(), "guestfish: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_agent_injected_by_prepare_passes_the_profile_and_runs_inside_the_guest() {
    // Built on this Debian 12 host for the Debian 12 fixture (same Python, same libraries).
    let image = common::fixture("prepare-debian").join("prepare-debian.qcow2");
    let before = sha(&image);
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    agent_project(&d.join("src/agent"));
    c_extension(&d.join("src/fastsum"));
    project(
        &d.join("src/script"),
        "cloudify-script-plugin",
        "script_runner",
        "",
        "",
    );
    write(
        &d.join("agent.yaml"),
        "cloudify_agent_version: '1.0'\npython_path: /usr/bin/python3\n\
         cloudify_agent_module: ./src/agent\n\
         core_plugins:\n  cloudify_script_plugin: ./src/script\n\
         additional_modules:\n  - ./src/fastsum\n",
    );
    let prefix = "/opt/cloudify-agent/agent-1.0/env";
    ok(
        d,
        &[
            "bundle",
            "-c",
            "agent.yaml",
            "--offline",
            "--find-links",
            &wheels(),
            "--prefix",
            prefix,
            "-o",
            "agent.tar.gz",
        ],
    );
    let check = |img: &Path| -> serde_json::Value {
        let out = imgprep_in(
            d,
            &[
                "check",
                &img.display().to_string(),
                "--profile",
                "cloudify-agent",
                "--format",
                "json",
            ],
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let status = |r: &serde_json::Value, rule: &str| -> String {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == rule)
            .map(|x| x["status"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(status(&check(&image), "cloudify-agent.present"), "fail");
    let out = imgprep_in(
        d,
        &[
            "prepare",
            &image.display().to_string(),
            "--profile",
            "cloudify-agent",
            "--worker",
            "agent.tar.gz",
            "-o",
            "ready.qcow2",
        ],
    );
    assert!(out.status.code() == Some(0), "{out:?}");
    let ready = d.join("ready.qcow2");
    let after = check(&ready);
    for rule in [
        "cloudify-agent.present",
        "cloudify-agent.python",
        "cloudify-agent.plugins",
    ] {
        assert_eq!(status(&after, rule), "pass", "{rule}: {after:#}");
    }
    assert_eq!(sha(&image), before, "the input changed");
    // The relocated virtualenv, compiled for this distribution, runs in the guest.
    let text = guestfish(
        &ready,
        "/dev/sda1",
        &format!(
            "command \"{prefix}/bin/python -c 'import cloudify_agent, script_runner, fastsum; \
             from cloudify_agent.included_plugins import included_plugins as p; print(p)'\"\n\
             command {prefix}/bin/cfy-agent\n"
        ),
    );
    // guestfish ends each command's output with a blank line.
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, ["['cloudify-script-plugin']", "agent up 42"]);
}
