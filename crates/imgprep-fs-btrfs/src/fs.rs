//! Subvolumes, inodes, directories and file extents on top of the validated trees.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use imgprep_fs::{DirEntry, FileKind, Filesystem, FsError, FsInfo, LogReplay, Metadata};
use imgprep_io::le;

use crate::compress::{self, Algorithm, DecodeError};
use crate::crc;
use crate::error::{Error, Key, Result};
use crate::log::{self, LogOverlay};
use crate::volume::{Flow, MAX_LEVEL, TreeRoot, Volume};
use crate::{Subvol, SubvolumeInfo};

pub(crate) const FS_TREE: u64 = 5;
/// Tree id of the log root tree (for messages).
const TREE_LOG_ROOT: u64 = -7i64 as u64;
const FIRST_FREE: u64 = 256;
const LAST_FREE: u64 = u64::MAX - 255;
/// Inode number the kernel gives the stand-in directory of a subvolume a snapshot cannot reach.
const EMPTY_SUBVOL_DIR: u64 = 2;

const INODE_ITEM: u8 = 1;
const INODE_REF: u8 = 12;
const INODE_EXTREF: u8 = 13;
const DIR_ITEM: u8 = 84;
const DIR_INDEX: u8 = 96;
const EXTENT_DATA: u8 = 108;
const ROOT_ITEM: u8 = 132;
const ROOT_BACKREF: u8 = 144;
const ROOT_REF: u8 = 156;

/// Entries one directory may have.
const MAX_DIR_ENTRIES: u64 = 1 << 22;
/// Components a reconstructed path may have.
const MAX_PATH_DEPTH: u64 = 4096;
/// Subvolumes a filesystem may have.
const MAX_SUBVOLUMES: u64 = 1 << 20;
/// Largest single read.
const MAX_READ: u64 = 1 << 30;
/// Largest compressed extent, on disk and decoded (BTRFS_MAX_COMPRESSED).
const MAX_COMPRESSED: u64 = 128 * 1024;
/// Longest symlink target (PATH_MAX).
const MAX_LINK: u64 = 4096;

/// A subvolume's tree and the inode number of its root directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubvolRoot {
    pub(crate) tree: TreeRoot,
    pub(crate) dirid: u64,
}

/// What a ROOT_ITEM says.
#[derive(Debug, Clone, Copy)]
struct RootItem {
    generation: u64,
    dirid: u64,
    bytenr: u64,
    level: u8,
    flags: u64,
    refs: u32,
}

fn bad_item(tree: u64, key: Key, what: &'static str, expected: String, found: String) -> Error {
    Error::BadItem {
        tree,
        key,
        what,
        expected,
        found,
    }
}

fn need(tree: u64, key: Key, data: &[u8], len: usize) -> Result<()> {
    if data.len() < len {
        return Err(bad_item(
            tree,
            key,
            "item size",
            format!("at least {len} bytes"),
            data.len().to_string(),
        ));
    }
    Ok(())
}

fn parse_root_item(key: Key, d: &[u8]) -> Result<RootItem> {
    need(1, key, d, 239)?;
    let level = d[0xee];
    if level > MAX_LEVEL {
        return Err(bad_item(
            1,
            key,
            "root level",
            "at most 7".into(),
            level.to_string(),
        ));
    }
    Ok(RootItem {
        generation: le::u64(d, 0xa0),
        dirid: le::u64(d, 0xa8),
        bytenr: le::u64(d, 0xb0),
        level,
        flags: le::u64(d, 0xd0),
        refs: le::u32(d, 0xd8),
    })
}

/// One entry of a DIR_ITEM or DIR_INDEX item.
struct DirItem<'a> {
    location: Key,
    kind: u8,
    name: &'a [u8],
}

/// Splits a DIR_ITEM/DIR_INDEX item into its entries.
fn dir_items(tree: u64, key: Key, mut d: &[u8]) -> Result<Vec<DirItem<'_>>> {
    let mut out = Vec::new();
    while !d.is_empty() {
        need(tree, key, d, 30)?;
        let location = Key::new(le::u64(d, 0), d[8], le::u64(d, 9));
        let data_len = usize::from(le::u16(d, 25));
        let name_len = usize::from(le::u16(d, 27));
        let kind = d[29];
        if name_len == 0 || name_len > 255 {
            return Err(bad_item(
                tree,
                key,
                "name length",
                "1..=255".into(),
                name_len.to_string(),
            ));
        }
        let total = 30 + name_len + data_len;
        if total > d.len() {
            return Err(bad_item(
                tree,
                key,
                "directory entry size",
                format!("at most the {} bytes left in the item", d.len()),
                total.to_string(),
            ));
        }
        out.push(DirItem {
            location,
            kind,
            name: &d[30..30 + name_len],
        });
        d = &d[total..];
    }
    Ok(out)
}

