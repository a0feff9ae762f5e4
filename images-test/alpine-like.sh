# An Alpine Linux 3.18.4 guest as an uncompressed qcow2 (alpine-like.qcow2): MBR, one ext4
# partition sda1 holding /, fstab by UUID= as setup-disk writes it.
#   release files       /etc/alpine-release "3.18.4" and Alpine's /etc/os-release
#   /bin/busybox        a real x86_64 ELF (copied from the build host), with /bin/sh and /bin/ls
#                       absolute links to it as Alpine installs them
#   /lib/apk/db/installed
#                       15 entries written the way apk-tools 2.14 writes them (C:, P:, V:, A:, S:,
#                       I:, T:, U:, L:, o:, m:, t:, c:, D:, p:, then F:/R:/a:/Z: file lines) with the
#                       versions of Alpine 3.18.4's base packages
# References: alpine-like.qcow2.inspector.xml.
# needs: os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
img=$out/alpine-like.qcow2
root_uuid=a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d

r=$work/root
fhs_dirs "$r"
mkdir -p "$r/bin" "$r/sbin" "$r/lib/apk/db" "$r/usr/bin" "$r/usr/sbin" "$r/etc/apk"
cp /bin/ls "$r/bin/busybox"
for l in sh ls cat echo mount; do ln -s /bin/busybox "$r/bin/$l"; done
echo '3.18.4' > "$r/etc/alpine-release"
cat > "$r/etc/os-release" <<'EOF'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
EOF
echo 'alpine318-golden' > "$r/etc/hostname"
printf '127.0.0.1\tlocalhost localhost.localdomain\n::1\t\tlocalhost localhost.localdomain\n' \
  > "$r/etc/hosts"
printf 'UUID=%s\t/\text4\trw,relatime 0 1\n/dev/cdrom\t/media/cdrom\tiso9660\tnoauto,ro 0 0\n' \
  "$root_uuid" > "$r/etc/fstab"
printf 'https://dl-cdn.alpinelinux.org/alpine/v3.18/main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.18/community\n' \
  > "$r/etc/apk/repositories"
printf 'alpine-base\nopenssh\n' > "$r/etc/apk/world"

