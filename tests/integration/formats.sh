#!/bin/bash
# The formats whose output is the signed file itself (docs/formats.md),
# checked with their consumers' own tools:
#   authenticode: Debian's unsigned UEFI images (shim-unsigned: PE32+;
#     syslinux-efi: PE32) and the tests' tiny PE32/PE32+ images, signed with
#     an ECDSA and an RSA key; `osslsigncode verify -CAfile` and `sbverify
#     --cert` accept them, a byte flipped in the image makes both refuse,
#     the embedded chain is the configured one; in-place signing keeps the
#     mode, an already signed image needs --replace-signature; hostile
#     images are exit 2 with a message and nothing written.
#   kmod: a module built here from a tiny C file; `openssl cms -verify`
#     over the unsigned module, modinfo reads the signature, and for a key
#     whose software copy is kept the output is byte-identical to the
#     kernel's own sign-file.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NEED_TOOLS_HINT="sh scripts/deps.sh installs them"
stack_init formats osslsigncode sbverify modinfo gcc objcopy python3
SIGN_FILE=/usr/lib/linux-kbuild-6.1/scripts/sign-file
[ -x "$SIGN_FILE" ] || { echo "missing tool: $SIGN_FILE (linux-kbuild-6.1; $NEED_TOOLS_HINT)"; exit 1; }
SHIM=/usr/lib/shim/shimx64.efi
SYSLINUX32=/usr/lib/SYSLINUX.EFI/efi32/syslinux.efi
for f in "$SHIM" "$SYSLINUX32"; do
	[ -f "$f" ] || { echo "missing $f ($NEED_TOOLS_HINT)"; exit 1; }
done
PE_DATA=$SRC/tests/data/pe

stack_redis_start || exit 1
stack_token_init || exit 1

# A key whose software copy is kept, for the comparison with sign-file:
# imported into the token (sensitive, not extractable there).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/kmod-soft.key" 2>/dev/null
softhsm2-util --import "$D/kmod-soft.key" --token "$STACK_TOKEN" --label kmod-soft --id 20 \
	--pin "$STACK_PIN" >/dev/null || { echo "cannot import the kmod test key"; exit 1; }
openssl pkey -in "$D/kmod-soft.key" -pubout -out "$D/kmod-soft.pub.pem"
leaf_cert kmod-soft || exit 1

# Authenticode keys get a chain through an intermediate CA, as code-signing
# certificates have: leaf, then the CA that issued it (UEFI's db and
# sbverify --cert take the leaf or that CA, never a self-signed root in
# the signature).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/ica.key" 2>/dev/null
openssl req -new -key "$D/ica.key" -subj "/O=signet test/CN=signet test code signing CA" 2>/dev/null |
	openssl x509 -req -CA "$D/root.pem" -CAkey "$D/root.key" -days 30 -set_serial 0x1ca \
		-extfile "$D/ext.cnf" -extensions root -out "$D/ica.pem" 2>/dev/null
for k in release release-rsa; do
	openssl x509 -new -subj "/O=signet test/CN=$k authenticode" -force_pubkey "$D/$k.pub.pem" \
		-CA "$D/ica.pem" -CAkey "$D/ica.key" -days 30 -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		-extfile "$D/ext.cnf" -extensions leaf -out "$D/win-$k.crt" 2>/dev/null
	cat "$D/win-$k.crt" "$D/ica.pem" > "$D/win-$k.chain.pem"
done

