#!/bin/bash
# The operator's view (docs/admin.md) against a real redis-server, SoftHSM
# token and signet-agent: `signet-admin status` with a loaded queue (depth,
# pending entries, consumers, dead letters, a job waiting for approvals,
# the last signature per key, certificate expiry), as text and as JSON;
# `job ID` for a signed job, a job never taken and an unknown id;
# `signatures` with --key and --since; status with Redis unreachable and
# with an expired certificate.  Then the agent's removal of the consumers
# its earlier runs left: an idle one without pending entries goes, one
# with pending entries stays until they are taken over, another agent's
# stays, and a consumer whose agent was killed goes once it is idle.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init admin-status python3

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec '["release","release-rsa"]'
stack_submitter ed ec '[]'
STACK_EXTRA='"reclaim_after": 3,'
stack_config
stack_policy_config '.keys["release-rsa"] += {max_job_lifetime: 3600,
	approvals: {required: 1, approvers: ["ed"]}}'
HOST=$(hostname)
# xinfo: "name pending" per consumer of the group.
xinfo() { rc_ --raw XINFO CONSUMERS signet:jobs agents | awk 'p == "name" { n = $0 } p == "pending" { print n, $0 } { p = $0 }'; }
has_consumer() { xinfo | awk '{print $1}' | grep -qxF "$1"; }

stack_agent_start || exit 1
FIRST_PID=$STACK_AGENT_PID
printf 'firmware one\n' > "$D/a.bin"
printf 'firmware two\n' > "$D/b.bin"
export SIGNET_IDENTITY=$D/ci-fw.key
sj s1 -k release -f raw --json -w 30 -o "$D/a.sig" "$D/a.bin"
GITLAB_CI=true CI_PROJECT_PATH=group/firmware CI_COMMIT_REF_NAME=main CI_PIPELINE_ID=77 \
	CI_JOB_ID=991 CI_JOB_URL=https://gitlab.example/group/firmware/-/jobs/991 \
	sj s2 -k release -f cms --json -w 30 -o "$D/b.p7s" "$D/b.bin"
sj rej -k release-pk1 -f raw --json -w 30 -o "$D/r.sig" "$D/a.bin"
sj pend -k release-rsa -f raw -w 0 --lifetime 1800 "$D/a.bin"
S1=$(jq -r .id "$D/s1.out")
S2=$(jq -r .id "$D/s2.out")
P=$(tr -d '\n' < "$D/pend.out")
if [ "$(rc s1)" = 0 ] && [ "$(rc s2)" = 0 ] && [ "$(rc rej)" = 1 ] && [ "$(rc pend)" = 0 ] &&
	wait_result "$P" && [ "$(result "$P" | jq -r .status)" = pending ]; then
	ok "set-up: two jobs signed, one rejected, one waiting for approval"
else
	fail "set-up (rc $(rc s1) $(rc s2) $(rc rej) $(rc pend))" "$D/agent.log"
fi
stack_agent_stop
# Queued while no agent runs: the queue has depth.
for n in 1 2 3; do
	printf 'queued %s\n' "$n" > "$D/q$n.bin"
	sj "q$n" -k release -f raw -w 0 "$D/q$n.bin"
done
Q1=$(tr -d '\n' < "$D/q1.out")
rc_ XADD signet:dead '*' entry 1-1 reason "taken up 5 times" deliveries 5 >/dev/null
DEPTH=$(rc_ XLEN signet:jobs)
PENDING=$(rc_ XPENDING signet:jobs agents | head -1)

