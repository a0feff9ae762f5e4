# Debian 12 on an MBR disk with an extended partition, emitted in three container formats
# (debian-mbr.vmdk streamOptimized, debian-mbr.vhd dynamic, debian-mbr.vhdx), one reference each:
#   sda1  /boot  ext2 (label boot), bootable flag, holds grub/grub.cfg
#   sda2  /      ext4 (4 KiB blocks)
#   sda3  extended partition
#   sda5  /var   ext4 on a logical partition: /var/lib/dpkg/status lives here, not on /
#   sda6  swap on a logical partition (label swap0)
# /etc/fstab mixes UUID=, LABEL= and /dev/sda5 device paths, a swap line, a UUID that matches no
# filesystem (/data, must be left out) and a tmpfs line (no device, must be left out).
# Exercises: VMDK stream-optimized grains, VHD dynamic BAT, VHDX, MBR logical partition chain,
# ext2, swap signatures, mount assembly across filesystems.
# needs: debian-root
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

boot_uuid=2b7e151c-28ae-4d2a-9f15-88c1a4e3b701
root_uuid=3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60702
var_uuid=4d5e6f70-8192-4a3b-8c4d-5e6f70819203
swap_uuid=5e6f7081-92a3-4b4c-9d5e-6f7081920304

unpack_root "$work/root"
mkdir "$work/var" "$work/boot"
(cd "$work/root/var" && tar -cf - . ) | tar --numeric-owner -xpf - -C "$work/var"
find "$work/root/var" -mindepth 1 -delete
(cd "$work/root/boot" && tar -cf - . ) | tar --numeric-owner -xpf - -C "$work/boot"
find "$work/root/boot" -mindepth 1 -delete
mkdir -p "$work/boot/grub"
cat > "$work/boot/grub/grub.cfg" <<EOF
set default=0
set timeout=5
menuentry 'Debian GNU/Linux' {
	search --no-floppy --fs-uuid --set=root $boot_uuid
	linux /vmlinuz-6.1.0-amd64 root=UUID=$root_uuid ro quiet
	initrd /initrd.img-6.1.0-amd64
}
EOF
cat > "$work/root/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=$root_uuid  /  ext4  errors=remount-ro  0  1
LABEL=boot  /boot  ext2  defaults  0  2
/dev/sda5  /var  ext4  defaults  0  2
UUID=$swap_uuid  none  swap  sw  0  0
UUID=deadbeef-dead-4eef-8eef-deadbeefdead  /data  ext4  defaults,nofail  0  2
tmpfs  /tmp  tmpfs  defaults,size=64m  0  0
EOF

boot_mib=32 swap_mib=16
root_mib=$(size_mib "$work/root")
var_mib=$(size_mib "$work/var")
mkext ext2 "$work/boot" "$work/boot.img" "$boot_mib" "$boot_uuid" boot
mkext ext4 "$work/root" "$work/root.img" "$root_mib" "$root_uuid" debian-root -b 4096
mkext ext4 "$work/var" "$work/var.img" "$var_mib" "$var_uuid" debian-var -b 4096
truncate -s "${swap_mib}M" "$work/swap.img"
mkswap -U "$swap_uuid" -L swap0 "$work/swap.img" >/dev/null

# Primaries at fixed sectors; sfdisk places the logical partitions (each behind its EBR).
boot_start=2048
root_start=$((boot_start + boot_mib * 2048))
ext_start=$((root_start + root_mib * 2048))
ext_size=$(( (var_mib + swap_mib + 4) * 2048 ))
disk=$work/disk.raw
truncate -s $(( (ext_start + ext_size) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: dos
label-id: 0x1badcafe
start=$boot_start, size=$((boot_mib * 2048)), type=83, bootable
start=$root_start, size=$((root_mib * 2048)), type=83
start=$ext_start, size=$ext_size, type=5
size=$((var_mib * 2048)), type=83
size=$((swap_mib * 2048)), type=82
EOF
sfdisk -d "$disk" > "$work/layout"
start_of() { sed -n "s|^$disk$1 *: *start= *\([0-9]*\),.*|\1|p" "$work/layout"; }
put "$work/boot.img" "$disk" "$(start_of 1)"
put "$work/root.img" "$disk" "$(start_of 2)"
put "$work/var.img" "$disk" "$(start_of 5)"
put "$work/swap.img" "$disk" "$(start_of 6)"

qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$disk" "$out/debian-mbr.vmdk"
qemu-img convert -f raw -O vpc -o subformat=dynamic "$disk" "$out/debian-mbr.vhd"
qemu-img convert -f raw -O vhdx "$disk" "$out/debian-mbr.vhdx"
sed "s|$disk|disk.raw|" "$work/layout" > "$out/debian-mbr.sfdisk.txt"
rm -rf "$work"
# One inspector XML per container; the libguestfs facts once, as all three hold the same disk.
reference "$out/debian-mbr.vmdk"
for img in "$out"/debian-mbr.vhd "$out"/debian-mbr.vhdx; do
  inspector "$img" "$img.inspector.xml"
  check_xml "$img.inspector.xml"
done
