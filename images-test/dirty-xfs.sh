# XFS filesystems left dirty the way a snapshot of a running VM leaves them: files written, the log
# forced to disk, then the filesystem shut down without unmounting (`xfs_io -x -c 'shutdown -f'`),
# so the last changes exist only in the log. One guestfish appliance writes them, copies each dirty
# disk to a scratch disk, mounts the copy (the kernel replays the log) and records what the kernel
# then shows: the reference the XFS reader's log recovery is compared with.
#
# Outputs in OUT, for NAME in v5 (4 KiB blocks, the mkfs.xfs 6.1 defaults: CRC, finobt, reflink,
# bigtime), v4 (-m crc=0) and v5-1k (1 KiB blocks, its log run until it wraps around the physical
# end, so the active log crosses it):
#   NAME.img          the dirty filesystem (a raw image of the whole device)
#   NAME.recovered.img  the copy the kernel mounted: the same filesystem after log recovery and a
#                     clean unmount
#   NAME.find         after the kernel mounted a copy: `stat -c %F:%a:%s:%u:%g:%Y:%i:%N` of every
#                     path (type, mode, size, uid, gid, mtime, inode, quoted name and link target)
#   NAME.sha256       sha256sum of every regular file, after recovery
#   NAME.logprint     `xfs_logprint -t` of the dirty image (transactions and their items)
#   NAME.log          head and tail of the log before the shutdown (from sysfs), for the build log
#
# Before the shutdown each filesystem was populated and frozen (freezing writes every change home
# and covers the log), then changed again: new files and directories (short-form, block, leaf and
# node directories; new inode chunks), overwrites, appends and truncation, a fragmented file whose
# extent list is a B+tree, renames, hard links, inline and remote symlinks, removals (cancelled
# buffers, freed extents), ownership, modes and times, extended attributes, and device nodes.
# The script fails unless xfs_logprint calls each image dirty and v5-1k's log wraps.
. ./lib.sh
out=$1
export TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 # allow images under 300 MB

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make() { # make NAME SIZE MKFS-OPTIONS...
  local name=$1 size=$2
  shift 2
  truncate -s "$size" "$out/$name.img" "$out/$name.recovered.img"
  mkfs.xfs -q -f -m uuid=5d2c9e41-7a3b-4c8d-9e0f-1a2b3c4d5e6f -L "$name" "$@" "$out/$name.img"
}
make v5 64M
make v4 64M -m crc=0
make v5-1k 64M -b size=1024

# The appliance script: populate.sh M [ADVANCE] runs the committed phase on the filesystem
# mounted at M, freezes it, optionally runs the log up to near its physical end, then makes the
# changes only the log will hold and shuts the filesystem down.
cat > "$work/populate.sh" <<'EOF'
set -e
m=$1
advance=${2:-}
dev=$(basename "$(findmnt -no SOURCE "$m")")
lsn() { cat /sys/fs/xfs/$dev/log/log_$1_lsn; }
# No periodic metadata writeback while the script runs (the log worker pushes the AIL).
echo 720000 > /proc/sys/fs/xfs/xfssyncd_centisecs

# --- committed state ---
mkdir -p $m/etc $m/base $m/big $m/gone/a/b $m/chunk
printf 'hostname-before\n' > $m/etc/hostname
seq 1 20000 > $m/base/text
echo keep > $m/base/keep
echo doomed > $m/base/doomed
i=0
while [ $i -lt 300 ]; do echo "base $i" > $m/big/f$i; i=$((i + 1)); done
i=0
while [ $i -lt 50 ]; do echo "gone $i" > $m/gone/a/b/g$i; i=$((i + 1)); done
ln -s base/text $m/link-old
seq 1 3000 > $m/base/append
sync
xfs_io -x -c freeze -c thaw $m
echo "after freeze: head $(lsn head) tail $(lsn tail)"

if [ -n "$advance" ]; then
  # Run the log head up to its last 300 blocks with small covered checkpoints, so that what
  # follows (some 600 blocks of log) wraps around the physical end while the tail stays behind.
  blocks=$(( $(xfs_db -r -c 'sb 0' -c 'p logblocks' /dev/$dev | sed 's/.* = //') \
    * $(xfs_db -r -c 'sb 0' -c 'p blocksize' /dev/$dev | sed 's/.* = //') / 512 ))
  n=0
  while :; do
    head=$(lsn head)
    [ "${head#*:}" -lt $((blocks - 300)) ] || break
    [ $n -lt 3000 ] || { echo "log head stuck at $head" >&2; exit 1; }
    j=0
    while [ $j -lt 256 ]; do touch $m/chunk/t$j; j=$((j + 1)); done
    xfs_io -x -c freeze -c thaw $m
    n=$((n + 1))
  done
  echo "advanced: head $(lsn head) tail $(lsn tail) of $blocks blocks"
fi

