//! Directory indexes (`$I30`): the B-tree of `$FILE_NAME` keys in `$INDEX_ROOT` and the `INDX`
//! records of `$INDEX_ALLOCATION`, listed in order or searched with the volume's `$UpCase`
//! collation.

use std::cmp::Ordering;
use std::collections::HashSet;

use crate::Error;
use crate::disk::{
    AT_INDEX_ALLOCATION, AT_INDEX_ROOT, Body, Record, Stream, Volume, fixup, u16_at, u32_at,
    u64_at, units,
};

/// B-trees deeper than this are refused (real directory indexes stay below 10 levels).
const MAX_DEPTH: usize = 64;
/// Most names one directory listing returns (WinSxS, the largest Windows keeps, has ~100 000).
const MAX_ENTRIES: usize = 1 << 20;
/// Most index records one listing or lookup reads (64 MiB of 4 KiB records).
const MAX_NODES: usize = 1 << 14;

/// Index entry flags.
const ENTRY_SUBNODE: u16 = 0x01;
const ENTRY_LAST: u16 = 0x02;

/// `$FILE_NAME` namespace of names that exist only as DOS 8.3 aliases.
pub(crate) const NAMESPACE_DOS: u8 = 2;

/// One file name in a directory.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) record: u64,
    pub(crate) name: Vec<u16>,
    pub(crate) namespace: u8,
    /// File attribute flags from the `$FILE_NAME` key (`FILE_ATTRIBUTE_*`).
    pub(crate) attributes: u32,
}

/// An entry of one node: its key (absent on the last entry) and its child node.
#[derive(Debug)]
struct NodeEntry {
    key: Option<Entry>,
    subnode: Option<u64>,
}

/// The `$I30` index of one directory.
pub(crate) struct Index<'v> {
    vol: &'v Volume,
    root: Vec<NodeEntry>,
    alloc: Option<Stream>,
    record_size: usize,
    vcn_unit: u64,
    /// File offset of the `$INDEX_ROOT` attribute, for errors.
    at: u64,
    dir: u64,
}

fn i30() -> Vec<u16> {
    "$I30".encode_utf16().collect()
}

