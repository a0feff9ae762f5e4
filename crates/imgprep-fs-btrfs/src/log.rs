//! Log tree replay in memory. After an fsync, btrfs writes the changed items of the fsync'ed
//! inodes into a log tree per subvolume (found through the log root tree the superblock's
//! `log_root` names) instead of committing a transaction; a snapshot taken before the next
//! commit holds those changes only there. Linux replays them when it mounts
//! (`btrfs_recover_log_trees`); this module replays them the same way, in the same stages (inode
//! items first, then directory index items, then everything else) with the same conflict
//! rules, into [`TreeOverlay`]s: items added, replaced or deleted, consulted before the committed
//! trees by every read. Nothing is written.
//!
//! Not replayed: extended inode references (files with thousands of hard links in one
//! directory), which leave the log unreplayed with a reason. Link counts, byte counts and
//! checksum items, which nothing here reads, are not recomputed; the kernel's removal of inodes
//! left without links does not change what paths reach.

use std::collections::{BTreeMap, HashMap};

use imgprep_io::le;

use crate::crc;
use crate::error::{Error, Key, Result};
use crate::volume::{Flow, MAX_LEVEL, TreeRoot, Volume};

const INODE_ITEM: u8 = 1;
const INODE_REF: u8 = 12;
const INODE_EXTREF: u8 = 13;
const XATTR_ITEM: u8 = 24;
const DIR_LOG_INDEX: u8 = 72;
const DIR_ITEM: u8 = 84;
const DIR_INDEX: u8 = 96;
const EXTENT_DATA: u8 = 108;
const ROOT_ITEM: u8 = 132;
const TREE_LOG_OBJECTID: u64 = -6i64 as u64;
const FS_TREE: u64 = 5;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

const EXTENT_INLINE: u8 = 0;
const EXTENT_REG: u8 = 1;
const EXTENT_PREALLOC: u8 = 2;
/// Bytes of a file extent item that point to an extent (the whole item but inline data).
const EXTENT_ITEM_LEN: usize = 53;

/// Most bytes of replayed items kept in memory.
const MAX_BYTES: u64 = 256 << 20;
/// Most log trees (subvolumes with a log) replayed.
const MAX_LOG_TREES: usize = 1 << 16;
/// Most conflicting names one reference item may make the replay unlink.
const MAX_RETRIES: usize = 1 << 16;

/// Items of one tree changed by replay: `Some` replaces or adds, `None` deletes.
#[derive(Debug, Default)]
pub(crate) struct TreeOverlay {
    items: BTreeMap<Key, Option<Vec<u8>>>,
}

/// The replayed changes of every subvolume tree.
#[derive(Debug, Default)]
pub(crate) struct LogOverlay {
    trees: HashMap<u64, TreeOverlay>,
}

impl LogOverlay {
    pub(crate) fn tree(&self, id: u64) -> Option<&TreeOverlay> {
        self.trees.get(&id)
    }
}

/// The key just before `k` in key order.
fn pred(k: Key) -> Option<Key> {
    if k.offset > 0 {
        Some(Key::new(k.objectid, k.kind, k.offset - 1))
    } else if k.kind > 0 {
        Some(Key::new(k.objectid, k.kind - 1, u64::MAX))
    } else if k.objectid > 0 {
        Some(Key::new(k.objectid - 1, u8::MAX, u64::MAX))
    } else {
        None
    }
}

/// The key just after `k` in key order.
fn succ(k: Key) -> Option<Key> {
    if k.offset < u64::MAX {
        Some(Key::new(k.objectid, k.kind, k.offset + 1))
    } else if k.kind < u8::MAX {
        Some(Key::new(k.objectid, k.kind + 1, 0))
    } else if k.objectid < u64::MAX {
        Some(Key::new(k.objectid + 1, 0, 0))
    } else {
        None
    }
}

/// The item with exactly `key`, the overlay first.
pub(crate) fn find(
    vol: &Volume<'_>,
    root: TreeRoot,
    ov: Option<&TreeOverlay>,
    key: Key,
) -> Result<Option<Vec<u8>>> {
    if let Some(v) = ov.and_then(|o| o.items.get(&key)) {
        return Ok(v.clone());
    }
    vol.find(root, key)
}

