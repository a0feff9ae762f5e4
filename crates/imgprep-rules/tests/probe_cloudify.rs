//! The Cloudify probes on guests built in memory: legacy and PEP 405 virtualenvs, Cloudify 7's
//! bundled Python, broken agents, and the plugins `included_plugins.py` lists.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use imgprep_rules::{Outcome, Status};
use imgprep_testkit::MemGuest;

const ROOT: &str = "/home/centos/agent/env";
const SITE: &str = "/home/centos/agent/env/lib/python2.7/site-packages";

/// A legacy-virtualenv agent on a CentOS 7 base interpreter.
fn agent() -> MemGuest {
    MemGuest::new()
        .exec("/usr/bin/python2.7", "\x7fELF")
        .link("/usr/bin/python2", "python2.7")
        .file("/usr/lib64/python2.7/os.py", "")
        .file(
            "/usr/include/python2.7/patchlevel.h",
            "#define PY_MAJOR_VERSION 2\n#define PY_VERSION \"2.7.5\"\n",
        )
        .link(&format!("{ROOT}/bin/python"), "/usr/bin/python2")
        .file(&format!("{ROOT}/bin/activate"), "")
        .file(&format!("{ROOT}/lib/python2.7/orig-prefix.txt"), "/usr")
        .link(
            &format!("{ROOT}/lib/python2.7/os.py"),
            "/usr/lib64/python2.7/os.py",
        )
        .file(&format!("{SITE}/cloudify_agent/__init__.py"), "")
        .file(
            &format!("{SITE}/cloudify_agent/included_plugins.py"),
            "included_plugins = [\n    'cloudify-script-plugin',\n    'cloudify-diamond-plugin'\n]\n",
        )
        .dir(&format!("{SITE}/cloudify_script_plugin-1.3.dist-info"))
        .dir(&format!("{SITE}/cloudify_diamond_plugin-1.3-py2.7.egg-info"))
}

fn run(probe: &str, g: &MemGuest, params: &[(&str, &str)]) -> Outcome {
    let mut os = common::linux("centos", 7, 0, "rpm");
    os.applications = None;
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if !params.iter().any(|(k, _)| *k == "agent_dir") {
        all.push(("agent_dir", "/opt/none/*/env:/home/*/*/env"));
    }
    if !params.iter().any(|(k, _)| *k == "python_versions") {
        all.push(("python_versions", "2.7,3.6+"));
    }
    let yaml = match probe {
        "venv" => "probe: cloudify-agent-venv\nvenv: \"{agent_dir}\"\n",
        "python" => {
            "probe: cloudify-agent-python\nvenv: \"{agent_dir}\"\nsupported: \"{python_versions}\"\n"
        }
        "plugins" => "probe: cloudify-agent-plugins\nvenv: \"{agent_dir}\"\n",
        other => panic!("{other}"),
    };
    common::run(yaml, g, &os, &all)
}

/// Runs `probe` and checks status, message fragments and evidence `(path, text fragment)`.
fn expect(
    probe: &str,
    g: &MemGuest,
    params: &[(&str, &str)],
    status: Status,
    msg: &[&str],
    ev: &[(&str, &str)],
) {
    let o = run(probe, g, params);
    assert_eq!(o.status, status, "{probe}: {o:#?}");
    for m in msg {
        assert!(o.message.contains(m), "{probe}: {m:?} not in {o:#?}");
    }
    for (p, t) in ev {
        assert!(
            o.evidence
                .iter()
                .any(|e| e.path == *p && e.text.contains(t)),
            "{probe}: no evidence {p} / {t:?} in {o:#?}"
        );
    }
}

