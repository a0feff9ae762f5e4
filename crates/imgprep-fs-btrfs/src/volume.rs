//! The device: superblock, chunk map (logical to physical) and validated tree blocks.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use imgprep_io::{ReadAt, le};

use crate::crc;
use crate::error::{Error, Key, Result};

/// Byte offset of the primary superblock.
pub(crate) const SUPER_OFFSET: u64 = 0x10000;
const SUPER_SIZE: usize = 4096;
const MAGIC: &[u8; 8] = b"_BHRfS_M";

/// Size of a tree block header.
pub(crate) const HEADER: usize = 0x65;
const LEAF_ITEM: usize = 25;
const KEY_PTR: usize = 33;
/// btrfs trees have at most 8 levels (0..=7).
pub(crate) const MAX_LEVEL: u8 = 7;

pub(crate) const ROOT_TREE: u64 = 1;
pub(crate) const CHUNK_TREE: u64 = 3;
pub(crate) const CHUNK_ITEM: u8 = 228;

/// Nodes kept in the cache before it is emptied.
const CACHE_NODES: usize = 1024;
/// Chunks accepted from the chunk tree.
const MAX_CHUNKS: usize = 1 << 20;
/// Tree blocks one walk may visit.
const MAX_WALK_NODES: u64 = 1 << 21;

const INCOMPAT_METADATA_UUID: u64 = 0x400;
/// Incompat features whose on-disk format this reader understands.
const INCOMPAT_KNOWN: &[(u64, &str)] = &[
    (0x1, "mixed_backref"),
    (0x2, "default_subvol"),
    (0x4, "mixed_groups"),
    (0x8, "compress_lzo"),
    (0x10, "compress_zstd"),
    (0x20, "big_metadata"),
    (0x40, "extended_iref"),
    (0x80, "raid56"),
    (0x100, "skinny_metadata"),
    (0x200, "no_holes"),
    (0x400, "metadata_uuid"),
    (0x800, "raid1c34"),
    (0x10000, "simple_quota"),
];
const INCOMPAT_UNSUPPORTED: &[(u64, &str)] = &[
    (0x1000, "zoned"),
    (0x2000, "extent_tree_v2"),
    (0x4000, "raid_stripe_tree"),
];

/// What the reader uses from the primary superblock.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub(crate) fsid: [u8; 16],
    /// The UUID tree blocks carry (the fsid unless the metadata_uuid feature is on).
    pub(crate) metadata_uuid: [u8; 16],
    pub(crate) root: u64,
    pub(crate) root_level: u8,
    pub(crate) chunk_root: u64,
    pub(crate) chunk_root_level: u8,
    pub(crate) root_dir_objectid: u64,
    /// Generation of the last committed transaction.
    pub(crate) generation: u64,
    /// Root of the log root tree (0 when no fsync happened since the last commit), and its
    /// level.
    pub(crate) log_root: u64,
    pub(crate) log_root_level: u8,
    /// Holes are not recorded as file extent items (`no_holes`).
    pub(crate) no_holes: bool,
    pub(crate) sectorsize: u32,
    pub(crate) nodesize: u32,
    pub(crate) devid: u64,
    pub(crate) label: String,
    sys_chunk_array: Vec<u8>,
}

fn escape(b: &[u8]) -> String {
    b.iter()
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect()
}

fn uuid16(b: &[u8], off: usize) -> [u8; 16] {
    let mut u = [0u8; 16];
    u.copy_from_slice(&b[off..off + 16]);
    u
}

impl Superblock {
    /// Reads and checks the primary superblock (its checksum only when `verify`).
    pub(crate) fn read(dev: &dyn ReadAt, verify: bool) -> Result<Superblock> {
        let mut b = vec![0u8; SUPER_SIZE];
        dev.read_exact_at(SUPER_OFFSET, &mut b)?;
        Self::parse(&b, verify)
    }

