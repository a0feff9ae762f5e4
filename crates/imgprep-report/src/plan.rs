//! `imgprep prepare`: the plan (table, JSON, an equivalent virt-customize command line) and the
//! verification of the result (each rule before and after).

use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use imgprep_plan::{Instr, Plan};
use imgprep_rules::{RuleResult, Status};
use imgprep_sysconf::{FileOp, Op};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(110);
    t
}

/// The plan for people: each step with the rules it fixes and what it does, then the rules it
/// leaves and why.
pub fn table(plan: &Plan, image: &str, profile: &str) -> String {
    let mut out = String::new();
    let n = plan.steps.len();
    out.push_str(&format!(
        "{image}: {} for profile {profile}\n",
        match n {
            0 => "nothing to change".to_owned(),
            1 => "1 step".to_owned(),
            n => format!("{n} steps"),
        }
    ));
    if n > 0 {
        let mut t = new_table();
        t.set_header(vec!["step", "what it does"]);
        for s in &plan.steps {
            let mut what = s.summary.clone();
            for i in &s.instrs {
                what.push_str(&format!("\n  {}", i.describe()));
            }
            let who = if s.rules.is_empty() {
                s.action.clone()
            } else {
                format!("{}\n{}", s.action, s.rules.join("\n"))
            };
            t.add_row(vec![Cell::new(who), Cell::new(what)]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    for s in &plan.skipped {
        out.push_str(&format!(
            "left {} ({}): {}\n",
            s.rule,
            s.status.as_str(),
            s.reason
        ));
    }
    for note in &plan.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn instr_json(i: &Instr) -> Value {
    match i {
        Instr::File(op) => file_json(op),
        Instr::Upload {
            from,
            path,
            mode,
            uid,
            gid,
        } => json!({
            "op": "upload", "from": from.display().to_string(), "path": path,
            "mode": format!("{mode:04o}"), "uid": uid, "gid": gid,
        }),
        Instr::Unpack { bundle, prefix } => json!({
            "op": "unpack", "bundle": bundle.display().to_string(), "path": prefix,
        }),
        Instr::Run { argv, why } => json!({"op": "run", "argv": argv, "why": why}),
        Instr::Relabel { file_contexts } => {
            json!({"op": "relabel", "file_contexts": file_contexts})
        }
    }
}

fn file_json(op: &FileOp) -> Value {
    let mut v = match &op.op {
        Op::Write {
            content,
            mode,
            uid,
            gid,
        } => {
            let mut v = json!({
                "op": "write", "path": op.path, "mode": format!("{mode:04o}"), "uid": uid,
                "gid": gid, "size": content.len(), "sha256": sha256(content),
            });
            if content.len() <= 4096
                && let Ok(text) = std::str::from_utf8(content)
            {
                v["content"] = json!(text);
            }
            v
        }
        Op::Symlink { target } => json!({"op": "symlink", "path": op.path, "target": target}),
        Op::Mkdir { mode, uid, gid } => json!({
            "op": "mkdir", "path": op.path, "mode": format!("{mode:04o}"), "uid": uid, "gid": gid,
        }),
        Op::Remove => json!({"op": "remove", "path": op.path}),
        Op::RegistrySet {
            hive,
            key,
            name,
            value,
        } => json!({
            "op": "registry-set", "hive": hive, "key": key, "name": name,
            "value": value.to_string(),
        }),
        Op::RegistryDelete { hive, key, name } => json!({
            "op": "registry-delete", "hive": hive, "key": key, "name": name,
        }),
    };
    v["why"] = json!(op.why);
    v
}

/// The plan as JSON: steps with their operations (file contents up to 4 KiB of text inline,
/// every written file's size and SHA-256), the rules left and why, and notes.
pub fn json(plan: &Plan, image: &str, profile: &str) -> String {
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            json!({
                "action": s.action, "rules": s.rules, "summary": s.summary,
                "operations": s.instrs.iter().map(instr_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let v = json!({
        "image": image, "profile": profile, "steps": steps, "left": plan.skipped,
        "notes": plan.notes,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// A string quoted for a POSIX shell.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What virt-customize's `--firstboot` sets up itself on a Windows guest (the service,
/// `firstboot.bat`, rhsrvany.exe), so the operations that do it are not repeated. (Its
/// directories are kept: other files go there first.)
fn firstboot_service_part(i: &Instr) -> bool {
    use imgprep_sysconf::firstboot;
    let dir = firstboot::DIR.to_ascii_lowercase();
    let under = |p: &str, rest: &str| p.to_ascii_lowercase() == format!("{dir}{rest}");
    match i {
        Instr::File(op) => match &op.op {
            Op::Write { .. } => under(&op.path, "/firstboot.bat"),
            Op::RegistrySet { key, .. } => {
                let k = key.to_ascii_lowercase();
                let svc = format!("\\services\\{}", firstboot::SERVICE);
                k.ends_with(&svc) || k.ends_with(&format!("{svc}\\parameters"))
            }
            _ => false,
        },
        Instr::Upload { path, .. } => under(path, &format!("/{}", firstboot::SRVANY)),
        _ => false,
    }
}

/// The commands of a first-boot script written by the plan (the lines that are not `@echo off`
/// or remarks), when `op` writes one.
fn firstboot_commands(op: &FileOp) -> Option<Vec<String>> {
    use imgprep_sysconf::firstboot;
    let Op::Write { content, .. } = &op.op else {
        return None;
    };
    let scripts = format!("{}/scripts/", firstboot::DIR.to_ascii_lowercase());
    let lower = op.path.to_ascii_lowercase();
    if !lower.starts_with(&scripts) || !lower.ends_with(".bat") {
        return None;
    }
    let text = String::from_utf8_lossy(content);
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                !l.is_empty() && l != "@echo off" && !l.starts_with("rem ")
            })
            .map(str::to_owned)
            .collect(),
    )
}

/// The same plan as a `virt-customize` command line: what a user of that tool would run to make
/// the same changes. What it has no option for (registry edits, binary files, unpacking an
/// archive into a Windows guest) is listed as comments first. On Windows, the first-boot
/// service and script the plan writes are what `--firstboot-command` sets up, and owners and
/// modes are not set (virt-customize runs no command in a Windows guest).
pub fn virt_customize(plan: &Plan, image: &str) -> String {
    let mut args: Vec<String> = vec![
        "virt-customize".into(),
        "-a".into(),
        sh(image),
        "--no-network".into(),
    ];
    let mut comments = Vec::new();
    let windows = plan.windows;
    let owner = |args: &mut Vec<String>, path: &str, mode: u32, uid: u32, gid: u32| {
        if windows {
            return;
        }
        args.push("--chmod".into());
        args.push(sh(&format!("{mode:04o}:{path}")));
        args.push("--run-command".into());
        args.push(sh(&format!("chown -h {uid}:{gid} {}", sh(path))));
    };
    let mut service_noted = false;
    for i in plan.instrs() {
        if windows && firstboot_service_part(i) {
            if !service_noted {
                comments.push(
                    "# the first-boot service (rhsrvany.exe, firstboot.bat, the firstboot \
                     service in the SYSTEM hive) is what --firstboot-command installs"
                        .to_owned(),
                );
                service_noted = true;
            }
            continue;
        }
        if windows
            && let Instr::File(op) = i
            && let Some(cmds) = firstboot_commands(op)
        {
            for c in cmds {
                args.push("--firstboot-command".into());
                args.push(sh(&c));
            }
            continue;
        }
        match i {
            Instr::File(op) => match &op.op {
                Op::Mkdir { mode, uid, gid } => {
                    args.push("--mkdir".into());
                    args.push(sh(&op.path));
                    owner(&mut args, &op.path, *mode, *uid, *gid);
                }
                Op::Write {
                    content,
                    mode,
                    uid,
                    gid,
                } => match std::str::from_utf8(content) {
                    Ok(text) => {
                        args.push("--write".into());
                        args.push(sh(&format!("{}:{text}", op.path)));
                        owner(&mut args, &op.path, *mode, *uid, *gid);
                    }
                    Err(_) => comments.push(format!(
                        "# {}: {} bytes of binary content (no virt-customize option writes it)",
                        op.path,
                        content.len()
                    )),
                },
                Op::Symlink { target } => {
                    args.push("--link".into());
                    args.push(sh(&format!("{target}:{}", op.path)));
                }
                Op::Remove => {
                    args.push("--delete".into());
                    args.push(sh(&op.path));
                }
                Op::RegistrySet { .. } | Op::RegistryDelete { .. } => comments.push(format!(
                    "# {} (no virt-customize option edits the registry; virt-win-reg --merge \
                     does)",
                    crate::plan::describe(op)
                )),
            },
            Instr::Upload {
                from,
                path,
                mode,
                uid,
                gid,
            } => {
                args.push("--upload".into());
                args.push(sh(&format!("{}:{path}", from.display())));
                owner(&mut args, path, *mode, *uid, *gid);
            }
            Instr::Unpack { bundle, prefix } if windows => {
                comments.push(format!(
                    "# unpack {} into {prefix}: no virt-customize option unpacks an archive into \
                     a Windows guest (--run-command does not run there); unpack it on the host \
                     and add --copy-in DIR:{}",
                    bundle.display(),
                    crate::plan::parent_dir(prefix)
                ));
            }
            Instr::Unpack { bundle, prefix } => {
                let tmp = "/var/tmp/imgprep-bundle.tar.gz";
                args.push("--upload".into());
                args.push(sh(&format!("{}:{tmp}", bundle.display())));
                args.push("--run-command".into());
                args.push(sh(&format!(
                    "tar --numeric-owner -xzf {tmp} -C {} --exclude imgprep-bundle.json && rm -f {tmp}",
                    sh(prefix)
                )));
            }
            Instr::Run { argv, .. } => {
                let cmd: Vec<String> = argv.iter().map(|a| sh(a)).collect();
                args.push("--run-command".into());
                args.push(sh(&cmd.join(" ")));
            }
            Instr::Relabel { .. } => args.push("--selinux-relabel".into()),
        }
    }
    let mut out = String::new();
    for c in &comments {
        out.push_str(c);
        out.push('\n');
    }
    out.push_str(&args.join(" \\\n  "));
    out.push('\n');
    out
}

/// The directory holding `path` (`--copy-in` copies a directory into another).
fn parent_dir(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((d, _)) => d,
    }
}

fn describe(op: &FileOp) -> String {
    imgprep_plan::Instr::File(op.clone()).describe()
}

/// One rule before and after prepare.
#[derive(Debug, Clone)]
pub struct Change {
    /// Rule id.
    pub rule: String,
    /// Status before.
    pub before: Status,
    /// Status after.
    pub after: Status,
    /// The message after.
    pub message: String,
}

/// Pairs the results before and after by rule.
pub fn changes(before: &[RuleResult], after: &[RuleResult]) -> Vec<Change> {
    before
        .iter()
        .filter_map(|b| {
            let a = after.iter().find(|a| a.rule == b.rule)?;
            Some(Change {
                rule: b.rule.clone(),
                before: b.status,
                after: a.status,
                message: a.message.clone(),
            })
        })
        .collect()
}

/// Each rule's status before → after, changed ones first.
pub fn verification(changes: &[Change], output: &str) -> String {
    let mut t = new_table();
    t.set_header(vec!["rule", "before → after", "now"]);
    let mut rows: Vec<&Change> = changes.iter().collect();
    rows.sort_by_key(|c| (c.before == c.after, c.rule.clone()));
    for c in rows {
        let arrow = if c.before == c.after {
            c.after.as_str().to_owned()
        } else {
            format!("{} → {}", c.before.as_str(), c.after.as_str())
        };
        t.add_row(vec![c.rule.clone(), arrow, c.message.clone()]);
    }
    format!("{output}: verified natively\n{t}\n")
}
