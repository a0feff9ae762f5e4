# Small Linux guests for the rackspace-nova-agent rules (tests/check_rackspace.rs), one per case
# worth checking end to end. Each is an ext4 filesystem on a whole disk (/dev/sda, fstab by
# LABEL=rsroot), a compressed qcow2 of well under 1 MB, holding only what the rules read: release
# files, /etc/fstab, a real x86_64 /bin/bash (copied from the build host), init system files,
# nova-agent / XenServer tools / cloud-init files, and a tiny dpkg status on the Debian-like ones
# (the CentOS-like ones have no rpm database: the rules must work from files alone).
#
#   rs-v2-ordered.qcow2       CentOS 7.9, systemd. nova-agent 2.x (novaagent 2.1.20 in
#                             python2.7/site-packages, /usr/bin/nova-agent, the upstream unit) and
#                             xe-linux-distribution.service, both in multi-user.target.wants; an
#                             /etc copy of the xe unit adds Before=nova-agent.service. Every rule
#                             passes.
#   rs-v1-centos72.qcow2      CentOS 7.2.1511, systemd. nova-agent 1.x as its installer leaves it:
#                             /usr/share/nova-agent/1.39.0/, /etc/rc.d/init.d/nova-agent a symlink
#                             into it, S15 links in rc2-5.d; the native xe-linux-distribution.service
#                             enabled. nova-agent.branch fails (1.x on 7.2); the order comes from the
#                             1.x script's LSB header (Required-Start: xe-linux-distribution) as
#                             systemd-sysv-generator wraps it: a mixed setup that passes.
#   rs-xe-masked.qcow2        Debian 9, systemd, dpkg status with nova-agent 2.1.20-1 and
#                             xe-guest-utilities. xe-linux-distribution is linked into
#                             multi-user.target.wants and has an rc2.d link, but
#                             /etc/systemd/system/xe-linux-distribution.service -> /dev/null masks
#                             it: xe-tools.enabled and xe-tools.before-nova-agent fail.
#   rs-sysv-wrong-order.qcow2 Debian 7, SysV init (/sbin/init a program, inittab runlevel 2).
#                             /etc/rc2.d/S01nova-agent runs before S03xe-linux-distribution although
#                             nova-agent's LSB header requires it: xe-tools.before-nova-agent fails
#                             with both links and the header line. /etc/network/interfaces brings up
#                             tun0 with `ip tuntap`: nova-agent.tun-tap warns.
#   rs-dropin.qcow2           CentOS 7.9, systemd, stock units that do not order themselves; the
#                             drop-in /etc/systemd/system/nova-agent.service.d/10-xe-tools.conf adds
#                             After= (and Wants=) and replaces a vendor drop-in of the same name that
#                             says Before= (were it applied too, the order would be a cycle).
#   rs-cloud-init-only.qcow2  Debian 12, systemd, cloud-init 22.4.2-1 in the dpkg status and
#                             /usr/bin/cloud-init, no nova-agent: nova-agent.present warns with the
#                             image metadata (img_config_drive, vm_mode, xenapi_use_agent).
#   rs-tuntap.qcow2           rs-v2-ordered plus ifcfg-tap0 (TYPE=Tap), a systemd-networkd
#                             Kind=tun .netdev, a NetworkManager type=tun connection and an enabled
#                             openvpn@client.service: nova-agent.tun-tap warns with each.
#   rs-neither.qcow2          CentOS 7.9, systemd, neither nova-agent nor cloud-init:
#                             nova-agent.present fails.
# needs: os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