/// The item with the largest key `<= key`, the overlay first.
pub(crate) fn search_le(
    vol: &Volume<'_>,
    root: TreeRoot,
    ov: Option<&TreeOverlay>,
    key: Key,
) -> Result<Option<(Key, Vec<u8>)>> {
    let Some(ov) = ov else {
        return vol.search_le(root, key);
    };
    let from_ov = ov
        .items
        .range(..=key)
        .rev()
        .find_map(|(k, v)| v.as_ref().map(|v| (*k, v.clone())));
    let mut cur = Some(key);
    let mut from_base = None;
    // Each step skips a key the overlay holds, so this ends after at most its size.
    while let Some(k) = cur {
        match vol.search_le(root, k)? {
            None => break,
            Some((found, d)) => {
                if ov.items.contains_key(&found) {
                    cur = pred(found);
                } else {
                    from_base = Some((found, d));
                    break;
                }
            }
        }
    }
    Ok(match (from_ov, from_base) {
        (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
        (a, b) => a.or(b),
    })
}

/// Calls `f` for every item with `min <= key <= max` in key order, the overlay's items
/// replacing, adding to and deleting from the tree's.
pub(crate) fn walk(
    vol: &Volume<'_>,
    root: TreeRoot,
    ov: Option<&TreeOverlay>,
    min: Key,
    max: Key,
    f: &mut dyn FnMut(Key, &[u8]) -> Result<Flow>,
) -> Result<()> {
    let Some(ov) = ov else {
        return vol.walk(root, min, max, f);
    };
    if min > max {
        return Ok(());
    }
    let mut pending = ov.items.range(min..=max).peekable();
    let mut stopped = false;
    vol.walk(root, min, max, &mut |k, d| {
        while let Some(&(&ok, v)) = pending.peek() {
            if ok > k {
                break;
            }
            pending.next();
            if ok == k {
                if let Some(v) = v
                    && let Flow::Stop = f(k, v)?
                {
                    stopped = true;
                    return Ok(Flow::Stop);
                }
                return Ok(Flow::Continue);
            }
            if let Some(v) = v
                && let Flow::Stop = f(ok, v)?
            {
                stopped = true;
                return Ok(Flow::Stop);
            }
        }
        if let Flow::Stop = f(k, d)? {
            stopped = true;
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    })?;
    if !stopped {
        for (k, v) in pending {
            if let Some(v) = v
                && let Flow::Stop = f(*k, v)?
            {
                break;
            }
        }
    }
    Ok(())
}

/// Why the log trees could not be replayed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Not replayable; the committed trees are shown, with this reason.
    Log(String),
    /// Over the memory budget: opening fails.
    Fatal(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Log(e.to_string())
    }
}

type R<T> = std::result::Result<T, Fail>;

fn bad(s: impl Into<String>) -> Fail {
    Fail::Log(s.into())
}

/// One directory entry (DIR_ITEM, DIR_INDEX or XATTR_ITEM entry): where it is in its item.
#[derive(Debug, Clone)]
struct Entry {
    location: Key,
    kind: u8,
    name: Vec<u8>,
    /// Byte range of the whole entry in the item.
    start: usize,
    end: usize,
}

fn entries(tree: u64, key: Key, d: &[u8]) -> R<Vec<Entry>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < d.len() {
        let e = &d[at..];
        if e.len() < 30 {
            return Err(bad(format!(
                "tree {tree} item {key}: directory entry of {} bytes, expected at least 30",
                e.len()
            )));
        }
        let data_len = usize::from(le::u16(e, 25));
        let name_len = usize::from(le::u16(e, 27));
        let total = 30 + name_len + data_len;
        if name_len == 0 || total > e.len() {
            return Err(bad(format!(
                "tree {tree} item {key}: directory entry of {total} bytes (name {name_len}) in \
                 the {} bytes left",
                e.len()
            )));
        }
        out.push(Entry {
            location: Key::new(le::u64(e, 0), e[8], le::u64(e, 9)),
            kind: e[29],
            name: e[30..30 + name_len].to_vec(),
            start: at,
            end: at + total,
        });
        at += total;
    }
    Ok(out)
}

/// One name of an INODE_REF item.
struct RefName {
    index: u64,
    name: Vec<u8>,
    /// Byte range of the name's entry in the item.
    start: usize,
    end: usize,
}

/// The names of an INODE_REF item.
fn ref_names(tree: u64, key: Key, d: &[u8]) -> R<Vec<RefName>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < d.len() {
        let r = &d[at..];
        if r.len() < 10 {
            return Err(bad(format!(
                "tree {tree} item {key}: inode reference of {} bytes",
                r.len()
            )));
        }
        let len = usize::from(le::u16(r, 8));
        if len == 0 || 10 + len > r.len() {
            return Err(bad(format!(
                "tree {tree} item {key}: inode reference name of {len} bytes in {}",
                r.len()
            )));
        }
        out.push(RefName {
            index: le::u64(r, 0),
            name: r[10..10 + len].to_vec(),
            start: at,
            end: at + 10 + len,
        });
        at += 10 + len;
    }
    Ok(out)
}

/// A file extent item's fields replay uses.
struct FileExtent {
    kind: u8,
    ram_bytes: u64,
    disk_bytenr: u64,
    offset: u64,
    num_bytes: u64,
}

fn file_extent(tree: u64, key: Key, d: &[u8]) -> R<FileExtent> {
    if d.len() < 21 || (d[20] != EXTENT_INLINE && d.len() < EXTENT_ITEM_LEN) {
        return Err(bad(format!(
            "tree {tree} item {key}: file extent item of {} bytes",
            d.len()
        )));
    }
    let inline = d[20] == EXTENT_INLINE;
    Ok(FileExtent {
        kind: d[20],
        ram_bytes: le::u64(d, 8),
        disk_bytenr: if inline { 0 } else { le::u64(d, 21) },
        offset: if inline { 0 } else { le::u64(d, 37) },
        num_bytes: if inline { 0 } else { le::u64(d, 45) },
    })
}

fn mode_of(inode: &[u8]) -> u32 {
    le::u32(inode, 52)
}

fn set_u64(d: &mut [u8], at: usize, v: u64) {
    d[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The btrfs directory entry type of an inode mode.
fn ftype(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFREG => 1,
        S_IFDIR => 2,
        0o020000 => 3,
        0o060000 => 4,
        0o010000 => 5,
        0o140000 => 6,
        0o120000 => 7,
        _ => 0,
    }
}

/// What a replay did.
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) overlay: LogOverlay,
    pub(crate) trees: u64,
    pub(crate) items: u64,
}

