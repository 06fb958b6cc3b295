#!/bin/bash
# Fault injection: the HSM's token is made unavailable (its SoftHSM token
# directory moved away) for a few seconds and restored, twice, under a
# steady load from three submitters.  Jobs caught by the outage may fail
# (hsm.*: counted as failed, not lost); none may be lost, no job id may get
# two HSM signatures, and jobs submitted after the token is back are signed.
. "$(dirname "$0")/lib.sh"
faults_init hsm_token
ROUNDS=${ROUNDS:-2}
UP_S=${UP_S:-6}
DOWN_S=${DOWN_S:-6}
AFTER_S=${AFTER_S:-10}

stack_redis_start || exit 1
stack_token_init || exit 1
faults_submitters
STACK_EXTRA='"reclaim_after": 2,'
stack_config
agent_start "$D/agent.json" "$D/agent.log" || exit 1

load_start
for i in $(seq 1 "$ROUNDS"); do
	sleep "$UP_S"
	mv "$D/tokens" "$D/tokens.away"
	faults_log "token unavailable ($i)"
	sleep "$DOWN_S"
	mv "$D/tokens.away" "$D/tokens"
	faults_log "token restored ($i)"
done
# Jobs started from 2 s after the token is back must be signed again.
FAULTS_SINCE=$(($(date +%s) + 2))
sleep "$AFTER_S"
kill -0 "$AGENT_PID" 2>/dev/null || { echo "# the agent died:"; tail -n 30 "$D/agent.log"; exit 1; }
load_stop
faults_report "$D/store" "$D/audit.log"
st=$?
agents_stop_all
[ -e "$D/agent.failures" ] && { cat "$D/agent.failures"; st=1; }
[ "$st" = 0 ] || { echo "# agent.log (tail):"; tail -n 30 "$D/agent.log" | sed 's/^/#   /'; }
exit "$st"
