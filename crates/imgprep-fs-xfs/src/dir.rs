//! Directories: short-form (inline), block, leaf, node and B+tree forms.
//!
//! Every form keeps its entries in the same data blocks (below the 32 GiB leaf offset of the
//! directory's address space) except short-form, which keeps them in the inode. Listing and name
//! lookup both read the data blocks; the hash index (leaf and node blocks) only speeds up lookups
//! in the kernel and is not consulted here, so leaf, node and B+tree directories differ only in
//! how their data blocks are mapped (extent array or block-map B+tree).

use imgprep_io::{ReadAt, be};

use crate::bmap::{self, Extent};
use crate::crc;
use crate::error::{Error, Result};
use crate::inode::{Format, Inode};
use crate::sb::Superblock;

const XD2B: u32 = 0x5844_3242; // "XD2B" v4 single-block directory
const XDB3: u32 = 0x5844_4233; // "XDB3" v5 single-block directory
const XD2D: u32 = 0x5844_3244; // "XD2D" v4 data block
const XDD3: u32 = 0x5844_4433; // "XDD3" v5 data block
const V4_HDR: usize = 16;
const V5_HDR: usize = 64;
const V5_CRC_OFF: usize = 4;
const FREE_TAG: u16 = 0xffff;
/// Byte offset of the leaf section in a directory's address space.
const LEAF_OFFSET: u64 = 1 << 35;
/// Most entries, bytes of names, and data blocks this reader loads from one directory.
pub(crate) const MAX_ENTRIES: usize = 1 << 20;
const MAX_NAME_BYTES: usize = 64 << 20;
const MAX_DATA_BLOCKS: u64 = 1 << 18;
/// Largest file type code (whiteout).
const FT_MAX: u8 = 8;

/// One directory entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: Vec<u8>,
    pub(crate) ino: u64,
    /// File type code (0 when the filesystem does not record it).
    pub(crate) ftype: u8,
}

struct Parser<'a> {
    sb: &'a Superblock,
    ino: u64,
    out: Vec<Entry>,
    name_bytes: usize,
}

