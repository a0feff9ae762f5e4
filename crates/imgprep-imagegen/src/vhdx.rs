//! A VHDX writer following [MS-VHDX]: dynamic and differencing disks with any payload
//! block state, sector bitmaps and a parent locator, and log entries (section 2.3) written into
//! an image's log as a correct writer writes them, without applying them. qemu-img writes
//! neither differencing disks nor logs that need replaying.
//!
//! Layout: file identifier, headers at 64 and 128 KiB, region tables at 192 and 256 KiB, the log
//! at 1 MiB (1 MiB), the metadata region at 2 MiB, the BAT at 3 MiB, then payload and sector
//! bitmap blocks, each 1 MiB-aligned.

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
const LOG_AT: u64 = MIB;
const LOG_LEN: u64 = MIB;
const META_AT: u64 = 2 * MIB;
const BAT_AT: u64 = 3 * MIB;

/// A GUID from its usual spelling's fields, in on-disk byte order.
pub const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// `{xxxxxxxx-…}` for an on-disk GUID, as parent locators spell it.
pub fn guid_text(g: &[u8; 16]) -> String {
    let a = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
    let b = u16::from_le_bytes([g[4], g[5]]);
    let c = u16::from_le_bytes([g[6], g[7]]);
    let d: String = g[8..10].iter().map(|x| format!("{x:02x}")).collect();
    let e: String = g[10..].iter().map(|x| format!("{x:02x}")).collect();
    format!("{{{a:08x}-{b:04x}-{c:04x}-{d}-{e}}}")
}

const BAT_REGION: [u8; 16] = guid(
    0x2dc2_7766,
    0xf623,
    0x4200,
    [0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08],
);
const METADATA_REGION: [u8; 16] = guid(
    0x8b7c_a206,
    0x4790,
    0x4b9a,
    [0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e],
);
pub const FILE_PARAMETERS: [u8; 16] = guid(
    0xcaa1_6737,
    0xfa36,
    0x4d43,
    [0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b],
);
pub const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2fa5_4224,
    0xcd1b,
    0x4876,
    [0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8],
);
const VIRTUAL_DISK_ID: [u8; 16] = guid(
    0xbeca_12ab,
    0xb2e6,
    0x4523,
    [0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46],
);
pub const LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_bf1d,
    0xa96f,
    0x4709,
    [0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f],
);
const PHYSICAL_SECTOR_SIZE: [u8; 16] = guid(
    0xcda3_48c7,
    0x445d,
    0x4471,
    [0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56],
);
pub const PARENT_LOCATOR: [u8; 16] = guid(
    0xa8d3_5f2d,
    0xb30b,
    0x454d,
    [0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c],
);
pub const VHDX_LOCATOR_TYPE: [u8; 16] = guid(
    0xb04a_efb7,
    0xd19e,
    0x4a81,
    [0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13],
);

/// CRC-32C (Castagnoli), bit by bit.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// Recomputes the CRC-32C stored at offset 4 of `b[at..at + len]`.
pub fn fix_crc(b: &mut [u8], at: usize, len: usize) {
    b[at + 4..at + 8].fill(0);
    let c = crc32c(&b[at..at + len]);
    put(b, at + 4, &c.to_le_bytes());
}

/// A payload block's state and contents.
#[derive(Debug, Clone)]
pub enum Payload {
    NotPresent,
    Undefined,
    Zero,
    Unmapped,
    Full(Vec<u8>),
    /// Differencing disks only: `present` has one flag per logical sector of the block.
    Partial {
        present: Vec<bool>,
        data: Vec<u8>,
    },
}

/// A dynamic or differencing VHDX.
#[derive(Debug, Clone)]
pub struct Vhdx {
    pub size: u64,
    pub block_size: u64,
    pub logical_sector: u32,
    pub data_write_guid: [u8; 16],
    /// The parent locator's key/value entries; `Some` makes a differencing disk.
    pub parent: Option<Vec<(String, String)>>,
    pub blocks: Vec<Payload>,
}

impl Vhdx {
    pub fn new(size: u64, block_size: u64, logical_sector: u32, data_write_guid: [u8; 16]) -> Self {
        Self {
            size,
            block_size,
            logical_sector,
            data_write_guid,
            parent: None,
            blocks: vec![Payload::NotPresent; size.div_ceil(block_size) as usize],
        }
    }

