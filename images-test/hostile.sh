# The hostile-input regression corpus: images crafted the way someone who hands over a "golden"
# image could craft them, each with the outcome imgprep must give (tests/hostile_images.rs runs
# every case under a memory cap, a time limit, an RSS bound and strace; benches/hostile.sh times
# them). No appliance: qemu-img, mke2fs -d, mkfs.xfs -p, mkfs.vfat + mtools, ntfs-3g's offline
# tools on the NTFS volume of the windows-disks fixture, and python3 for the bytes no tool
# writes (LVM labels and metadata areas, registry cells, NTFS index entries).
#
# Outputs in OUT (paths in the manifest are relative to OUT, which is the working directory of
# every run):
#   cases.tsv   one case a line, tab-separated: name, imgprep arguments (split on spaces),
#               expected exit status, expectations joined by " && " (`stderr:TEXT`: the one
#               stderr line contains TEXT; `note:TEXT`: a note of the JSON report contains TEXT;
#               `json:/POINTER=VALUE`: that string in the JSON report; `rule:ID=TEXT`: the
#               message of rule ID in a JSON check report contains TEXT; `none`), what it
#               exercises
#   backing/    qcow2 overlays whose backing file (or external data file) names a host file,
#               a FIFO, a directory, a symlink leaving the directory, a loop, a 70-deep chain
#   sibling/    debian.qcow2: a Debian-like guest (host name sibling-host) outside the others'
#               directories
#   sib/, chain/  overlays reaching sibling/ through ../ directly and from a subdirectory, and a
#               chain through a subdirectory that stays inside the top image's directory
#   vmdk/       descriptors whose extent lines name /etc/passwd, ../, a FIFO, symlinks out and in,
#               and a delta disk whose parent hint is /etc/passwd
#   special/    the image itself as a FIFO, a socket, a symlink to /dev/zero, a directory; a
#               FIFO among --rules files and as --param ca=
#   lvm/        a whole-disk PV whose metadata text is 2.5 million `a{}` items (under the 8 MiB
#               text limit, valid CRCs), 63 MiB of them (over it), 100000-deep nesting, and
#               190000 items (just under the item limit)
#   dpkg/, apk/ Debian-like guests whose dpkg status is 1 GiB sparse, one 45 MB line, a 45 MB
#               description, 120000 tiny paragraphs, 100000 paragraphs with 240-byte
#               descriptions; an Alpine-like one with a 3 MB line
#   win/        the win2016-like NTFS volume (windows-disks) with its SOFTWARE hive replaced:
#               500 MiB (the real hive, then one empty hive bin, or 128000 empty 4 KiB bins; the
#               volume grown to 800 MiB by ntfsresize), an Uninstall subkey list that is an `ri`
#               list naming itself or an allocated cell of 128 MiB, a 60 MiB DisplayName, one
#               key listed 40 times with a 6 MB DisplayName, and one listed a million times
#   unreadable/ roots whose /etc (XFS, FAT32 on an MBR partition) or /Windows (NTFS) directory
#               was damaged after being written, and a FAT32 root with no partition table
#   links/      Debian-like guests whose /etc/hostname is an absolute link to a host path, a
#               link climbing above the root, a 45-link chain; /etc/os-release a self-link
# Everything is compressed qcow2 or sparse: about 14 MB on disk, built in 60-90 s on two busy
# cores (most of it ntfs-3g writing the 500 MiB hives).
# needs: windows-disks os-helpers
. ./lib.sh
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(fixture os-helpers)/helpers.sh"
win=$(fixture windows-disks)/win2016-like.raw

# ---------------------------------------------------------------------------------------------
# Byte-level helpers no tool provides.
py=$work/hostile.py
cat > "$py" <<'PY'
import os, socket, struct, sys, zlib

def lvm_crc(data):
    # LVM2's calc_crc: CRC-32 (IEEE) from seed 0xf597a6cf, no final inversion.
    return zlib.crc32(data, 0xf597a6cf ^ 0xffffffff) ^ 0xffffffff

def lvm(path, mda_size, text, disk_size):
    """A whole-disk PV: label in sector 1, one metadata area at 4 KiB holding `text`."""
    mda_at = 4096
    with open(path, "wb") as f:
        f.truncate(disk_size)
        pvh = b"Hst1le-PV00-0000-0000-0000-0000-0000"[:32].ljust(32, b"0")
        pvh += struct.pack("<Q", disk_size)
        data_at = (mda_at + mda_size + (1 << 20) - 1) // (1 << 20) * (1 << 20)
        pvh += struct.pack("<QQ", data_at, 0) + b"\0" * 16
        pvh += struct.pack("<QQ", mda_at, mda_size) + b"\0" * 16
        label = bytearray(512)
        label[0:8] = b"LABELONE"
        struct.pack_into("<Q", label, 8, 1)
        struct.pack_into("<I", label, 20, 32)
        label[24:32] = b"LVM2 001"
        label[32:32 + len(pvh)] = pvh
        struct.pack_into("<I", label, 16, lvm_crc(bytes(label[20:])))
        f.seek(512)
        f.write(label)
        h = bytearray(512)
        h[4:20] = b"\x20\x4c\x56\x4d\x32\x20\x78\x5b\x35\x41\x25\x72\x30\x4e\x2a\x3e"
        struct.pack_into("<IQQ", h, 20, 1, mda_at, mda_size)
        struct.pack_into("<QQII", h, 40, 512, len(text), lvm_crc(text), 0)
        struct.pack_into("<I", h, 0, lvm_crc(bytes(h[4:])))
        f.seek(mda_at)
        f.write(h)
        f.write(text)

def hive_checksum(base):
    x = 0
    for i in range(0, 0x1fc, 4):
        x ^= struct.unpack_from("<I", base, i)[0]
    return {0: 1, 0xffffffff: 0xfffffffe}.get(x, x)