impl Parser<'_> {
    fn err(&self, offset: u64, detail: String) -> Error {
        Error::Directory {
            ino: self.ino,
            offset,
            detail,
        }
    }

    fn push(&mut self, name: &[u8], ino: u64, ftype: u8, offset: u64) -> Result<()> {
        if ftype > FT_MAX {
            return Err(self.err(
                offset,
                format!("file type is {ftype}, expected 0 to {FT_MAX}"),
            ));
        }
        if name.contains(&b'/') || name.contains(&0) {
            return Err(self.err(offset, "name contains '/' or NUL".into()));
        }
        self.sb
            .inode_offset(ino)
            .map_err(|detail| Error::InodeNumber {
                ino,
                by: format!("entry at {offset:#x} of directory inode {}", self.ino),
                detail,
            })?;
        if self.out.len() >= MAX_ENTRIES {
            return Err(Error::TooLarge {
                what: "directory entry count",
                ino: self.ino,
                found: self.out.len() as u64 + 1,
                limit: MAX_ENTRIES as u64,
            });
        }
        self.name_bytes += name.len();
        if self.name_bytes > MAX_NAME_BYTES {
            return Err(Error::TooLarge {
                what: "total length of directory entry names",
                ino: self.ino,
                found: self.name_bytes as u64,
                limit: MAX_NAME_BYTES as u64,
            });
        }
        self.out.push(Entry {
            name: name.to_vec(),
            ino,
            ftype,
        });
        Ok(())
    }

    /// A short-form directory: header (count, i8count, parent) and packed entries, `size` bytes.
    fn short_form(&mut self, fork: &[u8], size: u64, fork_offset: u64) -> Result<()> {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > fork.len() {
            return Err(self.err(
                fork_offset,
                format!(
                    "short-form size is {size} bytes, more than the {}-byte fork",
                    fork.len()
                ),
            ));
        }
        let data = &fork[..size];
        if data.len() < 6 {
            return Err(self.err(
                fork_offset,
                format!("short-form size is {size}, expected at least 6"),
            ));
        }
        let count = usize::from(data[0]);
        let i8count = usize::from(data[1]);
        let inolen = if i8count > 0 { 8 } else { 4 };
        let mut pos = 2 + inolen;
        if pos > data.len() {
            return Err(self.err(
                fork_offset,
                format!("short-form size is {size}, too small for its header"),
            ));
        }
        let ftype_len = usize::from(self.sb.ftype);
        let mut wide = 0;
        for i in 0..count {
            let at = fork_offset + pos as u64;
            let namelen = usize::from(*data.get(pos).unwrap_or(&0));
            let end = pos + 3 + namelen + ftype_len + inolen;
            if pos >= data.len() || end > data.len() {
                return Err(self.err(
                    at,
                    format!("entry {i} of {count} runs past the {size}-byte short-form directory"),
                ));
            }
            if namelen == 0 {
                return Err(self.err(at, format!("entry {i} has an empty name")));
            }
            let name = &data[pos + 3..pos + 3 + namelen];
            let ftype = if self.sb.ftype {
                data[pos + 3 + namelen]
            } else {
                0
            };
            let ino_at = pos + 3 + namelen + ftype_len;
            let ino = if inolen == 8 {
                be::u64(data, ino_at)
            } else {
                u64::from(be::u32(data, ino_at))
            };
            if ino > u64::from(u32::MAX) {
                wide += 1;
            }
            self.push(name, ino, ftype, at)?;
            pos = end;
        }
        if pos != data.len() {
            return Err(self.err(
                fork_offset,
                format!("{count} entries end at byte {pos}, expected the size {size}"),
            ));
        }
        if inolen == 8 && wide != i8count {
            return Err(self.err(
                fork_offset,
                format!("{wide} entries need 64-bit inode numbers, the header says {i8count}"),
            ));
        }
        Ok(())
    }

    /// One data block (`single` for the block form, whose tail holds the hash index).
    fn data_block(&mut self, buf: &[u8], daddr: u64, single: bool) -> Result<()> {
        let sb = self.sb;
        let magic = be::u32(buf, 0);
        let (want, hdr, expected) = match (sb.v5, single) {
            (false, true) => (XD2B, V4_HDR, "0x58443242 (\"XD2B\")"),
            (true, true) => (XDB3, V5_HDR, "0x58444233 (\"XDB3\")"),
            (false, false) => (XD2D, V4_HDR, "0x58443244 (\"XD2D\")"),
            (true, false) => (XDD3, V5_HDR, "0x58444433 (\"XDD3\")"),
        };
        if magic != want {
            return Err(Error::BadMagic {
                what: "directory data block",
                offset: daddr,
                found: magic,
                expected,
            });
        }
        if sb.v5 {
            let blkno = be::u64(buf, 8);
            if blkno != daddr >> 9 {
                return Err(self.err(
                    daddr,
                    format!(
                        "block records its address as sector {blkno:#x}, expected {:#x}",
                        daddr >> 9
                    ),
                ));
            }
            let owner = be::u64(buf, 40);
            if owner != self.ino {
                return Err(self.err(
                    daddr,
                    format!("block belongs to inode {owner}, expected {}", self.ino),
                ));
            }
            if buf[24..40] != sb.meta_uuid {
                return Err(self.err(daddr, "block records another filesystem's UUID".into()));
            }
        }
        let mut end = buf.len();
        if single {
            // Tail: count and stale of the hash entries (8 bytes each) that precede it.
            let count = be::u32(buf, buf.len() - 8) as usize;
            let room = (buf.len() - hdr - 8) / 8;
            if count > room {
                return Err(self.err(
                    daddr + (buf.len() - 8) as u64,
                    format!("block tail counts {count} hash entries, at most {room} fit"),
                ));
            }
            end = buf.len() - 8 - count * 8;
        }
        let ftype_len = usize::from(sb.ftype);
        let mut pos = hdr;
        while pos < end {
            let at = daddr + pos as u64;
            if end - pos < 8 {
                return Err(self.err(
                    at,
                    format!(
                        "{} bytes left at the end of the data area, expected a multiple of 8",
                        end - pos
                    ),
                ));
            }
            if be::u16(buf, pos) == FREE_TAG {
                let len = usize::from(be::u16(buf, pos + 2));
                if len < 8 || len % 8 != 0 || len > end - pos {
                    return Err(self.err(
                        at,
                        format!(
                            "unused region of {len} bytes, expected a multiple of 8 from 8 to {}",
                            end - pos
                        ),
                    ));
                }
                let tag = usize::from(be::u16(buf, pos + len - 2));
                if tag != pos {
                    return Err(self.err(
                        at,
                        format!("unused region's tag is {tag:#x}, expected {pos:#x}"),
                    ));
                }
                pos += len;
                continue;
            }
            if end - pos < 16 {
                return Err(self.err(
                    at,
                    format!(
                        "{} bytes left at the end of the data area, too few for an entry",
                        end - pos
                    ),
                ));
            }
            let ino = be::u64(buf, pos);
            let namelen = usize::from(buf[pos + 8]);
            let len = (8 + 1 + namelen + ftype_len + 2).div_ceil(8) * 8;
            if namelen == 0 || len > end - pos {
                return Err(self.err(
                    at,
                    format!(
                        "entry with a {namelen}-byte name does not fit the {} bytes left",
                        end - pos
                    ),
                ));
            }
            let tag = usize::from(be::u16(buf, pos + len - 2));
            if tag != pos {
                return Err(self.err(at, format!("entry's tag is {tag:#x}, expected {pos:#x}")));
            }
            let name = &buf[pos + 9..pos + 9 + namelen];
            let ftype = if sb.ftype { buf[pos + 9 + namelen] } else { 0 };
            if name != b"." && name != b".." {
                self.push(name, ino, ftype, at)?;
            }
            pos += len;
        }
        Ok(())
    }
}

