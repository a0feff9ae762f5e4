# NTFS files written compressed (LZNT1) by ntfs-3g in the libguestfs appliance, and what
# ntfs-3g's ntfscat reads back from them (the reference for the reader).
#
# Outputs in OUT:
#   ntfs-compressed.img   the volume (no partition table), 4 KiB clusters, label "Packed"
#   manifest.tsv          size, sha256 of the bytes ntfscat reads, and path, of every file in /C
#   originals.tsv         size, sha256 and path of the files as they were written
#   C.ntfsinfo            `ntfsinfo -v` of /C/text.txt (compressed flag, compression unit, runs)
#
# /C has the compressed attribute (set through system.ntfs_attrib_be), so ntfs-3g compresses
# what is written into it, in 64 KiB compression units (16 clusters):
#   text.txt     300 KB of repetitive text: every unit compressed
#   random.bin   200 KB of incompressible bytes: every unit stored raw
#   mixed.bin    random, then 192 KiB of zeros (units left sparse), then text, odd length
#   holes.bin    a 2 MB file written at two offsets only (sparse units around compressed ones)
#   small.txt    100 bytes (resident: never compressed)
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/ntfs-compressed.img

python3 - "$work" <<'PY'
import random, sys
w = sys.argv[1]
rng = random.Random(20261207)
words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 9))) for _ in range(400)]
text = " ".join(rng.choice(words) for _ in range(60000)).encode()[:300000]
open(f"{w}/text.txt", "wb").write(text)
open(f"{w}/random.bin", "wb").write(bytes(rng.getrandbits(8) for _ in range(200000)))
mixed = bytes(rng.getrandbits(8) for _ in range(70000)) + bytes(196608) + text[:100001]
open(f"{w}/mixed.bin", "wb").write(mixed)
open(f"{w}/small.txt", "wb").write(text[:100])
open(f"{w}/piece1", "wb").write(text[:50000])
open(f"{w}/piece2", "wb").write(text[1000:31000])
PY

cat > "$work/fill.gf" <<GF
add $img format:raw
run
mkfs ntfs /dev/sda label:Packed
mount /dev/sda /
mkdir /C
setxattr system.ntfs_attrib_be "\x01\x01\x08\x20" 4 /C
upload $work/text.txt /C/text.txt
upload $work/random.bin /C/random.bin
upload $work/mixed.bin /C/mixed.bin
upload $work/small.txt /C/small.txt
touch /C/holes.bin
truncate-size /C/holes.bin 2000000
upload-offset $work/piece1 /C/holes.bin 300000
upload-offset $work/piece2 /C/holes.bin 1500000
lgetxattrs /C/text.txt
umount-all
shutdown
GF
truncate -s 32M "$img"
timeout 1800 guestfish -f "$work/fill.gf" > "$out/guestfish.log" 2>&1 \
  || { cat "$out/guestfish.log" >&2; exit 1; }

ntfsinfo -v -F /C/text.txt "$img" > "$out/C.ntfsinfo"
grep -q 'COMPRESSED' "$out/C.ntfsinfo"
for f in text.txt random.bin mixed.bin holes.bin small.txt; do
  ntfscat -f "$img" "/C/$f" > "$work/back"
  printf '%s\t%s\t/C/%s\n' "$(stat -c %s "$work/back")" \
    "$(sha256sum < "$work/back" | cut -d' ' -f1)" "$f"
done > "$out/manifest.tsv"
python3 - "$work" > "$out/originals.tsv" <<'PY'
import hashlib, sys
w = sys.argv[1]
holes = bytearray(2000000)
p1 = open(f"{w}/piece1", "rb").read(); p2 = open(f"{w}/piece2", "rb").read()
holes[300000:300000 + len(p1)] = p1
holes[1500000:1500000 + len(p2)] = p2
files = {n: open(f"{w}/{n}", "rb").read() for n in ["text.txt", "random.bin", "mixed.bin", "small.txt"]}
files["holes.bin"] = bytes(holes)
for n in ["text.txt", "random.bin", "mixed.bin", "holes.bin", "small.txt"]:
    print(f"{len(files[n])}\t{hashlib.sha256(files[n]).hexdigest()}\t/C/{n}")
PY
rm -rf "$work"
