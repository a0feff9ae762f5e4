# Small Linux guests for the umask rule (umask.login), one per layout worth an end-to-end test:
# synthetic roots (release files, fstab, passwd/group, the shell startup files of the layout,
# /usr/bin/bash copied from this machine for the architecture), ext4 on the whole disk written
# by mke2fs -d, qcow2 of about 2 MB each. No appliance; a few seconds in all.
#   umask-022.qcow2              Debian 12, UMASK 022, Debian's /etc/profile (no umask): pass
#   umask-login-defs-077.qcow2   Debian 12, UMASK 077 in /etc/login.defs and nothing else: fail
#   umask-profile-d-027.qcow2    CentOS 7 defaults plus /etc/profile.d/zz-hardening.sh umask 027
#   umask-rhel-conditional.qcow2 CentOS 7 defaults: root 022, private-group users 002: pass
#   umask-pam-077.qcow2          Debian 12, pam_umask umask=077 in common-session (sshd, login)
#   umask-variable.qcow2         CentOS 7, /etc/profile.d/mask.sh `umask $SITE_UMASK`: error
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")

# base_debian DIR: a Debian 12 root with Debian's /etc/profile, root's dotfiles and the agent's
# account.
base_debian() {
  local r=$1
  mkdir -p "$r"/{etc/profile.d,etc/pam.d,etc/skel,usr/bin,usr/lib,var/lib/dpkg,root,home/cliqruser,tmp}
  ln -s usr/bin "$r/bin"
  ln -s usr/lib "$r/lib"
  cp /usr/bin/bash "$r/usr/bin/bash"
  cat > "$r/usr/lib/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
  ln -s ../usr/lib/os-release "$r/etc/os-release"
  echo 12.5 > "$r/etc/debian_version"
  printf 'bookworm\n' > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n' > "$r/etc/hosts"
  printf 'LABEL=root  /  ext4  errors=remount-ro  0  1\n' > "$r/etc/fstab"
  printf 'root:x:0:0:root:/root:/bin/bash\ncliqruser:x:1000:1000::/home/cliqruser:/bin/bash\n' \
    > "$r/etc/passwd"
  printf 'root:x:0:\ncliqruser:x:1000:\n' > "$r/etc/group"
  printf 'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n' \
    > "$r/var/lib/dpkg/status"
  printf 'MAIL_DIR\t/var/mail\nUMASK\t\t022\nUSERGROUPS_ENAB yes\n' > "$r/etc/login.defs"
  cat > "$r/etc/profile" <<'EOF'
# /etc/profile: system-wide .profile file for the Bourne shell (sh(1))
if [ "$(id -u)" -eq 0 ]; then
  PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
else
  PATH="/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
fi
export PATH

if [ "${PS1-}" ]; then
  if [ "${BASH-}" ] && [ "$BASH" != "/bin/sh" ]; then
    if [ -f /etc/bash.bashrc ]; then
      . /etc/bash.bashrc
    fi
  fi
fi

if [ -d /etc/profile.d ]; then
  for i in /etc/profile.d/*.sh; do
    if [ -r $i ]; then
      . $i
    fi
  done
  unset i
fi
EOF
  printf '[ -z "$PS1" ] && return\nshopt -s checkwinsize\n' > "$r/etc/bash.bashrc"
  cat > "$r/root/.profile" <<'EOF'
# ~/.profile: executed by Bourne-compatible login shells.
if [ "$BASH" ]; then
  if [ -f ~/.bashrc ]; then
    . ~/.bashrc
  fi
fi
mesg n 2> /dev/null || true
EOF
  printf '# ~/.bashrc\nexport LS_OPTIONS=--color=auto\n' > "$r/root/.bashrc"
  printf 'session\trequired\tpam_unix.so\n' > "$r/etc/pam.d/common-session"
  printf '@include common-session\n' > "$r/etc/pam.d/sshd"
  printf '@include common-session\n' > "$r/etc/pam.d/login"
  cp "$r/root/.profile" "$r/root/.bashrc" "$r/etc/skel/"
  cp "$r/root/.profile" "$r/root/.bashrc" "$r/home/cliqruser/"
  chown -R 1000:1000 "$r/home/cliqruser"
  chmod 0700 "$r/root"
  chmod 1777 "$r/tmp"
}

# base_centos DIR: a CentOS 7 root with the distribution's umask defaults: UMASK 077 and
# USERGROUPS_ENAB yes in login.defs, the conditional 002/022 in /etc/profile (login shells) and
# /etc/bashrc (non-login shells), root's dotfiles sourcing /etc/bashrc.
base_centos() {
  local r=$1
  mkdir -p "$r"/{etc/profile.d,etc/pam.d,etc/skel,usr/bin,usr/lib,root,home/cliqruser,tmp}
  ln -s usr/bin "$r/bin"
  ln -s usr/lib "$r/lib"
  cp /usr/bin/bash "$r/usr/bin/bash"
  cat > "$r/etc/os-release" <<'EOF'
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
CPE_NAME="cpe:/o:centos:centos:7"
EOF
  echo 'CentOS Linux release 7.9.2009 (Core)' > "$r/etc/centos-release"
  ln -s centos-release "$r/etc/redhat-release"
  ln -s centos-release "$r/etc/system-release"
  printf 'centos7\n' > "$r/etc/hostname"
  printf '127.0.0.1   localhost\n' > "$r/etc/hosts"
  printf 'LABEL=root  /  ext4  defaults  0  1\n' > "$r/etc/fstab"
  printf 'root:x:0:0:root:/root:/bin/bash\ncliqruser:x:1000:1000::/home/cliqruser:/bin/bash\n' \
    > "$r/etc/passwd"
  printf 'root:x:0:\ncliqruser:x:1000:\n' > "$r/etc/group"
  cat > "$r/etc/login.defs" <<'EOF'
MAIL_DIR	/var/spool/mail
PASS_MAX_DAYS	99999
UID_MIN                  1000
CREATE_HOME	yes
# The permission mask is initialized to this value. If not specified,
# the permission mask will be initialized to 022.
UMASK           077
# This enables userdel to remove user groups if no members exist.
USERGROUPS_ENAB yes
ENCRYPT_METHOD SHA512
EOF
  cat > "$r/etc/profile" <<'EOF'
# /etc/profile

# System wide environment and startup programs, for login setup
# Functions and aliases go in /etc/bashrc

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

if [ -x /usr/bin/id ]; then
    if [ -z "$EUID" ]; then
        # ksh workaround
        EUID=`/usr/bin/id -u`
        UID=`/usr/bin/id -ru`
    fi
    USER="`/usr/bin/id -un`"
    LOGNAME=$USER
    MAIL="/var/spool/mail/$USER"
fi

HOSTNAME=`/usr/bin/hostname 2>/dev/null`
export PATH USER LOGNAME MAIL HOSTNAME

# By default, we want umask to get set. This sets it for login shell
# Current threshold for system reserved uid/gids is 200
# You could check uidgid reservation validity in
# /usr/share/doc/setup-*/uidgid file
if [ $UID -gt 199 ] && [ "`/usr/bin/id -gn`" = "`/usr/bin/id -un`" ]; then
    umask 002
else
    umask 022
fi

for i in /etc/profile.d/*.sh /etc/profile.d/sh.local ; do
    if [ -r "$i" ]; then
        if [ "${-#*i}" != "$-" ]; then 
            . "$i"
        else
            . "$i" >/dev/null
        fi
    fi
done

unset i
unset -f pathmunge
EOF
  cat > "$r/etc/bashrc" <<'EOF'
# /etc/bashrc

# System wide functions and aliases
# Environment stuff goes in /etc/profile

if [ "$PS1" ]; then
  shopt -s histappend
fi

if ! shopt -q login_shell ; then # We're not a login shell
    # By default, we want umask to get set. This sets it for non-login shell.
    # Current threshold for system reserved uid/gids is 200
    # You could check uidgid reservation validity in
    # /usr/share/doc/setup-*/uidgid file
    if [ $UID -gt 199 ] && [ "`/usr/bin/id -gn`" = "`/usr/bin/id -un`" ]; then
       umask 002
    else
       umask 022
    fi
fi
EOF
  cat > "$r/etc/csh.cshrc" <<'EOF'
# /etc/cshrc
if ($uid > 199 && "`/usr/bin/id -gn`" == "`/usr/bin/id -un`") then
    umask 002
else
    umask 022
endif
EOF
  printf '# .bash_profile\nif [ -f ~/.bashrc ]; then\n\t. ~/.bashrc\nfi\nPATH=$PATH:$HOME/bin\n' \
    > "$r/root/.bash_profile"
  printf '# .bashrc\nalias rm='"'"'rm -i'"'"'\nif [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n' \
    > "$r/root/.bashrc"
  printf 'session    include      password-auth\n' > "$r/etc/pam.d/sshd"
  printf 'session    include      system-auth\n' > "$r/etc/pam.d/login"
  printf 'session     required      pam_unix.so\n' > "$r/etc/pam.d/password-auth"
  printf 'session     required      pam_unix.so\n' > "$r/etc/pam.d/system-auth"
  cp "$r/root/.bash_profile" "$r/root/.bashrc" "$r/etc/skel/"
  cp "$r/root/.bash_profile" "$r/root/.bashrc" "$r/home/cliqruser/"
  chown -R 1000:1000 "$r/home/cliqruser"
  chmod 0700 "$r/root"
  chmod 1777 "$r/tmp"
}