def hive_pad(src, dst, total, bin_size):
    """The hive `src` followed by empty hive bins (one free cell each) of `bin_size` bytes up
    to `total` bytes (one bin when `bin_size` is 0), written sparse; the base block's bins size
    and checksum updated."""
    data = bytearray(open(src, "rb").read())
    old = len(data)
    assert old % 4096 == 0 and struct.unpack_from("<I", data, 40)[0] == old - 4096
    struct.pack_into("<I", data, 40, total - 4096)
    struct.pack_into("<I", data, 0x1fc, hive_checksum(data))
    bin_size = bin_size or total - old
    with open(dst, "wb") as f:
        f.write(data)
        for at in range(old, total, bin_size):
            f.seek(at)
            f.write(b"hbin" + struct.pack("<III", at - 4096, bin_size, 0) + b"\0" * 16)
            f.write(struct.pack("<i", bin_size - 32))
        f.truncate(total)

class Hive:
    """A hive file being edited: keys found by path, cells appended in bins of their own."""

    def __init__(self, path):
        self.data = bytearray(open(path, "rb").read())
        assert len(self.data) % 4096 == 0

    def cell(self, rel):
        return 4096 + rel + 4

    def key(self, path):
        k = self.cell(struct.unpack_from("<I", self.data, 36)[0])
        for comp in filter(None, path.split("\\")):
            k = dict((n.lower(), o) for n, o in hive_subkeys(self.data, k))[comp.lower()]
        return k

    def value(self, nk, name):
        """Data offset of the vk cell called `name` of the key whose nk data is at `nk`."""
        n, lst = struct.unpack_from("<II", self.data, nk + 0x24)
        for i in range(n):
            vk = self.cell(struct.unpack_from("<I", self.data, self.cell(lst) + 4 * i)[0])
            ln = struct.unpack_from("<H", self.data, vk + 2)[0]
            if bytes(self.data[vk + 0x14:vk + 0x14 + ln]).decode("latin-1").lower() == name.lower():
                return vk
        raise KeyError(name)

    def append(self, payload, size=None):
        """A new hive bin holding one allocated cell with `payload` (zeros up to `size`
        bytes); returns the cell's offset as hive structures store it."""
        size = max(size or 0, len(payload))
        bin_size = (size + 4 + 32 + 4095) // 4096 * 4096
        at = len(self.data)
        self.data += b"hbin" + struct.pack("<III", at - 4096, bin_size, 0) + b"\0" * 16
        self.data += struct.pack("<i", -(bin_size - 32)) + payload
        self.data += b"\0" * (at + bin_size - len(self.data))
        return at - 4096 + 32

    def save(self, path):
        struct.pack_into("<I", self.data, 40, len(self.data) - 4096)
        struct.pack_into("<I", self.data, 0x1fc, hive_checksum(self.data))
        open(path, "wb").write(self.data)

UNINSTALL = "Microsoft\\Windows\\CurrentVersion\\Uninstall"

def hive_huge_cell(src, dst, size):
    """The Uninstall key's subkey list replaced by an allocated cell of `size` zero bytes."""
    h = Hive(src)
    struct.pack_into("<I", h.data, h.key(UNINSTALL) + 0x1c, h.append(b"", size))
    h.save(dst)

