//! Hostile variants of valid images: each damages one structure (fixing checksums where the
//! damage should get past them) and expects an error naming what, where, expected and found.

use std::process::Command;
use std::sync::Arc;

use imgprep_fs::FileKind;
use imgprep_io::{FileSource, ReadAt, le};
use imgprep_testkit::Patched;

use crate::error::Key;
use crate::fs::{FS_TREE, Shared};
use crate::volume::{HEADER, SUPER_OFFSET, TreeRoot, Volume};
use crate::{Subvol, crc};

/// Checksum repair on top of the shared patchable device.
trait FixCsum {
    fn fix_csum(&mut self, offset: u64, len: usize);
    fn fix_super(&mut self);
}

impl FixCsum for Patched {
    /// Recomputes the CRC-32C of the block of `len` bytes at `offset`.
    fn fix_csum(&mut self, offset: u64, len: usize) {
        let b = self.get(offset, len);
        let c = crc::checksum(&b[0x20..]);
        self.put(offset, &c.to_le_bytes());
    }
    fn fix_super(&mut self) {
        self.fix_csum(SUPER_OFFSET, 4096);
    }
}

/// Everything a reader of the device would do: list subvolumes, open the default one, walk it
/// and read every file and link. Returns the first error's message.
fn explore(dev: Patched) -> Result<(), String> {
    let dev: Arc<dyn ReadAt> = Arc::new(dev);
    crate::subvolumes(&*dev).map_err(|e| e.to_string())?;
    let fs = crate::open(dev).map_err(|e| e.to_string())?;
    let mut stack = vec![b"/".to_vec()];
    while let Some(dir) = stack.pop() {
        for e in fs.read_dir(&dir).map_err(|e| e.to_string())? {
            let mut p = dir.clone();
            if p.len() > 1 {
                p.push(b'/');
            }
            p.extend_from_slice(&e.name);
            let m = fs.lstat(&p).map_err(|e| e.to_string())?.ok_or("vanished")?;
            match m.kind {
                FileKind::Dir => stack.push(p),
                FileKind::File => drop(fs.read(&p, 0, 1 << 24).map_err(|e| e.to_string())?),
                FileKind::Symlink => drop(fs.read_link(&p).map_err(|e| e.to_string())?),
                _ => {}
            }
        }
    }
    Ok(())
}

fn check(dev: Patched, expected: &[&str]) {
    let err = explore(dev).expect_err("the damage must be reported");
    for part in expected {
        assert!(err.contains(part), "error {err:?} lacks {part:?}");
    }
}