# centos_root DIR MINOR BUILD: a CentOS 7.MINOR root booted by systemd into multi-user.target,
# with the /etc/rc.d layout and stock targets.
centos_root() {
  local r=$1 minor=$2 build=$3 n
  fhs_dirs "$r"
  merged_usr "$r"
  cp /bin/bash "$r/usr/bin/bash"
  ln -s bash "$r/usr/bin/sh"
  mkdir -p "$r/usr/lib/systemd"
  printf '\177ELF' > "$r/usr/lib/systemd/systemd"
  chmod 755 "$r/usr/lib/systemd/systemd"
  ln -s ../lib/systemd/systemd "$r/usr/sbin/init"
  echo "CentOS Linux release 7.$minor.$build (Core)" > "$r/etc/centos-release"
  ln -s centos-release "$r/etc/redhat-release"
  ln -s centos-release "$r/etc/system-release"
  cat > "$r/usr/lib/os-release" <<'EOF'
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
CPE_NAME="cpe:/o:centos:centos:7"
EOF
  ln -s ../usr/lib/os-release "$r/etc/os-release"
  echo 'rackspace-golden' > "$r/etc/hostname"
  printf '127.0.0.1   localhost localhost.localdomain\n' > "$r/etc/hosts"
  printf 'LABEL=rsroot  /  ext4  defaults  1 1\n' > "$r/etc/fstab"
  mkdir -p "$r/etc/rc.d/init.d"
  ln -s rc.d/init.d "$r/etc/init.d"
  for n in 0 1 2 3 4 5 6; do
    mkdir -p "$r/etc/rc.d/rc$n.d"
    ln -s "rc.d/rc$n.d" "$r/etc/rc$n.d"
  done
  # initscripts' function library: not executable, so no unit.
  printf '# functions\n' > "$r/etc/rc.d/init.d/functions"
  stock_targets "$r/usr/lib/systemd/system"
  mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
  ln -s /usr/lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
}

# debian_root DIR MAJOR POINT INIT: a Debian MAJOR root (non-merged /bin and /sbin), booted by
# systemd (INIT=systemd, multi-user.target) or SysV init (INIT=sysv, runlevel 2); dpkg status
# from stdin.
debian_root() {
  local r=$1 major=$2 point=$3 init=$4 name
  fhs_dirs "$r"
  mkdir -p "$r/bin" "$r/sbin" "$r/lib" "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib" \
    "$r/var/lib/dpkg" "$r/etc/init.d" "$r/etc/network"
  cp /bin/bash "$r/bin/bash"
  ln -s bash "$r/bin/sh"
  echo "$major.$point" > "$r/etc/debian_version"
  case $major in 7) name=wheezy ;; 9) name=stretch ;; *) name=bookworm ;; esac
  cat > "$r/usr/lib/os-release" <<EOF
PRETTY_NAME="Debian GNU/Linux $major ($name)"
NAME="Debian GNU/Linux"
VERSION_ID="$major"
VERSION="$major ($name)"
ID=debian
EOF
  ln -s ../usr/lib/os-release "$r/etc/os-release"
  echo 'rackspace-golden' > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n' > "$r/etc/hosts"
  printf 'LABEL=rsroot  /  ext4  errors=remount-ro  0  1\n' > "$r/etc/fstab"
  printf 'auto lo\niface lo inet loopback\n' > "$r/etc/network/interfaces"
  cat > "$r/var/lib/dpkg/status"
  for n in 0 1 2 3 4 5 6 S; do mkdir -p "$r/etc/rc$n.d"; done
  if [ "$init" = systemd ]; then
    mkdir -p "$r/lib/systemd/system" "$r/etc/systemd/system/multi-user.target.wants"
    printf '\177ELF' > "$r/lib/systemd/systemd"
    chmod 755 "$r/lib/systemd/systemd"
    ln -s /lib/systemd/systemd "$r/sbin/init"
    stock_targets "$r/lib/systemd/system"
    ln -s /lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
  else
    printf '\177ELF' > "$r/sbin/init"
    chmod 755 "$r/sbin/init"
    printf 'id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\nl2:2:wait:/etc/init.d/rc 2\n' \
      > "$r/etc/inittab"
  fi
}

# stock_targets DIR: systemd's multi-user.target and basic.target as systemd ships them.
stock_targets() {
  mkdir -p "$1"
  cat > "$1/multi-user.target" <<'EOF'
[Unit]
Description=Multi-User System
Documentation=man:systemd.special(7)
Requires=basic.target
Conflicts=rescue.service rescue.target
After=basic.target rescue.service rescue.target
AllowIsolate=yes
EOF
  cat > "$1/basic.target" <<'EOF'
[Unit]
Description=Basic System
Documentation=man:systemd.special(7)
Requires=sysinit.target
Wants=sockets.target timers.target paths.target slices.target
After=sysinit.target sockets.target paths.target slices.target tmp.mount
EOF
}

