# Two hardened RHEL-family golden images for `imgprep prepare`, both CentOS as its installer lays
# it out (the partitions, LVM and release files of centos7-like and centos6-like) plus everything
# prepare's Linux actions read and edit, and no program of the guest that prepare could run in the
# appliance (no visudo, no update-ca-trust, no rpm): every fix is computed natively.
#   prepare-el7.qcow2   CentOS 7.9.2009: MBR, /boot XFS, VG centos (LVs swap, root XFS with RHEL
#                       7's features); merged /usr; systemd (/usr/sbin/init ->
#                       ../lib/systemd/systemd, units in /usr/lib/systemd/system, enablement links
#                       in /etc/systemd/system); SELinux enforcing, targeted, with no policy
#                       installed (prepare touches /.autorelabel); Python 2.7.5 with the ssl
#                       back-port (so with the fixes applied every rule passes)
#   prepare-el6.qcow2   CentOS 6.10: MBR, /boot ext4, VG VolGroup (lv_root ext4 without
#                       metadata_csum/64bit, lv_swap); upstart's /sbin/init with /sbin/initctl and
#                       /etc/init, the SysV scripts in /etc/rc.d/init.d with chkconfig headers and
#                       the rc0.d..rc6.d S/K links chkconfig makes; SELinux enforcing, targeted,
#                       no policy installed; Python 2.6.6 and no cloud-init (left failing: they
#                       need --package)
# Both: accounts as the release has them (passwd, group, shadow, gshadow; no cliqruser),
# login.defs (UMASK 077), /etc/skel, /etc/profile and /etc/bashrc keeping their UID-dependent
# umask blocks with 077 in both branches; sudoers as shipped (#includedir /etc/sudoers.d; el6 also
# `Defaults requiretty`) with an empty /etc/sudoers.d; the p11-kit trust store (empty
# source/anchors, extracted pem/openssl bundles of three real CAs, /etc/pki/tls/certs/ca-bundle.crt
# linking to the TLS bundle); no /usr/local/osmosix; a Berkeley DB rpmdb (rpmdb-distros);
# /bin/sh a static busybox (Debian's busybox-static), /bin/bash a real x86_64 ELF.
# Also written:
#   ca.pem          a CA certificate (Ed25519, fixed seed) the images do not trust, for --param ca=
#   worker.tar.gz   a plain worker (etc/userenv, bin/worker), reproducible, for --worker with
#                   --param agent_dest=/usr/local/osmosix
#   worker-bundle.tar.gz
#                   the same files as a bundle (imgprep-bundle.json first) with the service
#                   cliqr-agent run as cliqruser: prepare installs a systemd unit on el7 and a
#                   SysV script with chkconfig's rc links on el6
#   IMAGE.rpm-qa.txt
# Exercises: prepare's account + sudoers, scoped-umask, install-ca (natively computed p11-kit
# bundles), inject-worker (systemd unit / SysV script with rc links) and the SELinux relabel.
# needs: lvm-skeletons rpmdb-distros os-helpers
source ./lib.sh
source "$(fixture os-helpers)/helpers.sh"
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

# A static /bin/sh: Debian's busybox-static, from the mirror of this machine's apt sources.
(cd "$work" && apt-get download -qq busybox-static 2>/dev/null)
dpkg-deb -x "$work"/busybox-static_*.deb "$work/bb"
busybox=$work/bb/bin/busybox
file -L "$busybox" | grep -q 'statically linked'

# Three real CAs of the build host, the content of the guests' trust store.
cas=(ISRG_Root_X1 DigiCert_Global_Root_G2 GlobalSign_Root_CA)
for c in "${cas[@]}"; do
  openssl x509 -in "/usr/share/ca-certificates/mozilla/$c.crt" -out "$work/$c.pem"
done

# A CA the images do not trust yet: Ed25519 from a fixed seed, fixed serial and validity, so
# the certificate is the same bytes from build to build (an image prepared with it stays
# prepared for the next build's ca.pem).
{
  printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20'
  for i in $(seq 32); do printf '\x5a'; done
} > "$work/ca-key.der"
openssl pkey -inform DER -in "$work/ca-key.der" -out "$work/ca-key.pem"
cat > "$work/ca.cnf" <<EOF
[ca]
default_ca = fixed
[fixed]
database = $work/ca.index
new_certs_dir = $work
serial = $work/ca.serial
default_md = default
policy = names
x509_extensions = ext
unique_subject = no
[names]
organizationName = supplied
commonName = supplied
[ext]
basicConstraints = critical,CA:true
subjectKeyIdentifier = hash
EOF
: > "$work/ca.index"
echo 10EF > "$work/ca.serial"
openssl req -new -key "$work/ca-key.pem" -subj "/O=imgprep tests/CN=el bundle store CA" \
  -out "$work/ca.csr"
openssl ca -batch -config "$work/ca.cnf" -selfsign -preserveDN -keyfile "$work/ca-key.pem" \
  -in "$work/ca.csr" -startdate 20231114221320Z -enddate 20331111221320Z -notext \
  -out "$out/ca.pem" 2>/dev/null

