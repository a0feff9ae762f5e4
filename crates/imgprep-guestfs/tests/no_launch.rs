//! What the wrapper does without an appliance: configuration, errors, NUL checks, disk creation,
//! aborts, and dropping an unlaunched handle.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use imgprep_guestfs::{AbortHandle, DriveOptions, Error, Handle, LaunchOptions};

fn raw_drive() -> DriveOptions {
    DriveOptions {
        format: Some("raw".into()),
        ..DriveOptions::default()
    }
}

#[test]
fn a_handle_is_created_configured_and_dropped_without_launch() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    fs_err::write(&disk, vec![0u8; 1 << 20]).unwrap();
    let mut h = Handle::new().unwrap();
    assert!(h.autosync().unwrap(), "autosync is on");
    h.set_network(false).unwrap();
    h.set_memsize(512).unwrap();
    h.set_smp(1).unwrap();
    h.set_verbose(false).unwrap();
    assert!(!h.backend().unwrap().is_empty());
    h.add_drive(&disk, &raw_drive()).unwrap();
    assert!(h.take_warnings().is_empty());
    // Dropping closes the handle; nothing was started, nothing is left.
    drop(h);
    // Shutting down a handle that never launched is not an error.
    let mut h = Handle::new().unwrap();
    h.shutdown().unwrap();
}

#[test]
fn calls_that_need_an_appliance_fail_with_a_typed_error_naming_the_call() {
    let mut h = Handle::new().unwrap();
    let e = h.mount("/dev/sda1", "/").unwrap_err();
    assert!(matches!(e, Error::Call { call: "mount", .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("libguestfs mount: "), "{text}");
    assert!(text.contains("launch"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    let e = h.read_file("/etc/hostname").unwrap_err();
    assert_eq!(e.call(), Some("read_file"));
    let e = h.list_devices().unwrap_err();
    assert_eq!(e.call(), Some("list_devices"));
    let e = h.hivex_root().unwrap_err();
    assert_eq!(e.call(), Some("hivex_root"));
}

#[test]
fn libguestfs_errors_with_non_utf8_bytes_are_decoded_lossily() {
    let mut h = Handle::new().unwrap();
    let missing = Path::new(std::ffi::OsStr::from_bytes(
        b"/nonexistent/\xff\xfe-disk.img",
    ));
    let e = h.add_drive(missing, &raw_drive()).unwrap_err();
    let Error::Call {
        call,
        message,
        errno,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(*call, "add_drive");
    assert!(
        message.contains("/nonexistent/\u{fffd}\u{fffd}-disk.img"),
        "{message}"
    );
    assert_eq!(*errno, Some(libc::ENOENT), "{message}");
    assert!(e.is_not_found());
}

#[test]
fn strings_with_nul_bytes_are_refused_before_reaching_c() {
    let mut h = Handle::new().unwrap();
    let e = h.mkdir_p("/opt/a\0b").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Nul {
                call: "mkdir_p",
                arg: "path",
                offset: 6
            }
        ),
        "{e:?}"
    );
    let e = h
        .add_drive(
            Path::new(std::ffi::OsStr::from_bytes(b"/tmp/\0x")),
            &raw_drive(),
        )
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Nul {
            call: "add_drive",
            arg: "filename",
            offset: 5
        }
    ));
    let e = h
        .add_drive(
            Path::new("/tmp/x"),
            &DriveOptions {
                format: Some("qcow2\0".into()),
                ..DriveOptions::default()
            },
        )
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Nul {
            call: "add_drive",
            arg: "format",
            ..
        }
    ));
    let e = h.command(&["/bin/true", "a\0"]).unwrap_err();
    assert!(matches!(
        e,
        Error::Nul {
            call: "command",
            arg: "arguments",
            offset: 1
        }
    ));
    let e = h.hivex_open("/x\0", true).unwrap_err();
    assert!(matches!(
        e,
        Error::Nul {
            call: "hivex_open",
            ..
        }
    ));
    // Data may hold NULs: write passes a length, so this reaches libguestfs (and fails only
    // because nothing is launched).
    let e = h.write("/etc/x", b"a\0b").unwrap_err();
    assert!(matches!(e, Error::Call { call: "write", .. }), "{e:?}");
}

