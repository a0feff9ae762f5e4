//! The hostile-image corpus (`images-test/hostile.sh`) through the binary. Every case of its
//! `cases.tsv` runs once, with the corpus directory as working directory, as
//!
//! ```text
//! timeout -k 5 30 /usr/bin/time -q -f %M -o RSS prlimit --as=1GiB -- \
//!     strace -f -qq -e trace=open,openat,openat2,creat,execve -o LOG imgprep ARGS…
//! ```
//!
//! and must: exit with the expected status (never a signal: an allocation refused under the
//! address-space cap aborts), print exactly one stderr line with the expected text when it
//! exits 2 (at most one line otherwise), give the expected notes and JSON fields, finish within
//! the time limit (a hang detector, not a timing: benches/hostile.sh times the cases), peak at
//! most 64 MiB of RSS, and open nothing but the files named on the command line, files inside
//! the image's directory or an `--allow-backing` directory (see [`allowances`]), and the
//! runtime files listed in [`runtime_file`].
//!
//! `IMGPREP_HOSTILE_BIN=PATH` runs the cases against another build of imgprep.

mod common;

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Seconds after which a run counts as hung and is killed.
const HANG_SECS: u64 = 30;
/// Address-space cap of each run (`prlimit --as`): normal runs need a few tens of MiB.
const ADDRESS_SPACE: u64 = 1 << 30;
/// Peak resident memory allowed, in KiB.
const MAX_RSS_KIB: u64 = 64 << 10;
/// Syscalls traced: every way of opening or executing a file.
const TRACED: &str = "trace=open,openat,openat2,creat,execve";

/// One line of `cases.tsv`.
#[derive(Debug)]
struct Case {
    name: String,
    args: Vec<String>,
    exit: i32,
    expect: Vec<Expect>,
    what: String,
}

#[derive(Debug)]
enum Expect {
    /// The stderr line contains this.
    Stderr(String),
    /// A note of the JSON report contains this.
    Note(String),
    /// The string at this JSON pointer of the report equals this.
    Json(String, String),
    /// The message of this rule's result in a JSON check report contains this.
    Rule(String, String),
}

fn parse_cases(text: &str) -> Vec<Case> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 5, "cases.tsv: five fields expected: {line:?}");
            let expect = f[3]
                .split(" && ")
                .filter(|e| *e != "none")
                .map(|e| {
                    if let Some(t) = e.strip_prefix("stderr:") {
                        Expect::Stderr(t.to_owned())
                    } else if let Some(t) = e.strip_prefix("note:") {
                        Expect::Note(t.to_owned())
                    } else if let Some(t) = e.strip_prefix("json:") {
                        let (ptr, value) = t.split_once('=').expect("json:/POINTER=VALUE");
                        Expect::Json(ptr.to_owned(), value.to_owned())
                    } else if let Some(t) = e.strip_prefix("rule:") {
                        let (id, text) = t.split_once('=').expect("rule:ID=TEXT");
                        Expect::Rule(id.to_owned(), text.to_owned())
                    } else {
                        panic!("cases.tsv: unknown expectation {e:?} in {line:?}")
                    }
                })
                .collect();
            Case {
                name: f[0].to_owned(),
                args: f[1].split(' ').map(str::to_owned).collect(),
                exit: f[2].parse().expect("exit status"),
                expect,
                what: f[4].to_owned(),
            }
        })
        .collect()
}

/// What one run did.
#[derive(Debug)]
struct Run {
    /// Exit status of the pipeline: imgprep's, 128 + N for a signal, 124 for the time limit.
    status: Option<i32>,
    wall: Duration,
    peak_kib: Option<u64>,
    stdout: String,
    stderr: String,
    /// Every path imgprep tried to open or execute, with whether it asked not to follow links.
    opened: Vec<(String, bool)>,
}

