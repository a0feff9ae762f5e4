# A hardened Debian 12 golden image for `imgprep prepare`, as a compressed qcow2
# (prepare-debian.qcow2): a real `debootstrap --variant=minbase` root with the programs prepare
# runs in the appliance (dpkg, sudo/visudo, update-ca-certificates, systemd's units) and the
# userland the agent bundles are built in (python3 with venv and headers, gcc), hardened the way
# CIS images are: umask 077 in login.defs, /etc/profile and /etc/bash.bashrc, no agent, no
# agent account, sudo without an includedir for /etc/sudoers.d commented out as some vendors do.
# One MBR partition (ext4, LABEL=root). Also written:
#   packages/        real .deb files for `--package` (net-tools, libssl-dev and what they need
#                    that the image lacks), downloaded from the Debian mirror at build time
#   ca.pem           a CA certificate (Ed25519, fixed seed) for `--param ca=`
# Exercises: prepare's Linux actions end to end (inject-worker, sudoers with account creation,
# scoped-umask, install-package, install-ca, enable-service) and bundle --image.
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
mirror=$(debian_mirror)

root=$work/root
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,sudo,ca-certificates,openssl,python3,python3-venv,python3-dev,gcc,libc6-dev \
  bookworm "$root" "$mirror"

# The packages `--package` installs (net-tools, libssl-dev and what they need that the image
# lacks), downloaded by the image's own apt; its lists and archives are removed below.
printf 'deb %s bookworm main\n' "$mirror" > "$root/etc/apt/sources.list"
chroot "$root" apt-get -qq update
rm -f "$root"/var/cache/apt/archives/*.deb
chroot "$root" apt-get -qq -y --download-only install net-tools libssl-dev >/dev/null
mkdir -p "$out/packages"
cp "$root"/var/cache/apt/archives/*.deb "$out/packages/"
ls "$out/packages" > "$out/packages.txt"
grep -q '^net-tools_' "$out/packages.txt"
grep -q '^libssl-dev_' "$out/packages.txt"

# Leave out what only a running system or the build host puts there.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/var/cache/apt/*.bin "$root"/var/log/* "$root"/debootstrap
find "$root/dev" -mindepth 1 -delete
rm -f "$root"/etc/hostname "$root"/etc/hosts "$root"/etc/resolv.conf "$root"/etc/machine-id
printf 'golden-hardened\n' > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgolden-hardened\n' > "$root/etc/hosts"
printf 'uninitialized\n' > "$root/etc/machine-id"
cat > "$root/etc/fstab" <<'FSTAB'
LABEL=root  /  ext4  errors=remount-ro  0  1
FSTAB

# Hardening: a restrictive umask everywhere a login or a root shell reads one.
sed -i 's/^UMASK[[:space:]].*/UMASK\t\t077/' "$root/etc/login.defs"
printf '\n# CIS 5.5.5: default user umask\numask 077\n' >> "$root/etc/profile"
printf '\n# CIS 5.5.5: default user umask\numask 077\n' >> "$root/etc/bash.bashrc"
# Some vendors ship sudoers with the includedir line commented out.
sed -i 's|^@includedir /etc/sudoers.d|#@includedir /etc/sudoers.d (disabled by hardening)|' \
  "$root/etc/sudoers"
grep -q 'disabled by hardening' "$root/etc/sudoers"

# A CA the image does not trust yet: Ed25519 from a fixed seed.
{
  printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20'
  for i in $(seq 32); do printf '\x42'; done
} > "$work/ca-key.der"
openssl pkey -inform DER -in "$work/ca-key.der" -out "$work/ca-key.pem"
openssl req -x509 -key "$work/ca-key.pem" -subj "/O=imgprep tests/CN=bundle store CA" \
  -days 3650 -set_serial 4242 -addext basicConstraints=critical,CA:true -out "$out/ca.pem"

uuid=7e1d5c3b-9a2f-4b8e-8c6d-5f4e3a2b1c0d
mib=$(( $(size_mib "$root") + 256 ))
mkext ext4 "$root" "$work/root.img" "$mib" "$uuid" root -b 4096
disk=$work/disk.raw
truncate -s $(( (2048 + mib * 2048 + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<SFDISK
label: dos
label-id: 0x5eed1234
start=2048, size=$((mib * 2048)), type=83, bootable
SFDISK
put "$work/root.img" "$disk" 2048
qemu-img convert -q -c -f raw -O qcow2 "$disk" "$out/prepare-debian.qcow2"
rm -rf "$work"
