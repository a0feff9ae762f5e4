# XFS images whose files were written by the Linux kernel (in the libguestfs appliance), for what
# mkfs.xfs -p cannot make: extent B+trees, holes, unwritten extents, timestamps, extended
# attributes, and a log left dirty by a forced shutdown. The filesystems are made on the host with
# mkfs.xfs so every variant's options are available; the appliance only mounts and writes.
#
# Outputs in OUT:
#   frag-v5-b1k.img    v5, 1 KiB blocks: /frag has every other block written (2600 extents, a
#                      two-level block-map B+tree under an attribute fork), plus the common files
#   frag-v5-b4k.img    v5, 4 KiB blocks, 512-byte inodes; /frag has 600 extents (one-level
#                      B+tree), plus the common files
#   frag-v4-b4k.img    v4 (no CRC, 256-byte inodes, 24-byte B+tree block headers), as b4k
#   dirty-v5.img       /before written and the log covered (freeze), then /after written and the
#                      filesystem shut down without unmounting: the log is dirty
#
# The common files (see write_common): /sparse (data at 0 and 1 MiB, size 3 MiB: holes inside and
# at the end), /prealloc (256 KiB preallocated, 4 KiB written at 64 KiB, 1 MiB more preallocated
# past EOF), /unwritten (64 KiB preallocated, never written), /future (mtime 10000000000) and
# /past (mtime -1000000000), /xattr-dir (short-form directory with an attribute fork),
# /link-long (a 964-byte target in a remote block, with the v5 block header that mkfs -p omits),
# /link-short, and /many: 1500 files "file-with-a-moderately-long-name-N" (a node directory) of
# which those with N divisible by 3 or in 500..799 were removed again (free space inside data
# blocks, freed data blocks).
# Block i of /frag (i even, counting in filesystem blocks) is filled with byte (i/2) % 251 + 1.
. ./lib.sh
out=$1
export TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 # allow images under 300 MB

make() { # make NAME SIZE MKFS-OPTIONS...
  local name=$1 size=$2
  shift 2
  truncate -s "$size" "$out/$name.img"
  mkfs.xfs -q -f -m uuid=6b1e2c3d-4f50-4162-8374-95a6b7c8d9e0 -L "$name" "$@" "$out/$name.img"
}
make frag-v5-b1k 96M -b size=1024
make frag-v5-b4k 64M
make frag-v4-b4k 64M -m crc=0
make dirty-v5 64M

# frag_script BLOCKSIZE COUNT: xfs_io commands writing every other block of /frag with O_DIRECT
# (no delayed allocation, so every write is its own extent).
frag_script() {
  local bs=$1 count=$2 i
  printf 'xfs_io -d -f'
  for ((i = 0; i < count; i++)); do
    printf " -c 'pwrite -q -S %d -b %d %d %d'" $((i % 251 + 1)) "$bs" $((2 * i * bs)) "$bs"
  done
  printf ' "$1/frag"\n'
}

common_script() {
  cat <<'EOF'
set -e
m=$1
xfs_io -f -c 'pwrite -q -S 0x61 0 4096' -c 'pwrite -q -S 0x62 1048576 4096' \
  -c 'truncate 3145728' "$m/sparse"
xfs_io -f -c 'falloc 0 262144' -c 'pwrite -q -S 0x63 65536 4096' -c 'falloc -k 262144 1048576' \
  "$m/prealloc"
xfs_io -f -c 'falloc 0 65536' "$m/unwritten"
echo future > "$m/future"
echo past > "$m/past"
mkdir "$m/xattr-dir"
echo x > "$m/xattr-dir/file"
t=/
i=0
while [ $i -lt 32 ]; do t="${t}long-symlink-target-component/"; i=$((i + 1)); done
ln -s "${t}end" "$m/link-long"
ln -s sparse "$m/link-short"
mkdir "$m/many"
i=0
while [ $i -lt 1500 ]; do : > "$m/many/file-with-a-moderately-long-name-$i"; i=$((i + 1)); done
i=0
while [ $i -lt 1500 ]; do
  if [ $((i % 3)) -eq 0 ] || { [ $i -ge 500 ] && [ $i -lt 800 ]; }; then
    rm "$m/many/file-with-a-moderately-long-name-$i"
  fi
  i=$((i + 1))
done
sync
EOF
}

