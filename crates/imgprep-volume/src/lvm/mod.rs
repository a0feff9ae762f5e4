//! LVM2: PV labels, metadata areas, the text metadata, and linear/striped LVs assembled from the
//! newest valid metadata copy of each VG.

pub mod label;
mod map;
pub mod text;
pub mod vg;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use imgprep_io::ReadAt;

pub use label::{MetadataText, PvLabel, read_label, read_metadata_area};
pub use map::LvSource;
pub use vg::VolumeGroup;

use crate::{BlockDevice, Content, DeviceKind, Error, Note, NoteKind};

/// Parses one metadata text into its volume group.
pub fn parse_metadata(text: &[u8]) -> Result<VolumeGroup, Error> {
    VolumeGroup::from_text(&text::parse(text)?)
}

/// A device that carries a PV label.
pub(crate) struct FoundPv {
    pub(crate) device: String,
    pub(crate) source: Arc<dyn ReadAt>,
    pub(crate) label: PvLabel,
}

/// The LVs of all VGs found, and which VG each PV device belongs to.
pub(crate) struct Assembled {
    pub(crate) lvs: Vec<BlockDevice>,
    pub(crate) pv_vg: HashMap<String, String>,
}

/// Reads the metadata of every PV, keeps the newest valid copy of each VG (by seqno) and maps
/// its visible LVs.
pub(crate) fn assemble(pvs: &[FoundPv], notes: &mut Vec<Note>) -> Assembled {
    // VG UUID -> (newest metadata, device it came from).
    let mut newest: BTreeMap<String, VolumeGroup> = BTreeMap::new();
    for pv in pvs {
        for &(offset, size) in &pv.label.metadata_areas {
            let vg = read_metadata_area(&*pv.source, offset, size)
                .and_then(|t| t.map(|t| parse_metadata(&t.text)).transpose());
            match vg {
                Ok(Some(vg)) => {
                    let keep = newest.get(&vg.id).is_none_or(|old| vg.seqno > old.seqno);
                    if keep {
                        newest.insert(vg.id.clone(), vg);
                    }
                }
                Ok(None) => {}
                Err(e) => notes.push(Note {
                    device: pv.device.clone(),
                    kind: NoteKind::Lvm(e),
                }),
            }
        }
    }
    let mut out = Assembled {
        lvs: Vec::new(),
        pv_vg: HashMap::new(),
    };
    let mut names_seen = HashMap::new();
    for vg in newest.values() {
        if let Some(other) = names_seen.insert(vg.name.clone(), vg.id.clone()) {
            notes.push(Note {
                device: format!("/dev/{}", vg.name),
                kind: NoteKind::Lvm(Error::Metadata {
                    vg: vg.name.clone(),
                    path: "id".into(),
                    expected: format!("one VG of this name (another has UUID {other})"),
                    found: vg.id.clone(),
                }),
            });
            continue;
        }
        let mut devices = HashMap::new();
        for meta in &vg.pvs {
            let want: String = meta.id.chars().filter(|&c| c != '-').collect();
            let found = pvs.iter().find(|p| p.label.uuid == want);
            match found {
                Some(p) => {
                    out.pv_vg.insert(p.device.clone(), vg.name.clone());
                }
                None => notes.push(Note {
                    device: format!("/dev/{}", vg.name),
                    kind: NoteKind::Lvm(Error::PvMissing {
                        vg: vg.name.clone(),
                        uuid: meta.id.clone(),
                        hint: meta.device.clone(),
                    }),
                }),
            }
            devices.insert(
                meta.key.clone(),
                found.map(|p| map::PvDevice {
                    source: p.source.clone(),
                }),
            );
        }
        // Old-style snapshots: the COW store is a visible LV whose bytes are not the snapshot.
        let cow: HashMap<&str, &str> = vg
            .lvs
            .iter()
            .flat_map(|lv| &lv.segments)
            .filter(|s| s.segtype == "snapshot")
            .filter_map(|s| Some((s.cow_store.as_deref()?, s.origin.as_deref().unwrap_or(""))))
            .collect();
        for lv in vg.lvs.iter().filter(|lv| lv.visible()) {
            // LVM shows an old-style snapshot (a visible `snapshotN` LV) under its COW LV's name.
            if let Some(seg) = lv.segments.iter().find(|s| s.segtype == "snapshot") {
                let shown = seg.cow_store.clone().unwrap_or_else(|| lv.name.clone());
                notes.push(Note {
                    device: format!("/dev/{}/{shown}", vg.name),
                    kind: NoteKind::LvUnreadable(Error::Snapshot {
                        lv: format!("{}/{shown}", vg.name),
                        origin: seg.origin.clone().unwrap_or_default(),
                    }),
                });
                continue;
            }
            let name = format!("/dev/{}/{}", vg.name, lv.name);
            let mapped = match cow.get(lv.name.as_str()) {
                Some(origin) => Err(Error::Snapshot {
                    lv: format!("{}/{}", vg.name, lv.name),
                    origin: (*origin).to_string(),
                }),
                None => map::build(vg, lv, &devices),
            };
            match mapped {
                Ok(source) => out.lvs.push(BlockDevice {
                    name,
                    source: Arc::new(source),
                    kind: DeviceKind::LogicalVolume {
                        vg: vg.name.clone(),
                        lv: lv.name.clone(),
                        lv_uuid: lv.id.clone(),
                        vg_uuid: vg.id.clone(),
                    },
                    content: Content::Unknown,
                }),
                Err(e) => notes.push(Note {
                    device: name,
                    kind: NoteKind::LvUnreadable(e),
                }),
            }
        }
    }
    out.lvs.sort_by_key(|d| match &d.kind {
        DeviceKind::LogicalVolume { vg, lv, .. } => (vg.clone(), lv.clone()),
        _ => (String::new(), d.name.clone()),
    });
    out
}
