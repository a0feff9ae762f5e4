//! `VS_VERSIONINFO`, the tree of blocks a version resource holds.
//!
//! Every block starts with `wLength` (the block's bytes, children included), `wValueLength`,
//! `wType` (0 binary, 1 text) and a NUL-terminated UTF-16 key; the value starts at the next
//! 32-bit boundary, and the children at the boundary after the value. The root
//! (`VS_VERSION_INFO`) holds a `VS_FIXEDFILEINFO` as its value and `StringFileInfo` /
//! `VarFileInfo` as children; `StringFileInfo` holds string tables keyed by language and code
//! page (`040904b0`), and those hold the strings. Offsets in errors are file offsets.

use crate::{Error, Version4, VersionInfo};

/// `VS_FIXEDFILEINFO.dwSignature`.
const FIXED_SIGNATURE: u32 = 0xfeef_04bd;
/// Size of `VS_FIXEDFILEINFO`.
const FIXED_LEN: usize = 52;
/// Header of a block: wLength, wValueLength, wType.
const HEADER: usize = 6;

/// The `VS_FIXEDFILEINFO` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedFileInfo {
    /// `dwFileVersionMS` / `LS`.
    pub file_version: Version4,
    /// `dwProductVersionMS` / `LS`.
    pub product_version: Version4,
    /// `dwFileFlags` masked by `dwFileFlagsMask` (`VS_FF_DEBUG` 1, `VS_FF_PRERELEASE` 2, …).
    pub file_flags: u32,
    /// `dwFileOS` (`VOS_NT_WINDOWS32` 0x40004, …).
    pub file_os: u32,
    /// `dwFileType` (`VFT_APP` 1, `VFT_DLL` 2, `VFT_DRV` 3, …).
    pub file_type: u32,
}

/// One string table of `StringFileInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringTable {
    /// Language and code page as eight hex digits (`040904b0`).
    pub key: String,
    /// Name and value of each string, in file order.
    pub strings: Vec<(String, String)>,
}

/// One block's header and where its parts are (offsets relative to the resource).
struct Block {
    at: usize,
    end: usize,
    value_len: usize,
    key: String,
    value_at: usize,
}

/// Decodes a version resource: `bytes` is the resource's data, found at file offset `base`.
pub fn parse_version_info(bytes: &[u8], base: u64) -> Result<VersionInfo, Error> {
    let p = Parser { bytes, base };
    let root = p.block(0, bytes.len(), "VS_VERSIONINFO")?;
    if root.key != "VS_VERSION_INFO" {
        return Err(Error::Invalid {
            what: "VS_VERSIONINFO key",
            offset: p.file(root.at + HEADER),
            expected: "\"VS_VERSION_INFO\"".into(),
            found: format!("{:?}", root.key),
        });
    }
    let fixed = match root.value_len {
        0 => None,
        FIXED_LEN => Some(p.fixed(root.value_at, root.end)?),
        n => {
            return Err(Error::Invalid {
                what: "VS_VERSIONINFO wValueLength",
                offset: p.file(root.at + 2),
                expected: format!("0 or {FIXED_LEN} (VS_FIXEDFILEINFO)"),
                found: n.to_string(),
            });
        }
    };
    let mut string_tables = Vec::new();
    let children = align4(root.value_at + root.value_len);
    for child in p.children(children, root.end, "StringFileInfo or VarFileInfo")? {
        if child.key != "StringFileInfo" {
            continue;
        }
        let start = align4(child.value_at + child.value_len);
        for table in p.children(start, child.end, "string table")? {
            let mut strings = Vec::new();
            let start = align4(table.value_at + table.value_len);
            for s in p.children(start, table.end, "String")? {
                let value = p.text(s.value_at, s.end);
                strings.push((s.key, value));
            }
            string_tables.push(StringTable {
                key: table.key,
                strings,
            });
        }
    }
    Ok(VersionInfo {
        offset: base,
        language: 0,
        fixed,
        string_tables,
    })
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

struct Parser<'a> {
    bytes: &'a [u8],
    base: u64,
}

