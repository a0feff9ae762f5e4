//! The volume group model built from parsed LVM2 text metadata.

use super::text::{Section, Value};
use crate::Error;

/// A volume group as its metadata describes it. Sizes in LVM's 512-byte sectors.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeGroup {
    pub name: String,
    pub id: String,
    pub seqno: u64,
    /// Extent size in 512-byte sectors.
    pub extent_size: u64,
    pub pvs: Vec<PvMeta>,
    pub lvs: Vec<LvMeta>,
}

/// One entry of `physical_volumes`.
#[derive(Debug, Clone, PartialEq)]
pub struct PvMeta {
    /// The name segments refer to it by (`pv0`, ...).
    pub key: String,
    /// PV UUID with dashes, as in the metadata.
    pub id: String,
    /// The device path LVM last saw it at (a hint only).
    pub device: String,
    /// Start of the first extent, in 512-byte sectors from the start of the PV.
    pub pe_start: u64,
    pub pe_count: u64,
}

/// One entry of `logical_volumes`.
#[derive(Debug, Clone, PartialEq)]
pub struct LvMeta {
    pub name: String,
    pub id: String,
    pub status: Vec<String>,
    pub flags: Vec<String>,
    pub segments: Vec<Segment>,
}

impl LvMeta {
    /// Whether LVM shows the LV (sub-LVs of RAID, thin pools' data, snapshots' internals do not).
    pub fn visible(&self) -> bool {
        self.status.iter().any(|s| s == "VISIBLE")
    }
}

/// One `segmentN` section of an LV.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub name: String,
    pub start_extent: u64,
    pub extent_count: u64,
    /// `striped` (also used for linear LVs), `thin`, `raid1`, `snapshot`, ...
    pub segtype: String,
    /// Stripe size in sectors (0 when there is one stripe).
    pub stripe_size: u64,
    /// (PV key, first physical extent) per stripe; empty for types other than striped/linear.
    pub stripes: Vec<(String, u64)>,
    /// For `snapshot` segments: the origin LV and the LV holding the copy-on-write store.
    pub origin: Option<String>,
    pub cow_store: Option<String>,
}

impl Segment {
    /// Whether the segment maps extents straight onto PVs (linear or striped).
    pub fn is_striped(&self) -> bool {
        self.segtype == "striped" || self.segtype == "linear"
    }
}

struct Ctx<'a> {
    vg: &'a str,
}

