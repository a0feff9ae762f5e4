# Windows Server 2012 R2 guests laid out the way real Rackspace installs lay them out, for the
# Windows verdicts of the rackspace-nova-agent profile written from Rackspace's article
# "Nova-agent (Linux) and Rackspace agent (Windows)" (tests/check_rackspace_windows.rs holds the
# expected verdict of every rule on each). Like the windows-* fixtures (whose registry writers
# and PE stub this script reuses from windows-disks.sh): one MBR partition, C: NTFS written by
# ntfs-3g in one appliance session, SOFTWARE and SYSTEM hives grown from tests/data/hives/minimal
# with hivexregedit, MountedDevices naming the partition; compressed qcow2 of well under 1 MB.
#
# The Rackspace agent is installed as its installagentservice.bat / installupdateservice.bat
# leave it: RackspaceCloudServersAgent and RackspaceCloudServersAgentUpdater, own-process,
# automatic, ImagePath the unquoted path `sc create binpath= "%CD%\…exe"` writes, under
# C:\Program Files\Rackspace\Cloud Servers\Agent and \AgentUpdater, and SOFTWARE\Rackspace. Its
# executables are real PE32+ programs built here with mingw-w64 from a small C source and an .rc
# file carrying the version resource the agent's C# build gives its assemblies (StringFileInfo
# 000004b0: CompanyName "Rackspace Cloud", ProductName "Rackspace Cloud Server Agent",
# FileVersion = ProductVersion = Assembly Version = the release number; language neutral). The
# XenServer tools 6.2 are laid out as their installer leaves them: the guest agent service
# XenSvc (C:\Program Files (x86)\Citrix\XenTools\xenservice.exe), the PV driver services
# xenbus, xenfilt, xenvbd (boot), xenvif, xennet, xeniface (demand), SOFTWARE\Citrix\XenTools and
# an Uninstall entry.
#
#   rsw-agent129.qcow2        agent 1.2.9.0 (version resource), XenServer tools with XenSvc
#                             automatic, no VPN: the version warns (fails with rackconnect=v3).
#   rsw-agent1312-vpn.qcow2   agent 1.3.1.2, XenSvc disabled (Start 4) with its drivers still
#                             there, and OpenVPN 2.4.9 with TAP-Windows 9.24.2: the tap0901
#                             driver service, OpenVPNService and OpenVPNServiceInteractive
#                             (automatic) and both Uninstall entries.
#   rsw-agent-msi.qcow2       the agent's executables without a version resource, installed by
#                             an MSI whose Uninstall entry says DisplayVersion 1.3.0.3 (the
#                             fallback), and no XenServer tools at all.
#   rsw-no-agent.qcow2        no Rackspace agent (a Windows image for another cloud): XenSvc
#                             automatic and a tap0901 driver, which do not matter without it.
#
# Next to the images, pe/: every executable built here and `x86_64-w64-mingw32-windres -i EXE -O
# rc` of each (EXE.rc.txt), the reference the version-resource reader is compared with.
# needs: windows-disks
. ./lib.sh
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The project's reference hive (tests/data/README.md says where it comes from).
minimal=$(cd .. && pwd)/tests/data/hives/minimal
# The registry writers (key, sz, dword, service, uninstall, mbr_blob, …) and pe_exe.
# shellcheck source=/dev/null
source <(sed -n '/^le() {/,/^# File trees/p' windows-disks.sh)
# shellcheck source=/dev/null
source <(sed -n '/^ntfs_serial() {/,/^}/p; /^part_start() {/p' windows-disks.sh)
mkdir -p "$out/pe"

# --- Executables ---------------------------------------------------------------------------

