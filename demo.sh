#!/usr/bin/env bash
# Builds imgprep and runs it on the small demo image committed in images-test/demo/:
# inspect it, then pre-flight it for the CloudCenter worker on OpenStack. Needs only Rust.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "demo.sh: cargo is needed (https://rustup.rs)" >&2; exit 2; }
cargo build --release --locked -q -p imgprep-cli
img=images-test/demo/demo.qcow2
echo "\$ imgprep inspect $img"
target/release/imgprep inspect "$img"
echo
echo "\$ imgprep check $img --profile cloudcenter-worker --cloud openstack"
# Exit status 1 means a rule failed, which the demo image is built to show.
target/release/imgprep check "$img" --profile cloudcenter-worker --cloud openstack || [ $? -eq 1 ]
