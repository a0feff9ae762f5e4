//! Pre-flight rules kept as data (`rules/*.yaml`) and evaluated against an inspected guest.
//!
//! A [`Rule`] has a stable id, a severity, a rationale citing the requirement it comes from, the
//! conditions under which it applies, a [`Check`] naming a probe, and a remediation with a
//! typed [`Action`] that `prepare` can act on. Profiles group rules and declare parameters with
//! defaults. [`RuleSet::load`] reads the built-in rules (embedded in the binary) and the user's
//! own, and refuses inconsistent sets (duplicate ids, unknown profiles, parameters or actions,
//! bad patterns).
//!
//! Probes decide, `imgprep_sysconf` parses: a probe reads facts and decides a status with
//! evidence. A failed rule is a result, not an error: [`run`] always returns one [`RuleResult`]
//! per rule, with `error` (and the reason) where a rule cannot be decided offline.
//!
//! This crate reads the guest through `imgprep_guest::Guest` and the inspection; it does not open
//! images, print, or modify anything.
#![forbid(unsafe_code)]

mod action;
mod check;
mod context;
mod eval;
mod load;
mod matrix;
mod model;
mod probe;
mod probes;
mod verdict;
mod version;
mod waiver;

pub use action::{ACTIONS, Action};
pub use check::{Check, PROBES};
pub use context::{Context, nevra, service_evidence};
pub use eval::{effective_params, run, summary};
pub use load::{BUILTIN, BUILTIN_MATRIX, LoadError, RuleSet};
pub use matrix::{Cell, Matrix, Row, Support, os_key};
pub use model::{Applies, ParamSpec, Profile, Remediation, Rule, RuleResult};
pub use probe::{Probe, Template};
pub use verdict::{Cloud, Evidence, Outcome, Severity, Status};
pub use version::VersionReq;
pub use waiver::{Applied, Date, Waiver, WaiverNote, Waivers};
