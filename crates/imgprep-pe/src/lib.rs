//! The version resource of Windows PE executables (`.exe`, `.dll`, `.sys`): the numbers and
//! strings Explorer shows under "Details" and `FileVersionInfo` returns, read from a file that
//! may be hostile.
//!
//! [`version_info`] reads a PE through a [`ReadAt`]: the DOS and NT headers, the section table
//! and the resource directory through the `object` crate (PE32 and PE32+), then the first
//! `RT_VERSION` resource, which [`parse_version_info`] decodes: the `VS_FIXEDFILEINFO` block
//! (file and product version as four numbers, flags, OS and type) and the `StringFileInfo`
//! tables (`ProductVersion`, `FileVersion`, `CompanyName`, …), as a [`VersionInfo`]. Every read
//! is bounded before it is made (the resource directory by [`MAX_RESOURCE_DIRECTORY`], the
//! version resource by its 16-bit length), and damaged input gives an [`Error`] naming the
//! structure, its file offset, what was expected and what was found; nothing here panics on
//! input.
//!
//! It does not load or run anything, resolve imports, check signatures or read other resource
//! types, and knows nothing about guests or where an executable lives.
#![forbid(unsafe_code)]

mod versioninfo;

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

pub use imgprep_io::ReadAt;
use object::LittleEndian as LE;
use object::ReadRef;
use object::pe;
use object::read::ReadCache;
use object::read::pe::{ImageNtHeaders, ResourceDirectory, ResourceDirectoryEntryData};

pub use versioninfo::{FixedFileInfo, StringTable, parse_version_info};

/// Largest resource directory (the `.rsrc` data the data directory names) read.
pub const MAX_RESOURCE_DIRECTORY: u32 = 16 << 20;
/// Largest version resource read: `VS_VERSIONINFO`'s length is a 16-bit number.
pub const MAX_VERSION_RESOURCE: u32 = 0xffff;
/// Resource type of version resources.
const RT_VERSION: u16 = 16;

/// Why a version resource could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("reading {len} bytes at {offset:#x}: {source}")]
    Io {
        /// Where the read started.
        offset: u64,
        /// How many bytes it wanted.
        len: u64,
        /// What the source said.
        #[source]
        source: io::Error,
    },
    /// A structure is not what it must be.
    #[error("{what} at {offset:#x}: expected {expected}, found {found}")]
    Invalid {
        /// The structure.
        what: &'static str,
        /// Its file offset.
        offset: u64,
        /// What it must be.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// A structure does not fit in the file or its container.
    #[error(
        "{what} at {offset:#x} needs {needed} bytes, but only {available} are there ({within})"
    )]
    Truncated {
        /// The structure.
        what: &'static str,
        /// Its file offset.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes there are.
        available: u64,
        /// What bounds it (the file, the resource, the enclosing block).
        within: &'static str,
    },
    /// The `object` crate refused the headers or the resource directory.
    #[error("{what} (PE header at {offset:#x}): {message}")]
    Pe {
        /// What was being read.
        what: &'static str,
        /// File offset of the PE signature.
        offset: u64,
        /// The reader's message.
        message: String,
    },
    /// A structure is larger than this reader reads.
    #[error("{what} at {offset:#x} is {size} bytes, more than the {limit} this reader reads")]
    TooLarge {
        /// The structure.
        what: &'static str,
        /// Its file offset.
        offset: u64,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// A version as four 16-bit numbers (`1.3.1.2`), as `VS_FIXEDFILEINFO` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version4(pub [u16; 4]);

impl Version4 {
    /// From the most and least significant 32-bit halves (`dwFileVersionMS`, `…LS`).
    pub fn from_ms_ls(ms: u32, ls: u32) -> Self {
        let hi = |n: u32| u16::try_from(n >> 16).unwrap_or(u16::MAX);
        let lo = |n: u32| u16::try_from(n & 0xffff).unwrap_or(u16::MAX);
        Version4([hi(ms), lo(ms), hi(ls), lo(ls)])
    }
}

impl fmt::Display for Version4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// A decoded version resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// File offset of the `VS_VERSIONINFO` block.
    pub offset: u64,
    /// The resource's language id (`0x409` en-US, `0` neutral).
    pub language: u16,
    /// The `VS_FIXEDFILEINFO` block, when the resource has one.
    pub fixed: Option<FixedFileInfo>,
    /// The `StringFileInfo` tables, in file order.
    pub string_tables: Vec<StringTable>,
}

