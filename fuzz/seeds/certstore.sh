#!/usr/bin/env bash
# Builds seeds for the sysconf_cert_blob fuzz target:
#   fuzz/seeds/certstore.sh OUTDIR  ->  OUTDIR/sysconf_cert_blob/*
# Serialized certificates as a Windows certificate store key's Blob holds them: properties of a
# 12-byte header (u32 id, u32 encoding type 1, u32 length, little-endian) and their bytes, the
# DER certificate being property 0x20. The certificates are real roots from the host's
# ca-certificates (Debian: /usr/share/ca-certificates/mozilla).
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out/sysconf_cert_blob"
ca=/usr/share/ca-certificates/mozilla
python3 - "$out/sysconf_cert_blob" "$ca/ISRG_Root_X1.crt" "$ca/ISRG_Root_X2.crt" <<'PY'
import base64, hashlib, struct, sys
out, *pems = sys.argv[1:]
def der(path):
    text = open(path).read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))
def prop(pid, data, enc=1):
    return struct.pack("<III", pid, enc, len(data)) + data
def write(name, data):
    open(f"{out}/{name}", "wb").write(data)
x1, x2 = der(pems[0]), der(pems[1])
# What certutil -addstore root writes: the SHA-1 hash, then the certificate.
write("root-sha1-cert", prop(3, hashlib.sha1(x1).digest()) + prop(0x20, x1))
# More cached properties (MD5 hash, key identifier, a friendly name), an end marker after.
write("root-props-end",
      prop(4, hashlib.md5(x2).digest()) + prop(0x14, hashlib.sha1(x2[-70:]).digest())
      + prop(0x0b, "ISRG Root X2\0".encode("utf-16-le")) + prop(0x20, x2)
      + struct.pack("<III", 0, 0, 0))
# Cut short in the certificate, and a length that lies.
write("root-truncated", (prop(3, hashlib.sha1(x1).digest()) + prop(0x20, x1))[:200])
write("root-lying-length", struct.pack("<III", 0x20, 1, 0xfffffff0) + x1[:64])
PY
