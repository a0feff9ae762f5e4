//! rc directories: `S##name` and `K##name` links per runlevel.

use super::lsb::script_unit;

/// Where SysV init scripts live (RHEL family, Debian family).
pub const INIT_DIRS: [&str; 2] = ["/etc/rc.d/init.d", "/etc/init.d"];
/// An rc link name `S15nova-agent`: (start?, number, unit).
pub fn rc_link(name: &str) -> Option<(bool, u8, String)> {
    let b = name.as_bytes();
    if b.len() < 4 {
        return None;
    }
    let start = match b[0] {
        b'S' => true,
        b'K' => false,
        _ => return None,
    };
    let (d1, d2) = (b[1], b[2]);
    if !d1.is_ascii_digit() || !d2.is_ascii_digit() {
        return None;
    }
    let n = (d1 - b'0') * 10 + (d2 - b'0');
    Some((start, n, script_unit(name.get(3..)?)))
}
