# A CentOS 6.10 guest as the CentOS 6 installer leaves it, as a streamOptimized VMDK
# (centos6-like.vmdk): MBR, /boot ext4 on sda1, sda2 an LVM PV of VG VolGroup holding LV lv_root
# (ext4) and LV lv_swap; ext4 with the features of RHEL 6's mke2fs (no metadata_csum, no 64bit).
#   /etc/fstab          as anaconda writes it: /dev/mapper/VolGroup-lv_root, UUID= for /boot,
#                       /dev/mapper/VolGroup-lv_swap, and the tmpfs/devpts/sysfs/proc lines
#   release files       /etc/centos-release "CentOS release 6.10 (Final)", /etc/redhat-release
#                       and /etc/system-release linking to it; no /etc/os-release (CentOS 6 has
#                       none) and no /etc/hostname: the host name is HOSTNAME= in
#                       /etc/sysconfig/network
#   /bin                a real directory (no merged /usr), /bin/bash a real x86_64 ELF
#   /var/lib/rpm/Packages
#                       Berkeley DB rpmdb (rpmdb-distros el6: python 2.6.6-66.el6_8, so rules
#                       wanting Python >= 2.7.9 fail here)
# References: centos6-like.vmdk.inspector.xml, .rpm-qa.txt.
# needs: lvm-skeletons rpmdb-distros os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/centos6-like.vmdk

boot_uuid=1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9
root_uuid=2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7a8b
swap_uuid=3b4c5d6e-7f80-4192-8b3c-4d5e6f7a8b9c

r=$work/root
fhs_dirs "$r"
mkdir -p "$r/bin" "$r/sbin" "$r/lib" "$r/lib64" "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib64" \
  "$r/etc/sysconfig" "$r/usr/lib/rpm" "$r/var/lib/rpm" "$r/usr/lib64/python2.6"
cp /bin/bash "$r/bin/bash"
ln -s bash "$r/bin/sh"

echo 'CentOS release 6.10 (Final)' > "$r/etc/centos-release"
ln -s centos-release "$r/etc/redhat-release"
ln -s centos-release "$r/etc/system-release"
echo 'cpe:/o:centos:linux:6:GA' > "$r/etc/system-release-cpe"
printf 'NETWORKING=yes\nHOSTNAME=centos6-golden.example.com\n' > "$r/etc/sysconfig/network"
cat > "$r/etc/hosts" <<'EOF'
127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4
::1         localhost localhost.localdomain localhost6 localhost6.localdomain6
EOF
cat > "$r/etc/fstab" <<EOF

#
# /etc/fstab
# Created by anaconda on Wed Nov 15 09:41:02 2023
#
# Accessible filesystems, by reference, are maintained under '/dev/disk'
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info
#
/dev/mapper/VolGroup-lv_root /                       ext4    defaults        1 1
UUID=$boot_uuid /boot                   ext4    defaults        1 2
/dev/mapper/VolGroup-lv_swap swap                    swap    defaults        0 0
tmpfs                   /dev/shm                tmpfs   defaults        0 0
devpts                  /dev/pts                devpts  gid=5,mode=620  0 0
sysfs                   /sys                    sysfs   defaults        0 0
proc                    /proc                   proc    defaults        0 0
EOF
cp "$(fixture rpmdb-distros)/el6/Packages" "$r/var/lib/rpm/Packages"
printf '%%_usr\t\t\t/usr\n%%_var\t\t\t/var\n%%_dbpath\t\t%%{_var}/lib/rpm\n' \
  > "$r/usr/lib/rpm/macros"
# rpm's rpmrc: libguestfs 1.48 lists packages with librpm chrooted into the guest, which reads
# no macros (so finds no database) when the guest has no rpmrc.
cp /usr/lib/rpm/rpmrc "$r/usr/lib/rpm/rpmrc"
cat > "$r/usr/lib64/python2.6/ssl.py" <<'EOF'
# Wrapper module for _ssl, providing some additional facilities
# implemented in Python.  Written by Bill Janssen.

import _ssl
from _ssl import SSLError
EOF
ln -s python2 "$r/usr/bin/python"
ln -s python2.6 "$r/usr/bin/python2"
printf '\177ELF' > "$r/usr/bin/python2.6"
chmod 755 "$r/usr/bin/python2.6"

b=$work/boot
mkdir -p "$b/grub"
cat > "$b/grub/grub.conf" <<'EOF'
default=0
timeout=5
title CentOS 6 (2.6.32-754.35.1.el6.x86_64)
	root (hd0,0)
	kernel /vmlinuz-2.6.32-754.35.1.el6.x86_64 ro root=/dev/mapper/VolGroup-lv_root rd_LVM_LV=VolGroup/lv_root rd_LVM_LV=VolGroup/lv_swap
	initrd /initramfs-2.6.32-754.35.1.el6.x86_64.img
EOF
ln -s grub.conf "$b/grub/menu.lst"
printf 'not a kernel\n' > "$b/vmlinuz-2.6.32-754.35.1.el6.x86_64"

el6=(-O ^metadata_csum,^64bit,^metadata_csum_seed,^orphan_file -I 256)
mkext ext4 "$b" "$work/boot.img" 32 "$boot_uuid" "" -b 1024 "${el6[@]}"
mkext ext4 "$r" "$work/root.img" 48 "$root_uuid" "" -b 4096 "${el6[@]}"
truncate -s 8M "$work/swap.img"
mkswap -U "$swap_uuid" "$work/swap.img" >/dev/null

disk=$work/centos6.raw
skeleton centos6.raw "$disk"
put "$work/boot.img" "$disk" "$(part_start centos6.raw 1)"
lvput "$work/root.img" VolGroup/lv_root "$work"
lvput "$work/swap.img" VolGroup/lv_swap "$work"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$disk" "$img"
rpm_qa "$r/var/lib/rpm" bdb_ro > "$img.rpm-qa.txt"
cmp "$img.rpm-qa.txt" "$(fixture rpmdb-distros)/el6/rpm-qa.txt"
rm -rf "$work"

os_reference "$img"
grep -q '<distro>centos</distro>' "$img.inspector.xml"
grep -q '<hostname>centos6-golden.example.com</hostname>' "$img.inspector.xml"
