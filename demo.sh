#!/usr/bin/env bash
# Builds imgprep and runs it on the small demo image committed in images-test/demo/: inspect it,
# pre-flight it for the CloudCenter worker on OpenStack, plan the fixes, then (with libguestfs,
# which it installs when missing: .ci/deps --demo) prepare a fixed copy and check that copy.
# The demo image itself is never changed.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "demo.sh: cargo is needed (https://rustup.rs)" >&2; exit 2; }
.ci/deps --demo
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
cargo build --release --locked -q -p imgprep-cli
imgprep=target/release/imgprep
img=images-test/demo/demo.qcow2
out=target/demo
mkdir -p "$out"
run() { printf '\n$ imgprep %s\n' "$*"; "$imgprep" "$@"; }
# Exit status 1 means a rule still fails, which the demo image is built to show.
ok1() { "$@" || [ $? -eq 1 ]; }

run inspect "$img"
ok1 run check "$img" --profile cloudcenter-worker --cloud openstack
run bundle worker --from images-test/demo/worker --prefix /usr/local/osmosix \
  --service cliqr-agent --exec /usr/local/osmosix/bin/worker --user cliqruser \
  --force -o "$out/worker.tar.gz"
ok1 run prepare "$img" --profile cloudcenter-worker --cloud openstack \
  --worker "$out/worker.tar.gz" --dry-run
rm -f "$out/demo-ready.qcow2"
ok1 run prepare "$img" --profile cloudcenter-worker --cloud openstack \
  --worker "$out/worker.tar.gz" -o "$out/demo-ready.qcow2"
ok1 run check "$out/demo-ready.qcow2" --profile cloudcenter-worker --cloud openstack
