//! Loading and validating rule files: the built-in `rules/` and the user's `--rules DIR`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::matrix::Matrix;
use crate::model::{Profile, Rule};

/// The rule files shipped with imgprep, embedded so the binary works on its own.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "cloudcenter-worker.yaml",
        include_str!("../../../rules/cloudcenter-worker.yaml"),
    ),
    (
        "rackspace-nova-agent.yaml",
        include_str!("../../../rules/rackspace-nova-agent.yaml"),
    ),
    (
        "cloudify-agent.yaml",
        include_str!("../../../rules/cloudify-agent.yaml"),
    ),
    ("image.yaml", include_str!("../../../rules/image.yaml")),
];

/// The embedded support matrix.
pub const BUILTIN_MATRIX: (&str, &str) =
    ("matrix.yaml", include_str!("../../../rules/matrix.yaml"));

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A rules file is not valid YAML for the schema.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The rule set is inconsistent.
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A rules directory could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One rules file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    profiles: Vec<Profile>,
    #[serde(default)]
    rules: Vec<Rule>,
}

/// Every profile and rule, validated.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// Profiles in load order.
    pub profiles: Vec<Profile>,
    /// Rules in load order, with the file each came from.
    pub rules: Vec<(Rule, String)>,
    /// The bootstrapping support matrix.
    pub matrix: Matrix,
}

impl RuleSet {
    /// The built-in rules only.
    pub fn builtin() -> Result<Self, LoadError> {
        Self::load(&[])
    }

    /// The built-in rules plus every `*.yaml` / `*.yml` file in `dirs` (sorted by name).
    pub fn load(dirs: &[PathBuf]) -> Result<Self, LoadError> {
        let mut files: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(n, t)| (format!("rules/{n}"), (*t).to_owned()))
            .collect();
        for dir in dirs {
            files.extend(read_dir(dir)?);
        }
        let (mname, mtext) = BUILTIN_MATRIX;
        let matrix: Matrix = serde_saphyr::from_str(mtext).map_err(|e| LoadError::Syntax {
            file: format!("rules/{mname}"),
            message: first_line(&e.to_string()),
        })?;
        matrix.validate().map_err(|e| LoadError::Invalid {
            file: format!("rules/{mname}"),
            message: first_line(&e.to_string()),
        })?;
        let mut set = RuleSet {
            profiles: Vec::new(),
            rules: Vec::new(),
            matrix,
        };
        for (name, text) in files {
            let f: RulesFile = serde_saphyr::from_str(&text).map_err(|e| LoadError::Syntax {
                file: name.clone(),
                message: first_line(&e.to_string()),
            })?;
            set.profiles.extend(f.profiles);
            set.rules
                .extend(f.rules.into_iter().map(|r| (r, name.clone())));
        }
        set.validate()?;
        Ok(set)
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The rule with id `id`.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().map(|(r, _)| r).find(|r| r.id == id)
    }

    /// Rules of `profile`, in load order.
    pub fn rules_of<'a>(&'a self, profile: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules
            .iter()
            .map(|(r, _)| r)
            .filter(move |r| r.profiles.iter().any(|p| p == profile))
    }

    fn validate(&self) -> Result<(), LoadError> {
        let invalid = |file: &str, message: String| LoadError::Invalid {
            file: file.to_owned(),
            message,
        };
        let mut names = BTreeSet::new();
        for p in &self.profiles {
            if !names.insert(p.name.as_str()) {
                return Err(invalid(
                    "rules",
                    format!("profile {} is defined twice", p.name),
                ));
            }
        }
        let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
        for (r, file) in &self.rules {
            if let Some(first) = ids.insert(r.id.as_str(), file.as_str()) {
                return Err(invalid(
                    file,
                    format!("rule id {} is already defined in {first}", r.id),
                ));
            }
            if !valid_id(&r.id) {
                return Err(invalid(
                    file,
                    format!(
                        "rule id {:?} must be lower-case words joined by . or -",
                        r.id
                    ),
                ));
            }
            if r.profiles.is_empty() {
                return Err(invalid(
                    file,
                    format!("rule {} belongs to no profile", r.id),
                ));
            }
            for p in &r.profiles {
                let Some(profile) = self.profile(p) else {
                    return Err(invalid(file, format!("rule {}: unknown profile {p}", r.id)));
                };
                for k in r.applies.params.keys().chain(r.check.params_used().iter()) {
                    if !profile.params.contains_key(k.as_str()) {
                        return Err(invalid(
                            file,
                            format!("rule {}: profile {p} declares no parameter {k}", r.id),
                        ));
                    }
                }
            }
            for v in &r.applies.version {
                crate::eval::VersionReq::parse(v).map_err(|e| {
                    invalid(
                        file,
                        format!("rule {}: version constraint {v:?}: {e}", r.id),
                    )
                })?;
            }
            r.check
                .validate()
                .map_err(|e| invalid(file, format!("rule {}: {e}", r.id)))?;
            if r.title.trim().is_empty()
                || r.rationale.trim().is_empty()
                || r.source.trim().is_empty()
                || r.remediation.text.trim().is_empty()
            {
                return Err(invalid(
                    file,
                    format!(
                        "rule {}: title, rationale, source and remediation are required",
                        r.id
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The parser's message without its multi-line source snippet.
fn first_line(msg: &str) -> String {
    let line = msg.lines().next().unwrap_or(msg);
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.split(['.', '-']).all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Largest rule file read from a `--rules` directory.
const MAX_RULE_FILE: u64 = 4 << 20;

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, LoadError> {
    let mut names: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let text = imgprep_io::host::read_to_string(&p, MAX_RULE_FILE)?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_and_have_unique_ids() {
        let set = RuleSet::builtin().unwrap();
        for p in [
            "cloudcenter-worker",
            "rackspace-nova-agent",
            "cloudify-agent",
        ] {
            assert!(set.rules_of(p).count() > 0, "profile {p} has rules");
        }
    }

    #[test]
    fn every_file_in_rules_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
        let mut on_disk: Vec<String> = fs_err::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BUILTIN
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .chain([BUILTIN_MATRIX.0.to_owned()])
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn rule_ids_have_a_fixed_form() {
        for (id, ok) in [
            ("python.version", true),
            ("xe-tools.before-nova-agent", true),
            ("Python.version", false),
            ("a..b", false),
            ("", false),
        ] {
            assert_eq!(valid_id(id), ok, "{id}");
        }
    }
}
