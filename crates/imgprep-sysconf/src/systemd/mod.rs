//! systemd: unit files and drop-ins, where a name resolves, what `systemctl enable` links, and
//! edits that add a unit, enable it, or add ordering and settings through drop-ins.

mod edit;
mod unit;

pub use edit::{
    Install, Located, add_unit, dropin, enable, install_section, locate, order_after, service_umask,
};
pub use unit::{Setting, UNIT_DIRS, UNIT_SUFFIXES, is_unit_name, settings, truthy, unit_name};
