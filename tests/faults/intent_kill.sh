#!/bin/bash
# Fault injection: the agent is killed exactly between its intent record and
# its signature record (after the HSM signed, before the signature is
# recorded: the test hook SIGNET_TEST_KILL_AFTER_SIGN of a -Dtest_hooks=true
# build), then started again.  The job must be signed after the restart,
# once: the audit log has the intent, a retry naming it and one signature
# record, the signer's journal two signatures that `signet-admin audit
# verify --signer-journal` accounts for (one an interrupted attempt, never
# released), and submit-job exits 0 with a signature that verifies.
# Then the same with two agents: agent-a is killed there with the job's
# claim held, agent-b takes the job over once the claim expired
# (reclaim_after) and signs it.  Last, agent-c is stopped there (SIGSTOP)
# past reclaim_after, agent-d signs the job and releases it, and agent-c,
# continued, withholds its own signature ("withheld" record): one
# signature released.
. "$(dirname "$0")/lib.sh"
faults_init intent_kill
ADMIN=${SIGNET_ADMIN:-$SIGNET_BUILD/admin/signet-admin}
if [ "${SIGNET_TEST_HOOKS:-1}" != 1 ]; then
	echo "# SKIP: a build without -Dtest_hooks=true has no hook to kill the agent with"
	exit 77
fi
st=0
pass() { echo "ok - $*"; }
bad() { echo "not ok - $*"; st=1; }

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-a ec '["release"]'
STACK_EXTRA='"reclaim_after": 2,'
stack_config

# submit N: submit-job for $D/art/N.bin in the background (JSON result in
# $D/jobs/N.out, exit status in $D/jobs/N.rc).  Sets SUBMIT_PID.
submit() {
	printf 'intent_kill %s %s\n' "$1" "$RANDOM$RANDOM" > "$D/art/$1.bin"
	(
		SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub SIGNET_IDENTITY=$D/ci-a.key \
			"$SUBMIT_JOB" -k release -f raw -w 90 --json -o "$D/art/$1.sig" "$D/art/$1.bin" \
			>"$D/jobs/$1.out" 2>"$D/jobs/$1.err"
		echo $? > "$D/jobs/$1.rc"
	) &
	SUBMIT_PID=$!
}

# died PID SECONDS: whether the agent died (of the hook) within SECONDS.
died() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
		sleep 0.1
	done
	return 1
}

# events LOG ID: the events of job ID in LOG, space-separated.
events() { jq -r --arg id "$2" 'select(.id == $id) | .event' "$1" | tr '\n' ' '; }

# check_signed NAME: submit-job exited 0 with a signed result whose
# signature verifies with the key's public key; prints the job id.
check_signed() {
	local id
	id=$(jq -r .id "$D/jobs/$1.out" 2>/dev/null)
	if [ "$(cat "$D/jobs/$1.rc" 2>/dev/null)" = 0 ] && [ "$(jq -r .status "$D/jobs/$1.out")" = signed ] &&
		openssl dgst -sha256 -verify "$D/release.pub.pem" -signature "$D/art/$1.sig" "$D/art/$1.bin" >/dev/null 2>&1; then
		pass "$1: job $id signed; submit-job exit 0; the signature verifies (openssl)"
	else
		bad "$1: submit-job exit $(cat "$D/jobs/$1.rc" 2>/dev/null), $(cat "$D/jobs/$1.err" "$D/jobs/$1.out" 2>/dev/null | tail -n 3)"
	fi
	echo "$id" > "$D/jobs/$1.id"
}

# released ID: result writes and signed decisions of ID (one each).
check_released_once() {
	local id=$1 logs n_signed n_dirs
	shift
	n_signed=$(cat "$@" | jq -r --arg id "$id" 'select(.id == $id and .event == "signed") | .event' | wc -l)
	n_dirs=$(find "$D/store" -mindepth 2 -maxdepth 2 -name "$id" | wc -l)
	if [ "$n_signed" = 1 ] && [ "$n_dirs" = 1 ] && [ -n "$(rc_ GET "signet:result:$id")" ]; then
		pass "job $id: one signed decision, one result in the store and in Redis"
	else
		bad "job $id: $n_signed signed decisions, $n_dirs store directories"
	fi
}

