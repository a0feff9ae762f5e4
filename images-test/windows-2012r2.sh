# win2012r2-like.vhdx: a Windows Server 2012 R2 look-alike (windows-disks) on GPT: EFI system
# partition (FAT32, sda1), Microsoft reserved partition (no filesystem, sda2), C: NTFS (sda3) and
# an E: data NTFS (sda4) named by MountedDevices as "DMIO:ID:" + partition GUID (and a G: on a
# disk no longer attached). cloudbase-init installed (Uninstall entry, `cloudbase-init` service)
# with a cloudbase-init.conf whose plugins list runs user data (CRLF line endings; a decoy
# plugins line in another section) and the installer's cloudbase-init-unattend.conf; the
# CloudCenter worker services AgentService and CliQrStartupService; no Tcpip6 parameters.
# Outputs: the image, its SOFTWARE/SYSTEM exports (.reg), virt-inspector XML, guestfish facts.
# needs: windows-disks
. ./lib.sh
out=$1
. "$(fixture windows-disks)/helpers.sh"
qemu-img convert -f raw -O vhdx "$(fixture windows-disks)/win2012r2-like.raw" "$out/win2012r2-like.vhdx"
windows_reference "$out/win2012r2-like.vhdx" win2012r2-like
