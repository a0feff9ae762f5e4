# The raw disks of the Windows look-alike fixtures (windows-2008r2, windows-2012r2, windows-2016,
# windows-2016-noipv6), made in one libguestfs appliance session, and the shell helpers those
# fixtures share. Not an image itself: each fixture converts its disk and records virt-inspector's
# view of it.
#
# No real Windows: each disk holds NTFS volumes written by ntfs-3g with the tree Windows has
# (Windows/System32 with cmd.exe as a minimal PE32+ executable, so libguestfs's `file` check says
# x86_64, SysWOW64 with a PE32 one, Program Files, Users, ...) and registry hives grown from
# tests/data/hives/minimal with `hivexregedit --merge`, holding what inspection and the rules
# read: SOFTWARE\Microsoft\Windows NT\CurrentVersion, Uninstall keys in the native and
# WOW6432Node views, SYSTEM\Select, control sets (ControlSet002 is a stale last-known-good set
# with another host name and fewer services, so reading the wrong set shows), Tcpip host names,
# services (kernel and file system drivers, own-process and shared-process Win32 services, one
# interactive, one with no Type), and MountedDevices naming the partitions the disk really has
# (MBR: disk signature + byte offset, a logical partition included; GPT: "DMIO:ID:" + partition
# GUID), plus entries libguestfs must skip (volume GUID names, a CD-ROM's device-path blob,
# letters of disks no longer attached).
#
# Registry details real hives have and readers must take: a string with bytes after its
# terminating NUL, value names in unusual case, a REG_EXPAND_SZ DisplayName, an Uninstall key
# without DisplayName and one with an empty DisplayName, a non-ASCII string, and (win2016-like
# SOFTWARE) a hive not cleanly closed: primary and secondary sequence numbers differ.
#
# Outputs in OUT, for each NAME in win2008r2-like win2012r2-like win2016-like win2016-noipv6:
#   NAME.raw            the sparse raw disk
#   NAME.SOFTWARE.reg   `hivexregedit --export` of its SOFTWARE hive (strings as UTF-16LE hex)
#   NAME.SYSTEM.reg     the same for SYSTEM
#   NAME.tree           every path of its C: volume as written (d/f, size, path)
#   helpers.sh          windows_reference, used by the image fixtures
#   guestfish.log       what the appliance printed
#
# Deterministic inputs: MBR disk signatures, GPT disk and partition GUIDs, FAT volume id, NTFS
# volume serials (patched into both boot sectors after mkntfs), hive contents, file contents and
# times. ntfs-3g's own metadata (MFT record times, security ids) is not byte-reproducible.
. ./lib.sh
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The project's reference hive (tests/data/README.md says where it comes from).
minimal=$(cd .. && pwd)/tests/data/hives/minimal

# ---------------------------------------------------------------------------------------------
# Executables: a minimal valid PE image (one .text section returning 0), which `file` calls
# "PE32+ executable (console) x86-64" or "PE32 executable (console) Intel 80386".

# le N BYTES: the number N as BYTES little-endian bytes on stdout.
le() {
  local -
  set +x
  local n=$1 bytes=$2 i s=""
  for ((i = 0; i < bytes; i++)); do s+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
  printf "$s"
}
zeros() { head -c "$1" /dev/zero; }

# pe_exe FILE ARCH: a 1 KiB PE executable for x86_64 (PE32+) or i386 (PE32).
pe_exe() {
  local f=$1 arch=$2 machine optsize chars magic
  case $arch in
    x86_64) machine=0x8664 optsize=240 chars=0x0022 magic=0x20b ;;
    i386) machine=0x014c optsize=224 chars=0x0102 magic=0x10b ;;
    *) echo "pe_exe: unknown arch $arch" >&2; return 1 ;;
  esac
  mkdir -p "$(dirname "$f")"
  {
    # DOS header (e_lfarlc 0x40: a PE, e_lfanew 0x80) and DOS stub.
    printf 'MZ'; le 0x90 2; le 3 2; le 0 2; le 4 2; le 0 2; le 0xffff 2; le 0 2
    le 0xb8 2; le 0 2; le 0 2; le 0 2; le 0x40 2; le 0 2
    zeros 32; le 0x80 4
    printf '\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21'
    printf 'This program cannot be run in DOS mode.\r\r\n$'
    zeros 7
    # COFF header: one section.
    printf 'PE\0\0'; le $machine 2; le 1 2; le "$SOURCE_DATE_EPOCH" 4; le 0 4; le 0 4
    le $optsize 2; le $chars 2
    # Optional header: entry point and code at RVA 0x1000, console subsystem, 16 empty
    # data directories.
    le $magic 2; printf '\x0e\x00'; le 0x200 4; le 0 4; le 0 4; le 0x1000 4; le 0x1000 4
    if [ "$arch" = x86_64 ]; then le 0x140000000 8; else le 0x1000 4; le 0x400000 4; fi
    le 0x1000 4; le 0x200 4; le 6 2; le 0 2; le 0 2; le 0 2; le 6 2; le 0 2; le 0 4
    le 0x2000 4; le 0x200 4; le 0 4; le 3 2; le 0x8140 2
    if [ "$arch" = x86_64 ]; then
      le 0x100000 8; le 0x1000 8; le 0x100000 8; le 0x1000 8
    else
      le 0x100000 4; le 0x1000 4; le 0x100000 4; le 0x1000 4
    fi
    le 0 4; le 16 4; zeros 128
    # Section header: .text, code, readable, executable.
    printf '.text\0\0\0'; le 0x10 4; le 0x1000 4; le 0x200 4; le 0x200 4; le 0 4; le 0 4
    le 0 2; le 0 2; le 0x60000020 4
  } > "$f"
  truncate -s 512 "$f"
  { printf '\x31\xc0\xc3'; zeros 509; } >> "$f"
}

