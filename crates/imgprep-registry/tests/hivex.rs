//! The reader against hivex: hives grown with `hivexregedit --merge`, every key and value
//! compared with `hivexregedit --export`, and decoded values checked type by type.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use common::{assert_same_export, export, grow, hex, hivex_export, utf16z};
use imgprep_registry::{Data, Hive};

/// A 40 000-byte binary value: more than one 16 344-byte big-data segment.
fn big_bytes() -> Vec<u8> {
    (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn all_types_reg() -> String {
    let multi: Vec<u8> = ["one", "two", "Ünïcode ✓"]
        .iter()
        .flat_map(|s| utf16z(s))
        .chain([0, 0])
        .collect();
    let mut bad_surrogate = vec![0x41, 0, 0x00, 0xd8, 0x42, 0];
    bad_surrogate.extend([0, 0]);
    let mut sz_with_junk = utf16z("short");
    sz_with_junk.extend(b"j\0u\0n\0k\0");
    format!(
        "[\\Types]\n\
         @=\"the default\"\n\
         \"Sz\"=\"hello, world\"\n\
         \"Expand\"={expand}\n\
         \"Multi\"={multi}\n\
         \"Dword\"=dword:0000002a\n\
         \"DwordBE\"={dword_be}\n\
         \"Qword\"={qword}\n\
         \"Binary\"={binary}\n\
         \"None\"={none}\n\
         \"Link\"={link}\n\
         \"Odd\"={odd}\n\
         \"ShortDword\"={short_dword}\n\
         \"BadSurrogate\"={bad}\n\
         \"SzJunk\"={junk}\n\
         \"Big\"={big}\n\
         \"Quote\\\"Back\\\\slash\"=\"q\"\n\
         \n\
         [\\Types\\Sub]\n\
         \"x\"=dword:00000001\n\
         \n\
         [\\Ünïcödé]\n\
         \"ß\"=\"latin-1 name\"\n\
         \n\
         [\\日本語キー]\n\
         \"値\"=\"utf-16 names\"\n\
         \n\
         [\\Software]\n\
         \n\
         [\\Software\\Microsoft]\n\
         \n\
         [\\Software\\Microsoft\\Windows NT]\n\
         \n\
         [\\Software\\Microsoft\\Windows NT\\CurrentVersion]\n\
         \"ProductName\"=\"Windows Server 2019 Standard\"\n\
         \"CurrentBuildNumber\"=\"17763\"\n\
         \"CurrentMajorVersionNumber\"=dword:0000000a\n\
         \n",
        expand = hex(2, &utf16z("%SystemRoot%\\system32")),
        multi = hex(7, &multi),
        dword_be = hex(5, &[0x12, 0x34, 0x56, 0x78]),
        qword = hex(0xb, &0x0102_0304_0506_0708u64.to_le_bytes()),
        binary = hex(3, &[0xde, 0xad, 0xbe, 0xef, 0x00]),
        none = hex(0, &[]),
        link = hex(6, &utf16z("\\Registry\\Machine")),
        odd = hex(0x1234, &[1, 2, 3]),
        short_dword = hex(4, &[1, 2]),
        bad = hex(1, &bad_surrogate),
        junk = hex(1, &sz_with_junk),
        big = hex(3, &big_bytes()),
    )
}

#[test]
fn every_key_and_value_matches_hivexregedit_export() {
    let dir = tempfile::tempdir().unwrap();
    let path = grow(dir.path(), "types", &all_types_reg());
    let hive = Hive::from_bytes(fs_err::read(&path).unwrap()).unwrap();
    assert!(!hive.is_dirty());
    assert_same_export(&export(&hive), &hivex_export(&path));
}

#[test]
fn values_decode_by_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = grow(dir.path(), "types", &all_types_reg());
    let hive = Hive::from_bytes(fs_err::read(&path).unwrap()).unwrap();
    let key = hive.open("\\types").unwrap().expect("Types key");

    let check = |name: &str, expected: Data| {
        let v = key
            .value(name)
            .unwrap()
            .unwrap_or_else(|| panic!("value {name:?} missing"));
        assert_eq!(v.data().unwrap(), expected, "value {name:?}");
    };
    check("", Data::Sz("the default".into()));
    check("sz", Data::Sz("hello, world".into()));
    check("EXPAND", Data::ExpandSz("%SystemRoot%\\system32".into()));
    check(
        "Multi",
        Data::MultiSz(vec!["one".into(), "two".into(), "Ünïcode ✓".into()]),
    );
    check("Dword", Data::Dword(42));
    check("DwordBE", Data::Dword(0x1234_5678));
    check("Qword", Data::Qword(0x0102_0304_0506_0708));
    check("Binary", Data::Binary(vec![0xde, 0xad, 0xbe, 0xef, 0x00]));
    check("None", Data::None);
    check(
        "Link",
        Data::Other {
            ty: 6,
            bytes: utf16z("\\Registry\\Machine"),
        },
    );
    check(
        "Odd",
        Data::Other {
            ty: 0x1234,
            bytes: vec![1, 2, 3],
        },
    );
    check(
        "ShortDword",
        Data::Other {
            ty: 4,
            bytes: vec![1, 2],
        },
    );
    check("BadSurrogate", Data::Sz("A\u{fffd}B".into()));
    check("SzJunk", Data::Sz("short".into()));
    check("Big", Data::Binary(big_bytes()));
    check("quote\"back\\SLASH", Data::Sz("q".into()));
    assert!(key.value("missing").unwrap().is_none());
}

#[test]
fn paths_and_names_match_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    let path = grow(dir.path(), "types", &all_types_reg());
    let hive = Hive::from_bytes(fs_err::read(&path).unwrap()).unwrap();

    let check = |path: &str, expected: Option<&str>| {
        let got = hive.open(path).unwrap().map(|k| k.name());
        assert_eq!(got.as_deref(), expected, "path {path:?}");
    };
    check("", Some(hive.root().unwrap().name().as_str()));
    check("Types", Some("Types"));
    check("\\TYPES\\sub", Some("Sub"));
    check("ÜNÏCÖDÉ", Some("Ünïcödé"));
    check("日本語キー", Some("日本語キー"));
    check(
        "software\\MICROSOFT\\windows nt\\currentversion",
        Some("CurrentVersion"),
    );
    check("Types\\Nope", None);
    check("Nope\\Types", None);

    let cv = hive
        .open("Software\\Microsoft\\Windows NT\\CurrentVersion")
        .unwrap()
        .unwrap();
    assert_eq!(
        cv.value("productname").unwrap().unwrap().data().unwrap(),
        Data::Sz("Windows Server 2019 Standard".into())
    );
    let latin = hive.open("ünïcödé").unwrap().unwrap();
    assert_eq!(
        latin.value("ß").unwrap().unwrap().data().unwrap(),
        Data::Sz("latin-1 name".into())
    );
    let utf16 = hive.open("日本語キー").unwrap().unwrap();
    assert_eq!(
        utf16.value("値").unwrap().unwrap().data().unwrap(),
        Data::Sz("utf-16 names".into())
    );
}

