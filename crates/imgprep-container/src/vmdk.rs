//! VMDK, read-only: hosted sparse extents ("KDMV", monolithicSparse and streamOptimized, with
//! the grain directory in the header or in the footer) and descriptor files naming FLAT and
//! SPARSE extents (monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat).
//!
//! Extent lines are read as qemu's block/vmdk.c reads them: a SPARSE extent's size comes from
//! its own header, a FLAT extent reads zeros past the end of its file. Extents qemu would skip or
//! that would need more than this reader has (ZERO, read-only, VMFS and seSparse extents) are
//! refused rather than read differently.
//!
//! A delta disk names its parent in its descriptor (`parentFileNameHint`, in a descriptor file
//! or embedded in a sparse file), found and checked as qemu does: the name relative to the
//! directory of the file naming it, the parent read as a VMDK, its `CID` equal to the child's
//! `parentCID`. Grains the child does not allocate (and does not mark zeroed) read from the
//! parent.

use std::io;
use std::path::Path;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::util::{self, Cache, Tables, check_within, field};
use crate::{Error, Format, OpenCtx, Opened, Role, in_file};

const F: Format = Format::Vmdk;
const GD_AT_END: u64 = u64::MAX;
const FLAG_ZERO_GRAIN: u32 = 1 << 2;
const FLAG_MARKERS: u32 = 1 << 17;
const COMPRESSION_DEFLATE: u16 = 1;
const MARKER_EOS: u32 = 0;
const MARKER_FOOTER: u32 = 3;
/// qemu's limits: grains of at most 1 GiB, grain directories of at most 32 Mi entries, grain
/// tables of at most 512 entries.
const MAX_GRAIN_SECTORS: u64 = 0x20_0000;
const MAX_GD_ENTRIES: u64 = 32 << 20;
const MAX_GTES: u32 = 512;
/// Compressed grains are inflated into memory, so their size is capped lower.
const MAX_COMPRESSED_GRAIN: u64 = 4 << 20;
/// qemu reads at most this much of a descriptor file.
const MAX_DESCRIPTOR: u64 = (1 << 20) - 1;
/// How much of a descriptor qemu searches for `parentFileNameHint`, `CID` and `parentCID`: 20
/// sectors, at offset 0 of a descriptor file or 0x200 of a sparse file (where qemu-img and
/// VMware put the embedded descriptor).
const DESC_SIZE: usize = 20 * 512;
const EMBEDDED_DESC_AT: u64 = 0x200;
/// qemu's longest backing file name (PATH_MAX - 1).
const MAX_PARENT_NAME: usize = 4095;
const MAX_EXTENTS: usize = 4096;

/// Whether `head` (the first bytes of a file) is a VMDK descriptor file, by qemu's rule: only
/// comment lines and blank lines before a `version=1|2|3` line.
pub(crate) fn probe_descriptor(head: &[u8]) -> bool {
    let mut p = 0usize;
    while p < head.len() {
        match head[p] {
            b'#' => {
                while p < head.len() && head[p] != b'\n' {
                    p += 1;
                }
                p += 1;
            }
            b' ' => {
                while p < head.len() && head[p] == b' ' {
                    p += 1;
                }
                if p < head.len() && head[p] == b'\r' {
                    p += 1;
                }
                if p >= head.len() || head[p] != b'\n' {
                    return false;
                }
                p += 1;
            }
            _ => {
                let rest = &head[p..];
                return [b'1', b'2', b'3'].iter().any(|v| {
                    let mut nl = b"version=X\n".to_vec();
                    nl[8] = *v;
                    let mut crnl = b"version=X\r\n".to_vec();
                    crnl[8] = *v;
                    rest.starts_with(&nl) || rest.starts_with(&crnl)
                });
            }
        }
    }
    false
}

