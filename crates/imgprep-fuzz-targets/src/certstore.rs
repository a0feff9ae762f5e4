//! The Windows certificate store target.

use imgprep_sysconf::certstore::{Blob, thumbprint};

/// Serialized certificates, the `Blob` value of a Windows certificate store key (12-byte
/// property headers `id, encoding type 1, length`, the DER certificate as property 0x20): parse
/// the input; what parses serializes back to bytes no longer than the input (an end marker and
/// what follows it are dropped) that parse to the same properties, whose certificate is hashed
/// into a thumbprint.
///
/// Seeds: `fuzz/seeds/certstore.sh` (Blobs of real root certificates as Windows stores them,
/// with more properties, an end marker, cut short).
pub fn sysconf_cert_blob(data: &[u8]) {
    let Ok(blob) = Blob::parse(data) else {
        return;
    };
    let bytes = blob.to_bytes();
    assert!(bytes.len() <= data.len(), "serializing added bytes");
    let again = Blob::parse(&bytes).unwrap_or_else(|e| panic!("a parsed Blob written back: {e}"));
    assert_eq!(
        again, blob,
        "a Blob written back parses to other properties"
    );
    assert_eq!(thumbprint(blob.certificate()).len(), 40);
}
