//! INI files as oslo.config reads them (cloudbase-init.conf, cloudbase-init-unattend.conf):
//! `[section]`, `key = value` or `key: value`, `#` and `;` comment lines, values continued on
//! indented lines, the last assignment winning. Edits set a key or add an entry to a
//! comma-separated list, leaving every other byte as it was.

use crate::Error;
use crate::text::TextFile;

/// One assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Section (`DEFAULT` for `[DEFAULT]`).
    pub section: String,
    /// Key.
    pub key: String,
    /// Value, continuation lines appended.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
    /// Last line of the value (its last continuation line).
    pub end: usize,
    /// The key's line as written, trimmed.
    pub text: String,
}

/// The assignments of an INI file, in file order.
pub fn entries(lines: &[(usize, String)]) -> Vec<Entry> {
    parse(lines).0
}

/// The assignments, and the section headers as `(line, name)`.
fn parse(lines: &[(usize, String)]) -> (Vec<Entry>, Vec<(usize, String)>) {
    let mut section = String::new();
    let mut headers = Vec::new();
    let mut out: Vec<Entry> = Vec::new();
    let mut current: Option<Entry> = None;
    for (n, raw) in lines {
        let raw = raw.trim_start_matches('\u{feff}');
        let starts_blank = raw.starts_with([' ', '\t']);
        let l = raw.trim();
        if let Some(cur) = current.as_mut()
            && starts_blank
            && !l.is_empty()
        {
            cur.value.push_str(l);
            cur.end = *n;
            continue;
        }
        out.extend(current.take());
        // oslo.config refuses an indented line where no value is open: nothing is read from it.
        if l.is_empty() || starts_blank || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(name) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.trim().to_owned();
            headers.push((*n, section.clone()));
            continue;
        }
        let Some(sep) = l.find(['=', ':']) else {
            continue;
        };
        current = Some(Entry {
            section: section.clone(),
            key: l[..sep].trim().to_owned(),
            value: l[sep + 1..].trim().to_owned(),
            line: *n,
            end: *n,
            text: l.to_owned(),
        });
    }
    out.extend(current);
    (out, headers)
}

/// The assignment of `key` in `section` that counts: the last one.
pub fn get<'a>(entries: &'a [Entry], section: &str, key: &str) -> Option<&'a Entry> {
    entries
        .iter()
        .rev()
        .find(|e| e.section == section && e.key == key)
}

/// The entries of a comma-separated list value, unquoted.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|e| e.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
        .filter(|e| !e.is_empty())
        .collect()
}

fn check(key: &str, value: &str) -> Result<(), Error> {
    if key.is_empty() || key.contains(['=', ':', '\n', '[']) || value.contains('\n') {
        return Err(Error::Invalid {
            what: format!("{key} = {value}"),
            why: "one key and a one-line value".into(),
        });
    }
    Ok(())
}

fn numbered(f: &TextFile) -> Vec<(usize, String)> {
    f.numbered().collect()
}

/// `bytes` with `key = value` in `section`: the assignment that counts replaced (its
/// continuation lines removed), or a line added at the end of the section (the section added
/// at the end of the file when missing). `None` when the value is already that.
pub fn set(bytes: &[u8], section: &str, key: &str, value: &str) -> Result<Option<Vec<u8>>, Error> {
    check(key, value)?;
    let mut f = TextFile::parse(bytes);
    let es = entries(&numbered(&f));
    match get(&es, section, key) {
        Some(e) if e.value == value && e.line == e.end => return Ok(None),
        Some(e) => {
            let old = f.line(e.line).unwrap_or_default();
            let indent: String = old.chars().take_while(|c| c.is_whitespace()).collect();
            let sep = if old.contains(" = ") { " = " } else { "=" };
            for n in (e.line + 1..=e.end).rev() {
                f.remove(n);
            }
            f.replace(e.line, &format!("{indent}{key}{sep}{value}"));
        }
        None => insert(&mut f, section, &format!("{key}={value}")),
    }
    Ok(Some(f.to_bytes()))
}