pub(crate) fn open(
    file: Arc<dyn ReadAt>,
    path: &Path,
    ctx: &mut OpenCtx<'_>,
) -> Result<Opened, Error> {
    let cache = &ctx.cache.clone();
    let mut magic = [0u8; 4];
    if file.size() >= 4 {
        file.read_exact_at(0, &mut magic)?;
    }
    let (extents, desc_at) = match &magic {
        b"KDMV" => {
            let sparse = Sparse::open(file.clone(), cache)?;
            (vec![Extent::Sparse(sparse)], EMBEDDED_DESC_AT)
        }
        b"COWD" => return Err(Error::unsupported(F, "VMware 3 (COWD) sparse extent")),
        _ => (open_descriptor(&*file, path, ctx)?, 0),
    };
    let desc = descriptor_head(&*file, desc_at)?;
    let parent = match parent_ref(&desc, desc_at)? {
        Some(p) => Some(open_parent(ctx, path, &p)?),
        None => None,
    };
    let mut starts = Vec::with_capacity(extents.len());
    let mut size = 0u64;
    for e in &extents {
        starts.push(size);
        size = size.checked_add(e.size()).ok_or_else(|| {
            Error::invalid(F, "extent sizes", 0, "a total below 2^64 bytes", "more")
        })?;
    }
    Ok(Opened {
        source: Arc::new(Vmdk {
            extents,
            starts,
            size,
            parent,
        }),
        size,
        sector_size: 512,
    })
}

