# Small Linux guests for the Linux rules of the cloudcenter-worker profile
# (tests/check_cloudcenter.rs): the management agent's markers, Python, the packages the agent
# needs, the bundle store's CA in the trust store, sudo for the agent's account. Synthetic roots:
# release files, fstab, passwd/group, sudoers, a real x86_64 /usr/bin/bash (copied from the build
# host), interpreters as placeholders (/usr/bin/pythonX.Y, nothing is run) with the standard
# library file the probes read, and a package database: dpkg status on the Debian-like ones; on
# the RHEL-like ones a Berkeley DB /var/lib/rpm/Packages (as CentOS 6 and 7 keep it) of rpm
# headers built by rpmbuild from specs named and versioned like the release's packages (no
# files), installed with `rpm -i --justdb` and moved into BDB by db5.3_load. ext4 on the whole
# disk by mke2fs -d, compressed qcow2 of about 1 MB each. No appliance; seconds.
#
# The CAs are Ed25519 certificates from fixed seeds with fixed dates and serials (so every build
# writes the same bytes); the probe compares certificates byte for byte and never verifies them.
#   bundle-store-ca.pem, .der  "Example Corp Bundle Store CA": what tests pass as --param ca=FILE
#   other-ca.pem               "Example Corp Root CA": another CA, in every guest's bundle
#
#   cc-centos7-ready.qcow2       CentOS 7.9. The agent (/usr/local/osmosix/etc/userenv); python
#                                2.7.5-90.el7 whose /usr/lib64/python2.7/ssl.py has
#                                create_default_context (the 7.2+ back-port); openssl-devel,
#                                net-tools, cloud-init; cliqruser with NOPASSWD: ALL in
#                                /etc/sudoers.d/cliqruser, which also exempts it from the
#                                `Defaults requiretty` of /etc/sudoers (as RHEL 7.0-7.3 ship
#                                it); the bundle-store CA in ca-trust/source/anchors and in the
#                                extracted bundle (/etc/pki/tls/certs/ca-bundle.crt links to it).
#   cc-centos7-bare.qcow2        CentOS 7.1.1503 as installed: python 2.7.5-16.el7 without the
#                                back-port, no agent, openssl-devel, net-tools or cloud-init;
#                                cliqruser in no sudoers rule (not in wheel); only other-ca
#                                trusted.
#   cc-rhel7-requiretty.qcow2    RHEL 7.9, python 2.7.5 and python3 3.6.8 (rpm); cliqruser with
#                                NOPASSWD: ALL in /etc/sudoers, which keeps `Defaults requiretty`.
#   cc-centos6.qcow2             CentOS 6.10 (no os-release), python 2.6.6.
#   cc-ubuntu1604-agentlite.qcow2 Ubuntu 16.04.7 as the cloud image ships it (Python 3.5 only)
#                                plus /usr/local/agentlite, libssl-dev, net-tools, cloud-init;
#                                no cliqruser account; the bundle-store CA only in
#                                /usr/local/share/ca-certificates (update-ca-certificates not
#                                run: the bundle holds other-ca only).
#   cc-ubuntu1604-python2.qcow2  Ubuntu 16.04.7 with python2.7 2.7.12 (python-minimal), no agent,
#                                libssl-dev, net-tools or cloud-init; cliqruser in group sudo
#                                (`%sudo ALL=(ALL:ALL) ALL`: a password is needed); the CA added
#                                by update-ca-certificates (in the bundle, linked from
#                                /etc/ssl/certs).
#   cc-debian12-nopython.qcow2   Debian 12 minbase: no Python at all; cliqruser with
#                                NOPASSWD:ALL in /etc/sudoers itself (which @includedir's
#                                /etc/sudoers.d).
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

# --- Certificates.

