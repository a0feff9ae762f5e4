# rpm databases of real rpm headers named and versioned like the packages of real distribution
# releases, for the OS fixtures (centos7-like, centos6-like, rhel7-like, fedora-like, alma9-like,
# lvm-striped) to put into their images. Not images themselves.
#
# Each package is built by rpmbuild from a spec carrying the distribution's name, epoch, version,
# release, arch, summary and URL (no files), and installed with `rpm -i --justdb` into a root
# whose database is SQLite (rpm 4.18). Per distribution DISTRO:
#
#   DISTRO/rpmdb.sqlite   the root's database, checkpointed (no WAL), journal mode DELETE
#   DISTRO/Packages       (el7, el6, rhel7) the same header blobs in a Berkeley DB hash written
#                         by db5.3_load, 4096-byte pages, little-endian, as CentOS 5-7 keep
#                         /var/lib/rpm/Packages (key 0 holds the highest header number)
#   DISTRO/rpm-qa.txt     `rpm -qa` of the database (name|epoch|version|release|arch, sorted); the
#                         script fails unless the Berkeley DB lists the same
#
# Exercises: epochs (openssl 1:, dhclient 12:, perl 4:), releases with dots, letters and
# `git` snapshots (net-tools 2.0-0.25.20131004git.el7), noarch, one name at two versions
# (kernel) and at two arches (glibc x86_64 + i686), and a gpg-pubkey entry (no ARCH tag: rpm
# prints "(none)"), imported from a real OpenPGP key.
set -euo pipefail
. ./lib.sh
out=$1
work=$out/work
mkdir -p "$work"
qf='%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}\n'

