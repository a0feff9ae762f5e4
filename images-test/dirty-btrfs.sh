# A btrfs filesystem snapshotted while mounted, the way a snapshot of a running VM catches it:
# files changed after the last transaction commit and fsync'ed, so the changes exist only in the
# log trees the superblock's log_root points to. One guestfish appliance mounts a scratch disk
# (commit=600, so no transaction commits on its own), writes, copies the disk while it is still
# mounted (the snapshot), then copies the snapshot and mounts that copy (the kernel replays the
# log trees) and records what the kernel shows: the reference the btrfs reader's log replay is
# compared with.
#
# Outputs in OUT:
#   dirty.img         the snapshot (DUP metadata, zstd compression, a subvolume "sub" with its own
#                     log tree)
#   dirty.recovered.img  the copy the kernel mounted: the snapshot after log replay and a clean
#                     unmount
#   dirty.find        after the kernel mounted a copy: `stat -c %F:%a:%s:%u:%g:%Y:%i:%N` of every
#                     path (type, mode, size, uid, gid, mtime, inode, quoted name and link target)
#   dirty.sha256      sha256sum of every regular file, after replay
#   dirty.log         what the appliance script printed
#   dirty.super       `btrfs inspect-internal dump-super` of the snapshot (log_root non-zero)
#
# After the last commit: new files (inline and compressed), overwritten, appended, truncated,
# preallocated and sparse files, a renamed file, a hard link, a symlink and a new directory, a
# removed file, changed modes and owners, an added and a removed extended attribute, and a file
# in the subvolume, each fsync'ed; and a file never fsync'ed, which the kernel does not show.
. ./lib.sh
out=$1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
truncate -s 256M "$work/work.img" "$out/dirty.img" "$out/dirty.recovered.img"
mkfs.btrfs -q -f -L dirty -U 4f6e2a1d-8c3b-4e5f-9a7d-1b2c3d4e5f60 "$work/work.img"

cat > "$work/populate.sh" <<'EOF'
set -e
m=$1
fsync() { xfs_io -c fsync "$1"; }

# --- committed ---
mkdir -p $m/etc $m/dir $m/keep
echo hostname-before > $m/etc/hostname
seq 1 20000 > $m/dir/text
echo doomed > $m/dir/doomed
i=1
while [ $i -le 40 ]; do echo "base $i" > $m/dir/f$i; i=$((i + 1)); done
btrfs subvolume create $m/sub >/dev/null
echo in-sub > $m/sub/old
setfattr -n user.old -v old-value $m/dir/text
sync
btrfs inspect-internal dump-super /dev/disk/guestfs/work | grep '^log_root\b'

# --- only in the log trees ---
logroot() { echo "$1: $(btrfs inspect-internal dump-super /dev/disk/guestfs/work | grep '^log_root\b')"; }
rm $m/dir/doomed
fsync $m/dir
logroot removal
mv $m/dir/f3 $m/dir/f3-renamed
fsync $m/dir/f3-renamed
logroot rename
ln $m/dir/f4 $m/dir/f4-link
fsync $m/dir/f4
chmod 600 $m/dir/f5
chown 1000:1001 $m/dir/f5
touch -m -d @1234567890 $m/dir/f5
fsync $m/dir/f5
setfattr -n user.new -v new-value $m/dir/f6
setfattr -x user.old $m/dir/text
fsync $m/dir/f6
xfs_io -c 'pwrite -q -S 0x61 8192 4096' $m/dir/text
fsync $m/dir/text
seq 1 500 >> $m/dir/f1
fsync $m/dir/f1
truncate -s 3 $m/dir/f2
fsync $m/dir/f2
seq 1 200000 > $m/dir/compressible
fsync $m/dir/compressible
xfs_io -f -c 'falloc 0 1048576' -c 'pwrite -q -S 0x62 65536 4096' $m/dir/prealloc
fsync $m/dir/prealloc
xfs_io -f -c 'pwrite -q -S 0x63 1048576 4096' $m/dir/sparse
fsync $m/dir/sparse
echo new-in-sub > $m/sub/new
fsync $m/sub/new
mkdir $m/dir/newdir
echo a > $m/dir/newdir/a
ln -s ../text $m/dir/newdir/link
fsync $m/dir/newdir/a
fsync $m/dir/newdir
echo never-synced > $m/keep/lost
echo new > $m/dir/new1
fsync $m/dir/new1
logroot end
EOF

listing() {
  echo "debug sh \"cd $1 && find . -mindepth 1 -exec stat -c %F:%a:%s:%u:%g:%Y:%i:%N {} + | sort\" | cat > $out/$2.find"
  echo "debug sh \"cd $1 && find . -type f -print0 | xargs -0 -r sha256sum | sort -k2\" | cat > $out/$2.sha256"
}

{
  echo "add $work/work.img format:raw label:work"
  echo "add $out/dirty.img format:raw label:snapshot"
  echo "add $out/dirty.recovered.img format:raw label:copy"
  echo run
  echo "mount-options commit=600,compress=zstd /dev/sda /"
  # debug sh keeps no quotes, so the script travels as base64.
  echo "debug sh \"echo $(base64 -w0 "$work/populate.sh") | base64 -d > /tmp/populate.sh\""
  echo "debug sh \"sh /tmp/populate.sh /sysroot 2>&1\" | cat > $out/dirty.log"
  # The snapshot: the disk as it is while still mounted (direct I/O: the filesystem writes
  # around the page cache).
  echo "debug sh \"dd if=/dev/disk/guestfs/work of=/dev/disk/guestfs/snapshot bs=1M iflag=direct oflag=direct status=none\""
  echo "umount /"
  echo "debug sh \"dd if=/dev/disk/guestfs/snapshot of=/dev/disk/guestfs/copy bs=1M iflag=direct oflag=direct status=none\""
  echo "debug sh \"btrfs device scan --forget\""
  echo "mount /dev/sdc /"
  listing /sysroot dirty
  echo "umount /"
} > "$work/guestfish.cmds"
timeout 900 guestfish --no-progress-bars -f "$work/guestfish.cmds"

cat "$out/dirty.log"
btrfs inspect-internal dump-super "$out/dirty.img" > "$out/dirty.super"
grep -Eq '^log_root[[:space:]]+[1-9]' "$out/dirty.super" \
  || { echo "dirty.img: log_root is 0, the log trees are empty" >&2; exit 1; }
btrfs inspect-internal dump-super "$out/dirty.recovered.img" | grep -Eq '^log_root[[:space:]]+0$' \
  || { echo "dirty.recovered.img: log_root is not 0" >&2; exit 1; }
grep -q "dir/new1'$" "$out/dirty.find" || { echo "dirty.find: no dir/new1" >&2; exit 1; }
if grep -q "keep/lost'$" "$out/dirty.find"; then
  echo "dirty.find: the never-synced file survived" >&2
  exit 1
fi