fn run(bin: &Path, dir: &Path, case: &Case, scratch: &Path) -> Run {
    let rss = scratch.join(format!("{}.rss", case.name));
    let log = scratch.join(format!("{}.strace", case.name));
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["-k", "5", &HANG_SECS.to_string()])
        .args(["/usr/bin/time", "-q", "-f", "%M", "-o"])
        .arg(&rss)
        .args(["prlimit", &format!("--as={ADDRESS_SPACE}"), "--"])
        .args(["strace", "-f", "-qq", "-e", TRACED, "-o"])
        .arg(&log)
        .arg(bin)
        .args(&case.args)
        .current_dir(dir)
        // A clean environment: no LD_LIBRARY_PATH from cargo making the loader search elsewhere.
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect("timeout, time, prlimit and strace run (.ci/deps installs them)");
    let wall = start.elapsed();
    let peak_kib = fs_err::read_to_string(&rss)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
    let opened = fs_err::read_to_string(&log)
        .map(|t| t.lines().filter_map(traced_path).collect())
        .unwrap_or_default();
    Run {
        status: out.status.code(),
        wall,
        peak_kib,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        opened,
    }
}

/// The path of an `open`/`openat`/`openat2`/`creat`/`execve` line of `strace -f` output, and
/// whether the call had `O_NOFOLLOW`. A call on a directory descriptor other than the working
/// directory is returned with the descriptor in front (`fd 3: name`), which no rule allows.
fn traced_path(line: &str) -> Option<(String, bool)> {
    let rest = line.split_once(' ')?.1.trim_start();
    let (call, args) = rest.split_once('(')?;
    if !matches!(call, "open" | "openat" | "openat2" | "creat" | "execve") {
        return None;
    }
    let quote = args.find('"')?;
    let before = &args[..quote];
    let mut path = String::new();
    let mut chars = args[quote + 1..].char_indices();
    let mut end = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    path.push(n);
                }
            }
            '"' => {
                end = Some(quote + 1 + i);
                break;
            }
            c => path.push(c),
        }
    }
    let after = &args[end? + 1..];
    let nofollow = after.contains("O_NOFOLLOW");
    let dirfd = before.trim().trim_end_matches(',');
    if call.starts_with("openat") && dirfd != "AT_FDCWD" && !path.starts_with('/') {
        return Some((format!("fd {dirfd}: {path}"), nofollow));
    }
    Some((path, nofollow))
}

/// The shared libraries the binary under test links, by file name, as `ldd` lists them (libc,
/// libgcc_s, libm; with libguestfs, libguestfs and what it links).
static LINKED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

fn linked_libraries(bin: &Path) -> Vec<String> {
    let out = Command::new("ldd").arg(bin).output().expect("ldd runs");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.contains(".so"))
        .filter_map(|n| Path::new(n).file_name()?.to_str().map(str::to_owned))
        .collect();
    names.extend(["libc.so.6", "libgcc_s.so.1", "libm.so.6"].map(str::to_owned));
    names
}

/// The files any process of this binary opens on its own: the dynamic loader's cache and the
/// shared libraries the binary links (in the system library directories), `/proc/self/maps`
/// (the main thread's stack guard), and what `std::thread::available_parallelism` reads (the
/// process's cgroup, the mount table, the cgroup CPU quota files, the online CPUs). glibc's
/// malloc may read the overcommit policy when it trims its heap.
fn runtime_file(path: &str) -> bool {
    let triple = format!("{}-linux-gnu", std::env::consts::ARCH);
    let default_libs = ["libc.so.6", "libgcc_s.so.1", "libm.so.6"].map(str::to_owned);
    let libs: &[String] = LINKED.get().map_or(&default_libs[..], Vec::as_slice);
    let lib = |dir: &str| {
        path.strip_prefix(dir)
            .and_then(|p| p.strip_prefix('/'))
            .is_some_and(|name| libs.iter().any(|l| l == name))
    };
    matches!(
        path,
        "/etc/ld.so.cache"
            | "/proc/self/maps"
            | "/proc/self/cgroup"
            | "/proc/self/mountinfo"
            | "/sys/devices/system/cpu/online"
            | "/proc/sys/vm/overcommit_memory"
    ) || lib(&format!("/lib/{triple}"))
        || lib(&format!("/usr/lib/{triple}"))
        || (path.starts_with("/sys/fs/cgroup/")
            && ["cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us"]
                .iter()
                .any(|f| path.ends_with(&format!("/{f}"))))
}

/// `path` with `.` and `..` resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Where a traced path leads on the host: symlinks resolved (all of them, or all but the last
/// with `O_NOFOLLOW`), lexically where it does not exist.
fn host_path(dir: &Path, path: &str, nofollow: bool) -> PathBuf {
    let joined = normalize(&dir.join(path));
    if nofollow {
        if let (Some(parent), Some(name)) = (joined.parent(), joined.file_name())
            && let Ok(p) = fs_err::canonicalize(parent)
        {
            return p.join(name);
        }
        return joined;
    }
    fs_err::canonicalize(&joined).unwrap_or(joined)
}