/// Adds `line` as the last line of `section` (after its last assignment), or a new section
/// with it at the end of the file.
fn insert(f: &mut TextFile, section: &str, line: &str) {
    let lines = numbered(f);
    let (entries, headers) = parse(&lines);
    let header = headers
        .iter()
        .filter(|(_, name)| name == section)
        .map(|(n, _)| *n)
        .next_back();
    match header {
        Some(h) => {
            let last = entries
                .iter()
                .filter(|e| e.section == section && e.line > h)
                .map(|e| e.end)
                .max()
                .unwrap_or(h);
            // Indented lines after it would continue the new value (oslo.config refuses them
            // where no value is open): the line goes after them.
            let last = lines[last..]
                .iter()
                .take_while(|(_, l)| l.starts_with([' ', '\t']) && !l.trim().is_empty())
                .fold(last, |_, (n, _)| *n);
            f.insert_after(last, line);
        }
        None => {
            f.append(&format!("[{section}]"));
            f.append(line);
        }
    }
}

/// `bytes` with `item` in the comma-separated list `key` of `section`: appended to the value
/// that counts (keeping its other entries and layout), or `key=item` added when the key is
/// unset and `default` is empty, `key=DEFAULT,item` otherwise (an unset list means the
/// program's default list, which the new value must keep). `None` when `item` is listed.
pub fn add_to_list(
    bytes: &[u8],
    section: &str,
    key: &str,
    item: &str,
    default: &[&str],
) -> Result<Option<Vec<u8>>, Error> {
    check(key, item)?;
    if item.trim().is_empty() || item.contains(',') {
        return Err(Error::Invalid {
            what: format!("list entry {item:?}"),
            why: "one list entry, not empty, without a comma".into(),
        });
    }
    let mut f = TextFile::parse(bytes);
    let es = entries(&numbered(&f));
    match get(&es, section, key) {
        Some(e) if list(&e.value).iter().any(|x| x == item) => Ok(None),
        Some(e) => {
            let last = f.line(e.end).unwrap_or_default();
            let trimmed = last.trim_end();
            let sep = if list(&e.value).is_empty() || trimmed.ends_with(',') {
                ""
            } else {
                ","
            };
            f.replace(e.end, &format!("{trimmed}{sep}{item}"));
            Ok(Some(f.to_bytes()))
        }
        None => {
            let mut all: Vec<&str> = default.to_vec();
            all.push(item);
            insert(&mut f, section, &format!("{key}={}", all.join(",")));
            Ok(Some(f.to_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(t: &str) -> Vec<(usize, String)> {
        TextFile::parse(t.as_bytes()).numbered().collect()
    }

    #[test]
    fn oslo_config_reading() {
        let es = entries(&lines(
            "\u{feff}[DEFAULT]\nplugins = a,\n  b\n# x=1\nusername: Admin\n[x]\nplugins=c\n",
        ));
        let p = get(&es, "DEFAULT", "plugins").unwrap();
        assert_eq!((p.value.as_str(), p.line, p.end), ("a,b", 2, 3));
        assert_eq!(list(&p.value), ["a", "b"]);
        assert_eq!(get(&es, "DEFAULT", "username").unwrap().value, "Admin");
        assert_eq!(get(&es, "x", "plugins").unwrap().line, 7);
    }

    #[test]
    fn edits_touch_only_their_lines() {
        let t = "[DEFAULT]\r\nusername=Admin\r\nplugins=a.A,\r\n  b.B\r\n\r\n[x]\r\ny=1\r\n";
        let out = add_to_list(t.as_bytes(), "DEFAULT", "plugins", "c.C", &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[DEFAULT]\r\nusername=Admin\r\nplugins=a.A,\r\n  b.B,c.C\r\n\r\n[x]\r\ny=1\r\n"
        );
        assert_eq!(
            add_to_list(t.as_bytes(), "DEFAULT", "plugins", "b.B", &[]).unwrap(),
            None
        );
        let out = add_to_list(b"[DEFAULT]\nx=1\n", "DEFAULT", "plugins", "c", &["a", "b"])
            .unwrap()
            .unwrap();
        assert_eq!(out, b"[DEFAULT]\nx=1\nplugins=a,b,c\n");
        let out = set(b"[DEFAULT]\nx = 1\n  more\ny=2", "DEFAULT", "x", "3")
            .unwrap()
            .unwrap();
        assert_eq!(out, b"[DEFAULT]\nx = 3\ny=2");
        assert_eq!(set(b"[DEFAULT]\nx=3\n", "DEFAULT", "x", "3").unwrap(), None);
        let out = set(b"", "DEFAULT", "x", "3").unwrap().unwrap();
        assert_eq!(out, b"[DEFAULT]\nx=3\n");
    }
}

#[cfg(test)]
mod plugins {
    //! cloudbase-init's `plugins` option as oslo.config reads it.

    use super::*;

    /// The entries of `plugins` in `[DEFAULT]` and the line that counts, if any.
    fn plugins(conf: &str) -> Option<(usize, Vec<String>)> {
        let lines: Vec<(usize, String)> = TextFile::parse(conf.as_bytes()).numbered().collect();
        get(&entries(&lines), "DEFAULT", "plugins").map(|e| (e.line, list(&e.value)))
    }

    #[test]
    fn plugin_lists() {
        let ud = "cloudbaseinit.plugins.common.userdata.UserDataPlugin";
        let mtu = "cloudbaseinit.plugins.common.mtu.MTUPlugin";
        assert_eq!(plugins("[DEFAULT]\nusername=Admin\n"), None);
        assert_eq!(
            plugins(&format!("[DEFAULT]\nplugins={mtu},{ud}\n")),
            Some((2, vec![mtu.into(), ud.into()]))
        );
        assert_eq!(
            plugins(&format!("[DEFAULT]\nplugins: {mtu}, {ud}\n")),
            Some((2, vec![mtu.into(), ud.into()]))
        );
        // Continuation lines, the last assignment, other sections and comments.
        assert_eq!(
            plugins(&format!("[DEFAULT]\nplugins={mtu},\n  {ud}\nx=1\n")),
            Some((2, vec![mtu.into(), ud.into()]))
        );
        assert_eq!(
            plugins(&format!("[DEFAULT]\nplugins={ud}\nplugins={mtu}\n")),
            Some((3, vec![mtu.into()]))
        );
        assert_eq!(
            plugins(&format!("[DEFAULT]\n#plugins={mtu}\n[x]\nplugins={mtu}\n")),
            None
        );
        assert_eq!(
            plugins(&format!(
                "[openstack]\nplugins={ud}\n[DEFAULT]\nplugins={mtu}\n"
            )),
            Some((4, vec![mtu.into()]))
        );
        // A byte order mark, an empty list, quotes.
        assert_eq!(
            plugins(&format!("\u{feff}[DEFAULT]\nplugins=\"{ud}\"\n")),
            Some((2, vec![ud.into()]))
        );
        assert_eq!(plugins("[DEFAULT]\nplugins=\n"), Some((2, vec![])));
    }
}

/// The edit of the guest INI file `path` that adds `item` to the list `key` of `section` (see
/// [`add_to_list`]): one whole-file write keeping the file's mode and owner, none when `item` is
/// already listed.
pub fn add_to_list_op(
    g: &dyn imgprep_guest::Guest,
    path: &str,
    section: &str,
    key: &str,
    item: &str,
    default: &[&str],
) -> Result<Vec<crate::FileOp>, Error> {
    let Some((bytes, owner)) = crate::ops::existing(g, path)? else {
        return Err(Error::Missing {
            path: path.to_owned(),
        });
    };
    Ok(add_to_list(&bytes, section, key, item, default)?
        .map(|b| {
            crate::FileOp::write(
                path,
                b,
                owner,
                format!("add {item} to {key} in [{section}]"),
            )
        })
        .into_iter()
        .collect())
}

/// The edit of the guest INI file `path` that sets `key = value` in `section` (see [`set`]).
pub fn set_op(
    g: &dyn imgprep_guest::Guest,
    path: &str,
    section: &str,
    key: &str,
    value: &str,
) -> Result<Vec<crate::FileOp>, Error> {
    let Some((bytes, owner)) = crate::ops::existing(g, path)? else {
        return Err(Error::Missing {
            path: path.to_owned(),
        });
    };
    Ok(set(&bytes, section, key, value)?
        .map(|b| crate::FileOp::write(path, b, owner, format!("set {key} in [{section}]")))
        .into_iter()
        .collect())
}
