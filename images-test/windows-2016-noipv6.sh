# win2016-noipv6.qcow2 (compressed): win2016-like with IPv6 switched off
# (Tcpip6\Parameters\DisabledComponents = 0xff) and cloudbase-init installed with a plugins list
# that does not run user data, in both its configuration files: the image the Windows rules
# fail on.
# Outputs: the image, its SOFTWARE/SYSTEM exports (.reg), virt-inspector XML, guestfish facts.
# needs: windows-disks
. ./lib.sh
out=$1
. "$(fixture windows-disks)/helpers.sh"
qemu-img convert -c -f raw -O qcow2 "$(fixture windows-disks)/win2016-noipv6.raw" "$out/win2016-noipv6.qcow2"
windows_reference "$out/win2016-noipv6.qcow2" win2016-noipv6