# --- status, text ---------------------------------------------------------------
"$ADMIN" status -c "$D/agent.json" > "$D/status.out" 2> "$D/status.err"
st=$?
cp "$D/status.out" "${STATUS_SAMPLE:-/dev/null}" 2>/dev/null
if [ "$st" = 0 ] && [ ! -s "$D/status.err" ]; then ok "status exits 0 with nothing on stderr"; else fail "status exit $st" "$D/status.err"; fi
expect_line() { # WHAT REGEX
	if grep -Eq -- "$2" "$D/status.out"; then ok "status: $1"; else fail "status: $1 (no line /$2/)" "$D/status.out"; fi
}
expect_line "queue depth $DEPTH" "^  depth +$DEPTH \(signet:jobs\)$"
expect_line "$PENDING pending entries" "^  pending +$PENDING \(delivered, not acknowledged\)$"
expect_line "the oldest pending entry, its age and consumer" "^  oldest pending +[0-9]+-[0-9]+, queued [0-9]+s ago, idle [0-9]+s, 1 delivery, consumer test-agent@$HOST/$FIRST_PID$"
expect_line "one dead letter" "^  dead letters +1 \(signet:dead\)$"
expect_line "the stopped agent's consumer with its pending count" "^  test-agent@$HOST/$FIRST_PID +pending 1 +idle [0-9]+s$"
expect_line "the job waiting for approval" "^  $P  key release-rsa  submitter ci-fw  expires [0-9T:Z-]+ \(in (2[0-9]|30)m[0-9]+s\)$"
expect_line "the last signature of release is the second job" "^  release +[0-9T:Z-]+  job $S2  submitter ci-fw$"
expect_line "release-rsa never signed" "^  release-rsa +never$"
expect_line "certificate expiry with days left" "^  release +not after [0-9T:Z-]+  (29|30) days left \(expires soon\)$"

# --- status, JSON -----------------------------------------------------------------
"$ADMIN" status -c "$D/agent.json" --json > "$D/status.json" 2> "$D/status.err"
st=$?
if [ "$st" = 0 ] && jq -e --argjson depth "$DEPTH" --argjson pend "$PENDING" \
	--arg c "test-agent@$HOST/$FIRST_PID" --arg p "$P" --arg s2 "$S2" '
	.agent == "test-agent" and .redis.reachable == true and .redis.prefix == "signet:" and
	.queue.depth == $depth and .queue.pending == $pend and .queue.dead_letters == 1 and
	.queue.oldest_pending.consumer == $c and .queue.oldest_pending.deliveries == 1 and
	(.queue.consumers | map(select(.name == $c and .pending == 1)) | length) == 1 and
	(.approvals_pending | map(.id)) == [$p] and .approvals_pending[0].key == "release-rsa" and
	(.last_signatures[] | select(.key == "release") | .id == $s2 and .submitter == "ci-fw") and
	(.last_signatures[] | select(.key == "release-rsa") | has("time") | not) and
	(.certificates[] | select(.key == "release") | .state == "expiring" and
		(.days_left == 29 or .days_left == 30) and (.not_after | test("Z$"))) and
	.audit.records > 10' "$D/status.json" >/dev/null; then
	ok "status --json: the same facts, one object"
else
	fail "status --json (exit $st)" "$D/status.json"
fi

# --- job ID ---------------------------------------------------------------------------
"$ADMIN" job -c "$D/agent.json" --agent-key "$D/agent.pub" "$S1" > "$D/job.out" 2> "$D/job.err"
st=$?
if [ "$st" = 0 ] && grep -q "^  status    signed$" "$D/job.out" &&
	grep -q "^  verified: attested by the agent key$" "$D/job.out" &&
	grep -q "no longer in the stream (acknowledged and deleted)" "$D/job.out" &&
	grep -q "^done list (signet:done:$S1): 0$" "$D/job.out" &&
	grep -Eq "^claim \(signet:claim:$S1\): done:test-agent@[^ ]+/[0-9]+$" "$D/job.out" &&
	grep -Eq "^  #[0-9]+ [0-9T:Z-]+ received entry=" "$D/job.out" &&
	grep -Eq "^  #[0-9]+ [0-9T:Z-]+ signed id=$S1 .*key=release" "$D/job.out" &&
	grep -Eq "^  #[0-9]+ [0-9T:Z-]+ signature id=$S1 .*signature=<[0-9]+ bytes of base64>" "$D/job.out"; then
	ok "job: a signed job's entry, verified result, done list, claim and records"
else
	fail "job of a signed job (exit $st)" "$D/job.out"