/// A replay in progress.
struct Replay<'v, 'a> {
    vol: &'v Volume<'a>,
    overlay: LogOverlay,
    bytes: u64,
    /// Transaction id of the replay (the generation after the last commit).
    transid: u64,
    no_holes: bool,
    sectorsize: u64,
    /// Items of the inode being processed are skipped (it had no links when logged).
    ignore_cur_inode: bool,
    items: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Inodes,
    DirIndex,
    All,
}

impl Replay<'_, '_> {
    fn ov(&self, tree: u64) -> Option<&TreeOverlay> {
        self.overlay.trees.get(&tree)
    }

    fn get(&self, t: TreeRoot, key: Key) -> R<Option<Vec<u8>>> {
        Ok(find(self.vol, t, self.ov(t.id), key)?)
    }

    fn put(&mut self, t: TreeRoot, key: Key, data: Vec<u8>) -> R<()> {
        self.bytes += data.len() as u64 + 32;
        if self.bytes > MAX_BYTES {
            return Err(Fail::Fatal(Error::Limit {
                what: "bytes of items replayed from the log trees".into(),
                limit: MAX_BYTES,
            }));
        }
        self.overlay
            .trees
            .entry(t.id)
            .or_default()
            .items
            .insert(key, Some(data));
        Ok(())
    }

    fn del(&mut self, t: TreeRoot, key: Key) {
        self.overlay
            .trees
            .entry(t.id)
            .or_default()
            .items
            .insert(key, None);
    }

    /// Items of `t` with keys in `min..=max`.
    fn range(&self, t: TreeRoot, min: Key, max: Key) -> R<Vec<(Key, Vec<u8>)>> {
        let mut out = Vec::new();
        walk(self.vol, t, self.ov(t.id), min, max, &mut |k, d| {
            out.push((k, d.to_vec()));
            Ok(Flow::Continue)
        })?;
        Ok(out)
    }

    fn inode(&self, t: TreeRoot, ino: u64) -> R<Option<Vec<u8>>> {
        let d = self.get(t, Key::new(ino, INODE_ITEM, 0))?;
        if let Some(d) = &d
            && d.len() < 160
        {
            return Err(bad(format!(
                "tree {} inode {ino}: inode item of {} bytes",
                t.id,
                d.len()
            )));
        }
        Ok(d)
    }

    fn inode_required(&self, t: TreeRoot, ino: u64) -> R<Vec<u8>> {
        self.inode(t, ino)?.ok_or_else(|| {
            bad(format!(
                "tree {} has no inode {ino}, which the log tree refers to",
                t.id
            ))
        })
    }

    /// Adds `delta` to the size of directory `dir`.
    fn dir_size(&mut self, t: TreeRoot, dir: u64, delta: i64) -> R<()> {
        let mut d = self.inode_required(t, dir)?;
        let size = le::u64(&d, 16).wrapping_add_signed(delta);
        set_u64(&mut d, 16, size);
        self.put(t, Key::new(dir, INODE_ITEM, 0), d)
    }

    /// The entry named `name` in the DIR_ITEM (or XATTR_ITEM) item at `key` of `t`.
    fn named_entry(&self, t: TreeRoot, key: Key, name: &[u8]) -> R<Option<Entry>> {
        let Some(d) = self.get(t, key)? else {
            return Ok(None);
        };
        Ok(entries(t.id, key, &d)?.into_iter().find(|e| e.name == name))
    }

    /// Removes one entry from a DIR_ITEM/DIR_INDEX/XATTR_ITEM item (the item if it was the last).
    fn delete_entry(&mut self, t: TreeRoot, key: Key, e: &Entry) -> R<()> {
        let Some(mut d) = self.get(t, key)? else {
            return Ok(());
        };
        if e.end - e.start == d.len() {
            self.del(t, key);
            Ok(())
        } else {
            d.drain(e.start..e.end);
            self.put(t, key, d)
        }
    }

    /// `btrfs_unlink_inode`: removes the name `name` of `ino` from `dir` (its back reference,
    /// both directory items) and shrinks the directory. The directory's times are left as
    /// logged: replay does not change them.
    fn unlink(&mut self, t: TreeRoot, dir: u64, ino: u64, name: &[u8]) -> R<()> {
        let rkey = Key::new(ino, INODE_REF, dir);
        let refs = match self.get(t, rkey)? {
            Some(d) => ref_names(t.id, rkey, &d)?
                .into_iter()
                .find(|r| r.name == name)
                .map(|r| (d, r)),
            None => None,
        };
        let Some((
            mut d,
            RefName {
                index, start, end, ..
            },
        )) = refs
        else {
            if self
                .range(
                    t,
                    Key::new(ino, INODE_EXTREF, 0),
                    Key::new(ino, INODE_EXTREF, u64::MAX),
                )?
                .is_empty()
            {
                return Err(bad(format!(
                    "tree {}: no reference of inode {ino} named {:?} in directory {dir} to \
                     unlink",
                    t.id,
                    String::from_utf8_lossy(name)
                )));
            }
            return Err(bad(
                "extended inode references (thousands of hard links in one directory) are \
                 not replayed",
            ));
        };
        if end - start == d.len() {
            self.del(t, rkey);
        } else {
            d.drain(start..end);
            self.put(t, rkey, d)?;
        }
        let dkey = Key::new(dir, DIR_ITEM, crc::name_hash(name));
        if let Some(e) = self.named_entry(t, dkey, name)? {
            self.delete_entry(t, dkey, &e)?;
        }
        let ikey = Key::new(dir, DIR_INDEX, index);
        if let Some(d) = self.get(t, ikey)?
            && entries(t.id, ikey, &d)?.iter().any(|e| e.name == name)
        {
            self.del(t, ikey);
        }
        self.dir_size(t, dir, -2 * name.len() as i64)
    }

