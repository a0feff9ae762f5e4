//! The Windows registry of a guest: hives found by guest path (names compared without regard
//! to case), keys below `CurrentControlSet` resolved through `Select\Current`, values as text,
//! and edits as [`Op::RegistrySet`] / [`Op::RegistryDelete`] operations.

use imgprep_guest::{Guest, path_nocase};
use imgprep_registry::{Data, Hive, Key};

use crate::Error;
use crate::ops::{FileOp, Op, RegValue};

/// The guest path of hive `name` (`SOFTWARE`, `SYSTEM`) under the system root `systemroot`
/// (`/Windows`), spelled as stored.
pub fn hive_path(g: &dyn Guest, systemroot: &str, name: &str) -> String {
    path_nocase(g, &format!("{systemroot}/System32/config/{name}")).0
}

/// A hive of the guest, read and parsed.
pub fn open(g: &dyn Guest, systemroot: &str, name: &str) -> Result<(String, Hive), Error> {
    let path = hive_path(g, systemroot, name);
    let hive_err = |message: String| Error::Hive {
        path: path.clone(),
        message,
    };
    let file = g
        .open_file(&path, imgprep_registry::MAX_HIVE_SIZE)
        .map_err(|e| hive_err(e.to_string()))?;
    let hive = Hive::from_source(file).map_err(|e| hive_err(e.to_string()))?;
    Ok((path, hive))
}

/// `ControlSetNNN`, the set `Select\Current` names in a SYSTEM hive.
pub fn current_control_set(system: &Hive) -> Option<String> {
    let select = system.open("Select").ok()??;
    match select.value("Current").ok()??.data().ok()? {
        Data::Dword(n) => Some(format!("ControlSet{n:03}")),
        _ => None,
    }
}