/// Reads the directory block starting at file block `db` (`per` filesystem blocks), mapping each
/// filesystem block through `extents`. Returns the block and the byte offset of its first block.
fn read_block(
    dev: &dyn ReadAt,
    sb: &Superblock,
    ino: u64,
    extents: &[Extent],
    db: u64,
    per: u64,
) -> Result<(Vec<u8>, u64)> {
    let bs = sb.blocksize as usize;
    let mut buf = vec![0u8; sb.dirblksize()];
    let mut first = 0;
    for i in 0..per {
        let fb = db + i;
        let idx = bmap::find(extents, fb);
        let mapped = extents.get(idx).filter(|e| e.startoff <= fb);
        let Some(e) = mapped else {
            return Err(Error::Directory {
                ino,
                offset: first,
                detail: format!(
                    "directory block at file block {db} is only partly mapped (block {fb} is a hole)"
                ),
            });
        };
        if e.unwritten {
            return Err(Error::Directory {
                ino,
                offset: e.byte,
                detail: format!(
                    "directory block at file block {db} is mapped by an unwritten extent"
                ),
            });
        }
        let byte = e.byte + ((fb - e.startoff) << sb.blocklog);
        if i == 0 {
            first = byte;
        }
        let dst = &mut buf[i as usize * bs..(i as usize + 1) * bs];
        dev.read_exact_at(byte, dst).map_err(|source| Error::Read {
            what: "directory block",
            offset: byte,
            len: bs,
            source,
        })?;
    }
    Ok((buf, first))
}

/// All entries of the directory `inode`, in on-disk order, without `.` and `..`.
pub(crate) fn entries(
    dev: &dyn ReadAt,
    sb: &Superblock,
    inode: &Inode,
    verify_crc: bool,
) -> Result<Vec<Entry>> {
    let mut p = Parser {
        sb,
        ino: inode.ino,
        out: Vec::new(),
        name_bytes: 0,
    };
    match inode.format {
        Format::Local => {
            p.short_form(&inode.fork, inode.size, inode.fork_offset)?;
            return Ok(p.out);
        }
        Format::Extents | Format::Btree => {}
        Format::Dev => return Err(inode.error("directory has a device fork".into())),
    }
    let extents = bmap::extents(dev, sb, inode, verify_crc)?;
    let per = 1u64 << sb.dirblklog;
    let leaf_fb = LEAF_OFFSET >> sb.blocklog;
    let single = extents.last().is_some_and(|e| e.end() == per);
    if single && inode.size != sb.dirblksize() as u64 {
        return Err(inode.error(format!(
            "single-block directory has size {}, expected {}",
            inode.size,
            sb.dirblksize()
        )));
    }
    // The data section ends at the directory's size; nothing past it holds entries.
    let data_end = inode.size.div_ceil(u64::from(sb.blocksize)).min(leaf_fb);
    let mut next = 0u64;
    let mut blocks = 0u64;
    for e in &extents {
        if e.startoff >= data_end {
            break;
        }
        let mut db = (e.startoff / per * per).max(next);
        while db < e.end().min(data_end) {
            blocks += 1;
            if blocks > MAX_DATA_BLOCKS {
                return Err(Error::TooLarge {
                    what: "directory data block count",
                    ino: inode.ino,
                    found: blocks,
                    limit: MAX_DATA_BLOCKS,
                });
            }
            let (buf, daddr) = read_block(dev, sb, inode.ino, &extents, db, per)?;
            if sb.v5 && verify_crc {
                let found = crc::stored(&buf, V5_CRC_OFF);
                let expected = crc::xfs_cksum(&buf, V5_CRC_OFF);
                if found != expected {
                    return Err(Error::Checksum {
                        what: "directory data block",
                        offset: daddr,
                        found,
                        expected,
                    });
                }
            }
            p.data_block(&buf, daddr, single)?;
            db += per;
            next = db;
        }
    }
    Ok(p.out)
}
