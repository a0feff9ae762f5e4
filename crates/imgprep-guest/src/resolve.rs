//! Guest path resolution over a mount table.

use std::sync::Arc;

use imgprep_fs::{DirEntry, FileKind, Filesystem, FsError, Metadata};
use imgprep_io::ReadAt;

use crate::{Guest, GuestError, Result};

/// Most symbolic links one lookup follows, as Linux's `MAXSYMLINKS`.
pub const MAX_SYMLINKS: usize = 40;

/// Most path components one lookup processes (links included): bounds work on hostile images.
const MAX_COMPONENTS: usize = 4096;

type Components = Vec<Vec<u8>>;

/// Filesystems mounted at guest paths.
#[derive(Debug, Default, Clone)]
pub struct MountTable {
    /// Sorted so that deeper mount points come first.
    mounts: Vec<Mount>,
}

#[derive(Debug, Clone)]
struct Mount {
    at: Components,
    fs: Arc<dyn Filesystem>,
}

impl MountTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts `fs` at the guest path `at` (normalised: `//usr/` is `/usr`). A later mount at the
    /// same path hides an earlier one, as on Linux.
    pub fn mount(&mut self, at: &str, fs: Arc<dyn Filesystem>) {
        let at = split(at.as_bytes());
        self.mounts.retain(|m| m.at != at);
        self.mounts.push(Mount { at, fs });
        self.mounts
            .sort_by(|a, b| b.at.len().cmp(&a.at.len()).then_with(|| b.at.cmp(&a.at)));
    }

    /// The guest paths that have a filesystem mounted, shallowest first, then by name.
    pub fn mount_points(&self) -> Vec<String> {
        self.mounts.iter().rev().map(|m| join(&m.at)).collect()
    }

    /// The filesystem holding the guest path `comps` and the path inside it.
    fn locate(&self, comps: &[Vec<u8>]) -> Option<(&dyn Filesystem, Vec<u8>)> {
        let (fs, path) = self.locate_arc(comps)?;
        Some((fs.as_ref(), path))
    }

    fn locate_arc(&self, comps: &[Vec<u8>]) -> Option<(&Arc<dyn Filesystem>, Vec<u8>)> {
        let m = self
            .mounts
            .iter()
            .find(|m| comps.len() >= m.at.len() && comps[..m.at.len()] == m.at[..])?;
        Some((&m.fs, join(&comps[m.at.len()..]).into_bytes()))
    }
}

/// A guest view over native filesystem readers.
#[derive(Debug, Clone)]
pub struct NativeGuest {
    table: MountTable,
}

/// Where a guest path ended up.
struct Resolved {
    /// Canonical guest path components.
    comps: Components,
    /// Its metadata, `None` when the final component does not exist.
    meta: Option<Metadata>,
}

impl NativeGuest {
    /// A guest view of the filesystems in `table`.
    pub fn new(table: MountTable) -> Self {
        Self { table }
    }

    /// The mount table.
    pub fn mounts(&self) -> &MountTable {
        &self.table
    }

    fn fs_err(path: &str, source: FsError) -> GuestError {
        match source {
            FsError::NotFound { .. } => GuestError::NotFound { path: path.into() },
            source => GuestError::Fs {
                path: path.into(),
                source,
            },
        }
    }