# dpkg_entry NAME VERSION ARCH DESCRIPTION: one installed package of a dpkg status file.
dpkg_entry() {
  printf 'Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\n' "$1"
  printf 'Installed-Size: 100\nMaintainer: Nobody <nobody@example.org>\nArchitecture: %s\n' "$3"
  printf 'Version: %s\nDescription: %s\n\n' "$2" "$4"
}

# nova_agent_v2 ROOT PYLIB UNITDIR: nova-agent 2.1.20 as its packages install it: the novaagent
# package in PYLIB, egg metadata, the /usr/bin/nova-agent console script, the upstream unit in
# UNITDIR, enabled in multi-user.target.wants.
nova_agent_v2() {
  local r=$1 lib=$2 units=$3
  mkdir -p "$r$lib/novaagent" "$r$lib/novaagent-2.1.20-py2.7.egg-info" "$r$units"
  printf "\n__version__ = '2.1.20'\n" > "$r$lib/novaagent/__init__.py"
  printf 'def main():\n    pass\n' > "$r$lib/novaagent/novaagent.py"
  printf 'Metadata-Version: 1.0\nName: novaagent\nVersion: 2.1.20\n' \
    > "$r$lib/novaagent-2.1.20-py2.7.egg-info/PKG-INFO"
  cat > "$r/usr/bin/nova-agent" <<'EOF'
#!/usr/bin/python
# EASY-INSTALL-ENTRY-SCRIPT: 'novaagent==2.1.20','console_scripts','nova-agent'
__requires__ = 'novaagent==2.1.20'
import sys
from pkg_resources import load_entry_point
sys.exit(load_entry_point('novaagent==2.1.20', 'console_scripts', 'nova-agent')())
EOF
  chmod 755 "$r/usr/bin/nova-agent"
  cat > "$r$units/nova-agent.service" <<'EOF'
[Unit]
Description=Nova Agent for xenstore
Wants=cloud-init-local.service
Before=network-online.target
Before=cloud-init.service

[Service]
Type=notify
TimeoutStartSec=360
ExecStart=/usr/bin/nova-agent --no-fork True -o /var/log/nova-agent.log -l info

[Install]
WantedBy=multi-user.target
EOF
  ln -s "$units/nova-agent.service" "$r/etc/systemd/system/multi-user.target.wants/nova-agent.service"
}

# xe_tools ROOT UNITDIR: xe-guest-utilities: the programs, the SysV script (chkconfig 2345 14 86)
# and the native unit (no ordering), enabled in multi-user.target.wants.
xe_tools() {
  local r=$1 units=$2
  mkdir -p "$r$units" "$r/usr/sbin"
  printf '#!/bin/sh\necho os_distro=centos\n' > "$r/usr/sbin/xe-linux-distribution"
  printf '\177ELF' > "$r/usr/sbin/xe-daemon"
  chmod 755 "$r/usr/sbin/xe-linux-distribution" "$r/usr/sbin/xe-daemon"
  xe_script > "$r/etc/init.d/xe-linux-distribution"
  chmod 755 "$r/etc/init.d/xe-linux-distribution"
  cat > "$r$units/xe-linux-distribution.service" <<'EOF'
[Unit]
Description=Linux Guest Agent

[Service]
ExecStartPre=/usr/sbin/xe-linux-distribution /var/cache/xe-linux-distribution
ExecStart=/usr/sbin/xe-daemon

[Install]
WantedBy=multi-user.target
EOF
  ln -s "$units/xe-linux-distribution.service" \
    "$r/etc/systemd/system/multi-user.target.wants/xe-linux-distribution.service"
}

xe_script() {
  cat <<'EOF'
#!/bin/sh
#
# xe-linux-distribution	Write Linux distribution information to XenStore.
#
# chkconfig: 2345 14 86
# description: Writes Linux distribution version information to XenStore.
#
### BEGIN INIT INFO
# Provides:          xe-linux-distribution
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: XenServer guest daemon
### END INIT INFO
exec /usr/sbin/xe-daemon
EOF
}

