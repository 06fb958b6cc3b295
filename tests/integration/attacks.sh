#!/bin/bash
# Attacks on a real stack (issue 12): what a submitter's second job under a
# used id, a keyless Redis writer and a second agent on the same files can
# and cannot do.  Each section reproduces the attack and checks that it is
# refused.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init attacks python3

# rc_, result, wait_result, wait_stream, bg_sj, bg_wait, rc: lib.sh.
# wait_audit PATTERN: until a record of the audit log matches (10 s)
wait_audit() { for _ in $(seq 1 200); do grep -q "$1" "$D/audit.log" && return 0; sleep 0.05; done; return 1; }
# stream_env ID: the queued envelope of job ID, and its entry id (two lines)
stream_env() { stream_find .id "$1"; }
# sign_env PAYLOAD_FILE OUT [SUBMITTER]: a job envelope of the payload,
# signed by SUBMITTER (default ci-fw) the way submit-job signs (DSSE PAE,
# ECDSA P-256 over SHA-256)
sign_env() {
	local len sig keyid who=${3:-ci-fw}
	len=$(stat -c %s "$1")
	{ printf 'DSSEv1 31 application/vnd.signet.job+json %s ' "$len"; cat "$1"; } > "$1.pae"
	sig=$(openssl dgst -sha256 -sign "$D/$who.key" "$1.pae" | base64 -w0)
	keyid=sha256:$(openssl pkey -pubin -in "$D/$who.pub" -outform DER | sha256sum | cut -d' ' -f1)
	jq -cn --arg p "$(base64 -w0 < "$1")" --arg s "$sig" --arg k "$keyid" \
		'{payloadType: "application/vnd.signet.job+json", payload: $p, signatures: [{keyid: $k, sig: $s}]}' > "$2"
}
# job_payload ID NAME SHA CREATED EXPIRES [KEY]: a raw job payload for KEY
# (default release)
job_payload() {
	jq -cn --arg id "$1" --arg n "$2" --arg s "$3" --arg c "$4" --arg e "$5" --arg k "${6:-release}" \
		'{v: 1, id: $id, created: $c, expires: $e, key: $k, format: "raw",
		  artifact: {name: $n, sha256: $s, size: 6}, ci: {system: "local"}}'
}
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# tree_sum DIR: names, modes and contents of the files under DIR
tree_sum() { (cd "$1" && find . -type f -printf '%p %m\n' | sort && find . -type f -exec sha256sum {} + | sort); }

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
stack_submitter limited ec '["release"]'
STACK_EXTRA="\"reclaim_after\": 1,"
stack_config
printf 'first\n' > "$D/first.bin"
printf 'other\n' > "$D/other.bin"

# --- 1. A second job under an id signed long ago ---------------------------
# Job X is signed with a lifetime of 2 s (created 58 s back).  Once it has
# expired (and the 60 s of clock skew passed) a restarted agent no longer
# holds it in its replay table; a new job of the same submitter under X
# with another artifact must still be refused (job.replayed), with no second
# signature and the store's X untouched.  The rest of the script runs while
# X expires; the check is at the end.
now=$(date +%s)
X=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
job_payload "$X" first.bin "$(sha256sum < "$D/first.bin" | cut -d' ' -f1)" \
	"$(utc $((now - 58)))" "$(utc $((now + 2)))" > "$D/x1.json"
sign_env "$D/x1.json" "$D/x1.env"
stack_agent_start || exit 1
rc_ -x XADD signet:jobs '*' env < "$D/x1.env" >/dev/null
wait_result "$X"
x_expired_at=$((now + 2))
if [ "$(result "$X" | jq -r .status)" = signed ] && [ -f "$D/store/release/$X/first.bin.sig" ]; then
	ok "job X is signed (lifetime 2 s)"
else
	fail "signing job X (result: $(result "$X"))" "$D/agent.log"
fi
tree_sum "$D/store/release/$X" > "$D/x.tree"