# A plain worker tar.gz, byte-reproducible.
w=$work/worker
mkdir -p "$w/etc" "$w/bin"
printf 'export CUOS=centos\nexport CLIQR_HOME=/usr/local/osmosix\n' > "$w/etc/userenv"
printf '#!/bin/sh\nexec sleep 3600\n' > "$w/bin/worker"
chmod 644 "$w/etc/userenv"
chmod 755 "$w/bin/worker"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C "$w" -cf - etc bin | gzip -n -9 > "$out/worker.tar.gz"
# The same worker as a bundle (manifest first: prefix, files with sizes and checksums, the
# service cliqr-agent run as cliqruser), for the service install on each init system.
entry() {
  local p=$1 f=$w/$1
  if [ -d "$f" ]; then
    jq -n --arg p "$p" --arg m "$(stat -c %04a "$f")" '{path: $p, type: "dir", mode: $m, uid: 0, gid: 0}'
  else
    jq -n --arg p "$p" --arg m "$(stat -c %04a "$f")" --argjson s "$(stat -c %s "$f")" \
      --arg h "$(sha256sum "$f" | cut -d' ' -f1)" \
      '{path: $p, type: "file", mode: $m, uid: 0, gid: 0, size: $s, sha256: $h}'
  fi
}
for p in bin bin/worker etc etc/userenv; do entry "$p"; done | jq -s '{
  format: 1, kind: "worker", name: "cloudcenter-worker", version: "4.10.0",
  prefix: "/usr/local/osmosix", files: .,
  service: {name: "cliqr-agent", exec: "/usr/local/osmosix/bin/worker",
            description: "CloudCenter management agent", user: "cliqruser"},
  user: "cliqruser", build: {}}' > "$w/imgprep-bundle.json"
chmod 644 "$w/imgprep-bundle.json"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C "$w" -cf - imgprep-bundle.json bin etc | gzip -n -9 > "$out/worker-bundle.tar.gz"

# accounts ROOT: the accounts a CentOS 7 / 6 minimal install has (real ids), locked passwords.
accounts() {
  local r=$1 el=$2
  cat > "$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/spool/mail:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
games:x:12:100:games:/usr/games:/sbin/nologin
ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin
nobody:x:99:99:Nobody:/:/sbin/nologin
EOF
  if [ "$el" = 7 ]; then
    cat >> "$r/etc/passwd" <<'EOF'
systemd-network:x:192:192:systemd Network Management:/:/sbin/nologin
dbus:x:81:81:System message bus:/:/sbin/nologin
polkitd:x:999:998:User for polkitd:/:/sbin/nologin
sshd:x:74:74:Privilege-separated SSH:/var/empty/sshd:/sbin/nologin
postfix:x:89:89::/var/spool/postfix:/sbin/nologin
chrony:x:998:996::/var/lib/chrony:/sbin/nologin
EOF
  else
    cat >> "$r/etc/passwd" <<'EOF'
dbus:x:81:81:System message bus:/:/sbin/nologin
vcsa:x:69:69:virtual console memory owner:/dev:/sbin/nologin
saslauth:x:499:76:Saslauthd user:/var/empty/saslauth:/sbin/nologin
postfix:x:89:89::/var/spool/postfix:/sbin/nologin
sshd:x:74:74:Privilege-separated SSH:/var/empty/sshd:/sbin/nologin
EOF
  fi
  cat > "$r/etc/group" <<'EOF'
root:x:0:
bin:x:1:bin,daemon
daemon:x:2:bin,daemon
sys:x:3:bin,adm
adm:x:4:adm,daemon
tty:x:5:
disk:x:6:
lp:x:7:daemon
mem:x:8:
kmem:x:9:
wheel:x:10:
cdrom:x:11:
mail:x:12:mail,postfix
man:x:15:
dialout:x:18:
floppy:x:19:
games:x:20:
tape:x:33:
video:x:39:
ftp:x:50:
lock:x:54:
audio:x:63:
nobody:x:99:
users:x:100:
utmp:x:22:
utempter:x:35:
EOF
  if [ "$el" = 7 ]; then
    sed -i 's/^\(bin\|daemon\|sys\|adm\|lp\):x:\([0-9]*\):.*/\1:x:\2:/; s/^mail:x:12:.*/mail:x:12:postfix/' \
      "$r/etc/group"
    cat >> "$r/etc/group" <<'EOF'
input:x:999:
systemd-journal:x:190:
systemd-network:x:192:
dbus:x:81:
polkitd:x:998:
ssh_keys:x:997:
sshd:x:74:
postdrop:x:90:
postfix:x:89:
chrony:x:996:
EOF
  else
    cat >> "$r/etc/group" <<'EOF'
dbus:x:81:
vcsa:x:69:
saslauth:x:76:
postdrop:x:90:
postfix:x:89:
sshd:x:74:
EOF
  fi
  local day=$(( SOURCE_DATE_EPOCH / 86400 ))
  awk -F: -v d="$day" '{ p = ($1 == "root") ? "!!" : "*"; print $1 ":" p ":" d ":0:99999:7:::" }' \
    "$r/etc/passwd" > "$r/etc/shadow"
  awk -F: '{ print $1 "::" ":" $4 }' "$r/etc/group" > "$r/etc/gshadow"
  chmod 644 "$r/etc/passwd" "$r/etc/group"
  chmod 000 "$r/etc/shadow" "$r/etc/gshadow"
  mkdir -p "$r/var/spool/mail" "$r/var/empty/sshd" "$r/var/spool/postfix" "$r/usr/games"
  chmod 711 "$r/var/empty/sshd"
}

