//! `/etc/inittab` and upstart's default runlevel.

use imgprep_guest::Guest;

use crate::Evidence;
use crate::text::read_lines;

/// `DEFAULT_RUNLEVEL`, else the family default (2 on Debian, 3 elsewhere).
pub fn default_runlevel(g: &dyn Guest) -> (u8, Evidence) {
    if let Ok(Some(l)) = read_lines(g, "/etc/inittab") {
        for (n, line) in l.meaningful() {
            let f: Vec<&str> = line.split(':').collect();
            if f.get(2) == Some(&"initdefault")
                && let Some(r) = f.get(1).and_then(|r| r.trim().parse::<u8>().ok())
                && r <= 6
            {
                return (r, Evidence::line("/etc/inittab", n, line));
            }
        }
    }
    if let Ok(Some(l)) = read_lines(g, "/etc/init/rc-sysinit.conf") {
        for (n, line) in l.meaningful() {
            if let Some(v) = line.strip_prefix("env DEFAULT_RUNLEVEL=")
                && let Ok(r) = v.trim().parse::<u8>()
                && r <= 6
            {
                return (r, Evidence::line("/etc/init/rc-sysinit.conf", n, line));
            }
        }
    }
    if g.is_file("/etc/debian_version") {
        (
            2,
            Evidence::file(
                "/etc/inittab",
                "no initdefault: runlevel 2, the Debian default",
            ),
        )
    } else {
        (
            3,
            Evidence::file("/etc/inittab", "no initdefault: assuming runlevel 3"),
        )
    }
}
