# A two-disk Rocky Linux 9.3 VM whose volume group spans both disks, as two compressed qcow2
# images of one VM (lvm-striped-a.qcow2 is /dev/sda, lvm-striped-b.qcow2 /dev/sdb):
#   sda1     /boot XFS
#   sda2     PV of VG rl
#   sdb      PV of VG rl (the whole disk, no partition table)
#   rl/root  / XFS, striped over sda2 and sdb (2 stripes of 64 KiB)
#   rl/var   /var XFS, linear: its first 24 MiB on sda2, the rest on sdb
# fstab as the Rocky installer writes it (/dev/mapper/rl-root, /dev/mapper/rl-var, UUID= for
# /boot). The rpm database (rpmdb-distros rocky9, SQLite) is /var/lib/rpm/rpmdb.sqlite, so it
# lives on rl/var: listing packages needs both disks and the fstab mounts.
# References: lvm-striped-a.qcow2.inspector.xml (`virt-inspector -a A -a B`), and
# lvm-striped-a.qcow2.rpm-qa.txt. The LVM layout comes from the lvm-skeletons fixture (rl-a.raw,
# rl-b.raw, whose segments.txt and pvs.txt describe it).
# needs: lvm-skeletons rpmdb-distros os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
a=$out/lvm-striped-a.qcow2
b=$out/lvm-striped-b.qcow2
boot_uuid=6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d
root_uuid=7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e
var_uuid=8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f

r=$work/root
fhs_dirs "$r"
merged_usr "$r"
cp /bin/bash "$r/usr/bin/bash"
ln -s bash "$r/usr/bin/sh"
mkdir -p "$r/usr/lib/rpm" "$r/boot/efi"
echo 'Rocky Linux release 9.3 (Blue Onyx)' > "$r/etc/rocky-release"
ln -s rocky-release "$r/etc/redhat-release"
ln -s rocky-release "$r/etc/system-release"
echo 'cpe:/o:rocky:rocky:9::baseos' > "$r/etc/system-release-cpe"
cat > "$r/usr/lib/os-release" <<'EOF'
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
EOF
ln -s ../usr/lib/os-release "$r/etc/os-release"
echo 'rocky9-striped' > "$r/etc/hostname"
printf '127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n' \
  > "$r/etc/hosts"
cat > "$r/etc/fstab" <<EOF

#
# /etc/fstab
# Created by anaconda on Mon Nov 20 14:02:37 2023
#
# Accessible filesystems, by reference, are maintained under '/dev/disk/'.
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info.
#
# After editing this file, run 'systemctl daemon-reload' to update systemd
# units generated from this file.
#
/dev/mapper/rl-root     /                       xfs     defaults        0 0
UUID=$boot_uuid /boot                   xfs     defaults        0 0
/dev/mapper/rl-var      /var                    xfs     defaults        0 0
EOF
printf '%%_usr\t\t\t/usr\n%%_var\t\t\t/var\n%%_dbpath\t\t%%{_var}/lib/rpm\n%%_db_backend\t\tsqlite\n' \
  > "$r/usr/lib/rpm/macros"
# rpm's rpmrc: libguestfs 1.48 lists packages with librpm chrooted into the guest, which reads
# no macros (so finds no database) when the guest has no rpmrc.
cp /usr/lib/rpm/rpmrc "$r/usr/lib/rpm/rpmrc"
printf '#!/usr/bin/python3\nimport dnf.cli.main\n' > "$r/usr/bin/dnf-3"
chmod 755 "$r/usr/bin/dnf-3"
ln -s dnf-3 "$r/usr/bin/dnf"

# /var is its own filesystem: move its tree out, leaving the mount point.
v=$work/var
mkdir -p "$v"
(cd "$r/var" && tar -cf - .) | tar -xpf - -C "$v"
find "$r/var" -mindepth 1 -delete
mkdir -p "$v/lib/rpm" "$v/log"
cp "$(fixture rpmdb-distros)/rocky9/rpmdb.sqlite" "$v/lib/rpm/rpmdb.sqlite"

bt=$work/boot
mkdir -p "$bt/grub2" "$bt/loader/entries"
printf 'set default=0\nblscfg\n' > "$bt/grub2/grub.cfg"
printf 'not a kernel\n' > "$bt/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"

clamp_times "$r"
clamp_times "$v"
clamp_times "$bt"
mkxfs "$bt" "$work/boot.img" 32 "$boot_uuid" ""
mkxfs "$r" "$work/root.img" 64 "$root_uuid" ""
mkxfs "$v" "$work/var.img" 48 "$var_uuid" ""

skeleton rl-a.raw "$work/rl-a.raw"
skeleton rl-b.raw "$work/rl-b.raw"
put "$work/boot.img" "$work/rl-a.raw" "$(part_start rl-a.raw 1)"
lvput "$work/root.img" rl/root "$work"
lvput "$work/var.img" rl/var "$work"
qemu-img convert -c -f raw -O qcow2 "$work/rl-a.raw" "$a"
qemu-img convert -c -f raw -O qcow2 "$work/rl-b.raw" "$b"
rpm_qa "$v/lib/rpm" > "$a.rpm-qa.txt"
cmp "$a.rpm-qa.txt" "$(fixture rpmdb-distros)/rocky9/rpm-qa.txt"
rm -rf "$work"

vm_inspector "$a.inspector.xml" -a "$a" -a "$b"
check_xml "$a.inspector.xml"
grep -q '<mountpoint dev="/dev/rl/var">/var</mountpoint>' "$a.inspector.xml"
grep -q '<distro>rocky</distro>' "$a.inspector.xml"
