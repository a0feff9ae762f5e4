#!/usr/bin/env bash
# Builds the PE executables the version-resource reader's tests read (crates/imgprep-pe):
#   tests/data/pe/make.sh     (writes version.exe and plain.exe next to this script)
# Both are real PE32+ console programs made by the mingw-w64 toolchain (Debian packages
# gcc-mingw-w64-x86-64 and binutils-mingw-w64-x86-64), without the C runtime so they stay
# small, and without a link timestamp so the bytes are reproducible:
#   version.exe  a VERSIONINFO resource (windres): FILEVERSION 1.3.1.2, PRODUCTVERSION 1.3.1.0,
#                an en-US string table with an empty Comments value, and VarFileInfo
#   plain.exe    the same program without any resource
# `x86_64-w64-mingw32-windres -i version.exe -O rc` prints the resource back.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'int entry(void) { return 0; }\n' > "$work/main.c"
cat > "$work/version.rc" <<'RC'
#include <winver.h>
1 VERSIONINFO
FILEVERSION 1,3,1,2
PRODUCTVERSION 1,3,1,0
FILEFLAGSMASK 0x3f
FILEFLAGS VS_FF_PRERELEASE
FILEOS VOS_NT_WINDOWS32
FILETYPE VFT_APP
FILESUBTYPE 0
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "Example Company"
      VALUE "FileDescription", "Version resource test program"
      VALUE "FileVersion", "1.3.1.2"
      VALUE "Comments", ""
      VALUE "ProductName", "imgprep test data"
      VALUE "ProductVersion", "1.3.1"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
RC
x86_64-w64-mingw32-windres "$work/version.rc" -O coff -o "$work/version.o"
link() { x86_64-w64-mingw32-gcc -Os -s -nostdlib -e entry -Wl,--no-insert-timestamp -o "$@"; }
link version.exe "$work/main.c" "$work/version.o"
link plain.exe "$work/main.c"
