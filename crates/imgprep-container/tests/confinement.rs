//! Files an image names stay inside the image's directory: backing files and VMDK extents that
//! resolve elsewhere (absolute names, `../`, symlinks), special files (FIFOs, devices) and
//! symlink swaps are refused with one line naming the field, unless the directory is allowed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::qemu_img;
use imgprep_container::{Disk, Format};

/// A qcow2 overlay in `dir` named `name` whose backing file is `backing` (not opened now).
fn overlay(dir: &Path, name: &str, backing: &str, fmt: &str) -> PathBuf {
    qemu_img(
        dir,
        &[
            "create", "-f", "qcow2", "-u", "-F", fmt, "-b", backing, name, "1M",
        ],
    );
    dir.join(name)
}

/// A VMDK descriptor in `dir` whose one flat extent is `extent`.
fn descriptor(dir: &Path, name: &str, extent: &str) -> PathBuf {
    let text = format!(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
         createType=\"monolithicFlat\"\n\n# Extent description\nRW 2048 FLAT \"{extent}\" 0\n"
    );
    fs_err::write(dir.join(name), text).unwrap();
    dir.join(name)
}

fn mkfifo(path: &Path) {
    common::run(Path::new("/"), "mkfifo", &[path.to_str().unwrap()]);
}

fn refused(image: &Path, allow: &[PathBuf], want: &[&str]) {
    let err = match Disk::open_allowing(image, allow) {
        Ok(d) => panic!("{}: opened, chain {:?}", image.display(), d.companions()),
        Err(e) => e,
    };
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    assert!(!text.contains('\n'), "{text}");
    for w in want {
        assert!(
            text.contains(w),
            "{}: want {w:?} in: {text}",
            image.display()
        );
    }
}

#[test]
fn names_leaving_the_directory_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = root.join("images");
    let other = root.join("elsewhere");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::create_dir_all(&other).unwrap();
    qemu_img(&other, &["create", "-f", "qcow2", "secret.qcow2", "1M"]);
    qemu_img(&dir, &["create", "-f", "qcow2", "base.qcow2", "1M"]);
    let secret = other.join("secret.qcow2");

    let abs_host = overlay(&dir, "passwd.qcow2", "/etc/passwd", "raw");
    refused(
        &abs_host,
        &[],
        &[
            "backing file name \"/etc/passwd\" resolves to /etc/passwd, outside the image's directory",
            "--allow-backing /etc",
        ],
    );
    let climbing = overlay(&dir, "climb.qcow2", "../elsewhere/secret.qcow2", "qcow2");
    refused(
        &climbing,
        &[],
        &[
            "backing file name \"../elsewhere/secret.qcow2\" resolves to",
            "outside",
        ],
    );
    // Allowed explicitly, the same chain opens.
    let d = Disk::open_allowing(&climbing, std::slice::from_ref(&other)).unwrap();
    assert_eq!(
        d.companions()[0].path,
        fs_err::canonicalize(&secret).unwrap()
    );
    // A symlink inside the directory pointing out of it is judged by where it leads.
    std::os::unix::fs::symlink(&secret, dir.join("link.qcow2")).unwrap();
    let via_link = overlay(&dir, "via-link.qcow2", "link.qcow2", "qcow2");
    refused(
        &via_link,
        &[],
        &[
            "backing file name \"link.qcow2\" resolves to",
            "secret.qcow2",
        ],
    );
    // Host special files, as absolute names.
    for name in ["/proc/self/environ", "/dev/zero", "/etc/shadow"] {
        let img = overlay(&dir, "special.qcow2", name, "raw");
        refused(&img, &[], &[&format!("{name:?} resolves to"), "outside"]);
    }
    // Allowing /dev does not make a character device readable.
    let zero = overlay(&dir, "zero.qcow2", "/dev/zero", "raw");
    refused(
        &zero,
        &[PathBuf::from("/dev")],
        &[
            "backing file name \"/dev/zero\"",
            "is a character device, not a regular file",
        ],
    );
    // A VMDK extent line naming a host file.
    let vmdk = descriptor(&dir, "desc.vmdk", "/etc/passwd");
    refused(
        &vmdk,
        &[],
        &[
            "extent file on descriptor line 8 \"/etc/passwd\" resolves to /etc/passwd",
            "outside",
        ],
    );
    // A qcow2 external data file named outside the directory (the name patched to climb out).
    qemu_img(
        &dir,
        &[
            "create",
            "-f",
            "qcow2",
            "-o",
            "data_file=dd.raw",
            "ext.qcow2",
            "1M",
        ],
    );
    fs_err::create_dir_all(root.join("o")).unwrap();
    fs_err::write(root.join("o/d"), vec![0u8; 1 << 20]).unwrap();
    let ext = dir.join("ext.qcow2");
    let mut bytes = fs_err::read(&ext).unwrap();
    let at = bytes.windows(6).position(|w| w == b"dd.raw").unwrap();
    bytes[at..at + 6].copy_from_slice(b"../o/d");
    fs_err::write(&ext, bytes).unwrap();
    refused(
        &ext,
        &[],
        &["external data file name \"../o/d\" resolves to", "outside"],
    );
    let d = Disk::open_allowing(&ext, &[root.join("o")]).unwrap();
    assert_eq!(d.companions().len(), 1);
    // An allowed directory must exist.
    refused(
        &abs_host,
        &[root.join("missing")],
        &["allowed backing directory", "missing"],
    );
}

