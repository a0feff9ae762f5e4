# The demo image of the README's first command, small enough to commit (images-test/demo/, copied
# there by images-test/update-demo): a minimal Debian 12 root on a GPT disk, one ext4 partition
# (1 KiB blocks), compressed qcow2. It holds Debian 12's real release files, the first 20
# paragraphs of the debian-root fixture's dpkg status file, real /usr/bin/bash and /usr/bin/ls
# (/bin -> usr/bin), hostname `demo`, and an /etc/login.defs with UMASK 077 so that the umask
# rule has something to fail.
# The output is byte-for-byte the same on every build from the same debian-root tree (fixed
# UUIDs, GUIDs, hash seed, times).
# needs: debian-root
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
r=$work/root
uuid=de30de30-0000-4000-8000-0000000d3e01

mkdir -p "$r"/{etc,usr/bin,usr/lib,var/lib/dpkg,tmp,root,home,boot,dev,proc,sys,run}
chmod 1777 "$r/tmp"
chmod 0700 "$r/root"
ln -s usr/bin "$r/bin"
ln -s usr/lib "$r/lib"
tar --numeric-owner -xpf "$(fixture debian-root)/root.tar" -C "$r" \
  ./usr/bin/ls ./usr/bin/bash ./usr/lib/os-release ./etc/debian_version ./etc/passwd \
  ./etc/group ./etc/shadow ./etc/login.defs ./var/lib/dpkg/status
ln -s ../usr/lib/os-release "$r/etc/os-release"
awk 'BEGIN { RS = ""; ORS = "\n\n" } NR <= 20' "$r/var/lib/dpkg/status" > "$work/status"
cat "$work/status" > "$r/var/lib/dpkg/status"
sed -i 's/^UMASK[[:space:]].*/UMASK\t\t077/' "$r/etc/login.defs"
grep -q "$(printf '^UMASK\t\t077$')" "$r/etc/login.defs"
printf 'demo\n' > "$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdemo\n' > "$r/etc/hosts"
printf 'UUID=%s  /  ext4  errors=remount-ro  0  1\n' "$uuid" > "$r/etc/fstab"

mib=12
mkext ext4 "$r" "$work/root.img" "$mib" "$uuid" demo-root -b 1024 -J size=1
disk=$work/disk.raw
truncate -s $(( (2048 + mib * 2048 + 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
label-id: DE30DE30-0000-4000-8000-000000000D15
start=2048, size=$((mib * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=DE30DE30-0000-4000-8000-0000000D3E02, name="root"
EOF
put "$work/root.img" "$disk" 2048
qemu-img convert -c -f raw -O qcow2 "$disk" "$out/demo.qcow2"
rm -rf "$work"
reference "$out/demo.qcow2"
