#!/usr/bin/env bash
# Builds seeds for the luks_header and ntfs_* decompressor fuzz targets (no root needed):
#   fuzz/seeds/luks_ntfs.sh OUTDIR  ->  OUTDIR/{luks_header,ntfs_lznt1,ntfs_lzx,ntfs_wof,ntfs_xpress}/*
# luks_header: small LUKS1 and LUKS2 (PBKDF2 and Argon2id) devices formatted by cryptsetup with
# the target's passphrase "fuzz" and cheap key derivation, a few sectors of payload after the
# header. ntfs_lznt1: hand-made compression units (a stored chunk, literal and back-reference
# chunks). ntfs_wof, ntfs_xpress, ntfs_lzx: WofCompressedData streams of the ntfs-wof fixture
# (images-test/build builds it when not cached), read with ntfscat, behind each target's header.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for t in luks_header ntfs_lznt1 ntfs_lzx ntfs_wof ntfs_xpress; do mkdir -p "$out/$t"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

luks() { # NAME SECTORS CRYPTSETUP-OPTIONS...
  local name=$1 sectors=$2
  shift 2
  truncate -s $((sectors * 512)) "$tmp/$name"
  printf fuzz | cryptsetup luksFormat -q --batch-mode --key-file - "$@" "$tmp/$name" 2>/dev/null
  cp "$tmp/$name" "$out/luks_header/$name"
}
# LUKS1 reserves room for all eight keyslots: its header is 1 MiB.
luks luks1-pbkdf2 2080 --type luks1 --key-size 256 --pbkdf-force-iterations 1000 --align-payload 2064
luks luks2-pbkdf2 352 --type luks2 --key-size 256 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --luks2-metadata-size 16k --luks2-keyslots-size 128k --offset 336
# Argon2id at cryptsetup's minimum cost (4 passes), beyond the target's limits: parsed, then
# refused by the limit check.
luks luks2-argon2id 352 --type luks2 --key-size 256 --pbkdf argon2id --pbkdf-memory 32 \
  --pbkdf-parallel 1 --pbkdf-force-iterations 4 --luks2-metadata-size 16k \
  --luks2-keyslots-size 128k --offset 336

python3 - "$out/ntfs_lznt1" <<'PY'
import os, struct, sys
out = sys.argv[1]
def chunk(body, compressed):
    return struct.pack('<H', (0x8000 if compressed else 0) | 0x3000 | (len(body) - 1)) + body
stored = bytes(range(256)) * 16                     # one 4 KiB chunk stored as is
literals = b''.join(b'\0' + bytes(range(i, i + 8)) for i in range(0, 64, 8))
# "abcabcab..." : 3 literals, then a back-reference (offset 3, length 13) while the position is
# below 16, where offsets take 12 bits and lengths 4.
backref = b'\x08abc' + struct.pack('<H', ((3 - 1) << 12) | (13 - 3))
open(os.path.join(out, 'stored'), 'wb').write(chunk(stored, False))
open(os.path.join(out, 'literals'), 'wb').write(chunk(literals, True) + chunk(literals, True))
open(os.path.join(out, 'backref'), 'wb').write(chunk(backref, True) + b'\0\0')
PY

wof=$("$here/../../images-test/build" --path ntfs-wof)
python3 - "$wof" "$out" <<'PY'
import os, struct, subprocess, sys
wof, out = sys.argv[1:3]
number = {'xpress4k': 0, 'lzx': 1, 'xpress8k': 2, 'xpress16k': 3}
chunk_size = {'xpress4k': 4096, 'lzx': 32768, 'xpress8k': 8192, 'xpress16k': 16384}
sizes = {}
for line in open(os.path.join(wof, 'originals.tsv')):
    size, _, path = line.rstrip('\n').split('\t')
    sizes[path] = int(size)
for line in open(os.path.join(wof, 'chunks.tsv')):
    path, fmt, chunks = line.split('\t')[:3]
    name = path.split('/')[-1].split('.')[0]
    if name not in ('text', 'mixed', 'tiny'):
        continue
    stream = subprocess.run(['ntfscat', '-a', '0x80', '-n', 'WofCompressedData',
                             os.path.join(wof, 'ntfs-wof.img'), path],
                            capture_output=True, check=True).stdout
    size = sizes[path]
    header = bytes([number[fmt]]) + struct.pack('<II', size, size // 3)
    open(os.path.join(out, 'ntfs_wof', f'{fmt}-{name}'), 'wb').write(header + stream)
    n = int(chunks)
    if n < 2 or name != 'text':
        continue
    # The first chunk: after the table of n - 1 ends (4-byte entries below 4 GiB).
    table = struct.unpack_from(f'<{n - 1}I', stream)
    first = stream[4 * (n - 1):4 * (n - 1) + table[0]]
    if fmt == 'lzx':
        open(os.path.join(out, 'ntfs_lzx', 'text-chunk0'), 'wb').write(b'\xff\xff' + first)
    else:
        sel = {'xpress4k': 0, 'xpress8k': 1, 'xpress16k': 2}[fmt]
        open(os.path.join(out, 'ntfs_xpress', f'{fmt}-text-chunk0'), 'wb').write(bytes([sel]) + first)
PY
