#!/bin/bash
# Fault injection: the agent is killed with SIGKILL every 1-3 s and started
# again, under a steady load from three submitters.  No job may be lost or
# fail (a job caught between its intent and its signature record is signed
# again after the restart), and no job id may get two released signatures.
. "$(dirname "$0")/lib.sh"
faults_init agent_kill
FAULT_S=${FAULT_S:-30}

stack_redis_start || exit 1
stack_token_init || exit 1
faults_submitters
# Entries held by a killed agent are taken over after 2 s; an entry may be
# delivered many times across kills before it is dead-lettered.
STACK_EXTRA='"reclaim_after": 2, "max_deliveries": 50,'
stack_config
agent_start "$D/agent.json" "$D/agent.log" || exit 1

load_start
end=$(($(date +%s) + FAULT_S))
kills=0
while [ "$(date +%s)" -lt "$end" ]; do
	sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
	agent_kill9 "$AGENT_PID"
	kills=$((kills + 1))
	agent_start "$D/agent.json" "$D/agent.log" || { tail -n 30 "$D/agent.log"; exit 1; }
done
faults_log "agent killed with SIGKILL $kills times"
load_stop
FAULTS_NO_FAILED=1 faults_report "$D/store" "$D/audit.log"
st=$?
agents_stop_all
[ -e "$D/agent.failures" ] && { cat "$D/agent.failures"; st=1; }
[ "$st" = 0 ] || { echo "# agent.log (tail):"; tail -n 30 "$D/agent.log" | sed 's/^/#   /'; }
exit "$st"
