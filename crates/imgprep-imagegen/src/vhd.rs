//! A VHD writer following Microsoft's "Virtual Hard Disk Image Format Specification"
//! (October 2006): dynamic and differencing disks with parent locators, since qemu-img cannot
//! write differencing disks. It writes what the specification says and nothing smarter: footer
//! copy at 0, dynamic disk header at 512, BAT, locator data, then blocks (sector bitmap padded to
//! a sector, then data) and the footer.

const SECTOR: usize = 512;

/// One block of a dynamic or differencing disk.
#[derive(Debug, Clone)]
pub struct Block {
    /// Sector bitmap: one flag per sector of the block (set: the sector is in this file).
    pub present: Vec<bool>,
    /// The block's data, `block_size` bytes (sectors not present hold whatever is there).
    pub data: Vec<u8>,
}

/// A parent locator entry: platform code and its raw data.
#[derive(Debug, Clone)]
pub struct Locator {
    pub code: [u8; 4],
    pub data: Vec<u8>,
}

impl Locator {
    /// `W2ru` / `W2ku`: a Windows path in UTF-16LE.
    pub fn windows(code: &[u8; 4], path: &str) -> Self {
        Self {
            code: *code,
            data: path.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        }
    }

    /// `MacX`: a file URL in UTF-8.
    pub fn mac(url: &str) -> Self {
        Self {
            code: *b"MacX",
            data: url.as_bytes().to_vec(),
        }
    }
}

/// The parent fields of a differencing disk's dynamic header.
#[derive(Debug, Clone)]
pub struct Parent {
    /// The parent's unique id (its footer's).
    pub unique_id: [u8; 16],
    /// The parent's file name (UTF-16BE in the header).
    pub name: String,
    pub locators: Vec<Locator>,
}

/// A dynamic (no parent) or differencing (with a parent) VHD.
#[derive(Debug, Clone)]
pub struct Vhd {
    /// Virtual size in bytes, a multiple of 512.
    pub size: u64,
    pub block_size: usize,
    pub unique_id: [u8; 16],
    pub parent: Option<Parent>,
    /// One entry per block; `None` is unallocated (BAT entry 0xFFFFFFFF).
    pub blocks: Vec<Option<Block>>,
}

fn checksum(b: &[u8]) -> u32 {
    !b.iter().fold(0u32, |a, &x| a.wrapping_add(u32::from(x)))
}

fn pad(v: &mut Vec<u8>) {
    v.resize(v.len().div_ceil(SECTOR) * SECTOR, 0);
}

impl Vhd {
    /// An empty disk: every block unallocated.
    pub fn new(size: u64, block_size: usize, unique_id: [u8; 16]) -> Self {
        Self {
            size,
            block_size,
            unique_id,
            parent: None,
            blocks: vec![None; size.div_ceil(block_size as u64) as usize],
        }
    }

    /// Allocates the blocks holding `data` at `offset` (sector-aligned) and marks its sectors
    /// present; sectors of a newly allocated block that are not written hold `filler` and stay
    /// absent.
    pub fn write(&mut self, offset: u64, data: &[u8], filler: u8) {
        assert!((offset as usize).is_multiple_of(SECTOR) && data.len().is_multiple_of(SECTOR));
        let bs = self.block_size;
        for (i, sector) in data.chunks(SECTOR).enumerate() {
            let pos = offset as usize + i * SECTOR;
            let block = self.blocks[pos / bs].get_or_insert_with(|| Block {
                present: vec![false; bs / SECTOR],
                data: vec![filler; bs],
            });
            let within = pos % bs;
            block.data[within..within + SECTOR].copy_from_slice(sector);
            block.present[within / SECTOR] = true;
        }
    }