    /// Writes `data` at `offset` (logical-sector aligned): a dynamic disk's blocks become fully
    /// present (zero-filled), a differencing disk's partially present with those sectors marked,
    /// other sectors of a new block holding `filler`.
    pub fn write(&mut self, offset: u64, data: &[u8], filler: u8) {
        let ls = self.logical_sector as usize;
        let bs = self.block_size as usize;
        assert!((offset as usize).is_multiple_of(ls) && data.len().is_multiple_of(ls));
        let diff = self.parent.is_some();
        for (i, sector) in data.chunks(ls).enumerate() {
            let pos = offset as usize + i * ls;
            let within = pos % bs;
            let block = &mut self.blocks[pos / bs];
            if matches!(
                block,
                Payload::NotPresent | Payload::Zero | Payload::Undefined | Payload::Unmapped
            ) {
                *block = if diff {
                    Payload::Partial {
                        present: vec![false; bs / ls],
                        data: vec![filler; bs],
                    }
                } else {
                    Payload::Full(vec![0; bs])
                };
            }
            match block {
                Payload::Full(d) => d[within..within + ls].copy_from_slice(sector),
                Payload::Partial { present, data } => {
                    data[within..within + ls].copy_from_slice(sector);
                    present[within / ls] = true;
                }
                _ => unreachable!(),
            }
        }
    }