    fn parse(b: &[u8], verify: bool) -> Result<Superblock> {
        let off = SUPER_OFFSET;
        if &b[0x40..0x48] != MAGIC {
            return Err(Error::BadMagic {
                offset: off,
                found: escape(&b[0x40..0x48]),
            });
        }
        let bad = |field: &'static str, expected: &str, found: String| Error::BadSuperblock {
            offset: off,
            field,
            expected: expected.to_string(),
            found,
        };
        let csum_type = le::u16(b, 0xc4);
        if csum_type != 0 {
            let name = match csum_type {
                1 => "xxhash64",
                2 => "sha256",
                3 => "blake2b",
                _ => "unknown",
            };
            return Err(Error::Unsupported {
                what: format!("checksum type {csum_type} ({name})"),
            });
        }
        let stored = le::u32(b, 0);
        let computed = crc::checksum(&b[0x20..]);
        if stored != computed && verify {
            return Err(Error::SuperblockChecksum {
                offset: off,
                expected: computed,
                found: stored,
            });
        }
        let bytenr = le::u64(b, 0x30);
        if bytenr != off {
            return Err(bad("bytenr", &format!("{off:#x}"), format!("{bytenr:#x}")));
        }
        let incompat = le::u64(b, 0xbc);
        for &(bit, name) in INCOMPAT_UNSUPPORTED {
            if incompat & bit != 0 {
                return Err(Error::Unsupported {
                    what: format!("incompat feature {name}"),
                });
            }
        }
        let known = INCOMPAT_KNOWN.iter().fold(0, |m, &(bit, _)| m | bit);
        if incompat & !known != 0 {
            return Err(Error::Unsupported {
                what: format!("unknown incompat feature bits {:#x}", incompat & !known),
            });
        }
        let num_devices = le::u64(b, 0x88);
        if num_devices != 1 {
            return Err(Error::Unsupported {
                what: format!("multi-device btrfs ({num_devices} devices)"),
            });
        }
        let sectorsize = le::u32(b, 0x90);
        if !sectorsize.is_power_of_two() || !(4096..=65536).contains(&sectorsize) {
            return Err(bad(
                "sectorsize",
                "a power of two in 4096..=65536",
                sectorsize.to_string(),
            ));
        }
        let nodesize = le::u32(b, 0x94);
        if !nodesize.is_power_of_two()
            || !(4096..=65536).contains(&nodesize)
            || nodesize < sectorsize
        {
            return Err(bad(
                "nodesize",
                "a power of two in sectorsize..=65536",
                nodesize.to_string(),
            ));
        }
        let sys_len = le::u32(b, 0xa0) as usize;
        if sys_len > 2048 {
            return Err(bad(
                "sys_chunk_array_size",
                "at most 2048",
                sys_len.to_string(),
            ));
        }
        let root_level = b[0xc6];
        let chunk_root_level = b[0xc7];
        let log_root_level = b[0xc8];
        for (field, level) in [
            ("root_level", root_level),
            ("chunk_root_level", chunk_root_level),
            ("log_root_level", log_root_level),
        ] {
            if level > MAX_LEVEL {
                return Err(bad(field, "at most 7", level.to_string()));
            }
        }
        let fsid = uuid16(b, 0x20);
        let metadata_uuid = if incompat & INCOMPAT_METADATA_UUID != 0 {
            uuid16(b, 0x23b)
        } else {
            fsid
        };
        let label_raw = &b[0x12b..0x22b];
        let label_len = label_raw
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(label_raw.len());
        Ok(Superblock {
            fsid,
            metadata_uuid,
            root: le::u64(b, 0x50),
            root_level,
            chunk_root: le::u64(b, 0x58),
            chunk_root_level,
            root_dir_objectid: le::u64(b, 0x80),
            generation: le::u64(b, 0x48),
            log_root: le::u64(b, 0x60),
            log_root_level,
            no_holes: incompat & 0x200 != 0,
            sectorsize,
            nodesize,
            devid: le::u64(b, 0xc9),
            label: String::from_utf8_lossy(&label_raw[..label_len]).into_owned(),
            sys_chunk_array: b[0x32b..0x32b + sys_len].to_vec(),
        })
    }
}

/// One chunk: a logical range and where its copies lie on the device.
#[derive(Debug, Clone)]
struct Chunk {
    length: u64,
    /// Device offsets of the copies (one for SINGLE, two for DUP).
    copies: Vec<u64>,
}