    /// Resolves `path` inside the guest. A missing final component is `meta: None`; a missing
    /// directory on the way is an error.
    fn resolve(&self, path: &str, follow_final: bool) -> Result<Resolved> {
        if !path.starts_with('/') {
            return Err(GuestError::BadPath { path: path.into() });
        }
        // Components still to walk, in reverse order so the next one is at the end.
        let mut todo: Components = split(path.as_bytes());
        todo.reverse();
        let mut cur: Components = Vec::new();
        let mut links = 0usize;
        let mut steps = 0usize;
        while let Some(comp) = todo.pop() {
            steps += 1;
            if steps > MAX_COMPONENTS {
                return Err(GuestError::Loop { path: path.into() });
            }
            if comp == b".." {
                cur.pop();
                continue;
            }
            cur.push(comp);
            let last = todo.is_empty();
            let (fs, fs_path) = self.table.locate(&cur).ok_or(GuestError::NoRoot)?;
            let meta = fs.lstat(&fs_path).map_err(|e| Self::fs_err(path, e))?;
            match meta {
                None if last => {
                    return Ok(Resolved {
                        comps: cur,
                        meta: None,
                    });
                }
                None => return Err(GuestError::NotFound { path: path.into() }),
                Some(m) if m.kind == FileKind::Symlink && (!last || follow_final) => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(GuestError::Loop { path: path.into() });
                    }
                    let target = fs.read_link(&fs_path).map_err(|e| Self::fs_err(path, e))?;
                    cur.pop();
                    if target.first() == Some(&b'/') {
                        cur.clear();
                    }
                    let mut t = split(&target);
                    t.reverse();
                    if todo.len() + t.len() > MAX_COMPONENTS {
                        return Err(GuestError::Loop { path: path.into() });
                    }
                    todo.extend(t);
                    if todo.is_empty() {
                        // A link to "/" or to "." resolves to the directory reached so far.
                        let (fs, fs_path) = self.table.locate(&cur).ok_or(GuestError::NoRoot)?;
                        let meta = fs.lstat(&fs_path).map_err(|e| Self::fs_err(path, e))?;
                        return Ok(Resolved { comps: cur, meta });
                    }
                }
                Some(m) if m.kind != FileKind::Dir && !last => {
                    return Err(GuestError::NotADirectory {
                        path: path.into(),
                        at: join(&cur),
                    });
                }
                Some(m) if last => {
                    return Ok(Resolved {
                        comps: cur,
                        meta: Some(m),
                    });
                }
                Some(_) => {}
            }
        }
        // The path was "/" or reduced to it.
        let (fs, fs_path) = self.table.locate(&cur).ok_or(GuestError::NoRoot)?;
        let meta = fs.lstat(&fs_path).map_err(|e| Self::fs_err(path, e))?;
        Ok(Resolved { comps: cur, meta })
    }

    /// Resolves `path` (following links) to an existing object of the filesystem holding it.
    fn existing(&self, path: &str, follow: bool) -> Result<(Resolved, &dyn Filesystem, Vec<u8>)> {
        let r = self.resolve(path, follow)?;
        if r.meta.is_none() {
            return Err(GuestError::NotFound { path: path.into() });
        }
        let (fs, fs_path) = self.table.locate(&r.comps).ok_or(GuestError::NoRoot)?;
        Ok((r, fs, fs_path))
    }
}

impl Guest for NativeGuest {
    fn lstat(&self, path: &str) -> Result<Option<Metadata>> {
        not_found_is_none(self.resolve(path, false).map(|r| r.meta))
    }

    fn stat(&self, path: &str) -> Result<Option<Metadata>> {
        not_found_is_none(self.resolve(path, true).map(|r| r.meta))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let (r, fs, fs_path) = self.existing(path, true)?;
        if r.meta.as_ref().map(|m| m.kind) != Some(FileKind::Dir) {
            return Err(GuestError::NotADirectory {
                path: path.into(),
                at: join(&r.comps),
            });
        }
        fs.read_dir(&fs_path).map_err(|e| Self::fs_err(path, e))
    }

    fn read_link(&self, path: &str) -> Result<Vec<u8>> {
        let (_, fs, fs_path) = self.existing(path, false)?;
        fs.read_link(&fs_path).map_err(|e| Self::fs_err(path, e))
    }

    fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let (_, fs, fs_path) = self.existing(path, true)?;
        fs.read_file(&fs_path, limit)
            .map_err(|e| Self::fs_err(path, e))
    }

    fn read(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let (_, fs, fs_path) = self.existing(path, true)?;
        fs.read(&fs_path, offset, len)
            .map_err(|e| Self::fs_err(path, e))
    }

    fn open_file(&self, path: &str, limit: u64) -> Result<Arc<dyn ReadAt>> {
        let r = self.resolve(path, true)?;
        let meta = r
            .meta
            .ok_or_else(|| GuestError::NotFound { path: path.into() })?;
        let (fs, fs_path) = self.table.locate_arc(&r.comps).ok_or(GuestError::NoRoot)?;
        let shown = || String::from_utf8_lossy(&fs_path).into_owned();
        let refuse = |source| Self::fs_err(path, source);
        match meta.kind {
            FileKind::File => {}
            FileKind::Dir => return Err(refuse(FsError::IsADirectory { path: shown() })),
            kind => {
                return Err(refuse(FsError::Unsupported {
                    path: shown(),
                    what: format!("reading a {kind:?} as a file"),
                }));
            }
        }
        if meta.size > limit {
            return Err(refuse(FsError::TooLarge {
                path: shown(),
                size: meta.size,
                limit,
            }));
        }
        Ok(Arc::new(FsFile {
            fs: fs.clone(),
            path: fs_path,
            guest_path: path.to_owned(),
            size: meta.size,
        }))
    }

    fn realpath(&self, path: &str) -> Result<String> {
        let r = self.resolve(path, true)?;
        if r.meta.is_none() {
            return Err(GuestError::NotFound { path: path.into() });
        }
        Ok(join(&r.comps))
    }
}

