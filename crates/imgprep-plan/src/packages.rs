//! `install-package:NAME`: local packages given with `--package`, installed by the guest's own
//! `dpkg` or `rpm` in the appliance (network off); what they need must be given too.

use std::path::{Path, PathBuf};

use imgprep_rules::{Action, Check, RuleResult};

use crate::{Error, Instr, Planner};

/// Where packages are put in the guest while they are installed.
const STAGING: &str = "/var/tmp/imgprep-packages";

/// Names that provide what an action names, beyond the name itself.
fn aliases(name: &str) -> &'static [&'static str] {
    match name {
        "python" => &[
            "python",
            "python2",
            "python2.7",
            "python3",
            "python27",
            "python3.6",
            "python36",
        ],
        "python-minimal" => &["python-minimal", "python2-minimal", "python2.7-minimal"],
        "openssl-devel" => &["openssl-devel", "libssl-dev"],
        _ => &[],
    }
}

/// A package file's name and format from its file name: `NAME_VERSION_ARCH.deb` (Debian's
/// naming) or `NAME-VERSION-RELEASE.ARCH.rpm`.
pub(crate) fn package_name(file: &Path) -> Option<(String, &'static str)> {
    let f = file.file_name()?.to_str()?;
    if let Some(stem) = f.strip_suffix(".deb") {
        return Some((stem.split('_').next()?.to_owned(), "deb"));
    }
    let stem = f.strip_suffix(".rpm")?;
    let (nvr, _arch) = stem.rsplit_once('.')?;
    let mut parts = nvr.rsplitn(3, '-');
    let (_release, _version, name) = (parts.next()?, parts.next()?, parts.next()?);
    Some((name.to_owned(), "rpm"))
}

pub(crate) fn install(p: &mut Planner<'_, '_>, r: &RuleResult, name: &str) -> Result<(), Error> {
    let mut wanted: Vec<String> = match p.set.rule(&r.rule).map(|rule| &rule.check) {
        Some(Check::Package(pk)) => pk.names.clone(),
        _ => Vec::new(),
    };
    wanted.push(name.to_owned());
    wanted.extend(aliases(name).iter().map(|s| (*s).to_owned()));
    if p.cx.is_windows() {
        p.skip(
            r,
            format!("needs {name}: install it with its Windows installer (prepare installs .deb and .rpm packages only)"),
        );
        return Ok(());
    }
    let format = p.cx.os.package_format.clone().unwrap_or_default();
    let mut given: Vec<(PathBuf, String, &'static str)> = Vec::new();
    for f in &p.inputs.packages {
        let Some((n, fmt)) = package_name(f) else {
            return Err(Error::Input(format!(
                "--package {}: not a .deb or .rpm file named as its package manager names them",
                f.display()
            )));
        };
        given.push((f.clone(), n, fmt));
    }
    let matching: Vec<&(PathBuf, String, &str)> = given
        .iter()
        .filter(|(_, n, _)| wanted.contains(n))
        .collect();
    if matching.is_empty() {
        let ext = if format == "rpm" { "rpm" } else { "deb" };
        p.skip(
            r,
            format!("needs {name}: pass --package {name}*.{ext} (and what it depends on)"),
        );
        return Ok(());
    }
    if let Some((f, _, fmt)) = matching.iter().find(|(_, _, fmt)| *fmt != format) {
        return Err(Error::Input(format!(
            "--package {}: a {fmt} package, but the guest's packages are {}",
            f.display(),
            if format.is_empty() {
                "of no known format"
            } else {
                &format
            }
        )));
    }
    let (program, args) = match format.as_str() {
        "deb" => ("/usr/bin/dpkg", vec!["-i"]),
        "rpm" => ("/usr/bin/rpm", vec!["-U", "--replacepkgs"]),
        _ => {
            p.skip(r, "the guest has no package manager imgprep can run");
            return Ok(());
        }
    };
    if !p.guest_can_run(program) {
        p.skip(
            r,
            format!(
                "the guest's {program} cannot run in the appliance (missing, or another \
                 architecture than the host's)"
            ),
        );
        return Ok(());
    }
    // One step installs every --package of the guest's format the first time a rule needs one
    // (the others are taken as dependencies); later rules join it.
    if p.packages_done {
        p.push(
            &r.rule,
            &Action::InstallPackage("packages".into()),
            String::new(),
            Vec::new(),
        );
        return Ok(());
    }
    p.packages_done = true;
    let mut instrs = Vec::new();
    let mut argv = vec![program.to_owned()];
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    let mut names = Vec::new();
    instrs.extend(
        imgprep_sysconf::ops::mkdirs(p.guest(), STAGING, "stage local packages")
            .into_iter()
            .map(Instr::File),
    );
    for (f, n, _) in given.iter().filter(|(_, _, fmt)| *fmt == format) {
        let base = f
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        let guest = format!("{STAGING}/{base}");
        instrs.push(Instr::Upload {
            from: f.clone(),
            path: guest.clone(),
            mode: 0o644,
            uid: 0,
            gid: 0,
        });
        argv.push(guest);
        names.push(n.clone());
    }
    let cleanup: Vec<Instr> = argv[1 + args.len()..]
        .iter()
        .map(|g| {
            Instr::File(imgprep_sysconf::FileOp {
                path: g.clone(),
                op: imgprep_sysconf::Op::Remove,
                why: "remove the staged package".into(),
            })
        })
        .collect();
    instrs.push(Instr::Run {
        argv,
        why: format!("install {} with the guest's {program}", names.join(", ")),
    });
    instrs.extend(cleanup);
    p.push(
        &r.rule,
        &Action::InstallPackage("packages".into()),
        format!(
            "install {} with the guest's own {program}",
            names.join(", ")
        ),
        instrs,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_come_from_file_names() {
        for (f, want) in [
            (
                "net-tools_2.10-0.1+deb12u2_amd64.deb",
                Some(("net-tools", "deb")),
            ),
            (
                "libssl-dev_3.0.20-1~deb12u2_amd64.deb",
                Some(("libssl-dev", "deb")),
            ),
            (
                "openssl-devel-1.0.2k-25.el7_9.x86_64.rpm",
                Some(("openssl-devel", "rpm")),
            ),
            ("python-2.7.5-94.el7_9.x86_64.rpm", Some(("python", "rpm"))),
            ("notes.txt", None),
        ] {
            let got = package_name(Path::new(f));
            assert_eq!(got.as_ref().map(|(n, k)| (n.as_str(), *k)), want, "{f}");
        }
    }
}