fi
"$ADMIN" job -c "$D/agent.json" --json "$S1" > "$D/job.json" 2> "$D/job.err"
st=$?
if [ "$st" = 0 ] && jq -e --arg i "$S1" '.id == $i and .known and .result.status == "signed" and
	.result.verified == null and .done == 0 and (.claim | startswith("done:test-agent@")) and
	(.entries | length) == 1 and .entries[0].in_stream == false and
	([.audit[].event] == ["received", "intent", "signature", "signed", "published"])' \
	"$D/job.json" >/dev/null; then
	ok "job --json: unverified without --agent-key; records received, intent, signature, signed, published"
else
	fail "job --json (exit $st)" "$D/job.json"
fi
"$ADMIN" job -c "$D/agent.json" --agent-key "$D/agent.pub" "$P" > "$D/jp.out" 2> "$D/jp.err"
st=$?
if [ "$st" = 0 ] && grep -q "^  status    pending$" "$D/jp.out" && grep -q "^  approvals 0 of 1$" "$D/jp.out" &&
	grep -Eq "^  [0-9]+-[0-9]+  in the stream, delivered to test-agent@$HOST/$FIRST_PID, idle [0-9]+s, 1 delivery, not acknowledged$" "$D/jp.out" &&
	grep -q "^done list (signet:done:$P): 1$" "$D/jp.out" && grep -Eq "^  #[0-9]+ [0-9T:Z-]+ pending id=$P " "$D/jp.out"; then
	ok "job: a job waiting for approval, its entry held by the stopped agent"
else
	fail "job of the pending job (exit $st)" "$D/jp.out"
fi
"$ADMIN" job -c "$D/agent.json" "$Q1" > "$D/jq1.out" 2> "$D/jq1.err"
st=$?
"$ADMIN" job -c "$D/agent.json" --json "$Q1" > "$D/jq1.json" 2>/dev/null
if [ "$st" = 0 ] && grep -Eq "^  [0-9]+-[0-9]+  in the stream, not delivered to any agent yet$" "$D/jq1.out" &&
	grep -q "^  none (no audit log yet)$\|^  none$" "$D/jq1.out" &&
	jq -e '.known and .result == null and .entries[0].in_stream and (.entries[0].pending | not) and
		.claim == null and .done == 0 and .audit == []' "$D/jq1.json" >/dev/null; then
	ok "job: a job never taken is in the stream, with no result and no records"
else
	fail "job of a queued job (exit $st)" "$D/jq1.out"
fi
"$ADMIN" job -c "$D/agent.json" 0123456789abcdef0123456789abcdef > "$D/j0.out" 2> "$D/j0.err"
st=$?
if [ "$st" = 1 ] && grep -q "nothing is known of it" "$D/j0.err"; then ok "job: an unknown id exits 1"; else fail "job of an unknown id (exit $st)" "$D/j0.err"; fi
"$ADMIN" job -c "$D/agent.json" 'not-an-id' > /dev/null 2> "$D/j1.err"
if [ $? = 2 ]; then ok "job: a malformed id is a usage error"; else fail "job with a malformed id" "$D/j1.err"; fi

# --- signatures -----------------------------------------------------------------------
sigs() { "$ADMIN" signatures -c "$D/agent.json" "$@" 2>"$D/sigs.err"; }
if [ "$(sigs | grep -c '  job ')" = 2 ] && sigs --key release | grep -q "job $S1  key release  submitter ci-fw  format raw  sha256 [0-9a-f]\{64\}  artifact a.bin$" &&
	[ "$(sigs --key release-rsa)" = "no signatures match" ]; then
	ok "signatures: both signed jobs, filtered by --key"
else
	fail "signatures --key" "$D/sigs.err"
fi
TOMORROW=$(date -u -d tomorrow +%Y-%m-%dT%H:%M:%SZ)
if [ "$(sigs --since 1h --json | jq '.count')" = 2 ] && [ "$(sigs --since "$TOMORROW" --json | jq '.count')" = 0 ] &&
	sigs --json --key release --since 7d | jq -e --arg i "$S2" '.signatures[1] | .id == $i and .format == "cms" and .artifact == "b.bin" and .ci_pipeline_asserted == "77"' >/dev/null; then
	ok "signatures --since: a span back from now and an RFC 3339 time; --json"
