# XFS images populated by `mkfs.xfs -p PROTOFILE` (no mount, no root), one per on-disk variant, and
# the manifest the reader is checked against.
#
# Outputs in OUT:
#   src/                    source files whose bytes the regular files carry
#   manifest.tsv            path, kind, mode (octal, with setuid/setgid), uid, gid, and for a file
#                           its source under src/, for a symlink its target, for a device "maj,min"
#   NAME.img                one image per variant (see `variants` below)
#   NAME.blkid              `blkid -p -o export NAME.img`, the reference for probe()
#   NAME.formats            data-fork format of each big directory as xfs_db reports it
#
# Exercises: short-form, block, leaf, node and B+tree directories; inline and remote symlinks
# (mkfs.xfs 6.1 writes v5 remote symlink blocks without their header, so on v5 /link-long is
# damaged the way xfs_repair reports it; xfs-written.sh has kernel-written ones); files of many blocks; setuid/setgid bits;
# 32-bit uids; device nodes and fifos; non-UTF-8 names; v4 without and with ftype; block sizes
# 1 KiB and 4 KiB; inode sizes 256, 512, 1024 and 2048; directory blocks larger than a
# filesystem block (-n size); several allocation groups; a changed UUID (meta_uuid) and label.
. ./lib.sh
out=$1
src=$out/src
mkdir -p "$src"

# Regular file contents. Sizes avoid block multiples so the tails are checked.
printf 'hello, xfs\n' > "$src/hello"
: > "$src/empty"
seq -w 1 600000 > "$src/big"
truncate -s 3145827 "$src/big" # 3 MiB + 99 bytes
head -c 5000 "$src/big" > "$src/mid"

proto=$out/proto
manifest=$out/manifest.tsv
: > "$manifest"
# Path of the directory being filled, without a trailing slash ("" for the root).
cur=""
stack=()

octal_mode() { # proto mode string (e.g. -u-755) -> octal with special bits
  local m=$1 extra=0
  [ "${m:1:1}" = u ] && extra=$((extra + 04000))
  [ "${m:2:1}" = g ] && extra=$((extra + 02000))
  printf '%o' $((extra + 8#${m:3:3}))
}
kind_of() {
  case ${1:0:1} in -) echo file ;; d) echo dir ;; l) echo symlink ;; c) echo chardev ;;
    b) echo blockdev ;; p) echo fifo ;; esac
}
# ent NAME MODE UID GID [ARG...]
ent() {
  local name=$1 mode=$2 uid=$3 gid=$4
  shift 4
  printf '%s %s %s %s %s\n' "$name" "$mode" "$uid" "$gid" "$*" >> "$proto"
  local extra=""
  case ${mode:0:1} in
    -) extra=$(basename "$1") ;;
    l) extra=$1 ;;
    c | b) extra="$1,$2" ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$cur/$name" "$(kind_of "$mode")" "$(octal_mode "$mode")" \
    "$uid" "$gid" "$extra" >> "$manifest"
  if [ "${mode:0:1}" = d ]; then stack+=("$cur"); cur="$cur/$name"; fi
}
end() {
  echo '$' >> "$proto"
  cur=${stack[-1]}
  unset 'stack[-1]'
}
# many DIRNAME COUNT PREFIX: a directory of COUNT empty files named PREFIX%05d (written with awk
# for speed, same format as ent).
many() {
  local dir=$1 count=$2 prefix=$3
  ent "$dir" d--755 0 0
  seq 0 $((count - 1)) | awk -v p="$prefix" -v s="$src/empty" -v proto="$proto" \
    -v man="$manifest" -v cur="$cur" '{
      n = sprintf("%s%05d", p, $1)
      printf "%s ---644 0 0 %s\n", n, s >> proto
      printf "%s/%s\tfile\t644\t0\t0\tempty\n", cur, n >> man
    }'
  end
}

