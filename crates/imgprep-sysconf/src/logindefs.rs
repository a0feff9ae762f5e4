//! `/etc/login.defs`: the settings of shadow-utils (login, su, useradd) and pam_umask.
//!
//! A line is `KEY VALUE` (blanks between, `#` starts a comment line, a value may be quoted).
//! shadow-utils' `getdef` keeps the last assignment of a key; pam_umask reads the first `UMASK`.
//! The `UMASK` lines are found with SCAP Security Guide's pattern (see `shell::umask_lines`), the
//! way the umask checks read them.

use imgprep_guest::{Guest, GuestError};

use crate::shell::{Keyword, umask_lines};
use crate::text::{MAX_TEXT, TextFile};
use crate::{Error, FileOp};

/// The path of the file.
pub const PATH: &str = "/etc/login.defs";

/// C's `isspace` in the C locale.
const C_SPACE: [char; 6] = [' ', '\t', '\n', '\x0b', '\x0c', '\r'];

/// One `KEY VALUE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// 1-based line.
    pub line: usize,
    /// The key.
    pub key: String,
    /// The value, unquoted.
    pub value: String,
    /// The line as written, trimmed.
    pub text: String,
}

/// `/etc/login.defs`, parsed.
#[derive(Debug, Clone, Default)]
pub struct LoginDefs {
    bytes: Vec<u8>,
    settings: Vec<Setting>,
}

