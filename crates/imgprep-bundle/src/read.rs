//! Reading and validating a bundle.
//!
//! The archive is read in raw mode: GNU long-name and PAX headers are bounded and interpreted
//! here, so no header can make the reader allocate more than a few KiB, and every size is checked
//! against [`Limits`] before the bytes behind it are read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::manifest::{FileKind, Kind, MANIFEST, Manifest};

/// Bounds on what a bundle may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Members.
    pub max_entries: usize,
    /// Bytes of one file.
    pub max_file: u64,
    /// Bytes of all files.
    pub max_total: u64,
    /// Bytes of the manifest.
    pub max_manifest: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 200_000,
            max_file: 2 << 30,
            max_total: 8 << 30,
            max_manifest: 32 << 20,
        }
    }
}

/// Longest path or link target accepted (PATH_MAX).
const MAX_NAME: u64 = 4096;
/// Largest PAX extended header read.
const MAX_PAX: u64 = 64 << 10;

/// One validated member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the prefix, normalised (`bin/agent`, no `./`, no trailing `/`).
    pub path: String,
    /// Its type.
    pub kind: FileKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size (0 but for files).
    pub size: u64,
    /// SHA-256 of the content (files).
    pub sha256: Option<String>,
    /// Link target (symbolic links).
    pub target: Option<String>,
}

/// A bundle whose every member was validated.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The file it was read from.
    pub path: PathBuf,
    /// The manifest (`None` for a plain tar.gz).
    pub manifest: Option<Manifest>,
    /// The guest directory it installs to.
    pub prefix: String,
    /// The members, manifest excluded, in archive order.
    pub entries: Vec<Entry>,
}

impl Bundle {
    /// Reads and validates a bundle: its manifest first, then every member against it.
    pub fn open(path: &Path) -> Result<Bundle, Error> {
        Bundle::read(path, None, Limits::default())
    }

    /// Reads and validates a plain `.tar.gz` (no manifest) to be unpacked at `prefix`; a bundle
    /// with a manifest is read as [`Bundle::open`] does, and its prefix must then be `prefix`.
    pub fn open_plain(path: &Path, prefix: &str) -> Result<Bundle, Error> {
        Bundle::read(path, Some(prefix), Limits::default())
    }

    /// [`Bundle::open`] or [`Bundle::open_plain`] with explicit limits.
    pub fn read(path: &Path, prefix: Option<&str>, limits: Limits) -> Result<Bundle, Error> {
        let shown = path.display().to_string();
        let file = imgprep_io::host::open(
            path,
            imgprep_io::host::Accept::Regular,
            imgprep_io::host::Follow::Yes,
        )?;
        let archive_err = |e: io::Error| Error::Archive {
            path: shown.clone(),
            detail: e.to_string(),
        };
        let mut archive = tar::Archive::new(MultiGzDecoder::new(file.file));
        let entries = archive.entries().map_err(archive_err)?.raw(true);
        let mut st = State {
            bundle: shown.clone(),
            limits,
            total: 0,
            long_name: None,
            long_link: None,
            pax: BTreeMap::new(),
            manifest: None,
            first: true,
            entries: Vec::new(),
            seen: BTreeSet::new(),
        };
        for e in entries {
            let e = e.map_err(archive_err)?;
            st.member(e)?;
        }
        let bad = |reason: String| Error::Manifest {
            bundle: shown.clone(),
            reason,
        };
        let prefix = match (&st.manifest, prefix) {
            (Some(m), Some(p)) if normal_prefix(p) != normal_prefix(&m.prefix) => {
                return Err(bad(format!(
                    "its manifest installs to {}, not {p}",
                    m.prefix
                )));
            }
            (Some(m), _) => normal_prefix(&m.prefix),
            (None, Some(p)) => normal_prefix(p),
            (None, None) => return Err(bad(format!("the first member is not {MANIFEST}"))),
        };
        if !prefix.starts_with('/') || prefix.split('/').any(|c| c == "..") {
            return Err(bad(format!(
                "install prefix {prefix:?} is not a plain absolute path"
            )));
        }
        let interpreter = match &st.manifest {
            Some(m) => allowed_interpreter(m).map_err(bad)?,
            None => None,
        };
        check_links(&st.bundle, &prefix, interpreter, &st.entries)?;
        if let Some(m) = &st.manifest {
            check_manifest(&st.bundle, m, &st.entries)?;
        }
        Ok(Bundle {
            path: path.to_owned(),
            manifest: st.manifest,
            prefix,
            entries: st.entries,
        })
    }