# ---------------------------------------------------------------------------------------------
# Registry files for `hivexregedit --merge`. Strings are written as hex(1)/hex(2)/hex(7)
# UTF-16LE bytes (hivexregedit would take a quoted string's UTF-8 bytes as Latin-1). `key` writes
# every missing parent key first, as hivexregedit needs parents before children.

declare -A reg_seen=()
reg_prefix=""
reg_file=""

# reg_begin FILE PREFIX: start a .reg file for keys below PREFIX (HKEY_LOCAL_MACHINE\SOFTWARE).
reg_begin() {
  reg_file=$1 reg_prefix=$2
  reg_seen=()
  printf 'Windows Registry Editor Version 5.00\n' > "$reg_file"
}

# key PATH: the key PATH (below the prefix) and its parents, then its values follow.
key() {
  local path=$1 parent=${1%\\*}
  if [ "$parent" != "$path" ] && [ -z "${reg_seen[$parent]:-}" ]; then key "$parent"; fi
  reg_seen[$path]=1
  printf '\n[%s\\%s]\n' "$reg_prefix" "$path" >> "$reg_file"
}

# hexbytes: stdin as comma-separated hex bytes.
hexbytes() { od -An -v -tx1 | tr -s ' \n' ',,' | sed 's/^,//; s/,$//'; }
utf16() { printf '%s\0' "$1" | iconv -f UTF-8 -t UTF-16LE; }

