//! `--key`, as virt-inspector takes it: passphrases for LUKS devices.

use anyhow::Context as _;
use imgprep_guest::{LuksKey, ScanOptions};

/// One `--key` argument, kept unparsed until it is used so that clap never echoes it in an
/// error; `Debug` does not show it.
#[derive(Clone)]
pub(crate) struct KeyArg(String);

impl std::fmt::Debug for KeyArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyArg(<redacted>)")
    }
}

/// clap's parser for `--key`: accepts anything, [`scan_options`] checks it.
pub(crate) fn key_arg(s: &str) -> Result<KeyArg, String> {
    Ok(KeyArg(s.to_owned()))
}

/// The scan options of the `--key` arguments (each checked, key files read).
pub(crate) fn scan_options(keys: &[KeyArg]) -> anyhow::Result<ScanOptions> {
    let keys = keys
        .iter()
        .map(|k| LuksKey::parse(&k.0).context("--key"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ScanOptions {
        keys,
        ..ScanOptions::default()
    })
}
