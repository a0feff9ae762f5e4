//! Inspection says when a filesystem was not cleanly unmounted and whether its log was replayed:
//! the dirty fixtures (images-test/dirty-xfs.sh, dirty-btrfs.sh) each get one note naming the
//! device, and a clean filesystem gets none.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::path::PathBuf;

use imgprep_guest::Image;
use imgprep_inspect::{Options, inspect};

fn fixture(name: &str) -> PathBuf {
    imgprep_testkit::fixture(name)
}

fn notes(path: PathBuf) -> Vec<String> {
    let image = Image::open(&[path]).unwrap();
    inspect(&image, Options::default()).notes
}

#[test]
fn a_replayed_xfs_log_is_noted_once() {
    let notes = notes(fixture("dirty-xfs").join("v5.img"));
    let dirty: Vec<&String> = notes.iter().filter(|n| n.contains("cleanly")).collect();
    assert_eq!(dirty.len(), 1, "{notes:?}");
    let n = dirty[0];
    assert!(
        n.starts_with("/dev/sda: not cleanly unmounted: XFS log replayed in memory (")
            && n.ends_with(" transactions)"),
        "{n}"
    );
}

#[test]
fn replayed_btrfs_log_trees_are_noted_once_for_all_subvolumes() {
    let notes = notes(fixture("dirty-btrfs").join("dirty.img"));
    let dirty: Vec<&String> = notes.iter().filter(|n| n.contains("cleanly")).collect();
    assert_eq!(dirty.len(), 1, "{notes:?}");
    assert!(
        dirty[0]
            .starts_with("/dev/sda: not cleanly unmounted: btrfs log tree replayed in memory ("),
        "{}",
        dirty[0]
    );
}

#[test]
fn a_clean_filesystem_has_no_such_note() {
    let notes = notes(fixture("xfs-proto").join("v5-b1k-n4k.img"));
    assert!(!notes.iter().any(|n| n.contains("cleanly")), "{notes:?}");
}
