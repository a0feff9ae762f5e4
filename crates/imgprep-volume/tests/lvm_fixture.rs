//! Real LVM2 layouts made by the LVM tools inside the libguestfs appliance
//! (images-test/lvm-layouts.sh), compared with what libguestfs itself reported about them, and
//! every byte of every readable LV checked against the pattern written through device-mapper.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use imgprep_io::{FileSource, ReadAt};
use imgprep_volume::{Content, DeviceKind, NoteKind, Volumes, scan};

fn fixture() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| imgprep_testkit::fixture("lvm-layouts"))
        .clone()
}

fn text(name: &str) -> String {
    fs_err::read_to_string(fixture().join(name)).unwrap()
}

fn volumes() -> Volumes {
    let disks: Vec<Arc<dyn ReadAt>> = ["mbr.img", "pva.img", "pvb.img", "luks.img"]
        .iter()
        .map(|f| Arc::new(FileSource::open(fixture().join(f)).unwrap()) as Arc<dyn ReadAt>)
        .collect();
    scan(&disks, 512).unwrap()
}

/// What lvm-layouts.sh wrote into each LV: sector N holds "VG/LV sector N", space-padded to
/// 511 bytes, and a newline.
fn pattern(name: &str, sectors: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(sectors as usize * 512);
    for i in 0..sectors {
        out.extend_from_slice(format!("{:<511}\n", format!("{name} sector {i}")).as_bytes());
    }
    out
}

#[test]
fn device_names_and_contents() {
    let v = volumes();
    let got: Vec<(&str, String)> = v
        .devices
        .iter()
        .map(|d| {
            let content = match &d.content {
                Content::Unknown => "-".to_string(),
                Content::PartitionTable(s) => format!("{s:?} table"),
                Content::ExtendedPartition => "extended".into(),
                Content::LvmPv { vg, .. } => format!("PV of {}", vg.as_deref().unwrap_or("?")),
                Content::Luks { version, .. } => format!("LUKS{version}"),
            };
            (d.name.as_str(), content)
        })
        .collect();
    let expected = [
        ("/dev/sda", "Mbr table"),
        ("/dev/sda1", "-"),
        ("/dev/sda2", "PV of vg_mbr"),
        ("/dev/sdb", "PV of vg_multi"),
        ("/dev/sdc", "PV of vg_multi"),
        ("/dev/sdd", "Gpt table"),
        ("/dev/sdd1", "LUKS2"),
        ("/dev/sdd2", "-"),
        ("/dev/vg_mbr/lin", "-"),
        ("/dev/vg_multi/gap", "-"),
        ("/dev/vg_multi/multi", "-"),
        ("/dev/vg_multi/origin", "-"),
        ("/dev/vg_multi/span", "-"),
        ("/dev/vg_multi/stripe", "-"),
    ];
    let expected: Vec<(&str, String)> = expected.iter().map(|(a, b)| (*a, b.to_string())).collect();
    assert_eq!(got, expected);
}

#[test]
fn lvs_match_libguestfs() {
    let v = volumes();
    // Every LV libguestfs's `lvs` lists is either readable here or noted as unreadable.
    // libguestfs lists the LVs whose lv_role is public (lvs-all.txt: VG:LV:...:ROLES).
    let theirs: BTreeSet<String> = text("lvs-all.txt")
        .lines()
        .map(|l| l.trim().split(':').collect::<Vec<_>>())
        .filter(|f| {
            f.last()
                .is_some_and(|r| r.split(',').any(|x| x == "public"))
        })
        .map(|f| format!("/dev/{}/{}", f[0], f[1]))
        .collect();
    let readable: BTreeSet<String> = v
        .devices
        .iter()
        .filter(|d| matches!(d.kind, DeviceKind::LogicalVolume { .. }))
        .map(|d| d.name.clone())
        .collect();
    let unreadable: BTreeSet<String> = v
        .notes
        .iter()
        .filter(|n| matches!(n.kind, NoteKind::LvUnreadable(_)))
        .map(|n| n.device.clone())
        .collect();
    let ours: BTreeSet<String> = readable.union(&unreadable).cloned().collect();
    assert!(
        ours.is_superset(&theirs),
        "ours {ours:?}, libguestfs {theirs:?}"
    );
    let extra: Vec<&String> = ours.difference(&theirs).collect();
    assert!(
        extra.iter().all(|n| unreadable.contains(*n)),
        "readable LVs that libguestfs does not list: {extra:?}"
    );
    let notes: Vec<String> = v
        .notes
        .iter()
        .filter(|n| matches!(n.kind, NoteKind::LvUnreadable(_)))
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        notes,
        [
            "/dev/vg_multi/r1: LV \"vg_multi/r1\" is present but unreadable: segment type \"raid1\" is not supported",
            "/dev/vg_multi/pool: LV \"vg_multi/pool\" is present but unreadable: segment type \"thin-pool\" is not supported",
            "/dev/vg_multi/thin: LV \"vg_multi/thin\" is present but unreadable: segment type \"thin\" is not supported",
            "/dev/vg_multi/snap: LV \"vg_multi/snap\" is present but unreadable: it is a snapshot of \"origin\"",
        ]
    );
    // UUIDs as lvm reports them (lvs-all.txt: VG LV LV-UUID VG-UUID SEGTYPE ...).
    for line in text("lvs-all.txt").lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        let name = format!("/dev/{}/{}", f[0], f[1]);
        if let Some(d) = v.get(&name) {
            let DeviceKind::LogicalVolume {
                lv_uuid, vg_uuid, ..
            } = &d.kind
            else {
                panic!("{name}")
            };
            assert_eq!((lv_uuid.as_str(), vg_uuid.as_str()), (f[2], f[3]), "{name}");
        }
    }
}