/// Logical-to-physical mapping of a single-device filesystem.
#[derive(Debug, Default)]
pub(crate) struct ChunkMap {
    chunks: BTreeMap<u64, Chunk>,
}

/// Block group profile bits of a chunk's type.
const PROFILES: &[(u64, &str)] = &[
    (0x8, "RAID0"),
    (0x10, "RAID1"),
    (0x20, "DUP"),
    (0x40, "RAID10"),
    (0x80, "RAID5"),
    (0x100, "RAID6"),
    (0x200, "RAID1C3"),
    (0x400, "RAID1C4"),
];

impl ChunkMap {
    /// Adds the chunk item at `data` (a `btrfs_chunk` with its stripes) for logical `logical`.
    fn add(&mut self, logical: u64, data: &[u8], devid: u64, dev_size: u64) -> Result<()> {
        let bad = |what: &'static str, expected: String, found: String| Error::BadChunk {
            logical,
            what,
            expected,
            found,
        };
        if data.len() < 48 + 32 {
            return Err(bad(
                "item size",
                "at least 80 bytes".into(),
                data.len().to_string(),
            ));
        }
        let length = le::u64(data, 0);
        let kind = le::u64(data, 24);
        let num_stripes = usize::from(le::u16(data, 44));
        let need = 48 + 32 * num_stripes;
        if num_stripes == 0 || data.len() < need {
            return Err(bad(
                "stripe count",
                format!("at least 1 stripe, in {} bytes", data.len()),
                format!("{num_stripes} stripes ({need} bytes)"),
            ));
        }
        if length == 0 || logical.checked_add(length).is_none() {
            return Err(bad(
                "length",
                "non-zero, ending below 2^64".into(),
                format!("{length:#x}"),
            ));
        }
        let profile = PROFILES.iter().fold(0, |m, &(bit, _)| m | bit) & kind;
        let wanted = match profile {
            0 => 1,
            0x20 => 2,
            _ => {
                let names: Vec<&str> = PROFILES
                    .iter()
                    .filter(|&&(bit, _)| kind & bit != 0)
                    .map(|&(_, n)| n)
                    .collect();
                return Err(Error::Unsupported {
                    what: format!(
                        "{} block group profile (chunk at logical {logical:#x})",
                        names.join("|")
                    ),
                });
            }
        };
        if num_stripes != wanted {
            return Err(bad(
                "stripe count",
                format!("{wanted} for this profile"),
                num_stripes.to_string(),
            ));
        }
        let mut copies = Vec::with_capacity(num_stripes);
        for i in 0..num_stripes {
            let s = 48 + 32 * i;
            let stripe_dev = le::u64(data, s);
            let physical = le::u64(data, s + 8);
            if stripe_dev != devid {
                return Err(bad(
                    "stripe device id",
                    format!("{devid} (this device)"),
                    stripe_dev.to_string(),
                ));
            }
            match physical.checked_add(length) {
                Some(end) if end <= dev_size => {}
                _ => {
                    return Err(bad(
                        "stripe range on the device",
                        format!("within the device size {dev_size:#x}"),
                        format!("{physical:#x}+{length:#x}"),
                    ));
                }
            }
            copies.push(physical);
        }
        // Chunks must not overlap their neighbours.
        if let Some((&prev, c)) = self.chunks.range(..=logical).next_back() {
            if prev == logical {
                return Ok(()); // The sys_chunk_array copy of a chunk the tree lists again.
            }
            if prev + c.length > logical {
                return Err(bad(
                    "start",
                    format!(
                        "at or after {:#x}, the end of the previous chunk",
                        prev + c.length
                    ),
                    format!("{logical:#x}"),
                ));
            }
        }
        if let Some((&next, _)) = self.chunks.range(logical..).next()
            && logical + length > next
        {
            return Err(bad(
                "end",
                format!("at or before {next:#x}, the start of the next chunk"),
                format!("{:#x}", logical + length),
            ));
        }
        if self.chunks.len() >= MAX_CHUNKS {
            return Err(Error::Limit {
                what: "number of chunks".into(),
                limit: MAX_CHUNKS as u64,
            });
        }
        self.chunks.insert(logical, Chunk { length, copies });
        Ok(())
    }

    /// Device offsets of every copy of `logical..logical + len`, which must lie in one chunk.
    fn map(&self, logical: u64, len: u64) -> Result<Vec<u64>> {
        let unmapped = || Error::Unmapped { logical, len };
        let (&start, c) = self
            .chunks
            .range(..=logical)
            .next_back()
            .ok_or_else(unmapped)?;
        let rel = logical - start;
        match rel.checked_add(len) {
            Some(end) if end <= c.length => Ok(c.copies.iter().map(|p| p + rel).collect()),
            _ => Err(unmapped()),
        }
    }
}