# apk ORIGIN NAME VERSION SIZE INSTALLED DESCRIPTION URL LICENSE DEPS PROVIDES FILES...
# One installed-database entry. FILES are "dir/" (a directory) or "dir/file".
apk() {
  local origin=$1 name=$2 version=$3 size=$4 isize=$5 desc=$6 url=$7 lic=$8 deps=$9 prov=${10}
  shift 10
  local sum f dir=""
  sum=$(printf "%s-%s" "$name" "$version" | openssl dgst -sha1 -binary | base64)
  printf 'C:Q1%s\nP:%s\nV:%s\nA:x86_64\nS:%s\nI:%s\nT:%s\nU:%s\nL:%s\n' \
    "$sum" "$name" "$version" "$size" "$isize" "$desc" "$url" "$lic"
  printf 'o:%s\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1696000000\n' "$origin"
  printf 'c:%s\n' "$(printf '%s' "$origin" | sha1sum | cut -c1-40)"
  [ -z "$deps" ] || printf 'D:%s\n' "$deps"
  [ -z "$prov" ] || printf 'p:%s\n' "$prov"
  for f in "$@"; do
    case $f in
      */) dir=${f%/}; printf 'F:%s\n' "$dir" ;;
      *) [ "${f%/*}" = "$dir" ] || { dir=${f%/*}; printf 'F:%s\n' "$dir"; }
         printf 'R:%s\nZ:Q1%s\n' "${f##*/}" "$(printf "%s" "$f" | openssl dgst -sha1 -binary | base64)" ;;
    esac
  done
  echo
}
{
  apk musl musl 1.2.4-r2 383304 622592 'the musl c library (libc) implementation' \
    https://musl.libc.org/ MIT '' 'so:libc.musl-x86_64.so.1=1' lib/ld-musl-x86_64.so.1
  apk busybox busybox 1.36.1-r2 506412 946176 'Size optimized toolbox of many common UNIX utilities' \
    https://busybox.net/ GPL-2.0-only 'so:libc.musl-x86_64.so.1' '/bin/sh cmd:busybox=1.36.1-r2' \
    bin/busybox etc/securetty
  apk busybox busybox-binsh 1.36.1-r2 1543 8192 'busybox ash /bin/sh' https://busybox.net/ \
    GPL-2.0-only 'busybox=1.36.1-r2' '/bin/sh cmd:sh=1.36.1-r2' bin/
  apk alpine-baselayout alpine-baselayout 3.4.3-r1 8859 20480 'Alpine base dir structure and init scripts' \
    https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout GPL-2.0-only \
    'alpine-baselayout-data=3.4.3-r1 /bin/sh' '' dev/ etc/ etc/profile.d/color_prompt.sh.disabled
  apk alpine-baselayout alpine-baselayout-data 3.4.3-r1 11400 77824 'Alpine base dir structure and init scripts' \
    https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout GPL-2.0-only '' '' \
    etc/fstab etc/group etc/hosts
  apk alpine-keys alpine-keys 2.4-r1 13367 159744 'Public keys for Alpine Linux packages' \
    https://alpinelinux.org MIT '' '' etc/apk/keys/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub
  apk apk-tools apk-tools 2.14.0-r2 120973 307200 'Alpine Package Keeper - package manager for alpine' \
    https://gitlab.alpinelinux.org/alpine/apk-tools GPL-2.0-only \
    'musl>=1.2.3_git20230424 ca-certificates-bundle so:libc.musl-x86_64.so.1' 'so:libapk.so.2.14.0=2.14.0 cmd:apk=2.14.0-r2' \
    sbin/apk
  apk ca-certificates ca-certificates-bundle 20230506-r0 125153 233472 'Pre generated bundle of Mozilla certificates' \
    https://www.mozilla.org/en-US/about/governance/policies/security-group/certs/ 'MPL-2.0 AND MIT' '' \
    'ca-certificates-cacert=20230506-r0' etc/ssl/certs/ca-certificates.crt
  apk libc-dev libc-utils 0.7.2-r5 1475 4096 'Meta package to pull in correct libc' \
    https://alpinelinux.org 'BSD-2-Clause AND BSD-3-Clause' musl-utils ''
  apk openssl libcrypto3 3.1.3-r0 1789421 4431872 'Crypto library from openssl' https://www.openssl.org/ \
    Apache-2.0 'so:libc.musl-x86_64.so.1' 'so:libcrypto.so.3=3' lib/libcrypto.so.3
  apk openssl libssl3 3.1.3-r0 240143 602112 'SSL shared libraries' https://www.openssl.org/ \
    Apache-2.0 'so:libc.musl-x86_64.so.1 so:libcrypto.so.3' 'so:libssl.so.3=3' lib/libssl.so.3
  apk musl musl-utils 1.2.4-r2 36938 135168 'the musl c library (libc) implementation' \
    https://musl.libc.org/ 'MIT AND BSD-2-Clause AND GPL-2.0-or-later' \
    'scanelf so:libc.musl-x86_64.so.1' 'cmd:getconf=1.2.4-r2 cmd:getent=1.2.4-r2 cmd:iconv=1.2.4-r2 cmd:ldconfig=1.2.4-r2 cmd:ldd=1.2.4-r2' \
    sbin/ldconfig usr/bin/getent
  apk pax-utils scanelf 1.3.7-r1 36607 90112 'Scan ELF binaries for stuff' https://wiki.gentoo.org/wiki/Hardened/PaX_Utilities \
    GPL-2.0-only 'so:libc.musl-x86_64.so.1' 'cmd:scanelf=1.3.7-r1' usr/bin/scanelf
  apk busybox ssl_client 1.36.1-r2 4960 28672 'EXternal ssl_client for busybox wget' https://busybox.net/ \
    GPL-2.0-only 'so:libc.musl-x86_64.so.1 so:libcrypto.so.3 so:libssl.so.3' 'cmd:ssl_client=1.36.1-r2' \
    usr/bin/ssl_client
  apk zlib zlib 1.2.13-r1 53658 110592 'A compression/decompression Library' https://zlib.net/ \
    Zlib 'so:libc.musl-x86_64.so.1' 'so:libz.so.1=1.2.13' lib/libz.so.1
} > "$r/lib/apk/db/installed"
[ "$(grep -c '^P:' "$r/lib/apk/db/installed")" = 15 ]

mkext ext4 "$r" "$work/root.img" 24 "$root_uuid" "" -b 4096
disk=$work/alpine.raw
truncate -s $(( (2048 + 24 * 2048) * 512 )) "$disk"
sfdisk -q "$disk" <<'EOF'
label: dos
label-id: 0x3a1b8e42
start=2048, type=83, bootable
EOF
put "$work/root.img" "$disk" 2048
qemu-img convert -f raw -O qcow2 "$disk" "$img"
rm -rf "$work"

os_reference "$img"
grep -q '<distro>alpinelinux</distro>' "$img.inspector.xml"
grep -q '<name>musl-utils</name>' "$img.inspector.xml"
