#!/usr/bin/env bash
# A short, bounded fuzz run of every target, from its committed corpus (test.sh runs it).
#
#   fuzz/smoke.sh
#
# IMGPREP_FUZZ_BUDGET      total seconds, install and build included (default 360; 0 skips)
# IMGPREP_CARGO_FUZZ_ROOT  where cargo-fuzz is installed (default ~/.cache/imgprep/cargo-fuzz)
# IMGPREP_FUZZ_CACHE       the build's cache, kept across clones (default ~/.cache/imgprep/fuzz)
#
# cargo-fuzz is installed from crates.io (`cargo install --locked`) when missing. The sources are
# mirrored into IMGPREP_FUZZ_CACHE/src, rewriting only the files whose content changed, so the
# build (`RUSTC_BOOTSTRAP=1 cargo fuzz build -a`: debug assertions, overflows panic) recompiles
# only what changed even from a fresh clone elsewhere (cargo keys local crates by path and
# mtime). One smoke run at a time uses the cache (a lock; waiting counts against the budget).
# Then each target runs for an equal share of what is left of the budget, from
# fuzz/corpus-min/TARGET and fuzz/regressions/TARGET (new inputs go to the git-ignored
# fuzz/corpus/TARGET). What the toolchain cannot do (no cargo-fuzz to be had, no sanitizer
# support, a budget spent before the build finished) is said and skipped: exit 0. A crash,
# timeout or out-of-memory exits 1, leaving the input in fuzz/artifacts/TARGET/ and printing the
# commands that reproduce it.
set -euo pipefail
cd "$(dirname "$0")"
fuzz=$PWD
repo=$(cd .. && pwd)

budget=${IMGPREP_FUZZ_BUDGET:-360}
root=${IMGPREP_CARGO_FUZZ_ROOT:-$HOME/.cache/imgprep/cargo-fuzz}
cache=${IMGPREP_FUZZ_CACHE:-$HOME/.cache/imgprep/fuzz}
target_dir=$cache/target
cargo_fuzz_version=0.13.2
min_run=3  # seconds of fuzzing a target needs to be worth starting
overhead=5 # seconds a run costs beyond -max_total_time (start-up, loading the corpus)

say() { printf 'fuzz smoke: %s\n' "$*"; }
skip() {
  say "skipped: $*"
  exit 0
}

case $budget in
  '' | *[!0-9]*) say "IMGPREP_FUZZ_BUDGET must be a number of seconds, not '$budget'"; exit 2 ;;
esac
[ "$budget" -eq 0 ] && skip "IMGPREP_FUZZ_BUDGET=0"
start=$(date +%s)
deadline=$((start + budget))
left() { echo $((deadline - $(date +%s))); }

logs=$cache/logs
mkdir -p "$logs" "$cache/src"
export PATH=$root/bin:$PATH
export RUSTC_BOOTSTRAP=1
# Runs "$@" for at most what is left of the budget (exit 124 when nothing is left).
bounded() {
  local l
  l=$(left)
  [ "$l" -gt 0 ] || return 124
  timeout "$l" "$@"
}

# A cold build of every target takes about 25 minutes on two cores: more than a default budget.
# Without a build from an earlier run, skip rather than spend the budget building for nothing.
if [ -z "${IMGPREP_FUZZ_BUDGET:-}" ] && [ ! -d "$target_dir" ]; then
  skip "no earlier fuzz build in $target_dir (a cold build takes ~25 min on 2 cores); warm it once with IMGPREP_FUZZ_BUDGET=3600 fuzz/smoke.sh"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz $cargo_fuzz_version into $root"
  if ! bounded cargo install -q --locked cargo-fuzz --version "$cargo_fuzz_version" \
    --root "$root" >"$logs/install.log" 2>&1; then
    tail -n 5 "$logs/install.log"
    skip "cargo-fuzz could not be installed within the budget (log: $logs/install.log)"
  fi
fi

git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || skip "$repo is not a git clone (git lists the sources to build)"
exec 9>"$cache/lock"
if ! bounded flock 9; then
  skip "another smoke run held $cache/lock for the whole budget"
fi
t0=$(date +%s)
# The mirror: the clone's files (git's view: tracked and untracked, not ignored), each written
# only when its content differs, so unchanged files keep the mtime cargo saw last time.
(cd "$repo" && git ls-files -z -co --exclude-standard) | python3 -c '
import os, sys
src, dst = sys.argv[1:3]
want = set(p for p in sys.stdin.buffer.read().decode().split("\0") if p)
for rel in want:
    a, b = os.path.join(src, rel), os.path.join(dst, rel)
    if not os.path.isfile(a) or os.path.islink(a):
        continue
    data = open(a, "rb").read()
    if os.path.isfile(b) and open(b, "rb").read() == data:
        continue
    os.makedirs(os.path.dirname(b), exist_ok=True)
    open(b, "wb").write(data)
    os.chmod(b, os.stat(a).st_mode & 0o777)
for root, dirs, files in os.walk(dst):
    dirs[:] = [d for d in dirs if os.path.join(root, d) != os.path.join(dst, "fuzz", "target")]
    for f in files:
        rel = os.path.relpath(os.path.join(root, f), dst)
        if rel not in want:
            os.remove(os.path.join(root, f))
' "$repo" "$cache/src"
cd "$cache/src/fuzz"
if ! bounded cargo fuzz build -a --target-dir "$target_dir" >"$logs/build.log" 2>&1; then
  tail -n 15 "$logs/build.log"
  if [ "$(left)" -le 0 ]; then
    skip "the build did not finish within the ${budget}s budget (what was built is kept in $cache)"
  fi
  skip "this toolchain cannot build the fuzz targets (log: $logs/build.log)"
fi
say "built in $(($(date +%s) - t0))s"

mapfile -t targets < <(cargo fuzz list)
bin=$target_dir/$(rustc -vV | sed -n 's/^host: //p')/release
cd "$fuzz"
failed=()
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  share=$(($(left) / (${#targets[@]} - i) - overhead))
  if [ "$share" -lt "$min_run" ]; then
    say "budget spent: ${targets[*]:$i} not run"
    break
  fi
  dirs=("corpus/$t" "corpus-min/$t")
  [ -d "regressions/$t" ] && dirs+=("regressions/$t")
  mkdir -p "corpus/$t" "artifacts/$t"
  rc=0
  # -max_total_time bounds the run; timeout(1) only guards against a stuck engine.
  timeout $((share + 60)) "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$share" \
    -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 "${dirs[@]}" >"$logs/$t.log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    say "$t: ${runs:-?} inputs in ${share}s"
    continue
  fi
  failed+=("$t")
  tail -n 40 "$logs/$t.log"
  input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$logs/$t.log" | tail -n 1)
  say "$t FAILED (exit $rc); log: $logs/$t.log"
  if [ -n "$input" ]; then
    say "  input kept: fuzz/$input"
    say "  reproduce:  $bin/$t fuzz/$input"
    say "         or:  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -a $t $input)"
    say "  on stable:  mkdir -p fuzz/regressions/$t && cp fuzz/$input fuzz/regressions/$t/ && cargo test -p imgprep-fuzz-targets"
  fi
done
[ ${#failed[@]} -eq 0 ] || {
  say "failed: ${failed[*]}"
  exit 1
}
say "done in $(($(date +%s) - start))s"
