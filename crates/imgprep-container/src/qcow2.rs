//! qcow2 versions 2 and 3 (qemu's docs/interop/qcow2.txt), read-only.
//!
//! The active L1 table is read page by page through [`Tables`], as are L2 tables, so memory does
//! not grow with the virtual size. Compressed clusters are raw deflate streams or zstd frames
//! (`compression_type` 1) and are kept decompressed in a small cache. Extended L2 entries
//! (subclusters) and an external data file (named by the header, confined like backing files)
//! are read as qemu reads them.

use std::io;
use std::sync::Arc;

use imgprep_io::ReadAt;

use crate::util::{self, Cache, Tables, check_within, field};
use crate::{Error, Format, Opened};

const F: Format = Format::Qcow2;

/// Header extension types.
const EXT_END: u32 = 0;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const EXT_FEATURE_TABLE: u32 = 0x6803_f857;
const EXT_DATA_FILE: u32 = 0x4441_5441;

const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;

const L1E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const L2E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const OFLAG_COPIED: u64 = 1 << 63;
const OFLAG_COMPRESSED: u64 = 1 << 62;
const OFLAG_ZERO: u64 = 1;

/// Largest zstd window accepted in a compressed cluster (clusters are at most 2 MiB).
const ZSTD_MAX_WINDOW: u64 = 8 << 20;

/// qemu's limit on the active L1 table: 32 MiB.
const MAX_L1_BYTES: u64 = 32 << 20;

/// A backing file named by the header.
#[derive(Debug, Clone)]
pub(crate) struct Backing {
    pub(crate) name: String,
    pub(crate) format: Option<String>,
}

/// How compressed clusters are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    /// Raw deflate (compression_type 0).
    Zlib,
    /// zstd frames (compression_type 1).
    Zstd,
}

/// The parts of the header reading needs.
#[derive(Debug)]
pub(crate) struct Header {
    cluster_bits: u32,
    size: u64,
    l1_offset: u64,
    /// L1 entries the virtual size needs (the table may be longer).
    l1_used: u64,
    compression: Compression,
    /// L2 entries are 128 bits with a subcluster bitmap.
    extended_l2: bool,
    pub(crate) backing: Option<Backing>,
    /// The external data file's name, when guest clusters live in one.
    pub(crate) data_file: Option<String>,
}

fn truncated(what: &'static str, offset: u64, len: u64, file_size: u64) -> Error {
    Error::PastEof {
        format: F,
        what,
        offset,
        end: offset.saturating_add(len),
        file_size,
    }
}

