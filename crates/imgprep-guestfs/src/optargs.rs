//! The `GUESTFS_*_BITMASK` optional-argument bits of `guestfs.h`.
//!
//! bindgen cannot evaluate `(UINT64_C(1)<<N)`, so `libguestfs-sys` lacks them. Each is defined
//! here from the optional argument's index, which bindgen does generate, and a compile-time
//! assertion ties the two; a test compares them with the header's text as well.

use libguestfs_sys as sys;

macro_rules! bitmasks {
    ($($name:ident = $index:ident;)*) => {
        $(
            pub(crate) const $name: u64 = 1 << sys::$index;
            const _: () = assert!($name == 1u64 << sys::$index && sys::$index < 64);
        )*
        /// Every bitmask defined here, by its name in `guestfs.h`.
        #[cfg(test)]
        pub(crate) const ALL: &[(&str, u64)] = &[$((concat!("GUESTFS_", stringify!($name)), $name)),*];
    };
}

bitmasks! {
    ADD_DRIVE_OPTS_READONLY_BITMASK = GUESTFS_ADD_DRIVE_OPTS_READONLY;
    ADD_DRIVE_OPTS_FORMAT_BITMASK = GUESTFS_ADD_DRIVE_OPTS_FORMAT;
    ADD_DRIVE_OPTS_CACHEMODE_BITMASK = GUESTFS_ADD_DRIVE_OPTS_CACHEMODE;
    ADD_DRIVE_OPTS_DISCARD_BITMASK = GUESTFS_ADD_DRIVE_OPTS_DISCARD;
    DISK_CREATE_BACKINGFILE_BITMASK = GUESTFS_DISK_CREATE_BACKINGFILE;
    DISK_CREATE_BACKINGFORMAT_BITMASK = GUESTFS_DISK_CREATE_BACKINGFORMAT;
    TAR_IN_OPTS_COMPRESS_BITMASK = GUESTFS_TAR_IN_OPTS_COMPRESS;
    TAR_OUT_OPTS_COMPRESS_BITMASK = GUESTFS_TAR_OUT_OPTS_COMPRESS;
    TAR_OUT_OPTS_NUMERICOWNER_BITMASK = GUESTFS_TAR_OUT_OPTS_NUMERICOWNER;
    TAR_OUT_OPTS_EXCLUDES_BITMASK = GUESTFS_TAR_OUT_OPTS_EXCLUDES;
    HIVEX_OPEN_WRITE_BITMASK = GUESTFS_HIVEX_OPEN_WRITE;
    SELINUX_RELABEL_FORCE_BITMASK = GUESTFS_SELINUX_RELABEL_FORCE;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value `guestfs.h` gives `name`: `# define NAME (UINT64_C(1)<<N)`.
    fn header_value(header: &str, name: &str) -> Option<u64> {
        header.lines().find_map(|line| {
            let rest = line.trim_start().strip_prefix('#')?.trim_start();
            let rest = rest.strip_prefix("define")?.trim_start();
            let rest = rest.strip_prefix(name)?.trim();
            let shift = rest.strip_prefix("(UINT64_C(1)<<")?.strip_suffix(')')?;
            Some(1u64 << shift.parse::<u32>().ok()?)
        })
    }

    #[test]
    fn bitmasks_match_the_installed_header() {
        let header = fs_err::read_to_string("/usr/include/guestfs.h").unwrap();
        assert_eq!(ALL.len(), 12);
        for (name, value) in ALL {
            assert_eq!(header_value(&header, name), Some(*value), "{name}");
        }
        assert_eq!(
            header_value(&header, "GUESTFS_ADD_DRIVE_OPTS_BLOCKSIZE_BITMASK"),
            Some(1 << 12)
        );
        assert_eq!(header_value(&header, "GUESTFS_NO_SUCH_BITMASK"), None);
    }
}
