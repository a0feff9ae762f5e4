#!/usr/bin/env bash
# Builds seed inputs for the container_* fuzz targets (no root needed):
#   fuzz/seeds/container.sh OUTDIR  ->  OUTDIR/container_{qcow2,vmdk,vhd,vhdx}/*.rec
# Each seed is one image variant qemu-img writes, in the targets' input format: [u32 LE file
# size] then records [u32 LE offset][u16 LE length][bytes] of the file's non-zero sectors. Files
# an image names (backing files, VMDK extents, parents of differencing disks) are placed 1 MiB
# into the same input (16 MiB for VHDX), where the targets' resolver finds them. The VHD and VHDX
# differencing disks and the VHDX log qemu-img cannot write come from imgprep-imagegen (cargo).
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
for f in qcow2 vmdk vhd vhdx; do mkdir -p "$out/container_$f"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# 192 KiB disk with one patterned sector in 24 (so seeds stay small), none in the middle 64 KiB.
python3 - <<'PY'
data = bytearray()
for s in range(384):
    data += bytes(((s * 31 + i * 7) % 251 + 1) for i in range(512)) if s % 24 == 0 and not 128 <= s < 256 else bytes(512)
open('disk.raw', 'wb').write(data)
PY

# rec OUT FILE [SECOND]: encodes FILE, with SECOND (if given) placed at 1 MiB ($REC_AT if set).
rec() {
  python3 - "$@" <<'PY'
import os, struct, sys
out, first = sys.argv[1], open(sys.argv[2], 'rb').read()
data = first
at = int(os.environ.get('REC_AT', 1 << 20))
if len(sys.argv) > 3:
    assert len(first) <= at
    data = first + bytes(at - len(first)) + open(sys.argv[3], 'rb').read()
with open(out, 'wb') as f:
    f.write(struct.pack('<I', len(data)))
    for off in range(0, len(data), 512):
        chunk = data[off:off + 512]
        if any(chunk):
            f.write(struct.pack('<IH', off, len(chunk)) + chunk)
PY
}
conv() { qemu-img convert -t unsafe -f raw -O "$@"; }

q=$out/container_qcow2
conv qcow2 -o compat=0.10,cluster_size=512 disk.raw v2.qcow2 && rec "$q/v2.rec" v2.qcow2
conv qcow2 -o cluster_size=512 disk.raw v3.qcow2 && rec "$q/v3.rec" v3.qcow2
conv qcow2 -c -o cluster_size=4k disk.raw c.qcow2 && rec "$q/compressed.rec" c.qcow2
conv qcow2 disk.raw c64k.qcow2 && rec "$q/c64k.rec" c64k.qcow2
qemu-img create -q -f qcow2 -o cluster_size=512 -F qcow2 -b v3.qcow2 top.qcow2 256K
qemu-io -t unsafe -f qcow2 -c 'write -P 0x5a 4k 8k' -c 'write -z 64k 4k' top.qcow2 >/dev/null
rec "$q/backing.rec" top.qcow2 v3.qcow2
conv qcow2 -c -o compression_type=zstd,cluster_size=4k disk.raw z.qcow2 && rec "$q/zstd.rec" z.qcow2
# Extended L2 entries: 16 KiB clusters in 512-byte subclusters over a backing file.
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=16k -F qcow2 -b v3.qcow2 ext.qcow2 256K
qemu-io -t unsafe -f qcow2 -c 'write -P 0x5a 2k 1k' -c 'write -z 20k 2k' ext.qcow2 >/dev/null
rec "$q/extended-l2.rec" ext.qcow2 v3.qcow2
# An external data file (raw), placed at 1 MiB like a backing file.
qemu-img create -q -f qcow2 -o data_file=data.raw,data_file_raw=on ext-data.qcow2 192K
qemu-io -t unsafe -f qcow2 -c 'write -P 0x33 0 8k' ext-data.qcow2 >/dev/null
rec "$q/data-file.rec" ext-data.qcow2 data.raw

v=$out/container_vmdk
conv vmdk disk.raw sparse.vmdk && rec "$v/sparse.rec" sparse.vmdk
conv vmdk -o subformat=streamOptimized disk.raw stream.vmdk && rec "$v/stream.rec" stream.vmdk
conv vmdk -o zeroed_grain=on disk.raw zg.vmdk
qemu-io -t unsafe -f vmdk -c 'write -z 0 64k' zg.vmdk >/dev/null && rec "$v/zeroed.rec" zg.vmdk
python3 - <<'PY'
import struct
s = open('stream.vmdk', 'rb').read()
b = bytearray(s[:-512])
b[56:64] = struct.pack('<Q', 2**64 - 1)
marker = bytearray(512); marker[0:8] = struct.pack('<Q', 1); marker[12:16] = struct.pack('<I', 3)
open('atend.vmdk', 'wb').write(bytes(b) + bytes(marker) + s[:512] + bytes(512))
PY
rec "$v/gd-at-end.rec" atend.vmdk
conv vmdk -o subformat=monolithicFlat disk.raw flat.vmdk && rec "$v/flat.rec" flat.vmdk flat-flat.vmdk
conv vmdk -o subformat=twoGbMaxExtentSparse disk.raw two.vmdk && rec "$v/two.rec" two.vmdk two-s001.vmdk
qemu-img create -q -f vmdk -F vmdk -b sparse.vmdk delta.vmdk
qemu-io -t unsafe -f vmdk -c 'write -P 0x5a 4k 8k' -c 'write -P 0x33 96k 4k' delta.vmdk >/dev/null
rec "$v/delta.rec" delta.vmdk sparse.vmdk

cargo run -q --manifest-path "$repo/Cargo.toml" -p imgprep-imagegen --example fuzz_seeds -- "$tmp"

h=$out/container_vhd
conv vpc disk.raw d.vhd && rec "$h/dynamic.rec" d.vhd
conv vpc -o subformat=fixed disk.raw f.vhd && rec "$h/fixed.rec" f.vhd
conv vpc -o force_size=on disk.raw s.vhd && rec "$h/sized.rec" s.vhd
rec "$h/differencing.rec" vhd-child.vhd vhd-parent.vhd

x=$out/container_vhdx
conv vhdx -o block_size=1M disk.raw b1.vhdx && rec "$x/b1m.rec" b1.vhdx
conv vhdx -o block_size=32M disk.raw b32.vhdx && rec "$x/b32m.rec" b32.vhdx
conv vhdx -o block_size=1M,block_state_zero=off disk.raw nz.vhdx && rec "$x/nozero.rec" nz.vhdx
REC_AT=$((16 << 20)) rec "$x/differencing.rec" vhdx-child.vhdx vhdx-parent.vhdx
rec "$x/log.rec" vhdx-log.vhdx
