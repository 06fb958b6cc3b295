#!/bin/bash
# OpenPGP signatures from the HSM (docs/formats.md, "openpgp"), checked with
# gpgv and sqv against the certificate that signet-admin exports: detached
# binary and armored signatures by an ECDSA P-256 and an RSA key, files whose
# length is and is not a multiple of 64 (the state the submitter sends ends
# at a block boundary), text signatures of LF and CR LF files, a cleartext-
# signed document; a tampered file fails; a job created before the key's
# OpenPGP creation time is refused.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NEED_TOOLS_HINT="sh scripts/deps.sh installs them"
stack_init openpgp gpg gpgv sqv
export GNUPGHOME=$D/gnupg
mkdir -m 700 "$GNUPGHOME"

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec '["pgp-ec","pgp-rsa","pgp-future"]'
stack_config
stack_policy_config '
  .keys["pgp-ec"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["openpgp"],
    "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "Release Signing <release@example.com>"}}
| .keys["pgp-rsa"] = {"key": "pkcs11:object=release-rsa", "mechanism": "rsa-pkcs1-sha256",
    "certificates": .keys["release-rsa"].certificates, "formats": ["openpgp"],
    "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "Tarball Signing <tarballs@example.com>"}}
| .keys["pgp-future"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["openpgp"],
    "openpgp": {"created": "2099-01-01T00:00:00Z", "uid": "Future <future@example.com>"}}'

# The certificates, exported while the agent is stopped (the certification
# is recorded in its audit log).
for k in pgp-ec pgp-rsa; do
	if "$ADMIN" openpgp export -c "$D/agent.json" "$k" -o "$D/$k.asc" 2>"$D/$k.export" &&
		"$ADMIN" openpgp export -c "$D/agent.json" "$k" --binary -o "$D/$k.gpg" 2>>"$D/$k.export"; then
		ok "$k: signet-admin openpgp export: $(head -1 "$D/$k.export" | cut -c1-150)"
	else
		fail "$k: export" "$D/$k.export"
	fi
done
if gpg --show-keys "$D/pgp-ec.asc" > "$D/show.out" 2>&1 &&
	grep -q 'Release Signing <release@example.com>' "$D/show.out"; then
	ok "gpg --show-keys lists the exported certificate: $(grep -m1 '^uid' "$D/show.out" | tr -s ' ')"
else
	fail "gpg --show-keys" "$D/show.out"
fi
stack_agent_start || exit 1

sj() {
	SIGNET_REDIS=unix://$D/redis.sock SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -w 60 "$@"
}

# check KEY FILE SIG LABEL: gpgv and sqv accept SIG over FILE.
check() {
	local key=$1 file=$2 sig=$3 label=$4 g s
	if gpgv --keyring "$D/$key.gpg" "$sig" "$file" > "$D/gpgv.out" 2>&1; then
		g=$(grep -m1 'Good signature' "$D/gpgv.out" | sed 's/^gpgv: //')
	else
		fail "$label: gpgv" "$D/gpgv.out"
		return
	fi
	if sqv --keyring "$D/$key.asc" "$sig" "$file" > "$D/sqv.out" 2>&1; then
		s=$(head -1 "$D/sqv.out")
	else
		fail "$label: sqv" "$D/sqv.out"
		return
	fi
	ok "$label: gpgv: $g; sqv: $s"
}

head -c 1000 /dev/urandom > "$D/r1000.bin"
head -c 128 /dev/urandom > "$D/r128.bin"
: > "$D/empty.bin"
for key in pgp-ec pgp-rsa; do
	for f in r1000 r128 empty; do
		if sj -k "$key" -f openpgp "$D/$f.bin" > "$D/sj.out" 2>&1 && [ -s "$D/$f.bin.sig" ]; then
			check "$key" "$D/$f.bin" "$D/$f.bin.sig" "$key: binary signature of $f.bin ($(stat -c %s "$D/$f.bin") bytes)"
		else
			fail "$key: submit-job -f openpgp $f.bin" "$D/sj.out"
		fi
		rm -f "$D/$f.bin.sig"
	done
	if sj -k "$key" -f openpgp --armor "$D/r1000.bin" > "$D/sj.out" 2>&1 &&
		grep -q '^-----BEGIN PGP SIGNATURE-----$' "$D/r1000.bin.asc"; then
		check "$key" "$D/r1000.bin" "$D/r1000.bin.asc" "$key: armored signature (FILE.asc)"
	else
		fail "$key: --armor" "$D/sj.out"
	fi
	rm -f "$D/r1000.bin.asc"
done

# A tampered file.
sj -k pgp-ec -f openpgp -o "$D/t.sig" "$D/r1000.bin" > /dev/null 2>&1
cp "$D/r1000.bin" "$D/tampered.bin"
printf '\001' | dd of="$D/tampered.bin" bs=1 seek=500 conv=notrunc 2>/dev/null
if ! gpgv --keyring "$D/pgp-ec.gpg" "$D/t.sig" "$D/tampered.bin" > "$D/bad.out" 2>&1 &&
	grep -q 'BAD signature' "$D/bad.out" &&
	! sqv --keyring "$D/pgp-ec.asc" "$D/t.sig" "$D/tampered.bin" > "$D/bad2.out" 2>&1; then
	ok "a byte changed in the file: gpgv says $(grep -o 'BAD signature' "$D/bad.out"), sqv refuses ($(head -1 "$D/bad2.out" | cut -c1-60))"
else
	fail "tampered file accepted" "$D/bad.out"
fi

# signet-verify checks the other formats; for an OpenPGP result it says
# which tools check this one.
sj -k pgp-ec -f openpgp -o "$D/rv.sig" --result-out "$D/rv.json" "$D/r1000.bin" > /dev/null 2>&1
"$SIGNET_VERIFY" -r "$D/rv.json" -a "$D/agent.pub" -C "$D/root.pem" -s "$D/rv.sig" "$D/r1000.bin" > "$D/sv.out" 2>&1
svrc=$?
if [ "$svrc" = 1 ] && grep -q 'checked with gpgv or sqv' "$D/sv.out"; then
	ok "signet-verify on an OpenPGP result: exit 1, $(grep -o 'an OpenPGP signature is checked with gpgv or sqv[^;]*' "$D/sv.out" | head -1)"
else
	fail "signet-verify on an OpenPGP result (exit $svrc)" "$D/sv.out"
fi

# Text signatures: LF and CR LF files; gpgv and sqv canonicalize themselves.
printf 'line one\nline two  \n\nlast\n' > "$D/lf.txt"
printf 'line one\r\nline two  \r\n\r\nlast\r\n' > "$D/crlf.txt"
for f in lf crlf; do
	if sj -k pgp-rsa -f openpgp --text "$D/$f.txt" > "$D/sj.out" 2>&1; then
		check pgp-rsa "$D/$f.txt" "$D/$f.txt.sig" "text signature (type 0x01) of a $f file"
	else
		fail "--text $f" "$D/sj.out"
	fi
done
# The same text in either line ending: one text signature verifies both.
if gpgv --keyring "$D/pgp-rsa.gpg" "$D/lf.txt.sig" "$D/crlf.txt" >/dev/null 2>&1; then
	ok "the text signature of the LF file verifies the CR LF file too (canonical text)"
else
	fail "text canonicalization across line endings"
fi
printf 'a\rb\n' > "$D/cr.txt"
sj -k pgp-rsa -f openpgp --text "$D/cr.txt" > "$D/cr.out" 2>&1
if [ $? = 2 ] && grep -q 'carriage return that does not end a line' "$D/cr.out"; then
	ok "a text with a lone CR is refused for --text (exit 2): $(cut -c1-110 "$D/cr.out")"
else
	fail "lone CR" "$D/cr.out"
fi

# A cleartext-signed document (what APT's InRelease is).
printf 'Origin: signet test\nLabel: test\n-----BEGIN PGP SIGNATURE----- (a dash line)\nSuite: stable\n' > "$D/Release"
if sj -k pgp-ec -f openpgp --clearsign -o "$D/InRelease" "$D/Release" > "$D/cs.out" 2>&1 &&
	head -2 "$D/InRelease" | grep -q '^Hash: SHA256$' && grep -q '^- -----BEGIN PGP SIGNATURE----- (a dash line)$' "$D/InRelease" &&
	gpgv --keyring "$D/pgp-ec.gpg" "$D/InRelease" > "$D/csv.out" 2>&1; then
	ok "--clearsign: a cleartext document (Hash: SHA256, dash-escaped) that gpgv accepts: $(grep -m1 'Good signature' "$D/csv.out" | sed 's/^gpgv: //')"
else
	fail "--clearsign" "$D/csv.out"
	cat "$D/cs.out"
fi
if gpg --batch --decrypt "$D/InRelease" 2>/dev/null | cmp -s - "$D/Release"; then
	ok "gpg --decrypt of the cleartext document gives back the file"
else
	fail "cleartext content"
fi

# The key's OpenPGP creation time bounds the signatures it can make.
sj -k pgp-future -f openpgp "$D/r128.bin" > "$D/fut.out" 2>&1
if [ $? = 1 ] && grep -q "job.malformed: job created .*, before key pgp-future's OpenPGP key (created 2099-01-01T00:00:00Z)" "$D/fut.out"; then
	ok "a job created before the key's OpenPGP creation time: $(grep -o 'job.malformed.*' "$D/fut.out")"
else
	fail "job before the key's creation" "$D/fut.out"
fi
if sj -k pgp-ec -f raw "$D/r128.bin" > "$D/raw.out" 2>&1; [ $? = 1 ] && grep -q policy.format_not_allowed "$D/raw.out"; then
	ok "raw on an openpgp key: policy.format_not_allowed"
else
	fail "raw on an openpgp key" "$D/raw.out"
fi

stack_agent_stop
if "$ADMIN" audit verify "$D/audit.log" --signer-journal "$D/audit.log.signer" > "$D/av.out" 2>&1; then
	ok "signet-admin audit verify: log and signer journal agree"
else
	fail "audit verify" "$D/av.out"
fi
[ ! -s "$D/agent.failures" ] || fail "the agent exited with status $(cat "$D/agent.failures")" "$D/agent.log"
summary