impl VersionInfo {
    /// The first string named `name` (compared without regard to ASCII case, as Windows does),
    /// with the key of its table (`040904b0`).
    pub fn string(&self, name: &str) -> Option<(&str, &str)> {
        self.string_tables.iter().find_map(|t| {
            t.strings
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| (t.key.as_str(), v.as_str()))
        })
    }
}

/// The version resource of the PE file `src`: `Ok(None)` when the file is a PE without one
/// (no resource directory, or no `RT_VERSION` entry in it).
pub fn version_info(src: &dyn ReadAt) -> Result<Option<VersionInfo>, Error> {
    let size = src.size();
    let pe_at = pe_header(src)?;
    let cache = ReadCache::new(Source { src, pos: 0 });
    let data = &cache;
    let magic_at = pe_at + 24;
    let magic = u16::from_le_bytes(read_array(src, magic_at, "optional header magic")?);
    let found = match magic {
        pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => resource::<pe::ImageNtHeaders32>(data, pe_at, size)?,
        pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => resource::<pe::ImageNtHeaders64>(data, pe_at, size)?,
        other => {
            return Err(Error::Invalid {
                what: "optional header magic",
                offset: magic_at,
                expected: "0x10b (PE32) or 0x20b (PE32+)".into(),
                found: format!("{other:#x}"),
            });
        }
    };
    let Some((offset, len, language)) = found else {
        return Ok(None);
    };
    let mut bytes = vec![0; len as usize];
    read_at(src, offset, &mut bytes)?;
    let mut info = parse_version_info(&bytes, offset)?;
    info.language = language;
    Ok(Some(info))
}

/// Checks the DOS header and the PE signature; returns the signature's offset.
fn pe_header(src: &dyn ReadAt) -> Result<u64, Error> {
    let size = src.size();
    if size < 0x40 {
        return Err(Error::Truncated {
            what: "DOS header",
            offset: 0,
            needed: 0x40,
            available: size,
            within: "the file",
        });
    }
    let mz: [u8; 2] = read_array(src, 0, "DOS header")?;
    if &mz != b"MZ" {
        return Err(Error::Invalid {
            what: "DOS header signature",
            offset: 0,
            expected: "\"MZ\"".into(),
            found: format!("{:02x} {:02x}", mz[0], mz[1]),
        });
    }
    let pe_at = u64::from(u32::from_le_bytes(read_array(src, 0x3c, "e_lfanew")?));
    let needed = pe_at.saturating_add(24 + 2);
    if needed > size {
        return Err(Error::Truncated {
            what: "PE header (e_lfanew)",
            offset: pe_at,
            needed: 26,
            available: size.saturating_sub(pe_at),
            within: "the file",
        });
    }
    let sig: [u8; 4] = read_array(src, pe_at, "PE signature")?;
    if &sig != b"PE\0\0" {
        return Err(Error::Invalid {
            what: "PE signature",
            offset: pe_at,
            expected: "\"PE\\0\\0\"".into(),
            found: format!(
                "{:02x} {:02x} {:02x} {:02x}",
                sig[0], sig[1], sig[2], sig[3]
            ),
        });
    }
    Ok(pe_at)
}