    /// Writes the validated members as an uncompressed tar (directories, files and links only,
    /// numeric owners, modes as validated, the members' own times) for the appliance to unpack
    /// at [`Bundle::prefix`].
    pub fn write_clean_tar(&self, out: &Path) -> Result<(), Error> {
        let file = imgprep_io::host::open(
            &self.path,
            imgprep_io::host::Accept::Regular,
            imgprep_io::host::Follow::Yes,
        )?;
        let shown = self.path.display().to_string();
        let archive_err = |e: io::Error| Error::Archive {
            path: shown.clone(),
            detail: e.to_string(),
        };
        let by_path: BTreeMap<&str, &Entry> =
            self.entries.iter().map(|e| (e.path.as_str(), e)).collect();
        let mut builder = tar::Builder::new(fs_err::File::create(out)?);
        builder.mode(tar::HeaderMode::Deterministic);
        let mut archive = tar::Archive::new(MultiGzDecoder::new(file.file));
        // Read normally this time: names were validated, only the content is copied.
        for e in archive.entries().map_err(archive_err)? {
            let mut e = e.map_err(archive_err)?;
            let name = normal_path(&String::from_utf8_lossy(&e.path_bytes()));
            let Some(v) = by_path.get(name.as_str()) else {
                continue;
            };
            let mut h = tar::Header::new_gnu();
            h.set_mode(v.mode);
            h.set_uid(u64::from(v.uid));
            h.set_gid(u64::from(v.gid));
            // The member's own time, as tar would unpack it (a bundle's build time).
            h.set_mtime(e.header().mtime().unwrap_or(0));
            match v.kind {
                FileKind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    builder.append_data(&mut h, format!("{}/", v.path), io::empty())?;
                }
                FileKind::Symlink => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    builder.append_link(&mut h, &v.path, v.target.as_deref().unwrap_or(""))?;
                }
                FileKind::File => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(v.size);
                    builder.append_data(&mut h, &v.path, (&mut e).take(v.size))?;
                }
            }
        }
        builder.into_inner()?.sync_all()?;
        Ok(())
    }
}

/// `/usr/local/x/` → `/usr/local/x`.
fn normal_prefix(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.to_owned()
    }
}

/// `./a/b/` → `a/b`.
fn normal_path(p: &str) -> String {
    let mut s = p;
    while let Some(r) = s.strip_prefix("./") {
        s = r;
    }
    s.trim_end_matches('/').to_owned()
}

struct State {
    bundle: String,
    limits: Limits,
    total: u64,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: BTreeMap<String, Vec<u8>>,
    manifest: Option<Manifest>,
    first: bool,
    entries: Vec<Entry>,
    seen: BTreeSet<String>,
}