#[test]
fn the_common_cases_still_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs_err::create_dir_all(dir.join("sub")).unwrap();
    qemu_img(dir, &["create", "-f", "qcow2", "base.qcow2", "1M"]);
    // Absolute names inside the directory: what `qemu-img create -b` and Packer write.
    let base = fs_err::canonicalize(dir.join("base.qcow2")).unwrap();
    let abs = overlay(dir, "abs.qcow2", base.to_str().unwrap(), "qcow2");
    let d = Disk::open(&abs).unwrap();
    assert_eq!(d.chain().len(), 2);
    assert_eq!(d.chain()[1].format, Format::Qcow2);
    // A member in a subdirectory naming a file back up in the top image's directory.
    overlay(&dir.join("sub"), "mid.qcow2", "../base.qcow2", "qcow2");
    let top = overlay(dir, "top.qcow2", "sub/mid.qcow2", "qcow2");
    let d = Disk::open(&top).unwrap();
    let names: Vec<&str> = d.companions().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sub/mid.qcow2", "../base.qcow2"]);
    // A relative top path (resolved against the working directory) behaves the same.
    let d = Disk::open(Path::new(&top)).unwrap();
    assert_eq!(d.chain().len(), 3);
}

#[test]
fn fifos_are_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    mkfifo(&dir.join("pipe"));
    // The image itself.
    let err = Disk::open(&dir.join("pipe")).unwrap_err().to_string();
    assert!(
        err.contains("is a named pipe (FIFO), not a regular file or a block device"),
        "{err}"
    );
    // A backing file and an extent that are FIFOs inside the directory.
    let img = overlay(dir, "o.qcow2", "pipe", "raw");
    refused(
        &img,
        &[],
        &["backing file name \"pipe\"", "is a named pipe (FIFO)"],
    );
    let vmdk = descriptor(dir, "d.vmdk", "pipe");
    refused(
        &vmdk,
        &[],
        &[
            "extent file on descriptor line 8 \"pipe\"",
            "is a named pipe (FIFO)",
        ],
    );
}

