#!/bin/bash
# Policy tests: corporate identities (submitter certificates), per-key
# rules, quotas, revocation, SIGHUP reload and `signet-admin policy check`,
# against a real redis-server, SoftHSM token and signet-agent.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init policy

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec '["release","release-rsa","release-pk1"]'
stack_submitter ci-other ec '["release-rsa"]'
stack_config
stack_subca corp && stack_subca other || { echo "CA creation failed"; exit 1; }
stack_subcert corp alice sub &&
stack_subcert corp bob sub &&
stack_subcert corp old sub 20200101000000Z 20200201000000Z &&
stack_subcert corp mallory sub &&
stack_subcert corp coder sub_codesign &&
stack_subcert corp noku sub_noku &&
stack_subcert other eve sub &&
stack_subrevoke corp mallory || { echo "certificate creation failed"; exit 1; }
bob_serial=$(openssl x509 -in "$D/bob.crt" -noout -serial | cut -d= -f2)

# The policy: corporate identities *@fw.example.com may use release, with
# artifact, project and ref rules; release-pk1 has a quota; release-rsa is
# disabled; bob's certificate serial is revoked.
stack_policy_config "
  .submitter_cas = {corp: {bundle: \"$D/corp/ca.pem\", crl: \"$D/corp/crl.pem\"}} |
  .submitters[\"fw-team\"] = {identity: \"*@fw.example.com\", keys: [\"release\", \"release-pk1\"]} |
  .keys.release += {artifact_names: [\"*.bin\", \"*.txt\"], ci_projects: [\"group/firmware\"],
                    ci_refs: [\"refs/tags/v*\"], max_job_lifetime: 600} |
  .keys[\"release-pk1\"] += {quota: {per_hour: 2}} |
  .keys[\"release-rsa\"] += {disabled: true} |
  .revoked = {serials: [\"$bob_serial\"]}"

if "$ADMIN" policy check "$D/agent.json" >"$D/adm-ok.out" 2>&1 && grep -q "policy in order" "$D/adm-ok.out"; then
	ok "signet-admin policy check accepts the policy (exit 0, summary)"
else
	fail "signet-admin policy check on a good policy" "$D/adm-ok.out"
fi
stack_agent_start || exit 1

head -c 4096 /dev/urandom > "$D/fw.bin"
cp "$D/fw.bin" "$D/fw.exe"

# sj ID ARGS...: submit-job with the stack's settings, a tagged firmware CI
# job by default; output in $D/ID.out, status in $D/ID.rc.
sj() {
	local id=$1
	shift
	CI_PROJECT_PATH=${PROJ-group/firmware} CI_COMMIT_REF_NAME=${REF-refs/tags/v1.2} \
		run_sj "$id" --json -w 30 "$@"
}
# expect ID CODE DESCRIPTION ARGS...: submit and expect a rejection with CODE.
expect() {
	local id=$1 code=$2 what=$3
	shift 3
	sj "$id" "$@"
	local got
	got=$(jq -r '.error.code // .status' "$D/$id.out" 2>/dev/null)
	if [ "$(cat "$D/$id.rc")" = 1 ] && [ "$got" = "$code" ]; then
		ok "$what: $code"
	else
		fail "$what: wanted $code, got '$got' (rc $(cat "$D/$id.rc"))" "$D/$id.err"
	fi
}
signed() {
	local id=$1 what=$2
	shift 2
	sj "$id" "$@"
	if [ "$(cat "$D/$id.rc")" = 0 ] && [ "$(jq -r .status "$D/$id.out")" = signed ]; then
		ok "$what"
	else
		fail "$what (rc $(cat "$D/$id.rc"))" "$D/$id.err"
	fi
}

# --- corporate identities ---------------------------------------------------
signed cert-ok "a certificate-identified submitter is accepted" \
	-k release -f raw -i "$D/alice.key" --cert "$D/alice.crt" -o "$D/a.sig" "$D/fw.bin"
if [ "$(jq -r .submitter "$D/cert-ok.out")" = "alice@fw.example.com" ]; then
	ok "the result names the certificate identity"
else
	fail "result submitter: $(jq -r .submitter "$D/cert-ok.out")"
fi
SIGNET_CERT=$D/alice.crt sj cert-env -k release -f raw -i "$D/alice.key" -o "$D/a2.sig" "$D/fw.bin"
[ "$(cat "$D/cert-env.rc")" = 0 ] && ok "SIGNET_CERT attaches the certificate" || fail "SIGNET_CERT" "$D/cert-env.err"
expect cert-expired policy.cert_invalid "expired certificate" \
	-k release -f raw -i "$D/old.key" --cert "$D/old.crt" "$D/fw.bin"
expect cert-crl policy.submitter_revoked "certificate revoked by the CRL" \
	-k release -f raw -i "$D/mallory.key" --cert "$D/mallory.crt" "$D/fw.bin"
expect cert-serial policy.submitter_revoked "certificate serial in revoked.serials" \
	-k release -f raw -i "$D/bob.key" --cert "$D/bob.crt" "$D/fw.bin"
expect cert-wrongca policy.cert_invalid "certificate from an unconfigured CA" \
	-k release -f raw -i "$D/eve.key" --cert "$D/eve.crt" "$D/fw.bin"
expect cert-eku policy.cert_invalid "certificate without the configured EKU" \
	-k release -f raw -i "$D/coder.key" --cert "$D/coder.crt" "$D/fw.bin"
expect cert-ku policy.cert_invalid "certificate without digitalSignature" \
	-k release -f raw -i "$D/noku.key" --cert "$D/noku.crt" "$D/fw.bin"
sj cert-mismatch -k release -f raw -i "$D/alice.key" --cert "$D/bob.crt" "$D/fw.bin"
[ "$(cat "$D/cert-mismatch.rc")" = 2 ] && ok "submit-job refuses a certificate for another key (exit 2)" ||
	fail "submit-job with a mismatched certificate (rc $(cat "$D/cert-mismatch.rc"))" "$D/cert-mismatch.err"
expect cert-key policy.key_not_allowed "identity not allowed the key" \
	-k release-rsa -f raw -i "$D/alice.key" --cert "$D/alice.crt" "$D/fw.bin"

# --- per-key rules ------------------------------------------------------------
expect glob policy.artifact_name "artifact name outside artifact_names" \
	-k release -f raw -i "$D/ci-fw.key" "$D/fw.exe"
PROJ=group/other expect proj policy.ci_project "CI project outside ci_projects" \
	-k release -f raw -i "$D/ci-fw.key" "$D/fw.bin"
REF=refs/heads/main expect ref policy.ci_ref "CI ref outside ci_refs" \
	-k release -f raw -i "$D/ci-fw.key" "$D/fw.bin"
expect disabled policy.key_not_allowed "disabled key" \
	-k release-rsa -f raw -i "$D/ci-fw.key" "$D/fw.bin"
expect lifetime job.lifetime_too_long "lifetime above the key's max_job_lifetime" \
	-k release -f raw --lifetime 700 -i "$D/ci-fw.key" "$D/fw.bin"
signed q1 "quota: first job" -k release-pk1 -f raw -i "$D/ci-fw.key" -o "$D/q1.sig" "$D/fw.bin"
signed q2 "quota: second job" -k release-pk1 -f raw -i "$D/ci-fw.key" -o "$D/q2.sig" "$D/fw.bin"
expect q3 policy.quota_exceeded "quota: third job in the hour" \
	-k release-pk1 -f raw -i "$D/ci-fw.key" "$D/fw.bin"
signed q-other "quota is per submitter" -k release-pk1 -f raw -i "$D/alice.key" --cert "$D/alice.crt" \
	-o "$D/q4.sig" "$D/fw.bin"

# --- quotas survive a restart (rebuilt from the audit log) ------------------
stack_agent_stop
stack_agent_start || exit 1
expect q-restart policy.quota_exceeded "quota counted again from the audit log after a restart" \
	-k release-pk1 -f raw -i "$D/ci-fw.key" "$D/fw.bin"

# --- SIGHUP -----------------------------------------------------------------------
cp "$D/agent.json" "$D/agent.good.json"
stack_policy_config '.keys.release.artifact_names = ["*.exe"]'
kill -HUP "$STACK_AGENT_PID"
for _ in $(seq 1 50); do grep -q "policy reloaded" "$D/agent.log" && break; sleep 0.1; done
signed hup-ok "SIGHUP: a valid new policy takes effect" -k release -f raw -i "$D/ci-fw.key" -o "$D/e.sig" "$D/fw.exe"
stack_policy_config '.keys.release.formats = ["raw", "pgp"]'
kill -HUP "$STACK_AGENT_PID"
for _ in $(seq 1 50); do grep -q "old policy stays" "$D/agent.log" && break; sleep 0.1; done
if grep -q 'keys.release.formats\[1\]: unknown format "pgp".*old policy stays in force' "$D/agent.log"; then
	ok "SIGHUP: an invalid policy is refused with its reason logged"
else
	fail "SIGHUP with an invalid policy: no reason logged" "$D/agent.log"
fi
signed hup-kept "SIGHUP: the old policy stays in force" -k release -f raw -i "$D/ci-fw.key" -o "$D/e2.sig" "$D/fw.exe"
jq '.keys.release.mechanism = "rsa-pss-sha256"' "$D/agent.good.json" > "$D/agent.json"
kill -HUP "$STACK_AGENT_PID"
for _ in $(seq 1 50); do grep -q "needs a restart" "$D/agent.log" && break; sleep 0.1; done
grep -q "keys.release.mechanism differs, which needs a restart" "$D/agent.log" &&
	ok "SIGHUP: an HSM-relevant change is refused" || fail "SIGHUP with a changed mechanism" "$D/agent.log"
kill -0 "$STACK_AGENT_PID" 2>/dev/null && ok "the agent survives every reload" || fail "agent died on reload"

# --- signet-admin policy check -----------------------------------------------
jq '.keys.release.formats = ["raw", "pgp"] | .keys.release.ci_refs = [] |
    .submitters["fw-team"].keys = ["nope"] | .revoked = {serials: ["xyz"]}' \
	"$D/agent.good.json" > "$D/bad.json"
"$ADMIN" policy check "$D/bad.json" >"$D/adm-bad.out" 2>&1
st=$?
if [ "$st" = 1 ] &&
	grep -q 'keys.release.formats\[1\]: unknown format "pgp"' "$D/adm-bad.out" &&
	grep -q 'keys.release.ci_refs: 1 to 64 patterns' "$D/adm-bad.out" &&
	grep -q 'submitters.fw-team.keys\[0\]: not a configured key' "$D/adm-bad.out" &&
	grep -q 'revoked.serials\[0\]:' "$D/adm-bad.out"; then
	ok "signet-admin policy check lists every problem with its member path (exit 1)"
else
	fail "signet-admin policy check on a bad policy (exit $st)" "$D/adm-bad.out"
fi
"$ADMIN" policy check >/dev/null 2>&1; st=$?
[ "$st" = 2 ] && ok "signet-admin without FILE is a usage error (exit 2)" || fail "signet-admin usage exit $st"
"$ADMIN" --version | grep -q "^signet-admin " && "$ADMIN" --help | grep -q "policy check" &&
	ok "signet-admin --version and --help" || fail "signet-admin --version/--help"

stack_agent_stop
if [ -f "$D/agent.failures" ]; then
	fail "the agent exited with status $(cat "$D/agent.failures")" "$D/agent.log"
fi
summary "policy: "
