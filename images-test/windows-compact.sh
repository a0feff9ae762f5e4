# Windows disks whose system files are not plain NTFS files, and a dual-boot disk; all three
# start from windows-disks' win2016-like disk (C: on sda1, MBR signature 0x4d2e1f60).
#
#   compact.img    Windows 10 CompactOS: Windows\System32\cmd.exe LZX-compressed and
#                  Windows\explorer.exe XPRESS4K-compressed by WOF (reparse point, sparse
#                  unnamed data, WofCompressedData stream; chunks compressed by wimlib's
#                  compressors through ctypes, as ntfs-wof.sh makes them).
#   wimboot.img    Windows 8.1 WIMBoot: cmd.exe is a WOF pointer into a WIM image that is not
#                  on the disk, so no PE header can be read; the architecture is in the SYSTEM
#                  hive (PROCESSOR_ARCHITECTURE=AMD64 in ControlSet001\Control\Session
#                  Manager\Environment, which compact.img's hive has too).
#   dual-boot.img  the unchanged Windows C: on sda1 and a Debian 12 root (ext4, host name
#                  dual-linux) on sda2: two operating systems on one disk.
#
# The NTFS changes are made by ntfs-3g in one libguestfs appliance session (streams_interface=
# windows for the named streams, system.ntfs_reparse_data for the reparse points); the hive is
# taken out with ntfscat and grown with hivexregedit on the host.
# References: IMAGE.inspector.xml from virt-inspector, and originals.tsv (size, sha256, path of
# the files compressed in compact.img, as they were).
# needs: windows-disks
. ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
src=$(fixture windows-disks)/win2016-like.raw

# C: starts at sector 2048; its SYSTEM hive and the executables compressed below.
dd if="$src" of="$work/c.ntfs" bs=1M skip=1 conv=sparse status=none
ntfscat -f "$work/c.ntfs" /Windows/System32/config/SYSTEM > "$work/SYSTEM"
ntfscat -f "$work/c.ntfs" /Windows/System32/cmd.exe > "$work/cmd.exe"
ntfscat -f "$work/c.ntfs" /Windows/explorer.exe > "$work/explorer.exe"
rm "$work/c.ntfs"
utf16z() { { printf '%s' "$1" | iconv -t UTF-16LE; printf '\0\0'; } | od -An -v -tx1 \
  | tr -s ' \n' ',,' | sed 's/^,//; s/,$//'; }
cat > "$work/env.reg" <<EOF
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control]

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager]

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Environment]
"PROCESSOR_ARCHITECTURE"=hex(1):$(utf16z AMD64)
"NUMBER_OF_PROCESSORS"=hex(1):$(utf16z 2)
"OS"=hex(1):$(utf16z Windows_NT)
EOF
chmod 644 "$work/SYSTEM"
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$work/SYSTEM" "$work/env.reg"
hivexregedit --export --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$work/SYSTEM" \
  '\ControlSet001\Control\Session Manager\Environment' > "$out/Environment.reg"
grep -q PROCESSOR_ARCHITECTURE "$out/Environment.reg"

mkdir -p "$work/stage"
cp "$work/SYSTEM" "$work/stage/SYSTEM"
python3 - "$work" "$out" <<'PY'
import ctypes, hashlib, struct, sys
work, out = sys.argv[1], sys.argv[2]
wim = ctypes.CDLL("libwim.so.15")
wim.wimlib_create_compressor.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_uint,
                                         ctypes.POINTER(ctypes.c_void_p)]
wim.wimlib_compress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                ctypes.c_size_t, ctypes.c_void_p]
wim.wimlib_compress.restype = ctypes.c_size_t

def wof_stream(data, ctype, chunk):
    c = ctypes.c_void_p()
    assert wim.wimlib_create_compressor(ctype, chunk, 0, ctypes.byref(c)) == 0
    chunks = []
    for i in range(0, len(data), chunk):
        plain = data[i:i + chunk]
        buf = ctypes.create_string_buffer(len(plain))
        n = wim.wimlib_compress(plain, len(plain), buf, len(plain) - 1, c)
        chunks.append(buf.raw[:n] if n else plain)
    offsets, pos = [], 0
    for ch in chunks[:-1]:
        pos += len(ch)
        offsets.append(pos)
    return b"".join(struct.pack("<I", o) for o in offsets) + b"".join(chunks)

file_rp = lambda number: struct.pack("<IHH4I", 0x80000017, 16, 0, 1, 2, 1, number).hex()
wim_data = struct.pack("<2I", 1, 1) + struct.pack("<IIQ", 1, 0, 1) + bytes(range(20))
wim_rp = (struct.pack("<IHH", 0x80000017, len(wim_data), 0) + wim_data).hex()

