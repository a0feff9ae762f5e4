#!/usr/bin/env bash
# Whole-process timing and peak memory of every case of the hostile-image corpus
# (images-test/hostile.sh): hyperfine's median of several runs, and GNU time's peak RSS (the
# largest of three runs), against the targets of 1 s and 64 MiB per case.
#
#   benches/hostile.sh            build imgprep (release) and the corpus, time every case
#   BIN=PATH benches/hostile.sh   time another imgprep binary instead
#
# RUNS=N sets the number of timed runs (default 10). Each run goes through `timeout 30`, so a
# build that hangs on a case shows as a 30 s run instead of stopping the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q -p imgprep-cli
  BIN=$PWD/target/release/imgprep
fi
dir=$(images-test/build --path hostile)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$dir"

names=()
cmds=()
while IFS=$'\t' read -r name args _; do
  case $name in '#'*|'') continue ;; esac
  names+=("$name")
  cmds+=("timeout 30 $BIN $args")
done < cases.tsv

hargs=()
for i in "${!names[@]}"; do hargs+=(-n "${names[$i]}" "${cmds[$i]}"); done
# -i: many cases exit 1 or 2 by design.
hyperfine -N -i -w 1 -r "$runs" --export-json "$tmp/h.json" "${hargs[@]}" > /dev/null 2>&1

for i in "${!names[@]}"; do
  peak=0
  for _ in 1 2 3; do
    # shellcheck disable=SC2086 # the arguments are split on spaces, as in cases.tsv
    /usr/bin/time -q -f %M -o "$tmp/rss" ${cmds[$i]} >/dev/null 2>&1 </dev/null || true
    k=$(tail -n 1 "$tmp/rss")
    if [ "$k" -gt "$peak" ]; then peak=$k; fi
  done
  printf '%s\t%s\n' "${names[$i]}" "$peak"
done > "$tmp/rss.tsv"

python3 - "$tmp/h.json" "$tmp/rss.tsv" "$BIN" "$runs" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
rss = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[2]))
print(f"{sys.argv[3]}: median of {sys.argv[4]} runs, peak RSS the largest of 3")
print(f'{"case":28s} {"median ms":>9s} {"max ms":>8s} {"peak KiB":>9s}  within 1 s / 64 MiB')
worst_t = worst_m = 0
for r in results:
    name = r["command"]
    med, mx, peak = r["median"] * 1000, r["max"] * 1000, int(rss[name])
    ok = med <= 1000 and peak <= 64 * 1024
    worst_t, worst_m = max(worst_t, med), max(worst_m, peak)
    print(f'{name:28s} {med:9.1f} {mx:8.1f} {peak:9d}  {"yes" if ok else "NO"}')
print(f"slowest median {worst_t:.1f} ms, largest peak {worst_m} KiB")
PY
