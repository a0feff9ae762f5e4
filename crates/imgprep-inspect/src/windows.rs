//! Windows root detection and facts from the registry, as libguestfs reads them.

use imgprep_guest::Guest;
use imgprep_registry::{Data as RegData, Hive, Key};

use crate::linux::{Data, parse_version_from_major_minor};
use crate::model::{Application, Service};

/// Where Windows keeps its system root, tried in order.
const SYSTEMROOT_PATHS: [&str; 5] = ["/windows", "/winnt", "/win32", "/win", "/reactos"];

/// Largest hive read (cell by cell, never whole).
pub(crate) const MAX_HIVE: u64 = imgprep_registry::MAX_HIVE_SIZE;

/// Windows facts that need the registry later (drive letters, applications, services).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WindowsData {
    pub systemroot: String,
    pub software_hive: Option<String>,
    pub system_hive: Option<String>,
    pub current_control_set: Option<String>,
    /// `MountedDevices` entries: drive letter and what the blob names.
    pub mounted_devices: Vec<(String, DeviceRef)>,
    pub notes: Vec<String>,
}

/// A partition as `MountedDevices` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceRef {
    /// MBR disk signature and partition byte offset.
    Mbr { signature: u32, offset: u64 },
    /// GPT partition unique GUID, lower-case.
    Gpt { guid: String },
}

/// The path with each existing component spelled as stored (Windows names are
/// case-insensitive). Components that do not exist are kept as given.
pub(crate) fn case_sensitive_path(g: &dyn Guest, path: &str) -> String {
    imgprep_guest::path_nocase(g, path).0
}

fn is_dir_nocase(g: &dyn Guest, path: &str) -> bool {
    g.is_dir_nofollow(&case_sensitive_path(g, path))
}

fn is_file_nocase(g: &dyn Guest, path: &str) -> bool {
    g.is_file_nofollow(&case_sensitive_path(g, path))
}

fn is_systemroot(g: &dyn Guest, root: &str) -> bool {
    is_dir_nocase(g, &format!("{root}/system32"))
        && is_dir_nocase(g, &format!("{root}/system32/config"))
        && is_file_nocase(g, &format!("{root}/system32/cmd.exe"))
}

fn systemroot(g: &dyn Guest) -> Option<String> {
    SYSTEMROOT_PATHS
        .iter()
        .map(|p| case_sensitive_path(g, p))
        .find(|p| is_systemroot(g, p))
        .or_else(|| systemroot_from_boot_ini(g))
}

/// `boot.ini`'s `[operating systems]` entries (Windows 2003 and older).
fn systemroot_from_boot_ini(g: &dyn Guest) -> Option<String> {
    let path = case_sensitive_path(g, "/boot.ini");
    let text = g.read_text(&path, crate::linux::SMALL_FILE).ok()??;
    let mut lines = text.split('\n');
    lines.find(|l| l.starts_with("[operating systems]"))?;
    lines
        .take_while(|l| l.starts_with("multi(") || l.starts_with("scsi("))
        .filter_map(|l| {
            let rest = l.split(")partition(").nth(1)?;
            let (_, after) = rest.split_once(')')?;
            let (p, _) = after.split_once('=')?;
            Some(p.replace('\\', "/"))
        })
        .find(|p| is_systemroot(g, p))
}

/// True when the filesystem holds a Windows system root.
pub(crate) fn is_windows_systemroot(g: &dyn Guest) -> bool {
    systemroot(g).is_some()
}

/// Windows facts from the files and the registry.
pub(crate) fn check_windows_root(g: &dyn Guest, data: &mut Data) {
    let Some(root) = systemroot(g) else {
        return;
    };
    data.os_type = Some("windows");
    data.distro = Some("windows");
    let cmd = case_sensitive_path(g, &format!("{root}/system32/cmd.exe"));
    let mut w = WindowsData {
        systemroot: root.clone(),
        ..Default::default()
    };
    match g.read(&cmd, 0, 4096) {
        Ok(h) => data.arch = pe_arch(&h).map(str::to_owned),
        Err(e) => w.notes.push(format!("{cmd} could not be read: {e}")),
    }
    let hive = |name: &str| {
        let p = case_sensitive_path(g, &format!("{root}/system32/config/{name}"));
        g.is_file_nofollow(&p).then_some(p)
    };
    w.software_hive = hive("software");
    w.system_hive = hive("system");
    if let (Some(sw), Some(sys)) = (w.software_hive.clone(), w.system_hive.clone()) {
        match load_hive(g, &sw) {
            Ok(h) => software_facts(&h, data, &mut w.notes),
            Err(e) => w.notes.push(e),
        }
        match load_hive(g, &sys) {
            Ok(h) => system_facts(&h, data, &mut w),
            Err(e) => w.notes.push(e),
        }
    }
    data.windows = Some(w);
}

