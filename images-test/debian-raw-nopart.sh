# Debian 12 on a partitionless raw disk: ext4 (4 KiB blocks, label debian-root) spans the whole
# device, which libguestfs calls /dev/sda. /etc/fstab names / by LABEL=. Exercises: raw images
# (sparse file), a disk with no partition table, fstab resolution by filesystem label.
# needs: debian-root
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

unpack_root "$work/root"
cat > "$work/root/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
LABEL=debian-root  /  ext4  errors=remount-ro  0  1
EOF
mkext ext4 "$work/root" "$out/debian-raw-nopart.img" "$(size_mib "$work/root")" \
  7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d debian-root -b 4096
rm -rf "$work"
reference "$out/debian-raw-nopart.img"