#[test]
fn numbers_that_do_not_fit_are_refused() {
    let mut h = Handle::new().unwrap();
    let e = h.set_memsize(u32::MAX).unwrap_err();
    assert!(matches!(
        e,
        Error::OutOfRange {
            call: "set_memsize",
            arg: "memsize",
            ..
        }
    ));
    let e = h.chmod(0o10000, "/x").unwrap_err();
    assert!(matches!(
        e,
        Error::OutOfRange {
            call: "chmod",
            arg: "mode",
            ..
        }
    ));
    let e = h.lchown(u32::MAX, 0, "/x").unwrap_err();
    assert!(matches!(
        e,
        Error::OutOfRange {
            call: "lchown",
            arg: "owner",
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "libguestfs lchown: argument owner is out of range (4294967295, expected at most 2^31-1)"
    );
}

#[test]
fn disk_create_makes_a_qcow2_overlay_with_its_backing_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.raw");
    let overlay = dir.path().join("overlay.qcow2");
    let mut h = Handle::new().unwrap();
    h.disk_create(&base, "raw", Some(4 << 20), None).unwrap();
    assert_eq!(fs_err::metadata(&base).unwrap().len(), 4 << 20);
    h.disk_create(&overlay, "qcow2", None, Some((&base, "raw")))
        .unwrap();
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(out.status.success());
    let info = String::from_utf8(out.stdout).unwrap();
    let compact: String = info.split_whitespace().collect();
    assert!(compact.contains("\"format\":\"qcow2\""), "{info}");
    assert!(
        compact.contains("\"backing-filename-format\":\"raw\""),
        "{info}"
    );
    assert!(
        compact.contains(&format!("\"backing-filename\":\"{}\"", base.display())),
        "{info}"
    );
    assert!(compact.contains("\"virtual-size\":4194304"), "{info}");
    // A bad format is libguestfs's error, named.
    let e = h
        .disk_create(&dir.path().join("x"), "no-such-format", Some(1 << 20), None)
        .unwrap_err();
    assert_eq!(e.call(), Some("disk_create"));
}

#[test]
fn an_abort_before_launch_refuses_the_launch_without_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    fs_err::write(&disk, vec![0u8; 1 << 20]).unwrap();
    let log = dir.path().join("launches.log");
    let mut h = Handle::new().unwrap();
    h.set_launch_log(Some(log.clone()));
    h.add_drive(&disk, &raw_drive()).unwrap();
    let abort = h.abort_handle();
    abort.abort();
    assert!(abort.is_aborted());
    let e = h.launch_with(LaunchOptions::new()).unwrap_err();
    assert!(matches!(e, Error::Aborted { call: "launch" }), "{e:?}");
    assert_eq!(e.to_string(), "libguestfs launch: cancelled");
    // Calls after an abort report it.
    let e = h.list_devices().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Aborted {
                call: "list_devices"
            }
        ),
        "{e:?}"
    );
    // No launch happened, so none was logged.
    assert!(!log.exists());
}

#[test]
fn a_handle_moves_to_another_thread_and_reports_errors_there() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Handle>();
    send::<AbortHandle>();
    sync::<AbortHandle>();
    let mut h = Handle::new().unwrap();
    h.set_memsize(600).unwrap();
    let abort = h.abort_handle();
    let e = std::thread::spawn(move || {
        // libguestfs keeps errors per thread: this one is read on the thread that made the call.
        let e = h.mount("/dev/sda", "/").unwrap_err();
        drop(h);
        e
    })
    .join()
    .unwrap();
    assert!(matches!(e, Error::Call { call: "mount", .. }), "{e:?}");
    assert!(e.to_string().contains("launch"), "{e}");
    // The abort handle outlives the handle; aborting then kills nothing and does not fail.
    abort.abort();
    assert!(abort.is_aborted());
}

#[test]
fn nothing_reaches_stderr_whichever_thread_calls() {
    // Runs the test above in a process of its own and looks at what it wrote on stderr.
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "--nocapture",
            "a_handle_moves_to_another_thread_and_reports_errors_there",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("libguestfs"), "{stderr}");
}
