#!/bin/sh
# Regenerates the kmod fixtures that tests/unit/test_pkcs7sig.c reads: an
# RSA-3072 key with a self-signed certificate (as the kernel's
# certs/x509.genkey makes one), a stand-in module, and the PKCS#7 that the
# kernel's own scripts/sign-file (Debian's linux-kbuild-6.1) makes for them.
# RSA PKCS#1 v1.5 signatures are deterministic, so signet must produce these
# exact bytes.  Test-only key: never use it elsewhere.
set -eu
cd "$(dirname "$0")"
SIGN_FILE=${SIGN_FILE:-/usr/lib/linux-kbuild-6.1/scripts/sign-file}

openssl req -x509 -newkey rsa:3072 -nodes -keyout kmod-rsa.key -out kmod-rsa.pem \
    -days 36500 -sha256 -subj '/O=signet unit tests/CN=kmod rsa' \
    -addext basicConstraints=critical,CA:FALSE -addext keyUsage=digitalSignature \
    -addext subjectKeyIdentifier=hash -addext authorityKeyIdentifier=keyid
# Any bytes will do: sign-file signs the file as it is.
i=0
: > kmod-module.ko
while [ "$i" -lt 64 ]; do
	printf 'signet kmod test module, line %02d\n' "$i" >> kmod-module.ko
	i=$((i + 1))
done
# -p keeps the PKCS#7 as kmod-module.ko.p7s; the signed module is the module,
# that PKCS#7, struct module_signature and "~Module signature appended~\n".
"$SIGN_FILE" -p sha256 kmod-rsa.key kmod-rsa.pem kmod-module.ko kmod-module.ko.signed
# The same with the EC leaf of the other tests (leaf-ec.key, leaf-ec.pem):
# ECDSA signatures are random, so the test compares the structure, with
# signet's signature value in place of sign-file's.
cp kmod-module.ko kmod-module-ec.ko
"$SIGN_FILE" -d sha256 leaf-ec.key leaf-ec.pem kmod-module-ec.ko
rm kmod-module-ec.ko
