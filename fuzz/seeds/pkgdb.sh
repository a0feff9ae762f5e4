#!/usr/bin/env bash
# Builds seeds for the pkgdb_* fuzz targets (no root needed):
#   fuzz/seeds/pkgdb.sh OUTDIR  ->  OUTDIR/pkgdb_{apk,bdb,dpkg,ndb,rpm_header,sqlite}/*
# rpm headers, Berkeley DB and the base of the SQLite seeds come from the rpmdb-gen fixture
# (headers written by rpmbuild; images-test/build builds it if it is not cached) and from
# tests/data/rpmdb; the NDB seed is tests/data/rpmdb/ndb-sle15 cut to its first two packages;
# small SQLite databases (512-byte pages, alone and with a WAL) are written with Python's
# sqlite3 from a few of those headers; dpkg and apk seeds are written here.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$here/../..
for t in apk bdb dpkg ndb rpm_header sqlite; do mkdir -p "$out/pkgdb_$t"; done
gen=$("$root/images-test/build" --path rpmdb-gen)

for n in 1 28 31 32 47; do cp "$gen/blobs/$n" "$out/pkgdb_rpm_header/blob-$n"; done
cp "$gen/bdb-512/Packages" "$out/pkgdb_bdb/bdb-512"
cp "$root/tests/data/rpmdb/bdb-libuuid/Packages" "$out/pkgdb_bdb/bdb-libuuid"

python3 - "$root/tests/data/rpmdb/ndb-sle15/Packages.db" "$out/pkgdb_ndb/sle15-2" <<'PY'
# Keeps the first two packages of an NDB database: one slot page, blobs moved after it.
import struct, sys
src = open(sys.argv[1], 'rb').read()
slot_pages = struct.unpack_from('<I', src, 12)[0]
slots = []
for page in range(slot_pages):
    for o in range(32 if page == 0 else 0, 4096, 16):
        magic, idx, blkoff, blkcnt = struct.unpack_from('<4sIII', src, page * 4096 + o)
        if magic == b'Slot' and blkoff:
            slots.append((idx, blkoff, blkcnt))
head = bytearray(src[:32])
struct.pack_into('<I', head, 12, 1)
page = bytearray(head + b''.join(struct.pack('<4sIII', b'Slot', 0, 0, 0) for _ in range(254)))
blobs = b''
for i, (idx, blkoff, blkcnt) in enumerate(sorted(slots)[:2]):
    struct.pack_into('<4sIII', page, 32 + 16 * i, b'Slot', idx, 256 + len(blobs) // 16, blkcnt)
    blobs += src[blkoff * 16:(blkoff + blkcnt) * 16]
open(sys.argv[2], 'wb').write(bytes(page) + blobs)
PY

python3 - "$gen/blobs" "$out/pkgdb_sqlite" <<'PY'
# rpm's SQLite schema with a few headers; one database alone, one with its WAL appended
# ([db][wal][u32 LE WAL length], the pkgdb_sqlite input format).
import os, shutil, sqlite3, struct, sys, tempfile
blobs, out = sys.argv[1:3]
def blob(n):
    return open(os.path.join(blobs, str(n)), 'rb').read()
tmp = tempfile.mkdtemp()
def make(name, nums, wal_nums=None):
    path = os.path.join(tmp, name)
    c = sqlite3.connect(path)
    c.execute('PRAGMA page_size=512')
    if wal_nums is not None:
        c.execute('PRAGMA journal_mode=WAL')
        c.execute('PRAGMA wal_autocheckpoint=0')
    c.execute('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)')
    c.execute('CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, '
              'FOREIGN KEY (hnum) REFERENCES Packages(hnum))')
    for n in nums:
        c.execute('INSERT INTO Packages (hnum, blob) VALUES (?, ?)', (n, blob(n)))
    c.commit()
    if wal_nums is None:
        c.close()
        shutil.copy(path, os.path.join(out, name))
        return
    c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    c.execute('DELETE FROM Packages WHERE hnum = ?', (nums[0],))
    for n in wal_nums:
        c.execute('INSERT INTO Packages (hnum, blob) VALUES (?, ?)', (n, blob(n)))
    c.commit()
    db = open(path, 'rb').read()
    wal = open(path + '-wal', 'rb').read()
    c.close()
    open(os.path.join(out, name), 'wb').write(db + wal + struct.pack('<I', len(wal)))
make('small', [1, 2, 31])
make('wal', [1, 2], [28, 47])
shutil.rmtree(tmp)
PY

d=$out/pkgdb_dpkg
cat > "$d/status" <<'EOF'
Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12988
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Depends: libgcc-s1
Conffiles:
 /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
 .
 This package includes shared versions of the standard C library.

Package: python2.7
Status: deinstall ok config-files
Architecture: amd64
Version: 2.7.18-8+deb11u1
Description: Interactive high-level object-oriented language

Package: openssl
Status: install ok half-installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 1:3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit

Package: net-tools
Status: hold ok installed
Architecture: amd64
Version: 2.10-0.1
Description: NET-3 networking toolkit
EOF
printf 'Package: a\nStatus: install ok installed\nVersion: 1.0\n\n\n\nPackage: b\r\nVersion: 2~rc1\r\nStatus: install ok installed\r\n' > "$d/blank-lines-crlf"

a=$out/pkgdb_apk
cat > "$a/installed" <<'EOF'
C:Q1p78yvTLG094tjE1+kGLZeCJsi/s=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1700000000
c:ad7b2b6ab6ae5f0d6ab3cdbd3b1c9c10e0c1cfbb
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1zsr5h3zcvyXG3zG7xqsdAovqG1A=

P:python3
V:3.11.6-r0
A:x86_64
D:so:libc.musl-x86_64.so.1

P:busybox
V:1.36.1_p2-r0
A:noarch
EOF
printf '1.2.3_rc1-r0\n1.2.3-r1\n' > "$a/versions"
printf '1:2.0~beta.1+b2-3\n2.0-1.el9_1^git\n' > "$a/versions-epoch"