impl Header {
    pub(crate) fn parse(src: &dyn ReadAt) -> Result<Header, Error> {
        let file_size = src.size();
        if file_size < 72 {
            return Err(truncated("header", 0, 72, file_size));
        }
        let mut h = vec![0u8; file_size.min(112) as usize];
        src.read_exact_at(0, &mut h)?;
        if &h[..4] != b"QFI\xfb" {
            return Err(Error::invalid(
                F,
                "magic",
                0,
                "QFI\\xfb",
                format!("{:02x?}", &h[..4]),
            ));
        }
        let version = field::be32(&h, 4);
        if !(2..=3).contains(&version) {
            return Err(Error::invalid(F, "version", 4, "2 or 3", version));
        }
        let backing_offset = field::be64(&h, 8);
        let backing_len = field::be32(&h, 16);
        let cluster_bits = field::be32(&h, 20);
        if !(9..=21).contains(&cluster_bits) {
            return Err(Error::invalid(
                F,
                "cluster_bits",
                20,
                "9..=21",
                cluster_bits,
            ));
        }
        let cluster_size = 1u64 << cluster_bits;
        let size = field::be64(&h, 24);
        let crypt_method = field::be32(&h, 32);
        let l1_size = field::be32(&h, 36);
        let l1_offset = field::be64(&h, 40);

        let (header_len, incompat) = if version == 2 {
            (72u64, 0u64)
        } else {
            if file_size < 104 {
                return Err(truncated("version 3 header", 0, 104, file_size));
            }
            let header_len = u64::from(field::be32(&h, 100));
            if header_len < 104 || !header_len.is_multiple_of(8) {
                return Err(Error::invalid(
                    F,
                    "header_length",
                    100,
                    "a multiple of 8, at least 104",
                    header_len,
                ));
            }
            if header_len > cluster_size {
                return Err(Error::invalid(
                    F,
                    "header_length",
                    100,
                    format!("at most the cluster size {cluster_size}"),
                    header_len,
                ));
            }
            (header_len, field::be64(&h, 72))
        };
        check_within(F, "header", 0, header_len, file_size)?;

        // Header extensions run from the end of the header to the backing file name (or the end
        // of the first cluster).
        let ext_end = if backing_offset != 0 {
            backing_offset.min(cluster_size)
        } else {
            cluster_size
        };
        let mut exts = read_extensions(src, header_len, ext_end)?;
        exts.raw_external_data = version == 3 && field::be64(&h, 88) & 2 != 0;

        let data_file = if incompat & INCOMPAT_DATA_FILE != 0 {
            match exts.data_file.clone() {
                Some(name) if !name.is_empty() => Some(name),
                _ => {
                    return Err(Error::unsupported(
                        F,
                        "external data file with no name in the header (qemu needs it given \
                         as data-file=…)",
                    ));
                }
            }
        } else {
            None
        };
        let extended_l2 = incompat & INCOMPAT_EXTL2 != 0;
        if extended_l2 && cluster_bits < 14 {
            return Err(Error::invalid(
                F,
                "cluster_bits",
                20,
                "at least 14 with extended L2 entries",
                cluster_bits,
            ));
        }
        let compression_type = if version == 3 && header_len > 104 {
            h.get(104).copied().unwrap_or(0)
        } else {
            0
        };
        let compression = match (compression_type, incompat & INCOMPAT_COMPRESSION != 0) {
            (0, false) => Compression::Zlib,
            (1, true) => Compression::Zstd,
            (0, true) => {
                return Err(Error::invalid(
                    F,
                    "compression_type",
                    104,
                    "non-zero when incompatible feature bit 3 is set",
                    0,
                ));
            }
            (t, true) => {
                return Err(Error::unsupported(F, format!("compression type {t}")));
            }
            (t, false) => {
                return Err(Error::invalid(
                    F,
                    "compression_type",
                    104,
                    "0 when incompatible feature bit 3 is clear",
                    t,
                ));
            }
        };
        let known = INCOMPAT_DIRTY
            | INCOMPAT_CORRUPT
            | INCOMPAT_DATA_FILE
            | INCOMPAT_COMPRESSION
            | INCOMPAT_EXTL2;
        let unknown = incompat & !known;
        if unknown != 0 {
            let names: Vec<String> = (0..64)
                .filter(|b| unknown & (1u64 << b) != 0)
                .map(|b| match exts.feature_name(b) {
                    Some(n) => format!("{n:?} (bit {b})"),
                    None => format!("bit {b}"),
                })
                .collect();
            return Err(Error::unsupported(
                F,
                format!(
                    "unknown incompatible feature {} ({unknown:#x})",
                    names.join(", ")
                ),
            ));
        }
        match crypt_method {
            0 => {}
            1 => return Err(Error::unsupported(F, "AES encryption (crypt_method 1)")),
            2 => return Err(Error::unsupported(F, "LUKS encryption (crypt_method 2)")),
            m => return Err(Error::unsupported(F, format!("encryption method {m}"))),
        }

        // L1 table: qemu's limit is 32 MiB, and it must cover the virtual size.
        let l2_bits = cluster_bits - if extended_l2 { 4 } else { 3 };
        let shift = cluster_bits + l2_bits;
        let l1_used = size.div_ceil(1u64 << shift);
        let l1_max = MAX_L1_BYTES / 8;
        if u64::from(l1_size) > l1_max {
            return Err(Error::TableTooLarge {
                format: F,
                what: "L1 table",
                offset: l1_offset,
                entries: l1_size.into(),
                limit: l1_max,
            });
        }
        if l1_used > l1_max {
            return Err(Error::invalid(
                F,
                "size",
                24,
                format!(
                    "at most {} bytes with {cluster_size}-byte clusters",
                    l1_max << shift
                ),
                size,
            ));
        }
        if u64::from(l1_size) < l1_used {
            return Err(Error::TableTooSmall {
                format: F,
                what: "L1 table",
                offset: l1_offset,
                entries: l1_size.into(),
                needed: l1_used,
            });
        }
        if l1_used > 0 {
            if !l1_offset.is_multiple_of(cluster_size) {
                return Err(Error::Misaligned {
                    format: F,
                    what: "L1 table",
                    offset: 40,
                    value: l1_offset,
                    alignment: cluster_size,
                });
            }
            check_within(F, "L1 table", l1_offset, l1_used * 8, file_size)?;
        }

        // A name of length 0 means no backing file, as in qemu.
        let backing = if backing_offset != 0 && backing_len != 0 {
            let max = 1023u64.min(cluster_size.saturating_sub(backing_offset));
            if u64::from(backing_len) > max {
                return Err(Error::invalid(
                    F,
                    "backing_file_size",
                    16,
                    format!("1..={max} bytes"),
                    backing_len,
                ));
            }
            let raw = util::read_struct(
                src,
                F,
                "backing file name",
                backing_offset,
                backing_len as usize,
            )?;
            let name = String::from_utf8(raw).map_err(|e| {
                Error::invalid(
                    F,
                    "backing file name",
                    backing_offset,
                    "UTF-8",
                    format!("{:02x?}", e.as_bytes()),
                )
            })?;
            Some(Backing {
                name,
                format: exts.backing_format,
            })
        } else {
            None
        };

        if data_file.is_some() && backing.is_some() && exts.raw_external_data {
            return Err(Error::invalid(
                F,
                "autoclear_features",
                88,
                "no raw external data bit on an image with a backing file",
                "both",
            ));
        }
        Ok(Header {
            cluster_bits,
            size,
            l1_offset,
            l1_used,
            compression,
            extended_l2,
            backing,
            data_file,
        })
    }
}

