//! The probes: each reads facts (the inspection, `imgprep_sysconf`) and decides a status with
//! evidence. Generic ones (`file-exists`, `file-matches`, `package`, `registry-value`,
//! `service-enabled`, `boot-order`) let users write their own rules; the others implement the
//! requirements of the built-in profiles. `check.rs` registers them; none calls another.

pub(crate) mod agent;
pub(crate) mod boot;
pub(crate) mod cloudbase;
pub(crate) mod cloudify;
pub(crate) mod generic;
pub(crate) mod image;
pub(crate) mod nova_agent;
pub(crate) mod python;
pub(crate) mod sudo;
pub(crate) mod trust;
pub(crate) mod tun_tap;
pub(crate) mod umask;
