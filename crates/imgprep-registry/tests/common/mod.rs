//! Hives grown from `tests/data/hives/minimal` with `hivexregedit --merge`, and the reader's view
//! printed in `hivexregedit --export`'s format so the two can be compared byte for byte.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use imgprep_registry::{Hive, Key};

/// The empty hive every test hive is grown from.
pub fn minimal_hive() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/hives/minimal")
}

/// A hive file in `dir` grown from the minimal hive by merging `reg` (regedit text).
pub fn grow(dir: &Path, name: &str, reg: &str) -> PathBuf {
    let hive = dir.join(name);
    fs_err::copy(minimal_hive(), &hive).unwrap();
    let mut perms = fs_err::metadata(&hive).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs_err::set_permissions(&hive, perms).unwrap();
    let regfile = dir.join(format!("{name}.reg"));
    fs_err::write(
        &regfile,
        format!("Windows Registry Editor Version 5.00\n\n{reg}"),
    )
    .unwrap();
    let out = Command::new("hivexregedit")
        .arg("--merge")
        .arg(&hive)
        .arg(&regfile)
        .output()
        .expect("hivexregedit (package libhivex-bin) must be installed");
    assert!(
        out.status.success(),
        "hivexregedit --merge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    hive
}

/// `hivexregedit --export HIVE '\'`.
pub fn hivex_export(hive: &Path) -> String {
    let out = Command::new("hivexregedit")
        .arg("--export")
        .arg(hive)
        .arg("\\")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Perl prints a line whose characters all fit in Latin-1 as Latin-1 bytes, and a line with
    // wider characters as UTF-8.
    out.stdout
        .split(|&b| b == b'\n')
        .map(|line| match std::str::from_utf8(line) {
            Ok(s) => s.to_owned(),
            Err(_) => line.iter().map(|&b| char::from(b)).collect(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts two exports are equal, showing the first differing line (shortened) if not.
pub fn assert_same_export(ours: &str, theirs: &str) {
    let short = |s: &str| s.chars().take(300).collect::<String>();
    for (i, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
        assert!(
            a == b,
            "line {}: ours {:?}\n theirs {:?}",
            i + 1,
            short(a),
            short(b)
        );
    }
    assert_eq!(
        ours.lines().count(),
        theirs.lines().count(),
        "number of lines"
    );
}

/// The reader's view of the whole hive in `hivexregedit --export`'s format.
pub fn export(hive: &Hive) -> String {
    let mut out = String::from("Windows Registry Editor Version 5.00\n\n");
    node(&hive.root().unwrap(), "\\", &mut out);
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn node(key: &Key<'_>, path: &str, out: &mut String) {
    out.push_str(&format!("[{path}]\n"));
    let mut values = key.values().unwrap();
    values.sort_by_key(|v| v.name());
    for v in values {
        let name = v.name();
        if name.is_empty() {
            out.push_str("@=");
        } else {
            out.push_str(&format!("\"{}\"=", escape(&name)));
        }
        let bytes = v.bytes().unwrap();
        if v.ty() == 4 && bytes.len() == 4 {
            let d = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            out.push_str(&format!("dword:{d:08x}\n"));
        } else {
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            out.push_str(&format!("hex({:x}):{}\n", v.ty(), hex.join(",")));
        }
    }
    out.push('\n');
    let mut children = key.subkeys().unwrap();
    children.sort_by_key(|k| k.name());
    for c in children {
        let p = if path == "\\" {
            format!("\\{}", c.name())
        } else {
            format!("{path}\\{}", c.name())
        };
        node(&c, &p, out);
    }
}

/// regedit `hex(T):` text for `bytes`.
pub fn hex(ty: u32, bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("hex({ty:x}):{}", hex.join(","))
}

/// UTF-16LE bytes of `s` followed by a NUL.
pub fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(|u| u.to_le_bytes())
        .collect()
}
