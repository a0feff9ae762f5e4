//! The sysconf text-edit target.

use imgprep_sysconf::logindefs::LoginDefs;
use imgprep_sysconf::text::{Lines, TextFile};
use imgprep_sysconf::{FileOp, Op, ini};

const SECTIONS: &[&str] = &["DEFAULT", "openstack", ""];
const KEYS: &[&str] = &["plugins", "username", "UMASK", "x"];
const VALUES: &[&str] = &["a.B", "027", "", "q r"];

/// Most an edit may add: the new line, a new section header and terminators.
fn bound(before: &[u8], parts: &[&str]) -> usize {
    before.len() + parts.iter().map(|p| p.len()).sum::<usize>() + 16
}

/// What the reader the checks use finds for `key` in `section`.
fn ini_value(bytes: &[u8], section: &str, key: &str) -> Option<String> {
    let lines = Lines::new("/c.conf", &String::from_utf8_lossy(bytes));
    ini::get(&ini::entries(&lines.lines), section, key).map(|e| e.value.clone())
}

fn written(ops: &[FileOp]) -> Option<&[u8]> {
    match ops {
        [] => None,
        [
            FileOp {
                op: Op::Write { content, .. },
                ..
            },
        ] => Some(content),
        other => panic!("one write expected: {other:?}"),
    }
}

/// The byte-level edits of `imgprep-sysconf` on fuzzer-written files: an untouched file
/// round-trips byte for byte; an INI `set` or list addition and a login.defs `set` give a file in
/// which the file's own reader (the one the checks use) finds what was set; the same edit on the
/// result changes nothing; an edit grows the file by at most the new line.
///
/// Input: a selector byte (which key, value and section), then the file.
pub fn sysconf_text(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    assert_eq!(TextFile::parse(body).to_bytes(), body);
    let section = SECTIONS[usize::from(sel & 3) % SECTIONS.len()];
    let key = KEYS[usize::from(sel >> 2 & 3)];
    let value = VALUES[usize::from(sel >> 4 & 3)];

    if let Ok(out) = ini::set(body, section, key, value) {
        let new = out.unwrap_or_else(|| body.to_vec());
        assert!(new.len() <= bound(body, &[section, key, value]));
        assert_eq!(ini_value(&new, section, key).as_deref(), Some(value));
        assert_eq!(ini::set(&new, section, key, value).ok(), Some(None));
    }
    if let Ok(out) = ini::add_to_list(body, section, key, value, &["d.D"]) {
        let new = out.unwrap_or_else(|| body.to_vec());
        assert!(new.len() <= bound(body, &[section, key, value, "d.D,"]));
        let listed = ini_value(&new, section, key).map(|v| ini::list(&v));
        assert!(
            listed.is_some_and(|l| l.iter().any(|x| x == value)),
            "{value:?} not listed"
        );
        assert_eq!(
            ini::add_to_list(&new, section, key, value, &["d.D"]).ok(),
            Some(None)
        );
    }

    let defs = LoginDefs::parse(body.to_vec());
    if let Ok(ops) = defs.set(key, value, (0o644, 0, 0), "fuzz") {
        let new = written(&ops).unwrap_or(body).to_vec();
        assert!(new.len() <= bound(body, &[key, value]));
        let again = LoginDefs::parse(new);
        assert_eq!(again.get(key).map(|s| s.value.as_str()), Some(value));
        assert_eq!(
            again.set(key, value, (0o644, 0, 0), "fuzz").ok(),
            Some(vec![])
        );
    }
}
