//! What libguestfs calls cost through the wrapper (used by `benches/guestfs.sh`).
//!
//! ```sh
//! guestfs_costs launch DISK.qcow2     # one launch and shutdown, times on stdout
//! guestfs_costs calls DISK.qcow2 DIR  # one launch, then each call timed (median of N runs)
//! ```
//!
//! `calls` writes into the disk (give it a scratch overlay) and uses host files in DIR
//! (`agent.tar.gz`, and files it makes). The disk holds one ext4 filesystem with `/bin/sh` and a
//! registry hive at `/hive`, as `benches/guestfs.sh` builds it.
#![allow(clippy::unwrap_used)] // a measuring tool: fail loudly

use std::path::Path;
use std::time::{Duration, Instant};

use imgprep_guestfs::{DriveOptions, Handle, LaunchOptions, RegType, TarCompress, reg_sz};

const RUNS: usize = 15;

fn handle(disk: &Path) -> Handle {
    let mut h = Handle::new().unwrap();
    h.set_network(false).unwrap();
    h.add_drive(
        disk,
        &DriveOptions {
            format: Some("qcow2".into()),
            ..DriveOptions::default()
        },
    )
    .unwrap();
    h
}

fn launch(disk: &Path) {
    let mut h = handle(disk);
    let t = Instant::now();
    h.launch_with(LaunchOptions::new()).unwrap();
    let launched = t.elapsed();
    let t = Instant::now();
    h.shutdown().unwrap();
    println!(
        "launch {:.2} s, shutdown {:.2} s",
        launched.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
}

/// Runs `f` RUNS times (with the run number) and returns the median.
fn median(mut f: impl FnMut(usize)) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn calls(disk: &Path, dir: &Path) {
    let small = dir.join("small");
    fs_err::write(&small, vec![b'x'; 4096]).unwrap();
    let big = dir.join("big");
    fs_err::write(&big, vec![7u8; 16 << 20]).unwrap();
    let back = dir.join("back");
    let tarball = dir.join("agent.tar.gz");
    let mut h = handle(disk);
    let mut rows: Vec<(String, Duration)> = Vec::new();
    let t = Instant::now();
    h.launch_with(LaunchOptions::new()).unwrap();
    rows.push(("launch (once)".into(), t.elapsed()));
    let t = Instant::now();
    h.mount("/dev/sda", "/").unwrap();
    rows.push(("mount (once)".into(), t.elapsed()));
    let mut row = |name: &str, d: Duration| rows.push((name.into(), d));
    row("list_devices", median(|_| drop(h.list_devices().unwrap())));
    row(
        "list_filesystems",
        median(|_| drop(h.list_filesystems().unwrap())),
    );
    row(
        "mkdir_p",
        median(|i| h.mkdir_p(&format!("/b/d{i}/e")).unwrap()),
    );
    row(
        "write 4 KiB",
        median(|i| h.write(&format!("/b/w{i}"), &[b'x'; 4096]).unwrap()),
    );
    row(
        "write 1 MiB",
        median(|i| h.write(&format!("/b/m{i}"), &vec![b'y'; 1 << 20]).unwrap()),
    );
    row(
        "read_file 4 KiB",
        median(|i| drop(h.read_file(&format!("/b/w{i}")).unwrap())),
    );
    row(
        "upload 4 KiB",
        median(|i| h.upload(&small, &format!("/b/u{i}")).unwrap()),
    );
    row(
        "upload 16 MiB",
        median(|i| h.upload(&big, &format!("/b/big{i}")).unwrap()),
    );
    row(
        "download 16 MiB (+ rm)",
        median(|i| {
            h.download(&format!("/b/big{i}"), &back).unwrap();
            h.rm(&format!("/b/big{i}")).unwrap();
        }),
    );
    row(
        "chmod",
        median(|i| h.chmod(0o640, &format!("/b/w{i}")).unwrap()),
    );
    row(
        "lchown",
        median(|i| h.lchown(1000, 1000, &format!("/b/w{i}")).unwrap()),
    );
    row(
        "ln_sf",
        median(|i| h.ln_sf("/b/w0", &format!("/b/l{i}")).unwrap()),
    );
    row(
        "readlink",
        median(|i| drop(h.readlink(&format!("/b/l{i}")).unwrap())),
    );
    row(
        "lstat",
        median(|i| assert_eq!(h.lstat(&format!("/b/w{i}")).unwrap().size, 4096)),
    );
    row(
        "is_file",
        median(|i| assert!(h.is_file(&format!("/b/w{i}")).unwrap())),
    );
    row(
        "exists",
        median(|i| assert!(!h.exists(&format!("/b/none{i}")).unwrap())),
    );
    row("touch", median(|i| h.touch(&format!("/b/t{i}")).unwrap()));
    row("rm", median(|i| h.rm(&format!("/b/t{i}")).unwrap()));
    row("rm_f", median(|i| h.rm_f(&format!("/b/t{i}")).unwrap()));
    row(
        "tar_in (small .tar.gz)",
        median(|i| {
            h.mkdir_p(&format!("/b/tar{i}")).unwrap();
            h.tar_in(&tarball, &format!("/b/tar{i}"), Some(TarCompress::Gzip))
                .unwrap();
        }),
    );
    row("sh 'true'", median(|_| drop(h.sh("true").unwrap())));
    row(
        "command sh -c true",
        median(|_| drop(h.command(&["/bin/sh", "-c", "true"]).unwrap())),
    );
    let hive = "/hive";
    row(
        "hivex open+set_value+commit+close",
        median(|i| {
            h.hivex_open(hive, true).unwrap();
            let root = h.hivex_root().unwrap();
            h.hivex_node_set_value(root, &format!("v{i}"), RegType::SZ, &reg_sz("value"))
                .unwrap();
            h.hivex_commit(None).unwrap();
            h.hivex_close().unwrap();
        }),
    );
    h.hivex_open(hive, true).unwrap();
    let root = h.hivex_root().unwrap();
    row(
        "hivex_node_set_value",
        median(|i| {
            h.hivex_node_set_value(root, &format!("w{i}"), RegType::DWORD, &[1, 0, 0, 0])
                .unwrap()
        }),
    );
    row(
        "hivex_node_get_value",
        median(|i| {
            assert!(
                h.hivex_node_get_value(root, &format!("w{i}"))
                    .unwrap()
                    .is_some()
            )
        }),
    );
    h.hivex_close().unwrap();
    row("sync", median(|_| h.sync().unwrap()));
    let t = Instant::now();
    h.umount_all().unwrap();
    rows.push(("umount_all (once)".into(), t.elapsed()));
    let t = Instant::now();
    h.shutdown().unwrap();
    rows.push(("shutdown (once)".into(), t.elapsed()));
    let mut c = Handle::new().unwrap();
    rows.push((
        "disk_create qcow2 overlay".into(),
        median(|i| {
            let overlay = dir.join(format!("new-{i}.qcow2"));
            c.disk_create(&overlay, "qcow2", None, Some((disk, "qcow2")))
                .unwrap()
        }),
    ));
    for (name, d) in rows {
        println!("{name:36} {:9.2} ms", d.as_secs_f64() * 1000.0);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[1..] {
        ["launch", disk] => launch(Path::new(disk)),
        ["calls", disk, dir] => calls(Path::new(disk), Path::new(dir)),
        _ => {
            eprintln!("usage: guestfs_costs launch DISK | guestfs_costs calls DISK DIR");
            std::process::exit(2);
        }
    }
}
