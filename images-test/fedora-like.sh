# A Fedora 38 Cloud guest laid out as the Fedora images are, as a compressed qcow2
# (fedora-like.qcow2): GPT with sda1 BIOS boot, sda2 EFI system partition (FAT16), sda3 /boot
# ext4, sda4 btrfs (label fedora) whose subvolumes root and home are / and /home; the default
# subvolume stays the top level. The subvolumes are made and filled by the kernel in one guestfish
# appliance (mkfs.btrfs 6.2 cannot make subvolumes); everything else is built on the host.
#   /etc/fstab          as Fedora writes it: UUID= for everything, subvol=root and subvol=home
#                       with compress=zstd:1, the ESP by its FAT volume id
#   release files       Fedora 38 Cloud Edition's /usr/lib/os-release (/etc/os-release links to
#                       it), /etc/fedora-release with redhat-release and system-release links
#   rpm database        SQLite at /usr/lib/sysimage/rpm/rpmdb.sqlite with
#                       /var/lib/rpm -> ../../usr/lib/sysimage/rpm (Fedora 36+), rpmdb-distros
#                       fedora38; /usr/bin/dnf -> dnf-3, so package management is dnf. The
#                       database is in SQLite's rollback-journal mode: libguestfs 1.48 opens it
#                       from a read-only mount, where SQLite cannot open a WAL-mode database
#                       whose -shm file is gone (as rpm leaves it), and virt-inspector then fails
# References: fedora-like.qcow2.inspector.xml, .rpm-qa.txt.
# needs: rpmdb-distros os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/fedora-like.qcow2

btrfs_uuid=9e8d7c6b-5a49-4382-a716-0f1e2d3c4b5a
boot_uuid=8f7e6d5c-4b3a-4291-8807-f6e5d4c3b2a1
esp_id=7B7795E7
esp_uuid=7B77-95E7

r=$work/root
fhs_dirs "$r"
merged_usr "$r"
cp /bin/bash "$r/usr/bin/bash"
ln -s bash "$r/usr/bin/sh"
mkdir -p "$r/usr/lib/sysimage/rpm" "$r/usr/lib/rpm" "$r/boot/efi" "$r/etc/cloud"
rmdir "$r/home"
mkdir "$r/home"
cat > "$r/usr/lib/os-release" <<'EOF'
NAME="Fedora Linux"
VERSION="38 (Cloud Edition)"
ID=fedora
VERSION_ID=38
VERSION_CODENAME=""
PLATFORM_ID="platform:f38"
PRETTY_NAME="Fedora Linux 38 (Cloud Edition)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:38"
DEFAULT_HOSTNAME="fedora"
HOME_URL="https://fedoraproject.org/"
DOCUMENTATION_URL="https://docs.fedoraproject.org/en-US/fedora/f38/system-administrators-guide/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=38
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=38
SUPPORT_END=2024-05-14
VARIANT="Cloud Edition"
VARIANT_ID=cloud
EOF
ln -s ../usr/lib/os-release "$r/etc/os-release"
echo 'Fedora release 38 (Thirty Eight)' > "$r/etc/fedora-release"
ln -s fedora-release "$r/etc/redhat-release"
ln -s fedora-release "$r/etc/system-release"
echo 'fedora38-golden' > "$r/etc/hostname"
printf '127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n' \
  > "$r/etc/hosts"
cat > "$r/etc/fstab" <<EOF

#
# /etc/fstab
# Created by anaconda on Tue Apr 11 08:33:12 2023
#
# Accessible filesystems, by reference, are maintained under '/dev/disk/'.
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info.
#
# After editing this file, run 'systemctl daemon-reload' to update systemd
# units generated from this file.
#
UUID=$btrfs_uuid /                       btrfs   subvol=root,compress=zstd:1 0 0
UUID=$boot_uuid /boot                   ext4    defaults        1 2
UUID=$esp_uuid          /boot/efi               vfat    umask=0077,shortname=winnt 0 2
UUID=$btrfs_uuid /home                   btrfs   subvol=home,compress=zstd:1 0 0
EOF
cp "$(fixture rpmdb-distros)/fedora38/rpmdb.sqlite" "$r/usr/lib/sysimage/rpm/rpmdb.sqlite"
ln -s ../../usr/lib/sysimage/rpm "$r/var/lib/rpm"
printf '%%_usr\t\t\t/usr\n%%_var\t\t\t/var\n%%_dbpath\t\t%%{_usr}/lib/sysimage/rpm\n%%_db_backend\t\tsqlite\n' \
  > "$r/usr/lib/rpm/macros"