    /// `btrfs_add_link`: names inode `ino` `name` in `dir` at `index`.
    fn add_link(
        &mut self,
        t: TreeRoot,
        dir: u64,
        ino: u64,
        name: &[u8],
        backref: bool,
        index: u64,
    ) -> R<bool> {
        let inode = self.inode_required(t, ino)?;
        let dkey = Key::new(dir, DIR_ITEM, crc::name_hash(name));
        if self.named_entry(t, dkey, name)?.is_some() {
            return Ok(false); // -EEXIST
        }
        if backref {
            let rkey = Key::new(ino, INODE_REF, dir);
            let mut d = self.get(t, rkey)?.unwrap_or_default();
            d.extend_from_slice(&index.to_le_bytes());
            d.extend_from_slice(&(name.len() as u16).to_le_bytes());
            d.extend_from_slice(name);
            self.put(t, rkey, d)?;
        }
        let mut entry = Vec::with_capacity(30 + name.len());
        entry.extend_from_slice(&ino.to_le_bytes());
        entry.push(INODE_ITEM);
        entry.extend_from_slice(&0u64.to_le_bytes());
        entry.extend_from_slice(&self.transid.to_le_bytes());
        entry.extend_from_slice(&0u16.to_le_bytes());
        entry.extend_from_slice(&(name.len() as u16).to_le_bytes());
        entry.push(ftype(mode_of(&inode)));
        entry.extend_from_slice(name);
        let mut d = self.get(t, dkey)?.unwrap_or_default();
        d.extend_from_slice(&entry);
        self.put(t, dkey, d)?;
        self.put(t, Key::new(dir, DIR_INDEX, index), entry)?;
        self.dir_size(t, dir, 2 * name.len() as i64)?;
        Ok(true)
    }

    /// `overwrite_item`: copies a log item into the subvolume tree, with the kernel's rules
    /// for inode items (a directory keeps the size its entries give it; an item logged only to
    /// say the inode exists changes nothing but a regular file's size).
    fn overwrite(&mut self, t: TreeRoot, key: Key, src: &[u8]) -> R<()> {
        let mut src = src.to_vec();
        let inode_item = key.kind == INODE_ITEM;
        if inode_item && src.len() < 160 {
            return Err(bad(format!(
                "log item {key}: inode item of {} bytes",
                src.len()
            )));
        }
        let dst = self.get(t, key)?;
        match &dst {
            Some(d) if d.len() == src.len() => {
                if *d == src {
                    return Ok(());
                }
                if inode_item {
                    set_u64(&mut src, 24, le::u64(d, 24));
                    if mode_of(&src) & S_IFMT == S_IFDIR {
                        set_u64(&mut src, 16, 0);
                    }
                }
            }
            Some(_) => {}
            None => {
                if inode_item {
                    set_u64(&mut src, 24, 0);
                    if mode_of(&src) & S_IFMT == S_IFDIR {
                        set_u64(&mut src, 16, 0);
                    }
                }
            }
        }
        if inode_item
            && let Some(mut d) = dst.clone()
            && d.len() >= 160
        {
            if le::u64(&src, 0) == 0 {
                let size = le::u64(&src, 16);
                if mode_of(&src) & S_IFMT == S_IFREG && mode_of(&d) & S_IFMT == S_IFREG && size != 0
                {
                    set_u64(&mut d, 16, size);
                    return self.put(t, key, d);
                }
                return Ok(());
            }
            if mode_of(&src) & S_IFMT == S_IFDIR && mode_of(&d) & S_IFMT == S_IFDIR {
                let saved = le::u64(&d, 16);
                set_u64(&mut src, 16, saved);
            }
        }
        if inode_item && le::u64(&src, 0) == 0 {
            set_u64(&mut src, 0, self.transid);
        }
        self.put(t, key, src)
    }

    /// `btrfs_drop_extents`: removes file `ino`'s extent items over `start..end`, trimming and
    /// splitting those that straddle its edges.
    fn drop_extents(&mut self, t: TreeRoot, ino: u64, start: u64, end: u64) -> R<()> {
        if start >= end {
            return Ok(());
        }
        let first = match search_le(
            self.vol,
            t,
            self.ov(t.id),
            Key::new(ino, EXTENT_DATA, start),
        )? {
            Some((k, _)) if k.objectid == ino && k.kind == EXTENT_DATA => k.offset,
            _ => start,
        };
        let items = self.range(
            t,
            Key::new(ino, EXTENT_DATA, first),
            Key::new(ino, EXTENT_DATA, end.saturating_sub(1)),
        )?;
        for (key, d) in items {
            let fe = file_extent(t.id, key, &d)?;
            let extent_end = match fe.kind {
                EXTENT_INLINE => key.offset.saturating_add(fe.ram_bytes),
                _ => key.offset.saturating_add(fe.num_bytes),
            };
            if extent_end <= start {
                continue;
            }
            if key.offset >= end {
                break;
            }
            let inline = fe.kind == EXTENT_INLINE;
            let not_inline = |what: &str| {
                bad(format!(
                    "tree {} item {key}: an inline extent would have to be {what}",
                    t.id
                ))
            };
            let piece = |off: u64, len: u64| {
                let mut p = d.clone();
                set_u64(&mut p, 37, fe.offset + off);
                set_u64(&mut p, 45, len);
                p
            };
            if key.offset < start && extent_end > end {
                if inline {
                    return Err(not_inline("split"));
                }
                self.put(t, key, piece(0, start - key.offset))?;
                self.put(
                    t,
                    Key::new(ino, EXTENT_DATA, end),
                    piece(end - key.offset, extent_end - end),
                )?;
                break;
            }
            if key.offset >= start && extent_end > end {
                if inline {
                    return Err(not_inline("trimmed"));
                }
                self.del(t, key);
                self.put(
                    t,
                    Key::new(ino, EXTENT_DATA, end),
                    piece(end - key.offset, extent_end - end),
                )?;
                break;
            }
            if key.offset < start {
                if inline {
                    return Err(not_inline("trimmed"));
                }
                self.put(t, key, piece(0, start - key.offset))?;
            } else {
                self.del(t, key);
            }
            if extent_end == end {
                break;
            }
        }
        Ok(())
    }