# nova_agent_v1_script: the init script nova-agent 1.x installs (RedHat and LSB headers).
nova_agent_v1_script() {
  cat <<'EOF'
#!/bin/sh
#
# nova-agent	Startup script for OpenStack nova guest agent
#
# chkconfig: 2345 15 85
# description: nova-agent is an agent meant to run on unix guest instances.
# processname: nova-agent
# pidfile: /var/run/nova-agent.pid
#
### BEGIN INIT INFO
# Provides: Nova-Agent
# Required-Start: $remote_fs $syslog xe-linux-distribution
# Required-Stop: $remote_fs $syslog xe-linux-distribution
# Default-Start: 2 3 4 5
# Default-Stop: 0 1 6
# Short-Description: Start nova-agent at boot time
### END INIT INFO
exec /usr/sbin/nova-agent -q -p /var/run/nova-agent.pid /usr/share/nova-agent/nova-agent.py
EOF
}

# image NAME DIR UUID: DIR as ext4 on a whole disk, written to OUT/NAME.qcow2 (compressed).
image() {
  local name=$1 dir=$2 uuid=$3
  mkext ext4 "$dir" "$work/$name.img" "$(size_mib "$dir")" "$uuid" rsroot -b 1024 -J size=1
  qemu-img convert -c -f raw -O qcow2 "$work/$name.img" "$out/$name.qcow2"
  rm -f "$work/$name.img"
}

# --- rs-v2-ordered: every rule passes.
r=$work/v2-ordered
centos_root "$r" 9 2009
nova_agent_v2 "$r" /usr/lib/python2.7/site-packages /usr/lib/systemd/system
xe_tools "$r" /usr/lib/systemd/system
cat > "$r/etc/systemd/system/xe-linux-distribution.service" <<'EOF'
[Unit]
Description=Linux Guest Agent
Before=nova-agent.service

[Service]
ExecStartPre=/usr/sbin/xe-linux-distribution /var/cache/xe-linux-distribution
ExecStart=/usr/sbin/xe-daemon

[Install]
WantedBy=multi-user.target
EOF
cp -a "$r" "$work/tuntap"
image rs-v2-ordered "$r" 5a000001-0000-4000-8000-00000000a001

# --- rs-v1-centos72: nova-agent 1.x on CentOS 7.2 (branch fails; LSB header orders it).
r=$work/v1-centos72
centos_root "$r" 2 1511
v=/usr/share/nova-agent/1.39.0
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
xe_tools "$r" /usr/lib/systemd/system
image rs-v1-centos72 "$r" 5a000001-0000-4000-8000-00000000a002

# --- rs-xe-masked: the XenServer tools are masked (Debian 9, systemd).
r=$work/xe-masked
{
  dpkg_entry nova-agent 2.1.20-1 all 'Xenstore agent for servers'
  dpkg_entry xe-guest-utilities 7.10.0-1 amd64 'XenServer guest utilities'
} | debian_root "$r" 9 13 systemd
nova_agent_v2 "$r" /usr/lib/python2.7/dist-packages /lib/systemd/system
xe_tools "$r" /lib/systemd/system
ln -s ../init.d/xe-linux-distribution "$r/etc/rc2.d/S01xe-linux-distribution"
ln -s /dev/null "$r/etc/systemd/system/xe-linux-distribution.service"
image rs-xe-masked "$r" 5a000001-0000-4000-8000-00000000a003

# --- rs-sysv-wrong-order: S01nova-agent before S03xe-linux-distribution (Debian 7, SysV).
r=$work/sysv-wrong-order
{
  dpkg_entry nova-agent 2.1.20-1 all 'Xenstore agent for servers'
  dpkg_entry xe-guest-utilities 6.2.0-1 amd64 'XenServer guest utilities'
  dpkg_entry openvpn 2.2.1-8+deb7u3 amd64 'virtual private network daemon'
} | debian_root "$r" 7 11 sysv
mkdir -p "$r/usr/lib/python2.7/dist-packages" "$r/etc/systemd/system/multi-user.target.wants"
nova_agent_v2 "$r" /usr/lib/python2.7/dist-packages /lib/systemd/system
cat > "$r/etc/init.d/nova-agent" <<'EOF'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          nova-agent
# Required-Start:    $remote_fs $syslog xe-linux-distribution
# Required-Stop:     $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Xenstore agent for servers
### END INIT INFO
exec /usr/bin/nova-agent -o /var/log/nova-agent.log
EOF
chmod 755 "$r/etc/init.d/nova-agent"
xe_script > "$r/etc/init.d/xe-linux-distribution"
chmod 755 "$r/etc/init.d/xe-linux-distribution"
ln -s ../init.d/nova-agent "$r/etc/rc2.d/S01nova-agent"
ln -s ../init.d/xe-linux-distribution "$r/etc/rc2.d/S03xe-linux-distribution"
cat >> "$r/etc/network/interfaces" <<'EOF'

