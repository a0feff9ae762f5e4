//! The registry target.

use imgprep_registry::Hive;

/// Registry hives: parse the input as a whole hive file, walk every key (with the reader's loop
/// and depth checks), read every value's data, class name and a few lookups.
///
/// Seeds: `fuzz/seeds/fs_ntfs_registry.sh` (hives grown with hivexregedit).
pub fn registry_hive(data: &[u8]) {
    let Ok(hive) = Hive::from_bytes(data.to_vec()) else {
        return;
    };
    let _ = hive.is_dirty();
    let _ = hive.walk(&mut |_path, key| {
        let _ = key.name();
        let _ = key.class();
        let _ = key.last_written();
        if let Ok(values) = key.values() {
            for v in values {
                let _ = v.data();
            }
        }
        let _ = key.value("");
        let _ = key.subkey("Microsoft");
        Ok(())
    });
    let _ = hive.open("Microsoft\\Windows NT\\CurrentVersion");
}
