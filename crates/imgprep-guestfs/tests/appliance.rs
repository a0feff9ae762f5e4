//! One appliance launch that exercises every wrapped call on scratch disks this test makes
//! (`mke2fs -d`, `qemu-img`), then, after a checked shutdown, reads the result back through
//! imgprep's native read path: what the appliance wrote is what the image holds.
//!
//! The scratch guest holds a copy of the host's `dash` and its libraries so that `command` and
//! `sh` have a program to run, and the minimal registry hive from `tests/data` for the `hivex_*`
//! calls.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imgprep_fs::FileKind;
use imgprep_guest::{Guest, Image, Mountable};
use imgprep_guestfs::{
    CacheMode, Discard, DriveOptions, Error, Event, Handle, LaunchOptions, RegType, TarCompress,
    reg_sz,
};
use sha2::{Digest, Sha256};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sha256(path: &Path) -> Vec<u8> {
    Sha256::digest(fs_err::read(path).unwrap()).to_vec()
}

/// Copies `/usr/bin/dash` to `root/bin/sh` with the libraries `ldd` names, so programs run
/// chrooted into the guest.
fn install_shell(root: &Path) {
    let dash = Path::new("/usr/bin/dash");
    let ldd = Command::new("ldd").arg(dash).output().unwrap();
    assert!(ldd.status.success());
    let mut files = vec![(dash.to_owned(), root.join("bin/sh"))];
    for line in String::from_utf8(ldd.stdout).unwrap().lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(lib) = path {
            let dest = root.join(lib.strip_prefix("/").unwrap());
            // Resolve symlinks on the host: the guest gets the file under the name asked for.
            files.push((fs_err::canonicalize(&lib).unwrap(), dest));
        }
    }
    assert!(files.len() >= 3, "dash, libc and the loader: {files:?}");
    for (from, to) in files {
        fs_err::create_dir_all(to.parent().unwrap()).unwrap();
        fs_err::copy(&from, &to).unwrap();
    }
}

/// The scratch guest's files (an ext4 filesystem made from this tree).
fn guest_tree(root: &Path) {
    install_shell(root);
    for d in [
        "dev",
        "proc",
        "sys",
        "etc",
        "data",
        "Windows/System32/config",
    ] {
        fs_err::create_dir_all(root.join(d)).unwrap();
    }
    fs_err::write(root.join("etc/hostname"), "old\n").unwrap();
    fs_err::write(root.join("etc/remove-me"), "bye\n").unwrap();
    fs_err::write(root.join("etc/keep-me"), "stay\n").unwrap();
    let hive = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/hives/minimal");
    fs_err::copy(hive, root.join("Windows/System32/config/SOFTWARE")).unwrap();
}

fn mke2fs(tree: &Path, image: &Path, size: &str) {
    run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-d"])
        .arg(tree)
        .arg(image)
        .arg(size));
}

/// The agent archive for `tar_in`: numeric owners only (see `Handle::tar_in`).
fn agent_archive(dir: &Path) -> PathBuf {
    let tree = dir.join("tar-tree");
    fs_err::create_dir_all(tree.join("agent/bin")).unwrap();
    fs_err::write(tree.join("agent/bin/run.sh"), "#!/bin/sh\necho agent\n").unwrap();
    run(Command::new("chmod")
        .arg("0755")
        .arg(tree.join("agent/bin/run.sh")));
    let archive = dir.join("agent.tar.gz");
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=1234", "--group=5678", "-czf"])
        .arg(&archive)
        .arg("-C")
        .arg(&tree)
        .arg("agent"));
    archive
}

fn kind(guest: &impl Guest, path: &str) -> Option<(FileKind, u32, u32, u32)> {
    guest
        .lstat(path)
        .unwrap()
        .map(|m| (m.kind, m.mode, m.uid, m.gid))
}

