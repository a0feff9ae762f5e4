#!/usr/bin/env bash
# Fleet throughput of `imgprep check`: IMAGES images (default 200) in one directory, checked with
# --jobs 1 and --jobs 2. Images per second (median of RUNS runs, default 3, with hyperfine) and
# peak RSS (GNU time, median of RUNS runs), plus the peak RSS of a run over a quarter of the
# images, to show memory does not grow with the image count.
#
# The images: qcow2 overlays of the demo image and of the debian-gpt fixture (backing files in
# the same directory), plain copies of the demo image, and three broken images in ten (a corrupt
# qcow2 header, a truncated image, a disk without an operating system).
#
#   benches/fleet.sh                 release build
#   BIN=target/debug/imgprep benches/fleet.sh   an existing binary
#
# Needs qemu-img, hyperfine and GNU time (.ci/deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
n=${IMAGES:-200}
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q -p imgprep-cli
  BIN=target/release/imgprep
fi
bin=$(realpath "$BIN")
demo=$PWD/images-test/demo/demo.qcow2
gpt=$(images-test/build --path debian-gpt)/debian-gpt.qcow2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir=$tmp/fleet
mkdir -p "$dir" "$tmp/quarter"
cp "$demo" "$dir/base-demo.qcow2"
cp "$gpt" "$dir/base-gpt.qcow2"
for i in $(seq 1 $((n - 2))); do
  f=$(printf '%s/img-%04d' "$dir" "$i")
  case $((i % 10)) in
    0) printf 'QFI\373\0\0\0\3' > "$f.qcow2"; head -c 504 /dev/urandom >> "$f.qcow2" ;;
    5) head -c 65536 "$demo" > "$f.qcow2" ;;
    7) truncate -s 1M "$f.img"; printf '\125\252' | dd of="$f.img" bs=1 seek=510 conv=notrunc status=none ;;
    1 | 3) qemu-img create -q -f qcow2 -b base-gpt.qcow2 -F qcow2 "$f.qcow2" ;;
    2 | 4 | 6) qemu-img create -q -f qcow2 -b base-demo.qcow2 -F qcow2 "$f.qcow2" ;;
    *) cp "$demo" "$f.qcow2" ;;
  esac
done
count=$(find "$dir" -type f | wc -l)
ls "$dir" | head -n $((count / 4)) | while read -r f; do cp -P "$dir/$f" "$tmp/quarter/"; done
cp "$dir"/base-* "$tmp/quarter/" 2>/dev/null || true
quarter=$(find "$tmp/quarter" -type f | wc -l)
echo "== $count images ($(du -sh --apparent-size "$dir" | cut -f1) apparent), $(nproc) CPUs"

check() { echo "$bin check $1 --profile cloudcenter-worker --cloud openstack --format jsonl --jobs $2"; }
for jobs in 1 2; do
  hyperfine -N -r "$runs" -i --export-json "$tmp/h$jobs.json" -n "jobs $jobs" \
    "$(check "$dir" "$jobs")" >/dev/null
  median=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$tmp/h$jobs.json")
  for r in $(seq 1 "$runs"); do
    /usr/bin/time -f '%M' -o "$tmp/rss$jobs.$r" $(check "$dir" "$jobs") >/dev/null 2>&1 || true
    /usr/bin/time -f '%M' -o "$tmp/qrss$jobs.$r" $(check "$tmp/quarter" "$jobs") >/dev/null 2>&1 || true
  done
  rss=$(tail -qn1 "$tmp"/rss$jobs.* | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  qrss=$(tail -qn1 "$tmp"/qrss$jobs.* | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  python3 -c 'import sys; n,t,rss,q,qr,j=sys.argv[1:]; print("--jobs %s: %.3f s, %.0f images/s, peak RSS %.1f MiB (%s images: %.1f MiB)" % (j, float(t), int(n)/float(t), int(rss)/1024, q, int(qr)/1024))' \
    "$count" "$median" "$rss" "$quarter" "$qrss" "$jobs"
done
