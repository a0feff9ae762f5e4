//! VHD (Virtual PC, qemu's "vpc"): fixed and dynamic disks, read-only.
//!
//! The virtual size follows qemu's block/vpc.c: images written by Virtual PC or qemu use the CHS
//! geometry of the footer, others (Hyper-V, disk2vhd, XenServer, ...) its current size, and a
//! geometry at its maximum always means the current size. Dynamic disks are read through their
//! block allocation table; like qemu, sector bitmaps are not consulted for reading (an allocated
//! block is read whole), which is right for every disk that is not differencing.
//!
//! Differencing disks (disk type 4) find their parent through the parent locators of the dynamic
//! disk header, Windows-relative (`W2ru`) first, then Windows-absolute (`W2ku`), then file URLs
//! (`MacX`), each resolved against the child's directory as libvhd (Xen's blktap) does; absolute
//! Windows paths (`C:\…`) name nothing on this host. The parent must be a VHD whose footer's
//! unique id is the child's parent unique id. A block the BAT does not allocate reads from the
//! parent; in an allocated block, the sector bitmap decides per sector (set: this file, clear:
//! the parent).

use std::io;
use std::path::Path;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::util::{self, Tables, check_within, field};
use crate::{Error, Format, Locator, OpenCtx, Opened, Role};

const F: Format = Format::Vhd;
const FOOTER: usize = 512;
const TYPE_FIXED: u32 = 2;
const TYPE_DYNAMIC: u32 = 3;
const TYPE_DIFFERENCING: u32 = 4;
/// qemu's largest VHD: 2040 GiB.
const MAX_SECTORS: u64 = 0xff00_0000;
const MAX_GEOMETRY: u64 = 65535 * 16 * 255;
/// Parent locators longer than this are not read (a Windows path is at most 32 Ki UTF-16 units).
const MAX_LOCATOR: u64 = 64 << 10;
const LOCATORS_AT: usize = 576;
const LOCATOR_COUNT: usize = 8;

fn checksum(footer: &[u8]) -> u32 {
    let sum = footer
        .iter()
        .enumerate()
        .filter(|(i, _)| !(64..68).contains(i))
        .fold(0u32, |acc, (_, &b)| acc.wrapping_add(u32::from(b)));
    !sum
}

/// A footer at the end of a file that marks it as a fixed VHD (with a valid checksum).
pub(crate) fn is_fixed_footer(tail: &[u8]) -> bool {
    tail.len() == FOOTER
        && tail.starts_with(b"conectix")
        && field::be32(tail, 60) == TYPE_FIXED
        && checksum(tail) == field::be32(tail, 64)
}

pub(crate) fn open(
    file: Arc<dyn ReadAt>,
    path: &Path,
    ctx: &mut OpenCtx<'_>,
) -> Result<Opened, Error> {
    let cache = ctx.cache.clone();
    let (footer, footer_at) = read_footer(&*file)?;
    let disk_type = field::be32(&footer, 60);
    match disk_type {
        TYPE_FIXED if footer_at != 0 => {}
        TYPE_DYNAMIC | TYPE_DIFFERENCING if footer_at == 0 => {}
        TYPE_FIXED | TYPE_DYNAMIC | TYPE_DIFFERENCING => {
            return Err(Error::invalid(
                F,
                "footer disk type",
                footer_at + 60,
                if footer_at == 0 {
                    "3 (dynamic) or 4 (differencing) for a footer at the start of the file"
                } else {
                    "2 (fixed) for a footer only at the end of the file"
                },
                disk_type,
            ));
        }
        t => {
            return Err(Error::invalid(
                F,
                "footer disk type",
                footer_at + 60,
                "2 (fixed), 3 (dynamic) or 4 (differencing)",
                t,
            ));
        }
    }

    let size = virtual_size(&footer, footer_at)?;
    let reader = if disk_type == TYPE_FIXED {
        Vhd {
            file,
            size,
            dynamic: None,
            parent: None,
        }
    } else {
        let (dynamic, header) = open_dynamic(&*file, &footer, size)?;
        let parent = if disk_type == TYPE_DIFFERENCING {
            Some(open_parent(ctx, path, &*file, &header, dynamic.header_at)?)
        } else {
            None
        };
        Vhd {
            dynamic: Some((dynamic, Tables::new(file.clone(), &cache))),
            file,
            size,
            parent,
        }
    };
    Ok(Opened {
        source: Arc::new(reader),
        size,
        sector_size: 512,
    })
}

