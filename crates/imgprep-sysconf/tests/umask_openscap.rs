//! `ssg_file_result` against OpenSCAP: every layout below is written into a directory tree,
//! `oscap xccdf eval` runs SCAP Security Guide's `accounts_umask_etc_login_defs`,
//! `accounts_umask_etc_profile` and `accounts_umask_etc_bashrc` on it (`OSCAP_PROBE_ROOT`), and
//! each rule's result must be the one `ssg_file_result` gives the rule's file.
//!
//! The rules come from the SSG datastream unchanged. Two small files make them evaluable on a
//! bare tree: a tailoring file that selects the three rules and sets `var_accounts_user_umask`
//! per layout, and a CPE dictionary that declares the benchmark's platform (and
//! `cpe:/a:login_defs`, "the package providing /etc/login.defs is installed") applicable: SSG
//! checks those with rpm queries, which cannot run against a directory tree.
//!
//! Datastream: `ssg-anolis8-ds.xml`, the smallest datastream that holds all three rules (7.8 MB,
//! loaded in a third of the time of `ssg-centos7-ds.xml`, 21.5 MB). The three rules are built
//! from one SSG template and are the same OVAL in every product (file path, pattern
//! `^[\s]*umask[\s]+([^#\s]*)`, digit arithmetic, `bitwise and` state); the test checks that.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use imgprep_sysconf::shell::{Keyword, ssg_file_result};

mod common;

use common::layouts::LAYOUTS;

const CONTENT: &str = "/usr/share/xml/scap/ssg/content";
const DATASTREAM: &str = "ssg-anolis8-ds.xml";
const RULE_PREFIX: &str = "xccdf_org.ssgproject.content_rule_accounts_umask_etc_";

/// The three rules: suffix, file, keyword.
const RULES: [(&str, &str, Keyword); 3] = [
    ("login_defs", "etc/login.defs", Keyword::LoginDefs),
    ("profile", "etc/profile", Keyword::Shell),
    ("bashrc", "etc/bashrc", Keyword::Shell),
];

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!(
            "imgprep-umask-{tag}-{}-{nanos}",
            std::process::id()
        ));
        fs_err::create_dir_all(&p).expect("temporary directory");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.0);
    }
}

const CPE_OVAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"
  xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5"
  xmlns:ind="http://oval.mitre.org/XMLSchema/oval-definitions-5#independent">
  <generator><oval:schema_version>5.11</oval:schema_version><oval:timestamp>2024-01-01T00:00:00</oval:timestamp></generator>
  <definitions>
    <definition class="inventory" id="oval:imgprep.umask:def:1" version="1">
      <metadata><title>Unix tree</title><description>Any Unix probe root.</description></metadata>
      <criteria><criterion test_ref="oval:imgprep.umask:tst:1"/></criteria>
    </definition>
  </definitions>
  <tests>
    <ind:family_test id="oval:imgprep.umask:tst:1" version="1" check="all" check_existence="at_least_one_exists" comment="unix">
      <ind:object object_ref="oval:imgprep.umask:obj:1"/>
      <ind:state state_ref="oval:imgprep.umask:ste:1"/>
    </ind:family_test>
  </tests>
  <objects><ind:family_object id="oval:imgprep.umask:obj:1" version="1"/></objects>
  <states><ind:family_state id="oval:imgprep.umask:ste:1" version="1"><ind:family>unix</ind:family></ind:family_state></states>
</oval_definitions>
"#;

/// The CPE names the datastream's rules depend on, all declared applicable.
fn cpe_dictionary(platform: &str) -> String {
    let item = |name: &str| {
        format!(
            "  <cpe-item name=\"{name}\">\n    <title xml:lang=\"en-us\">{name} (declared for a \
             directory tree)</title>\n    <check system=\"http://oval.mitre.org/XMLSchema/\
             oval-definitions-5\" href=\"cpe-oval.xml\">oval:imgprep.umask:def:1</check>\n  \
             </cpe-item>\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<cpe-list \
         xmlns=\"http://cpe.mitre.org/dictionary/2.0\">\n{}{}</cpe-list>\n",
        item(platform),
        item("cpe:/a:login_defs")
    )
}

fn tailoring(required: &str) -> String {
    let select = RULES
        .iter()
        .map(|(r, _, _)| {
            format!("    <xccdf:select idref=\"{RULE_PREFIX}{r}\" selected=\"true\"/>\n")
        })
        .collect::<String>();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xccdf:Tailoring \
         xmlns:xccdf=\"http://checklists.nist.gov/xccdf/1.2\" id=\"xccdf_imgprep_tailoring_umask\">\n  \
         <xccdf:version time=\"2024-01-01T00:00:00\">1</xccdf:version>\n  <xccdf:Profile \
         id=\"xccdf_imgprep_profile_umask\">\n    <xccdf:title>umask rules</xccdf:title>\n{select}    \
         <xccdf:set-value idref=\"xccdf_org.ssgproject.content_value_var_accounts_user_umask\">\
         {required}</xccdf:set-value>\n  </xccdf:Profile>\n</xccdf:Tailoring>\n"
    )
}

