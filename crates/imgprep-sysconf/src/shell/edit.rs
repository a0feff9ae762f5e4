//! Setting a umask in shell startup files: one account's own startup file (a scoped umask), or
//! the system-wide `/etc/profile` (with `login.defs` `UMASK`).

use imgprep_guest::Guest;

use super::lex::lex;
use super::structure::{Dialect, Event, structure};
use super::value::{Spec, octal, parse_spec};
use crate::Error;
use crate::accounts::Accounts;
use crate::logindefs::LoginDefs;
use crate::ops::FileOp;
use crate::ops::existing;
use crate::path::{basename, join};
use crate::text::TextFile;

/// The `umask` commands of a startup file at top level (not inside a branch, loop or function):
/// `(line, value)`; a value that is not an octal mask is `None`.
fn top_level_umasks(text: &str, d: Dialect) -> (Vec<(usize, Option<u16>)>, usize) {
    let (events, _) = structure(&lex(text), d);
    let n = events.len();
    let sets = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Set { line, args, ctx } if ctx.is_empty() => Some((
                line,
                match parse_spec(&args) {
                    Spec::Octal(m) => Some(m),
                    _ => None,
                },
            )),
            _ => None,
        })
        .collect();
    (sets, n)
}

/// `file` with `umask MASK` appended, when the shell runs that line as a command of its own at
/// top level; refused when the file ends inside a construct (an unclosed `if`, loop, function
/// or quote) or is too long to follow.
fn append_umask(path: &str, mut file: TextFile, mask: u16, d: Dialect) -> Result<Vec<u8>, Error> {
    file.append(&format!("umask {}", octal(mask)));
    let bytes = file.to_bytes();
    let (events, cut) = structure(&lex(&String::from_utf8_lossy(&bytes)), d);
    let runs = events.iter().rev().find_map(|e| match e {
        Event::Set { line, args, ctx } => {
            Some(*line == file.len() && ctx.is_empty() && parse_spec(args) == Spec::Octal(mask))
        }
        _ => None,
    });
    if cut || runs != Some(true) {
        return Err(Error::Invalid {
            what: path.to_owned(),
            why: "it does not end at top level (an unclosed if, loop, function or quote, or too \
                  long to follow): a umask appended to it would not run as a command of its own"
                .into(),
        });
    }
    Ok(bytes)
}

/// The file a login shell of `shell` reads last among the account's own startup files, and its
/// dialect: `~/.login` for csh and tcsh; for bash the first of `~/.bash_profile`,
/// `~/.bash_login`, `~/.profile` that exists (`~/.profile` when none does); `~/.profile` for
/// other Bourne shells.
fn own_startup_file(g: &dyn Guest, home: &str, shell: &str) -> (String, Dialect) {
    match basename(shell) {
        "csh" | "tcsh" => (join(home, ".login"), Dialect::Csh),
        "bash" | "" => {
            let found = [".bash_profile", ".bash_login", ".profile"]
                .iter()
                .map(|n| join(home, n))
                .find(|p| g.is_file(p));
            (found.unwrap_or_else(|| join(home, ".profile")), Dialect::Sh)
        }
        _ => (join(home, ".profile"), Dialect::Sh),
    }
}

/// The edit that gives `account`'s login shells the umask `mask`: `umask MASK` appended to the
/// account's own startup file (see [`own_startup_file`]), which its login shell reads after the
/// system files; the file is created (owned by the account, mode 0644) when missing. No
/// operation when the file's last command at top level already sets that mask.
pub fn shell_startup_umask(g: &dyn Guest, account: &str, mask: u16) -> Result<Vec<FileOp>, Error> {
    if mask > 0o777 {
        return Err(Error::Invalid {
            what: format!("umask {mask:o}"),
            why: "a umask has three octal digits".into(),
        });
    }
    let accounts = Accounts::read(g)?;
    let Some(user) = accounts.user(account) else {
        return Err(Error::Missing {
            path: format!("/etc/passwd (account {account})"),
        });
    };
    if !user.home.starts_with('/') || !g.is_dir(&user.home) {
        return Err(Error::Missing {
            path: format!("{} (home of {account})", user.home),
        });
    }
    let (path, dialect) = own_startup_file(g, &user.home, &user.shell);
    let line = format!("umask {}", octal(mask));
    let why = format!("umask {} for {account}'s login shells", octal(mask));
    match existing(g, &path)? {
        Some((bytes, owner)) => {
            let text = String::from_utf8_lossy(&bytes);
            let (sets, _) = top_level_umasks(&text, dialect);
            let file = TextFile::parse(&bytes);
            let last_line = file.len();
            if let Some((n, Some(m))) = sets.last()
                && *m == mask
                && file
                    .numbered()
                    .skip(*n)
                    .all(|(_, l)| l.trim().is_empty() || l.trim_start().starts_with('#'))
                && *n <= last_line
            {
                return Ok(Vec::new());
            }
            let bytes = append_umask(&path, file, mask, dialect)?;
            Ok(vec![FileOp::write(path, bytes, owner, why)])
        }
        None => Ok(vec![FileOp::write(
            path,
            format!("{line}\n").into_bytes(),
            (0o644, user.uid.unwrap_or(0), user.gid.unwrap_or(0)),
            why,
        )]),
    }
}

