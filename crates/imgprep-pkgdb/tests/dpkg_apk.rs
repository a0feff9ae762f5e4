//! dpkg status and apk installed files, read as libguestfs 1.48 reads them (quirks included).
#![allow(clippy::unwrap_used)] // test helpers, not library code

use imgprep_pkgdb::{Error, Listing, apk_installed, dpkg_status};

/// One line per package: name|epoch|version|release|arch|summary|description|url|source, with
/// `-` for a field that is `None` and `\n` in descriptions shown as `/`.
fn show(l: &Listing) -> Vec<String> {
    let o = |s: &Option<String>| {
        s.as_deref()
            .map_or("-".to_string(), |s| s.replace('\n', "/"))
    };
    l.packages
        .iter()
        .map(|p| {
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                p.name,
                p.epoch,
                p.version,
                p.release,
                p.arch,
                o(&p.summary),
                o(&p.description),
                o(&p.url),
                o(&p.source_package)
            )
        })
        .collect()
}

fn check_dpkg(input: &str, expected: &[&str], problems: usize) {
    let l = dpkg_status(input.as_bytes()).unwrap();
    assert_eq!(show(&l), expected, "{input:?}");
    assert_eq!(l.problems.len(), problems, "{:#?}", l.problems);
}

#[test]
fn dpkg_rows() {
    // Every field libguestfs reads.
    check_dpkg(
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n\
         Source: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4\n\
         Homepage: https://www.gnu.org/software/libc/libc.html\n\
         Description: GNU C Library: Shared libraries\n Contains the standard libraries.\n .\n \
         More.\nMulti-Arch: same\n\n",
        &[
            "libc6|0|2.36|9+deb12u4|amd64|GNU C Library: Shared libraries|\
           Contains the standard libraries././More.|\
           https://www.gnu.org/software/libc/libc.html|glibc",
        ],
        0,
    );
    // Epoch; the release starts after the FIRST hyphen (dpkg would use the last).
    check_dpkg(
        "Package: a\nStatus: install ok installed\nVersion: 2:1.2-3-4\n\n",
        &["a|2|1.2|3-4||-|-|-|-"],
        0,
    );
    // No revision: empty release.
    check_dpkg(
        "Package: a\nStatus: install ok installed\nVersion: 1.0\n\n",
        &["a|0|1.0|||-|-|-|-"],
        0,
    );
    // "installed" anywhere in Status counts, even not-installed; config-files does not.
    check_dpkg(
        "Package: a\nStatus: purge ok not-installed\nVersion: 1\n\n\
         Package: b\nStatus: deinstall ok config-files\nVersion: 1\n\n\
         Package: c\nStatus: install reinstreq half-installed\nVersion: 1\n\n",
        &["a|0|1|||-|-|-|-", "c|0|1|||-|-|-|-"],
        0,
    );
    // Missing Status, Package or Version: skipped without a problem.
    check_dpkg(
        "Package: a\nVersion: 1\n\nStatus: install ok installed\nVersion: 1\n\n\
         Package: b\nStatus: install ok installed\n\n",
        &[],
        0,
    );
    // An epoch that does not parse: skipped, a problem.
    check_dpkg(
        "Package: a\nStatus: install ok installed\nVersion: x:1.0\n\n\
         Package: b\nStatus: install ok installed\nVersion: -1:1.0\n\n",
        &[],
        2,
    );
    // The last paragraph without an empty line after it is dropped (a problem).
    check_dpkg(
        "Package: a\nStatus: install ok installed\nVersion: 1\n\n\
         Package: b\nStatus: install ok installed\nVersion: 2\n",
        &["a|0|1|||-|-|-|-"],
        1,
    );
    // Field names need exactly "Name: "; a tab does not continue a description; " ." stays ".".
    check_dpkg(
        "Package:a\nPackage: b\nStatus: install ok installed\nVersion:  1\n\
         Description: sum\n\tnot a continuation\n line\n\n",
        &["b|0| 1|||sum|-|-|-"],
        0,
    );
    // A NUL byte ends the line's text.
    check_dpkg(
        "Package: fo\0o\nStatus: install ok installed\nVersion: 1\n\n",
        &["fo|0|1|||-|-|-|-"],
        0,
    );
    // A second Description continues the first one's description; CR stays part of a value.
    check_dpkg(
        "Package: a\r\nStatus: install ok installed\nVersion: 1\nDescription: one\n x\n\
         Description: two\n y\n\n",
        &["a\r|0|1|||two|x/y|-|-"],
        0,
    );
    // Packages come out sorted by name, then version in dpkg's order.
    check_dpkg(
        "Package: z\nStatus: install ok installed\nVersion: 1\n\n\
         Package: m\nStatus: install ok installed\nVersion: 1.10\n\n\
         Package: m\nStatus: install ok installed\nVersion: 1.9\n\n\
         Package: m\nStatus: install ok installed\nVersion: 1.9~rc1\n\n",
        &[
            "m|0|1.9~rc1|||-|-|-|-",
            "m|0|1.9|||-|-|-|-",
            "m|0|1.10|||-|-|-|-",
            "z|0|1|||-|-|-|-",
        ],
        0,
    );
}