/// A regular file of a guest filesystem read on demand through its reader.
struct FsFile {
    fs: Arc<dyn Filesystem>,
    /// The path inside `fs`.
    path: Vec<u8>,
    /// The guest path it was opened as, for errors.
    guest_path: String,
    size: u64,
}

impl std::fmt::Debug for FsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsFile")
            .field("path", &self.guest_path)
            .field("size", &self.size)
            .finish()
    }
}

impl ReadAt for FsFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), self.size)?;
        let data = self.fs.read(&self.path, offset, buf.len()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", self.guest_path),
            )
        })?;
        if data.len() != buf.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: {} bytes at {offset:#x} asked, {} read",
                    self.guest_path,
                    buf.len(),
                    data.len()
                ),
            ));
        }
        buf.copy_from_slice(&data);
        Ok(())
    }
}

/// Turns "a directory on the way is missing" into "does not exist" for stat-like calls.
fn not_found_is_none(r: Result<Option<Metadata>>) -> Result<Option<Metadata>> {
    match r {
        Err(GuestError::NotFound { .. }) | Err(GuestError::NotADirectory { .. }) => Ok(None),
        r => r,
    }
}

/// Splits a path into components, dropping empty ones and `.`.
fn split(path: &[u8]) -> Components {
    path.split(|&c| c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
        .collect()
}

/// Joins components into an absolute path.
fn join(comps: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for c in comps {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(c));
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    enum Node {
        Dir,
        File(Vec<u8>),
        Link(Vec<u8>),
    }

    /// An in-memory filesystem holding `spec`.
    fn build(spec: &[(&str, Node)]) -> Arc<dyn Filesystem> {
        let fs = spec
            .iter()
            .fold(imgprep_fs::MemFs::new(), |fs, (p, n)| match n {
                Node::Dir => fs.dir(p),
                Node::File(d) => fs.file(p, d.clone(), 0o644),
                Node::Link(t) => fs.link(p, t.clone()),
            });
        Arc::new(fs)
    }

    fn file(s: &str) -> Node {
        Node::File(s.as_bytes().to_vec())
    }
    fn link(s: &str) -> Node {
        Node::Link(s.as_bytes().to_vec())
    }

    /// A root fs, a /boot fs and a /var fs, with the traps a hostile image might hold.
    fn guest() -> NativeGuest {
        let mut deep: Vec<(String, Node)> = Vec::new();
        for i in 0..50 {
            deep.push((format!("/chain/l{i}"), link(&format!("l{}", i + 1))));
        }
        deep.push(("/chain/l50".into(), file("end of chain\n")));
        let mut spec: Vec<(&str, Node)> = vec![
            ("/etc", Node::Dir),
            ("/etc/passwd", file("root:x:0:0::/root:/bin/sh\n")),
            ("/etc/os-release", link("../usr/lib/os-release")),
            ("/etc/hostname", link("/run/hostname")),
            ("/etc/escape", link("../../../../../../../etc/passwd")),
            ("/etc/abs-escape", link("/../../etc/passwd")),
            ("/etc/loop1", link("loop2")),
            ("/etc/loop2", link("loop1")),
            ("/etc/self", link("self")),
            ("/etc/dangling", link("/nonexistent/file")),
            ("/etc/to-root", link("/")),
            ("/etc/dir-link", link("/usr/lib")),
            ("/run", Node::Dir),
            ("/run/hostname", file("golden\n")),
            ("/usr", Node::Dir),
            ("/usr/lib", Node::Dir),
            ("/usr/lib/os-release", file("ID=debian\n")),
            ("/bin", link("usr/bin")),
            ("/boot", Node::Dir),
            ("/boot/on-root", file("hidden by the /boot mount\n")),
            ("/var", Node::Dir),
            ("/chain", Node::Dir),
        ];
        spec.extend(deep.iter().map(|(p, n)| (p.as_str(), n.clone())));
        let root = build(&spec);
        let boot = build(&[
            ("/grub", Node::Dir),
            ("/grub/grub.cfg", file("set default=0\n")),
            ("/up", link("../etc/passwd")),
        ]);
        let var = build(&[
            ("/lib", Node::Dir),
            ("/lib/dpkg", Node::Dir),
            ("/lib/dpkg/status", file("Package: bash\n")),
            ("/rootlink", link("/etc/passwd")),
        ]);
        let mut t = MountTable::new();
        t.mount("/", root);
        t.mount("/boot", boot);
        t.mount("//var/", var);
        NativeGuest::new(t)
    }

    /// Reads `path` and checks the outcome: `Ok(text)` or `Err(fragment of the error)`.
    fn check(path: &str, expected: Result<&str, &str>) {
        let g = guest();
        let got = g
            .read_file(path, 1 << 20)
            .map(|b| String::from_utf8(b).unwrap());
        match (got, expected) {
            (Ok(text), Ok(want)) => assert_eq!(text, want, "{path}"),
            (Err(e), Err(want)) => {
                assert!(e.to_string().contains(want), "{path}: {e} lacks {want:?}")
            }
            (got, want) => panic!("{path}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn reads_resolve_inside_the_guest() {
        let passwd = "root:x:0:0::/root:/bin/sh\n";
        check("/etc/passwd", Ok(passwd));
        check("/etc/os-release", Ok("ID=debian\n"));
        check("/etc/hostname", Ok("golden\n"));
        check("/etc/escape", Ok(passwd));
        check("/etc/abs-escape", Ok(passwd));
        check("/../../etc/./passwd", Ok(passwd));
        check("/boot/grub/grub.cfg", Ok("set default=0\n"));
        check("/boot/on-root", Err("no such file"));
        check("/boot/up", Ok(passwd));
        check("/var/lib/dpkg/status", Ok("Package: bash\n"));
        check("/var/rootlink", Ok(passwd));
        check("/etc/dir-link/os-release", Ok("ID=debian\n"));
        check("/etc/to-root/etc/passwd", Ok(passwd));
        check("/chain/l0", Err("too many levels of symbolic links"));
        check("/chain/l11", Ok("end of chain\n"));
        check("/etc/loop1", Err("too many levels of symbolic links"));
        check("/etc/self", Err("too many levels of symbolic links"));
        check("/etc/dangling", Err("no such file"));
        check("/etc/passwd/x", Err("not a directory"));
        check("relative/path", Err("must be absolute"));
    }

    #[test]
    fn stat_and_lstat_differ_only_on_final_links() {
        let g = guest();
        assert_eq!(g.lstat("/bin").unwrap().unwrap().kind, FileKind::Symlink);
        assert!(g.stat("/bin").unwrap().is_none(), "usr/bin does not exist");
        assert_eq!(
            g.stat("/etc/os-release").unwrap().unwrap().kind,
            FileKind::File
        );
        assert!(g.lstat("/nonexistent/deeper").unwrap().is_none());
        assert!(g.stat("/etc/dangling").unwrap().is_none());
        assert!(g.is_symlink("/etc/os-release"));
        assert!(g.is_dir("/etc/dir-link") && !g.is_dir_nofollow("/etc/dir-link"));
        assert_eq!(g.read_link("/etc/hostname").unwrap(), b"/run/hostname");
    }

    #[test]
    fn realpath_and_read_dir_cross_mounts() {
        let g = guest();
        assert_eq!(
            g.realpath("/etc/os-release").unwrap(),
            "/usr/lib/os-release"
        );
        assert_eq!(g.realpath("/boot/up").unwrap(), "/etc/passwd");
        assert_eq!(g.realpath("/").unwrap(), "/");
        assert_eq!(g.realpath("/etc/to-root").unwrap(), "/");
        let names: Vec<String> = g
            .read_dir("/var/lib/dpkg")
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .collect();
        assert_eq!(names, ["status"]);
        assert_eq!(g.mounts().mount_points(), ["/", "/boot", "/var"]);
    }

    #[test]
    fn a_guest_without_root_says_so() {
        let g = NativeGuest::new(MountTable::new());
        let err = g.read_file("/etc/passwd", 10).unwrap_err();
        assert!(matches!(err, GuestError::NoRoot), "{err}");
    }
}
