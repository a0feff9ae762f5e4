//! PAM service stacks (`/etc/pam.d/SERVICE`): the module lines of one type, in the order PAM runs
//! them, with `include`, `substack` and Debian's `@include` followed.

use imgprep_guest::Guest;

use crate::text::MAX_TEXT;

/// Most PAM files read for one service (includes followed).
pub const MAX_READS: usize = 32;
/// Most module lines kept for one service.
pub const MAX_LINES: usize = 16;
/// Deepest include chain followed.
const MAX_DEPTH: usize = 8;
/// Arguments kept per line.
const MAX_ARGS: usize = 16;

/// One module line of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLine {
    /// The file it is in.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// The line as written, trimmed.
    pub text: String,
    /// The control field (`optional`, `[default=1]`, …).
    pub control: String,
    /// The module arguments.
    pub args: Vec<String>,
}

impl ModuleLine {
    /// The value of argument `name=VALUE`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
    }

    /// True when the bare argument `flag` is given.
    pub fn flag(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }
}

/// The lines of `kind` (`session`, `auth`, …) that load `module` (`pam_umask.so`) in the stack
/// of `service`, in the order PAM runs them; at most [`MAX_LINES`], reading at most
/// [`MAX_READS`] files. Files outside `/etc/pam.d` are not followed.
pub fn module_lines(g: &dyn Guest, service: &str, kind: &str, module: &str) -> Vec<ModuleLine> {
    let mut out = Vec::new();
    let mut reads = MAX_READS;
    walk(g, service, kind, module, 0, &mut reads, &mut out);
    out
}

fn walk(
    g: &dyn Guest,
    service: &str,
    kind: &str,
    module_name: &str,
    depth: usize,
    reads: &mut usize,
    out: &mut Vec<ModuleLine>,
) {
    if depth > MAX_DEPTH
        || *reads == 0
        || out.len() >= MAX_LINES
        || (service.contains('/') && !service.starts_with("/etc/pam.d/"))
    {
        return;
    }
    *reads -= 1;
    let path = if service.starts_with('/') {
        service.to_owned()
    } else {
        format!("/etc/pam.d/{service}")
    };
    let Ok(Some(text)) = g.read_text(&path, MAX_TEXT) else {
        return;
    };
    for (i, raw) in text.lines().enumerate() {
        let l = raw.split('#').next().unwrap_or("").trim();
        if let Some(inc) = l.strip_prefix("@include") {
            walk(g, inc.trim(), kind, module_name, depth + 1, reads, out);
            continue;
        }
        let mut fields = l.split_whitespace();
        let Some(k) = fields.next() else { continue };
        if k.trim_start_matches('-') != kind {
            continue;
        }
        let mut control = fields.next().unwrap_or("").to_owned();
        if control.starts_with('[') {
            while !control.ends_with(']') {
                match fields.next() {
                    Some(f) => control.push_str(f),
                    None => break,
                }
            }
        }
        let Some(module) = fields.next() else {
            continue;
        };
        if control == "include" || control == "substack" {
            walk(g, module, kind, module_name, depth + 1, reads, out);
            continue;
        }
        if module.rsplit('/').next() != Some(module_name) {
            continue;
        }
        if out.len() >= MAX_LINES {
            return;
        }
        out.push(ModuleLine {
            path: path.clone(),
            line: i + 1,
            text: raw.trim().to_owned(),
            control,
            args: fields.take(MAX_ARGS).map(str::to_owned).collect(),
        });
    }
}