#[test]
fn legacy_virtualenv_passes() {
    let g = agent();
    expect(
        "venv",
        &g,
        &[],
        Status::Pass,
        &["the Cloudify agent virtualenv is /home/centos/agent/env"],
        &[
            (
                &format!("{ROOT}/bin/python"),
                "symbolic link to /usr/bin/python2",
            ),
            (
                &format!("{ROOT}/lib/python2.7/orig-prefix.txt"),
                "base prefix /usr",
            ),
            (&format!("{SITE}/cloudify_agent"), "cloudify_agent package"),
        ],
    );
    expect(
        "python",
        &g,
        &[],
        Status::Pass,
        &["Python 2.7.5 (/usr/bin/python2.7)", "supports (2.7,3.6+)"],
        &[
            ("/usr/bin/python2", "symbolic link to python2.7"),
            ("/usr/bin/python2.7", "the base interpreter"),
            ("/usr/include/python2.7/patchlevel.h", "2.7.5"),
            ("/usr/lib64/python2.7", "standard library of Python 2.7"),
        ],
    );
    expect(
        "plugins",
        &g,
        &[],
        Status::Pass,
        &["all 2 plugins"],
        &[
            (
                &format!("{SITE}/cloudify_script_plugin-1.3.dist-info"),
                "installed",
            ),
            (
                &format!("{SITE}/cloudify_diamond_plugin-1.3-py2.7.egg-info"),
                "installed",
            ),
        ],
    );
}

