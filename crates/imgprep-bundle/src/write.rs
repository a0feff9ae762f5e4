//! Writing a bundle, byte for byte reproducibly.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::manifest::{FileEntry, FileKind, MANIFEST, Manifest};
use crate::read::hex;

/// A member to write: where its bytes come from on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the prefix.
    pub path: String,
    /// Its type.
    pub kind: FileKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// The host file holding the content (files).
    pub source: Option<PathBuf>,
    /// Link target (symbolic links).
    pub target: Option<String>,
}

/// Writes a bundle to `out` under a temporary name and renames it into place: the manifest
/// (its `files` filled in from `files`, sorted) first, then every member in path order, all with
/// mtime `epoch`, numeric owners and no names, gzip without a timestamp or a file name. The same
/// inputs give the same bytes. Returns the manifest written.
pub fn write_bundle(
    out: &Path,
    manifest: &Manifest,
    files: &[SourceFile],
    epoch: u64,
) -> Result<Manifest, Error> {
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut m = manifest.clone();
    m.files = Vec::with_capacity(files.len());
    for f in &files {
        let (size, sha256) = match (f.kind, &f.source) {
            (FileKind::File, Some(src)) => {
                let mut h = Sha256::new();
                let mut r = imgprep_io::host::open(
                    src,
                    imgprep_io::host::Accept::Regular,
                    imgprep_io::host::Follow::No,
                )?
                .file;
                let n = io::copy(&mut r, &mut HashOnly(&mut h))?;
                (Some(n), Some(hex(&h.finalize())))
            }
            (FileKind::File, None) => {
                return Err(Error::Manifest {
                    bundle: out.display().to_string(),
                    reason: format!("file {} has no source", f.path),
                });
            }
            _ => (None, None),
        };
        m.files.push(FileEntry {
            path: f.path.clone(),
            kind: f.kind,
            mode: format!("{:04o}", f.mode),
            uid: f.uid,
            gid: f.gid,
            size,
            sha256,
            target: f.target.clone(),
        });
    }
    let json = serde_json::to_vec_pretty(&m).map_err(|e| Error::Manifest {
        bundle: out.display().to_string(),
        reason: e.to_string(),
    })?;
    let tmp = out.with_file_name(format!(
        ".{}.tmp-{}",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| -> Result<(), Error> {
        let gz = GzBuilder::new()
            .mtime(0)
            .write(fs_err::File::create(&tmp)?, Compression::new(6));
        let mut b = tar::Builder::new(gz);
        b.mode(tar::HeaderMode::Deterministic);
        let header = |kind: tar::EntryType, mode: u32, uid: u32, gid: u32, size: u64| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_uid(u64::from(uid));
            h.set_gid(u64::from(gid));
            h.set_mtime(epoch);
            h.set_size(size);
            h
        };
        let mut h = header(tar::EntryType::Regular, 0o644, 0, 0, json.len() as u64);
        b.append_data(&mut h, MANIFEST, json.as_slice())?;
        for f in &files {
            match f.kind {
                FileKind::Dir => {
                    let mut h = header(tar::EntryType::Directory, f.mode, f.uid, f.gid, 0);
                    b.append_data(&mut h, format!("{}/", f.path), io::empty())?;
                }
                FileKind::Symlink => {
                    let mut h = header(tar::EntryType::Symlink, f.mode, f.uid, f.gid, 0);
                    b.append_link(&mut h, &f.path, f.target.as_deref().unwrap_or(""))?;
                }
                FileKind::File => {
                    let src = f.source.as_deref().unwrap_or(Path::new(""));
                    let file = imgprep_io::host::open(
                        src,
                        imgprep_io::host::Accept::Regular,
                        imgprep_io::host::Follow::No,
                    )?;
                    let mut h = header(tar::EntryType::Regular, f.mode, f.uid, f.gid, file.size);
                    b.append_data(&mut h, &f.path, file.file)?;
                }
            }
        }
        let gz = b.into_inner()?;
        let file = gz.finish()?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs_err::remove_file(&tmp);
        return Err(e);
    }
    fs_err::rename(&tmp, out)?;
    Ok(m)
}

struct HashOnly<'a>(&'a mut Sha256);

impl Write for HashOnly<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