/// `key` with a `CurrentControlSet` component (any case) replaced by `ccs`.
pub fn resolve_key(key: &str, ccs: Option<&str>) -> String {
    let Some(ccs) = ccs else {
        return key.to_owned();
    };
    key.split('\\')
        .map(|c| {
            if c.eq_ignore_ascii_case("CurrentControlSet") {
                ccs
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join("\\")
}

/// The key at `key` (`CurrentControlSet` resolved when `hive` is a SYSTEM hive).
pub fn key<'h>(hive: &'h Hive, key: &str) -> Result<Option<Key<'h>>, imgprep_registry::Error> {
    let ccs = current_control_set(hive);
    hive.open(&resolve_key(key, ccs.as_deref()))
}

/// The data of value `name` of `key` (`CurrentControlSet` resolved); `None` when the key or
/// value does not exist. Errors name the resolved key.
pub fn value(hive: &Hive, key_path: &str, name: &str) -> Result<Option<Data>, String> {
    let key_path = &resolve_key(key_path, current_control_set(hive).as_deref());
    let Some(k) = hive
        .open(key_path)
        .map_err(|e| format!("{key_path}: {e}"))?
    else {
        return Ok(None);
    };
    let Some(v) = k.value(name).map_err(|e| format!("{key_path}: {e}"))? else {
        return Ok(None);
    };
    v.data()
        .map(Some)
        .map_err(|e| format!("{key_path}\\{name}: {e}"))
}

/// The native view's Uninstall key, where Add/Remove Programs entries live.
pub const UNINSTALL: &str = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall";

/// The key (`SOFTWARE\…\Uninstall\NAME`) of the Add/Remove Programs entry `name`: the native
/// view's, or the 32-bit view's (`SOFTWARE\WOW6432Node\…`) when only that one has it.
pub fn uninstall_key(software: Option<&Hive>, name: &str) -> String {
    let below = &UNINSTALL["SOFTWARE\\".len()..];
    let native = format!("{below}\\{name}");
    let wow = format!("WOW6432Node\\{below}\\{name}");
    let has = |path: &str| software.is_some_and(|h| matches!(h.open(path), Ok(Some(_))));
    if !has(&native) && has(&wow) {
        format!("SOFTWARE\\{wow}")
    } else {
        format!("SOFTWARE\\{native}")
    }
}

/// A registry value as text: strings quoted, numbers in hex and decimal.
pub fn data_text(d: &Data) -> String {
    match d {
        Data::Sz(s) | Data::ExpandSz(s) => format!("{s:?}"),
        Data::MultiSz(v) => format!("{v:?}"),
        Data::Dword(n) => format!("{n:#x} ({n})"),
        Data::Qword(n) => format!("{n:#x} ({n})"),
        Data::Binary(b) => format!("{} bytes of binary data", b.len()),
        Data::None => "(none)".into(),
        other => format!("{other:?}"),
    }
}

/// A number written as `0x…` hex or decimal.
pub fn parse_number(want: &str) -> Option<u64> {
    want.strip_prefix("0x")
        .map(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| want.parse::<u64>().ok())
}

/// True when `d` is `want`: a number (decimal or `0x` hex) for DWORD and QWORD values, the
/// string for string values, one of the strings for multi-strings.
pub fn data_equals(d: &Data, want: &str) -> bool {
    let num = parse_number(want);
    match d {
        Data::Dword(n) => num == Some(u64::from(*n)),
        Data::Qword(n) => num == Some(*n),
        Data::Sz(s) | Data::ExpandSz(s) => s == want,
        Data::MultiSz(v) => v.iter().any(|s| s == want),
        _ => false,
    }
}

fn same(d: &Data, v: &RegValue) -> bool {
    match (d, v) {
        (Data::Sz(a), RegValue::Sz(b)) | (Data::ExpandSz(a), RegValue::ExpandSz(b)) => a == b,
        (Data::MultiSz(a), RegValue::MultiSz(b)) => a == b,
        (Data::Dword(a), RegValue::Dword(b)) => a == b,
        (Data::Qword(a), RegValue::Qword(b)) => a == b,
        (Data::Binary(a), RegValue::Binary(b)) => a == b,
        _ => false,
    }
}

/// Sets value `name` of `key_path` in hive `hive_name` to `v`: one [`Op::RegistrySet`] with
/// `CurrentControlSet` resolved, or none when the value already is `v`.
pub fn set(
    g: &dyn Guest,
    systemroot: &str,
    hive_name: &str,
    key_path: &str,
    name: &str,
    v: RegValue,
) -> Result<Vec<FileOp>, Error> {
    let (path, hive) = open(g, systemroot, hive_name)?;
    let resolved = resolve_key(key_path, current_control_set(&hive).as_deref());
    if let Ok(Some(d)) = value(&hive, &resolved, name)
        && same(&d, &v)
    {
        return Ok(Vec::new());
    }
    let why = format!("set {hive_name}\\{key_path}\\{name} to {v}");
    Ok(vec![FileOp {
        path: path.clone(),
        op: Op::RegistrySet {
            hive: path,
            key: resolved,
            name: name.to_owned(),
            value: v,
        },
        why,
    }])
}

/// Deletes value `name` of `key_path` (the whole key when `name` is `None`): one
/// [`Op::RegistryDelete`] with `CurrentControlSet` resolved, or none when it does not exist.
pub fn delete(
    g: &dyn Guest,
    systemroot: &str,
    hive_name: &str,
    key_path: &str,
    name: Option<&str>,
) -> Result<Vec<FileOp>, Error> {
    let (path, hive) = open(g, systemroot, hive_name)?;
    let resolved = resolve_key(key_path, current_control_set(&hive).as_deref());
    let hive_err = |e: imgprep_registry::Error| Error::Hive {
        path: path.clone(),
        message: e.to_string(),
    };
    let Some(k) = hive.open(&resolved).map_err(hive_err)? else {
        return Ok(Vec::new());
    };
    if let Some(n) = name
        && k.value(n).map_err(hive_err)?.is_none()
    {
        return Ok(Vec::new());
    }
    let why = match name {
        Some(n) => format!("delete {hive_name}\\{key_path}\\{n}"),
        None => format!("delete {hive_name}\\{key_path}"),
    };
    Ok(vec![FileOp {
        path: path.clone(),
        op: Op::RegistryDelete {
            hive: path,
            key: resolved,
            name: name.map(str::to_owned),
        },
        why,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_set_components() {
        assert_eq!(
            resolve_key(r"CurrentControlSet\Services\Tcpip6", Some("ControlSet002")),
            r"ControlSet002\Services\Tcpip6"
        );
        assert_eq!(
            resolve_key(r"currentcontrolset\X", Some("ControlSet001")),
            r"ControlSet001\X"
        );
        assert_eq!(
            resolve_key(r"Select\CurrentControlSetX", Some("C")),
            r"Select\CurrentControlSetX"
        );
        assert_eq!(resolve_key(r"CurrentControlSet", None), "CurrentControlSet");
        assert!(data_equals(&Data::Dword(255), "0xff") && data_equals(&Data::Dword(255), "255"));
        assert!(!data_equals(&Data::Sz("a".into()), "b"));
    }
}
