# Small Linux guests for the cloudify-agent profile, one per verdict worth an end-to-end test:
# synthetic CentOS roots (release files, fstab, passwd/group, /usr/bin/bash copied from this
# machine), a base interpreter (/usr/bin/true copied as /usr/bin/pythonX.Y: any small ELF does,
# nothing is run) with its standard library directory and patchlevel.h, and an agent virtualenv
# laid out as virtualenv before 20 makes it for the agent packager and as Cloudify 3.3's installer
# extracts it (~centos/AGENT_NAME/env): bin/python linking to the base interpreter, bin/activate,
# lib/python2.7/orig-prefix.txt, lib/python2.7/os.py linked into the base library, and
# cloudify_agent (with included_plugins.py) and the plugins' metadata in site-packages.
# ext4 on the whole disk written by mke2fs -d, qcow2 of about 2 MB each. No appliance; seconds.
#   cloudify-ok.qcow2               CentOS 7, agent on Python 2.7.5, both plugins: all pass
#   cloudify-none.qcow2             CentOS 7 with Python but no agent: present fails, the others
#                                   skip
#   cloudify-dangling.qcow2         CentOS 7 whose python2.7 was removed after the agent was
#                                   made: bin/python dangles, python fails
#   cloudify-python26.qcow2         CentOS 6, agent made with its Python 2.6.6: python fails
#                                   (2.6 is not in the default python_versions)
#   cloudify-plugin-missing.qcow2   CentOS 7, cloudify-diamond-plugin listed but not installed:
#                                   plugins fails
#   cloudify-plugins-computed.qcow2 CentOS 7, included_plugins.py builds its list at run time:
#                                   plugins errors (the file is read, never run)
source ./lib.sh
out=$1
work=$(mktemp -d "$out/work.XXXXXX")
agent=home/centos/vm_3f2a1c/env

# base_centos DIR MAJOR: a CentOS 7 (or 6) root without Python.
base_centos() {
  local r=$1 major=$2
  mkdir -p "$r"/{etc,usr/bin,usr/lib,usr/lib64,usr/include,root,home/centos,tmp}
  ln -s usr/bin "$r/bin"
  ln -s usr/lib "$r/lib"
  ln -s usr/lib64 "$r/lib64"
  cp /usr/bin/bash "$r/usr/bin/bash"
  if [ "$major" = 7 ]; then
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
    printf 'centos7\n' > "$r/etc/hostname"
  else
    # CentOS 6 has no os-release; the host name is in /etc/sysconfig/network.
    echo 'CentOS release 6.10 (Final)' > "$r/etc/centos-release"
    mkdir -p "$r/etc/sysconfig"
    printf 'NETWORKING=yes\nHOSTNAME=centos6\n' > "$r/etc/sysconfig/network"
  fi
  ln -s centos-release "$r/etc/redhat-release"
  ln -s centos-release "$r/etc/system-release"
  printf '127.0.0.1   localhost\n' > "$r/etc/hosts"
  printf 'LABEL=root  /  ext4  defaults  0  1\n' > "$r/etc/fstab"
  printf 'root:x:0:0:root:/root:/bin/bash\ncentos:x:1000:1000::/home/centos:/bin/bash\n' \
    > "$r/etc/passwd"
  printf 'root:x:0:\ncentos:x:1000:\n' > "$r/etc/group"
  chmod 0700 "$r/root"
  chmod 1777 "$r/tmp"
}

# base_python DIR X.Y PATCH: the distribution's interpreter /usr/bin/pythonX.Y (python2 and python
# linking to it), its library /usr/lib64/pythonX.Y and its headers' patchlevel.h.
base_python() {
  local r=$1 v=$2 patch=$3
  cp /usr/bin/true "$r/usr/bin/python$v"
  ln -s "python$v" "$r/usr/bin/python2"
  ln -s python2 "$r/usr/bin/python"
  mkdir -p "$r/usr/lib64/python$v/lib-dynload" "$r/usr/lib64/python$v/site-packages" \
    "$r/usr/include/python$v"
  printf '"""OS routines for NT or Posix depending on what system we'"'"'re on."""\n' \
    > "$r/usr/lib64/python$v/os.py"
  printf '"""Append module search paths for third-party packages to sys.path."""\n' \
    > "$r/usr/lib64/python$v/site.py"
  cat > "$r/usr/include/python$v/patchlevel.h" <<EOF
/* Version as a string */
#define PY_MAJOR_VERSION	${v%%.*}
#define PY_MINOR_VERSION	${v#*.}
#define PY_VERSION      	"$patch"
EOF
}

