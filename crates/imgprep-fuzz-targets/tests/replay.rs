//! Replays every committed fuzz input through its target: `fuzz/corpus-min/TARGET/*` (the
//! minimized corpus) and `fuzz/regressions/TARGET/*` (inputs that once crashed or hung a
//! target). A panicking input fails the test naming its file; a fuzz target without a function
//! in `TARGETS` or without a corpus fails it too, so no target is forgotten.

use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use imgprep_fuzz_targets::TARGETS;

/// Inputs slower than this are listed on stderr (a hint, not a failure: no test here is timed).
const SLOW: Duration = Duration::from_secs(2);

fn fuzz_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate_dir
        .ancestors()
        .nth(2)
        .expect("the crate lives in crates/");
    repo.join("fuzz")
}

/// The entries of `dir` (sorted, dot-files skipped); none when it does not exist.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(list) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = list
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    out.sort();
    out
}

fn names(paths: &[PathBuf]) -> BTreeSet<String> {
    paths
        .iter()
        .map(|p| {
            p.file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[test]
fn every_fuzz_target_has_a_function_and_a_corpus() {
    let fuzz = fuzz_dir();
    let known: BTreeSet<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(known.len(), TARGETS.len(), "a name twice in TARGETS");

    let wrappers: BTreeSet<String> = entries(&fuzz.join("fuzz_targets"))
        .iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            Some(name.strip_suffix(".rs")?.to_owned())
        })
        .collect();
    assert_eq!(
        wrappers, known,
        "fuzz/fuzz_targets/*.rs and imgprep_fuzz_targets::TARGETS differ"
    );
    for name in &known {
        let path = fuzz.join("fuzz_targets").join(format!("{name}.rs"));
        let text = fs_err::read_to_string(&path).expect("wrapper readable");
        assert!(
            text.contains(&format!("imgprep_fuzz_targets::{name}(data)")),
            "{} does not call imgprep_fuzz_targets::{name}",
            path.display()
        );
    }

    let manifest = fs_err::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let bins: BTreeSet<String> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "imgprep-fuzz")
        .map(str::to_owned)
        .collect();
    assert_eq!(
        bins, known,
        "fuzz/Cargo.toml [[bin]] names and TARGETS differ"
    );

    for name in &known {
        let dir = fuzz.join("corpus-min").join(name);
        assert!(
            !entries(&dir).is_empty(),
            "fuzz target {name} has no corpus: {} is missing or empty (see README, Fuzzing)",
            dir.display()
        );
    }
    for kind in ["corpus-min", "regressions"] {
        let dirs: Vec<PathBuf> = entries(&fuzz.join(kind))
            .into_iter()
            .filter(|p| p.is_dir())
            .collect();
        let dirs = names(&dirs);
        let unknown: Vec<_> = dirs.difference(&known).collect();
        assert!(
            unknown.is_empty(),
            "fuzz/{kind} has directories for no target: {unknown:?}"
        );
    }
}

#[test]
fn every_corpus_and_regression_input_replays() {
    let fuzz = fuzz_dir();
    let mut failed = Vec::new();
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let started = Instant::now();
        let mut count = 0;
        for kind in ["corpus-min", "regressions"] {
            for path in entries(&fuzz.join(kind).join(name)) {
                let data = fs_err::read(&path).expect("input readable");
                let t = Instant::now();
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| target(&data)));
                let took = t.elapsed();
                if took > SLOW {
                    eprintln!("slow input: {} took {took:.1?}", path.display());
                }
                if let Err(payload) = outcome {
                    failed.push(format!(
                        "{}: {}",
                        path.display(),
                        panic_message(payload.as_ref())
                    ));
                }
                count += 1;
            }
        }
        eprintln!("{name}: {count} inputs in {:.2?}", started.elapsed());
        replayed += count;
    }
    assert!(replayed > 0, "no fuzz input found under {}", fuzz.display());
    assert!(
        failed.is_empty(),
        "{} of {replayed} fuzz inputs panicked:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