# ca NAME SEED-BYTE SUBJECT: OUT/NAME.pem and OUT/NAME.der, a self-signed Ed25519 CA whose private
# key is 32 times SEED-BYTE (hex), valid 2023-11-14 to 2033-11-11, serial 1.
ca() {
  local name=$1 seed=$2 subj=$3 d=$work/ca-$1 i
  mkdir -p "$d/db"
  {
    printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20'
    for i in $(seq 32); do printf "\\x$seed"; done
  } > "$d/key.der"
  openssl pkey -inform DER -in "$d/key.der" -out "$d/key.pem"
  : > "$d/db/index.txt"
  echo 01 > "$d/db/serial"
  cat > "$d/ca.cnf" <<EOF
[ca]
default_ca = this
[this]
dir = $d/db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = default
policy = policy
unique_subject = no
x509_extensions = ext
[policy]
organizationName = supplied
commonName = supplied
[ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[req]
distinguished_name = dn
[dn]
EOF
  openssl req -new -key "$d/key.pem" -subj "$subj" -config "$d/ca.cnf" -out "$d/ca.csr"
  openssl ca -batch -config "$d/ca.cnf" -selfsign -keyfile "$d/key.pem" -in "$d/ca.csr" \
    -startdate 20231114000000Z -enddate 20331111000000Z -notext -out "$out/$name.pem"
  openssl x509 -in "$out/$name.pem" -outform DER -out "$out/$name.der"
}
ca bundle-store-ca 5a '/O=Example Corp/CN=Example Corp Bundle Store CA'
ca other-ca 3c '/O=Example Corp/CN=Example Corp Root CA'
rm -f "$out/other-ca.der"

# pem_entry NAME: the CA as update-ca-trust and update-ca-certificates write it into a bundle
# (a comment naming it, then the PEM).
pem_entry() {
  case $1 in
    bundle-store-ca) echo '# Example Corp Bundle Store CA' ;;
    *) echo '# Example Corp Root CA' ;;
  esac
  cat "$out/$1.pem"
}

# --- Roots.

# linux_base DIR: what every root has: the top directories, bash, hosts, fstab (the ext4
# filesystem on the whole disk, LABEL=ccroot).
linux_base() {
  local r=$1 d
  for d in boot dev etc home opt proc root run srv sys tmp usr/bin usr/sbin usr/lib usr/local \
    var/lib var/log var/tmp; do
    mkdir -p "$r/$d"
  done
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 0550 "$r/root"
  cp /usr/bin/bash "$r/usr/bin/bash"
  printf '127.0.0.1   localhost\n' > "$r/etc/hosts"
  printf 'LABEL=ccroot  /  ext4  defaults  0  1\n' > "$r/etc/fstab"
}

# accounts DIR USER...: /etc/passwd and /etc/group with root, USER... (uid and gid 1000, 1001,
# …, each in its own group) and the system groups (wheel or sudo, empty).
accounts() {
  local r=$1 u id=1000
  shift
  printf 'root:x:0:0:root:/root:/bin/bash\n' > "$r/etc/passwd"
  printf 'root:x:0:\nwheel:x:10:\nsudo:x:27:\n' > "$r/etc/group"
  for u in "$@"; do
    printf '%s:x:%d:%d::/home/%s:/bin/bash\n' "$u" "$id" "$id" "$u" >> "$r/etc/passwd"
    printf '%s:x:%d:\n' "$u" "$id" >> "$r/etc/group"
    mkdir -p "$r/home/$u"
    chown "$id:$id" "$r/home/$u"
    id=$((id + 1))
  done
}