/// The part of a descriptor qemu searches for the parent fields: [`DESC_SIZE`] bytes at `at`
/// (zeros past the end of the file), up to the first NUL.
fn descriptor_head(file: &dyn ReadAt, at: u64) -> Result<Vec<u8>, Error> {
    let mut raw = vec![0u8; DESC_SIZE];
    util::read_zero_past_eof(file, at, &mut raw)?;
    raw[DESC_SIZE - 1] = 0;
    if let Some(nul) = raw.iter().position(|&b| b == 0) {
        raw.truncate(nul);
    }
    Ok(raw)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The 1-based descriptor line holding byte `at` of a descriptor read from offset `desc_at`.
fn line_of(desc: &[u8], at: usize) -> usize {
    desc[..at].iter().filter(|&&b| b == b'\n').count() + 1
}

/// A delta disk's reference to its parent.
#[derive(Debug, PartialEq, Eq)]
struct ParentRef {
    /// `parentFileNameHint`.
    name: String,
    /// `parentCID`.
    parent_cid: u32,
}

/// The parent a descriptor names, read as qemu's vmdk_parent_open does: the first
/// `parentFileNameHint="NAME"` (an empty name names no parent), and `parentCID`.
fn parent_ref(desc: &[u8], desc_at: u64) -> Result<Option<ParentRef>, Error> {
    const KEY: &[u8] = b"parentFileNameHint";
    let Some(at) = find(desc, KEY) else {
        return Ok(None);
    };
    let bad = |detail: String| Error::Descriptor {
        line: line_of(desc, at),
        detail: if desc_at == 0 {
            detail
        } else {
            format!("{detail} (descriptor at {desc_at:#x})")
        },
    };
    let rest = &desc[at + KEY.len()..];
    let Some(rest) = rest.strip_prefix(b"=\"") else {
        return Err(bad(
            "parentFileNameHint: expected parentFileNameHint=\"NAME\"".to_owned(),
        ));
    };
    let Some(end) = rest.iter().position(|&b| b == b'"') else {
        return Err(bad("parentFileNameHint: no closing quote".to_owned()));
    };
    if end > MAX_PARENT_NAME {
        return Err(bad(format!(
            "parentFileNameHint of {end} bytes, more than {MAX_PARENT_NAME}"
        )));
    }
    if end == 0 {
        return Ok(None);
    }
    let name = String::from_utf8(rest[..end].to_vec())
        .map_err(|_| bad("parentFileNameHint is not UTF-8".to_owned()))?;
    let parent_cid = read_cid(desc, b"parentCID")
        .ok_or_else(|| bad("a delta disk needs parentCID=HEX".to_owned()))?;
    Ok(Some(ParentRef { name, parent_cid }))
}

/// A CID as qemu's vmdk_read_cid reads it: after the first occurrence of `key` and one more
/// character (the `=`), a hexadecimal number as sscanf's `%x` reads it.
fn read_cid(desc: &[u8], key: &[u8]) -> Option<u32> {
    let at = find(desc, key)? + key.len() + 1;
    let mut rest = desc.get(at..)?;
    while let [c, tail @ ..] = rest
        && c.is_ascii_whitespace()
    {
        rest = tail;
    }
    let mut negative = false;
    if let [sign @ (b'+' | b'-'), tail @ ..] = rest {
        negative = *sign == b'-';
        rest = tail;
    }
    if let [b'0', b'x' | b'X', d, ..] = rest
        && d.is_ascii_hexdigit()
    {
        rest = &rest[2..];
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let mut v = 0u64;
    for &d in &rest[..digits] {
        let n = u64::from((d as char).to_digit(16).unwrap_or(0));
        v = v
            .checked_mul(16)
            .and_then(|v| v.checked_add(n))
            .unwrap_or(u64::MAX);
    }
    if negative {
        v = v.wrapping_neg();
    }
    Some(v as u32)
}

/// Opens the parent a delta disk at `path` names, as qemu does: read as a VMDK whose `CID` must
/// equal the child's `parentCID`.
fn open_parent(
    ctx: &mut OpenCtx<'_>,
    path: &Path,
    p: &ParentRef,
) -> Result<Arc<dyn ReadAt>, Error> {
    let (ppath, src) = ctx.open_parent_file(path, &p.name, Role::ParentFileNameHint)?;
    ctx.expect_parent_format(&*src, &ppath, F)?;
    let opened = ctx.open_parent_layer(src.clone(), &ppath, F)?;
    let mut magic = [0u8; 4];
    util::read_zero_past_eof(&*src, 0, &mut magic)?;
    let at = if &magic == b"KDMV" {
        EMBEDDED_DESC_AT
    } else {
        0
    };
    let desc = descriptor_head(&*src, at).map_err(|e| in_file(&ppath, e))?;
    let cid = read_cid(&desc, b"CID");
    if cid != Some(p.parent_cid) {
        return Err(Error::ParentMismatch {
            format: F,
            child_field: "parentCID",
            expected: format!("{:08x}", p.parent_cid),
            parent_field: "CID",
            found: cid.map_or_else(|| "(none)".to_owned(), |c| format!("{c:08x}")),
            parent: ppath,
        });
    }
    Ok(opened.source)
}

fn open_descriptor(
    file: &dyn ReadAt,
    path: &Path,
    ctx: &mut OpenCtx<'_>,
) -> Result<Vec<Extent>, Error> {
    let cache = &ctx.cache.clone();
    let len = file.size().min(MAX_DESCRIPTOR) as usize;
    let mut raw = vec![0u8; len];
    file.read_exact_at(0, &mut raw)?;
    if let Some(nul) = raw.iter().position(|&b| b == 0) {
        raw.truncate(nul);
    }
    let text = String::from_utf8_lossy(&raw);
    let create_type = text
        .lines()
        .map(str::trim)
        .find_map(|l| {
            let rest = l.strip_prefix("createType")?.trim_start();
            let value = rest.strip_prefix('=')?.trim();
            Some(value.trim_matches('"').to_owned())
        })
        .ok_or_else(|| Error::Descriptor {
            line: 0,
            detail: "no createType".into(),
        })?;
    match create_type.as_str() {
        "monolithicFlat" | "twoGbMaxExtentSparse" | "twoGbMaxExtentFlat" => {}
        other => {
            return Err(Error::unsupported(F, format!("createType {other:?}")));
        }
    }

    let mut extents = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let Some(ext) = parse_extent_line(line).map_err(|detail| Error::Descriptor {
            line: i + 1,
            detail,
        })?
        else {
            continue;
        };
        if extents.len() >= MAX_EXTENTS {
            return Err(Error::Descriptor {
                line: i + 1,
                detail: format!("more than {MAX_EXTENTS} extents"),
            });
        }
        let (ext_path, src) = ctx.open_named(path, &ext.name, Role::ExtentFile { line: i + 1 })?;
        let wrap = |e: Error| Error::InFile {
            path: ext_path.clone(),
            source: Box::new(e),
        };
        match ext.kind {
            ExtentKind::Flat { offset } => {
                let start = offset.checked_mul(512);
                let len = ext.sectors.checked_mul(512);
                let (Some(start), Some(len)) = (start, len) else {
                    return Err(Error::Descriptor {
                        line: i + 1,
                        detail: "extent offset or size overflows".into(),
                    });
                };
                extents.push(Extent::Flat(Flat {
                    file: src,
                    start,
                    len,
                }));
            }
            ExtentKind::Sparse => {
                let mut magic = [0u8; 4];
                if src.size() >= 4 {
                    src.read_exact_at(0, &mut magic)
                        .map_err(|e| wrap(e.into()))?;
                }
                match &magic {
                    b"KDMV" => {
                        extents.push(Extent::Sparse(Sparse::open(src, cache).map_err(wrap)?))
                    }
                    b"COWD" => {
                        return Err(wrap(Error::unsupported(F, "VMware 3 (COWD) sparse extent")));
                    }
                    m => {
                        return Err(wrap(Error::invalid(
                            F,
                            "sparse extent magic",
                            0,
                            "\"KDMV\"",
                            format!("{m:02x?}"),
                        )));
                    }
                }
            }
        }
    }
    Ok(extents)
}

#[derive(Debug, PartialEq, Eq)]
enum ExtentKind {
    Flat { offset: u64 },
    Sparse,
}

#[derive(Debug, PartialEq, Eq)]
struct ExtentLine {
    sectors: u64,
    kind: ExtentKind,
    name: String,
}

/// Parses one descriptor line as an extent line. `Ok(None)` for lines that are not extents.
fn parse_extent_line(line: &str) -> Result<Option<ExtentLine>, String> {
    let line = line.trim_end_matches('\r');
    let mut rest = line.trim_start();
    let mut token = || {
        let t = rest.split_whitespace().next().unwrap_or("");
        let at = rest.find(t).unwrap_or(0) + t.len();
        rest = rest.get(at..).unwrap_or("").trim_start();
        t
    };
    let access = token();
    if !matches!(access, "RW" | "RDONLY" | "NOACCESS") {
        return Ok(None);
    }
    let Ok(sectors) = token().parse::<i64>() else {
        return Ok(None);
    };
    let kind = token();
    if kind.is_empty() {
        return Ok(None);
    }
    if kind == "ZERO" {
        return Err(format!("ZERO extents are not supported: {line}"));
    }
    let name = rest
        .strip_prefix('"')
        .and_then(|r| r.split_once('"'))
        .filter(|(n, _)| !n.is_empty() && n.len() < 512);
    let Some((name, after)) = name else {
        return Ok(None);
    };
    if access != "RW" {
        return Err(format!("{access} extents are not supported: {line}"));
    }
    let offset = after.split_whitespace().next();
    if sectors <= 0 {
        // qemu skips extents without sectors.
        return Ok(None);
    }
    let sectors = sectors as u64;
    let kind = match (kind, offset) {
        ("FLAT", Some(o)) => match o.parse::<i64>() {
            Ok(o) if o >= 0 => ExtentKind::Flat { offset: o as u64 },
            _ => return Err(format!("invalid extent line: {line}")),
        },
        ("FLAT", None) => return Err(format!("invalid extent line: {line}")),
        ("SPARSE", None) => ExtentKind::Sparse,
        ("SPARSE", Some(_)) => return Err(format!("invalid extent line: {line}")),
        (t @ ("VMFS" | "VMFSSPARSE" | "SESPARSE"), _) => {
            return Err(format!("{t} extents are not supported: {line}"));
        }
        (t, _) => return Err(format!("unknown extent type {t:?}: {line}")),
    };
    Ok(Some(ExtentLine {
        sectors,
        kind,
        name: name.to_owned(),
    }))
}

enum Extent {
    Flat(Flat),
    Sparse(Sparse),
}

impl Extent {
    fn size(&self) -> u64 {
        match self {
            Extent::Flat(f) => f.len,
            Extent::Sparse(s) => s.size,
        }
    }
}

struct Flat {
    file: Arc<dyn ReadAt>,
    start: u64,
    len: u64,
}

struct Sparse {
    file: Arc<dyn ReadAt>,
    tables: Tables,
    size: u64,
    grain: u64,
    gtes: u64,
    gd_offset: u64,
    compressed: bool,
    markers: bool,
    zero_grain: bool,
}

/// The fields of a sparse extent header, read at `at` (0, or the footer's copy).
struct SparseHeader {
    version: u32,
    flags: u32,
    capacity: u64,
    grain: u64,
    desc_offset: u64,
    gtes: u32,
    gd_offset: u64,
    overhead: u64,
    compression: u16,
}

impl SparseHeader {
    /// `b` starts at the magic.
    fn parse(b: &[u8]) -> Self {
        Self {
            version: field::le32(b, 4),
            flags: field::le32(b, 8),
            capacity: field::le64(b, 12),
            grain: field::le64(b, 20),
            desc_offset: field::le64(b, 28),
            gtes: field::le32(b, 44),
            gd_offset: field::le64(b, 56),
            overhead: field::le64(b, 64),
            compression: field::le16(b, 77),
        }
    }
}

impl Sparse {
    /// Opens a sparse extent file (a parent its embedded descriptor names is the caller's).
    fn open(file: Arc<dyn ReadAt>, cache: &Arc<Cache>) -> Result<Sparse, Error> {
        let file_size = file.size();
        let head = util::read_struct(&*file, F, "sparse extent header", 0, 512)?;
        let mut h = SparseHeader::parse(&head);
        if h.capacity == 0 && h.desc_offset != 0 {
            return Err(Error::unsupported(
                F,
                "sparse extent holding a descriptor of other extents (capacity 0)",
            ));
        }
        if h.gd_offset == GD_AT_END {
            // The footer (a copy of the header with the real grain directory offset) sits
            // between a footer marker and the end-of-stream marker in the last 1536 bytes.
            let at = file_size.checked_sub(1536).ok_or(Error::PastEof {
                format: F,
                what: "footer",
                offset: 0,
                end: 1536,
                file_size,
            })?;
            let foot = util::read_struct(&*file, F, "footer", at, 1536)?;
            let ok = &foot[512..516] == b"KDMV"
                && field::le32(&foot, 8) == 0
                && field::le32(&foot, 12) == MARKER_FOOTER
                && field::le64(&foot, 1024) == 0
                && field::le32(&foot, 1032) == 0
                && field::le32(&foot, 1036) == MARKER_EOS;
            if !ok {
                return Err(Error::invalid(
                    F,
                    "footer",
                    at,
                    "footer marker, footer and end-of-stream marker",
                    "something else",
                ));
            }
            h = SparseHeader::parse(&foot[512..]);
            if h.gd_offset == GD_AT_END {
                return Err(Error::invalid(
                    F,
                    "footer gdOffset",
                    at + 512 + 56,
                    "an offset",
                    "GD_AT_END",
                ));
            }
        }
        if h.version > 3 {
            return Err(Error::unsupported(F, format!("VMDK version {}", h.version)));
        }
        if h.gtes > MAX_GTES {
            return Err(Error::TableTooLarge {
                format: F,
                what: "grain table",
                offset: 44,
                entries: h.gtes.into(),
                limit: MAX_GTES.into(),
            });
        }
        if h.gtes == 0 || h.grain == 0 || h.grain > MAX_GRAIN_SECTORS {
            return Err(Error::invalid(
                F,
                "grain size and grain table entries",
                20,
                format!("1..={MAX_GRAIN_SECTORS} sectors and 1..={MAX_GTES} entries"),
                format!("{} sectors and {} entries", h.grain, h.gtes),
            ));
        }
        let compressed = h.compression == COMPRESSION_DEFLATE;
        let grain = h.grain * 512;
        if compressed && grain > MAX_COMPRESSED_GRAIN {
            return Err(Error::unsupported(
                F,
                format!("compressed grains of {grain} bytes (at most {MAX_COMPRESSED_GRAIN})"),
            ));
        }
        let size = h
            .capacity
            .checked_mul(512)
            .ok_or_else(|| Error::invalid(F, "capacity", 12, "below 2^55 sectors", h.capacity))?;
        let gd_entries = h.capacity.div_ceil(u64::from(h.gtes) * h.grain);
        if gd_entries > MAX_GD_ENTRIES {
            return Err(Error::TableTooLarge {
                format: F,
                what: "grain directory",
                offset: h.gd_offset.saturating_mul(512),
                entries: gd_entries,
                limit: MAX_GD_ENTRIES,
            });
        }
        if h.overhead > file_size / 512 {
            return Err(Error::PastEof {
                format: F,
                what: "grain data start (overHead)",
                offset: 64,
                end: h.overhead.saturating_mul(512),
                file_size,
            });
        }
        let gd_offset = h
            .gd_offset
            .checked_mul(512)
            .ok_or_else(|| Error::invalid(F, "gdOffset", 56, "below 2^55 sectors", h.gd_offset))?;
        check_within(F, "grain directory", gd_offset, gd_entries * 4, file_size)?;
        Ok(Sparse {
            tables: Tables::new(file.clone(), cache),
            file,
            size,
            grain,
            gtes: h.gtes.into(),
            gd_offset,
            compressed,
            markers: h.flags & FLAG_MARKERS != 0,
            zero_grain: h.flags & FLAG_ZERO_GRAIN != 0,
        })
    }

    /// Where the grain holding `offset` is.
    fn grain_sector(&self, offset: u64) -> Result<Grain, Error> {
        let index = offset / self.grain;
        let gd_index = index / self.gtes;
        let gt_index = index % self.gtes;
        let gt = u64::from(self.tables.le_u32(self.gd_offset + gd_index * 4)?);
        if gt == 0 {
            return Ok(Grain::Unallocated);
        }
        let gt_at = gt * 512;
        check_within(F, "grain table", gt_at, self.gtes * 4, self.file.size())?;
        let gte = self.tables.le_u32(gt_at + gt_index * 4)?;
        Ok(match gte {
            0 => Grain::Unallocated,
            1 if self.zero_grain => Grain::Zeroed,
            s => Grain::At(u64::from(s)),
        })
    }

    fn inflate_grain(&self, sector: u64) -> Result<Arc<Vec<u8>>, Error> {
        if let Some(g) = self.tables.inflated(sector) {
            return Ok(g);
        }
        let at = sector * 512;
        let file_size = self.file.size();
        if at >= file_size {
            return Err(Error::PastEof {
                format: F,
                what: "compressed grain",
                offset: at,
                end: at.saturating_add(12),
                file_size,
            });
        }
        let (data_at, data_len) = if self.markers {
            let mut m = [0u8; 12];
            util::read_zero_past_eof(&*self.file, at, &mut m)?;
            (at + 12, u64::from(field::le32(&m, 8)))
        } else {
            (at, self.grain)
        };
        if data_len == 0 || data_len > 2 * self.grain {
            return Err(Error::Decompress {
                format: F,
                what: "grain",
                offset: at,
                detail: format!(
                    "grain marker size {data_len}, expected 1..={}",
                    2 * self.grain
                ),
            });
        }
        let mut input = vec![0u8; data_len as usize];
        util::read_zero_past_eof(&*self.file, data_at, &mut input)?;
        let decompress_err = |detail| Error::Decompress {
            format: F,
            what: "grain",
            offset: at,
            detail,
        };
        let (mut out, produced, ended) =
            util::inflate(&input, self.grain as usize, true).map_err(decompress_err)?;
        if !ended {
            return Err(decompress_err(format!(
                "zlib stream does not end within {} bytes of output",
                self.grain
            )));
        }
        out.truncate(produced);
        let out = Arc::new(out);
        self.tables.keep_inflated(sector, out.clone());
        Ok(out)
    }

    /// Reads `buf` at `offset` of this extent, which starts at `disk_offset` of the disk:
    /// grains not allocated here read from `parent` (zeros without one).
    fn read(
        &self,
        offset: u64,
        buf: &mut [u8],
        parent: Option<&Arc<dyn ReadAt>>,
        disk_offset: u64,
    ) -> Result<(), Error> {
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let within = pos % self.grain;
            let n = ((self.grain - within) as usize).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            match self.grain_sector(pos)? {
                Grain::Unallocated => crate::read_backing(parent, disk_offset + pos, out)?,
                Grain::Zeroed => out.fill(0),
                Grain::At(sector) if self.compressed => {
                    let g = self.inflate_grain(sector)?;
                    let src = g.get(within as usize..within as usize + n).ok_or_else(|| {
                        Error::Decompress {
                            format: F,
                            what: "grain",
                            offset: sector * 512,
                            detail: format!(
                                "inflated to {} bytes, the read needs {}",
                                g.len(),
                                within as usize + n
                            ),
                        }
                    })?;
                    out.copy_from_slice(src);
                }
                Grain::At(sector) => {
                    let at = sector * 512 + within;
                    check_within(F, "grain", at, n as u64, self.file.size())?;
                    self.file.read_exact_at(at, out)?;
                }
            }
            done += n;
        }
        Ok(())
    }
}