# Package tables: name|epoch|version|release|arch|url|summary
el7() {
  cat <<'EOF'
bash|0|4.2.46|34.el7|x86_64|http://www.gnu.org/software/bash|The GNU Bourne Again shell
ca-certificates|0|2022.2.54|74.el7_9|noarch|http://www.mozilla.org/|The Mozilla CA root certificate bundle
centos-release|0|7|9.2009.1.el7.centos|x86_64||CentOS Linux release file
cloud-init|0|19.4|7.el7.centos.3|x86_64|http://launchpad.net/cloud-init|Cloud instance init scripts
coreutils|0|8.22|24.el7_9.2|x86_64|http://www.gnu.org/software/coreutils/|A set of basic GNU tools commonly used in shell scripts
dhclient|12|4.2.5|83.el7.centos.1|x86_64|http://isc.org/products/DHCP/|Provides the ISC DHCP client daemon and dhclient-script
glibc|0|2.17|326.el7_9|x86_64|http://www.gnu.org/software/glibc/|The GNU libc libraries
glibc|0|2.17|326.el7_9|i686|http://www.gnu.org/software/glibc/|The GNU libc libraries
kernel|0|3.10.0|1160.el7|x86_64|http://www.kernel.org/|The Linux kernel
kernel|0|3.10.0|1160.105.1.el7|x86_64|http://www.kernel.org/|The Linux kernel
libselinux|0|2.5|15.el7|x86_64|https://github.com/SELinuxProject/selinux/wiki|SELinux library and simple utilities
net-tools|0|2.0|0.25.20131004git.el7|x86_64|http://sourceforge.net/projects/net-tools/|Basic networking tools
openssh-server|0|7.4p1|23.el7_9|x86_64|http://www.openssh.com/portable.html|An open source SSH server daemon
openssl|1|1.0.2k|25.el7_9|x86_64|http://www.openssl.org/|Utilities from the general purpose cryptography library with TLS implementation
openssl-devel|1|1.0.2k|25.el7_9|x86_64|http://www.openssl.org/|Files for development of applications which will use OpenSSL
openssl-libs|1|1.0.2k|25.el7_9|x86_64|http://www.openssl.org/|A general purpose cryptography library with TLS implementation
perl|4|5.16.3|299.el7_9|x86_64|http://www.perl.org/|Practical Extraction and Report Language
python|0|2.7.5|90.el7|x86_64|http://www.python.org/|An interpreted, interactive, object-oriented programming language
python-libs|0|2.7.5|90.el7|x86_64|http://www.python.org/|Runtime libraries for Python
python-setuptools|0|0.9.8|7.el7|noarch|http://pypi.python.org/pypi/setuptools|Easily build and distribute Python packages
rpm|0|4.11.3|48.el7_9|x86_64|http://www.rpm.org/|The RPM package management system
sudo|0|1.8.23|10.el7_9.3|x86_64|http://www.courtesan.com/sudo/|Allows restricted root access for specified users
systemd|0|219|78.el7_9.7|x86_64|http://www.freedesktop.org/wiki/Software/systemd|A System and Service Manager
tzdata|0|2023c|1.el7|noarch|https://www.iana.org/time-zones|Timezone data
xz|0|5.2.2|2.el7_9|x86_64|http://tukaani.org/xz/|LZMA compression utilities
yum|0|3.4.3|168.el7.centos|noarch|http://yum.baseurl.org/|RPM package installer/updater/manager
EOF
}
el6() {
  cat <<'EOF'
bash|0|4.1.2|48.el6|x86_64|http://www.gnu.org/software/bash|The GNU Bourne Again shell
ca-certificates|0|2020.2.41|65.1.el6_10|noarch|http://www.mozilla.org/|The Mozilla CA root certificate bundle
centos-release|0|6|10.el6.centos.12.3|x86_64||CentOS release file
dhclient|12|4.1.1|63.P1.el6.centos|x86_64|http://isc.org/products/DHCP/|Provides the dhclient ISC DHCP client daemon and dhclient-script
glibc|0|2.12|1.212.el6_10.3|x86_64|http://sources.redhat.com/glibc/|The GNU libc libraries
initscripts|0|9.03.61|1.el6.centos|x86_64|http://fedorahosted.org/releases/i/n/initscripts/|The inittab file and the /etc/init.d scripts
kernel|0|2.6.32|754.35.1.el6|x86_64|http://www.kernel.org/|The Linux kernel
net-tools|0|1.60|114.el6|x86_64|http://net-tools.berlios.de/|Basic networking tools
openssl|0|1.0.1e|58.el6_10|x86_64|http://www.openssl.org/|A general purpose cryptography library with TLS implementation
openssl-devel|0|1.0.1e|58.el6_10|x86_64|http://www.openssl.org/|Files for development of applications which will use OpenSSL
python|0|2.6.6|66.el6_8|x86_64|http://www.python.org/|An interpreted, interactive, object-oriented programming language
python-libs|0|2.6.6|66.el6_8|x86_64|http://www.python.org/|Runtime libraries for Python
rpm|0|4.8.0|59.el6|x86_64|http://www.rpm.org/|The RPM package management system
upstart|0|0.6.5|17.el6|x86_64|http://upstart.ubuntu.com|An event-driven init system
yum|0|3.2.29|81.el6.centos.0.1|noarch|http://yum.baseurl.org/|RPM package installer/updater/manager
EOF
}
rhel7() {
  cat <<'EOF'
bash|0|4.2.46|19.el7|x86_64|http://www.gnu.org/software/bash|The GNU Bourne Again shell
ca-certificates|0|2015.2.4|71.el7|noarch|http://www.mozilla.org/|The Mozilla CA root certificate bundle
glibc|0|2.17|105.el7|x86_64|http://www.gnu.org/software/glibc/|The GNU libc libraries
kernel|0|3.10.0|327.el7|x86_64|http://www.kernel.org/|The Linux kernel
net-tools|0|2.0|0.17.20131004git.el7|x86_64|http://sourceforge.net/projects/net-tools/|Basic networking tools
openssl|1|1.0.1e|42.el7_1.9|x86_64|http://www.openssl.org/|Utilities from the general purpose cryptography library with TLS implementation
openssl-libs|1|1.0.1e|42.el7_1.9|x86_64|http://www.openssl.org/|A general purpose cryptography library with TLS implementation
python|0|2.7.5|34.el7|x86_64|http://www.python.org/|An interpreted, interactive, object-oriented programming language
python-libs|0|2.7.5|34.el7|x86_64|http://www.python.org/|Runtime libraries for Python
redhat-release-server|0|7.2|9.el7|x86_64||Red Hat Enterprise Linux Server release file
rpm|0|4.11.3|17.el7|x86_64|http://www.rpm.org/|The RPM package management system
yum|0|3.4.3|132.el7|noarch|http://yum.baseurl.org/|RPM package installer/updater/manager
EOF
}
fedora38() {
  cat <<'EOF'
bash|0|5.2.15|3.fc38|x86_64|https://www.gnu.org/software/bash|The GNU Bourne Again shell
ca-certificates|0|2023.2.60|2.fc38|noarch|https://fedoraproject.org/wiki/CA-Certificates|The Mozilla CA root certificate bundle
cloud-init|0|22.2.2|4.fc38|noarch|https://github.com/canonical/cloud-init|Cloud instance init scripts
dnf|0|4.14.0|1.fc38|noarch|https://github.com/rpm-software-management/dnf|Package manager
fedora-release-cloud|0|38|36|noarch|https://fedoraproject.org/|Fedora release files
glibc|0|2.37|4.fc38|x86_64|http://www.gnu.org/software/glibc/|The GNU libc libraries
kernel-core|0|6.2.9|300.fc38|x86_64|https://www.kernel.org/|The Linux kernel
net-tools|0|2.0|0.65.20160912git.fc38|x86_64|https://sourceforge.net/projects/net-tools/|Basic networking tools
openssl|1|3.0.8|2.fc38|x86_64|http://www.openssl.org/|Utilities from the general purpose cryptography library with TLS implementation
openssl-devel|1|3.0.8|2.fc38|x86_64|http://www.openssl.org/|Files for development of applications which will use OpenSSL
python3|0|3.11.2|1.fc38|x86_64|https://www.python.org/|Python 3.11 interpreter
rpm|0|4.18.1|1.fc38|x86_64|http://www.rpm.org/|The RPM package management system
systemd|0|253.2|1.fc38|x86_64|https://systemd.io|System and Service Manager
EOF
}
alma9() {
  cat <<'EOF'
almalinux-release|0|9.3|1.el9|x86_64|https://almalinux.org/|AlmaLinux release files
bash|0|5.1.8|6.el9_1|x86_64|https://www.gnu.org/software/bash|The GNU Bourne Again shell
ca-certificates|0|2023.2.60_v7.0.306|90.1.el9_2|noarch|https://fedoraproject.org/wiki/CA-Certificates|The Mozilla CA root certificate bundle
cloud-init|0|23.1.1|11.el9.alma.1|noarch|https://github.com/canonical/cloud-init|Cloud instance init scripts
dnf|0|4.14.0|8.el9.alma.1|noarch|https://github.com/rpm-software-management/dnf|Package manager
kernel-core|0|5.14.0|362.8.1.el9_3|x86_64|https://www.kernel.org/|The Linux kernel
net-tools|0|2.0|0.62.20160912git.el9|x86_64|https://sourceforge.net/projects/net-tools/|Basic networking tools
openssl|1|3.0.7|24.el9|x86_64|http://www.openssl.org/|Utilities from the general purpose cryptography library with TLS implementation
python3|0|3.9.18|1.el9_3|x86_64|https://www.python.org/|Python 3.9 interpreter
rpm|0|4.16.1.3|25.el9|x86_64|http://www.rpm.org/|The RPM package management system
EOF
}

