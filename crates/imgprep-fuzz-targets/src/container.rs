//! The container targets: open the input as one image format and read a handful of regions.
//!
//! Input: `[u32 LE file size]` then records `[u32 LE offset][u16 LE length][bytes]` laid over a
//! zero-filled file of that size (later records win), so multi-MiB images (VHD blocks, VHDX
//! regions) make small inputs. Files the image names (backing files, VMDK extents, the parents of
//! VMDK, VHD and VHDX differencing disks) all open as the part of the same file from 1 MiB on
//! (16 MiB for VHDX, whose smallest layout is larger), each name as a file of its own, so chains
//! reach loops (a name seen twice) and the depth limit. Seeds: `fuzz/seeds/container.sh`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imgprep_container::{BackingResolver, Disk, Error, Format, Role};
use imgprep_io::{ReadAt, Slice};

use crate::sparse::{Sparse, records};

/// Where named files start in the input file.
fn second_file(format: Format) -> u64 {
    match format {
        Format::Vhdx => 16 << 20,
        _ => 1 << 20,
    }
}

fn parse(data: &[u8]) -> Sparse {
    match data.split_first_chunk::<4>() {
        Some((size, rest)) => records(rest, u64::from(u32::from_le_bytes(*size))),
        None => records(&[], 0),
    }
}

/// Opens every named file as the input from `at` on.
struct Second {
    input: Arc<dyn ReadAt>,
    at: u64,
}

impl BackingResolver for Second {
    fn open(&self, _: &Path, name: &str, role: Role) -> Result<(PathBuf, Arc<dyn ReadAt>), Error> {
        let len = self.input.size().saturating_sub(self.at);
        match Slice::new(self.input.clone(), self.at, len) {
            Ok(s) if len > 0 => Ok((PathBuf::from(name), Arc::new(s))),
            _ => Err(Error::BackingRefused {
                role,
                name: name.to_owned(),
            }),
        }
    }
}

/// Opens the input as `format` and reads a handful of regions.
fn run(data: &[u8], format: Format) {
    let src: Arc<dyn ReadAt> = Arc::new(parse(data));
    let _ = imgprep_container::detect(&*src);
    let second = Second {
        input: src.clone(),
        at: second_file(format),
    };
    let Ok(disk) = Disk::from_source_as(src, format, &second) else {
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

/// qcow2 (v2, v3, compressed clusters, a backing file), opened and read.
pub fn container_qcow2(data: &[u8]) {
    run(data, Format::Qcow2);
}

/// VMDK (sparse, streamOptimized, descriptor + extents), opened and read.
pub fn container_vmdk(data: &[u8]) {
    run(data, Format::Vmdk);
}

/// VHD (fixed, dynamic), opened and read.
pub fn container_vhd(data: &[u8]) {
    run(data, Format::Vhd);
}

/// VHDX, opened and read.
pub fn container_vhdx(data: &[u8]) {
    run(data, Format::Vhdx);
}
