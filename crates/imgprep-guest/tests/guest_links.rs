//! Symlink traps in a real ext4 image (images-test/guest-links.sh), resolved inside the guest and
//! compared with what the Linux kernel resolved in the appliance when the image was built.

use std::path::PathBuf;

use imgprep_guest::{Guest, GuestError, Image, Mountable};

fn fixture(name: &str) -> PathBuf {
    imgprep_testkit::fixture(name)
}

#[test]
fn links_resolve_as_the_kernel_resolves_them_inside_the_guest() {
    let dir = fixture("guest-links");
    let image = Image::open(&[dir.join("guest-links.qcow2")]).unwrap();
    let (guest, notes) = image.guest(&[("/".into(), Mountable::device("/dev/sda"))]);
    assert!(notes.is_empty(), "{notes:?}");
    // The kernel's answers, recorded by the fixture script in the appliance.
    let kernel = fs_err::read_to_string(dir.join("guest-links.qcow2.realpath")).unwrap();
    let mut checked = 0;
    for line in kernel
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (path, want) = line.split_once(" -> ").unwrap();
        let got = match guest.realpath(path) {
            Ok(p) => p,
            Err(GuestError::Loop { .. }) => "error ELOOP".into(),
            Err(GuestError::NotADirectory { .. }) => "error ENOTDIR".into(),
            Err(e) if e.is_not_found() => "error ENOENT".into(),
            Err(e) => format!("error {e}"),
        };
        assert_eq!(got, want, "{path}");
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} cases recorded");
    // Reads through links that climb out of the root stay in the guest.
    let passwd = guest
        .read_file("/usr/share/deep/a/b/c/d/e/f/passwd", 1 << 20)
        .unwrap();
    assert_eq!(passwd, guest.read_file("/etc/passwd", 1 << 20).unwrap());
    assert!(String::from_utf8_lossy(&passwd).starts_with("root:"));
}
