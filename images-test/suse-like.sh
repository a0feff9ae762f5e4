# A SUSE Linux Enterprise Server 15 SP3 guest laid out like SUSE's kiwi-built cloud images, as a
# VHDX (suse-like.vhdx): GPT with sda1 "p.legacy" (BIOS boot), sda2 "p.UEFI" (FAT16, label EFI),
# sda3 "p.lxroot" XFS root; fstab mounts / by UUID= and the ESP by LABEL=.
#   release files       SLES 15 SP3's /usr/lib/os-release (/etc/os-release links to it)
#   /bin                a real directory (SLE 15 has no merged /usr), /bin/bash a real x86_64 ELF
#   rpm database        the NDB rpmdb of a real SLE 15 SP3 system (tests/data/rpmdb/ndb-sle15,
#                       35 packages) at /usr/lib/sysimage/rpm/Packages.db, with
#                       /var/lib/rpm -> ../../usr/lib/sysimage/rpm as SLE 15 SP3 has it
# References: suse-like.vhdx.inspector.xml, and .rpm-qa.txt: the package list of
# the database (tests/data/rpmdb/ndb-sle15/expected.txt; this host's rpm has no NDB backend).
# virt-inspector runs with --no-applications here: libguestfs 1.48 lists rpm packages with the
# appliance's librpm, built without NDB support, so listing them fails and virt-inspector with it.
# needs: os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/suse-like.vhdx
ndb=$(cd .. && pwd)/tests/data/rpmdb/ndb-sle15
root_uuid=4e5f6a7b-8c9d-4eaf-b0c1-d2e3f4a5b6c7

r=$work/root
fhs_dirs "$r"
mkdir -p "$r/bin" "$r/sbin" "$r/lib64" "$r/usr/bin" "$r/usr/lib/sysimage/rpm" "$r/usr/lib/rpm" \
  "$r/boot/efi" "$r/etc/zypp"
cp /bin/bash "$r/bin/bash"
ln -s bash "$r/bin/sh"
cat > "$r/usr/lib/os-release" <<'EOF'
NAME="SLES"
VERSION="15-SP3"
VERSION_ID="15.3"
PRETTY_NAME="SUSE Linux Enterprise Server 15 SP3"
ID="sles"
ID_LIKE="suse"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:suse:sles:15:sp3"
DOCUMENTATION_URL="https://documentation.suse.com/"
EOF
ln -s ../usr/lib/os-release "$r/etc/os-release"
echo 'sles15-golden' > "$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ipv6-localhost ipv6-loopback\n' > "$r/etc/hosts"
cat > "$r/etc/fstab" <<EOF
UUID=$root_uuid / xfs defaults 0 0
LABEL=EFI /boot/efi vfat defaults 0 0
EOF
cp "$ndb/Packages.db" "$r/usr/lib/sysimage/rpm/Packages.db"
ln -s ../../usr/lib/sysimage/rpm "$r/var/lib/rpm"
printf '%%_dbpath\t\t/usr/lib/sysimage/rpm\n%%_db_backend\t\tndb\n' > "$r/usr/lib/rpm/macros"
# rpm's rpmrc: libguestfs 1.48 lists packages with librpm chrooted into the guest, which reads
# no macros (so finds no database) when the guest has no rpmrc.
cp /usr/lib/rpm/rpmrc "$r/usr/lib/rpm/rpmrc"
printf '\177ELF' > "$r/usr/bin/zypper"
chmod 755 "$r/usr/bin/zypper"
printf '[main]\n' > "$r/etc/zypp/zypp.conf"

e=$work/esp
mkdir -p "$e/EFI/BOOT"
printf 'MZ not an EFI binary\n' > "$e/EFI/BOOT/bootx64.efi"
clamp_times "$r"
clamp_times "$e"
mkxfs "$r" "$work/root.img" 48 "$root_uuid" ROOT
mkfs.vfat -F 16 -i 5E15C0DE -n EFI -C "$work/esp.img" $((16 * 1024)) >/dev/null
mcopy -s -m -i "$work/esp.img" "$e/EFI" ::/

disk=$work/sles.raw
truncate -s $(( (2048 + 4096 + 32768 + 98304 + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
label-id: 5A1E5150-0F15-4E03-8D3E-15A5E15A5E15
start=2048, size=4096, type=21686148-6449-6E6F-744E-656564454649, uuid=5A1E5150-0F15-4E03-8D3E-000000000001, name="p.legacy"
start=6144, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=5A1E5150-0F15-4E03-8D3E-000000000002, name="p.UEFI"
start=38912, size=98304, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=5A1E5150-0F15-4E03-8D3E-000000000003, name="p.lxroot"
EOF
put "$work/esp.img" "$disk" 6144
put "$work/root.img" "$disk" 38912
qemu-img convert -f raw -O vhdx "$disk" "$img"
cp "$ndb/expected.txt" "$img.rpm-qa.txt"
rm -rf "$work"

vm_inspector "$img.inspector.xml" --no-applications -a "$img"
check_xml "$img.inspector.xml" application
grep -q '<distro>sles</distro>' "$img.inspector.xml"
