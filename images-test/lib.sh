# Shared helpers for fixture scripts. Sourced by images-test/*.sh; editing it rebuilds everything.
set -euo pipefail
export LC_ALL=C TZ=UTC
export SOURCE_DATE_EPOCH=1700000000
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
export MTOOLS_SKIP_CHECK=1

# fixture NAME: the cache directory of another fixture (listed on this script's `# needs:` line).
fixture() { echo "$FIXTURES/$1"; }

# debian_mirror: the first Debian archive URI this machine's apt sources use (so no host name is
# written into the repository).
debian_mirror() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources | head -n1)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(sed -n 's/^deb  *\(\[[^]]*\]  *\)\{0,1\}\([^ ]*\).*/\2/p' /etc/apt/sources.list | head -n1)
  fi
  [ -n "$uri" ] || { echo "no Debian mirror found in the apt sources" >&2; return 1; }
  echo "$uri"
}

# unpack_root DIR: the debian-root fixture's tree (owners and modes kept) into a new DIR.
unpack_root() {
  mkdir -p "$1"
  tar --numeric-owner -xpf "$(fixture debian-root)/root.tar" -C "$1"
}

# size_mib DIR: a filesystem size in MiB a little above what DIR holds (data, inodes, journal).
size_mib() {
  local kib files
  kib=$(du -sk --apparent-size "$1" | cut -f1)
  files=$(find "$1" | wc -l)
  echo $(( kib * 5 / 4 / 1024 + files / 2048 + 24 ))
}

# clamp_times DIR: every mtime and atime in DIR set to SOURCE_DATE_EPOCH. (Inode change times
# cannot be set from user space; mke2fs -d copies them, see mkext.)
clamp_times() {
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# mkext TYPE DIR IMG MIB UUID LABEL [mke2fs options...]: an ext2/3/4 filesystem of MIB MiB in the
# plain file IMG holding DIR's tree. Owners, modes, symlinks, device nodes and hard links come from
# DIR (we run as root); the root directory is 0:0. UUID, label and directory hash seed are fixed.
mkext() {
  local type=$1 dir=$2 img=$3 mib=$4 uuid=$5 label=$6
  shift 6
  rm -f "$img"
  clamp_times "$dir"
  mke2fs -q -F -t "$type" -d "$dir" -U "$uuid" -L "$label" \
    -E "root_owner=0:0,hash_seed=$uuid" "$@" "$img" "${mib}M"
  # mke2fs copies each inode change time from DIR, the time DIR was written: pin them too, so the
  # same tree gives the same bytes.
  if find "$dir" -name '*"*' | grep -q .; then
    echo "mkext: a name in $dir holds a double quote, which debugfs cannot take" >&2
    return 1
  fi
  (cd "$dir" && find . -mindepth 1 -print0) \
    | sed -z 's/^\.//' | tr '\0' '\n' \
    | sed "s/.*/sif \"&\" ctime @$SOURCE_DATE_EPOCH/" > "$img.debugfs"
  debugfs -w -f "$img.debugfs" "$img" > "$img.debugfs.log" 2>&1
  if grep -v '^debugfs' "$img.debugfs.log" | grep -q .; then
    echo "mkext: debugfs complained:" >&2
    head "$img.debugfs.log" >&2
    return 1
  fi
  rm -f "$img.debugfs" "$img.debugfs.log"
}

# put FSIMG DISK START_SECTOR: copy a filesystem image into a disk image at a 512-byte sector,
# keeping holes.
put() {
  dd if="$1" of="$2" bs=1M seek=$(( $3 * 512 )) oflag=seek_bytes conv=notrunc,sparse status=none
}

# inspector IMAGE OUTFILE: virt-inspector's XML for IMAGE, the reference the differential tests
# compare against.
inspector() {
  # Under TCG on a loaded machine one run can take many minutes.
  timeout 2400 virt-inspector -a "$1" --no-icon > "$2.tmp"
  mv "$2.tmp" "$2"
}

# check_xml XML [FIELD...]: fail unless the inspector XML has every field the differential tests
# compare (minus the FIELDs named, which the image deliberately lacks).
check_xml() {
  local xml=$1 f skip
  shift
  for f in root name arch distro product_name major_version minor_version package_format \
    package_management hostname osinfo mountpoint filesystem application; do
    for skip in "$@"; do [ "$f" = "$skip" ] && continue 2; done
    if ! grep -q "<$f[ >]" "$xml"; then
      echo "$xml: virt-inspector reported no <$f>" >&2
      return 1
    fi
  done
}

# reference IMAGE [FIELD...]: the references next to IMAGE: IMAGE.inspector.xml (checked to have
# the compared fields but the FIELDs named).
reference() {
  local img=$1
  shift
  inspector "$img" "$img.inspector.xml"
  check_xml "$img.inspector.xml" "$@"
}

# bdb_packages SQLITE PACKAGES WORKDIR: a Berkeley DB hash Packages file (4096-byte pages,
# little-endian) holding the header blobs of the rpm sqlite database SQLITE under their header
# numbers, key 0 holding the highest number, as rpm 4.x before 4.16 keeps it.
bdb_packages() {
  local db=$1 dst=$2 w=$3 n max
  sqlite3 "$db" "SELECT hnum FROM Packages ORDER BY hnum" > "$w/hnums"
  max=$(tail -n 1 "$w/hnums")
  le32() {
    printf '%02x%02x%02x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) \
      $(($1 >> 24 & 255))
  }
  {
    printf 'VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\ndb_lorder=1234\n'
    printf 'h_ffactor=0\nHEADER=END\n'
    echo " $(le32 0)"
    echo " $(le32 "$max")"
    while read -r n; do
      echo " $(le32 "$n")"
      echo " $(sqlite3 "$db" "SELECT hex(blob) FROM Packages WHERE hnum = $n" | tr 'A-F' 'a-f')"
    done < "$w/hnums"
    echo "DATA=END"
  } > "$w/Packages.dump"
  db5.3_load -f "$w/Packages.dump" "$dst"
  # db5.3_load stamps a file id (inode, device, time) into the metadata page (and copies of it
  # into unused page space) and leaves the 3 padding bytes of each off-page item (H_OFFPAGE, in
  # P_HASH pages) uninitialised: zeroed, the file comes out the same from build to build.
  perl -0777 -pi -e '
    my $id = substr($_, 52, 20);
    s/\Q$id\E/"\0" x 20/ge;
    for (my $p = 0; $p + 4096 <= length; $p += 4096) {
      next unless ord(substr($_, $p + 25, 1)) == 13;
      for my $i (0 .. unpack("v", substr($_, $p + 20, 2)) - 1) {
        my $o = $p + unpack("v", substr($_, $p + 26 + 2 * $i, 2));
        substr($_, $o + 1, 3) = "\0\0\0" if ord(substr($_, $o, 1)) == 3;
      }
    }' "$dst"
}
