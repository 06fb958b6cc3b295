#!/bin/bash
# signet-verify on the formats whose output is the signed file itself
# (docs/formats.md), against a real stack: an Authenticode-signed UEFI image
# (Debian's shimx64.efi, signed here through an intermediate CA) and a
# kernel module built here with gcc, both made by submit-job and checked
# as a consumer holds them: the signed file and its stored result.  The
# genuine files verify, also with the store's signature beside the unsigned
# input (-s); a byte flipped in the image or the module, the result of
# another job, a signature swapped for another attested one, a second
# certificate table entry, a signature edited inside a re-attested result,
# a file of the other format, and a result of a format with a signature
# file of its own are each refused with their exit status and line.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NEED_TOOLS_HINT="sh scripts/deps.sh installs them"
stack_init verify-formats gcc python3 osslsigncode base64 sha256sum
SHIM=/usr/lib/shim/shimx64.efi
[ -f "$SHIM" ] || { echo "missing $SHIM ($NEED_TOOLS_HINT)"; exit 1; }
PE_DATA=$SRC/tests/data/pe

stack_redis_start || exit 1
stack_token_init || exit 1

# The Authenticode key's chain goes through an intermediate CA, as
# code-signing certificates do: the result carries leaf and intermediate,
# -C names the root alone.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/ica.key" 2>/dev/null
openssl req -new -key "$D/ica.key" -subj "/O=signet test/CN=signet test code signing CA" 2>/dev/null |
	openssl x509 -req -CA "$D/root.pem" -CAkey "$D/root.key" -days 30 -set_serial 0x1ca \
		-extfile "$D/ext.cnf" -extensions root -out "$D/ica.pem" 2>/dev/null
openssl x509 -new -subj "/O=signet test/CN=release authenticode" -force_pubkey "$D/release.pub.pem" \
	-CA "$D/ica.pem" -CAkey "$D/ica.key" -days 30 -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
	-extfile "$D/ext.cnf" -extensions leaf -out "$D/win-release.crt" 2>/dev/null
cat "$D/win-release.crt" "$D/ica.pem" > "$D/win-release.chain.pem"