/// A validated tree block.
pub(crate) struct Node {
    data: Vec<u8>,
    pub(crate) level: u8,
    pub(crate) nritems: usize,
}

impl Node {
    pub(crate) fn key(&self, i: usize) -> Key {
        let stride = if self.level == 0 { LEAF_ITEM } else { KEY_PTR };
        let o = HEADER + i * stride;
        Key::new(
            le::u64(&self.data, o),
            self.data[o + 8],
            le::u64(&self.data, o + 9),
        )
    }

    /// Data of leaf item `i` (bounds were checked when the block was read).
    pub(crate) fn item(&self, i: usize) -> &[u8] {
        let o = HEADER + i * LEAF_ITEM;
        let off = le::u32(&self.data, o + 17) as usize + HEADER;
        let size = le::u32(&self.data, o + 21) as usize;
        &self.data[off..off + size]
    }

    /// Child pointer `i` of an internal node.
    pub(crate) fn child(&self, i: usize) -> u64 {
        le::u64(&self.data, HEADER + i * KEY_PTR + 17)
    }
}

/// Where a tree's root block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TreeRoot {
    /// Tree id (1 root tree, 3 chunk tree, 5 top-level subvolume, 256.. subvolumes).
    pub(crate) id: u64,
    pub(crate) bytenr: u64,
    pub(crate) level: u8,
}

/// Whether a walk goes on.
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// The opened device: superblock, chunk map and a cache of validated tree blocks.
pub(crate) struct Volume<'a> {
    dev: Arc<dyn ReadAt + 'a>,
    pub(crate) sb: Superblock,
    chunks: ChunkMap,
    cache: Mutex<HashMap<u64, Arc<Node>>>,
    /// Whether superblock and tree-block checksums are checked.
    verify: bool,
}

impl fmt::Debug for Volume<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("fsid", &imgprep_fs::uuid_string(&self.sb.fsid))
            .field("chunks", &self.chunks.chunks.len())
            .finish()
    }
}

/// What a block's parent says about it.
struct Expect {
    level: u8,
    /// The key the parent files it under (its first key must equal it).
    first: Option<Key>,
    /// The parent's next key (every key in the block must be below it).
    below: Option<Key>,
}

