//! Reading an LV: its linear and striped segments mapped onto PV byte ranges, as device-mapper's
//! `linear` and `striped` targets do.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::Arc;

use imgprep_io::{ReadAt, check_range};

use super::vg::{LvMeta, VolumeGroup};
use crate::Error;

/// A PV as the mapping needs it: where its bytes are.
#[derive(Clone)]
pub(crate) struct PvDevice {
    pub(crate) source: Arc<dyn ReadAt>,
}

struct Area {
    source: Arc<dyn ReadAt>,
    offset: u64,
}

struct Seg {
    /// Byte offset of the segment in the LV.
    start: u64,
    len: u64,
    /// Stripe chunk in bytes; 0 for one stripe.
    chunk: u64,
    areas: Vec<Area>,
}

/// The bytes of a linear or striped LV.
pub struct LvSource {
    name: String,
    size: u64,
    segs: Vec<Seg>,
}

impl fmt::Debug for LvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LvSource")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("segments", &self.segs.len())
            .finish()
    }
}

/// Builds the mapping of `lv`. `pvs` maps PV keys (`pv0`) to the device found for them, or `None`
/// when the PV is missing.
pub(crate) fn build(
    vg: &VolumeGroup,
    lv: &LvMeta,
    pvs: &HashMap<String, Option<PvDevice>>,
) -> Result<LvSource, Error> {
    let lv_name = format!("{}/{}", vg.name, lv.name);
    let meta_err = |path: String, expected: String, found: String| Error::Metadata {
        vg: vg.name.clone(),
        path: format!("logical_volumes/{}/{path}", lv.name),
        expected,
        found,
    };
    let extent = vg.extent_size.checked_mul(512).ok_or_else(|| {
        meta_err(
            "../../extent_size".into(),
            "a sane extent size".into(),
            vg.extent_size.to_string(),
        )
    })?;
    let mut order: Vec<_> = lv.segments.iter().collect();
    order.sort_by_key(|s| s.start_extent);
    if order.is_empty() {
        return Err(meta_err(
            "segment1".into(),
            "at least one segment".into(),
            "none".into(),
        ));
    }
    let mut next_extent = 0u64;
    let mut segs = Vec::with_capacity(order.len());
    for seg in order {
        if !seg.is_striped() {
            return Err(Error::UnsupportedSegment {
                lv: lv_name,
                segtype: seg.segtype.clone(),
            });
        }
        if seg.start_extent != next_extent {
            return Err(meta_err(
                format!("{}/start_extent", seg.name),
                format!("{next_extent} (segments must follow each other)"),
                seg.start_extent.to_string(),
            ));
        }
        let absurd = || {
            meta_err(
                format!("{}/extent_count", seg.name),
                "an extent count that fits the LV".into(),
                seg.extent_count.to_string(),
            )
        };
        next_extent = next_extent
            .checked_add(seg.extent_count)
            .ok_or_else(absurd)?;
        let n = seg.stripes.len() as u64;
        if seg.extent_count == 0 || n == 0 || seg.extent_count % n != 0 {
            return Err(meta_err(
                format!("{}/extent_count", seg.name),
                format!("a positive multiple of the {n} stripes"),
                seg.extent_count.to_string(),
            ));
        }
        let area_extents = seg.extent_count / n;
        let area_bytes = area_extents.checked_mul(extent).ok_or_else(absurd)?;
        let len = seg.extent_count.checked_mul(extent).ok_or_else(absurd)?;
        let chunk = if n > 1 {
            let chunk = seg.stripe_size.checked_mul(512).unwrap_or(0);
            if chunk == 0 || area_bytes % chunk != 0 {
                return Err(meta_err(
                    format!("{}/stripe_size", seg.name),
                    format!("a divisor of the {area_bytes}-byte stripe area"),
                    seg.stripe_size.to_string(),
                ));
            }
            chunk
        } else {
            0
        };
        let mut areas = Vec::with_capacity(seg.stripes.len());
        for (key, pe) in &seg.stripes {
            let Some(meta) = vg.pvs.iter().find(|p| &p.key == key) else {
                return Err(meta_err(
                    format!("{}/stripes", seg.name),
                    "a PV listed in physical_volumes".into(),
                    format!("{key:?}"),
                ));
            };
            let Some(dev) = pvs.get(key).cloned().flatten() else {
                return Err(Error::PvMissing {
                    vg: vg.name.clone(),
                    uuid: meta.id.clone(),
                    hint: meta.device.clone(),
                });
            };
            let past = |what, end, limit| Error::SegmentPastEnd {
                lv: lv_name.clone(),
                segment: seg.name.clone(),
                pv: key.clone(),
                what,
                end,
                limit,
            };
            let end_pe = pe.checked_add(area_extents).unwrap_or(u64::MAX);
            if end_pe > meta.pe_count {
                return Err(past("extents", end_pe, meta.pe_count));
            }
            let offset = meta
                .pe_start
                .checked_mul(512)
                .and_then(|s| pe.checked_mul(extent).and_then(|p| s.checked_add(p)))
                .unwrap_or(u64::MAX);
            let end = offset.saturating_add(area_bytes);
            if end > dev.source.size() {
                return Err(past("bytes", end, dev.source.size()));
            }
            areas.push(Area {
                source: dev.source,
                offset,
            });
        }
        let start = seg.start_extent.checked_mul(extent).ok_or_else(absurd)?;
        segs.push(Seg {
            start,
            len,
            chunk,
            areas,
        });
    }
    let size = next_extent.checked_mul(extent).ok_or_else(|| {
        meta_err(
            "segment1/extent_count".into(),
            "an LV size that fits in 64 bits".into(),
            next_extent.to_string(),
        )
    })?;
    Ok(LvSource {
        name: lv_name,
        size,
        segs,
    })
}

impl ReadAt for LvSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let idx = self
                .segs
                .partition_point(|s| s.start <= pos)
                .saturating_sub(1);
            let broken = || {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("LV {}: no segment maps {pos:#x}", self.name),
                )
            };
            let seg = self.segs.get(idx).ok_or_else(broken)?;
            let rel = pos
                .checked_sub(seg.start)
                .filter(|r| *r < seg.len)
                .ok_or_else(broken)?;
            let (area, area_off, avail) = match rel.checked_div(seg.chunk) {
                None => (0, rel, seg.len - rel),
                Some(chunk_idx) => {
                    let n = seg.areas.len() as u64;
                    let within = rel - chunk_idx * seg.chunk;
                    (
                        (chunk_idx % n) as usize,
                        chunk_idx / n * seg.chunk + within,
                        seg.chunk - within,
                    )
                }
            };
            let area = seg.areas.get(area).ok_or_else(broken)?;
            let take = avail.min((buf.len() - done) as u64) as usize;
            area.source
                .read_exact_at(area.offset + area_off, &mut buf[done..done + take])?;
            done += take;
        }
        Ok(())
    }
}
