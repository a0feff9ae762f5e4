//! Reading a host directory into the members of a bundle.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::Error;
use crate::manifest::FileKind;
use crate::write::SourceFile;

/// Every directory, regular file and symbolic link under `root` (not `root` itself), as bundle
/// members in path order: permission bits as on the host, owners 0:0 (a bundle's files belong to
/// root unless the manifest says otherwise; the host's ids mean nothing in the guest), links
/// not followed. A device node, FIFO or socket is refused, naming it.
pub fn collect_tree(root: &Path) -> Result<Vec<SourceFile>, Error> {
    let meta = fs_err::symlink_metadata(root)?;
    if !meta.is_dir() {
        return Err(Error::Source {
            path: root.display().to_string(),
            reason: "not a directory".into(),
        });
    }
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<SourceFile>) -> Result<(), Error> {
    let mut names: Vec<_> = fs_err::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let host = dir.join(&name);
        let Some(name) = name.to_str() else {
            return Err(Error::Source {
                path: host.display().to_string(),
                reason: "a file name that is not UTF-8".into(),
            });
        };
        let path = if rel.is_empty() {
            name.to_owned()
        } else {
            format!("{rel}/{name}")
        };
        let m = fs_err::symlink_metadata(&host)?;
        let ft = m.file_type();
        let mode = m.mode() & 0o7777;
        let base = SourceFile {
            path: path.clone(),
            kind: FileKind::File,
            mode,
            uid: 0,
            gid: 0,
            source: None,
            target: None,
        };
        if ft.is_dir() {
            out.push(SourceFile {
                kind: FileKind::Dir,
                ..base
            });
            walk(&host, &path, out)?;
        } else if ft.is_symlink() {
            let target = fs_err::read_link(&host)?;
            let Some(target) = target.to_str() else {
                return Err(Error::Source {
                    path: host.display().to_string(),
                    reason: "a link target that is not UTF-8".into(),
                });
            };
            out.push(SourceFile {
                kind: FileKind::Symlink,
                mode: 0o777,
                target: Some(target.to_owned()),
                ..base
            });
        } else if ft.is_file() {
            out.push(SourceFile {
                source: Some(host),
                ..base
            });
        } else {
            let what = if ft.is_block_device() || ft.is_char_device() {
                "a device node"
            } else if ft.is_fifo() {
                "a FIFO"
            } else {
                "a socket"
            };
            return Err(Error::Source {
                path: host.display().to_string(),
                reason: format!("{what} (a bundle holds only files, directories and links)"),
            });
        }
    }
    Ok(())
}

/// The members of a plain tar (as `tar_out` writes a guest directory), each file's content
/// copied to a numbered file in `staging`: no name from the archive reaches the host file
/// system. Only directories, files and symbolic links; owners and modes as archived.
pub fn members_of_tar(tar_file: &Path, staging: &Path) -> Result<Vec<SourceFile>, Error> {
    let shown = tar_file.display().to_string();
    let bad = |reason: String| Error::Source {
        path: shown.clone(),
        reason,
    };
    let mut a = tar::Archive::new(fs_err::File::open(tar_file)?);
    let mut out = Vec::new();
    for (i, e) in a.entries()?.enumerate() {
        let mut e = e?;
        let raw = e.path()?.to_string_lossy().into_owned();
        let mut path = raw.as_str();
        while let Some(r) = path.strip_prefix("./") {
            path = r;
        }
        let path = path.trim_end_matches('/').to_owned();
        if path.is_empty() || path == "." {
            continue;
        }
        let h = e.header();
        let mode = h.mode()? & 0o7777;
        let uid = u32::try_from(h.uid()?).map_err(|_| bad(format!("{path}: uid out of range")))?;
        let gid = u32::try_from(h.gid()?).map_err(|_| bad(format!("{path}: gid out of range")))?;
        let ty = h.entry_type();
        let base = SourceFile {
            path: path.clone(),
            kind: FileKind::File,
            mode,
            uid,
            gid,
            source: None,
            target: None,
        };
        if ty.is_dir() {
            out.push(SourceFile {
                kind: FileKind::Dir,
                ..base
            });
        } else if ty.is_symlink() {
            let t = e
                .link_name()?
                .map(|t| t.to_string_lossy().into_owned())
                .ok_or_else(|| bad(format!("{path}: a link without a target")))?;
            out.push(SourceFile {
                kind: FileKind::Symlink,
                mode: 0o777,
                target: Some(t),
                ..base
            });
        } else if ty.is_file() {
            let dst = staging.join(format!("m{i}"));
            std::io::copy(&mut e, &mut fs_err::File::create(&dst)?)?;
            out.push(SourceFile {
                source: Some(dst),
                ..base
            });
        } else {
            return Err(bad(format!(
                "{path}: a {ty:?} entry (only files, directories and links)"
            )));
        }
    }
    Ok(out)
}