#[test]
fn dpkg_long_lines_are_read_in_1023_byte_pieces_like_fgets() {
    // A summary longer than the buffer keeps its first 1023 - 13 bytes; the rest is a "line"
    // that is no field.
    let long = "s".repeat(1100);
    let input = format!(
        "Package: a\nStatus: install ok installed\nVersion: 1\nDescription: {long}\n more\n\n"
    );
    let l = dpkg_status(input.as_bytes()).unwrap();
    assert_eq!(l.packages[0].summary.as_deref(), Some(&long[..1010]));
    assert_eq!(l.packages[0].description, None);

    // A line of exactly 1023 bytes: its newline comes as an empty "line" of its own, which ends
    // the paragraph early; the fields after it are lost.
    let url = format!("https://{}", "u".repeat(1023 - 10 - 8));
    let input = format!(
        "Package: a\nStatus: install ok installed\nVersion: 1\nHomepage: {url}\n\
         Architecture: amd64\n\n"
    );
    assert_eq!(url.len() + 10, 1023);
    let l = dpkg_status(input.as_bytes()).unwrap();
    assert_eq!(l.packages.len(), 1);
    assert_eq!(l.packages[0].url.as_deref(), Some(url.as_str()));
    assert_eq!(l.packages[0].arch, "");
}

#[test]
fn dpkg_hostile_input_is_bounded() {
    // A 20 MB line with no newline, and a huge number of tiny paragraphs.
    let big = vec![b'x'; 20 << 20];
    assert!(dpkg_status(&big).unwrap().packages.is_empty());
    let many = "Package: a\nStatus: installed\nVersion: 1\n\n".repeat(20_000);
    assert_eq!(dpkg_status(many.as_bytes()).unwrap().packages.len(), 20_000);
    // Problems beyond MAX_PROBLEMS are counted, not kept.
    let bad = "Package: a\nStatus: installed\nVersion: x:1\n\n".repeat(10_005);
    let l = dpkg_status(bad.as_bytes()).unwrap();
    assert_eq!(
        (l.problems.len(), l.problems_omitted),
        (imgprep_pkgdb::MAX_PROBLEMS, 5)
    );
    // Larger than libguestfs reads: an error naming the limit.
    let huge = vec![b'\n'; 50_000_001];
    let e = dpkg_status(&huge).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooLarge {
                limit: 50_000_000,
                ..
            }
        ),
        "{e}"
    );
    // Binary garbage.
    let garbage: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    dpkg_status(&garbage).unwrap();
}

fn check_apk(input: &str, expected: &[&str], problems: usize) {
    let l = apk_installed(input.as_bytes()).unwrap();
    assert_eq!(show(&l), expected, "{input:?}");
    assert_eq!(l.problems.len(), problems, "{:#?}", l.problems);
}