impl<'a> Volume<'a> {
    /// Reads the superblock, bootstraps the chunk map from `sys_chunk_array` and loads the whole
    /// chunk tree, checking checksums.
    #[cfg(test)]
    pub(crate) fn open(dev: Arc<dyn ReadAt + 'a>) -> Result<Volume<'a>> {
        Self::open_with(dev, &crate::Options::default())
    }

    /// [`Volume::open`] with `opts`.
    pub(crate) fn open_with(
        dev: Arc<dyn ReadAt + 'a>,
        opts: &crate::Options,
    ) -> Result<Volume<'a>> {
        let verify = opts.verify_checksums;
        let sb = Superblock::read(&*dev, verify)?;
        let dev_size = dev.size();
        let mut chunks = ChunkMap::default();
        let arr = &sb.sys_chunk_array;
        let mut pos = 0;
        while pos < arr.len() {
            let bad = |what: &'static str, expected: String, found: String| Error::BadSuperblock {
                offset: SUPER_OFFSET + 0x32b + pos as u64,
                field: what,
                expected,
                found,
            };
            if arr.len() - pos < 17 + 48 {
                return Err(bad(
                    "sys_chunk_array entry",
                    "a key and a chunk item (65 bytes or more)".into(),
                    format!("{} bytes left", arr.len() - pos),
                ));
            }
            let key = Key::new(le::u64(arr, pos), arr[pos + 8], le::u64(arr, pos + 9));
            if key.kind != CHUNK_ITEM {
                return Err(bad(
                    "sys_chunk_array key type",
                    format!("{CHUNK_ITEM} (CHUNK_ITEM)"),
                    key.to_string(),
                ));
            }
            let item = &arr[pos + 17..];
            let size = 48 + 32 * usize::from(le::u16(item, 44));
            if size > item.len() {
                return Err(bad(
                    "sys_chunk_array chunk item size",
                    format!("at most {} bytes", item.len()),
                    size.to_string(),
                ));
            }
            chunks.add(key.offset, &item[..size], sb.devid, dev_size)?;
            pos += 17 + size;
        }
        let mut vol = Volume {
            dev,
            sb,
            chunks,
            cache: Mutex::new(HashMap::new()),
            verify,
        };
        let chunk_root = TreeRoot {
            id: CHUNK_TREE,
            bytenr: vol.sb.chunk_root,
            level: vol.sb.chunk_root_level,
        };
        let mut found = Vec::new();
        vol.walk(
            chunk_root,
            Key::new(0, 0, 0),
            Key::new(u64::MAX, u8::MAX, u64::MAX),
            &mut |key, data| {
                if key.kind == CHUNK_ITEM {
                    if found.len() >= MAX_CHUNKS {
                        return Err(Error::Limit {
                            what: "number of chunk items".into(),
                            limit: MAX_CHUNKS as u64,
                        });
                    }
                    found.push((key.offset, data.to_vec()));
                }
                Ok(Flow::Continue)
            },
        )?;
        let (devid, dev_size) = (vol.sb.devid, vol.dev.size());
        for (logical, data) in found {
            vol.chunks.add(logical, &data, devid, dev_size)?;
        }
        // Blocks read through the bootstrap map are valid under the full map too.
        Ok(vol)
    }

    pub(crate) fn root_tree(&self) -> TreeRoot {
        TreeRoot {
            id: ROOT_TREE,
            bytenr: self.sb.root,
            level: self.sb.root_level,
        }
    }

    /// Reads `buf.len()` bytes of file data at `logical` (the first copy).
    pub(crate) fn read_data(&self, logical: u64, buf: &mut [u8]) -> Result<()> {
        let copies = self.chunks.map(logical, buf.len() as u64)?;
        self.dev.read_exact_at(copies[0], buf)?;
        Ok(())
    }

    /// The tree block at `logical`, validated against what its parent says.
    fn node(&self, tree: u64, logical: u64, exp: &Expect) -> Result<Arc<Node>> {
        let cached = self
            .cache
            .lock()
            .map(|c| c.get(&logical).cloned())
            .ok()
            .flatten();
        let node = match cached {
            Some(n) => n,
            None => {
                let n = Arc::new(self.read_node(tree, logical)?);
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() >= CACHE_NODES {
                        c.clear();
                    }
                    c.insert(logical, n.clone());
                }
                n
            }
        };
        let bad = |what: &'static str, expected: String, found: String| Error::BadNode {
            tree,
            logical,
            physical: self
                .chunks
                .map(logical, 1)
                .ok()
                .and_then(|v| v.first().copied())
                .unwrap_or(0),
            what,
            expected,
            found,
        };
        if node.level != exp.level {
            return Err(bad("level", exp.level.to_string(), node.level.to_string()));
        }
        if node.nritems == 0 && exp.first.is_some() {
            return Err(bad(
                "item count of a non-root block",
                "at least 1".into(),
                "0".into(),
            ));
        }
        if let Some(first) = exp.first {
            let k = node.key(0);
            if k != first {
                return Err(bad(
                    "first key (as the parent pointer says)",
                    first.to_string(),
                    k.to_string(),
                ));
            }
        }
        if let (Some(below), Some(last)) = (exp.below, node.nritems.checked_sub(1)) {
            let k = node.key(last);
            if k >= below {
                return Err(bad(
                    "last key (below the parent's next key)",
                    format!("< {below}"),
                    k.to_string(),
                ));
            }
        }
        Ok(node)
    }

    /// Reads a block from the first copy whose checksum and header check out.
    fn read_node(&self, tree: u64, logical: u64) -> Result<Node> {
        let size = self.sb.nodesize as usize;
        let copies = self.chunks.map(logical, size as u64)?;
        let mut first_err = None;
        for physical in copies {
            let mut data = vec![0u8; size];
            let r = self
                .dev
                .read_exact_at(physical, &mut data)
                .map_err(Error::from)
                .and_then(|()| self.check_node(tree, logical, physical, data));
            match r {
                Ok(n) => return Ok(n),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or(Error::Unmapped {
            logical,
            len: size as u64,
        }))
    }

    fn check_node(&self, tree: u64, logical: u64, physical: u64, data: Vec<u8>) -> Result<Node> {
        let stored = le::u32(&data, 0);
        let computed = crc::checksum(&data[0x20..]);
        if stored != computed && self.verify {
            return Err(Error::NodeChecksum {
                logical,
                physical,
                expected: computed,
                found: stored,
            });
        }
        let bad = |what: &'static str, expected: String, found: String| Error::BadNode {
            tree,
            logical,
            physical,
            what,
            expected,
            found,
        };
        let fsid = uuid16(&data, 0x20);
        if fsid != self.sb.metadata_uuid {
            return Err(bad(
                "fsid",
                imgprep_fs::uuid_string(&self.sb.metadata_uuid),
                imgprep_fs::uuid_string(&fsid),
            ));
        }
        let bytenr = le::u64(&data, 0x30);
        if bytenr != logical {
            return Err(bad(
                "bytenr",
                format!("{logical:#x}"),
                format!("{bytenr:#x}"),
            ));
        }
        let level = data[0x64];
        if level > MAX_LEVEL {
            return Err(bad("level", "at most 7".into(), level.to_string()));
        }
        let nritems = le::u32(&data, 0x60) as usize;
        let stride = if level == 0 { LEAF_ITEM } else { KEY_PTR };
        let max = (data.len() - HEADER) / stride;
        if nritems > max {
            return Err(bad(
                "item count",
                format!("at most {max}"),
                nritems.to_string(),
            ));
        }
        let node = Node {
            data,
            level,
            nritems,
        };
        let mut prev: Option<Key> = None;
        for i in 0..nritems {
            let k = node.key(i);
            if let Some(p) = prev
                && k <= p
            {
                return Err(bad(
                    "key order",
                    format!("item {i} above {p}"),
                    k.to_string(),
                ));
            }
            prev = Some(k);
            if level == 0 {
                let o = HEADER + i * LEAF_ITEM;
                let off = le::u32(&node.data, o + 17) as usize;
                let size = le::u32(&node.data, o + 21) as usize;
                let lo = nritems * LEAF_ITEM;
                let hi = node.data.len() - HEADER;
                if off < lo || off.checked_add(size).is_none_or(|end| end > hi) {
                    return Err(bad(
                        "item data range",
                        format!("item {i} {k} within {lo:#x}..{hi:#x} of the leaf data"),
                        format!("{off:#x}+{size:#x}"),
                    ));
                }
            } else {
                let child = node.child(i);
                if !child.is_multiple_of(u64::from(self.sb.sectorsize)) || child == 0 {
                    return Err(bad(
                        "child pointer",
                        format!("item {i} {k}: a non-zero multiple of the sector size"),
                        format!("{child:#x}"),
                    ));
                }
            }
        }
        Ok(node)
    }

    /// Calls `f` for every leaf item of `root` with `min <= key <= max`, in key order.
    pub(crate) fn walk(
        &self,
        root: TreeRoot,
        min: Key,
        max: Key,
        f: &mut dyn FnMut(Key, &[u8]) -> Result<Flow>,
    ) -> Result<()> {
        let mut budget = MAX_WALK_NODES;
        let exp = Expect {
            level: root.level,
            first: None,
            below: None,
        };
        self.walk_node(root.id, root.bytenr, &exp, min, max, f, &mut budget)?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_node(
        &self,
        tree: u64,
        logical: u64,
        exp: &Expect,
        min: Key,
        max: Key,
        f: &mut dyn FnMut(Key, &[u8]) -> Result<Flow>,
        budget: &mut u64,
    ) -> Result<Flow> {
        *budget = budget.checked_sub(1).ok_or(Error::Limit {
            what: format!("tree blocks visited in one walk of tree {tree}"),
            limit: MAX_WALK_NODES,
        })?;
        let node = self.node(tree, logical, exp)?;
        if node.level == 0 {
            for i in 0..node.nritems {
                let k = node.key(i);
                if k < min {
                    continue;
                }
                if k > max {
                    return Ok(Flow::Stop);
                }
                if let Flow::Stop = f(k, node.item(i))? {
                    return Ok(Flow::Stop);
                }
            }
            return Ok(Flow::Continue);
        }
        let n = node.nritems;
        // The last child whose first key is <= min holds the first candidates.
        let start = (0..n).rev().find(|&i| node.key(i) <= min).unwrap_or(0);
        for i in start..n {
            let k = node.key(i);
            if k > max {
                return Ok(Flow::Stop);
            }
            let child = Expect {
                level: node.level - 1,
                first: Some(k),
                below: if i + 1 < n {
                    Some(node.key(i + 1))
                } else {
                    exp.below
                },
            };
            if let Flow::Stop = self.walk_node(tree, node.child(i), &child, min, max, f, budget)? {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    /// The item with the largest key `<= key`, if any.
    pub(crate) fn search_le(&self, root: TreeRoot, key: Key) -> Result<Option<(Key, Vec<u8>)>> {
        let mut exp = Expect {
            level: root.level,
            first: None,
            below: None,
        };
        let mut logical = root.bytenr;
        // Levels strictly decrease, so this ends after at most 8 blocks.
        loop {
            let node = self.node(root.id, logical, &exp)?;
            let n = node.nritems;
            let Some(i) = (0..n).rev().find(|&i| node.key(i) <= key) else {
                return Ok(None);
            };
            if node.level == 0 {
                return Ok(Some((node.key(i), node.item(i).to_vec())));
            }
            exp = Expect {
                level: node.level - 1,
                first: Some(node.key(i)),
                below: if i + 1 < n {
                    Some(node.key(i + 1))
                } else {
                    exp.below
                },
            };
            logical = node.child(i);
        }
    }

    /// The item with exactly `key`, if any.
    pub(crate) fn find(&self, root: TreeRoot, key: Key) -> Result<Option<Vec<u8>>> {
        Ok(self
            .search_le(root, key)?
            .filter(|(k, _)| *k == key)
            .map(|(_, d)| d))
    }
}

#[cfg(test)]
impl<'a> Volume<'a> {
    pub(crate) fn device(&self) -> Arc<dyn ReadAt + 'a> {
        self.dev.clone()
    }

    /// Device offset of the first copy of `logical`.
    pub(crate) fn physical(&self, logical: u64) -> u64 {
        self.copies(logical)[0]
    }

    /// Device offsets of every copy of `logical`.
    pub(crate) fn copies(&self, logical: u64) -> Vec<u64> {
        self.chunks.map(logical, 1).unwrap()
    }

    /// The blocks from the root of `root` down to the leaf holding `key`: (logical, item index).
    pub(crate) fn path_to(&self, root: TreeRoot, key: Key) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        let mut exp = Expect {
            level: root.level,
            first: None,
            below: None,
        };
        let mut logical = root.bytenr;
        loop {
            let node = self.node(root.id, logical, &exp).unwrap();
            let i = (0..node.nritems)
                .rev()
                .find(|&i| node.key(i) <= key)
                .unwrap();
            out.push((logical, i));
            if node.level == 0 {
                assert_eq!(node.key(i), key);
                return out;
            }
            exp = Expect {
                level: node.level - 1,
                first: Some(node.key(i)),
                below: None,
            };
            logical = node.child(i);
        }
    }
}
