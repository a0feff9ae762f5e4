//! Renders inspections and check results for people and programs.
//!
//! Every renderer returns a `String`; this crate never prints and never decides exit codes (the
//! cli does). The XML form of an inspection is virt-inspector's document, element for element.
#![forbid(unsafe_code)]

pub mod check;
pub mod inspect;
pub mod mapping;
pub mod plan;
pub mod rules;
mod xml;