impl Parser<'_> {
    fn file(&self, at: usize) -> u64 {
        self.base.saturating_add(at as u64)
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b = self.bytes.get(at..at.checked_add(2)?)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b = self.bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The block at `at`, which must end by `limit` (its parent's end).
    fn block(&self, at: usize, limit: usize, what: &'static str) -> Result<Block, Error> {
        let truncated = |needed: usize, available: usize| Error::Truncated {
            what,
            offset: self.file(at),
            needed: needed as u64,
            available: available as u64,
            within: "the enclosing block",
        };
        let room = limit.saturating_sub(at);
        if room < HEADER {
            return Err(truncated(HEADER, room));
        }
        let len = usize::from(self.u16_at(at).unwrap_or(0));
        let value_len = usize::from(self.u16_at(at + 2).unwrap_or(0));
        let kind = self.u16_at(at + 4).unwrap_or(0);
        if len < HEADER + 2 {
            return Err(Error::Invalid {
                what,
                offset: self.file(at),
                expected: format!("wLength of at least {}", HEADER + 2),
                found: format!("wLength {len}"),
            });
        }
        if len > room {
            return Err(truncated(len, room));
        }
        let end = at + len;
        if kind > 1 {
            return Err(Error::Invalid {
                what,
                offset: self.file(at + 4),
                expected: "wType 0 (binary) or 1 (text)".into(),
                found: format!("wType {kind}"),
            });
        }
        // The key: UTF-16 up to its NUL, inside the block.
        let mut units = Vec::new();
        let mut i = at + HEADER;
        loop {
            match self.u16_at(i) {
                Some(0) if i + 2 <= end => break,
                Some(u) if i + 2 <= end => units.push(u),
                _ => {
                    return Err(Error::Invalid {
                        what,
                        offset: self.file(at + HEADER),
                        expected: "a NUL-terminated UTF-16 key inside the block".into(),
                        found: format!("no NUL before the block's end at {:#x}", self.file(end)),
                    });
                }
            }
            i += 2;
        }
        let key = String::from_utf16_lossy(&units);
        // A value starts at the next 32-bit boundary; an empty one may have none inside.
        let value_at = align4(i + 2).min(end);
        // Text values count UTF-16 units (some compilers write bytes); binary ones count bytes.
        let value_bytes = if kind == 1 { value_len * 2 } else { value_len };
        if kind == 0 && value_at + value_bytes > end {
            return Err(Error::Truncated {
                what,
                offset: self.file(value_at),
                needed: value_bytes as u64,
                available: end.saturating_sub(value_at) as u64,
                within: "its block (wValueLength)",
            });
        }
        Ok(Block {
            at,
            end,
            value_len: value_bytes.min(end - value_at),
            key,
            value_at,
        })
    }

    /// The blocks from `start` up to `end`. A zero `wLength` where a child would start is
    /// padding some linkers leave: the list ends there.
    fn children(&self, start: usize, end: usize, what: &'static str) -> Result<Vec<Block>, Error> {
        let mut out = Vec::new();
        let mut at = start;
        while at + HEADER <= end {
            if self.u16_at(at) == Some(0) {
                break;
            }
            let b = self.block(at, end, what)?;
            at = align4(b.end);
            out.push(b);
        }
        Ok(out)
    }

    /// A text value: UTF-16 up to its NUL or the block's end.
    fn text(&self, at: usize, end: usize) -> String {
        let units: Vec<u16> = (at..end)
            .step_by(2)
            .map_while(|i| self.u16_at(i).filter(|_| i + 2 <= end))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }

    fn fixed(&self, at: usize, end: usize) -> Result<FixedFileInfo, Error> {
        let word = |i: usize| self.u32_at(at + 4 * i).filter(|_| at + 4 * i + 4 <= end);
        let Some(words) = (0..13).map(word).collect::<Option<Vec<u32>>>() else {
            return Err(Error::Truncated {
                what: "VS_FIXEDFILEINFO",
                offset: self.file(at),
                needed: FIXED_LEN as u64,
                available: end.saturating_sub(at) as u64,
                within: "VS_VERSIONINFO",
            });
        };
        if words[0] != FIXED_SIGNATURE {
            return Err(Error::Invalid {
                what: "VS_FIXEDFILEINFO signature",
                offset: self.file(at),
                expected: format!("{FIXED_SIGNATURE:#010x}"),
                found: format!("{:#010x}", words[0]),
            });
        }
        Ok(FixedFileInfo {
            file_version: Version4::from_ms_ls(words[2], words[3]),
            product_version: Version4::from_ms_ls(words[4], words[5]),
            file_flags: words[7] & words[6],
            file_os: words[8],
            file_type: words[9],
        })
    }
}
