# An AlmaLinux 9.3 guest laid out like AlmaLinux's GenericCloud image, as a monolithicSparse VMDK
# (alma9-like.vmdk): GPT with sda1 BIOS boot, sda2 EFI system partition (FAT16), sda3 /boot XFS,
# sda4 / XFS; fstab by UUID= (the ESP by its FAT volume id).
#   release files       AlmaLinux 9.3's /etc/os-release (ID="almalinux"), /etc/almalinux-release
#                       "AlmaLinux release 9.3 (Shamrock Pink)" with /etc/redhat-release and
#                       /etc/system-release linking to it
#   /bin -> usr/bin     and /usr/bin/bash a real x86_64 ELF
#   /var/lib/rpm/rpmdb.sqlite
#                       SQLite rpmdb (EL 9 keeps it under /var/lib/rpm), rpmdb-distros alma9
# libguestfs 1.48 knows no AlmaLinux: it takes the distro from /etc/redhat-release as
# "redhat-based"; imgprep says "almalinux" (a deliberate difference the differential test names).
# References: alma9-like.vmdk.inspector.xml, .rpm-qa.txt.
# needs: rpmdb-distros os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/alma9-like.vmdk
boot_uuid=3d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2
root_uuid=4e5f6071-8293-44a5-b6c7-d8e9f0a1b2c3
esp_id=A1B2C3D4
esp_uuid=A1B2-C3D4

r=$work/root
fhs_dirs "$r"
merged_usr "$r"
cp /bin/bash "$r/usr/bin/bash"
ln -s bash "$r/usr/bin/sh"
mkdir -p "$r/usr/lib/rpm" "$r/var/lib/rpm" "$r/boot/efi"
echo 'AlmaLinux release 9.3 (Shamrock Pink)' > "$r/etc/almalinux-release"
ln -s almalinux-release "$r/etc/redhat-release"
ln -s almalinux-release "$r/etc/system-release"
echo 'cpe:/o:almalinux:almalinux:9::baseos' > "$r/etc/system-release-cpe"
cat > "$r/etc/os-release" <<'EOF'
NAME="AlmaLinux"
VERSION="9.3 (Shamrock Pink)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.3 (Shamrock Pink)"
ANSI_COLOR="0;34"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:almalinux:almalinux:9::baseos"
HOME_URL="https://almalinux.org/"
DOCUMENTATION_URL="https://wiki.almalinux.org/"
BUG_REPORT_URL="https://bugs.almalinux.org/"

ALMALINUX_MANTISBT_PROJECT="AlmaLinux-9"
ALMALINUX_MANTISBT_PROJECT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="AlmaLinux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
EOF
echo 'alma9-golden' > "$r/etc/hostname"
printf '127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n' \
  > "$r/etc/hosts"
cat > "$r/etc/fstab" <<EOF
UUID=$root_uuid /                       xfs     defaults        0 0
UUID=$boot_uuid /boot                   xfs     defaults        0 0
UUID=$esp_uuid          /boot/efi               vfat    defaults,uid=0,gid=0,umask=077,shortname=winnt 0 2
EOF
cp "$(fixture rpmdb-distros)/alma9/rpmdb.sqlite" "$r/var/lib/rpm/rpmdb.sqlite"
printf '%%_usr\t\t\t/usr\n%%_var\t\t\t/var\n%%_dbpath\t\t%%{_var}/lib/rpm\n%%_db_backend\t\tsqlite\n' \
  > "$r/usr/lib/rpm/macros"
# rpm's rpmrc: libguestfs 1.48 lists packages with librpm chrooted into the guest, which reads
# no macros (so finds no database) when the guest has no rpmrc.
cp /usr/lib/rpm/rpmrc "$r/usr/lib/rpm/rpmrc"
printf '#!/usr/bin/python3\nimport dnf.cli.main\n' > "$r/usr/bin/dnf-3"
chmod 755 "$r/usr/bin/dnf-3"
ln -s dnf-3 "$r/usr/bin/dnf"

b=$work/boot
mkdir -p "$b/grub2" "$b/loader/entries" "$b/efi"
printf 'set default=0\nblscfg\n' > "$b/grub2/grub.cfg"
printf 'not a kernel\n' > "$b/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"
e=$work/esp
mkdir -p "$e/EFI/almalinux" "$e/EFI/BOOT"
printf 'MZ not an EFI binary\n' > "$e/EFI/BOOT/BOOTX64.EFI"

clamp_times "$r"
clamp_times "$b"
clamp_times "$e"
mkxfs "$b" "$work/boot.img" 32 "$boot_uuid" ""
mkxfs "$r" "$work/root.img" 48 "$root_uuid" ""
mkfs.vfat -F 16 -i "$esp_id" -C "$work/esp.img" $((16 * 1024)) >/dev/null
mcopy -s -m -i "$work/esp.img" "$e/EFI" ::/

disk=$work/alma9.raw
# sda1 BIOS boot 1 MiB, sda2 ESP 16 MiB, sda3 /boot 32 MiB, sda4 / 48 MiB
truncate -s $(( (2048 + 2048 + 32768 + 65536 + 98304 + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
label-id: A1A9A1A9-0903-4A1A-9A1A-A1A9A1A9A1A9
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=A1A90000-0000-4000-8000-000000000001
start=4096, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=A1A90000-0000-4000-8000-000000000002, name="EFI System Partition"
start=36864, size=65536, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=A1A90000-0000-4000-8000-000000000003
start=102400, size=98304, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=A1A90000-0000-4000-8000-000000000004
EOF
put "$work/esp.img" "$disk" 4096
put "$work/boot.img" "$disk" 36864
put "$work/root.img" "$disk" 102400
qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$disk" "$img"
rpm_qa "$r/var/lib/rpm" > "$img.rpm-qa.txt"
cmp "$img.rpm-qa.txt" "$(fixture rpmdb-distros)/alma9/rpm-qa.txt"
rm -rf "$work"

os_reference "$img"
grep -q '<product_name>AlmaLinux release 9.3 (Shamrock Pink)</product_name>' "$img.inspector.xml"