impl State {
    fn refuse(&self, entry: &[u8], reason: impl Into<String>) -> Error {
        Error::Entry {
            bundle: self.bundle.clone(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: reason.into(),
        }
    }

    fn member<R: Read>(&mut self, mut e: tar::Entry<'_, R>) -> Result<(), Error> {
        let header_name = e.header().path_bytes().into_owned();
        let ty = e.header().entry_type();
        let size = e
            .header()
            .size()
            .map_err(|err| self.refuse(&header_name, err.to_string()))?;
        // Extension headers: bounded, applied to the next member.
        if ty.is_gnu_longname() || ty.is_gnu_longlink() {
            if size > MAX_NAME {
                return Err(self.refuse(
                    &header_name,
                    format!("a GNU long name of {size} bytes (at most {MAX_NAME})"),
                ));
            }
            let mut v = Vec::with_capacity(size as usize);
            (&mut e).take(size).read_to_end(&mut v)?;
            while v.last() == Some(&0) {
                v.pop();
            }
            if ty.is_gnu_longname() {
                self.long_name = Some(v);
            } else {
                self.long_link = Some(v);
            }
            return Ok(());
        }
        if ty.is_pax_local_extensions() || ty.is_pax_global_extensions() {
            if size > MAX_PAX {
                return Err(self.refuse(
                    &header_name,
                    format!("a PAX header of {size} bytes (at most {MAX_PAX})"),
                ));
            }
            let mut v = Vec::with_capacity(size as usize);
            (&mut e).take(size).read_to_end(&mut v)?;
            if ty.is_pax_local_extensions() {
                self.pax = parse_pax(&v).map_err(|r| self.refuse(&header_name, r))?;
            }
            return Ok(());
        }
        let raw_name = self
            .pax
            .remove("path")
            .or_else(|| self.long_name.take())
            .unwrap_or(header_name);
        let raw_link = self
            .pax
            .remove("linkpath")
            .or_else(|| self.long_link.take())
            .or_else(|| e.header().link_name_bytes().map(|c| c.into_owned()));
        let pax_size = self.pax.remove("size");
        self.pax.clear();
        self.long_name = None;
        self.long_link = None;
        if pax_size.is_some() {
            return Err(self.refuse(
                &raw_name,
                "a PAX size override (not produced by bundle builders)",
            ));
        }
        let name = std::str::from_utf8(&raw_name)
            .map_err(|_| self.refuse(&raw_name, "a name that is not UTF-8"))?
            .to_owned();
        if name.len() as u64 > MAX_NAME {
            return Err(self.refuse(&raw_name, "a name longer than 4096 bytes"));
        }
        let first = std::mem::replace(&mut self.first, false);
        if normal_path(&name) == MANIFEST && first {
            if !ty.is_file() {
                return Err(self.refuse(&raw_name, "a manifest that is not a regular file"));
            }
            if size > self.limits.max_manifest {
                return Err(self.refuse(
                    &raw_name,
                    format!(
                        "a manifest of {size} bytes (at most {})",
                        self.limits.max_manifest
                    ),
                ));
            }
            let mut v = Vec::with_capacity(size as usize);
            (&mut e).take(size).read_to_end(&mut v)?;
            let m: Manifest = serde_json::from_slice(&v).map_err(|err| Error::Manifest {
                bundle: self.bundle.clone(),
                reason: format!(
                    "{MANIFEST} line {} column {}: {err}",
                    err.line(),
                    err.column()
                ),
            })?;
            if m.format != 1 {
                return Err(Error::Manifest {
                    bundle: self.bundle.clone(),
                    reason: format!("{MANIFEST}: format {} (this imgprep reads 1)", m.format),
                });
            }
            self.manifest = Some(m);
            return Ok(());
        }
        let path = check_name(&name).map_err(|r| self.refuse(&raw_name, r))?;
        if path.is_empty() {
            // "./" itself: the prefix, which prepare creates.
            return Ok(());
        }
        let kind = if ty.is_file() {
            FileKind::File
        } else if ty.is_dir() {
            FileKind::Dir
        } else if ty.is_symlink() {
            FileKind::Symlink
        } else {
            let what = if ty.is_hard_link() {
                "a hard link"
            } else if ty.is_character_special() || ty.is_block_special() {
                "a device node"
            } else if ty.is_fifo() {
                "a FIFO"
            } else if ty.is_gnu_sparse() {
                "a sparse file"
            } else {
                "a member type bundles do not hold"
            };
            return Err(self.refuse(
                &raw_name,
                format!("{what}: only files, directories and symbolic links"),
            ));
        };
        if self.entries.len() >= self.limits.max_entries {
            return Err(self.refuse(
                &raw_name,
                format!("more than {} members", self.limits.max_entries),
            ));
        }
        if !self.seen.insert(path.clone()) {
            return Err(self.refuse(&raw_name, "a second member with the same path"));
        }
        let size = if kind == FileKind::File { size } else { 0 };
        if size > self.limits.max_file {
            return Err(self.refuse(
                &raw_name,
                format!("{size} bytes (at most {} per file)", self.limits.max_file),
            ));
        }
        self.total = self.total.saturating_add(size);
        if self.total > self.limits.max_total {
            return Err(self.refuse(
                &raw_name,
                format!(
                    "the members add up to more than {} bytes",
                    self.limits.max_total
                ),
            ));
        }
        let sha256 = if kind == FileKind::File {
            let mut h = Sha256::new();
            let n = io::copy(&mut (&mut e).take(size), &mut HashWriter(&mut h))?;
            if n != size {
                return Err(
                    self.refuse(&raw_name, format!("{n} bytes of content, {size} declared"))
                );
            }
            Some(hex(&h.finalize()))
        } else {
            None
        };
        let target = match (kind, raw_link) {
            (FileKind::Symlink, Some(t)) => Some(
                String::from_utf8(t)
                    .map_err(|_| self.refuse(&raw_name, "a link target that is not UTF-8"))?,
            ),
            (FileKind::Symlink, None) => {
                return Err(self.refuse(&raw_name, "a link without a target"));
            }
            _ => None,
        };
        let header = e.header();
        let mode = header
            .mode()
            .map_err(|err| self.refuse(&raw_name, err.to_string()))?
            & 0o7777;
        let uid = header
            .uid()
            .map_err(|err| self.refuse(&raw_name, err.to_string()))?;
        let gid = header
            .gid()
            .map_err(|err| self.refuse(&raw_name, err.to_string()))?;
        let id = |v: u64| {
            u32::try_from(v)
                .map_err(|_| self.refuse(&raw_name, format!("owner id {v} out of range")))
        };
        self.entries.push(Entry {
            path,
            kind,
            mode,
            uid: id(uid)?,
            gid: id(gid)?,
            size,
            sha256,
            target,
        });
        Ok(())
    }
}

/// A member name made relative and plain: no absolute path, no `..`, no empty component.
fn check_name(name: &str) -> Result<String, String> {
    if name.starts_with('/') {
        return Err("an absolute path".into());
    }
    let p = normal_path(name);
    if p.is_empty() {
        return Ok(p);
    }
    for c in p.split('/') {
        match c {
            "" => return Err("an empty path component".into()),
            "." => return Err("a `.` path component".into()),
            ".." => return Err("a `..` path component (leaves the install prefix)".into()),
            _ => {}
        }
    }
    if p.contains('\0') {
        return Err("a NUL byte".into());
    }
    Ok(p)
}

/// The base interpreter a `cloudify-agent` bundle's `bin/python*` links may point to: a plain
/// absolute path whose last component names a Python (`python`, `python3`, `python3.11`).
/// Declared by other kinds, or in any other form, the manifest is refused.
fn allowed_interpreter(m: &Manifest) -> Result<Option<&str>, String> {
    let Some(i) = m.target.as_ref().and_then(|t| t.interpreter.as_deref()) else {
        return Ok(None);
    };
    if m.kind != Kind::CloudifyAgent {
        return Err(format!(
            "{MANIFEST}: target.interpreter {i:?} is declared by a {} bundle (only a \
             cloudify-agent virtualenv links to a base interpreter)",
            kind_name(m.kind)
        ));
    }
    let plain = i.len() < MAX_NAME as usize
        && i.starts_with('/')
        && !i.contains('\0')
        && i[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    let last = i.rsplit('/').next().unwrap_or("");
    let python = last
        .strip_prefix("python")
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if !plain || !python {
        return Err(format!(
            "{MANIFEST}: target.interpreter {i:?} is not a plain absolute path to a Python \
             interpreter (such as /usr/bin/python3)"
        ));
    }
    Ok(Some(i))
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Worker => "worker",
        Kind::CloudifyAgent => "cloudify-agent",
    }
}

/// Every link points inside the prefix, but for `bin/python*` links to the declared base
/// interpreter, and no member sits below a link.
fn check_links(
    bundle: &str,
    prefix: &str,
    interpreter: Option<&str>,
    entries: &[Entry],
) -> Result<(), Error> {
    let links: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.kind == FileKind::Symlink)
        .map(|e| e.path.as_str())
        .collect();
    for e in entries {
        let refuse = |reason: String| Error::Entry {
            bundle: bundle.to_owned(),
            entry: e.path.clone(),
            reason,
        };
        let mut ancestor = String::new();
        for c in e
            .path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, a)| a)
        {
            if !ancestor.is_empty() {
                ancestor.push('/');
            }
            ancestor.push_str(c);
            if links.contains(ancestor.as_str()) {
                return Err(refuse(format!("lies below the symbolic link {ancestor}")));
            }
        }
        let to_interpreter = |t: &str| {
            interpreter == Some(t)
                && e.path
                    .strip_prefix("bin/")
                    .is_some_and(|n| n.starts_with("python") && !n.contains('/'))
        };
        if let Some(t) = &e.target
            && !link_stays_inside(prefix, &e.path, t)
            && !to_interpreter(t)
        {
            return Err(refuse(format!("a symbolic link to {t}, outside {prefix}")));
        }
    }
    Ok(())
}