#[derive(Default)]
struct Extensions {
    backing_format: Option<String>,
    /// The external data file name.
    data_file: Option<String>,
    /// Autoclear bit 1: the data file is a consistent raw image.
    raw_external_data: bool,
    /// Incompatible-feature names from the feature name table: (bit, name).
    incompat_names: Vec<(u32, String)>,
}

impl Extensions {
    fn feature_name(&self, bit: u32) -> Option<&str> {
        self.incompat_names
            .iter()
            .find(|(b, _)| *b == bit)
            .map(|(_, n)| n.as_str())
    }
}

fn read_extensions(src: &dyn ReadAt, start: u64, end: u64) -> Result<Extensions, Error> {
    let mut exts = Extensions::default();
    // The extension area lies inside the first cluster (at most 2 MiB), so it can be read whole.
    let end = end.min(src.size());
    if start >= end {
        return Ok(exts);
    }
    let area = util::read_struct(src, F, "header extensions", start, (end - start) as usize)?;
    let mut pos = 0usize;
    while pos + 8 <= area.len() {
        let kind = field::be32(&area, pos);
        let len = field::be32(&area, pos + 4) as usize;
        let at = start + pos as u64;
        let data_start = pos + 8;
        let Some(data) = data_start
            .checked_add(len)
            .and_then(|e| area.get(data_start..e))
        else {
            return Err(Error::invalid(
                F,
                "header extension length",
                at + 4,
                format!("at most {} bytes", area.len() - data_start),
                len,
            ));
        };
        match kind {
            EXT_END => break,
            EXT_BACKING_FORMAT => {
                if len >= 16 {
                    return Err(Error::invalid(
                        F,
                        "backing format extension length",
                        at + 4,
                        "less than 16",
                        len,
                    ));
                }
                exts.backing_format = Some(String::from_utf8_lossy(data).into_owned());
            }
            EXT_DATA_FILE => {
                exts.data_file = Some(String::from_utf8(data.to_vec()).map_err(|e| {
                    Error::invalid(
                        F,
                        "external data file name",
                        at + 8,
                        "UTF-8",
                        format!("{:02x?}", e.as_bytes()),
                    )
                })?);
            }
            EXT_FEATURE_TABLE => {
                for entry in data.chunks_exact(48) {
                    if entry[0] == 0 {
                        let name = entry[2..]
                            .split(|&b| b == 0)
                            .next()
                            .map(|n| String::from_utf8_lossy(n).into_owned())
                            .unwrap_or_default();
                        exts.incompat_names.push((u32::from(entry[1]), name));
                    }
                }
            }
            _ => {}
        }
        pos = data_start + len.div_ceil(8) * 8;
    }
    Ok(exts)
}

