//! Read-only disk image containers: turns an image file (raw, qcow2, VMDK, VHD, VHDX) into the
//! virtual disk a guest would see, as one [`ReadAt`].
//!
//! The format is detected from the file's content, never from its name. Every other file an image
//! names (qcow2 backing files and external data files, VMDK extent files, the parents of VMDK
//! delta disks and of VHD and VHDX differencing disks) is opened through a [`BackingResolver`],
//! so callers decide which files an image may name ([`Disk::open`] resolves them the way qemu
//! and the format specifications do, confined to the image's directory by [`HostFiles`];
//! [`Disk::from_source`] with [`NoFiles`] refuses them). Chains are loop-checked and at most
//! [`MAX_BACKING_DEPTH`] deep, and each parent must be the one its child was made from (VMDK
//! `CID`, VHD unique id, VHDX DataWriteGuid). A VHDX log with entries to replay is replayed in
//! memory. Reads go through small caches of L2 tables, BATs and grain tables, so memory stays
//! bounded whatever the virtual size.
//!
//! This crate never writes, knows nothing of partitions or filesystems, and refuses features it
//! does not implement (encryption, VMDK ZERO/VMFS/seSparse extents, VHDX logs over 8 MiB) with
//! [`Error::Unsupported`] instead of returning wrong bytes.
#![forbid(unsafe_code)]

mod error;
mod qcow2;
mod util;
mod vhd;
mod vhdx;
mod vhdx_log;
mod vmdk;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::Error;
use imgprep_io::{FileSource, ReadAt, host};

/// Longest chain of backing files or parents accepted below the top image.
pub const MAX_BACKING_DEPTH: usize = 64;

/// A container format, named as qemu names it on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Plain disk bytes.
    Raw,
    /// QEMU copy-on-write v2/v3.
    Qcow2,
    /// VMware virtual disk.
    Vmdk,
    /// Virtual PC / Hyper-V VHD (qemu's "vpc").
    Vhd,
    /// Hyper-V VHDX.
    Vhdx,
}

impl Format {
    /// The format for a qemu driver name as stored in a qcow2 backing-format extension.
    pub fn from_qemu_name(name: &str) -> Option<Format> {
        Some(match name {
            "raw" => Format::Raw,
            "qcow2" => Format::Qcow2,
            "vmdk" => Format::Vmdk,
            "vpc" => Format::Vhd,
            "vhdx" => Format::Vhdx,
            _ => return None,
        })
    }

    /// qemu's driver name (`raw`, `qcow2`, `vmdk`, `vpc`, `vhdx`).
    pub fn qemu_name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Vmdk => "vmdk",
            Format::Vhd => "vpc",
            Format::Vhdx => "vhdx",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Vmdk => "vmdk",
            Format::Vhd => "vhd",
            Format::Vhdx => "vhdx",
        })
    }
}

/// One image of a backing chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Where the image was opened from (as given for the top image, as resolved for backing
    /// files; empty for an in-memory top image).
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
}

/// What other file an image names, and where it names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A qcow2 backing file (the header's backing file name).
    BackingFile,
    /// A file holding one extent of a VMDK, named on a line of its descriptor.
    ExtentFile {
        /// 1-based line of the descriptor.
        line: usize,
    },
    /// A qcow2 external data file (the header's data file name).
    DataFile,
    /// The parent of a VMDK delta disk (the descriptor's `parentFileNameHint`).
    ParentFileNameHint,
    /// The parent of a VHD or VHDX differencing disk, named by one of its parent locators.
    ParentLocator(Locator),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::BackingFile => f.write_str("backing file name"),
            Role::ExtentFile { line } => write!(f, "extent file on descriptor line {line}"),
            Role::DataFile => f.write_str("external data file name"),
            Role::ParentFileNameHint => f.write_str("descriptor parentFileNameHint"),
            Role::ParentLocator(l) => write!(f, "parent locator {l}"),
        }
    }
}

