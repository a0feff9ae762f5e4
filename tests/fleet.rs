//! Fleet runs through the binary: directories and globs of images with broken ones among them,
//! per-image isolation, exit statuses, input order under --jobs, JSON Lines, multi-image JUnit
//! and SARIF, and sharding: shards are disjoint, cover the list, and merge back into the
//! single-machine report.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const DEMO: &str = "images-test/demo/demo.qcow2";
const PROFILE: [&str; 4] = ["--profile", "cloudcenter-worker", "--cloud", "openstack"];

/// A directory of images: the demo image twice (one below sub/), a qcow2 with a corrupt header,
/// a raw disk with a partition table and no operating system, and a text file that is no image.
fn fleet_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("test setup");
    let demo = common::repo().join(DEMO);
    fs_err::copy(&demo, d.path().join("good-a.qcow2")).expect("test setup");
    fs_err::create_dir(d.path().join("sub")).expect("test setup");
    fs_err::copy(&demo, d.path().join("sub/good-c.qcow2")).expect("test setup");
    let mut broken = b"QFI\xfb\0\0\0\x03".to_vec();
    broken.resize(512, 0xff);
    fs_err::write(d.path().join("broken.qcow2"), broken).expect("test setup");
    let mut mbr = vec![0u8; 1 << 20];
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    fs_err::write(d.path().join("empty-disk.img"), mbr).expect("test setup");
    fs_err::write(d.path().join("notes.txt"), "golden images, see the wiki\n").expect("test setup");
    d
}

fn run(args: &[&str], extra: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imgprep"));
    cmd.args(args).args(extra);
    cmd.output().expect("imgprep runs")
}

fn stdout_of(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("test setup")
}