stack_submitter ci-fw ec '["win-ec","win-rsa","kmod-ec","kmod-rsa","release"]'
stack_config
stack_policy_config '
  .keys["win-ec"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": "'"$D"'/win-release.chain.pem", "formats": ["authenticode"]}
| .keys["win-rsa"] = {"key": "pkcs11:object=release-rsa", "mechanism": "rsa-pkcs1-sha256",
    "certificates": "'"$D"'/win-release-rsa.chain.pem", "formats": ["authenticode"]}
| .keys["kmod-ec"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["kmod"]}
| .keys["kmod-rsa"] = {"key": "pkcs11:object=kmod-soft", "mechanism": "rsa-pkcs1-sha256",
    "certificates": "'"$D"'/kmod-soft.chain.pem", "formats": ["kmod"]}'
if "$SIGNET_AGENT" -c "$D/agent.json" --check > "$D/check.out" 2>&1; then
	ok "signet-agent --check accepts keys for authenticode (ECDSA, RSA PKCS#1) and kmod"
else
	fail "--check" "$D/check.out"
fi
stack_agent_start || exit 1

sj() {
	SIGNET_REDIS=unix://$D/redis.sock SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -w 60 "$@"
}

# --- authenticode ----------------------------------------------------------
# sign_pe KEY IN OUT LABEL: signs, then both verifiers on the output.
sign_pe() {
	local key=$1 in=$2 out=$3 label=$4 leaf
	leaf=$D/win-release.crt
	[ "$key" = win-rsa ] && leaf=$D/win-release-rsa.crt
	if ! sj -k "$key" -f authenticode -o "$out" "$in" > "$D/sj.out" 2>&1; then
		fail "$label: submit-job" "$D/sj.out"
		return
	fi
	if osslsigncode verify -CAfile "$D/root.pem" -in "$out" > "$D/osv.out" 2>&1 &&
		grep -q '^Succeeded' "$D/osv.out"; then
		ok "$label: osslsigncode verify -CAfile ROOT: $(grep -m1 '^Succeeded' "$D/osv.out")"
	else
		fail "$label: osslsigncode verify" "$D/osv.out"
	fi
	if sbverify --cert "$leaf" "$out" > "$D/sbv.out" 2>&1 &&
		grep -q 'Signature verification OK' "$D/sbv.out"; then
		ok "$label: sbverify --cert LEAF: $(grep -m1 'Signature verification OK' "$D/sbv.out")"
	else
		fail "$label: sbverify" "$D/sbv.out"
	fi
}

sign_pe win-ec "$SHIM" "$D/shim-ec.efi" "shimx64.efi (PE32+, UEFI), ECDSA P-256"
sign_pe win-rsa "$SHIM" "$D/shim-rsa.efi" "shimx64.efi (PE32+, UEFI), RSA-3072 PKCS#1 v1.5"
sign_pe win-ec "$SYSLINUX32" "$D/syslinux32-ec.efi" "syslinux.efi (PE32, UEFI ia32), ECDSA P-256"
sign_pe win-rsa "$SYSLINUX32" "$D/syslinux32-rsa.efi" "syslinux.efi (PE32, UEFI ia32), RSA"
sign_pe win-ec "$PE_DATA/tiny32.exe" "$D/tiny32.exe" "tiny32.exe (PE32, Windows), ECDSA P-256"
sign_pe win-rsa "$PE_DATA/tiny64.efi" "$D/tiny64.efi" "tiny64.efi (PE32+), RSA"

# The chain embedded is the configured one, leaf first.
osslsigncode extract-signature -pem -in "$D/shim-ec.efi" -out "$D/shim-ec.p7.pem" >/dev/null 2>&1
openssl pkcs7 -in "$D/shim-ec.p7.pem" -print_certs 2>/dev/null | grep -E '^(subject|issuer)' > "$D/chain.got"
for c in "$D/win-release.crt" "$D/ica.pem"; do
	openssl x509 -in "$c" -noout -subject -issuer
done | sed 's/^\(subject\|issuer\)=/\1=/' > "$D/chain.want"
if diff -q <(sed 's/ = /=/g; s/, /,/g' "$D/chain.got") <(sed 's/ = /=/g; s/, /,/g' "$D/chain.want") >/dev/null; then
	ok "the embedded certificates are the configured chain, in its order"
else
	fail "embedded chain"; diff "$D/chain.got" "$D/chain.want" | head -10
fi

# A byte flipped inside the signed image: both verifiers refuse it.
python3 - "$D/shim-ec.efi" "$D/shim-flip.efi" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[0x1000] ^= 0x01
open(sys.argv[2], 'wb').write(b)
PY
osslsigncode verify -CAfile "$D/root.pem" -in "$D/shim-flip.efi" > "$D/flip1.out" 2>&1
r1=$?
sbverify --cert "$D/win-release.crt" "$D/shim-flip.efi" > "$D/flip2.out" 2>&1
r2=$?
if [ "$r1" != 0 ] && [ "$r2" != 0 ] && ! grep -q '^Succeeded' "$D/flip1.out"; then
	ok "a byte flipped in the image: osslsigncode ($(grep -m1 -i 'mismatch\|failed' "$D/flip1.out" | head -c 80)) and sbverify both refuse"
else
	fail "flipped image accepted (osslsigncode $r1, sbverify $r2)" "$D/flip1.out"
fi

# In place: FILE replaced, its mode kept; signed again only with --replace-signature.
cp "$SHIM" "$D/inplace.efi"
chmod 0751 "$D/inplace.efi"
if sj -k win-ec -f authenticode "$D/inplace.efi" > "$D/ip.out" 2>&1 &&
	[ "$(stat -c %a "$D/inplace.efi")" = 751 ] &&
	osslsigncode verify -CAfile "$D/root.pem" -in "$D/inplace.efi" 2>&1 | grep -q '^Succeeded'; then
	ok "without -o, FILE is replaced by the signed image, mode 751 kept"
else
	fail "in-place signing" "$D/ip.out"
fi
cp "$D/inplace.efi" "$D/inplace.before"
sj -k win-ec -f authenticode "$D/inplace.efi" > "$D/again.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "already signed; --replace-signature" "$D/again.out" &&
	cmp -s "$D/inplace.efi" "$D/inplace.before"; then
	ok "an image already signed: exit 2, untouched: $(head -1 "$D/again.out")"
else
	fail "already signed (exit $rc)" "$D/again.out"
fi
if sj -k win-rsa -f authenticode --replace-signature "$D/inplace.efi" > "$D/repl.out" 2>&1 &&
	sbverify --cert "$D/win-release-rsa.crt" "$D/inplace.efi" > "$D/repl.sbv" 2>&1 &&
	osslsigncode verify -CAfile "$D/root.pem" -in "$D/inplace.efi" > "$D/repl.osv" 2>&1 &&
	grep -q 'Number of verified signatures: 1$' "$D/repl.osv" &&
	[ "$(grep -c 'CN=release-rsa authenticode' "$D/repl.osv")" -ge 1 ] &&
	! grep -q 'CN=release authenticode' "$D/repl.osv"; then
	ok "--replace-signature: the old signature is gone, the new one verifies (one signer)"
else
	fail "--replace-signature" "$D/repl.out"
fi
# The description and URL reach SpcSpOpusInfo.
if sj -k win-ec -f authenticode --description "signet test image" --url "https://example.com/fw" \
	-o "$D/opus.efi" "$PE_DATA/tiny64.efi" > "$D/opus.out" 2>&1 &&
	osslsigncode verify -CAfile "$D/root.pem" -in "$D/opus.efi" > "$D/opus.v" 2>&1 &&
	grep -q 'signet test image' "$D/opus.v" && grep -q 'https://example.com/fw' "$D/opus.v"; then
	ok "--description and --url appear in osslsigncode's output"
else
	fail "description and URL" "$D/opus.v"
fi

# Hostile images: exit 2 with a message naming what is wrong; nothing written.
n=0 bad=0
for f in "$PE_DATA"/hostile/*.exe "$PE_DATA"/hostile/*.efi; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	rm -f "$D/hostile.out.efi"
	sj -k win-ec -f authenticode -o "$D/hostile.out.efi" "$f" > "$D/h.out" 2>&1
	rc=$?
	if [ "$rc" != 2 ] || [ -e "$D/hostile.out.efi" ] || ! grep -q "is not a PE image that can be signed: " "$D/h.out"; then
		bad=$((bad + 1))
		echo "       $(basename "$f"): exit $rc: $(head -1 "$D/h.out")"
	fi
done
if [ "$n" -gt 0 ] && [ "$bad" = 0 ]; then
	ok "$n hostile PE images: each exit 2 with the reason, nothing written (e.g. $(head -1 "$D/h.out" | cut -c1-120))"
else
	fail "hostile PE images: $bad of $n misbehaved"
fi
if sj -k win-ec -f authenticode -o "$D/x.efi" "$D/ci-fw.pub" > "$D/notpe.out" 2>&1; [ $? = 2 ]; then
	ok "a file that is not PE at all: exit 2: $(head -1 "$D/notpe.out" | cut -c1-120)"
else
	fail "non-PE input" "$D/notpe.out"
fi
# A format the key does not list.
sj -k win-ec -f cms -o "$D/x.p7s" "$SHIM" > "$D/fmt.out" 2>&1
if [ $? = 1 ] && grep -q "policy.format_not_allowed" "$D/fmt.out"; then
	ok "cms with a key that lists only authenticode: policy.format_not_allowed"
else
	fail "format not allowed" "$D/fmt.out"
fi

# --- kmod ------------------------------------------------------------------
cat > "$D/hello.c" <<'C'
int init_module(void) { return 0; }
void cleanup_module(void) {}
static const char modinfo[] __attribute__((section(".modinfo"), used)) =
	"license=GPL\0description=signet test module\0name=hello\0vermagic=6.1.0 SMP mod_unload \0";
C
gcc -c -O2 -o "$D/hello.ko" "$D/hello.c" || { fail "cannot build the test module"; summary; exit 1; }
cp "$D/hello.ko" "$D/hello.unsigned.ko"

# kmod_trailer SIGNED OUT_P7S OUT_UNSIGNED: splits a signed module.
kmod_split() {
	python3 - "$@" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
marker = b"~Module signature appended~\n"
assert b.endswith(marker), "no marker"
info = b[-len(marker) - 12:-len(marker)]
algo, hash_, id_type, signer_len, key_id_len, siglen = struct.unpack(">BBBBB3xI", info)
assert id_type == 2, id_type
end = len(b) - len(marker) - 12
open(sys.argv[2], 'wb').write(b[end - siglen:end])
open(sys.argv[3], 'wb').write(b[:end - siglen])
PY
}

for key in kmod-ec kmod-rsa; do
	leaf=$D/release.crt
	[ "$key" = kmod-rsa ] && leaf=$D/kmod-soft.crt
	cp "$D/hello.unsigned.ko" "$D/$key.ko"
	if ! sj -k "$key" -f kmod "$D/$key.ko" > "$D/k.out" 2>&1; then
		fail "$key: submit-job -f kmod" "$D/k.out"
		continue
	fi
	kmod_split "$D/$key.ko" "$D/$key.p7s" "$D/$key.body"
	if cmp -s "$D/$key.body" "$D/hello.unsigned.ko" &&
		openssl cms -verify -binary -inform DER -in "$D/$key.p7s" -content "$D/hello.unsigned.ko" \
			-certfile "$leaf" -CAfile "$D/root.pem" -purpose any -out /dev/null > "$D/kv.out" 2>&1 &&
		grep -q 'Verification successful' "$D/kv.out"; then
		ok "$key: openssl cms -verify over the unsigned module: $(cat "$D/kv.out")"
	else
		fail "$key: openssl cms -verify" "$D/kv.out"
	fi
	if modinfo "$D/$key.ko" > "$D/mi.out" 2>&1 && grep -q '^sig_id: *PKCS#7' "$D/mi.out" &&
		grep -q '^sig_hashalgo: *sha256' "$D/mi.out"; then
		ok "$key: modinfo reads the signature ($(grep -E '^(sig_id|sig_hashalgo)' "$D/mi.out" | tr -s ' ' | paste -sd' '))"
	else
		fail "$key: modinfo" "$D/mi.out"
	fi
done
# Byte-identical to sign-file with the same (deterministic RSA PKCS#1) key.
cp "$D/hello.unsigned.ko" "$D/hello.sf.ko"
"$SIGN_FILE" sha256 "$D/kmod-soft.key" "$D/kmod-soft.crt" "$D/hello.sf.ko" 2>"$D/sf.err"
if cmp "$D/hello.sf.ko" "$D/kmod-rsa.ko" > "$D/cmp.out" 2>&1; then
	ok "kmod-rsa: byte-identical to the kernel's sign-file with the same key ($(stat -c %s "$D/kmod-rsa.ko") bytes)"
else
	fail "kmod output differs from sign-file's" "$D/cmp.out"
fi
sj -k kmod-ec -f kmod "$D/kmod-rsa.ko" > "$D/ksigned.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "already signed" "$D/ksigned.out"; then
	ok "a signed module: exit 2 without --replace-signature"
else
	fail "signed module (exit $rc)" "$D/ksigned.out"
fi
cp "$D/kmod-rsa.ko" "$D/resign.ko"
if sj -k kmod-ec -f kmod --replace-signature "$D/resign.ko" > "$D/kr.out" 2>&1 &&
	kmod_split "$D/resign.ko" "$D/resign.p7s" "$D/resign.body" && cmp -s "$D/resign.body" "$D/hello.unsigned.ko"; then
	ok "--replace-signature: the module carries one signature, the new one"
else
	fail "kmod --replace-signature" "$D/kr.out"
fi
printf 'not an ELF file\n' > "$D/notelf.ko"
sj -k kmod-ec -f kmod "$D/notelf.ko" > "$D/ne.out" 2>&1
if [ $? = 2 ] && grep -q "is not a kernel module that can be signed" "$D/ne.out"; then
	ok "a file that is not ELF: exit 2: $(head -1 "$D/ne.out" | cut -c1-100)"
else
	fail "non-ELF module" "$D/ne.out"
fi

stack_agent_stop
[ ! -s "$D/agent.failures" ] || fail "the agent exited with status $(cat "$D/agent.failures")" "$D/agent.log"
summary