impl LoginDefs {
    /// The guest's file; `Ok(None)` when it does not exist.
    pub fn read(g: &dyn Guest) -> Result<Option<Self>, GuestError> {
        match g.read_file(PATH, MAX_TEXT) {
            Ok(b) => Ok(Some(Self::parse(b))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Parses the bytes of a login.defs file as shadow-utils' `def_load` does: trailing
    /// blanks (C `isspace`) dropped, the key up to the first space or tab, the value after
    /// the spaces, tabs and quotes that follow, up to the next quote; a line with one field is
    /// no setting.
    pub fn parse(bytes: Vec<u8>) -> Self {
        let text = String::from_utf8_lossy(&bytes);
        let mut settings = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let l = raw
                .trim_end_matches(C_SPACE)
                .trim_start_matches([' ', '\t']);
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let Some((key, rest)) = l.split_once([' ', '\t']) else {
                continue;
            };
            let value = rest.trim_start_matches([' ', '"', '\t']);
            let value = value.split('"').next().unwrap_or_default();
            settings.push(Setting {
                line: i + 1,
                key: key.to_owned(),
                value: value.to_owned(),
                text: l.to_owned(),
            });
        }
        LoginDefs { bytes, settings }
    }

    /// Every setting, in file order.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The setting shadow-utils uses: the last assignment of `key`.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().rev().find(|s| s.key == key)
    }

    /// A numeric setting as shadow-utils' `getdef_ulong` reads it (decimal, `0x` hex, leading
    /// `0` octal), or `default`.
    pub fn number(&self, key: &str, default: u32) -> u32 {
        self.get(key)
            .and_then(|s| parse_c_number(&s.value))
            .unwrap_or(default)
    }

    /// `(line, text, value)` of each `UMASK` line, in file order, as SCAP Security Guide's
    /// pattern finds them; the value is `None` when it is not an octal umask.
    pub fn umask_lines(&self) -> Vec<(usize, String, Option<u16>)> {
        let text = String::from_utf8_lossy(&self.bytes);
        let lines: Vec<&str> = text.lines().collect();
        umask_lines(&self.bytes, Keyword::LoginDefs)
            .into_iter()
            .filter(|m| m.value_line == m.line)
            .map(|m| {
                let shown = lines
                    .get(m.line.saturating_sub(1))
                    .map_or("", |l| l.trim())
                    .to_owned();
                (m.line, shown, crate::shell::parse_octal(&m.value))
            })
            .collect()
    }

    /// The last `USERGROUPS_ENAB` line and whether it says yes.
    pub fn usergroups(&self) -> Option<(usize, String, bool)> {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut out = None;
        for (i, l) in text.lines().enumerate() {
            let mut f = l.split_whitespace();
            if f.next() == Some("USERGROUPS_ENAB") {
                let yes = f.next().is_some_and(|v| v.eq_ignore_ascii_case("yes"));
                out = Some((i + 1, l.trim().to_owned(), yes));
            }
        }
        out
    }

    /// The range useradd picks user ids from: `SYS_UID_MIN`..`SYS_UID_MAX` for system accounts,
    /// `UID_MIN`..`UID_MAX` otherwise, with shadow-utils' defaults.
    pub fn uid_range(&self, system: bool) -> (u32, u32) {
        self.range("UID", system)
    }

    /// The same for group ids (`SYS_GID_MIN`.., `GID_MIN`..).
    pub fn gid_range(&self, system: bool) -> (u32, u32) {
        self.range("GID", system)
    }

    fn range(&self, what: &str, system: bool) -> (u32, u32) {
        let min = self.number(&format!("{what}_MIN"), 1000);
        if system {
            (
                self.number(&format!("SYS_{what}_MIN"), 101),
                self.number(&format!("SYS_{what}_MAX"), min.saturating_sub(1)),
            )
        } else {
            (min, self.number(&format!("{what}_MAX"), 60000))
        }
    }

    /// The edit that makes the last assignment of `key` say `value` (replacing that line, or
    /// appending one); no operation when it already does. `owner` is the file's
    /// `(mode, uid, gid)`.
    pub fn set(
        &self,
        key: &str,
        value: &str,
        owner: (u32, u32, u32),
        why: &str,
    ) -> Result<Vec<FileOp>, Error> {
        // What def_load would not read back as `value`.
        let unreadable = value.is_empty()
            || value.contains(['"', '\n'])
            || value.starts_with([' ', '\t'])
            || value.ends_with(C_SPACE);
        if key.is_empty() || key.contains(char::is_whitespace) || key.starts_with('#') || unreadable
        {
            return Err(Error::Invalid {
                what: format!("login.defs setting {key:?} = {value:?}"),
                why: "a key is one word and a value one line, not empty, without quotes or \
                      blanks around it"
                    .into(),
            });
        }
        let mut file = TextFile::parse(&self.bytes);
        match self.get(key) {
            Some(s) if s.value == value => return Ok(Vec::new()),
            Some(s) => {
                let old = file.line(s.line).unwrap_or_default();
                // Keep the separator the line uses between key and value.
                let sep: String = old
                    .trim_start_matches([' ', '\t'])
                    .get(key.len()..)
                    .unwrap_or(" ")
                    .chars()
                    .take_while(|c| matches!(c, ' ' | '\t'))
                    .collect();
                let indent: String = old
                    .chars()
                    .take_while(|c| matches!(c, ' ' | '\t'))
                    .collect();
                let sep = if sep.is_empty() { " ".into() } else { sep };
                file.replace(s.line, &format!("{indent}{key}{sep}{value}"));
            }
            None => file.append(&format!("{key}\t\t{value}")),
        }
        Ok(vec![FileOp::write(PATH, file.to_bytes(), owner, why)])
    }
}

/// A number as C's `strtoul(s, NULL, 0)` reads a whole string: `0x` hex, leading `0` octal,
/// else decimal.
pub(crate) fn parse_c_number(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        return u32::from_str_radix(&s[1..], 8).ok();
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_ranges() {
        let ld = LoginDefs::parse(
            b"# c\nUID_MIN\t\t\t 1000\nUID_MAX 60000\nSYS_UID_MAX 0x1f3\nUMASK 077\nUMASK 022\n\
              MAIL_DIR \"/var/mail\"\n"
                .to_vec(),
        );
        assert_eq!(ld.get("UMASK").map(|s| s.line), Some(6));
        assert_eq!(
            ld.get("MAIL_DIR").map(|s| s.value.as_str()),
            Some("/var/mail")
        );
        assert_eq!(ld.uid_range(false), (1000, 60000));
        assert_eq!(ld.uid_range(true), (101, 499));
        assert_eq!(ld.gid_range(true), (101, 999));
        assert_eq!(parse_c_number("010"), Some(8));
    }

    #[test]
    fn lines_as_def_load_splits_them() {
        let ld = LoginDefs::parse(
            b"UMASK\x0b\t \nENCRYPT_METHOD \"SHA512\" x\nMAIL_DIR\t\"/var/mail\nUMASK 077\x0c\r\n\
              \x0bHOME_MODE 0700\n"
                .to_vec(),
        );
        let got: Vec<(&str, &str)> = ld
            .settings()
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("ENCRYPT_METHOD", "SHA512"),
                ("MAIL_DIR", "/var/mail"),
                ("UMASK", "077"),
                ("\x0bHOME_MODE", "0700")
            ]
        );
        assert!(ld.set("UMASK", "", (0o644, 0, 0), "t").is_err());
        assert!(ld.set("UMASK", "\"027\"", (0o644, 0, 0), "t").is_err());
    }

    #[test]
    fn set_replaces_the_last_assignment_only() {
        let text = b"UMASK\t\t077\n# keep\nUMASK           027\nPASS_MAX_DAYS 99999";
        let ld = LoginDefs::parse(text.to_vec());
        let ops = ld.set("UMASK", "022", (0o644, 0, 0), "t").unwrap();
        let crate::Op::Write { content, .. } = &ops[0].op else {
            panic!("{ops:?}")
        };
        assert_eq!(
            content.as_slice(),
            &b"UMASK\t\t077\n# keep\nUMASK           022\nPASS_MAX_DAYS 99999"[..]
        );
        assert!(
            ld.set("UMASK", "027", (0o644, 0, 0), "t")
                .unwrap()
                .is_empty()
        );
        let ops = ld.set("HOME_MODE", "0700", (0o644, 0, 0), "t").unwrap();
        let crate::Op::Write { content, .. } = &ops[0].op else {
            panic!("{ops:?}")
        };
        assert!(content.ends_with(b"PASS_MAX_DAYS 99999\nHOME_MODE\t\t0700\n"));
    }
}