/// Builds the reader for an image whose header parsed, over its (already opened) backing file
/// and external data file.
pub(crate) fn open(
    file: Arc<dyn ReadAt>,
    header: Header,
    backing: Option<Arc<dyn ReadAt>>,
    data_file: Option<Arc<dyn ReadAt>>,
    cache: &Arc<Cache>,
) -> Result<Opened, Error> {
    let cluster_size = 1u64 << header.cluster_bits;
    let size = header.size;
    let reader = Qcow2 {
        tables: Tables::new(file.clone(), cache),
        external: data_file.is_some(),
        data: data_file.unwrap_or_else(|| file.clone()),
        file,
        cluster_bits: header.cluster_bits,
        cluster_size,
        l2_bits: header.cluster_bits - if header.extended_l2 { 4 } else { 3 },
        extended_l2: header.extended_l2,
        compression: header.compression,
        size,
        l1_offset: header.l1_offset,
        l1_used: header.l1_used,
        backing,
    };
    Ok(Opened {
        source: Arc::new(reader),
        size,
        sector_size: 512,
    })
}

struct Qcow2 {
    file: Arc<dyn ReadAt>,
    /// Where guest data clusters live: the image itself, or its external data file.
    data: Arc<dyn ReadAt>,
    /// `data` is an external data file.
    external: bool,
    tables: Tables,
    cluster_bits: u32,
    cluster_size: u64,
    l2_bits: u32,
    extended_l2: bool,
    compression: Compression,
    size: u64,
    l1_offset: u64,
    l1_used: u64,
    backing: Option<Arc<dyn ReadAt>>,
}

/// Where one guest cluster's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cluster {
    Unallocated,
    Zero,
    Normal(u64),
    Compressed {
        offset: u64,
        len: u64,
    },
    /// An extended L2 entry: each of the 32 subclusters is allocated at `host` + its offset
    /// (`alloc` bit), reads as zeros (`zero` bit), or comes from the backing file.
    Subclusters {
        host: Option<u64>,
        alloc: u32,
        zero: u32,
    },
}