/// Where a grain's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    /// Not in this file: the parent's bytes (zeros without a parent).
    Unallocated,
    /// A zeroed grain (grain table entry 1 with the zeroed-grain flag).
    Zeroed,
    /// At this sector of the extent file.
    At(u64),
}

struct Vmdk {
    extents: Vec<Extent>,
    starts: Vec<u64>,
    size: u64,
    /// The parent of a delta disk.
    parent: Option<Arc<dyn ReadAt>>,
}

impl Vmdk {
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        imgprep_io::check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let i = self.starts.partition_point(|&s| s <= pos).saturating_sub(1);
            let (Some(extent), Some(&start)) = (self.extents.get(i), self.starts.get(i)) else {
                return Err(Error::invalid(F, "extent map", pos, "an extent", "none"));
            };
            let rel = pos - start;
            let n = (extent.size().saturating_sub(rel) as usize).min(buf.len() - done);
            if n == 0 {
                return Err(Error::invalid(F, "extent map", pos, "an extent", "none"));
            }
            let out = &mut buf[done..done + n];
            match extent {
                Extent::Flat(f) => {
                    let at = f.start.checked_add(rel).ok_or_else(|| {
                        Error::invalid(F, "flat extent offset", f.start, "below 2^64", "more")
                    })?;
                    util::read_zero_past_eof(&*f.file, at, out)?;
                }
                Extent::Sparse(s) => s.read(rel, out, self.parent.as_ref(), start)?,
            }
            done += n;
        }
        Ok(())
    }
}

