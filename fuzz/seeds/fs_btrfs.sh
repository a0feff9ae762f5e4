#!/usr/bin/env bash
# Builds seeds for the fs_btrfs fuzz target (no root needed):
#   fuzz/seeds/fs_btrfs.sh OUTDIR   ->  OUTDIR/fs_btrfs/*
# mkfs-small: a btrfs made by mkfs.btrfs --rootdir (4 KiB nodes, single profiles; an inline file,
# a multi-extent file, a symlink, a small directory), stored as records
# "[u32 LE offset][u16 LE length][bytes]" of its non-zero 4 KiB blocks (the fs_btrfs format).
# dc-zlib, dc-zstd: decompressor inputs "DC [alg] [ram_bytes u16 LE] [data]".
# dc-lzo is taken from a real compress-force=lzo extent when the btrfs-layouts fixture is cached.
# dirty: the dirty-btrfs fixture's snapshot (images-test/dirty-btrfs.sh, built when not cached),
# whose log trees hold fsync'ed changes to replay.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out/fs_btrfs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/etc/sub" "$tmp/src/d"
echo host > "$tmp/src/etc/hostname"
seq 1 5000 > "$tmp/src/etc/sub/big"
ln -s ../etc/hostname "$tmp/src/d/link"
for i in 1 2 3 4 5 6; do echo "$i" > "$tmp/src/d/f$i"; done
: > "$tmp/img"
mkfs.btrfs -q -f -n 4096 -m single -d single --rootdir "$tmp/src" "$tmp/img" >/dev/null 2>&1
fixture=$(dirname "$0")/../../images-test/cache/btrfs-layouts/fedora.img
dirty=$("$(dirname "$0")/../../images-test/build" --path dirty-btrfs)/dirty.img
python3 - "$tmp/img" "$out/fs_btrfs" "$fixture" "$dirty" <<'PY'
import os, struct, subprocess, sys, zlib
img, out, fixture, dirty = sys.argv[1:5]
d = open(dirty, 'rb').read()
recs = b''
for i in range(0, min(len(d), 256 << 20), 4096):
    blk = d[i:i + 4096].rstrip(b'\0')
    if blk:
        recs += struct.pack('<IH', i, len(blk)) + blk
open(os.path.join(out, 'dirty'), 'wb').write(recs)
d = open(img, 'rb').read()
recs = b''
for i in range(0, min(len(d), 64 << 20), 4096):
    blk = d[i:i + 4096].rstrip(b'\0')
    if blk:
        recs += struct.pack('<IH', i, len(blk)) + blk
open(os.path.join(out, 'mkfs-small'), 'wb').write(recs)
txt = b''.join(b'line %d of text\n' % i for i in range(300))
open(os.path.join(out, 'dc-zlib'), 'wb').write(b'DC\x01' + struct.pack('<H', len(txt)) + zlib.compress(txt))
z = subprocess.run(['zstd', '-c', '-q'], input=txt, capture_output=True, check=True).stdout
open(os.path.join(out, 'dc-zstd'), 'wb').write(b'DC\x03' + struct.pack('<H', len(txt)) + z)
if os.path.exists(fixture):
    f = open(fixture, 'rb').read()
    i = f.find(b'line of compressible text number 1\n')
    while i >= 0:
        s = i - i % 4096
        total, seg = struct.unpack_from('<II', f, s)
        if i - s < 16 and 8 < total <= 131072 and 0 < seg < total:
            open(os.path.join(out, 'dc-lzo'), 'wb').write(b'DC\x02' + struct.pack('<H', 65535) + f[s:s + total])
            break
        i = f.find(b'line of compressible text number 1\n', i + 1)
PY
