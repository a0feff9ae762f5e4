//! Linux swap signatures, recognised as libblkid does (`libblkid/src/superblocks/swap.c`).
//!
//! A swap area ends its first page with `SWAPSPACE2` (version 1, with label and UUID) or the
//! old `SWAP-SPACE` (version 0, neither). Page sizes of 4, 8, 16, 32 and 64 KiB are tried in
//! that order. There is nothing to read inside a swap area; this only names it.

use crate::FsInfo;
use imgprep_io::ReadAt;

/// libblkid skips devices smaller than ten 4 KiB pages.
const MIN_SIZE: u64 = 10 * 4096;
/// Where the 10-byte signature sits: the last bytes of a page of each size.
const SIGNATURE_AT: [u64; 5] = [0xff6, 0x1ff6, 0x3ff6, 0x7ff6, 0xfff6];
/// TuxOnIce hibernation images keep a valid-looking swap header; libblkid ignores those.
const TOI_MAGIC: [u8; 8] = [0xed, 0xc3, 0x02, 0xe9, 0x98, 0x56, 0xe5, 0x0c];

/// `swap` with label and UUID as `blkid -p` reports them, or `None` when there is no swap
/// signature libblkid accepts.
pub fn probe_swap(dev: &dyn ReadAt) -> Option<FsInfo> {
    if dev.size() < MIN_SIZE {
        return None;
    }
    let mut head = [0u8; 8];
    dev.read_exact_at(0, &mut head).ok()?;
    if head == TOI_MAGIC {
        return None;
    }
    for at in SIGNATURE_AT {
        let mut sig = [0u8; 10];
        if dev.read_exact_at(at, &mut sig).is_err() {
            continue;
        }
        match &sig {
            b"SWAP-SPACE" => {
                return Some(FsInfo {
                    fstype: "swap".into(),
                    label: None,
                    uuid: None,
                });
            }
            b"SWAPSPACE2" => return version1(dev),
            _ => {}
        }
    }
    None
}

/// The version-1 header at byte 1024: version, last page, bad pages, UUID, label.
fn version1(dev: &dyn ReadAt) -> Option<FsInfo> {
    let mut h = [0u8; 184];
    dev.read_exact_at(1024, &mut h).ok()?;
    let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let version = u32_at(0);
    if version != 1 && version.swap_bytes() != 1 {
        return None;
    }
    if u32_at(4) == 0 {
        return None;
    }
    // libblkid trusts label and UUID only when two padding words are zero.
    let mut info = FsInfo {
        fstype: "swap".into(),
        label: None,
        uuid: None,
    };
    if u32_at(44 + 32 * 4) == 0 && u32_at(44 + 33 * 4) == 0 {
        info.uuid = crate::blkid_uuid(&h[12..28]);
        let volume = &h[28..44];
        if volume[0] != 0 {
            let end = volume.iter().position(|&b| b == 0).unwrap_or(16);
            let text = String::from_utf8_lossy(&volume[..end]);
            let text = text.trim_end_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
            if !text.is_empty() {
                info.label = Some(text.to_owned());
            }
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Type, label and UUID from `blkid -p -o export`.
    fn blkid(path: &std::path::Path) -> Option<FsInfo> {
        let out = Command::new("blkid")
            .args(["-p", "-o", "export"])
            .arg(path)
            .output()
            .expect("blkid (util-linux) is installed");
        let text = String::from_utf8(out.stdout).unwrap();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(|v| v.replace('\\', ""))
        };
        Some(FsInfo {
            fstype: get("TYPE")?,
            label: get("LABEL"),
            uuid: get("UUID"),
        })
    }

    /// Makes a swap file with `mkswap ARGS` and compares probe_swap with blkid and `expected`.
    fn check(size: usize, args: &[&str], expected: Option<(&str, Option<&str>, Option<&str>)>) {
        let dir = std::env::temp_dir().join(format!(
            "imgprep-swap-{}-{}",
            std::process::id(),
            args.join("_").replace('/', "")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("swap");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&file)
            .and_then(|f| f.set_len(size as u64))
            .unwrap();
        if !args.is_empty() {
            let out = Command::new("mkswap")
                .args(args)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let got = probe_swap(&imgprep_io::FileSource::open(&file).unwrap());
        assert_eq!(got, blkid(&file), "mkswap {args:?}: probe vs blkid");
        let got = got.map(|i| (i.fstype, i.label, i.uuid));
        let want =
            expected.map(|(t, l, u)| (t.to_owned(), l.map(str::to_owned), u.map(str::to_owned)));
        assert_eq!(got, want, "mkswap {args:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    const UUID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    #[test]
    fn mkswap_pages_labels_and_uuids() {
        check(
            1 << 20,
            &["-U", UUID, "-L", "swapper"],
            Some(("swap", Some("swapper"), Some(UUID))),
        );
        check(1 << 20, &["-U", UUID], Some(("swap", None, Some(UUID))));
        for page in ["8192", "16384", "65536"] {
            check(
                4 << 20,
                &["-p", page, "-U", UUID, "-L", "big-pages"],
                Some(("swap", Some("big-pages"), Some(UUID))),
            );
        }
        // Not swap: zeros.
        check(1 << 20, &[], None);
    }

    #[test]
    fn version_0_small_devices_and_tuxonice() {
        let mut v0 = vec![0u8; 64 << 10];
        v0[0xff6..0x1000].copy_from_slice(b"SWAP-SPACE");
        assert_eq!(probe_swap(&v0).map(|i| i.fstype), Some("swap".into()));
        assert_eq!(probe_swap(&v0[..(40 << 10) - 512].to_vec()), None);
        assert!(probe_swap(&v0[..40 << 10].to_vec()).is_some());
        let mut toi = v0.clone();
        toi[..8].copy_from_slice(&TOI_MAGIC);
        assert_eq!(probe_swap(&toi), None);
        // Version 1 with a zero last page, and with a wrong version.
        let mut v1 = vec![0u8; 64 << 10];
        v1[0xff6..0x1000].copy_from_slice(b"SWAPSPACE2");
        v1[1024] = 1;
        assert_eq!(probe_swap(&v1), None);
        v1[1028] = 9;
        assert!(probe_swap(&v1).is_some());
        v1[1024] = 2;
        assert_eq!(probe_swap(&v1), None);
    }
}