impl Role {
    /// The host path a name stored in this role stands for: Windows paths (`\` separators) and
    /// file URLs are converted; `None` when the name cannot name a file on this host (a drive
    /// letter, a volume GUID path, a UNC share, a URL of another scheme).
    pub fn host_path(&self, name: &str) -> Option<String> {
        match self {
            Role::BackingFile
            | Role::ExtentFile { .. }
            | Role::DataFile
            | Role::ParentFileNameHint => Some(name.to_owned()),
            Role::ParentLocator(Locator::MacX) => file_url_path(name),
            Role::ParentLocator(Locator::VolumePath) => None,
            Role::ParentLocator(
                Locator::W2ru | Locator::W2ku | Locator::RelativePath | Locator::AbsoluteWin32Path,
            ) => windows_path(name),
        }
    }
}

/// Which parent locator names a differencing disk's parent: a VHD platform code or a VHDX
/// parent locator key, named as the format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locator {
    /// VHD: a Windows path relative to the child (UTF-16LE).
    W2ru,
    /// VHD: an absolute Windows path (UTF-16LE).
    W2ku,
    /// VHD: a file URL (UTF-8).
    MacX,
    /// VHDX `relative_path`: relative to the child, `\` separated.
    RelativePath,
    /// VHDX `volume_path`: `\\?\Volume{GUID}\…`.
    VolumePath,
    /// VHDX `absolute_win32_path`: `\\?\d:\…`.
    AbsoluteWin32Path,
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Locator::W2ru => "W2ru",
            Locator::W2ku => "W2ku",
            Locator::MacX => "MacX",
            Locator::RelativePath => "relative_path",
            Locator::VolumePath => "volume_path",
            Locator::AbsoluteWin32Path => "absolute_win32_path",
        })
    }
}

/// A Windows path as a host path: `\` becomes `/`. Paths that only mean something on Windows
/// (`C:…`, `\\server\share`, `\\?\…`, `\dir` on the current drive) give `None`.
fn windows_path(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if drive || name.starts_with('\\') || name.is_empty() {
        return None;
    }
    Some(name.replace('\\', "/"))
}

/// The path of a `file://` URL (RFC 2396: `file://localhost/…`, `file:///…`, or a relative
/// `file://./…`), percent-decoded. Other URLs give `None`.
fn file_url_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("file://")?;
    let rest = match rest.strip_prefix("localhost") {
        Some(r) if r.starts_with('/') => r,
        _ => rest,
    };
    let b = rest.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).ok()?;
    (!path.is_empty()).then_some(path)
}

/// A file besides the top image that an opened disk reads: a backing file, an extent file, a
/// data file or the parent of a differencing disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    /// The image that names it.
    pub named_by: PathBuf,
    /// How it names it.
    pub role: Role,
    /// The name as stored in the image.
    pub name: String,
    /// The file opened (canonical).
    pub path: PathBuf,
}

/// Opens the files an image names: backing, data and extent files, parents of differencing disks.
pub trait BackingResolver {
    /// Opens `name`, as stored in the image at `naming_image`.
    ///
    /// Returns the path that identifies the file (two names of one file must give the same path:
    /// it is how loops are found) and its bytes.
    fn open(
        &self,
        naming_image: &Path,
        name: &str,
        role: Role,
    ) -> Result<(PathBuf, Arc<dyn ReadAt>), Error>;
}

/// Resolves names on the host file system as qemu does (absolute names as they are, relative
/// names against the directory of the image that names them; Windows paths and file URLs as
/// [`Role::host_path`] converts them), confined: the file must resolve,
/// symlinks followed, to a regular file inside one of the allowed directories (the top image's
/// directory and those the user allowed). A block device is accepted only when the top image
/// is one. The final open does not follow symlinks and does not block; the type is checked on
/// the opened descriptor. Returned paths are canonical.
#[derive(Debug, Clone, Default)]
pub struct HostFiles {
    allowed: Vec<PathBuf>,
    block_devices: bool,
}