    /// `replay_xattr_deletes`: extended attributes of `ino` the log does not have are removed.
    fn xattr_deletes(&mut self, t: TreeRoot, log: TreeRoot, ino: u64) -> R<()> {
        let items = self.range(
            t,
            Key::new(ino, XATTR_ITEM, 0),
            Key::new(ino, XATTR_ITEM, u64::MAX),
        )?;
        for (key, d) in items {
            for e in entries(t.id, key, &d)? {
                let lkey = Key::new(ino, XATTR_ITEM, crc::name_hash(&e.name));
                let in_log = match self.vol.find(log, lkey)? {
                    Some(ld) => entries(log.id, lkey, &ld)?.iter().any(|l| l.name == e.name),
                    None => false,
                };
                if !in_log && let Some(cur) = self.named_entry(t, key, &e.name)? {
                    self.delete_entry(t, key, &cur)?;
                }
            }
        }
        Ok(())
    }

    /// `find_dir_range`: the range of directory indexes of `dir` the log is authoritative for
    /// that contains or follows `start`.
    fn dir_range(&self, log: TreeRoot, dir: u64, start: u64) -> R<Option<(u64, u64)>> {
        let key = Key::new(dir, DIR_LOG_INDEX, start);
        let range = |k: Key, d: &[u8]| -> R<(u64, u64)> {
            if d.len() < 8 {
                return Err(bad(format!(
                    "log tree item {k}: directory log range of {} bytes",
                    d.len()
                )));
            }
            Ok((k.offset, le::u64(d, 0)))
        };
        let Some((k, d)) = self.vol.search_le(log, key)? else {
            return Ok(None);
        };
        if k.objectid == dir && k.kind == DIR_LOG_INDEX {
            let (lo, hi) = range(k, &d)?;
            if start >= lo && start <= hi {
                return Ok(Some((lo, hi)));
            }
        }
        let Some(min) = succ(k) else {
            return Ok(None);
        };
        let mut next = None;
        self.vol.walk(
            log,
            min,
            Key::new(u64::MAX, u8::MAX, u64::MAX),
            &mut |k, d| {
                next = Some((k, d.to_vec()));
                Ok(Flow::Stop)
            },
        )?;
        match next {
            Some((k, d)) if k.objectid == dir && k.kind == DIR_LOG_INDEX => Ok(Some(range(k, &d)?)),
            _ => Ok(None),
        }
    }

    /// `replay_dir_deletes`: entries of directory `dir` in the ranges the log covers that the
    /// log does not have are unlinked.
    fn dir_deletes(&mut self, t: TreeRoot, log: TreeRoot, dir: u64) -> R<()> {
        if self.inode(t, dir)?.is_none() {
            return Ok(());
        }
        let mut start = 0u64;
        let mut guard = 0usize;
        while let Some((lo, hi)) = self.dir_range(log, dir, start)? {
            guard += 1;
            if guard > MAX_RETRIES {
                return Err(bad(format!("directory {dir}: too many log ranges")));
            }
            let items = self.range(
                t,
                Key::new(dir, DIR_INDEX, lo),
                Key::new(dir, DIR_INDEX, hi),
            )?;
            for (key, d) in items {
                for e in entries(t.id, key, &d)? {
                    let in_log = match self.vol.find(log, key)? {
                        Some(ld) => entries(log.id, key, &ld)?.iter().any(|l| l.name == e.name),
                        None => false,
                    };
                    if !in_log {
                        if e.location.kind != INODE_ITEM {
                            return Err(bad(format!(
                                "directory {dir}: replaying the removal of subvolume entry {:?} \
                                 is not supported",
                                String::from_utf8_lossy(&e.name)
                            )));
                        }
                        self.inode_required(t, e.location.objectid)?;
                        self.unlink(t, dir, e.location.objectid, &e.name)?;
                    }
                }
            }
            if hi == u64::MAX {
                break;
            }
            start = hi + 1;
        }
        Ok(())
    }

    /// Whether the log has a back reference of `ino` in `parent` named `name`.
    fn backref_in_log(&self, log: TreeRoot, ino: u64, parent: u64, name: &[u8]) -> R<bool> {
        let key = Key::new(ino, INODE_REF, parent);
        Ok(match self.vol.find(log, key)? {
            Some(d) => ref_names(log.id, key, &d)?.iter().any(|r| r.name == name),
            None => false,
        })
    }

