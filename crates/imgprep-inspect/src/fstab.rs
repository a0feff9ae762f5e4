//! `/etc/fstab`: parsed as the augeas Fstab lens reads it, filtered as libguestfs filters it.

use imgprep_guest::Guest;

/// Largest fstab read (libguestfs's augeas size limit).
const MAX_FSTAB: u64 = 100 * 1000;

/// One fstab line that names a mount inspection cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FstabEntry {
    /// First field: `UUID=…`, `LABEL=…`, `/dev/sda1`, `tmpfs`, …
    pub spec: String,
    /// Mount point, canonicalised (`//usr//local/` is `/usr/local`); `none`/`swap` for swap.
    pub file: String,
    /// Filesystem type.
    pub vfstype: String,
    /// Mount options, `name` or `name=value`.
    pub opts: Vec<(String, Option<String>)>,
    /// 1-based line number, for evidence.
    pub line: usize,
}

impl FstabEntry {
    /// The value of mount option `name`.
    pub(crate) fn opt(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// Reads the guest's `/etc/fstab`; lines that cannot be parsed become notes.
pub(crate) fn read_fstab(g: &dyn Guest) -> (Vec<FstabEntry>, Vec<String>) {
    match g.stat("/etc/fstab") {
        Ok(Some(m)) if m.kind == imgprep_fs::FileKind::File && m.size <= MAX_FSTAB => {}
        Ok(Some(m)) if m.kind == imgprep_fs::FileKind::File => {
            return (
                Vec::new(),
                vec![format!(
                    "/etc/fstab is {} bytes, more than the {MAX_FSTAB} read; mounts not assembled",
                    m.size
                )],
            );
        }
        _ => return (Vec::new(), Vec::new()),
    }
    match g.read_text("/etc/fstab", MAX_FSTAB) {
        Ok(Some(text)) => parse(&text),
        Ok(None) => (Vec::new(), Vec::new()),
        Err(e) => (
            Vec::new(),
            vec![format!("/etc/fstab could not be read: {e}")],
        ),
    }
}

/// Parses fstab text. Returns the entries libguestfs would consider and notes about lines it
/// could not parse.
pub(crate) fn parse(text: &str) -> (Vec<FstabEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 || fields.len() > 6 {
            notes.push(format!(
                "/etc/fstab line {}: expected 3 to 6 fields, found {}: {line}",
                i + 1,
                fields.len()
            ));
            continue;
        }
        let (spec, file, vfstype) = (fields[0], fields[1], fields[2]);
        if ignored_spec(spec) {
            continue;
        }
        let file = canonical_path(file);
        if ignored_mountpoint(&file) {
            continue;
        }
        let opts = fields
            .get(3)
            .map(|o| {
                o.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| match s.split_once('=') {
                        Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                        None => (s.to_owned(), None),
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.push(FstabEntry {
            spec: spec.to_owned(),
            file,
            vfstype: vfstype.to_owned(),
            opts,
            line: i + 1,
        });
    }
    (entries, notes)
}

/// Floppies and CD-ROMs (libguestfs ignores them).
fn ignored_spec(spec: &str) -> bool {
    let digit_at_7 = spec.as_bytes().get(7).is_some_and(u8::is_ascii_digit);
    ((spec.starts_with("/dev/fd") || spec.starts_with("/dev/cd")) && digit_at_7)
        || spec == "/dev/floppy"
        || spec == "/dev/cdrom"
        || spec.starts_with("/dev/iso9660/")
}

/// Pseudo and removable mount points (libguestfs ignores them).
fn ignored_mountpoint(mp: &str) -> bool {
    ["/dev", "/proc", "/selinux", "/sys"]
        .iter()
        .any(|p| mp == *p || mp.starts_with(&format!("{p}/")))
        || mp.starts_with("/media/")
}

/// `///usr//local//` is `/usr/local`; relative paths stay relative.
pub(crate) fn canonical_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    let joined = parts.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, want: &[(&str, &str, &str)], want_notes: usize) {
        let (entries, notes) = parse(text);
        let got: Vec<(&str, &str, &str)> = entries
            .iter()
            .map(|e| (e.spec.as_str(), e.file.as_str(), e.vfstype.as_str()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(notes.len(), want_notes, "{notes:?}");
    }

    #[test]
    fn fstab_lines_are_filtered_like_libguestfs() {
        check(
            "# /etc/fstab\n\
             UUID=1234 / ext4 errors=remount-ro 0 1\n\
             \n\
             LABEL=boot\t/boot  ext2 defaults 0 2\n\
             /dev/sda5 //var// ext4 defaults\n\
             /dev/sda6 none swap sw 0 0\n\
             /dev/cdrom /media/cdrom0 udf,iso9660 user,noauto 0 0\n\
             /dev/fd0 /mnt/floppy auto noauto 0 0\n\
             proc /proc proc defaults 0 0\n\
             tmpfs /tmp tmpfs defaults 0 0\n\
             /dev/sdb1 /media/usb auto noauto 0 0\n\
             broken-line-with-two fields\n",
            &[
                ("UUID=1234", "/", "ext4"),
                ("LABEL=boot", "/boot", "ext2"),
                ("/dev/sda5", "/var", "ext4"),
                ("/dev/sda6", "none", "swap"),
                ("tmpfs", "/tmp", "tmpfs"),
            ],
            1,
        );
    }

    #[test]
    fn options_keep_values() {
        let (e, _) = parse("UUID=x / btrfs subvol=root,compress=zstd:1,ro 0 0\n");
        assert_eq!(e[0].opt("subvol"), Some("root"));
        assert_eq!(e[0].opt("compress"), Some("zstd:1"));
        assert_eq!(e[0].opt("ro"), None);
    }
}
