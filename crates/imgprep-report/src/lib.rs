//! Renders inspections and check results for people and programs.
//!
//! Every renderer returns a `String`; the inspection's JSON and XML, which grow with the
//! package list, can also be written piece by piece to an `io::Write` the caller gives. This
//! crate never prints and never decides exit codes (the cli does). The XML form of an inspection is virt-inspector's document, element for element.
#![forbid(unsafe_code)]

pub mod check;
pub mod inspect;
pub mod plan;
pub mod rules;
mod xml;
