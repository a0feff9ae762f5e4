//! LUKS header detection: enough to say a device is encrypted and give its UUID.

use imgprep_io::{ReadAt, be};

use crate::Error;

const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";

/// What a LUKS header says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuksHeader {
    /// 1 or 2.
    pub version: u16,
    /// The UUID as `cryptsetup luksUUID` and blkid print it.
    pub uuid: String,
}

/// Reads the LUKS1/LUKS2 header at the start of `dev`. `Ok(None)` when there is no LUKS magic.
pub fn probe(dev: &dyn ReadAt) -> Result<Option<LuksHeader>, Error> {
    // magic[6] version(be16) ... uuid[40] at 168 in both versions.
    let mut h = [0u8; 208];
    if dev.size() < h.len() as u64 {
        return Ok(None);
    }
    dev.read_exact_at(0, &mut h)
        .map_err(|e| Error::read("LUKS header", 0, e))?;
    if &h[..6] != MAGIC {
        return Ok(None);
    }
    let version = be::u16(&h, 6);
    if version != 1 && version != 2 {
        return Err(Error::field("LUKS header", 0, "version", "1 or 2", version));
    }
    let raw = &h[168..208];
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let uuid = String::from_utf8_lossy(&raw[..end]).into_owned();
    Ok(Some(LuksHeader { version, uuid }))
}
