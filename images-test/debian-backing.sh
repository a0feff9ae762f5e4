# Debian 12 behind a three-level qcow2 backing chain; every link names its backing file by a
# RELATIVE path and declares the backing format (qcow2):
#   debian-backing-base.qcow2     GPT, one ext4 root partition; uncompressed qcow2; hostname
#                                 golden-deb12
#   debian-backing-overlay.qcow2  -> debian-backing-base.qcow2; /etc/hostname rewritten to
#                                 golden-deb12-overlay, /etc/layer-overlay added (by guestfish)
#   debian-backing-top.qcow2      -> debian-backing-overlay.qcow2; only /etc/layer-top added, so
#                                 its hostname must be read through the middle layer
# Exercises: backing chains, relative backing paths (resolved against the overlay's directory),
# clusters unallocated in the top layer falling through to the right lower layer.
# An ABSOLUTE backing path is not stored here (the cache can move); tests make one at test time:
#   qemu-img create -f qcow2 -F qcow2 -b "$(realpath DIR/debian-backing-top.qcow2)" T/abs.qcow2
# and compare it with debian-backing-top.qcow2.inspector.xml.
# needs: debian-root
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
root_uuid=8b9c0d1e-2f3a-4b4c-9d5e-6f708192a3b4

unpack_root "$work/root"
cat > "$work/root/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=$root_uuid  /  ext4  errors=remount-ro  0  1
EOF
mib=$(size_mib "$work/root")
mkext ext4 "$work/root" "$work/root.img" "$mib" "$root_uuid" debian-root -b 4096
disk=$work/disk.raw
truncate -s $(( (2048 + mib * 2048 + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
label-id: 9C0D1E2F-3A4B-4C5D-8E6F-708192A3B4C5
start=2048, size=$((mib * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=AD1E2F3A-4B5C-4D6E-9F70-8192A3B4C5D6, name="root"
EOF
put "$work/root.img" "$disk" 2048
qemu-img convert -f raw -O qcow2 "$disk" "$out/debian-backing-base.qcow2"
rm -rf "$work"

cd "$out"
qemu-img create -q -f qcow2 -F qcow2 -b debian-backing-base.qcow2 debian-backing-overlay.qcow2
guestfish -a debian-backing-overlay.qcow2 -i <<'EOF'
write /etc/hostname "golden-deb12-overlay\n"
write /etc/layer-overlay "written in debian-backing-overlay.qcow2\n"
EOF
qemu-img create -q -f qcow2 -F qcow2 -b debian-backing-overlay.qcow2 debian-backing-top.qcow2
guestfish -a debian-backing-top.qcow2 -i <<'EOF'
write /etc/layer-top "written in debian-backing-top.qcow2\n"
EOF
qemu-img info --backing-chain debian-backing-top.qcow2 | sed "s|$out/||g" > debian-backing-chain.txt
for img in debian-backing-base.qcow2 debian-backing-overlay.qcow2 debian-backing-top.qcow2; do
  reference "$out/$img"
done
