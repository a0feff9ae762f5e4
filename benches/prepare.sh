#!/usr/bin/env bash
# What `imgprep prepare` costs against virt-customize doing the same operations on the same image,
# in the same run with the same LIBGUESTFS_BACKEND_SETTINGS: whole processes, median of RUNS runs
# (default 3) with hyperfine. The image is the prepare-debian fixture; the operations are the
# cloudcenter-worker fixes (worker, account, sudoers drop-in, scoped umask, two local .deb
# packages, the CA), and virt-customize runs the command `prepare --format virt-customize` prints.
# Also: the same prepare with `--param ca_update=native` (the trust store's files written as the
# guest's update-ca-certificates writes them, instead of running it under TCG).
# Then: an image with nothing to fix (the prepared output, --in-place: no launch), and how much
# an --overlay output grows.
#
# Needs libguestfs (virt-customize), qemu-img and hyperfine (.ci/deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
runs=${RUNS:-3}
cargo build --release --locked -q -p imgprep-cli
bin=$PWD/target/release/imgprep
fx=$(images-test/build --path prepare-debian)
img=$fx/prepare-debian.qcow2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/worker/bin" "$tmp/worker/etc"
printf '#!/bin/sh\nexec sleep infinity\n' > "$tmp/worker/bin/worker"
chmod 755 "$tmp/worker/bin/worker"
printf 'export CLIQR_HOME=/usr/local/osmosix\n' > "$tmp/worker/etc/userenv"
tar --numeric-owner --owner=0 --group=0 -czf "$tmp/worker.tar.gz" -C "$tmp/worker" bin etc
args=(--profile cloudcenter-worker --cloud openstack --worker "$tmp/worker.tar.gz"
  --param agent_dest=/usr/local/osmosix --param "ca=$fx/ca.pem")
for deb in "$fx"/packages/*.deb; do args+=(--package "$deb"); done

# virt-customize works on a copy-on-write overlay of the image, as imgprep does.
qemu-img create -q -f qcow2 -F qcow2 -b "$img" "$tmp/vc.qcow2"
"$bin" prepare "$tmp/vc.qcow2" "${args[@]}" --allow-backing "$fx" --dry-run \
  --format virt-customize > "$tmp/vc.sh" || [ $? -eq 1 ]

echo "== prepare vs virt-customize (median of $runs runs, backend settings: $LIBGUESTFS_BACKEND_SETTINGS)"
# Both write a qcow2 overlay of the image (what virt-customize does to the overlay it is given);
# then the same prepare with the self-contained qcow2 output (a full qemu-img convert on top).
hyperfine -N -r "$runs" --export-json "$tmp/h.json" \
  --prepare "sh -c 'rm -f $tmp/out.qcow2; qemu-img create -q -f qcow2 -F qcow2 -b $img $tmp/vc.qcow2'" \
  -n "imgprep prepare --overlay" \
  "sh -c '$bin prepare $img ${args[*]} --overlay -o $tmp/out.qcow2 >/dev/null || [ \$? -eq 1 ]'" \
  -n "virt-customize" "sh $tmp/vc.sh" \
  -n "imgprep prepare -o (self-contained qcow2)" \
  "sh -c '$bin prepare $img ${args[*]} -o $tmp/out.qcow2 >/dev/null || [ \$? -eq 1 ]'" \
  -n "imgprep prepare --overlay --param ca_update=native" \
  "sh -c '$bin prepare $img ${args[*]} --param ca_update=native --overlay -o $tmp/out.qcow2 >/dev/null || [ \$? -eq 1 ]'"
python3 - "$tmp/h.json" <<'EOF2'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
vc = r["virt-customize"]
for k, v in r.items():
    print(f"{k}: median {v:.1f} s ({v / vc:.2f}x virt-customize)")
EOF2

echo "== nothing to fix: the prepared output, --in-place (no launch)"
"$bin" prepare "$img" "${args[@]}" -o "$tmp/done.qcow2" >/dev/null || [ $? -eq 1 ]
hyperfine -N -w 2 -r 10 -i "$bin prepare $tmp/done.qcow2 ${args[*]} --in-place"

echo "== --overlay output growth"
"$bin" prepare "$img" "${args[@]}" --overlay -o "$tmp/overlay.qcow2" >/dev/null || [ $? -eq 1 ]
du -k --apparent-size "$tmp/overlay.qcow2" | awk '{ printf "overlay: %d KiB (apparent)\n", $1 }'
du -k "$tmp/overlay.qcow2" | awk '{ printf "overlay: %d KiB (allocated)\n", $1 }'
du -ck "$fx"/packages/*.deb "$tmp/worker.tar.gz" | tail -1 |
  awk '{ printf "uploaded packages and worker: %d KiB\n", $1 }'