    /// `drop_one_dir_item`: unlinks the inode entry `e` names from `dir`.
    fn drop_dir_entry(&mut self, t: TreeRoot, dir: u64, e: &Entry) -> R<()> {
        if e.location.kind != INODE_ITEM {
            return Err(bad(format!(
                "directory {dir}: replaying over subvolume entry {:?} is not supported",
                String::from_utf8_lossy(&e.name)
            )));
        }
        self.inode_required(t, e.location.objectid)?;
        self.unlink(t, dir, e.location.objectid, &e.name)
    }

    /// `replay_one_name` for one DIR_INDEX item of the log.
    fn replay_dir_index(&mut self, t: TreeRoot, log: TreeRoot, key: Key, d: &[u8]) -> R<()> {
        let dir = key.objectid;
        self.inode_required(t, dir)?;
        for e in entries(log.id, key, d)? {
            let exists = self.inode(t, e.location.objectid)?.is_some();
            let mut matches = [false; 2];
            let dkey = Key::new(dir, DIR_ITEM, crc::name_hash(&e.name));
            for (i, k) in [dkey, key].into_iter().enumerate() {
                if let Some(dst) = self.named_entry(t, k, &e.name)? {
                    if dst.location == e.location && dst.kind == e.kind {
                        matches[i] = true;
                    } else if exists {
                        self.drop_dir_entry(t, dir, &dst)?;
                    }
                }
            }
            if matches == [true, true] {
                continue;
            }
            if self.backref_in_log(log, e.location.objectid, dir, &e.name)? {
                continue; // the name is added when the back reference is replayed
            }
            if e.location.kind != INODE_ITEM || !exists {
                continue;
            }
            self.add_link(t, dir, e.location.objectid, &e.name, true, key.offset)?;
        }
        Ok(())
    }

    /// `add_inode_ref` for one INODE_REF item of the log.
    fn replay_inode_ref(&mut self, t: TreeRoot, log: TreeRoot, key: Key, d: &[u8]) -> R<()> {
        let (ino, parent) = (key.objectid, key.offset);
        if self.inode(t, parent)?.is_none() {
            return Ok(()); // the parent directory was not logged
        }
        self.inode_required(t, ino)?;
        for r in ref_names(log.id, key, d)? {
            if self.inode_in_dir(t, parent, ino, r.index, &r.name)? {
                continue;
            }
            if self.conflicts(t, log, parent, ino, r.index, &r.name)? {
                return Ok(()); // a back reference of the root directory
            }
            self.add_link(t, parent, ino, &r.name, false, r.index)?;
        }
        // Names the subvolume has for this parent and the log does not are unlinked.
        let mut guard = 0;
        loop {
            guard += 1;
            if guard > MAX_RETRIES {
                return Err(bad(format!("inode {ino}: too many names to unlink")));
            }
            let Some(cur) = self.get(t, key)? else {
                break;
            };
            let logged = ref_names(log.id, key, d)?;
            let stale = ref_names(t.id, key, &cur)?
                .into_iter()
                .find(|n| !logged.iter().any(|l| l.name == n.name));
            match stale {
                Some(n) => self.unlink(t, parent, ino, &n.name)?,
                None => break,
            }
        }
        self.overwrite(t, key, d)
    }

    /// `inode_in_dir`: `dir` already names `ino` `name` at `index`, in both directory items.
    fn inode_in_dir(&self, t: TreeRoot, dir: u64, ino: u64, index: u64, name: &[u8]) -> R<bool> {
        let ikey = Key::new(dir, DIR_INDEX, index);
        let Some(e) = self.named_entry(t, ikey, name)? else {
            return Ok(false);
        };
        if e.location.objectid != ino {
            return Ok(false);
        }
        let dkey = Key::new(dir, DIR_ITEM, crc::name_hash(name));
        Ok(self
            .named_entry(t, dkey, name)?
            .is_some_and(|e| e.location.objectid == ino))
    }

    /// `__add_inode_ref`: clears what conflicts with naming `ino` `name` in `dir` at `index`.
    /// True when the reference is the root directory's own, which is left alone.
    fn conflicts(
        &mut self,
        t: TreeRoot,
        log: TreeRoot,
        dir: u64,
        ino: u64,
        index: u64,
        name: &[u8],
    ) -> R<bool> {
        let rkey = Key::new(ino, INODE_REF, dir);
        for _ in 0..MAX_RETRIES {
            let Some(cur) = self.get(t, rkey)? else {
                break;
            };
            if ino == dir {
                return Ok(true);
            }
            let mut victim = None;
            for n in ref_names(t.id, rkey, &cur)? {
                if !self.backref_in_log(log, ino, dir, &n.name)? {
                    victim = Some(n.name);
                    break;
                }
            }
            match victim {
                Some(n) => self.unlink(t, dir, ino, &n)?,
                None => break,
            }
        }
        if !self
            .range(
                t,
                Key::new(ino, INODE_EXTREF, 0),
                Key::new(ino, INODE_EXTREF, u64::MAX),
            )?
            .is_empty()
        {
            return Err(bad(
                "extended inode references (thousands of hard links in one directory) are not \
                 replayed",
            ));
        }
        let ikey = Key::new(dir, DIR_INDEX, index);
        if let Some(e) = self.named_entry(t, ikey, name)? {
            self.drop_dir_entry(t, dir, &e)?;
        }
        let dkey = Key::new(dir, DIR_ITEM, crc::name_hash(name));
        if let Some(e) = self.named_entry(t, dkey, name)? {
            self.drop_dir_entry(t, dir, &e)?;
        }
        Ok(false)
    }