# vname NAME: a value name as .reg files quote it (backslashes and quotes escaped).
vname() { local n=${1//\\/\\\\}; printf '"%s"' "${n//\"/\\\"}"; }
sz() { printf '%s=hex(1):%s\n' "$(vname "$1")" "$(utf16 "$2" | hexbytes)" >> "$reg_file"; }
expand_sz() { printf '%s=hex(2):%s\n' "$(vname "$1")" "$(utf16 "$2" | hexbytes)" >> "$reg_file"; }
dword() { printf '%s=dword:%08x\n' "$(vname "$1")" "$2" >> "$reg_file"; }
binary() { printf '%s=hex:%s\n' "$(vname "$1")" "$2" >> "$reg_file"; }
multi_sz() {
  local name=$1 s
  shift
  printf '%s=hex(7):%s\n' "$(vname "$name")" \
    "$({ for s in "$@"; do utf16 "$s"; done; printf '\0\0'; } | hexbytes)" >> "$reg_file"
}

# mbr_blob SIGNATURE OFFSET: a MountedDevices value for an MBR partition: the disk signature and
# the partition's byte offset, both little-endian.
mbr_blob() { { le "$1" 4; le "$2" 8; } | hexbytes; }

# gpt_blob GUID: "DMIO:ID:" and the partition GUID, its first three fields little-endian.
gpt_blob() {
  local g=${1//-/}
  {
    printf 'DMIO:ID:'
    le $((16#${g:0:8})) 4; le $((16#${g:8:4})) 2; le $((16#${g:12:4})) 2
    printf "$(echo "${g:16:16}" | sed 's/../\\x&/g')"
  } | hexbytes
}

# service NAME TYPE START DISPLAYNAME IMAGEPATH: a Services key (ImagePath as REG_EXPAND_SZ, as
# Windows stores it; left out when empty).
service() {
  key "$ccs\\Services\\$1"
  dword Type "$2"
  dword Start "$3"
  dword ErrorControl 1
  [ -n "$4" ] && sz DisplayName "$4"
  [ -n "$5" ] && expand_sz ImagePath "$5"
  return 0
}

# uninstall VIEW KEY DISPLAYNAME VERSION PUBLISHER LOCATION URL COMMENTS: an Add/Remove
# Programs entry; VIEW is native or wow64; empty fields are left out.
uninstall() {
  local base='Microsoft\Windows\CurrentVersion\Uninstall'
  [ "$1" = wow64 ] && base="Wow6432Node\\$base"
  key "$base\\$2"
  [ -n "$3" ] && sz DisplayName "$3"
  [ -n "$4" ] && sz DisplayVersion "$4"
  [ -n "$5" ] && sz Publisher "$5"
  [ -n "$6" ] && sz InstallLocation "$6"
  [ -n "$7" ] && sz URLInfoAbout "$7"
  [ -n "$8" ] && sz Comments "$8"
  return 0
}

pf='C:\Program Files'
rax="$pf\\Rackspace\\Cloud Servers"
# cbi_dir NAME: where image NAME has cloudbase-init (the 32-bit installer on win2016-like).
cbi_dir() {
  case $1 in
    win2016-like) echo 'Program Files (x86)' ;;
    *) echo 'Program Files' ;;
  esac
}

# software_reg NAME: the SOFTWARE hive's contents for image NAME.
software_reg() {
  local name=$1 cbi
  cbi="C:\\$(cbi_dir "$name")\\Cloudbase Solutions\\Cloudbase-Init"
  reg_begin "$work/$name.SOFTWARE.in.reg" 'HKEY_LOCAL_MACHINE\SOFTWARE'
  key 'Microsoft\Windows NT\CurrentVersion'
  sz SystemRoot 'C:\Windows'
  sz PathName 'C:\Windows'
  sz InstallationType Server
  sz RegisteredOwner Administrator
  sz SoftwareType System
  case $name in
    win2008r2-like)
      sz ProductName 'Windows Server 2008 R2 Standard'
      sz EditionID ServerStandard
      sz CurrentVersion 6.1
      sz CurrentBuild 7601
      sz CurrentBuildNumber 7601
      sz CSDVersion 'Service Pack 1'
      sz BuildLab '7601.win7sp1_gdr.130828-1532' ;;
    win2012r2-like)
      sz ProductName 'Windows Server 2012 R2 Datacenter'
      sz EditionID ServerDatacenter
      sz CurrentVersion 6.3
      sz CurrentBuild 9600
      sz CurrentBuildNumber 9600
      sz BuildLab '9600.winblue_r9.150322-1500' ;;
    win2016-like | win2016-noipv6)
      sz ProductName 'Windows Server 2016 Standard'
      sz EditionID ServerStandard
      # Windows 10 and 2016 keep "6.3" here for old programs; the real version is in the
      # two DWORDs.
      sz CurrentVersion 6.3
      sz CurrentBuild 14393
      sz CurrentBuildNumber 14393
      dword CurrentMajorVersionNumber 10
      dword CurrentMinorVersionNumber 0
      sz ReleaseId 1607
      sz BuildLab '14393.rs1_release.180329-1711' ;;
  esac
  key 'Microsoft\Windows\CurrentVersion'
  sz ProgramFilesDir "$pf"
  sz CommonFilesDir "$pf\\Common Files"
  sz 'ProgramFilesDir (x86)' 'C:\Program Files (x86)'
  key 'Wow6432Node\Microsoft\Windows\CurrentVersion'
  sz ProgramFilesDir 'C:\Program Files (x86)'

  # Entries every image has. "Connection Manager" has no DisplayName (a system component
  # Windows hides); "{00000000-EMPTY}" has an empty one (listed, without display_name).
  key 'Microsoft\Windows\CurrentVersion\Uninstall\Connection Manager'
  dword SystemComponent 1
  expand_sz UninstallString 'C:\Windows\system32\cmstp.exe /u'
  uninstall native '{5FCE6D76-F5DC-37AB-B2B8-22AB8CEDB1D4}' \
    'Microsoft Visual C++ 2008 Redistributable - x64 9.0.30729.6161' 9.0.30729.6161 \
    'Microsoft Corporation' '' '' ''
  key 'Microsoft\Windows\CurrentVersion\Uninstall\{5FCE6D76-F5DC-37AB-B2B8-22AB8CEDB1D4}'
  dword VersionMajor 9
  dword VersionMinor 0
  uninstall native 7-Zip '7-Zip 16.04 (x64)' 16.04 'Igor Pavlov' 'C:\Program Files\7-Zip\' \
    'http://www.7-zip.org/' ''
  uninstall wow64 '{9BE518E6-ECC6-35A9-88E4-87755C07200F}' \
    'Microsoft Visual C++ 2008 Redistributable - x86 9.0.30729.6161' 9.0.30729.6161 \
    'Microsoft Corporation' '' '' ''
  uninstall wow64 'VLC media player' 'VLC media player' '' VideoLAN \
    'C:\Program Files (x86)\VideoLAN\VLC' 'http://www.videolan.org/' \
    'Lecteur multimédia VLC'
  # A string value with bytes after its terminating NUL (an installer that shortened it in
  # place): readers stop at the NUL.
  printf '%s=hex(1):%s\n' "$(vname DisplayVersion)" \
    "$({ utf16 2.2.8; utf16 2.1.0-old; } | hexbytes)" >> "$reg_file"
  # Value names in another case (hand-written NSIS scripts do this): looked up without case.
  key 'Microsoft\Windows\CurrentVersion\Uninstall\Notepad++'
  sz displayname 'Notepad++ (64-bit x64)'
  sz displayversion 7.5.9
  sz PUBLISHER 'Notepad++ Team'
  sz installlocation 'C:\Program Files\Notepad++'
  # A DisplayName stored as REG_EXPAND_SZ.
  key 'Microsoft\Windows\CurrentVersion\Uninstall\B8C1E0F4B1C6E2A3D5F7A9C0E1D2B3A4F5E6D7C8'
  expand_sz DisplayName 'Windows Driver Package - Red Hat, Inc. (netkvm) Net  (08/01/2017 62.74.104.14100)'
  sz DisplayVersion '08/01/2017 62.74.104.14100'
  sz Publisher 'Red Hat, Inc.'
  uninstall wow64 '{00000000-EMPTY}' '' '' '' '' '' ''
  key 'Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall\{00000000-EMPTY}'
  sz DisplayName ''
  sz Publisher 'Nobody'

  case $name in
    win2008r2-like)
      uninstall wow64 'Mozilla Firefox 52.9.0 ESR (x86 en-US)' \
        'Mozilla Firefox 52.9.0 ESR (x86 en-US)' 52.9.0 Mozilla \
        'C:\Program Files (x86)\Mozilla Firefox' 'https://www.mozilla.org' \
        'Mozilla Firefox 52.9.0 ESR (x86 en-US)' ;;
    win2012r2-like)
      uninstall native '{3E3C6F11-5F5D-4B36-9B5A-6D2C1E4B7A01}' 'Cloudbase-Init 1.1.2' 1.1.2 \
        'Cloudbase Solutions Srl' "$cbi\\" 'https://cloudbase.it/' '' ;;
    win2016-like)
      uninstall wow64 '{6A2B7C4D-1E3F-4A5B-8C9D-0E1F2A3B4C5D}' 'Cloudbase-Init 0.9.11' 0.9.11 \
        'Cloudbase Solutions Srl' "$cbi\\" 'https://cloudbase.it/' '' ;;
    win2016-noipv6)
      uninstall native '{3E3C6F11-5F5D-4B36-9B5A-6D2C1E4B7A01}' 'Cloudbase-Init 1.1.2' 1.1.2 \
        'Cloudbase Solutions Srl' "$cbi\\" 'https://cloudbase.it/' '' ;;
  esac
  case $name in
    win2016-like)
      # Set for golden images: the agent reruns bootstrap.cmd at the next boot.
      key Rackspace
      sz cloud-automation-run True ;;
    win2016-noipv6)
      key Rackspace ;;
  esac
}

