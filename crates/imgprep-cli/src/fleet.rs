//! Runs over many images: directories and globs expanded to image lists, sharding, parallel jobs
//! with output in input order, progress on a terminal and the closing summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use imgprep_report::check::ImageStatus;
use indicatif::{ProgressBar, ProgressStyle};

/// How PATHs become a list of images, and how they are run.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FleetArgs {
    /// Walk directories given as PATH recursively (default: only the files directly in them).
    #[arg(long, short = 'r')]
    pub(crate) recursive: bool,
    /// Images to work on at once (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) jobs: Option<u32>,
    /// Work on shard I of N only (I from 0 to N-1, e.g. a Kubernetes JOB_COMPLETION_INDEX): the
    /// images whose path, as expanded, hashes (FNV-1a) to I modulo N. The shards of one list are
    /// disjoint and together cover it; merge their --format jsonl outputs with `imgprep report
    /// merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub(crate) shard: Option<Shard>,
}

/// `--shard I/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("expected I/N with 0 <= I < N (e.g. 0/4), found {s:?}");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let index: u32 = i.trim().parse().map_err(|_| bad())?;
    let count: u32 = n.trim().parse().map_err(|_| bad())?;
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// FNV-1a (64 bit): stable across runs, machines and Rust versions, unlike std's hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Shard {
    /// True when the image `shown` belongs to this shard.
    pub(crate) fn holds(&self, shown: &str) -> bool {
        fnv1a(shown.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }
}

/// One image of a run.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// Position in the whole expanded list (before sharding).
    pub(crate) index: usize,
    pub(crate) path: PathBuf,
    /// The path as reports show it.
    pub(crate) shown: String,
}

/// The images of a run.
#[derive(Debug)]
pub(crate) struct Inputs {
    pub(crate) images: Vec<Input>,
    /// True when a PATH was a directory or a glob (each image then stands alone).
    pub(crate) expanded: bool,
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Expands PATHs: a directory into the images in it (by content, sorted by name), a glob that
/// names no existing file into its matches (sorted), anything else as given (a missing file is
/// reported when it is opened). Then keeps the shard's part.
pub(crate) fn expand(paths: &[PathBuf], a: &FleetArgs) -> anyhow::Result<Inputs> {
    let mut all: Vec<PathBuf> = Vec::new();
    let mut expanded = false;
    for p in paths {
        let text = p.to_string_lossy();
        if p.is_dir() {
            expanded = true;
            let before = all.len();
            let depth = if a.recursive { usize::MAX } else { 1 };
            let walk = walkdir::WalkDir::new(p)
                .min_depth(1)
                .max_depth(depth)
                .sort_by_file_name();
            for e in walk {
                let e = e.with_context(|| format!("{}: cannot walk the directory", p.display()))?;
                if e.file_type().is_file() && is_image(e.path()) {
                    all.push(e.into_path());
                }
            }
            if all.len() == before {
                bail!(
                    "{}: is a directory with no disk images in it{}",
                    p.display(),
                    if a.recursive {
                        ""
                    } else {
                        " (--recursive walks below it)"
                    }
                );
            }
        } else if !p.exists() && is_glob(&text) {
            expanded = true;
            let mut found: Vec<PathBuf> = glob::glob(&text)
                .with_context(|| format!("{text}: bad glob pattern"))?
                .filter_map(Result::ok)
                .filter(|m| !m.is_dir())
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("{text}: the pattern matches no file");
            }
            all.extend(found);
        } else {
            all.push(p.clone());
        }
    }
    let images = all
        .into_iter()
        .enumerate()
        .map(|(index, path)| Input {
            index,
            shown: path.display().to_string(),
            path,
        })
        .filter(|i| a.shard.is_none_or(|s| s.holds(&i.shown)))
        .collect();
    Ok(Inputs {
        images,
        expanded: expanded || a.shard.is_some(),
    })
}

/// A file found in a directory is an image when its content says so; one that cannot be read is
/// kept, so that the run reports why.
fn is_image(path: &Path) -> bool {
    match imgprep_io::FileSource::open(path) {
        Ok(src) => imgprep_container::looks_like_disk(&src),
        Err(_) => true,
    }
}

