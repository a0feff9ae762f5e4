//! The LUKS target.

use std::sync::Arc;

use imgprep_io::ReadAt;
use imgprep_luks::{Limits, Passphrase};

/// LUKS1 and LUKS2 headers: probe the input as a device, then unlock it with the passphrase
/// `fuzz` under small key-derivation limits (so every run stays short) and read the decrypted
/// payload's first and last bytes.
///
/// Input: the device (seeds: `fuzz/seeds/luks_ntfs.sh`, `cryptsetup luksFormat` files made with
/// `--pbkdf-force-iterations 1000`; LUKS2 headers are checksummed, so most mutations stop
/// there).
pub fn luks_header(data: &[u8]) {
    let dev: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    let Ok(Some(h)) = imgprep_luks::probe(&*dev) else {
        return;
    };
    let limits = Limits {
        argon2_memory_kib: 64,
        argon2_passes: 2,
        pbkdf2_iterations: 2000,
    };
    match imgprep_luks::unlock(dev, &h, &Passphrase::new("fuzz"), &limits) {
        Ok(d) => {
            let size = d.size();
            let mut buf = [0u8; 16];
            let n = size.min(16) as usize;
            let _ = d.read_exact_at(0, &mut buf[..n]);
            let _ = d.read_exact_at(size - n as u64, &mut buf[..n]);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