impl Qcow2 {
    fn lookup(&self, guest: u64) -> Result<Cluster, Error> {
        let file_size = self.file.size();
        let l1_index = guest >> (self.cluster_bits + self.l2_bits);
        if l1_index >= self.l1_used {
            return Ok(Cluster::Unallocated);
        }
        let l1_entry = self.tables.be_u64(self.l1_offset + l1_index * 8)?;
        let l2_offset = l1_entry & L1E_OFFSET_MASK;
        if l2_offset == 0 {
            return Ok(Cluster::Unallocated);
        }
        if !l2_offset.is_multiple_of(self.cluster_size) {
            return Err(Error::Misaligned {
                format: F,
                what: "L2 table",
                offset: self.l1_offset + l1_index * 8,
                value: l2_offset,
                alignment: self.cluster_size,
            });
        }
        check_within(F, "L2 table", l2_offset, self.cluster_size, file_size)?;
        let l2_index = (guest >> self.cluster_bits) & ((1u64 << self.l2_bits) - 1);
        let entry_size = if self.extended_l2 { 16 } else { 8 };
        let entry_at = l2_offset + l2_index * entry_size;
        let entry = self.tables.be_u64(entry_at)?;
        if entry & OFLAG_COMPRESSED != 0 {
            if self.external {
                return Err(Error::invalid(
                    F,
                    "L2 entry",
                    entry_at,
                    "no compressed clusters with an external data file",
                    format!("{entry:#018x}"),
                ));
            }
            let csize_shift = 62 - (self.cluster_bits - 8);
            let csize_mask = (1u64 << (self.cluster_bits - 8)) - 1;
            let offset = entry & ((1u64 << csize_shift) - 1);
            let sectors = ((entry >> csize_shift) & csize_mask) + 1;
            let len = (sectors * 512).saturating_sub(offset & 511);
            return Ok(Cluster::Compressed { offset, len });
        }
        let raw_host = entry & L2E_OFFSET_MASK;
        // An external data file maps guest offset 0 to host offset 0, marked by bit 63.
        let host =
            (raw_host != 0 || (self.external && entry & OFLAG_COPIED != 0)).then_some(raw_host);
        if let Some(h) = host
            && !h.is_multiple_of(self.cluster_size)
        {
            return Err(Error::Misaligned {
                format: F,
                what: "data cluster",
                offset: entry_at,
                value: h,
                alignment: self.cluster_size,
            });
        }
        if self.extended_l2 {
            let bitmap = self.tables.be_u64(entry_at + 8)?;
            let (alloc, zero) = (bitmap as u32, (bitmap >> 32) as u32);
            if alloc & zero != 0 {
                return Err(Error::invalid(
                    F,
                    "subcluster bitmap",
                    entry_at + 8,
                    "no subcluster both allocated and zero",
                    format!("{bitmap:#018x}"),
                ));
            }
            if alloc != 0 && host.is_none() {
                return Err(Error::invalid(
                    F,
                    "L2 entry",
                    entry_at,
                    "a host offset for allocated subclusters",
                    0,
                ));
            }
            return Ok(Cluster::Subclusters { host, alloc, zero });
        }
        if entry & OFLAG_ZERO != 0 {
            return Ok(Cluster::Zero);
        }
        Ok(match host {
            Some(h) => Cluster::Normal(h),
            None => Cluster::Unallocated,
        })
    }