#[test]
fn apk_rows() {
    // The fields libguestfs reads: P V A T U; the leading r of the revision is dropped.
    check_apk(
        "C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407255\n\
         T:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\n\n",
        &[
            "musl|0|1.2.4_git20230717|4|x86_64|-|the musl c library (libc) implementation|\
           https://musl.libc.org/|-",
        ],
        0,
    );
    // Epoch; first hyphen; a revision without r; no revision.
    check_apk(
        "P:a\nV:1:2.0-rc-r1\n\nP:b\nV:3-5\n\nP:c\nV:4\n\n",
        &[
            "a|1|2.0|c-r1||-|-|-|-",
            "b|0|3|5||-|-|-|-",
            "c|0|4|||-|-|-|-",
        ],
        0,
    );
    // Lines whose second byte is not ':' are skipped; a bad epoch is a problem; the paragraph
    // without an empty line after it is dropped (a problem).
    check_apk(
        "P:a\nPxx\nV:1\n\nP:b\nV:z:1\n\nP:c\nV:1\n",
        &["a|0|1|||-|-|-|-"],
        2,
    );
    // No version, no name: nothing.
    check_apk("P:a\n\nV:1\n\n", &[], 0);
    // A one-byte line sets an empty value; NUL ends a value.
    check_apk(
        "P:x\nV:1\nA\n\nP:y\0z\nV:2\n\n",
        &["x|0|1|||-|-|-|-", "y|0|2|||-|-|-|-"],
        0,
    );
    // Sorted by name, then apk's version order.
    check_apk(
        "P:a\nV:1.10-r0\n\nP:a\nV:1.2_rc1-r0\n\nP:a\nV:1.2-r0\n\n",
        &[
            "a|0|1.2_rc1|0||-|-|-|-",
            "a|0|1.2|0||-|-|-|-",
            "a|0|1.10|0||-|-|-|-",
        ],
        0,
    );
}

#[test]
fn apk_hostile_input_is_bounded() {
    let big = vec![b'P'; 20 << 20];
    assert!(apk_installed(&big).unwrap().packages.is_empty());
    let e = apk_installed(&vec![b'\n'; 50_000_001]).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}

#[test]
fn listings_stay_bounded_whatever_the_database_holds() {
    use imgprep_pkgdb::{MAX_LISTING_TEXT, MAX_PACKAGES};
    // More packages than a listing keeps: the first MAX_PACKAGES, and one problem.
    let many = "Package: a\nStatus: installed\nVersion: 1\n\n".repeat(MAX_PACKAGES + 7);
    let l = dpkg_status(many.as_bytes()).unwrap();
    assert_eq!(l.packages.len(), MAX_PACKAGES);
    assert_eq!(l.problems.len(), 1);
    assert_eq!(
        l.problems[0].error.to_string(),
        format!("more than {MAX_PACKAGES} packages: the rest are left out")
    );
    // Descriptions past the text budget are left out (the packages stay), with one problem.
    let line = format!(" {}\n", "d".repeat(1000));
    let para = format!(
        "Package: p\nStatus: install ok installed\nVersion: 1\nDescription: s\n{}\n",
        line.repeat(1000)
    );
    let n = MAX_LISTING_TEXT / 1_000_000 + 5;
    let l = dpkg_status(para.repeat(n).as_bytes()).unwrap();
    assert_eq!(l.packages.len(), n);
    let with = l
        .packages
        .iter()
        .filter(|p| p.description.is_some())
        .count();
    assert!(with < n && with >= n - 6, "{with} of {n} keep descriptions");
    assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
    // One description is cut at 1 MiB.
    let long = format!(
        "Package: p\nStatus: install ok installed\nVersion: 1\nDescription: s\n{}\n",
        line.repeat(3000)
    );
    let l = dpkg_status(long.as_bytes()).unwrap();
    assert!(l.packages[0].description.as_ref().unwrap().len() <= 1 << 20);
    // An apk line longer than 1 MiB is cut, with a problem naming where.
    let apk = format!("P:a\nV:1\nT:{}\n\n", "t".repeat(3 << 20));
    let l = apk_installed(apk.as_bytes()).unwrap();
    assert_eq!(l.packages.len(), 1);
    assert_eq!(
        l.packages[0].description.as_ref().unwrap().len(),
        (1 << 20) - 2
    );
    assert!(
        l.problems[0]
            .to_string()
            .contains("apk installed line at 0x8"),
        "{}",
        l.problems[0]
    );
}