# The OpenPGP key imported as gpg-pubkey: Debian 12's release key, a real RSA key.
mkdir -m 700 -p "$work/gnupg"
gpg --homedir "$work/gnupg" --batch --quiet --no-default-keyring \
  --keyring /usr/share/keyrings/debian-archive-bookworm-stable.gpg --export --armor \
  > "$work/pubkey.asc"
grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$work/pubkey.asc"

# distro NAME TABLE-FUNCTION BDB(yes/no) GPGKEY(yes/no)
distro() {
  local name=$1 table=$2 bdb=$3 key=$4 top=$work/$1/rpmbuild root=$work/$1/root
  local n e v r a u s i=0
  mkdir -p "$top"/{SPECS,RPMS,BUILD,BUILDROOT,SRPMS,SOURCES} "$root" "$out/$name"
  while IFS='|' read -r n e v r a u s; do
    i=$((i + 1))
    {
      echo "Name: $n"
      [ "$e" = 0 ] || echo "Epoch: $e"
      echo "Version: $v"
      echo "Release: $r"
      echo "Summary: $s"
      echo "License: GPLv2+"
      [ -z "$u" ] || echo "URL: $u"
      [ "$a" = noarch ] && echo "BuildArch: noarch"
      echo "%description"
      echo "$s."
      echo "%files"
    } > "$top/SPECS/$i-$a.spec"
  done < <($table)
  local arch specs
  for arch in x86_64 i686 noarch; do
    specs=$(find "$top/SPECS" -name "*-$arch.spec" | sort)
    [ -n "$specs" ] || continue
    # shellcheck disable=SC2086 # one word per spec file
    rpmbuild --quiet --define "_topdir $top" --define "_build_id_links none" \
      --define "_buildhost build.example.org" \
      --define "source_date_epoch_from_changelog 0" --define "use_source_date_epoch_as_buildtime 1" \
      --define "clamp_mtime_to_source_date_epoch 1" \
      --target "$([ $arch = noarch ] && echo x86_64 || echo $arch)" -bb $specs >/dev/null
  done
  find "$top/RPMS" -name '*.rpm' -print0 | sort -z \
    | xargs -0 rpm --root "$root" --dbpath /var/lib/rpm -i --nodeps --justdb --noscripts
  if [ "$key" = yes ]; then
    rpm --root "$root" --dbpath /var/lib/rpm --import "$work/pubkey.asc"
  fi
  local db=$out/$name/rpmdb.sqlite
  sqlite3 "$root/var/lib/rpm/rpmdb.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
  cp "$root/var/lib/rpm/rpmdb.sqlite" "$db"
  sqlite3 "$db" "PRAGMA journal_mode=DELETE;" >/dev/null
  mkdir -p "$work/$name/q"
  cp "$db" "$work/$name/q/"
  rpm --dbpath "$work/$name/q" -qa --qf "$qf" | sort > "$out/$name/rpm-qa.txt"
  [ "$(wc -l < "$out/$name/rpm-qa.txt")" -ge "$i" ]
  if [ "$bdb" = yes ]; then
    bdb_packages "$db" "$out/$name/Packages" "$work/$name"
    rpm --define '_db_backend bdb_ro' --dbpath "$out/$name" -qa --qf "$qf" | sort \
      > "$work/$name/bdb-qa.txt"
    rm -f "$out/$name/.rpm.lock" "$out/$name"/__db.*
    cmp "$out/$name/rpm-qa.txt" "$work/$name/bdb-qa.txt"
  fi
}

