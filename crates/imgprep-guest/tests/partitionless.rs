//! FAT32 and NTFS volumes written straight onto a disk, with no partition table: libguestfs's
//! `list-filesystems` reports them on the whole disk (`/dev/sda: vfat`, `/dev/sda: ntfs`), even
//! though their boot sectors end in the 55AA signature an MBR has.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use imgprep_guest::Image;

fn filesystems(img: &std::path::Path) -> Vec<(String, String)> {
    let image = Image::open(&[img]).unwrap();
    image
        .filesystems()
        .iter()
        .map(|f| {
            (
                f.mountable.to_string(),
                f.info
                    .as_ref()
                    .map(|i| i.fstype.clone())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fat32_on_the_whole_disk() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fat32.img");
    run(Command::new("mkfs.vfat")
        .args(["-F", "32", "-n", "WHOLEDISK", "-i", "1234abcd", "-C"])
        .arg(&img)
        .arg("65536"));
    assert_eq!(filesystems(&img), [("/dev/sda".into(), "vfat".into())]);
    let image = Image::open(&[&img]).unwrap();
    let info = image.probe("/dev/sda").unwrap();
    assert_eq!(info.label.as_deref(), Some("WHOLEDISK"));
    assert_eq!(info.uuid.as_deref(), Some("1234-ABCD"));
}

#[test]
fn ntfs_on_the_whole_disk() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ntfs.img");
    fs_err::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    run(Command::new("mkntfs")
        .args(["-q", "-F", "-f", "-L", "WholeNtfs"])
        .arg(&img));
    assert_eq!(filesystems(&img), [("/dev/sda".into(), "ntfs".into())]);
    let image = Image::open(&[&img]).unwrap();
    assert_eq!(
        image.probe("/dev/sda").unwrap().label.as_deref(),
        Some("WholeNtfs")
    );
    // The volume opens and lists its root.
    let fs = image
        .open_fs(&imgprep_guest::Mountable::device("/dev/sda"))
        .unwrap();
    assert!(fs.read_dir(b"/").unwrap().is_empty());
}
