# A CentOS 7.9 guest laid out as the CentOS 7 installer leaves it: MBR, /boot XFS on sda1, sda2 an
# LVM PV of VG centos holding LV root (XFS) and LV swap; XFS with the on-disk features of
# RHEL 7's mkfs.xfs (v5, no finobt/reflink/bigtime). centos7-like.qcow2 (compressed).
#   /etc/fstab          as anaconda writes it: /dev/mapper/centos-root, UUID= for /boot,
#                       /dev/mapper/centos-swap
#   release files       CentOS 7.9.2009's: /etc/centos-release, /etc/redhat-release and
#                       /etc/system-release (links to it), /etc/os-release -> ../usr/lib/os-release
#                       (VERSION_ID="7", so the minor version must come from centos-release)
#   /bin -> usr/bin     and /usr/bin/bash a real x86_64 ELF (copied from the build host)
#   /var/lib/rpm/Packages
#                       Berkeley DB rpmdb of real rpm headers named and versioned like CentOS
#                       7.9's packages (rpmdb-distros el7: python 2.7.5-90.el7, net-tools,
#                       openssl-devel 1:1.0.2k-25.el7_9, cloud-init, two kernels, glibc x86_64 and
#                       i686, a gpg-pubkey), and /usr/lib/rpm/macros naming its path
#   /usr/lib64/python2.7/ssl.py
#                       with `def create_default_context` (RHEL 7 back-ported Python 2.7.9's ssl)
# References: centos7-like.qcow2.inspector.xml, and .rpm-qa.txt (`rpm -qa` of the
# database put into the image: the package list reference).
# needs: lvm-skeletons rpmdb-distros os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/centos7-like.qcow2

boot_uuid=5b1a8c3e-2f4d-4e6a-9b7c-0d1e2f3a4b5c
root_uuid=6c2b9d4f-3a5e-4f7b-8c8d-1e2f3a4b5c6d
swap_uuid=7d3cae50-4b6f-4a8c-9d9e-2f3a4b5c6d7e

r=$work/root
fhs_dirs "$r"
merged_usr "$r"
cp /bin/bash "$r/usr/bin/bash"
ln -s bash "$r/usr/bin/sh"
mkdir -p "$r/etc/sysconfig" "$r/usr/lib/rpm" "$r/var/lib/rpm" "$r/usr/lib64/python2.7" \
  "$r/etc/cloud" "$r/etc/yum.repos.d"

echo 'CentOS Linux release 7.9.2009 (Core)' > "$r/etc/centos-release"
ln -s centos-release "$r/etc/redhat-release"
ln -s centos-release "$r/etc/system-release"
echo 'cpe:/o:centos:centos:7' > "$r/etc/system-release-cpe"
cat > "$r/usr/lib/os-release" <<'EOF'
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"

EOF
ln -s ../usr/lib/os-release "$r/etc/os-release"
echo 'centos7-golden' > "$r/etc/hostname"
cat > "$r/etc/hosts" <<'EOF'
127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4
::1         localhost localhost.localdomain localhost6 localhost6.localdomain6
EOF
echo '# Created by anaconda' > "$r/etc/sysconfig/network"
cat > "$r/etc/fstab" <<EOF

#
# /etc/fstab
# Created by anaconda on Thu Nov 16 10:12:45 2023
#
# Accessible filesystems, by reference, are maintained under '/dev/disk'
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info
#
/dev/mapper/centos-root /                       xfs     defaults        0 0
UUID=$boot_uuid /boot                   xfs     defaults        0 0
/dev/mapper/centos-swap swap                    swap    defaults        0 0
EOF
cat > "$r/etc/yum.conf" <<'EOF'
[main]
cachedir=/var/cache/yum/$basearch/$releasever
keepcache=0
debuglevel=2
logfile=/var/log/yum.log
exactarch=1
obsoletes=1
gpgcheck=1
plugins=1
installonly_limit=5
distroverpkg=centos-release
EOF
printf 'umask 022\n' > "$r/etc/profile"
cp "$(fixture rpmdb-distros)/el7/Packages" "$r/var/lib/rpm/Packages"
printf '%%_usr\t\t\t/usr\n%%_var\t\t\t/var\n%%_dbpath\t\t%%{_var}/lib/rpm\n' \
  > "$r/usr/lib/rpm/macros"
