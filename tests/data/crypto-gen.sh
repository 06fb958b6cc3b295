#!/bin/sh
# Regenerates the fixed keys, certificates and openssl-CLI signatures that
# tests/unit/test_crypto.c reads.  Test-only keys: never use them elsewhere.
# Rerunning this changes the KEYID_* constants and the message digest the
# test expects; print the new keyids with the loop at the end.
set -eu
cd "$(dirname "$0")"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out crypto-ec-p256.key
openssl genpkey -algorithm ED25519 -out crypto-ed25519.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out crypto-rsa2048.key
# Refused key types: wrong curve, too short, RSA-PSS-restricted.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out crypto-ec-p384.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out crypto-rsa1024.key
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out crypto-rsapss.key
for k in ec-p256 ed25519 rsa2048 ec-p384 rsa1024 rsapss; do
	openssl pkey -in crypto-$k.key -pubout -out crypto-$k.pub
done
openssl pkey -in crypto-ec-p256.key -aes256 -passout pass:secret -out crypto-ec-p256-encrypted.key

openssl req -x509 -new -key crypto-ec-p256.key -subj /CN=signet-test-leaf -days 36500 -out crypto-leaf.crt
openssl req -x509 -new -key crypto-rsa2048.key -subj /CN=signet-test-root -days 36500 -out crypto-root.crt
cat crypto-leaf.crt crypto-root.crt > crypto-chain.pem

# Raw signatures (SPEC §4) as the openssl CLI makes them.
printf 'signet test message\n' > crypto-msg.txt
openssl dgst -sha256 -sign crypto-ec-p256.key -out crypto-msg.ecdsa.sig crypto-msg.txt
openssl dgst -sha256 -sign crypto-rsa2048.key -out crypto-msg.rsa-pkcs1.sig crypto-msg.txt
openssl dgst -sha256 -sign crypto-rsa2048.key -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 \
    -out crypto-msg.rsa-pss.sig crypto-msg.txt

for k in ec-p256 ed25519 rsa2048; do
	echo "$k sha256:$(openssl pkey -pubin -in crypto-$k.pub -outform DER | sha256sum | cut -d' ' -f1)"
done

# The JWK Set of the RSA and EC keys, for fuzz/fuzz_jwt.c (whose seed
# tokens in fuzz/corpus/jwt are signed with these keys: remake them too).
python3 ../jwt_tool.py jwks rsa1=crypto-rsa2048.pub ec1=crypto-ec-p256.pub > jwt-jwks.json
# One that the agent refuses (RSA under 2048 bits), for tests/unit/test_policy.c.
python3 ../jwt_tool.py jwks small=crypto-rsa1024.pub > jwt-jwks-rsa1024.json
