# Package databases with every quirk of libguestfs 1.48's dpkg and apk readers, and what
# virt-inspector reports from them: the reference for imgprep-pkgdb's dpkg_status and
# apk_installed (which must report the same applications, field for field).
#
#   status, installed    the dpkg status file and the apk installed database
#   deb.img, alpine.img  two ext4 filesystems, each a minimal root that libguestfs inspects as
#                        Debian and as Alpine (os-release, /bin, /etc/hosts and the database)
#   inspector.xml        `virt-inspector -a deb.img -a alpine.img`
#
# The status file holds: all fields libguestfs reads (Source with a version, a description with
# " ." and an indented line), an epoch and a version with two hyphens (libguestfs splits at the
# first), Status values that do and do not contain "installed", epochs that do not parse, field
# names without their space, a NUL byte, two Description fields, a 1100-byte summary and a line
# of exactly 1023 bytes (fgets with a 1024-byte buffer splits them), one name at three versions,
# and a last paragraph without an empty line after it. The apk database likewise: revisions with
# and without "r", an epoch, an invalid line, a one-byte line, a NUL, a bad epoch and an
# unterminated last paragraph.
set -euo pipefail
. ./lib.sh
out=$1
work=$out/work
deb=$work/deb
alp=$work/alpine
mkdir -p "$deb/etc" "$deb/bin" "$deb/var/lib/dpkg" "$alp/etc" "$alp/bin" "$alp/lib/apk/db"

rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }

{
  printf 'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n'
  printf 'Source: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4\n'
  printf 'Homepage: https://www.gnu.org/software/libc/libc.html\n'
  printf 'Description: GNU C Library: Shared libraries\n Contains the standard libraries.\n .\n'
  printf '   indented by three\nMulti-Arch: same\n\n'
  printf 'Package: a-epoch\nStatus: install ok installed\nVersion: 2:1.2-3-4\nArchitecture: all\n\n'
  printf 'Package: b-not-installed\nStatus: purge ok not-installed\nVersion: 1\n\n'
  printf 'Package: c-config-files\nStatus: deinstall ok config-files\nVersion: 1\n\n'
  printf 'Package: d-bad-epoch\nStatus: install ok installed\nVersion: x:1.0\n\n'
  printf 'Package: e-negative-epoch\nStatus: install ok installed\nVersion: -1:1.0\n\n'
  printf 'Package:nospace\nPackage: f-space\nStatus: install ok installed\nVersion:  1\n'
  printf 'Description: sum\n\tnot a continuation\n line\n\n'
  printf 'Package: g-n\0ul\nStatus: install ok installed\nVersion: 1\n\n'
  printf 'Package: h-two-descriptions\nStatus: install ok installed\nVersion: 1\n'
  printf 'Description: one\n x\nDescription: two\n y\n\n'
  printf 'Package: i-long-summary\nStatus: install ok installed\nVersion: 1\n'
  printf 'Description: %s\n more\n\n' "$(rep s 1100)"
  printf 'Package: j-1023\nStatus: install ok installed\nVersion: 1\n'
  printf 'Homepage: https://%s\nArchitecture: amd64\n\n' "$(rep u 1005)"
  printf 'Package: m\nStatus: install ok installed\nVersion: 1.10\n\n'
  printf 'Package: m\nStatus: install ok installed\nVersion: 1.9\n\n'
  printf 'Package: m\nStatus: install ok installed\nVersion: 1.9~rc1\n\n'
  printf 'Package: z-unterminated\nStatus: install ok installed\nVersion: 1\n'
} > "$out/status"

{
  printf 'C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407255\n'
  printf 'T:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\n\n'
  printf 'P:a\nV:1:2.0-rc-r1\n\nP:b\nV:3-5\n\nP:c\nV:4\nPxx\n\n'
  printf 'P:x\nV:1\nA\n\nP:y\0z\nV:2\n\nP:bad\nV:z:1\n\nP:last\nV:1\n'
} > "$out/installed"

cp "$out/status" "$deb/var/lib/dpkg/status"
printf 'ID=debian\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' \
  > "$deb/etc/os-release"
printf '12.4\n' > "$deb/etc/debian_version"
cp "$out/installed" "$alp/lib/apk/db/installed"
printf 'ID=alpine\nNAME="Alpine Linux"\nVERSION_ID=3.19.0\nPRETTY_NAME="Alpine Linux v3.19"\n' \
  > "$alp/etc/os-release"
printf '3.19.0\n' > "$alp/etc/alpine-release"
for r in "$deb" "$alp"; do printf '127.0.0.1\tlocalhost\n' > "$r/etc/hosts"; done

mke2fs -q -t ext4 -d "$deb" "$out/deb.img" 8M
mke2fs -q -t ext4 -d "$alp" "$out/alpine.img" 8M
timeout 600 virt-inspector -a "$out/deb.img" -a "$out/alpine.img" --no-icon > "$out/inspector.xml.tmp"
mv "$out/inspector.xml.tmp" "$out/inspector.xml"
rm -rf "$work"
