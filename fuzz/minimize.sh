#!/usr/bin/env bash
# Rebuilds fuzz/corpus-min/TARGET from fuzz/corpus/TARGET and the current corpus-min/TARGET: the
# inputs that together reach every coverage feature the whole set reaches, chosen greedily by new
# features per byte, within a byte budget (so the committed corpora stay small).
#
#   fuzz/minimize.sh TARGET [BUDGET_BYTES]     (default 262144)
#
# Needs the targets built (`RUSTC_BOOTSTRAP=1 cargo fuzz build -a`, as fuzz/smoke.sh does);
# IMGPREP_FUZZ_CACHE as there. libFuzzer's merge records each input's features; the
# selection prints how many of them the budget kept.
set -euo pipefail
cd "$(dirname "$0")"
t=${1:?usage: $0 TARGET [BUDGET_BYTES]}
budget=${2:-262144}
target_dir=${IMGPREP_FUZZ_CACHE:-$HOME/.cache/imgprep/fuzz}/target
bin=$target_dir/$(rustc -vV | sed -n 's/^host: //p')/release/$t
[ -x "$bin" ] || {
  echo "$bin is not built: RUSTC_BOOTSTRAP=1 cargo fuzz build -a --target-dir $target_dir" >&2
  exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/all" "$tmp/empty" "corpus/$t" "corpus-min/$t"
cp -n "corpus/$t/"* "corpus-min/$t/"* "$tmp/all/" 2>/dev/null || true
"$bin" -merge=1 -merge_control_file="$tmp/control" -timeout=20 "$tmp/empty" "$tmp/all" \
  >"$tmp/merge.log" 2>&1 || {
  tail -n 20 "$tmp/merge.log" >&2
  exit 1
}
python3 - "$tmp/control" "$budget" "$tmp/keep" <<'PY'
import os, sys
control, budget, keep = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(control).read().split('\n')
n = int(lines[0])
files = lines[2:2 + n]
feats = {}
for line in lines[2 + n:]:
    parts = line.split()
    if len(parts) >= 2 and parts[0] == 'FT':
        feats[int(parts[1])] = set(map(int, parts[2:]))
everything = set().union(*feats.values()) if feats else set()
size = {i: os.path.getsize(files[i]) for i in feats}
chosen, covered, used = [], set(), 0
while True:
    best, score = None, 0.0
    for i, f in feats.items():
        new = len(f - covered)
        # 512 bytes of overhead per file favours fewer, richer inputs among tiny ones.
        fits = used + size[i] <= budget or not chosen  # one input at least, whatever its size
        if new and fits and new / (size[i] + 512) > score:
            best, score = i, new / (size[i] + 512)
    if best is None:
        break
    chosen.append(best)
    covered |= feats.pop(best)
    used += size[best]
open(keep, 'w').write(''.join(files[i] + '\n' for i in chosen))
print(f'{len(chosen)} inputs, {used} bytes, {len(covered)} of {len(everything)} features')
PY
rm -rf "corpus-min/$t"
mkdir -p "corpus-min/$t"
xargs -a "$tmp/keep" -d '\n' cp -t "corpus-min/$t/"
