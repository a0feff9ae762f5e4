#!/usr/bin/env bash
# Builds seeds for the volume_* fuzz targets (no root needed):
#   fuzz/seeds/volume.sh OUTDIR  ->  OUTDIR/volume_{mbr,gpt,lvm_label,lvm_metadata}/*
# volume_mbr: 32 KiB sfdisk disks (primary, extended with logical partitions).
# volume_gpt: sfdisk GPT disks with 512- and 4096-byte sectors, behind the target's flags byte
# (bit 0: 4096-byte sectors, bit 1: recompute the CRCs).
# volume_lvm_label: a 64 KiB PV written here (label, metadata area header, metadata text with
# linear, two-segment and striped LVs whose extents lie inside it), checksums correct, behind
# the flags byte (bit 0: recompute them); volume_lvm_metadata: its text and variants.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
for t in mbr gpt lvm_label lvm_metadata; do mkdir -p "$out/volume_$t"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sf() { sfdisk -q --no-reread --no-tell-kernel "$@" >/dev/null; }

truncate -s 32K "$tmp/mbr"
printf '%s\n' 'label: dos' 'label-id: 0x1234abcd' 'start=2, size=6, type=83, bootable' \
  'start=8, size=40, type=5' 'start=10, size=6, type=83' 'start=18, size=6, type=82' \
  'start=26, size=20, type=8e' | sf "$tmp/mbr"
cp "$tmp/mbr" "$out/volume_mbr/extended"
truncate -s 16K "$tmp/mbr4"
printf '%s\n' 'label: dos' 'label-id: 0x0badf00d' 'start=1, size=4, type=7' 'start=5, size=4, type=c' \
  'start=9, size=4, type=f' 'start=13, size=19, type=83' | sf "$tmp/mbr4"
cp "$tmp/mbr4" "$out/volume_mbr/four-primary"

truncate -s 64K "$tmp/gpt"
printf '%s\n' 'label: gpt' 'label-id: 6E1C4B0E-8C1A-4F5E-9F7B-0D6B1C2A3E4F' \
  'size=8, type=L, uuid=11111111-2222-4333-8444-555555555555, name=root' \
  'size=8, type=S, uuid=21111111-2222-4333-8444-555555555555' \
  'type=E6D6D379-F507-44C2-A23C-238F2A3DF928, uuid=31111111-2222-4333-8444-555555555555, name="lvm pv"' \
  | sf "$tmp/gpt"
{ printf '\x00'; cat "$tmp/gpt"; } > "$out/volume_gpt/gpt-512"
{ printf '\x02'; cat "$tmp/gpt"; } > "$out/volume_gpt/gpt-512-fixcrc"
# sfdisk writes 512-byte sectors to a file only: the 4096-byte one is laid out here from it.
python3 - "$tmp/gpt" "$out/volume_gpt/gpt-4096" <<'PY'
import struct, sys, zlib
src = open(sys.argv[1], 'rb').read()
ss, sectors = 4096, 48
entries = src[1024:1024 + 128 * 128]
parts = bytearray(entries)
for i in range(128):   # starts and ends in 4096-byte sectors: 6, 8, 10, ...
    e = 128 * i
    if any(parts[e:e + 16]):
        struct.pack_into('<QQ', parts, e + 32, 6 + 2 * i, 7 + 2 * i)
def header(lba, alt, array_lba):
    h = bytearray(src[512:512 + 92])
    struct.pack_into('<QQQQ', h, 24, lba, alt, 6, sectors - 6)
    struct.pack_into('<Q', h, 72, array_lba)
    struct.pack_into('<I', h, 88, zlib.crc32(parts))
    struct.pack_into('<I', h, 16, 0)
    struct.pack_into('<I', h, 16, zlib.crc32(h))
    return bytes(h)
disk = bytearray(ss * sectors)
disk[0:512] = src[0:512]   # the protective MBR
disk[ss:ss + 92] = header(1, sectors - 1, 2)
disk[2 * ss:2 * ss + len(parts)] = parts
disk[(sectors - 5) * ss:(sectors - 5) * ss + len(parts)] = parts
disk[(sectors - 1) * ss:(sectors - 1) * ss + 92] = header(sectors - 1, 1, sectors - 5)
open(sys.argv[2], 'wb').write(b'\x01' + disk)
PY

python3 - "$out" <<'PY'
import os, struct, sys
out = sys.argv[1]

def crc(data, c=0xf597a6cf):
    for b in data:
        c ^= b
        for _ in range(8):
            c = 0xedb88320 ^ (c >> 1) if c & 1 else c >> 1
    return c

def dashed(u):
    parts, i = [], 0
    for n in (6, 4, 4, 4, 4, 4, 6):
        parts.append(u[i:i + n]); i += n
    return '-'.join(parts)