# system_reg NAME: the SYSTEM hive's contents for image NAME.
system_reg() {
  local name=$1 host old cbi
  cbi="C:\\$(cbi_dir "$name")\\Cloudbase Solutions\\Cloudbase-Init"
  reg_begin "$work/$name.SYSTEM.in.reg" 'HKEY_LOCAL_MACHINE\SYSTEM'
  case $name in
    win2008r2-like) host=W2K8R2-GOLD ;;
    win2012r2-like) host=W2K12R2-CBI ;;
    win2016-like) host=RAX-W2K16 ;;
    win2016-noipv6) host=RAX-W2K16-NO6 ;;
  esac
  key Select
  dword Current 1
  dword Default 1
  dword Failed 0
  dword LastKnownGood 2

  key MountedDevices
  case $name in
    win2008r2-like)
      binary '\DosDevices\C:' "$(mbr_blob 0x7a2b8c01 $((206848 * 512)))"
      # The data volume, a logical partition: its absolute byte offset.
      binary '\DosDevices\D:' "$(mbr_blob 0x7a2b8c01 $((618496 * 512)))"
      binary '\??\Volume{6d1c5e3a-0b1e-11e4-80b4-806e6f6e6963}' "$(mbr_blob 0x7a2b8c01 $((2048 * 512)))"
      binary '\??\Volume{6d1c5e3b-0b1e-11e4-80b4-806e6f6e6963}' "$(mbr_blob 0x7a2b8c01 $((206848 * 512)))" ;;
    win2012r2-like)
      binary '\DosDevices\C:' "$(gpt_blob 3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e03)"
      binary '\DosDevices\E:' "$(gpt_blob 3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e04)"
      # A disk no longer attached.
      binary '\DosDevices\G:' "$(gpt_blob 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a)"
      binary '\??\Volume{3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e03}' "$(gpt_blob 3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e03)"
      binary '\??\Volume{3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e01}' "$(gpt_blob 3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e01)" ;;
    win2016-like)
      binary '\DosDevices\C:' "$(mbr_blob 0x4d2e1f60 $((2048 * 512)))"
      # A disk no longer attached.
      binary '\DosDevices\F:' "$(mbr_blob 0x0badf00d $((2048 * 512)))" ;;
    win2016-noipv6)
      binary '\DosDevices\C:' "$(mbr_blob 0x4d2e1f61 $((2048 * 512)))" ;;
  esac
  # The CD-ROM: a device path, not a partition.
  local cd=D
  [ "$name" = win2008r2-like ] && cd=E
  binary "\\DosDevices\\$cd:" "$(utf16 '\??\IDE#CdRomQEMU_QEMU_DVD-ROM_____________________2.5+____#5&3a2b1c0d&0&1.0.0#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}' | head -c -2 | hexbytes)"

  local set
  for set in 1 2; do
    ccs=$(printf 'ControlSet%03d' $set)
    key "$ccs\\Control\\ComputerName\\ComputerName"
    if [ $set = 1 ]; then old=$host; else old=WIN-OLDNAME; fi
    sz ComputerName "$old"
    # Windows 8 / 2012 and later really spell Tcpip's display name this way.
    service Tcpip 1 0 '@todo.dll,-100;TCP/IP Protocol Driver' 'System32\drivers\tcpip.sys'
    key "$ccs\\Services\\Tcpip\\Parameters"
    sz Hostname "$old"
    sz 'NV Hostname' "$old"
    sz Domain ''
    service Dhcp 0x20 2 'DHCP Client' '%SystemRoot%\system32\svchost.exe -k LocalServiceNetworkRestricted'
    service EventLog 0x20 2 'Windows Event Log' '%SystemRoot%\System32\svchost.exe -k LocalServiceNetworkRestricted'
    [ $set = 2 ] && continue
    service disk 1 0 'Disk Driver' 'System32\drivers\disk.sys'
    service volsnap 1 0 'Storage volumes' 'System32\drivers\volsnap.sys'
    service Ntfs 2 3 Ntfs ''
    service Tcpip6 1 0 'Microsoft IPv6 Protocol Driver' 'System32\drivers\tcpip.sys'
    service W32Time 0x20 3 'Windows Time' '%SystemRoot%\system32\svchost.exe -k LocalService'
    service WinRM 0x20 2 'Windows Remote Management (WS-Management)' '%SystemRoot%\System32\svchost.exe -k NetworkService'
    service TrustedInstaller 0x10 3 'Windows Modules Installer' '%SystemRoot%\servicing\TrustedInstaller.exe'
    service Spooler 0x110 2 'Print Spooler' '%SystemRoot%\System32\spoolsv.exe'
    service RemoteAccess 0x20 4 'Routing and Remote Access' '%SystemRoot%\System32\svchost.exe -k netsvcs'
    # A leftover key without Type: neither a driver nor a service.
    key "$ccs\\Services\\.NET CLR Data"
    key "$ccs\\Services\\.NET CLR Data\\Performance"
    sz Library netfxperf.dll
    case $name in
      win2008r2-like)
        # Windows 2008 R2 keeps the indirect string form for some display names.
        service lanmanserver 0x20 2 '@%systemroot%\system32\srvsvc.dll,-100' '%SystemRoot%\system32\svchost.exe -k netsvcs'
        # All bits set: Windows treats it as 0xff (IPv6 off).
        key "$ccs\\Services\\Tcpip6\\Parameters"
        dword DisabledComponents 0xffffffff ;;
      win2012r2-like)
        service cloudbase-init 0x10 2 Cloudbase-Init \
          "\"$cbi\\bin\\OpenStackService.exe\" cloudbase-init \"$cbi\\Python\\Scripts\\cloudbase-init.exe\" --config-file \"$cbi\\conf\\cloudbase-init.conf\""
        key "$ccs\\Services\\cloudbase-init"
        sz ObjectName '.\cloudbase-init'
        service AgentService 0x10 2 AgentService '"C:\Program Files\osmosix\agent\AgentService.exe"'
        service CliQrStartupService 0x10 2 CliQrStartupService '"C:\Program Files\osmosix\services\CliQrStartupService.exe"' ;;
      win2016-like | win2016-noipv6)
        service RackspaceCloudServersAgent 0x10 2 'Rackspace Cloud Servers Agent' \
          "\"$rax\\Agent\\Rackspace.Cloud.Server.Agent.Service.exe\""
        service RackspaceCloudServersAgentUpdater 0x10 2 'Rackspace Cloud Servers Agent Updater' \
          "\"$rax\\AgentUpdater\\Rackspace.Cloud.Server.Agent.UpdaterService.exe\""
        ;;
    esac
    if [ $name = win2016-like ] || [ $name = win2016-noipv6 ]; then
      service cloudbase-init 0x10 2 Cloudbase-Init \
        "\"$cbi\\bin\\OpenStackService.exe\" cloudbase-init \"$cbi\\Python\\Scripts\\cloudbase-init.exe\" --config-file \"$cbi\\conf\\cloudbase-init.conf\""
    fi
    if [ $name = win2016-noipv6 ]; then
      key "$ccs\\Services\\Tcpip6\\Parameters"
      dword DisabledComponents 0xff
    fi
    if [ $name = win2016-like ]; then
      # Only the prefer-IPv4 bit (0x20): IPv6 stays enabled.
      key "$ccs\\Services\\Tcpip6\\Parameters"
      dword DisabledComponents 0x20
    fi
  done
}