# image NAME UUID: $work/NAME as an ext4 filesystem on the whole disk, as qcow2.
image() {
  local name=$1 uuid=$2 r=$work/$1
  mkext ext4 "$r" "$work/$name.raw" "$(size_mib "$r")" "$uuid" root -b 1024 -J size=1
  qemu-img convert -f raw -O qcow2 "$work/$name.raw" "$out/$name.qcow2"
  rm -f "$work/$name.raw"
}

# umask-022: what a Debian image looks like unhardened: login.defs UMASK 022 is the initial
# umask, nothing in /etc/profile or the dotfiles changes it.
base_debian "$work/umask-022"
image umask-022 0e1a5c00-0000-4000-8000-000000000001

# umask-login-defs-077: a Debian image hardened only in /etc/login.defs (UMASK 077, as the demo
# image): root-run installs start with 077 and no startup file resets it.
base_debian "$work/umask-login-defs-077"
sed -i 's/^UMASK.*/UMASK\t\t077/' "$work/umask-login-defs-077/etc/login.defs"
image umask-login-defs-077 0e1a5c00-0000-4000-8000-000000000002

# umask-profile-d-027: CentOS 7 defaults plus a CIS remediation in /etc/profile.d, read after
# /etc/profile's conditional: the last setting (027) wins for root and users.
base_centos "$work/umask-profile-d-027"
printf '# CIS 5.4.4\numask 027\n' > "$work/umask-profile-d-027/etc/profile.d/zz-hardening.sh"
printf 'export LANG=C\n' > "$work/umask-profile-d-027/etc/profile.d/lang.sh"
image umask-profile-d-027 0e1a5c00-0000-4000-8000-000000000003

# umask-rhel-conditional: CentOS 7 as installed: UMASK 077 in login.defs is overridden by
# /etc/profile's conditional (root 022, private-group users 002); /etc/bashrc's copy applies to
# non-login shells only.
base_centos "$work/umask-rhel-conditional"
image umask-rhel-conditional 0e1a5c00-0000-4000-8000-000000000004

# umask-pam-077: Debian with pam_umask umask=077 in common-session, which sshd and login
# include: sessions start with 077 whatever login.defs says.
base_debian "$work/umask-pam-077"
printf 'session\trequired\tpam_unix.so\nsession\toptional\tpam_umask.so umask=077\n' \
  > "$work/umask-pam-077/etc/pam.d/common-session"
image umask-pam-077 0e1a5c00-0000-4000-8000-000000000005

# umask-variable: CentOS 7 with a profile.d script whose umask comes from a variable: the
# umask cannot be decided offline.
base_centos "$work/umask-variable"
printf 'SITE_UMASK=027\numask $SITE_UMASK\n' > "$work/umask-variable/etc/profile.d/mask.sh"
image umask-variable 0e1a5c00-0000-4000-8000-000000000006

rm -rf "$work"