    fn inflate_cluster(&self, offset: u64, len: u64) -> Result<Arc<Vec<u8>>, Error> {
        if let Some(c) = self.tables.inflated(offset) {
            return Ok(c);
        }
        let file_size = self.file.size();
        if offset >= file_size {
            return Err(truncated("compressed cluster", offset, len, file_size));
        }
        // qemu reads the whole sector-rounded length, zero-filled past the end of the file.
        let mut input = vec![0u8; len as usize];
        util::read_zero_past_eof(&*self.file, offset, &mut input)?;
        let cs = self.cluster_size as usize;
        let decoded = match self.compression {
            Compression::Zlib => util::inflate(&input, cs, false).map(|(out, n, _)| (out, n)),
            Compression::Zstd => zstd_cluster(&input, cs),
        };
        let (out, produced) = decoded.map_err(|detail| Error::Decompress {
            format: F,
            what: "cluster",
            offset,
            detail,
        })?;
        if produced != cs {
            return Err(Error::Decompress {
                format: F,
                what: "cluster",
                offset,
                detail: format!("inflated to {produced} bytes, expected {cs}"),
            });
        }
        let out = Arc::new(out);
        self.tables.keep_inflated(offset, out.clone());
        Ok(out)
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        imgprep_io::check_range(offset, buf.len(), self.size)?;
        let cs = self.cluster_size;
        let data_size = self.data.size();
        let mut done = 0usize;
        while done < buf.len() {
            let guest = offset + done as u64;
            let within = guest & (cs - 1);
            let n = ((cs - within) as usize).min(buf.len() - done);
            let cluster = self.lookup(guest)?;
            match cluster {
                Cluster::Unallocated => {
                    crate::read_backing(self.backing.as_ref(), guest, &mut buf[done..done + n])?;
                    done += n;
                }
                Cluster::Zero => {
                    buf[done..done + n].fill(0);
                    done += n;
                }
                Cluster::Compressed { offset: c, len } => {
                    let data = self.inflate_cluster(c, len)?;
                    let src = data
                        .get(within as usize..within as usize + n)
                        .ok_or_else(|| Error::Decompress {
                            format: F,
                            what: "cluster",
                            offset: c,
                            detail: "inflated cluster shorter than the cluster size".into(),
                        })?;
                    buf[done..done + n].copy_from_slice(src);
                    done += n;
                }
                Cluster::Subclusters { host, alloc, zero } => {
                    self.read_subclusters(guest, host, alloc, zero, &mut buf[done..done + n])?;
                    done += n;
                }
                Cluster::Normal(host) => {
                    // Merge following clusters that continue this one in the file into one read.
                    let mut run = n;
                    let mut next_host = host + cs;
                    while done + run < buf.len() {
                        let g = guest + run as u64;
                        if self.lookup(g)? != Cluster::Normal(next_host) {
                            break;
                        }
                        run += (cs as usize).min(buf.len() - done - run);
                        next_host += cs;
                    }
                    let at = host + within;
                    check_within(F, "data cluster", at, run as u64, data_size)?;
                    self.data.read_exact_at(at, &mut buf[done..done + run])?;
                    done += run;
                }
            }
        }
        Ok(())
    }
}

impl Qcow2 {
    /// Reads `buf` from guest offset `guest` inside one cluster with extended L2 entries.
    fn read_subclusters(
        &self,
        guest: u64,
        host: Option<u64>,
        alloc: u32,
        zero: u32,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        let sc = self.cluster_size / 32;
        let mut done = 0usize;
        while done < buf.len() {
            let within = (guest + done as u64) & (self.cluster_size - 1);
            let index = (within / sc) as u32;
            let n = ((sc - within % sc) as usize).min(buf.len() - done);
            let part = &mut buf[done..done + n];
            if alloc & (1 << index) != 0 {
                // Allocation bits imply a host offset (checked in `lookup`).
                let at = host.unwrap_or(0) + within;
                check_within(F, "data subcluster", at, n as u64, self.data.size())?;
                self.data.read_exact_at(at, part)?;
            } else if zero & (1 << index) != 0 {
                part.fill(0);
            } else {
                crate::read_backing(self.backing.as_ref(), guest + done as u64, part)?;
            }
            done += n;
        }
        Ok(())
    }
}

/// Decodes the zstd frames of one compressed cluster until `out_len` bytes are produced, as
/// qemu does (several frames may follow one another; bytes after the cluster are ignored).
fn zstd_cluster(input: &[u8], out_len: usize) -> Result<(Vec<u8>, usize), String> {
    use std::io::Read as _;
    let mut out = Vec::with_capacity(out_len);
    let mut rest: &[u8] = input;
    while out.len() < out_len {
        if rest.is_empty() {
            break;
        }
        let dec = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
            &mut rest,
            ZSTD_MAX_WINDOW,
        )
        .map_err(|e| format!("zstd frame header: {e}"))?;
        let want = (out_len - out.len()) as u64;
        dec.take(want)
            .read_to_end(&mut out)
            .map_err(|e| format!("zstd data: {e}"))?;
    }
    let produced = out.len();
    Ok((out, produced))
}

impl ReadAt for Qcow2 {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read(offset, buf).map_err(Error::into_io)
    }
}