impl Ctx<'_> {
    fn err(&self, path: &str, expected: &str, found: impl ToString) -> Error {
        Error::Metadata {
            vg: self.vg.to_string(),
            path: path.to_string(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    fn u64(&self, s: &Section, path: &str, key: &str) -> Result<u64, Error> {
        let path = || format!("{path}/{key}");
        match s.value(key) {
            Some(Value::Int(i)) => {
                u64::try_from(*i).map_err(|_| self.err(&path(), "a non-negative integer", i))
            }
            Some(v) => Err(self.err(&path(), "an integer", describe(v))),
            None => Err(self.err(&path(), "an integer", "nothing")),
        }
    }

    fn string(&self, s: &Section, path: &str, key: &str) -> Result<String, Error> {
        match s.value(key) {
            Some(Value::Str(v)) => Ok(v.clone()),
            Some(v) => Err(self.err(&format!("{path}/{key}"), "a string", describe(v))),
            None => Err(self.err(&format!("{path}/{key}"), "a string", "nothing")),
        }
    }

    fn strings(&self, s: &Section, path: &str, key: &str) -> Result<Vec<String>, Error> {
        match s.value(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    v => Err(self.err(&format!("{path}/{key}"), "strings", describe(v))),
                })
                .collect(),
            Some(v) => Err(self.err(&format!("{path}/{key}"), "an array", describe(v))),
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Int(i) => format!("integer {i}"),
        Value::Float(f) => format!("number {f}"),
        Value::Str(s) => format!("string {s:?}"),
        Value::Array(a) => format!("an array of {}", a.len()),
    }
}

impl VolumeGroup {
    /// Builds the model from a parsed metadata text (the VG is its first top-level section).
    pub fn from_text(root: &Section) -> Result<Self, Error> {
        let Some((name, s)) = root.sections().next() else {
            return Err(Error::Metadata {
                vg: String::new(),
                path: "/".into(),
                expected: "a volume group section".into(),
                found: "none".into(),
            });
        };
        let cx = Ctx { vg: name };
        let id = cx.string(s, "", "id")?;
        let seqno = cx.u64(s, "", "seqno")?;
        let extent_size = cx.u64(s, "", "extent_size")?;
        if extent_size == 0 {
            return Err(cx.err("/extent_size", "a positive number of sectors", 0));
        }
        let mut pvs = Vec::new();
        if let Some(section) = s.section("physical_volumes") {
            for (key, pv) in section.sections() {
                let path = format!("physical_volumes/{key}");
                pvs.push(PvMeta {
                    key: key.to_string(),
                    id: cx.string(pv, &path, "id")?,
                    device: cx.string(pv, &path, "device").unwrap_or_default(),
                    pe_start: cx.u64(pv, &path, "pe_start")?,
                    pe_count: cx.u64(pv, &path, "pe_count")?,
                });
            }
        }
        let mut lvs = Vec::new();
        if let Some(section) = s.section("logical_volumes") {
            for (lv_name, lv) in section.sections() {
                let path = format!("logical_volumes/{lv_name}");
                let mut segments = Vec::new();
                for (seg_name, seg) in lv.sections() {
                    let seg_path = format!("{path}/{seg_name}");
                    segments.push(segment(&cx, seg_name, seg, &seg_path)?);
                }
                lvs.push(LvMeta {
                    name: lv_name.to_string(),
                    id: cx.string(lv, &path, "id")?,
                    status: cx.strings(lv, &path, "status")?,
                    flags: cx.strings(lv, &path, "flags")?,
                    segments,
                });
            }
        }
        Ok(VolumeGroup {
            name: name.to_string(),
            id,
            seqno,
            extent_size,
            pvs,
            lvs,
        })
    }
}

fn segment(cx: &Ctx<'_>, name: &str, s: &Section, path: &str) -> Result<Segment, Error> {
    let segtype = cx.string(s, path, "type")?;
    let mut seg = Segment {
        name: name.to_string(),
        start_extent: cx.u64(s, path, "start_extent")?,
        extent_count: cx.u64(s, path, "extent_count")?,
        stripe_size: 0,
        stripes: Vec::new(),
        origin: None,
        cow_store: None,
        segtype,
    };
    if seg.is_striped() {
        let count = cx.u64(s, path, "stripe_count")?;
        let list = match s.value("stripes") {
            Some(Value::Array(a)) => a,
            Some(v) => return Err(cx.err(&format!("{path}/stripes"), "an array", describe(v))),
            None => return Err(cx.err(&format!("{path}/stripes"), "an array", "nothing")),
        };
        if count == 0 || list.len() as u64 != count.saturating_mul(2) {
            return Err(cx.err(
                &format!("{path}/stripes"),
                &format!(
                    "{} entries (stripe_count {count}, a PV and an extent each)",
                    count.saturating_mul(2)
                ),
                list.len(),
            ));
        }
        for pair in list.chunks_exact(2) {
            match pair {
                [Value::Str(pv), Value::Int(pe)] if *pe >= 0 => {
                    seg.stripes.push((pv.clone(), pe.unsigned_abs()));
                }
                [a, b] => {
                    return Err(cx.err(
                        &format!("{path}/stripes"),
                        "pairs of a PV name and a non-negative extent",
                        format!("{}, {}", describe(a), describe(b)),
                    ));
                }
                _ => {}
            }
        }
        if count > 1 {
            seg.stripe_size = cx.u64(s, path, "stripe_size")?;
            if seg.stripe_size == 0 {
                return Err(cx.err(
                    &format!("{path}/stripe_size"),
                    "a positive number of sectors",
                    0,
                ));
            }
        }
    } else {
        seg.origin = cx.string(s, path, "origin").ok();
        seg.cow_store = cx.string(s, path, "cow_store").ok();
    }
    Ok(seg)
}
