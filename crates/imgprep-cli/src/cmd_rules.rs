//! `imgprep rules` and `imgprep matrix`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use imgprep_rules::{Cloud, RuleSet};

/// List rules and profiles, or explain one rule.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: RulesCommand,
    /// Extra directory of rule files (*.yaml) to load with the built-in ones (repeatable).
    #[arg(long = "rules", value_name = "DIR", global = true)]
    rules: Vec<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// Profiles with their parameters, and their rules (id, severity, title).
    List {
        /// Only this profile.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Everything about one rule: rationale, source, when it applies, the check, the fix.
    Explain {
        /// Rule id, e.g. umask.login.
        id: String,
    },
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let set = RuleSet::load(&a.rules)?;
    let text = match a.command {
        RulesCommand::List { profile } => list(&set, profile.as_deref())?,
        RulesCommand::Explain { id } => explain(&set, &id)?,
    };
    crate::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn list(set: &RuleSet, only: Option<&str>) -> anyhow::Result<String> {
    if let Some(p) = only
        && set.profile(p).is_none()
    {
        bail!("unknown profile {p:?}");
    }
    let mut out = String::new();
    for p in set
        .profiles
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.name))
    {
        out.push_str(&format!(
            "{} — {}\n{}\n",
            p.name,
            p.title,
            wrap(&p.description, 98)
        ));
        if !p.params.is_empty() {
            out.push_str("parameters (--param KEY=VALUE):\n");
            for (k, s) in &p.params {
                let d = s
                    .default
                    .as_deref()
                    .map_or("unset".to_owned(), |d| format!("default {d}"));
                out.push_str(&format!("  {k} ({d}): {}\n", s.help.trim()));
            }
        }
        let mut t = table(&["rule", "severity", "title"]);
        for r in set.rules_of(&p.name) {
            t.add_row(vec![r.id.clone(), r.severity.to_string(), r.title.clone()]);
        }
        out.push_str(&format!("{t}\n\n"));
    }
    Ok(out)
}

fn explain(set: &RuleSet, id: &str) -> anyhow::Result<String> {
    let Some(r) = set.rule(id) else {
        bail!("unknown rule {id:?} (imgprep rules list shows them)");
    };
    let file = set
        .rules
        .iter()
        .find(|(x, _)| x.id == id)
        .map(|(_, f)| f.as_str())
        .unwrap_or("");
    let applies = serde_saphyr_like(&r.applies);
    Ok(format!(
        "{id}: {}\nseverity: {}\nprofiles: {}\ndefined in: {file}\n\nwhy:\n{}\n\nsource:\n{}\n\napplies: {}\ncheck: {:?}\n\nfix:\n{}{}\n",
        r.title,
        r.severity,
        r.profiles.join(", "),
        wrap(&r.rationale, 98),
        wrap(&r.source, 98),
        applies,
        r.check,
        wrap(&r.remediation.text, 98),
        r.remediation
            .action
            .as_ref()
            .map(|a| format!("\n(imgprep prepare action: {a})"))
            .unwrap_or_default(),
    ))
}

/// The conditions of a rule on one line.
fn serde_saphyr_like(a: &imgprep_rules::Applies) -> String {
    let mut parts = Vec::new();
    if !a.os.is_empty() {
        parts.push(format!("os {}", a.os.join("|")));
    }
    if !a.distro.is_empty() {
        parts.push(format!("distro {}", a.distro.join("|")));
    }
    if !a.version.is_empty() {
        parts.push(format!("version {}", a.version.join(" and ")));
    }
    if !a.cloud.is_empty() {
        let c: Vec<&str> = a.cloud.iter().map(|c| c.as_str()).collect();
        parts.push(format!("cloud {}", c.join("|")));
    }
    for (k, v) in &a.params {
        parts.push(format!("{k}={v}"));
    }
    if parts.is_empty() {
        "always".into()
    } else {
        parts.join(", ")
    }
}

fn wrap(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in s.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + w.len() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    out.push_str(&line);
    out
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(110)
        .set_header(header.to_vec());
    t
}

/// Output formats of `matrix`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum MatrixFormat {
    /// A table.
    Table,
    /// JSON: rows with a cell per cloud.
    Json,
}

/// Show which clouds can install the management agent at first boot (dynamic bootstrapping) on
/// which OS, with the conditions.
#[derive(Debug, clap::Args)]
pub(crate) struct MatrixArgs {
    /// Only this cloud.
    #[arg(long, value_enum)]
    cloud: Option<Cloud>,
    /// Only rows whose OS matches, e.g. centos-7, centos, windows-2016.
    #[arg(long)]
    os: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = MatrixFormat::Table)]
    format: MatrixFormat,
}

pub(crate) fn matrix(a: MatrixArgs) -> anyhow::Result<ExitCode> {
    let set = RuleSet::builtin()?;
    let m = &set.matrix;
    let clouds: Vec<Cloud> = m
        .clouds
        .iter()
        .copied()
        .filter(|c| a.cloud.is_none_or(|w| w == *c))
        .collect();
    if clouds.is_empty() {
        bail!(
            "the matrix does not list {} (it lists {})",
            a.cloud.map(|c| c.to_string()).unwrap_or_default(),
            m.clouds
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let rows: Vec<_> = m
        .rows
        .iter()
        .filter(|r| a.os.as_deref().is_none_or(|o| r.os.starts_with(o)))
        .collect();
    if rows.is_empty() {
        bail!("no matrix row matches --os {}", a.os.unwrap_or_default());
    }
    let text = match a.format {
        MatrixFormat::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let cells: serde_json::Map<String, serde_json::Value> = clouds
                        .iter()
                        .filter_map(|c| {
                            let cell = m.cell(*c, &r.os)?;
                            Some((
                                c.to_string(),
                                serde_json::json!({"support": cell.support.label(), "status": cell.support.status().as_str(), "notes": cell.notes}),
                            ))
                        })
                        .collect();
                    serde_json::json!({"os": r.os, "label": r.label, "clouds": cells})
                })
                .collect();
            let mut s =
                serde_json::to_string_pretty(&serde_json::json!({"source": m.source, "rows": v}))?;
            s.push('\n');
            s
        }
        MatrixFormat::Table => {
            let mut header = vec!["OS".to_owned()];
            header.extend(clouds.iter().map(|c| c.to_string()));
            let mut t = table(&header.iter().map(String::as_str).collect::<Vec<_>>());
            let mut notes: Vec<String> = Vec::new();
            for r in &rows {
                let mut row = vec![format!("{} ({})", r.label, r.os)];
                for c in &clouds {
                    row.push(match m.cell(*c, &r.os) {
                        Some(cell) => {
                            let marks: Vec<String> = cell
                                .notes
                                .iter()
                                .map(|n| {
                                    if !notes.contains(n) {
                                        notes.push(n.clone());
                                    }
                                    let i = notes.iter().position(|x| x == n).unwrap_or(0) + 1;
                                    format!("[{i}]")
                                })
                                .collect();
                            format!("{} {}", cell.support.label(), marks.join(""))
                        }
                        None => "-".into(),
                    });
                }
                t.add_row(row);
            }
            let mut s = format!("{t}\n");
            for (i, n) in notes.iter().enumerate() {
                s.push_str(&format!("[{}] {}\n", i + 1, wrap(n, 96)));
            }
            s.push_str(&format!("source: {}\n", wrap(&m.source, 92)));
            s
        }
    };
    crate::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