# dirty_hive FILE: the hive's primary sequence number one above the secondary, with the base
# block checksum (XOR of its first 127 little-endian words) recomputed.
dirty_hive() {
  local f=$1 seq sum=0 w
  seq=$(od -An -t u4 -j 4 -N 4 "$f" | tr -d ' ')
  le $((seq + 1)) 4 | dd of="$f" bs=1 seek=4 conv=notrunc status=none
  for w in $(od -An -v -t u4 -N 508 "$f"); do sum=$((sum ^ w)); done
  le "$sum" 4 | dd of="$f" bs=1 seek=508 conv=notrunc status=none
}

# hive NAME KIND: the hive KIND (SOFTWARE or SYSTEM) of NAME from the minimal hive, and its export.
hive() {
  local name=$1 kind=$2 f
  f=$work/$name/tree/Windows/System32/config/$kind
  cp "$minimal" "$f"
  chmod 644 "$f"
  hivexregedit --merge --prefix "HKEY_LOCAL_MACHINE\\$kind" "$f" "$work/$name.$kind.in.reg"
  # win2016-like's SOFTWARE as a running system leaves it: primary and secondary sequence
  # numbers differ (changes pending in the transaction logs, which readers ignore).
  if [ "$name/$kind" = win2016-like/SOFTWARE ]; then dirty_hive "$f"; fi
  hivexregedit --export --prefix "HKEY_LOCAL_MACHINE\\$kind" "$f" '\' > "$out/$name.$kind.reg"
}

