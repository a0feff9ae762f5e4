//! Images changed with `debugfs -w` after `mke2fs -d`: journals that need recovery (written
//! with debugfs's journal commands, no mount needed) and unwritten extents over stale data.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use imgprep_fs::LogReplay;
use imgprep_io::{FileSource, ReadAt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const OLD: &[u8] = b"old contents\n";

/// An ext4 image holding `/a` = [`OLD`], and the block number of `/a`'s data.
fn image(dir: &Path, opts: &[&str]) -> (PathBuf, u64) {
    let src = dir.join("src");
    fs_err::create_dir_all(&src).unwrap();
    fs_err::write(src.join("a"), OLD).unwrap();
    let img = dir.join("fs.img");
    let st = Command::new("mke2fs")
        .args(["-F", "-q", "-t", "ext4"])
        .args(opts)
        .arg("-d")
        .arg(&src)
        .arg(&img)
        .arg("32M")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let block = debugfs(&img, false, "bmap /a 0").trim().parse().unwrap();
    (img, block)
}

fn debugfs(img: &Path, write: bool, script: &str) -> String {
    let mut cmd = Command::new("debugfs");
    if write {
        cmd.arg("-w");
    }
    let out = cmd
        .arg("-f")
        .arg("-")
        .arg(img)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // debugfs echoes each command as "debugfs: CMD"; keep only the answers.
    text.lines()
        .filter(|l| !l.starts_with("debugfs:"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read_a(img: &Path) -> Vec<u8> {
    let dev: Arc<dyn ReadAt> = Arc::new(FileSource::open(img).unwrap());
    let fs = imgprep_fs_ext::open(dev).unwrap();
    fs.read(b"/a", 0, OLD.len()).unwrap()
}

fn needs_recovery(img: &Path) -> bool {
    let out = Command::new("dumpe2fs")
        .arg("-h")
        .arg(img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("needs_recovery")
}

/// Writes `journal` (debugfs journal commands, with `{B}` for /a's block and `{F}` for a file
/// holding a new block that starts with `new_head`), then checks what /a reads before and after
/// `e2fsck` replays the journal for real.
fn check(opts: &[&str], new_head: &[u8], journal: &str, expected: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let (img, block) = image(dir.path(), opts);
    let blk = dir.path().join("block");
    let mut data = new_head.to_vec();
    data.resize(4096, 0);
    fs_err::write(&blk, &data).unwrap();
    let script = journal
        .replace("{B}", &block.to_string())
        .replace("{B2}", &(block + 200).to_string())
        .replace("{F}", blk.to_str().unwrap());
    debugfs(&img, true, &script);
    assert!(
        needs_recovery(&img),
        "{journal}: the image does not need recovery"
    );
    assert_eq!(read_a(&img), expected, "{journal}: before e2fsck");
    let fs = imgprep_fs_ext::open(Arc::new(FileSource::open(&img).unwrap())).unwrap();
    assert!(
        matches!(fs.log_replay(), LogReplay::Replayed { log, .. } if log == "ext4 journal"),
        "{journal}: {:?}",
        fs.log_replay()
    );
    // The kernel's answer, by proxy: e2fsck replays the journal into the image.
    let replayed = dir.path().join("replayed.img");
    fs_err::copy(&img, &replayed).unwrap();
    Command::new("e2fsck")
        .arg("-fy")
        .arg(&replayed)
        .output()
        .unwrap();
    assert!(!needs_recovery(&replayed));
    assert_eq!(read_a(&replayed), expected, "{journal}: after e2fsck");
}

#[test]
fn committed_transaction_is_replayed() {
    check(
        &[],
        b"new contents\n",
        "jo\njw -b {B} {F}\njc\n",
        b"new contents\n",
    );
}

#[test]
fn journal_checksums_v2_and_v3() {
    check(
        &[],
        b"new contents\n",
        "jo -c -v 2\njw -b {B} {F}\njc\n",
        b"new contents\n",
    );
    check(
        &[],
        b"new contents\n",
        "jo -c -v 3\njw -b {B} {F}\njc\n",
        b"new contents\n",
    );
}

#[test]
fn uncommitted_transaction_is_ignored() {
    // A committed transaction elsewhere (so recovery is needed), then an uncommitted one.
    check(
        &[],
        b"new contents\n",
        "jo\njw -b {B2} {F}\njw -c -b {B} {F}\njc\n",
        OLD,
    );
}

#[test]
fn later_revoke_cancels_an_earlier_write() {
    check(
        &[],
        b"new contents\n",
        "jo\njw -b {B} {F}\njw -r {B} /dev/null\njc\n",
        OLD,
    );
}

#[test]
fn write_after_revoke_still_counts() {
    check(
        &[],
        b"new contents\n",
        "jo\njw -r {B} /dev/null\njw -b {B} {F}\njc\n",
        b"new contents\n",
    );
}

#[test]
fn escaped_block_gets_its_magic_back() {
    let head = [0xc0, 0x3b, 0x39, 0x98, b'x', b'y', b'z', b'\n'];
    let mut expected = head.to_vec();
    expected.resize(OLD.len(), 0);
    check(&[], &head, "jo\njw -b {B} {F}\njc\n", &expected);
}

#[test]
fn unwritten_extents_read_as_zeros_not_stale_data() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs_err::create_dir_all(&src).unwrap();
    let stale = b"stale deleted data ".repeat(1000);
    fs_err::write(src.join("old"), &stale).unwrap();
    let img = dir.path().join("fs.img");
    let st = Command::new("mke2fs")
        .args(["-F", "-q", "-t", "ext4", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("8M")
        .status()
        .unwrap();
    assert!(st.success());
    // Delete /old, then preallocate a new file over the freed blocks without writing it.
    debugfs(
        &img,
        true,
        "rm /old\nwrite /dev/null pre\nfallocate /pre 0 4\nsif /pre size 20480\n",
    );
    assert!(
        debugfs(&img, false, "stat /pre").contains("[u]"),
        "no unwritten extent"
    );
    let dev: Arc<dyn ReadAt> = Arc::new(FileSource::open(&img).unwrap());
    let fs = imgprep_fs_ext::open(dev).unwrap();
    assert_eq!(fs.read_file(b"/pre", 1 << 20).unwrap(), vec![0u8; 20480]);
    // The stale bytes are really there on the device, under the unwritten extent.
    let raw = fs_err::read(&img).unwrap();
    assert!(raw.windows(19).any(|w| w == b"stale deleted data "));
}

#[test]
fn damaged_journal_superblocks_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (img, block) = image(dir.path(), &[]);
    let blk = dir.path().join("block");
    fs_err::write(&blk, vec![7u8; 4096]).unwrap();
    debugfs(
        &img,
        true,
        &format!("jo\njw -b {block} {}\njc\n", blk.display()),
    );
    let jsb: u64 = debugfs(&img, false, "bmap <8> 0").trim().parse().unwrap();
    let good = fs_err::read(&img).unwrap();
    let log = u32::from_le_bytes(good[1024 + 0x18..1024 + 0x1c].try_into().unwrap());
    let at = (jsb << (10 + log)) as usize;
    // (byte offset in the journal superblock, big-endian value, expected message)
    let cases: [(usize, u32, &str); 4] = [
        (0x0, 0x1234_5678, "journal superblock magic is 0x12345678"),
        (0xc, 512, "journal block size is 512"),
        (0x10, u32::MAX, "does not fit the journal inode"),
        (0x1c, u32::MAX, "outside"),
    ];
    for (field, value, expected) in cases {
        let mut bad = good.clone();
        bad[at + field..at + field + 4].copy_from_slice(&value.to_be_bytes());
        let err = imgprep_fs_ext::open(Arc::new(bad)).unwrap_err().to_string();
        assert!(err.contains(expected), "{err:?} lacks {expected:?}");
    }
}
