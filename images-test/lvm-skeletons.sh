# Empty LVM2 layouts, written by the lvm2 tools in one guestfish appliance, that the OS fixtures
# (centos7-like, centos6-like, lvm-striped) fill offline: each copies a disk, writes its
# filesystem images into the LVs' extents as lvmap.tsv locates them, and converts the result.
# Only the LVM metadata comes from here; the filesystems are built by mkfs on the host.
#
#   centos7.raw  120 MiB  MBR 0x000b6a3c: sda1 (83, bootable) 32 MiB for /boot, sda2 (8e) PV of
#                         VG centos (4 MiB extents): LV swap 8 MiB, then LV root 64 MiB, the
#                         order the CentOS 7 installer leaves them in
#   centos6.raw  104 MiB  MBR 0x0004c1f7: sda1 (83, bootable) 32 MiB for /boot, sda2 (8e) PV of
#                         VG VolGroup: LV lv_root 48 MiB, then LV lv_swap 8 MiB (CentOS 6 names)
#   rl-a.raw      96 MiB  MBR 0x5d0c0a11: sda1 (83, bootable) 32 MiB for /boot, sda2 (8e) PV
#   rl-b.raw      64 MiB  whole-disk PV (no partition table); with sda2 the PVs of VG rl:
#                         LV root striped over both (2 stripes of 64 KiB, 64 MiB), LV var 24 MiB
#                         on sda2 then 24 MiB on sdb (linear, two segments on two disks)
#
# PV UUIDs are fixed; VG and LV UUIDs come from lvm.
#
#   lvmap.tsv      where every byte of every LV lives: "VG/LV LV_OFFSET LENGTH DISK DISK_OFFSET"
#                  (bytes; a striped LV has one line per stripe chunk)
#   parts.tsv      "DISK PARTITION START_SECTOR SECTORS" of the partitioned disks
#   segments.txt   `lvs --segments` (VG, LV, type, stripes, stripe size, start, size, PE ranges)
#   pvs.txt        `pvs` (PV, PV UUID, VG, PE start, extent size)
source ./lib.sh
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mib=1048576
truncate -s $((120 * mib)) "$out/centos7.raw"
truncate -s $((104 * mib)) "$out/centos6.raw"
truncate -s $((96 * mib)) "$out/rl-a.raw"
truncate -s $((64 * mib)) "$out/rl-b.raw"
sfdisk -q "$out/centos7.raw" <<'EOF'
label: dos
label-id: 0x000b6a3c
start=2048, size=65536, type=83, bootable
start=67584, type=8e
EOF
sfdisk -q "$out/centos6.raw" <<'EOF'
label: dos
label-id: 0x0004c1f7
start=2048, size=65536, type=83, bootable
start=67584, type=8e
EOF
sfdisk -q "$out/rl-a.raw" <<'EOF'
label: dos
label-id: 0x5d0c0a11
start=2048, size=65536, type=83, bootable
start=67584, type=8e
EOF
: > "$out/parts.tsv"
for d in centos7 centos6 rl-a; do
  sfdisk -d "$out/$d.raw" | sed -n "s|^$out/$d.raw\([0-9]*\) *: *start= *\([0-9]*\), *size= *\([0-9]*\),.*|$d.raw \1 \2 \3|p" \
    >> "$out/parts.tsv"
done

# PV UUIDs, and where each PV starts in its disk file.
pv_c7=C7pvAA-0000-1111-2222-3333-4444-555555
pv_c6=C6pvAA-0000-1111-2222-3333-4444-555555
pv_ra=RLpvAA-0000-1111-2222-3333-4444-555555
pv_rb=RLpvBB-0000-1111-2222-3333-4444-555555
part_start() { awk -v d="$1" -v p="$2" '$1 == d && $2 == p { print $3 * 512 }' "$out/parts.tsv"; }
{
  printf '%s centos7.raw %s\n' "$pv_c7" "$(part_start centos7.raw 2)"
  printf '%s centos6.raw %s\n' "$pv_c6" "$(part_start centos6.raw 2)"
  printf '%s rl-a.raw %s\n' "$pv_ra" "$(part_start rl-a.raw 2)"
  printf '%s rl-b.raw 0\n' "$pv_rb"
} > "$work/pvfiles"