/// File offset, length and language of the first `RT_VERSION` resource of a PE whose NT
/// headers start at `pe_at`.
fn resource<Pe: ImageNtHeaders>(
    data: &ReadCache<Source<'_>>,
    pe_at: u64,
    size: u64,
) -> Result<Option<(u64, u32, u16)>, Error> {
    let pe_err = |what: &'static str| {
        move |e: object::read::Error| Error::Pe {
            what,
            offset: pe_at,
            message: e.to_string(),
        }
    };
    let mut offset = pe_at;
    let (nt, dirs) = Pe::parse(data, &mut offset).map_err(pe_err("NT headers"))?;
    let sections = nt.sections(data, offset).map_err(pe_err("section table"))?;
    let Some(dir) = dirs.get(pe::IMAGE_DIRECTORY_ENTRY_RESOURCE) else {
        return Ok(None);
    };
    let (rva, len) = dir.address_range();
    if rva == 0 || len == 0 {
        return Ok(None);
    }
    let (rsrc_at, rsrc_len) = dir
        .file_range(&sections)
        .map_err(pe_err("resource data directory"))?;
    let rsrc_at = u64::from(rsrc_at);
    if rsrc_len > MAX_RESOURCE_DIRECTORY {
        return Err(Error::TooLarge {
            what: "resource directory",
            offset: rsrc_at,
            size: rsrc_len.into(),
            limit: MAX_RESOURCE_DIRECTORY.into(),
        });
    }
    let end = rsrc_at + u64::from(rsrc_len);
    if end > size {
        return Err(Error::Truncated {
            what: "resource directory",
            offset: rsrc_at,
            needed: rsrc_len.into(),
            available: size.saturating_sub(rsrc_at),
            within: "the file",
        });
    }
    let bytes = data
        .read_bytes_at(rsrc_at, rsrc_len.into())
        .map_err(|()| Error::Truncated {
            what: "resource directory",
            offset: rsrc_at,
            needed: rsrc_len.into(),
            available: size.saturating_sub(rsrc_at),
            within: "the file",
        })?;
    let dir = ResourceDirectory::new(bytes);
    let rsrc_err = |what: &'static str, at: u32| {
        move |e: object::read::Error| Error::Invalid {
            what,
            offset: rsrc_at + u64::from(at),
            expected: "a resource table within the resource directory".into(),
            found: e.to_string(),
        }
    };
    let root = dir.root().map_err(rsrc_err("resource root table", 0))?;
    let Some(types) = root
        .entries
        .iter()
        .find(|e| e.name_or_id().id() == Some(RT_VERSION))
    else {
        return Ok(None);
    };
    // Type → name (`1`, usually) → language → data.
    let Some(names) = table(
        types,
        dir,
        rsrc_err("RT_VERSION table", types.data_offset()),
    )?
    else {
        return Ok(None);
    };
    let Some(name) = names.entries.iter().find(|e| e.is_table()) else {
        return Ok(None);
    };
    let Some(langs) = table(
        name,
        dir,
        rsrc_err("version name table", name.data_offset()),
    )?
    else {
        return Ok(None);
    };
    for lang in langs.entries {
        if lang.is_table() {
            continue;
        }
        let entry = match lang.data(dir) {
            Ok(ResourceDirectoryEntryData::Data(d)) => d,
            Ok(ResourceDirectoryEntryData::Table(_)) => continue,
            Err(e) => return Err(rsrc_err("version data entry", lang.data_offset())(e)),
        };
        let language = lang.name_or_id().id().unwrap_or(0);
        let data_rva = entry.offset_to_data.get(LE);
        let data_len = entry.size.get(LE);
        let entry_at = rsrc_at + u64::from(lang.data_offset());
        let Some((at, available)) = sections.pe_file_range_at(data_rva) else {
            return Err(Error::Invalid {
                what: "version data entry",
                offset: entry_at,
                expected: "an RVA inside a section".into(),
                found: format!("RVA {data_rva:#x}"),
            });
        };
        let len = data_len.min(MAX_VERSION_RESOURCE);
        if len > available || u64::from(at) + u64::from(len) > size {
            return Err(Error::Truncated {
                what: "version resource",
                offset: at.into(),
                needed: len.into(),
                available: u64::from(
                    available
                        .min(u32::try_from(size.saturating_sub(at.into())).unwrap_or(u32::MAX)),
                ),
                within: "its section and the file",
            });
        }
        return Ok(Some((at.into(), len, language)));
    }
    Ok(None)
}

