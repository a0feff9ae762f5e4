#!/usr/bin/env bash
# Builds seeds for the fs_xfs fuzz target (no root needed):
#   fuzz/seeds/fs_xfs.sh OUTDIR   ->  OUTDIR/fs_xfs/*.rec
# Each seed is a 16 MiB XFS image with one allocation group and 1 KiB blocks, populated by
# mkfs.xfs -p, stored as records "[u32 LE offset][u16 LE length][bytes]" of its non-zero
# 512-byte sectors (the fs_xfs input format). v5 and v4 (without and with ftype) variants hold
# short-form, block and leaf directories, inline and remote symlinks and multi-block files; the
# v4 one with 256-byte inodes also has a directory whose data blocks need a block-map B+tree.
# dirty-v5 and dirty-v4 are the dirty-xfs fixture's filesystems (images-test/dirty-xfs.sh, built
# when not cached), whose logs hold committed transactions to replay.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out/fs_xfs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'hello\n' > "$tmp/small"
seq 1 3000 > "$tmp/data"
: > "$tmp/empty"
export TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 # allow images under 300 MB

proto() { # proto ENTRIES-IN-BIG-DIR
  echo seed; echo 0 0; echo d--755 0 0
  echo "small ---644 0 0 $tmp/small"
  echo "data -u-750 1000 100 $tmp/data"
  echo "link l--777 0 0 small"
  echo "longlink l--777 0 0 /$(printf 'long-target/%.0s' {1..30})end"
  echo "fifo p--644 0 0"
  echo "sf d--755 0 0"; echo "a ---644 0 0 $tmp/small"; echo "b ---644 0 0 $tmp/small"; echo '$'
  echo "block d--755 0 0"
  for i in $(seq 1 20); do echo "entry-$i ---644 0 0 $tmp/empty"; done
  echo '$'
  echo "leaf d--755 0 0"
  for i in $(seq 1 120); do echo "leaf-entry-with-name-$i ---644 0 0 $tmp/empty"; done
  echo '$'
  if [ "$1" -gt 0 ]; then
    echo "big d--755 0 0"
    for i in $(seq 1 "$1"); do echo "$(printf 'n%.0s' {1..240})-$i ---644 0 0 $tmp/empty"; done
    echo '$'
  fi
  echo '$'
}

seed() { # seed NAME ENTRIES MKFS-OPTIONS...
  local name=$1 n=$2
  shift 2
  proto "$n" > "$tmp/proto"
  rm -f "$tmp/$name.img"
  truncate -s 16M "$tmp/$name.img"
  mkfs.xfs -q -f -b size=1024 -d agcount=1 -p "$tmp/proto" "$@" "$tmp/$name.img"
  records "$tmp/$name.img" "$out/fs_xfs/$name.rec"
}

records() { # records IMAGE OUT: the non-zero 512-byte sectors of IMAGE as fs_xfs records
  python3 - "$1" "$2" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
out = open(sys.argv[2], 'wb')
for off in range(0, len(data), 512):
    chunk = data[off:off + 512]
    if any(chunk):
        out.write(struct.pack('<IH', off, len(chunk)) + chunk)
PY
}
seed v5 0
seed v4-ftype 0 -m crc=0 -n ftype=1
seed v4 0 -m crc=0 -n ftype=0
seed v4-btree-dir 700 -m crc=0 -i size=256
xfs_db -r -c 'path /big' -c 'p core.format' "$tmp/v4-btree-dir.img" | grep -q btree
dirty=$("$(dirname "$0")/../../images-test/build" --path dirty-xfs)
for n in v5 v4; do records "$dirty/$n.img" "$out/fs_xfs/dirty-$n.rec"; done
ls -l "$out/fs_xfs"
