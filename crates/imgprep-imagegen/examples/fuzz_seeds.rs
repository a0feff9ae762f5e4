//! Writes the differencing disks and the VHDX log the container fuzz seeds are made from
//! (fuzz/seeds/container.sh encodes them): `cargo run -p imgprep-imagegen --example fuzz_seeds
//! -- DIR` writes DIR/vhd-{child,parent}.vhd, DIR/vhdx-{child,parent}.vhdx and DIR/vhdx-log.vhdx,
//! small disks whose every structure a reader walks is present: parent locators of each kind,
//! sector bitmaps, every VHDX block state, a log sequence of two entries.

use std::path::PathBuf;

use imgprep_imagegen::{vhd, vhdx};

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let write = |name: &str, bytes: Vec<u8>| fs_err::write(dir.join(name), bytes);

    let mut parent = vhd::Vhd::new(256 << 10, 64 << 10, [7; 16]);
    parent.write(0, &data(4096, 1), 0);
    parent.write(128 << 10, &data(512, 2), 0);
    write("vhd-parent.vhd", parent.to_bytes())?;
    let mut child = vhd::Vhd::new(256 << 10, 64 << 10, [8; 16]);
    child.parent = Some(vhd::Parent {
        unique_id: [7; 16],
        name: "vhd-parent.vhd".into(),
        locators: vec![
            vhd::Locator::windows(b"W2ku", "C:\\VMs\\vhd-parent.vhd"),
            vhd::Locator::windows(b"W2ru", ".\\vhd-parent.vhd"),
            vhd::Locator::mac("file://./vhd-parent.vhd"),
        ],
    });
    child.write(1024, &data(1024, 3), 0);
    child.write(200 << 10, &data(512, 4), 0);
    write("vhd-child.vhd", child.to_bytes())?;

    let mut parent = vhdx::Vhdx::new(3 << 20, 1 << 20, 512, [0x44; 16]);
    parent.write(0, &data(8192, 5), 0);
    parent.blocks[2] = vhdx::Payload::Zero;
    write("vhdx-parent.vhdx", parent.to_bytes())?;
    let mut child = vhdx::Vhdx::new(3 << 20, 1 << 20, 512, [0x45; 16]);
    child.parent = Some(vec![
        ("parent_linkage".into(), vhdx::guid_text(&[0x44; 16])),
        ("relative_path".into(), ".\\vhdx-parent.vhdx".into()),
        (
            "absolute_win32_path".into(),
            "\\\\?\\C:\\vhdx-parent.vhdx".into(),
        ),
    ]);
    child.write(512, &data(1024, 6), 0);
    child.blocks[1] = vhdx::Payload::Unmapped;
    child.write((2 << 20) + 4096, &data(512, 7), 0);
    write("vhdx-child.vhdx", child.to_bytes())?;

    let mut logged = vhdx::Vhdx::new(2 << 20, 1 << 20, 512, [0x46; 16]);
    logged.write(0, &data(4096, 8), 0);
    let mut img = logged.to_bytes();
    let (bat, _) = vhdx::regions(&img);
    let mut sector = img[bat..bat + 4096].to_vec();
    sector[8..16].copy_from_slice(&2u64.to_le_bytes());
    let entry = |sequence, writes| vhdx::LogEntry {
        guid: [0x5e; 16],
        sequence,
        tail: 0,
        flushed_file_offset: img.len() as u64,
        last_file_offset: img.len() as u64,
        writes,
    };
    let first = entry(
        9,
        vec![vhdx::LogWrite::Data {
            offset: bat as u64,
            sector,
        }],
    )
    .to_bytes();
    let second = entry(
        10,
        vec![vhdx::LogWrite::Zero {
            offset: 4 << 20,
            length: 8192,
        }],
    )
    .to_bytes();
    vhdx::set_log_guid(&mut img, &[0x5e; 16]);
    vhdx::put_log_entry(&mut img, 0, &first);
    vhdx::put_log_entry(&mut img, first.len() as u64, &second);
    write("vhdx-log.vhdx", img)
}