def hive_big_value(src, dst, size):
    """Uninstall\\7-Zip's DisplayName made `size` bytes of UTF-16 in one cell."""
    h = Hive(src)
    vk = h.value(h.key(UNINSTALL + "\\7-Zip"), "DisplayName")
    struct.pack_into("<II", h.data, vk + 4, size, h.append("A".encode("utf-16-le") * (size // 2)))
    h.save(dst)

def hive_shared_names(src, dst, entries, size):
    """The Uninstall key listing Uninstall\\7-Zip `entries` times, its DisplayName made
    `size` bytes of UTF-16."""
    h = Hive(src)
    nk = h.key(UNINSTALL + "\\7-Zip")
    vk = h.value(nk, "DisplayName")
    struct.pack_into("<II", h.data, vk + 4, size, h.append("N".encode("utf-16-le") * (size // 2)))
    rel = nk - 4 - 4096
    lf = b"lf" + struct.pack("<H", entries) + struct.pack("<II", rel, 0) * entries
    un = h.key(UNINSTALL)
    struct.pack_into("<II", h.data, un + 0x14, entries, 0)
    struct.pack_into("<I", h.data, un + 0x1c, h.append(lf))
    h.save(dst)

def hive_million_subkeys(src, dst, lists):
    """The Uninstall key with `lists` lf lists of 65535 entries each, all naming
    Uninstall\\7-Zip, under one ri list."""
    h = Hive(src)
    rel = h.key(UNINSTALL + "\\7-Zip") - 4 - 4096
    lf = b"lf" + struct.pack("<H", 65535) + struct.pack("<II", rel, 0) * 65535
    ri = b"ri" + struct.pack("<H", lists) + b"".join(struct.pack("<I", h.append(lf)) for _ in range(lists))
    un = h.key(UNINSTALL)
    struct.pack_into("<I", h.data, un + 0x14, lists * 65535)
    struct.pack_into("<I", h.data, un + 0x1c, h.append(ri))
    h.save(dst)

def hive_cell(data, rel):
    off = 4096 + rel
    return off + 4

def hive_subkeys(data, nk):
    """(name, nk offset) of the subkeys of the nk cell whose data starts at `nk`."""
    lst = struct.unpack_from("<I", data, nk + 0x1c)[0]
    out = []
    def walk(rel):
        c = hive_cell(data, rel)
        sig, n = data[c:c + 2], struct.unpack_from("<H", data, c + 2)[0]
        for i in range(n):
            if sig in (b"lf", b"lh"):
                child = struct.unpack_from("<I", data, c + 4 + 8 * i)[0]
            else:
                child = struct.unpack_from("<I", data, c + 4 + 4 * i)[0]
            if sig == b"ri":
                walk(child)
            else:
                k = hive_cell(data, child)
                ln = struct.unpack_from("<H", data, k + 0x48)[0]
                out.append((bytes(data[k + 0x4c:k + 0x4c + ln]).decode("latin-1"), k))
    if lst != 0xffffffff:
        walk(lst)
    return out

def hive_loop(src, dst, path):
    """The hive with the subkey list of key `path` rewritten as an `ri` list naming itself."""
    data = bytearray(open(src, "rb").read())
    root = struct.unpack_from("<I", data, 36)[0]
    k = hive_cell(data, root)
    for comp in path.split("\\"):
        k = dict((n.lower(), o) for n, o in hive_subkeys(data, k))[comp.lower()]
    rel = struct.unpack_from("<I", data, k + 0x1c)[0]
    c = hive_cell(data, rel)
    assert data[c:c + 2] in (b"lf", b"lh", b"li", b"ri")
    data[c:c + 2] = b"ri"
    struct.pack_into("<HII", data, c + 2, 2, rel, rel)
    open(dst, "wb").write(data)

def ntfs_break_index(part, inode):
    """Damages the first index entry of the $INDEX_ROOT of MFT record `inode` (its length becomes
    impossible), keeping the record's fixups valid."""
    with open(part, "r+b") as f:
        boot = f.read(512)
        bps = struct.unpack_from("<H", boot, 0x0b)[0]
        cluster = bps * boot[0x0d]
        mft = struct.unpack_from("<Q", boot, 0x30)[0] * cluster
        rs = struct.unpack_from("<b", boot, 0x40)[0]
        rec_size = cluster * rs if rs > 0 else 1 << -rs
        at = mft + inode * rec_size
        f.seek(at)
        rec = bytearray(f.read(rec_size))
        assert rec[0:4] == b"FILE"
        usa_off, usa_n = struct.unpack_from("<HH", rec, 4)
        usn = rec[usa_off:usa_off + 2]
        for i in range(1, usa_n):
            end = i * bps - 2
            assert rec[end:end + 2] == usn
            rec[end:end + 2] = rec[usa_off + 2 * i:usa_off + 2 * i + 2]
        a = struct.unpack_from("<H", rec, 0x14)[0]
        while True:
            typ, ln = struct.unpack_from("<II", rec, a)
            assert typ != 0xffffffff, "no $INDEX_ROOT"
            if typ == 0x90:
                break
            a += ln
        value = a + struct.unpack_from("<H", rec, a + 0x14)[0]
        header = value + 16
        entry = header + struct.unpack_from("<I", rec, header)[0]
        struct.pack_into("<H", rec, entry + 8, 3)
        for i in range(1, usa_n):
            end = i * bps - 2
            rec[usa_off + 2 * i:usa_off + 2 * i + 2] = rec[end:end + 2]
            rec[end:end + 2] = usn
        f.seek(at)
        f.write(rec)

def fat_free_chain(img, cluster):
    """Marks `cluster` free in every FAT of the FAT32 volume `img`: the chain of the directory
    that starts there is broken."""
    with open(img, "r+b") as f:
        boot = f.read(512)
        bps = struct.unpack_from("<H", boot, 0x0b)[0]
        reserved = struct.unpack_from("<H", boot, 0x0e)[0]
        fats = boot[0x10]
        fat_sectors = struct.unpack_from("<I", boot, 0x24)[0]
        for i in range(fats):
            f.seek((reserved + i * fat_sectors) * bps + 4 * cluster)
            f.write(b"\0\0\0\0")

def mksocket(path):
    d, name = os.path.split(path)
    os.chdir(d)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(name)
    s.close()

def patch_name(path, old, new):
    """Replaces the only occurrence of `old` in the first 64 KiB of `path` with `new` (same
    length)."""
    old, new = old.encode(), new.encode()
    assert len(old) == len(new)
    with open(path, "r+b") as f:
        head = f.read(65536)
        assert head.count(old) == 1, head.count(old)
        f.seek(head.index(old))
        f.write(new)

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "lvm":
    path, mda, kind, n, disk = args
    n = int(n)
    text = {"items": b"a{}" * n, "deep": b"a{" * n + b"}" * n}[kind]
    lvm(path, int(mda), text, int(disk))
elif cmd == "hive-pad":
    hive_pad(args[0], args[1], int(args[2]), int(args[3]))
elif cmd == "hive-huge-cell":
    hive_huge_cell(args[0], args[1], int(args[2]))
elif cmd == "hive-big-value":
    hive_big_value(args[0], args[1], int(args[2]))
elif cmd == "hive-shared-names":
    hive_shared_names(args[0], args[1], int(args[2]), int(args[3]))
elif cmd == "hive-million-subkeys":
    hive_million_subkeys(args[0], args[1], int(args[2]))
elif cmd == "hive-loop":
    hive_loop(*args)
elif cmd == "ntfs-break-index":
    ntfs_break_index(args[0], int(args[1]))
elif cmd == "fat-free-chain":
    fat_free_chain(args[0], int(args[1]))
elif cmd == "socket":
    mksocket(args[0])
elif cmd == "patch-name":
    patch_name(*args)
else:
    sys.exit(f"unknown command {cmd}")
PY
hx() { python3 "$py" "$@"; }

# ---------------------------------------------------------------------------------------------
# The manifest.
printf '# name\targuments\texit\texpect\texercises\n' > "$out/cases.tsv"
# case NAME ARGS EXIT EXPECT WHAT
case_() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$out/cases.tsv"; }

# ---------------------------------------------------------------------------------------------
# Small guests.

# elf DEST: the first 4 KiB of this machine's bash: enough ELF header for the architecture.
elf() { head -c 4096 /usr/bin/bash > "$1"; }

# debian_tree DIR HOSTNAME: a Debian 12 root holding what inspection reads (release files,
# fstab, host name, an x86_64 ELF /bin/bash, a one-package dpkg status).
debian_tree() {
  local r=$1
  mkdir -p "$r"/{etc,usr/bin,usr/lib,var/lib/dpkg,root,tmp,srv}
  ln -s usr/bin "$r/bin"
  ln -s usr/lib "$r/lib"
  elf "$r/usr/bin/bash"
  cat > "$r/usr/lib/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
  ln -s ../usr/lib/os-release "$r/etc/os-release"
  echo 12.5 > "$r/etc/debian_version"
  echo "$2" > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n' > "$r/etc/hosts"
  printf 'LABEL=root  /  ext4  errors=remount-ro  0  1\n' > "$r/etc/fstab"
  printf 'guest-root:x:0:0:root:/root:/bin/bash\n' > "$r/etc/passwd"
  printf 'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n' \
    > "$r/var/lib/dpkg/status"
}

uuid_n=0
# ext_image DIR IMG MIB: ext4 on the whole disk holding DIR (label root), as a compressed qcow2
# (IMG ending in .qcow2) or a sparse raw file.
ext_image() {
  local dir=$1 img=$2 mib=$3 raw=$work/ext.raw
  uuid_n=$((uuid_n + 1))
  mkext ext4 "$dir" "$raw" "$mib" "$(printf '4f57a1e0-0000-4000-8000-%012d' "$uuid_n")" root -b 4096
  case $img in
    *.qcow2) qemu-img convert -q -c -f raw -O qcow2 "$raw" "$img" ;;
    *) cp --sparse=always "$raw" "$img" ;;
  esac
  rm -f "$raw"
}

# debian_guest IMG HOSTNAME [MIB]: a Debian-like guest image.
debian_guest() {
  rm -rf "$work/d"
  debian_tree "$work/d" "$2"
  ext_image "$work/d" "$1" "${3:-16}"
  rm -rf "$work/d"
}

# overlay IMG BACKING [FMT]: a qcow2 overlay of IMG naming BACKING as written, without opening it.
overlay() {
  qemu-img create -q -u -f qcow2 -o cluster_size=512 -b "$2" -F "${3:-raw}" "$1" 16M
}

# ---------------------------------------------------------------------------------------------
# Backing files that leave the image's directory, or are not files.
mkdir -p "$out"/{backing,sibling,sib,chain/sub,outside}
debian_guest "$out/sibling/debian.qcow2" sibling-host
debian_guest "$out/chain/base.qcow2" chain-base
head -c 65536 /dev/zero > "$out/outside/flat.raw"

cd "$out/backing"
overlay passwd.qcow2 /etc/passwd
case_ backing-etc-passwd "inspect backing/passwd.qcow2" 2 \
  'stderr:backing file name "/etc/passwd" resolves to /etc/passwd, outside the image' \
  "absolute backing name of a host file"
overlay shadow.qcow2 /etc/shadow
case_ backing-etc-shadow "inspect backing/shadow.qcow2" 2 \
  'stderr:backing file name "/etc/shadow"' "absolute backing name of a secret host file"
overlay environ.qcow2 /proc/self/environ
case_ backing-proc-environ "inspect backing/environ.qcow2" 2 \
  'stderr:backing file name "/proc/self/environ"' "a /proc file (the process's own environment)"
overlay devzero.qcow2 /dev/zero
case_ backing-dev-zero "inspect backing/devzero.qcow2" 2 \
  'stderr:backing file name "/dev/zero"' "a character device as backing file"
overlay sibling.qcow2 ../sibling/debian.qcow2 qcow2
case_ backing-dotdot "inspect backing/sibling.qcow2" 2 \
  'stderr:backing file name "../sibling/debian.qcow2" && stderr:--allow-backing' \
  "a relative name climbing out of the directory to a real image"
mkfifo pipe
overlay fifo.qcow2 pipe
case_ backing-fifo "inspect backing/fifo.qcow2" 2 \
  'stderr:is a named pipe (FIFO), not a regular file' "a FIFO inside the directory as backing file"
overlay dir.qcow2 .
case_ backing-directory "inspect backing/dir.qcow2" 2 \
  'stderr:is a directory, not a regular file' "the image's own directory as backing file"
ln -s ../sibling/debian.qcow2 base-link.qcow2
overlay link-out.qcow2 base-link.qcow2 qcow2
case_ backing-symlink-out "inspect backing/link-out.qcow2" 2 \
  'stderr:backing file name "base-link.qcow2" resolves to' \
  "a symlink inside the directory pointing out of it"
ln -s /etc/passwd passwd-link
overlay link-passwd.qcow2 passwd-link
case_ backing-symlink-passwd "inspect backing/link-passwd.qcow2" 2 \
  'stderr:backing file name "passwd-link" resolves to /etc/passwd' \
  "a symlink inside the directory pointing to a host file"
# qemu-img refuses to write this one: a placeholder of the same length, renamed.
overlay self.qcow2 XXXX.qcow2 qcow2
hx patch-name self.qcow2 XXXX.qcow2 self.qcow2
case_ backing-self "inspect backing/self.qcow2" 2 'stderr:self.qcow2' "an image that is its own backing file"
overlay loop-a.qcow2 loop-b.qcow2 qcow2
overlay loop-b.qcow2 loop-a.qcow2 qcow2
case_ backing-loop "inspect backing/loop-a.qcow2" 2 'stderr:loop-a.qcow2' "a two-image backing loop"
mkdir deep
for i in $(seq 0 69); do
  overlay "deep/$(printf %03d "$i").qcow2" "$(printf %03d $((i + 1))).qcow2" qcow2
done
head -c 65536 /dev/zero > deep/070.qcow2
case_ backing-deep "inspect backing/deep/000.qcow2" 2 'stderr:64' "a backing chain 70 images deep"
# An external data file (qcow2 incompatible feature bit 2) named /etc/passwd: written with a
# placeholder of the same length, then renamed in the header extension.
qemu-img create -q -f qcow2 -o data_file=XXXXXXXXXXX,data_file_raw=on data-file.qcow2 1M
rm -f XXXXXXXXXXX
hx patch-name data-file.qcow2 XXXXXXXXXXX /etc/passwd
case_ data-file-etc-passwd "inspect backing/data-file.qcow2" 2 'stderr:external data file' \
  "a qcow2 external data file named /etc/passwd"

cd "$out/sib"
overlay top.qcow2 ../sibling/debian.qcow2 qcow2
case_ sibling-refused "inspect sib/top.qcow2" 2 \
  'stderr:backing file name "../sibling/debian.qcow2" && stderr:--allow-backing' \
  "another VM's image in a sibling directory: refused by default"
case_ sibling-allowed "inspect --format json --allow-backing sibling sib/top.qcow2" 0 \
  'json:/operatingsystems/0/hostname=sibling-host && json:/disks/0/companions/0/role=backing file name' \
  "the same with --allow-backing: read, and reported in disks[].companions"
cd "$out/chain"
overlay sub/mid.qcow2 ../../sibling/debian.qcow2 qcow2
overlay top.qcow2 sub/mid.qcow2 qcow2
case_ chain-subdir-out "inspect chain/top.qcow2" 2 \
  'stderr:backing file name "../../sibling/debian.qcow2"' \
  "a chain member in a subdirectory naming a file outside the top image's directory"
overlay sub/mid-ok.qcow2 ../base.qcow2 qcow2
overlay top-ok.qcow2 sub/mid-ok.qcow2 qcow2
case_ chain-subdir-in "inspect --format json chain/top-ok.qcow2" 0 \
  'json:/operatingsystems/0/hostname=chain-base' \
  "a chain through a subdirectory back into the top image's directory: read"

# ---------------------------------------------------------------------------------------------
# VMDK descriptors.
mkdir -p "$out/vmdk"
cd "$out/vmdk"
# descriptor FILE EXTENT [SECTORS] [EXTRA]: a monolithicFlat descriptor; the extent is line 9.
descriptor() {
  cat > "$1" <<EOF
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="monolithicFlat"
${4:-}

# Extent description
RW ${3:-128} FLAT "$2" 0

# The Disk Data Base
ddb.virtualHWVersion = "4"
EOF
}
debian_guest flat.raw vmdk-host
sectors=$(( $(stat -c %s flat.raw) / 512 ))
descriptor ok.vmdk flat.raw "$sectors"
case_ vmdk-extent-inside "inspect --format json vmdk/ok.vmdk" 0 \
  'json:/operatingsystems/0/hostname=vmdk-host && json:/disks/0/companions/0/role=extent file on descriptor line 9' \
  "a descriptor and its flat extent in one directory: read"
descriptor passwd.vmdk /etc/passwd
case_ vmdk-etc-passwd "inspect vmdk/passwd.vmdk" 2 \
  'stderr:extent file on descriptor line 9 "/etc/passwd" resolves to /etc/passwd' \
  "an extent line naming /etc/passwd"
descriptor dotdot.vmdk ../outside/flat.raw
case_ vmdk-dotdot "inspect vmdk/dotdot.vmdk" 2 \
  'stderr:extent file on descriptor line 9 "../outside/flat.raw"' "an extent line climbing out with ../"
mkfifo pipe
descriptor fifo.vmdk pipe
case_ vmdk-fifo "inspect vmdk/fifo.vmdk" 2 'stderr:is a named pipe (FIFO)' "an extent that is a FIFO"
ln -s /etc/passwd passwd-link.raw
descriptor link-out.vmdk passwd-link.raw
case_ vmdk-symlink-out "inspect vmdk/link-out.vmdk" 2 \
  'stderr:"passwd-link.raw" resolves to /etc/passwd' "an extent that is a symlink to a host file"
ln -s flat.raw flat-link.raw
descriptor link-in.vmdk flat-link.raw "$sectors"
case_ vmdk-symlink-in "inspect --format json vmdk/link-in.vmdk" 0 \
  'json:/operatingsystems/0/hostname=vmdk-host' \
  "an extent that is a symlink to a file in the same directory: read"
descriptor parent.vmdk flat.raw "$sectors" 'parentFileNameHint="/etc/passwd"'
case_ vmdk-parent-hint "inspect vmdk/parent.vmdk" 2 'stderr:parent' \
  "a delta disk whose parent hint is /etc/passwd: refused as unsupported"

# ---------------------------------------------------------------------------------------------
# The image itself is not a regular file.
mkdir -p "$out/special/dir.qcow2"
cd "$out/special"
mkfifo fifo.qcow2
case_ image-fifo "inspect special/fifo.qcow2" 2 'stderr:is a named pipe (FIFO)' \
  "the image given is a FIFO with no writer"
hx socket "$out/special/socket.qcow2"
case_ image-socket "inspect special/socket.qcow2" 2 'stderr:special/socket.qcow2 is a socket, not a regular file or a block device' \
  "the image given is a Unix socket"
ln -s /dev/zero devzero.img
case_ image-char-device "inspect special/devzero.img" 2 'stderr:is a character device' \
  "the image given is a symlink to /dev/zero"
case_ image-directory "inspect special/dir.qcow2" 2 'stderr:is a directory' \
  "the image given is a directory"
# Other files named on the command line.
mkdir rules
mkfifo rules/fifo.yaml
case_ rules-fifo "check sibling/debian.qcow2 --profile cloudcenter-worker --rules special/rules" 2 \
  'stderr:special/rules/fifo.yaml is a named pipe (FIFO), not a regular file' \
  "a FIFO among the rule files of --rules DIR"
case_ param-ca-fifo "check sibling/debian.qcow2 --profile cloudcenter-worker --format json --param ca=special/fifo.qcow2" 1 \
  'rule:certificates.bundle-store=special/fifo.qcow2 is a named pipe (FIFO)' \
  "--param ca= naming a FIFO: that rule is an error, the others run"
case_ param-ca-dev-zero "check sibling/debian.qcow2 --profile cloudcenter-worker --format json --param ca=/dev/zero" 1 \
  'rule:certificates.bundle-store=/dev/zero is a character device' \
  "--param ca=/dev/zero"

# ---------------------------------------------------------------------------------------------
# LVM metadata text (whole-disk PVs, CRCs valid).
mkdir -p "$out/lvm"
cd "$out/lvm"
lvm_disk() { # NAME MDA_BYTES KIND N DISK_BYTES
  hx lvm "$work/lvm.raw" "$2" "$3" "$4" "$5"
  qemu-img convert -q -c -f raw -O qcow2 "$work/lvm.raw" "$1.qcow2"
  rm -f "$work/lvm.raw"
}
lvm_disk items $((9 << 20)) items 2500000 $((16 << 20))
case_ lvm-items "inspect --format json lvm/items.qcow2" 0 'note:200000' \
  "7.5 MB of LVM metadata text made of a{} items: refused at the item limit"
lvm_disk huge-text $((64 << 20)) items 22000000 $((72 << 20))
case_ lvm-huge-text "inspect --format json lvm/huge-text.qcow2" 0 'note:raw_locn size' \
  "63 MiB of LVM metadata text: refused before it is read"
lvm_disk deep $((1 << 20)) deep 100000 $((4 << 20))
case_ lvm-deep "inspect --format json lvm/deep.qcow2" 0 'note:deeper' \
  "LVM sections nested 100000 deep"
lvm_disk many $((1 << 20)) items 190000 $((4 << 20))
case_ lvm-many-items "inspect --format json lvm/many.qcow2" 0 'note:LVM' \
  "190000 items, just under the limit: parsed, then refused as a volume group"

# ---------------------------------------------------------------------------------------------
# Package databases.
mkdir -p "$out/dpkg" "$out/apk"
cd "$out/dpkg"
rm -rf "$work/d"
debian_tree "$work/d" dpkg-sparse
truncate -s 1G "$work/d/var/lib/dpkg/status"
ext_image "$work/d" status-1g.qcow2 16
case_ dpkg-1g-sparse "inspect --format json dpkg/status-1g.qcow2" 0 'note:50000000' \
  "a 1 GiB sparse dpkg status: refused before it is read"

paragraph() { printf 'Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n' "$1"; }
rm -rf "$work/d"
debian_tree "$work/d" dpkg-line
{ paragraph one-line; printf 'Description: '; head -c 45000000 /dev/zero | tr '\0' a; printf '\n\n'; } \
  > "$work/d/var/lib/dpkg/status"
ext_image "$work/d" line-45m.qcow2 64
case_ dpkg-45m-line "inspect --format json dpkg/line-45m.qcow2" 0 \
  'json:/operatingsystems/0/applications/0/name=one-line' "a dpkg status holding one 45 MB line"

rm -rf "$work/d"
debian_tree "$work/d" dpkg-desc
{
  paragraph long-description
  printf 'Description: summary\n'
  awk 'BEGIN { for (i = 0; i < 520000; i++)
    print " description line of a hostile package, repeated until the paragraph is 45 MB long" }'
  printf '\n'
} > "$work/d/var/lib/dpkg/status"
ext_image "$work/d" desc-45m.qcow2 64
case_ dpkg-45m-description "inspect --format json dpkg/desc-45m.qcow2" 0 \
  'json:/operatingsystems/0/applications/0/name=long-description' \
  "a dpkg status whose one description is 45 MB of continuation lines"

rm -rf "$work/d"
debian_tree "$work/d" dpkg-many
seq -f 'Package: p%06g\nStatus: install ok installed\nVersion: 1\n' 1 120000 \
  | sed 's/\\n/\n/g' > "$work/d/var/lib/dpkg/status"
ext_image "$work/d" 120k.qcow2 32
case_ dpkg-120k-paragraphs "inspect --format json dpkg/120k.qcow2" 0 'note:more than 30000 packages' \
  "120000 tiny dpkg paragraphs: the listing stops at 30000"

rm -rf "$work/d"
debian_tree "$work/d" dpkg-described
awk 'BEGIN { d = "a package description line of sixty bytes, repeated four ti"
  for (i = 1; i <= 100000; i++)
    printf "Package: p%06d\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\nDescription: summary of p%06d\n %s\n %s\n %s\n %s\n\n", i, i, d, d, d, d }' \
  > "$work/d/var/lib/dpkg/status"
ext_image "$work/d" described.qcow2 64
case_ dpkg-100k-described "inspect --format json dpkg/described.qcow2" 0 'note:more than 30000 packages' \
  "100000 dpkg paragraphs with 240-byte descriptions: listed to the limits, rendered as they are written out"

cd "$out/apk"
rm -rf "$work/d"
mkdir -p "$work/d"/{etc,bin,lib/apk/db}
elf "$work/d/bin/busybox"
ln -s busybox "$work/d/bin/sh"
echo 3.18.4 > "$work/d/etc/alpine-release"
printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME="Alpine Linux v3.18"\n' \
  > "$work/d/etc/os-release"
echo apk-line > "$work/d/etc/hostname"
printf '127.0.0.1\tlocalhost\n' > "$work/d/etc/hosts"
printf 'LABEL=root  /  ext4  defaults  0  1\n' > "$work/d/etc/fstab"
{
  printf 'C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:musl\nV:1.2.4-r2\nA:x86_64\nT:'
  head -c 3000000 /dev/zero | tr '\0' t
  printf '\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\nT:Size optimized toolbox\n\n'
} > "$work/d/lib/apk/db/installed"
ext_image "$work/d" line-3m.qcow2 16
case_ apk-3m-line "inspect --format json apk/line-3m.qcow2" 0 \
  'note:apk installed line && json:/operatingsystems/0/applications/0/name=busybox' \
  "an apk installed database with a 3 MB line"

# ---------------------------------------------------------------------------------------------
# Windows registry (the win2016-like look-alike of windows-disks, NTFS changed offline).
mkdir -p "$out/win"
cd "$out/win"
part_start=2048
part_sectors=$(sfdisk -d "$win" | sed -n 's/.*start= *2048, size= *\([0-9]*\).*/\1/p')
dd if="$win" of="$work/c.ntfs" bs=512 skip=$part_start count="$part_sectors" conv=sparse status=none
ntfscat "$work/c.ntfs" /Windows/System32/config/SOFTWARE > "$work/SOFTWARE"
label_id=$(sfdisk -d "$win" | sed -n 's/^label-id: *//p')

# win_disk NTFS MIB OUT: an MBR disk with the win2016-like disk signature, one NTFS partition at
# sector 2048 (where MountedDevices says C: is) holding the volume NTFS, as a compressed qcow2.
win_disk() {
  local ntfs=$1 mib=$2 disk=$work/win.raw
  rm -f "$disk"
  truncate -s $(( (mib + 2) << 20 )) "$disk"
  printf 'label: dos\nlabel-id: %s\nstart=2048, size=%d, type=7, bootable\n' \
    "$label_id" $(( mib << 11 )) | sfdisk -q "$disk"
  put "$ntfs" "$disk" 2048
  qemu-img convert -q -c -f raw -O qcow2 "$disk" "$3"
  rm -f "$disk"
}

# win_image SOFTWARE IMAGE [MIB]: the win2016-like disk with SOFTWARE as its SOFTWARE hive (the
# volume grown to MIB MiB first).
win_image() {
  local mib=${3:-$(( part_sectors >> 11 ))}
  cp --sparse=always "$work/c.ntfs" "$work/v.ntfs"
  if [ "$mib" -gt $(( part_sectors >> 11 )) ]; then
    truncate -s "${mib}M" "$work/v.ntfs"
    ntfsresize -f -s "${mib}M" "$work/v.ntfs" <<< y > "$work/ntfsresize.log"
    ntfsfix -d "$work/v.ntfs" > /dev/null
  fi
  ntfscp -f "$work/v.ntfs" "$1" /Windows/System32/config/SOFTWARE
  win_disk "$work/v.ntfs" "$mib" "$2"
  rm -f "$work/v.ntfs" "$1"
}
win_facts='json:/operatingsystems/0/product_name=Windows Server 2016 Standard && json:/operatingsystems/0/hostname=RAX-W2K16'

hx hive-pad "$work/SOFTWARE" "$work/h" $((500 << 20)) 0
win_image "$work/h" big-hive.qcow2 800
case_ registry-500m-hive "inspect --format json win/big-hive.qcow2" 0 "$win_facts" \
  "a 500 MiB SOFTWARE hive (the real one, then one huge empty hive bin): read cell by cell"
hx hive-pad "$work/SOFTWARE" "$work/h" $((500 << 20)) 4096
win_image "$work/h" big-hive-bins.qcow2 800
case_ registry-500m-hive-bins "inspect --format json win/big-hive-bins.qcow2" 0 "$win_facts" \
  "a 500 MiB SOFTWARE hive whose 128000 empty 4 KiB bins are all walked on open"

hx hive-loop "$work/SOFTWARE" "$work/h" 'Microsoft\Windows\CurrentVersion\Uninstall'
win_image "$work/h" uninstall-loop.qcow2
case_ registry-uninstall-loop "inspect --format json win/uninstall-loop.qcow2" 0 \
  "note:Microsoft\\Windows\\CurrentVersion\\Uninstall && note:loop && $win_facts" \
  "an Uninstall key whose subkey list is an ri list naming itself"

hx hive-huge-cell "$work/SOFTWARE" "$work/h" $((128 << 20))
win_image "$work/h" huge-cell.qcow2 400
case_ registry-128m-cell "inspect --format json win/huge-cell.qcow2" 0 \
  "note:Uninstall: its subkeys cannot be read && $win_facts" \
  "an Uninstall subkey list pointing to an allocated cell of 128 MiB"

hx hive-big-value "$work/SOFTWARE" "$work/h" $((60 << 20))
win_image "$work/h" big-value.qcow2 400
case_ registry-60m-value "inspect --format json win/big-value.qcow2" 0 \
  "note:Uninstall\\7-Zip && $win_facts" "a DisplayName of 60 MiB"

hx hive-shared-names "$work/SOFTWARE" "$work/h" 40 6000000
win_image "$work/h" shared-names.qcow2
case_ registry-40-big-names "inspect --format json win/shared-names.qcow2" 0 \
  "note:the rest are left out && $win_facts" \
  "40 Uninstall entries (one key listed 40 times) whose DisplayName is 6 MB each"

hx hive-million-subkeys "$work/SOFTWARE" "$work/h" 16
win_image "$work/h" million-subkeys.qcow2
case_ registry-million-subkeys "inspect --format json win/million-subkeys.qcow2" 0 \
  "note:subkeys && $win_facts" "an Uninstall key listing one subkey a million times (16 lf lists)"

# ---------------------------------------------------------------------------------------------
# Directories damaged after being written: inspection must say which one it could not read.
mkdir -p "$out/unreadable"
cd "$out/unreadable"
rm -rf "$work/d"
debian_tree "$work/d" unreadable
# Enough entries that /etc is a directory of its own blocks, not one kept inside its inode.
for i in $(seq -w 1 300); do echo "$i" > "$work/d/etc/conf-$i"; done
printf 'LABEL=root  /  xfs  defaults  0  1\n' > "$work/d/etc/fstab"
mkxfs "$work/d" "$work/x.xfs" 64 5a1e0000-0000-4000-8000-00000000fe01 root
etc_block=$(xfs_db -r -c 'path /etc' -c bmap "$work/x.xfs" | sed -n '1s/.*startblock \([0-9]*\).*/\1/p')
etc_byte=$(xfs_db -r -c "convert fsblock $etc_block byte" "$work/x.xfs" | sed 's/.*(\([0-9]*\)).*/\1/')
printf 'damaged!%.0s' $(seq 1 512) | dd of="$work/x.xfs" bs=4096 seek="$etc_byte" \
  oflag=seek_bytes conv=notrunc status=none
qemu-img convert -q -c -f raw -O qcow2 "$work/x.xfs" xfs-etc.qcow2
case_ xfs-etc-unreadable "inspect --format json unreadable/xfs-etc.qcow2" 0 \
  'note:not recognised as an OS root && note:/etc' "an XFS root whose /etc directory block is overwritten"
case_ xfs-etc-check "check unreadable/xfs-etc.qcow2 --profile cloudcenter-worker" 2 \
  'stderr:no operating system found && stderr:/etc' "check with no OS found says what could not be read"

# fat_root IMG: a FAT32 Linux-like root (mtools) holding $work/d.
fat_root() {
  rm -f "$1"
  truncate -s 64M "$1"
  mkfs.vfat -F 32 -i 5a1efa70 -n ROOT "$1" > /dev/null
  (cd "$work/d" && find . -mindepth 1 -type d | sed 's|^\./||' | sort) | while read -r d; do
    mmd -i "$1" "::/$d"
  done
  (cd "$work/d" && find . -type f | sed 's|^\./||' | sort) | while read -r f; do
    mcopy -i "$1" "$work/d/$f" "::/$f"
  done
}
rm -rf "$work/d"
debian_tree "$work/d" fat-root
rm "$work/d/bin" "$work/d/lib" "$work/d/etc/os-release"
mkdir -p "$work/d/bin"
cp "$work/d/usr/lib/os-release" "$work/d/etc/os-release"
printf 'LABEL=ROOT  /  vfat  defaults  0  1\n' > "$work/d/etc/fstab"
fat_root "$work/fat.img"
qemu-img convert -q -c -f raw -O qcow2 "$work/fat.img" fat32-nopart.qcow2
case_ fat32-no-partition-table "inspect --format json unreadable/fat32-nopart.qcow2" 0 \
  'json:/operatingsystems/0/hostname=fat-root' "a FAT32 root on a disk with no partition table"
etc_cluster=$(mshowfat -i "$work/fat.img" ::/etc | sed -n 's/.*<\([0-9]*\).*/\1/p' | head -n 1)
hx fat-free-chain "$work/fat.img" "$etc_cluster"
rm -f "$work/fat.raw"
truncate -s 66M "$work/fat.raw"
printf 'label: dos\nlabel-id: 0x5a1efa70\nstart=2048, type=c\n' | sfdisk -q "$work/fat.raw"
put "$work/fat.img" "$work/fat.raw" 2048
qemu-img convert -q -c -f raw -O qcow2 "$work/fat.raw" fat-etc.qcow2
case_ fat-etc-unreadable "inspect --format json unreadable/fat-etc.qcow2" 0 \
  'note:not recognised as an OS root && note:/etc' \
  "a FAT32 root (MBR) whose /etc cluster chain is broken"

cp --sparse=always "$work/c.ntfs" "$work/broken.ntfs"
windows_inode=$(ntfsls -i -p / "$work/broken.ntfs" | awk '$2 == "Windows" { print $1 }')
hx ntfs-break-index "$work/broken.ntfs" "$windows_inode"
win_disk "$work/broken.ntfs" $(( part_sectors >> 11 )) ntfs-windows.qcow2
case_ ntfs-windows-unreadable "inspect --format json unreadable/ntfs-windows.qcow2" 0 \
  'note:not recognised as an OS root && note:/windows' \
  "an NTFS Windows volume whose /Windows index is damaged"

# ---------------------------------------------------------------------------------------------
# Symlinks inside guests that name host paths.
mkdir -p "$out/links"
cd "$out/links"
rm -rf "$work/d"
debian_tree "$work/d" unused
mkdir -p "$work/d/proc/sys/kernel"
echo guest-proc-hostname > "$work/d/proc/sys/kernel/hostname"
ln -sf /proc/sys/kernel/hostname "$work/d/etc/hostname"
ln -s /etc/shadow "$work/d/etc/machine-id"
ext_image "$work/d" host-abs.qcow2 16
case_ link-absolute-host-path "inspect --format json links/host-abs.qcow2" 0 \
  'json:/operatingsystems/0/hostname=guest-proc-hostname' \
  "/etc/hostname -> /proc/sys/kernel/hostname reads the guest's file"

rm -rf "$work/d"
debian_tree "$work/d" unused
echo guest-dotdot > "$work/d/srv/hn"
ln -sf ../../../../../../../../../../srv/hn "$work/d/etc/hostname"
ext_image "$work/d" dotdot.qcow2 16
case_ link-dotdot-above-root "inspect --format json links/dotdot.qcow2" 0 \
  'json:/operatingsystems/0/hostname=guest-dotdot' "a link climbing above the guest root stops there"

rm -rf "$work/d"
debian_tree "$work/d" unused
mkdir -p "$work/d/l"
for i in $(seq 1 45); do ln -s "/l/$((i + 1))" "$work/d/l/$i"; done
echo too-deep > "$work/d/l/46"
ln -sf /l/1 "$work/d/etc/hostname"
rm "$work/d/etc/os-release"
ln -s /etc/os-release "$work/d/etc/os-release"
ext_image "$work/d" deep.qcow2 16
case_ link-chain-45 "inspect --format json links/deep.qcow2" 0 \
  'json:/operatingsystems/0/distro=debian' "a 45-link chain to /etc/hostname and a self-linked /etc/os-release"

rm -rf "$work/d"
cd "$out"