# rpm's rpmrc: libguestfs 1.48 lists packages with librpm chrooted into the guest, which reads
# no macros (so finds no database) when the guest has no rpmrc.
cp /usr/lib/rpm/rpmrc "$r/usr/lib/rpm/rpmrc"
cat > "$r/usr/lib64/python2.7/ssl.py" <<'EOF'
# Wrapper module for _ssl, providing some additional facilities
# implemented in Python.  Written by Bill Janssen.

import _ssl
from _ssl import OPENSSL_VERSION_NUMBER, OPENSSL_VERSION_INFO, OPENSSL_VERSION

def create_default_context(purpose=None, cafile=None, capath=None, cadata=None):
    """Create a SSLContext object with default settings."""
    raise NotImplementedError
EOF
ln -s python2 "$r/usr/bin/python"
ln -s python2.7 "$r/usr/bin/python2"
printf '\177ELF' > "$r/usr/bin/python2.7"
chmod 755 "$r/usr/bin/python2.7"
printf '#!/usr/bin/python\nimport yum\n' > "$r/usr/bin/yum"
chmod 755 "$r/usr/bin/yum"
printf 'datasource_list: [ NoCloud, ConfigDrive, OpenStack, None ]\n' > "$r/etc/cloud/cloud.cfg"

b=$work/boot
mkdir -p "$b/grub2"
cat > "$b/grub2/grub.cfg" <<EOF
set default="0"
menuentry 'CentOS Linux (3.10.0-1160.105.1.el7.x86_64) 7 (Core)' --class centos {
	search --no-floppy --fs-uuid --set=root $boot_uuid
	linux16 /vmlinuz-3.10.0-1160.105.1.el7.x86_64 root=/dev/mapper/centos-root ro rd.lvm.lv=centos/root rd.lvm.lv=centos/swap
	initrd16 /initramfs-3.10.0-1160.105.1.el7.x86_64.img
}
EOF
for k in 3.10.0-1160.el7.x86_64 3.10.0-1160.105.1.el7.x86_64; do
  printf 'not a kernel\n' > "$b/vmlinuz-$k"
  printf 'not an initramfs\n' > "$b/initramfs-$k.img"
  printf 'CONFIG_X86_64=y\n' > "$b/config-$k"
done

clamp_times "$r"
clamp_times "$b"
mkxfs "$b" "$work/boot.img" 32 "$boot_uuid" "" "${xfs_el7_opts[@]}"
mkxfs "$r" "$work/root.img" 64 "$root_uuid" "" "${xfs_el7_opts[@]}"
truncate -s 8M "$work/swap.img"
mkswap -U "$swap_uuid" "$work/swap.img" >/dev/null

disk=$work/centos7.raw
skeleton centos7.raw "$disk"
put "$work/boot.img" "$disk" "$(part_start centos7.raw 1)"
lvput "$work/root.img" centos/root "$work"
lvput "$work/swap.img" centos/swap "$work"
qemu-img convert -c -f raw -O qcow2 "$disk" "$img"
rpm_qa "$r/var/lib/rpm" bdb_ro > "$img.rpm-qa.txt"
cmp "$img.rpm-qa.txt" "$(fixture rpmdb-distros)/el7/rpm-qa.txt"
rm -rf "$work"

os_reference "$img"
grep -q '<distro>centos</distro>' "$img.inspector.xml"
grep -q '<minor_version>9</minor_version>' "$img.inspector.xml"