# --- 1b. Ids bound by a rejection ------------------------------------------
# A job that the agent authenticated, parsed and rejected binds its id for
# its submitter: another job of that submitter under the id is refused.
# It does not bind it for others: a submitter whose jobs the agent refuses
# must not be able to spend ids it copied from Redis.
# push_wait ENV ID EVENT: pushes an envelope, waits for its decision record
# (30 s: the next push must not overtake it on a loaded machine).
push_wait() {
	local before
	before=$(grep -c "\"event\":\"$3\",\"id\":\"$2\"" "$D/audit.log")
	rc_ -x XADD signet:jobs '*' env < "$1" >/dev/null
	for _ in $(seq 1 600); do
		[ "$(grep -c "\"event\":\"$3\",\"id\":\"$2\"" "$D/audit.log")" -gt "$before" ] && return 0
		sleep 0.05
	done
	return 1
}
now=$(date +%s)
fsha=$(sha256sum < "$D/first.bin" | cut -d' ' -f1)
osha=$(sha256sum < "$D/other.bin" | cut -d' ' -f1)
Z=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
job_payload "$Z" first.bin "$fsha" "$(utc "$now")" "$(utc $((now + 300)))" no-such-key > "$D/z1.json"
sign_env "$D/z1.json" "$D/z1.env"
push_wait "$D/z1.env" "$Z" rejected
job_payload "$Z" other.bin "$osha" "$(utc "$now")" "$(utc $((now + 300)))" > "$D/z2.json"
sign_env "$D/z2.json" "$D/z2.env"
push_wait "$D/z2.env" "$Z" rejected
if grep -q "\"event\":\"rejected\",\"id\":\"$Z\".*\"code\":\"policy.unknown_key\"" "$D/audit.log" &&
	grep -q "\"event\":\"rejected\",\"id\":\"$Z\".*\"code\":\"job.replayed\"" "$D/audit.log" &&
	! grep -q "\"event\":\"signature\",\"id\":\"$Z\"" "$D/audit.log"; then
	ok "a submitter's second job under an id of its rejected job: job.replayed, not signed"
else
	fail "second job under a rejected id" "$D/agent.log"
fi
Y=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
job_payload "$Y" first.bin "$fsha" "$(utc "$now")" "$(utc $((now + 300)))" release-rsa > "$D/y1.json"
sign_env "$D/y1.json" "$D/y1.env" limited
push_wait "$D/y1.env" "$Y" rejected
job_payload "$Y" other.bin "$osha" "$(utc "$now")" "$(utc $((now + 300)))" > "$D/y2.json"
sign_env "$D/y2.json" "$D/y2.env"
push_wait "$D/y2.env" "$Y" signed
# The "signed" record comes before the store write and the result: wait for those.
for _ in $(seq 1 200); do
	[ "$(result "$Y" | jq -r .status)" = signed ] && [ -f "$D/store/release/$Y/other.bin.sig" ] && break
	sleep 0.05
done
if grep -q "\"event\":\"rejected\",\"id\":\"$Y\".*\"code\":\"policy.key_not_allowed\"" "$D/audit.log" &&
	[ "$(result "$Y" | jq -r .status)" = signed ] && [ -f "$D/store/release/$Y/other.bin.sig" ]; then
	ok "an id copied by a submitter whose job is refused stays usable by its owner (signed)"
else
	fail "id copied by a refused submitter (result: $(result "$Y"))" "$D/agent.log"
fi

# --- 2. A second agent on the same configuration ---------------------------
# Started beside the running one (a manual run next to the service), it
# would interleave its records with the first one's in the same audit log.
# It must exit at once, naming the first one's pid; the first goes on.
timeout 30 "$SIGNET_BUILD/agent/signet-agent" -c "$D/agent.json" > "$D/second.out" 2>&1
second=$?
if [ "$second" != 0 ] && [ "$second" != 124 ] &&
	grep -q "audit log $D/audit.log is in use by another agent (pid $STACK_AGENT_PID signet-agent" "$D/second.out" &&
	kill -0 "$STACK_AGENT_PID" 2>/dev/null; then
	ok "a second agent on the same audit log exits ($second), naming the first one's pid; the first runs on"
	grep -o "audit log .* is in use by another agent ([^)]*)" "$D/second.out" | sed 's/^/       /'
else
	fail "second agent (exit $second)" "$D/second.out"
