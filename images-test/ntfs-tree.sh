# An NTFS volume laid out like a small Windows system disk, written by ntfs-3g inside the
# libguestfs appliance, and what ntfs-3g reads back from it (the reference for the reader).
#
# Outputs in OUT:
#   ntfs.img        the volume itself (no partition table), label "WinTest"
#   ntfs.blkid      `blkid -p -o export ntfs.img`, the reference for probe()
#   big.ntfsinfo    `ntfsinfo -v` of /Frag/big.bin (shows its attribute list and runs)
#   manifest.tsv    every path ntfs-3g lists, as read back through ntfs-3g (`tar-out`):
#                   kind (f/d/l), size, sha256 (files) or target (links), path
#   guestfish.log   what the appliance printed
#
# Exercises: mixed-case names and case-insensitive lookup ("Program Files", "System32",
# "DRIVERS"), non-ASCII names (Latin-1 and a character outside the BMP), a DOS 8.3 name set
# through ntfs-3g (PROGRA~1), a directory of 2000 entries (index with $INDEX_ALLOCATION and more
# than one level), a file fragmented into dozens of runs whose $DATA is split over two records
# (named streams fill its base record: attribute list, extension record), a sparse file, a compressed directory and file, resident and non-resident data, an empty file,
# hard links, named streams, and symbolic links as ntfs-3g writes them (Interix "IntxLNK"
# system files; reparse-point links are made by the reader's tests from these).
. ./lib.sh
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tree=$work/tree
mkdir -p "$tree/Windows/System32/config" "$tree/Windows/System32/DRIVERS/etc" \
  "$tree/Program Files/Common Files" "$tree/Users/Default" "$tree/Many"
{ printf 'regf'; seq 1 3000; } > "$tree/Windows/System32/config/SOFTWARE"
seq 1 20000 > "$tree/Windows/System32/config/SYSTEM"
printf '127.0.0.1 localhost\r\n' > "$tree/Windows/System32/DRIVERS/etc/hosts"
printf 'tiny' > "$tree/Program Files/Common Files/ReadMe.TXT"
: > "$tree/Users/Default/empty.dat"
printf 'umlaut\n' > "$tree/Users/Default/Übersicht.txt"
printf 'astral\n' > "$tree/Users/Default/smile-😀.txt"
seq 1 300000 > "$tree/Users/Default/big.txt"
ln "$tree/Users/Default/big.txt" "$tree/Users/Default/big-link.txt"
for i in $(seq -w 1 2000); do printf '%s\n' "$i" > "$tree/Many/entry-$i.txt"; done
(cd "$tree" && tar --format=gnu -cf "$work/tree.tar" .)

# guestfish commands: build the tree, then a fragmented file by interleaving appends with filler
# files that are deleted afterwards, a sparse file, a compressed directory, links.
gf=$work/script.gf
{
  echo "run"
  echo "mkfs ntfs /dev/sda label:WinTest"
  echo "mount /dev/sda /"
  echo "tar-in $work/tree.tar /"
  echo "setxattr system.ntfs_dos_name PROGRA~1 8 \"/Program Files\""
  echo "mkdir /Frag"
  echo "write /Frag/big.bin \"\""
  # Named streams fill the record first, so the growing run list must go to extension records
  # through an attribute list.
  for i in $(seq 1 40); do
    echo "setxattr user.stream$i \"$(printf 'named stream %.0s' $(seq 1 8))$i\" $((13 * 8 + ${#i})) /Frag/big.bin"
  done
  # Piece i of big.bin (4096 bytes) is "x\n" repeated, then i in four digits; a filler file
  # written after each piece takes the clusters that would have made the file contiguous.
  echo "debug sh \"cd /sysroot/Frag && mkdir fill && i=1 && while [ \$i -le 400 ]; do yes x | head -c 4092 >> big.bin; printf %04d \$i >> big.bin; head -c 4096 /dev/zero > fill/f\$i; i=\$((i + 1)); done; rm -rf fill; sync\""
  echo "touch /sparse.bin"
  echo "truncate-size /sparse.bin 10000000"
  echo "pwrite /sparse.bin \"data in the middle\" 5000000"
  echo "mkdir /Compressed"
  echo "setxattr system.ntfs_attrib_be \"\\x01\\x01\\x08\\x20\" 4 /Compressed"
  echo "write /Compressed/packed.txt \"$(printf 'compress me %.0s' $(seq 1 400))\""
  echo "ln-s ReadMe.TXT \"/Program Files/Common Files/rel-link\""
  echo "ln-s /Windows/System32 /abs-link"
  echo "ln-s ../Windows/System32/config /Users/cfg-link"
  echo "lgetxattrs /Compressed/packed.txt"
  echo "tar-out / $work/back.tar"
  echo "umount-all"
} > "$gf"

truncate -s 96M "$out/ntfs.img"
timeout 1800 guestfish -a "$out/ntfs.img" -f "$gf" > "$out/guestfish.log" 2>&1

blkid -p -o export "$out/ntfs.img" > "$out/ntfs.blkid"
ntfsinfo -v -F /Frag/big.bin "$out/ntfs.img" > "$out/big.ntfsinfo"

mkdir "$work/back"
tar -xf "$work/back.tar" -C "$work/back"
(
  cd "$work/back"
  find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
    rel=${p#.}
    if [ -L "$p" ]; then
      printf 'l\t%s\t%s\t%s\n' "$(stat -c %s "$p")" "$(readlink "$p")" "$rel"
    elif [ -d "$p" ]; then
      printf 'd\t0\t-\t%s\n' "$rel"
    else
      printf 'f\t%s\t%s\t%s\n' "$(stat -c %s "$p")" "$(sha256sum < "$p" | cut -d' ' -f1)" "$rel"
    fi
  done
) > "$out/manifest.tsv"