/// The number of images worked on at once.
pub(crate) fn jobs(a: &FleetArgs) -> usize {
    a.jobs.map(|j| j as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Runs `work` on every input with `jobs` threads; `done` sees each result in input order, as
/// soon as it and every earlier one are done. Progress goes to stderr when it is a terminal.
pub(crate) fn run<T: Send>(
    inputs: &[Input],
    jobs: usize,
    work: impl Fn(&Input) -> T + Sync,
    mut done: impl FnMut(&Input, T, Duration) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let bar = progress(inputs.len());
    let next = AtomicUsize::new(0);
    let threads = jobs.clamp(1, inputs.len().max(1));
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, T, Duration)>();
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, work, bar) = (&next, &work, &bar);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    if let Some(b) = bar {
                        b.set_message(input.shown.clone());
                    }
                    let start = Instant::now();
                    let out = work(input);
                    if tx.send((i, out, start.elapsed())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut emitted = 0;
        for (i, out, took) in rx {
            if let Some(b) = &bar {
                b.inc(1);
            }
            pending.insert(i, (out, took));
            while let Some((out, took)) = pending.remove(&emitted) {
                done(&inputs[emitted], out, took)?;
                emitted += 1;
            }
        }
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        Ok(())
    })
}

fn progress(total: usize) -> Option<ProgressBar> {
    if total < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} images, ETA {eta} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// What the closing summary needs of one image.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) shown: String,
    pub(crate) status: ImageStatus,
    pub(crate) took: Option<Duration>,
}

/// The closing summary for stderr: images per outcome, and the slowest images.
pub(crate) fn summary(outcomes: &[Outcome]) -> String {
    let count = |s: ImageStatus| outcomes.iter().filter(|o| o.status == s).count();
    let statuses = [
        ImageStatus::Pass,
        ImageStatus::Warn,
        ImageStatus::Fail,
        ImageStatus::Error,
    ];
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["images".to_owned()];
    header.extend(statuses.iter().map(|s| s.as_str().to_owned()));
    t.set_header(header);
    let mut row = vec![outcomes.len().to_string()];
    row.extend(statuses.iter().map(|s| count(*s).to_string()));
    t.add_row(row);
    let mut out = format!("{t}\n");
    let mut timed: Vec<&Outcome> = outcomes.iter().filter(|o| o.took.is_some()).collect();
    timed.sort_by_key(|o| std::cmp::Reverse(o.took));
    if !timed.is_empty() {
        let mut s = Table::new();
        s.load_preset(UTF8_FULL_CONDENSED)
            .set_header(vec!["slowest images", "status", "seconds"]);
        for o in timed.iter().take(5) {
            s.add_row(vec![
                o.shown.clone(),
                o.status.as_str().to_owned(),
                format!("{:.3}", o.took.unwrap_or_default().as_secs_f64()),
            ]);
        }
        out.push_str(&format!("{s}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover() {
        let names: Vec<String> = (0..500)
            .map(|i| format!("/images/golden-{i}.qcow2"))
            .collect();
        for n in [1u32, 2, 3, 7] {
            let mut seen = vec![0; names.len()];
            for index in 0..n {
                let s = Shard { index, count: n };
                for (k, name) in names.iter().enumerate() {
                    if s.holds(name) {
                        seen[k] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|c| *c == 1), "{n} shards");
        }
        // Stable: the same value on every machine and every run.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("2/5"), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "1/0", "1", "a/b", "-1/3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn results_come_in_input_order() {
        let inputs: Vec<Input> = (0..40)
            .map(|i| Input {
                index: i,
                path: PathBuf::from(i.to_string()),
                shown: i.to_string(),
            })
            .collect();
        let mut seen = Vec::new();
        run(
            &inputs,
            4,
            |i| {
                // Early inputs take longest, so they finish out of order.
                std::thread::sleep(Duration::from_millis(((40 - i.index) % 7) as u64));
                i.index * 2
            },
            |i, v, _| {
                assert_eq!(v, i.index * 2);
                seen.push(i.index);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
    }
}
