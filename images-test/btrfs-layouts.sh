# Two btrfs filesystems laid out the way distributions install them, written by the kernel
# through one guestfish appliance, plus what the kernel showed of them (the reference the btrfs
# reader's tests compare against).
#
#   fedora.img  single metadata; subvolumes root, home and varlib (fstab opens varlib by
#               subvolid=); zlib, lzo and zstd (compress-force) files, inline and compressed
#               inline extents, a 3000-entry directory, fragmented, sparse and preallocated files,
#               symlinks, hard links, device nodes and a fifo.
#   suse.img    DUP metadata; @, @/home, @/.snapshots, @/.snapshots/1/snapshot as the default
#               subvolume, with a nested subvolume inside it, and a read-only snapshot
#               @/.snapshots/2/snapshot of it (where the nested subvolume shows as an empty dir).
#
# For every view (IMAGE.VIEW: default, or a subvol=/subvolid= mount; all read-only, so listing
# them changes no generation or access time) the kernel's listing is in
# IMAGE.VIEW.find (stat -c %F:%a:%s:%u:%g:%Y:%i:%N: type, mode, size, uid, gid, mtime, inode,
# quoted name and symlink target)
# and IMAGE.VIEW.sha256; IMAGE.subvols is `btrfs subvolume list` of the top level,
# IMAGE.default is `btrfs subvolume get-default`, IMAGE.blkid holds TYPE=, LABEL=, UUID= as blkid
# prints them.
set -euo pipefail
. ./lib.sh
out=$1
src=$out/src
mkdir -p "$src"

# Deterministic incompressible bytes.
random() { head -c "$1" /dev/zero | openssl enc -aes-128-ctr -nosalt -K "$2" -iv 0 2>/dev/null; }

# One directory of files per compression algorithm (the same content each time).
comp=$src/comp
mkdir -p "$comp"
seq 1 40000 | sed 's/^/line of compressible text number /' > "$comp/text"
random 300000 11 > "$comp/random"
{ random 50000 12; head -c 200000 "$comp/text"; random 10000 13; } > "$comp/mixed"
head -c 1500 "$comp/text" > "$comp/inline"
printf 'hello\n' > "$comp/small"
: > "$comp/empty"
seq 1 300000 > "$comp/big"
tar -C "$comp" -cf "$src/comp.tar" .

# The Fedora root.
root=$src/root
mkdir -p "$root/etc" "$root/usr/bin" "$root/usr/share/many" "$root/var/lib" "$root/home"
uuid_f=2b5c7a3e-9f14-4d7a-8c21-0e6f1d2a3b4c
cat > "$root/etc/fstab" <<EOF
UUID=$uuid_f /        btrfs subvol=root,compress=zstd:1 0 0
UUID=$uuid_f /home    btrfs subvol=home,compress=zstd:1 0 0
UUID=$uuid_f /var/lib btrfs subvolid=258 0 0
EOF
printf 'NAME="Fedora Linux"\nVERSION_ID=39\nID=fedora\n' > "$root/etc/os-release"
printf '#!/bin/sh\necho hi\n' > "$root/usr/bin/hello"
chmod 755 "$root/usr/bin/hello"
for i in $(seq 1 3000); do printf 'entry %s\n' "$i" > "$root/usr/share/many/file-$i.txt"; done
tar -C "$root" --owner=0 --group=0 -cf "$src/root.tar" .

mkdir -p "$src/home/alice"
printf 'alias ll="ls -l"\n' > "$src/home/alice/.bashrc"
random 70000 21 > "$src/home/alice/blob"
tar -C "$src/home" --numeric-owner --owner=1000 --group=1000 -cf "$src/home.tar" .

# A fragmented file: 40 4-KiB writes, each committed on its own, interleaved with another file's.
frag_cmds() {
  local f=$1 i letters=abcdefghijklmnopqrstuvwxyz
  echo "touch $f"
  echo "touch $f.other"
  for i in $(seq 0 39); do
    echo "pwrite $f \"$(printf 'fragment %02d' "$i")$(printf '%*s' 4085 '' | tr ' ' "${letters:i%26:1}")\" $((i * 4096))"
    echo "pwrite $f.other \"interleave $i\" $((i * 16))"
    echo sync
  done
}

truncate -s 512M "$out/fedora.img" "$out/suse.img"
mkfs.btrfs -q -f -L fedora -U "$uuid_f" -m single -d single "$out/fedora.img"
mkfs.btrfs -q -f -L suse -U 7d3e9b1a-5c2f-4e8d-9a61-3b4c5d6e7f80 -m dup -d single "$out/suse.img"

listing() { # VIEW-NAME: write the kernel's view of what is mounted at /
  # (debug sh drops quotes, so the stat format holds no spaces, quotes or pipes)
  echo "debug sh \"cd /sysroot && find . -mindepth 1 -exec stat -c %F:%a:%s:%u:%g:%Y:%i:%N {} + | sort\" | cat > $out/$1.find"
  echo "debug sh \"cd /sysroot && find . -type f -print0 | xargs -0 -r sha256sum | sort -k2\" | cat > $out/$1.sha256"
}
blkid() { # DEVICE IMAGE: type, label and UUID as blkid names them
  echo "vfs-type $1 | sed s/^/TYPE=/ > $out/$2.blkid"
  echo "vfs-label $1 | sed s/^/LABEL=/ >> $out/$2.blkid"
  echo "vfs-uuid $1 | sed s/^/UUID=/ >> $out/$2.blkid"
}

