//! `imgprep check --profile cloudify-agent --format json` on the Cloudify agent fixtures
//! (images-test/rules-cloudify.sh): each rule's status, message and evidence.

mod common;

use serde_json::Value;

/// One expected evidence item: path, line (when the evidence is a line), a fragment of its text.
type Ev = (&'static str, Option<u64>, &'static str);

/// The agent's virtualenv in the fixtures, and its plugin list.
const VENV: &str = "/home/centos/vm_3f2a1c/env";
const PLUGINS: &str =
    "/home/centos/vm_3f2a1c/env/lib/python2.7/site-packages/cloudify_agent/included_plugins.py";

/// The JSON report of `imgprep check IMAGE --profile cloudify-agent`, which exits `code`.
fn report(image: &str, code: i32) -> Value {
    let path = common::fixture("rules-cloudify").join(format!("{image}.qcow2"));
    let args: Vec<std::ffi::OsString> = vec![
        "check".into(),
        path.into(),
        "--profile".into(),
        "cloudify-agent".into(),
        "--format".into(),
        "json".into(),
    ];
    let out = common::imgprep_ok(args, code);
    serde_json::from_str(&out).expect("JSON report")
}

/// Compares the result of `rule` in `report`.
fn check(report: &Value, rule: &str, status: &str, message: &[&str], evidence: &[Ev]) {
    let result = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} result in\n{report:#}"));
    let shown = serde_json::to_string_pretty(result).expect("JSON");
    assert_eq!(result["status"], status, "{rule}:\n{shown}");
    let msg = result["message"].as_str().expect("a message");
    for m in message {
        assert!(
            msg.contains(m),
            "{rule}: {m:?} not in the message:\n{shown}"
        );
    }
    let ev = result["evidence"].as_array().expect("evidence");
    for (p, line, text) in evidence {
        assert!(
            ev.iter().any(|e| e["path"] == *p
                && e["line"].as_u64() == *line
                && e["text"].as_str().unwrap_or("").contains(text)),
            "{rule}: no evidence {p}:{line:?} containing {text:?}:\n{shown}"
        );
    }
}

#[test]
fn complete_agent_passes() {
    let r = report("cloudify-ok", 0);
    check(
        &r,
        "cloudify-agent.present",
        "pass",
        &[
            &format!("the Cloudify agent virtualenv is {VENV}"),
            "orig-prefix.txt",
        ],
        &[
            (
                "/home/centos/vm_3f2a1c/env/bin/python",
                None,
                "symbolic link to /usr/bin/python2.7",
            ),
            (
                "/home/centos/vm_3f2a1c/env/bin/activate",
                None,
                "activation script",
            ),
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.7/orig-prefix.txt",
                None,
                "virtualenv marker (virtualenv before 20), base prefix /usr",
            ),
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.7/site-packages/cloudify_agent",
                None,
                "the cloudify_agent package",
            ),
        ],
    );
    check(
        &r,
        "cloudify-agent.python",
        "pass",
        &[
            "runs on Python 2.7.5 (/usr/bin/python2.7)",
            "supports (2.7,3.6+)",
        ],
        &[
            (
                "/home/centos/vm_3f2a1c/env/bin/python",
                None,
                "symbolic link to /usr/bin/python2.7",
            ),
            ("/usr/bin/python2.7", None, "the base interpreter"),
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.7/orig-prefix.txt",
                None,
                "base prefix /usr (exists)",
            ),
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.7/os.py",
                None,
                "symbolic link to /usr/lib64/python2.7/os.py",
            ),
            (
                "/usr/lib64/python2.7",
                None,
                "standard library of Python 2.7",
            ),
            ("/usr/include/python2.7/patchlevel.h", Some(4), "\"2.7.5\""),
        ],
    );
    check(
        &r,
        "cloudify-agent.plugins",
        "pass",
        &[
            "all 2 plugins",
            "cloudify-script-plugin, cloudify-diamond-plugin",
        ],
        &[
            (PLUGINS, Some(7), "included_plugins = ["),
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.7/site-packages/cloudify_script_plugin-1.3-py2.7.egg-info",
                None,
                "installed: cloudify-script-plugin",
            ),
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.7/site-packages/cloudify_diamond_plugin-1.3.dist-info",
                None,
                "installed: cloudify-diamond-plugin",
            ),
        ],
    );
}

