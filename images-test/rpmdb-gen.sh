# rpm databases written by rpm itself (and by Berkeley DB's db_load from rpm's header blobs),
# with what rpm lists from each: the reference for the imgprep-pkgdb rpm readers.
#
# Packages are built with rpmbuild from specs below: epochs, `~` and `^` in versions, noarch and
# x86_64, one name at two versions and two arches, 40 subpackages of one spec (many hash
# buckets), and one package with a 20 kB description (a header larger than a 4096-byte page).
# They are installed with `rpm -i --justdb` into a root whose rpmdb is SQLite (rpm 4.18).
#
#   expected.txt         `rpm -qa` of that root: name|epoch|version|release|arch, sorted
#   sqlite/rpmdb.sqlite  the root's database, checkpointed (no WAL)
#   sqlite-512/rpmdb.sqlite
#                        the same database rewritten (VACUUM) with 512-byte pages: interior
#                        b-tree pages, and every header on an overflow chain; sqlite-512/expected.txt
#                        is `rpm -qa` of it, and the script fails unless it equals expected.txt
#   blobs/N              each header blob, N its header number
#   bdb-512/Packages     Berkeley DB hash of those blobs, 512-byte pages, little-endian: many
#                        buckets and pages, every header on an overflow chain of several pages
#   bdb-4096/Packages    the same with 4096-byte pages (the CentOS 7 layout)
#   bdb-be/Packages      the same, big-endian (as written on s390x/ppc64)
#   bdb-*/expected.txt   what `rpm --define '_db_backend bdb_ro' -qa` lists from that file; the
#                        script fails unless it equals expected.txt
#   wal/rpmdb.sqlite, wal/rpmdb.sqlite-wal
#                        a copy taken while a connection had committed, without checkpoint, the
#                        removal of package "alpha" and the addition of "epsilon": the changes
#                        live only in the WAL
#   wal/expected.txt     `rpm -qa` of a root holding that pair
set -euo pipefail
. ./lib.sh
out=$1
work=$out/work
top=$work/rpmbuild
mkdir -p "$top"/{SPECS,RPMS,BUILD,BUILDROOT,SRPMS,SOURCES}

spec() { # NAME: writes $top/SPECS/NAME.spec from stdin
  cat > "$top/SPECS/$1.spec"
}

build() { # SPEC [TARGET]
  rpmbuild --quiet --define "_topdir $top" --define "_build_id_links none" \
    --define "source_date_epoch_from_changelog 0" --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    ${2:+--target "$2"} -bb "$top/SPECS/$1.spec" >/dev/null
}

spec alpha <<'EOF'
Name: alpha
Version: 1.0
Release: 1
Summary: A plain noarch package
License: MIT
URL: https://example.org/alpha
BuildArch: noarch
%description
A plain package.
%files
EOF

spec beta <<'EOF'
Name: beta
Epoch: 3
Version: 2.0~rc1
Release: 1.fc40
Summary: An epoch and a tilde
License: MIT
%description
Pre-release with an epoch.
%files
EOF

spec gamma <<'EOF'
Name: gamma
Epoch: 0
Version: 1.0^git20240101.abc
Release: 0.1
Summary: A caret snapshot version
License: MIT
BuildArch: noarch
%description
Snapshot after 1.0.
%files
EOF

{
  echo "Name: delta"
  echo "Version: 10.2.3"
  echo "Release: 4.el9_1"
  echo "Summary: A header larger than a page"
  echo "License: MIT"
  echo "URL: https://example.org/delta"
  echo "%description"
  for i in $(seq 1 400); do echo "Line $i of a long description that makes the header large."; done
  echo "%files"
} | spec delta

for v in 1.0 2.0; do
  spec "multi-$v" <<EOF
Name: multi
Version: $v
Release: 1
Summary: One name at two versions
License: MIT
%description
Installed twice.
%files
EOF
done
spec multi-noarch <<'EOF'
Name: multi
Version: 2.0
Release: 1
Summary: One name at a second arch
License: MIT
BuildArch: noarch
%description
Installed for two arches.
%files
EOF

