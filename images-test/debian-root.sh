# A real Debian 12 (bookworm) root tree from `debootstrap --variant=minbase`, packed as
# root.tar (numeric owners, sorted names, mtimes clamped to SOURCE_DATE_EPOCH). Not an image:
# the disk image fixtures unpack it (lib.sh: unpack_root) and add their own /etc/fstab.
# Exercises nothing by itself; it gives the other fixtures a real dpkg status file (~90 packages),
# real ELF binaries, merged /usr symlinks and /etc/os-release -> ../usr/lib/os-release.
source ./lib.sh
out=$1

mirror=$(debian_mirror)
root=$out/root
mkdir "$root"
debootstrap --variant=minbase bookworm "$root" "$mirror"

# Leave out what only a running system or the build host puts there.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/var/cache/apt/*.bin "$root"/var/log/* "$root"/debootstrap
find "$root/dev" -mindepth 1 -delete
rm -f "$root"/etc/hostname "$root"/etc/hosts "$root"/etc/resolv.conf "$root"/etc/machine-id
printf 'golden-deb12\n' > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgolden-deb12\n' > "$root/etc/hosts"
printf 'nameserver 192.0.2.53\n' > "$root/etc/resolv.conf"
printf '0123456789abcdef0123456789abcdef\n' > "$root/etc/machine-id"
rm -f "$root/etc/fstab"

tar --numeric-owner --sort=name --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
  --format=gnu -C "$root" -cf "$out/root.tar" .
rm -rf "$root"
tar -xOf "$out/root.tar" ./var/lib/dpkg/status | grep -c '^Package:' > "$out/package-count.txt"