/// Reads and parses a hive; the error is a note for the report.
pub(crate) fn load_hive(g: &dyn Guest, path: &str) -> Result<Hive, String> {
    let file = g
        .open_file(path, MAX_HIVE)
        .map_err(|e| format!("registry hive {path} could not be read: {e}"))?;
    let hive = Hive::from_source(file)
        .map_err(|e| format!("registry hive {path} is not readable: {e}"))?;
    Ok(hive)
}

/// `PE32` is i386 and `PE32+` x86_64, as libguestfs reads `file`'s verdict on cmd.exe.
pub(crate) fn pe_arch(head: &[u8]) -> Option<&'static str> {
    if head.get(..2)? != b"MZ" {
        return None;
    }
    let pe = u32::from_le_bytes(head.get(0x3c..0x40)?.try_into().ok()?) as usize;
    if head.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let magic_at = pe.checked_add(24)?;
    let magic = u16::from_le_bytes(head.get(magic_at..magic_at + 2)?.try_into().ok()?);
    match magic {
        0x10b => Some("i386"),
        0x20b => Some("x86_64"),
        _ => None,
    }
}

/// A value as a string, as hivex's `value_string` (string types only).
fn string_value(key: &Key<'_>, name: &str) -> Option<String> {
    match key.value(name).ok()??.data().ok()? {
        RegData::Sz(s) | RegData::ExpandSz(s) => Some(s),
        _ => None,
    }
}

fn dword_value(key: &Key<'_>, name: &str) -> Option<u32> {
    match key.value(name).ok()??.data().ok()? {
        RegData::Dword(d) => Some(d),
        _ => None,
    }
}

/// The key at `path` of `hive`; a damaged hive (a loop in the subkey lists, a bad cell) is a
/// note naming the key, not a missing key.
fn open_key<'h>(h: &'h Hive, hive: &str, path: &str, notes: &mut Vec<String>) -> Option<Key<'h>> {
    match h.open(path) {
        Ok(k) => k,
        Err(e) => {
            notes.push(format!("{hive}\\{path} cannot be read: {e}"));
            None
        }
    }
}

/// The subkeys of `key`, or none with a note when its subkey lists are damaged.
fn subkeys<'h>(key: &Key<'h>, shown: &str, notes: &mut Vec<String>) -> Vec<Key<'h>> {
    key.subkeys().unwrap_or_else(|e| {
        notes.push(format!("{shown}: its subkeys cannot be read: {e}"));
        Vec::new()
    })
}

fn software_facts(h: &Hive, data: &mut Data, notes: &mut Vec<String>) {
    let path = "Microsoft\\Windows NT\\CurrentVersion";
    let cv = match h.open(path) {
        Ok(Some(k)) => k,
        Ok(None) => {
            notes.push(format!("SOFTWARE has no {path} key"));
            return;
        }
        Err(e) => {
            notes.push(format!("SOFTWARE\\{path} cannot be read: {e}"));
            return;
        }
    };
    if let Some(p) = string_value(&cv, "ProductName") {
        data.product_name = Some(p);
    }
    match (
        dword_value(&cv, "CurrentMajorVersionNumber"),
        dword_value(&cv, "CurrentMinorVersionNumber"),
    ) {
        (Some(major), Some(minor)) => data.version = Some((major, minor)),
        _ => {
            if let Some(v) = string_value(&cv, "CurrentVersion") {
                parse_version_from_major_minor(&v, data);
            }
        }
    }
    if let Some(v) = string_value(&cv, "InstallationType") {
        data.product_variant = Some(v);
    }
}

fn system_facts(h: &Hive, data: &mut Data, w: &mut WindowsData) {
    if let Some(md) = open_key(h, "SYSTEM", "MountedDevices", &mut w.notes) {
        w.mounted_devices = mounted_devices(&md);
    }
    let current = open_key(h, "SYSTEM", "Select", &mut w.notes)
        .and_then(|k| dword_value(&k, "Current"))
        .map(|n| format!("ControlSet{n:03}"));
    w.current_control_set = current.clone();
    let Some(ccs) = current else {
        return;
    };
    if let Some(params) = open_key(
        h,
        "SYSTEM",
        &format!("{ccs}\\Services\\Tcpip\\Parameters"),
        &mut w.notes,
    ) {
        data.hostname = string_value(&params, "Hostname");
    }
    // Without a readable cmd.exe (a WIMBoot pointer, a damaged file), the architecture Windows
    // gives its processes says what it runs on.
    if data.arch.is_none()
        && let Some(env) = open_key(
            h,
            "SYSTEM",
            &format!("{ccs}\\Control\\Session Manager\\Environment"),
            &mut w.notes,
        )
        && let Some(a) = string_value(&env, "PROCESSOR_ARCHITECTURE")
    {
        match processor_arch(&a) {
            Some(arch) => {
                data.arch = Some(arch.to_owned());
                w.notes.push(format!(
                    "architecture {arch} from PROCESSOR_ARCHITECTURE ({a}) in {ccs}: no PE header of cmd.exe was read"
                ));
            }
            None => w.notes.push(format!(
                "PROCESSOR_ARCHITECTURE {a:?} in {ccs} is not a known architecture"
            )),
        }
    }
}

