//! Partition tables: images made by sfdisk/sgdisk at test time, compared against `sfdisk --json`,
//! and hostile tables built by mutating valid structures.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::process::Command;
use std::sync::Arc;

use imgprep_io::ReadAt;
use imgprep_volume::{Content, DeviceKind, Volumes, scan};

fn scan_bytes(disk: Vec<u8>, sector_size: u32) -> Volumes {
    let src: Arc<dyn ReadAt> = Arc::new(disk);
    scan(&[src], sector_size).unwrap()
}

/// (name, start byte, size bytes) of every partition, in order.
fn layout(v: &Volumes) -> Vec<(String, u64, u64)> {
    v.devices
        .iter()
        .filter_map(|d| match &d.kind {
            DeviceKind::Partition { start, size, .. } => Some((d.name.clone(), *start, *size)),
            _ => None,
        })
        .collect()
}

fn notes(v: &Volumes) -> Vec<String> {
    v.notes.iter().map(|n| n.to_string()).collect()
}

/// Runs sfdisk on a sparse file of `mib` MiB and returns the image and `sfdisk --json`.
fn sfdisk(script: &str, mib: u64) -> (Vec<u8>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    fs_file(&path, mib << 20);
    let mut child = Command::new("sfdisk")
        .arg("-q")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sfdisk (package fdisk) is installed");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk failed on {script}");
    let json = Command::new("sfdisk")
        .arg("--json")
        .arg(&path)
        .output()
        .unwrap();
    assert!(json.status.success());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    (read_file(&path), json)
}

fn fs_file(path: &std::path::Path, size: u64) {
    let f = fs_err::File::create(path).unwrap();
    f.set_len(size).unwrap();
}

fn read_file(path: &std::path::Path) -> Vec<u8> {
    fs_err::read(path).unwrap()
}

/// Our partitions must match sfdisk's: node suffix = number, start and size in sectors.
fn check_against_sfdisk(script: &str, sector_size: u32, expected: &[(&str, u64, u64)]) {
    let (img, json) = sfdisk(script, 64);
    let v = scan_bytes(img, sector_size);
    let ours = layout(&v);
    let ss = u64::from(sector_size);
    let theirs: Vec<(String, u64, u64)> = json["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let node = p["node"].as_str().unwrap();
            let number = node.trim_start_matches(|c: char| !c.is_ascii_digit() || c == '.');
            let number = &node[node.len() - number.len()..];
            let number: String = number
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let number: String = number.chars().rev().collect();
            (
                format!("/dev/sda{number}"),
                p["start"].as_u64().unwrap() * ss,
                p["size"].as_u64().unwrap() * ss,
            )
        })
        .collect();
    assert_eq!(ours, theirs, "against sfdisk --json for {script}");
    let expected: Vec<(String, u64, u64)> = expected
        .iter()
        .map(|(n, s, l)| (n.to_string(), s * ss, l * ss))
        .collect();
    assert_eq!(ours, expected, "for {script}");
    assert!(v.notes.is_empty(), "{:?}", notes(&v));
}

