#!/bin/bash
# Crash recovery against the real agent: entries left pending by a dead
# consumer are taken over; an entry that the agent took up too often
# without deciding it goes to the dead letters with a failed result; an
# intent to sign with no recorded outcome (nothing of it was released) is
# signed again after a "retry" record that names it; a result
# lost after signing is rebuilt from the audit log without a second HSM
# signature.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init recovery python3
# rc_, result and wait_result: lib.sh.
# queue_job NAME: submit-job -w 0 (no agent needed); prints the job id
queue_job() {
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_IDENTITY=$D/ci-fw.key "$SUBMIT_JOB" -k release -f raw -w 0 \
		--name "$1" "$D/a.bin"
}
# stream_env ID: the queued envelope of job ID
stream_env() {
	rc_ --raw XRANGE signet:jobs - + | while IFS= read -r line; do
		case $line in
		\{*) if printf '%s' "$line" | jq -r .payload | base64 -d | jq -e --arg i "$1" '.id == $i' >/dev/null 2>&1; then
			printf '%s\n' "$line"
		fi ;;
		esac
	done
}

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
STACK_EXTRA="\"reclaim_after\": 1, \"max_deliveries\": 3, \"metrics_file\": \"$STACK_DIR/signet.prom\", \"metrics_interval\": 1,"
stack_config
printf 'recovery\n' > "$D/a.bin"
rc_ XGROUP CREATE signet:jobs agents 0 MKSTREAM >/dev/null

# 1. A consumer that died holding an entry: the agent takes it over.
id1=$(queue_job taken-over.bin)
rc_ XREADGROUP GROUP agents ghost COUNT 1 STREAMS signet:jobs '>' >/dev/null
# 2. An entry that stopped this agent three times before (max_deliveries
# 3): its "received" records, with no decision after them, are what an
# earlier run dying of it would have left in the audit log.  Dead letters.
id2=$(queue_job poison.bin)
e2=$(rc_ --raw XREADGROUP GROUP agents ghost COUNT 1 STREAMS signet:jobs '>' | sed -n 2p)
: > "$D/audit.log"
for _ in 1 2 3; do
	python3 "$SRC/tests/auditlog.py" append "$D/audit.log" \
		"{\"event\": \"received\", \"entry\": \"$e2\", \"envelope_sha256\": \"$(printf x | sha256sum | cut -d' ' -f1)\"}" ||
		fail "appending a received record"
done
stack_agent_start || exit 1
wait_result "$id1"
wait_result "$id2"
if [ "$(result "$id1" | jq -r .status)" = signed ] && [ "$(rc_ XPENDING signet:jobs agents | head -1)" = 0 ]; then
	ok "an entry left pending by a dead consumer is taken over and signed"
else
	fail "reclaim (result: $(result "$id1"))" "$D/agent.log"
fi
if [ "$(result "$id2" | jq -r .error.code)" = internal ] && [ "$(rc_ XLEN signet:dead)" = 1 ] &&
	[ "$(rc_ --raw XRANGE signet:dead - + | sed -n 5p)" = "taken up 3 times by agent test-agent without a decision" ] &&
	! grep -q "\"event\":\"signature\",\"id\":\"$id2\"" "$D/audit.log"; then
	ok "an entry taken up 3 times without a decision (max_deliveries 3): failed/internal, moved to signet:dead, not signed"
else
	fail "dead letter (result: $(result "$id2"))" "$D/agent.log"
fi

# 3. A crash between the intent and the HSM's answer.
stack_agent_stop
id3=$(queue_job interrupted.bin)
env3=$(stream_env "$id3")
sha3=$(printf '%s' "$env3" | jq -r .payload | base64 -d | sha256sum | cut -d' ' -f1)
rc_ DEL signet:jobs >/dev/null
rc_ XGROUP CREATE signet:jobs agents 0 MKSTREAM >/dev/null
# What the agent writes before asking the HSM, as its own records are.
python3 "$SRC/tests/auditlog.py" append "$D/audit.log" \
	"{\"event\": \"intent\", \"id\": \"$id3\", \"submitter\": \"ci-fw\", \"job_sha256\": \"$sha3\", \"key\": \"release\"}" ||
	fail "appending an intent record"
stack_agent_start || exit 1
printf '%s' "$env3" | rc_ -x XADD signet:jobs '*' env >/dev/null
wait_result "$id3"
iseq3=$(jq -r --arg id "$id3" 'select(.id == $id and .event == "intent") | .seq' "$D/audit.log")
if [ "$(result "$id3" | jq -r .status)" = signed ] &&
	[ "$(jq -r --arg id "$id3" 'select(.id == $id and .event == "retry") | .retry_of' "$D/audit.log")" = "$iseq3" ] &&
	[ "$(grep -c "\"event\":\"signature\",\"id\":\"$id3\"" "$D/audit.log")" = 1 ]; then
	ok "an intent without a recorded outcome is signed again, after a retry record naming it (record $iseq3)"
else
	fail "interrupted intent (result: $(result "$id3"))" "$D/agent.log"
fi

# 4. A result lost after the signature was recorded.
stack_agent_stop
id4=$(queue_job lost.bin)
env4=$(stream_env "$id4")
stack_agent_start || exit 1
wait_result "$id4"
first_sig=$(result "$id4" | jq -r .signature)
stack_agent_stop
rm -f "$D/store/release/$id4/result.json"
rc_ DEL "signet:result:$id4" "signet:done:$id4" >/dev/null
stack_agent_start || exit 1
printf '%s' "$env4" | rc_ -x XADD signet:jobs '*' env >/dev/null
wait_result "$id4"
nsig=$(grep -c "\"event\":\"signature\",\"id\":\"$id4\"" "$D/audit.log")
if [ "$(result "$id4" | jq -r .status)" = signed ] && [ "$(result "$id4" | jq -r .signature)" = "$first_sig" ] &&
	[ "$nsig" = 1 ] && [ -f "$D/store/release/$id4/result.json" ]; then
	ok "a result lost after signing is rebuilt from the audit log: same signature, one HSM signature"
else
	fail "lost result (signature records: $nsig; result: $(result "$id4"))" "$D/agent.log"
fi

stack_agent_stop
[ ! -e "$D/agent.failures" ] && ok "signet-agent exited 0 on SIGTERM" || fail "agent exit status" "$D/agent.log"
# The Prometheus textfile of the last run (written at exit too).
m=$D/signet.prom
if grep -q '^signet_jobs_total{status="signed",code="",key="release",submitter="ci-fw"} [1-9]' "$m" &&
	grep -q '^signet_last_signature_seconds{key="release"} [1-9]' "$m" &&
	grep -q '^signet_approvals_pending 0' "$m" && grep -q '^signet_queue_oldest_undelivered_seconds [0-9]' "$m" &&
	grep -q '^signet_hsm_sign_seconds_count [1-9]' "$m" &&
	grep -q '^signet_hsm_sign_seconds_bucket{le="+Inf"} [1-9]' "$m" &&
	grep -q '^signet_queue_depth [0-9]' "$m" && grep -q '^signet_replay_ids [1-9]' "$m" &&
	grep -q '^signet_webhook_failures_total 0' "$m" && [ "$(stat -c %a "$m")" = 644 ]; then
	ok "metrics textfile: jobs by status, code, key and submitter, last signature, HSM latency histogram, queue depth and age"
else
	fail "metrics textfile" "$m"
fi
summary