/// Where a path led.
#[derive(Debug, Clone, Copy)]
enum Loc {
    /// An inode of a subvolume tree.
    Inode { sv: SubvolRoot, ino: u64 },
    /// A subvolume entry whose subvolume is not reachable from here (inside a snapshot): the
    /// kernel shows an empty, read-only directory.
    EmptySubvolDir,
}

/// The parts of an INODE_ITEM the reader uses.
#[derive(Debug, Clone, Copy)]
struct Inode {
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

/// What a path leads to: its metadata and, unless it is the stand-in directory of an unreachable
/// subvolume, the inode behind it.
type Found = (Metadata, Option<(SubvolRoot, u64, Inode)>);

/// Shared state of every view of one device.
#[derive(Debug)]
pub(crate) struct Shared<'a> {
    pub(crate) vol: Volume<'a>,
    pub(crate) info: FsInfo,
    /// Subvolume tree items replayed from the log trees, read before the trees.
    log: LogOverlay,
    /// What was found in the log trees and done with them.
    pub(crate) replay: LogReplay,
    /// The last compressed extent decoded: (logical address, decoded bytes).
    last_extent: Mutex<Option<(u64, Arc<Vec<u8>>)>>,
}

impl<'a> Shared<'a> {
    /// The filesystem's shared state, with its log trees (if the superblock names any)
    /// replayed in memory. Fails only when replaying would take more memory than allowed.
    pub(crate) fn new(vol: Volume<'a>) -> Result<Shared<'a>> {
        let label = Some(vol.sb.label.clone()).filter(|l| !l.is_empty());
        let info = FsInfo {
            fstype: "btrfs".into(),
            label,
            uuid: Some(imgprep_fs::uuid_string(&vol.sb.fsid)),
        };
        let mut overlay = LogOverlay::default();
        let what = "btrfs log tree".to_owned();
        let replay = if vol.sb.log_root == 0 {
            LogReplay::Clean
        } else {
            let root = TreeRoot {
                id: TREE_LOG_ROOT,
                bytenr: vol.sb.log_root,
                level: vol.sb.log_root_level,
            };
            match log::replay(&vol, root) {
                Ok(r) => {
                    overlay = r.overlay;
                    LogReplay::Replayed {
                        log: what,
                        applied: format!(
                            "{} item{} in {} log tree{}",
                            r.items,
                            if r.items == 1 { "" } else { "s" },
                            r.trees,
                            if r.trees == 1 { "" } else { "s" }
                        ),
                        unfinished: None,
                    }
                }
                Err(log::Fail::Log(reason)) => LogReplay::NotReplayed { log: what, reason },
                Err(log::Fail::Fatal(e)) => return Err(e),
            }
        };
        Ok(Shared {
            vol,
            info,
            log: overlay,
            replay,
            last_extent: Mutex::new(None),
        })
    }

    /// The item of subvolume tree `t` with exactly `key`, replayed items first.
    fn tfind(&self, t: TreeRoot, key: Key) -> Result<Option<Vec<u8>>> {
        log::find(&self.vol, t, self.log.tree(t.id), key)
    }

    /// The item of subvolume tree `t` with the largest key `<= key`, replayed items first.
    fn tsearch_le(&self, t: TreeRoot, key: Key) -> Result<Option<(Key, Vec<u8>)>> {
        log::search_le(&self.vol, t, self.log.tree(t.id), key)
    }

    /// The items of subvolume tree `t` in `min..=max`, replayed items merged in.
    fn twalk(
        &self,
        t: TreeRoot,
        min: Key,
        max: Key,
        f: &mut dyn FnMut(Key, &[u8]) -> Result<Flow>,
    ) -> Result<()> {
        log::walk(&self.vol, t, self.log.tree(t.id), min, max, f)
    }

    fn root_item(&self, id: u64) -> Result<Option<RootItem>> {
        let key = Key::new(id, ROOT_ITEM, u64::MAX);
        match self.vol.search_le(self.vol.root_tree(), key)? {
            Some((k, d)) if k.objectid == id && k.kind == ROOT_ITEM => {
                let r = parse_root_item(k, &d)?;
                Ok(Some(r).filter(|r| r.refs > 0 || id == FS_TREE))
            }
            _ => Ok(None),
        }
    }

    /// The subvolume with tree id `id`.
    pub(crate) fn subvol(&self, id: u64) -> Result<Option<SubvolRoot>> {
        if id != FS_TREE && !(FIRST_FREE..=LAST_FREE).contains(&id) {
            return Ok(None);
        }
        Ok(self.root_item(id)?.map(|r| SubvolRoot {
            tree: TreeRoot {
                id,
                bytenr: r.bytenr,
                level: r.level,
            },
            dirid: r.dirid,
        }))
    }

    /// The default subvolume: the root tree directory's "default" entry, or the top level.
    pub(crate) fn default_subvol_id(&self) -> Result<u64> {
        let dir = self.vol.sb.root_dir_objectid;
        let key = Key::new(dir, DIR_ITEM, crc::name_hash(b"default"));
        if let Some(d) = self.vol.find(self.vol.root_tree(), key)? {
            for e in dir_items(1, key, &d)? {
                if e.name == b"default" {
                    return Ok(e.location.objectid);
                }
            }
        }
        Ok(FS_TREE)
    }

    fn inode(&self, sv: SubvolRoot, ino: u64) -> Result<Option<Inode>> {
        let key = Key::new(ino, INODE_ITEM, 0);
        let Some(d) = self.tfind(sv.tree, key)? else {
            return Ok(None);
        };
        need(sv.tree.id, key, &d, 160)?;
        Ok(Some(Inode {
            size: le::u64(&d, 16),
            mode: le::u32(&d, 52),
            uid: le::u32(&d, 44),
            gid: le::u32(&d, 48),
            mtime: le::u64(&d, 136) as i64,
        }))
    }

    fn inode_required(&self, sv: SubvolRoot, ino: u64) -> Result<Inode> {
        self.inode(sv, ino)?.ok_or_else(|| {
            bad_item(
                sv.tree.id,
                Key::new(ino, INODE_ITEM, 0),
                "inode item",
                "present (a directory entry points to it)".into(),
                "missing".into(),
            )
        })
    }

    /// Looks `name` up in directory `dir` of `sv`.
    fn lookup(&self, sv: SubvolRoot, dir: u64, name: &[u8]) -> Result<Option<Loc>> {
        let key = Key::new(dir, DIR_ITEM, crc::name_hash(name));
        let Some(d) = self.tfind(sv.tree, key)? else {
            return Ok(None);
        };
        let Some(e) = dir_items(sv.tree.id, key, &d)?
            .into_iter()
            .find(|e| e.name == name)
        else {
            return Ok(None);
        };
        match e.location.kind {
            INODE_ITEM => Ok(Some(Loc::Inode {
                sv,
                ino: e.location.objectid,
            })),
            ROOT_ITEM => self.cross(sv, dir, name, e.location.objectid).map(Some),
            k => Err(bad_item(
                sv.tree.id,
                key,
                "directory entry location type",
                "INODE_ITEM or ROOT_ITEM".into(),
                k.to_string(),
            )),
        }
    }

    /// Enters subvolume `child` from its entry `name` in directory `dir` of `parent`, as the
    /// kernel does: only when the parent's ROOT_REF for it names this very entry.
    fn cross(&self, parent: SubvolRoot, dir: u64, name: &[u8], child: u64) -> Result<Loc> {
        let key = Key::new(parent.tree.id, ROOT_REF, child);
        let Some(d) = self.vol.find(self.vol.root_tree(), key)? else {
            return Ok(Loc::EmptySubvolDir);
        };
        let r = parse_root_ref(key, &d)?;
        if r.dirid != dir || r.name != name {
            return Ok(Loc::EmptySubvolDir);
        }
        let sv = self.subvol(child)?.ok_or_else(|| {
            bad_item(
                1,
                key,
                "root item of the referenced subvolume",
                "present".into(),
                "missing".into(),
            )
        })?;
        Ok(Loc::Inode { sv, ino: sv.dirid })
    }

    /// Resolves `components` from the root directory of `start`.
    fn resolve(&self, start: SubvolRoot, path: &[u8]) -> Result<Loc, FsError> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let mut loc = Loc::Inode {
            sv: start,
            ino: start.dirid,
        };
        for name in imgprep_fs::components(path)? {
            let (sv, ino) = match loc {
                Loc::EmptySubvolDir => return Err(FsError::NotFound { path: shown() }),
                Loc::Inode { sv, ino } => (sv, ino),
            };
            let inode = self.inode_required(sv, ino).map_err(to_fs(path))?;
            if FileKind::from_mode(inode.mode).unwrap_or(FileKind::Other) != FileKind::Dir {
                return Err(FsError::NotADirectory { path: shown() });
            }
            loc = self
                .lookup(sv, ino, name)
                .map_err(to_fs(path))?
                .ok_or_else(|| FsError::NotFound { path: shown() })?;
        }
        Ok(loc)
    }

