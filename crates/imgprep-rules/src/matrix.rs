//! The dynamic-bootstrapping support matrix: which clouds can push the agent onto which OS at
//! first boot. Data (`rules/matrix.yaml`), not code.

use std::collections::BTreeMap;

use imgprep_inspect::OperatingSystem;
use serde::Deserialize;

use crate::verdict::{Cloud, Status};

/// The matrix file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Where the values come from.
    pub source: String,
    /// Footnote id -> text.
    pub footnotes: BTreeMap<String, String>,
    /// Footnotes that apply to every cell of a cloud.
    #[serde(default)]
    pub cloud_notes: BTreeMap<Cloud, Vec<String>>,
    /// Column order.
    pub clouds: Vec<Cloud>,
    /// Rows in order.
    pub rows: Vec<Row>,
}

/// One OS row.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Stable key, e.g. `centos-7`.
    pub os: String,
    /// As printed, e.g. `CentOS 7`.
    pub label: String,
    /// Cloud -> cell text: `yes`, `no`, `depends`, `openlogic`, optionally followed by footnote
    /// ids in brackets: `yes [cloudbase-init]`.
    pub cells: BTreeMap<Cloud, String>,
}

/// A matrix cell, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// The cloud bootstraps the agent dynamically.
    Yes,
    /// It does not.
    No,
    /// It depends on the cloud's setup.
    Depends,
    /// Only with the cloud's Openlogic images.
    Openlogic,
}

impl Support {
    /// The verdict a check gives for this cell.
    pub fn status(self) -> Status {
        match self {
            Support::Yes => Status::Pass,
            Support::No => Status::Fail,
            Support::Depends | Support::Openlogic => Status::Warn,
        }
    }

    /// As the matrix prints it.
    pub fn label(self) -> &'static str {
        match self {
            Support::Yes => "Yes",
            Support::No => "No",
            Support::Depends => "Depends on the setup",
            Support::Openlogic => "Openlogic images",
        }
    }
}

/// What the matrix says for one (cloud, OS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The row's label, e.g. `CentOS 7`.
    pub os_label: String,
    /// Support level.
    pub support: Support,
    /// Footnote texts that apply.
    pub notes: Vec<String>,
}

/// Why a matrix file is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatrixError {
    /// A cell that is not `yes`/`no`/`depends`/`openlogic` with known footnotes.
    #[error("matrix row {os}, cloud {cloud}: {what}")]
    BadCell {
        /// Row.
        os: String,
        /// Column.
        cloud: Cloud,
        /// What is wrong.
        what: String,
    },
}

impl Matrix {
    /// Checks every cell parses and every footnote exists.
    pub fn validate(&self) -> Result<(), MatrixError> {
        for row in &self.rows {
            for (&cloud, text) in &row.cells {
                self.parse_cell(text).map_err(|what| MatrixError::BadCell {
                    os: row.os.clone(),
                    cloud,
                    what,
                })?;
            }
        }
        Ok(())
    }

    fn parse_cell(&self, text: &str) -> Result<(Support, Vec<String>), String> {
        let (value, notes) = match text.split_once('[') {
            Some((v, rest)) => (
                v.trim(),
                rest.trim_end()
                    .strip_suffix(']')
                    .ok_or_else(|| format!("unclosed footnote list in {text:?}"))?
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .collect(),
            ),
            None => (text.trim(), Vec::new()),
        };
        let support = match value {
            "yes" => Support::Yes,
            "no" => Support::No,
            "depends" => Support::Depends,
            "openlogic" => Support::Openlogic,
            other => return Err(format!("unknown value {other:?}")),
        };
        let notes = notes
            .into_iter()
            .map(|id| {
                self.footnotes
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("unknown footnote {id:?}"))
            })
            .collect::<Result<_, _>>()?;
        Ok((support, notes))
    }

    /// The cell for `cloud` and the row `os`, when the matrix lists both.
    pub fn cell(&self, cloud: Cloud, os: &str) -> Option<Cell> {
        let row = self.rows.iter().find(|r| r.os == os)?;
        let text = row.cells.get(&cloud)?;
        let (support, mut notes) = self.parse_cell(text).ok()?;
        for id in self.cloud_notes.get(&cloud).into_iter().flatten() {
            if let Some(n) = self.footnotes.get(id) {
                notes.push(n.clone());
            }
        }
        Some(Cell {
            os_label: row.label.clone(),
            support,
            notes,
        })
    }
}

/// The matrix row key for an inspected OS (`windows-2012`, `centos-7`, …), when it has one.
pub fn os_key(os: &OperatingSystem) -> Option<String> {
    let product = os.product_name.as_deref().unwrap_or("");
    match (os.distro.as_deref()?, os.major_version, os.minor_version) {
        ("windows", 6, 0 | 1) => Some("windows-2008".into()),
        ("windows", 6, 2 | 3) => Some("windows-2012".into()),
        ("windows", 10, 0) if product.contains("2016") => Some("windows-2016".into()),
        ("centos", m @ (6 | 7), _) => Some(format!("centos-{m}")),
        ("rhel", m @ (6 | 7), _) => Some(format!("rhel-{m}")),
        _ => None,
    }
}

/// A name for an OS in messages, e.g. `centos 7.9`, `ubuntu 16.04`.
pub(crate) fn os_label(os: &OperatingSystem) -> String {
    format!(
        "{} {}",
        os.distro.as_deref().unwrap_or("unknown OS"),
        os_version(os)
    )
}

/// The OS's version as its users write it: `7.9`, but `16.04` for Ubuntu, whose minor version
/// is the release month (inspection reports 16.04 as major 16, minor 4).
pub(crate) fn os_version(os: &OperatingSystem) -> String {
    if os.distro.as_deref() == Some("ubuntu") {
        format!("{}.{:02}", os.major_version, os.minor_version)
    } else {
        format!("{}.{}", os.major_version, os.minor_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_messages() {
        for (distro, major, minor, want) in [
            ("centos", 7, 9, "centos 7.9"),
            ("debian", 12, 5, "debian 12.5"),
            ("ubuntu", 16, 4, "ubuntu 16.04"),
            ("ubuntu", 22, 10, "ubuntu 22.10"),
        ] {
            let os = OperatingSystem {
                distro: Some(distro.into()),
                major_version: major,
                minor_version: minor,
                ..Default::default()
            };
            assert_eq!(os_label(&os), want);
        }
    }
}
