#!/bin/bash
# signet-admin openpgp export against a real stack (docs/admin.md, "OpenPGP
# certificates"): the certificates of an ECDSA P-256 and an RSA key whose
# formats list openpgp, made through the token while the agent is stopped;
# gpg --show-keys lists the user ID and the fingerprint the command printed;
# the armored form is the binary one armored; a second RSA export gives the
# same bytes; the certification is in the audit log as a record of its own
# (fingerprint, user ID, the SHA-256 of the certificate, the signature
# packet); the binary certificate is a keyring for gpgv and the armored one
# for sqv, both verifying signatures that submit-job -f openpgp obtains from
# the agent started afterwards; an export while the agent runs is refused
# and adds nothing; a key without openpgp, an unknown key, a token key that
# is not the leaf certificate's and a user that cannot read the PIN file are
# refused with a message; rpmkeys --import takes the armored form; the log
# with the new records still passes signet-admin audit verify
# --signer-journal and the agent's start-up check.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NEED_TOOLS_HINT="sh scripts/deps.sh installs them"
stack_init admin_openpgp gpg gpgv sqv rpmkeys
export GNUPGHOME=$D/gnupg
mkdir -m 700 "$GNUPGHOME"

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec '["pgp-ec","pgp-rsa"]'
stack_config
stack_policy_config '
  .keys["pgp-ec"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["openpgp"],
    "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "Release Signing <release@example.com>"}}
| .keys["pgp-rsa"] = {"key": "pkcs11:object=release-rsa", "mechanism": "rsa-pkcs1-sha256",
    "certificates": .keys["release-rsa"].certificates, "formats": ["openpgp"],
    "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "Tarball Signing <tarballs@example.com>"}}'
LOG=$D/audit.log
records() { if [ -f "$LOG" ]; then wc -l < "$LOG"; else echo 0; fi; }

# expect_fail NAME PATTERN CMD...: exit status 1, PATTERN on stderr, and
# no record added to the audit log.
expect_fail() {
	local name=$1 pat=$2 rc before
	shift 2
	before=$(records)
	"$@" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -q -- "$pat" "$D/err" && [ ! -s "$D/out" ] && [ "$(records)" = "$before" ]; then
		ok "$name: $(cut -c1-240 "$D/err")"
	else
		echo "exit $rc, records $before -> $(records)" >> "$D/err"
		fail "$name" "$D/err"
	fi
}

# --- export, with the agent stopped -------------------------------------------
declare -A FPR UID_OF
UID_OF[pgp-ec]="Release Signing <release@example.com>"
UID_OF[pgp-rsa]="Tarball Signing <tarballs@example.com>"
for k in pgp-ec pgp-rsa; do
	if "$ADMIN" openpgp export -c "$D/agent.json" "$k" -o "$D/$k.asc" 2>"$D/$k.err" &&
		"$ADMIN" openpgp export -c "$D/agent.json" "$k" --binary -o "$D/$k.gpg" 2>>"$D/$k.err" &&
		[ "$(wc -l < "$D/$k.err")" = 2 ]; then
		ok "$k: exported: $(head -1 "$D/$k.err")"
	else
		fail "$k: openpgp export" "$D/$k.err"
		continue
	fi
	FPR[$k]=$(head -1 "$D/$k.err" | sed -n 's/.*OpenPGP key \([0-9A-F]\{40\}\) .*/\1/p')
	line="signet-admin: key $k: OpenPGP key ${FPR[$k]} \"${UID_OF[$k]}\", certified at 2026-01-01T00:00:00Z; recorded in $LOG (record "
	if [ -n "${FPR[$k]}" ] && [ "$(head -c ${#line} "$D/$k.err")" = "$line" ] &&
		grep -q "(record [0-9]*)$" "$D/$k.err"; then
		ok "$k: the line names the fingerprint, the user ID, the certification time, the log and the record"
	else
		fail "$k: stderr line" "$D/$k.err"
	fi
	if [ "$(head -1 "$D/$k.asc")" = "-----BEGIN PGP PUBLIC KEY BLOCK-----" ] &&
		[ "$(tail -1 "$D/$k.asc")" = "-----END PGP PUBLIC KEY BLOCK-----" ] &&
		[ "$(stat -c %a "$D/$k.asc")" = 644 ] && [ "$(stat -c %a "$D/$k.gpg")" = 644 ] &&
		! grep -q BEGIN "$D/$k.gpg"; then
		ok "$k: -o writes the armored PUBLIC KEY BLOCK, --binary the packets, both mode 0644"
	else
		fail "$k: output forms" "$D/$k.asc"
	fi
	for f in asc gpg; do
		if gpg --batch --with-colons --show-keys "$D/$k.$f" > "$D/show.out" 2>&1 &&
			[ "$(grep -c '^fpr:' "$D/show.out")" = 1 ] &&
			[ "$(grep '^fpr:' "$D/show.out" | cut -d: -f10)" = "${FPR[$k]}" ] &&
			[ "$(grep '^uid:' "$D/show.out" | cut -d: -f10)" = "${UID_OF[$k]}" ] &&
			[ "$(grep '^pub:' "$D/show.out" | cut -d: -f6)" = 1767225600 ]; then
			gpg --batch --show-keys "$D/$k.$f" > "$D/show.txt" 2>&1
			ok "$k.$f: gpg --show-keys: $(tr -s ' \n' ' ' < "$D/show.txt")"
		else
			fail "$k.$f: gpg --show-keys" "$D/show.out"
		fi
	done
	# The self-signature checks out for gpg (--check-sigs: "sig!").
	if gpg --batch --import "$D/$k.gpg" > "$D/imp.out" 2>&1 &&
		gpg --batch --check-sigs "${FPR[$k]}" > "$D/cs.out" 2>&1 && grep -q '^sig!' "$D/cs.out"; then
		ok "$k: gpg --check-sigs: $(grep -m1 '^sig!' "$D/cs.out" | tr -s ' ')"
	else
		cat "$D/imp.out" >> "$D/cs.out"
		fail "$k: gpg --check-sigs" "$D/cs.out"
	fi
done

# The two forms hold the same certificate (for RSA; ECDSA signs with a
# random nonce, so each export of it differs in the signature alone).
if gpg --batch --dearmor < "$D/pgp-rsa.asc" | cmp -s - "$D/pgp-rsa.gpg" &&
	"$ADMIN" openpgp export -c "$D/agent.json" pgp-rsa --binary > "$D/pgp-rsa.again" 2>/dev/null &&
	cmp -s "$D/pgp-rsa.gpg" "$D/pgp-rsa.again"; then
	ok "RSA: the armored export dearmors to the binary one, and a third export (to stdout) is byte-identical"
else
	fail "RSA: deterministic export"
fi
# --- the audit records --------------------------------------------------------
jq -c 'select(.event == "certification")' "$LOG" > "$D/cert.jsonl" 2>"$D/jq.err"
if [ "$(wc -l < "$D/cert.jsonl")" = 5 ] && [ "$(records)" = 5 ]; then
	ok "5 exports, 5 certification records (the log held nothing else)"
else
	fail "certification records" "$LOG"
fi
# The record of the binary RSA export: the certificate's SHA-256, and the
# signature packet that ends it.
rec=$(sed -n 4p "$D/cert.jsonl")
sigpkt_len=$(printf '%s' "$rec" | jq -r .signature | base64 -d | wc -c)
if [ "$(printf '%s' "$rec" | jq -r '[.key, .format, .fingerprint, .uid, .certified] | join("|")')" = \
	"pgp-rsa|openpgp|${FPR[pgp-rsa]}|${UID_OF[pgp-rsa]}|2026-01-01T00:00:00Z" ] &&
	[ "$(printf '%s' "$rec" | jq -r .certificate_sha256)" = "$(sha256sum < "$D/pgp-rsa.gpg" | cut -d' ' -f1)" ] &&
	printf '%s' "$rec" | jq -r .signature | base64 -d | cmp -s - <(tail -c "$sigpkt_len" "$D/pgp-rsa.gpg") &&
	[ "$(printf '%s' "$rec" | jq -r .signature | base64 -d | sha256sum | cut -d' ' -f1)" = "$(printf '%s' "$rec" | jq -r .signature_sha256)" ] &&
	[ "$(printf '%s' "$rec" | jq -r '.seq')" = 4 ]; then
	ok "record 4: $(printf '%s' "$rec" | jq -c 'del(.signature, .prev) | .signature = "<\(.signature_sha256 | .[0:8])...: the \('"$sigpkt_len"')-byte signature packet that ends the certificate>"' | cut -c1-600)"
else
	echo "$rec" > "$D/rec.out"
	fail "the certification record" "$D/rec.out"
fi
# ECDSA: the two exports (records 1 and 2) hold the same public key, user
# ID and hashed fields; only the signature packet at the end differs.
ec1=$(sed -n 1p "$D/cert.jsonl" | jq -r .signature | base64 -d | wc -c)
ec2=$(sed -n 2p "$D/cert.jsonl" | jq -r .signature | base64 -d | wc -c)
gpg --batch --dearmor < "$D/pgp-ec.asc" > "$D/pgp-ec.dearmored"
if [ "$(sed -n 1p "$D/cert.jsonl" | jq -r .certificate_sha256)" = "$(sha256sum < "$D/pgp-ec.dearmored" | cut -d' ' -f1)" ] &&
	cmp -s <(head -c "-$ec1" "$D/pgp-ec.dearmored") <(head -c "-$ec2" "$D/pgp-ec.gpg") &&
	! cmp -s "$D/pgp-ec.dearmored" "$D/pgp-ec.gpg"; then
	ok "ECDSA: two exports differ in their signature packets alone (a random nonce each)"
else
	fail "ECDSA: the two exports"
fi
if "$ADMIN" audit verify "$LOG" > "$D/av0.out" 2>&1; then
	ok "audit verify of the log the exports wrote: $(cat "$D/av0.out")"
else
	fail "audit verify after export" "$D/av0.out"
fi

# --- refusals -----------------------------------------------------------------
expect_fail "a key whose formats do not list openpgp is refused" \
	'key release: its formats (raw, cms) do not list openpgp' \
	"$ADMIN" openpgp export -c "$D/agent.json" release
expect_fail "an unknown key is refused, with the configuration's keys" \
	'no key "nosuch"; its keys: release release-rsa release-pk1 pgp-ec pgp-rsa' \
	"$ADMIN" openpgp export -c "$D/agent.json" nosuch
if "$ADMIN" openpgp export -c "$D/agent.json" > /dev/null 2>&1; [ $? = 2 ] &&
	"$ADMIN" openpgp export pgp-ec > /dev/null 2>&1; [ $? = 2 ] &&
	"$ADMIN" openpgp export -c "$D/agent.json" pgp-ec --bogus > /dev/null 2>&1; [ $? = 2 ]; then
	ok "usage errors (no KEY, no -c, an unknown option): exit 2"
else
	fail "usage errors"
fi
# A token key that is not the leaf certificate's (the attestation key with
# the release key's certificate): nothing is signed.
stack_policy_config '.keys["pgp-ec"].key = "pkcs11:object=attest"' "$D/agent.mismatch.json"
expect_fail "a token key that is not the leaf certificate's is refused before signing" \
	"key pgp-ec: the token's key pkcs11:object=attest is not the key of the leaf certificate in $D/release.chain.pem: nothing signed" \
	"$ADMIN" openpgp export -c "$D/agent.mismatch.json" pgp-ec
# A user that cannot read the PIN file (the signer's, with pkcs11.user).
stack_policy_config '.pkcs11.user = "nobody"' "$D/agent.pkcs11user.json"
if [ "$(id -u)" = 0 ]; then
	chmod 711 "$D"
	expect_fail "a user that cannot read the PIN file is told whom to run as" \
		"cannot read the PIN file $D/pin (pkcs11.pin_file): Permission denied; the certification is made in the HSM: run it as root or as the signer's user nobody (pkcs11.user)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$ADMIN" openpgp export \
		-c "$D/agent.pkcs11user.json" pgp-ec
	chmod 700 "$D"
else
	chmod 000 "$D/pin"
	expect_fail "a user that cannot read the PIN file is told whom to run as" \
		"cannot read the PIN file $D/pin (pkcs11.pin_file): Permission denied" \
		"$ADMIN" openpgp export -c "$D/agent.pkcs11user.json" pgp-ec
	chmod 600 "$D/pin"
fi

# --- with the agent running ---------------------------------------------------
stack_agent_start || exit 1
expect_fail "an export while the agent runs is refused, naming it" \
	"key pgp-ec: the audit log $LOG is held by signet-agent (pid $STACK_AGENT_PID, since .*): stop the agent while exporting" \
	"$ADMIN" openpgp export -c "$D/agent.json" pgp-ec -o "$D/while-running.asc"
if [ ! -e "$D/while-running.asc" ]; then
	ok "nothing written by the refused export"
else
	fail "the refused export wrote its output"
fi

sj() {
	SIGNET_REDIS=unix://$D/redis.sock SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -w 60 "$@"
}
head -c 1000 /dev/urandom > "$D/data.bin"
for k in pgp-ec pgp-rsa; do
	rm -f "$D/data.bin.sig"
	if ! sj -k "$k" -f openpgp "$D/data.bin" > "$D/sj.out" 2>&1 || [ ! -s "$D/data.bin.sig" ]; then
		fail "$k: submit-job -f openpgp" "$D/sj.out"
		continue
	fi
	if gpgv --keyring "$D/$k.gpg" "$D/data.bin.sig" "$D/data.bin" > "$D/gpgv.out" 2>&1 &&
		grep -q "Good signature from \"${UID_OF[$k]}\"" "$D/gpgv.out" &&
		grep -q "using .* key ${FPR[$k]}" "$D/gpgv.out"; then
		ok "$k: gpgv --keyring $k.gpg: $(grep -E 'using|Good' "$D/gpgv.out" | sed 's/^gpgv: //' | tr '\n' ' ')"
	else
		fail "$k: gpgv --keyring (binary)" "$D/gpgv.out"
	fi
	if sqv --keyring "$D/$k.asc" "$D/data.bin.sig" "$D/data.bin" > "$D/sqv.out" 2>&1 &&
		[ "$(cat "$D/sqv.out")" = "${FPR[$k]}" ]; then
		ok "$k: sqv --keyring $k.asc prints $(cat "$D/sqv.out")"
	else
		fail "$k: sqv --keyring (armored)" "$D/sqv.out"
	fi
	if sqv --keyring "$D/$k.gpg" "$D/data.bin.sig" "$D/data.bin" > "$D/sqv2.out" 2>&1 &&
		[ "$(cat "$D/sqv2.out")" = "${FPR[$k]}" ]; then
		ok "$k: sqv takes the binary form too"
	else
		fail "$k: sqv --keyring (binary)" "$D/sqv2.out"
	fi
	# gpgv's --keyring takes only the binary form (a keybox or keyring).
	if ! gpgv --keyring "$D/$k.asc" "$D/data.bin.sig" "$D/data.bin" > "$D/gpgv2.out" 2>&1 &&
		grep -q "No public key" "$D/gpgv2.out"; then
		ok "$k: gpgv cannot use the armored form as a keyring: $(grep -E 'invalid packet|No public key' "$D/gpgv2.out" | sort -u | sed 's/^gpgv: //' | tr '\n' ' ')"
	else
		fail "$k: gpgv accepted an armored keyring (update docs/admin.md)" "$D/gpgv2.out"
	fi
done

# rpm takes the armored form (rpmkeys --import; binary is refused).
mkdir -p "$D/rpmroot"
if rpmkeys --root "$D/rpmroot" --import "$D/pgp-rsa.asc" > "$D/rpm.out" 2>&1 &&
	rpm --root "$D/rpmroot" -q gpg-pubkey --qf '%{version}-%{release} %{summary}\n' > "$D/rpmq.out" 2>&1 &&
	grep -qi "$(printf '%s' "${FPR[pgp-rsa]}" | tail -c 8)" "$D/rpmq.out"; then
	ok "rpmkeys --import of the armored certificate: $(head -1 "$D/rpmq.out")"
else
	cat "$D/rpm.out" >> "$D/rpmq.out"
	fail "rpmkeys --import (armored)" "$D/rpmq.out"
fi
if ! rpmkeys --root "$D/rpmroot" --import "$D/pgp-ec.gpg" > "$D/rpm2.out" 2>&1; then
	ok "rpmkeys --import refuses the binary form: $(head -1 "$D/rpm2.out")"
else
	fail "rpmkeys imported a binary certificate (update docs/admin.md)" "$D/rpm2.out"
fi

stack_agent_stop
if "$ADMIN" audit verify "$LOG" --signer-journal "$LOG.signer" > "$D/av.out" 2>&1 &&
	[ "$(jq -r 'select(.event == "certification") | .seq' "$LOG" | tr '\n' ' ')" = "1 2 3 4 5 " ]; then
	ok "audit verify --signer-journal with the agent's records after the certifications: $(tr '\n' ' ' < "$D/av.out")"
else
	fail "audit verify" "$D/av.out"
fi
# The agent starts on the log again (its replay reads the certification
# records), and a new export appends after the agent's records.
stack_agent_start || exit 1
stack_agent_stop
n=$(records)
if "$ADMIN" openpgp export -c "$D/agent.json" pgp-ec > /dev/null 2>"$D/again.err" &&
	grep -q "(record $((n + 1)))$" "$D/again.err" &&
	"$ADMIN" audit verify "$LOG" > "$D/av2.out" 2>&1; then
	ok "after the agent ran: $(cat "$D/again.err"); $(cat "$D/av2.out")"
else
	cat "$D/av2.out" >> "$D/again.err"
	fail "export after the agent ran" "$D/again.err"
fi
[ ! -s "$D/agent.failures" ] || fail "the agent exited with status $(cat "$D/agent.failures")" "$D/agent.log"
summary "admin_openpgp: "
