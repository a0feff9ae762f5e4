# LUKS-encrypted Debian-like guests, and what virt-inspector reports when given their keys.
#
#   luks2-lvm.img   raw, MBR: sda1 ext2 /boot (plain), sda2 LUKS2 (aes-xts-plain64 with a 512-bit
#                   key; keyslot 0 PBKDF2-sha256, keyslot 1 Argon2id with 16 MiB and 4 passes)
#                   holding an LVM PV of VG "vgluks" with LV "root" (ext4 /) - LVM on LUKS, as
#                   Debian's and Fedora's installers lay out full-disk encryption. fstab by UUID=.
#   luks1-part.img  raw, MBR: sda1 LUKS1 (PBKDF2-sha256, aes-xts-plain64, 256-bit key) holding
#                   ext4 /, sda2 LUKS1 (PBKDF2-sha1, aes-cbc-essiv:sha256) holding ext4 /srv -
#                   filesystems straight on LUKS partitions. fstab by UUID=.
#
# The LUKS headers are written on the build host by `cryptsetup luksFormat` on plain files (with
# small KDF costs so tests stay fast); the encrypted areas are filled in one guestfish session
# (cryptsetup open, LVM, `upload` of ext4 images made with mke2fs -d).
#
# luksFormat gives LUKS2 on a file 4096-byte encryption sectors, so the decrypted device and the
# LV on it have 4096-byte logical blocks: the kernel mounts no ext4 with smaller blocks there
# ("bad block size 1024"), so that root filesystem is made with 4096-byte blocks, as an installer
# would make it.
#
# Keys: passphrase "correct horse battery" for every device; luks2-lvm's Argon2id keyslot takes
# "second slot"; keyfile.txt holds the passphrase of luks1-part's sda2 ("sda2 pass phrase") on
# its first line, as `--key DEVICE:file:PATH` reads it.
#
# References: IMAGE.inspector.xml from `virt-inspector --key ...` (keys.txt lists the --key
# arguments used for each image).
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
pass='correct horse battery'
pass2='second slot'
pass_sda2='sda2 pass phrase'
printf '%s' "$pass" > "$work/pass"
printf '%s' "$pass2" > "$work/pass2"
printf '%s' "$pass_sda2" > "$work/pass_sda2"
printf '%s\nignored second line\n' "$pass_sda2" > "$out/keyfile.txt"

# root DIR HOSTNAME FSTAB: a small Debian 12 root: release files, host name, fstab, a real x86_64
# ELF for the architecture, and a dpkg status of three packages.
root() {
  local r=$1
  mkdir -p "$r/etc" "$r/bin" "$r/usr/bin" "$r/var/lib/dpkg" "$r/boot" "$r/srv" "$r/tmp" "$r/root"
  echo '12.4' > "$r/etc/debian_version"
  cat > "$r/etc/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
  echo "$2" > "$r/etc/hostname"
  printf '%s' "$3" > "$r/etc/fstab"
  cp /bin/ls "$r/bin/ls"
  cp /bin/ls "$r/usr/bin/env"
  cat > "$r/var/lib/dpkg/status" <<'EOF'
Package: base-files
Status: install ok installed
Priority: required
Section: admin
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u4
Description: Debian base system miscellaneous files

Package: cryptsetup
Status: install ok installed
Priority: optional
Section: admin
Maintainer: Debian Cryptsetup Team <pkg-cryptsetup-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 2:2.6.1-4~deb12u2
Description: disk encryption support - startup scripts

Package: lvm2
Status: install ok installed
Priority: optional
Section: admin
Maintainer: Debian LVM Team <team+lvm@tracker.debian.org>
Architecture: amd64
Version: 2.03.16-2
Description: Linux Logical Volume Manager

EOF
}

boot_uuid=0b0e0b0e-1111-4a4a-8b8b-000000000001
root2_uuid=0b0e0b0e-2222-4a4a-8b8b-000000000002
root1_uuid=0b0e0b0e-3333-4a4a-8b8b-000000000003
srv_uuid=0b0e0b0e-4444-4a4a-8b8b-000000000004
luks2_uuid=5a5a0002-0000-4000-8000-00000000a002
luks1a_uuid=5a5a0001-0000-4000-8000-00000000a001
luks1b_uuid=5a5a0001-0000-4000-8000-00000000b001

# --- luks2-lvm.img: /boot plain on sda1, LVM on LUKS2 on sda2.
r=$work/root2
root "$r" luks2-lvm "$(printf 'UUID=%s\t/\text4\terrors=remount-ro 0 1\nUUID=%s\t/boot\text2\tdefaults 0 2\n' "$root2_uuid" "$boot_uuid")"
echo "options cryptdevice=UUID=$luks2_uuid" > "$r/etc/kernel-cmdline"
printf 'sda2_crypt UUID=%s none luks,discard\n' "$luks2_uuid" > "$r/etc/crypttab"
mkext ext4 "$r" "$work/root2.ext4" 24 "$root2_uuid" root -b 4096
mkdir -p "$work/boot"
echo 'not a kernel' > "$work/boot/vmlinuz-6.1.0-13-amd64"
mkext ext2 "$work/boot" "$work/boot.ext2" 8 "$boot_uuid" boot

img2=$out/luks2-lvm.img
truncate -s 80M "$img2"
printf 'label: dos\nlabel-id: 0x5a5a0002\n2048,16384,83,*\n18432,,8e\n' | sfdisk -q "$img2"
truncate -s $(( (163840 - 18432) * 512 )) "$work/sda2"
cryptsetup luksFormat --batch-mode --type luks2 --uuid "$luks2_uuid" \
  --cipher aes-xts-plain64 --key-size 512 --hash sha256 \
  --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$work/pass" "$work/sda2"