/// Whether the link at `path` (relative to `prefix`) with target `target` resolves, lexically,
/// inside `prefix`.
fn link_stays_inside(prefix: &str, path: &str, target: &str) -> bool {
    let mut stack: Vec<&str> = Vec::new();
    let rest = if let Some(abs) = target.strip_prefix('/') {
        let pre = prefix.trim_start_matches('/');
        match abs.strip_prefix(pre) {
            Some(r) if pre.is_empty() || r.is_empty() || r.starts_with('/') => r,
            _ => return false,
        }
    } else {
        stack.extend(path.split('/'));
        stack.pop();
        target
    };
    for c in rest.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return false;
                }
            }
            c => stack.push(c),
        }
    }
    true
}

fn check_manifest(bundle: &str, m: &Manifest, entries: &[Entry]) -> Result<(), Error> {
    let bad = |reason: String| Error::Manifest {
        bundle: bundle.to_owned(),
        reason,
    };
    let mut listed: BTreeMap<String, &crate::FileEntry> = BTreeMap::new();
    for f in &m.files {
        let p =
            check_name(&f.path).map_err(|r| bad(format!("{MANIFEST}: file {:?}: {r}", f.path)))?;
        if listed.insert(p, f).is_some() {
            return Err(bad(format!(
                "{MANIFEST}: file {:?} is listed twice",
                f.path
            )));
        }
    }
    for e in entries {
        let Some(f) = listed.remove(&e.path) else {
            return Err(bad(format!("member {} is not in {MANIFEST}", e.path)));
        };
        let mut differ = Vec::new();
        if f.kind != e.kind {
            differ.push(format!(
                "type {:?} in the manifest, {:?} in the archive",
                f.kind, e.kind
            ));
        }
        if f.mode_bits() != Some(e.mode) {
            differ.push(format!(
                "mode {} in the manifest, {:04o} in the archive",
                f.mode, e.mode
            ));
        }
        if (f.uid, f.gid) != (e.uid, e.gid) {
            differ.push(format!(
                "owner {}:{} in the manifest, {}:{} in the archive",
                f.uid, f.gid, e.uid, e.gid
            ));
        }
        if e.kind == FileKind::File {
            if f.size != Some(e.size) {
                differ.push(format!(
                    "size {:?} in the manifest, {} in the archive",
                    f.size, e.size
                ));
            }
            if f.sha256.as_deref() != e.sha256.as_deref() {
                differ.push(format!(
                    "checksum mismatch: sha256 {} in the manifest, {} in the archive",
                    f.sha256.as_deref().unwrap_or("-"),
                    e.sha256.as_deref().unwrap_or("-")
                ));
            }
        }
        if e.kind == FileKind::Symlink && f.target != e.target {
            differ.push(format!(
                "link target {:?} in the manifest, {:?} in the archive",
                f.target, e.target
            ));
        }
        if !differ.is_empty() {
            return Err(bad(format!("member {}: {}", e.path, differ.join("; "))));
        }
    }
    if let Some(missing) = listed.keys().next() {
        return Err(bad(format!(
            "{MANIFEST} lists {missing}, which the archive does not hold"
        )));
    }
    if let Some(i) = &m.installer {
        let p = check_name(&i.path)
            .map_err(|r| bad(format!("{MANIFEST}: installer {:?}: {r}", i.path)))?;
        if !entries
            .iter()
            .any(|e| e.path == p && e.kind == FileKind::File)
        {
            return Err(bad(format!(
                "{MANIFEST}: installer {:?} is not a file of the bundle",
                i.path
            )));
        }
    }
    Ok(())
}