# logins ROOT EL: login.defs, /etc/skel, /etc/profile and /etc/bashrc of the release, hardened:
# umask 077 for every login, whatever the UID.
logins() {
  local r=$1 el=$2 uid_min=1000 sys_min=201 sys_max=999
  [ "$el" = 6 ] && uid_min=500
  cat > "$r/etc/login.defs" <<EOF
#
# Please note that the parameters in this configuration file control the
# behavior of the tools from the shadow-utils component. None of these
# tools uses the PAM mechanism, and the utilities that use PAM (such as the
# passwd command) should therefore be configured elsewhere. Refer to
# /etc/pam.d/system-auth for more information.
#

# *REQUIRED*
#   Directory where mailboxes reside, _or_ name of file, relative to the
#   home directory.  If you _do_ define both, MAIL_DIR takes precedence.
#   QMAIL_DIR is for Qmail
#
#QMAIL_DIR	Maildir
MAIL_DIR	/var/spool/mail
#MAIL_FILE	.mail

# Password aging controls:
#
#	PASS_MAX_DAYS	Maximum number of days a password may be used.
#	PASS_MIN_DAYS	Minimum number of days allowed between password changes.
#	PASS_MIN_LEN	Minimum acceptable password length.
#	PASS_WARN_AGE	Number of days warning given before a password expires.
#
PASS_MAX_DAYS	99999
PASS_MIN_DAYS	0
PASS_MIN_LEN	5
PASS_WARN_AGE	7

#
# Min/max values for automatic uid selection in useradd
#
UID_MIN                  $uid_min
UID_MAX                 60000
EOF
  if [ "$el" = 7 ]; then
    cat >> "$r/etc/login.defs" <<EOF
# System accounts
SYS_UID_MIN               $sys_min
SYS_UID_MAX               $sys_max
EOF
  fi
  cat >> "$r/etc/login.defs" <<EOF

#
# Min/max values for automatic gid selection in groupadd
#
GID_MIN                  $uid_min
GID_MAX                 60000
EOF
  if [ "$el" = 7 ]; then
    cat >> "$r/etc/login.defs" <<EOF
# System accounts
SYS_GID_MIN               $sys_min
SYS_GID_MAX               $sys_max
EOF
  fi
  cat >> "$r/etc/login.defs" <<'EOF'

#
# If defined, this command is run when removing a user.
# It should remove any at/cron/print jobs etc. owned by
# the user to be removed (passed as the first argument).
#
#USERDEL_CMD	/usr/sbin/userdel_local

#
# If useradd should create home directories for users by default
# On RH systems, we do. This option is overridden with the -m flag on
# useradd command line.
#
CREATE_HOME	yes

# The permission mask is initialized to this value. If not specified,
# the permission mask will be initialized to 022.
UMASK           077

# This enables userdel to remove user groups if no members exist.
#
USERGROUPS_ENAB yes

# Use SHA512 to encrypt password.
ENCRYPT_METHOD SHA512
EOF

  mkdir -p "$r/etc/skel"
  printf '# ~/.bash_logout\n\n' > "$r/etc/skel/.bash_logout"
  local path_line='PATH=$PATH:$HOME/.local/bin:$HOME/bin'
  [ "$el" = 6 ] && path_line='PATH=$PATH:$HOME/bin'
  cat > "$r/etc/skel/.bash_profile" <<EOF
# .bash_profile

# Get the aliases and functions
if [ -f ~/.bashrc ]; then
	. ~/.bashrc
fi

# User specific environment and startup programs

$path_line

export PATH
EOF
  {
    printf '# .bashrc\n\n# Source global definitions\nif [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n\n'
    if [ "$el" = 7 ]; then
      printf "# Uncomment the following line if you don't like systemctl's auto-paging feature:\n"
      printf '# export SYSTEMD_PAGER=\n\n'
    fi
    printf '# User specific aliases and functions\n'
  } > "$r/etc/skel/.bashrc"
  chmod 644 "$r/etc/skel/.bash_logout" "$r/etc/skel/.bash_profile" "$r/etc/skel/.bashrc"

  cat > "$r/etc/profile" <<EOF
# /etc/profile

# System wide environment and startup programs, for login setup
# Functions and aliases go in /etc/bashrc

# It's NOT a good idea to change this file unless you know what you
# are doing. It's much better to create a custom.sh shell script in
# /etc/profile.d/ to make custom changes to your environment, as this
# will prevent the need for merging in future updates.

pathmunge () {
    case ":\${PATH}:" in
        *:"\$1":*)
            ;;
        *)
            if [ "\$2" = "after" ] ; then
                PATH=\$PATH:\$1
            else
                PATH=\$1:\$PATH
            fi
    esac
}


