# Linux guests laid out the way real Rackspace installs lay them out, for the verdicts of the
# rackspace-nova-agent profile written from Rackspace's article "Nova-agent (Linux) and Rackspace
# agent (Windows)" (tests/check_rackspace_real.rs holds the expected verdict of every rule on
# each). Like rules-rackspace (whose root and package functions this script reuses): ext4 on a
# whole disk, a compressed qcow2 well under 1 MB, holding only what the rules read. The CentOS
# guests carry a Berkeley DB rpm database (rpm-helpers) listing systemd, so the version of its
# sysv-generator is known.
#
#   rsr-v1-centos79.qcow2     CentOS 7.9.2009 kept up to date: systemd 219-78.el7_9.9.
#                             nova-agent 1.x from the GitHub bintar installer
#                             (/usr/share/nova-agent/1.39.0, /etc/rc.d/init.d/nova-agent a symlink
#                             into it, S15 links), its LSB header Required-Start:
#                             xe-linux-distribution; the XenServer tools' native unit, enabled.
#                             This systemd follows the symlink: the 1.x agent starts after the
#                             tools (branch warns: 2.x recommended, GitHub installs unsupported).
#   rsr-v1-centos72.qcow2     The same agent on a never-updated CentOS 7.2.1511: systemd
#                             219-19.el7, whose sysv-generator skips symlinked scripts, so no
#                             nova-agent.service exists (branch fails, the order rule fails).
#   rsr-v2-ubuntu1804.qcow2   Ubuntu 18.04, systemd 237 (dpkg status): nova-agent 2.1.20 from the
#                             package (upstream unit, enabled), the XenServer tools as a SysV
#                             script only (rc2-5.d S links, no native unit), ordered first by a
#                             drop-in on the tools' side:
#                             /etc/systemd/system/xe-linux-distribution.service.d/
#                             10-before-nova-agent.conf with Before=nova-agent.service.
#   rsr-cloud-init-debian11.qcow2
#                             Debian 11, systemd, cloud-init 20.4.1 and no nova-agent nor
#                             XenServer tools: the cloud-init path needs only image metadata, so
#                             the tools rules are skipped.
# needs: os-helpers rules-rackspace rpm-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
source "$(fixture rpm-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
# The root, package and image functions of rules-rackspace.sh (everything before its images).
# shellcheck source=/dev/null
source <(sed -n '/^centos_root() {/,/^# --- rs-v2-ordered/p' rules-rackspace.sh)

# nova_agent_v1 ROOT: nova-agent 1.39.0 as the 1.x bintar installer leaves it.
nova_agent_v1() {
  local r=$1 v=/usr/share/nova-agent/1.39.0 n
  mkdir -p "$r$v/sbin" "$r$v/etc/generic"
  printf '\177ELF' > "$r$v/sbin/nova-agent"
  chmod 755 "$r$v/sbin/nova-agent"
  nova_agent_v1_script > "$r$v/etc/generic/nova-agent"
  chmod 755 "$r$v/etc/generic/nova-agent"
  printf '# nova-agent configuration\n' > "$r$v/nova-agent.py"
  ln -s "$v/nova-agent.py" "$r/usr/share/nova-agent/nova-agent.py"
  ln -s "$v/etc/generic/nova-agent" "$r/etc/rc.d/init.d/nova-agent"
  ln -s "$v/sbin/nova-agent" "$r/usr/sbin/nova-agent"
  for n in 2 3 4 5; do ln -s ../init.d/nova-agent "$r/etc/rc.d/rc$n.d/S15nova-agent"; done
  for n in 0 1 6; do ln -s ../init.d/nova-agent "$r/etc/rc.d/rc$n.d/K85nova-agent"; done
}