rocky9() {
  cat <<'EOT'
bash|0|5.1.8|6.el9_1|x86_64|https://www.gnu.org/software/bash|The GNU Bourne Again shell
ca-certificates|0|2023.2.60_v7.0.306|90.1.el9_2|noarch|https://fedoraproject.org/wiki/CA-Certificates|The Mozilla CA root certificate bundle
cloud-init|0|23.1.1|11.el9.0.1|noarch|https://github.com/canonical/cloud-init|Cloud instance init scripts
dnf|0|4.14.0|8.el9|noarch|https://github.com/rpm-software-management/dnf|Package manager
kernel-core|0|5.14.0|362.8.1.el9_3|x86_64|https://www.kernel.org/|The Linux kernel
lvm2|9|2.03.21|3.el9|x86_64|http://sourceware.org/lvm2|Userland logical volume management tools
net-tools|0|2.0|0.62.20160912git.el9|x86_64|https://sourceforge.net/projects/net-tools/|Basic networking tools
openssl|1|3.0.7|24.el9|x86_64|http://www.openssl.org/|Utilities from the general purpose cryptography library with TLS implementation
python3|0|3.9.18|1.el9_3|x86_64|https://www.python.org/|Python 3.9 interpreter
rocky-release|0|9.3|1.2.el9|noarch|https://rockylinux.org|Rocky Linux release files
rpm|0|4.16.1.3|25.el9|x86_64|http://www.rpm.org/|The RPM package management system
xfsprogs|0|5.19.0|4.el9|x86_64|https://xfs.wiki.kernel.org|Utilities for managing the XFS filesystem
EOT
}

distro el7 el7 yes yes
distro el6 el6 yes no
distro rhel7 rhel7 yes no
distro fedora38 fedora38 no no
distro alma9 alma9 no no
distro rocky9 rocky9 no no
rm -rf "$work"
