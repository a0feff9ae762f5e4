#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing (Debian packages, the JUnit and
# SARIF validators), checks formatting and lints, builds the fixture images (cached in
# ~/.cache/imgprep/fixtures), then runs every test (fuzz corpora replayed included) and a short,
# bounded fuzz run of every target (fuzz/smoke.sh).
set -euo pipefail
cd "$(dirname "$0")"
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# Every appliance launch through imgprep-guestfs appends a line here (see its crate docs).
export IMGPREP_GUESTFS_LAUNCH_LOG=$PWD/target/guestfs-launches.log
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

step "system packages"
.ci/deps
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

step "validators (junitparser and kubernetes-validate from PyPI, sarif-multitool from npm)"
tools=target/tools
mkdir -p "$tools"
if [ ! -x "$tools/venv/bin/python" ]; then python3 -m venv "$tools/venv"; fi
"$tools/venv/bin/python" -c 'import junitparser' 2>/dev/null \
  || "$tools/venv/bin/pip" install -q junitparser
[ -x "$tools/venv/bin/kubernetes-validate" ] \
  || "$tools/venv/bin/pip" install -q kubernetes-validate
if [ ! -x "$tools/node_modules/.bin/sarif-multitool" ]; then
  npm install -s --prefix "$tools" @microsoft/sarif-multitool >/dev/null
fi
export IMGPREP_JUNIT_PYTHON=$PWD/$tools/venv/bin/python
export IMGPREP_SARIF_MULTITOOL=$PWD/$tools/node_modules/.bin/sarif-multitool
export IMGPREP_K8S_VALIDATE=$PWD/$tools/venv/bin/kubernetes-validate

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build without libguestfs"
# `imgprep` never links libguestfs (only its helper imgprep-appliance does); this is the build a
# machine without libguestfs-dev makes (prepare then only plans), so it must keep building.
cargo build -p imgprep-cli --no-default-features --locked --bin imgprep

step "fixture images"
images-test/build

step "tests"
mkdir -p target && : > "$IMGPREP_GUESTFS_LAUNCH_LOG"
cargo test --workspace --locked
awk '{ n++; s += $2; if ($3 != "ok") e++ }
     END { printf "libguestfs launches: %d (%d stopped or failed), %.1f s in all\n", n, e, s }' \
  "$IMGPREP_GUESTFS_LAUNCH_LOG"

step "fuzz smoke run (budget IMGPREP_FUZZ_BUDGET=${IMGPREP_FUZZ_BUDGET:-360}s, 0 skips)"
fuzz/smoke.sh
step "Debian package (cargo-deb; installed with dpkg -x into a scratch root and run from there)"
scripts/deb.sh --dev
