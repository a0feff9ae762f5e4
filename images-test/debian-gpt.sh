# Debian 12 on a GPT disk, as a compressed qcow2 (zlib clusters):
#   sda1  BIOS boot partition (no filesystem)
#   sda2  EFI system partition, FAT32 (label EFI, volume id 2A5E-C0DE) holding two small files
#   sda3  root, ext4 with 4 KiB blocks
#   sda4  /srv, ext2 with 1 KiB blocks (label srv)
# /etc/fstab names / by UUID=, the ESP by its FAT volume id (UUID=2A5E-C0DE, /boot/efi, as the
# Debian installer writes it) and /srv by PARTUUID=. libguestfs 1.48 does not resolve PARTUUID=
# in fstab (later versions do), so its reference leaves /srv out of the mountpoints.
# Exercises: qcow2 with compressed clusters, GPT with fixed disk and partition GUIDs and names,
# FAT32 label and volume id, fstab resolution by filesystem UUID, FAT volume id and partition
# GUID, dpkg status of a real debootstrap, hostname from /etc/hostname.
# needs: debian-root
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

root_uuid=6f0c3b1e-52a4-4c8e-9d17-3a5b9e2c7d41
srv_uuid=0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b
srv_partuuid=1c9d6a0e-7b2f-4e35-a8c4-0f6e2d9b5a13

unpack_root "$work/root"
mkdir -p "$work/root/boot/efi" "$work/srv"
printf 'Served from /srv, a partition of its own.\n' > "$work/srv/README"
cat > "$work/root/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=$root_uuid  /  ext4  errors=remount-ro  0  1
UUID=2A5E-C0DE  /boot/efi  vfat  umask=0077  0  1
PARTUUID=$srv_partuuid  /srv  ext2  defaults  0  2
EOF
mib=$(size_mib "$work/root")
mkext ext4 "$work/root" "$work/root.img" "$mib" "$root_uuid" debian-root -b 4096
srv_mib=4
mkext ext2 "$work/srv" "$work/srv.img" "$srv_mib" "$srv_uuid" srv -b 1024

mkdir -p "$work/esp/EFI/debian" "$work/esp/EFI/BOOT"
printf 'search.fs_uuid %s root\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n' \
  "$root_uuid" > "$work/esp/EFI/debian/grub.cfg"
printf 'Placeholder for the removable-media boot loader.\n' > "$work/esp/EFI/BOOT/README.txt"
clamp_times "$work/esp"
mkfs.vfat -F 32 -s 1 -i 2A5EC0DE -n EFI -C "$work/esp.img" $((64 * 1024)) >/dev/null
mcopy -s -m -i "$work/esp.img" "$work/esp/EFI" ::/

# Sectors: BIOS boot at 1 MiB, ESP at 2 MiB, root after the 64 MiB ESP, /srv after root, 1 MiB
# slack for the backup GPT.
esp_start=4096 esp_size=$((64 * 2048))
root_start=$((esp_start + esp_size)) root_size=$((mib * 2048))
srv_start=$((root_start + root_size)) srv_size=$((srv_mib * 2048))
disk=$work/disk.raw
truncate -s $(( (srv_start + srv_size + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
label-id: 4A1B2C3D-5E6F-4701-8293-A4B5C6D7E8F9
first-lba: 2048
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=0B7D3E21-9A4C-4F58-B6E2-71C8D09A3F55, name="bios"
start=$esp_start, size=$esp_size, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=F3E2D1C0-B5A4-4978-8695-A4B3C2D1E0F9, name="EFI System Partition"
start=$root_start, size=$root_size, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=5D2E8F40-3C1B-4A97-8E6D-2B9F0C4A7E18, name="debian-root"
start=$srv_start, size=$srv_size, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$srv_partuuid, name="srv"
EOF
put "$work/esp.img" "$disk" "$esp_start"
put "$work/root.img" "$disk" "$root_start"
put "$work/srv.img" "$disk" "$srv_start"

qemu-img convert -c -f raw -O qcow2 "$disk" "$out/debian-gpt.qcow2"
rm -rf "$work"
reference "$out/debian-gpt.qcow2"