# el7_v1 NAME MINOR BUILD SYSTEMD_RELEASE UUID: CentOS 7.MINOR with nova-agent 1.x, the tools'
# unit, and systemd 219-SYSTEMD_RELEASE in the rpm database.
el7_v1() {
  local r=$work/$1
  centos_root "$r" "$2" "$3"
  nova_agent_v1 "$r"
  xe_tools "$r" /usr/lib/systemd/system
  el_rpmdb "$r" "$work/rpmdb-$1" \
    "centos-release|7|$2.$3.el7.centos|x86_64|CentOS Linux release file" \
    "systemd|219|$4|x86_64|A System and Service Manager" \
    "xe-guest-utilities|7.4.0|1|x86_64|XenServer guest utilities"
  image "$1" "$r" "$5"
}
el7_v1 rsr-v1-centos79 9 2009 78.el7_9.9 5a000002-0000-4000-8000-00000000b001
el7_v1 rsr-v1-centos72 2 1511 19.el7 5a000002-0000-4000-8000-00000000b002

# --- rsr-v2-ubuntu1804: nova-agent 2.x, the tools as a SysV script ordered by a drop-in.
r=$work/v2-ubuntu1804
{
  dpkg_entry systemd 237-3ubuntu10.57 amd64 'system and service manager'
  dpkg_entry nova-agent 2.1.20-1 all 'Xenstore agent for servers'
  dpkg_entry xe-guest-utilities 7.10.0-0ubuntu1 amd64 'XenServer guest utilities'
} | debian_root "$r" 9 13 systemd
cat > "$r/usr/lib/os-release" <<'EOF'
NAME="Ubuntu"
VERSION="18.04.6 LTS (Bionic Beaver)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 18.04.6 LTS"
VERSION_ID="18.04"
VERSION_CODENAME=bionic
UBUNTU_CODENAME=bionic
EOF
printf 'buster/sid\n' > "$r/etc/debian_version"
printf 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=18.04\nDISTRIB_CODENAME=bionic\n' > "$r/etc/lsb-release"
mkdir -p "$r/usr/lib/python2.7/dist-packages"
nova_agent_v2 "$r" /usr/lib/python2.7/dist-packages /lib/systemd/system
mkdir -p "$r/usr/sbin"
printf '#!/bin/sh\necho os_distro=ubuntu\n' > "$r/usr/sbin/xe-linux-distribution"
printf '\177ELF' > "$r/usr/sbin/xe-daemon"
chmod 755 "$r/usr/sbin/xe-linux-distribution" "$r/usr/sbin/xe-daemon"
xe_script > "$r/etc/init.d/xe-linux-distribution"
chmod 755 "$r/etc/init.d/xe-linux-distribution"
for n in 2 3 4 5; do
  ln -s ../init.d/xe-linux-distribution "$r/etc/rc$n.d/S01xe-linux-distribution"
done
mkdir -p "$r/etc/systemd/system/xe-linux-distribution.service.d"
printf '[Unit]\nBefore=nova-agent.service\n' \
  > "$r/etc/systemd/system/xe-linux-distribution.service.d/10-before-nova-agent.conf"
image rsr-v2-ubuntu1804 "$r" 5a000002-0000-4000-8000-00000000b003

# --- rsr-cloud-init-debian11: cloud-init instead of nova-agent.
r=$work/cloud-init-debian11
{
  dpkg_entry systemd 247.3-7+deb11u4 amd64 'system and service manager'
  dpkg_entry cloud-init 20.4.1-2+deb11u1 all 'initialization system for infrastructure cloud instances'
} | debian_root "$r" 11 9 systemd
sed -i 's/(bookworm)/(bullseye)/' "$r/usr/lib/os-release"
mkdir -p "$r/etc/cloud"
printf '#!/usr/bin/python3\nfrom cloudinit.cmd.main import main\nmain()\n' > "$r/usr/bin/cloud-init"
chmod 755 "$r/usr/bin/cloud-init"
printf 'datasource_list: [ ConfigDrive, None ]\n' > "$r/etc/cloud/cloud.cfg"
image rsr-cloud-init-debian11 "$r" 5a000002-0000-4000-8000-00000000b004

rm -rf "$work"
ls -l "$out"
