# Shared helpers for fixture scripts. Sourced by images-test/*.sh; editing it rebuilds everything.
set -euo pipefail
export LC_ALL=C TZ=UTC
export SOURCE_DATE_EPOCH=1700000000
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}

# fixture NAME: the cache directory of another fixture (listed on this script's `# needs:` line).
fixture() { echo "$FIXTURES/$1"; }

# inspector IMAGE OUTFILE: virt-inspector's XML for IMAGE, the reference the differential tests
# compare against.
inspector() {
  timeout 600 virt-inspector -a "$1" --no-icon > "$2.tmp"
  mv "$2.tmp" "$2"
}