{
  echo "xfs-proto"
  echo "0 0"
  echo "d--755 0 0"
} > "$proto"
printf '/\tdir\t755\t0\t0\t\n' >> "$manifest"
ent hello.txt ---644 0 0 "$src/hello"
ent empty ---600 1000 100 "$src/empty"
ent big.bin ---644 0 0 "$src/big"
ent setuid -u-755 0 0 "$src/mid"
ent setgid --g750 0 50 "$src/mid"
ent bigids ---640 4000000000 4294967294 "$src/hello"
ent nomode ---000 0 0 "$src/hello"
ent "$(printf 'caf\xe9')" ---644 0 0 "$src/hello"
ent link-short l--777 0 0 hello.txt
ent link-long l--777 0 0 "/$(printf 'long-symlink-target-component/%.0s' {1..32})end" # 964 bytes
ent link-60 l--777 0 0 "$(printf 'x%.0s' {1..60})"
ent devices d--755 0 0
ent tty c--620 0 5 4 1
ent sda b--660 0 6 8 0
ent fifo p--644 0 0
end
ent a d--755 0 0
ent b d--700 1000 1000
ent c d--755 0 0
ent d d--755 0 0
ent deep.txt ---644 0 0 "$src/hello"
end
end
end
end
ent dirs d--755 0 0
ent sf d--755 0 0
ent one ---644 0 0 "$src/hello"
ent two ---644 0 0 "$src/hello"
ent three l--777 0 0 one
end
many block 50 block-entry-
many leaf 500 leaf-entry-
many node 800 node-$(printf 'n%.0s' {1..190})-
many nodebt 5000 node-entry-with-a-longer-name-
end
echo '$' >> "$proto"

small_proto=$out/proto-small
cp "$proto" "$small_proto"
# The B+tree directory goes only into the big variants (50000 inodes per image).
sed -i '$d' "$proto"
sed -i '$d' "$proto"
cp "$manifest" "$out/manifest-small.tsv"
cur=/dirs
many btree 50000 btree-directory-entry-with-a-name-long-enough-to-need-many-blocks-
printf '$\n$\n' >> "$proto"

export TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 # allow images under 300 MB
# variant NAME LABEL PROTO SIZE MKFS-OPTIONS...
variant() {
  local name=$1 label=$2 p=$3 size=$4
  shift 4
  truncate -s "$size" "$out/$name.img"
  mkfs.xfs -q -f -m uuid=3f1c0a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b -L "$label" -p "$p" "$@" \
    "$out/$name.img"
  blkid -p -o export "$out/$name.img" | grep -v '^DEVNAME=' > "$out/$name.blkid"
  local d
  for d in sf block leaf node nodebt btree; do
    printf '%s %s\n' "$d" "$(xfs_db -r -c "path /dirs/$d" -c 'p core.format' "$out/$name.img" \
      2>/dev/null | sed 's/core.format = //')" >> "$out/$name.formats"
  done
}
variant v5-b4k v5-b4k "$proto" 256M -d agcount=4
variant v5-b1k v5-b1k "$proto" 256M -b size=1024 -d agcount=4
variant v5-b4k-i2048-n8k v5-i2048 "$small_proto" 64M -i size=2048 -n size=8192 -d agcount=2
variant v5-b1k-n4k v5-b1k-n4k "$small_proto" 64M -b size=1024 -n size=4096
variant v4-ftype0 v4-ftype0 "$proto" 256M -m crc=0 -n ftype=0 -d agcount=4
variant v4-ftype1-b1k "v4 ftype1" "$small_proto" 64M -m crc=0 -n ftype=1 -b size=1024 -i size=512
variant v5-newuuid old "$small_proto" 64M -i size=1024
xfs_admin -U 0badc0de-1234-4321-abcd-0123456789ab -L newlabel "$out/v5-newuuid.img"
blkid -p -o export "$out/v5-newuuid.img" | grep -v '^DEVNAME=' > "$out/v5-newuuid.blkid"

# The big directories must really have the forms they are named after.
grep -qx 'btree 3 (btree)' "$out/v5-b4k.formats"
grep -qx 'node 2 (extents)' "$out/v5-b4k.formats"
grep -qx 'sf 1 (local)' "$out/v5-b4k.formats"