    /// What the disk reads as over `parent` (its flat bytes; zeros for a dynamic disk).
    pub fn flat(&self, parent: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; self.size as usize];
        let from_parent = self.parent.is_some();
        for (pos, sector) in out.chunks_mut(SECTOR).enumerate() {
            let at = pos * SECTOR;
            let block = &self.blocks[at / self.block_size];
            let within = at % self.block_size;
            match block {
                Some(b) if b.present[within / SECTOR] || !from_parent => {
                    sector.copy_from_slice(&b.data[within..within + SECTOR])
                }
                _ if from_parent && at < parent.len() => {
                    let n = SECTOR.min(parent.len() - at);
                    sector[..n].copy_from_slice(&parent[at..at + n]);
                }
                _ => {}
            }
        }
        out
    }

    /// The image bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let entries = self.blocks.len();
        let bitmap_size = (self.block_size / SECTOR / 8).div_ceil(SECTOR) * SECTOR;
        let bat_at = 1536usize;
        let mut out = vec![0u8; bat_at];
        // BAT, filled in below.
        let bat_len = (entries * 4).div_ceil(SECTOR) * SECTOR;
        out.resize(bat_at + bat_len, 0xff);
        // Locator data.
        let mut locators = Vec::new();
        if let Some(p) = &self.parent {
            for l in &p.locators {
                let at = out.len();
                out.extend_from_slice(&l.data);
                pad(&mut out);
                locators.push((l.code, (out.len() - at) as u32, l.data.len() as u32, at));
            }
        }
        // Blocks.
        for (i, b) in self.blocks.iter().enumerate() {
            let Some(b) = b else { continue };
            let at = out.len();
            let mut bitmap = vec![0u8; bitmap_size];
            for (s, &p) in b.present.iter().enumerate() {
                if p {
                    bitmap[s / 8] |= 0x80 >> (s % 8);
                }
            }
            out.extend_from_slice(&bitmap);
            out.extend_from_slice(&b.data);
            out[bat_at + i * 4..bat_at + i * 4 + 4]
                .copy_from_slice(&((at / SECTOR) as u32).to_be_bytes());
        }
        // Dynamic disk header.
        let mut h = vec![0u8; 1024];
        h[..8].copy_from_slice(b"cxsparse");
        h[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        h[16..24].copy_from_slice(&(bat_at as u64).to_be_bytes());
        h[24..28].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        h[28..32].copy_from_slice(&(entries as u32).to_be_bytes());
        h[32..36].copy_from_slice(&(self.block_size as u32).to_be_bytes());
        if let Some(p) = &self.parent {
            h[40..56].copy_from_slice(&p.unique_id);
            let name: Vec<u8> = p.name.encode_utf16().flat_map(u16::to_be_bytes).collect();
            h[64..64 + name.len().min(512)].copy_from_slice(&name[..name.len().min(512)]);
            for (i, (code, space, len, at)) in locators.iter().enumerate() {
                let e = 576 + i * 24;
                h[e..e + 4].copy_from_slice(code);
                h[e + 4..e + 8].copy_from_slice(&space.to_be_bytes());
                h[e + 8..e + 12].copy_from_slice(&len.to_be_bytes());
                h[e + 16..e + 24].copy_from_slice(&(*at as u64).to_be_bytes());
            }
        }
        let sum = checksum(&h);
        h[36..40].copy_from_slice(&sum.to_be_bytes());
        out[512..1536].copy_from_slice(&h);
        // Footer, at the end and copied at 0.
        let footer = self.footer();
        out[..512].copy_from_slice(&footer);
        out.extend_from_slice(&footer);
        out
    }

    fn footer(&self) -> Vec<u8> {
        let mut f = vec![0u8; 512];
        f[..8].copy_from_slice(b"conectix");
        f[8..12].copy_from_slice(&2u32.to_be_bytes());
        f[12..16].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        f[16..24].copy_from_slice(&512u64.to_be_bytes());
        // "win ": readers take the current size, not the CHS geometry.
        f[28..32].copy_from_slice(b"win ");
        f[32..36].copy_from_slice(&0x000a_0000u32.to_be_bytes());
        f[36..40].copy_from_slice(b"Wi2k");
        f[40..48].copy_from_slice(&self.size.to_be_bytes());
        f[48..56].copy_from_slice(&self.size.to_be_bytes());
        let sectors = (self.size / 512).min(65535 * 16 * 255);
        let (c, h, s) = (sectors / (16 * 63), 16u8, 63u8);
        f[56..58].copy_from_slice(&(c.min(65535) as u16).to_be_bytes());
        f[58] = h;
        f[59] = s;
        let kind = if self.parent.is_some() { 4u32 } else { 3 };
        f[60..64].copy_from_slice(&kind.to_be_bytes());
        f[68..84].copy_from_slice(&self.unique_id);
        let sum = checksum(&f);
        f[64..68].copy_from_slice(&sum.to_be_bytes());
        f
    }
}