with open(f"{work}/stage/fill.sh", "w") as sh, open(f"{out}/originals.tsv", "w") as orig:
    sh.write("set -e\ns=/sysroot/stage\n")
    # (disk, file, host copy, reparse point, stream or None)
    for disk, path, name, rp, fmt in [
        ("compact", "/Windows/System32/cmd.exe", "cmd.exe", file_rp(1), (2, 32768)),
        ("compact", "/Windows/explorer.exe", "explorer.exe", file_rp(0), (1, 4096)),
        ("wimboot", "/Windows/System32/cmd.exe", "cmd.exe", wim_rp, None),
    ]:
        data = open(f"{work}/{name}", "rb").read()
        f = f"/sysroot/{disk}{path}"
        sh.write(f"rm {f}\ntouch {f}\ntruncate -s {len(data)} {f}\n")
        if fmt:
            key = f"{disk}-{name}"
            open(f"{work}/stage/{key}", "wb").write(wof_stream(data, *fmt))
            sh.write(f"cat $s/{key} > {f}:WofCompressedData\n")
            orig.write(f"{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{path}\n")
        sh.write(f"setfattr -n system.ntfs_reparse_data -v 0x{rp} {f}\n")
    for disk in ["compact", "wimboot"]:
        sh.write(f"cat $s/SYSTEM > /sysroot/{disk}/Windows/System32/config/SYSTEM\n")
PY

cp --sparse=always "$src" "$out/compact.img"
cp --sparse=always "$src" "$out/wimboot.img"
truncate -s 16M "$work/stage.ext2"
mke2fs -q -F -t ext2 -d "$work/stage" "$work/stage.ext2"
# The kernel's names of the disks change between launches: the shell finds them by SCSI target
# (drive order) in /dev/disk/by-path.
cat > "$work/fill.gf" <<GF
add $out/compact.img format:raw
add $out/wimboot.img format:raw
add $work/stage.ext2 format:raw readonly:true
run
debug sh "mkdir -p /sysroot/stage /sysroot/compact /sysroot/wimboot"
debug sh "mount -o ro \$(readlink -f /dev/disk/by-path/*-scsi-0:0:2:0) /sysroot/stage"
debug sh "ntfs-3g -o streams_interface=windows \$(readlink -f /dev/disk/by-path/*-scsi-0:0:0:0-part1) /sysroot/compact"
debug sh "ntfs-3g -o streams_interface=windows \$(readlink -f /dev/disk/by-path/*-scsi-0:0:1:0-part1) /sysroot/wimboot"
debug sh "sh /sysroot/stage/fill.sh"
debug sh "umount /sysroot/compact && umount /sysroot/wimboot && umount /sysroot/stage && sync"
shutdown
GF
timeout 1800 guestfish -f "$work/fill.gf" > "$out/guestfish.log" 2>&1 \
  || { cat "$out/guestfish.log" >&2; exit 1; }

# The dual-boot disk: the Windows disk grown by 48 MiB, a Debian root in the new partition.
img=$out/dual-boot.img
cp --sparse=always "$src" "$img"
truncate -s 336M "$img"
printf 'start=589824, type=83\n' | sfdisk -q --append "$img"
linux_uuid=d0a1b0a7-5555-4a4a-8b8b-000000000005
r=$work/linux
mkdir -p "$r/etc" "$r/bin" "$r/usr/bin" "$r/var/lib/dpkg" "$r/root" "$r/tmp"
echo '12.4' > "$r/etc/debian_version"
cat > "$r/etc/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
echo dual-linux > "$r/etc/hostname"
printf 'UUID=%s\t/\text4\terrors=remount-ro 0 1\n' "$linux_uuid" > "$r/etc/fstab"
cp /bin/ls "$r/bin/ls"
cp /bin/ls "$r/usr/bin/env"
cat > "$r/var/lib/dpkg/status" <<'EOF'
Package: base-files
Status: install ok installed
Priority: required
Section: admin
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u4
Description: Debian base system miscellaneous files

EOF
mkext ext4 "$r" "$work/linux.ext4" 40 "$linux_uuid" linux
put "$work/linux.ext4" "$img" 589824

for i in compact wimboot dual-boot; do
  inspector "$out/$i.img" "$out/$i.img.inspector.xml"
done
# virt-inspector lists both systems of the dual-boot disk.
[ "$(grep -c '<operatingsystem>' "$out/dual-boot.img.inspector.xml")" = 2 ]
rm -rf "$work"