/// Parents of differencing disks named outside the directory: each field named, refused unless
/// the directory is allowed; FIFOs refused without blocking.
#[test]
fn parents_leaving_the_directory_are_refused() {
    use imgprep_imagegen::{vhd, vhdx};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = root.join("images");
    let other = root.join("elsewhere");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::create_dir_all(&other).unwrap();
    mkfifo(&dir.join("pipe"));

    // VMDK: a delta disk over ../elsewhere/base.vmdk, as qemu-img writes it.
    qemu_img(&other, &["create", "-f", "vmdk", "base.vmdk", "1M"]);
    qemu_img(
        &dir,
        &[
            "create",
            "-f",
            "vmdk",
            "-F",
            "vmdk",
            "-b",
            "../elsewhere/base.vmdk",
            "delta.vmdk",
        ],
    );
    let delta = dir.join("delta.vmdk");
    refused(
        &delta,
        &[],
        &[
            "descriptor parentFileNameHint \"../elsewhere/base.vmdk\" resolves to",
            "outside the image's directory",
            "--allow-backing",
        ],
    );
    let d = Disk::open_allowing(&delta, std::slice::from_ref(&other)).unwrap();
    assert_eq!(d.chain().len(), 2);
    // The same delta naming a FIFO.
    let mut bytes = fs_err::read(&delta).unwrap();
    let at = bytes
        .windows(22)
        .position(|w| w == b"../elsewhere/base.vmdk")
        .unwrap();
    // Same length: the name ends at the first quote.
    bytes[at..at + 22].copy_from_slice(b"pipe\"                 ");
    fs_err::write(dir.join("to-pipe.vmdk"), &bytes).unwrap();
    refused(
        &dir.join("to-pipe.vmdk"),
        &[],
        &[
            "descriptor parentFileNameHint \"pipe\"",
            "is a named pipe (FIFO)",
        ],
    );

    // VHD: locators leading out, a POSIX path, a file URL, and a FIFO.
    let mut parent = vhd::Vhd::new(1 << 20, 512 * 1024, [7; 16]);
    parent.write(0, &[1; 512], 0);
    fs_err::write(other.join("p.vhd"), parent.to_bytes()).unwrap();
    let vhd_child = |name: &str, locator: vhd::Locator| {
        let mut c = vhd::Vhd::new(1 << 20, 512 * 1024, [8; 16]);
        c.parent = Some(vhd::Parent {
            unique_id: [7; 16],
            name: "p.vhd".into(),
            locators: vec![locator],
        });
        let path = dir.join(name);
        fs_err::write(&path, c.to_bytes()).unwrap();
        path
    };
    let up = vhd_child(
        "up.vhd",
        vhd::Locator::windows(b"W2ru", "..\\elsewhere\\p.vhd"),
    );
    refused(
        &up,
        &[],
        &[
            "parent locator W2ru \"..\\\\elsewhere\\\\p.vhd\" resolves to",
            "outside",
        ],
    );
    Disk::open_allowing(&up, std::slice::from_ref(&other)).unwrap();
    let passwd = vhd_child("passwd.vhd", vhd::Locator::windows(b"W2ku", "/etc/passwd"));
    refused(
        &passwd,
        &[],
        &["parent locator W2ku \"/etc/passwd\" resolves to /etc/passwd, outside"],
    );
    let url = vhd_child("url.vhd", vhd::Locator::mac("file:///etc/passwd"));
    refused(
        &url,
        &[],
        &["parent locator MacX \"file:///etc/passwd\" resolves to /etc/passwd, outside"],
    );
    let pipe = vhd_child("pipe.vhd", vhd::Locator::windows(b"W2ru", ".\\pipe"));
    refused(
        &pipe,
        &[],
        &[
            "parent locator W2ru \".\\\\pipe\"",
            "is a named pipe (FIFO)",
        ],
    );
    // A symlink inside the directory leading out is judged by where it leads.
    std::os::unix::fs::symlink(other.join("p.vhd"), dir.join("link.vhd")).unwrap();
    let link = vhd_child("link-child.vhd", vhd::Locator::windows(b"W2ru", "link.vhd"));
    refused(
        &link,
        &[],
        &["parent locator W2ru \"link.vhd\" resolves to", "p.vhd"],
    );

    // VHDX: relative_path leading out, and a FIFO.
    let mut parent = vhdx::Vhdx::new(1 << 20, 1 << 20, 512, [0x44; 16]);
    parent.write(0, &[1; 512], 0);
    fs_err::write(other.join("p.vhdx"), parent.to_bytes()).unwrap();
    let vhdx_child = |name: &str, path: &str| {
        let mut c = vhdx::Vhdx::new(1 << 20, 1 << 20, 512, [0x45; 16]);
        c.parent = Some(vec![
            ("parent_linkage".into(), vhdx::guid_text(&[0x44; 16])),
            ("relative_path".into(), path.into()),
        ]);
        let p = dir.join(name);
        fs_err::write(&p, c.to_bytes()).unwrap();
        p
    };
    let up = vhdx_child("up.vhdx", "..\\elsewhere\\p.vhdx");
    refused(
        &up,
        &[],
        &[
            "parent locator relative_path \"..\\\\elsewhere\\\\p.vhdx\" resolves to",
            "outside",
        ],
    );
    Disk::open_allowing(&up, std::slice::from_ref(&other)).unwrap();
    let pipe = vhdx_child("pipe.vhdx", "pipe");
    refused(
        &pipe,
        &[],
        &[
            "parent locator relative_path \"pipe\"",
            "is a named pipe (FIFO)",
        ],
    );
}
