//! LUKS devices: detection (type and UUID, as blkid reports them), the keys a user gives for
//! them, and unlocking through `imgprep-luks`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use imgprep_io::ReadAt;
pub use imgprep_luks::{Limits, Passphrase};

use crate::Error;

/// What a LUKS header says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuksHeader {
    /// 1 or 2.
    pub version: u16,
    /// The UUID as `cryptsetup luksUUID` and blkid print it.
    pub uuid: String,
}

/// Reads the LUKS1/LUKS2 header at the start of `dev`. `Ok(None)` when there is no LUKS magic.
pub fn probe(dev: &dyn ReadAt) -> Result<Option<LuksHeader>, Error> {
    Ok(full_probe(dev)?.map(|h| LuksHeader {
        version: h.version,
        uuid: h.uuid,
    }))
}

pub(crate) fn full_probe(dev: &dyn ReadAt) -> Result<Option<imgprep_luks::Header>, Error> {
    imgprep_luks::probe(dev).map_err(Error::LuksHeader)
}

/// A passphrase for the LUKS device a selector names, as virt-inspector's `--key` takes it:
/// `ID:key:PASSPHRASE` or `ID:file:PATH` (the first line of the file), where ID is a device name
/// (`/dev/sda2`) or the LUKS UUID.
#[derive(Clone)]
pub struct LuksKey {
    /// The device name or LUKS UUID this key is for.
    pub selector: String,
    /// The passphrase.
    pub passphrase: Passphrase,
}

impl fmt::Debug for LuksKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LuksKey")
            .field("selector", &self.selector)
            .field("passphrase", &self.passphrase)
            .finish()
    }
}

/// Why a `--key` argument could not be used. Never holds the passphrase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The argument is not `ID:key:…` or `ID:file:…`.
    #[error("key selector for {selector:?}: expected ID:key:PASSPHRASE or ID:file:PATH")]
    Syntax {
        /// What stood before the first `:` (the whole argument is not shown: it may be a key).
        selector: String,
    },
    /// The key file could not be read.
    #[error("key file for {selector}: {source}")]
    File {
        /// The device or UUID.
        selector: String,
        /// The read error (it names the file).
        #[source]
        source: std::io::Error,
    },
}

impl LuksKey {
    /// Parses a `--key` argument, reading the key file of `ID:file:PATH`.
    pub fn parse(arg: &str) -> Result<LuksKey, KeyError> {
        let (selector, rest) = arg.split_once(':').unwrap_or((arg, ""));
        let syntax = || KeyError::Syntax {
            selector: selector.to_owned(),
        };
        if selector.is_empty() {
            return Err(syntax());
        }
        let passphrase = if let Some(k) = rest.strip_prefix("key:") {
            Passphrase::new(k.as_bytes())
        } else if let Some(path) = rest.strip_prefix("file:") {
            if path.is_empty() {
                return Err(syntax());
            }
            let bytes = fs_err::read(PathBuf::from(path)).map_err(|source| KeyError::File {
                selector: selector.to_owned(),
                source,
            })?;
            let bytes = zeroize::Zeroizing::new(bytes);
            let line = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
            Passphrase::new(line)
        } else {
            return Err(syntax());
        };
        Ok(LuksKey {
            selector: selector.to_owned(),
            passphrase,
        })
    }

    /// Whether this key is for the device `name` with LUKS UUID `uuid`.
    pub fn matches(&self, name: &str, uuid: &str) -> bool {
        self.selector == name || self.selector.eq_ignore_ascii_case(uuid)
    }
}

impl FromStr for LuksKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<LuksKey, KeyError> {
        LuksKey::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let k = LuksKey::parse("/dev/sda2:key:pass:with:colons").unwrap();
        assert_eq!(k.selector, "/dev/sda2");
        assert!(k.matches("/dev/sda2", "x"));
        assert!(!k.matches("/dev/sda3", "x"));
        let u = LuksKey::parse("5A5A0002-0000-4000-8000-00000000A002:key:p").unwrap();
        assert!(u.matches("/dev/sdb1", "5a5a0002-0000-4000-8000-00000000a002"));
        for bad in ["/dev/sda2", "/dev/sda2:pass", ":key:x", "/dev/sda2:file:"] {
            assert!(LuksKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_and_debug_never_show_the_passphrase() {
        let e = LuksKey::parse("/dev/sda2:kye:TopSecret99")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("TopSecret99"), "{e}");
        assert!(e.contains("/dev/sda2"), "{e}");
        let k = LuksKey::parse("/dev/sda2:key:TopSecret99").unwrap();
        let shown = format!("{k:?}");
        assert!(!shown.contains("TopSecret99"), "{shown}");
    }

    #[test]
    fn key_files_give_their_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        fs_err::write(&p, "first line\nsecond\n").unwrap();
        let k = LuksKey::parse(&format!("/dev/sda1:file:{}", p.display())).unwrap();
        assert_eq!(k.passphrase, Passphrase::new("first line"));
        let missing = LuksKey::parse("/dev/sda1:file:/nonexistent/key").unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/key"),
            "{missing}"
        );
    }
}
