//! Version orderings against the package managers themselves: `rpm.vercmp` from rpm's Lua
//! interpreter and `dpkg --compare-versions`.
#![allow(clippy::unwrap_used)] // test helpers, not library code

use std::cmp::Ordering::{self, Equal as E, Greater as G, Less as L};
use std::process::Command;

use imgprep_pkgdb::version::{Evr, apk_cmp, compare_evr, debian_cmp, debian_part_cmp, rpmvercmp};

const RPM_PAIRS: &[(&str, &str, Ordering)] = &[
    ("1.0", "1.0", E),
    ("1.0", "2.0", L),
    ("2.0.1", "2.0", G),
    ("1.0a", "1.0", G),
    ("1.0", "1.0a", L),
    ("1.a", "1a", E),
    ("1.0", "1_0", E),
    ("a", "1", L),
    ("1", "a", G),
    ("abc", "abd", L),
    ("B", "a", L),
    ("010", "10", E),
    ("000", "0", E),
    ("12345678901234567890", "12345678901234567891", L),
    ("1.0~rc1", "1.0", L),
    ("1.0~rc1", "1.0~rc2", L),
    ("1.0~~", "1.0~", L),
    ("1.0~rc1", "1.0~", G),
    ("1.0^", "1.0", G),
    ("1.0^git1", "1.0", G),
    ("1.0^git1", "1.0.1", L),
    ("1.0^git1", "1.0^git2", L),
    ("1.0^git1~pre", "1.0^git1", L),
    ("1.0~rc1^git1", "1.0~rc1", G),
    ("1.0~rc1^git1", "1.0", L),
    ("1.0^", "1.0~", G),
    ("1.", "1", E),
    ("1..", "1.", E),
    ("+1", "1", E),
    ("1.0", "1.0.0", L),
    ("fc4", "fc.4", E),
    ("1.el8", "1.el8_8", L),
    ("42.el8_8", "42.el8", G),
    ("2.32.1", "2.32.10", L),
    ("5.1.8", "5.01.8", E),
    ("é", "e", L),
];