impl HostFiles {
    /// A resolver confined to the canonical directories `allowed`.
    pub fn confined(allowed: Vec<PathBuf>, block_devices: bool) -> Self {
        Self {
            allowed,
            block_devices,
        }
    }

    /// The directories names may resolve into.
    pub fn allowed(&self) -> &[PathBuf] {
        &self.allowed
    }
}

impl BackingResolver for HostFiles {
    fn open(
        &self,
        naming_image: &Path,
        name: &str,
        role: Role,
    ) -> Result<(PathBuf, Arc<dyn ReadAt>), Error> {
        let Some(host_name) = role.host_path(name) else {
            return Err(Error::BackingOpen {
                role,
                name: name.to_owned(),
                path: PathBuf::from(name),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a path on this host",
                ),
            });
        };
        let candidate = if Path::new(&host_name).is_absolute() {
            PathBuf::from(host_name)
        } else {
            naming_image
                .parent()
                .unwrap_or_else(|| Path::new(""))
                .join(host_name)
        };
        let fail = |source| Error::BackingOpen {
            role,
            name: name.to_owned(),
            path: candidate.clone(),
            source,
        };
        let path = fs_err::canonicalize(&candidate).map_err(fail)?;
        if !self.allowed.iter().any(|dir| path.starts_with(dir)) {
            let outside = path.parent().unwrap_or(Path::new("/")).to_owned();
            return Err(Error::BackingOutside {
                role,
                name: name.to_owned(),
                path,
                allowed: self.allowed.clone(),
                outside,
            });
        }
        let accept = if self.block_devices {
            host::Accept::RegularOrBlock
        } else {
            host::Accept::Regular
        };
        let fail = |source| Error::BackingOpen {
            role,
            name: name.to_owned(),
            path: path.clone(),
            source,
        };
        let file = host::open(&path, accept, host::Follow::No).map_err(fail)?;
        let src = FileSource::from_host(file).map_err(fail)?;
        Ok((path, Arc::new(src)))
    }
}

/// Refuses every file an image names: for images read from memory or from untrusted
/// places where naming host files must not open them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl BackingResolver for NoFiles {
    fn open(
        &self,
        _naming_image: &Path,
        name: &str,
        role: Role,
    ) -> Result<(PathBuf, Arc<dyn ReadAt>), Error> {
        Err(Error::BackingRefused {
            role,
            name: name.to_owned(),
        })
    }
}

/// An opened image: its format, the guest-visible bytes and the chain of files behind them.
pub struct Disk {
    format: Format,
    size: u64,
    sector_size: u32,
    source: Arc<dyn ReadAt>,
    chain: Vec<Layer>,
    companions: Vec<Companion>,
}

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk")
            .field("format", &self.format)
            .field("virtual_size", &self.size)
            .field("sector_size", &self.sector_size)
            .field("chain", &self.chain)
            .field("companions", &self.companions)
            .finish()
    }
}

impl Disk {
    /// Opens the image at `path`, detecting its format from its content, and the backing files
    /// and extent files it names, confined to the image's own directory (see [`HostFiles`]).
    pub fn open(path: &Path) -> Result<Disk, Error> {
        Disk::open_allowing(path, &[])
    }

