# Small raw disks carrying LVM2 layouts, partitions and LUKS, for imgprep-volume's tests.
#
# One guestfish appliance launch builds four disks (libguestfs names them sda..sdd):
#   sda mbr.img   32 MiB  MBR: sda1 (0x83, empty), sda2 (0x8e) = PV of vg_mbr (4 MiB extents)
#                         vg_mbr/lin      linear 4 MiB
#   sdb pva.img   64 MiB  whole-disk PV of vg_multi (1 MiB extents)
#   sdc pvb.img   96 MiB  whole-disk PV of vg_multi
#                         vg_multi/stripe striped over sdb+sdc, 2 stripes of 64 KiB, 2 MiB
#                         vg_multi/span   2 MiB on sdb then 1 MiB on sdc (two segments, two PVs)
#                         vg_multi/multi  1 MiB + 1 MiB on sdc with vg_multi/gap (1 MiB) between
#                         vg_multi/origin 1 MiB, rewritten after vg_multi/snap (a snapshot) was taken
#                         vg_multi/r1     raid1, vg_multi/pool thin pool, vg_multi/thin thin LV
#   sdd luks.img  16 MiB  GPT: sdd1 LUKS (cryptsetup's default version), sdd2 empty
#
# Every LV is filled with a pattern: sector N (512 bytes) holds "VG/LV sector N" padded with
# spaces to 511 bytes and a newline ("VG/LV-old" for the origin before the snapshot was taken),
# so a test can check every byte read through its LV mapping.
#
# Reference outputs from libguestfs: lvs.txt, pvs.txt, vgs.txt, lvs-all.txt (lvm lvs -a --segments, colon-separated, with UUIDs,
# segment types, PE ranges and roles), filesystems.txt (list-filesystems), part-list of sda and
# sdd (parts-sda.txt, parts-sdd.txt), luks-uuid.txt (the LUKS UUID of sdd1 as blkid reports it).
source ./lib.sh
out=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

truncate -s 32M "$out/mbr.img"
truncate -s 64M "$out/pva.img"
truncate -s 96M "$out/pvb.img"
truncate -s 16M "$out/luks.img"
printf 'label: dos\nlabel-id: 0x1a2b3c4d\nstart=2048, size=16384, type=83\nstart=18432, type=8e\n' \
  | sfdisk -q "$out/mbr.img"
sgdisk -o -U 11111111-2222-3333-4444-555555555555 -n 1:2048:16383 -t 1:8309 -c 1:secret \
  -u 1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee -n 2:16384:0 -t 2:8300 "$out/luks.img" >/dev/null

# pattern NAME SECTORS FILE
pattern() {
  awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < s; i++) printf "%-511s\n", n " sector " i }' > "$3"
}
pattern vg_mbr/lin 8192 "$tmp/lin"
pattern vg_multi/stripe 4096 "$tmp/stripe"
pattern vg_multi/span 6144 "$tmp/span"
pattern vg_multi/multi 4096 "$tmp/multi"
pattern vg_multi/gap 2048 "$tmp/gap"
pattern vg_multi/origin-old 2048 "$tmp/origin-old"
pattern vg_multi/origin 2048 "$tmp/origin"
pattern vg_multi/r1 2048 "$tmp/r1"
pattern vg_multi/thin 2048 "$tmp/thin"

# Inside the appliance, SCSI disks may be named in another order than they were added (libguestfs
# translates names only in its own API calls), so shell commands find the two PVs by their sizes.
lvm="udevadm settle; lvm"
A='$(for x in /dev/sd?; do [ $(blockdev --getsize64 $x) = 67108864 ] && echo $x; done)'
B='$(for x in /dev/sd?; do [ $(blockdev --getsize64 $x) = 100663296 ] && echo $x; done)'
cat > "$tmp/script" <<EOF
run
pvcreate /dev/sda2
pvcreate /dev/sdb
pvcreate /dev/sdc
vgcreate vg_mbr /dev/sda2
debug sh "$lvm vgcreate -q -s 1m vg_multi $A $B"
lvcreate lin vg_mbr 4
debug sh "$lvm lvcreate -q -n stripe -i 2 -I 64k -L 2m vg_multi $A $B"
debug sh "$lvm lvcreate -q -n span -L 2m vg_multi $A"
debug sh "$lvm lvcreate -q -n multi -L 1m vg_multi $B"
debug sh "$lvm lvcreate -q -n gap -L 1m vg_multi $B"
debug sh "$lvm lvextend -q -L +1m vg_multi/span $B"
debug sh "$lvm lvextend -q -L +1m vg_multi/multi $B"
debug sh "$lvm lvcreate -q -n origin -L 1m vg_multi $A"
upload $tmp/origin-old /dev/vg_multi/origin
debug sh "$lvm lvcreate -q -s -n snap -L 1m vg_multi/origin"
debug sh "$lvm lvcreate -q --type raid1 -m 1 -n r1 -L 1m vg_multi $A $B"
debug sh "$lvm lvcreate -q --type thin-pool -n pool -L 4m vg_multi $A"
debug sh "$lvm lvcreate -q -n thin -V 1m --thinpool vg_multi/pool"
upload $tmp/lin /dev/vg_mbr/lin
upload $tmp/stripe /dev/vg_multi/stripe
upload $tmp/span /dev/vg_multi/span
upload $tmp/multi /dev/vg_multi/multi
upload $tmp/gap /dev/vg_multi/gap
upload $tmp/origin /dev/vg_multi/origin
upload $tmp/r1 /dev/vg_multi/r1
upload $tmp/thin /dev/vg_multi/thin
luks-format /dev/sdd1 0
lvs | cat > $out/lvs.txt
pvs | cat > $out/pvs.txt
vgs | cat > $out/vgs.txt
debug sh "$lvm lvs -a --segments --noheadings --separator : -o vg_name,lv_name,lv_uuid,vg_uuid,segtype,seg_pe_ranges,lv_role" | cat > $out/lvs-all.txt
debug sh "$lvm pvs --noheadings --separator : -o pv_name,pv_uuid,vg_name" | cat > $out/pvs-uuid.txt
list-filesystems | cat > $out/filesystems.txt
part-list /dev/sda | cat > $out/parts-sda.txt
part-list /dev/sdd | cat > $out/parts-sdd.txt
vfs-uuid /dev/sdd1 | cat > $out/luks-uuid.txt
EOF
echo 'secret-passphrase' | timeout 1800 guestfish --keys-from-stdin --rw \
  -a "$out/mbr.img" -a "$out/pva.img" -a "$out/pvb.img" -a "$out/luks.img" -f "$tmp/script"
