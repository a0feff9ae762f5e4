#!/usr/bin/env bash
# Builds seeds for the rules_guest_files fuzz target:
#   fuzz/seeds/rules_guest_files.sh OUTDIR  ->  OUTDIR/rules_guest_files/*
# Each seed is a guest's configuration in the target's input format: a selector byte (which OS
# and cloud), then records separated by 0x00, each a byte choosing the path (its index in the
# target's PATHS list, read from the source; high bit: a symlink to the rest) and the content.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out/rules_guest_files"
python3 - "$here/../../crates/imgprep-fuzz-targets/src/rules.rs" "$out/rules_guest_files" <<'PY'
import os, re, sys
src, out = sys.argv[1:3]
text = open(src).read()
paths = re.findall(r'^\s+"(/[^"]+)",$', text.split('const PATHS')[1].split('];')[0], re.M)
# Index 0 is written as len(paths): a 0x00 byte separates records.
index = {p: i or len(paths) for i, p in enumerate(paths)}

def seed(name, selector, files, links=()):
    data = bytes([selector])
    for path, content in files:
        data += bytes([index[path]]) + content.encode() + b'\0'
    for path, target in links:
        data += bytes([0x80 | index[path]]) + target.encode() + b'\0'
    open(os.path.join(out, name), 'wb').write(data)

PEM = ('-----BEGIN CERTIFICATE-----\n'
       'MIIBszCCAVmgAwIBAgIUQ2Vm3xVz0c8g5mYbq0dJmT7l2xgwCgYIKoZIzj0EAwIw\n'
       'DzENMAsGA1UEAwwEdGVzdDAeFw0yNDAxMDEwMDAwMDBaFw0zNDAxMDEwMDAwMDBa\n'
       '-----END CERTIFICATE-----\n')

# CentOS 7 (selector 0: no cloud; 3: OpenStack; 6: AWS), hardened umask, nova-agent via SysV.
centos = [
    ('/etc/login.defs', 'MAIL_DIR /var/spool/mail\nUMASK 077\nUSERGROUPS_ENAB yes\n'),
    ('/etc/profile', 'if [ $UID -gt 199 ] && [ "`id -gn`" = "`id -un`" ]; then\n    umask 002\nelse\n    umask 022\nfi\nfor i in /etc/profile.d/*.sh ; do\n    . "$i"\ndone\n'),
    ('/etc/bashrc', '[ "$PS1" = "\\\\s-\\\\v\\\\\\$ " ] && PS1="[\\u@\\h \\W]\\\\$ "\numask 027\n'),
    ('/etc/profile.d/a.sh', 'umask 0077\n'),
    ('/etc/csh.cshrc', 'if ($uid > 199 && "`id -gn`" == "`id -un`") then\n    umask 002\nelse\n    umask 022\nendif\n'),
    ('/etc/pam.d/system-auth', 'auth required pam_env.so\nsession optional pam_umask.so umask=0077\nsession required pam_unix.so\n'),
    ('/etc/pam.d/login', 'auth include system-auth\nsession include system-auth\n'),
    ('/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\ncliqruser:x:1000:1000::/home/cliqruser:/bin/bash\n'),
    ('/etc/group', 'root:x:0:\nwheel:x:10:cliqruser\ncliqruser:x:1000:\n'),
    ('/etc/sudoers', 'Defaults requiretty\nroot ALL=(ALL) ALL\n%wheel ALL=(ALL) NOPASSWD: ALL\n#includedir /etc/sudoers.d\n'),
    ('/etc/sudoers.d/cliqruser', 'cliqruser ALL=(ALL) NOPASSWD: ALL\nDefaults:cliqruser !requiretty\n'),
    ('/etc/init.d/nova-agent', '#!/bin/sh\n### BEGIN INIT INFO\n# Provides: nova-agent\n# Required-Start: $network xe-linux-distribution\n# Default-Start: 2 3 4 5\n### END INIT INFO\n'),
    ('/etc/init.d/xe-linux-distribution', '#!/bin/sh\n# chkconfig: 2345 14 76\n### BEGIN INIT INFO\n# Provides: xe-linux-distribution\n# Default-Start: 2 3 4 5\n### END INIT INFO\n'),
    ('/usr/share/nova-agent/1.39.0/sbin/nova-agent', '#!/bin/sh\n'),
    ('/usr/lib64/python2.7/ssl.py', 'HAS_SNI = True\ndef create_default_context(purpose=None):\n    pass\n_create_default_https_context = create_default_context\n'),
    ('/usr/bin/python2.7', '\x7fELF'),
    ('/usr/local/osmosix/etc/userenv', 'export CLIQR_EXTERNAL_SERVER_IP=10.0.0.1\n'),
    ('/etc/pki/ca-trust/source/anchors/ca.pem', PEM),
    ('/etc/pki/tls/certs/ca-bundle.crt', PEM + PEM),
    ('/etc/sysconfig/network-scripts/ifcfg-tun0', 'DEVICE=tun0\nTYPE=Tap\nONBOOT=yes\n'),
    ('/etc/cloud/cloud.cfg', 'users:\n - default\ndisable_root: 1\ncloud_init_modules:\n - write-files\n'),
]
centos_links = [
    ('/etc/rc3.d/S15nova-agent', '../init.d/nova-agent'),
    ('/etc/rc3.d/S14xe-linux-distribution', '../init.d/xe-linux-distribution'),
]
seed('centos7', 0, centos, centos_links)
seed('centos7-openstack', 3, centos, centos_links)