/// The subtable an entry points to; `None` when it points to data instead.
fn table<'data>(
    entry: &pe::ImageResourceDirectoryEntry,
    dir: ResourceDirectory<'data>,
    err: impl FnOnce(object::read::Error) -> Error,
) -> Result<Option<object::read::pe::ResourceDirectoryTable<'data>>, Error> {
    if !entry.is_table() {
        return Ok(None);
    }
    match entry.data(dir).map_err(err)? {
        ResourceDirectoryEntryData::Table(t) => Ok(Some(t)),
        ResourceDirectoryEntryData::Data(_) => Ok(None),
    }
}

fn read_at(src: &dyn ReadAt, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
    src.read_exact_at(offset, buf).map_err(|source| Error::Io {
        offset,
        len: buf.len() as u64,
        source,
    })
}

fn read_array<const N: usize>(
    src: &dyn ReadAt,
    offset: u64,
    what: &'static str,
) -> Result<[u8; N], Error> {
    let size = src.size();
    if offset.saturating_add(N as u64) > size {
        return Err(Error::Truncated {
            what,
            offset,
            needed: N as u64,
            available: size.saturating_sub(offset),
            within: "the file",
        });
    }
    let mut b = [0; N];
    read_at(src, offset, &mut b)?;
    Ok(b)
}