    /// Like [`Disk::open`], also allowing backing and extent files inside the directories
    /// `allow` (a chain whose base lives elsewhere, e.g. a shared base-image store).
    pub fn open_allowing(path: &Path, allow: &[PathBuf]) -> Result<Disk, Error> {
        let file = host::open(path, host::Accept::RegularOrBlock, host::Follow::Yes)?;
        let block = file.kind == host::HostKind::Block;
        let src: Arc<dyn ReadAt> = Arc::new(FileSource::from_host(file)?);
        let mut allowed = Vec::new();
        let canonical = fs_err::canonicalize(path)?;
        // The directory of the image as named and as it really is: both are where the user
        // pointed.
        for dir in [path.parent(), canonical.parent()].into_iter().flatten() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            allowed.push(fs_err::canonicalize(dir)?);
        }
        for dir in allow {
            let c = fs_err::canonicalize(dir).map_err(|source| Error::AllowedDir {
                path: dir.clone(),
                source,
            })?;
            if !c.is_dir() {
                return Err(Error::AllowedDir {
                    path: dir.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "not a directory",
                    ),
                });
            }
            allowed.push(c);
        }
        allowed.dedup();
        let resolver = HostFiles::confined(allowed, block);
        let mut ctx = OpenCtx::new(&resolver);
        ctx.seen.insert(canonical);
        Disk::open_top(&mut ctx, src, path, None)
    }

    /// Opens an image from any byte source, such as a buffer in memory. Files the image names
    /// are opened through `resolver` (pass [`NoFiles`] to refuse them) relative to an empty path.
    pub fn from_source(
        src: Arc<dyn ReadAt>,
        resolver: &dyn BackingResolver,
    ) -> Result<Disk, Error> {
        let mut ctx = OpenCtx::new(resolver);
        Disk::open_top(&mut ctx, src, Path::new(""), None)
    }

    /// Opens an image whose format the caller states (as qemu's `-f`), without detection.
    pub fn from_source_as(
        src: Arc<dyn ReadAt>,
        format: Format,
        resolver: &dyn BackingResolver,
    ) -> Result<Disk, Error> {
        let mut ctx = OpenCtx::new(resolver);
        Disk::open_top(&mut ctx, src, Path::new(""), Some(format))
    }

    /// Like [`Disk::from_source`], with a path for the top image: relative backing names are
    /// resolved against its directory and it appears in [`Disk::chain`].
    pub fn from_source_at(
        src: Arc<dyn ReadAt>,
        path: &Path,
        resolver: &dyn BackingResolver,
    ) -> Result<Disk, Error> {
        let mut ctx = OpenCtx::new(resolver);
        ctx.seen.insert(path.to_owned());
        Disk::open_top(&mut ctx, src, path, None)
    }

    fn open_top(
        ctx: &mut OpenCtx<'_>,
        src: Arc<dyn ReadAt>,
        path: &Path,
        format: Option<Format>,
    ) -> Result<Disk, Error> {
        let format = match format {
            Some(f) => f,
            None => detect(&*src)?,
        };
        let opened = open_layer(ctx, src, path, format)?;
        Ok(Disk {
            format,
            size: opened.size,
            sector_size: opened.sector_size,
            source: opened.source,
            chain: std::mem::take(&mut ctx.chain),
            companions: std::mem::take(&mut ctx.companions),
        })
    }

    /// The format of the top image.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Size of the virtual disk in bytes.
    pub fn virtual_size(&self) -> u64 {
        self.size
    }

    /// Logical sector size of the virtual disk (512, or 4096 for some VHDX images).
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// The guest-visible disk bytes.
    pub fn source(&self) -> Arc<dyn ReadAt> {
        self.source.clone()
    }

    /// This image, then its backing file (or parent), then that file's, and so on.
    pub fn chain(&self) -> &[Layer] {
        &self.chain
    }

    /// Every file besides the top image that the disk reads (backing, extent and data files,
    /// parents), in the order they were opened. Empty for a self-contained image.
    pub fn companions(&self) -> &[Companion] {
        &self.companions
    }
}