impl<'v> Index<'v> {
    pub(crate) fn open(vol: &'v Volume, dir: &Record) -> Result<Index<'v>, Error> {
        let name = i30();
        let root_attr = dir
            .attrs
            .iter()
            .find(|a| a.ty == AT_INDEX_ROOT && a.name == name)
            .ok_or_else(|| Error::Invalid {
                what: format!("directory (MFT record {})", dir.number),
                offset: 0,
                expected: "an $INDEX_ROOT named $I30".into(),
                found: "none".into(),
            })?;
        let Body::Resident(root) = &root_attr.body else {
            return Err(Error::Invalid {
                what: format!("$INDEX_ROOT of MFT record {}", dir.number),
                offset: root_attr.at,
                expected: "a resident attribute".into(),
                found: "non-resident".into(),
            });
        };
        let record_size = u32_at(root, 8) as usize;
        if !(512..=65536).contains(&record_size) || !record_size.is_power_of_two() {
            return Err(Error::Invalid {
                what: format!(
                    "index record size in $INDEX_ROOT of MFT record {}",
                    dir.number
                ),
                offset: root_attr.at,
                expected: "a power of two in 512..=65536".into(),
                found: format!("{record_size:#x}"),
            });
        }
        let cs = vol.boot.cluster_size;
        let vcn_unit = if record_size as u64 >= cs { cs } else { 512 };
        let entries = node_entries(root, 16, root_attr.at, dir.number)?;
        let alloc = vol.named_stream(dir, AT_INDEX_ALLOCATION, &name)?;
        Ok(Index {
            vol,
            root: entries,
            alloc,
            record_size,
            vcn_unit,
            at: root_attr.at,
            dir: dir.number,
        })
    }

    /// Reads the `INDX` record at `vcn` and returns its entries.
    fn node(&self, vcn: u64) -> Result<Vec<NodeEntry>, Error> {
        let alloc = self.alloc.as_ref().ok_or_else(|| Error::Invalid {
            what: format!("directory index of MFT record {}", self.dir),
            offset: self.at,
            expected: "an $INDEX_ALLOCATION for its sub-nodes".into(),
            found: "none".into(),
        })?;
        let size = self.record_size as u64;
        let pos = vcn
            .checked_mul(self.vcn_unit)
            .filter(|p| p.checked_add(size).is_some_and(|e| e <= alloc.len()))
            .ok_or_else(|| Error::Invalid {
                what: format!("index sub-node VCN in MFT record {}", self.dir),
                offset: self.at,
                expected: format!("inside the {:#x}-byte $INDEX_ALLOCATION", alloc.len()),
                found: format!("VCN {vcn:#x}"),
            })?;
        let mut rec = vec![0u8; self.record_size];
        self.vol
            .read_stream(alloc, pos, &mut rec, "$INDEX_ALLOCATION")?;
        let what = || format!("index record VCN {vcn:#x} of MFT record {}", self.dir);
        if &rec[0..4] != b"INDX" {
            return Err(Error::Invalid {
                what: what(),
                offset: pos,
                expected: "signature \"INDX\"".into(),
                found: format!("{:?}", rec[0..4].escape_ascii().to_string()),
            });
        }
        fixup(&mut rec, &what, pos)?;
        let stored = u64_at(&rec, 0x10);
        if stored != vcn {
            return Err(Error::Invalid {
                what: what(),
                offset: pos + 0x10,
                expected: format!("its own VCN {vcn:#x}"),
                found: format!("{stored:#x}"),
            });
        }
        node_entries(&rec, 0x18, pos, self.dir)
    }

    /// Every entry in collation order.
    pub(crate) fn list(&self) -> Result<Vec<Entry>, Error> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.walk(&self.root, 0, &mut seen, &mut out)?;
        Ok(out)
    }

    fn walk(
        &self,
        entries: &[NodeEntry],
        depth: usize,
        seen: &mut HashSet<u64>,
        out: &mut Vec<Entry>,
    ) -> Result<(), Error> {
        for e in entries {
            if let Some(vcn) = e.subnode {
                self.descend(vcn, depth, seen)
                    .and_then(|child| self.walk(&child, depth + 1, seen, out))?;
            }
            if let Some(k) = &e.key {
                if out.len() >= MAX_ENTRIES {
                    return Err(Error::TooLarge {
                        what: format!("directory index of MFT record {}", self.dir),
                        offset: self.at,
                        size: out.len() as u64 + 1,
                        limit: MAX_ENTRIES as u64,
                    });
                }
                out.push(k.clone());
            }
        }
        Ok(())
    }

    /// The node at `vcn`, checking it has not been visited and the tree is not too deep.
    fn descend(
        &self,
        vcn: u64,
        depth: usize,
        seen: &mut HashSet<u64>,
    ) -> Result<Vec<NodeEntry>, Error> {
        if !seen.insert(vcn) {
            return Err(Error::Loop {
                what: format!("index sub-node VCN {vcn:#x} of MFT record {}", self.dir),
                offset: self.at,
            });
        }
        if seen.len() > MAX_NODES {
            return Err(Error::TooLarge {
                what: format!(
                    "index records read from the directory of MFT record {}",
                    self.dir
                ),
                offset: self.at,
                size: seen.len() as u64,
                limit: MAX_NODES as u64,
            });
        }
        if depth >= MAX_DEPTH {
            return Err(Error::TooLarge {
                what: format!("depth of the directory index of MFT record {}", self.dir),
                offset: self.at,
                size: depth as u64,
                limit: MAX_DEPTH as u64,
            });
        }
        self.node(vcn)
    }

