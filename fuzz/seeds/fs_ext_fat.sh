#!/usr/bin/env bash
# Builds small seed images for the fs_ext and fs_fat fuzz targets (no root needed):
#   fuzz/seeds/fs_ext_fat.sh OUTDIR   ->  OUTDIR/fs_ext/*.img, OUTDIR/fs_fat/*.img
# Each ext seed exercises one layout (ext2 block maps, ext4 extents, inline data, htree,
# a journal that needs recovery); each FAT seed one FAT width with long names.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out/fs_ext" "$out/fs_fat"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src
mkdir -p "$src/dir/sub"
printf 'hello\n' > "$src/small"
head -c 5000 /dev/urandom > "$src/dir/data"
for i in 0 1 2 3 4 5 6; do
  dd if=/dev/urandom of="$src/frag" bs=512 count=1 seek=$((i * 8)) conv=notrunc status=none
done
ln -s small "$src/link"
ln -s "$(printf 'long/%.0s' $(seq 1 20))end" "$src/dir/longlink"
for i in $(seq 1 40); do : > "$src/dir/sub/entry-with-a-long-name-$i"; done

mk() { mke2fs -F -q "$@" -d "$src" >/dev/null 2>&1; }
mk -t ext2 -b 1024 -N 64 "$out/fs_ext/ext2.img" 200K
mk -t ext4 -O ^has_journal -b 1024 -N 64 "$out/fs_ext/ext4.img" 200K
mk -t ext4 -O ^has_journal,inline_data -b 1024 -N 64 "$out/fs_ext/inline.img" 200K
mk -t ext4 -O ^has_journal,^extents,^64bit,^metadata_csum -b 1024 -N 64 "$out/fs_ext/blockmap.img" 200K
mk -t ext4 -O ^has_journal -b 1024 -N 64 "$tmp/htree.img" 200K
e2fsck -fyD "$tmp/htree.img" >/dev/null 2>&1 || true
cp "$tmp/htree.img" "$out/fs_ext/htree.img"
# A journal that needs recovery: one committed transaction over the root directory block.
mk -t ext4 -b 1024 -N 64 -J size=1 "$tmp/journal.img" 2200K
blk=$(debugfs -R "bmap /small 0" "$tmp/journal.img" 2>/dev/null)
head -c 1024 /dev/urandom > "$tmp/blk"
printf 'jo -c\njw -b %s %s\njc\n' "$blk" "$tmp/blk" | debugfs -w -f - "$tmp/journal.img" >/dev/null 2>&1
cp "$tmp/journal.img" "$out/fs_ext/journal.img"

# FAT seeds are records "[u32 LE offset][u16 LE length][bytes]" of the image's non-zero
# sectors (the fs_fat input format), so a 34 MiB FAT32 image makes a small seed.
for bits in 12 16 32; do
  img=$tmp/fat$bits.img
  case $bits in
    12) mkfs.vfat -C -F 12 -n SEED12 "$img" 2048 >/dev/null ;;
    16) mkfs.vfat -C -F 16 -s 1 -n SEED16 "$img" 4096 >/dev/null ;;
    32) mkfs.vfat -C -F 32 -s 1 -n SEED32 "$img" 34000 >/dev/null ;;
  esac
  mmd -i "$img" ::/EFI ::/EFI/BOOT "::/Long Directory Name"
  mcopy -i "$img" "$src/small" ::/EFI/BOOT/bootx64.efi
  mcopy -i "$img" "$src/dir/data" "::/Long Directory Name/A file with a long name.txt"
  mcopy -i "$img" "$src/small" ::/UPPER.TXT
  python3 - "$img" "$out/fs_fat/fat$bits.rec" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
out = open(sys.argv[2], 'wb')
for off in range(0, len(data), 512):
    chunk = data[off:off + 512]
    if any(chunk):
        out.write(struct.pack('<IH', off, len(chunk)) + chunk)
PY
done