{
  echo "Name: many"
  echo "Version: 0.9"
  echo "Release: 7"
  echo "Summary: Main package of many subpackages"
  echo "License: MIT"
  echo "%description"
  echo "Many subpackages."
  echo "%files"
  for i in $(seq -w 1 40); do
    echo "%package -n sub-$i"
    echo "Summary: Subpackage $i"
    [ $((10#$i % 3)) -eq 0 ] && echo "BuildArch: noarch"
    echo "%description -n sub-$i"
    echo "Subpackage number $i."
    echo "%files -n sub-$i"
  done
} | spec many

spec epsilon <<'EOF'
Name: epsilon
Epoch: 1
Version: 5
Release: 1
Summary: Added in the WAL only
License: MIT
%description
Committed to the WAL, not checkpointed.
%files
EOF

for s in alpha gamma multi-noarch; do build "$s"; done
for s in beta delta multi-1.0 multi-2.0 many epsilon; do build "$s" x86_64; done

qf='%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}\n'
root=$work/root
mkdir -p "$root"
find "$top/RPMS" -name '*.rpm' ! -name 'epsilon-*' -print0 | sort -z \
  | xargs -0 rpm --root "$root" --dbpath /var/lib/rpm -i --nodeps --justdb --noscripts
rpm --root "$root" --dbpath /var/lib/rpm -qa --qf "$qf" | sort > "$out/expected.txt"
mkdir -p "$out/sqlite"
sqlite3 "$root/var/lib/rpm/rpmdb.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp "$root/var/lib/rpm/rpmdb.sqlite" "$out/sqlite/rpmdb.sqlite"

mkdir -p "$out/sqlite-512"
cp "$out/sqlite/rpmdb.sqlite" "$out/sqlite-512/rpmdb.sqlite"
sqlite3 "$out/sqlite-512/rpmdb.sqlite" \
  "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM; PRAGMA journal_mode=WAL;" >/dev/null
cp -r "$out/sqlite-512" "$work/sqlite-512"
rpm --dbpath "$work/sqlite-512" -qa --qf "$qf" | sort > "$out/sqlite-512/expected.txt"
cmp "$out/expected.txt" "$out/sqlite-512/expected.txt"

# The header blobs, and db_load input built from them.
mkdir -p "$out/blobs"
sqlite3 "$out/sqlite/rpmdb.sqlite" "SELECT hnum FROM Packages ORDER BY hnum" > "$work/hnums"
while read -r n; do
  sqlite3 "$out/sqlite/rpmdb.sqlite" "SELECT writefile('$out/blobs/$n', blob) FROM Packages WHERE hnum = $n" >/dev/null
done < "$work/hnums"
le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
be32() { printf '%02x%02x%02x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
dump() { # PAGESIZE LORDER FFACTOR KEYFN
  local n max
  echo "VERSION=3"
  echo "format=bytevalue"
  echo "type=hash"
  echo "db_pagesize=$1"
  echo "db_lorder=$2"
  echo "h_ffactor=$3"
  echo "HEADER=END"
  max=$(tail -n 1 "$work/hnums")
  echo " $($4 0)"
  echo " $($4 "$max")"
  while read -r n; do
    echo " $($4 "$n")"
    echo " $(od -An -v -tx1 "$out/blobs/$n" | tr -d ' \n')"
  done < "$work/hnums"
  echo "DATA=END"
}
bdb() { # DIR PAGESIZE LORDER FFACTOR KEYFN
  mkdir -p "$out/$1"
  dump "$2" "$3" "$4" "$5" > "$work/$1.dump"
  db5.3_load -f "$work/$1.dump" "$out/$1/Packages"
  rpm --define '_db_backend bdb_ro' --dbpath "$out/$1" -qa --qf "$qf" | sort > "$out/$1/expected.txt"
  cmp "$out/expected.txt" "$out/$1/expected.txt"
  rm -f "$out/$1/.rpm.lock" "$out/$1"/__db.*
}
bdb bdb-512 512 1234 2 le32
bdb bdb-4096 4096 1234 0 le32
bdb bdb-be 4096 4321 0 be32

# A WAL with committed, unchecked-pointed transactions.
extra=$work/extra
mkdir -p "$extra" "$out/wal" "$work/walsrc"
rpm --root "$extra" --dbpath /var/lib/rpm -i --nodeps --justdb --noscripts "$top"/RPMS/x86_64/epsilon-*.rpm
cp "$out/sqlite/rpmdb.sqlite" "$work/walsrc/rpmdb.sqlite"
sqlite3 "$work/walsrc/rpmdb.sqlite" <<EOF >/dev/null
PRAGMA journal_mode=WAL;
PRAGMA wal_autocheckpoint=0;
DELETE FROM Packages WHERE hnum = (SELECT hnum FROM Name WHERE key = 'alpha');
ATTACH '$extra/var/lib/rpm/rpmdb.sqlite' AS extra;
INSERT INTO Packages(blob) SELECT blob FROM extra.Packages;
DETACH extra;
.system cp $work/walsrc/rpmdb.sqlite $work/walsrc/rpmdb.sqlite-wal $out/wal/
EOF
walroot=$work/walroot
mkdir -p "$walroot/var/lib/rpm"
cp "$out/wal/rpmdb.sqlite" "$out/wal/rpmdb.sqlite-wal" "$walroot/var/lib/rpm/"
rpm --root "$walroot" --dbpath /var/lib/rpm -qa --qf "$qf" | sort > "$out/wal/expected.txt"
rm -rf "$work"