# Appliance scripts, uploaded into each filesystem and removed again.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common_script > "$work/common.sh"
{ echo 'set -e'; frag_script 1024 2600; } > "$work/frag-b1k.sh"
{ echo 'set -e'; frag_script 4096 600; } > "$work/frag-b4k.sh"
cat > "$work/dirty.sh" <<'EOF'
set -e
m=$1
echo before > "$m/before"
xfs_io -x -c 'freeze' -c 'thaw' "$m"
echo after > "$m/after"
xfs_io -x -c 'shutdown -f' "$m"
EOF

# guestfish ... : one appliance launch for all images.
timeout 1200 guestfish --rw \
  -a "$out/frag-v5-b1k.img" -a "$out/frag-v5-b4k.img" -a "$out/frag-v4-b4k.img" \
  -a "$out/dirty-v5.img" <<EOF
run
mount /dev/sda /
upload $work/common.sh /common.sh
upload $work/frag-b1k.sh /frag.sh
debug sh "sh /sysroot/frag.sh /sysroot"
setxattr user.a $(printf 'a%.0s' {1..60}) 60 /frag
debug sh "sh /sysroot/common.sh /sysroot"
utimens /future 0 0 10000000000 0
utimens /past 0 0 -1000000000 0
setxattr user.note $(printf 'v%.0s' {1..100}) 100 /xattr-dir
rm /common.sh
rm /frag.sh
umount /

mount /dev/sdb /
upload $work/common.sh /common.sh
upload $work/frag-b4k.sh /frag.sh
debug sh "sh /sysroot/frag.sh /sysroot"
debug sh "sh /sysroot/common.sh /sysroot"
utimens /future 0 0 10000000000 0
utimens /past 0 0 -1000000000 0
setxattr user.note $(printf 'v%.0s' {1..100}) 100 /xattr-dir
rm /common.sh
rm /frag.sh
umount /

mount /dev/sdc /
upload $work/common.sh /common.sh
upload $work/frag-b4k.sh /frag.sh
debug sh "sh /sysroot/frag.sh /sysroot"
debug sh "sh /sysroot/common.sh /sysroot"
utimens /future 0 0 10000000000 0
utimens /past 0 0 -1000000000 0
setxattr user.note $(printf 'v%.0s' {1..100}) 100 /xattr-dir
rm /common.sh
rm /frag.sh
umount /

mount /dev/sdd /
upload $work/dirty.sh /dirty.sh
debug sh "sh /sysroot/dirty.sh /sysroot"
umount /
EOF

# The fragmented files must have the forms the tests rely on.
xfs_db -r -c 'path /frag' -c 'p core.format' "$out/frag-v5-b1k.img" | grep -qx 'core.format = 3 (btree)'
xfs_db -r -c 'path /frag' -c 'p u3.bmbt.level' "$out/frag-v5-b1k.img" | grep -qx 'u3.bmbt.level = 2'
xfs_db -r -c 'path /frag' -c 'p core.format' "$out/frag-v5-b4k.img" | grep -qx 'core.format = 3 (btree)'
xfs_db -r -c 'path /frag' -c 'p core.format' "$out/frag-v4-b4k.img" | grep -qx 'core.format = 3 (btree)'
# The dirty image must really need log recovery, and the others must not.
if xfs_repair -n "$out/dirty-v5.img" >/dev/null 2>&1; then
  echo "dirty-v5.img: the log is clean" >&2
  exit 1
fi
for i in frag-v5-b1k frag-v5-b4k frag-v4-b4k; do xfs_repair -n "$out/$i.img" >/dev/null; done
