#!/usr/bin/env bash
# Whole-process benchmarks of `imgprep inspect` and `imgprep check` (median of several runs with
# hyperfine; peak RSS with GNU time), against virt-inspector on the same image.
#
#   benches/inspect.sh                 all of it (virt-inspector runs take ~20 s each)
#   benches/inspect.sh --no-reference  skip virt-inspector
#
# Builds the fixtures it needs (images-test/build) and needs hyperfine, GNU time, qemu-img and
# virt-inspector (.ci/deps installs them). RUNS=N sets the number of timed runs (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
runs=${RUNS:-10}
cargo build --release --locked -q -p imgprep-cli
bin=$PWD/target/release/imgprep
gpt=$(images-test/build --path debian-gpt)/debian-gpt.qcow2
raw=$(images-test/build --path debian-raw-nopart)/debian-raw-nopart.img
centos7=$(images-test/build --path centos7-like)/centos7-like.qcow2
win2016=$(images-test/build --path windows-2016)/win2016-like.vmdk
win2012=$(images-test/build --path windows-2012r2)/win2012r2-like.vhdx
luks=$(images-test/build --path luks-layouts)
compact=$(images-test/build --path windows-compact)/compact.img
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Key files: hyperfine -N splits commands at spaces, and the passphrases hold some.
printf 'correct horse battery\n' > "$tmp/k1"
printf 'second slot\n' > "$tmp/k2"

# The same partitionless root in a 2 GiB and a 100 GiB sparse qcow2.
qemu-img convert -q -O qcow2 "$raw" "$tmp/2g.qcow2" && qemu-img resize -q "$tmp/2g.qcow2" 2G
qemu-img convert -q -O qcow2 "$raw" "$tmp/100g.qcow2" && qemu-img resize -q "$tmp/100g.qcow2" 100G

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

echo "== wall time (median of $runs runs)"
# -i: check exits 1 when a rule fails, which these images do.
hyperfine -N -i -w 2 -r "$runs" --export-json "$tmp/h.json" \
  -n "inspect debian-gpt.qcow2" "$bin inspect --format json $gpt" \
  -n "inspect 2 GiB qcow2" "$bin inspect --format json $tmp/2g.qcow2" \
  -n "inspect 100 GiB qcow2" "$bin inspect --format json $tmp/100g.qcow2" \
  -n "inspect centos7-like.qcow2" "$bin inspect --format json $centos7" \
  -n "inspect win2016-like.vmdk" "$bin inspect --format json $win2016" \
  -n "inspect win2012r2-like.vhdx" "$bin inspect --format json $win2012" \
  -n "inspect compact.img (WOF)" "$bin inspect --format json $compact" \
  -n "inspect luks2-lvm.img PBKDF2" "$bin inspect --format json --key /dev/sda2:file:$tmp/k1 $luks/luks2-lvm.img" \
  -n "inspect luks2-lvm.img Argon2id" "$bin inspect --format json --key /dev/sda2:file:$tmp/k2 $luks/luks2-lvm.img" \
  -n "inspect luks1-part.img" "$bin inspect --format json --key /dev/sda1:file:$tmp/k1 --key /dev/sda2:file:$luks/keyfile.txt $luks/luks1-part.img" \
  -n "check debian-gpt.qcow2" "$bin check $gpt --profile cloudcenter-worker --cloud openstack --format json" \
  -n "check centos7-like.qcow2" "$bin check $centos7 --profile cloudcenter-worker --cloud aws --format json" \
  >/dev/null
python3 - "$tmp/h.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{r["command"]:34s} median {r["median"]*1000:7.1f} ms  (min {r["min"]*1000:.1f}, max {r["max"]*1000:.1f})')
PY

echo "== peak RSS"
for img in "$gpt" "$tmp/2g.qcow2" "$tmp/100g.qcow2" "$centos7" "$win2016" "$win2012"; do
  printf '%-30s %6s KiB\n' "inspect $(basename "$img")" "$(rss "$bin" inspect --format json "$img")"
done
printf '%-30s %6s KiB\n' "inspect luks2-lvm.img Argon2id" \
  "$(rss "$bin" inspect --format json --key "/dev/sda2:file:$tmp/k2" "$luks/luks2-lvm.img")"

if [ "${1:-}" != --no-reference ]; then
  echo "== virt-inspector on debian-gpt.qcow2 (5 runs)"
  hyperfine -N -r 5 --export-json "$tmp/v.json" "virt-inspector -a $gpt" >/dev/null
  python3 - "$tmp/h.json" "$tmp/v.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))["results"][0]["median"]
ref = json.load(open(sys.argv[2]))["results"][0]["median"]
print(f"virt-inspector median {ref:.2f} s; imgprep {ours*1000:.1f} ms; {ref/ours:.0f}x faster")
PY
fi