/// Signature of the subkey list of the key at `path`, read from the raw bytes.
pub fn list_kind(bytes: &[u8], hive: &Hive, path: &str) -> String {
    let key = hive.open(path).unwrap().unwrap();
    let nk = key.offset() as usize + 4;
    let list = u32::from_le_bytes(bytes[nk + 28..nk + 32].try_into().unwrap()) as usize + 0x1000;
    String::from_utf8_lossy(&bytes[list + 4..list + 6]).into_owned()
}

#[test]
fn thousands_of_subkeys() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = String::from("[\\Many]\n\n");
    for i in 0..3000 {
        reg.push_str(&format!("[\\Many\\Key{i:05}]\n\"n\"=dword:{i:08x}\n\n"));
    }
    reg.push_str("[\\Few]\n\n[\\Few\\A]\n\n[\\Few\\b]\n\n");
    let path = grow(dir.path(), "many", &reg);
    let bytes = fs_err::read(&path).unwrap();
    let hive = Hive::from_bytes(bytes.clone()).unwrap();

    assert_same_export(&export(&hive), &hivex_export(&path));
    let many = hive.open("many").unwrap().unwrap();
    let subkeys = many.subkeys().unwrap();
    assert_eq!(subkeys.len(), 3000);
    assert_eq!(many.subkey_count(), 3000);
    let k = many.subkey("KEY02999").unwrap().unwrap();
    assert_eq!(
        k.value("N").unwrap().unwrap().data().unwrap(),
        Data::Dword(2999)
    );

    // hivex writes only `lh` leaves, however many subkeys there are (checked here so a change in
    // hivex shows up); `li`, `lf` and `ri` lists are built by the tests in hostile.rs.
    assert_eq!(list_kind(&bytes, &hive, "Many"), "lh");
    assert_eq!(list_kind(&bytes, &hive, "Few"), "lh");
}