#[test]
fn a_directory_run_reports_broken_images_and_checks_the_rest() {
    let d = fleet_dir();
    let mut args = vec!["check", "--format", "json", "--recursive", "--jobs", "2"];
    args.extend(PROFILE);
    let out = run(&args, &[d.path()]);
    let text = stdout_of(&out, 1);
    let v: Value = serde_json::from_str(&text).unwrap();
    let images = v["images"].as_array().unwrap();
    let shown: Vec<&str> = images
        .iter()
        .map(|i| {
            Path::new(i["image"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        })
        .collect();
    // Sorted walk, notes.txt left out by content.
    assert_eq!(
        shown,
        [
            "broken.qcow2",
            "empty-disk.img",
            "good-a.qcow2",
            "good-c.qcow2"
        ]
    );
    assert_eq!(images[0]["status"], "error");
    assert!(
        images[0]["reason"].as_str().unwrap().contains("qcow2"),
        "{}",
        images[0]
    );
    assert_eq!(images[1]["status"], "error");
    assert!(
        images[1]["reason"]
            .as_str()
            .unwrap()
            .contains("no operating system found"),
        "{}",
        images[1]
    );
    for good in &images[2..] {
        assert_eq!(good["summary"]["fail"], 6, "{good}");
        assert!(good["results"].as_array().unwrap().len() > 5);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("slowest images"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("│ 4 ") && l.contains(" 2 ")),
        "summary row: {stderr}"
    );

    // Without --recursive, sub/ is not walked. With one job the output is the same.
    let mut args = vec!["check", "--format", "json", "--jobs", "1"];
    args.extend(PROFILE);
    let flat: Value = serde_json::from_str(&stdout_of(&run(&args, &[d.path()]), 1)).unwrap();
    assert_eq!(flat["images"].as_array().unwrap().len(), 3);
    let mut args = vec!["check", "--format", "json", "-r", "--jobs", "1"];
    args.extend(PROFILE);
    assert_eq!(stdout_of(&run(&args, &[d.path()]), 1), text);

    // The table names the broken images and still shows the others' findings.
    let mut args = vec!["check", "-r"];
    args.extend(PROFILE);
    let table = stdout_of(&run(&args, &[d.path()]), 1);
    assert!(table.contains("broken.qcow2: ERROR: "), "{table}");
    assert!(table.contains("agent.present"), "{table}");
}

#[test]
fn exit_status_follows_the_images() {
    let d = fleet_dir();
    let mut args = vec!["check"];
    args.extend(PROFILE);
    // No image readable: 2, and the report still lists both.
    let broken = d.path().join("broken.qcow2");
    let empty = d.path().join("empty-disk.img");
    let out = run(
        &[&args[..], &["--format", "json"]].concat(),
        &[&broken, &empty],
    );
    let v: Value = serde_json::from_str(&stdout_of(&out, 2)).unwrap();
    assert_eq!(v["images"].as_array().unwrap().len(), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("none of the 2 images could be read"),
        "{stderr}"
    );
    // One image named on its own that cannot be read: the error alone, as for any command.
    let out = run(&args, &[&broken]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // A glob that matches nothing, a directory without images: usage errors.
    let pattern = d.path().join("*.vhdx");
    let out = run(&args, &[&pattern]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the pattern matches no file"));
    let none = tempfile::tempdir().unwrap();
    fs_err::write(none.path().join("README"), "nothing here").unwrap();
    let out = run(&args, &[none.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a directory with no disk images in it")
    );
    // A glob picks its matches; every readable image passing --fail-on critical gives 0.
    let pattern = d.path().join("good-*.qcow2");
    let out = run(
        &[&args[..], &["--format", "json", "--fail-on", "critical"]].concat(),
        &[&pattern],
    );
    let v: Value = serde_json::from_str(&stdout_of(&out, 0)).unwrap();
    assert_eq!(
        v["image"],
        d.path().join("good-a.qcow2").display().to_string()
    );
}

#[test]
fn jsonl_streams_one_object_per_image_in_input_order() {
    let d = fleet_dir();
    let mut args = vec!["check", "-r", "--format", "jsonl", "--jobs", "2"];
    args.extend(PROFILE);
    let text = stdout_of(&run(&args, &[d.path()]), 1);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i);
    }
    assert_eq!(lines[0]["status"], "error");
    assert_eq!(lines[3]["summary"]["fail"], 6);

    // inspect too: one object per image, the broken ones with their reason.
    let out = run(&["inspect", "-r", "--format", "jsonl"], &[d.path()]);
    let text = stdout_of(&out, 1);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["status"], "error");
    assert_eq!(lines[1]["operatingsystems"], serde_json::json!([]));
    assert_eq!(lines[2]["operatingsystems"][0]["distro"], "debian");
}

#[test]
fn junit_and_sarif_of_a_fleet_stay_valid() {
    let d = fleet_dir();
    let mut args = vec!["check", "-r", "--format", "junit"];
    args.extend(PROFILE);
    let xml = stdout_of(&run(&args, &[d.path()]), 1);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 4);
    assert_eq!(suites[0].attribute("errors"), Some("1"));
    let file = d.path().join("report.xml");
    fs_err::write(&file, &xml).unwrap();
    let python = std::env::var("IMGPREP_JUNIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys, junitparser\nx = junitparser.JUnitXml.fromfile(sys.argv[1])\n\
             print(len(list(x)), sum(s.errors for s in x), sum(s.failures for s in x))",
        ])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (run ./test.sh, which installs junitparser)"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "4 2 12",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut args = vec!["check", "-r", "--format", "sarif"];
    args.extend(PROFILE);
    let sarif = stdout_of(&run(&args, &[d.path()]), 1);
    let v: Value = serde_json::from_str(&sarif).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0]["invocations"][0]["executionSuccessful"], false);
    assert!(
        runs[2]["artifacts"][0]["location"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/good-a.qcow2")
    );
    common::sarif_validates(&sarif);
}

/// The images of a JSON Lines report.
fn jsonl_images(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("test setup")["image"]
                .as_str()
                .expect("test setup")
                .to_owned()
        })
        .collect()
}

