//! Shell startup files as distributions ship them, for the umask tests of the sysconf parsers
//! and the rules (one copy, so the parser's tests and the baselines against the real shells
//! read the same texts).

/// RHEL/CentOS 7 `/etc/profile` (package `setup`), trimmed to what sets the umask and what
/// runs around it.
pub const RHEL_PROFILE: &str = r#"# /etc/profile
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
fi

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
"#;

/// RHEL/CentOS 7 `/etc/bashrc`, the part that sets the umask.
pub const RHEL_BASHRC: &str = r#"# /etc/bashrc
if [ "$PS1" ]; then
  shopt -s histappend
fi

if ! shopt -q login_shell ; then # We're not a login shell
if [ $UID -gt 199 ] && [ "`/usr/bin/id -gn`" = "`/usr/bin/id -un`" ]; then
   umask 002
else
   umask 022
fi
fi
"#;

/// `/root/.bash_profile` and `/etc/skel/.bash_profile` of RHEL/CentOS 7 (the part that reads
/// `.bashrc`).
pub const ROOT_BASH_PROFILE: &str = "if [ -f ~/.bashrc ]; then\n\t. ~/.bashrc\nfi\n";

/// `/root/.bashrc` and `/etc/skel/.bashrc` of RHEL/CentOS 7 (the part that reads `/etc/bashrc`).
pub const ROOT_BASHRC: &str = "if [ -f /etc/bashrc ]; then\n\t. /etc/bashrc\nfi\n";

/// RHEL/CentOS 7 `/etc/csh.cshrc`, the part that sets the umask and reads `profile.d`.
pub const RHEL_CSHRC: &str = "if ($uid > 199 && \"`/usr/bin/id -gn`\" == \"`/usr/bin/id -un`\") then\n    umask 002\nelse\n    umask 022\nendif\nif ( -d /etc/profile.d ) then\n  set nonomatch\n  foreach i ( /etc/profile.d/*.csh )\n    if ( -r \"$i\" ) then\n        source \"$i\"\n    endif\n  end\n  unset i nonomatch\nendif\n";
