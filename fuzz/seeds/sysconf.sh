#!/usr/bin/env bash
# Builds seeds for the sysconf_text and sysconf_guest_edits fuzz targets:
#   fuzz/seeds/sysconf.sh OUTDIR  ->  OUTDIR/sysconf_text/*, OUTDIR/sysconf_guest_edits/*
# sysconf_text: a selector byte, then an INI or login.defs file. sysconf_guest_edits: a
# selector byte, then records "[path index][content]" separated by NUL bytes, the path index
# into the target's PATHS, modulo its length (high bit: a symlink to the content; 0 is the
# separator, so /sbin/init, index 0, is written 2d): a systemd guest, a Debian SysV
# guest and a Red Hat one, each with accounts, sudoers, shell startup files and a trust store.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out/sysconf_text" "$out/sysconf_guest_edits"

text() { # text NAME SELECTOR CONTENT
  { printf "\\x$2"; printf '%s' "$3"; } > "$out/sysconf_text/$1"
}
text ini-crlf 00 $'[DEFAULT]\r\nusername=Admin\r\nplugins=a.A,\r\n  b.B\r\n[x]\r\ny=1\r\n'
text ini-colon 11 $'\xef\xbb\xbf[DEFAULT]\nplugins: a, "b"\n# plugins=c\n[openstack]\nplugins=d\n'
text ini-empty 21 ''
text logindefs 38 $'# c\nPASS_MAX_DAYS\t99999\nUMASK\t\t077\n  UMASK 022 # x\nUSERGROUPS_ENAB yes'

# Each guest: the selector, then "INDEX CONTENT" pairs (INDEX in hex, 80+ for a link).
guest() { # guest NAME SELECTOR [INDEX CONTENT]...
  local name=$1 sel=$2
  shift 2
  {
    printf "\\x$sel"
    while [ $# -gt 0 ]; do
      printf "\\x$1"; printf '%s' "$2"; printf '\0'
      shift 2
    done
  } > "$out/sysconf_guest_edits/$name"
}
accounts=(
  14 $'root:x:0:0:root:/root:/bin/bash\nsvc:x:998:998::/:/sbin/nologin\n'
  15 $'root:*:19000:0:99999:7:::\n'
  16 $'root:x:0:\nsvc:x:998:\n'
  17 $'root:*::\n'
  18 $'UID_MIN 1000\nUID_MAX 60000\nSYS_UID_MAX 999\nUMASK 077\n'
  19 $'umask 022\n'
  1a 'x'
  1e $'Defaults requiretty\nroot ALL=(ALL) ALL\n'
  21 $'if [ $UID -gt 199 ]; then\n    umask 002\nelse\n    umask 022\nfi\n'
  22 $'umask 027\n'
)
guest systemd 01 \
  ad '../lib/systemd/systemd' \
  81 '/usr/lib/systemd/system/multi-user.target' \
  02 $'[Unit]\nRequires=basic.target\nAfter=basic.target\n' \
  03 $'[Service]\nExecStart=/usr/bin/agent\n[Install]\nWantedBy=multi-user.target\nAlias=nova.service\n' \
  08 $'[Service]\nExecStart=/usr/sbin/xe\n[Install]\nWantedBy=multi-user.target\n' \
  05 $'# site\r\n[Unit]\r\nDescription=x\r\n' \
  "${accounts[@]}" \
  2a $'-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTIFICATE-----\n' \
  2c $'[DEFAULT]\r\nplugins=a.A,\r\n  b.B\r\n'
guest debian 00 \
  2d $'\x7fELF' \
  0a $'id:2:initdefault:\n' \
  0b $'7.11\n' \
  0d $'#!/bin/sh\n### BEGIN INIT INFO\n# Provides: xe-linux-distribution\n# Default-Start: 2 3 4 5\n### END INIT INFO\n' \
  90 '../init.d/xe-linux-distribution' \
  0e $'#!/bin/sh\n' \
  91 '../init.d/nova-agent' \
  "${accounts[@]}" \
  25 $'mozilla/A.crt\n!mozilla/B.crt\n' \
  26 $'-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTIFICATE-----' \
  28 'stale'
guest redhat 01 \
  2d $'\x7fELF' \
  0a $'id:3:initdefault:\n' \
  0c $'CentOS release 6.10 (Final)\n' \
  0f $'#!/bin/sh\n# chkconfig: 2345 20 80\n' \
  92 '../init.d/nova-agent' \
  93 '../init.d/xe-linux-distribution' \
  "${accounts[@]}" \
  29 $'-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTIFICATE-----\n'
echo "seeds in $out/sysconf_text and $out/sysconf_guest_edits"