{
  echo "add $out/fedora.img format:raw"
  echo "add $out/suse.img format:raw"
  echo run

  # --- Fedora ---
  echo "mount /dev/sda /"
  echo "btrfs-subvolume-create /root"
  echo "btrfs-subvolume-create /home"
  echo "btrfs-subvolume-create /varlib"
  echo "umount /"
  echo "mount-options subvol=root /dev/sda /"
  echo "tar-in $src/root.tar / xattrs:false"
  echo "mkdir-p /var/zlib"
  echo "mkdir-p /var/lzo"
  echo "mkdir-p /var/zstd"
  echo "ln-s ../../etc/os-release /usr/bin/relative-link"
  echo "ln-s /$(printf 'long-target-%04d/' $(seq 1 70) | tr -d '\n')end /usr/bin/long-link"
  echo "mknod-c 0666 1 3 /usr/null"
  echo "mknod-b 0660 8 0 /usr/sda"
  echo "mkfifo 0644 /usr/fifo"
  echo "chmod 04755 /usr/bin/hello"
  frag_cmds /var/frag
  echo "touch /var/sparse"
  echo "truncate-size /var/sparse 10485760"
  echo "pwrite /var/sparse \"middle of a sparse file\" 5242880"
  echo "fallocate64 /var/prealloc 1048576"
  echo "pwrite /var/prealloc \"written into preallocated space\" 8192"
  echo "umount /"
  for alg in zlib lzo zstd:1; do
    d=${alg%%:*}
    echo "mount-options subvol=root,compress-force=$alg /dev/sda /"
    echo "tar-in $src/comp.tar /var/$d xattrs:false"
    echo "ln /var/$d/text /var/$d/text-hardlink"
    frag_cmds /var/$d/frag
    echo "umount /"
  done
  echo "mount-options subvol=home,compress-force=zstd:1 /dev/sda /"
  echo "tar-in $src/home.tar /"
  echo "umount /"
  echo "mount-options subvolid=258 /dev/sda /"
  echo "mkdir-p /rpm"
  echo "write /rpm/Packages \"not really a database\""
  echo "umount /"

  echo "mount-ro /dev/sda /"
  listing fedora.default
  echo "debug sh \"btrfs subvolume list /sysroot\" | cat > $out/fedora.subvols"
  echo "debug sh \"btrfs subvolume get-default /sysroot\" | cat > $out/fedora.default"
  echo "umount /"
  echo "mount-options ro,subvol=root /dev/sda /"
  listing fedora.root
  echo "umount /"
  echo "mount-options ro,subvol=home /dev/sda /"
  listing fedora.home
  echo "umount /"
  echo "mount-options ro,subvolid=258 /dev/sda /"
  listing fedora.subvolid-258
  echo "umount /"
  blkid /dev/sda fedora

  # --- openSUSE ---
  echo "mount /dev/sdb /"
  echo "btrfs-subvolume-create /@"
  echo "btrfs-subvolume-create /@/home"
  echo "btrfs-subvolume-create /@/.snapshots"
  echo "mkdir /@/.snapshots/1"
  echo "btrfs-subvolume-create /@/.snapshots/1/snapshot"
  echo "mkdir-p /@/.snapshots/1/snapshot/etc"
  echo "write /@/.snapshots/1/snapshot/etc/fstab \"UUID=7d3e9b1a-5c2f-4e8d-9a61-3b4c5d6e7f80 / btrfs defaults 0 0\nUUID=7d3e9b1a-5c2f-4e8d-9a61-3b4c5d6e7f80 /home btrfs subvol=/@/home 0 0\nUUID=7d3e9b1a-5c2f-4e8d-9a61-3b4c5d6e7f80 /.snapshots btrfs subvol=/@/.snapshots 0 0\n\""
  echo "write /@/.snapshots/1/snapshot/etc/os-release \"NAME=openSUSE Leap\nVERSION_ID=15.5\n\""
  echo "btrfs-subvolume-create /@/.snapshots/1/snapshot/nested"
  echo "write /@/.snapshots/1/snapshot/nested/inside \"in a nested subvolume\n\""
  echo "mkdir /@/.snapshots/2"
  echo "btrfs-subvolume-snapshot /@/.snapshots/1/snapshot /@/.snapshots/2/snapshot ro:true"
  echo "write /@/.snapshots/1/snapshot/etc/after-snapshot \"written after snapshot 2\n\""
  echo "mkdir-p /@/home/bob"
  echo "write /@/home/bob/notes \"bob's notes\n\""
  echo "btrfs-subvolume-set-default 259 /"
  echo "umount /"
  echo "mount-ro /dev/sdb /"
  listing suse.default
  echo "debug sh \"btrfs subvolume get-default /sysroot\" | cat > $out/suse.default"
  echo "umount /"
  echo "mount-options ro,subvolid=5 /dev/sdb /"
  listing suse.subvolid-5
  echo "debug sh \"btrfs subvolume list /sysroot\" | cat > $out/suse.subvols"
  echo "umount /"
  echo "mount-options ro,subvol=@ /dev/sdb /"
  listing suse.at
  echo "umount /"
  echo "mount-options ro,subvol=/@/home /dev/sdb /"
  listing suse.at-home
  echo "umount /"
  echo "mount-options ro,subvol=@/.snapshots/2/snapshot /dev/sdb /"
  listing suse.snapshot-2
  echo "umount /"
  blkid /dev/sdb suse
} > "$out/guestfish.cmds"

timeout 900 guestfish --no-progress-bars -f "$out/guestfish.cmds"
rm -rf "$src"
