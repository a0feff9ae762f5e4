//! A zero-filled device with records `[u32 LE offset][u16 LE length][bytes]` laid over it (later
//! records win), so multi-MiB layouts make small inputs. Shared by the container targets and
//! the fs_btrfs and fs_fat targets.

use std::io;

use imgprep_io::ReadAt;

/// A zero-filled device of `size` bytes with the records written over it.
pub(crate) struct Sparse {
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
        imgprep_testkit::overlay(buf, offset, self.recs.iter().map(|(at, b)| (*at, &b[..])));
        Ok(())
    }
}

/// The device of `size` bytes that the records in `data` describe; records past the end are
/// dropped.
pub(crate) fn records(mut data: &[u8], size: u64) -> Sparse {
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
