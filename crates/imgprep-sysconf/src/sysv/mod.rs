//! SysV init: scripts with LSB headers and chkconfig lines, rc links, inittab, upstart jobs,
//! and edits that add a script with its links or renumber links as insserv and chkconfig would.

mod edit;
mod inittab;
mod lsb;
mod rc;
mod upstart;

pub use edit::{Layout, NewScript, add_script, enable_script, start_before};
pub use inittab::default_runlevel;
pub use lsb::{Chkconfig, Lsb, LsbDep, chkconfig, lsb_header, script_unit, sysv_facility};
pub use rc::{INIT_DIRS, rc_link};
pub use upstart::start_on;
