#!/usr/bin/env bash
# Builds seeds for the fs_ntfs and registry_hive fuzz targets (no root, no appliance):
#   fuzz/seeds/fs_ntfs_registry.sh OUTDIR  ->  OUTDIR/fs_ntfs/*.rec, OUTDIR/registry_hive/*
# fs_ntfs: a 4 MiB volume (mkntfs, files added with ntfscp: a non-resident file and enough
# names for the root index to need $INDEX_ALLOCATION) as "[u32 LE offset][u16 LE length][bytes]"
# records of its non-zero 512-byte blocks, without $LogFile (all 0xff) and with $UpCase replaced
# by a 0xffff record (the target writes a table there). registry_hive: hives grown from
# tests/data/hives/minimal with hivexregedit (values of every type, subkeys, non-ASCII names).
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out/fs_ntfs" "$out/registry_hive"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

img=$tmp/ntfs.img
truncate -s 4M "$img"
mkntfs -F -Q -q -L FuzzVol -c 1024 "$img" >/dev/null 2>&1
seq 1 5000 > "$tmp/big.txt"
echo hi > "$tmp/a.txt"
ntfscp -q "$img" "$tmp/big.txt" /big.txt
for i in $(seq 1 40); do ntfscp -q "$img" "$tmp/a.txt" "/File-$i.TXT"; done
python3 - "$img" "$out/fs_ntfs/small.rec" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
table = b''.join(struct.pack('<H', c) for c in range(0x20))
upcase = data.find(table)
blocks = [o for o in range(0, len(data), 512)
          if any(data[o:o + 512]) and data[o:o + 512] != b'\xff' * 512
          and not upcase <= o < upcase + 131072]
out = open(sys.argv[2], 'wb')
i = 0
while i < len(blocks):
    start = end = blocks[i]
    while i < len(blocks) and blocks[i] == end and end - start < 4096:
        end += 512
        i += 1
    out.write(struct.pack('<IH', start, end - start) + data[start:end])
out.write(struct.pack('<IH', upcase, 0xffff))
PY

minimal=$here/../../tests/data/hives/minimal
cp "$minimal" "$out/registry_hive/minimal"
cp "$minimal" "$out/registry_hive/types"
chmod u+w "$out/registry_hive/"*
printf '%s\n' 'Windows Registry Editor Version 5.00' '' '[\A]' '@="def"' '"s"="str"' \
  '"d"=dword:00000001' '"m"=hex(7):61,00,00,00,00,00' '"q"=hex(b):01,02,03,04,05,06,07,08' \
  '"b"=hex(3):00,01,02' '' '[\A\B]' '"x"="y"' '' '[\A\C]' '' '[\Ünï]' '' > "$tmp/types.reg"
hivexregedit --merge "$out/registry_hive/types" "$tmp/types.reg"
