#!/usr/bin/env bash
# Builds seeds for the pe_version fuzz target (mingw-w64: Debian packages gcc-mingw-w64-x86-64
# and binutils-mingw-w64-x86-64):
#   fuzz/seeds/pe.sh OUTDIR  ->  OUTDIR/pe_version/*
# tests/data/pe/{version,plain}.exe; a program with two string tables (en-US and neutral), an
# RCDATA resource and a named resource beside its version resource; and the bare VS_VERSIONINFO
# block of version.exe (the target also reads its input as one).
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=$here/../../tests/data/pe
mkdir -p "$out/pe_version"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$data/version.exe" "$data/plain.exe" "$out/pe_version/"
printf 'int entry(void) { return 0; }\n' > "$tmp/main.c"
printf 'data' > "$tmp/blob.bin"
cat > "$tmp/multi.rc" <<'RC'
#include <winver.h>
7 RCDATA "blob.bin"
CONFIG RCDATA "blob.bin"
LANGUAGE 9, 1
1 VERSIONINFO
FILEVERSION 2,0,0,1
PRODUCTVERSION 2,0,0,0
FILEOS VOS_NT_WINDOWS32
FILETYPE VFT_DLL
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "ProductVersion", "2.0"
      VALUE "FileVersion", "2.0.0.1"
    END
    BLOCK "000004b0"
    BEGIN
      VALUE "ProductVersion", "2.0 neutral"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200, 0x0, 1200
  END
END
RC
(cd "$tmp" && x86_64-w64-mingw32-windres multi.rc -O coff -o multi.o)
x86_64-w64-mingw32-gcc -Os -s -nostdlib -e entry -Wl,--no-insert-timestamp \
  -o "$out/pe_version/multi.exe" "$tmp/main.c" "$tmp/multi.o"
python3 - "$data/version.exe" "$out/pe_version/versioninfo.bin" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
at = data.find('VS_VERSION_INFO'.encode('utf-16-le')) - 6
length = int.from_bytes(data[at:at + 2], 'little')
open(sys.argv[2], 'wb').write(data[at:at + length])
PY
