//! The PE version resource target.

/// PE executables: the input as a whole file through `imgprep_pe::version_info` (DOS and NT
/// headers, section table, resource directory, the version resource), and again as a bare
/// `VS_VERSIONINFO` block through `parse_version_info`. A version resource read must lie inside
/// the file.
///
/// Seeds: `fuzz/seeds/pe.sh` (mingw-w64 programs with and without a version resource).
pub fn pe_version(data: &[u8]) {
    if let Ok(Some(info)) = imgprep_pe::version_info(&data) {
        assert!(
            info.offset < data.len() as u64,
            "version resource at {:#x} outside a file of {} bytes",
            info.offset,
            data.len()
        );
        let _ = info.string("ProductVersion");
        let _ = info.fixed.map(|f| f.file_version.to_string());
    }
    if let Ok(info) = imgprep_pe::parse_version_info(data, 0) {
        for t in &info.string_tables {
            for (k, v) in &t.strings {
                assert!(
                    k.len() + v.len() <= data.len() * 2,
                    "strings longer than the input"
                );
            }
        }
    }
}