/// What a case may open: the files named on its command line (as given and resolved: images,
/// `--rules` directories, `KEY=PATH` parameters) and the directories files may come from (each
/// image's directory, as named and resolved, every `--allow-backing` directory, and the
/// `--rules` directories).
fn allowances(dir: &Path, args: &[String]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let both = |p: &Path| {
        let given = normalize(&dir.join(p));
        let resolved = fs_err::canonicalize(&given).unwrap_or_else(|_| given.clone());
        [given, resolved]
    };
    let mut prev = "";
    for a in args {
        let exists = |p: &str| fs_err::symlink_metadata(dir.join(p)).is_ok();
        if matches!(prev, "--allow-backing" | "--rules") {
            let [given, resolved] = both(Path::new(a));
            dirs.push(resolved.clone());
            files.extend([given, resolved]);
        } else if let Some((_, value)) = a.split_once('=').filter(|(_, v)| exists(v)) {
            files.extend(both(Path::new(value)));
        } else if !a.starts_with('-') && exists(a) {
            for p in both(Path::new(a)) {
                if let Some(parent) = p.parent() {
                    dirs.push(fs_err::canonicalize(parent).unwrap_or_else(|_| parent.to_owned()));
                }
                files.push(p);
            }
        }
        prev = a;
    }
    (files, dirs)
}

/// Every string in a `notes` array anywhere in the report.
fn notes(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("notes", serde_json::Value::Array(a)) => out.extend(
                        a.iter()
                            .filter_map(serde_json::Value::as_str)
                            .map(str::to_owned),
                    ),
                    _ => notes(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| notes(x, out)),
        _ => {}
    }
}

/// What is wrong with one run (nothing when it did what the case says).
fn judge(case: &Case, r: &Run, dir: &Path, bin: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    match r.status {
        _ if r.wall >= Duration::from_secs(HANG_SECS) => bad.push(format!(
            "hang: killed after {HANG_SECS} s (status {:?})",
            r.status
        )),
        Some(code @ 0..=2) if code == case.exit => {}
        Some(code @ 0..=2) => bad.push(format!("exit status {code}, expected {}", case.exit)),
        Some(code) if code > 128 => bad.push(format!(
            "killed by signal {} under the {} MiB address-space cap",
            code - 128,
            ADDRESS_SPACE >> 20
        )),
        other => bad.push(format!("abnormal end: status {other:?}")),
    }
    let lines: Vec<&str> = r.stderr.lines().collect();
    if case.exit == 2 && lines.len() != 1 {
        bad.push(format!("{} stderr lines, expected one", lines.len()));
    } else if lines.len() > 1 {
        bad.push(format!(
            "{} stderr lines, expected at most one",
            lines.len()
        ));
    }
    match r.peak_kib {
        Some(k) if k > MAX_RSS_KIB => bad.push(format!("peak RSS {k} KiB > {MAX_RSS_KIB} KiB")),
        Some(_) => {}
        None => bad.push("no peak RSS measured".into()),
    }
    let report: Option<serde_json::Value> = serde_json::from_str(&r.stdout).ok();
    let mut all_notes = Vec::new();
    if let Some(v) = &report {
        notes(v, &mut all_notes);
    }
    for e in &case.expect {
        match e {
            Expect::Stderr(t) if !r.stderr.contains(t.as_str()) => {
                bad.push(format!("stderr lacks {t:?}"));
            }
            Expect::Note(t) if !all_notes.iter().any(|n| n.contains(t.as_str())) => {
                bad.push(format!("no note contains {t:?} (notes: {all_notes:?})"));
            }
            Expect::Json(ptr, want) => {
                let got = report
                    .as_ref()
                    .and_then(|v| v.pointer(ptr))
                    .and_then(serde_json::Value::as_str);
                if got != Some(want.as_str()) {
                    bad.push(format!("JSON {ptr} is {got:?}, expected {want:?}"));
                }
            }
            Expect::Rule(id, want) => {
                let message = report
                    .as_ref()
                    .and_then(|v| v["results"].as_array())
                    .and_then(|rs| rs.iter().find(|r| r["rule"] == id.as_str()))
                    .and_then(|r| r["message"].as_str());
                if !message.is_some_and(|m| m.contains(want.as_str())) {
                    bad.push(format!("rule {id}: message {message:?} lacks {want:?}"));
                }
            }
            _ => {}
        }
    }
    let (files, dirs) = allowances(dir, &case.args);
    let exe = fs_err::canonicalize(bin).unwrap_or_else(|_| bin.to_owned());
    if r.opened.is_empty() {
        bad.push("strace recorded nothing".into());
    }
    for (path, nofollow) in &r.opened {
        if runtime_file(path) {
            continue;
        }
        let host = host_path(dir, path, *nofollow);
        let ok = host == exe
            || files.contains(&host)
            || files.contains(&normalize(&dir.join(path)))
            || dirs.iter().any(|d| host.starts_with(d));
        if !ok {
            bad.push(format!(
                "opened {path:?} ({}), outside the image's directory",
                host.display()
            ));
        }
    }
    bad
}