pv_uuid = 'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW'
SECTORS = 128              # 64 KiB device
PE_START, EXTENT = 32, 8   # 16 KiB in, 4 KiB extents: 12 extents
text = f'''vg_seed {{
id = "{dashed('Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp')}"
seqno = 3
format = "lvm2"
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = {EXTENT}
max_lv = 0
max_pv = 0
metadata_copies = 0

physical_volumes {{

pv0 {{
id = "{dashed(pv_uuid)}"
device = "/dev/sda"
status = ["ALLOCATABLE"]
flags = []
dev_size = {SECTORS}
pe_start = {PE_START}
pe_count = {(SECTORS - PE_START) // EXTENT}
}}
}}

logical_volumes {{

root {{
id = "{dashed('Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv')}"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
creation_time = 1700000000
creation_host = "seed"
segment_count = 2

segment1 {{
start_extent = 0
extent_count = 2
type = "striped"
stripe_count = 1
stripes = [
"pv0", 0
]
}}
segment2 {{
start_extent = 2
extent_count = 1
type = "striped"
stripe_count = 1
stripes = [
"pv0", 6
]
}}
}}

swap {{
id = "{dashed('Ba1Dc2Fe3Hg4Ji5Lk6Nm7Po8Rq9Ts0Vu')}"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
segment_count = 1

segment1 {{
start_extent = 0
extent_count = 2
type = "striped"
stripe_count = 2
stripe_size = 8
stripes = [
"pv0", 2,
"pv0", 8
]
}}
}}

thin {{
id = "{dashed('Ca1Dc2Fe3Hg4Ji5Lk6Nm7Po8Rq9Ts0Vu')}"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
segment_count = 1

segment1 {{
start_extent = 0
extent_count = 1
type = "thin"
thin_pool = "pool"
transaction_id = 0
device_id = 1
}}
}}
}}

}}
# Generated by a seed script

contents = "Text Format Volume Group"
version = 1

description = "seed"

creation_host = "seed"	# Linux
creation_time = 1700000000	# Tue Nov 14 22:13:20 2023

'''.encode() + b'\0'

dev = bytearray(SECTORS * 512)
# Label in sector 1: header, then the PV header at offset 32.
lab = bytearray(512)
lab[0:8] = b'LABELONE'
struct.pack_into('<QII8s', lab, 8, 1, 0, 32, b'LVM2 001')
ph = pv_uuid.encode() + struct.pack('<Q', SECTORS * 512)
ph += struct.pack('<QQ', PE_START * 512, 0) + struct.pack('<QQ', 0, 0)   # data areas
ph += struct.pack('<QQ', 4096, PE_START * 512 - 4096) + struct.pack('<QQ', 0, 0)  # metadata areas
lab[32:32 + len(ph)] = ph
struct.pack_into('<I', lab, 16, crc(lab[20:]))
dev[512:1024] = lab
# Metadata area header at 4 KiB, text right after it.
mda_size = PE_START * 512 - 4096
mh = bytearray(512)
struct.pack_into('<I16sIQQ', mh, 0, 0, b' LVM2 x[5A%r0N*>', 1, 4096, mda_size)
struct.pack_into('<QQII', mh, 40, 512, len(text), crc(text), 0)
struct.pack_into('<I', mh, 0, crc(mh[4:]))
dev[4096:4608] = mh
dev[4608:4608 + len(text)] = text
# LV data: each 4 KiB extent filled with its number.
for e in range((SECTORS - PE_START) // EXTENT):
    at = (PE_START + e * EXTENT) * 512
    dev[at:at + EXTENT * 512] = bytes([0x40 + e]) * (EXTENT * 512)

lab_dir, md_dir = os.path.join(out, 'volume_lvm_label'), os.path.join(out, 'volume_lvm_metadata')
open(os.path.join(lab_dir, 'pv'), 'wb').write(b'\0' + dev)
# The same PV with stale checksums and the text wrapped around the end of the circular buffer,
# for the flags byte's recompute-the-checksums path.
wrapped = bytearray(dev)
split = 700
first = text[:split]
wrapped[4608:4608 + len(text)] = bytes(len(text))
at = mda_size - len(first)
wrapped[4096 + at:4096 + mda_size] = first
wrapped[4608:4608 + len(text) - split] = text[split:]
struct.pack_into('<QQII', wrapped, 4096 + 40, at, len(text), 0, 0)
open(os.path.join(lab_dir, 'pv-wrapped-fixcrc'), 'wb').write(b'\x01' + wrapped)
open(os.path.join(md_dir, 'vg_seed'), 'wb').write(text[:-1])
variants = text[:-1].replace(b'seqno = 3', b'seqno = 3\nsystem_id = "host"\ntags = ["a", "b"]')
variants = variants.replace(b'flags = []', b'flags = ["READ\\"ONLY"] # comment { not a section', 1)
open(os.path.join(md_dir, 'vg_seed-quirks'), 'wb').write(variants)
PY