# exe OUT [VERSION DESCRIPTION PRODUCT COMPANY]: a console program built with mingw-w64, with
# a version resource like the C# compiler writes when VERSION is given, without one otherwise.
exe() {
  local f=$1 v=${2:-} desc=${3:-} product=${4:-} company=${5:-} name commas
  name=$(basename "$f")
  mkdir -p "$(dirname "$f")"
  printf 'int main(void) { return 0; }\n' > "$work/main.c"
  if [ -n "$v" ]; then
    commas=${v//./,}
    cat > "$work/version.rc" <<EOF
#include <winver.h>
LANGUAGE 0, 0
1 VERSIONINFO
FILEVERSION $commas
PRODUCTVERSION $commas
FILEFLAGSMASK 0x3f
FILEFLAGS 0
FILEOS VOS__WINDOWS32
FILETYPE VFT_APP
FILESUBTYPE 0
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "000004b0"
    BEGIN
      VALUE "Comments", "$desc"
      VALUE "CompanyName", "$company"
      VALUE "FileDescription", "$desc"
      VALUE "FileVersion", "$v"
      VALUE "InternalName", "$name"
      VALUE "LegalCopyright", "Copyright (c) 2009 2010 2011, $company.  All Rights Reserved"
      VALUE "OriginalFilename", "$name"
      VALUE "ProductName", "$product"
      VALUE "ProductVersion", "$v"
      VALUE "Assembly Version", "$v"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x0, 1200
  END
END
EOF
    x86_64-w64-mingw32-windres "$work/version.rc" -O coff -o "$work/version.o"
    x86_64-w64-mingw32-gcc -Os -s -Wl,--no-insert-timestamp -o "$f" "$work/main.c" "$work/version.o"
  else
    x86_64-w64-mingw32-gcc -Os -s -Wl,--no-insert-timestamp -o "$f" "$work/main.c"
  fi
}

rax_agent='Rackspace.Cloud.Server.Agent.Service.exe'
rax_updater='Rackspace.Cloud.Server.Agent.UpdaterService.exe'
# agent_exes VERSION: the agent and updater executables of release VERSION ("" for none).
agent_exes() {
  local v=$1 d=$work/agent-${1:-noversion}
  [ -d "$d" ] && return 0
  if [ -n "$v" ]; then
    exe "$d/$rax_agent" "$v" Rackspace.Cloud.Server.Agent.Service 'Rackspace Cloud Server Agent' 'Rackspace Cloud'
    exe "$d/$rax_updater" "$v" Rackspace.Cloud.Server.Agent.UpdaterService 'Rackspace Cloud Server Agent' 'Rackspace Cloud'
  else
    exe "$d/$rax_agent"
    exe "$d/$rax_updater"
  fi
  local f
  for f in "$d"/*.exe; do
    cp "$f" "$out/pe/${1:-noversion}-$(basename "$f")"
    if [ -n "$v" ]; then
      x86_64-w64-mingw32-windres -i "$f" -O rc > "$out/pe/${1:-noversion}-$(basename "$f").rc.txt"
    fi
  done
}
exe "$work/xenservice.exe" 6.2.50.73028 'Citrix Tools for Virtual Machines Service' \
  'Citrix Tools for Virtual Machines' 'Citrix Systems, Inc.'
cp "$work/xenservice.exe" "$out/pe/xenservice.exe"
x86_64-w64-mingw32-windres -i "$work/xenservice.exe" -O rc > "$out/pe/xenservice.exe.rc.txt"

# --- Registry ------------------------------------------------------------------------------

ccs=ControlSet001
xt='C:\Program Files (x86)\Citrix\XenTools'

# software NAME: the SOFTWARE hive's contents.
software() {
  local name=$1
  reg_begin "$work/$name.SOFTWARE.reg" 'HKEY_LOCAL_MACHINE\SOFTWARE'
  key 'Microsoft\Windows NT\CurrentVersion'
  sz SystemRoot 'C:\Windows'
  sz ProductName 'Windows Server 2012 R2 Standard'
  sz EditionID ServerStandard
  sz InstallationType Server
  sz CurrentVersion 6.3
  sz CurrentBuild 9600
  sz CurrentBuildNumber 9600
  key 'Microsoft\Windows\CurrentVersion'
  sz ProgramFilesDir 'C:\Program Files'
  sz 'ProgramFilesDir (x86)' 'C:\Program Files (x86)'
  uninstall native 7-Zip '7-Zip 16.04 (x64)' 16.04 'Igor Pavlov' 'C:\Program Files\7-Zip\' \
    'http://www.7-zip.org/' ''
  case $name in
    rsw-agent129 | rsw-agent1312-vpn | rsw-agent-msi)
      key Rackspace
      sz cloud-automation-run True ;;
  esac
  case $name in
    rsw-agent129 | rsw-agent1312-vpn | rsw-no-agent)
      key 'Citrix\XenTools'
      dword MajorVersion 6
      dword MinorVersion 2
      dword MicroVersion 50
      dword BuildVersion 73028
      sz InstallDir "$xt"
      uninstall wow64 'Citrix XenTools' 'Citrix XenServer Tools' 6.2.50.73028 \
        'Citrix Systems, Inc.' "$xt" '' '' ;;
  esac
  case $name in
    rsw-agent1312-vpn)
      uninstall native OpenVPN 'OpenVPN 2.4.9-I601-Win10' 2.4.9-I601-Win10 \
        'OpenVPN Technologies, Inc.' 'C:\Program Files\OpenVPN' 'https://openvpn.net' ''
      uninstall native TAP-Windows 'TAP-Windows 9.24.2' 9.24.2 'OpenVPN Technologies, Inc.' \
        'C:\Program Files\TAP-Windows' 'https://openvpn.net' ''
      key 'OpenVPN'
      sz exe_path 'C:\Program Files\OpenVPN\bin\openvpn.exe'
      sz config_dir 'C:\Program Files\OpenVPN\config' ;;
    rsw-agent-msi)
      uninstall native '{2B4F7C1A-6D3E-4F5A-9B8C-1D2E3F4A5B6C}' 'Rackspace Cloud Server Agent' \
        1.3.0.3 'Rackspace Cloud' 'C:\Program Files\Rackspace\Cloud Servers\' '' '' ;;
    rsw-no-agent)
      uninstall native TAP-Windows 'TAP-Windows 9.21.2' 9.21.2 'OpenVPN Technologies, Inc.' \
        'C:\Program Files\TAP-Windows' 'https://openvpn.net' '' ;;
  esac
}

# system NAME SIGNATURE: the SYSTEM hive's contents.
system() {
  local name=$1 sig=$2 rax='C:\Program Files\Rackspace\Cloud Servers'
  reg_begin "$work/$name.SYSTEM.reg" 'HKEY_LOCAL_MACHINE\SYSTEM'
  key Select
  dword Current 1
  dword Default 1
  dword LastKnownGood 1
  key MountedDevices
  binary '\DosDevices\C:' "$(mbr_blob "$sig" 1048576)"
  key "$ccs\\Control\\ComputerName\\ComputerName"
  sz ComputerName "${name^^}"
  service Tcpip 1 0 'TCP/IP Protocol Driver' 'System32\drivers\tcpip.sys'
  key "$ccs\\Services\\Tcpip\\Parameters"
  sz Hostname "$name"
  service Dhcp 0x20 2 'DHCP Client' '%SystemRoot%\system32\svchost.exe -k LocalServiceNetworkRestricted'
  service Ntfs 2 3 Ntfs ''
  service Tcpip6 1 0 'Microsoft IPv6 Protocol Driver' 'System32\drivers\tcpip.sys'
  service netvsc 1 3 'Microsoft Hyper-V Network Adapter' 'System32\drivers\netvsc63.sys'
  case $name in
    rsw-agent129 | rsw-agent1312-vpn | rsw-agent-msi)
      # installagentservice.bat / installupdateservice.bat: sc create … binpath= "%CD%\…".
      service RackspaceCloudServersAgent 0x10 2 '' "$rax\\Agent\\$rax_agent"
      sz ObjectName LocalSystem
      service RackspaceCloudServersAgentUpdater 0x10 2 '' "$rax\\AgentUpdater\\$rax_updater"
      sz ObjectName LocalSystem ;;
  esac
  local xensvc_start=2
  [ "$name" = rsw-agent1312-vpn ] && xensvc_start=4
  case $name in
    rsw-agent129 | rsw-agent1312-vpn | rsw-no-agent)
      service XenSvc 0x10 "$xensvc_start" 'Citrix Tools for Virtual Machines Service' "\"$xt\\xenservice.exe\""
      sz ObjectName LocalSystem
      service xenbus 1 0 'Xen PV Bus' 'System32\drivers\xenbus.sys'
      service xenfilt 1 0 'Xen PV Bus Filter' 'System32\drivers\xenfilt.sys'
      service xenvbd 1 0 'Xen PV Storage Host Adapter' 'System32\drivers\xenvbd.sys'
      service xenvif 1 3 'Xen PV Network Class' 'System32\drivers\xenvif.sys'
      service xennet 1 3 'Xen PV Network Device' 'System32\drivers\xennet.sys'
      service xeniface 1 3 'Xen Interface' 'System32\drivers\xeniface.sys' ;;
  esac
  case $name in
    rsw-agent1312-vpn | rsw-no-agent)
      # tap-windows6's OemVista.inf: the service named after the component id, kernel driver,
      # demand start, group NDIS.
      service tap0901 1 3 'TAP-Windows Adapter V9' 'System32\drivers\tap0901.sys'
      sz Group NDIS ;;
  esac
  if [ "$name" = rsw-agent1312-vpn ]; then
    service OpenVPNService 0x10 2 OpenVPNService '"C:\Program Files\OpenVPN\bin\openvpnserv2.exe"'
    service OpenVPNServiceInteractive 0x10 2 'OpenVPN Interactive Service' '"C:\Program Files\OpenVPN\bin\openvpnserv.exe"'
  fi
}

# --- File trees and disks ------------------------------------------------------------------

# image NAME SIGNATURE AGENT_VERSION: the C: tree, hives, and the raw disk of NAME
# (AGENT_VERSION "-" for no agent, "" for the agent without a version resource).
image() {
  local name=$1 sig=$2 t=$work/$1/tree v=$3 f
  mkdir -p "$t/Windows/System32/config" "$t/Windows/System32/drivers" "$t/Windows/SysWOW64" \
    "$t/Program Files/Common Files" "$t/Program Files (x86)" "$t/Users/Administrator" \
    "$t/Program Files/7-Zip"
  pe_exe "$t/Windows/System32/cmd.exe" x86_64
  pe_exe "$t/Windows/SysWOW64/cmd.exe" i386
  pe_exe "$t/Program Files/7-Zip/7z.exe" x86_64
  for f in SAM SECURITY DEFAULT; do cp "$minimal" "$t/Windows/System32/config/$f"; done
  printf 'bootmgr' > "$t/bootmgr"
  mkdir -p "$t/Boot" && cp "$minimal" "$t/Boot/BCD"
  if [ "$v" != - ]; then
    agent_exes "$v"
    mkdir -p "$t/Program Files/Rackspace/Cloud Servers/Agent" \
      "$t/Program Files/Rackspace/Cloud Servers/AgentUpdater"
    cp "$work/agent-${v:-noversion}/$rax_agent" "$t/Program Files/Rackspace/Cloud Servers/Agent/"
    cp "$work/agent-${v:-noversion}/$rax_updater" "$t/Program Files/Rackspace/Cloud Servers/AgentUpdater/"
    printf '<?xml version="1.0" encoding="utf-8"?>\r\n<configuration />\r\n' \
      > "$t/Program Files/Rackspace/Cloud Servers/Agent/$rax_agent.config"
  fi
  case $name in
    rsw-agent129 | rsw-agent1312-vpn | rsw-no-agent)
      mkdir -p "$t/Program Files (x86)/Citrix/XenTools"
      cp "$work/xenservice.exe" "$t/Program Files (x86)/Citrix/XenTools/"
      for f in xenbus xenfilt xenvbd xenvif xennet xeniface; do
        pe_exe "$t/Windows/System32/drivers/$f.sys" x86_64
      done ;;
  esac
  case $name in
    rsw-agent1312-vpn | rsw-no-agent)
      pe_exe "$t/Windows/System32/drivers/tap0901.sys" x86_64
      mkdir -p "$t/Program Files/TAP-Windows/bin"
      pe_exe "$t/Program Files/TAP-Windows/bin/tapinstall.exe" x86_64 ;;
  esac
  if [ "$name" = rsw-agent1312-vpn ]; then
    mkdir -p "$t/Program Files/OpenVPN/bin" "$t/Program Files/OpenVPN/config"
    for f in openvpn openvpnserv openvpnserv2 openvpn-gui; do
      pe_exe "$t/Program Files/OpenVPN/bin/$f.exe" x86_64
    done
  fi
  software "$name"
  system "$name" "$sig"
  for f in SOFTWARE SYSTEM; do
    cp "$minimal" "$t/Windows/System32/config/$f"
    chmod 644 "$t/Windows/System32/config/$f"
    hivexregedit --merge --prefix "HKEY_LOCAL_MACHINE\\$f" "$t/Windows/System32/config/$f" \
      "$work/$name.$f.reg"
  done
  clamp_times "$t"
  (cd "$t" && tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name -cf "$work/$name.tar" .)
  truncate -s 24M "$work/$name.raw"
  printf 'label: dos\nlabel-id: %s\nunit: sectors\nstart=2048, type=7, bootable\n' "$sig" \
    | sfdisk -q "$work/$name.raw"
}

images=(rsw-agent129 rsw-agent1312-vpn rsw-agent-msi rsw-no-agent)
image rsw-agent129 0x52a50129 1.2.9.0
image rsw-agent1312-vpn 0x52a51312 1.3.1.2
image rsw-agent-msi 0x52a50000 ''
image rsw-no-agent 0x52a5ffff -

# One appliance: NTFS on each disk's partition, then its tree.
gf=$work/script.gf
{
  for n in "${images[@]}"; do echo "add $work/$n.raw format:raw"; done
  echo run
  i=0
  for n in "${images[@]}"; do
    d=/dev/sd$(printf "\\x$(printf %x $((97 + i)))")1
    echo "mkfs ntfs $d"
    echo "mount $d /"
    echo "tar-in $work/$n.tar /"
    echo "umount /"
    i=$((i + 1))
  done
} > "$gf"
if ! timeout 1800 guestfish -x -f "$gf" > "$work/guestfish.log" 2>&1; then
  cat "$work/guestfish.log" >&2
  exit 1
fi
ntfs_serial "$work/rsw-agent129.raw" 1 0x5c5a3e1f2b4d0129
ntfs_serial "$work/rsw-agent1312-vpn.raw" 1 0x5c5a3e1f2b4d1312
ntfs_serial "$work/rsw-agent-msi.raw" 1 0x5c5a3e1f2b4d0000
ntfs_serial "$work/rsw-no-agent.raw" 1 0x5c5a3e1f2b4dffff
for n in "${images[@]}"; do
  qemu-img convert -c -f raw -O qcow2 "$work/$n.raw" "$out/$n.qcow2"
  cp "$work/$n.SOFTWARE.reg" "$out/$n.SOFTWARE.in.reg"
  cp "$work/$n.SYSTEM.reg" "$out/$n.SYSTEM.in.reg"
done
ls -l "$out" "$out/pe"
