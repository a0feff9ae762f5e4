//! Running one probe, written as a rule file writes its `check:`, on a guest built in memory.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset; test helpers

use std::collections::BTreeMap;

use imgprep_inspect::{Application, OperatingSystem};
use imgprep_rules::{Check, Context, Matrix, Outcome};
use imgprep_testkit::MemGuest;

/// An inspected Linux OS.
pub(crate) fn linux(distro: &str, major: u32, minor: u32, format: &str) -> OperatingSystem {
    OperatingSystem {
        name: Some("linux".into()),
        distro: Some(distro.into()),
        major_version: major,
        minor_version: minor,
        package_format: Some(format.into()),
        applications: Some(Vec::new()),
        ..Default::default()
    }
}

/// `os` with installed packages `(name, version)`.
pub(crate) fn with_packages(mut os: OperatingSystem, apps: &[(&str, &str)]) -> OperatingSystem {
    os.applications = Some(
        apps.iter()
            .map(|(n, v)| Application {
                name: (*n).into(),
                version: Some((*v).into()),
                ..Default::default()
            })
            .collect(),
    );
    os
}

/// Runs the check `yaml` (`probe: NAME` and its parameters) with `params` on `g`.
pub(crate) fn run(
    yaml: &str,
    g: &MemGuest,
    os: &OperatingSystem,
    params: &[(&str, &str)],
) -> Outcome {
    let check: Check = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    let matrix = Matrix::default();
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let cx = Context::new(os, g, None, &params, &matrix, &[]);
    check.probe().run(&cx)
}

/// `path:line text` of every evidence entry.
pub(crate) fn shown(o: &Outcome) -> Vec<String> {
    o.evidence
        .iter()
        .map(|e| format!("{}:{} {}", e.path, e.line.unwrap_or(0), e.text))
        .collect()
}
