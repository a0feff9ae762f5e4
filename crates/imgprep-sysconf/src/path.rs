//! Guest path helpers: lexical path arithmetic, symbolic links read without leaving the guest,
//! and the shell's `*`/`?` pattern match.

use std::collections::BTreeSet;

use imgprep_guest::Guest;

use crate::Evidence;

/// Symbolic links followed for one path (Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: usize = imgprep_guest::MAX_SYMLINKS;

/// The directory part of `path` (`/` for a top-level name or a name without a slash).
pub fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((p, _)) => p,
    }
}

/// The last component of `path`.
pub fn basename(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit_once('/')
        .map_or(path, |(_, b)| b)
}

/// `dir/name` without a doubled slash at the root.
pub fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// `path` with `.` and `..` removed, lexically (`..` stops at `/`).
pub fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// Shell pattern matching with `*` and `?` (other characters literal), as `case` and filename
/// expansion match one name.
pub fn glob_match(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == '*')
}

/// The target of the link at `path`, as stored.
pub fn link_text(g: &dyn Guest, path: &str) -> Option<String> {
    g.read_link(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Where `path` ends up after following the links of its last component, lexically (the target
/// may be missing). Stops after [`MAX_LINKS`] links.
pub fn follow_links(g: &dyn Guest, path: &str) -> String {
    let mut cur = normalize(path);
    for _ in 0..MAX_LINKS {
        if !g.is_symlink(&cur) {
            break;
        }
        let Some(t) = link_text(g, &cur) else {
            break;
        };
        cur = if t.starts_with('/') {
            normalize(&t)
        } else {
            normalize(&format!("{}/{t}", parent(&cur)))
        };
    }
    cur
}

/// Evidence for a link: `path -> target` (or `exists` when it is not a link).
pub fn link_evidence(g: &dyn Guest, path: &str) -> Evidence {
    match link_text(g, path) {
        Some(t) => Evidence::file(path, format!("-> {t}")),
        None => Evidence::file(path, "exists"),
    }
}

/// The directories of `dirs` that exist, each once (`/lib/systemd/system` is often
/// `/usr/lib/systemd/system`), in the given order.
pub fn distinct_dirs<'a>(g: &dyn Guest, dirs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for d in dirs {
        if !g.is_dir(d) {
            continue;
        }
        let real = g.realpath(d).unwrap_or_else(|_| d.to_owned());
        if seen.insert(real) {
            out.push(d.to_owned());
        }
    }
    out
}

/// Paths matching `pattern` (wildcards in the last component only), sorted as the C locale
/// sorts them; names starting with `.` match only an explicit `.`; at most `limit`.
pub fn glob(g: &dyn Guest, pattern: &str, limit: usize) -> Vec<String> {
    let Some((dir, name)) = pattern.rsplit_once('/') else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return vec![pattern.to_owned()];
    }
    let dir_path = if dir.is_empty() { "/" } else { dir };
    crate::text::list_dir(g, dir_path)
        .into_iter()
        .filter(|n| !n.starts_with('.') || name.starts_with('.'))
        .filter(|n| glob_match(name, n))
        .take(limit)
        .map(|n| format!("{dir}/{n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_paths() {
        assert_eq!(normalize("/etc/rc3.d/../init.d/./x"), "/etc/init.d/x");
        assert_eq!(normalize("/../../x"), "/x");
        assert_eq!(parent("/etc/x"), "/etc");
        assert_eq!(parent("/x"), "/");
        assert_eq!(parent("x"), "/");
        assert_eq!(parent("/a/b/"), "/a");
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/a/", "x"), "/a/x");
    }

    #[test]
    fn patterns() {
        for (p, s, want) in [
            ("*.sh", "a.sh", true),
            ("*.sh", "a.csh", false),
            ("*sh", "a.csh", true),
            ("*.sh", "a.shx", false),
            ("?.sh", "ab.sh", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("agent-*", "agent-7.0", true),
            ("*", "", true),
        ] {
            assert_eq!(glob_match(p, s), want, "{p} {s}");
        }
    }
}