# 1. One agent, killed between intent and signature record, started again.
export SIGNET_TEST_KILL_AFTER_SIGN=1
agent_start "$D/agent.json" "$D/agent.log" || exit 1
unset SIGNET_TEST_KILL_AFTER_SIGN
pid=$AGENT_PID
submit one
if died "$pid" 30; then
	pass "the agent was killed by the test hook after the HSM signed"
else
	bad "the agent did not die of SIGNET_TEST_KILL_AFTER_SIGN=1 (a build without -Dtest_hooks=true?)"
	exit 1
fi
id=$(jq -r 'select(.event == "intent") | .id' "$D/audit.log" | head -n 1)
if [ -n "$id" ] && [ "$(events "$D/audit.log" "$id")" = "intent " ]; then
	pass "job $id: an intent and no signature record before the restart"
else
	bad "before the restart: job ${id:-?}: $(events "$D/audit.log" "$id")"
fi
agent_start "$D/agent.json" "$D/agent.log" || exit 1
wait "$SUBMIT_PID"
check_signed one
intent_seq=$(jq -r --arg id "$id" 'select(.id == $id and .event == "intent") | .seq' "$D/audit.log")
retry_of=$(jq -r --arg id "$id" 'select(.id == $id and .event == "retry") | .retry_of' "$D/audit.log")
ev=$(events "$D/audit.log" "$id")
if [ "$ev" = "intent retry signature signed published " ] && [ "$retry_of" = "$intent_seq" ]; then
	pass "audit log: $ev(the retry names the intent, record $intent_seq)"
else
	bad "audit log of job $id: $ev(retry_of ${retry_of:-none}, intent $intent_seq)"
fi
check_released_once "$id" "$D/audit.log"
agents_stop_all
if "$ADMIN" audit verify "$D/audit.log" --signer-journal "$D/audit.log.signer" > "$D/av.out" 2>&1 &&
	grep -q "1 of them interrupted attempts, never released" "$D/av.out"; then
	pass "audit verify --signer-journal: $(tail -n 1 "$D/av.out")"
else
	bad "audit verify --signer-journal: $(cat "$D/av.out")"
fi

# 2. Two agents: agent-a is killed there with the job's claim held;
# agent-b takes the job over once the claim expired and signs it.
jq --arg a "$D/audit-a.log" '.name = "agent-a" | .audit_log = $a' "$D/agent.json" > "$D/agent-a.json"
jq --arg a "$D/audit-b.log" '.name = "agent-b" | .audit_log = $a' "$D/agent.json" > "$D/agent-b.json"
export SIGNET_TEST_KILL_AFTER_SIGN=1
agent_start "$D/agent-a.json" "$D/agent-a.log" || exit 1
unset SIGNET_TEST_KILL_AFTER_SIGN
pid_a=$AGENT_PID
submit two
died "$pid_a" 30 || { bad "agent-a did not die of the test hook"; exit 1; }
id2=$(jq -r 'select(.event == "intent") | .id' "$D/audit-a.log" | head -n 1)
claim=$(rc_ GET "signet:claim:$id2")
case "$claim" in
agent-a@*/"$pid_a") pass "job $id2: agent-a died holding the claim ($claim)" ;;
*) bad "job $id2: claim after agent-a died: ${claim:-none}" ;;
esac
agent_start "$D/agent-b.json" "$D/agent-b.log" || exit 1
wait "$SUBMIT_PID"
check_signed two
if [ "$(events "$D/audit-a.log" "$id2")" = "intent " ] &&
	[ "$(events "$D/audit-b.log" "$id2")" = "intent signature signed published " ]; then
	pass "agent-a's log: intent; agent-b's: intent signature signed published"
else
	bad "job $id2: agent-a: $(events "$D/audit-a.log" "$id2"); agent-b: $(events "$D/audit-b.log" "$id2")"
fi
case "$(rc_ GET "signet:claim:$id2")" in
done:agent-b@*) pass "the claim now says agent-b released the result" ;;
*) bad "claim after the release: $(rc_ GET "signet:claim:$id2")" ;;
esac
check_released_once "$id2" "$D/audit-a.log" "$D/audit-b.log"
agents_stop_all
if "$ADMIN" audit verify "$D/audit-a.log" --signer-journal "$D/audit-a.log.signer" > "$D/ava.out" 2>&1 &&
	grep -q "1 of them interrupted attempts" "$D/ava.out" &&
	"$ADMIN" audit verify "$D/audit-b.log" --signer-journal "$D/audit-b.log.signer" > "$D/avb.out" 2>&1; then
	pass "audit verify --signer-journal of both: $(tail -n 1 "$D/ava.out" | cut -c1-150)"