impl ReadAt for Vmdk {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read(offset, buf).map_err(Error::into_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extent_lines_parse_like_qemu() {
        let flat = |sectors, offset, name: &str| ExtentLine {
            sectors,
            kind: ExtentKind::Flat { offset },
            name: name.into(),
        };
        let cases: &[(&str, Result<Option<ExtentLine>, &str>)] = &[
            (
                "RW 6152 FLAT \"a-flat.vmdk\" 0",
                Ok(Some(flat(6152, 0, "a-flat.vmdk"))),
            ),
            (
                "RW 8 SPARSE \"a b.vmdk\"\r",
                Ok(Some(ExtentLine {
                    sectors: 8,
                    kind: ExtentKind::Sparse,
                    name: "a b.vmdk".into(),
                })),
            ),
            ("# Extent description", Ok(None)),
            ("ddb.adapterType = \"ide\"", Ok(None)),
            ("RW 0 FLAT \"x\" 0", Ok(None)),
            ("RW 8 FLAT \"x\"", Err("invalid extent line")),
            ("RW 8 ZERO", Err("ZERO extents")),
            ("RDONLY 8 SPARSE \"x\"", Err("RDONLY extents")),
            ("RW 8 VMFS \"x\"", Err("VMFS extents")),
            ("RW 8 WEIRD \"x\"", Err("unknown extent type")),
        ];
        for (line, want) in cases {
            let got = parse_extent_line(line);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{line}"),
                (Err(frag), Err(e)) => assert!(e.contains(frag), "{line}: {e}"),
                _ => panic!("{line}: got {got:?}"),
            }
        }
    }