auto tun0
iface tun0 inet static
    address 10.8.0.1
    netmask 255.255.255.0
    pre-up ip tuntap add dev tun0 mode tun
EOF
image rs-sysv-wrong-order "$r" 5a000001-0000-4000-8000-00000000a004

# --- rs-dropin: After= from a drop-in in /etc that replaces a vendor drop-in (CentOS 7.9).
r=$work/dropin
centos_root "$r" 9 2009
nova_agent_v2 "$r" /usr/lib/python2.7/site-packages /usr/lib/systemd/system
xe_tools "$r" /usr/lib/systemd/system
mkdir -p "$r/usr/lib/systemd/system/nova-agent.service.d" \
  "$r/etc/systemd/system/nova-agent.service.d"
printf '[Unit]\nBefore=xe-linux-distribution.service\n' \
  > "$r/usr/lib/systemd/system/nova-agent.service.d/10-xe-tools.conf"
printf '[Unit]\nWants=xe-linux-distribution.service\nAfter=xe-linux-distribution.service\n' \
  > "$r/etc/systemd/system/nova-agent.service.d/10-xe-tools.conf"
image rs-dropin "$r" 5a000001-0000-4000-8000-00000000a005

# --- rs-cloud-init-only: cloud-init, no nova-agent (Debian 12, systemd).
r=$work/cloud-init-only
{
  dpkg_entry cloud-init 22.4.2-1 all 'initialization system for infrastructure cloud instances'
  dpkg_entry python3 3.11.2-1+b1 amd64 'interactive high-level object-oriented language'
} | debian_root "$r" 12 5 systemd
mkdir -p "$r/etc/cloud"
printf '#!/usr/bin/python3\nfrom cloudinit.cmd.main import main\nmain()\n' > "$r/usr/bin/cloud-init"
chmod 755 "$r/usr/bin/cloud-init"
printf 'datasource_list: [ ConfigDrive, None ]\n' > "$r/etc/cloud/cloud.cfg"
image rs-cloud-init-only "$r" 5a000001-0000-4000-8000-00000000a006

# --- rs-tuntap: rs-v2-ordered plus tun/tap definitions and an enabled OpenVPN client.
r=$work/tuntap
mkdir -p "$r/etc/sysconfig/network-scripts" "$r/etc/systemd/network" \
  "$r/etc/NetworkManager/system-connections"
printf 'DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=dhcp\n' \
  > "$r/etc/sysconfig/network-scripts/ifcfg-eth0"
printf 'DEVICE=tap0\nTYPE=Tap\nONBOOT=yes\nBOOTPROTO=none\n' \
  > "$r/etc/sysconfig/network-scripts/ifcfg-tap0"
printf '[NetDev]\nName=tun1\nKind=tun\n' > "$r/etc/systemd/network/50-tun1.netdev"
printf '[connection]\nid=vpn-tun\ntype=tun\ninterface-name=tun2\n\n[tun]\nmode=1\n' \
  > "$r/etc/NetworkManager/system-connections/vpn-tun.nmconnection"
chmod 600 "$r/etc/NetworkManager/system-connections/vpn-tun.nmconnection"
cat > "$r/usr/lib/systemd/system/openvpn@.service" <<'EOF'
[Unit]
Description=OpenVPN Robust And Highly Flexible Tunneling Application On %I
After=network.target

[Service]
Type=notify
ExecStart=/usr/sbin/openvpn --cd /etc/openvpn/ --config %i.conf

[Install]
WantedBy=multi-user.target
EOF
ln -s /usr/lib/systemd/system/openvpn@.service \
  "$r/etc/systemd/system/multi-user.target.wants/openvpn@client.service"
image rs-tuntap "$r" 5a000001-0000-4000-8000-00000000a007

# --- rs-neither: no nova-agent, no cloud-init (CentOS 7.9).
r=$work/neither
centos_root "$r" 9 2009
image rs-neither "$r" 5a000001-0000-4000-8000-00000000a008

rm -rf "$work"
ls -l "$out"
