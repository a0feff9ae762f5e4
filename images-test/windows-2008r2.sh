# win2008r2-like.qcow2: a Windows Server 2008 R2 look-alike (windows-disks): MBR with a 100 MiB
# "System Reserved" NTFS (sda1, boot manager only), C: NTFS (sda2) and a D: data NTFS in a
# logical partition (sda5), named by MountedDevices through the disk signature and byte offset;
# CurrentVersion 6.1 without the version DWORDs; Uninstall entries in both registry views; an
# indirect-string service display name; no cloudbase-init; Tcpip6 DisabledComponents 0xffffffff
# (IPv6 off).
# Outputs: the image, its SOFTWARE/SYSTEM exports (.reg), virt-inspector XML, guestfish facts.
# needs: windows-disks
. ./lib.sh
out=$1
. "$(fixture windows-disks)/helpers.sh"
qemu-img convert -f raw -O qcow2 "$(fixture windows-disks)/win2008r2-like.raw" "$out/win2008r2-like.qcow2"
windows_reference "$out/win2008r2-like.qcow2" win2008r2-like