/// Detects the container format of `src` from its content.
///
/// Anything not recognised is [`Format::Raw`]. Known formats this crate does not read (qcow
/// version 1, QED, VDI, Parallels, DMG) are refused with [`Error::UnsupportedFormat`] so they are
/// not mistaken for raw disks.
pub fn detect(src: &dyn ReadAt) -> Result<Format, Error> {
    let size = src.size();
    let mut head = vec![0u8; size.min(2048) as usize];
    src.read_exact_at(0, &mut head)?;
    let starts = |sig: &[u8]| head.starts_with(sig);
    if starts(b"QFI\xfb") {
        if head.len() >= 8 && util::field::be32(&head, 4) == 1 {
            return Err(Error::UnsupportedFormat {
                name: "qcow",
                offset: 0,
            });
        }
        return Ok(Format::Qcow2);
    }
    if starts(b"KDMV") || starts(b"COWD") {
        return Ok(Format::Vmdk);
    }
    if starts(b"conectix") {
        return Ok(Format::Vhd);
    }
    if starts(b"vhdxfile") {
        return Ok(Format::Vhdx);
    }
    if starts(b"QED\0") {
        return Err(Error::UnsupportedFormat {
            name: "qed",
            offset: 0,
        });
    }
    if starts(b"WithoutFreeSpace") || starts(b"WithouFreSpacExt") {
        return Err(Error::UnsupportedFormat {
            name: "parallels",
            offset: 0,
        });
    }
    if head.len() >= 68 && util::field::le32(&head, 64) == 0xbeda_107f {
        return Err(Error::UnsupportedFormat {
            name: "vdi",
            offset: 64,
        });
    }
    if vmdk::probe_descriptor(&head) {
        return Ok(Format::Vmdk);
    }
    if size >= 512 {
        let mut tail = [0u8; 512];
        src.read_exact_at(size - 512, &mut tail)?;
        if vhd::is_fixed_footer(&tail) {
            return Ok(Format::Vhd);
        }
        if tail.starts_with(b"koly") {
            return Err(Error::UnsupportedFormat {
                name: "dmg",
                offset: size - 512,
            });
        }
    }
    Ok(Format::Raw)
}

/// What opening one format yields.
pub(crate) struct Opened {
    pub(crate) source: Arc<dyn ReadAt>,
    pub(crate) size: u64,
    pub(crate) sector_size: u32,
}

/// State shared while one chain is opened.
pub(crate) struct OpenCtx<'a> {
    resolver: &'a dyn BackingResolver,
    chain: Vec<Layer>,
    companions: Vec<Companion>,
    seen: HashSet<PathBuf>,
    pub(crate) cache: Arc<util::Cache>,
}

impl<'a> OpenCtx<'a> {
    fn new(resolver: &'a dyn BackingResolver) -> Self {
        Self {
            resolver,
            chain: Vec::new(),
            companions: Vec::new(),
            seen: HashSet::new(),
            cache: util::Cache::new(),
        }
    }

    /// Opens the file `name` that the image at `naming` names, through the resolver, and
    /// records it.
    pub(crate) fn open_named(
        &mut self,
        naming: &Path,
        name: &str,
        role: Role,
    ) -> Result<(PathBuf, Arc<dyn ReadAt>), Error> {
        let (path, src) = self.resolver.open(naming, name, role)?;
        self.companions.push(Companion {
            named_by: naming.to_owned(),
            role,
            name: name.to_owned(),
            path: path.clone(),
        });
        Ok((path, src))
    }

    /// Fails when the chain already holds as many images as a chain may.
    pub(crate) fn check_depth(&self) -> Result<(), Error> {
        if self.chain.len() > MAX_BACKING_DEPTH {
            return Err(Error::BackingTooDeep {
                limit: MAX_BACKING_DEPTH,
            });
        }
        Ok(())
    }

    /// Opens the file `name` that the image at `naming` names as the image below it in the
    /// chain (a backing file, a parent), refusing chains that are too deep or come back to a
    /// file already in them.
    pub(crate) fn open_parent_file(
        &mut self,
        naming: &Path,
        name: &str,
        role: Role,
    ) -> Result<(PathBuf, Arc<dyn ReadAt>), Error> {
        self.check_depth()?;
        let (path, src) = self.open_named(naming, name, role)?;
        if !self.seen.insert(path.clone()) {
            return Err(Error::BackingLoop { path });
        }
        Ok((path, src))
    }