stack_submitter ci-fw ec '["win-ec","kmod-ec","release"]'
stack_config
stack_policy_config '
  .keys["win-ec"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": "'"$D"'/win-release.chain.pem", "formats": ["authenticode"]}
| .keys["kmod-ec"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["kmod"]}'
stack_agent_start || exit 1

RESULT_TYPE=application/vnd.signet.result+json

# sj NAME ARGS...: submit-job with the stack's settings and --json; the
# result payload in $D/NAME.json.
sj() {
	local n=$1
	shift
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -w 60 --json -i "$D/ci-fw.key" "$@" >"$D/$n.json" 2>"$D/$n.sj.err"
}
# stored NAME: the result envelope the agent stored for the job of NAME.
stored() {
	echo "$D/store/$(jq -r .key "$D/$1.json")/$(jq -r .id "$D/$1.json")/result.json"
}
# store_sig NAME: the signature file the agent stored for the job of NAME.
store_sig() {
	jq -r .store.signature "$D/$1.json" | sed 's|^file://||'
}

# sv NAME ARGS...: signet-verify; status in $D/NAME.rc, output in NAME.out/.err
sv() {
	local n=$1
	shift
	"$SIGNET_VERIFY" "$@" >"$D/$n.out" 2>"$D/$n.err"
	echo $? > "$D/$n.rc"
}
# expect NAME STATUS [PATTERN [STREAM]]: the status, and PATTERN (grep -E)
# on stderr (or on stdout with STREAM out).
expect() {
	local n=$1 want=$2 pat=${3:-} stream=${4:-err} got
	got=$(cat "$D/$n.rc")
	if [ "$got" != "$want" ]; then
		fail "$n: exit $got, expected $want" "$D/$n.err"
		return
	fi
	if [ -n "$pat" ] && ! grep -Eq -- "$pat" "$D/$n.$stream"; then
		fail "$n: exit $want but no line matching /$pat/ on std$stream" "$D/$n.$stream"
		return
	fi
	ok "$n: exit $want${pat:+ with /$pat/}"
}
# no_line NAME PATTERN: NAME's stderr has no line matching PATTERN.
no_line() {
	if grep -Eq -- "$2" "$D/$1.err"; then
		fail "$1: unexpected line /$2/" "$D/$1.err"
	else
		ok "$1: no line /$2/"
	fi
}

# resign IN OUT KEY [JQ]: the envelope IN with its payload passed through the
# jq filter JQ (compact output), signed anew with KEY (EC P-256, PEM).
resign() {
	local in=$1 out=$2 key=$3 filter=${4:-.} keyid len
	jq -r .payload "$in" | base64 -d > "$D/rs.payload" || return 1
	jq -j -c "$filter" "$D/rs.payload" > "$D/rs.new" || return 1
	len=$(wc -c < "$D/rs.new")
	{ printf 'DSSEv1 %d %s %d ' ${#RESULT_TYPE} "$RESULT_TYPE" "$len"; cat "$D/rs.new"; } > "$D/rs.pae"
	openssl dgst -sha256 -sign "$key" -out "$D/rs.sig" "$D/rs.pae" || return 1
	keyid=sha256:$(openssl pkey -in "$key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
	jq -n -c --arg t "$RESULT_TYPE" --arg p "$(base64 -w0 "$D/rs.new")" --arg k "$keyid" \
		--arg s "$(base64 -w0 "$D/rs.sig")" \
		'{payloadType: $t, payload: $p, signatures: [{keyid: $k, sig: $s}]}' > "$out"
}

# pe_resign IN OUT P7...: the signed image IN with its certificate table
# replaced by one WIN_CERTIFICATE for each DER PKCS#7 P7 (the CheckSum is
# left as it was: Authenticode does not cover it).
pe_resign() {
	python3 - "$@" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
pe = struct.unpack_from('<I', b, 0x3c)[0]
opt = pe + 24
magic = struct.unpack_from('<H', b, opt)[0]
certdir = opt + (112 if magic == 0x20b else 96) + 4 * 8
off, size = struct.unpack_from('<II', b, certdir)
assert off and off + size == len(b), (off, size, len(b))
table = b''
for name in sys.argv[3:]:
    p7 = open(name, 'rb').read()
    entry = struct.pack('<IHH', 8 + len(p7), 0x0200, 0x0002) + p7
    table += entry + b'\0' * (-len(entry) % 8)
out = b[:off] + table
struct.pack_into('<II', out, certdir, off, len(table))
open(sys.argv[2], 'wb').write(out)
PY
}
# pe_sig_flip IN OUT: IN with the last byte of its embedded PKCS#7 flipped
# (the end of the signer's signature value), and that PKCS#7 in OUT.p7.
pe_sig_flip() {
	python3 - "$@" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
pe = struct.unpack_from('<I', b, 0x3c)[0]
opt = pe + 24
magic = struct.unpack_from('<H', b, opt)[0]
certdir = opt + (112 if magic == 0x20b else 96) + 4 * 8
off, size = struct.unpack_from('<II', b, certdir)
length = struct.unpack_from('<I', b, off)[0]
b[off + length - 1] ^= 0x01
open(sys.argv[2], 'wb').write(b)
open(sys.argv[2] + '.p7', 'wb').write(b[off + 8:off + length])
PY
}
# kmod_split SIGNED OUT_P7S OUT_UNSIGNED: a signed module's two parts.
kmod_split() {
	python3 - "$@" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
marker = b"~Module signature appended~\n"
assert b.endswith(marker), "no marker"
siglen = struct.unpack(">I", b[-len(marker) - 4:-len(marker)])[0]
end = len(b) - len(marker) - 12
open(sys.argv[2], 'wb').write(b[end - siglen:end])
open(sys.argv[3], 'wb').write(b[:end - siglen])
PY
}
# kmod_join UNSIGNED P7S OUT: the module UNSIGNED with the PKCS#7 P7S
# appended as sign-file does.
kmod_join() {
	python3 - "$@" <<'PY'
import struct, sys
mod = open(sys.argv[1], 'rb').read()
p7 = open(sys.argv[2], 'rb').read()
info = struct.pack(">BBBBB3xI", 0, 0, 2, 0, 0, len(p7))
open(sys.argv[3], 'wb').write(mod + p7 + info + b"~Module signature appended~\n")
PY
}
# flip IN OFFSET OUT: IN with one bit of the byte at OFFSET (negative: from
# the end) flipped.
flip() {
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[2])] ^= 1; open(sys.argv[3], "wb").write(b)' "$@"
}

# A test key standing in for the agent's (results re-signed with it carry
# signatures edited on purpose), and another root.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/test.key" 2>/dev/null
openssl pkey -in "$D/test.key" -pubout -out "$D/test.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/other-root.key" 2>/dev/null
openssl req -new -x509 -key "$D/other-root.key" -subj "/O=signet test/CN=another root" -days 30 \
	-out "$D/other-root.pem" 2>/dev/null
common=(-a "$D/agent.pub" -C "$D/root.pem")

# Two modules, built here.
for m in hello hello2; do
	cat > "$D/$m.c" <<C
int init_module(void) { return 0; }
void cleanup_module(void) {}
static const char modinfo[] __attribute__((section(".modinfo"), used)) =
	"license=GPL\0description=signet test module $m\0name=$m\0vermagic=6.1.0 SMP mod_unload \0";
C
	gcc -c -O2 -o "$D/$m.unsigned.ko" "$D/$m.c" || { fail "cannot build the test module $m"; summary; exit 1; }
	cp "$D/$m.unsigned.ko" "$D/$m.ko"
done

# The jobs: shimx64.efi twice (two ECDSA signatures over one image), a tiny
# PE32+ image, the two modules, and a cms signature.
sj pe -k win-ec -f authenticode -o "$D/shim.efi" "$SHIM" || { fail "submit-job authenticode" "$D/pe.sj.err"; exit 1; }
sj pe2 -k win-ec -f authenticode -o "$D/shim2.efi" "$SHIM" || { fail "submit-job authenticode (2)" "$D/pe2.sj.err"; exit 1; }
sj tiny -k win-ec -f authenticode -o "$D/tiny64.efi" "$PE_DATA/tiny64.efi" || { fail "submit-job authenticode (tiny)" "$D/tiny.sj.err"; exit 1; }
sj kmod -k kmod-ec -f kmod "$D/hello.ko" || { fail "submit-job kmod" "$D/kmod.sj.err"; exit 1; }
sj kmod2 -k kmod-ec -f kmod "$D/hello2.ko" || { fail "submit-job kmod (2)" "$D/kmod2.sj.err"; exit 1; }
printf 'release notes\n' > "$D/notes.txt"
sj cms -k release -f cms -o "$D/notes.txt.p7s" "$D/notes.txt" || { fail "submit-job cms" "$D/cms.sj.err"; exit 1; }
PE_RES=$(stored pe)
PE2_RES=$(stored pe2)
TINY_RES=$(stored tiny)
KMOD_RES=$(stored kmod)
KMOD2_RES=$(stored kmod2)
CMS_RES=$(stored cms)
for f in "$PE_RES" "$PE2_RES" "$TINY_RES" "$KMOD_RES" "$KMOD2_RES" "$CMS_RES"; do
	[ -f "$f" ] || { fail "no stored result at $f"; exit 1; }
done
PE_SEQ=$(jq -r .audit.seq "$D/pe.json")
KMOD_SEQ=$(jq -r .audit.seq "$D/kmod.json")
KMOD_SHA=$(jq -r .artifact.sha256 "$D/kmod.json")

# --- authenticode: genuine ---------------------------------------------------

# The image digest that signet-verify names is the one osslsigncode computes.
osslsigncode verify -CAfile "$D/root.pem" -in "$D/shim.efi" > "$D/osv.out" 2>&1
IMG_DIGEST=$(sed -n 's/^Calculated message digest *: *\([0-9A-Fa-f]*\).*/\1/p' "$D/osv.out" | head -1 | tr 'A-F' 'a-f')
[ ${#IMG_DIGEST} = 64 ] || fail "no image digest in osslsigncode's output" "$D/osv.out"

sv pe-ok "${common[@]}" -r "$PE_RES" "$D/shim.efi"
expect pe-ok 0 "^signet-verify: $D/shim.efi: OK, signed by win-ec for ci-fw at [0-9T:-]+Z, audit record $PE_SEQ of [0-9]+; the embedded Authenticode signature covers image digest $IMG_DIGEST \\(the result's artifact.sha256 names the image before signing and is not checked\\)$" out
[ ! -s "$D/pe-ok.err" ] || fail "pe-ok: unexpected stderr" "$D/pe-ok.err"

# A default signature file beside the image is not looked at.
printf 'not a signature' > "$D/shim.efi.p7s"
sv pe-default "${common[@]}" -r "$PE_RES" -q "$D/shim.efi"
expect pe-default 0
rm -f "$D/shim.efi.p7s"

# With the log: the result's tree is the log's.
sv pe-log "${common[@]}" -r "$PE_RES" --log "$D/audit.log" "$D/shim.efi"
expect pe-log 0 "OK, signed by win-ec" out

# The store's .p7 beside the image as it was submitted: artifact.sha256 is
# checked, and the same image digest.
sv pe-detached "${common[@]}" -r "$PE_RES" -s "$(store_sig pe)" "$SHIM"
expect pe-detached 0 "^signet-verify: $SHIM: OK, signed by win-ec for ci-fw at .*; the Authenticode signature covers image digest $IMG_DIGEST$" out

# --- authenticode: refused ---------------------------------------------------

# A byte flipped inside the image: its digest is no longer the signed one.
flip "$D/shim.efi" $((0x1000)) "$D/shim-flip.efi"
sv pe-flip "${common[@]}" -r "$PE_RES" "$D/shim-flip.efi"
expect pe-flip 1 "^signet-verify: signature: the Authenticode signature does not cover .*shim-flip.efi, whose image digest is [0-9a-f]{64}: the content's image digest is not the image's SHA-256$"

# The result of another job over the same image (another ECDSA signature).
sv pe-other-job "${common[@]}" -r "$PE2_RES" "$D/shim.efi"
expect pe-other-job 4 "^signet-verify: attestation: the signature embedded in .*shim.efi is not the signature the agent attested for job $(jq -r .id "$D/pe2.json")$"
no_line pe-other-job "^signet-verify: signature:"
expect pe-other-job 4 "^signet-verify: audit: the audit record's signature_sha256 is not the SHA-256 of the signature in the artifact$"

# The result of a job over another image.
sv pe-other-image "${common[@]}" -r "$TINY_RES" "$D/shim.efi"
expect pe-other-image 4 "^signet-verify: attestation: the signature embedded in .*shim.efi is not the signature the agent attested"

# The signature swapped for another attested one (the tiny image's), with
# its own result: attested, but it covers another image.
pe_resign "$D/shim.efi" "$D/shim-swapped.efi" "$(store_sig tiny)"
sv pe-swapped "${common[@]}" -r "$TINY_RES" "$D/shim-swapped.efi"
expect pe-swapped 1 "^signet-verify: signature: the Authenticode signature does not cover .*shim-swapped.efi, whose image digest is $IMG_DIGEST: the content's image digest is not the image's SHA-256$"
no_line pe-swapped "^signet-verify: attestation:"
# ... and with the image's own result.
sv pe-swapped-own "${common[@]}" -r "$PE_RES" "$D/shim-swapped.efi"
expect pe-swapped-own 4 "^signet-verify: attestation: the signature embedded in .*shim-swapped.efi is not the signature"
# The swap itself is sound: the image's own signature put back verifies.
pe_resign "$D/shim-swapped.efi" "$D/shim-back.efi" "$(store_sig pe)"
sv pe-back "${common[@]}" -r "$PE_RES" -q "$D/shim-back.efi"
expect pe-back 0
# A second certificate table entry after the attested one: refused, as
# nothing signs it.
pe_resign "$D/shim.efi" "$D/shim-two.efi" "$(store_sig pe)" "$(store_sig pe2)"
sv pe-two "${common[@]}" -r "$PE_RES" "$D/shim-two.efi"
expect pe-two 1 "^signet-verify: signature: .*shim-two.efi carries 2 certificate table entries, not the one that signet embeds$"

# A byte of the embedded signature value flipped: not the attested bytes.
pe_sig_flip "$D/shim.efi" "$D/shim-sigflip.efi"
sv pe-sigflip "${common[@]}" -r "$PE_RES" "$D/shim-sigflip.efi"
expect pe-sigflip 4 "^signet-verify: attestation: the signature embedded in .*shim-sigflip.efi is not the signature the agent attested"
# ... and the same edited signature in a result re-attested by the test
# key: the signature itself must be checked, exit 1.
resign "$PE_RES" "$D/pe-sigflip.json" "$D/test.key" ".signature = \"$(base64 -w0 "$D/shim-sigflip.efi.p7")\""
sv pe-sigflip-attested -a "$D/test.pub" -C "$D/root.pem" -r "$D/pe-sigflip.json" "$D/shim-sigflip.efi"
expect pe-sigflip-attested 1 "^signet-verify: signature: the Authenticode signature does not cover .*shim-sigflip.efi, whose image digest is $IMG_DIGEST: the signature does not verify with the leaf's key$"

# Another trust anchor: exit 3.
sv pe-wrong-ca -a "$D/agent.pub" -C "$D/other-root.pem" -r "$PE_RES" "$D/shim.efi"
expect pe-wrong-ca 3 "^signet-verify: chain: the signing certificate does not chain to the trust anchors"

# The unsigned image with the result alone: nothing to check it with.
sv pe-unsigned "${common[@]}" -r "$PE_RES" "$SHIM"
expect pe-unsigned 1 "^signet-verify: signature: $SHIM carries no Authenticode signature \\(an image as it was submitted is checked with --signature and the store's .p7\\)$"
# The signed image with the store's .p7: not the submitted image.
sv pe-signed-detached "${common[@]}" -r "$PE_RES" -s "$(store_sig pe)" "$D/shim.efi"
expect pe-signed-detached 1 "^signet-verify: signature: .*shim.efi is not the image that was submitted: its SHA-256 is [0-9a-f]{64}, the result's [0-9a-f]{64} \\(a signed image is checked without --signature\\)$"

# A signed module with an authenticode result: not a PE image.
sv pe-module "${common[@]}" -r "$PE_RES" "$D/hello.ko"
expect pe-module 1 "^signet-verify: signature: .*hello.ko is not a PE image \\(the result is for an authenticode signature\\): "

# A signed image with the result of another format: a cms result's
# signature is a file of its own.
sv pe-cms-result "${common[@]}" -r "$CMS_RES" "$D/shim.efi"
expect pe-cms-result 2 "^signet-verify: cannot read signature file .*shim.efi.sig: not found; a cms signature is a file of its own, give it with --signature \\(only authenticode and kmod results are checked against the signed file alone\\)$"
sv pe-cms-sig "${common[@]}" -r "$CMS_RES" -s "$D/notes.txt.p7s" "$D/shim.efi"
expect pe-cms-sig 1 "^signet-verify: signature: .*shim.efi is not the signed artifact: its SHA-256 is"
# (the cms result itself verifies its own file)
sv cms-ok "${common[@]}" -r "$CMS_RES" "$D/notes.txt"
expect cms-ok 0 "^signet-verify: $D/notes.txt: OK, signed by release for ci-fw at [0-9T:-]+Z, audit record [0-9]+ of [0-9]+$" out

# --- kmod: genuine -------------------------------------------------------------

sv kmod-ok "${common[@]}" -r "$KMOD_RES" "$D/hello.ko"
expect kmod-ok 0 "^signet-verify: $D/hello.ko: OK, signed by kmod-ec for ci-fw at [0-9T:-]+Z, audit record $KMOD_SEQ of [0-9]+; the appended module signature covers the module without it, SHA-256 $KMOD_SHA as in artifact.sha256$" out
[ ! -s "$D/kmod-ok.err" ] || fail "kmod-ok: unexpected stderr" "$D/kmod-ok.err"
if [ "$KMOD_SHA" = "$(sha256sum < "$D/hello.unsigned.ko" | cut -d' ' -f1)" ]; then
	ok "kmod: artifact.sha256 is the SHA-256 of the module before signing"
else
	fail "kmod: artifact.sha256 $KMOD_SHA is not the unsigned module's"
fi

# The store's .p7s beside the module before signing, and beside the signed
# module (whose own trailer is then not used).
sv kmod-detached "${common[@]}" -r "$KMOD_RES" -s "$(store_sig kmod)" "$D/hello.unsigned.ko"
expect kmod-detached 0 "OK, signed by kmod-ec for ci-fw at .*; the module signature covers the module without any signature, SHA-256 $KMOD_SHA as in artifact.sha256$" out
sv kmod-detached-signed "${common[@]}" -r "$KMOD_RES" -s "$(store_sig kmod)" -q "$D/hello.ko"
expect kmod-detached-signed 0

# --- kmod: refused -------------------------------------------------------------

# A byte flipped in the module (in its ELF body, before the signature).
flip "$D/hello.ko" 100 "$D/hello-flip.ko"
sv kmod-flip "${common[@]}" -r "$KMOD_RES" "$D/hello-flip.ko"
expect kmod-flip 1 "^signet-verify: signature: .*hello-flip.ko is not the signed module: without its signature its SHA-256 is [0-9a-f]{64}, the result's $KMOD_SHA$"

# The result of another job (the other module's).
sv kmod-other-job "${common[@]}" -r "$KMOD2_RES" "$D/hello.ko"
expect kmod-other-job 4 "^signet-verify: attestation: the signature appended to .*hello.ko is not the signature the agent attested for job $(jq -r .id "$D/kmod2.json")$"
expect kmod-other-job 4 "^signet-verify: signature: .*hello.ko is not the signed module"

# The signature swapped for the other module's, with its own result.
kmod_split "$D/hello.ko" "$D/hello.p7s" "$D/hello.body"
kmod_split "$D/hello2.ko" "$D/hello2.p7s" "$D/hello2.body"
kmod_join "$D/hello.body" "$D/hello2.p7s" "$D/hello-swapped.ko"
sv kmod-swapped "${common[@]}" -r "$KMOD2_RES" "$D/hello-swapped.ko"
expect kmod-swapped 1 "^signet-verify: signature: .*hello-swapped.ko is not the signed module: without its signature its SHA-256 is $KMOD_SHA, the result's"
no_line kmod-swapped "^signet-verify: attestation:"
sv kmod-swapped-own "${common[@]}" -r "$KMOD_RES" "$D/hello-swapped.ko"
expect kmod-swapped-own 4 "^signet-verify: attestation: the signature appended to .*hello-swapped.ko is not the signature"
# The split itself is sound: put back together, the module verifies.
kmod_join "$D/hello.body" "$D/hello.p7s" "$D/hello-back.ko"
sv kmod-back "${common[@]}" -r "$KMOD_RES" -q "$D/hello-back.ko"
expect kmod-back 0

# The signature value's last byte flipped, in a result re-attested by the
# test key: the module signature itself must be checked, exit 1.
flip "$D/hello.p7s" -1 "$D/hello-bad.p7s"
kmod_join "$D/hello.body" "$D/hello-bad.p7s" "$D/hello-badsig.ko"
sv kmod-badsig "${common[@]}" -r "$KMOD_RES" "$D/hello-badsig.ko"
expect kmod-badsig 4 "^signet-verify: attestation: the signature appended to .*hello-badsig.ko is not the signature"
resign "$KMOD_RES" "$D/kmod-badsig.json" "$D/test.key" ".signature = \"$(base64 -w0 "$D/hello-bad.p7s")\""
sv kmod-badsig-attested -a "$D/test.pub" -C "$D/root.pem" -r "$D/kmod-badsig.json" "$D/hello-badsig.ko"
expect kmod-badsig-attested 1 "^signet-verify: signature: the module signature does not cover .*hello-badsig.ko, whose SHA-256 without signature is $KMOD_SHA: the signature does not verify with the leaf's key$"

# The unsigned module with the result alone, and a PE image with a kmod result.
sv kmod-unsigned "${common[@]}" -r "$KMOD_RES" "$D/hello.unsigned.ko"
expect kmod-unsigned 1 "^signet-verify: signature: .*hello.unsigned.ko carries no module signature \\(a module without one is checked with --signature and the store's .p7s\\)$"
sv kmod-pe "${common[@]}" -r "$KMOD_RES" "$D/shim.efi"
expect kmod-pe 1 "^signet-verify: signature: .*shim.efi is not a kernel module \\(the result is for a kmod signature\\): "
no_line kmod-pe "^signet-verify: (attestation|audit):"

stack_agent_stop
if [ ! -e "$D/agent.failures" ]; then
	ok "every signet-agent run exited 0 on SIGTERM"
else
	fail "signet-agent exit statuses: $(tr '\n' ' ' < "$D/agent.failures")" "$D/agent.log"
fi
summary
