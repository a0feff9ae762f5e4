#!/usr/bin/env bash
# Builds the seed inputs of every fuzz target: fuzz/seeds/all.sh OUTDIR -> OUTDIR/TARGET/*.
# Seeds are where fuzz/corpus-min/ started from (see README.md, "Fuzzing"); they need the
# fixture tools of .ci/deps (qemu-img, mkfs.*, sfdisk, ntfs-3g, hivex, rpm for the rpmdb-gen
# fixture) but no root.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for s in container fs_btrfs fs_ext_fat fs_ntfs_registry fs_xfs luks_ntfs pkgdb volume rules_guest_files sysconf pe certstore sysconf_trust; do
  "$here/$s.sh" "$out" >/dev/null
done