/// The footer (its copy at offset 0 when there is one, else the one at the end, as qemu reads
/// it), checksum verified, and its offset.
fn read_footer(file: &dyn ReadAt) -> Result<(Vec<u8>, u64), Error> {
    let file_size = file.size();
    if file_size < FOOTER as u64 {
        return Err(Error::PastEof {
            format: F,
            what: "footer",
            offset: 0,
            end: FOOTER as u64,
            file_size,
        });
    }
    // Dynamic disks keep a copy of the footer at offset 0; fixed disks only have it at the end.
    let mut footer = util::read_struct(file, F, "footer", 0, FOOTER)?;
    let mut footer_at = 0u64;
    if !footer.starts_with(b"conectix") {
        footer_at = file_size - FOOTER as u64;
        footer = util::read_struct(file, F, "footer", footer_at, FOOTER)?;
        if !footer.starts_with(b"conectix") {
            return Err(Error::invalid(
                F,
                "footer cookie",
                footer_at,
                "\"conectix\" at offset 0 or at the end of the file",
                format!("{:02x?}", &footer[..8]),
            ));
        }
    }
    let stored = field::be32(&footer, 64);
    let computed = checksum(&footer);
    if stored != computed {
        return Err(Error::Checksum {
            format: F,
            what: "footer",
            offset: footer_at,
            expected: computed,
            found: stored,
        });
    }
    Ok((footer, footer_at))
}