# rpm's rpmrc: libguestfs 1.48 lists packages with librpm chrooted into the guest, which reads
# no macros (so finds no database) when the guest has no rpmrc.
cp /usr/lib/rpm/rpmrc "$r/usr/lib/rpm/rpmrc"
printf '#!/usr/bin/python3\nimport dnf.cli.main\n' > "$r/usr/bin/dnf-3"
chmod 755 "$r/usr/bin/dnf-3"
ln -s dnf-3 "$r/usr/bin/dnf"
ln -s python3.11 "$r/usr/bin/python3"
printf '\177ELF' > "$r/usr/bin/python3.11"
chmod 755 "$r/usr/bin/python3.11"
printf 'datasource_list: [ NoCloud, ConfigDrive, Ec2, None ]\n' > "$r/etc/cloud/cloud.cfg"

h=$work/home
mkdir -p "$h/fedora"
printf '# .bashrc\n' > "$h/fedora/.bashrc"
chown -R 1000:1000 "$h/fedora"
chmod 700 "$h/fedora"

b=$work/boot
mkdir -p "$b/grub2" "$b/loader/entries" "$b/efi"
printf 'set default=0\nblscfg\n' > "$b/grub2/grub.cfg"
printf 'title Fedora Linux (6.2.9-300.fc38.x86_64) 38 (Cloud Edition)\nversion 6.2.9-300.fc38.x86_64\nlinux /vmlinuz-6.2.9-300.fc38.x86_64\noptions root=UUID=%s ro rootflags=subvol=root\n' \
  "$btrfs_uuid" > "$b/loader/entries/0123456789abcdef0123456789abcdef-6.2.9-300.fc38.x86_64.conf"
printf 'not a kernel\n' > "$b/vmlinuz-6.2.9-300.fc38.x86_64"

e=$work/esp
mkdir -p "$e/EFI/fedora" "$e/EFI/BOOT"
printf 'search --no-floppy --fs-uuid --set=dev %s\nset prefix=($dev)/grub2\nconfigfile $prefix/grub.cfg\n' \
  "$boot_uuid" > "$e/EFI/fedora/grub.cfg"
printf 'MZ not an EFI binary\n' > "$e/EFI/BOOT/BOOTX64.EFI"

clamp_times "$r"
clamp_times "$h"
clamp_times "$b"
clamp_times "$e"
mkext ext4 "$b" "$work/boot.img" 32 "$boot_uuid" "" -b 4096
mkfs.vfat -F 16 -i "$esp_id" -C "$work/esp.img" $((16 * 1024)) >/dev/null
mcopy -s -m -i "$work/esp.img" "$e/EFI" ::/
tar --numeric-owner --sort=name -C "$r" -cf "$work/root.tar" .
tar --numeric-owner --sort=name -C "$h" -cf "$work/home.tar" .
truncate -s 128M "$work/btrfs.img"
mkfs.btrfs -q -f -L fedora -U "$btrfs_uuid" -m single -d single "$work/btrfs.img"
cat > "$work/guestfish.cmds" <<EOF
add $work/btrfs.img format:raw
run
mount /dev/sda /
btrfs-subvolume-create /root
btrfs-subvolume-create /home
tar-in $work/root.tar /root xattrs:false
tar-in $work/home.tar /home xattrs:false
umount /
EOF
timeout 1800 guestfish --no-progress-bars -f "$work/guestfish.cmds"

disk=$work/fedora.raw
# sda1 BIOS boot 1 MiB, sda2 ESP 16 MiB, sda3 /boot 32 MiB, sda4 btrfs 128 MiB
truncate -s $(( (2048 + 2048 + 32768 + 65536 + 262144 + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
label-id: 38F3C3A5-6E6A-4B8E-9D36-F3D8A1C0E538
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=11C5A9D0-1F38-4A1E-8F38-0A1B2C3D4E01
start=4096, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=11C5A9D0-1F38-4A1E-8F38-0A1B2C3D4E02, name="EFI System Partition"
start=36864, size=65536, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=11C5A9D0-1F38-4A1E-8F38-0A1B2C3D4E03
start=102400, size=262144, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=11C5A9D0-1F38-4A1E-8F38-0A1B2C3D4E04
EOF
put "$work/esp.img" "$disk" 4096
put "$work/boot.img" "$disk" 36864
put "$work/btrfs.img" "$disk" 102400
qemu-img convert -c -f raw -O qcow2 "$disk" "$img"
rpm_qa "$r/usr/lib/sysimage/rpm" > "$img.rpm-qa.txt"
cmp "$img.rpm-qa.txt" "$(fixture rpmdb-distros)/fedora38/rpm-qa.txt"
rm -rf "$work"

os_reference "$img"
grep -q '<distro>fedora</distro>' "$img.inspector.xml"
grep -q '<package_management>dnf</package_management>' "$img.inspector.xml"
