//! Shared by the container_* fuzz targets: the input format and what is done with a disk.
//!
//! Input: `[u32 LE file size]` then records `[u32 LE offset][u16 LE length][bytes]` laid over a
//! zero-filled file of that size (later records win), so multi-MiB images (VHD blocks, VHDX
//! regions) make small inputs. Files the image names (backing files, VMDK extents) all open as
//! the part of the same file from 1 MiB on.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use imgprep_container::{BackingResolver, Disk, Error, Format, Role};
use imgprep_io::{ReadAt, Slice};

/// Where named files start in the input file.
const SECOND_FILE: u64 = 1 << 20;

pub struct Sparse {
    size: u64,
    recs: Vec<(u64, Vec<u8>)>,
}

impl ReadAt for Sparse {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        imgprep_io::check_range(offset, buf.len(), self.size)?;
        buf.fill(0);
        let end = offset + buf.len() as u64;
        for (at, bytes) in &self.recs {
            let pend = at + bytes.len() as u64;
            if *at < end && pend > offset {
                let (lo, hi) = ((*at).max(offset), pend.min(end));
                buf[(lo - offset) as usize..(hi - offset) as usize]
                    .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
            }
        }
        Ok(())
    }
}

pub fn parse(data: &[u8]) -> Sparse {
    let Some((size, mut data)) = data.split_first_chunk::<4>() else {
        return Sparse {
            size: 0,
            recs: Vec::new(),
        };
    };
    let size = u64::from(u32::from_le_bytes(*size));
    let mut recs = Vec::new();
    while data.len() >= 6 {
        let off = u64::from(u32::from_le_bytes([data[0], data[1], data[2], data[3]]));
        let len = usize::from(u16::from_le_bytes([data[4], data[5]])).min(data.len() - 6);
        if off + len as u64 <= size {
            recs.push((off, data[6..6 + len].to_vec()));
        }
        data = &data[6 + len..];
    }
    Sparse { size, recs }
}

/// Opens every named file as the input from 1 MiB on.
struct Second(Arc<dyn ReadAt>);

impl BackingResolver for Second {
    fn open(&self, _: &Path, name: &str, role: Role) -> Result<(PathBuf, Arc<dyn ReadAt>), Error> {
        let len = self.0.size().saturating_sub(SECOND_FILE);
        match Slice::new(self.0.clone(), SECOND_FILE, len) {
            Ok(s) if len > 0 => Ok((PathBuf::from(name), Arc::new(s))),
            _ => Err(Error::BackingRefused {
                role: if role == Role::BackingFile {
                    "backing file"
                } else {
                    "extent file"
                },
                name: name.to_owned(),
            }),
        }
    }
}

/// Opens the input as `format` and reads a handful of regions.
pub fn run(data: &[u8], format: Format) {
    let src: Arc<dyn ReadAt> = Arc::new(parse(data));
    let _ = imgprep_container::detect(&*src);
    let Ok(disk) = Disk::from_source_as(src.clone(), format, &Second(src)) else {
        return;
    };
    let dev = disk.source();
    let size = dev.size();
    let mut buf = vec![0u8; 64 << 10];
    let starts = [
        0,
        512,
        size / 2,
        size / 3 + 4097,
        size.saturating_sub(buf.len() as u64),
    ];
    for at in starts {
        let n = (buf.len() as u64).min(size.saturating_sub(at)) as usize;
        let _ = dev.read_exact_at(at, &mut buf[..n]);
    }
    // A read that must fail.
    let _ = dev.read_exact_at(size, &mut buf[..1]);
}
