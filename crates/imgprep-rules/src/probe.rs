//! The interface every probe implements, and the strings through which a rule hands it
//! profile parameters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::verdict::Outcome;

/// A check a rule can name (`probe: NAME`). A probe reads facts (from the inspection and from
/// `imgprep_sysconf`), decides a status and attaches the evidence; it never parses a
/// configuration language itself and never calls another probe.
pub trait Probe: fmt::Debug + Send + Sync {
    /// Decides the rule for one guest.
    fn run(&self, cx: &Context<'_>) -> Outcome;

    /// Checks what can be checked without an image (patterns compile, versions parse, …).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// The probe's parameters that may name profile parameters as `{name}`.
    fn templates(&self) -> Vec<&Template> {
        Vec::new()
    }

    /// Profile parameters the probe reads without a `{name}` reference (`ca`).
    fn implicit_params(&self) -> &'static [&'static str] {
        &[]
    }

    /// Profile parameters the probe's own fields name (the keys of `fail_when`).
    fn named_params(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A probe parameter that may name profile parameters as `{name}` (lower-case letters and
/// `_`), replaced by their values when the rule runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Template(pub String);

impl Template {
    /// The profile parameters it names.
    pub fn refs(&self) -> Vec<String> {
        self.0
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .map(str::to_owned)
            .collect()
    }

    /// The text with parameters replaced by their values.
    pub fn expand(&self, cx: &Context<'_>) -> String {
        cx.expand(&self.0)
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Template {
    fn from(s: &str) -> Self {
        Template(s.to_owned())
    }
}
