#!/bin/bash
# A stream entry too large to read (over the queue's reply bound,
# docs/security.md) does not hold up the jobs around it.  Written while the
# agent is stopped, it comes in one read with a normal job: the read is
# refused, both entries stay pending for the agent, and its takeover pass
# (reclaim_after) claims them again one at a time: the large one goes to the
# dead letters by its id alone, the job is signed.  (The agent may also
# have read the large entry alone, in the read it was blocked in when
# stopped: then the job comes in the next read, and the large entry is
# still taken over and dead-lettered the same way.)  The agent never buffers
# the large entry (its peak RSS stays small).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init oversize

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
STACK_EXTRA='"reclaim_after": 2,'
stack_config
stack_agent_start || exit 1
export SIGNET_IDENTITY=$D/ci-fw.key
printf 'firmware\n' > "$D/fw.bin"

kill -STOP "$STACK_AGENT_PID"
# 65 MiB: over the 64 MiB bound.
BIG=$(head -c 68157440 /dev/zero | tr '\0' a | redis-cli -s "$REDIS_SOCK" -x XADD signet:jobs '*' env)
bg_sj job -k release -f raw -w 60 -o "$D/fw.sig" "$D/fw.bin"
wait_stream 2 || fail "the job did not reach the stream"
kill -CONT "$STACK_AGENT_PID"
bg_wait

if [ "$(rc job)" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" -signature "$D/fw.sig" \
	"$D/fw.bin" >/dev/null 2>&1; then
	ok "the job read with the oversized entry is signed (submit-job exit 0, openssl verifies)"
else
	fail "the job behind the oversized entry (exit $(rc job))" "$D/job.err"
fi
# The takeover pass runs every reclaim_after at most.
for _ in $(seq 1 150); do
	[ "$(rc_ XLEN signet:dead)" -ge 1 ] && break
	sleep 0.2
done
dead=$(rc_ --raw XRANGE signet:dead - + | tr '\n' ' ')
case "$dead" in
*"entry $BIG reason unreadable entry"*) ok "entry $BIG: to the dead letters by its id (reason unreadable entry), without its content" ;;
*) fail "no dead letter for $BIG: $(printf %s "$dead" | cut -c1-200)" "$STACK_DIR/agent.log" ;;
esac
if [ -z "$(rc_ XRANGE signet:jobs "$BIG" "$BIG" COUNT 1 | head -c 1)" ] &&
	grep -q "stream entry $BIG cannot be read" "$STACK_DIR/agent.log"; then
	ok "the entry is gone from the stream; the agent says: $(grep -o "stream entry $BIG cannot be read.*" "$STACK_DIR/agent.log" | head -1 | cut -c1-160)"
else
	fail "the entry is still in the stream, or the log does not name it" "$STACK_DIR/agent.log"
fi
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$STACK_AGENT_PID/status" 2>/dev/null || echo 0)
# Under AddressSanitizer (scripts/test.sh sets ASAN_OPTIONS) its shadow
# memory is in the resident set: the bound is not checked there.
limit=65536
[ -n "${ASAN_OPTIONS:-}" ] && limit=99999999
if kill -0 "$STACK_AGENT_PID" 2>/dev/null && [ "${hwm:-0}" -gt 0 ] && [ "$hwm" -lt "$limit" ]; then
	ok "the agent runs on; its peak RSS is $((hwm / 1024)) MiB (the 65 MiB entry was never buffered)"
else
	fail "agent gone or peak RSS ${hwm} kB" "$STACK_DIR/agent.log"
fi
summary