    /// `replay_one_extent`.
    fn replay_extent(&mut self, t: TreeRoot, key: Key, d: &[u8]) -> R<()> {
        let fe = file_extent(t.id, key, d)?;
        let start = key.offset;
        let end = match fe.kind {
            EXTENT_REG | EXTENT_PREALLOC => start.saturating_add(fe.num_bytes),
            EXTENT_INLINE => {
                start
                    .saturating_add(fe.ram_bytes)
                    .saturating_add(self.sectorsize - 1)
                    / self.sectorsize
                    * self.sectorsize
            }
            k => {
                return Err(bad(format!(
                    "log item {key}: file extent type {k}, expected 0, 1 or 2"
                )));
            }
        };
        self.inode_required(t, key.objectid)?;
        if fe.kind != EXTENT_INLINE
            && let Some(cur) = self.get(t, key)?
            && cur.len() >= EXTENT_ITEM_LEN
            && cur[..EXTENT_ITEM_LEN] == d[..EXTENT_ITEM_LEN]
        {
            return Ok(());
        }
        self.drop_extents(t, key.objectid, start, end)?;
        match fe.kind {
            EXTENT_INLINE => self.overwrite(t, key, d),
            _ if fe.disk_bytenr == 0 && self.no_holes => Ok(()),
            _ => self.put(t, key, d[..EXTENT_ITEM_LEN].to_vec()),
        }
    }