/// A UUID as stored in VHD structures (RFC 4122 byte order), in its usual spelling.
fn uuid(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A parent locator entry's name, decoded.
struct Named {
    kind: Locator,
    name: String,
}

/// The names the parent locators of the dynamic disk header `header` (at `header_at`) give, in
/// the order they are tried: `W2ru`, `W2ku`, then `MacX`, each in table order. Locators that
/// cannot be decoded are described in `tried`.
fn locator_names(
    file: &dyn ReadAt,
    header: &[u8],
    header_at: u64,
    tried: &mut Vec<String>,
) -> Result<Vec<Named>, Error> {
    let mut names = Vec::new();
    for i in 0..LOCATOR_COUNT {
        let e = LOCATORS_AT + i * 24;
        let kind = match header.get(e..e + 4) {
            Some(b"W2ru") => Locator::W2ru,
            Some(b"W2ku") => Locator::W2ku,
            Some(b"MacX") => Locator::MacX,
            _ => continue,
        };
        let len = u64::from(field::be32(header, e + 8));
        let at = field::be64(header, e + 16);
        if len == 0 {
            tried.push(format!("{kind} (empty)"));
            continue;
        }
        if len > MAX_LOCATOR {
            tried.push(format!(
                "{kind} ({len} bytes, longer than the {MAX_LOCATOR} read)"
            ));
            continue;
        }
        check_within(F, "parent locator data", at, len, file.size()).map_err(|_| {
            Error::invalid(
                F,
                "parent locator",
                header_at + e as u64,
                format!("data inside the file of {} bytes", file.size()),
                format!("{len} bytes at {at:#x}"),
            )
        })?;
        let raw = util::read_struct(file, F, "parent locator data", at, len as usize)?;
        let decoded = match kind {
            Locator::MacX => String::from_utf8(raw).ok(),
            _ => {
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                (raw.len() % 2 == 0)
                    .then(|| String::from_utf16(&units).ok())
                    .flatten()
            }
        };
        match decoded.map(|n| n.trim_end_matches('\0').to_owned()) {
            Some(name) if !name.is_empty() => names.push(Named { kind, name }),
            _ => tried.push(format!("{kind} at {at:#x} (not a valid name)")),
        }
    }
    let rank = |k: Locator| match k {
        Locator::W2ru => 0,
        Locator::W2ku => 1,
        _ => 2,
    };
    names.sort_by_key(|n| rank(n.kind));
    Ok(names)
}

/// Opens the parent of the differencing disk at `path` through the first of its locators that
/// leads to a file, and checks the parent's identity.
fn open_parent(
    ctx: &mut OpenCtx<'_>,
    path: &Path,
    file: &dyn ReadAt,
    header: &[u8],
    header_at: u64,
) -> Result<Arc<dyn ReadAt>, Error> {
    let mut tried = Vec::new();
    let names = locator_names(file, header, header_at, &mut tried)?;
    for Named { kind, name } in names {
        let role = Role::ParentLocator(kind);
        if role.host_path(&name).is_none() {
            tried.push(format!("{kind} {name:?} (not a path on this host)"));
            continue;
        }
        let (ppath, src) = match ctx.open_parent_file(path, &name, role) {
            Ok(found) => found,
            Err(Error::BackingOpen {
                source, path: at, ..
            }) if source.kind() == io::ErrorKind::NotFound => {
                tried.push(format!("{kind} {name:?} (no file at {})", at.display()));
                continue;
            }
            Err(e) => return Err(e),
        };
        ctx.expect_parent_format(&*src, &ppath, F)?;
        let opened = ctx.open_parent_layer(src.clone(), &ppath, F)?;
        let want: [u8; 16] = field::bytes(header, 40);
        let (footer, _) = read_footer(&*src).map_err(|e| crate::in_file(&ppath, e))?;
        let found: [u8; 16] = field::bytes(&footer, 68);
        if found != want {
            return Err(Error::ParentMismatch {
                format: F,
                child_field: "parent unique id",
                expected: uuid(&want),
                parent_field: "unique id",
                found: uuid(&found),
                parent: ppath,
            });
        }
        return Ok(opened.source);
    }
    if tried.is_empty() {
        tried.push(format!(
            "the dynamic disk header at {header_at:#x} has no W2ru, W2ku or MacX locator"
        ));
    }
    Err(Error::ParentNotFound {
        format: F,
        tried: tried.join("; "),
    })
}

/// The virtual size as qemu's vpc driver computes it.
fn virtual_size(footer: &[u8], footer_at: u64) -> Result<u64, Error> {
    let cyls = u64::from(field::be16(footer, 56));
    let heads = u64::from(footer[58]);
    let secs = u64::from(footer[59]);
    let chs_sectors = cyls * heads * secs;
    let creator = &footer[28..32];
    let uses_chs = creator == b"vpc " || creator == b"qemu";
    let sectors = if !uses_chs || chs_sectors == MAX_GEOMETRY {
        field::be64(footer, 48) / 512
    } else {
        chs_sectors
    };
    if sectors > MAX_SECTORS {
        return Err(Error::invalid(
            F,
            "disk size",
            footer_at + 48,
            format!("at most {} bytes", MAX_SECTORS * 512),
            sectors * 512,
        ));
    }
    Ok(sectors * 512)
}

#[derive(Debug)]
struct Dynamic {
    header_at: u64,
    bat_offset: u64,
    entries: u64,
    block_size: u64,
    bitmap_size: u64,
}

/// The dynamic disk header's BAT and block geometry, and the header itself.
fn open_dynamic(file: &dyn ReadAt, footer: &[u8], size: u64) -> Result<(Dynamic, Vec<u8>), Error> {
    let header_at = field::be64(footer, 16);
    let header = util::read_struct(file, F, "dynamic disk header", header_at, 1024)?;
    if !header.starts_with(b"cxsparse") {
        return Err(Error::invalid(
            F,
            "dynamic disk header cookie",
            header_at,
            "\"cxsparse\"",
            format!("{:02x?}", &header[..8]),
        ));
    }
    let bat_offset = field::be64(&header, 16);
    let entries = u64::from(field::be32(&header, 28));
    let block_size = u64::from(field::be32(&header, 32));
    if !block_size.is_power_of_two() || block_size < 512 {
        return Err(Error::invalid(
            F,
            "block size",
            header_at + 32,
            "a power of two, at least 512",
            block_size,
        ));
    }
    let needed = size.div_ceil(block_size);
    let limit = MAX_SECTORS * 512 / block_size;
    if entries > limit {
        return Err(Error::TableTooLarge {
            format: F,
            what: "block allocation table",
            offset: bat_offset,
            entries,
            limit,
        });
    }
    if entries < needed {
        return Err(Error::TableTooSmall {
            format: F,
            what: "block allocation table",
            offset: bat_offset,
            entries,
            needed,
        });
    }
    check_within(
        F,
        "block allocation table",
        bat_offset,
        entries * 4,
        file.size(),
    )?;
    let dynamic = Dynamic {
        header_at,
        bat_offset,
        entries,
        block_size,
        bitmap_size: (block_size / (8 * 512)).div_ceil(512) * 512,
    };
    Ok((dynamic, header))
}

struct Vhd {
    file: Arc<dyn ReadAt>,
    size: u64,
    dynamic: Option<(Dynamic, Tables)>,
    /// The parent of a differencing disk.
    parent: Option<Arc<dyn ReadAt>>,
}

impl Vhd {
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        imgprep_io::check_range(offset, buf.len(), self.size)?;
        let Some((d, bat)) = &self.dynamic else {
            // Fixed disks are read straight from the file, zeros past its end, as qemu does.
            util::read_zero_past_eof(&*self.file, offset, buf)?;
            return Ok(());
        };
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos / d.block_size;
            let within = pos % d.block_size;
            let n = ((d.block_size - within) as usize).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            let entry = if block < d.entries {
                bat.be_u32(d.bat_offset + block * 4)?
            } else {
                u32::MAX
            };
            let block_at = u64::from(entry) * 512;
            match (entry, &self.parent) {
                (u32::MAX, parent) => crate::read_backing(parent.as_ref(), pos, out)?,
                (_, None) => {
                    let at = block_at + d.bitmap_size + within;
                    check_within(F, "data block", at, n as u64, self.file.size())?;
                    self.file.read_exact_at(at, out)?;
                }
                (_, Some(parent)) => {
                    self.read_by_bitmap(d, bat, block_at, pos, within, out, parent)?
                }
            }
            done += n;
        }
        Ok(())
    }

    /// Reads `out` at `pos` (`within` its block) from a differencing disk's block at `block_at`:
    /// runs of sectors whose bitmap bit is set from the block, the others from `parent`.
    #[allow(clippy::too_many_arguments)]
    fn read_by_bitmap(
        &self,
        d: &Dynamic,
        bat: &Tables,
        block_at: u64,
        pos: u64,
        within: u64,
        out: &mut [u8],
        parent: &Arc<dyn ReadAt>,
    ) -> Result<(), Error> {
        check_within(
            F,
            "sector bitmap",
            block_at,
            d.bitmap_size,
            self.file.size(),
        )?;
        let present = |sector: u64| -> Result<bool, Error> {
            let mut byte = [0u8; 1];
            bat.read(block_at + sector / 8, &mut byte)?;
            Ok(byte[0] & (0x80 >> (sector % 8)) != 0)
        };
        let mut done = 0usize;
        while done < out.len() {
            let off = within + done as u64;
            let here = present(off / 512)?;
            // Extend the run over following sectors with the same bit.
            let mut end = ((off / 512 + 1) * 512 - within) as usize;
            while end < out.len() && present((within + end as u64) / 512)? == here {
                end += 512;
            }
            let end = end.min(out.len());
            let part = &mut out[done..end];
            if here {
                let at = block_at + d.bitmap_size + off;
                check_within(F, "data block", at, part.len() as u64, self.file.size())?;
                self.file.read_exact_at(at, part)?;
            } else {
                crate::read_backing(Some(parent), pos + done as u64, part)?;
            }
            done = end;
        }
        Ok(())
    }
}

impl ReadAt for Vhd {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read(offset, buf).map_err(Error::into_io)
    }
}