put "$work/boot.ext2" "$img2" 2048
put "$work/sda2" "$img2" 18432

# --- luks1-part.img: / on LUKS1 sda1 (xts), /srv on LUKS1 sda2 (cbc-essiv).
r=$work/root1
root "$r" luks1-part "$(printf 'UUID=%s\t/\text4\terrors=remount-ro 0 1\nUUID=%s\t/srv\text4\tdefaults 0 2\n' "$root1_uuid" "$srv_uuid")"
mkext ext4 "$r" "$work/root1.ext4" 24 "$root1_uuid" root
mkdir -p "$work/srv"
echo 'served' > "$work/srv/index.html"
mkext ext4 "$work/srv" "$work/srv.ext4" 8 "$srv_uuid" srv

img1=$out/luks1-part.img
truncate -s 64M "$img1"
printf 'label: dos\nlabel-id: 0x5a5a0001\n2048,98304,83,*\n100352,,83\n' | sfdisk -q "$img1"
truncate -s $(( 98304 * 512 )) "$work/sda1"
truncate -s $(( (131072 - 100352) * 512 )) "$work/part1b"
cryptsetup luksFormat --batch-mode --type luks1 --uuid "$luks1a_uuid" \
  --cipher aes-xts-plain64 --key-size 256 --hash sha256 --pbkdf-force-iterations 1000 \
  --key-file "$work/pass" "$work/sda1"
cryptsetup luksFormat --batch-mode --type luks1 --uuid "$luks1b_uuid" \
  --cipher aes-cbc-essiv:sha256 --key-size 256 --hash sha1 --pbkdf-force-iterations 1000 \
  --key-file "$work/pass_sda2" "$work/part1b"
put "$work/sda1" "$img1" 2048
put "$work/part1b" "$img1" 100352

# One appliance: open each LUKS device, lay out LVM, write the filesystems, close everything.
# The devices are opened by cryptsetup with key files (on a scratch disk) and named by their LUKS
# UUIDs: inside the appliance the kernel's /dev/sdX names follow the order in which the disks
# were probed, which changes from one launch to the next (libguestfs's own calls translate the
# names; a shell does not). guestfish's own key prompt (--keys-from-stdin) reads no key when its
# commands come from a file.
truncate -s 8M "$work/scratch"
cat > "$work/fill.gf" <<EOF
add $img2 format:raw
add $img1 format:raw
add $work/scratch format:raw
run
mkfs ext2 /dev/sdc
mount /dev/sdc /
upload $work/pass /k1
upload $work/pass_sda2 /k2
debug sh "udevadm settle && cryptsetup open --key-file /sysroot/k1 /dev/disk/by-uuid/$luks2_uuid fill2"
pvcreate /dev/mapper/fill2
vgcreate vgluks /dev/mapper/fill2
lvcreate root vgluks 32
upload $work/root2.ext4 /dev/vgluks/root
vg-activate false vgluks
debug sh "cryptsetup close fill2 && cryptsetup open --key-file /sysroot/k1 /dev/disk/by-uuid/$luks1a_uuid fill1a"
upload $work/root1.ext4 /dev/mapper/fill1a
debug sh "cryptsetup close fill1a && cryptsetup open --key-file /sysroot/k2 /dev/disk/by-uuid/$luks1b_uuid fill1b"
upload $work/srv.ext4 /dev/mapper/fill1b
debug sh "cryptsetup close fill1b && sync"
shutdown
EOF
timeout 1800 guestfish -f "$work/fill.gf" > "$out/guestfish.log" 2>&1 \
  || { cat "$out/guestfish.log" >&2; exit 1; }
if grep -q 'error' "$out/guestfish.log"; then cat "$out/guestfish.log" >&2; exit 1; fi

# The Argon2id keyslot is added on the build host after filling (16 MiB of Argon2 memory is
# cheap there; the appliance has 1.2 GiB for everything).
dd if="$img2" of="$work/sda2" bs=512 skip=18432 status=none
cryptsetup luksAddKey --batch-mode --key-file "$work/pass" --pbkdf argon2id \
  --pbkdf-memory 16384 --pbkdf-force-iterations 4 --pbkdf-parallel 1 "$work/sda2" "$work/pass2"
cryptsetup luksDump "$work/sda2" > "$out/luks2-lvm.sda2.luksDump"
put "$work/sda2" "$img2" 18432

{
  echo "luks2-lvm.img --key /dev/sda2:key:$pass"
  echo "luks1-part.img --key /dev/sda1:key:$pass --key /dev/sda2:file:keyfile.txt"
} > "$out/keys.txt"
timeout 2400 virt-inspector --no-icon -a "$img2" --key "/dev/sda2:key:$pass" \
  > "$img2.inspector.xml.tmp"
mv "$img2.inspector.xml.tmp" "$img2.inspector.xml"
check_xml "$img2.inspector.xml"
timeout 2400 virt-inspector --no-icon -a "$img1" --key "/dev/sda1:key:$pass" \
  --key "/dev/sda2:file:$out/keyfile.txt" > "$img1.inspector.xml.tmp"
mv "$img1.inspector.xml.tmp" "$img1.inspector.xml"
check_xml "$img1.inspector.xml"
rm -rf "$work"