# --- changes only the log holds ---
printf 'hostname-after\n' > $m/etc/hostname
mkdir $m/new
i=0
while [ $i -lt 40 ]; do echo "new $i" > $m/new/n$i; i=$((i + 1)); done
mkdir -p $m/new/deep/a/b/c
echo deep > $m/new/deep/a/b/c/file
i=300
while [ $i -lt 900 ]; do echo "more $i" > $m/big/f$i; i=$((i + 1)); done
i=0
while [ $i -lt 300 ]; do
  if [ $((i % 3)) -eq 0 ]; then rm $m/big/f$i; fi
  i=$((i + 1))
done
rm $m/base/doomed
rm -r $m/gone
mv $m/base/keep $m/new/kept
ln $m/base/text $m/new/text-hardlink
ln -s ../base/text $m/new/short-link
t=/
i=0
while [ $i -lt 30 ]; do t="${t}a-long-symlink-target-part/"; i=$((i + 1)); done
ln -s "${t}end" $m/new/long-link
chmod 600 $m/base/text
chown 1000:1001 $m/new/n1
chmod 4755 $m/new/n2
setfattr -n user.note -v 'a note kept in the attribute fork' $m/new/n3
touch -m -d @1234567890 $m/new/n4
seq 1 1000 >> $m/base/append
truncate -s 5000 $m/base/text
mknod $m/new/null c 1 3
mknod $m/new/disk b 8 16
mkfifo $m/new/fifo
mkdir $m/new/empty-dir
: > $m/new/empty-file
i=0
cmds=""
while [ $i -lt 120 ]; do
  cmds="$cmds -c 'pwrite -q -S $((i % 200 + 1)) -b 4096 $((i * 8192)) 4096'"
  i=$((i + 1))
done
eval xfs_io -d -f $cmds $m/new/frag
mkdir $m/chunk/more
i=0
while [ $i -lt 200 ]; do mkdir $m/chunk/more/d$i; i=$((i + 1)); done
sync
echo "before shutdown: head $(lsn head) tail $(lsn tail)"
xfs_io -x -c 'shutdown -f' $m
EOF

# listing DIR NAME: guestfish commands recording the kernel's view of the filesystem at DIR.
listing() {
  echo "debug sh \"cd $1 && find . -mindepth 1 -exec stat -c %F:%a:%s:%u:%g:%Y:%i:%N {} + | sort\" | cat > $out/$2.find"
  echo "debug sh \"cd $1 && find . -type f -print0 | xargs -0 -r sha256sum | sort -k2\" | cat > $out/$2.sha256"
}

names=(v5 v4 v5-1k)
letters=(a b c d e f)
{
  for n in "${names[@]}"; do echo "add $out/$n.img format:raw"; done
  for n in "${names[@]}"; do echo "add $out/$n.recovered.img format:raw"; done
  echo run
  # debug sh keeps no quotes, so the script travels as base64.
  echo "debug sh \"echo $(base64 -w0 "$work/populate.sh") | base64 -d > /tmp/populate.sh\""
  # Device names inside `debug sh` are the kernel's, which need not follow the order disks were
  # added in; guestfish commands translate theirs. Cached pages of the devices are dropped
  # before copying (the filesystem writes around the page cache).
  for i in "${!names[@]}"; do
    n=${names[$i]}
    adv=""
    [ "$n" = v5-1k ] && adv=advance
    echo "mount /dev/sd${letters[$i]} /"
    echo "debug sh \"sh /tmp/populate.sh /sysroot $adv 2>&1\" | cat > $out/$n.log"
    echo "umount /"
    echo "debug sh \"sync; echo 3 > /proc/sys/vm/drop_caches\""
    echo "copy-device-to-device /dev/sd${letters[$i]} /dev/sd${letters[$((i + ${#names[@]}))]}"
    echo "mount /dev/sd${letters[$((i + ${#names[@]}))]} /"
    listing /sysroot "$n"
    echo "umount /"
  done
} > "$work/guestfish.cmds"
timeout 1500 guestfish --no-progress-bars -f "$work/guestfish.cmds"

for n in "${names[@]}"; do
  cat "$out/$n.log"
  xfs_logprint -t "$out/$n.img" > "$out/$n.logprint" 2>&1 || true
  grep -q 'state: <DIRTY>' "$out/$n.logprint" || { echo "$n.img: the log is not dirty" >&2; exit 1; }
  xfs_logprint -t "$out/$n.recovered.img" 2>&1 | grep -q 'state: <CLEAN>' \
    || { echo "$n.recovered.img: the log is not clean" >&2; exit 1; }
  grep -q "new/frag" "$out/$n.find" || { echo "$n.find: the kernel shows no /new/frag" >&2; exit 1; }
done
# The active part of v5-1k's log must run across the physical end (tail block after head block).
read -r tail head < <(sed -n 's/.*log tail: \([0-9]*\) head: \([0-9]*\).*/\1 \2/p' "$out/v5-1k.logprint")
[ "$tail" -gt "$head" ] || { echo "v5-1k.img: the log does not wrap (tail $tail, head $head)" >&2; exit 1; }
