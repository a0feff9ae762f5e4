//! Opens each image given on the command line and reads its virtual disk in 1 MiB reads (all of
//! it, or the first N MiB with `--mib=N`), printing how long opening and reading took:
//!
//! ```text
//! cargo run --release -p imgprep-container --example read_speed -- [--mib=N] disk.qcow2 ...
//! ```
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use imgprep_container::Disk;

/// CPU time this process has used (user + system), from /proc/self/stat, in milliseconds; the
/// machine may be busy, so wall time alone can mislead.
fn cpu_ms() -> f64 {
    let stat = fs_err::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the name; 100 ticks/s.
    (ticks(11) + ticks(12)) * 10.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut limit = u64::MAX;
    for arg in std::env::args().skip(1) {
        if let Some(n) = arg.strip_prefix("--mib=") {
            limit = n.parse::<u64>()? << 20;
            continue;
        }
        let cpu0 = cpu_ms();
        let t0 = Instant::now();
        let disk = Disk::open(Path::new(&arg))?;
        let opened = t0.elapsed();
        let src = disk.source();
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0u64;
        let mut sum = 0u64;
        let mut read = std::time::Duration::ZERO;
        let end = disk.virtual_size().min(limit);
        while pos < end {
            let n = (end - pos).min(buf.len() as u64) as usize;
            let t = Instant::now();
            src.read_exact_at(pos, &mut buf[..n])?;
            read += t.elapsed();
            sum = buf[..n]
                .iter()
                .fold(sum, |a, &b| a.wrapping_add(u64::from(b)));
            pos += n as u64;
        }
        println!(
            "{arg}: {} of {} MiB, read {} MiB: open {:.2} ms, read {:.1} ms ({:.0} MiB/s), \
             cpu {:.0} ms, byte sum {sum:#x}",
            disk.format(),
            disk.virtual_size() >> 20,
            end >> 20,
            opened.as_secs_f64() * 1e3,
            read.as_secs_f64() * 1e3,
            (end as f64 / (1 << 20) as f64) / read.as_secs_f64(),
            cpu_ms() - cpu0,
        );
    }
    Ok(())
}