#[test]
fn no_agent_fails_present_and_skips_the_rest() {
    let r = report("cloudify-none", 1);
    check(
        &r,
        "cloudify-agent.present",
        "fail",
        &["no Cloudify agent virtualenv: no directory matches /home/*/*/env:/root/*/env"],
        &[
            ("/home/*/*/env", None, "no such directory"),
            ("/opt/cloudify-agent/agent-*/env", None, "no such directory"),
        ],
    );
    for rule in ["cloudify-agent.python", "cloudify-agent.plugins"] {
        check(&r, rule, "skip", &["see cloudify-agent.present"], &[]);
    }
}

#[test]
fn removed_interpreter_fails_python() {
    let r = report("cloudify-dangling", 1);
    // The virtualenv itself is intact: its bin/python is still a link.
    check(&r, "cloudify-agent.present", "pass", &[VENV], &[]);
    check(
        &r,
        "cloudify-agent.python",
        "fail",
        &[
            "the agent's base interpreter is missing",
            "/home/centos/vm_3f2a1c/env/bin/python leads to /usr/bin/python2.7, which does not \
             exist in the image",
        ],
        &[
            (
                "/home/centos/vm_3f2a1c/env/bin/python",
                None,
                "symbolic link to /usr/bin/python2.7",
            ),
            ("/usr/bin/python2.7", None, "missing"),
        ],
    );
    check(
        &r,
        "cloudify-agent.plugins",
        "pass",
        &["all 2 plugins"],
        &[],
    );
}

#[test]
fn python_26_agent_fails_python() {
    let r = report("cloudify-python26", 1);
    check(&r, "cloudify-agent.present", "pass", &[VENV], &[]);
    check(
        &r,
        "cloudify-agent.python",
        "fail",
        &[
            "runs on Python 2.6.6 (/usr/bin/python2.6)",
            "which the agent does not support (supported: 2.7,3.6+)",
        ],
        &[
            ("/usr/bin/python2.6", None, "the base interpreter"),
            ("/usr/include/python2.6/patchlevel.h", Some(4), "\"2.6.6\""),
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.6",
                None,
                "library directory for Python 2.6",
            ),
        ],
    );
    check(
        &r,
        "cloudify-agent.plugins",
        "pass",
        &["all 2 plugins"],
        &[],
    );
}

#[test]
fn python_26_passes_when_allowed() {
    let path = common::fixture("rules-cloudify").join("cloudify-python26.qcow2");
    let args: Vec<std::ffi::OsString> = vec![
        "check".into(),
        path.into(),
        "--profile".into(),
        "cloudify-agent".into(),
        "--param".into(),
        "python_versions=2.6,2.7".into(),
        "--format".into(),
        "json".into(),
    ];
    let r: Value = serde_json::from_str(&common::imgprep_ok(args, 0)).expect("JSON report");
    check(
        &r,
        "cloudify-agent.python",
        "pass",
        &["Python 2.6.6", "supports (2.6,2.7)"],
        &[],
    );
}

#[test]
fn missing_plugin_fails_plugins() {
    let r = report("cloudify-plugin-missing", 1);
    check(&r, "cloudify-agent.present", "pass", &[VENV], &[]);
    check(&r, "cloudify-agent.python", "pass", &["Python 2.7.5"], &[]);
    check(
        &r,
        "cloudify-agent.plugins",
        "fail",
        &[
            "1 of 2 plugins listed in included_plugins.py is not installed",
            ": cloudify-diamond-plugin;",
        ],
        &[
            (
                "/home/centos/vm_3f2a1c/env/lib/python2.7/site-packages/cloudify_script_plugin-1.3-py2.7.egg-info",
                None,
                "installed: cloudify-script-plugin",
            ),
            (
                PLUGINS,
                Some(9),
                "cloudify-diamond-plugin (no dist-info, egg-info or egg-link in",
            ),
        ],
    );
    assert!(
        !r["results"]
            .to_string()
            .contains("cloudify_diamond_plugin-1.3.dist-info"),
        "the removed dist-info must not be evidence"
    );
}

#[test]
fn computed_plugin_list_is_an_error() {
    let r = report("cloudify-plugins-computed", 1);
    check(&r, "cloudify-agent.present", "pass", &[VENV], &[]);
    check(&r, "cloudify-agent.python", "pass", &["Python 2.7.5"], &[]);
    check(
        &r,
        "cloudify-agent.plugins",
        "error",
        &[
            "is not a literal list of plugin names",
            "line 3: `os` is a name, not a literal",
            "without running it",
        ],
        &[(PLUGINS, Some(3), "os.environ.get('CLOUDIFY_PLUGINS'")],
    );
}