/// PAX records: `LEN KEY=VALUE\n`.
fn parse_pax(mut b: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    while !b.is_empty() {
        let sp = b
            .iter()
            .position(|&c| c == b' ')
            .ok_or("a PAX record without a length")?;
        let len: usize = std::str::from_utf8(&b[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("a PAX record with a bad length")?;
        if len <= sp + 1 || len > b.len() {
            return Err("a PAX record longer than its header".into());
        }
        let rec = &b[sp + 1..len];
        let rec = rec
            .strip_suffix(b"\n")
            .ok_or("a PAX record not ending in a newline")?;
        let eq = rec
            .iter()
            .position(|&c| c == b'=')
            .ok_or("a PAX record without `=`")?;
        let key = String::from_utf8_lossy(&rec[..eq]).into_owned();
        out.insert(key, rec[eq + 1..].to_vec());
        b = &b[len..];
    }
    Ok(out)
}

struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_judged_lexically_inside_the_prefix() {
        let cases = [
            ("bin/a", "b", true),
            ("bin/a", "../lib/x", true),
            ("bin/a", "../../x", false),
            ("a", "..", false),
            ("bin/a", "/opt/agent/lib", true),
            ("bin/a", "/opt/agent", true),
            ("bin/a", "/opt/agentx", false),
            ("bin/a", "/etc/passwd", false),
            ("bin/a", "./././c", true),
        ];
        for (path, target, inside) in cases {
            assert_eq!(
                link_stays_inside("/opt/agent", path, target),
                inside,
                "{path} -> {target}"
            );
        }
    }

    #[test]
    fn names_must_be_plain_and_relative() {
        assert_eq!(check_name("./bin/a").unwrap(), "bin/a");
        assert_eq!(check_name("bin/").unwrap(), "bin");
        for bad in ["/etc/passwd", "a/../../b", "a//b", "a/./b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pax_records_parse_and_refuse_nonsense() {
        let m = parse_pax(b"20 path=/etc/passwd\n").unwrap();
        assert_eq!(m["path"], b"/etc/passwd");
        assert!(parse_pax(b"99 path=x\n").is_err());
        assert!(parse_pax(b"x path=x\n").is_err());
    }
}