    /// The entry whose name equals `name` under `upcase` collation, if any.
    pub(crate) fn find(&self, name: &[u16], upcase: &[u16]) -> Result<Option<Entry>, Error> {
        let mut seen = HashSet::new();
        let mut node = None::<Vec<NodeEntry>>;
        for depth in 0..=MAX_DEPTH {
            let entries = node.as_deref().unwrap_or(&self.root);
            let mut next = None;
            for e in entries {
                if let Some(k) = &e.key {
                    match collate(name, &k.name, upcase) {
                        Ordering::Equal => return Ok(Some(k.clone())),
                        Ordering::Greater => continue,
                        Ordering::Less => {}
                    }
                }
                next = e.subnode;
                break;
            }
            match next {
                Some(vcn) => node = Some(self.descend(vcn, depth, &mut seen)?),
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// Compares two names as NTFS orders `$FILE_NAME` keys: code unit by code unit after
/// upper-casing through the volume's table, a shorter prefix first.
pub(crate) fn collate(a: &[u16], b: &[u16], upcase: &[u16]) -> Ordering {
    let up = |c: u16| upcase.get(usize::from(c)).copied().unwrap_or(c);
    a.iter().map(|&c| up(c)).cmp(b.iter().map(|&c| up(c)))
}

/// Parses the entries of one index node whose header starts at `hdr` in `buf`.
fn node_entries(buf: &[u8], hdr: usize, at: u64, dir: u64) -> Result<Vec<NodeEntry>, Error> {
    let bad = |what: &str, off: usize, expected: String, found: u64| Error::Invalid {
        what: format!("{what} in the index of MFT record {dir}"),
        offset: at + off as u64,
        expected,
        found: format!("{found:#x}"),
    };
    let start = hdr.saturating_add(u32_at(buf, hdr) as usize);
    let end = hdr.saturating_add(u32_at(buf, hdr + 4) as usize);
    if hdr + 16 > buf.len() || start < hdr + 16 || start > end || end > buf.len() {
        return Err(bad(
            "index node header",
            hdr,
            format!("entries inside the {:#x}-byte node", buf.len()),
            (end as u64) << 32 | start as u64,
        ));
    }
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let len = usize::from(u16_at(buf, pos + 8));
        let key_len = usize::from(u16_at(buf, pos + 10));
        let flags = u16_at(buf, pos + 12);
        if len < 16 || pos + len > end {
            return Err(bad(
                "index entry length",
                pos + 8,
                format!("16..={:#x}", end - pos),
                len as u64,
            ));
        }
        let e = &buf[pos..pos + len];
        let subnode = if flags & ENTRY_SUBNODE != 0 {
            if len < 24 {
                return Err(bad(
                    "index entry with a sub-node",
                    pos + 8,
                    "a length of at least 24".into(),
                    len as u64,
                ));
            }
            Some(u64_at(e, len - 8))
        } else {
            None
        };
        if flags & ENTRY_LAST != 0 {
            out.push(NodeEntry { key: None, subnode });
            return Ok(out);
        }
        let key = e
            .get(16..16 + key_len)
            .filter(|k| k.len() >= 66)
            .ok_or_else(|| {
                bad(
                    "index entry key length",
                    pos + 10,
                    format!("66..={:#x}", len.saturating_sub(16)),
                    key_len as u64,
                )
            })?;
        let name_len = usize::from(key[64]) * 2;
        let name = key.get(66..66 + name_len).ok_or_else(|| {
            bad(
                "file name length",
                pos + 16 + 64,
                format!("a name inside the {key_len:#x}-byte key"),
                name_len as u64,
            )
        })?;
        out.push(NodeEntry {
            key: Some(Entry {
                record: u64_at(e, 0) & 0x0000_ffff_ffff_ffff,
                name: units(name),
                namespace: key[65],
                attributes: u32_at(key, 56),
            }),
            subnode,
        });
        pos += len;
    }
    // A node without its end entry: everything before it still counts.
    Ok(out)
}