else
	bad "audit verify: $(cat "$D/ava.out" "$D/avb.out")"
fi

# 3. A stalled agent: agent-c stopped after the HSM signed, agent-d takes
# the job over, agent-c continues and must not release its signature.
jq --arg a "$D/audit-c.log" '.name = "agent-c" | .audit_log = $a' "$D/agent.json" > "$D/agent-c.json"
jq --arg a "$D/audit-d.log" '.name = "agent-d" | .audit_log = $a' "$D/agent.json" > "$D/agent-d.json"
export SIGNET_TEST_STOP_AFTER_SIGN=1
agent_start "$D/agent-c.json" "$D/agent-c.log" || exit 1
unset SIGNET_TEST_STOP_AFTER_SIGN
pid_c=$AGENT_PID
submit three
for _ in $(seq 1 300); do
	[ "$(ps -o stat= -p "$pid_c" 2>/dev/null | cut -c1)" = T ] && break
	sleep 0.1
done
[ "$(ps -o stat= -p "$pid_c" 2>/dev/null | cut -c1)" = T ] || { bad "agent-c was not stopped by the test hook"; exit 1; }
agent_start "$D/agent-d.json" "$D/agent-d.log" || exit 1
wait "$SUBMIT_PID"
check_signed three
id3=$(cat "$D/jobs/three.id")
kill -CONT "$pid_c"
for _ in $(seq 1 150); do
	grep -q '"event":"withheld"' "$D/audit-c.log" 2>/dev/null && break
	sleep 0.1
done
if [ "$(events "$D/audit-c.log" "$id3")" = "intent signature withheld " ] &&
	[ "$(events "$D/audit-d.log" "$id3")" = "intent signature signed published " ]; then
	pass "agent-c, stalled past reclaim_after, withheld its signature: intent signature withheld; agent-d: intent signature signed published"
else
	bad "job $id3: agent-c: $(events "$D/audit-c.log" "$id3"); agent-d: $(events "$D/audit-d.log" "$id3")"
fi
sig_c=$(jq -r --arg id "$id3" 'select(.id == $id and .event == "signature") | .signature_sha256' "$D/audit-c.log")
if [ "$(sha256sum < "$D/art/three.sig" | cut -d' ' -f1)" != "$sig_c" ] &&
	[ "$(find "$D/store" -path "*/$id3/*.sig" | wc -l)" = 1 ] &&
	[ "$(sha256sum < "$(find "$D/store" -path "*/$id3/*.sig")" | cut -d' ' -f1)" = "$(sha256sum < "$D/art/three.sig" | cut -d' ' -f1)" ]; then
	pass "one signature released (agent-d's, in Redis and the store); agent-c's is not"
else
	bad "job $id3: released signatures disagree"
fi
check_released_once "$id3" "$D/audit-c.log" "$D/audit-d.log"
agents_stop_all
if "$ADMIN" audit verify "$D/audit-c.log" --signer-journal "$D/audit-c.log.signer" > "$D/avc.out" 2>&1 &&
	"$ADMIN" audit verify "$D/audit-d.log" --signer-journal "$D/audit-d.log.signer" > "$D/avd.out" 2>&1; then
	pass "audit verify --signer-journal of agent-c and agent-d"
else
	bad "audit verify: $(cat "$D/avc.out" "$D/avd.out")"
fi
# A journal signature with no intent in the log stays a defect: agent-a's
# journal (job $id2) against agent-c's log, which never saw that job.
if ! "$ADMIN" audit verify "$D/audit-c.log" --signer-journal "$D/audit-a.log.signer" > "$D/avx.out" 2>&1 &&
	grep -q "job $id2.*has no signature record and no intent in the audit log" "$D/avx.out"; then
	pass "a journal signature without an intent is named: $(grep "^signer journal" "$D/avx.out" | cut -c1-120)"
else
	bad "audit verify accepted a journal signature without an intent: $(cat "$D/avx.out")"
fi
[ -e "$D/agent.failures" ] && { cat "$D/agent.failures"; st=1; }
if [ "$st" != 0 ]; then
	for l in agent agent-a agent-b agent-c agent-d; do
		echo "# $l.log (tail):"
		tail -n 15 "$D/$l.log" 2>/dev/null | sed 's/^/#   /'
	done
fi
exit "$st"
