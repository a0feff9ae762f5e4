# NTFS files compressed the way Windows 10's CompactOS (`compact /exe:FORMAT`) leaves them, and
# the bytes they hold (the reference for the reader's WOF support).
#
# A WOF-compressed file is a sparse unnamed $DATA of the uncompressed size, a reparse point
# tagged IO_REPARSE_TAG_WOF (0x80000017) naming the file provider (2) and the format, and a named
# stream WofCompressedData: a table of 4-byte chunk offsets, then each chunk compressed on its own
# or stored when compressing did not make it smaller. The chunks are compressed here by wimlib's
# XPRESS Huffman and LZX compressors (libwim15, the compressors wimlib uses for WIM resources and
# for WOF files on Windows), called through ctypes, and checked by wimlib's decompressors; the
# streams and reparse points are written by ntfs-3g in the libguestfs appliance
# (streams_interface=windows for the named stream, system.ntfs_reparse_data for the reparse
# point, which also sets the reparse attribute flag and indexes it in $Extend/$Reparse).
#
# Outputs in OUT:
#   ntfs-wof.img     the volume (no partition table), 4 KiB clusters, label "CompactOS"
#   originals.tsv    size, sha256 and path of every WOF file's uncompressed bytes
#   chunks.tsv       path, format, chunks, of them stored, size of WofCompressedData
#   lzx.ntfsinfo     `ntfsinfo -v` of one LZX file (reparse point, named stream)
#
# /Windows/System32/FORMAT/ for FORMAT in xpress4k xpress8k xpress16k lzx holds:
#   text.txt    300 KB of repetitive text: every chunk compressed
#   random.bin  40 KB of random bytes: every chunk stored
#   mixed.bin   random, text and zeros, odd length: stored and compressed chunks, a short tail
#   ls.bin      the build host's /usr/bin/ls: x86-64 code, many E8 (CALL) bytes for LZX's
#               translation
#   tiny.txt    1500 bytes: one short chunk, no chunk table
# /Windows/WimBoot/boot.dll: a WOF reparse point of the WIM provider (WIMBoot), which imgprep
#   refuses by name; /Windows/plain.txt: an ordinary file.
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/ntfs-wof.img
mkdir -p "$work/stage"

python3 - "$work/stage" "$out" <<'PY'
import ctypes, hashlib, os, random, struct, sys
stage, out = sys.argv[1], sys.argv[2]
wim = ctypes.CDLL("libwim.so.15")
wim.wimlib_create_compressor.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_uint,
                                         ctypes.POINTER(ctypes.c_void_p)]
wim.wimlib_compress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                ctypes.c_size_t, ctypes.c_void_p]
wim.wimlib_compress.restype = ctypes.c_size_t
wim.wimlib_create_decompressor.argtypes = [ctypes.c_int, ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_void_p)]
wim.wimlib_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                  ctypes.c_size_t, ctypes.c_void_p]
XPRESS, LZX = 1, 2
# name: (number in the reparse point, wimlib compression type, chunk size)
formats = {"xpress4k": (0, XPRESS, 4096), "lzx": (1, LZX, 32768),
           "xpress8k": (2, XPRESS, 8192), "xpress16k": (3, XPRESS, 16384)}

rng = random.Random(20261208)
words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 9))) for _ in range(400)]
text = " ".join(rng.choice(words) for _ in range(60000)).encode()[:300000]
files = {
    "text.txt": text,
    "random.bin": bytes(rng.getrandbits(8) for _ in range(40000)),
    "mixed.bin": bytes(rng.getrandbits(8) for _ in range(20000)) + text[:100001] + bytes(70000),
    "ls.bin": open("/usr/bin/ls", "rb").read(),
    "tiny.txt": text[5000:6500],
}

def wof_stream(data, ctype, chunk):
    c = ctypes.c_void_p()
    d = ctypes.c_void_p()
    assert wim.wimlib_create_compressor(ctype, chunk, 0, ctypes.byref(c)) == 0
    assert wim.wimlib_create_decompressor(ctype, chunk, ctypes.byref(d)) == 0
    chunks, stored = [], 0
    for i in range(0, len(data), chunk):
        plain = data[i:i + chunk]
        buf = ctypes.create_string_buffer(len(plain))
        n = wim.wimlib_compress(plain, len(plain), buf, len(plain) - 1, c)
        if n == 0:
            chunks.append(plain)
            stored += 1
            continue
        back = ctypes.create_string_buffer(len(plain))
        assert wim.wimlib_decompress(buf.raw[:n], n, back, len(plain), d) == 0
        assert back.raw == plain
        chunks.append(buf.raw[:n])
    offsets, pos = [], 0
    for ch in chunks[:-1]:
        pos += len(ch)
        offsets.append(pos)
    return b"".join(struct.pack("<I", o) for o in offsets) + b"".join(chunks), len(chunks), stored

