#!/bin/bash
# Fault injection: Redis (appendonly yes, appendfsync always) is stopped and
# started again on the same socket every ~10 s under a steady load from three
# submitters: by SIGTERM (orderly shutdown) and then by SIGKILL (nothing it
# acknowledged may be lost with appendfsync always), in turn.  The agent and the submitters reconnect; no job may be
# lost and no job id may get two HSM signatures.  With FAULTS_TLS=1
# (faults-redis_restart_tls) the agent and the submitters connect by
# rediss:// to Redis's TLS port, and reconnect through TLS handshakes.
. "$(dirname "$0")/lib.sh"
faults_init redis_restart${FAULTS_TLS:+_tls}
FAULT_S=${FAULT_S:-30}
DOWN_S=${DOWN_S:-3}

STACK_REDIS_TLS_MEMBER=""
if [ -n "${FAULTS_TLS:-}" ]; then
	stack_redis_tls $((30000 + RANDOM % 20000)) || exit 1
fi
redis_aof_start || exit 1
if [ -n "${FAULTS_TLS:-}" ]; then
	case $SIGNET_REDIS in rediss://*) ;; *) echo "FAULTS_TLS set but $SIGNET_REDIS is not rediss://"; exit 1 ;; esac
fi
stack_token_init || exit 1
faults_submitters
STACK_EXTRA="\"reclaim_after\": 2, \"max_deliveries\": 50, $STACK_REDIS_TLS_MEMBER"
stack_config
agent_start "$D/agent.json" "$D/agent.log" || exit 1

load_start
end=$(($(date +%s) + FAULT_S))
restarts=0
while [ "$(date +%s)" -lt "$end" ]; do
	sleep 7
	if [ $((restarts % 2)) = 0 ]; then
		redis_aof_stop
		how=SIGTERM
	else
		kill -KILL "$(cat "$D/redis.pid")"
		sleep 0.2
		rm -f "$D/redis.pid"
		how=SIGKILL
	fi
	sleep "$DOWN_S"
	redis_aof_start || exit 1
	restarts=$((restarts + 1))
	faults_log "redis stopped by $how for $DOWN_S s and started again ($restarts)"
done
kill -0 "$AGENT_PID" 2>/dev/null || { echo "# the agent died:"; tail -n 30 "$D/agent.log"; exit 1; }
load_stop
faults_report "$D/store" "$D/audit.log"
st=$?
agents_stop_all
[ -e "$D/agent.failures" ] && { cat "$D/agent.failures"; st=1; }
[ "$st" = 0 ] || { echo "# agent.log (tail):"; tail -n 30 "$D/agent.log" | sed 's/^/#   /'; }
exit "$st"