/// libguestfs's name of a Windows `PROCESSOR_ARCHITECTURE` value.
fn processor_arch(v: &str) -> Option<&'static str> {
    Some(match v.to_ascii_uppercase().as_str() {
        "AMD64" => "x86_64",
        "X86" => "i386",
        "ARM64" => "aarch64",
        "ARM" => "arm",
        "IA64" => "ia64",
        _ => return None,
    })
}

/// `\DosDevices\X:` values of `MountedDevices` that name a fixed-disk partition.
fn mounted_devices(key: &Key<'_>) -> Vec<(String, DeviceRef)> {
    let Ok(values) = key.values() else {
        return Vec::new();
    };
    values
        .into_iter()
        .filter_map(|v| {
            let name = v.name();
            let b = name.as_bytes();
            let letter = (b.len() >= 14
                && name.get(..12)?.eq_ignore_ascii_case("\\dosdevices\\")
                && b[12].is_ascii_alphabetic()
                && b[13] == b':')
                .then(|| name[12..13].to_owned())?;
            let RegData::Binary(blob) = v.data().ok()? else {
                return None;
            };
            let dev = if blob.len() >= 24 && blob.starts_with(b"DMIO:ID:") {
                DeviceRef::Gpt {
                    guid: guid_from_blob(&blob[8..24]),
                }
            } else if blob.len() == 12 {
                DeviceRef::Mbr {
                    signature: u32::from_le_bytes(blob[..4].try_into().ok()?),
                    offset: u64::from_le_bytes(blob[4..12].try_into().ok()?),
                }
            } else {
                return None;
            };
            Some((letter, dev))
        })
        .collect()
}