def reparse(provider, number):
    """WOF_EXTERNAL_INFO and the file provider's data (version, format)."""
    return struct.pack("<IHH4I", 0x80000017, 16, 0, 1, provider, 1, number).hex()

def wim_reparse():
    """WOF_EXTERNAL_INFO and the WIM provider's data: version, flags, data source, hash."""
    data = struct.pack("<2I", 1, 1) + struct.pack("<IIQ", 1, 0, 1) + bytes(range(20))
    return (struct.pack("<IHH", 0x80000017, len(data), 0) + data).hex()

with open(f"{out}/originals.tsv", "w") as orig, open(f"{out}/chunks.tsv", "w") as info, \
        open(f"{stage}/fill.sh", "w") as sh:
    sh.write("set -e\ncd /sysroot/stage\nv=/sysroot/ntfs\n")
    for fmt, (number, ctype, chunk) in formats.items():
        d = f"/Windows/System32/{fmt}"
        sh.write(f"mkdir -p $v{d}\n")
        for name, data in files.items():
            stream, n, stored = wof_stream(data, ctype, chunk)
            key = f"{fmt}-{name}"
            open(f"{stage}/{key}", "wb").write(stream)
            p = f"{d}/{name}"
            sh.write(f"touch $v{p}\ntruncate -s {len(data)} $v{p}\n")
            sh.write(f"cat {key} > $v{p}:WofCompressedData\n")
            sh.write(f"setfattr -n system.ntfs_reparse_data -v 0x{reparse(2, number)} $v{p}\n")
            orig.write(f"{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{p}\n")
            info.write(f"{p}\t{fmt}\t{n}\t{stored}\t{len(stream)}\n")
    # WIMBoot: the data lives in a WIM file the reparse point names, not in the volume.
    sh.write("mkdir -p $v/Windows/WimBoot\ntouch $v/Windows/WimBoot/boot.dll\n")
    sh.write("truncate -s 20000 $v/Windows/WimBoot/boot.dll\n")
    sh.write(f"setfattr -n system.ntfs_reparse_data -v 0x{wim_reparse()} "
             "$v/Windows/WimBoot/boot.dll\n")
    sh.write("printf 'not compressed\\n' > $v/Windows/plain.txt\n")
PY

# Every chunk of text.txt compresses; every chunk of random.bin is stored.
awk -F'\t' '$1 ~ /text.txt$/ && $4 != 0 { bad = 1 } $1 ~ /random.bin$/ && $4 != $3 { bad = 1 }
  END { exit bad }' "$out/chunks.tsv"

truncate -s 16M "$work/stage.ext2"
mke2fs -q -F -t ext2 -d "$work/stage" "$work/stage.ext2"
truncate -s 32M "$img"
# Both volumes are mounted by a shell in the appliance (ntfs-3g with streams_interface=windows,
# which libguestfs's mount calls do not pass); the kernel's names of the disks change between
# launches, so they are found by SCSI target (drive order) in /dev/disk/by-path.
cat > "$work/fill.gf" <<GF
add $img format:raw
add $work/stage.ext2 format:raw readonly:true
run
mkfs ntfs /dev/sda label:CompactOS
debug sh "mkdir -p /sysroot/stage /sysroot/ntfs"
debug sh "mount -o ro \$(readlink -f /dev/disk/by-path/*-scsi-0:0:1:0) /sysroot/stage"
debug sh "ntfs-3g -o streams_interface=windows \$(readlink -f /dev/disk/by-path/*-scsi-0:0:0:0) /sysroot/ntfs"
debug sh "sh /sysroot/stage/fill.sh"
debug sh "umount /sysroot/ntfs && umount /sysroot/stage && sync"
shutdown
GF
timeout 1800 guestfish -f "$work/fill.gf" > "$out/guestfish.log" 2>&1 \
  || { cat "$out/guestfish.log" >&2; exit 1; }

ntfsinfo -v -F /Windows/System32/lzx/ls.bin "$img" > "$out/lzx.ntfsinfo"
grep -q 'WofCompressedData' "$out/lzx.ntfsinfo"
grep -q -i 'reparse' "$out/lzx.ntfsinfo"
rm -rf "$work"