    fn metadata(&self, loc: Loc) -> Result<Found> {
        match loc {
            Loc::EmptySubvolDir => Ok((
                Metadata {
                    kind: FileKind::Dir,
                    size: 0,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                    mtime: 0,
                    ino: EMPTY_SUBVOL_DIR,
                },
                None,
            )),
            Loc::Inode { sv, ino } => {
                let i = self.inode_required(sv, ino)?;
                Ok((
                    Metadata {
                        kind: FileKind::from_mode(i.mode).unwrap_or(FileKind::Other),
                        size: i.size,
                        mode: i.mode & 0o7777,
                        uid: i.uid,
                        gid: i.gid,
                        mtime: i.mtime,
                        ino,
                    },
                    Some((sv, ino, i)),
                ))
            }
        }
    }

    fn read_dir(&self, sv: SubvolRoot, ino: u64) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        let tree = sv.tree.id;
        self.twalk(
            sv.tree,
            Key::new(ino, DIR_INDEX, 0),
            Key::new(ino, DIR_INDEX, u64::MAX),
            &mut |key, d| {
                if out.len() as u64 >= MAX_DIR_ENTRIES {
                    return Err(Error::Limit {
                        what: format!("entries of directory {ino} in tree {tree}"),
                        limit: MAX_DIR_ENTRIES,
                    });
                }
                for e in dir_items(tree, key, d)? {
                    out.push(DirEntry {
                        name: e.name.to_vec(),
                        kind: Some(FileKind::from_dirent_type(e.kind).unwrap_or(FileKind::Other)),
                    });
                }
                Ok(Flow::Continue)
            },
        )?;
        Ok(out)
    }

    /// Up to `len` bytes of inode `ino` from `offset`, clipped to its size.
    fn read_data(
        &self,
        sv: SubvolRoot,
        ino: u64,
        size: u64,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        if offset >= size || len == 0 {
            return Ok(Vec::new());
        }
        let n = len.min(size - offset);
        if n > MAX_READ {
            return Err(Error::Limit {
                what: format!("read of {n} bytes from inode {ino} of tree {}", sv.tree.id),
                limit: MAX_READ,
            });
        }
        let end = offset + n;
        let mut out = vec![0u8; n as usize];
        let tree = sv.tree.id;
        // The extent covering `offset` starts at or before it.
        let start = match self.tsearch_le(sv.tree, Key::new(ino, EXTENT_DATA, offset))? {
            Some((k, _)) if k.objectid == ino && k.kind == EXTENT_DATA => k.offset,
            _ => offset,
        };
        self.twalk(
            sv.tree,
            Key::new(ino, EXTENT_DATA, start),
            Key::new(ino, EXTENT_DATA, end - 1),
            &mut |key, d| {
                self.copy_extent(tree, key, d, offset, &mut out)?;
                Ok(Flow::Continue)
            },
        )?;
        Ok(out)
    }

    /// Copies the part of the file extent item `d` (at file offset `key.offset`) that overlaps
    /// `out` (which holds the file from `offset`).
    fn copy_extent(
        &self,
        tree: u64,
        key: Key,
        d: &[u8],
        offset: u64,
        out: &mut [u8],
    ) -> Result<()> {
        need(tree, key, d, 21)?;
        let pos = key.offset;
        let ram_bytes = le::u64(d, 8);
        let compression = d[16];
        let (encryption, other) = (d[17], le::u16(d, 18));
        let kind = d[20];
        if encryption != 0 || other != 0 {
            return Err(Error::Unsupported {
                what: format!("encrypted or encoded file extent {key} in tree {tree}"),
            });
        }
        let alg = match compression {
            0 => None,
            c => Some(Algorithm::from_code(c).ok_or_else(|| Error::Unsupported {
                what: format!("compression type {c} (file extent {key} in tree {tree})"),
            })?),
        };
        let sectorsize = self.vol.sb.sectorsize as usize;
        // (bytes of the extent as the file sees them, from file offset `pos`)
        let mut decoded: Option<Arc<Vec<u8>>> = None;
        let (ext_len, disk) = match kind {
            0 => {
                let body = &d[21..];
                let data = match alg {
                    None => {
                        if ram_bytes != body.len() as u64 {
                            return Err(bad_item(
                                tree,
                                key,
                                "inline extent length (ram_bytes)",
                                format!("{} (the inline data size)", body.len()),
                                ram_bytes.to_string(),
                            ));
                        }
                        body.to_vec()
                    }
                    Some(alg) => {
                        if ram_bytes > sectorsize as u64 {
                            return Err(bad_item(
                                tree,
                                key,
                                "compressed inline extent length (ram_bytes)",
                                format!("at most the sector size {sectorsize}"),
                                ram_bytes.to_string(),
                            ));
                        }
                        compress::decompress(alg, body, ram_bytes as usize, sectorsize)
                            .map_err(|e| decode_error(tree, key, alg, 0, e))?
                    }
                };
                let len = data.len() as u64;
                decoded = Some(Arc::new(data));
                (len, None)
            }
            1 | 2 => {
                need(tree, key, d, 53)?;
                let disk_bytenr = le::u64(d, 21);
                let disk_num_bytes = le::u64(d, 29);
                let ext_offset = le::u64(d, 37);
                let num_bytes = le::u64(d, 45);
                let backing = if alg.is_some() {
                    ram_bytes
                } else {
                    disk_num_bytes
                };
                if disk_bytenr != 0
                    && ext_offset
                        .checked_add(num_bytes)
                        .is_none_or(|e| e > backing)
                {
                    return Err(bad_item(
                        tree,
                        key,
                        "extent window (offset + num_bytes)",
                        format!("at most the extent's {backing} bytes"),
                        format!("{ext_offset} + {num_bytes}"),
                    ));
                }
                if kind == 2 || disk_bytenr == 0 {
                    (num_bytes, None) // preallocated or a hole: zeros
                } else {
                    (num_bytes, Some((disk_bytenr, disk_num_bytes, ext_offset)))
                }
            }
            k => {
                return Err(bad_item(
                    tree,
                    key,
                    "file extent type",
                    "0, 1 or 2".into(),
                    k.to_string(),
                ));
            }
        };
        let ext_end = pos.checked_add(ext_len).ok_or_else(|| {
            bad_item(
                tree,
                key,
                "extent end",
                "below 2^64".into(),
                format!("{pos} + {ext_len}"),
            )
        })?;
        let want_end = offset + out.len() as u64;
        let lo = pos.max(offset);
        let hi = ext_end.min(want_end);
        if lo >= hi {
            return Ok(());
        }
        let dst = &mut out[(lo - offset) as usize..(hi - offset) as usize];
        let rel = lo - pos;
        if let Some((disk_bytenr, disk_num_bytes, ext_offset)) = disk {
            match alg {
                None => {
                    let len = dst.len() as u64;
                    let at = disk_bytenr.checked_add(ext_offset + rel);
                    match at.map(|at| self.vol.read_data(at, dst)) {
                        Some(Ok(())) => {}
                        Some(Err(Error::Unmapped { .. })) | None => {
                            return Err(unmapped_data(
                                tree,
                                key,
                                disk_bytenr,
                                ext_offset + rel,
                                len,
                            ));
                        }
                        Some(Err(e)) => return Err(e),
                    }
                }
                Some(alg) => {
                    let data =
                        self.decode_extent(tree, key, alg, disk_bytenr, disk_num_bytes, ram_bytes)?;
                    let from = (ext_offset + rel) as usize;
                    dst.copy_from_slice(&data[from..from + dst.len()]);
                }
            }
        } else if let Some(data) = decoded {
            let from = rel as usize;
            dst.copy_from_slice(&data[from..from + dst.len()]);
        }
        Ok(())
    }

    fn decode_extent(
        &self,
        tree: u64,
        key: Key,
        alg: Algorithm,
        disk_bytenr: u64,
        disk_num_bytes: u64,
        ram_bytes: u64,
    ) -> Result<Arc<Vec<u8>>> {
        if let Ok(g) = self.last_extent.lock()
            && let Some((at, data)) = &*g
            && *at == disk_bytenr
            && data.len() as u64 == ram_bytes
        {
            return Ok(data.clone());
        }
        for (what, v) in [
            ("compressed size (disk_num_bytes)", disk_num_bytes),
            ("decoded size (ram_bytes)", ram_bytes),
        ] {
            if v == 0 || v > MAX_COMPRESSED {
                return Err(bad_item(
                    tree,
                    key,
                    what,
                    format!("1..={MAX_COMPRESSED} for a compressed extent"),
                    v.to_string(),
                ));
            }
        }
        let mut src = vec![0u8; disk_num_bytes as usize];
        match self.vol.read_data(disk_bytenr, &mut src) {
            Ok(()) => {}
            Err(Error::Unmapped { .. }) => {
                return Err(unmapped_data(tree, key, disk_bytenr, 0, disk_num_bytes));
            }
            Err(e) => return Err(e),
        }
        let data = compress::decompress(
            alg,
            &src,
            ram_bytes as usize,
            self.vol.sb.sectorsize as usize,
        )
        .map_err(|e| decode_error(tree, key, alg, disk_bytenr, e))?;
        let data = Arc::new(data);
        if let Ok(mut g) = self.last_extent.lock() {
            *g = Some((disk_bytenr, data.clone()));
        }
        Ok(data)
    }

    /// The path of directory `ino` inside subvolume `sv`, from its root directory ("" for the
    /// root itself, else "a/b/").
    fn dir_path(&self, sv: SubvolRoot, mut ino: u64) -> Result<Vec<u8>> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut seen = HashSet::new();
        while ino != sv.dirid {
            if !seen.insert(ino) || parts.len() as u64 >= MAX_PATH_DEPTH {
                return Err(Error::Limit {
                    what: format!(
                        "depth of the path to directory {ino} in tree {}",
                        sv.tree.id
                    ),
                    limit: MAX_PATH_DEPTH,
                });
            }
            let (parent, name) = self.first_ref(sv, ino)?;
            parts.push(name);
            ino = parent;
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.extend_from_slice(p);
            out.push(b'/');
        }
        Ok(out)
    }

    /// The first name inode `ino` has: (parent directory, name).
    fn first_ref(&self, sv: SubvolRoot, ino: u64) -> Result<(u64, Vec<u8>)> {
        let tree = sv.tree.id;
        let mut found = None;
        self.twalk(
            sv.tree,
            Key::new(ino, INODE_REF, 0),
            Key::new(ino, INODE_EXTREF, u64::MAX),
            &mut |key, d| {
                let (parent, name_at) = if key.kind == INODE_REF {
                    (key.offset, 8)
                } else {
                    need(tree, key, d, 8)?;
                    (le::u64(d, 0), 16)
                };
                need(tree, key, d, name_at + 2)?;
                let len = usize::from(le::u16(d, name_at));
                let name = d.get(name_at + 2..name_at + 2 + len).ok_or_else(|| {
                    bad_item(
                        tree,
                        key,
                        "name length",
                        format!("at most {}", d.len() - name_at - 2),
                        len.to_string(),
                    )
                })?;
                found = Some((parent, name.to_vec()));
                Ok(Flow::Stop)
            },
        )?;
        found.ok_or_else(|| {
            bad_item(
                tree,
                Key::new(ino, INODE_REF, 0),
                "inode back reference",
                "an INODE_REF or INODE_EXTREF".into(),
                "none".into(),
            )
        })
    }

    /// Every subvolume reachable from the top level, with its path.
    pub(crate) fn subvolumes(&self) -> Result<Vec<SubvolumeInfo>> {
        let mut items: HashMap<u64, RootItem> = HashMap::new();
        let mut backrefs: Vec<(u64, u64, RootRef)> = Vec::new();
        self.vol.walk(
            self.vol.root_tree(),
            Key::new(FIRST_FREE, 0, 0),
            Key::new(LAST_FREE, u8::MAX, u64::MAX),
            &mut |key, d| {
                if (items.len() + backrefs.len()) as u64 >= 2 * MAX_SUBVOLUMES {
                    return Err(Error::Limit {
                        what: "subvolume items in the root tree".into(),
                        limit: 2 * MAX_SUBVOLUMES,
                    });
                }
                match key.kind {
                    ROOT_ITEM => {
                        items.insert(key.objectid, parse_root_item(key, d)?);
                    }
                    ROOT_BACKREF => {
                        backrefs.push((key.objectid, key.offset, parse_root_ref(key, d)?))
                    }
                    _ => {}
                }
                Ok(Flow::Continue)
            },
        )?;
        let parents: HashMap<u64, (u64, RootRef)> = backrefs
            .into_iter()
            .map(|(child, parent, r)| (child, (parent, r)))
            .collect();
        let mut paths: HashMap<u64, Vec<u8>> = HashMap::new();
        let mut out = Vec::new();
        let mut ids: Vec<u64> = parents.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(item) = items.get(&id) else { continue };
            if item.refs == 0 {
                continue;
            }
            let path = self.subvol_path(id, &parents, &mut paths)?;
            out.push(SubvolumeInfo {
                id,
                parent: parents.get(&id).map_or(FS_TREE, |p| p.0),
                path: String::from_utf8_lossy(&path).into_owned(),
                generation: item.generation,
                read_only: item.flags & 1 != 0,
            });
        }
        Ok(out)
    }

    fn subvol_path(
        &self,
        id: u64,
        parents: &HashMap<u64, (u64, RootRef)>,
        memo: &mut HashMap<u64, Vec<u8>>,
    ) -> Result<Vec<u8>> {
        // Collect the chain up to the top level (or a known path), then build downwards.
        let mut chain = Vec::new();
        let mut cur = id;
        while cur != FS_TREE && !memo.contains_key(&cur) {
            if chain.len() as u64 > MAX_PATH_DEPTH || chain.contains(&cur) {
                return Err(Error::Limit {
                    what: format!("depth of the subvolume chain above subvolume {id}"),
                    limit: MAX_PATH_DEPTH,
                });
            }
            chain.push(cur);
            cur = parents
                .get(&cur)
                .map(|p| p.0)
                .ok_or_else(|| Error::NoSubvolume {
                    selector: format!(
                        "id {cur} (a parent of subvolume {id}, which has no back reference)"
                    ),
                })?;
        }
        for &sv_id in chain.iter().rev() {
            let (parent, r) = &parents[&sv_id];
            let mut p = if *parent == FS_TREE {
                Vec::new()
            } else {
                memo[parent].clone()
            };
            if !p.is_empty() {
                p.push(b'/');
            }
            let parent_root = self.subvol(*parent)?.ok_or_else(|| Error::NoSubvolume {
                selector: format!("id {parent} (parent of subvolume {sv_id})"),
            })?;
            p.extend(self.dir_path(parent_root, r.dirid)?);
            p.extend_from_slice(&r.name);
            memo.insert(sv_id, p);
        }
        Ok(if id == FS_TREE {
            Vec::new()
        } else {
            memo[&id].clone()
        })
    }

    /// Opens the subvolume the selector names.
    pub(crate) fn select(&self, sel: &Subvol) -> Result<SubvolRoot> {
        match sel {
            Subvol::Id(0) => {
                let id = self.default_subvol_id()?;
                self.subvol(id)?.ok_or_else(|| Error::NoSubvolume {
                    selector: format!("id {id} (the default subvolume)"),
                })
            }
            Subvol::Id(id) => self.subvol(*id)?.ok_or_else(|| Error::NoSubvolume {
                selector: format!("id {id}"),
            }),
            Subvol::Path(p) => {
                let top = self.subvol(FS_TREE)?.ok_or_else(|| Error::NoSubvolume {
                    selector: "id 5 (the top level)".into(),
                })?;
                let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
                let mut norm = String::new();
                for c in &parts {
                    norm.push('/');
                    norm.push_str(c);
                }
                if norm.is_empty() {
                    return Ok(top);
                }
                match self.resolve(top, norm.as_bytes()) {
                    Ok(Loc::Inode { sv, ino }) if ino == sv.dirid && sv.tree.id != FS_TREE => {
                        Ok(sv)
                    }
                    Ok(_) => Err(Error::NotASubvolume { path: p.clone() }),
                    Err(FsError::NotFound { .. }) => Err(Error::NoSubvolume {
                        selector: format!("path {p}"),
                    }),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

/// A ROOT_REF or ROOT_BACKREF: where a subvolume's entry lies in its parent.
#[derive(Debug, Clone)]
struct RootRef {
    dirid: u64,
    name: Vec<u8>,
}

fn parse_root_ref(key: Key, d: &[u8]) -> Result<RootRef> {
    need(1, key, d, 18)?;
    let len = usize::from(le::u16(d, 16));
    let name = d.get(18..18 + len).ok_or_else(|| {
        bad_item(
            1,
            key,
            "name length",
            format!("at most {}", d.len() - 18),
            len.to_string(),
        )
    })?;
    Ok(RootRef {
        dirid: le::u64(d, 0),
        name: name.to_vec(),
    })
}

fn unmapped_data(tree: u64, key: Key, disk_bytenr: u64, rel: u64, len: u64) -> Error {
    bad_item(
        tree,
        key,
        "data location (disk_bytenr + offset, length)",
        "inside a chunk".into(),
        format!("{disk_bytenr:#x} + {rel:#x}, {len:#x} bytes, which no chunk maps"),
    )
}

fn decode_error(tree: u64, key: Key, alg: Algorithm, logical: u64, e: DecodeError) -> Error {
    let reason = match e {
        DecodeError::TooLong { limit } => {
            format!("decodes to more than the {limit} bytes the extent says (ram_bytes)")
        }
        DecodeError::Invalid(m) => m,
    };
    Error::Decompress {
        tree,
        key,
        algorithm: alg.name(),
        logical,
        reason,
    }
}

/// Turns the reader's error into the interface's, keeping the detail.
fn to_fs(path: &[u8]) -> impl Fn(Error) -> FsError + '_ {
    move |e| match e {
        Error::Io(e) => FsError::Io(e),
        Error::Unsupported { what } => FsError::Unsupported {
            path: String::from_utf8_lossy(path).into_owned(),
            what,
        },
        Error::Fs(e) => e,
        e => FsError::corrupt(e),
    }
}

/// One subvolume of a btrfs filesystem, seen as a mount of it shows it.
#[derive(Debug)]
pub(crate) struct BtrfsFs {
    pub(crate) shared: Arc<Shared<'static>>,
    pub(crate) root: SubvolRoot,
}

impl BtrfsFs {
    fn file(&self, path: &[u8]) -> imgprep_fs::Result<Found> {
        let loc = self.shared.resolve(self.root, path)?;
        self.shared.metadata(loc).map_err(to_fs(path))
    }
}

impl Filesystem for BtrfsFs {
    fn info(&self) -> &FsInfo {
        &self.shared.info
    }

    fn log_replay(&self) -> LogReplay {
        self.shared.replay.clone()
    }

    fn lstat(&self, path: &[u8]) -> imgprep_fs::Result<Option<Metadata>> {
        match self.file(path) {
            Ok((m, _)) => Ok(Some(m)),
            Err(FsError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read_dir(&self, path: &[u8]) -> imgprep_fs::Result<Vec<DirEntry>> {
        let (m, inode) = self.file(path)?;
        if m.kind != FileKind::Dir {
            return Err(FsError::NotADirectory {
                path: String::from_utf8_lossy(path).into_owned(),
            });
        }
        match inode {
            None => Ok(Vec::new()),
            Some((sv, ino, _)) => self.shared.read_dir(sv, ino).map_err(to_fs(path)),
        }
    }

    fn read_link(&self, path: &[u8]) -> imgprep_fs::Result<Vec<u8>> {
        let (m, inode) = self.file(path)?;
        let (Some((sv, ino, i)), FileKind::Symlink) = (inode, m.kind) else {
            return Err(FsError::NotASymlink {
                path: String::from_utf8_lossy(path).into_owned(),
            });
        };
        if i.size > MAX_LINK {
            return Err(FsError::corrupt(Error::Limit {
                what: format!(
                    "length of the symlink target of inode {ino} in tree {}",
                    sv.tree.id
                ),
                limit: MAX_LINK,
            }));
        }
        self.shared
            .read_data(sv, ino, i.size, 0, i.size)
            .map_err(to_fs(path))
    }

    fn read(&self, path: &[u8], offset: u64, len: usize) -> imgprep_fs::Result<Vec<u8>> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let (m, inode) = self.file(path)?;
        match (m.kind, inode) {
            (FileKind::File, Some((sv, ino, i))) => self
                .shared
                .read_data(sv, ino, i.size, offset, len as u64)
                .map_err(to_fs(path)),
            (FileKind::Dir, _) => Err(FsError::IsADirectory { path: shown() }),
            (k, _) => Err(FsError::Unsupported {
                path: shown(),
                what: format!("reading a {k:?} as a file"),
            }),
        }
    }
}
