#!/usr/bin/env bash
# Builds seeds for the sysconf_trust_stores fuzz target:
#   fuzz/seeds/sysconf_trust.sh OUTDIR  ->  OUTDIR/sysconf_trust_stores/*
# Input: a selector byte (bit 0: Debian, else Red Hat; bit 1: keystore records get a valid
# digest), then records [slot][u16 little-endian length][bytes], the slot an index into the
# target's SLOTS: 0 the CA to add, 1 the OpenSSL trust bundle, 2 the Java keystore, 3 the EDK2
# list, 4 the TLS bundle, 5 a hash link (number byte, then target), 6 /etc/ssl/certs/other.pem,
# 7 Debian's system CA, 8 Debian's bundle. CAs are made with openssl, the keystore with keytool
# (.ci/deps), the EDK2 list as p11-kit writes it; a record of a bare Name (its contents) feeds
# the canonical-name reader.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out/sysconf_trust_stores"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ca() { # ca NAME SUBJECT [openssl req arguments]...
  local n=$1 s=$2
  shift 2
  openssl req -x509 -new -days 3650 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$work/$n.key" -out "$work/$n.pem" -subj "$s" "$@" 2>/dev/null
  openssl x509 -in "$work/$n.pem" -outform DER -out "$work/$n.der"
}
ca corp "/O=Corp/CN=Corp  Root  CA"
ca base "/O=Base Org/CN=Base Root"
ca signing "/O=Base Org/OU=Signing Unit" -addext "extendedKeyUsage = codeSigning"
ca multi "/DC=com/DC=Example/OU=b+CN=A  B" -multivalue-rdn
for a in base:base corprootca:signing; do
  keytool -importcert -noprompt -storetype JKS -storepass changeit -keystore "$work/cacerts" \
    -alias "${a%%:*}" -file "$work/${a#*:}.pem" >/dev/null 2>&1
done
{
  printf '# Base Root\n'
  openssl x509 -in "$work/base.pem" -trustout -setalias "Base Root"
  printf '\n# Signing Unit\n'
  openssl x509 -in "$work/signing.pem" -trustout -addtrust codeSigning -setalias "Signing Unit"
} > "$work/bundle.crt"

python3 - "$work" "$out/sysconf_trust_stores" <<'EOF'
import struct, sys
work, out = sys.argv[1], sys.argv[2]
read = lambda n: open(f"{work}/{n}", "rb").read()

def rec(slot, data):
    return bytes([slot]) + struct.pack("<H", len(data)) + data

def edk2(der):
    x509 = bytes.fromhex("a159c0a5e494a74a87b5ab155c2bf072")
    owner = bytes.fromhex("503bdddc05f4fd4396bebd33b1734776")
    return x509 + struct.pack("<III", 28 + 16 + len(der), 0, 16 + len(der)) + owner + der

def tlv(b):  # (tag, contents, rest) of a DER element
    n, i = b[1], 2
    if n & 0x80:
        k = n & 0x7f
        n, i = int.from_bytes(b[2:2 + k], "big"), 2 + k
    return b[0], b[i:i + n], b[i + n:]

def subject(der):  # the subject Name's contents
    _, c, _ = tlv(der)
    _, tbs, _ = tlv(c)
    if tbs[0] == 0xa0:
        tbs = tlv(tbs)[2]
    for _ in range(4):
        tbs = tlv(tbs)[2]
    return tlv(tbs)[1]

def seed(name, selector, *records):
    open(f"{out}/{name}", "wb").write(bytes([selector]) + b"".join(records))

tls = b"# Base Root\n" + read("base.pem")
seed("red-hat", 0x00, rec(0, read("corp.pem")), rec(1, read("bundle.crt")), rec(2, read("cacerts")),
     rec(3, edk2(read("base.der"))), rec(4, tls))
seed("red-hat-digests", 0x02, rec(0, read("corp.pem") + read("signing.pem")), rec(2, read("cacerts")),
     rec(3, edk2(read("base.der")) + edk2(read("signing.der"))))
seed("debian", 0x01, rec(0, read("corp.pem")), rec(5, b"\x00other.pem"), rec(6, read("base.pem")),
     rec(7, read("base.pem")), rec(8, read("base.pem")))
seed("names", 0x00, rec(0, read("multi.der")), rec(4, subject(read("multi.der"))),
     rec(4, subject(read("corp.der"))))
EOF
echo "seeds in $out/sysconf_trust_stores"
