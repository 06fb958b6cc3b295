#!/bin/bash
# The agent never signs under a certificate that is not valid now: the key
# `release` gets a leaf whose validity ends at its issuance; its jobs are
# refused key.cert_expired with the dates in the message, `--check` and
# `signet-admin policy check` report it, the other keys go on signing, and
# the metrics file carries every key's certificate expiry and signet_up 0
# once the agent stopped.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init certexp
AGENT=$SIGNET_BUILD/agent/signet-agent

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
STACK_EXTRA="\"metrics_file\": \"$D/metrics.prom\", \"metrics_interval\": 1,"
stack_config

# The release key's leaf, valid from now to now: expired a second later.
openssl x509 -new -subj "/O=signet test/CN=release" -force_pubkey "$D/release.pub.pem" \
	-CA "$D/root.pem" -CAkey "$D/root.key" -days 0 -set_serial 0x4242 \
	-extfile "$D/ext.cnf" -extensions leaf -out "$D/release.crt" 2>/dev/null
cat "$D/release.crt" "$D/root.pem" > "$D/release.chain.pem"
sleep 2

if ! "$AGENT" -c "$D/agent.json" --check > "$D/check.out" 2>&1 &&
	grep -q "keys.release.certificates: the leaf in $D/release.chain.pem is valid from .* not now" "$D/check.out"; then
	ok "signet-agent --check refuses a key whose certificate is not valid now (exit non-zero, dates named)"
else
	fail "--check with an expired certificate" "$D/check.out"
fi
"$ADMIN" policy check "$D/agent.json" > "$D/pc.out" 2>&1
if [ $? = 1 ] && grep -q "keys.release.certificates: .* not now" "$D/pc.out"; then
	ok "signet-admin policy check reports it (exit 1)"
else
	fail "policy check with an expired certificate" "$D/pc.out"
fi

"$ADMIN" key list -c "$D/agent.json" > "$D/kl.out" 2> "$D/kl.err"
klrc=$?
if [ "$klrc" = 1 ] &&
	grep -q "ERROR: key release: its certificate is valid from 20[-0-9T:]*Z to 20[-0-9T:]*Z, not now" "$D/kl.out" &&
	grep -q "signet-admin: key release: its certificate ($D/release.chain.pem) is valid from .* to .*, not now" "$D/kl.err" &&
	[ "$(grep -c "ERROR: key" "$D/kl.out")" = 1 ]; then
	ok "signet-admin key list exits 1 and names the expired key with its dates: $(cat "$D/kl.err")"
else
	fail "key list with an expired certificate (exit $klrc)" "$D/kl.out"
	sed 's/^/       /' "$D/kl.err"
fi

stack_agent_start || exit 1
if grep -q "keys.release.certificates: .* not now: the key's jobs are refused" "$D/agent.log"; then
	ok "the agent says so when it starts"
else
	fail "no start-up error for the expired certificate" "$D/agent.log"
fi

printf 'firmware\n' > "$D/fw.bin"
sj() {
	SIGNET_REDIS=unix://$D/redis.sock SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -w 30 "$@"
}
sj -k release -f raw -o "$D/fw.sig" "$D/fw.bin" > "$D/sj1.out" 2>&1
rc=$?
if [ "$rc" = 1 ] && [ ! -e "$D/fw.sig" ] && grep -q "key.cert_expired" "$D/sj1.out" &&
	grep -q "key release: its certificate is valid from .* to .*, not at " "$D/sj1.out"; then
	ok "a job for the key is rejected key.cert_expired, nothing written: $(grep -o 'key release: its certificate.*' "$D/sj1.out" | head -1)"
else
	fail "job under an expired certificate (exit $rc)" "$D/sj1.out"
fi
if ! grep -q '"event":"intent".*"key":"release"' "$D/audit.log"; then
	ok "no signing intent was recorded for it (the HSM was not asked)"
else
	fail "an intent was recorded for the expired key"
fi
sj -k release-rsa -f raw -o "$D/fw-rsa.sig" "$D/fw.bin" > "$D/sj2.out" 2>&1
if openssl dgst -sha256 -verify "$D/release-rsa.pub.pem" -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32 -signature "$D/fw-rsa.sig" "$D/fw.bin" >/dev/null 2>&1; then
	ok "the other keys go on signing (openssl: Verified OK)"
else
	fail "release-rsa" "$D/sj2.out"
fi

sleep 2
if grep -q '^signet_key_cert_not_after_seconds{key="release"} [0-9]' "$D/metrics.prom" &&
	grep -q '^signet_key_cert_not_after_seconds{key="release-rsa"} [0-9]' "$D/metrics.prom" &&
	grep -q '^signet_up 1' "$D/metrics.prom"; then
	ok "the metrics carry each key's certificate expiry and signet_up 1"
else
	fail "metrics" "$D/metrics.prom"
fi
stack_agent_stop
if grep -q '^signet_up 0' "$D/metrics.prom"; then
	ok "signet_up is 0 once the agent stopped"
else
	fail "signet_up after the stop" "$D/metrics.prom"
fi

# A leaf that becomes valid tomorrow: key list names it too (exit 1).
python3 - "$D" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
d = sys.argv[1]
root = x509.load_pem_x509_certificate(open(d + "/root.pem", "rb").read())
key = serialization.load_pem_private_key(open(d + "/root.key", "rb").read(), None)
pub = serialization.load_pem_public_key(open(d + "/release-rsa.pub.pem", "rb").read())
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "release-rsa")]))
        .issuer_name(root.subject).public_key(pub).serial_number(0x4343)
        .not_valid_before(now + datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256()))
open(d + "/release-rsa.chain.pem", "wb").write(
    cert.public_bytes(serialization.Encoding.PEM) + open(d + "/root.pem", "rb").read())
PY
"$ADMIN" key list -c "$D/agent.json" > "$D/kl2.out" 2> "$D/kl2.err"
klrc=$?
if [ "$klrc" = 1 ] && grep -q "not_after=.* (NOT YET VALID)" "$D/kl2.out" &&
	grep -q "signet-admin: key release-rsa: its certificate .* is valid from .* to .*, not now" "$D/kl2.err" &&
	grep -q "signet-admin: key release-pk1: its certificate .* not now" "$D/kl2.err"; then
	ok "key list names keys whose certificate is not yet valid (exit 1)"
else
	fail "key list with a certificate not yet valid (exit $klrc)" "$D/kl2.out"
	sed 's/^/       /' "$D/kl2.err"
fi

summary