# ---------------------------------------------------------------------------------------------
# File trees.

crlf() { sed 's/$/\r/'; }

cbi_conf() {
  local plugins=$1 cbi=$2
  cat <<EOF
[DEFAULT]
username=Admin
groups=Administrators
inject_user_password=true
config_drive_raw_hhd=true
config_drive_cdrom=true
config_drive_vfat=true
bsdtar_path=$cbi\\bin\\bsdtar.exe
mtools_path=$cbi\\bin\\
verbose=true
debug=true
logdir=$cbi\\log\\
logfile=cloudbase-init.log
default_log_levels=comtypes=INFO,suds=INFO,iso8601=WARN,requests=WARN
logging_serial_port_settings=COM1,115200,N,8
mtu_use_dhcp_config=true
ntp_use_dhcp_config=true
local_scripts_path=$cbi\\LocalScripts\\
metadata_services=cloudbaseinit.metadata.services.configdrive.ConfigDriveService,cloudbaseinit.metadata.services.httpservice.HttpService
$plugins
check_latest_version=true

[openstack]
# Not the [DEFAULT] section: a plugins line here is not the plugin list.
plugins=cloudbaseinit.plugins.common.userdata.UserDataPlugin
EOF
}

cbi_unattend() {
  local cbi=$1
  cat <<EOF
[DEFAULT]
username=Admin
groups=Administrators
inject_user_password=true
config_drive_raw_hhd=true
config_drive_cdrom=true
config_drive_vfat=true
verbose=true
debug=true
logdir=$cbi\\log\\
logfile=cloudbase-init-unattend.log
metadata_services=cloudbaseinit.metadata.services.configdrive.ConfigDriveService
plugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,cloudbaseinit.plugins.common.sethostname.SetHostNamePlugin,cloudbaseinit.plugins.windows.extendvolumes.ExtendVolumesPlugin
allow_reboot=false
stop_service_on_exit=false
check_latest_version=false
EOF
}