#[test]
fn mbr_primaries_keep_their_slot_numbers() {
    check_against_sfdisk(
        "label: dos\nlabel-id: 0x01020304\n1: start=2048, size=4096, type=83, bootable\n3: start=8192, size=4096, type=7\n4: start=16384, size=2048, type=82\n",
        512,
        &[
            ("/dev/sda1", 2048, 4096),
            ("/dev/sda3", 8192, 4096),
            ("/dev/sda4", 16384, 2048),
        ],
    );
    let (img, _) = sfdisk(
        "label: dos\nlabel-id: 0x01020304\n1: start=2048, size=4096, type=83, bootable\n3: start=8192, size=4096, type=7\n",
        64,
    );
    let v = scan_bytes(img, 512);
    let sda1 = v.get("/dev/sda1").unwrap();
    match &sda1.kind {
        DeviceKind::Partition {
            mbr_type,
            part_uuid,
            bootable,
            ..
        } => {
            assert_eq!(*mbr_type, Some(0x83));
            assert_eq!(part_uuid.as_deref(), Some("01020304-01"));
            assert!(*bootable);
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(
        v.get("/dev/sda").unwrap().kind,
        DeviceKind::Disk {
            index: 0,
            mbr_signature: Some(0x01020304),
            gpt_guid: None
        }
    );
}

#[test]
fn mbr_logical_partitions_are_numbered_from_5_in_chain_order() {
    check_against_sfdisk(
        "label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=100000, type=5\nstart=120000, size=4096, type=83\nstart=12288, size=4096, type=83\nstart=18432, size=8192, type=82\nstart=28672, size=2048, type=8e\n",
        512,
        &[
            ("/dev/sda1", 2048, 8192),
            ("/dev/sda2", 10240, 100000),
            ("/dev/sda3", 120000, 4096),
            ("/dev/sda5", 12288, 4096),
            ("/dev/sda6", 18432, 8192),
            ("/dev/sda7", 28672, 2048),
        ],
    );
}

#[test]
fn extended_container_is_listed_but_never_a_candidate() {
    let (img, _) = sfdisk(
        "label: dos\nlabel-id: 0xdeadbeef\nstart=2048, size=100000, type=f\nstart=4096, size=4096, type=83\n",
        64,
    );
    let v = scan_bytes(img, 512);
    let sda1 = v.get("/dev/sda1").unwrap();
    assert_eq!(sda1.content, Content::ExtendedPartition);
    assert!(matches!(
        sda1.kind,
        DeviceKind::Partition { extended: true, .. }
    ));
    let candidates: Vec<&str> = v.filesystem_candidates().map(|d| d.name.as_str()).collect();
    assert_eq!(candidates, ["/dev/sda5"]);
    match &v.get("/dev/sda5").unwrap().kind {
        DeviceKind::Partition { part_uuid, .. } => {
            assert_eq!(part_uuid.as_deref(), Some("deadbeef-05"))
        }
        k => panic!("{k:?}"),
    }
}

#[test]
fn gpt_matches_sfdisk_and_sgdisk() {
    let script = "label: gpt\nlabel-id: 0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name=\"bios\", uuid=AAAAAAAA-0000-1111-2222-333333333333\nstart=4096, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI System\"\n4: start=20480, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, attrs=LegacyBIOSBootable\n";
    check_against_sfdisk(
        script,
        512,
        &[
            ("/dev/sda1", 2048, 2048),
            ("/dev/sda2", 4096, 8192),
            ("/dev/sda4", 20480, 4096),
        ],
    );
    let (img, json) = sfdisk(script, 64);
    let v = scan_bytes(img, 512);
    let parts = json["partitiontable"]["partitions"].as_array().unwrap();
    for (p, name) in parts.iter().zip(["/dev/sda1", "/dev/sda2", "/dev/sda4"]) {
        let DeviceKind::Partition {
            gpt_type,
            part_uuid,
            gpt_name,
            scheme,
            ..
        } = &v.get(name).unwrap().kind
        else {
            panic!()
        };
        assert_eq!(*scheme, imgprep_volume::Scheme::Gpt);
        assert_eq!(gpt_type.as_deref(), p["type"].as_str(), "{name}");
        assert_eq!(
            part_uuid.as_deref(),
            Some(p["uuid"].as_str().unwrap().to_ascii_lowercase().as_str())
        );
        assert_eq!(
            gpt_name.as_deref().unwrap_or(""),
            p["name"].as_str().unwrap_or("")
        );
    }
    let DeviceKind::Partition { bootable, .. } = v.get("/dev/sda4").unwrap().kind else {
        panic!()
    };
    assert!(bootable);
    assert_eq!(
        v.get("/dev/sda").unwrap().kind,
        DeviceKind::Disk {
            index: 0,
            mbr_signature: None,
            gpt_guid: Some("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0".into())
        }
    );
}

/// A GPT for a disk of `sectors` logical sectors of `ss` bytes, built the way the UEFI
/// specification lays it out (sfdisk and sgdisk only write 512-byte-sector tables to files).
fn gpt_disk(ss: usize, sectors: usize, parts: &[(u64, u64)]) -> Vec<u8> {
    let mut d = vec![0u8; ss * sectors];
    entry(&mut d[..512], 0, 0, 0xee, 1, (sectors - 1) as u32);
    let mut entries = vec![0u8; 128 * 128];
    for (i, (first, last)) in parts.iter().enumerate() {
        let e = &mut entries[i * 128..(i + 1) * 128];
        e[0] = 0xaf; // any non-zero type GUID
        e[16] = i as u8 + 1;
        e[32..40].copy_from_slice(&first.to_le_bytes());
        e[40..48].copy_from_slice(&last.to_le_bytes());
    }
    let entry_sectors = entries.len().div_ceil(ss);
    let last = (sectors - 1) as u64;
    for (lba, alt, array) in [(1, last, 2), (last, 1, last - entry_sectors as u64)] {
        let a = array as usize * ss;
        d[a..a + entries.len()].copy_from_slice(&entries);
        let h = &mut d[lba as usize * ss..lba as usize * ss + 92];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&lba.to_le_bytes());
        h[32..40].copy_from_slice(&alt.to_le_bytes());
        h[40..48].copy_from_slice(&(2 + entry_sectors as u64).to_le_bytes());
        h[48..56].copy_from_slice(&(last - 1 - entry_sectors as u64).to_le_bytes());
        h[72..80].copy_from_slice(&array.to_le_bytes());
        h[80..84].copy_from_slice(&128u32.to_le_bytes());
        h[84..88].copy_from_slice(&128u32.to_le_bytes());
        h[88..92].copy_from_slice(&crc32(&entries).to_le_bytes());
        let crc = crc32(h);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
    }
    d
}

#[test]
fn four_k_sectors() {
    let v = scan_bytes(gpt_disk(4096, 4096, &[(256, 1279), (2048, 2559)]), 4096);
    assert_eq!(
        layout(&v),
        [
            ("/dev/sda1".into(), 256 * 4096, 1024 * 4096),
            ("/dev/sda2".into(), 2048 * 4096, 512 * 4096),
        ]
    );
    // The same bytes read with 512-byte sectors have no valid GPT header at LBA 1.
    let src: Arc<dyn ReadAt> = Arc::new(gpt_disk(4096, 4096, &[(256, 1279)]));
    assert!(scan(&[src], 512).is_err());
    // MBR with an extended partition: LBAs count 4096-byte sectors, EBRs sit at sector starts.
    let mut d = vec![0u8; 4096 * 4096];
    entry(&mut d[..512], 0, 0, 0x83, 256, 1024);
    entry(&mut d[..512], 1, 0, 0x05, 2048, 1024);
    entry(&mut d[2048 * 4096..2048 * 4096 + 512], 0, 0, 0x83, 256, 512);
    let v = scan_bytes(d, 4096);
    assert_eq!(
        layout(&v),
        [
            ("/dev/sda1".into(), 256 * 4096, 1024 * 4096),
            ("/dev/sda2".into(), 2048 * 4096, 1024 * 4096),
            ("/dev/sda5".into(), 2304 * 4096, 512 * 4096),
        ]
    );
}

#[test]
fn unpartitioned_disk_is_itself_the_device() {
    let v = scan_bytes(vec![0u8; 1 << 20], 512);
    assert_eq!(v.devices.len(), 1);
    assert_eq!(v.devices[0].name, "/dev/sda");
    assert_eq!(v.devices[0].content, Content::Unknown);
    // A FAT boot sector has 55AA but no partition table.
    let mut fat = vec![0u8; 1 << 20];
    fat[0..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
    fat[14] = 1; // reserved sectors
    fat[16] = 2; // FATs
    fat[21] = 0xf8; // media
    fat[0x1be] = 0x12; // boot code where the table would be: not 0 or 0x80
    fat[510] = 0x55;
    fat[511] = 0xaa;
    let v = scan_bytes(fat.clone(), 512);
    assert_eq!(layout(&v), []);
    assert_eq!(v.devices[0].content, Content::Unknown);
    // mkfs.fat's FAT32 boot sector leaves the table area zero: four empty slots, no table.
    fat[0x1be] = 0;
    let v = scan_bytes(fat, 512);
    assert_eq!(layout(&v), []);
    assert_eq!(v.devices[0].content, Content::Unknown);
}

// ---- hostile MBRs, built in code ----

fn entry(sector: &mut [u8], slot: usize, boot: u8, kind: u8, start: u32, sectors: u32) {
    let e = 0x1be + 16 * slot;
    sector[e] = boot;
    sector[e + 4] = kind;
    sector[e + 8..e + 12].copy_from_slice(&start.to_le_bytes());
    sector[e + 12..e + 16].copy_from_slice(&sectors.to_le_bytes());
    sector[510] = 0x55;
    sector[511] = 0xaa;
}

fn at(disk: &mut [u8], lba: u64) -> &mut [u8] {
    let o = (lba * 512) as usize;
    &mut disk[o..o + 512]
}

/// MBR with an extended partition at LBA 2048 of 100000 sectors, and one EBR there.
fn extended_disk() -> Vec<u8> {
    let mut d = vec![0u8; 64 << 20];
    entry(at(&mut d, 0), 0, 0, 0x05, 2048, 100_000);
    d
}

#[test]
fn ebr_chain_that_loops_stops_with_a_note() {
    let mut d = extended_disk();
    // EBR 1 at 2048: data at +1, link to EBR at ext+1000; EBR 2 links back to ext+0.
    entry(at(&mut d, 2048), 0, 0, 0x83, 1, 10);
    entry(at(&mut d, 2048), 1, 0, 0x05, 1000, 100);
    entry(at(&mut d, 3048), 0, 0, 0x83, 1, 10);
    entry(at(&mut d, 3048), 1, 0, 0x05, 0, 100);
    let v = scan_bytes(d, 512);
    assert_eq!(
        layout(&v),
        [
            ("/dev/sda1".into(), 2048 * 512, 100_000 * 512),
            ("/dev/sda5".into(), 2049 * 512, 10 * 512),
            ("/dev/sda6".into(), 3049 * 512, 10 * 512),
        ]
    );
    assert_eq!(
        notes(&v),
        ["/dev/sda: extended partition chain loops: EBR at 0x100000 was already visited"]
    );
}

#[test]
fn endless_chain_of_empty_ebrs_is_cut() {
    let mut d = extended_disk();
    for i in 0..500u32 {
        entry(at(&mut d, 2048 + u64::from(i)), 1, 0, 0x05, i + 1, 1);
    }
    let v = scan_bytes(d, 512);
    assert_eq!(layout(&v).len(), 1);
    assert_eq!(
        notes(&v),
        [
            "/dev/sda: extended partition chain at 0x100000 is longer than 100 EBRs; the rest is ignored"
        ]
    );
}

#[test]
fn chain_with_more_partitions_than_linux_makes_is_cut_at_255() {
    let mut d = extended_disk();
    for i in 0..400u32 {
        let ebr = at(&mut d, 2048 + 2 * u64::from(i));
        entry(ebr, 0, 0, 0x83, 1, 1);
        entry(ebr, 1, 0, 0x05, 2 * (i + 1), 2);
    }
    let v = scan_bytes(d, 512);
    let l = layout(&v);
    assert_eq!(l.len(), 1 + 251);
    assert_eq!(l.last().unwrap().0, "/dev/sda255");
    assert_eq!(
        notes(&v),
        [
            "/dev/sda: partition table entry 256 at 0x13e800 is beyond the 255 partitions Linux creates; ignored"
        ]
    );
}

#[test]
fn partitions_past_the_end_are_dropped_or_truncated() {
    let mut d = vec![0u8; 1 << 20]; // 2048 sectors
    entry(at(&mut d, 0), 0, 0, 0x83, 100, 100);
    entry(at(&mut d, 0), 1, 0x80, 0x83, 1000, 5000);
    entry(at(&mut d, 0), 2, 0, 0x83, 4000, 10);
    entry(at(&mut d, 0), 3, 0, 0x83, u32::MAX, u32::MAX);
    let v = scan_bytes(d, 512);
    assert_eq!(
        layout(&v),
        [
            ("/dev/sda1".into(), 100 * 512, 100 * 512),
            ("/dev/sda2".into(), 1000 * 512, 1048 * 512),
        ]
    );
    assert_eq!(
        notes(&v),
        [
            "/dev/sda: partition 2 ends at 0x2ee000, past the end of the disk (0x100000); truncated",
            "/dev/sda: partition 3 starts at 0x1f4000, at or past the end of the disk (0x100000); ignored",
            "/dev/sda: partition 4 starts at 0x1fffffffe00, at or past the end of the disk (0x100000); ignored",
        ]
    );
}

#[test]
fn ee_entry_not_at_lba_1_is_neither_gpt_nor_mbr() {
    let mut d = vec![0u8; 1 << 20];
    entry(at(&mut d, 0), 0, 0, 0xee, 2, 100);
    entry(at(&mut d, 0), 1, 0, 0x83, 200, 100);
    let v = scan_bytes(d, 512);
    assert_eq!(layout(&v), []);
}

// ---- hostile GPTs: a valid sgdisk table, mutated ----

fn sgdisk_disk() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpt.img");
    fs_file(&path, 8 << 20);
    let st = Command::new("sgdisk")
        .args([
            "-o",
            "-U",
            "01234567-89AB-CDEF-0123-456789ABCDEF",
            "-n",
            "1:2048:4095",
            "-c",
            "1:one",
        ])
        .args([
            "-u",
            "1:11111111-2222-3333-4444-555555555555",
            "-n",
            "3:4096:8191",
        ])
        .args(["-u", "3:66666666-7777-8888-9999-AAAAAAAAAAAA"])
        .arg(&path)
        .output()
        .expect("sgdisk (package gdisk) is installed");
    assert!(st.status.success());
    read_file(&path)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Rewrites the header CRC of the GPT header at `lba` after a mutation.
fn fix_header_crc(d: &mut [u8], lba: u64) {
    let h = at(d, lba);
    h[16..20].fill(0);
    let size = u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize;
    let crc = crc32(&h[..size.min(512)]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
}

fn good_gpt_layout() -> Vec<(String, u64, u64)> {
    vec![
        ("/dev/sda1".into(), 2048 * 512, 2048 * 512),
        ("/dev/sda3".into(), 4096 * 512, 4096 * 512),
    ]
}

fn check_gpt(
    mutate: impl Fn(&mut Vec<u8>),
    expected_layout: &[(String, u64, u64)],
    expected_notes: &[&str],
) {
    let mut d = sgdisk_disk();
    mutate(&mut d);
    let v = scan_bytes(d, 512);
    assert_eq!(layout(&v), expected_layout);
    assert_eq!(notes(&v), expected_notes);
}

fn check_gpt_err(mutate: impl Fn(&mut Vec<u8>), expected: &str) {
    let mut d = sgdisk_disk();
    mutate(&mut d);
    let src: Arc<dyn ReadAt> = Arc::new(d);
    let err = scan(&[src], 512).unwrap_err();
    assert_eq!(err.to_string(), expected);
}

const LAST: u64 = (8 << 20) / 512 - 1;

#[test]
fn gpt_primary_bad_uses_backup() {
    check_gpt(|_| {}, &good_gpt_layout(), &[]);
    check_gpt(
        |d| at(d, 1)[16] ^= 1,
        &good_gpt_layout(),
        &["/dev/sda: primary GPT header at 0x200: checksum is 0xef692531, expected 0xef692530"],
    );
}

#[test]
fn gpt_hostile_headers() {
    // Absurd entry count: refused before any allocation, backup used.
    check_gpt(
        |d| {
            at(d, 1)[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
            fix_header_crc(d, 1);
        },
        &good_gpt_layout(),
        &[
            "/dev/sda: primary GPT header at 0x200: partition entry array size is 4294967295 entries of 128 bytes, expected at most 1048576 bytes",
        ],
    );
    // Entry size not a multiple of 128.
    check_gpt(
        |d| {
            at(d, 1)[84..88].copy_from_slice(&200u32.to_le_bytes());
            fix_header_crc(d, 1);
        },
        &good_gpt_layout(),
        &[
            "/dev/sda: primary GPT header at 0x200: partition entry size is 200, expected a multiple of 128",
        ],
    );
    // Entry array CRC wrong.
    check_gpt(
        |d| at(d, 2)[32] ^= 0xff,
        &good_gpt_layout(),
        &[
            "/dev/sda: GPT partition entry array at 0x400: checksum is 0x3584eb47, expected 0xa70682fe",
        ],
    );
    // Header size larger than a sector.
    check_gpt(
        |d| {
            at(d, 1)[12..16].copy_from_slice(&4096u32.to_le_bytes());
            fix_header_crc(d, 1);
        },
        &good_gpt_layout(),
        &["/dev/sda: primary GPT header at 0x200: header size is 4096, expected 92..=512"],
    );
}

#[test]
fn gpt_both_headers_bad_is_an_error() {
    check_gpt_err(
        |d| {
            at(d, 1)[16] ^= 1;
            at(d, LAST)[0] = b'X';
        },
        "no valid GPT header: primary: primary GPT header at 0x200: checksum is 0xef692531, expected 0xef692530; backup: backup GPT header at 0x7ffe00: signature is [58, 46, 49, 20, 50, 41, 52, 54], expected \"EFI PART\"",
    );
}

#[test]
fn gpt_entries_outside_the_disk_are_skipped() {
    check_gpt(
        |d| {
            // Entry 1 (index 0) ends past the last LBA; fix both entry arrays' CRCs.
            for (hdr, arr) in [(1u64, 2u64), (LAST, LAST - 32)] {
                let o = (arr * 512) as usize;
                d[o + 40..o + 48].copy_from_slice(&(LAST + 10).to_le_bytes());
                let crc = crc32(&d[o..o + 128 * 128]);
                at(d, hdr)[88..92].copy_from_slice(&crc.to_le_bytes());
                fix_header_crc(d, hdr);
            }
        },
        &good_gpt_layout()[1..],
        &[
            "/dev/sda: GPT entry 0 at 0x400: LBA range 2048..=16393 is not inside the disk (last LBA 16383); ignored",
        ],
    );
}

#[test]
fn absurd_sector_sizes_are_refused() {
    for ss in [0, 256, 1000, 1 << 30] {
        let src: Arc<dyn ReadAt> = Arc::new(vec![0u8; 4096]);
        let err = scan(&[src], ss).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "disk at 0x0: logical sector size is {ss}, expected a power of two from 512 to 65536"
            )
        );
    }
}
