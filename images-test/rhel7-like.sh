# A Red Hat Enterprise Linux Server 7.2 guest laid out like Red Hat's KVM guest image
# (rhel-guest-image-7.2): MBR, one XFS partition sda1 holding /, as a qcow2 of the old version 2
# format (compat=0.10) those images used (rhel7-like.qcow2).
#   /etc/fstab          UUID= for / as the guest image has it
#   release files       /etc/redhat-release "Red Hat Enterprise Linux Server release 7.2 (Maipo)",
#                       /etc/system-release linking to it, RHEL 7.2's /etc/os-release
#                       (VERSION_ID="7.2")
#   /bin -> usr/bin     and /usr/bin/bash a real x86_64 ELF
#   /var/lib/rpm/Packages
#                       Berkeley DB rpmdb (rpmdb-distros rhel7: python 2.7.5-34.el7,
#                       redhat-release-server 7.2-9.el7)
# References: rhel7-like.qcow2.inspector.xml, .rpm-qa.txt.
# needs: rpmdb-distros os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/rhel7-like.qcow2
root_uuid=0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f

r=$work/root
fhs_dirs "$r"
merged_usr "$r"
cp /bin/bash "$r/usr/bin/bash"
ln -s bash "$r/usr/bin/sh"
mkdir -p "$r/usr/lib/rpm" "$r/var/lib/rpm" "$r/usr/lib64/python2.7" "$r/boot/grub2"
echo 'Red Hat Enterprise Linux Server release 7.2 (Maipo)' > "$r/etc/redhat-release"
ln -s redhat-release "$r/etc/system-release"
echo 'cpe:/o:redhat:enterprise_linux:7.2:ga:server' > "$r/etc/system-release-cpe"
cat > "$r/etc/os-release" <<'EOF'
NAME="Red Hat Enterprise Linux Server"
VERSION="7.2 (Maipo)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="7.2"
PRETTY_NAME="Red Hat Enterprise Linux Server 7.2 (Maipo)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:redhat:enterprise_linux:7.2:GA:server"
HOME_URL="https://www.redhat.com/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 7"
REDHAT_BUGZILLA_PRODUCT_VERSION=7.2
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="7.2"
EOF
echo 'localhost.localdomain' > "$r/etc/hostname"
printf '127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n' \
  > "$r/etc/hosts"
cat > "$r/etc/fstab" <<EOF

#
# /etc/fstab
# Created by anaconda on Thu Oct 29 06:40:11 2015
#
# Accessible filesystems, by reference, are maintained under '/dev/disk'
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info
#
UUID=$root_uuid /                       xfs     defaults        0 0
EOF
cp "$(fixture rpmdb-distros)/rhel7/Packages" "$r/var/lib/rpm/Packages"
printf '%%_usr\t\t\t/usr\n%%_var\t\t\t/var\n%%_dbpath\t\t%%{_var}/lib/rpm\n' \
  > "$r/usr/lib/rpm/macros"
# rpm's rpmrc: libguestfs 1.48 lists packages with librpm chrooted into the guest, which reads
# no macros (so finds no database) when the guest has no rpmrc.
cp /usr/lib/rpm/rpmrc "$r/usr/lib/rpm/rpmrc"
cat > "$r/usr/lib64/python2.7/ssl.py" <<'EOF'
# Wrapper module for _ssl, providing some additional facilities
# implemented in Python.  Written by Bill Janssen.

import _ssl
EOF
printf 'set default="0"\n' > "$r/boot/grub2/grub.cfg"

clamp_times "$r"
mkxfs "$r" "$work/root.img" 48 "$root_uuid" "" "${xfs_el7_opts[@]}"
disk=$work/rhel7.raw
truncate -s $(( (2048 + 48 * 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<'EOF'
label: dos
label-id: 0x000c1a0d
start=2048, type=83, bootable
EOF
put "$work/root.img" "$disk" 2048
qemu-img convert -c -f raw -O qcow2 -o compat=0.10 "$disk" "$img"
rpm_qa "$r/var/lib/rpm" bdb_ro > "$img.rpm-qa.txt"
cmp "$img.rpm-qa.txt" "$(fixture rpmdb-distros)/rhel7/rpm-qa.txt"
rm -rf "$work"

os_reference "$img"
grep -q '<distro>rhel</distro>' "$img.inspector.xml"
