#!/bin/sh
# Regenerates the test-only keys that tests/unit/test_openpgp.c and
# fuzz/fuzz_openpgp.c sign with, standing in for the HSM.  Never use them
# elsewhere.  Rerunning this invalidates the fuzz seeds that hold
# signatures (fuzz/corpus/openpgp/good-*): make them again with
# tests/unit/test_openpgp.c's seed writer (OPENPGP_WRITE_SEEDS=DIR).
set -eu
cd "$(dirname "$0")"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
for k in ec rsa; do
	openssl pkey -in $k.key -pubout -out $k.pub
done
