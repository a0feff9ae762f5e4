# win2016-like.vmdk (streamOptimized): a Windows Server 2016 look-alike (windows-disks) as
# Rackspace builds it: one MBR partition (C: NTFS with bootmgr), CurrentMajorVersionNumber 10
# with the compatibility CurrentVersion "6.3", the Rackspace Cloud Servers agent and its updater
# as services, SOFTWARE\Rackspace with cloud-automation-run, Tcpip6 DisabledComponents 0x20
# (prefer IPv4, IPv6 still on), a SOFTWARE hive not cleanly closed, an F: on a disk no longer
# attached, and the 32-bit cloudbase-init (Program Files (x86), WOW6432Node Uninstall entry) with
# the installer's configuration, which sets no plugins (the default list runs user data).
# Outputs: the image, its SOFTWARE/SYSTEM exports (.reg), virt-inspector XML, guestfish facts.
# needs: windows-disks
. ./lib.sh
out=$1
. "$(fixture windows-disks)/helpers.sh"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized \
  "$(fixture windows-disks)/win2016-like.raw" "$out/win2016-like.vmdk"
windows_reference "$out/win2016-like.vmdk" win2016-like