#[test]
fn one_launch_exercises_every_call_and_the_image_holds_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path();

    // Scratch disks: a qcow2 base the overlay will sit on, and a read-only raw disk.
    let tree = tmp.join("tree");
    guest_tree(&tree);
    let base_raw = tmp.join("base.raw");
    mke2fs(&tree, &base_raw, "64M");
    let base = tmp.join("base.qcow2");
    run(Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&base_raw)
        .arg(&base));
    let base_sum = sha256(&base);
    let ro_tree = tmp.join("ro-tree");
    fs_err::create_dir_all(&ro_tree).unwrap();
    fs_err::write(ro_tree.join("ro.txt"), "read only\n").unwrap();
    let ro = tmp.join("ro.raw");
    mke2fs(&ro_tree, &ro, "8M");
    let ro_sum = sha256(&ro);
    let archive = agent_archive(tmp);
    // More than one `write` message holds: upload and download carry it.
    let blob: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let blob_file = tmp.join("blob");
    fs_err::write(&blob_file, &blob).unwrap();

    let overlay = tmp.join("out.qcow2");
    let log = common::launch_log(tmp);
    let mut h = Handle::new().unwrap();
    h.set_launch_log(Some(log.clone()));
    h.disk_create(&overlay, "qcow2", None, Some((&base, "qcow2")))
        .unwrap();
    h.set_network(false).unwrap();
    h.set_memsize(768).unwrap();
    h.set_smp(1).unwrap();
    assert!(h.autosync().unwrap());
    h.add_drive(
        &overlay,
        &DriveOptions {
            format: Some("qcow2".into()),
            readonly: false,
            cachemode: Some(CacheMode::Writeback),
            discard: Some(Discard::BestEffort),
        },
    )
    .unwrap();
    h.add_drive(
        &ro,
        &DriveOptions {
            format: Some("raw".into()),
            readonly: true,
            cachemode: Some(CacheMode::Unsafe),
            discard: None,
        },
    )
    .unwrap();

    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let clock = Instant::now();
    h.launch_with(
        LaunchOptions::new()
            .timeout(Duration::from_secs(600))
            .progress(move |e| seen.lock().unwrap().push(e.clone())),
    )
    .unwrap();
    let launch_took = clock.elapsed();
    // libguestfs reports launch progress only for launches over 5 s (all of them under TCG).
    if launch_took > Duration::from_secs(6) {
        assert!(
            events.lock().unwrap().contains(&Event::Progress {
                position: 12,
                total: 12
            }),
            "{events:?}"
        );
    }
    common::assert_logged(&log, &[&overlay, &ro], "ok");

    // Devices and mounts.
    assert_eq!(h.list_devices().unwrap(), ["/dev/sda", "/dev/sdb"]);
    assert_eq!(
        h.list_filesystems().unwrap(),
        [
            ("/dev/sda".to_owned(), "ext4".to_owned()),
            ("/dev/sdb".to_owned(), "ext4".to_owned())
        ]
    );
    h.mount("/dev/sda", "/").unwrap();
    h.mkdir_p("/mnt/ro").unwrap();
    h.mount_ro("/dev/sdb", "/mnt/ro").unwrap();
    assert_eq!(h.read_file("/mnt/ro/ro.txt").unwrap(), b"read only\n");
    let e = h.write("/mnt/ro/new", b"x").unwrap_err();
    assert_eq!(e.errno(), Some(libc::EROFS), "{e}");
    assert!(e.to_string().starts_with("libguestfs write: "), "{e}");

    // Files: content with NULs, modes, owners, links, removal, tests.
    h.write("/etc/hostname", b"new\0name\n").unwrap();
    assert_eq!(h.read_file("/etc/hostname").unwrap(), b"new\0name\n");
    assert!(matches!(
        h.write("/etc/a\0b", b"").unwrap_err(),
        Error::Nul { call: "write", .. }
    ));
    h.mkdir_p("/opt/agent/etc").unwrap();
    h.mkdir_p("/opt/agent/etc").unwrap();
    h.chmod(0o750, "/opt/agent").unwrap();
    h.lchown(1000, 1001, "/opt/agent").unwrap();
    let st = h.lstat("/opt/agent").unwrap();
    assert!(st.is_dir() && !st.is_file());
    assert_eq!((st.permissions(), st.uid, st.gid), (0o750, 1000, 1001));
    h.upload(&blob_file, "/opt/agent/blob").unwrap();
    let back = tmp.join("blob.back");
    h.download("/opt/agent/blob", &back).unwrap();
    assert!(fs_err::read(&back).unwrap() == blob, "download differs");
    assert_eq!(h.lstat("/opt/agent/blob").unwrap().size, blob.len() as u64);
    h.mkdir_p("/usr/local/bin").unwrap();
    h.ln_sf("/srv/agent/bin/run.sh", "/usr/local/bin/agent")
        .unwrap();
    h.lchown(7, 8, "/usr/local/bin/agent").unwrap();
    let st = h.lstat("/usr/local/bin/agent").unwrap();
    assert!(st.is_symlink());
    assert_eq!((st.uid, st.gid), (7, 8));
    assert_eq!(
        h.readlink("/usr/local/bin/agent").unwrap(),
        b"/srv/agent/bin/run.sh"
    );
    h.rm("/etc/remove-me").unwrap();
    let e = h.rm("/etc/remove-me").unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    h.rm_f("/etc/remove-me").unwrap();
    h.rm_f("/etc/never-was").unwrap();
    assert!(h.is_file("/etc/keep-me").unwrap());
    assert!(!h.is_file("/etc").unwrap());
    assert!(h.is_dir("/etc").unwrap());
    assert!(!h.exists("/etc/remove-me").unwrap());
    assert!(h.exists("/etc/keep-me").unwrap());
    let e = h.lstat("/etc/remove-me").unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    h.touch("/.autorelabel").unwrap();

    // An archive unpacked with its numeric owners.
    h.mkdir_p("/srv").unwrap();
    h.tar_in(&archive, "/srv", Some(TarCompress::Gzip)).unwrap();
    let st = h.lstat("/srv/agent/bin/run.sh").unwrap();
    assert_eq!((st.permissions(), st.uid, st.gid), (0o755, 1234, 5678));
    let e = h
        .tar_in(&blob_file, "/srv", Some(TarCompress::Xz))
        .unwrap_err();
    assert_eq!(e.call(), Some("tar_in"));

    // And packed back: numeric owners, excludes applied, nothing outside the directory.
    h.write("/srv/agent/bin/run.pyc", b"\x42").unwrap();
    let packed = tmp.join("packed.tar");
    h.tar_out("/srv/agent", &packed, None, &["*.pyc"]).unwrap();
    let mut members: Vec<(String, u64, u64, u32)> =
        tar::Archive::new(fs_err::File::open(&packed).unwrap())
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mode().unwrap() & 0o7777,
                )
            })
            .collect();
    members.sort();
    assert_eq!(
        members,
        [
            ("./".into(), 1234, 5678, 0o755),
            ("./bin/".into(), 1234, 5678, 0o755),
            ("./bin/run.sh".into(), 1234, 5678, 0o755),
        ]
    );
    let e = h.tar_out("/srv/none", &packed, None, &[]).unwrap_err();
    assert_eq!(e.call(), Some("tar_out"));
    // A scratch directory made and removed with everything in it.
    let scratch = h.mkdtemp("/data/buildXXXXXX").unwrap();
    assert!(
        scratch.starts_with("/data/build") && scratch.len() == 17,
        "{scratch}"
    );
    assert!(h.is_dir(&scratch).unwrap());
    h.mkdir_p(&format!("{scratch}/a/b")).unwrap();
    h.write(&format!("{scratch}/a/b/c"), b"x").unwrap();
    h.rm_rf(&scratch).unwrap();
    assert!(!h.exists(&scratch).unwrap());
    h.rm_rf(&scratch).unwrap();
    assert_eq!(
        h.mkdtemp("relative-XXXXXX").unwrap_err().call(),
        Some("mkdtemp")
    );

    // Guest programs: stdout back, stderr in the error.
    assert_eq!(h.sh("printf '%s' \"$((6 * 7))\"").unwrap(), "42");
    assert_eq!(
        h.command(&["/bin/sh", "-c", "printf ok > /from-command; echo done"])
            .unwrap(),
        "done\n"
    );
    let e = h
        .command(&[
            "/bin/sh",
            "-c",
            "echo partial; echo broken agent >&2; exit 3",
        ])
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Call {
                call: "command",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("broken agent"), "{e}");

    // SELinux relabelling, where the appliance has setfiles.
    let spec = "/etc/selinux/file_contexts";
    if h.feature_available(&["selinuxrelabel"]).unwrap() {
        h.write(spec, b"/.* system_u:object_r:etc_t:s0\n").unwrap();
        h.selinux_relabel(spec, "/", true).unwrap();
    } else {
        let e = h.selinux_relabel(spec, "/", true).unwrap_err();
        assert_eq!(e.call(), Some("selinux_relabel"));
        assert!(e.to_string().contains("selinuxrelabel"), "{e}");
    }
    assert!(h.feature_available(&["no-such-group"]).is_err());

    // Registry edits in the guest's hive.
    let hive = "/Windows/System32/config/SOFTWARE";
    h.hivex_open(hive, true).unwrap();
    let root = h.hivex_root().unwrap();
    assert_eq!(h.hivex_node_get_child(root, "Imgprep").unwrap(), None);
    let key = h.hivex_node_add_child(root, "Imgprep").unwrap();
    assert_eq!(h.hivex_node_name(key).unwrap(), "Imgprep");
    assert_eq!(h.hivex_node_get_child(root, "imgprep").unwrap(), Some(key));
    h.hivex_node_set_value(key, "Agent", RegType::SZ, &reg_sz("C:\\agent\\run.exe"))
        .unwrap();
    h.hivex_node_set_value(key, "Count", RegType::DWORD, &7u32.to_le_bytes())
        .unwrap();
    let mut values = Vec::new();
    for v in h.hivex_node_values(key).unwrap() {
        values.push((
            h.hivex_value_key(v).unwrap(),
            h.hivex_value_type(v).unwrap(),
            h.hivex_value_value(v).unwrap(),
        ));
    }
    values.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        values,
        [
            ("Agent".into(), RegType::SZ, reg_sz("C:\\agent\\run.exe")),
            ("Count".into(), RegType::DWORD, 7u32.to_le_bytes().to_vec()),
        ]
    );
    assert!(h.hivex_node_get_value(key, "Agent").unwrap().is_some());
    assert_eq!(h.hivex_node_get_value(key, "Nope").unwrap(), None);
    let doomed = h.hivex_node_add_child(root, "Doomed").unwrap();
    h.hivex_node_set_value(doomed, "x", RegType::BINARY, b"\0\x01")
        .unwrap();
    h.hivex_node_delete_child(doomed).unwrap();
    assert_eq!(h.hivex_node_get_child(root, "Doomed").unwrap(), None);
    h.hivex_commit(None).unwrap();
    h.hivex_close().unwrap();

    h.sync().unwrap();
    h.umount_all().unwrap();
    h.shutdown().unwrap();
    assert_eq!(h.take_warnings(), Vec::<String>::new());
    drop(h);

    // Inputs untouched.
    assert_eq!(sha256(&base), base_sum, "the backing file changed");
    assert_eq!(sha256(&ro), ro_sum, "the read-only drive changed");

    // The overlay, read natively through its backing chain.
    let image = Image::open(&[&overlay]).unwrap();
    let (guest, notes) = image.guest(&[("/".into(), Mountable::device("/dev/sda"))]);
    assert!(notes.is_empty(), "{notes:?}");
    let read = |p: &str| guest.read_file(p, 16 << 20).unwrap();
    assert_eq!(read("/etc/hostname"), b"new\0name\n");
    assert_eq!(read("/etc/keep-me"), b"stay\n");
    assert!(guest.lstat("/etc/remove-me").unwrap().is_none());
    assert_eq!(
        kind(&guest, "/opt/agent"),
        Some((FileKind::Dir, 0o750, 1000, 1001))
    );
    assert!(read("/opt/agent/blob") == blob, "uploaded blob differs");
    assert_eq!(
        kind(&guest, "/usr/local/bin/agent").map(|k| (k.0, k.2, k.3)),
        Some((FileKind::Symlink, 7, 8))
    );
    assert_eq!(
        guest.read_link("/usr/local/bin/agent").unwrap(),
        b"/srv/agent/bin/run.sh"
    );
    assert_eq!(
        kind(&guest, "/srv/agent/bin/run.sh"),
        Some((FileKind::File, 0o755, 1234, 5678))
    );
    assert_eq!(read("/usr/local/bin/agent"), b"#!/bin/sh\necho agent\n");
    assert_eq!(read("/from-command"), b"ok");
    assert_eq!(read("/.autorelabel"), b"");
    assert!(guest.is_dir("/mnt/ro"));
    assert!(
        guest.lstat("/mnt/ro/ro.txt").unwrap().is_none(),
        "only mounted"
    );

    let hive = imgprep_registry::Hive::from_bytes(read(hive)).unwrap();
    let root = hive.root().unwrap();
    let key = root
        .subkey("Imgprep")
        .unwrap()
        .expect("the key was committed");
    let agent = key.value("Agent").unwrap().unwrap();
    assert_eq!(agent.ty(), 1);
    assert_eq!(agent.bytes().unwrap(), reg_sz("C:\\agent\\run.exe"));
    let count = key.value("Count").unwrap().unwrap();
    assert_eq!((count.ty(), count.bytes().unwrap()), (4, vec![7, 0, 0, 0]));
    assert!(root.subkey("Doomed").unwrap().is_none());
}