# el_root DIR RELEASE-FILE RELEASE-LINE [ID VERSION_ID VERSION PRETTY]: a RHEL-family root:
# merged /usr, the release file (redhat-release and system-release link to it), os-release when
# an id is given (CentOS 6 has none; its host name is in /etc/sysconfig/network), login.defs and
# /etc/profile with the distribution's umask settings, the ca-trust layout (empty anchors, the
# extracted bundle holding other-ca, the /etc/pki/tls/certs/ca-bundle.crt and /etc/ssl/certs
# links).
el_root() {
  local r=$1 rel=$2 line=$3 id=${4:-} vid=${5:-} version=${6:-} pretty=${7:-} d
  linux_base "$r"
  mkdir -p "$r/usr/lib64"
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$r/$d"; done
  echo "$line" > "$r/etc/$rel"
  [ "$rel" = redhat-release ] || ln -s "$rel" "$r/etc/redhat-release"
  ln -s "$rel" "$r/etc/system-release"
  if [ -n "$id" ]; then
    cat > "$r/etc/os-release" <<EOF
NAME="$( [ "$id" = rhel ] && echo 'Red Hat Enterprise Linux Server' || echo 'CentOS Linux')"
VERSION="$version"
ID="$id"
ID_LIKE="$( [ "$id" = rhel ] && echo fedora || echo 'rhel fedora')"
VERSION_ID="$vid"
PRETTY_NAME="$pretty"
EOF
    echo 'golden' > "$r/etc/hostname"
  else
    mkdir -p "$r/etc/sysconfig"
    printf 'NETWORKING=yes\nHOSTNAME=golden\n' > "$r/etc/sysconfig/network"
  fi
  printf 'MAIL_DIR\t/var/spool/mail\nUMASK           077\nUSERGROUPS_ENAB yes\n' \
    > "$r/etc/login.defs"
  cat > "$r/etc/profile" <<'EOF'
# /etc/profile

# By default, we want umask to get set. This sets it for login shell
if [ $UID -gt 199 ] && [ "`/usr/bin/id -gn`" = "`/usr/bin/id -un`" ]; then
    umask 002
else
    umask 022
fi
EOF
  mkdir -p "$r/etc/pki/ca-trust/source/anchors" "$r/etc/pki/ca-trust/extracted/pem" \
    "$r/etc/pki/tls/certs" "$r/etc/ssl"
  pem_entry other-ca > "$r/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
  ln -s ../../ca-trust/extracted/pem/tls-ca-bundle.pem "$r/etc/pki/tls/certs/ca-bundle.crt"
  ln -s ../pki/tls/certs "$r/etc/ssl/certs"
  mkdir -p "$r/etc/sudoers.d"
}

# el_sudoers [requiretty]: /etc/sudoers of RHEL 7 (stdout), with `Defaults requiretty` as 7.0 to
# 7.3 shipped it when asked.
el_sudoers() {
  printf '## Sudoers allows particular users to run various commands as\n'
  printf '## the root user, without needing the root password.\n'
  if [ "${1:-}" = requiretty ]; then
    printf '#\n# Disable "ssh hostname sudo <cmd>", because it will show the password in clear.\n'
    printf '#         You have to run "ssh -t hostname sudo <cmd>".\n#\nDefaults    requiretty\n'
  fi
  printf 'Defaults   !visiblepw\nDefaults    always_set_home\nDefaults    env_reset\n'
  printf 'Defaults    secure_path = /sbin:/bin:/usr/sbin:/usr/bin\n'
  printf '## Allow root to run any commands anywhere\nroot\tALL=(ALL) \tALL\n'
  printf '## Allows people in group wheel to run all commands\n%%wheel\tALL=(ALL)\tALL\n'
  printf '## Read drop-in files from /etc/sudoers.d (the # here does not mean a comment)\n'
  printf '#includedir /etc/sudoers.d\n'
}