/// The edit of `/etc/profile` that makes its umask `mask`: when its last `umask` command is at
/// top level (not in a branch, loop or function) with no `.`/`source` after it, that line gets
/// the value; otherwise `umask MASK` is appended, after everything the file sources. No
/// operation when the last command already says so.
pub fn profile_umask(g: &dyn Guest, mask: u16) -> Result<Vec<FileOp>, Error> {
    const PROFILE: &str = "/etc/profile";
    let why = format!("system-wide umask {}", octal(mask));
    let Some((bytes, owner)) = existing(g, PROFILE)? else {
        return Ok(vec![FileOp::write(
            PROFILE,
            format!("umask {}\n", octal(mask)).into_bytes(),
            (0o644, 0, 0),
            why,
        )]);
    };
    let text = String::from_utf8_lossy(&bytes);
    let (events, _) = structure(&lex(&text), Dialect::Sh);
    let last_set = events.iter().rev().find_map(|e| match e {
        Event::Set { line, args, ctx } => Some((*line, args, ctx.is_empty())),
        _ => None,
    });
    let last_source = events
        .iter()
        .filter_map(|e| match e {
            Event::Source { line, .. } => Some(*line),
            _ => None,
        })
        .max();
    let sourced_after = |line: usize| last_source.is_some_and(|s| s > line);
    let mut file = TextFile::parse(&bytes);
    match last_set {
        Some((line, args, true)) if !sourced_after(line) => {
            if parse_spec(args) == Spec::Octal(mask) {
                return Ok(Vec::new());
            }
            let Some(old) = file.line(line) else {
                return Ok(Vec::new());
            };
            file.replace(line, &replace_umask_value(&old, mask));
            Ok(vec![FileOp::write(PROFILE, file.to_bytes(), owner, why)])
        }
        _ => {
            let bytes = append_umask(PROFILE, file, mask, Dialect::Sh)?;
            Ok(vec![FileOp::write(PROFILE, bytes, owner, why)])
        }
    }
}

/// The system-wide edits for `mask`: `UMASK` of `/etc/login.defs` (where the file exists) and
/// `/etc/profile`.
pub fn system_umask(g: &dyn Guest, mask: u16) -> Result<Vec<FileOp>, Error> {
    let mut ops = Vec::new();
    if let Some(defs) = LoginDefs::read(g)?
        && let Some((_, owner)) = existing(g, crate::logindefs::PATH)?
    {
        ops.extend(defs.set("UMASK", &octal(mask), owner, "system-wide umask")?);
    }
    ops.extend(profile_umask(g, mask)?);
    Ok(ops)
}

/// `  umask 077  # x` -> `  umask 022  # x`: the first word after `umask` replaced.
fn replace_umask_value(line: &str, mask: u16) -> String {
    let Some(at) = line.find("umask") else {
        return line.to_owned();
    };
    let after = &line[at + 5..];
    let ws = after.len() - after.trim_start().len();
    let rest = &after[ws..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ';' || c == '#')
        .unwrap_or(rest.len());
    format!(
        "{}umask{}{}{}",
        &line[..at],
        if ws == 0 { " " } else { &after[..ws] },
        octal(mask),
        &rest[end..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_replaced_in_place() {
        assert_eq!(replace_umask_value("    umask 077", 0o22), "    umask 022");
        assert_eq!(
            replace_umask_value("umask\t0027 # hardening", 0o22),
            "umask\t022 # hardening"
        );
        assert_eq!(replace_umask_value("umask 077;", 0o22), "umask 022;");
    }

    #[test]
    fn appended_lines_must_run_at_top_level() {
        let file = |t: &str| TextFile::parse(t.as_bytes());
        let ok = append_umask("/p", file("if x; then\n  umask 002\nfi"), 0o22, Dialect::Sh);
        assert_eq!(ok.unwrap(), b"if x; then\n  umask 002\nfi\numask 022\n");
        for open in [
            "if x; th\u{fffd}n\n  umask 002\nelse\n  umask 077\nfi\n",
            "f() {\n  umask 002\n",
            "echo \"unclosed\n",
        ] {
            assert!(
                append_umask("/p", file(open), 0o22, Dialect::Sh).is_err(),
                "{open}"
            );
        }
        assert!(append_umask("/p", file("if ($uid) then\n"), 0o22, Dialect::Csh).is_err());
        assert!(append_umask("/p", file("set x=1\n"), 0o22, Dialect::Csh).is_ok());
    }
}
