# Shell functions shared by the OS fixtures (centos7-like, centos6-like, lvm-striped, rhel7-like,
# alma9-like, suse-like, alpine-like, fedora-like), written to OUT/helpers.sh. A fixture that
# uses them names this one on its `# needs:` line, so editing a function rebuilds its users.
# Not an image.
source ./lib.sh
out=$1
cat > "$out/helpers.sh" <<'HELPERS'
# xfs_proto DIR: a mkfs.xfs prototype file (stdout) holding DIR's tree: directories, regular files
# and symlinks with their modes (setuid/setgid kept), owners and targets. Names and symlink
# targets must hold no white space (the prototype format splits on it).
xfs_proto() {
  local dir=$1
  if find "$dir" -name '*[[:space:]]*' | grep -q .; then
    echo "xfs_proto: a name in $dir holds white space" >&2
    return 1
  fi
  echo "xfs-proto"
  echo "0 0"
  echo "d--755 0 0"
  _xfs_proto_dir "$dir"
  echo '$'
}
_xfs_proto_dir() {
  local d=$1 e name mode uid gid m su sg target
  while IFS= read -r -d '' e; do
    name=${e##*/}
    read -r mode uid gid < <(stat -c '%a %u %g' "$e")
    m=$((8#$mode))
    su=-; sg=-
    [ $((m & 04000)) -ne 0 ] && su=u
    [ $((m & 02000)) -ne 0 ] && sg=g
    mode=$(printf '%03o' $((m & 0777)))
    if [ -L "$e" ]; then
      target=$(readlink "$e")
      case $target in *[[:space:]]*) echo "xfs_proto: $e -> '$target'" >&2; return 1 ;; esac
      echo "$name l--777 $uid $gid $target"
    elif [ -d "$e" ]; then
      echo "$name d$su$sg$mode $uid $gid"
      _xfs_proto_dir "$e"
      echo '$'
    elif [ -f "$e" ]; then
      echo "$name -$su$sg$mode $uid $gid $e"
    else
      echo "xfs_proto: $e is neither a file, a directory nor a symlink" >&2
      return 1
    fi
  done < <(find "$d" -mindepth 1 -maxdepth 1 -print0 | sort -z)
}

# mkxfs DIR IMG MIB UUID LABEL [mkfs.xfs options...]: an XFS filesystem of MIB MiB in the plain
# file IMG holding DIR's tree (root directory 0:0, mode 755), with a fixed UUID ("" LABEL: none).
mkxfs() {
  local dir=$1 img=$2 mib=$3 uuid=$4 label=$5
  shift 5
  rm -f "$img"
  truncate -s "${mib}M" "$img"
  xfs_proto "$dir" > "$img.proto"
  # Filesystems under 300 MB are refused unless these are set (xfsprogs' test-suite escape).
  TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f -m "uuid=$uuid" ${label:+-L "$label"} \
    -p "$img.proto" "$@" "$img"
  rm -f "$img.proto"
}

# XFS options giving the on-disk features of the mkfs.xfs that RHEL/CentOS 7 shipped (xfsprogs
# 4.5: v5 with CRCs and ftype, but no free-inode btree, sparse inodes, reflink or big timestamps).
xfs_el7_opts=(-m crc=1,finobt=0,rmapbt=0,reflink=0,bigtime=0,inobtcount=0 -i sparse=0 -n ftype=1)

# skeleton DISK DEST: a copy of an empty LVM layout of the lvm-skeletons fixture.
skeleton() {
  cp --sparse=always "$(fixture lvm-skeletons)/$1" "$2"
}

# part_start DISK N: the first sector of partition N of skeleton DISK.
part_start() {
  awk -v d="$1" -v p="$2" '$1 == d && $2 == p { print $3 }' "$(fixture lvm-skeletons)/parts.tsv"
}

# lvput FSIMG VG/LV DIR: writes the plain file FSIMG into the extents of VG/LV, whose disks
# (named as in the lvm-skeletons fixture) are in DIR. Fails if FSIMG is larger than the LV.
lvput() {
  local img=$1 lv=$2 dir=$3 map size lvsize off len file foff
  map=$(fixture lvm-skeletons)/lvmap.tsv
  size=$(stat -c %s "$img")
  lvsize=$(awk -v lv="$lv" '$1 == lv { s += $3 } END { print s + 0 }' "$map")
  if [ "$size" -gt "$lvsize" ]; then
    echo "lvput: $img ($size bytes) does not fit $lv ($lvsize bytes)" >&2
    return 1
  fi
  awk -v lv="$lv" '$1 == lv { print $2, $3, $4, $5 }' "$map" \
    | while read -r off len file foff; do
        [ "$off" -lt "$size" ] || continue
        dd if="$img" of="$dir/$file" bs=64K iflag=skip_bytes,count_bytes skip="$off" \
          count="$len" oflag=seek_bytes seek="$foff" conv=notrunc,sparse status=none
      done
}

# rpm_qa DBDIR [BACKEND]: `rpm -qa` of the database in DBDIR as name|epoch|version|release|arch,
# sorted (BACKEND: bdb_ro for a Berkeley DB Packages file). DBDIR is copied, so rpm's lock file
# and any index it rebuilds stay out of it.
rpm_qa() {
  local tmp
  tmp=$(mktemp -d)
  cp -r "$1/." "$tmp/"
  rpm ${2:+--define "_db_backend $2"} --dbpath "$tmp" -qa \
    --qf '%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}\n' | sort
  rm -rf "$tmp"
}

# merged_usr ROOT: the /bin, /sbin, /lib, /lib64 -> usr/... links of a merged-/usr distribution.
merged_usr() {
  mkdir -p "$1/usr/bin" "$1/usr/sbin" "$1/usr/lib" "$1/usr/lib64"
  ln -s usr/bin "$1/bin"
  ln -s usr/sbin "$1/sbin"
  ln -s usr/lib "$1/lib"
  ln -s usr/lib64 "$1/lib64"
}

# fhs_dirs ROOT: the top-level directories every Linux root has.
fhs_dirs() {
  local d
  for d in boot dev etc home media mnt opt proc root run srv sys tmp var/tmp var/log var/lib; do
    mkdir -p "$1/$d"
  done
  chmod 1777 "$1/tmp" "$1/var/tmp"
  chmod 555 "$1/proc" "$1/sys"
  chmod 550 "$1/root"
}
HELPERS
cat >> "$out/helpers.sh" <<'HELPERS'

# vm_inspector XML ARGS...: virt-inspector's XML for the VM given by ARGS (`-a DISK`... and options
# such as --no-applications) into XML. lib.sh's `inspector` with several disks and options, and a
# longer time limit (an appliance under TCG on a loaded machine can take over ten minutes).
vm_inspector() {
  local xml=$1
  shift
  timeout 2400 virt-inspector --no-icon "$@" > "$xml.tmp"
  mv "$xml.tmp" "$xml"
}

# os_reference IMAGE [FIELD...]: lib.sh's `reference` (IMAGE.inspector.xml checked to have every
# compared field but the FIELDs named) through vm_inspector.
os_reference() {
  local img=$1
  shift
  vm_inspector "$img.inspector.xml" -a "$img"
  check_xml "$img.inspector.xml" "$@"
}
HELPERS