/// A mixed-endian GUID as its lower-case text form.
fn guid_from_blob(g: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{}",
        u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Bounds a listing read from registry keys as a package listing is bounded: at most
/// `imgprep_pkgdb::MAX_PACKAGES` keys looked at and `MAX_LISTING_TEXT` bytes of text kept.
#[derive(Debug, Default)]
struct Budget {
    keys: usize,
    text: usize,
    full: bool,
}

impl Budget {
    /// Counts one more key looked at; false when the listing is full (see [`Budget::admit`]).
    fn key(&mut self, shown: &str, notes: &mut Vec<String>) -> bool {
        self.admit(1, 0, shown, notes)
    }

    /// Counts `text` more bytes kept; false when the listing is full.
    fn text(&mut self, text: usize, shown: &str, notes: &mut Vec<String>) -> bool {
        self.admit(0, text, shown, notes)
    }

    /// False, with one note the first time, when `keys` more keys or `text` more bytes do not
    /// fit: the rest of the listing is left out.
    fn admit(&mut self, keys: usize, text: usize, shown: &str, notes: &mut Vec<String>) -> bool {
        use imgprep_pkgdb::{MAX_LISTING_TEXT, MAX_PACKAGES};
        if !self.full && self.keys + keys <= MAX_PACKAGES && self.text + text <= MAX_LISTING_TEXT {
            self.keys += keys;
            self.text += text;
            return true;
        }
        if !self.full {
            self.full = true;
            notes.push(format!(
                "{shown}: more than {MAX_PACKAGES} entries or {MAX_LISTING_TEXT} bytes of text: \
                 the rest are left out"
            ));
        }
        false
    }
}

/// A string value, or none with a note when it cannot be read (not when it is missing).
fn noted_string(key: &Key<'_>, name: &str, shown: &str, notes: &mut Vec<String>) -> Option<String> {
    match key
        .value(name)
        .and_then(|v| v.map(|v| v.data()).transpose())
    {
        Ok(Some(RegData::Sz(s) | RegData::ExpandSz(s))) => Some(s),
        Ok(_) => None,
        Err(e) => {
            notes.push(format!(
                "{shown}\\{}: {name} cannot be read: {e}",
                key.name()
            ));
            None
        }
    }
}

/// Programs from the Uninstall keys (native, then WOW6432Node), as libguestfs lists them;
/// damaged keys are notes. The listing is bounded as a package listing is.
pub(crate) fn applications(h: &Hive, notes: &mut Vec<String>) -> Vec<Application> {
    let mut apps = Vec::new();
    let mut budget = Budget::default();
    for path in [
        "Microsoft\\Windows\\CurrentVersion\\Uninstall",
        "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    ] {
        let Some(k) = open_key(h, "SOFTWARE", path, notes) else {
            continue;
        };
        let shown = format!("SOFTWARE\\{path}");
        for child in subkeys(&k, &shown, notes) {
            if !budget.key(&shown, notes) {
                return apps;
            }
            let Some(display_name) = noted_string(&child, "DisplayName", &shown, notes) else {
                continue;
            };
            let get = |n: &str| string_value(&child, n).filter(|s| !s.is_empty());
            let app = Application {
                name: child.name(),
                display_name: crate::model::nonempty(display_name),
                version: get("DisplayVersion"),
                install_path: get("InstallLocation"),
                publisher: get("Publisher"),
                url: get("URLInfoAbout"),
                description: get("Comments"),
                ..Default::default()
            };
            let text = [
                &app.display_name,
                &app.version,
                &app.install_path,
                &app.publisher,
                &app.url,
                &app.description,
            ]
            .iter()
            .map(|s| s.as_ref().map_or(0, String::len))
            .sum::<usize>()
                + app.name.len();
            if !budget.text(text, &shown, notes) {
                return apps;
            }
            apps.push(app);
        }
    }
    apps
}

/// Win32 services (not drivers) of the current control set; damaged keys are notes.
pub(crate) fn services(
    h: &Hive,
    current_control_set: &str,
    notes: &mut Vec<String>,
) -> Vec<Service> {
    let path = format!("{current_control_set}\\Services");
    let Some(k) = open_key(h, "SYSTEM", &path, notes) else {
        return Vec::new();
    };
    let shown = format!("SYSTEM\\{path}");
    let mut budget = Budget::default();
    let mut out = Vec::new();
    for s in subkeys(&k, &shown, notes) {
        if !budget.key(&shown, notes) {
            break;
        }
        if dword_value(&s, "Type").is_none_or(|t| t & 0x30 == 0) {
            continue;
        }
        let service = Service {
            name: s.name(),
            display_name: string_value(&s, "DisplayName"),
            image_path: string_value(&s, "ImagePath"),
            start: dword_value(&s, "Start")
                .map(|n| imgprep_registry::service_start_name(n).to_owned()),
        };
        let text = service.name.len()
            + [&service.display_name, &service.image_path]
                .iter()
                .map(|s| s.as_ref().map_or(0, String::len))
                .sum::<usize>();
        if !budget.text(text, &shown, notes) {
            break;
        }
        out.push(service);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_listings_stop_at_the_package_listing_limits() {
        use imgprep_pkgdb::{MAX_LISTING_TEXT, MAX_PACKAGES};
        let mut notes = Vec::new();
        let mut b = Budget::default();
        assert!((0..MAX_PACKAGES).all(|_| b.key("K", &mut notes)));
        assert!(!b.key("K", &mut notes));
        assert!(!b.key("K", &mut notes));
        assert_eq!(
            notes,
            [format!(
                "K: more than {MAX_PACKAGES} entries or {MAX_LISTING_TEXT} bytes of text: the \
                 rest are left out"
            )]
        );
        let mut notes = Vec::new();
        let mut b = Budget::default();
        assert!(b.text(MAX_LISTING_TEXT - 1, "K", &mut notes));
        assert!(!b.text(2, "K", &mut notes));
        assert!(!b.key("K", &mut notes));
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn gpt_blobs_read_as_guids() {
        let blob = [
            0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        assert_eq!(
            guid_from_blob(&blob),
            "12345678-9abc-def0-0123-456789abcdef"
        );
    }

    #[test]
    fn processor_architecture_names() {
        for (v, arch) in [
            ("AMD64", Some("x86_64")),
            ("x86", Some("i386")),
            ("arm64", Some("aarch64")),
            ("MIPS", None),
        ] {
            assert_eq!(processor_arch(v), arch, "{v}");
        }
    }

    #[test]
    fn pe_headers_give_the_arch() {
        let mut h = vec![0u8; 512];
        h[..2].copy_from_slice(b"MZ");
        h[0x3c] = 0x80;
        h[0x80..0x84].copy_from_slice(b"PE\0\0");
        h[0x98..0x9a].copy_from_slice(&0x20bu16.to_le_bytes());
        assert_eq!(pe_arch(&h), Some("x86_64"));
        h[0x98..0x9a].copy_from_slice(&0x10bu16.to_le_bytes());
        assert_eq!(pe_arch(&h), Some("i386"));
        h[0x3c] = 0xff;
        h[0x3d] = 0xff;
        assert_eq!(pe_arch(&h), None);
        assert_eq!(pe_arch(b"MZ"), None);
    }
}