fi
SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SUBMIT_JOB" -k release -f raw \
	-i "$D/ci-fw.key" -o "$D/after.sig" -w 30 "$D/first.bin" > "$D/after.out" 2>&1
sj=$?
stack_agent_stop
if [ "$sj" = 0 ] && "$SIGNET_BUILD/admin/signet-admin" audit verify "$D/audit.log" > "$D/verify.out" 2>&1; then
	ok "the first agent still signs, and its audit log verifies"
else
	fail "after the second agent (submit-job exit $sj)" "$D/verify.out"
fi
stack_agent_start || exit 1

# --- 3. A keyless Redis writer swaps a waiting job for a broken copy -------
# It deletes the entry and pushes the same payload with one byte of the
# signature flipped.  The agent answers envelope.bad_signature, attested
# and bound to the genuine payload's hash; submit-job must not take that
# as final (SPEC §5): it says so once and waits for its own job.
# sj ID ARGS...: submit-job for key release, raw, as ci-fw (bg_sj runs it
# in the background).
sj() {
	local id=$1
	shift
	run_sj "$id" -k release -f raw -i "$D/ci-fw.key" "$@"
}
# forge ENV_LINE OUT: the envelope with one byte of its signature flipped
forge() {
	printf '%s' "$1" | python3 -c '
import base64, json, sys
e = json.load(sys.stdin)
s = bytearray(base64.b64decode(e["signatures"][0]["sig"]))
s[len(s) // 2] ^= 0x01
e["signatures"][0]["sig"] = base64.b64encode(bytes(s)).decode()
print(json.dumps(e, separators=(",", ":")))' > "$2"
}
# swap NAME: deletes the queued entry of artifact NAME, pushes a forged
# copy; the genuine envelope is left in $D/NAME.genuine
swap() {
	local id env entry
	for _ in $(seq 1 200); do
		id=$(rc_ --raw XRANGE signet:jobs - + | grep '^{' | while IFS= read -r l; do
			printf '%s' "$l" | jq -r .payload | base64 -d | jq -r --arg n "$1" 'select(.artifact.name == $n) | .id'
		done | head -1)
		[ -n "$id" ] && break
		sleep 0.05
	done
	{ read -r entry; read -r env; } < <(stream_env "$id")
	printf '%s' "$env" > "$D/$1.genuine"
	forge "$env" "$D/$1.forged"
	rc_ XDEL signet:jobs "$entry" >/dev/null
	rc_ -x XADD signet:jobs '*' env < "$D/$1.forged" >/dev/null
	printf '%s\n' "$id"
}
stack_agent_stop
bg_sj swapped -w 60 --name swapped.bin -o "$D/swapped.sig" "$D/first.bin"
sid=$(swap swapped.bin)
stack_agent_start || exit 1
wait_result "$sid"
sres=$(result "$sid")
for _ in $(seq 1 200); do grep -q "unauthenticated rejection" "$D/swapped.err" && break; sleep 0.05; done
# The genuine envelope comes back (the writer relents, or it was copied).
rc_ -x XADD signet:jobs '*' env < "$D/swapped.bin.genuine" >/dev/null
bg_wait
if [ "$(printf '%s' "$sres" | jq -r .error.code)" = envelope.bad_signature ] &&
	[ "$(printf '%s' "$sres" | jq -r .job_sha256)" = "$(jq -r .payload "$D/swapped.bin.genuine" | base64 -d | sha256sum | cut -d' ' -f1)" ] &&
	[ "$(rc swapped)" = 0 ] && [ "$(grep -c 'an unauthenticated rejection came for this id: envelope.bad_signature' "$D/swapped.err")" = 1 ] &&
	openssl dgst -sha256 -verify "$D/release.pub.pem" -signature "$D/swapped.sig" "$D/first.bin" >/dev/null 2>&1; then
	ok "a forged copy's envelope.bad_signature (bound to our payload) is not final: reported once, the genuine job is signed, exit 0"
	grep 'unauthenticated' "$D/swapped.err" | sed 's/^/       /'
else
	fail "forged envelope then the genuine one (rc $(rc swapped), first result: $sres)" "$D/swapped.err"
fi
# Only the forged copy: submit-job times out (exit 3) and says why.
stack_agent_stop
bg_sj onlyforged -w 8 --name onlyforged.bin -o "$D/onlyforged.sig" "$D/first.bin"
oid=$(swap onlyforged.bin)
stack_agent_start || exit 1
bg_wait
if [ "$(rc onlyforged)" = 3 ] && [ ! -e "$D/onlyforged.sig" ] &&
	[ "$(result "$oid" | jq -r .error.code)" = envelope.bad_signature ] &&
	grep -q "only unauthenticated answers came (envelope.bad_signature)" "$D/onlyforged.err"; then
	ok "with only the forged copy: exit 3, only unauthenticated answers came, nothing written"
	grep 'timed out' "$D/onlyforged.err" | sed 's/^/       /'
else
	fail "only the forged envelope (rc $(rc onlyforged))" "$D/onlyforged.err"
fi

# --- 4. A keyless Redis writer raises a waiting job's delivery count -------
# XCLAIM ... RETRYCOUNT 100 makes the entry look delivered 101 times.  The
# agent dead-letters on the attempts it made itself (its audit log), not on
# that counter: the job is signed, nothing goes to the dead letters.
stack_agent_stop
bg_sj retried -w 60 --name retried.bin -o "$D/retried.sig" "$D/first.bin"
wait_stream 1
rentry=$(rc_ --raw XREADGROUP GROUP agents ghost COUNT 1 STREAMS signet:jobs '>' | sed -n 2p)
rc_ XCLAIM signet:jobs agents ghost 0 "$rentry" RETRYCOUNT 100 JUSTID >/dev/null
rdeliveries=$(rc_ --raw XPENDING signet:jobs agents - + 10 | sed -n 4p)
stack_agent_start || exit 1
bg_wait
if [ "$rdeliveries" = 100 ] && [ "$(rc retried)" = 0 ] && [ "$(rc_ XLEN signet:dead)" = 0 ] &&
	openssl dgst -sha256 -verify "$D/release.pub.pem" -signature "$D/retried.sig" "$D/first.bin" >/dev/null 2>&1 &&
	grep -q "entry $rentry: taken over (101 deliveries, 0 attempts here)" "$D/agent.log"; then
	ok "a delivery count raised to 101 by XCLAIM RETRYCOUNT: the job is taken over and signed, not dead-lettered"
else
	fail "XCLAIM RETRYCOUNT (deliveries $rdeliveries, rc $(rc retried), dead letters $(rc_ XLEN signet:dead))" "$D/retried.err"
fi

# --- 1, continued: after the expiry, a restart, and X again ---------------
# (the replay table forgets X at its expiry plus the 60 s clock skew)
left=$((x_expired_at + 62 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
stack_agent_stop
stack_agent_start || exit 1
now=$(date +%s)
job_payload "$X" other.bin "$(sha256sum < "$D/other.bin" | cut -d' ' -f1)" \
	"$(utc "$now")" "$(utc $((now + 300)))" > "$D/x2.json"
sign_env "$D/x2.json" "$D/x2.env"
x_first=$(result "$X")
rc_ -x XADD signet:jobs '*' env < "$D/x2.env" >/dev/null
wait_audit "\"event\":\"rejected\",\"id\":\"$X\""
nsig=$(grep -c "\"event\":\"signature\",\"id\":\"$X\"" "$D/audit.log")
tree_sum "$D/store/release/$X" > "$D/x2.tree"
if grep -q "\"event\":\"rejected\",\"id\":\"$X\".*\"code\":\"job.replayed\"" "$D/audit.log" &&
	[ "$nsig" = 1 ] && cmp -s "$D/x.tree" "$D/x2.tree" && [ "$(result "$X")" = "$x_first" ]; then
	ok "another job under an id signed before, after its expiry and a restart: job.replayed, one signature record, store untouched"
else
	fail "id reuse after expiry (signature records: $nsig; store: $(diff "$D/x.tree" "$D/x2.tree" | tr '\n' ' '))" "$D/agent.log"
fi

stack_agent_stop
if [ ! -e "$D/agent.failures" ]; then
	ok "signet-agent exited 0 on SIGTERM"
else
	fail "agent exit status" "$D/agent.log"
fi
summary