# agent_venv DIR X.Y: the agent's virtualenv at DIR/$agent as virtualenv before 20 leaves it
# (except that bin/python is a symbolic link to the base interpreter rather than a copy of it),
# with cloudify-agent 3.3's included_plugins.py and both listed plugins installed.
agent_venv() {
  local r=$1 v=$2 e=$1/$agent
  local lib=$e/lib/python$v site=$e/lib/python$v/site-packages
  mkdir -p "$e/bin" "$site/cloudify_agent" "$e/include"
  ln -s "/usr/bin/python$v" "$e/bin/python"
  ln -s python "$e/bin/python2"
  ln -s python "$e/bin/python$v"
  cat > "$e/bin/activate" <<EOF
# This file must be used with "source bin/activate" *from bash*
VIRTUAL_ENV="/$agent"
export VIRTUAL_ENV
PATH="\$VIRTUAL_ENV/bin:\$PATH"
export PATH
EOF
  printf '#!/%s/bin/python\nimport sys\nfrom pip import main\nsys.exit(main())\n' "$agent" \
    > "$e/bin/pip"
  chmod 0755 "$e/bin/pip"
  ln -s lib "$e/lib64"
  echo /usr > "$lib/orig-prefix.txt"
  ln -s "/usr/lib64/python$v/os.py" "$lib/os.py"
  ln -s "/usr/lib64/python$v/lib-dynload" "$lib/lib-dynload"
  ln -s "/usr/include/python$v" "$e/include/python$v"
  printf '"""virtualenv'"'"'s own site.py"""\n' > "$lib/site.py"
  touch "$lib/no-global-site-packages.txt"
  printf '# cloudify-agent 3.3\n' > "$site/cloudify_agent/__init__.py"
  cat > "$site/cloudify_agent/included_plugins.py" <<'EOF'
#########
# Copyright (c) 2015 GigaSpaces Technologies Ltd. All rights reserved
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.

included_plugins = [
    'cloudify-script-plugin',
    'cloudify-diamond-plugin'
]
EOF
  mkdir -p "$site/cloudify_agent-3.3-py$v.egg-info" \
    "$site/cloudify_script_plugin-1.3-py$v.egg-info" \
    "$site/cloudify_diamond_plugin-1.3.dist-info"
  printf 'Metadata-Version: 1.0\nName: cloudify-agent\nVersion: 3.3\n' \
    > "$site/cloudify_agent-3.3-py$v.egg-info/PKG-INFO"
  printf 'Metadata-Version: 1.0\nName: cloudify-script-plugin\nVersion: 1.3\n' \
    > "$site/cloudify_script_plugin-1.3-py$v.egg-info/PKG-INFO"
  printf 'Metadata-Version: 2.0\nName: cloudify-diamond-plugin\nVersion: 1.3\n' \
    > "$site/cloudify_diamond_plugin-1.3.dist-info/METADATA"
  chown -R 1000:1000 "$r/home/centos"
}

# image NAME UUID: $work/NAME as an ext4 filesystem on the whole disk, as qcow2.
image() {
  local name=$1 uuid=$2 r=$work/$1
  mkext ext4 "$r" "$work/$name.raw" "$(size_mib "$r")" "$uuid" root -b 1024 -J size=1
  qemu-img convert -f raw -O qcow2 "$work/$name.raw" "$out/$name.qcow2"
  rm -f "$work/$name.raw"
}

# cloudify-ok: CentOS 7 with python 2.7.5 and a complete agent whose two listed plugins are
# installed (one as egg-info, one as dist-info).
base_centos "$work/cloudify-ok" 7
base_python "$work/cloudify-ok" 2.7 2.7.5
agent_venv "$work/cloudify-ok" 2.7
image cloudify-ok 0c1d0f00-0000-4000-8000-000000000001

# cloudify-none: the same OS and Python, no agent anywhere the default agent_dir looks.
base_centos "$work/cloudify-none" 7
base_python "$work/cloudify-none" 2.7 2.7.5
mkdir -p "$work/cloudify-none/home/centos/projects"
image cloudify-none 0c1d0f00-0000-4000-8000-000000000002

# cloudify-dangling: the agent was made with /usr/bin/python2.7, then the interpreter (binary,
# library, headers) was removed: bin/python and lib/python2.7/os.py point at nothing.
base_centos "$work/cloudify-dangling" 7
base_python "$work/cloudify-dangling" 2.7 2.7.5
agent_venv "$work/cloudify-dangling" 2.7
rm -rf "$work/cloudify-dangling/usr/bin/python2.7" "$work/cloudify-dangling/usr/lib64/python2.7" \
  "$work/cloudify-dangling/usr/include/python2.7"
image cloudify-dangling 0c1d0f00-0000-4000-8000-000000000003

# cloudify-python26: CentOS 6 and an agent made with its Python 2.6.6, as Cloudify's CentOS 6
# agents were; 2.6 is not supported by default.
base_centos "$work/cloudify-python26" 6
base_python "$work/cloudify-python26" 2.6 2.6.6
agent_venv "$work/cloudify-python26" 2.6
image cloudify-python26 0c1d0f00-0000-4000-8000-000000000004

# cloudify-plugin-missing: included_plugins.py lists cloudify-diamond-plugin, whose dist-info is
# gone (uninstalled after packaging).
base_centos "$work/cloudify-plugin-missing" 7
base_python "$work/cloudify-plugin-missing" 2.7 2.7.5
agent_venv "$work/cloudify-plugin-missing" 2.7
rm -rf "$work/cloudify-plugin-missing/$agent/lib/python2.7/site-packages/cloudify_diamond_plugin-1.3.dist-info"
image cloudify-plugin-missing 0c1d0f00-0000-4000-8000-000000000005

# cloudify-plugins-computed: included_plugins.py computes its list from the environment, which
# only running the file would tell.
base_centos "$work/cloudify-plugins-computed" 7
base_python "$work/cloudify-plugins-computed" 2.7 2.7.5
agent_venv "$work/cloudify-plugins-computed" 2.7
cat > "$work/cloudify-plugins-computed/$agent/lib/python2.7/site-packages/cloudify_agent/included_plugins.py" <<'EOF'
import os

included_plugins = os.environ.get('CLOUDIFY_PLUGINS', 'cloudify-script-plugin').split(',')
EOF
image cloudify-plugins-computed 0c1d0f00-0000-4000-8000-000000000006

rm -rf "$work"
