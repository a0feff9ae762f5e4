//! Pre-flight rules kept as data (`rules/*.yaml`) and evaluated against an inspected guest.
//!
//! A [`Rule`] has a stable id, a severity, a rationale citing the requirement it comes from, the
//! conditions under which it applies, a check naming a probe, and a remediation that `prepare`
//! can act on. Profiles group rules and declare parameters with defaults. [`RuleSet::load`]
//! reads the built-in rules (embedded in the binary) and the user's own, and refuses
//! inconsistent sets (duplicate ids, unknown profiles or parameters, bad patterns).
//!
//! A failed rule is a result, not an error: [`run`] always returns one [`RuleResult`] per rule,
//! with `error` (and the reason) where a rule cannot be decided offline.
//!
//! This crate reads the guest through `imgprep_guest::Guest` and the inspection; it does not open
//! images, print, or modify anything.
#![forbid(unsafe_code)]

mod eval;
mod load;
mod matrix;
mod model;
mod probes;

pub use eval::{Context, effective_params, run, summary};
pub use load::{BUILTIN, BUILTIN_MATRIX, LoadError, RuleSet};
pub use matrix::{Cell, Matrix, Row, Support, os_key};
pub use model::{
    Applies, Cloud, Evidence, FailOn, Outcome, ParamSpec, Profile, Remediation, Rule, RuleResult,
    Severity, Status,
};
pub use probes::Check;
pub use probes::umask::{Keyword, SsgResult, UmaskLine, ssg_file_result, umask_lines};
