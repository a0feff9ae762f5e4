//! Opening host files without surprises: every file imgprep reads on the host (images, backing
//! and extent files, rule files, CA files, bundles) goes through [`open`], which never blocks
//! (a FIFO is opened non-blocking and refused), checks the file type with `fstat` on the opened
//! descriptor before any read, and can refuse to follow a final symlink.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Which kinds of host file a caller accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Regular files only.
    Regular,
    /// Regular files and block devices (a disk image may be a device).
    RegularOrBlock,
}

/// Whether a final symbolic link is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Follow it (a path the user typed).
    Yes,
    /// Refuse it (`O_NOFOLLOW`: a path already resolved, where a link would be a swap).
    No,
}

/// The type of a host file, as `fstat` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// A regular file.
    Regular,
    /// A block device.
    Block,
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device.
    Char,
    /// A symbolic link (seen only when not followed).
    Symlink,
}

impl HostKind {
    fn of(ft: std::fs::FileType) -> HostKind {
        if ft.is_file() {
            HostKind::Regular
        } else if ft.is_dir() {
            HostKind::Directory
        } else if ft.is_block_device() {
            HostKind::Block
        } else if ft.is_fifo() {
            HostKind::Fifo
        } else if ft.is_socket() {
            HostKind::Socket
        } else if ft.is_char_device() {
            HostKind::Char
        } else {
            HostKind::Symlink
        }
    }
}

impl fmt::Display for HostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostKind::Regular => "regular file",
            HostKind::Block => "block device",
            HostKind::Directory => "directory",
            HostKind::Fifo => "named pipe (FIFO)",
            HostKind::Socket => "socket",
            HostKind::Char => "character device",
            HostKind::Symlink => "symbolic link",
        })
    }
}

/// An opened host file with its type and size (the device size for a block device).
#[derive(Debug)]
pub struct HostFile {
    /// The open file (its errors name the path).
    pub file: fs_err::File,
    /// What it is.
    pub kind: HostKind,
    /// Its size in bytes.
    pub size: u64,
}

/// Opens `path` read-only without blocking and returns it when its type is one `accept` takes.
///
/// The open uses `O_NONBLOCK` (a FIFO with no writer would otherwise block forever) and, with
/// [`Follow::No`], `O_NOFOLLOW`; the type check is `fstat` on the opened descriptor, so what is
/// checked is what is read. Errors name the path and, for a refused type, what it is.
pub fn open(path: &Path, accept: Accept, follow: Follow) -> io::Result<HostFile> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
    if follow == Follow::No {
        flags |= libc::O_NOFOLLOW;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| {
            let shown = path.display();
            // ELOOP from O_NOFOLLOW means the final component is a symbolic link.
            if follow == Follow::No && e.raw_os_error() == Some(libc::ELOOP) {
                return io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{shown} is a symbolic link, which is not followed here"),
                );
            }
            // Some types cannot even be opened (a socket gives ENXIO): say what the file is.
            let meta = match follow {
                Follow::Yes => fs_err::metadata(path),
                Follow::No => fs_err::symlink_metadata(path),
            };
            match meta.map(|m| HostKind::of(m.file_type())) {
                Ok(kind) if !accepts(accept, kind) => refused(path, kind, accept),
                _ => io::Error::new(e.kind(), format!("cannot open {shown}: {e}")),
            }
        })?;
    let file = fs_err::File::from_parts(file, path);
    let meta = file.metadata()?;
    let kind = HostKind::of(meta.file_type());
    if !accepts(accept, kind) {
        return Err(refused(path, kind, accept));
    }
    let size = match kind {
        HostKind::Block => (&file).seek(SeekFrom::End(0))?,
        _ => meta.len(),
    };
    Ok(HostFile { file, kind, size })
}

fn accepts(accept: Accept, kind: HostKind) -> bool {
    match accept {
        Accept::Regular => kind == HostKind::Regular,
        Accept::RegularOrBlock => matches!(kind, HostKind::Regular | HostKind::Block),
    }
}

fn refused(path: &Path, kind: HostKind, accept: Accept) -> io::Error {
    let wanted = match accept {
        Accept::Regular => "a regular file",
        Accept::RegularOrBlock => "a regular file or a block device",
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is a {kind}, not {wanted}", path.display()),
    )
}

/// The whole regular file at `path` (symlinks followed), refusing files over `limit` bytes before
/// reading them, and anything that is not a regular file.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let f = open(path, Accept::Regular, Follow::Yes)?;
    if f.size > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {} bytes, more than the {limit} allowed",
                path.display(),
                f.size
            ),
        ));
    }
    let mut buf = Vec::with_capacity(f.size as usize);
    // `take` bounds the read even if the file grows after the check.
    (&f.file).take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The whole regular file at `path` as UTF-8 text, bounded as [`read`].
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read(path, limit)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("run mkfifo");
        assert!(status.success());
    }

    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        let cases: &[(&Path, &str)] = &[
            (&fifo, "is a named pipe (FIFO), not a regular file"),
            (
                Path::new("/dev/null"),
                "is a character device, not a regular file",
            ),
            (dir.path(), "is a directory, not a regular file"),
        ];
        for (path, want) in cases {
            let err = read(path, 1 << 20).unwrap_err();
            assert!(err.to_string().contains(want), "{}: {err}", path.display());
        }
        let err = open(&fifo, Accept::RegularOrBlock, Follow::Yes).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a regular file or a block device"),
            "{err}"
        );
        // A socket cannot be opened at all (ENXIO); the error still says what it is.
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        for follow in [Follow::Yes, Follow::No] {
            let err = open(&socket, Accept::RegularOrBlock, follow).unwrap_err();
            assert!(
                err.to_string()
                    .ends_with("socket is a socket, not a regular file or a block device"),
                "{err}"
            );
        }
        let missing = dir.path().join("missing");
        let err = open(&missing, Accept::Regular, Follow::Yes).unwrap_err();
        assert!(err.to_string().starts_with("cannot open "), "{err}");
    }

    #[test]
    fn limits_are_checked_before_reading_and_links_can_be_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs_err::write(&file, b"0123456789").unwrap();
        assert_eq!(read(&file, 10).unwrap(), b"0123456789");
        let err = read(&file, 9).unwrap_err();
        assert!(
            err.to_string()
                .contains("is 10 bytes, more than the 9 allowed"),
            "{err}"
        );
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(open(&link, Accept::Regular, Follow::Yes).unwrap().size, 10);
        let err = open(&link, Accept::Regular, Follow::No).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
    }
}
