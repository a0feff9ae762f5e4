//! VHD (Virtual PC, qemu's "vpc"): fixed and dynamic disks, read-only.
//!
//! The virtual size follows qemu's block/vpc.c: images written by Virtual PC or qemu use the CHS
//! geometry of the footer, others (Hyper-V, disk2vhd, XenServer, ...) its current size, and a
//! geometry at its maximum always means the current size. Dynamic disks are read through their
//! block allocation table; like qemu, sector bitmaps are not consulted for reading (an allocated
//! block is read whole), which is right for every disk that is not differencing.

use std::io;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::util::{self, Cache, Tables, check_within, field};
use crate::{Error, Format, Opened};

const F: Format = Format::Vhd;
const FOOTER: usize = 512;
const TYPE_FIXED: u32 = 2;
const TYPE_DYNAMIC: u32 = 3;
const TYPE_DIFFERENCING: u32 = 4;
/// qemu's largest VHD: 2040 GiB.
const MAX_SECTORS: u64 = 0xff00_0000;
const MAX_GEOMETRY: u64 = 65535 * 16 * 255;

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

pub(crate) fn open(file: Arc<dyn ReadAt>, cache: &Arc<Cache>) -> Result<Opened, Error> {
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
    let mut footer = util::read_struct(&*file, F, "footer", 0, FOOTER)?;
    let mut footer_at = 0u64;
    if !footer.starts_with(b"conectix") {
        footer_at = file_size - FOOTER as u64;
        footer = util::read_struct(&*file, F, "footer", footer_at, FOOTER)?;
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
    let disk_type = field::be32(&footer, 60);
    match disk_type {
        TYPE_DIFFERENCING => {
            return Err(Error::unsupported(
                F,
                "differencing disk (footer disk type 4)",
            ));
        }
        TYPE_FIXED if footer_at != 0 => {}
        TYPE_DYNAMIC if footer_at == 0 => {}
        TYPE_FIXED | TYPE_DYNAMIC => {
            return Err(Error::invalid(
                F,
                "footer disk type",
                footer_at + 60,
                if footer_at == 0 {
                    "3 (dynamic) for a footer at the start of the file"
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
        }
    } else {
        let dynamic = open_dynamic(&*file, &footer, size)?;
        Vhd {
            dynamic: Some((dynamic, Tables::new(file.clone(), cache))),
            file,
            size,
        }
    };
    Ok(Opened {
        source: Arc::new(reader),
        size,
        sector_size: 512,
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
    bat_offset: u64,
    entries: u64,
    block_size: u64,
    bitmap_size: u64,
}

fn open_dynamic(file: &dyn ReadAt, footer: &[u8], size: u64) -> Result<Dynamic, Error> {
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
    Ok(Dynamic {
        bat_offset,
        entries,
        block_size,
        bitmap_size: (block_size / (8 * 512)).div_ceil(512) * 512,
    })
}

struct Vhd {
    file: Arc<dyn ReadAt>,
    size: u64,
    dynamic: Option<(Dynamic, Tables)>,
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
            if entry == u32::MAX {
                out.fill(0);
            } else {
                let block_at = u64::from(entry) * 512;
                let at = block_at + d.bitmap_size + within;
                check_within(F, "data block", at, n as u64, self.file.size())?;
                self.file.read_exact_at(at, out)?;
            }
            done += n;
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