/// A small image made by mkfs.btrfs --rootdir: 4 KiB nodes (so the 300-entry directory makes a
/// two-level tree), single metadata, an inline file, a regular file and a symlink.
pub(crate) fn mkfs_image() -> Arc<dyn ReadAt> {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs_err::create_dir_all(src.join("many")).unwrap();
    fs_err::write(src.join("hostname"), "inline data\n").unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    fs_err::write(src.join("big"), big).unwrap();
    for i in 0..300 {
        fs_err::write(src.join(format!("many/file-{i}")), format!("{i}")).unwrap();
    }
    std::os::unix::fs::symlink("/hostname", src.join("link")).unwrap();
    let img = tmp.path().join("img");
    fs_err::File::create(&img).unwrap();
    let out = Command::new("mkfs.btrfs")
        .args(["-q", "-f", "-n", "4096", "-m", "single", "--rootdir"])
        .arg(&src)
        .arg(&img)
        .output()
        .expect("mkfs.btrfs runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Arc::new(fs_err::read(&img).unwrap())
}

fn fixture(image: &str) -> Arc<dyn ReadAt> {
    let dir = imgprep_testkit::fixture("btrfs-layouts");
    Arc::new(FileSource::open(dir.join(format!("{image}.img"))).unwrap())
}

/// Where things are in a valid image.
struct Map {
    vol: Volume<'static>,
    shared: Shared<'static>,
}

impl Map {
    fn new(dev: &Arc<dyn ReadAt>) -> Map {
        Map {
            vol: Volume::open(dev.clone()).unwrap(),
            shared: Shared::new(Volume::open(dev.clone()).unwrap()).unwrap(),
        }
    }
    fn tree(&self, id: u64) -> TreeRoot {
        self.shared.subvol(id).unwrap().unwrap().tree
    }
    /// (device offset of the leaf, item index) holding `key` in `tree`.
    fn item(&self, tree: TreeRoot, key: Key) -> (u64, usize) {
        let (logical, i) = *self.vol.path_to(tree, key).last().unwrap();
        (self.vol.physical(logical), i)
    }
    /// Device offset of the data of `key` in `tree`, and the leaf to re-checksum.
    fn item_data(&self, dev: &Patched, tree: TreeRoot, key: Key) -> (u64, u64) {
        let (leaf, i) = self.item(tree, key);
        let hdr = dev.get(leaf + HEADER as u64 + 25 * i as u64, 25);
        (leaf + HEADER as u64 + u64::from(le::u32(&hdr, 17)), leaf)
    }
    fn nodesize(&self) -> usize {
        self.vol.sb.nodesize as usize
    }
    /// Inode number of `path` in subvolume `id`.
    fn ino(&self, id: u64, path: &str) -> u64 {
        let sv = self.shared.subvol(id).unwrap().unwrap();
        let fs = crate::fs::BtrfsFs {
            shared: Arc::new(Shared::new(Volume::open(self.vol_dev()).unwrap()).unwrap()),
            root: sv,
        };
        imgprep_fs::Filesystem::lstat(&fs, path.as_bytes())
            .unwrap()
            .unwrap()
            .ino
    }
    fn vol_dev(&self) -> Arc<dyn ReadAt> {
        self.shared.vol.device()
    }
}

#[test]
fn superblock_damage_is_named() {
    let base = mkfs_image();
    assert!(explore(Patched::new(base.clone())).is_ok());

    let mut d = Patched::new(base.clone());
    d.put(SUPER_OFFSET + 0x40, b"_BHRfS_X");
    assert!(crate::probe(&d).is_none());
    check(
        d,
        &["superblock at 0x10000 has magic \"_BHRfS_X\", expected \"_BHRfS_M\""],
    );

    let mut d = Patched::new(base.clone());
    d.put(SUPER_OFFSET + 0x12b, b"X");
    check(d, &["btrfs superblock at 0x10000: checksum is", "expected"]);

    let mut d = Patched::new(base.clone());
    d.put_u64(SUPER_OFFSET + 0x88, 2);
    d.fix_super();
    check(d, &["multi-device btrfs (2 devices) is not supported"]);

    let mut d = Patched::new(base.clone());
    d.put(SUPER_OFFSET + 0xc6, &[9]);
    d.fix_super();
    check(
        d,
        &["superblock at 0x10000: root_level is 9, expected at most 7"],
    );

    // The first sys_chunk_array entry: key (17 bytes), then the chunk; stripe 0 at +48.
    let chunk = SUPER_OFFSET + 0x32b + 17;
    let mut d = Patched::new(base.clone());
    d.put_u64(chunk + 48 + 8, 1 << 50);
    d.fix_super();
    check(
        d,
        &[
            "stripe range on the device",
            "within the device size",
            "0x4000000000000+",
        ],
    );

    let mut d = Patched::new(base.clone());
    let kind = le::u64(&d.get(chunk + 24, 8), 0);
    d.put_u64(chunk + 24, kind | 0x80);
    d.fix_super();
    check(
        d,
        &[
            "RAID5 block group profile (chunk at logical",
            "is not supported",
        ],
    );
}

#[test]
fn tree_block_damage_is_named() {
    let base = mkfs_image();
    let map = Map::new(&base);
    let ns = map.nodesize();
    let fs_tree = map.tree(FS_TREE);
    assert_eq!(
        fs_tree.level, 1,
        "the 300-entry directory needs a two-level tree"
    );
    let root_phys = map.vol.physical(fs_tree.bytenr);

    // A child pointer back to its own parent (a loop): the level check stops it.
    let mut d = Patched::new(base.clone());
    d.put_u64(root_phys + HEADER as u64 + 33 + 17, fs_tree.bytenr);
    d.fix_csum(root_phys, ns);
    check(
        d,
        &[
            &format!("tree 5 block {:#x}", fs_tree.bytenr),
            "level: expected 0, found 1",
        ],
    );

    // A block claiming a level deeper than btrfs allows.
    let mut d = Patched::new(base.clone());
    d.put(root_phys + 0x64, &[8]);
    d.fix_csum(root_phys, ns);
    check(d, &["level: expected at most 7, found 8"]);

    // The root item of the top level says its tree is 9 levels deep.
    let (item, leaf) = map.item_data(
        &Patched::new(base.clone()),
        map.vol.root_tree(),
        Key::new(FS_TREE, 132, 0),
    );
    let mut d = Patched::new(base.clone());
    d.put(item + 0xee, &[9]);
    d.fix_csum(leaf, ns);
    check(
        d,
        &["tree 1 item (5 ROOT_ITEM 0): root level: expected at most 7, found 9"],
    );

    // A stale checksum.
    let mut d = Patched::new(base.clone());
    d.put(root_phys + 0x80, &[0xff]);
    check(
        d,
        &[&format!("tree block {:#x}", fs_tree.bytenr), "checksum is"],
    );

    // A block at the wrong address.
    let mut d = Patched::new(base.clone());
    d.put_u64(root_phys + 0x30, fs_tree.bytenr + 4096);
    d.fix_csum(root_phys, ns);
    check(
        d,
        &[
            "bytenr: expected",
            &format!("found {:#x}", fs_tree.bytenr + 4096),
        ],
    );

    // Keys out of order in the internal node.
    let mut d = Patched::new(base.clone());
    d.put_u64(root_phys + HEADER as u64 + 33, 0);
    d.fix_csum(root_phys, ns);
    check(d, &["key order: expected item 1 above"]);

    // A leaf item whose data runs past the leaf.
    let ino = map.ino(FS_TREE, "/hostname");
    let (leaf, i) = map.item(fs_tree, Key::new(ino, 1, 0));
    let mut d = Patched::new(base.clone());
    d.put(
        leaf + HEADER as u64 + 25 * i as u64 + 21,
        &0xffffu32.to_le_bytes(),
    );
    d.fix_csum(leaf, ns);
    check(
        d,
        &[
            "item data range: expected item",
            &format!("({ino} INODE_ITEM 0)"),
            "+0xffff",
        ],
    );

    // A leaf claiming more items than fit.
    let mut d = Patched::new(base.clone());
    d.put(leaf + 0x60, &100_000u32.to_le_bytes());
    d.fix_csum(leaf, ns);
    check(d, &["item count: expected at most", "found 100000"]);

    // A child pointer that no chunk maps.
    let mut d = Patched::new(base.clone());
    d.put_u64(root_phys + HEADER as u64 + 17, 1 << 40);
    d.fix_csum(root_phys, ns);
    check(
        d,
        &["logical range 0x10000000000+0x1000 is not mapped by any chunk"],
    );
}

#[test]
fn item_damage_is_named() {
    let base = mkfs_image();
    let map = Map::new(&base);
    let ns = map.nodesize();
    let fs_tree = map.tree(FS_TREE);

    // An inline extent that says it holds more than it does.
    let ino = map.ino(FS_TREE, "/hostname");
    let (data, leaf) = map.item_data(&Patched::new(base.clone()), fs_tree, Key::new(ino, 108, 0));
    let mut d = Patched::new(base.clone());
    d.put_u64(data + 8, 4000);
    d.fix_csum(leaf, ns);
    check(
        d,
        &[
            &format!("({ino} EXTENT_DATA 0)"),
            "inline extent length (ram_bytes): expected 12",
            "found 4000",
        ],
    );

    // A regular extent whose window runs past its disk extent.
    let ino = map.ino(FS_TREE, "/big");
    let (data, leaf) = map.item_data(&Patched::new(base.clone()), fs_tree, Key::new(ino, 108, 0));
    let mut d = Patched::new(base.clone());
    d.put_u64(data + 45, 1 << 40);
    d.fix_csum(leaf, ns);
    check(
        d,
        &[
            "extent window (offset + num_bytes)",
            "found 0 + 1099511627776",
        ],
    );

    // A file extent pointing outside every chunk.
    let mut d = Patched::new(base.clone());
    d.put_u64(data + 21, 1 << 44);
    d.fix_csum(leaf, ns);
    check(
        d,
        &[
            &format!("({ino} EXTENT_DATA 0): data location"),
            "0x100000000000 + 0x0",
            "which no chunk maps",
        ],
    );

    // A directory entry whose name runs past the item.
    let dir = map.ino(FS_TREE, "/many");
    let (leaf, i) = map.item(fs_tree, Key::new(dir, 96, 2));
    let pb = Patched::new(base.clone());
    let hdr = pb.get(leaf + HEADER as u64 + 25 * i as u64, 25);
    let data = leaf + HEADER as u64 + u64::from(le::u32(&hdr, 17));
    let mut d = Patched::new(base.clone());
    d.put(data + 27, &200u16.to_le_bytes());
    d.fix_csum(leaf, ns);
    check(
        d,
        &[
            &format!("({dir} DIR_INDEX 2)"),
            "directory entry size: expected at most",
        ],
    );

    // An unknown compression type.
    let ino = map.ino(FS_TREE, "/big");
    let (data, leaf) = map.item_data(&Patched::new(base.clone()), fs_tree, Key::new(ino, 108, 0));
    let mut d = Patched::new(base.clone());
    d.put(data + 16, &[9]);
    d.fix_csum(leaf, ns);
    check(d, &["compression type 9", "is not supported"]);
}

/// The compressed extents of the Fedora fixture's root subvolume, lying about their size.
#[test]
fn compressed_extents_that_decode_to_more_than_they_say_are_refused() {
    let base = fixture("fedora");
    let map = Map::new(&base);
    let ns = map.nodesize();
    let root = map.shared.select(&Subvol::Path("root".into())).unwrap();
    let tree = root.tree;
    for alg in ["zlib", "lzo", "zstd"] {
        // Compressed inline extent: 1500 bytes of text.
        let ino = map.ino(tree.id, &format!("/var/{alg}/inline"));
        let (data, leaf) = map.item_data(&Patched::new(base.clone()), tree, Key::new(ino, 108, 0));
        let pb = Patched::new(base.clone());
        assert_ne!(
            pb.get(data + 16, 1)[0],
            0,
            "{alg} inline extent is compressed"
        );
        let mut d = Patched::new(base.clone());
        d.put_u64(data + 8, 100);
        d.fix_csum(leaf, ns);
        let err = explore_file(d, tree.id, &format!("/var/{alg}/inline"));
        assert!(
            err.contains(&format!(
                "({ino} EXTENT_DATA 0) ({alg} data at logical 0x0)"
            )),
            "{err}"
        );
        assert!(
            err.contains("decodes to more than the 100 bytes the extent says"),
            "{err}"
        );

        // Regular compressed extent: the first 128 KiB of the text file.
        let ino = map.ino(tree.id, &format!("/var/{alg}/text"));
        let (data, leaf) = map.item_data(&pb, tree, Key::new(ino, 108, 0));
        assert_ne!(pb.get(data + 16, 1)[0], 0, "{alg} extent is compressed");
        let mut d = Patched::new(base.clone());
        d.put_u64(data + 8, 4096);
        d.put_u64(data + 37, 0);
        d.put_u64(data + 45, 4096);
        d.fix_csum(leaf, ns);
        let err = explore_file(d, tree.id, &format!("/var/{alg}/text"));
        assert!(
            err.contains(&format!("({ino} EXTENT_DATA 0) ({alg} data at logical 0x")),
            "{err}"
        );
        assert!(err.contains("decodes to more than the 4096 bytes"), "{err}");

        // Garbage in place of the compressed bytes (file data has no checksum to catch it).
        let disk = le::u64(&pb.get(data + 21, 8), 0);
        let mut d = Patched::new(base.clone());
        d.put(map.vol.physical(disk), &[0xa5; 512]);
        let err = explore_file(d, tree.id, &format!("/var/{alg}/text"));
        assert!(
            err.contains(&format!("({alg} data at logical {disk:#x})")),
            "{err}"
        );
    }
}

fn explore_file(dev: Patched, tree: u64, path: &str) -> String {
    let fs = crate::open_subvolume(Arc::new(dev), Subvol::Id(tree)).unwrap();
    match fs.read(path.as_bytes(), 0, 1 << 20) {
        Ok(data) => panic!("{path}: read {} bytes despite the damage", data.len()),
        Err(e) => e.to_string(),
    }
}

/// With DUP metadata a damaged first copy is read from the second; both damaged is an error
/// naming the first copy.
#[test]
fn dup_metadata_falls_back_to_the_second_copy() {
    let base = fixture("suse");
    let map = Map::new(&base);
    let root = map.vol.root_tree();
    let copies = map.vol.copies(root.bytenr);
    assert_eq!(copies.len(), 2, "suse.img has DUP metadata");
    let mut d = Patched::new(base.clone());
    d.put(copies[0] + 0x100, &[0x5a; 64]);
    assert_eq!(explore(d), Ok(()));
    let mut d = Patched::new(base.clone());
    d.put(copies[0] + 0x100, &[0x5a; 64]);
    d.put(copies[1] + 0x100, &[0x5a; 64]);
    check(
        d,
        &[&format!(
            "tree block {:#x} (device offset {:#x}): checksum is",
            root.bytenr, copies[0]
        )],
    );
}

#[test]
fn checksums_can_be_left_unchecked() {
    let base = mkfs_image();
    let map = Map::new(&base);
    let fs_tree = map.tree(FS_TREE);
    // The label (in the superblock) and the last, unused byte of the fs tree's root node
    // changed, no checksum fixed: refused by default, read with verification off.
    let mut d = Patched::new(base.clone());
    d.put(SUPER_OFFSET + 0x12b, b"X");
    let node = map.vol.physical(fs_tree.bytenr);
    d.put(node + map.nodesize() as u64 - 1, &[0xaa]);
    let dev: Arc<dyn ReadAt> = Arc::new(d);
    let off = crate::Options {
        verify_checksums: false,
    };
    assert!(crate::probe(&*dev).is_none());
    let info = crate::probe_with(&*dev, &off).expect("probed without checksums");
    assert_eq!(info.label.as_deref().map(|l| &l[..1]), Some("X"));
    let Err(err) = crate::open(dev.clone()) else {
        panic!("a stale checksum must be refused by default");
    };
    assert!(err.to_string().contains("checksum is"), "{err}");
    assert!(crate::subvolumes(&*dev).is_err());
    assert!(crate::subvolumes_with(&*dev, &off).is_ok());
    let fs =
        crate::open_subvolume_with(dev, Subvol::Id(5), &off).expect("opened without checksums");
    let names = fs.read_dir(b"/").expect("root listed");
    assert!(names.iter().any(|e| e.name == b"hostname"), "{names:?}");
}