#[test]
fn shards_are_disjoint_cover_the_list_and_merge_into_the_single_run() {
    let d = fleet_dir();
    let demo = common::repo().join(DEMO);
    for i in 0..6 {
        fs_err::copy(&demo, d.path().join(format!("golden-{i}.qcow2"))).unwrap();
    }
    let base: Vec<&str> = [&["check", "-r", "--jobs", "2"][..], &PROFILE[..]].concat();
    let single_jsonl = stdout_of(
        &run(&[&base[..], &["--format", "jsonl"]].concat(), &[d.path()]),
        1,
    );
    let all = jsonl_images(&single_jsonl);
    assert_eq!(all.len(), 10);
    let n = 3;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let out_dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let shard = format!("{i}/{n}");
        let out = run(
            &[&base[..], &["--format", "jsonl", "--shard", &shard]].concat(),
            &[d.path()],
        );
        let code = out.status.code().unwrap();
        assert!(code == 0 || code == 1, "shard {shard}: {code}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mine = jsonl_images(&text);
        assert!(
            !mine.is_empty(),
            "shard {shard} is empty: the hash spreads badly"
        );
        seen.extend(mine);
        let f = out_dir.path().join(format!("shard-{i}.jsonl"));
        fs_err::write(&f, text).unwrap();
        files.push(f);
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    sorted_seen.dedup();
    assert_eq!(sorted_seen.len(), seen.len(), "shards overlap: {seen:?}");
    let mut sorted_all = all.clone();
    sorted_all.sort();
    assert_eq!(sorted_seen, sorted_all, "shards do not cover the list");

    let file_args: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    for format in ["json", "junit", "table", "sarif", "jsonl"] {
        let single = stdout_of(
            &run(&[&base[..], &["--format", format]].concat(), &[d.path()]),
            1,
        );
        let merged = stdout_of(
            &run(&["report", "merge", "--format", format], &file_args),
            1,
        );
        assert_eq!(merged, single, "{format}");
    }
    // A file given twice is not a set of shards.
    let out = run(&["report", "merge"], &[&files[0], &files[0]]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not shards of one run"));
    // A file that is not a report.
    let bad = out_dir.path().join("bad.jsonl");
    fs_err::write(&bad, "{\"index\": 0}\n").unwrap();
    let out = run(&["report", "merge"], &[&bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:1: "));
}

#[test]
fn a_fleet_prepare_writes_one_output_per_image_and_reports_the_broken_ones() {
    let d = fleet_dir();
    let out_dir = tempfile::tempdir().expect("test setup");
    let log = out_dir.path().join("launches.log");
    let good = d.path().join("good-a.qcow2");
    let before = fs_err::read(&good).expect("test setup");
    // The plans, one JSON object per line, in input order; nothing launched.
    let mut args = vec!["prepare", "--format", "json", "--dry-run"];
    args.extend(PROFILE);
    let out = Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .args(&args)
        .arg(d.path())
        .env("IMGPREP_GUESTFS_LAUNCH_LOG", &log)
        .output()
        .expect("imgprep runs");
    let text = stdout_of(&out, 1);
    let plans: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(plans.len(), 1, "{text}");
    assert!(
        plans[0]["image"]
            .as_str()
            .unwrap()
            .ends_with("good-a.qcow2")
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.qcow2"), "{err}");
    assert!(
        err.contains("empty-disk.img: no operating system found"),
        "{err}"
    );
    // Outputs into a directory: the demo image has nothing the appliance must change (no worker
    // given), so it is converted and verified without a launch.
    let mut args = vec!["prepare", "-o"];
    let o = out_dir.path().join("ready");
    fs_err::create_dir(&o).expect("test setup");
    let o_s = o.display().to_string();
    args.push(&o_s);
    args.extend(PROFILE);
    let out = Command::new(env!("CARGO_BIN_EXE_imgprep"))
        .args(&args)
        .arg(d.path())
        .env("IMGPREP_GUESTFS_LAUNCH_LOG", &log)
        .output()
        .expect("imgprep runs");
    stdout_of(&out, 1);
    let mut written: Vec<String> = fs_err::read_dir(&o)
        .expect("output directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["good-a.qcow2"]);
    assert!(!log.exists() || fs_err::read_to_string(&log).unwrap().is_empty());
    assert_eq!(
        fs_err::read(&good).expect("input"),
        before,
        "the input changed"
    );
    // -o must be a directory for a fleet.
    let out = run(
        &[
            "prepare",
            "-o",
            "/nonexistent/ready",
            "--profile",
            "cloudcenter-worker",
        ],
        &[d.path()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("names an existing directory"), "{err}");
}