if [ -x /usr/bin/id ]; then
    if [ -z "\$EUID" ]; then
        # ksh workaround
        EUID=\`id -u\`
        UID=\`id -ru\`
    fi
    USER="\`id -un\`"
    LOGNAME=\$USER
    MAIL="/var/spool/mail/\$USER"
fi

# Path manipulation
if [ "\$EUID" = "0" ]; then
    pathmunge /usr/sbin
    pathmunge /usr/local/sbin
else
    pathmunge /usr/local/sbin after
    pathmunge /usr/sbin after
fi

HOSTNAME=\`/usr/bin/hostname 2>/dev/null\`
HISTSIZE=1000
if [ "\$HISTCONTROL" = "ignorespace" ] ; then
    export HISTCONTROL=ignoreboth
else
    export HISTCONTROL=ignoredups
fi

export PATH USER LOGNAME MAIL HOSTNAME HISTSIZE HISTCONTROL

# By default, we want umask to get set. This sets it for login shell
# Current threshold for system reserved uid/gids is 200
# You could check uidgid reservation validity in
# /usr/share/doc/setup-*/uidgid file
# Hardened (CIS 5.4.4): umask 077 whatever the UID
if [ \$UID -gt 199 ] && [ "\`/usr/bin/id -gn\`" = "\`/usr/bin/id -un\`" ]; then
    umask 077
else
    umask 077
fi

for i in /etc/profile.d/*.sh ; do
    if [ -r "\$i" ]; then
        if [ "\${-#*i}" != "\$-" ]; then
            . "\$i"
        else
            . "\$i" >/dev/null
        fi
    fi
done

unset i
unset -f pathmunge
EOF
  [ "$el" = 6 ] && sed -i 's|`/usr/bin/hostname 2>/dev/null`|`/bin/hostname 2>/dev/null`|' "$r/etc/profile"
  cat > "$r/etc/bashrc" <<'EOF'
# /etc/bashrc

# System wide functions and aliases
# Environment stuff goes in /etc/profile

# It's NOT a good idea to change this file unless you know what you
# are doing. It's much better to create a custom.sh shell script in
# /etc/profile.d/ to make custom changes to your environment, as this
# will prevent the need for merging in future updates.

# are we an interactive shell?
if [ "$PS1" ]; then
  if [ -z "$PROMPT_COMMAND" ]; then
    case $TERM in
    xterm*|vte*)
      PROMPT_COMMAND='printf "\033]0;%s@%s:%s\007" "${USER}" "${HOSTNAME%%.*}" "${PWD/#$HOME/~}"'
      ;;
    screen*)
      PROMPT_COMMAND='printf "\033k%s@%s:%s\033\\" "${USER}" "${HOSTNAME%%.*}" "${PWD/#$HOME/~}"'
      ;;
    *)
      [ -e /etc/sysconfig/bash-prompt-default ] && PROMPT_COMMAND=/etc/sysconfig/bash-prompt-default
      ;;
    esac
  fi
  # Turn on parallel history
  shopt -s histappend
  history -a
  # Turn on checkwinsize
  shopt -s checkwinsize
  [ "$PS1" = "\\s-\\v\\\$ " ] && PS1="[\u@\h \W]\\$ "
fi

if ! shopt -q login_shell ; then # We're not a login shell
    # Need to redefine pathmunge, it get's undefined at the end of /etc/profile
    pathmunge () {
        case ":${PATH}:" in
            *:"$1":*)
                ;;
            *)
                if [ "$2" = "after" ] ; then
                    PATH=$PATH:$1
                else
                    PATH=$1:$PATH
                fi
        esac
    }

    # By default, we want umask to get set. This sets it for non-login shell.
    # Current threshold for system reserved uid/gids is 200
    # You could check uidgid reservation validity in
    # /usr/share/doc/setup-*/uidgid file
    # Hardened (CIS 5.4.4): umask 077 whatever the UID
    if [ $UID -gt 199 ] && [ "`id -gn`" = "`id -un`" ]; then
       umask 077
    else
       umask 077
    fi

    SHELL=/bin/bash
    # Only display echos from profile.d scripts if we are no login shell
    # and interactive - otherwise just process them to set envvars
    for i in /etc/profile.d/*.sh; do
        if [ -r "$i" ]; then
            if [ "$PS1" ]; then
                . "$i"
            else
                . "$i" >/dev/null
            fi
        fi
    done

    unset i
    unset -f pathmunge
fi
# vim:ts=4:sw=4
EOF
  mkdir -p "$r/etc/profile.d"
  chmod 644 "$r/etc/login.defs" "$r/etc/profile" "$r/etc/bashrc"
}

# sudo_conf ROOT EL: sudoers as the release's sudo package ships it, and an empty sudoers.d.
sudo_conf() {
  local r=$1 el=$2
  mkdir -p "$r/etc/sudoers.d"
  chmod 750 "$r/etc/sudoers.d"
  {
    cat <<'EOF'
## Sudoers allows particular users to run various commands as
## the root user, without needing the root password.
##
## Examples are provided at the bottom of the file for collections
## of related commands, which can then be delegated out to particular
## users or groups.
##
## This file must be edited with the 'visudo' command.

## Host Aliases
## Groups of machines. You may prefer to use hostnames (perhaps using
## wildcards for entire domains) or IP addresses instead.
# Host_Alias     FILESERVERS = fs1, fs2
# Host_Alias     MAILSERVERS = smtp, smtp2

## Command Aliases
## These are groups of related commands...

## Networking
# Cmnd_Alias NETWORKING = /sbin/route, /sbin/ifconfig, /bin/ping, /sbin/dhclient, /usr/bin/net, /sbin/iptables, /usr/bin/rfcomm, /usr/bin/wvdial, /sbin/iwconfig, /sbin/mii-tool

## Services
# Cmnd_Alias SERVICES = /sbin/service, /sbin/chkconfig, /usr/bin/systemctl start, /usr/bin/systemctl stop, /usr/bin/systemctl reload, /usr/bin/systemctl restart, /usr/bin/systemctl status, /usr/bin/systemctl enable, /usr/bin/systemctl disable

## Processes
# Cmnd_Alias PROCESSES = /bin/nice, /bin/kill, /usr/bin/kill, /usr/bin/killall

# Defaults specification

EOF
    if [ "$el" = 6 ]; then
      cat <<'EOF'
#
# Disable "ssh hostname sudo <cmd>", because it will show the password in clear.
#         You have to run "ssh -t hostname sudo <cmd>".
#
Defaults    requiretty

Defaults   !visiblepw

Defaults    always_set_home

EOF
    else
      cat <<'EOF'
#
# Refuse to run if unable to disable echo on the tty.
#
Defaults   !visiblepw

#
# Preserving HOME has security implications since many programs
# use it when searching for configuration files. Note that HOME
# is already set when the the env_reset option is enabled, so
# this option is only effective for configurations where either
# env_reset is disabled or HOME is present in the env_keep list.
#
Defaults    always_set_home
Defaults    match_group_by_gid

# Prior to version 1.8.15, groups listed in sudoers that were not
# found in the system group database were passed to the group
# plugin, if any. Starting with 1.8.15, only groups of the form
# %:group are resolved via the group plugin by default.
# We enable always_query_group_plugin to restore old behavior.
# Disable this option for new behavior.
Defaults    always_query_group_plugin

EOF
    fi
    cat <<'EOF'
Defaults    env_reset
Defaults    env_keep =  "COLORS DISPLAY HOSTNAME HISTSIZE KDEDIR LS_COLORS"
Defaults    env_keep += "MAIL PS1 PS2 QTDIR USERNAME LANG LC_ADDRESS LC_CTYPE"
Defaults    env_keep += "LC_COLLATE LC_IDENTIFICATION LC_MEASUREMENT LC_MESSAGES"
Defaults    env_keep += "LC_MONETARY LC_NAME LC_NUMERIC LC_PAPER LC_TELEPHONE"
Defaults    env_keep += "LC_TIME LC_ALL LANGUAGE LINGUAS _XKB_CHARSET XAUTHORITY"

Defaults    secure_path = /sbin:/bin:/usr/sbin:/usr/bin

## Next comes the main part: which users can run what software on
## which machines (the sudoers file can be shared between multiple
## systems).
## Syntax:
##
## 	user	MACHINE=COMMANDS
##
## The COMMANDS section may have other options added to it.
##
## Allow root to run any commands anywhere
root	ALL=(ALL) 	ALL

## Allows members of the 'sys' group to run networking, software,
## service management apps and more.
# %sys ALL = NETWORKING, SOFTWARE, SERVICES, STORAGE, DELEGATING, PROCESSES, LOCATE, DRIVERS

## Allows people in group wheel to run all commands
%wheel	ALL=(ALL)	ALL

## Same thing without a password
# %wheel	ALL=(ALL)	NOPASSWD: ALL

## Allows members of the users group to mount and unmount the
## cdrom as root
# %users  ALL=/sbin/mount /mnt/cdrom, /sbin/umount /mnt/cdrom

## Allows members of the users group to shutdown this system
# %users  localhost=/sbin/shutdown -h now

## Read drop-in files from /etc/sudoers.d (the # here does not mean a comment)
#includedir /etc/sudoers.d
EOF
  } > "$r/etc/sudoers"
  chmod 440 "$r/etc/sudoers"
}

# trust_store ROOT: the p11-kit layout update-ca-trust extract leaves: the TLS, e-mail and
# code-signing PEM bundles and the OpenSSL trust bundle of the CAs above, the legacy paths linking
# to them, and an empty anchors directory.
trust_store() {
  local r=$1 c e=$1/etc/pki/ca-trust/extracted
  mkdir -p "$r/etc/pki/ca-trust/source/anchors" "$r/etc/pki/ca-trust/source/blacklist" \
    "$e/pem" "$e/openssl" "$e/java" "$r/etc/pki/tls/certs" "$r/etc/pki/tls/private" \
    "$r/usr/share/pki/ca-trust-source/anchors"
  printf 'This directory /etc/pki/ca-trust/extracted/ contains\nCA certificate bundle files which are automatically created\nbased on the information found in the\n/usr/share/pki/ca-trust-source/ and /etc/pki/ca-trust/source/\ndirectories.\n' \
    > "$e/README"
  : > "$e/pem/tls-ca-bundle.pem"
  : > "$e/pem/email-ca-bundle.pem"
  : > "$e/pem/objsign-ca-bundle.pem"
  : > "$e/openssl/ca-bundle.trust.crt"
  for c in "${cas[@]}"; do
    printf '# %s\n' "${c//_/ }" >> "$e/pem/tls-ca-bundle.pem"
    cat "$work/$c.pem" >> "$e/pem/tls-ca-bundle.pem"
    printf '# %s\n' "${c//_/ }" >> "$e/pem/email-ca-bundle.pem"
    cat "$work/$c.pem" >> "$e/pem/email-ca-bundle.pem"
    printf '# %s\n' "${c//_/ }" >> "$e/openssl/ca-bundle.trust.crt"
    openssl x509 -in "$work/$c.pem" -addtrust serverAuth -addtrust emailProtection \
      -trustout >> "$e/openssl/ca-bundle.trust.crt"
  done
  chmod 444 "$e"/pem/*.pem "$e/openssl/ca-bundle.trust.crt"
  ln -s /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem "$r/etc/pki/tls/certs/ca-bundle.crt"
  ln -s /etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt \
    "$r/etc/pki/tls/certs/ca-bundle.trust.crt"
  ln -s /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem "$r/etc/pki/tls/cert.pem"
}

# selinux ROOT: SELinux enforcing with the targeted policy, as the installer leaves it, but no
# policy files (so files written offline cannot be labelled and the guest must relabel).
selinux() {
  mkdir -p "$1/etc/selinux" "$1/etc/sysconfig"
  cat > "$1/etc/selinux/config" <<'EOF'

# This file controls the state of SELinux on the system.
# SELINUX= can take one of these three values:
#     enforcing - SELinux security policy is enforced.
#     permissive - SELinux prints warnings instead of enforcing.
#     disabled - No SELinux policy is loaded.
SELINUX=enforcing
# SELINUXTYPE= can take one of three values:
#     targeted - Targeted processes are protected,
#     minimum - Modification of targeted policy. Other processes are protected.
#     mls - Multi Level Security protection.
SELINUXTYPE=targeted


EOF
  ln -s ../selinux/config "$1/etc/sysconfig/selinux"
}

# rpmdb ROOT EL: the Berkeley DB rpmdb of rpmdb-distros and the rpm configuration reading it.
rpmdb() {
  mkdir -p "$1/var/lib/rpm" "$1/usr/lib/rpm"
  cp "$(fixture rpmdb-distros)/el$2/Packages" "$1/var/lib/rpm/Packages"
  printf '%%_usr\t\t\t/usr\n%%_var\t\t\t/var\n%%_dbpath\t\t%%{_var}/lib/rpm\n' \
    > "$1/usr/lib/rpm/macros"
  cp /usr/lib/rpm/rpmrc "$1/usr/lib/rpm/rpmrc"
}

# common ROOT EL BINDIR: what both images share.
common() {
  local r=$1 el=$2 bin=$3
  cp /bin/bash "$r$bin/bash"
  cp "$busybox" "$r$bin/sh"
  chmod 755 "$r$bin/bash" "$r$bin/sh"
  mkdir -p "$r/etc/sysconfig" "$r/usr/local/bin" "$r/usr/local/sbin" "$r/usr/local/lib"
  accounts "$r" "$el"
  logins "$r" "$el"
  sudo_conf "$r" "$el"
  trust_store "$r"
  selinux "$r"
  rpmdb "$r" "$el"
  cat > "$r/etc/hosts" <<'EOF'
127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4
::1         localhost localhost.localdomain localhost6 localhost6.localdomain6
EOF
  printf '/bin/sh\n/bin/bash\n/sbin/nologin\n' > "$r/etc/shells"
  [ "$el" = 7 ] && printf '/usr/bin/sh\n/usr/bin/bash\n/usr/sbin/nologin\n' >> "$r/etc/shells"
  [ -e "$r/usr/local/osmosix" ] && { echo "the agent must not be installed" >&2; return 1; }
  return 0
}

# ---- CentOS 7.9 (systemd) ----
r=$work/el7
fhs_dirs "$r"
merged_usr "$r"
common "$r" 7 /usr/bin
echo 'CentOS Linux release 7.9.2009 (Core)' > "$r/etc/centos-release"
ln -s centos-release "$r/etc/redhat-release"
ln -s centos-release "$r/etc/system-release"
echo 'cpe:/o:centos:centos:7' > "$r/etc/system-release-cpe"
cat > "$r/usr/lib/os-release" <<'EOF'
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"

EOF
ln -s ../usr/lib/os-release "$r/etc/os-release"
echo 'centos7-hardened' > "$r/etc/hostname"
# Python 2.7.5 with RHEL 7's back-port of 2.7.9's ssl module, as CentOS 7.9 ships it (a
# placeholder interpreter: nothing runs it).
mkdir -p "$r/usr/lib64/python2.7"
cat > "$r/usr/lib64/python2.7/ssl.py" <<'EOF'
# Wrapper module for _ssl, providing some additional facilities
# implemented in Python.  Written by Bill Janssen.

import _ssl
from _ssl import OPENSSL_VERSION_NUMBER, OPENSSL_VERSION_INFO, OPENSSL_VERSION

def create_default_context(purpose=None, cafile=None, capath=None, cadata=None):
    """Create a SSLContext object with default settings."""
    raise NotImplementedError
EOF
ln -s python2 "$r/usr/bin/python"
ln -s python2.7 "$r/usr/bin/python2"
printf '\177ELF' > "$r/usr/bin/python2.7"
chmod 755 "$r/usr/bin/python2.7"
echo '# Created by anaconda' > "$r/etc/sysconfig/network"
el7_boot=8e4c2a1f-5b3d-4c6e-9f7a-1b2c3d4e5f60
el7_root=9f5d3b20-6c4e-4d7f-8a8b-2c3d4e5f6071
el7_swap=a06e4c31-7d5f-4e80-9b9c-3d4e5f607182
cat > "$r/etc/fstab" <<EOF

#
# /etc/fstab
# Created by anaconda on Thu Nov 16 10:12:45 2023
#
# Accessible filesystems, by reference, are maintained under '/dev/disk'
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info
#
/dev/mapper/centos-root /                       xfs     defaults        0 0
UUID=$el7_boot /boot                   xfs     defaults        0 0
/dev/mapper/centos-swap swap                    swap    defaults        0 0
EOF
# systemd: the program (a placeholder: nothing runs it here), init linking to it, units and
# their enablement as a minimal install has them.
u=$r/usr/lib/systemd/system
mkdir -p "$u" "$r/etc/systemd/system/multi-user.target.wants" \
  "$r/etc/systemd/system/getty.target.wants" "$r/etc/systemd/system/sockets.target.wants"
printf '\177ELF systemd 219\n' > "$r/usr/lib/systemd/systemd"
chmod 755 "$r/usr/lib/systemd/systemd"
ln -s ../lib/systemd/systemd "$r/usr/sbin/init"
cat > "$u/multi-user.target" <<'EOF'
[Unit]
Description=Multi-User System
Documentation=man:systemd.special(7)
Requires=basic.target
Conflicts=rescue.service rescue.target
After=basic.target rescue.service rescue.target
AllowIsolate=yes
EOF
cat > "$u/network-online.target" <<'EOF'
[Unit]
Description=Network is Online
Documentation=man:systemd.special(7)
Documentation=http://www.freedesktop.org/wiki/Software/systemd/NetworkTarget
After=network.target
EOF
cat > "$u/sshd.service" <<'EOF'
[Unit]
Description=OpenSSH server daemon
Documentation=man:sshd(8) man:sshd_config(5)
After=network.target sshd-keygen.service
Wants=sshd-keygen.service

[Service]
Type=notify
EnvironmentFile=/etc/sysconfig/sshd
ExecStart=/usr/sbin/sshd -D $OPTIONS
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=on-failure
RestartSec=42s

[Install]
WantedBy=multi-user.target
EOF
cat > "$u/crond.service" <<'EOF'
[Unit]
Description=Command Scheduler
After=auditd.service systemd-user-sessions.service time-sync.target

[Service]
EnvironmentFile=/etc/sysconfig/crond
ExecStart=/usr/sbin/crond -n $CRONDARGS
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process

[Install]
WantedBy=multi-user.target
EOF
cat > "$u/chronyd.service" <<'EOF'
[Unit]
Description=NTP client/server
Documentation=man:chronyd(8) man:chrony.conf(5)
After=ntpdate.service sntp.service ntpd.service
Conflicts=ntpd.service systemd-timesyncd.service
ConditionCapability=CAP_SYS_TIME

[Service]
Type=forking
PIDFile=/var/run/chrony/chronyd.pid
EnvironmentFile=-/etc/sysconfig/chronyd
ExecStart=/usr/sbin/chronyd $OPTIONS
ExecStartPost=/usr/libexec/chrony-helper update-daemon
PrivateTmp=yes
ProtectHome=yes
ProtectSystem=full

[Install]
WantedBy=multi-user.target
EOF
cat > "$u/postfix.service" <<'EOF'
[Unit]
Description=Postfix Mail Transport Agent
After=syslog.target network.target
Conflicts=sendmail.service exim.service

[Service]
Type=forking
PIDFile=/var/spool/postfix/pid/master.pid
EnvironmentFile=-/etc/sysconfig/network
ExecStartPre=-/usr/libexec/postfix/aliasesdb
ExecStartPre=-/usr/libexec/postfix/chroot-update
ExecStart=/usr/sbin/postfix start
ExecReload=/usr/sbin/postfix reload
ExecStop=/usr/sbin/postfix stop

[Install]
WantedBy=multi-user.target
EOF
for s in sshd crond chronyd postfix; do
  ln -s "/usr/lib/systemd/system/$s.service" "$r/etc/systemd/system/multi-user.target.wants/$s.service"
done
ln -s /lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
mkdir -p "$r/etc/ssh"
printf 'PasswordAuthentication yes\nChallengeResponseAuthentication no\nUsePAM yes\n' \
  > "$r/etc/ssh/sshd_config"
chmod 600 "$r/etc/ssh/sshd_config"

b=$work/el7boot
mkdir -p "$b/grub2"
cat > "$b/grub2/grub.cfg" <<EOF
set default="0"
menuentry 'CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)' --class centos {
	search --no-floppy --fs-uuid --set=root $el7_boot
	linux16 /vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/mapper/centos-root ro rd.lvm.lv=centos/root rd.lvm.lv=centos/swap
	initrd16 /initramfs-3.10.0-1160.el7.x86_64.img
}
EOF
printf 'not a kernel\n' > "$b/vmlinuz-3.10.0-1160.el7.x86_64"
printf 'not an initramfs\n' > "$b/initramfs-3.10.0-1160.el7.x86_64.img"

clamp_times "$r"
clamp_times "$b"
mkxfs "$b" "$work/el7boot.img" 32 "$el7_boot" "" "${xfs_el7_opts[@]}"
mkxfs "$r" "$work/el7root.img" 64 "$el7_root" "" "${xfs_el7_opts[@]}"
truncate -s 8M "$work/el7swap.img"
mkswap -U "$el7_swap" "$work/el7swap.img" >/dev/null
skeleton centos7.raw "$work/centos7.raw"
put "$work/el7boot.img" "$work/centos7.raw" "$(part_start centos7.raw 1)"
lvput "$work/el7root.img" centos/root "$work"
lvput "$work/el7swap.img" centos/swap "$work"
qemu-img convert -c -f raw -O qcow2 "$work/centos7.raw" "$out/prepare-el7.qcow2"
rpm_qa "$r/var/lib/rpm" bdb_ro > "$out/prepare-el7.qcow2.rpm-qa.txt"
cmp "$out/prepare-el7.qcow2.rpm-qa.txt" "$(fixture rpmdb-distros)/el7/rpm-qa.txt"

# ---- CentOS 6.10 (upstart running the SysV rc scripts) ----
r=$work/el6
fhs_dirs "$r"
mkdir -p "$r/bin" "$r/sbin" "$r/lib" "$r/lib64" "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib64"
common "$r" 6 /bin
echo 'CentOS release 6.10 (Final)' > "$r/etc/centos-release"
ln -s centos-release "$r/etc/redhat-release"
ln -s centos-release "$r/etc/system-release"
echo 'cpe:/o:centos:linux:6:GA' > "$r/etc/system-release-cpe"
printf 'NETWORKING=yes\nHOSTNAME=centos6-hardened.example.com\n' > "$r/etc/sysconfig/network"
el6_boot=b17f5d42-8e60-4f91-8cad-4e5f60718293
el6_root=c2806e53-9f71-4a02-9dbe-5f60718293a4
el6_swap=d3917f64-a082-4b13-8ecf-60718293a4b5
cat > "$r/etc/fstab" <<EOF

#
# /etc/fstab
# Created by anaconda on Wed Nov 15 09:41:02 2023
#
# Accessible filesystems, by reference, are maintained under '/dev/disk'
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info
#
/dev/mapper/VolGroup-lv_root /                       ext4    defaults        1 1
UUID=$el6_boot /boot                   ext4    defaults        1 2
/dev/mapper/VolGroup-lv_swap swap                    swap    defaults        0 0
tmpfs                   /dev/shm                tmpfs   defaults        0 0
devpts                  /dev/pts                devpts  gid=5,mode=620  0 0
sysfs                   /sys                    sysfs   defaults        0 0
proc                    /proc                   proc    defaults        0 0
EOF
# upstart 0.6.5 (a placeholder program) with its job directory, and the SysV rc it runs.
printf '\177ELF upstart 0.6.5\n' > "$r/sbin/init"
printf '\177ELF initctl 0.6.5\n' > "$r/sbin/initctl"
chmod 755 "$r/sbin/init" "$r/sbin/initctl"
mkdir -p "$r/etc/init"
cat > "$r/etc/init/rc.conf" <<'EOF'
# rc - System V runlevel compatibility
#
# This task runs the old sysv-rc runlevel scripts.  It
# is usually started by the telinit compatibility wrapper.

start on runlevel [0123456]

stop on runlevel [!$RUNLEVEL]

task

export RUNLEVEL
console output
exec /etc/rc.d/rc $RUNLEVEL
EOF
cat > "$r/etc/inittab" <<'EOF'
# inittab is only used by upstart for the default runlevel.
#
# ADDING OTHER CONFIGURATION HERE WILL HAVE NO EFFECT ON YOUR SYSTEM.
#
# System initialization is started by /etc/init/rcS.conf
#
# Individual runlevels are started by /etc/init/rc.conf
#
# Ctrl-Alt-Delete is handled by /etc/init/control-alt-delete.conf
#
# Terminal gettys are handled by /etc/init/tty.conf and /etc/init/serial.conf,
# with configuration in /etc/sysconfig/init.
#
# For information on how to write upstart event handlers, or how
# upstart works, see init(5), init(8), and initctl(8).
#
# Default runlevel. The runlevels used are:
#   0 - halt (Do NOT set initdefault to this)
#   1 - Single user mode
#   2 - Multiuser, without NFS (The same as 3, if you do not have networking)
#   3 - Full multiuser mode
#   4 - unused
#   5 - X11
#   6 - reboot (Do NOT set initdefault to this)
#
id:3:initdefault:
EOF
rcd=$r/etc/rc.d
mkdir -p "$rcd/init.d"
for l in 0 1 2 3 4 5 6; do
  mkdir -p "$rcd/rc$l.d"
  ln -s "rc.d/rc$l.d" "$r/etc/rc$l.d"
done
ln -s rc.d/init.d "$r/etc/init.d"
printf '#!/bin/bash\n# rc: starts and stops the services of a runlevel\n' > "$rcd/rc"
printf '#!/bin/bash\n# rc.sysinit: run once at boot time\n' > "$rcd/rc.sysinit"
printf '#!/bin/sh\n\ntouch /var/lock/subsys/local\n' > "$rcd/rc.local"
chmod 755 "$rcd/rc" "$rcd/rc.sysinit" "$rcd/rc.local"
ln -s rc.d/rc.local "$r/etc/rc.local"
ln -s rc.d/rc.sysinit "$r/etc/rc.sysinit"
printf '# -*-Shell-script-*-\n#\n# functions\tThis file contains functions to be used by most or all\n#\t\tshell scripts in the /etc/init.d directory.\n#\n' \
  > "$rcd/init.d/functions"
# sysv_script NAME LEVELS START STOP DESCRIPTION: an init script with the chkconfig header and the
# links `chkconfig --add NAME` makes: S<START> in LEVELS, K<STOP> in the others.
sysv_script() {
  local name=$1 levels=$2 start=$3 stop=$4 desc=$5 l
  cat > "$rcd/init.d/$name" <<EOF
#!/bin/bash
#
# $name        $desc
#
# chkconfig: $levels $start $stop
# description: $desc

# Source function library.
. /etc/rc.d/init.d/functions

case "\$1" in
  start|stop|restart|status) exit 0 ;;
  *) echo \$"Usage: \$0 {start|stop|restart|status}"; exit 2 ;;
esac
EOF
  chmod 755 "$rcd/init.d/$name"
  for l in 0 1 2 3 4 5 6; do
    if [[ $levels == *$l* ]]; then
      ln -s "../init.d/$name" "$rcd/rc$l.d/S$start$name"
    else
      ln -s "../init.d/$name" "$rcd/rc$l.d/K$stop$name"
    fi
  done
}
sysv_script network 2345 10 90 "Bring up/down networking"
sysv_script rsyslog 2345 12 88 "Enhanced system logging and kernel message trapping daemon"
sysv_script sshd 2345 55 25 "OpenSSH server daemon"
sysv_script postfix 2345 80 30 "Postfix Mail Transport Agent"
sysv_script crond 2345 90 60 "Cron daemon"
mkdir -p "$r/etc/ssh"
printf 'PasswordAuthentication yes\nChallengeResponseAuthentication no\nUsePAM yes\n' \
  > "$r/etc/ssh/sshd_config"
chmod 600 "$r/etc/ssh/sshd_config"

b=$work/el6boot
mkdir -p "$b/grub"
cat > "$b/grub/grub.conf" <<'EOF'
default=0
timeout=5
title CentOS 6 (2.6.32-754.el6.x86_64)
	root (hd0,0)
	kernel /vmlinuz-2.6.32-754.el6.x86_64 ro root=/dev/mapper/VolGroup-lv_root rd_LVM_LV=VolGroup/lv_root rd_LVM_LV=VolGroup/lv_swap
	initrd /initramfs-2.6.32-754.el6.x86_64.img
EOF
ln -s grub.conf "$b/grub/menu.lst"
printf 'not a kernel\n' > "$b/vmlinuz-2.6.32-754.el6.x86_64"

el6=(-O ^metadata_csum,^64bit,^metadata_csum_seed,^orphan_file -I 256)
mkext ext4 "$b" "$work/el6boot.img" 32 "$el6_boot" "" -b 1024 "${el6[@]}"
mkext ext4 "$r" "$work/el6root.img" 48 "$el6_root" "" -b 4096 "${el6[@]}"
truncate -s 8M "$work/el6swap.img"
mkswap -U "$el6_swap" "$work/el6swap.img" >/dev/null
skeleton centos6.raw "$work/centos6.raw"
put "$work/el6boot.img" "$work/centos6.raw" "$(part_start centos6.raw 1)"
lvput "$work/el6root.img" VolGroup/lv_root "$work"
lvput "$work/el6swap.img" VolGroup/lv_swap "$work"
qemu-img convert -c -f raw -O qcow2 "$work/centos6.raw" "$out/prepare-el6.qcow2"
rpm_qa "$r/var/lib/rpm" bdb_ro > "$out/prepare-el6.qcow2.rpm-qa.txt"
cmp "$out/prepare-el6.qcow2.rpm-qa.txt" "$(fixture rpmdb-distros)/el6/rpm-qa.txt"
rm -rf "$work"