else
	fail "signatures --since" "$D/sigs.err"
fi
sigs --since yesterday > /dev/null
if [ $? = 2 ] && grep -q "neither an RFC 3339 time" "$D/sigs.err"; then ok "signatures: a bad --since is a usage error"; else fail "signatures --since yesterday" "$D/sigs.err"; fi

# --- status without Redis ---------------------------------------------------------------
( umask 077; printf 's3cret-pw\n' > "$D/redis.pw" )
stack_policy_config ".redis = \"redis://monitor@127.0.0.1:1\" | .redis_password_file = \"$D/redis.pw\"" "$D/noredis.json"
"$ADMIN" status -c "$D/noredis.json" > "$D/nr.out" 2> "$D/nr.err"
st=$?
if [ "$st" = 1 ] && grep -q "Redis at redis://monitor@127.0.0.1:1: .*Connection refused" "$D/nr.err" &&
	! grep -q s3cret "$D/nr.err" "$D/nr.out" && grep -q "^  release-rsa +never$\|^  release-rsa  *never$" "$D/nr.out" &&
	grep -q "days left" "$D/nr.out" && grep -q "UNREACHABLE" "$D/nr.out"; then
	ok "status with Redis unreachable: exit 1, the URL without its password and the system's reason; the log and certificates still shown"
else
	fail "status without Redis (exit $st)" "$D/nr.err"
fi
"$ADMIN" status -c "$D/noredis.json" --json > "$D/nr.json" 2>/dev/null
if jq -e '.redis.reachable == false and (.redis.error | test("Connection refused")) and .queue == null and
	(.last_signatures | length) == 3' "$D/nr.json" >/dev/null; then
	ok "status --json with Redis unreachable"
else
	fail "status --json without Redis" "$D/nr.json"
fi

# --- status with an expired certificate -------------------------------------------------
openssl x509 -new -subj "/O=signet test/CN=release" -force_pubkey "$D/release.pub.pem" \
	-CA "$D/root.pem" -CAkey "$D/root.key" -days 0 -set_serial 0x4243 \
	-extfile "$D/ext.cnf" -extensions leaf -out "$D/old.crt" 2>/dev/null
cat "$D/old.crt" "$D/root.pem" > "$D/old.chain.pem"
stack_policy_config ".keys.release.certificates = \"$D/old.chain.pem\"" "$D/expired.json"
sleep 1
"$ADMIN" status -c "$D/expired.json" > "$D/ex.out" 2> "$D/ex.err"
st=$?
if [ "$st" = 1 ] && grep -Eq "^  release +not after [0-9T:Z-]+  EXPIRED 0 days ago$" "$D/ex.out" &&
	grep -q "key release: its certificate is expired: its jobs are refused (key.cert_expired)" "$D/ex.err"; then
	ok "status with an expired certificate: EXPIRED, exit 1 with a line saying so"
else
	fail "status with an expired certificate (exit $st)" "$D/ex.out"
fi

# --- dead consumers ------------------------------------------------------------------------
# An earlier run's consumer without pending entries, one with an entry
# pending, another agent's; all idle beyond reclaim_after (3 s).
rc_ XGROUP CREATECONSUMER signet:jobs agents "test-agent@$HOST/999999" >/dev/null
rc_ XGROUP CREATECONSUMER signet:jobs agents "other-agent@$HOST/5" >/dev/null
rc_ XREADGROUP GROUP agents "test-agent@$HOST/999998" COUNT 1 STREAMS signet:jobs '>' >/dev/null
HELD=$(rc_ --raw XPENDING signet:jobs agents - + 10 "test-agent@$HOST/999998" | head -1)
sleep 4
: > "$D/agent.log.mark"
LOG_BEFORE=$(wc -l < "$D/agent.log")
stack_agent_start || exit 1
SECOND_PID=$STACK_AGENT_PID
tail -n +"$((LOG_BEFORE + 1))" "$D/agent.log" > "$D/second.log"
if grep -q "consumer test-agent@$HOST/999999: removed from the group" "$D/second.log" &&
	! has_consumer "test-agent@$HOST/999999"; then
	ok "at start, an earlier run's idle consumer with nothing pending is removed (logged)"
