#!/usr/bin/env bash
# What the libguestfs layer costs: appliance launch + shutdown as a whole process (median of
# RUNS runs, default 3, with hyperfine), then one launch with every wrapped call timed (median of
# 15 calls each; crates/imgprep-guestfs/examples/guestfs_costs.rs).
#
# Needs libguestfs, qemu-img, mke2fs and hyperfine (.ci/deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
runs=${RUNS:-3}
cargo build --release --locked -q -p imgprep-guestfs --example guestfs_costs
bin=$PWD/target/release/examples/guestfs_costs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A scratch guest: ext4 with dash (for sh/command) and a registry hive.
tree=$tmp/tree
mkdir -p "$tree/bin" "$tree/dev" "$tree/proc" "$tree/sys"
cp /usr/bin/dash "$tree/bin/sh"
for lib in $(ldd /usr/bin/dash | grep -o '/[^ ]*'); do
  mkdir -p "$tree$(dirname "$lib")" && cp -L "$lib" "$tree$lib"
done
cp tests/data/hives/minimal "$tree/hive"
truncate -s 1G "$tmp/base.raw"
mke2fs -q -F -t ext4 -d "$tree" "$tmp/base.raw"
qemu-img convert -q -f raw -O qcow2 "$tmp/base.raw" "$tmp/base.qcow2"
mkdir -p "$tmp/agent/bin" && printf '#!/bin/sh\n' > "$tmp/agent/bin/run.sh"
tar --numeric-owner -czf "$tmp/agent.tar.gz" -C "$tmp" agent

echo "== launch + shutdown, whole process (median of $runs runs, backend settings: $LIBGUESTFS_BACKEND_SETTINGS)"
hyperfine -N -r "$runs" --export-json "$tmp/h.json" -n "launch+shutdown" "$bin launch $tmp/base.qcow2"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("median %.2f s" % r["median"])' "$tmp/h.json"

echo "== each call, one launch (median of 15 calls)"
qemu-img create -q -f qcow2 -b "$tmp/base.qcow2" -F qcow2 "$tmp/overlay.qcow2"
"$bin" calls "$tmp/overlay.qcow2" "$tmp"