#[test]
fn every_byte_of_every_readable_lv() {
    let v = volumes();
    for (name, mib) in [
        ("vg_mbr/lin", 4),
        ("vg_multi/stripe", 2),
        ("vg_multi/span", 3),
        ("vg_multi/multi", 2),
        ("vg_multi/gap", 1),
        ("vg_multi/origin", 1),
    ] {
        let dev = v.get(&format!("/dev/{name}")).unwrap();
        assert_eq!(dev.source.size(), mib << 20, "{name}");
        let mut got = vec![0u8; (mib << 20) as usize];
        dev.source.read_exact_at(0, &mut got).unwrap();
        let want = pattern(name, (mib << 20) / 512);
        if got != want {
            let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            panic!(
                "{name}: first difference at {at:#x}: {:?}",
                String::from_utf8_lossy(&got[at / 512 * 512..at / 512 * 512 + 40])
            );
        }
    }
}

#[test]
fn partitions_match_part_list() {
    let v = volumes();
    for (disk, file) in [("/dev/sda", "parts-sda.txt"), ("/dev/sdd", "parts-sdd.txt")] {
        // guestfish part-list prints part_num, part_start, part_end, part_size per partition.
        let mut theirs = Vec::new();
        let mut cur = (0u32, 0u64, 0u64);
        for line in text(file).lines() {
            let line = line.trim();
            if let Some(n) = line.strip_prefix("part_num: ") {
                cur.0 = n.parse().unwrap();
            } else if let Some(n) = line.strip_prefix("part_start: ") {
                cur.1 = n.parse().unwrap();
            } else if let Some(n) = line.strip_prefix("part_size: ") {
                cur.2 = n.parse().unwrap();
                theirs.push(cur);
            }
        }
        let ours: Vec<(u32, u64, u64)> = v
            .devices
            .iter()
            .filter_map(|d| match &d.kind {
                DeviceKind::Partition {
                    disk: dd,
                    number,
                    start,
                    size,
                    ..
                } if dd == disk => Some((*number, *start, *size)),
                _ => None,
            })
            .collect();
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs, "{disk}");
    }
    let DeviceKind::Partition {
        gpt_name,
        part_uuid,
        gpt_type,
        ..
    } = &v.get("/dev/sdd1").unwrap().kind
    else {
        panic!()
    };
    assert_eq!(gpt_name.as_deref(), Some("secret"));
    assert_eq!(
        part_uuid.as_deref(),
        Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    );
    assert_eq!(
        gpt_type.as_deref(),
        Some("CA7D7CCB-63ED-4C53-861C-1742536059CC")
    );
}

#[test]
fn luks_uuid_matches_blkid() {
    let v = volumes();
    let uuid = text("luks-uuid.txt").trim().to_string();
    let luks: Vec<String> = v
        .notes
        .iter()
        .filter(|n| matches!(n.kind, NoteKind::Encrypted { .. }))
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        luks,
        [format!(
            "/dev/sdd1: encrypted (LUKS2, UUID {uuid}); not readable"
        )]
    );
}

#[test]
fn missing_pv_leaves_the_others_readable() {
    // Only pvb.img: vg_multi's LVs that live wholly on it still read; the others are notes.
    let disks: Vec<Arc<dyn ReadAt>> = vec![Arc::new(
        FileSource::open(fixture().join("pvb.img")).unwrap(),
    )];
    let v = scan(&disks, 512).unwrap();
    let lvs: Vec<&str> = v
        .devices
        .iter()
        .filter(|d| matches!(d.kind, DeviceKind::LogicalVolume { .. }))
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(lvs, ["/dev/vg_multi/gap", "/dev/vg_multi/multi"]);
    let dev = v.get("/dev/vg_multi/multi").unwrap();
    let mut got = vec![0u8; 2 << 20];
    dev.source.read_exact_at(0, &mut got).unwrap();
    assert!(got == pattern("vg_multi/multi", (2 << 20) / 512));
    let missing: Vec<&str> = v
        .notes
        .iter()
        .filter(|n| n.to_string().contains("is missing"))
        .map(|n| n.device.as_str())
        .collect();
    assert_eq!(
        missing,
        [
            "/dev/vg_multi",
            "/dev/vg_multi/stripe",
            "/dev/vg_multi/span",
            "/dev/vg_multi/origin"
        ]
    );
}
