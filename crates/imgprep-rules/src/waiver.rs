//! Waivers: accepted exceptions to rules, kept in a YAML file next to the pipeline that gates on
//! them.
//!
//! ```yaml
//! waivers:
//!   - rule: linux.umask-022
//!     images: "golden/centos7-*.qcow2"
//!     reason: "hardened base; the worker installer sets its own umask (TICKET-123)"
//!     expires: 2027-06-30
//! ```
//!
//! A waiver turns a `fail`, `warn` or `error` result of its rule on a matching image into
//! `waived`, carrying the reason. From its `expires` date on it no longer waives: the result keeps
//! its status and records the expired waiver. `images` is a glob matched against the image path as
//! given; a pattern without `/` is matched against the file name alone.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::load::LoadError;
use crate::model::RuleResult;
use crate::verdict::Status;

/// A calendar date (proleptic Gregorian, UTC), as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
}

impl Date {
    /// Today in UTC.
    pub fn today() -> Date {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date::from_days((secs / 86_400) as i64)
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected a date YYYY-MM-DD, found {s:?}");
        let mut it = s.trim().splitn(3, '-');
        let (Some(y), Some(m), Some(d)) = (it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        let day: u8 = d.parse().map_err(|_| bad())?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if day == 0 || day > days_in {
            return Err(bad());
        }
        Ok(Date { year, month, day })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// What a waiver did to one result (part of the JSON report).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WaiverNote {
    /// Why the result is accepted.
    pub reason: String,
    /// The status the rule gave.
    pub status: Status,
    /// Last day the waiver applies, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// True when the waiver has expired and therefore did not waive the result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

/// One waiver of a waivers file.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// Rule id.
    pub rule: String,
    /// Image glob as written.
    pub images: String,
    pattern: glob::Pattern,
    by_name: bool,
    /// Why.
    pub reason: String,
    /// Last day it applies.
    pub expires: Option<Date>,
}

impl Waiver {
    /// True when the waiver names image path `image`.
    pub fn matches_image(&self, image: &str) -> bool {
        if self.by_name {
            Path::new(image)
                .file_name()
                .is_some_and(|n| self.pattern.matches(&n.to_string_lossy()))
        } else {
            self.pattern.matches(image)
        }
    }

    /// True when the waiver no longer applies on `today`.
    pub fn expired_on(&self, today: Date) -> bool {
        self.expires.is_some_and(|e| today > e)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiversFile {
    waivers: Vec<WaiverEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverEntry {
    rule: String,
    images: String,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
}

/// What applying waivers to one image's results did, by waiver index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Waivers that waived a result.
    pub waived: Vec<usize>,
    /// Expired waivers that would have waived a result.
    pub expired: Vec<usize>,
}

/// The waivers of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    /// The file they came from.
    pub file: String,
    /// The waivers.
    pub entries: Vec<Waiver>,
}

impl Waivers {
    /// Reads and validates a waivers file.
    pub fn load(path: &Path) -> Result<Waivers, LoadError> {
        let text = fs_err::read_to_string(path)?;
        Waivers::parse(&text, &path.display().to_string())
    }

    /// Parses waivers from `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Waivers, LoadError> {
        let raw: WaiversFile = serde_saphyr::from_str(text).map_err(|e| LoadError::Syntax {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        let invalid = |n: usize, message: String| LoadError::Invalid {
            file: file.to_owned(),
            message: format!("waiver {} : {message}", n + 1).replace(" :", ":"),
        };
        let mut entries = Vec::new();
        for (n, w) in raw.waivers.into_iter().enumerate() {
            if w.rule.trim().is_empty() {
                return Err(invalid(n, "empty rule id".into()));
            }
            if w.reason.trim().is_empty() {
                return Err(invalid(n, format!("{}: a waiver needs a reason", w.rule)));
            }
            let pattern = glob::Pattern::new(&w.images)
                .map_err(|e| invalid(n, format!("images {:?}: {e}", w.images)))?;
            let expires = w
                .expires
                .as_deref()
                .map(Date::from_str)
                .transpose()
                .map_err(|e| invalid(n, format!("expires: {e}")))?;
            entries.push(Waiver {
                rule: w.rule,
                by_name: !w.images.contains('/'),
                images: w.images,
                pattern,
                reason: w.reason,
                expires,
            });
        }
        Ok(Waivers {
            file: file.to_owned(),
            entries,
        })
    }

    /// Waives the fail, warn and error results of `image` that a live waiver names (the first
    /// matching waiver wins); records an expired waiver on a result it would have waived.
    pub fn apply(&self, image: &str, results: &mut [RuleResult], today: Date) -> Applied {
        let mut applied = Applied::default();
        for r in results.iter_mut() {
            if !matches!(r.status, Status::Fail | Status::Warn | Status::Error) {
                continue;
            }
            let mut expired = None;
            for (i, w) in self.entries.iter().enumerate() {
                if w.rule != r.rule || !w.matches_image(image) {
                    continue;
                }
                let note = WaiverNote {
                    reason: w.reason.clone(),
                    status: r.status,
                    expires: w.expires.map(|d| d.to_string()),
                    expired: w.expired_on(today),
                };
                if note.expired {
                    expired.get_or_insert((i, note));
                    continue;
                }
                r.status = Status::Waived;
                r.waiver = Some(note);
                applied.waived.push(i);
                expired = None;
                break;
            }
            if let Some((i, note)) = expired {
                r.waiver = Some(note);
                applied.expired.push(i);
            }
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Severity;

    fn result(rule: &str, status: Status) -> RuleResult {
        RuleResult {
            rule: rule.into(),
            status,
            severity: Severity::High,
            title: String::new(),
            message: String::new(),
            evidence: Vec::new(),
            remediation: String::new(),
            fixable: false,
            action: None,
            waiver: None,
        }
    }

    const FILE: &str = "waivers:
  - rule: a.one
    images: \"centos7-*.qcow2\"
    reason: accepted
  - rule: a.two
    images: \"golden/*\"
    reason: old
    expires: 2020-01-31
  - rule: a.three
    images: \"*\"
    reason: until later
    expires: 2030-12-31
";

    #[test]
    fn waives_live_and_records_expired() {
        let w = Waivers::parse(FILE, "w.yaml").unwrap();
        let today: Date = "2026-12-07".parse().unwrap();
        let mut rs = vec![
            result("a.one", Status::Fail),
            result("a.two", Status::Warn),
            result("a.three", Status::Error),
            result("a.four", Status::Fail),
        ];
        let applied = w.apply("golden/centos7-x.qcow2", &mut rs, today);
        assert_eq!(rs[0].status, Status::Waived);
        assert_eq!(rs[0].waiver.as_ref().unwrap().status, Status::Fail);
        assert_eq!(rs[1].status, Status::Warn);
        assert!(rs[1].waiver.as_ref().unwrap().expired);
        assert_eq!(rs[2].status, Status::Waived);
        assert_eq!(rs[3].status, Status::Fail);
        assert!(rs[3].waiver.is_none());
        assert_eq!(
            applied,
            Applied {
                waived: vec![0, 2],
                expired: vec![1]
            }
        );
        // A name pattern does not match a different file name; a path pattern needs the path.
        let mut rs = vec![result("a.one", Status::Fail), result("a.two", Status::Fail)];
        w.apply("other/debian.qcow2", &mut rs, today);
        assert_eq!(rs[0].status, Status::Fail);
        assert!(rs[1].waiver.is_none());
        // Passing results are never touched.
        let mut rs = vec![result("a.one", Status::Pass)];
        assert_eq!(
            w.apply("centos7-a.qcow2", &mut rs, today),
            Applied::default()
        );
        assert!(rs[0].waiver.is_none());
    }

    #[test]
    fn expiry_is_inclusive() {
        let w = Waivers::parse(FILE, "w.yaml").unwrap();
        let mut rs = vec![result("a.three", Status::Fail)];
        w.apply("x", &mut rs, "2030-12-31".parse().unwrap());
        assert_eq!(rs[0].status, Status::Waived);
        let mut rs = vec![result("a.three", Status::Fail)];
        w.apply("x", &mut rs, "2031-01-01".parse().unwrap());
        assert_eq!(rs[0].status, Status::Fail);
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let e = |t: &str| Waivers::parse(t, "w.yaml").unwrap_err().to_string();
        assert!(
            e("waivers:\n  - rule: x\n    images: '*'\n    reason: ''\n")
                .contains("needs a reason")
        );
        assert!(
            e("waivers:\n  - rule: x\n    images: '*'\n    reason: r\n    expires: 2027-02-30\n")
                .contains(
                    "w.yaml: waiver 1: expires: expected a date YYYY-MM-DD, found \"2027-02-30\""
                )
        );
        assert!(e("waivers:\n  - rule: x\n    images: '[a'\n    reason: r\n").contains("images"));
        assert!(
            e("waivers:\n  - rule: x\n    image: '*'\n    reason: r\n").starts_with("w.yaml: ")
        );
    }

    #[test]
    fn dates() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_794).to_string(), "2026-12-07");
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
        assert!("2026-1-07".parse::<Date>().is_err());
        assert!("2024-02-29".parse::<Date>().is_ok());
        assert!("2023-02-29".parse::<Date>().is_err());
    }
}