# Inside the appliance disks may be named in another order than they were added, so shell
# commands find each disk by its size.
lvm="udevadm settle; lvm"
disk() { echo "\$(for x in /dev/sd?; do [ \$(blockdev --getsize64 \$x) = $(($1 * mib)) ] && echo \$x; done)"; }
C7=$(disk 120)2 C6=$(disk 104)2 RA=$(disk 96)2 RB=$(disk 64)
cat > "$work/script" <<EOF
run
debug sh "$lvm pvcreate -q --norestorefile --uuid $pv_c7 $C7"
debug sh "$lvm pvcreate -q --norestorefile --uuid $pv_c6 $C6"
debug sh "$lvm pvcreate -q --norestorefile --uuid $pv_ra $RA"
debug sh "$lvm pvcreate -q --norestorefile --uuid $pv_rb $RB"
debug sh "$lvm vgcreate -q -s 4m centos $C7"
debug sh "$lvm lvcreate -q -n swap -L 8m centos"
debug sh "$lvm lvcreate -q -n root -L 64m centos"
debug sh "$lvm vgcreate -q -s 4m VolGroup $C6"
debug sh "$lvm lvcreate -q -n lv_root -L 48m VolGroup"
debug sh "$lvm lvcreate -q -n lv_swap -L 8m VolGroup"
debug sh "$lvm vgcreate -q -s 4m rl $RA $RB"
debug sh "$lvm lvcreate -q -n root -i 2 -I 64k -L 64m rl $RA $RB"
debug sh "$lvm lvcreate -q -n var -L 24m rl $RA"
debug sh "$lvm lvextend -q -L +24m rl/var $RB"
debug sh "$lvm vgchange -q -a n"
debug sh "$lvm lvs --segments --units b --nosuffix --noheadings --separator , -o vg_name,lv_name,segtype,stripes,stripe_size,seg_start,seg_size,seg_pe_ranges" | cat > $work/segs
debug sh "$lvm pvs --units b --nosuffix --noheadings --separator , -o pv_name,pv_uuid,vg_name,pe_start,vg_extent_size" | cat > $work/pvs
EOF
timeout 1800 guestfish --rw -a "$out/centos7.raw" -a "$out/centos6.raw" -a "$out/rl-a.raw" \
  -a "$out/rl-b.raw" -f "$work/script"

sed 's/^ *//' "$work/segs" | sort > "$out/segments.txt"
sed 's/^ *//' "$work/pvs" | sort > "$out/pvs.txt"
[ "$(grep -c . "$out/pvs.txt")" = 4 ]

# Flatten every LV segment into byte ranges of the disk files.
awk -F, -v OFS=' ' '
  FILENAME == ARGV[1] { file[$1] = $2; base[$1] = $3; next }   # pvfiles (space separated)
  FILENAME == ARGV[2] { dev_uuid[$1] = $2; pe_start[$1] = $4; ext[$1] = $5; next }
  {
    lv = $1 "/" $2; type = $3; n = $4; ss = $5; start = $6; size = $7
    m = split($8, ranges, " ")
    if (m != n) { print "stripe count mismatch for " lv > "/dev/stderr"; exit 1 }
    for (j = 1; j <= n; j++) {
      split(ranges[j], r, ":"); split(r[2], pe, "-")
      u = dev_uuid[r[1]]
      if (!(u in file)) { print "unknown PV " r[1] > "/dev/stderr"; exit 1 }
      f[j] = file[u]; off[j] = base[u] + pe_start[r[1]] + pe[1] * ext[r[1]]
    }
    if (type == "linear") { print lv, start, size, f[1], off[1]; next }
    if (type != "striped") { print "unexpected segment type " type > "/dev/stderr"; exit 1 }
    for (k = 0; k * ss < size; k++) {
      j = k % n + 1
      print lv, start + k * ss, ss, f[j], off[j] + int(k / n) * ss
    }
  }' <(tr ' ' ',' < "$work/pvfiles") "$out/pvs.txt" "$out/segments.txt" > "$out/lvmap.tsv"
for lv in centos/root centos/swap VolGroup/lv_root VolGroup/lv_swap rl/root rl/var; do
  grep -q "^$lv " "$out/lvmap.tsv"
done