    /// What the disk reads as over `parent` (its flat bytes).
    pub fn flat(&self, parent: &[u8]) -> Vec<u8> {
        let ls = self.logical_sector as usize;
        let bs = self.block_size as usize;
        let mut out = vec![0u8; self.size as usize];
        for (n, sector) in out.chunks_mut(ls).enumerate() {
            let at = n * ls;
            let within = at % bs;
            let from_parent = |s: &mut [u8]| {
                if at < parent.len() {
                    let n = ls.min(parent.len() - at);
                    s[..n].copy_from_slice(&parent[at..at + n]);
                }
            };
            match &self.blocks[at / bs] {
                Payload::NotPresent if self.parent.is_some() => from_parent(sector),
                Payload::Full(d) => sector.copy_from_slice(&d[within..within + ls]),
                Payload::Partial { present, data } => {
                    if present[within / ls] {
                        sector.copy_from_slice(&data[within..within + ls]);
                    } else {
                        from_parent(sector);
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn chunk_ratio(&self) -> u64 {
        (1u64 << 23) * u64::from(self.logical_sector) / self.block_size
    }

    /// The image bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let cr = self.chunk_ratio();
        let chunks = (self.blocks.len() as u64).div_ceil(cr).max(1);
        let bat_entries = chunks * (cr + 1);
        let bat_len = (bat_entries * 8).div_ceil(MIB) * MIB;
        let mut out = vec![0u8; (BAT_AT + bat_len) as usize];
        // File identifier.
        put(&mut out, 0, b"vhdxfile");
        let creator: Vec<u8> = "imgprep tests"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        put(&mut out, 8, &creator);
        // Headers: the second is current.
        for (at, seq) in [(64 * KIB, 1u64), (128 * KIB, 2)] {
            let h = at as usize;
            put(&mut out, h, b"head");
            put(&mut out, h + 8, &seq.to_le_bytes());
            put(&mut out, h + 16, &[0x11; 16]);
            put(&mut out, h + 32, &self.data_write_guid);
            put(&mut out, h + 66, &1u16.to_le_bytes());
            put(&mut out, h + 68, &(LOG_LEN as u32).to_le_bytes());
            put(&mut out, h + 72, &LOG_AT.to_le_bytes());
            fix_crc(&mut out, h, 4096);
        }
        // Region tables.
        for at in [192 * KIB, 256 * KIB] {
            let t = at as usize;
            put(&mut out, t, b"regi");
            put(&mut out, t + 8, &2u32.to_le_bytes());
            for (i, (id, off, len)) in [
                (BAT_REGION, BAT_AT, bat_len),
                (METADATA_REGION, META_AT, MIB),
            ]
            .into_iter()
            .enumerate()
            {
                let e = t + 16 + i * 32;
                put(&mut out, e, &id);
                put(&mut out, e + 16, &off.to_le_bytes());
                put(&mut out, e + 24, &(len as u32).to_le_bytes());
                put(&mut out, e + 28, &1u32.to_le_bytes());
            }
            fix_crc(&mut out, t, 64 * 1024);
        }
        // Metadata.
        let mut items: Vec<([u8; 16], Vec<u8>, u32)> = Vec::new();
        let mut params = (self.block_size as u32).to_le_bytes().to_vec();
        let flags: u32 = if self.parent.is_some() { 2 } else { 0 };
        params.extend_from_slice(&flags.to_le_bytes());
        items.push((FILE_PARAMETERS, params, 4));
        items.push((VIRTUAL_DISK_SIZE, self.size.to_le_bytes().to_vec(), 6));
        items.push((VIRTUAL_DISK_ID, vec![0x42; 16], 6));
        items.push((
            LOGICAL_SECTOR_SIZE,
            self.logical_sector.to_le_bytes().to_vec(),
            6,
        ));
        items.push((PHYSICAL_SECTOR_SIZE, 4096u32.to_le_bytes().to_vec(), 6));
        if let Some(kv) = &self.parent {
            items.push((PARENT_LOCATOR, parent_locator(&VHDX_LOCATOR_TYPE, kv), 4));
        }
        let m = META_AT as usize;
        put(&mut out, m, b"metadata");
        put(&mut out, m + 10, &(items.len() as u16).to_le_bytes());
        let mut data_at = 64 * 1024usize;
        for (i, (id, data, flags)) in items.iter().enumerate() {
            let e = m + 32 + i * 32;
            put(&mut out, e, id);
            put(&mut out, e + 16, &(data_at as u32).to_le_bytes());
            put(&mut out, e + 20, &(data.len() as u32).to_le_bytes());
            put(&mut out, e + 24, &flags.to_le_bytes());
            put(&mut out, m + data_at, data);
            data_at += data.len().div_ceil(8) * 8;
        }
        // Payload blocks, and the sector bitmap blocks of chunks holding partial blocks.
        let bs = self.block_size as usize;
        let ls = self.logical_sector as usize;
        let mut bitmaps: Vec<Option<Vec<u8>>> = vec![None; chunks as usize];
        for (b, p) in self.blocks.iter().enumerate() {
            let chunk = b as u64 / cr;
            let index = (chunk * (cr + 1) + b as u64 % cr) as usize;
            let (state, data) = match p {
                Payload::NotPresent => (0u64, None),
                Payload::Undefined => (1, None),
                Payload::Zero => (2, None),
                Payload::Unmapped => (3, None),
                Payload::Full(d) => (6, Some(d)),
                Payload::Partial { present, data } => {
                    let map =
                        bitmaps[chunk as usize].get_or_insert_with(|| vec![0u8; MIB as usize]);
                    let first = (b as u64 % cr) as usize * (bs / ls);
                    for (s, &on) in present.iter().enumerate() {
                        if on {
                            map[(first + s) / 8] |= 1 << ((first + s) % 8);
                        }
                    }
                    (7, Some(data))
                }
            };
            let mut entry = state;
            if let Some(d) = data {
                let at = out.len() as u64;
                out.extend_from_slice(d);
                out.resize(out.len().div_ceil(MIB as usize) * MIB as usize, 0);
                entry |= at;
            }
            put(&mut out, BAT_AT as usize + index * 8, &entry.to_le_bytes());
        }
        for (chunk, map) in bitmaps.into_iter().enumerate() {
            let Some(map) = map else { continue };
            let at = out.len() as u64;
            out.extend_from_slice(&map);
            let index = chunk as u64 * (cr + 1) + cr;
            put(
                &mut out,
                (BAT_AT + index * 8) as usize,
                &(at | 6).to_le_bytes(),
            );
        }
        out
    }
}

/// A parent locator item of type `kind` holding `kv` (UTF-16LE keys and values).
pub fn parent_locator(kind: &[u8; 16], kv: &[(String, String)]) -> Vec<u8> {
    let mut b = vec![0u8; 20 + kv.len() * 12];
    put(&mut b, 0, kind);
    put(&mut b, 18, &(kv.len() as u16).to_le_bytes());
    for (i, (k, v)) in kv.iter().enumerate() {
        let key: Vec<u8> = k.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let value: Vec<u8> = v.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let e = 20 + i * 12;
        let key_at = b.len();
        b.extend_from_slice(&key);
        let value_at = b.len();
        b.extend_from_slice(&value);
        put(&mut b, e, &(key_at as u32).to_le_bytes());
        put(&mut b, e + 4, &(value_at as u32).to_le_bytes());
        put(&mut b, e + 8, &(key.len() as u16).to_le_bytes());
        put(&mut b, e + 10, &(value.len() as u16).to_le_bytes());
    }
    b
}

/// The file offsets of an image's BAT and metadata regions (from the first region table).
pub fn regions(img: &[u8]) -> (usize, usize) {
    let t = 192 * 1024;
    let mut bat = 0;
    let mut meta = 0;
    for i in 0..le32(img, t + 8) as usize {
        let e = t + 16 + i * 32;
        let off = le64(img, e + 16) as usize;
        if img[e..e + 16] == BAT_REGION {
            bat = off;
        } else if img[e..e + 16] == METADATA_REGION {
            meta = off;
        }
    }
    (bat, meta)
}

/// The file offset of the data of metadata item `id`.
pub fn item(img: &[u8], meta: usize, id: &[u8; 16]) -> Option<usize> {
    let count = u16::from_le_bytes([img[meta + 10], img[meta + 11]]) as usize;
    (0..count)
        .map(|i| meta + 32 + i * 32)
        .find(|&e| img[e..e + 16] == *id)
        .map(|e| meta + le32(img, e + 16) as usize)
}

/// The current header's offset (the valid one with the higher sequence number; both are valid
/// in the images tests start from), and its log offset and length.
pub fn current_header(img: &[u8]) -> (usize, u64, u64) {
    let (h1, h2) = (64 * 1024usize, 128 * 1024usize);
    let h = if le64(img, h2 + 8) > le64(img, h1 + 8) {
        h2
    } else {
        h1
    };
    (h, le64(img, h + 72), u64::from(le32(img, h + 68)))
}

/// Sets the LogGuid of both headers (so entries of that log must be replayed).
pub fn set_log_guid(img: &mut [u8], g: &[u8; 16]) {
    for h in [64 * 1024usize, 128 * 1024] {
        put(img, h + 48, g);
        fix_crc(img, h, 4096);
    }
}

/// One write a log entry describes.
#[derive(Debug, Clone)]
pub enum LogWrite {
    /// A 4 KiB sector at a 4 KiB-aligned file offset.
    Data { offset: u64, sector: Vec<u8> },
    /// Zeros over a 4 KiB-multiple range.
    Zero { offset: u64, length: u64 },
}

/// A log entry as a writer lays it out (MS-VHDX 2.3.1).
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub guid: [u8; 16],
    pub sequence: u64,
    /// Offset in the log of the first entry of the sequence this entry ends.
    pub tail: u64,
    pub flushed_file_offset: u64,
    pub last_file_offset: u64,
    pub writes: Vec<LogWrite>,
}

impl LogEntry {
    /// The entry's bytes, checksummed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.writes.len() as u64;
        let desc_sectors = (n + 2).div_ceil(128);
        let data: Vec<&LogWrite> = self
            .writes
            .iter()
            .filter(|w| matches!(w, LogWrite::Data { .. }))
            .collect();
        let len = ((desc_sectors + data.len() as u64) * 4096) as usize;
        let mut b = vec![0u8; len];
        put(&mut b, 0, b"loge");
        put(&mut b, 8, &(len as u32).to_le_bytes());
        put(&mut b, 12, &(self.tail as u32).to_le_bytes());
        put(&mut b, 16, &self.sequence.to_le_bytes());
        put(&mut b, 24, &(n as u32).to_le_bytes());
        put(&mut b, 32, &self.guid);
        put(&mut b, 48, &self.flushed_file_offset.to_le_bytes());
        put(&mut b, 56, &self.last_file_offset.to_le_bytes());
        let mut next_data = desc_sectors as usize * 4096;
        for (i, w) in self.writes.iter().enumerate() {
            let d = 64 + i * 32;
            match w {
                LogWrite::Zero { offset, length } => {
                    put(&mut b, d, b"zero");
                    put(&mut b, d + 8, &length.to_le_bytes());
                    put(&mut b, d + 16, &offset.to_le_bytes());
                }
                LogWrite::Data { offset, sector } => {
                    assert_eq!(sector.len(), 4096);
                    put(&mut b, d, b"desc");
                    put(&mut b, d + 4, &sector[4092..]);
                    put(&mut b, d + 8, &sector[..8]);
                    put(&mut b, d + 16, &offset.to_le_bytes());
                    let s = next_data;
                    put(&mut b, s, b"data");
                    put(&mut b, s + 4, &((self.sequence >> 32) as u32).to_le_bytes());
                    put(&mut b, s + 8, &sector[8..4092]);
                    put(&mut b, s + 4092, &(self.sequence as u32).to_le_bytes());
                    next_data += 4096;
                }
            }
            put(&mut b, d + 24, &self.sequence.to_le_bytes());
        }
        fix_crc(&mut b, 0, len);
        b
    }
}

/// Writes `entry` into the log of `img` at offset `at` of the log, wrapping at its end.
pub fn put_log_entry(img: &mut [u8], at: u64, entry: &[u8]) {
    let (_, log_at, log_len) = current_header(img);
    for (i, &byte) in entry.iter().enumerate() {
        let p = (at + i as u64) % log_len;
        img[(log_at + p) as usize] = byte;
    }
}

/// Applies log writes to a copy of `img`, as a replay does (the file grows to `last`).
pub fn apply_log(img: &[u8], writes: &[&LogWrite], last: u64) -> Vec<u8> {
    let mut out = img.to_vec();
    let grow = |out: &mut Vec<u8>, end: u64| {
        if out.len() < end as usize {
            out.resize(end as usize, 0);
        }
    };
    for w in writes {
        match w {
            LogWrite::Data { offset, sector } => {
                grow(&mut out, offset + 4096);
                put(&mut out, *offset as usize, sector);
            }
            LogWrite::Zero { offset, length } => {
                grow(&mut out, offset + length);
                out[*offset as usize..(offset + length) as usize].fill(0);
            }
        }
    }
    grow(&mut out, last);
    out
}