    /// Processes the items of one log tree in one stage (`replay_one_buffer` over every leaf).
    fn stage(&mut self, stage: Stage, t: TreeRoot, log: TreeRoot) -> R<()> {
        let mut items = Vec::new();
        let mut bytes = 0u64;
        self.vol
            .walk(
                log,
                Key::new(0, 0, 0),
                Key::new(u64::MAX, u8::MAX, u64::MAX),
                &mut |k, d| {
                    bytes += d.len() as u64 + 32;
                    if bytes > MAX_BYTES {
                        return Err(Error::Limit {
                            what: format!("bytes of items in the log tree of tree {}", t.id),
                            limit: MAX_BYTES,
                        });
                    }
                    items.push((k, d.to_vec()));
                    Ok(Flow::Continue)
                },
            )
            .map_err(|e| match e {
                e @ Error::Limit { .. } => Fail::Fatal(e),
                e => Fail::from(e),
            })?;
        for (key, d) in items {
            if key.kind == INODE_ITEM {
                if d.len() < 160 {
                    return Err(bad(format!(
                        "log tree of tree {}: inode item {key} of {} bytes",
                        t.id,
                        d.len()
                    )));
                }
                self.ignore_cur_inode = le::u32(&d, 40) == 0;
                if self.ignore_cur_inode {
                    continue;
                }
                if stage == Stage::Inodes {
                    self.items += 1;
                    self.xattr_deletes(t, log, key.objectid)?;
                    let mode = mode_of(&d);
                    if mode & S_IFMT == S_IFDIR {
                        self.dir_deletes(t, log, key.objectid)?;
                    }
                    self.overwrite(t, key, &d)?;
                    if mode & S_IFMT == S_IFREG {
                        let inode = self.inode_required(t, key.objectid)?;
                        let size = le::u64(&inode, 16);
                        let from = size.div_ceil(self.sectorsize) * self.sectorsize;
                        self.drop_extents(t, key.objectid, from, u64::MAX)?;
                    }
                }
            }
            if self.ignore_cur_inode {
                continue;
            }
            match (stage, key.kind) {
                (Stage::DirIndex, DIR_INDEX) => {
                    self.items += 1;
                    self.replay_dir_index(t, log, key, &d)?;
                }
                (Stage::All, XATTR_ITEM) => {
                    self.items += 1;
                    self.overwrite(t, key, &d)?;
                }
                (Stage::All, INODE_REF) => {
                    self.items += 1;
                    self.replay_inode_ref(t, log, key, &d)?;
                }
                (Stage::All, INODE_EXTREF) => {
                    return Err(bad(
                        "extended inode references (thousands of hard links in one directory) \
                         are not replayed",
                    ));
                }
                (Stage::All, EXTENT_DATA) => {
                    self.items += 1;
                    self.replay_extent(t, key, &d)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Root of the subvolume tree `id` as the root tree names it; `None` when it is gone.
fn subvol_root(vol: &Volume<'_>, id: u64) -> R<Option<TreeRoot>> {
    let key = Key::new(id, ROOT_ITEM, u64::MAX);
    Ok(match vol.search_le(vol.root_tree(), key)? {
        Some((k, d)) if k.objectid == id && k.kind == ROOT_ITEM => Some(root_item_root(id, k, &d)?),
        _ => None,
    })
}

/// The tree root a ROOT_ITEM points to.
fn root_item_root(id: u64, k: Key, d: &[u8]) -> R<TreeRoot> {
    if d.len() < 239 {
        return Err(bad(format!("root item {k} of {} bytes", d.len())));
    }
    let level = d[0xee];
    if level > MAX_LEVEL {
        return Err(bad(format!("root item {k}: level {level}")));
    }
    Ok(TreeRoot {
        id,
        bytenr: le::u64(d, 0xb0),
        level,
    })
}

/// Replays the log trees under the log root tree `log_root` (`btrfs_recover_log_trees`).
pub(crate) fn replay(vol: &Volume<'_>, log_root: TreeRoot) -> R<Replayed> {
    let mut logs = Vec::new();
    vol.walk(
        log_root,
        Key::new(TREE_LOG_OBJECTID, ROOT_ITEM, 0),
        Key::new(TREE_LOG_OBJECTID, ROOT_ITEM, u64::MAX),
        &mut |k, d| {
            if logs.len() >= MAX_LOG_TREES {
                return Err(Error::Limit {
                    what: "log trees in the log root tree".into(),
                    limit: MAX_LOG_TREES as u64,
                });
            }
            logs.push((k, d.to_vec()));
            Ok(Flow::Continue)
        },
    )?;
    // The kernel goes from the highest subvolume id down.
    logs.reverse();
    let mut trees = Vec::new();
    for (k, d) in &logs {
        let log = root_item_root(TREE_LOG_OBJECTID, *k, d)?;
        let id = k.offset;
        if id != FS_TREE && id < 256 {
            return Err(bad(format!("a log tree for tree {id}, not a subvolume")));
        }
        // A subvolume deleted since it was logged is skipped.
        if let Some(t) = subvol_root(vol, id)? {
            trees.push((t, log));
        }
    }
    let mut r = Replay {
        vol,
        overlay: LogOverlay::default(),
        bytes: 0,
        transid: vol.sb.generation + 1,
        no_holes: vol.sb.no_holes,
        sectorsize: u64::from(vol.sb.sectorsize),
        ignore_cur_inode: false,
        items: 0,
    };
    for stage in [Stage::Inodes, Stage::DirIndex, Stage::All] {
        for &(t, log) in &trees {
            r.stage(stage, t, log)?;
        }
    }
    Ok(Replayed {
        overlay: r.overlay,
        trees: trees.len() as u64,
        items: r.items,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The overlay's items replace, add to and delete from the tree's in every kind of read.
    #[test]
    fn reads_merge_the_overlay_into_the_tree() {
        let vol = Volume::open(crate::hostile_tests::mkfs_image()).unwrap();
        let t = subvol_root(&vol, FS_TREE).unwrap().unwrap();
        let all = |ov: Option<&TreeOverlay>| {
            let mut keys = Vec::new();
            walk(
                &vol,
                t,
                ov,
                Key::new(0, 0, 0),
                Key::new(u64::MAX, u8::MAX, u64::MAX),
                &mut |k, d| {
                    keys.push((k, d.to_vec()));
                    Ok(Flow::Continue)
                },
            )
            .unwrap();
            keys
        };
        let base = all(None);
        assert!(base.len() > 600, "{}", base.len());
        let (k1, k2, k3) = (base[10].0, base[11].0, base[300].0);
        let mut ov = TreeOverlay::default();
        ov.items.insert(k1, None);
        ov.items.insert(k2, Some(b"replaced".to_vec()));
        let new = Key::new(k3.objectid, k3.kind, k3.offset + 1);
        assert!(base.iter().all(|(k, _)| *k != new));
        ov.items.insert(new, Some(b"added".to_vec()));
        let last = Key::new(u64::MAX - 10, 1, 0);
        ov.items.insert(last, Some(b"at the end".to_vec()));
        let merged = all(Some(&ov));
        assert_eq!(merged.len(), base.len() + 1);
        assert!(merged.iter().all(|(k, _)| *k != k1));
        assert!(merged.windows(2).all(|w| w[0].0 < w[1].0));
        let get = |k: Key| merged.iter().find(|(m, _)| *m == k).map(|(_, d)| d.clone());
        assert_eq!(get(k2).unwrap(), b"replaced");
        assert_eq!(get(new).unwrap(), b"added");
        assert_eq!(merged.last().unwrap().0, last);
        assert_eq!(find(&vol, t, Some(&ov), k1).unwrap(), None);
        assert_eq!(find(&vol, t, Some(&ov), k2).unwrap().unwrap(), b"replaced");
        assert_eq!(
            find(&vol, t, Some(&ov), base[12].0).unwrap(),
            Some(base[12].1.clone())
        );
        // At or below a deleted key: the item before it.
        assert_eq!(
            search_le(&vol, t, Some(&ov), k1).unwrap().unwrap().0,
            base[9].0
        );
        assert_eq!(search_le(&vol, t, Some(&ov), new).unwrap().unwrap().0, new);
        assert_eq!(
            search_le(&vol, t, Some(&ov), k2).unwrap().unwrap().1,
            b"replaced"
        );
        // A walk stopped early stops, in the tree and in the overlay alike.
        let mut n = 0;
        walk(
            &vol,
            t,
            Some(&ov),
            k2,
            Key::new(u64::MAX, u8::MAX, u64::MAX),
            &mut |_, _| {
                n += 1;
                Ok(if n == 3 { Flow::Stop } else { Flow::Continue })
            },
        )
        .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn key_neighbours() {
        let k = Key::new(5, 1, 0);
        assert_eq!(pred(k), Some(Key::new(5, 0, u64::MAX)));
        assert_eq!(succ(Key::new(5, 255, u64::MAX)), Some(Key::new(6, 0, 0)));
        assert_eq!(pred(Key::new(0, 0, 0)), None);
        assert_eq!(succ(Key::new(u64::MAX, u8::MAX, u64::MAX)), None);
    }
}
