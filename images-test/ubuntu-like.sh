# The Debian 12 root dressed as Ubuntu: /usr/lib/os-release (which /etc/os-release links to),
# /etc/lsb-release, /etc/debian_version, /etc/issue and /etc/issue.net replaced by the real
# contents of two Ubuntu releases; the dpkg database stays Debian's. Two compressed qcow2 images:
#   ubuntu2204.qcow2  22.04.3 in the cloud-image layout: GPT with the root on sda1 placed AFTER
#                     sda14 (BIOS boot) and sda15 (ESP, FAT16, label UEFI); fstab by LABEL=
#                     (cloudimg-rootfs, UEFI) as the cloud images write it
#   ubuntu1604.qcow2  16.04.7: MBR, one partition sda1 (label cloudimg-rootfs), fstab by LABEL=
# Exercises: distro detection from os-release ID=ubuntu (and lsb-release), version 22.04 / 16.04,
# osinfo ubuntu22.04 / ubuntu16.04, GPT partition numbers out of disk order, FAT16.
# needs: debian-root
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

# dress ROOT VERSION POINT CODENAME NAME: the release files of Ubuntu VERSION.POINT.
dress() {
  local r=$1 ver=$2 point=$3 code=$4 name=$5
  if [ "$ver" = 22.04 ]; then
    cat > "$r/usr/lib/os-release" <<EOF
PRETTY_NAME="Ubuntu $ver.$point LTS"
NAME="Ubuntu"
VERSION_ID="$ver"
VERSION="$ver.$point LTS ($name)"
VERSION_CODENAME=$code
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=$code
EOF
    echo 'bookworm/sid' > "$r/etc/debian_version"
  else
    cat > "$r/usr/lib/os-release" <<EOF
NAME="Ubuntu"
VERSION="$ver.$point LTS ($name)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu $ver.$point LTS"
VERSION_ID="$ver"
HOME_URL="http://www.ubuntu.com/"
SUPPORT_URL="http://help.ubuntu.com/"
BUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/"
VERSION_CODENAME=$code
UBUNTU_CODENAME=$code
EOF
    echo 'stretch/sid' > "$r/etc/debian_version"
  fi
  cat > "$r/etc/lsb-release" <<EOF
DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=$ver
DISTRIB_CODENAME=$code
DISTRIB_DESCRIPTION="Ubuntu $ver.$point LTS"
EOF
  printf 'Ubuntu %s.%s LTS \\n \\l\n\n' "$ver" "$point" > "$r/etc/issue"
  printf 'Ubuntu %s.%s LTS\n' "$ver" "$point" > "$r/etc/issue.net"
  [ -L "$r/etc/os-release" ] || { echo "expected /etc/os-release to be a link" >&2; exit 1; }
}

# Ubuntu 22.04, cloud-image layout.
r=$work/u2204
unpack_root "$r"
dress "$r" 22.04 3 jammy "Jammy Jellyfish"
printf 'golden-u2204\n' > "$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgolden-u2204\n' > "$r/etc/hosts"
mkdir -p "$r/boot/efi"
printf 'LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,errors=remount-ro\t0 1\n' > "$r/etc/fstab"
printf 'LABEL=UEFI\t/boot/efi\tvfat\tumask=0077\t0 1\n' >> "$r/etc/fstab"
mib=$(size_mib "$r")
mkext ext4 "$r" "$work/u2204.img" "$mib" 9d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6 cloudimg-rootfs \
  -b 4096
mkdir -p "$work/esp/EFI/ubuntu"
printf 'search.fs_label cloudimg-rootfs root\nconfigfile ($root)/boot/grub/grub.cfg\n' \
  > "$work/esp/EFI/ubuntu/grub.cfg"
clamp_times "$work/esp"
mkfs.vfat -F 16 -i 5A1B2C3D -n UEFI -C "$work/esp.img" $((16 * 1024)) >/dev/null
mcopy -s -m -i "$work/esp.img" "$work/esp/EFI" ::/
disk=$work/u2204.raw
root_start=$((2048 + 8192 + 16 * 2048))
truncate -s $(( (root_start + mib * 2048 + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
label-id: 0A1B2C3D-4E5F-4061-8273-8495A6B7C8D9
${disk}1 : start=$root_start, size=$((mib * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=1B2C3D4E-5F60-4172-8384-95A6B7C8D9EA
${disk}14 : start=2048, size=8192, type=21686148-6449-6E6F-744E-656564454649, uuid=2C3D4E5F-6071-4283-9495-A6B7C8D9EAFB
${disk}15 : start=10240, size=$((16 * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=3D4E5F60-7182-4394-A5A6-B7C8D9EAFB0C
EOF
put "$work/esp.img" "$disk" 10240
put "$work/u2204.img" "$disk" "$root_start"
qemu-img convert -c -f raw -O qcow2 "$disk" "$out/ubuntu2204.qcow2"
rm -rf "$r" "$disk" "$work/u2204.img" "$work/esp" "$work/esp.img"

# Ubuntu 16.04, one MBR partition.
r=$work/u1604
unpack_root "$r"
dress "$r" 16.04 7 xenial "Xenial Xerus"
printf 'golden-u1604\n' > "$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgolden-u1604\n' > "$r/etc/hosts"
printf 'LABEL=cloudimg-rootfs\t/\t ext4\tdefaults\t0 0\n' > "$r/etc/fstab"
mib=$(size_mib "$r")
mkext ext4 "$r" "$work/u1604.img" "$mib" ae1f2a3b-4c5d-4e6f-9071-8293a4b5c6d7 cloudimg-rootfs \
  -b 4096
disk=$work/u1604.raw
truncate -s $(( (2048 + mib * 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: dos
label-id: 0x7ac3e1f0
start=2048, size=$((mib * 2048)), type=83, bootable
EOF
put "$work/u1604.img" "$disk" 2048
qemu-img convert -c -f raw -O qcow2 "$disk" "$out/ubuntu1604.qcow2"
rm -rf "$work"

reference "$out/ubuntu2204.qcow2"
reference "$out/ubuntu1604.qcow2"
grep -q '<distro>ubuntu</distro>' "$out/ubuntu2204.qcow2.inspector.xml"
grep -q '<osinfo>ubuntu22.04</osinfo>' "$out/ubuntu2204.qcow2.inspector.xml"
grep -q '<osinfo>ubuntu16.04</osinfo>' "$out/ubuntu1604.qcow2.inspector.xml"