#[test]
fn hostile_corpus() {
    let dir = fs_err::canonicalize(common::fixture("hostile")).expect("fixture directory");
    let cases = parse_cases(&fs_err::read_to_string(dir.join("cases.tsv")).expect("cases.tsv"));
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let bin = std::env::var_os("IMGPREP_HOSTILE_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_imgprep")),
        PathBuf::from,
    );
    let linked = LINKED.get_or_init(|| linked_libraries(&bin));
    // libguestfs is imgprep-appliance's alone: the read path must not load it (its ~60
    // libraries cost memory and start-up time, and read host files of their own).
    assert!(
        !linked.iter().any(|l| l.starts_with("libguestfs")),
        "{} links libguestfs: {linked:?}",
        bin.display()
    );
    let scratch = tempfile::tempdir().expect("scratch directory");
    let mut table = format!(
        "{:<28} {:>4} {:>8} {:>9}  verdict\n",
        "case", "exit", "wall ms", "peak KiB"
    );
    let mut failures = String::new();
    for case in &cases {
        let r = run(&bin, &dir, case, scratch.path());
        let bad = judge(case, &r, &dir, &bin);
        writeln!(
            table,
            "{:<28} {:>4} {:>8} {:>9}  {}",
            case.name,
            r.status.map_or("-".into(), |s| s.to_string()),
            r.wall.as_millis(),
            r.peak_kib.map_or("-".into(), |k| k.to_string()),
            if bad.is_empty() { "ok" } else { "FAILED" }
        )
        .expect("write to a String");
        if !bad.is_empty() {
            writeln!(
                failures,
                "{} ({}): imgprep {}\n  stderr: {}\n  - {}",
                case.name,
                case.what,
                case.args.join(" "),
                r.stderr.trim_end(),
                bad.join("\n  - ")
            )
            .expect("write to a String");
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "hostile cases failed:\n{failures}");
}

#[test]
fn strace_lines_are_parsed() {
    for (line, want) in [
        (
            r#"123  openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3"#,
            Some(("/etc/ld.so.cache", false)),
        ),
        (
            r#"9 openat(AT_FDCWD, "a/b \"c\".raw", O_RDONLY|O_NOFOLLOW|O_CLOEXEC <unfinished ...>"#,
            Some((r#"a/b "c".raw"#, true)),
        ),
        (
            r#"9 openat(3, "x", O_RDONLY) = -1 ENOENT (No such file or directory)"#,
            Some(("fd 3: x", false)),
        ),
        (
            r#"9 execve("/bin/imgprep", ["imgprep", "inspect"], 0x7ffd /* 3 vars */) = 0"#,
            Some(("/bin/imgprep", false)),
        ),
        (r#"9 <... openat resumed>) = 4"#, None),
        (r#"9 +++ exited with 0 +++"#, None),
    ] {
        assert_eq!(
            traced_path(line),
            want.map(|(p, n)| (p.to_owned(), n)),
            "{line}"
        );
    }
    assert!(runtime_file("/sys/fs/cgroup/user.slice/cpu.max"));
    assert!(!runtime_file("/sys/fs/cgroup/user.slice/memory.max"));
    assert!(!runtime_file("/etc/passwd"));
}