    /// Opens a file from [`OpenCtx::open_parent_file`] as an image of `format`, adding it (and
    /// what it names) to the chain. Errors inside it name the file.
    pub(crate) fn open_parent_layer(
        &mut self,
        src: Arc<dyn ReadAt>,
        path: &Path,
        format: Format,
    ) -> Result<Opened, Error> {
        let opened = open_layer(self, src, path, format).map_err(|e| in_file(path, e))?;
        Ok(Opened {
            source: Arc::new(Member {
                path: path.to_owned(),
                inner: opened.source,
            }),
            ..opened
        })
    }

    /// Checks that the parent of a `child` differencing disk, opened from `path`, is of the
    /// child's own format (the formats read their parents as their own format only).
    pub(crate) fn expect_parent_format(
        &self,
        src: &dyn ReadAt,
        path: &Path,
        child: Format,
    ) -> Result<(), Error> {
        let found = detect(src).map_err(|e| in_file(path, e))?;
        if found != child {
            return Err(Error::ParentFormat {
                child,
                path: path.to_owned(),
                found,
            });
        }
        Ok(())
    }
}

fn open_layer(
    ctx: &mut OpenCtx<'_>,
    src: Arc<dyn ReadAt>,
    path: &Path,
    format: Format,
) -> Result<Opened, Error> {
    ctx.chain.push(Layer {
        path: path.to_owned(),
        format,
    });
    match format {
        Format::Raw => Ok(Opened {
            size: src.size(),
            source: src,
            sector_size: 512,
        }),
        Format::Qcow2 => {
            let header = qcow2::Header::parse(&*src)?;
            let data_file = match &header.data_file {
                Some(name) => Some(ctx.open_named(path, name, Role::DataFile)?.1),
                None => None,
            };
            let backing = match &header.backing {
                Some(b) => Some(open_backing(ctx, path, &b.name, b.format.as_deref())?),
                None => None,
            };
            qcow2::open(src, header, backing, data_file, &ctx.cache)
        }
        Format::Vmdk => vmdk::open(src, path, ctx),
        Format::Vhd => vhd::open(src, path, ctx),
        Format::Vhdx => vhdx::open(src, path, ctx),
    }
}

/// Opens the backing file `name` of the image at `naming`, returning its guest-visible bytes.
fn open_backing(
    ctx: &mut OpenCtx<'_>,
    naming: &Path,
    name: &str,
    declared: Option<&str>,
) -> Result<Arc<dyn ReadAt>, Error> {
    ctx.check_depth()?;
    let declared = match declared {
        Some(n) => Some(
            Format::from_qemu_name(n)
                .ok_or_else(|| Error::UnknownBackingFormat { name: n.to_owned() })?,
        ),
        None => None,
    };
    let (path, src) = ctx.open_parent_file(naming, name, Role::BackingFile)?;
    let format = match declared {
        Some(f) => f,
        None => match detect(&*src).map_err(|e| in_file(&path, e))? {
            Format::Raw => return Err(Error::UndeclaredRawBacking { path }),
            f => f,
        },
    };
    Ok(ctx.open_parent_layer(src, &path, format)?.source)
}

/// Wraps an error found in the chain member at `path` so the message names it; chain-level
/// errors (and errors already naming their file) are kept as they are, so a file is named once.
pub(crate) fn in_file(path: &Path, e: Error) -> Error {
    match e {
        e @ (Error::BackingLoop { .. } | Error::BackingTooDeep { .. } | Error::InFile { .. }) => e,
        e => Error::InFile {
            path: path.to_owned(),
            source: Box::new(e),
        },
    }
}

/// A chain member below the top image: errors reading it name its file.
struct Member {
    path: PathBuf,
    inner: Arc<dyn ReadAt>,
}

impl ReadAt for Member {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact_at(offset, buf).map_err(|e| {
            let err = if e.get_ref().is_some_and(|r| r.is::<Error>()) {
                match e.into_inner().map(|r| r.downcast::<Error>()) {
                    Some(Ok(err)) => *err,
                    Some(Err(other)) => Error::Io(std::io::Error::other(other)),
                    None => Error::Io(std::io::ErrorKind::Other.into()),
                }
            } else {
                Error::Io(e)
            };
            in_file(&self.path, err).into_io()
        })
    }
}