else
	fail "start-up removal" "$D/second.log"
fi
if has_consumer "other-agent@$HOST/5"; then ok "another agent's consumer is left alone"; else fail "other-agent's consumer removed" "$D/agent.log"; fi
# The consumer holding HELD goes only after HELD is taken over.
for _ in $(seq 1 200); do has_consumer "test-agent@$HOST/999998" || break; sleep 0.05; done
tail -n +"$((LOG_BEFORE + 1))" "$D/agent.log" > "$D/second.log"
taken=$(grep -n "entry $HELD: taken over" "$D/second.log" | head -1 | cut -d: -f1)
removed=$(grep -n "consumer test-agent@$HOST/999998: removed" "$D/second.log" | head -1 | cut -d: -f1)
if [ -n "$HELD" ] && [ -n "$taken" ] && [ -n "$removed" ] && [ "$taken" -lt "$removed" ] &&
	! grep -q "pending entries it received" "$D/second.log"; then
	ok "a consumer with a pending entry is removed only after the entry was taken over"
else
	fail "removal of the consumer holding $HELD (taken at line ${taken:-none}, removed at ${removed:-none})" "$D/second.log"
fi
for _ in $(seq 1 200); do [ "$(rc_ XLEN signet:jobs)" -le 1 ] && break; sleep 0.05; done
if wait_result "$Q1" && [ "$(result "$Q1" | jq -r .status)" = signed ] && [ "$(rc_ XLEN signet:jobs)" = 1 ]; then
	ok "the queued jobs, the held one included, are signed (only the job waiting for approval stays)"
else
	fail "queued jobs after the restart (XLEN $(rc_ XLEN signet:jobs))" "$D/agent.log"
fi
if ! has_consumer "test-agent@$HOST/$FIRST_PID"; then
	ok "the stopped agent's consumer is removed once its pending entry was taken over"
else
	fail "the first agent's consumer is still there: $(xinfo | tr '\n' ';')" "$D/agent.log"
fi

# Killed with no job in hand but the one waiting for approval; a new run
# (same name and host, another pid) removes its consumer.
kill -KILL "$SECOND_PID"
wait "$SECOND_PID" 2>/dev/null
STACK_AGENT_PID=""
if has_consumer "test-agent@$HOST/$SECOND_PID"; then ok "the killed agent's consumer is left in the group"; else fail "no consumer of the killed agent" /dev/null; fi
sleep 0.5
stack_agent_start || exit 1
THIRD_PID=$STACK_AGENT_PID
for _ in $(seq 1 300); do has_consumer "test-agent@$HOST/$SECOND_PID" || break; sleep 0.05; done
if ! has_consumer "test-agent@$HOST/$SECOND_PID" && has_consumer "test-agent@$HOST/$THIRD_PID" &&
	has_consumer "other-agent@$HOST/5" &&
	grep -q "consumer test-agent@$HOST/$SECOND_PID: removed from the group" "$D/agent.log"; then
	ok "after kill -9 and a restart, the killed run's consumer is removed"
else
	fail "the killed run's consumer: $(xinfo | tr '\n' ';')" "$D/agent.log"
fi
if [ "$(result "$P" | jq -r .status)" = pending ] &&
	[ "$(rc_ --raw XPENDING signet:jobs agents | head -1)" = 1 ]; then
	ok "the job waiting for approval is still pending, held by the live agent"
else
	fail "the job waiting for approval after the restarts" "$D/agent.log"
fi
"$ADMIN" status -c "$D/agent.json" > "$D/status2.out" 2>&1
if grep -Eq "^  test-agent@$HOST/$THIRD_PID +pending 1 " "$D/status2.out" &&
	! grep -q "test-agent@$HOST/$SECOND_PID" "$D/status2.out"; then
	ok "status lists the live agent's consumer only"
else
	fail "status after the restarts" "$D/status2.out"
fi
stack_agent_stop
[ -s "$D/agent.failures" ] && fail "the agent exited badly: $(cat "$D/agent.failures")"
summary "admin_status: "