    #[test]
    fn parent_fields_are_read_as_qemu_reads_them() {
        /// The parent name and parentCID, or a fragment of the error.
        type Want = Result<Option<(&'static str, u32)>, &'static str>;
        let cases: &[(&str, Want)] = &[
            (
                "CID=1\nparentCID=2a5c827a\nparentFileNameHint=\"base.vmdk\"\n",
                Ok(Some(("base.vmdk", 0x2a5c_827a))),
            ),
            ("parentCID=ffffffff\n", Ok(None)),
            ("parentCID=1\nparentFileNameHint=\"\"\n", Ok(None)),
            // sscanf's %x: leading blanks, an optional 0x, digits up to the first other byte.
            (
                "parentCID=  0X1fz\nparentFileNameHint=\"a b\"",
                Ok(Some(("a b", 0x1f))),
            ),
            // The first "parentCID" wins, wherever it is (qemu's strstr).
            (
                "# parentCID=7 old\nparentCID=8\nparentFileNameHint=\"p\"",
                Ok(Some(("p", 7))),
            ),
            ("parentFileNameHint=\"p\"\n", Err("needs parentCID")),
            (
                "parentCID=zz\nparentFileNameHint=\"p\"",
                Err("needs parentCID"),
            ),
            (
                "parentCID=1\nparentFileNameHint = \"p\"",
                Err("expected parentFileNameHint"),
            ),
            (
                "parentCID=1\nparentFileNameHint=\"p",
                Err("no closing quote"),
            ),
        ];
        for (text, want) in cases {
            let got = parent_ref(text.as_bytes(), 0)
                .map(|p| p.map(|p| (p.name, p.parent_cid)))
                .map_err(|e| e.to_string());
            match (want, &got) {
                (Ok(w), Ok(g)) => {
                    assert_eq!(w.map(|(n, c)| (n.to_owned(), c)), *g, "{text:?}")
                }
                (Err(frag), Err(e)) => assert!(e.contains(frag), "{text:?}: {e}"),
                _ => panic!("{text:?}: got {got:?}"),
            }
        }
        assert_eq!(read_cid(b"CID=fffffffffff\n", b"CID"), Some(u32::MAX));
        assert_eq!(read_cid(b"CID=-1\n", b"CID"), Some(u32::MAX));
        assert_eq!(read_cid(b"CID=", b"CID"), None);
    }

    #[test]
    fn descriptor_probe_follows_qemu() {
        assert!(probe_descriptor(b"# Disk DescriptorFile\nversion=1\n"));
        assert!(probe_descriptor(b"  \r\nversion=3\r\n"));
        assert!(!probe_descriptor(b"version=4\n"));
        assert!(!probe_descriptor(b"hello\nversion=1\n"));
        assert!(!probe_descriptor(b"# only a comment"));
    }
}