#[test]
fn pyvenv_cfg_with_a_copied_interpreter() {
    let root = "/opt/cloudify-agent/agent-6.4.0/env";
    let g = MemGuest::new()
        .exec("/usr/bin/python3.6", "\x7fELF")
        .exec(&format!("{root}/bin/python"), "\x7fELF")
        .file(&format!("{root}/bin/activate"), "")
        .file(
            &format!("{root}/pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.6.8\n",
        )
        .file(
            &format!("{root}/lib/python3.6/site-packages/cloudify_agent/__init__.py"),
            "",
        );
    let params = [("agent_dir", "/opt/cloudify-agent/agent-*/env")];
    expect("venv", &g, &params, Status::Pass, &[root], &[]);
    expect(
        "python",
        &g,
        &params,
        Status::Pass,
        &["Python 3.6.8 (/usr/bin/python3.6)"],
        &[
            (&format!("{root}/pyvenv.cfg"), "home = /usr/bin (exists)"),
            (&format!("{root}/bin/python"), "a copy"),
        ],
    );
    expect(
        "plugins",
        &g,
        &params,
        Status::Error,
        &["included_plugins.py does not exist", "3.2 and 3.3"],
        &[],
    );
}

#[test]
fn cloudify_7_bundled_python() {
    let root = "/opt/cloudify-agent/agent-7.0.0/env";
    let g = MemGuest::new()
        .exec(&format!("{root}/bin/python3.11"), "\x7fELF")
        .link(&format!("{root}/bin/python"), "python3.11")
        .file(&format!("{root}/lib/python3.11/os.py"), "")
        .file(
            &format!("{root}/include/python3.11/patchlevel.h"),
            "#define PY_VERSION_HEX 0x030b04f0\n#define PY_VERSION \"3.11.4\"\n",
        )
        .file(
            &format!("{root}/lib/python3.11/site-packages/cloudify_agent/__init__.py"),
            "",
        );
    let params = [("agent_dir", "/opt/cloudify-agent/agent-*/env")];
    expect(
        "venv",
        &g,
        &params,
        Status::Pass,
        &["a Python installation of its own"],
        &[(&format!("{root}/bin/activate"), "absent, as expected")],
    );
    expect(
        "python",
        &g,
        &params,
        Status::Pass,
        &["the agent runs on Python 3.11.4 (/opt/cloudify-agent/agent-7.0.0/env/bin/python3.11)"],
        &[(&format!("{root}/include/python3.11/patchlevel.h"), "3.11.4")],
    );
    // Without its standard library it is neither a virtualenv nor a Python of its own.
    let g = g.dir(&format!("{root}/lib/python3.11/os.py"));
    expect(
        "venv",
        &g,
        &params,
        Status::Fail,
        &["not a complete Cloudify agent virtualenv: missing bin/activate, pyvenv.cfg or"],
        &[],
    );
}

#[test]
fn broken_agents() {
    // The base interpreter was removed: the chain from bin/python dangles.
    let g = agent().link("/usr/bin/python2.7", "python2.7.old");
    expect(
        "python",
        &g,
        &[],
        Status::Fail,
        &["leads to /usr/bin/python2.7.old, which does not exist"],
        &[("/usr/bin/python2.7", "symbolic link to python2.7.old")],
    );
    // A loop of links.
    let g = agent().link("/usr/bin/python2.7", "python2");
    expect("python", &g, &[], Status::Fail, &["loop"], &[]);
    // orig-prefix.txt names a prefix that is gone.
    let g = agent().file(
        &format!("{ROOT}/lib/python2.7/orig-prefix.txt"),
        "/opt/py27",
    );
    expect(
        "python",
        &g,
        &[],
        Status::Fail,
        &["installed under /opt/py27"],
        &[("/opt/py27", "missing")],
    );
    // The venv was made for 2.7 but its link now reaches a 3.6.
    let g = agent()
        .exec("/usr/bin/python3.6", "")
        .link(&format!("{ROOT}/bin/python"), "/usr/bin/python3.6");
    expect(
        "python",
        &g,
        &[],
        Status::Fail,
        &["disagree", "2.7", "3.6"],
        &[],
    );
    // An unsupported interpreter.
    expect(
        "python",
        &agent(),
        &[("python_versions", "3.6+")],
        Status::Fail,
        &["Python 2.7.5", "does not support (supported: 3.6+)"],
        &[],
    );
    expect(
        "python",
        &agent(),
        &[("python_versions", "2,7")],
        Status::Error,
        &["python_versions"],
        &[],
    );
    // A plugin missing, a literal that is not one.
    let g = agent().file(
        &format!("{SITE}/cloudify_agent/included_plugins.py"),
        "included_plugins = ['cloudify-script-plugin', 'cloudify-fabric-plugin']\n",
    );
    expect(
        "plugins",
        &g,
        &[],
        Status::Fail,
        &[
            "1 of 2 plugins",
            "is not installed",
            "cloudify-fabric-plugin",
        ],
        &[(
            &format!("{SITE}/cloudify_agent/included_plugins.py"),
            "cloudify-fabric-plugin (no dist-info",
        )],
    );
    let g = agent().file(
        &format!("{SITE}/cloudify_agent/included_plugins.py"),
        "import os\nincluded_plugins = os.environ['PLUGINS'].split(',')\n",
    );
    expect(
        "plugins",
        &g,
        &[],
        Status::Error,
        &["line 2: `os` is a name", "without running it"],
        &[(
            &format!("{SITE}/cloudify_agent/included_plugins.py"),
            "os.environ",
        )],
    );
    // No agent at all; a directory that is not a virtualenv.
    let g = MemGuest::new().dir("/home/centos/projects/env/src");
    expect(
        "venv",
        &g,
        &[("agent_dir", "/opt/agent/env:/home/*/*/env")],
        Status::Fail,
        &["/home/centos/projects/env is not a virtualenv"],
        &[("/home/centos/projects/env/bin/python", "missing")],
    );
    expect(
        "venv",
        &MemGuest::new(),
        &[],
        Status::Fail,
        &["no Cloudify agent virtualenv"],
        &[("/opt/none/*/env", "no such directory")],
    );
    expect(
        "python",
        &MemGuest::new(),
        &[],
        Status::Skip,
        &["cloudify-agent.present"],
        &[],
    );
    expect(
        "plugins",
        &MemGuest::new(),
        &[],
        Status::Skip,
        &["cloudify-agent.present"],
        &[],
    );
    expect(
        "venv",
        &MemGuest::new(),
        &[("agent_dir", "opt/agent")],
        Status::Error,
        &["not an absolute guest path"],
        &[],
    );
}