# Ubuntu 16.04 (1, 4, 7): systemd units and drop-ins, Debian PAM, upstart, a VPN.
ubuntu = [
    ('/etc/login.defs', 'UMASK\t\t022\nUSERGROUPS_ENAB yes\n'),
    ('/etc/bash.bashrc', '[ -z "$PS1" ] && return\nshopt -s checkwinsize\n'),
    ('/etc/profile.d/z.sh', 'umask u=rwx,g=rx,o=\n'),
    ('/etc/skel/.bashrc', 'case $- in *i*) ;; *) return;; esac\numask 022\n'),
    ('/root/.bashrc', 'umask 022\n'),
    ('/etc/csh.login', 'umask 077\n'),
    ('/etc/pam.d/common-session', 'session [default=1] pam_permit.so\nsession requisite pam_deny.so\nsession optional pam_umask.so\n'),
    ('/etc/pam.d/sshd', '@include common-session\n'),
    ('/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\n'),
    ('/etc/group', 'sudo:x:27:ubuntu\n'),
    ('/etc/sudoers', '%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n'),
    ('/etc/systemd/system/nova-agent.service', '[Unit]\nDescription=nova-agent\nAfter=network.target xe-linux-distribution.service\nWants=xe-linux-distribution.service\n\n[Service]\nExecStart=/usr/bin/nova-agent -n\n\n[Install]\nWantedBy=multi-user.target\n'),
    ('/etc/systemd/system/nova-agent.service.d/override.conf', '[Unit]\nAfter=\nAfter=network-online.target\nBefore=xe-linux-distribution.service\n'),
    ('/usr/lib/systemd/system/xe-linux-distribution.service', '[Unit]\nDescription=xe\n[Service]\nType=oneshot\n[Install]\nWantedBy=multi-user.target\nAlias=xe-daemon.service\n'),
    ('/etc/init/nova-agent.conf', 'start on (local-filesystems and started xe-daemon)\nexec /usr/bin/nova-agent\n'),
    ('/etc/init/xe-daemon.conf', 'start on runlevel [2345]\n'),
    ('/etc/init/xe-daemon.override', 'manual\n'),
    ('/usr/bin/nova-agent', '#!/usr/bin/python\n'),
    ('/etc/network/interfaces', 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n'),
    ('/etc/network/interfaces.d/vpn', 'auto tap0\niface tap0 inet manual\n  pre-up ip tuntap add tap0 mode tap\n'),
    ('/etc/NetworkManager/system-connections/tun0.nmconnection', '[connection]\nid=tun0\ntype=tun\n[tun]\nmode=1\n'),
    ('/etc/openvpn/client.conf', 'client\ndev tun\nremote vpn.example 1194\n'),
    ('/usr/bin/python3.6', '\x7fELF'),
    ('/etc/ssl/certs/ca-certificates.crt', PEM),
    ('/usr/local/share/ca-certificates/ca.crt', PEM),
]
ubuntu_links = [
    ('/etc/systemd/system/multi-user.target.wants/nova-agent.service', '/etc/systemd/system/nova-agent.service'),
    ('/etc/systemd/system/multi-user.target.wants/xe-linux-distribution.service', '/usr/lib/systemd/system/xe-linux-distribution.service'),
    ('/lib/systemd/system/xe-daemon.service', 'xe-linux-distribution.service'),
    ('/etc/rc2.d/S02xe-linux-distribution', '../../../../etc/init.d/../init.d/xe-linux-distribution'),
]
seed('ubuntu1604-openstack', 4, ubuntu, ubuntu_links)
seed('ubuntu1604-aws', 7, ubuntu, ubuntu_links)

# Debian 12 (2, 5, 8): the Cloudify agent's virtualenv, SysV inittab, a link loop.
debian = [
    ('/etc/login.defs', 'UMASK 002\nHOME_MODE 0700\n'),
    ('/etc/inittab', 'id:2:initdefault:\nl2:2:wait:/etc/init.d/rc 2\n'),
    ('/etc/passwd', 'root:x:0:0::/root:/bin/bash\ncfyuser:x:1001:1001::/home/cfyuser:/bin/sh\n'),
    ('/etc/sudoers', 'Defaults env_reset\ncfyuser ALL=(root) NOPASSWD: /usr/bin/systemctl, /bin/sh\nUser_Alias ADMINS = cfyuser, %wheel\nADMINS ALL = ALL\n'),
    ('/opt/cloudify-agent/agent-7.0/env/bin/activate', 'VIRTUAL_ENV="/opt/cloudify-agent/agent-7.0/env"\nexport VIRTUAL_ENV\n'),
    ('/opt/cloudify-agent/agent-7.0/env/pyvenv.cfg', 'home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.6.8\n'),
    ('/opt/cloudify-agent/agent-7.0/env/lib/python2.7/orig-prefix.txt', '/usr'),
    ('/opt/cloudify-agent/agent-7.0/env/lib/python2.7/site-packages/cloudify_agent/included_plugins.py', "included_plugins = (\n    'cloudify-openstack-plugin',\n    'cloudify-aws-plugin',\n)\n"),
    ('/opt/cloudify-agent/agent-7.0/env/lib/python2.7/site-packages/cloudify_agent/__init__.py', "__version__ = '7.0.0'\n"),
    ('/usr/local/agentlite', ''),
    ('/etc/cloud/cloud.cfg', 'datasource_list: [ NoCloud, None ]\n'),
]
debian_links = [
    ('/opt/cloudify-agent/agent-7.0/env/bin/python', '/usr/bin/python3.6'),
    ('/etc/profile', '/etc/profile.d/a.sh'),
    ('/etc/profile.d/a.sh', '/etc/profile'),
]
seed('debian12-cloudify', 2, debian + [('/usr/bin/python3.6', '\x7fELF')], debian_links)
seed('debian12-aws', 8, debian, debian_links)
PY