/// Reads from `backing` (zeros where there is none, and past its end).
pub(crate) fn read_backing(
    backing: Option<&Arc<dyn ReadAt>>,
    offset: u64,
    buf: &mut [u8],
) -> std::io::Result<()> {
    match backing {
        Some(b) => util::read_zero_past_eof(&**b, offset, buf),
        None => {
            buf.fill(0);
            Ok(())
        }
    }
}

/// True when `src` looks like a disk image: a container format [`detect`] recognises (or
/// refuses by name), or raw bytes that start like a disk: a partition table (MBR boot signature,
/// GPT header), a LUKS header or a filesystem superblock (ext2/3/4, XFS, NTFS, btrfs). Used to
/// pick images out of a directory; anything else there (notes, checksums) is not an image.
pub fn looks_like_disk(src: &dyn ReadAt) -> bool {
    match detect(src) {
        Ok(Format::Raw) => {}
        Ok(_) | Err(Error::UnsupportedFormat { .. }) => return true,
        Err(_) => return false,
    }
    let at = |offset: u64, sig: &[u8]| {
        let mut buf = vec![0u8; sig.len()];
        offset + sig.len() as u64 <= src.size()
            && src.read_exact_at(offset, &mut buf).is_ok()
            && buf == sig
    };
    at(510, &[0x55, 0xaa])
        || at(512, b"EFI PART")
        || at(0, b"LUKS\xba\xbe")
        || at(1080, &[0x53, 0xef])
        || at(0, b"XFSB")
        || at(3, b"NTFS    ")
        || at(0x10040, b"_BHRfS_M")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_are_told_from_other_files() {
        let at = |len: usize, offset: usize, sig: &[u8]| {
            let mut b = vec![0u8; len];
            b[offset..offset + sig.len()].copy_from_slice(sig);
            b
        };
        for (what, bytes) in [
            ("qcow2", at(4096, 0, b"QFI\xfb\0\0\0\x03")),
            ("qed (refused, still an image)", at(4096, 0, b"QED\0")),
            ("MBR", at(4096, 510, &[0x55, 0xaa])),
            ("GPT", at(4096, 512, b"EFI PART")),
            ("LUKS", at(4096, 0, b"LUKS\xba\xbe")),
            ("ext4", at(4096, 1080, &[0x53, 0xef])),
            ("xfs", at(4096, 0, b"XFSB")),
            ("ntfs", at(4096, 3, b"NTFS    ")),
            ("btrfs", at(0x20000, 0x10040, b"_BHRfS_M")),
        ] {
            assert!(looks_like_disk(&bytes), "{what}");
        }
        for (what, bytes) in [
            ("text", b"golden images, see the wiki\n".to_vec()),
            ("zeros", vec![0u8; 1 << 16]),
            ("empty", Vec::new()),
        ] {
            assert!(!looks_like_disk(&bytes), "{what}");
        }
    }

    fn detect_bytes(head: &[u8], len: usize) -> Result<Format, String> {
        let mut b = head.to_vec();
        b.resize(len.max(head.len()), 0);
        detect(&b).map_err(|e| e.to_string())
    }

    #[test]
    fn formats_are_detected_by_content() {
        let mut fixed_vhd = vec![0u8; 4096];
        let footer = &mut fixed_vhd[3584..];
        footer[..8].copy_from_slice(b"conectix");
        footer[60..64].copy_from_slice(&2u32.to_be_bytes());
        let sum = footer.iter().fold(0u32, |a, &b| a.wrapping_add(b.into()));
        footer[64..68].copy_from_slice(&(!sum).to_be_bytes());
        let mut bad_sum = fixed_vhd.clone();
        bad_sum[4095] = 1;
        let cases: &[(&[u8], usize, Result<Format, &str>)] = &[
            (b"", 0, Ok(Format::Raw)),
            (b"\xeb\x63\x90", 4096, Ok(Format::Raw)),
            (b"QFI\xfb\0\0\0\x03", 512, Ok(Format::Qcow2)),
            (b"QFI\xfb\0\0\0\x02", 512, Ok(Format::Qcow2)),
            (b"QFI\xfb\0\0\0\x01", 512, Err("qcow format")),
            (b"KDMV", 512, Ok(Format::Vmdk)),
            (b"# Disk DescriptorFile\nversion=1\n", 0, Ok(Format::Vmdk)),
            (b"conectix", 512, Ok(Format::Vhd)),
            (&fixed_vhd, 0, Ok(Format::Vhd)),
            (&bad_sum, 0, Ok(Format::Raw)),
            (b"vhdxfile", 512, Ok(Format::Vhdx)),
            (b"QED\0", 512, Err("qed format")),
            (b"WithoutFreeSpace", 512, Err("parallels format")),
        ];
        for (head, len, want) in cases {
            let got = detect_bytes(head, *len);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{head:?}"),
                (Err(frag), Err(e)) => assert!(e.contains(frag), "{head:?}: {e}"),
                _ => panic!("{head:?}: got {got:?}"),
            }
        }
    }

    #[test]
    fn names_in_images_become_host_paths() {
        let cases: &[(Role, &str, Option<&str>)] = &[
            (Role::BackingFile, "../b.qcow2", Some("../b.qcow2")),
            (
                Role::ParentFileNameHint,
                "/abs/base.vmdk",
                Some("/abs/base.vmdk"),
            ),
            (
                Role::ParentLocator(Locator::W2ru),
                ".\\base.vhd",
                Some("./base.vhd"),
            ),
            (
                Role::ParentLocator(Locator::W2ru),
                "..\\a\\b.vhd",
                Some("../a/b.vhd"),
            ),
            (Role::ParentLocator(Locator::W2ku), "C:\\VMs\\b.vhd", None),
            (Role::ParentLocator(Locator::W2ku), "c:b.vhd", None),
            (
                Role::ParentLocator(Locator::W2ku),
                "\\\\srv\\share\\b.vhd",
                None,
            ),
            (Role::ParentLocator(Locator::W2ku), "\\VMs\\b.vhd", None),
            (
                Role::ParentLocator(Locator::W2ku),
                "/posix/b.vhd",
                Some("/posix/b.vhd"),
            ),
            (
                Role::ParentLocator(Locator::RelativePath),
                "p.vhdx",
                Some("p.vhdx"),
            ),
            (
                Role::ParentLocator(Locator::AbsoluteWin32Path),
                "\\\\?\\d:\\p.vhdx",
                None,
            ),
            (Role::ParentLocator(Locator::VolumePath), "p.vhdx", None),
            (
                Role::ParentLocator(Locator::MacX),
                "file://./a%20b.vhd",
                Some("./a b.vhd"),
            ),
            (
                Role::ParentLocator(Locator::MacX),
                "file://localhost/U/b.vhd",
                Some("/U/b.vhd"),
            ),
            (
                Role::ParentLocator(Locator::MacX),
                "file:///U/b.vhd",
                Some("/U/b.vhd"),
            ),
            (Role::ParentLocator(Locator::MacX), "file://./bad%zz", None),
            (Role::ParentLocator(Locator::MacX), "http://x/b.vhd", None),
            (Role::ParentLocator(Locator::MacX), "file://", None),
        ];
        for (role, name, want) in cases {
            assert_eq!(role.host_path(name).as_deref(), *want, "{role} {name:?}");
        }
    }

    #[test]
    fn format_names_follow_qemu() {
        for f in [
            Format::Raw,
            Format::Qcow2,
            Format::Vmdk,
            Format::Vhd,
            Format::Vhdx,
        ] {
            assert_eq!(Format::from_qemu_name(f.qemu_name()), Some(f));
        }
        assert_eq!(Format::Vhd.to_string(), "vhd");
        assert_eq!(Format::Vhd.qemu_name(), "vpc");
        assert_eq!(Format::from_qemu_name("qed"), None);
    }
}