/// A [`ReadAt`] as the `Read + Seek` stream `object`'s [`ReadCache`] reads from.
struct Source<'a> {
    src: &'a dyn ReadAt,
    pos: u64,
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.src.size().saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        self.src.read_exact_at(self.pos, &mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Source<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let size = self.src.size();
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/data/pe/make.sh` builds these (mingw-w64 and windres).
    const VERSION_EXE: &[u8] = include_bytes!("../../../tests/data/pe/version.exe");
    const PLAIN_EXE: &[u8] = include_bytes!("../../../tests/data/pe/plain.exe");

    fn read(bytes: &[u8]) -> Result<Option<VersionInfo>, Error> {
        version_info(&bytes.to_vec())
    }

    fn info() -> VersionInfo {
        read(VERSION_EXE).unwrap().expect("a version resource")
    }

    #[test]
    fn reads_what_windres_wrote() {
        let v = info();
        let fixed = v.fixed.expect("VS_FIXEDFILEINFO");
        assert_eq!(fixed.file_version.to_string(), "1.3.1.2");
        assert_eq!(fixed.product_version, Version4([1, 3, 1, 0]));
        assert_eq!(fixed.file_flags, 2, "VS_FF_PRERELEASE");
        assert_eq!(fixed.file_os, 0x40004);
        assert_eq!(fixed.file_type, 1);
        assert_eq!(v.language, 0x409);
        assert_eq!(v.string_tables.len(), 1);
        let t = &v.string_tables[0];
        assert_eq!(t.key, "040904b0");
        let names: Vec<&str> = t.strings.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "CompanyName",
                "FileDescription",
                "FileVersion",
                "Comments",
                "ProductName",
                "ProductVersion"
            ]
        );
        assert_eq!(v.string("productversion"), Some(("040904b0", "1.3.1")));
        assert_eq!(v.string("Comments"), Some(("040904b0", "")));
        assert_eq!(v.string("FileVersion"), Some(("040904b0", "1.3.1.2")));
        assert_eq!(v.string("LegalCopyright"), None);
        // The block really is where the reader says.
        let at = v.offset as usize;
        assert_eq!(&VERSION_EXE[at + 6..at + 12], b"V\0S\0_\0");
    }

    #[test]
    fn a_pe_without_resources_has_no_version() {
        assert_eq!(read(PLAIN_EXE).unwrap(), None);
    }

    /// A PE32 (the 32-bit layout, as .NET assemblies and 32-bit programs have it) built here
    /// around the version resource of version.exe: headers, one `.rsrc` section with the
    /// three-level resource tree, then the resource.
    fn pe32(resource: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 0x400];
        f[..2].copy_from_slice(b"MZ");
        f[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        f[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        let put16 =
            |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
        let put32 =
            |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put16(&mut f, coff, 0x14c); // i386
        put16(&mut f, coff + 2, 1); // one section
        put16(&mut f, coff + 16, 224); // optional header size
        put16(&mut f, coff + 18, 0x0102);
        let opt = coff + 20;
        put16(&mut f, opt, 0x10b);
        put32(&mut f, opt + 28, 0x40_0000); // image base
        put32(&mut f, opt + 32, 0x1000); // section alignment
        put32(&mut f, opt + 36, 0x200); // file alignment
        put32(&mut f, opt + 56, 0x3000); // size of image
        put32(&mut f, opt + 60, 0x200); // size of headers
        put16(&mut f, opt + 68, 3); // console
        put32(&mut f, opt + 92, 16); // data directories
        let dirs = opt + 96;
        let rsrc_len = 0x60 + resource.len() as u32;
        put32(&mut f, dirs + 2 * 8, 0x1000); // resource directory RVA
        put32(&mut f, dirs + 2 * 8 + 4, rsrc_len);
        let sec = opt + 224;
        f[sec..sec + 5].copy_from_slice(b".rsrc");
        put32(&mut f, sec + 8, rsrc_len); // virtual size
        put32(&mut f, sec + 12, 0x1000); // RVA
        put32(&mut f, sec + 16, rsrc_len.next_multiple_of(0x200)); // raw size
        put32(&mut f, sec + 20, 0x200); // raw offset
        put32(&mut f, sec + 36, 0x4000_0040);
        f.truncate(0x200);
        let mut r = vec![0u8; 0x60];
        // Root: one id entry, RT_VERSION -> table at 0x18.
        put16(&mut r, 14, 1);
        put32(&mut r, 16, 16);
        put32(&mut r, 20, 0x8000_0018);
        // Names: id 1 -> table at 0x30.
        put16(&mut r, 0x18 + 14, 1);
        put32(&mut r, 0x18 + 16, 1);
        put32(&mut r, 0x18 + 20, 0x8000_0030);
        // Languages: 0x409 -> data entry at 0x48.
        put16(&mut r, 0x30 + 14, 1);
        put32(&mut r, 0x30 + 16, 0x409);
        put32(&mut r, 0x30 + 20, 0x48);
        // Data entry: the resource right after the tree.
        put32(&mut r, 0x48, 0x1000 + 0x60);
        put32(&mut r, 0x4c, resource.len() as u32);
        r.extend_from_slice(resource);
        r.resize(r.len().next_multiple_of(0x200), 0);
        f.extend(r);
        f
    }

    fn resource_bytes() -> Vec<u8> {
        let v = info();
        let at = v.offset as usize;
        let len = u16::from_le_bytes([VERSION_EXE[at], VERSION_EXE[at + 1]]) as usize;
        VERSION_EXE[at..at + len].to_vec()
    }

    #[test]
    fn pe32_files_are_read_too() {
        let f = pe32(&resource_bytes());
        let v = read(&f).unwrap().expect("a version resource");
        assert_eq!(v.offset, 0x260);
        assert_eq!(v.fixed, info().fixed);
        assert_eq!(v.string_tables, info().string_tables);
    }

    #[test]
    fn broken_headers_say_what_and_where() {
        let mut f = VERSION_EXE.to_vec();
        f[0] = b'Z';
        let e = read(&f).unwrap_err().to_string();
        assert_eq!(
            e,
            "DOS header signature at 0x0: expected \"MZ\", found 5a 5a"
        );
        let e = read(&VERSION_EXE[..0x30]).unwrap_err().to_string();
        assert_eq!(
            e,
            "DOS header at 0x0 needs 64 bytes, but only 48 are there (the file)"
        );
        let pe_at = u32::from_le_bytes(VERSION_EXE[0x3c..0x40].try_into().unwrap()) as usize;
        let e = read(&VERSION_EXE[..pe_at + 10]).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "PE header (e_lfanew) at {pe_at:#x} needs 26 bytes, but only 10 are there (the file)"
            )
        );
        let mut f = VERSION_EXE.to_vec();
        f[pe_at + 1] = b'X';
        let e = read(&f).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("PE signature at {pe_at:#x}: expected \"PE\\0\\0\", found 50 58 00 00")
        );
        let mut f = VERSION_EXE.to_vec();
        f[pe_at + 24] = 0x07;
        let e = read(&f).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "optional header magic at {:#x}: expected 0x10b (PE32) or 0x20b (PE32+), found 0x207",
                pe_at + 24
            )
        );
    }

    #[test]
    fn a_cut_file_says_where_the_resource_was_expected() {
        let v = info();
        let at = v.offset as usize;
        // The resource directory (the data directory's range) covers the resource itself.
        let e = read(&VERSION_EXE[..at + 100]).unwrap_err().to_string();
        assert!(
            e.starts_with("resource directory at 0x") && e.ends_with("are there (the file)"),
            "{e}"
        );
        // A data entry claiming more than its section holds.
        let mut f = pe32(&resource_bytes());
        f[0x200 + 0x4c..0x200 + 0x50].copy_from_slice(&0x8000u32.to_le_bytes());
        let e = read(&f).unwrap_err().to_string();
        assert_eq!(
            e,
            "version resource at 0x260 needs 32768 bytes, but only 576 are there (its section and \
             the file)"
        );
        // Every prefix of the file is refused or read, never a panic.
        for n in 0..VERSION_EXE.len() {
            let _ = read(&VERSION_EXE[..n]);
        }
    }

    #[test]
    fn damaged_version_blocks_name_the_offset() {
        let v = info();
        let at = v.offset as usize;
        let key = at + 6;
        // The fixed block's signature follows the key (15 characters and a NUL) and padding.
        let fixed_at = (key + 32 + 3) & !3;
        let mut f = VERSION_EXE.to_vec();
        f[fixed_at] ^= 0xff;
        let e = read(&f).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "VS_FIXEDFILEINFO signature at {fixed_at:#x}: expected 0xfeef04bd, found 0xfeef0442"
            )
        );
        let mut f = VERSION_EXE.to_vec();
        f[key] = b'X';
        let e = read(&f).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "VS_VERSIONINFO key at {key:#x}: expected \"VS_VERSION_INFO\", found \"XS_VERSION_INFO\""
            )
        );
        // A root longer than the resource.
        let bytes = resource_bytes();
        let mut r = bytes.clone();
        r[0] = 0xff;
        r[1] = 0xff;
        let e = parse_version_info(&r, 0x1000).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "VS_VERSIONINFO at 0x1000 needs 65535 bytes, but only {} are there (the enclosing block)",
                r.len()
            )
        );
        // A string whose key runs past its block.
        let mut r = bytes.clone();
        let s = find_utf16(&r, "CompanyName").expect("the key") - 6;
        r[s] = 10;
        r[s + 1] = 0;
        let e = parse_version_info(&r, 0).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "String at {:#x}: expected a NUL-terminated UTF-16 key inside the block, found no \
                 NUL before the block's end at {:#x}",
                s + 6,
                s + 10
            )
        );
        // Every single-byte change of the resource is read or refused, never a panic.
        for i in 0..bytes.len() {
            for x in [0x00, 0xff, 0x80, 0x01] {
                let mut r = bytes.clone();
                r[i] = x;
                let _ = parse_version_info(&r, 0);
            }
        }
    }

    fn find_utf16(hay: &[u8], s: &str) -> Option<usize> {
        let needle: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        hay.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn a_huge_resource_directory_is_refused_before_it_is_read() {
        let mut f = pe32(&resource_bytes());
        let dirs = 0x84 + 20 + 96;
        f[dirs + 16 + 4..dirs + 16 + 8].copy_from_slice(&(64u32 << 20).to_le_bytes());
        // The section claims as much, so the directory fits it but not the limit.
        let sec = 0x84 + 20 + 224;
        f[sec + 8..sec + 12].copy_from_slice(&(64u32 << 20).to_le_bytes());
        f[sec + 16..sec + 20].copy_from_slice(&(64u32 << 20).to_le_bytes());
        let e = read(&f).unwrap_err().to_string();
        assert_eq!(
            e,
            "resource directory at 0x200 is 67108864 bytes, more than the 16777216 this reader reads"
        );
    }
}
