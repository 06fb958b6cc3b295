#!/bin/bash
# Fault injection: two agents (different names and audit logs, the same
# queue, store and token) consume at once under a steady load from three
# submitters; one of them (agent-a) is killed with SIGKILL, started again and
# killed again every 2-4 s (so that some kill lands while it holds a job),
# and finally stays dead; the other takes over what it held (once agent-a's
# claims expired, reclaim_after).  No job may be lost or fail, and no job id
# may get two released signatures, counted across both audit logs, Redis
# and the store.
. "$(dirname "$0")/lib.sh"
faults_init two_agents
BEFORE_S=${BEFORE_S:-5}
KILLS=${KILLS:-6}
AFTER_S=${AFTER_S:-10}

stack_redis_start || exit 1
stack_token_init || exit 1
faults_submitters
STACK_EXTRA='"reclaim_after": 2, "max_deliveries": 50,'
stack_config
jq --arg a "$D/audit-a.log" '.name = "agent-a" | .audit_log = $a' "$D/agent.json" > "$D/agent-a.json"
jq --arg a "$D/audit-b.log" '.name = "agent-b" | .audit_log = $a' "$D/agent.json" > "$D/agent-b.json"
agent_start "$D/agent-a.json" "$D/agent-a.log" || exit 1
pid_a=$AGENT_PID
agent_start "$D/agent-b.json" "$D/agent-b.log" || exit 1
pid_b=$AGENT_PID

load_start
sleep "$BEFORE_S"
for k in $(seq 1 "$KILLS"); do
	agent_kill9 "$pid_a"
	[ "$k" = "$KILLS" ] && break
	agent_start "$D/agent-a.json" "$D/agent-a.log" || exit 1
	pid_a=$AGENT_PID
	sleep "$((2 + RANDOM % 3)).$((RANDOM % 10))"
done
faults_log "agent-a killed with SIGKILL $KILLS times; agent-b goes on alone"
sleep "$AFTER_S"
kill -0 "$pid_b" 2>/dev/null || { echo "# agent-b died:"; tail -n 30 "$D/agent-b.log"; exit 1; }
load_stop
FAULTS_NO_FAILED=1 faults_report "$D/store" "$D/audit-a.log" "$D/audit-b.log" | tee "$D/report"
st=${PIPESTATUS[0]}
for x in a b; do
	n=$(grep -c '"event":"signature"' "$D/audit-$x.log" 2>/dev/null)
	echo "# agent-$x made ${n:-0} HSM signatures"
done
agents_stop_all
[ -e "$D/agent.failures" ] && { cat "$D/agent.failures"; st=1; }
[ "$st" = 0 ] || for x in a b; do echo "# agent-$x.log (tail):"; tail -n 20 "$D/agent-$x.log" | sed 's/^/#   /'; done
exit "$st"