/// rpm's own answers for every pair, from one `rpm --eval` with a Lua loop.
fn rpm_answers(pairs: &[(&str, &str, Ordering)]) -> Vec<Ordering> {
    let list: Vec<String> = pairs
        .iter()
        .map(|(a, b, _)| format!("{{[[{a}]],[[{b}]]}}"))
        .collect();
    let lua = format!(
        "%{{lua: local s = '' for _, p in ipairs({{{}}}) do s = s .. rpm.vercmp(p[1], p[2]) .. ' ' \
         end print(s)}}",
        list.join(",")
    );
    let out = Command::new("rpm")
        .arg("--eval")
        .arg(lua)
        .output()
        .expect("run rpm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|l| l.parse::<i32>().unwrap().cmp(&0))
        .collect()
}

#[test]
fn rpmvercmp_agrees_with_rpm() {
    let rpm = rpm_answers(RPM_PAIRS);
    assert_eq!(rpm.len(), RPM_PAIRS.len());
    for ((a, b, want), rpm) in RPM_PAIRS.iter().zip(rpm) {
        assert_eq!(rpm, *want, "rpm says {a:?} vs {b:?}");
        assert_eq!(rpmvercmp(a, b), *want, "{a:?} vs {b:?}");
        assert_eq!(rpmvercmp(b, a), want.reverse(), "{b:?} vs {a:?}");
    }
}

#[test]
fn rpmvercmp_of_empty_strings() {
    // rpm's Lua binding refuses empty versions, so these are rpmvercmp's C logic only.
    assert_eq!(rpmvercmp("", ""), E);
    assert_eq!(rpmvercmp("", "1"), L);
    assert_eq!(rpmvercmp("~", ""), L);
    assert_eq!(rpmvercmp("^", ""), G);
}

#[test]
fn evr_comparison() {
    let check = |a: &str, b: &str, want: Ordering| {
        assert_eq!(
            compare_evr(&Evr::parse(a), &Evr::parse(b)),
            want,
            "{a} vs {b}"
        );
    };
    check("1:1.0-1", "2.0-1", G);
    check("0:1.0-1", "1.0-1", E);
    check("1.0-2", "1.0-10", L);
    check("1.0-1.el8", "1.0-1.el8_8", L);
    check("2.0~rc1-1", "2.0-0", L);
    assert_eq!(
        Evr::parse("3:2.0~rc1-1.fc40"),
        Evr {
            epoch: 3,
            version: "2.0~rc1",
            release: "1.fc40"
        }
    );
    assert_eq!(
        Evr::parse("a:1-2-3"),
        Evr {
            epoch: 0,
            version: "a:1-2",
            release: "3"
        }
    );
}

const DEB_PAIRS: &[(&str, &str, Ordering)] = &[
    ("1.0", "1.0", E),
    ("1.0", "1.0-0", E),
    ("1.0", "1.00", E),
    ("1.0~rc1", "1.0", L),
    ("1.0~~", "1.0~", L),
    ("1.0~", "1.0", L),
    ("1.0", "1.0+", L),
    ("1.0+", "1.0.", L),
    ("1.0a", "1.0+", L),
    ("1:1.0", "2.0", G),
    ("0:1.0", "1.0", E),
    ("1.0-1", "1.0-1ubuntu1", L),
    ("2.30-3", "2.30-3+deb12u1", L),
    ("1.2.3", "1.2.10", L),
    ("1.0a", "1.0", G),
    ("9", "10", L),
    ("1.0-1", "1.0-1.1", L),
    ("1.0-1~bpo1", "1.0-1", L),
    ("1.0-a", "1.0-A", G),
    ("1.0-+", "1.0-.", L),
    ("0001", "1", E),
    ("1.0.0", "1.0", G),
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", L),
    ("2:0", "1:99999", G),
    ("1.0-1-1", "1.0-1", G),
    ("1.0-1-2", "1.0-1-10", L),
    ("1..0", "1.0", G),
    ("A1", "a1", L),
    ("1.18446744073709551616", "1.18446744073709551615", G),
    ("2.36-9+deb12u4", "2.36-9+deb12u10", L),
    ("1:2.3-4", "1:2.3-4", E),
];

fn dpkg_says(a: &str, b: &str) -> Ordering {
    let op = |op: &str| {
        Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("run dpkg")
            .success()
    };
    if op("lt") {
        L
    } else if op("eq") {
        E
    } else {
        G
    }
}

#[test]
fn debian_order_agrees_with_dpkg() {
    for &(a, b, want) in DEB_PAIRS {
        assert_eq!(dpkg_says(a, b), want, "dpkg says {a:?} vs {b:?}");
        assert_eq!(debian_cmp(a, b), want, "{a:?} vs {b:?}");
        assert_eq!(debian_cmp(b, a), want.reverse(), "{b:?} vs {a:?}");
    }
}

#[test]
fn debian_parts() {
    assert_eq!(debian_part_cmp("9+deb12u4", "9+deb12u10"), L);
    assert_eq!(debian_part_cmp("", "~"), G);
    assert_eq!(debian_part_cmp("a", ""), G);
}

#[test]
fn apk_order() {
    // apk-tools' rules: numbers, one letter, pre-release suffixes before the bare version,
    // post-release suffixes after, then -rN.
    for (a, b, want) in [
        ("1.0", "1.0", E),
        ("1.0", "1.1", L),
        ("1.10", "1.9", G),
        ("1.0a", "1.0", G),
        ("1.0a", "1.0b", L),
        ("1.0_alpha", "1.0_beta", L),
        ("1.0_beta", "1.0_pre", L),
        ("1.0_pre", "1.0_rc", L),
        ("1.1_rc", "1.1", L),
        // apk-tools 2.x reads a component made only of zeros as "leading zeros" and then
        // compares what follows it as a number: here "_rc" against the end, which is older.
        ("1.0_rc", "1.0", G),
        ("1.0_rc1", "1.0_rc2", L),
        ("1.0", "1.0_p1", L),
        ("1.0_cvs", "1.0_svn", L),
        ("1.0_git", "1.0_hg", L),
        ("1.0_hg", "1.0_p", L),
        ("1.0-r0", "1.0-r1", L),
        ("1.0-r10", "1.0-r9", G),
        ("1.0", "1.0-r0", L),
        ("1.01", "1.1", L),
        ("1.001", "1.01", L),
        ("1.2.3", "1.2", G),
        ("2.0_rc1-r0", "2.0-r0", L),
        ("1.2.4_git20230717-r4", "1.2.4-r4", G),
        ("1.0.0", "1.0", G),
        ("1.0_foo", "1.0", G),
    ] {
        assert_eq!(apk_cmp(a, b), want, "{a:?} vs {b:?}");
        assert_eq!(apk_cmp(b, a), want.reverse(), "{b:?} vs {a:?}");
    }
}
