# A small Debian-like root full of symlink traps for the guest path resolver, on a partitionless
# qcow2 (ext4 with 1 KiB blocks directly on /dev/sda; fstab names it `/dev/sda`).
# guest-links.qcow2.expected lists each trap as `PATH -> GUEST PATH` or `PATH -> error ERRNO`,
# with Linux semantics: absolute targets and `..` are resolved inside the guest (`..` at / stays
# at /, `..` after a directory link leaves the link's TARGET), at most 40 links are followed for
# one lookup (a 40-link chain resolves, a 41-link chain is ELOOP). The build checks every line
# against realpath(3) run by libguestfs inside the guest (chroot), and stores that output too.
# Inspection must still work through links: /etc/hostname -> /run/hostname (absolute),
# /etc/os-release -> ../usr/lib/os-release, /bin -> usr/bin, /var/lib/dpkg -> ../../srv/dpkg-db.
# needs: debian-root
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
r=$work/root
img=$out/guest-links.qcow2

mkdir -p "$r"/{etc,run,usr/bin,usr/lib,usr/share,var/lib,srv/dpkg-db,tmp,root,home,links}
chmod 1777 "$r/tmp"
chmod 0700 "$r/root"
ln -s usr/bin "$r/bin"
ln -s usr/lib "$r/lib"
tar --numeric-owner -xpf "$(fixture debian-root)/root.tar" -C "$r" \
  ./usr/bin/ls ./usr/bin/bash ./usr/lib/os-release ./etc/debian_version ./etc/passwd \
  ./etc/group ./etc/shadow ./var/lib/dpkg/status
ln -s ../usr/lib/os-release "$r/etc/os-release"
mv "$r/var/lib/dpkg/status" "$r/srv/dpkg-db/status"
rmdir "$r/var/lib/dpkg"
ln -s ../../srv/dpkg-db "$r/var/lib/dpkg"
printf '/dev/sda  /  ext4  errors=remount-ro  0  1\n' > "$r/etc/fstab"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgolden-links\n' > "$r/etc/hosts"
printf 'golden-links\n' > "$r/run/hostname"
ln -s /run/hostname "$r/etc/hostname"

# A relative chain that wanders through /etc and back out.
ln -s chain2 "$r/etc/chain1"
ln -s ../etc/./chain3 "$r/etc/chain2"
ln -s ../usr/share/chain-target "$r/etc/chain3"
printf 'end of the chain\n' > "$r/usr/share/chain-target"
# Climbing out of the root, relatively from deep inside and absolutely.
mkdir -p "$r/usr/share/deep/a/b/c/d/e/f"
ln -s ../../../../../../../../../../../../../etc/passwd "$r/usr/share/deep/a/b/c/d/e/f/passwd"
ln -s /../../../etc/passwd "$r/usr/share/abs-climb"
# A directory link in the middle of a path, and `..` after it.
mkdir -p "$r/usr/share/conf"
printf 'setting=1\n' > "$r/usr/share/conf/app.conf"
printf 'the marker in /usr/share\n' > "$r/usr/share/marker"
printf 'the marker in /etc (wrong if reached through /etc/confdir/..)\n' > "$r/etc/marker"
ln -s /usr/share/conf "$r/etc/confdir"
ln -s .. "$r/etc/up"
# Loops, a dangling link, a file used as a directory.
ln -s loop2 "$r/etc/loop1"
ln -s loop1 "$r/etc/loop2"
ln -s self "$r/etc/self"
ln -s /nonexistent/file "$r/etc/dangling"
ln -s passwd "$r/etc/filelink"
# Chains of exactly 40, 41 and 50 links: cN/l01 -> l02 -> ... -> lN -> ../target.
printf 'reached the target\n' > "$r/links/target"
for n in 40 41 50; do
  mkdir "$r/links/c$n"
  for i in $(seq 1 "$n"); do
    if [ "$i" -lt "$n" ]; then t=$(printf 'l%02d' $((i + 1))); else t=../target; fi
    ln -s "$t" "$r/links/c$n/$(printf 'l%02d' "$i")"
  done
done

cat > "$img.expected" <<'EOF'
# PATH -> resolved guest path, or `error ERRNO` (Linux path resolution inside the guest)
/etc/hostname -> /run/hostname
/etc/os-release -> /usr/lib/os-release
/bin/bash -> /usr/bin/bash
/var/lib/dpkg/status -> /srv/dpkg-db/status
/etc/chain1 -> /usr/share/chain-target
/usr/share/deep/a/b/c/d/e/f/passwd -> /etc/passwd
/usr/share/abs-climb -> /etc/passwd
/etc/confdir/app.conf -> /usr/share/conf/app.conf
/etc/confdir/../marker -> /usr/share/marker
/etc/up/etc/up/etc/passwd -> /etc/passwd
/etc/up/../../../etc/marker -> /etc/marker
/etc/loop1 -> error ELOOP
/etc/self -> error ELOOP
/etc/dangling -> error ENOENT
/etc/filelink/x -> error ENOTDIR
/links/c40/l01 -> /links/target
/links/c41/l01 -> error ELOOP
/links/c50/l01 -> error ELOOP
EOF

mkext ext4 "$r" "$work/fs.img" "$(size_mib "$r")" c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f links
qemu-img convert -f raw -O qcow2 "$work/fs.img" "$img"
rm -rf "$work"
reference "$img"

# What realpath(3) says inside the guest, and a check that it agrees with the table above. One
# guestfish run; `-realpath` goes on after an error, whose message (on stderr) names the path.
paths=$(grep -v '^#' "$img.expected" | cut -d' ' -f1)
for p in $paths; do printf 'echo @@ %s\n-realpath %s\n' "$p" "$p"; done > "$out/realpath.gf"
guestfish --ro -a "$img" -i -f "$out/realpath.gf" > "$out/realpath.out" 2> "$out/realpath.err" || true
for p in $paths; do
  res=$(awk -v p="$p" '$0 == "@@ " p { getline; if ($0 !~ /^@@ /) print; exit }' "$out/realpath.out")
  if [ -n "$res" ]; then
    echo "$p -> $res"
    continue
  fi
  err=$(grep -F "realpath: $p: " "$out/realpath.err" | head -n1 || true)
  case $err in
    *"Too many levels of symbolic links"*) echo "$p -> error ELOOP" ;;
    *"No such file or directory"*) echo "$p -> error ENOENT" ;;
    *"Not a directory"*) echo "$p -> error ENOTDIR" ;;
    *) echo "$p -> error ($err)" ;;
  esac
done > "$img.realpath"
rm -f "$out/realpath.gf" "$out/realpath.out" "$out/realpath.err"
if ! diff <(grep -v '^#' "$img.expected") "$img.realpath"; then
  echo "guest-links: the expected resolutions disagree with realpath in the guest" >&2
  exit 1
fi
