//! A launch cut short: by the watchdog's time limit, and by an abort from another thread. Both
//! start a real appliance (two launches, each stopped within seconds); afterwards no process of
//! it is left and the handle drops cleanly.
//!
//! The only test in this binary, so "no child process left" means ours.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use imgprep_guestfs::{DriveOptions, Error, Handle, LaunchOptions};

/// Processes whose command line mentions `needle` (qemu carries its drives' paths).
fn processes_mentioning(needle: &Path) -> Vec<u32> {
    let needle = needle.as_os_str().as_encoded_bytes();
    let mut pids = Vec::new();
    for entry in fs_err::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Ok(cmdline) = fs_err::read(entry.path().join("cmdline"))
            && cmdline.windows(needle.len()).any(|w| w == needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Child processes of this test process (qemu and libguestfs's recovery process are children).
fn children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in fs_err::read_dir("/proc").unwrap().flatten() {
        if let Ok(status) = fs_err::read_to_string(entry.path().join("status"))
            && status
                .lines()
                .any(|l| l.strip_prefix("PPid:").map(str::trim) == Some(&me))
        {
            out.push(status.lines().take(3).collect::<Vec<_>>().join(" "));
        }
    }
    out
}

fn handle_with_disk(disk: &Path) -> Handle {
    let mut h = Handle::new().unwrap();
    h.add_drive(
        disk,
        &DriveOptions {
            format: Some("raw".into()),
            ..DriveOptions::default()
        },
    )
    .unwrap();
    h
}

#[test]
fn a_stopped_launch_returns_a_typed_error_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::launch_log(dir.path());

    // 1. The watchdog: a 1 s limit on a launch that takes 10 s or more under TCG.
    let disk = dir.path().join("timeout.img");
    fs_err::write(&disk, vec![0u8; 1 << 20]).unwrap();
    let mut h = handle_with_disk(&disk);
    h.set_launch_log(Some(log.clone()));
    let clock = Instant::now();
    let e = h
        .launch_with(LaunchOptions::new().timeout(Duration::from_secs(1)))
        .unwrap_err();
    let took = clock.elapsed();
    let Error::LaunchTimeout { timeout, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*timeout, Duration::from_secs(1));
    let text = e.to_string();
    assert!(text.contains("within 1s"), "{text}");
    assert!(
        text.contains("LIBGUESTFS_BACKEND_SETTINGS=force_tcg"),
        "{text}"
    );
    assert!(processes_mentioning(&disk).is_empty(), "qemu still runs");
    drop(h);
    assert!(children().is_empty(), "{:?}", children());
    common::assert_logged(&log, &[&disk], "error");
    eprintln!("watchdog: launch stopped after {took:?}");

    // 2. An abort from another thread while qemu boots the appliance.
    let disk = dir.path().join("abort.img");
    fs_err::write(&disk, vec![0u8; 1 << 20]).unwrap();
    let mut h = handle_with_disk(&disk);
    h.set_launch_log(Some(log.clone()));
    let abort = h.abort_handle();
    let watched = disk.clone();
    let aborter = std::thread::spawn(move || {
        // Once qemu runs (its command line names the disk), abort.
        let clock = Instant::now();
        while processes_mentioning(&watched).is_empty() {
            assert!(
                clock.elapsed() < Duration::from_secs(300),
                "qemu never started"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        abort.abort();
    });
    let e = h.launch_with(LaunchOptions::new()).unwrap_err();
    aborter.join().unwrap();
    assert!(matches!(e, Error::Aborted { call: "launch" }), "{e:?}");
    assert!(processes_mentioning(&disk).is_empty(), "qemu still runs");
    drop(h);
    assert!(children().is_empty(), "{:?}", children());
    common::assert_logged(&log, &[&disk], "error");
}