# tree NAME: the C: volume's files of NAME in $work/NAME/tree.
tree() {
  local name=$1 t=$work/$1/tree
  mkdir -p "$t/Windows/System32/config" "$t/Windows/System32/drivers/etc" \
    "$t/Windows/SysWOW64" "$t/Windows/Temp" "$t/Program Files/Common Files" \
    "$t/Program Files (x86)/Common Files" "$t/ProgramData/Microsoft" \
    "$t/Users/Administrator/Desktop" "$t/Users/Public" "$t/System Volume Information" \
    "$t/Program Files/7-Zip"
  pe_exe "$t/Windows/System32/cmd.exe" x86_64
  pe_exe "$t/Windows/SysWOW64/cmd.exe" i386
  pe_exe "$t/Windows/explorer.exe" x86_64
  pe_exe "$t/Program Files/7-Zip/7z.exe" x86_64
  printf '# Copyright (c) 1993-2009 Microsoft Corp.\n127.0.0.1       localhost\n::1             localhost\n' \
    | crlf > "$t/Windows/System32/drivers/etc/hosts"
  for h in SAM SECURITY DEFAULT; do
    cp "$minimal" "$t/Windows/System32/config/$h"
    chmod 644 "$t/Windows/System32/config/$h"
  done
  local cbi_t cbi_w
  cbi_t="$t/$(cbi_dir "$name")/Cloudbase Solutions/Cloudbase-Init"
  cbi_w="C:\\$(cbi_dir "$name")\\Cloudbase Solutions\\Cloudbase-Init"
  case $name in
    win2012r2-like | win2016-like | win2016-noipv6)
      mkdir -p "$cbi_t/"{bin,conf,log,LocalScripts,Python/Scripts}
      pe_exe "$cbi_t/bin/OpenStackService.exe" x86_64
      pe_exe "$cbi_t/Python/python.exe" x86_64
      pe_exe "$cbi_t/Python/Scripts/cloudbase-init.exe" x86_64
      cbi_unattend "$cbi_w" | crlf > "$cbi_t/conf/cloudbase-init-unattend.conf" ;;
  esac
  case $name in
    win2016-like)
      # The installer's file as it is: no plugins option, so the default list (user data
      # included) runs.
      cbi_conf '' "$cbi_w" | grep -v '^$' | crlf > "$cbi_t/conf/cloudbase-init.conf" ;;
    win2012r2-like)
      # The installer's file plus an explicit plugin list that runs user data.
      cbi_conf 'plugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,cloudbaseinit.plugins.windows.ntpclient.NTPClientPlugin,cloudbaseinit.plugins.common.sethostname.SetHostNamePlugin,cloudbaseinit.plugins.windows.createuser.CreateUserPlugin,cloudbaseinit.plugins.common.networkconfig.NetworkConfigPlugin,cloudbaseinit.plugins.windows.licensing.WindowsLicensingPlugin,cloudbaseinit.plugins.common.sshpublickeys.SetUserSSHPublicKeysPlugin,cloudbaseinit.plugins.windows.extendvolumes.ExtendVolumesPlugin,cloudbaseinit.plugins.common.userdata.UserDataPlugin,cloudbaseinit.plugins.common.setuserpassword.SetUserPasswordPlugin,cloudbaseinit.plugins.common.localscripts.LocalScriptsPlugin' "$cbi_w" \
        | crlf > "$cbi_t/conf/cloudbase-init.conf"
      mkdir -p "$t/Program Files/osmosix/agent" "$t/Program Files/osmosix/services"
      pe_exe "$t/Program Files/osmosix/agent/AgentService.exe" x86_64
      pe_exe "$t/Program Files/osmosix/services/CliQrStartupService.exe" x86_64 ;;
    win2016-noipv6)
      # Hardened: user data is not run (no UserDataPlugin in either file).
      cbi_conf 'plugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,cloudbaseinit.plugins.common.sethostname.SetHostNamePlugin,cloudbaseinit.plugins.windows.createuser.CreateUserPlugin,cloudbaseinit.plugins.common.networkconfig.NetworkConfigPlugin,cloudbaseinit.plugins.windows.extendvolumes.ExtendVolumesPlugin,cloudbaseinit.plugins.common.setuserpassword.SetUserPasswordPlugin' "$cbi_w" \
        | crlf > "$cbi_t/conf/cloudbase-init.conf" ;;
  esac
  case $name in
    win2016-like | win2016-noipv6)
      mkdir -p "$t/Program Files/Rackspace/Cloud Servers/Agent" \
        "$t/Program Files/Rackspace/Cloud Servers/AgentUpdater"
      pe_exe "$t/Program Files/Rackspace/Cloud Servers/Agent/Rackspace.Cloud.Server.Agent.Service.exe" x86_64
      pe_exe "$t/Program Files/Rackspace/Cloud Servers/AgentUpdater/Rackspace.Cloud.Server.Agent.UpdaterService.exe" x86_64
      # Single-partition disks boot from C: itself.
      mkdir -p "$t/Boot"
      printf 'bootmgr' > "$t/bootmgr"
      cp "$minimal" "$t/Boot/BCD"
      chmod 644 "$t/Boot/BCD" ;;
  esac
  software_reg "$name"
  system_reg "$name"
  hive "$name" SOFTWARE
  hive "$name" SYSTEM
  (cd "$t" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
    if [ -d "$p" ]; then printf 'd\t0\t%s\n' "${p#.}"; else printf 'f\t%s\t%s\n' "$(stat -c %s "$p")" "${p#.}"; fi
  done) > "$out/$name.tree"
  clamp_times "$t"
  (cd "$t" && tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name -cf "$work/$name.tar" .)
}

for n in win2008r2-like win2012r2-like win2016-like win2016-noipv6; do tree "$n"; done

# The 2008 R2 "System Reserved" volume: boot manager and BCD.
sr=$work/sysres
mkdir -p "$sr/Boot"
printf 'bootmgr' > "$sr/bootmgr"
cp "$minimal" "$sr/Boot/BCD"
chmod 644 "$sr/Boot/BCD"
clamp_times "$sr"
(cd "$sr" && tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name -cf "$work/sysres.tar" .)

# The data volumes (2008 R2 D:, 2012 R2 E:): neither a root nor an applications volume.
dv=$work/data
mkdir -p "$dv/Shares/Public" "$dv/Backups" "$dv/System Volume Information"
printf 'quarterly report\r\n' > "$dv/Shares/Public/report.txt"
clamp_times "$dv"
(cd "$dv" && tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name -cf "$work/data.tar" .)

# ---------------------------------------------------------------------------------------------
# Partition tables, set on the host with fixed identifiers.
d08=$work/win2008r2-like.raw d12=$work/win2012r2-like.raw
d16=$work/win2016-like.raw d16n=$work/win2016-noipv6.raw
# 2008 R2: System Reserved, C:, and D: in a logical partition (sda5) of an extended one.
truncate -s 400M "$d08"
sfdisk -q "$d08" <<'EOF'
label: dos
label-id: 0x7a2b8c01
unit: sectors
start=2048, size=204800, type=7, bootable
start=206848, size=409600, type=7
start=616448, type=5
start=618496, type=7
EOF
truncate -s 400M "$d12"
sgdisk -U 8d6b2c1a-4e5f-4a7b-9c8d-0e1f2a3b4c5d \
  -n 1:2048:+100M -t 1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B -c 1:'EFI system partition' \
  -u 1:3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e01 \
  -n 2:0:+16M -t 2:E3C9E316-0B5C-4DB8-817D-F92DF00215AE -c 2:'Microsoft reserved partition' \
  -u 2:3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e02 \
  -n 3:0:+200M -t 3:EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 -c 3:'Basic data partition' \
  -u 3:3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e03 \
  -n 4:0:0 -t 4:EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 -c 4:'Basic data partition' \
  -u 4:3c1f0b9e-7d42-4c8a-9e1b-2f5a6c7d8e04 "$d12" > /dev/null