# el_python DIR X.Y [backport]: /usr/bin/pythonX.Y (python2 and python link to it for 2.x) and
# its library /usr/lib64/pythonX.Y with ssl.py: with `backport`, the create_default_context that
# RHEL 7.2 back-ported into 2.7.5; without, the 2.7.5 (or 2.6) module that lacks it.
el_python() {
  local r=$1 v=$2 lib=$1/usr/lib64/python$2
  printf '\177ELF' > "$r/usr/bin/python$v"
  chmod 755 "$r/usr/bin/python$v"
  if [ "${v%%.*}" = 2 ]; then
    ln -s "python$v" "$r/usr/bin/python2"
    ln -s python2 "$r/usr/bin/python"
  fi
  mkdir -p "$lib/site-packages"
  cat > "$lib/ssl.py" <<'EOF'
# Wrapper module for _ssl, providing some additional facilities
# implemented in Python.  Written by Bill Janssen.

"""This module provides some more Pythonic support for SSL.
EOF
  if [ "${3:-}" = backport ]; then
    cat >> "$lib/ssl.py" <<'EOF'
"""

def create_default_context(purpose=Purpose.SERVER_AUTH, cafile=None,
                           capath=None, cadata=None):
    """Create a SSLContext object with default settings.
    """
EOF
  else
    cat >> "$lib/ssl.py" <<'EOF'
"""

def wrap_socket(sock, keyfile=None, certfile=None,
                server_side=False, cert_reqs=CERT_NONE,
                ssl_version=PROTOCOL_SSLv23, ca_certs=None,
                do_handshake_on_connect=True,
                suppress_ragged_eofs=True, ciphers=None):
EOF
  fi
}

# deb_root DIR ubuntu|debian: a Debian 12 (merged /usr) or Ubuntu 16.04.7 (split /usr) root
# with its release files, login.defs (UMASK 022), the ca-certificates layout (the bundle holding
# other-ca, /usr/local/share/ca-certificates empty) and an empty /etc/sudoers.d (README only);
# the dpkg status from stdin.
deb_root() {
  local r=$1 kind=$2 d
  linux_base "$r"
  mkdir -p "$r/var/lib/dpkg" "$r/etc/ssl/certs" "$r/usr/local/share/ca-certificates" \
    "$r/etc/sudoers.d"
  if [ "$kind" = ubuntu ]; then
    mkdir -p "$r/bin" "$r/sbin" "$r/lib"
    mv "$r/usr/bin/bash" "$r/bin/bash"
    cat > "$r/usr/lib/os-release" <<'EOF'
NAME="Ubuntu"
VERSION="16.04.7 LTS (Xenial Xerus)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 16.04.7 LTS"
VERSION_ID="16.04"
HOME_URL="http://www.ubuntu.com/"
SUPPORT_URL="http://help.ubuntu.com/"
BUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/"
VERSION_CODENAME=xenial
UBUNTU_CODENAME=xenial
EOF
    printf 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=16.04\nDISTRIB_CODENAME=xenial\n' \
      > "$r/etc/lsb-release"
    printf 'DISTRIB_DESCRIPTION="Ubuntu 16.04.7 LTS"\n' >> "$r/etc/lsb-release"
    echo 'stretch/sid' > "$r/etc/debian_version"
  else
    for d in bin sbin lib; do ln -s "usr/$d" "$r/$d"; done
    cat > "$r/usr/lib/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
    echo 12.5 > "$r/etc/debian_version"
  fi
  ln -s ../usr/lib/os-release "$r/etc/os-release"
  echo 'golden' > "$r/etc/hostname"
  printf 'MAIL_DIR\t/var/mail\nUMASK\t\t022\nUSERGROUPS_ENAB yes\n' > "$r/etc/login.defs"
  pem_entry other-ca > "$r/etc/ssl/certs/ca-certificates.crt"
  printf '#\n# As of Debian version 1.7.2p1-1, the default /etc/sudoers file created on\n' \
    > "$r/etc/sudoers.d/README"
  cat > "$r/var/lib/dpkg/status"
}

# deb_sudoers: /etc/sudoers of Ubuntu 16.04 (stdout).
deb_sudoers() {
  cat <<'EOF'
#
# This file MUST be edited with the 'visudo' command as root.
#
Defaults	env_reset
Defaults	mail_badpass
Defaults	secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"

# User privilege specification
root	ALL=(ALL:ALL) ALL

# Members of the admin group may gain root privileges
%admin ALL=(ALL) ALL

# Allow members of group sudo to execute any command
%sudo	ALL=(ALL:ALL) ALL

# See sudoers(5) for more information on "#include" directives:

#includedir /etc/sudoers.d
EOF
}

# dpkg_entry NAME VERSION ARCH DESCRIPTION: one installed package of a dpkg status file.
dpkg_entry() {
  printf 'Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\n' "$1"
  printf 'Installed-Size: 100\nMaintainer: Nobody <nobody@example.org>\nArchitecture: %s\n' "$3"
  printf 'Version: %s\nDescription: %s\n\n' "$2" "$4"
}

# --- rpm databases.

# Packages of the RHEL-family images: image|name|epoch|version|release|arch|summary.
rpms() {
  cat <<'EOF'
c7|bash|0|4.2.46|34.el7|x86_64|The GNU Bourne Again shell
c7|ca-certificates|0|2022.2.54|74.el7_9|noarch|The Mozilla CA root certificate bundle
c7|centos-release|0|7|9.2009.1.el7.centos|x86_64|CentOS Linux release file
c7|cloud-init|0|19.4|7.el7.centos.3|x86_64|Cloud instance init scripts
c7|net-tools|0|2.0|0.25.20131004git.el7|x86_64|Basic networking tools
c7|openssl|1|1.0.2k|25.el7_9|x86_64|Utilities from the general purpose cryptography library with TLS implementation
c7|openssl-devel|1|1.0.2k|25.el7_9|x86_64|Files for development of applications which will use OpenSSL
c7|openssl-libs|1|1.0.2k|25.el7_9|x86_64|A general purpose cryptography library with TLS implementation
c7|python|0|2.7.5|90.el7|x86_64|An interpreted, interactive, object-oriented programming language
c7|python-libs|0|2.7.5|90.el7|x86_64|Runtime libraries for Python
c7|sudo|0|1.8.23|10.el7_9.3|x86_64|Allows restricted root access for specified users
c71|bash|0|4.2.46|12.el7|x86_64|The GNU Bourne Again shell
c71|ca-certificates|0|2014.1.98|72.el7|noarch|The Mozilla CA root certificate bundle
c71|centos-release|0|7|1.1503.el7.centos.2.8|x86_64|CentOS Linux release file
c71|openssl|1|1.0.1e|42.el7|x86_64|Utilities from the general purpose cryptography library with TLS implementation
c71|openssl-libs|1|1.0.1e|42.el7|x86_64|A general purpose cryptography library with TLS implementation
c71|python|0|2.7.5|16.el7|x86_64|An interpreted, interactive, object-oriented programming language
c71|python-libs|0|2.7.5|16.el7|x86_64|Runtime libraries for Python
c71|sudo|0|1.8.6p7|13.el7|x86_64|Allows restricted root access for specified users
r7|bash|0|4.2.46|34.el7|x86_64|The GNU Bourne Again shell
r7|ca-certificates|0|2022.2.54|74.el7_9|noarch|The Mozilla CA root certificate bundle
r7|cloud-init|0|19.4|7.el7_9.6|x86_64|Cloud instance init scripts
r7|python|0|2.7.5|90.el7|x86_64|An interpreted, interactive, object-oriented programming language
r7|python-libs|0|2.7.5|90.el7|x86_64|Runtime libraries for Python
r7|python3|0|3.6.8|21.el7_9|x86_64|Interactive interpreter for Python 3
r7|python3-libs|0|3.6.8|21.el7_9|x86_64|Runtime libraries for Python 3
r7|redhat-release-server|0|7.9|6.el7|x86_64|Red Hat Enterprise Linux Server release file
r7|sudo|0|1.8.23|10.el7_9.3|x86_64|Allows restricted root access for specified users
c6|bash|0|4.1.2|48.el6|x86_64|The GNU Bourne Again shell
c6|ca-certificates|0|2020.2.41|65.1.el6_10|noarch|The Mozilla CA root certificate bundle
c6|centos-release|0|6|10.el6.centos.12.3|x86_64|CentOS release file
c6|openssl|0|1.0.1e|58.el6_10|x86_64|A general purpose cryptography library with TLS implementation
c6|python|0|2.6.6|66.el6_8|x86_64|An interpreted, interactive, object-oriented programming language
c6|python-libs|0|2.6.6|66.el6_8|x86_64|Runtime libraries for Python
c6|sudo|0|1.8.6p3|29.el6_10.4|x86_64|Allows restricted root access for specified users
EOF
}

# Every package of the table, built once (no files) by rpmbuild.
top=$work/rpmbuild
mkdir -p "$top"/{SPECS,RPMS,BUILD,BUILDROOT,SRPMS,SOURCES}
rpms | while IFS='|' read -r _ n e v r a s; do
  {
    echo "Name: $n"
    [ "$e" = 0 ] || echo "Epoch: $e"
    echo "Version: $v"
    echo "Release: $r"
    echo "Summary: $s"
    echo "License: GPLv2+"
    [ "$a" = noarch ] && echo "BuildArch: noarch"
    echo "%description"
    echo "$s."
    echo "%files"
  } > "$top/SPECS/$n-$v-$r.$a.spec"
done
# shellcheck disable=SC2046 # one word per spec file
rpmbuild --quiet --define "_topdir $top" --define "_build_id_links none" \
  --define "_buildhost build.example.org" \
  --define "source_date_epoch_from_changelog 0" --define "use_source_date_epoch_as_buildtime 1" \
  --define "clamp_mtime_to_source_date_epoch 1" \
  --target x86_64 -bb $(find "$top/SPECS" -name '*.spec' | sort) >/dev/null

# rpmdb DIR IMAGE: the packages of IMAGE installed (database only) into DIR/var/lib/rpm/Packages,
# a Berkeley DB hash of the header blobs (4096-byte pages, little-endian, key 0 holding the
# highest header number) as CentOS 6 and 7 keep it. Fails unless rpm lists every package from it.
rpmdb() {
  local r=$1 img=$2 db=$work/rpmdb-$2 want
  mkdir -p "$db/root" "$r/var/lib/rpm"
  rpms | awk -F'|' -v i="$img" -v top="$top" \
    '$1 == i { printf "%s/RPMS/%s/%s-%s-%s.%s.rpm\n", top, $6, $2, $4, $5, $6 }' > "$db/list"
  want=$(wc -l < "$db/list")
  xargs rpm --root "$db/root" --dbpath /var/lib/rpm -i --nodeps --justdb --noscripts < "$db/list"
  local sq=$db/root/var/lib/rpm/rpmdb.sqlite
  sqlite3 "$sq" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  bdb_packages "$sq" "$r/var/lib/rpm/Packages" "$db"
  mkdir -p "$db/q"
  cp "$r/var/lib/rpm/Packages" "$db/q/"
  [ "$(rpm --define '_db_backend bdb_ro' --dbpath "$db/q" -qa | wc -l)" = "$want" ]
}

# image NAME DIR UUID: DIR as ext4 on a whole disk, written to OUT/NAME.qcow2 (compressed).
image() {
  local name=$1 dir=$2 uuid=$3
  mkext ext4 "$dir" "$work/$name.img" "$(size_mib "$dir")" "$uuid" ccroot -b 1024 -J size=1
  qemu-img convert -c -f raw -O qcow2 "$work/$name.img" "$out/$name.qcow2"
  rm -f "$work/$name.img"
}

# --- cc-centos7-ready: CentOS 7.9 with the agent and everything it needs.
r=$work/centos7-ready
el_root "$r" centos-release 'CentOS Linux release 7.9.2009 (Core)' centos 7 '7 (Core)' \
  'CentOS Linux 7 (Core)'
accounts "$r" cliqruser
el_sudoers requiretty > "$r/etc/sudoers"
cat > "$r/etc/sudoers.d/cliqruser" <<'EOF'
# CloudCenter management agent: non-interactive sudo for the agent's account.
Defaults:cliqruser !requiretty
cliqruser ALL=(ALL) NOPASSWD: ALL
EOF
chmod 0440 "$r/etc/sudoers" "$r/etc/sudoers.d/cliqruser"
el_python "$r" 2.7 backport
rpmdb "$r" c7
mkdir -p "$r/usr/local/osmosix/etc" "$r/usr/local/osmosix/bin"
printf 'export CLIQR_AGENT_HOME=/usr/local/osmosix\nexport CLIQR_USER=cliqruser\n' \
  > "$r/usr/local/osmosix/etc/userenv"
cp "$out/bundle-store-ca.pem" "$r/etc/pki/ca-trust/source/anchors/bundle-store-ca.pem"
pem_entry bundle-store-ca >> "$r/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
image cc-centos7-ready "$r" cc000001-0000-4000-8000-0000000c0001

# --- cc-centos7-bare: CentOS 7.1 as installed, nothing for the agent.
r=$work/centos7-bare
el_root "$r" centos-release 'CentOS Linux release 7.1.1503 (Core)' centos 7 '7 (Core)' \
  'CentOS Linux 7 (Core)'
accounts "$r" centos cliqruser
sed -i 's/^wheel:x:10:$/wheel:x:10:centos/' "$r/etc/group"
el_sudoers requiretty > "$r/etc/sudoers"
chmod 0440 "$r/etc/sudoers"
el_python "$r" 2.7
rpmdb "$r" c71
cp "$out/other-ca.pem" "$r/etc/pki/ca-trust/source/anchors/corp-root-ca.pem"
image cc-centos7-bare "$r" cc000001-0000-4000-8000-0000000c0002

# --- cc-rhel7-requiretty: RHEL 7.9, python3, cliqruser in /etc/sudoers under requiretty.
r=$work/rhel7-requiretty
el_root "$r" redhat-release 'Red Hat Enterprise Linux Server release 7.9 (Maipo)' rhel 7.9 \
  '7.9 (Maipo)' 'Red Hat Enterprise Linux Server 7.9 (Maipo)'
accounts "$r" cliqruser
{
  el_sudoers requiretty
  printf '\n## CloudCenter management agent\ncliqruser ALL=(ALL) NOPASSWD: ALL\n'
} > "$r/etc/sudoers"
chmod 0440 "$r/etc/sudoers"
el_python "$r" 2.7 backport
el_python "$r" 3.6
rpmdb "$r" r7
image cc-rhel7-requiretty "$r" cc000001-0000-4000-8000-0000000c0003

# --- cc-centos6: CentOS 6.10 with its Python 2.6.
r=$work/centos6
el_root "$r" centos-release 'CentOS release 6.10 (Final)'
accounts "$r" cliqruser
el_sudoers > "$r/etc/sudoers"
chmod 0440 "$r/etc/sudoers"
el_python "$r" 2.6
rpmdb "$r" c6
image cc-centos6 "$r" cc000001-0000-4000-8000-0000000c0004

# --- cc-ubuntu1604-agentlite: the Ubuntu 16.04 cloud image (Python 3 only) with agentlite.
r=$work/ubuntu1604-agentlite
{
  dpkg_entry bash 4.3-14ubuntu1.4 amd64 'GNU Bourne Again SHell'
  dpkg_entry ca-certificates 20210119~16.04.1 all 'Common CA certificates'
  dpkg_entry cloud-init 21.1-19-gbad84ad4-0ubuntu1~16.04.2 all \
    'Init scripts for cloud instances'
  dpkg_entry libssl-dev 1.0.2g-1ubuntu4.20 amd64 'Secure Sockets Layer toolkit - development files'
  dpkg_entry net-tools 1.60-26ubuntu1 amd64 'NET-3 networking toolkit'
  dpkg_entry python3 3.5.1-3 amd64 'interactive high-level object-oriented language (default python3 version)'
  dpkg_entry python3-minimal 3.5.1-3 amd64 'minimal subset of the Python language (default python3 version)'
  dpkg_entry python3.5 3.5.2-2ubuntu0~16.04.13 amd64 'Interactive high-level object-oriented language (version 3.5)'
  dpkg_entry python3.5-minimal 3.5.2-2ubuntu0~16.04.13 amd64 'Minimal subset of the Python language (version 3.5)'
  dpkg_entry sudo 1.8.16-0ubuntu1.10 amd64 'Provide limited super user privileges to specific users'
} | deb_root "$r" ubuntu
accounts "$r" ubuntu
deb_sudoers > "$r/etc/sudoers"
printf '# Created by cloud-init v. 21.1\n\n# User rules for ubuntu\nubuntu ALL=(ALL) NOPASSWD:ALL\n' \
  > "$r/etc/sudoers.d/90-cloud-init-users"
chmod 0440 "$r/etc/sudoers" "$r/etc/sudoers.d/90-cloud-init-users"
printf '\177ELF' > "$r/usr/bin/python3.5"
chmod 755 "$r/usr/bin/python3.5"
ln -s python3.5 "$r/usr/bin/python3"
mkdir -p "$r/usr/lib/python3.5" "$r/usr/local/agentlite/bin"
printf '\177ELF' > "$r/usr/local/agentlite/bin/agentlite"
chmod 755 "$r/usr/local/agentlite/bin/agentlite"
cp "$out/bundle-store-ca.pem" "$r/usr/local/share/ca-certificates/bundle-store-ca.crt"
image cc-ubuntu1604-agentlite "$r" cc000001-0000-4000-8000-0000000c0005

# --- cc-ubuntu1604-python2: Ubuntu 16.04 with python2.7; cliqruser in group sudo.
r=$work/ubuntu1604-python2
{
  dpkg_entry bash 4.3-14ubuntu1.4 amd64 'GNU Bourne Again SHell'
  dpkg_entry ca-certificates 20210119~16.04.1 all 'Common CA certificates'
  dpkg_entry python-minimal 2.7.12-1~16.04 amd64 'minimal subset of the Python language (default version)'
  dpkg_entry python2.7 2.7.12-1ubuntu0~16.04.18 amd64 'Interactive high-level object-oriented language (version 2.7)'
  dpkg_entry python2.7-minimal 2.7.12-1ubuntu0~16.04.18 amd64 'Minimal subset of the Python language (version 2.7)'
  dpkg_entry python3 3.5.1-3 amd64 'interactive high-level object-oriented language (default python3 version)'
  dpkg_entry python3.5 3.5.2-2ubuntu0~16.04.13 amd64 'Interactive high-level object-oriented language (version 3.5)'
  dpkg_entry sudo 1.8.16-0ubuntu1.10 amd64 'Provide limited super user privileges to specific users'
} | deb_root "$r" ubuntu
accounts "$r" ubuntu cliqruser
sed -i 's/^sudo:x:27:$/sudo:x:27:cliqruser/' "$r/etc/group"
deb_sudoers > "$r/etc/sudoers"
chmod 0440 "$r/etc/sudoers"
for v in 2.7 3.5; do
  printf '\177ELF' > "$r/usr/bin/python$v"
  chmod 755 "$r/usr/bin/python$v"
  mkdir -p "$r/usr/lib/python$v"
done
ln -s python2.7 "$r/usr/bin/python"
ln -s python3.5 "$r/usr/bin/python3"
cp "$out/bundle-store-ca.pem" "$r/usr/local/share/ca-certificates/bundle-store-ca.crt"
ln -s /usr/local/share/ca-certificates/bundle-store-ca.crt "$r/etc/ssl/certs/bundle-store-ca.pem"
pem_entry bundle-store-ca >> "$r/etc/ssl/certs/ca-certificates.crt"
image cc-ubuntu1604-python2 "$r" cc000001-0000-4000-8000-0000000c0006

# --- cc-debian12-nopython: Debian 12 minbase, no Python; cliqruser in /etc/sudoers.
r=$work/debian12-nopython
{
  dpkg_entry bash 5.2.15-2+b2 amd64 'GNU Bourne Again SHell'
  dpkg_entry ca-certificates 20230311 all 'Common CA certificates'
  dpkg_entry sudo 1.9.13p3-1+deb12u1 amd64 'Provide limited super user privileges to specific users'
} | deb_root "$r" debian
accounts "$r" cliqruser
cat > "$r/etc/sudoers" <<'EOF'
#
# This file MUST be edited with the 'visudo' command as root.
#
Defaults	env_reset
Defaults	mail_badpass
Defaults	secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Defaults	use_pty

# User privilege specification
root	ALL=(ALL:ALL) ALL

# Allow members of group sudo to execute any command
%sudo	ALL=(ALL:ALL) ALL

# See sudoers(5) for more information on "@include" directives:

@includedir /etc/sudoers.d

# CloudCenter management agent
cliqruser ALL=(ALL:ALL) NOPASSWD:ALL
EOF
chmod 0440 "$r/etc/sudoers"
image cc-debian12-nopython "$r" cc000001-0000-4000-8000-0000000c0007

rm -rf "$work"
ls -l "$out"
