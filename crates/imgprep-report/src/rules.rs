//! Rules and the support matrix for people: `rules list`, `rules explain`, `matrix`.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use imgprep_rules::{Applies, Cloud, Matrix, Row, RuleSet};

/// Profiles with their parameters and rules (id, severity, title); only `only` when given.
pub fn list(set: &RuleSet, only: Option<&str>) -> String {
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
    out
}

/// Everything about rule `id`: rationale, source, when it applies, the check as the rule file
/// writes it, the fix and its action; `None` for an unknown id.
pub fn explain(set: &RuleSet, id: &str) -> Option<String> {
    let (r, file) = set.rules.iter().find(|(x, _)| x.id == id)?;
    let check: String = r
        .check
        .to_yaml()
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    Some(format!(
        "{id}: {}\nseverity: {}\nprofiles: {}\ndefined in: {file}\n\nwhy:\n{}\n\nsource:\n{}\n\n\
         applies: {}\ncheck:\n{check}\nfix:\n{}{}\n",
        r.title,
        r.severity,
        r.profiles.join(", "),
        wrap(&r.rationale, 98),
        wrap(&r.source, 98),
        applies(&r.applies),
        wrap(&r.remediation.text, 98),
        r.remediation
            .action
            .as_ref()
            .map(|a| format!("\n(imgprep prepare action: {a})"))
            .unwrap_or_default(),
    ))
}

/// The conditions of a rule on one line.
fn applies(a: &Applies) -> String {
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

/// The matrix rows `rows` for `clouds` as JSON: rows with a cell per cloud.
pub fn matrix_json(m: &Matrix, clouds: &[Cloud], rows: &[&Row]) -> String {
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
    let mut s = serde_json::to_string_pretty(&serde_json::json!({"source": m.source, "rows": v}))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// The matrix rows `rows` for `clouds` as a table with numbered footnotes and the source.
pub fn matrix_table(m: &Matrix, clouds: &[Cloud], rows: &[&Row]) -> String {
    let mut header = vec!["OS".to_owned()];
    header.extend(clouds.iter().map(|c| c.to_string()));
    let mut t = table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    let mut notes: Vec<String> = Vec::new();
    for r in rows {
        let mut row = vec![format!("{} ({})", r.label, r.os)];
        for c in clouds {
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