for d in "$d16" "$d16n"; do truncate -s 288M "$d"; done
for pair in "$d16 0x4d2e1f60" "$d16n 0x4d2e1f61"; do
  set -- $pair
  printf 'label: dos\nlabel-id: %s\nunit: sectors\nstart=2048, type=7, bootable\n' "$2" | sfdisk -q "$1"
done

# The 2012 R2 EFI system partition, FAT32 made on the host and copied in.
esp=$work/esp.img
# part_start DISK NUM: the first sector of partition NUM.
part_start() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\),.*|\1|p"; }
esp_start=$(part_start "$d12" 1)
truncate -s 100M "$esp"
mkfs.fat -F 32 -S 512 -s 1 --invariant -i 5AE0B11E -n SYSTEM "$esp" > /dev/null
mmd -i "$esp" ::/EFI ::/EFI/Boot ::/EFI/Microsoft ::/EFI/Microsoft/Boot
pe_exe "$work/bootx64.efi" x86_64
mcopy -i "$esp" "$work/bootx64.efi" ::/EFI/Boot/bootx64.efi
mcopy -i "$esp" "$work/bootx64.efi" ::/EFI/Microsoft/Boot/bootmgfw.efi
mcopy -i "$esp" "$minimal" ::/EFI/Microsoft/Boot/BCD
put "$esp" "$d12" "$esp_start"

# ---------------------------------------------------------------------------------------------
# One appliance: NTFS on every Windows partition, then the trees.
gf=$work/script.gf
{
  echo "add $d08 format:raw"
  echo "add $d12 format:raw"
  echo "add $d16 format:raw"
  echo "add $d16n format:raw"
  echo "run"
  echo "mkfs ntfs /dev/sda1 \"label:System Reserved\""
  echo "mkfs ntfs /dev/sda2"
  echo "mkfs ntfs /dev/sda5 label:Data"
  echo "mkfs ntfs /dev/sdb3"
  echo "mkfs ntfs /dev/sdb4 label:Data"
  echo "mkfs ntfs /dev/sdc1"
  echo "mkfs ntfs /dev/sdd1"
  for pair in "sda1 sysres" "sda2 win2008r2-like" "sda5 data" "sdb3 win2012r2-like" \
    "sdb4 data" "sdc1 win2016-like" "sdd1 win2016-noipv6"; do
    set -- $pair
    echo "mount /dev/$1 /"
    echo "tar-in $work/$2.tar /"
    echo "umount /"
  done
  echo "list-filesystems"
} > "$gf"
if ! timeout 3600 guestfish -x -f "$gf" > "$out/guestfish.log" 2>&1; then
  cat "$out/guestfish.log" >&2
  exit 1
fi

# ntfs_serial DISK PARTNUM SERIAL: a fixed volume serial (blkid's UUID) in the NTFS boot sector
# of partition PARTNUM and in its backup, the volume's last sector.
ntfs_serial() {
  local disk=$1 num=$2 serial=$3 start total
  start=$(part_start "$disk" "$num")
  total=$(od -An -t u8 -j $((start * 512 + 0x28)) -N 8 "$disk" | tr -d ' ')
  for s in "$start" $((start + total)); do
    le "$serial" 8 | dd of="$disk" bs=1 seek=$((s * 512 + 0x48)) conv=notrunc status=none
  done
}
ntfs_serial "$d08" 1 0x0c5a3e1f2b4d6e70
ntfs_serial "$d08" 2 0x1c5a3e1f2b4d6e71
ntfs_serial "$d08" 5 0x1c5a3e1f2b4d6e75
ntfs_serial "$d12" 3 0x2c5a3e1f2b4d6e72
ntfs_serial "$d12" 4 0x2c5a3e1f2b4d6e76
ntfs_serial "$d16" 1 0x3c5a3e1f2b4d6e73
ntfs_serial "$d16n" 1 0x4c5a3e1f2b4d6e74

for d in "$d08" "$d12" "$d16" "$d16n"; do
  mv "$d" "$out/"
done

# Helpers for the image fixtures.
cat > "$out/helpers.sh" <<'HELPERS'
# windows_reference IMAGE NAME: IMAGE's virt-inspector XML and guestfish facts (lib.sh reference;
# Windows has no package format or manager), checked to hold the Windows fields the differential
# tests compare, and the hive exports of disk NAME next to IMAGE.
windows_reference() {
  local img=$1 name=$2 f
  cp "$(fixture windows-disks)/$name.SOFTWARE.reg" "$img.SOFTWARE.reg"
  cp "$(fixture windows-disks)/$name.SYSTEM.reg" "$img.SYSTEM.reg"
  reference "$img" package_format package_management
  for f in product_variant windows_systemroot windows_current_control_set drive_mapping; do
    if ! grep -q "<$f[ >]" "$img.inspector.xml"; then
      echo "$img.inspector.xml: virt-inspector reported no <$f>" >&2
      return 1
    fi
  done
}
HELPERS