/// The benchmark's platform CPE name in the datastream.
fn platform(ds: &str) -> String {
    let i = ds
        .find("<xccdf-1.2:platform idref=\"cpe:")
        .expect("the datastream's benchmark names a platform");
    let rest = &ds[i + "<xccdf-1.2:platform idref=\"".len()..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

/// The OVAL object and state of each rule must be SSG's template: file, pattern, comparison.
fn check_template(ds: &str) {
    let element = |id: &str, end: &str| -> String {
        let start = ds
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} in {DATASTREAM}"));
        let len = ds[start..].find(end).expect("element end");
        ds[start..start + len].to_owned()
    };
    for (rule, file, key) in [
        ("login_defs", "/etc/login.defs", "UMASK"),
        ("profile", "/etc/profile", "umask"),
        ("bashrc", "/etc/bashrc", "umask"),
    ] {
        let object = element(
            &format!("oval:ssg-obj_umask_from_etc_{rule}:obj:1"),
            "</ind:textfilecontent54_object>",
        );
        for want in [
            format!("<ind:filepath>{file}</ind:filepath>"),
            format!(
                "<ind:pattern operation=\"pattern match\">^[\\s]*{key}[\\s]+([^#\\s]*)</ind:pattern>"
            ),
        ] {
            assert!(object.contains(&want), "{rule}: {want} not in {object}");
        }
        let state = element(
            &format!("oval:ssg-ste_accounts_umask_etc_{rule}:ste:1"),
            "</ind:variable_state>",
        );
        assert!(
            state.contains("operation=\"bitwise and\""),
            "{rule}: {state}"
        );
    }
}

/// One layout's oscap run: layout index, `(rule suffix, result)`, seconds.
type Run = (usize, Vec<(String, String)>, f64);

/// `rule suffix -> result` from `oscap --progress` output.
fn oscap(work: &Path, root: &Path, tailoring: &Path) -> Vec<(String, String)> {
    let out = Command::new("oscap")
        .current_dir(work)
        .env("OSCAP_PROBE_ROOT", root)
        .args([
            "xccdf",
            "eval",
            "--skip-valid",
            "--progress",
            "--tailoring-file",
        ])
        .arg(tailoring)
        .args(["--profile", "xccdf_imgprep_profile_umask", "--cpe"])
        .arg(work.join("cpe.xml"))
        .arg(Path::new(CONTENT).join(DATASTREAM))
        .output()
        .expect("oscap runs (Debian package openscap-scanner, installed by .ci/deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "oscap failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(RULE_PREFIX)?.split_once(':'))
        .map(|(a, b)| (a.to_owned(), b.trim().to_owned()))
        .collect();
    r.sort();
    r
}

#[test]
fn ssg_file_results_agree_with_openscap() {
    let started = Instant::now();
    let ds_path = Path::new(CONTENT).join(DATASTREAM);
    let ds = fs_err::read_to_string(&ds_path)
        .expect("SCAP Security Guide content (Debian package ssg-nondebian, in .ci/deps)");
    check_template(&ds);
    let work = TempDir::new("oscap");
    fs_err::write(work.0.join("cpe.xml"), cpe_dictionary(&platform(&ds))).unwrap();
    fs_err::write(work.0.join("cpe-oval.xml"), CPE_OVAL).unwrap();
    drop(ds);

    // Two workers: oscap spends most of its time loading the datastream.
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(layout) = LAYOUTS.get(i) else { break };
                    let root = work.0.join(format!("root{i}"));
                    for (path, text) in layout.files {
                        let p = root.join(path);
                        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
                        fs_err::write(&p, text).unwrap();
                    }
                    let t = work.0.join(format!("tailoring{i}.xml"));
                    fs_err::write(&t, tailoring(layout.required)).unwrap();
                    let t0 = Instant::now();
                    let r = oscap(&work.0, &root, &t);
                    results
                        .lock()
                        .unwrap()
                        .push((i, r, t0.elapsed().as_secs_f64()));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);

    let mut table = String::from("layout | required | rule | oscap | ours\n");
    let mut mismatches = Vec::new();
    for (i, got, secs) in &results {
        let layout = &LAYOUTS[*i];
        let root = work.0.join(format!("root{i}"));
        assert_eq!(
            got.len(),
            3,
            "{}: oscap reported {got:?} ({secs:.1} s)",
            layout.name
        );
        for (rule, file, key) in RULES {
            let text = fs_err::read(root.join(file)).ok();
            let ours = ssg_file_result(text.as_deref(), key, layout.required).as_str();
            let theirs = got
                .iter()
                .find(|(r, _)| r == rule)
                .map_or("missing", |(_, v)| v.as_str());
            table.push_str(&format!(
                "{} | {} | {rule} | {theirs} | {ours}\n",
                layout.name, layout.required
            ));
            if theirs != ours {
                mismatches.push(format!(
                    "{} / {rule}: oscap {theirs}, ours {ours}",
                    layout.name
                ));
            }
        }
    }
    let secs: Vec<String> = results.iter().map(|r| format!("{:.1}", r.2)).collect();
    eprintln!(
        "{table}oscap seconds per layout: {}; total {:.1} s",
        secs.join(" "),
        started.elapsed().as_secs_f64()
    );
    assert!(mismatches.is_empty(), "{}\n{table}", mismatches.join("\n"));
    // Every outcome is exercised.
    for want in ["pass", "fail", "unknown"] {
        assert!(
            table.contains(&format!("| {want} | {want}")),
            "no {want} case:\n{table}"
        );
    }
}
