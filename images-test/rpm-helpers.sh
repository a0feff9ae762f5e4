# Shell functions for fixtures that need an rpm database of packages holding no files, as
# CentOS 6 and 7 keep it, written to OUT/helpers.sh. A fixture that uses them names this one on
# its `# needs:` line (and sources lib.sh first, for bdb_packages). Not an image.
source ./lib.sh
out=$1
cat > "$out/helpers.sh" <<'HELPERS'
# el_rpmdb ROOT WORK PACKAGE...: each PACKAGE "NAME|VERSION|RELEASE|ARCH|SUMMARY" is built by
# rpmbuild (no files), installed with `rpm -i --justdb` into a scratch root, and the header blobs
# moved into ROOT/var/lib/rpm/Packages, a Berkeley DB hash (lib.sh's bdb_packages). Fails unless
# rpm lists every package from the result.
el_rpmdb() {
  local r=$1 w=$2 p n v rel a s top rpms=()
  shift 2
  top=$w/rpmbuild
  mkdir -p "$top"/{SPECS,RPMS,BUILD,BUILDROOT,SRPMS,SOURCES} "$w/root" "$w/q" "$r/var/lib/rpm"
  for p in "$@"; do
    IFS='|' read -r n v rel a s <<< "$p"
    {
      echo "Name: $n"
      echo "Version: $v"
      echo "Release: $rel"
      echo "Summary: $s"
      echo "License: GPLv2+"
      [ "$a" = noarch ] && echo "BuildArch: noarch"
      echo "%description"
      echo "$s."
      echo "%files"
    } > "$top/SPECS/$n.spec"
    rpmbuild --quiet --define "_topdir $top" --define "_build_id_links none" \
      --define "_buildhost build.example.org" \
      --define "source_date_epoch_from_changelog 0" \
      --define "use_source_date_epoch_as_buildtime 1" \
      --define "clamp_mtime_to_source_date_epoch 1" \
      --target "$a" -bb "$top/SPECS/$n.spec" >/dev/null
    rpms+=("$top/RPMS/$a/$n-$v-$rel.$a.rpm")
  done
  rpm --root "$w/root" --dbpath /var/lib/rpm -i --nodeps --justdb --noscripts "${rpms[@]}"
  sqlite3 "$w/root/var/lib/rpm/rpmdb.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  bdb_packages "$w/root/var/lib/rpm/rpmdb.sqlite" "$r/var/lib/rpm/Packages" "$w"
  cp "$r/var/lib/rpm/Packages" "$w/q/"
  [ "$(rpm --define '_db_backend bdb_ro' --dbpath "$w/q" -qa | wc -l)" = "$#" ]
}
HELPERS
