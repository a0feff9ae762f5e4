//! A guest built in memory: an in-memory filesystem mounted on `/` and read through the real
//! guest path resolver.

use std::sync::Arc;

use imgprep_fs::{DirEntry, MemFs, Metadata};
use imgprep_guest::{Guest, MountTable, NativeGuest, Result};

/// Files, directories and symlinks by absolute path; builder methods return the new guest.
#[derive(Debug, Clone)]
pub struct MemGuest {
    fs: MemFs,
    guest: NativeGuest,
}

impl Default for MemGuest {
    fn default() -> Self {
        Self::new()
    }
}

impl MemGuest {
    /// An empty guest: only `/`.
    pub fn new() -> Self {
        Self::over(MemFs::new())
    }

    /// A guest over `fs`.
    pub fn over(fs: MemFs) -> Self {
        let mut table = MountTable::new();
        table.mount("/", Arc::new(fs.clone()));
        MemGuest {
            fs,
            guest: NativeGuest::new(table),
        }
    }

    /// A regular file, mode 0644.
    pub fn file(self, path: &str, text: impl AsRef<[u8]>) -> Self {
        Self::over(self.fs.file(path, text.as_ref(), 0o644))
    }

    /// An executable file, mode 0755.
    pub fn exec(self, path: &str, text: impl AsRef<[u8]>) -> Self {
        Self::over(self.fs.file(path, text.as_ref(), 0o755))
    }

    /// A regular file with its mode and owner.
    pub fn file_owned(
        self,
        path: &str,
        data: impl AsRef<[u8]>,
        (mode, uid, gid): (u32, u32, u32),
    ) -> Self {
        Self::over(self.fs.file_owned(path, data.as_ref(), mode, uid, gid))
    }

    /// A symbolic link.
    pub fn link(self, path: &str, target: &str) -> Self {
        Self::over(self.fs.link(path, target))
    }

    /// A directory (mode 0755, root's).
    pub fn dir(self, path: &str) -> Self {
        Self::over(self.fs.dir(path))
    }

    /// A directory with its mode and owner.
    pub fn dir_owned(self, path: &str, (mode, uid, gid): (u32, u32, u32)) -> Self {
        Self::over(self.fs.dir_owned(path, mode, uid, gid))
    }

    /// Without what is at `path` (a directory with its contents).
    pub fn remove(self, path: &str) -> Self {
        Self::over(self.fs.remove(path))
    }
}

impl Guest for MemGuest {
    fn lstat(&self, path: &str) -> Result<Option<Metadata>> {
        self.guest.lstat(path)
    }

    fn stat(&self, path: &str) -> Result<Option<Metadata>> {
        self.guest.stat(path)
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.guest.read_dir(path)
    }

    fn read_link(&self, path: &str) -> Result<Vec<u8>> {
        self.guest.read_link(path)
    }

    fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        self.guest.read_file(path, limit)
    }

    fn read(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        self.guest.read(path, offset, len)
    }

    fn realpath(&self, path: &str) -> Result<String> {
        self.guest.realpath(path)
    }
}
