#!/bin/bash
# Fault injection: the HTTP artifact store (nginx with WebDAV PUT) is stopped
# for 20 s under a steady load from three submitters.  Jobs wait for the
# store (store_deadline 45 s) and complete when it returns: none may be lost,
# none may fail, no job id may get two HSM signatures.
. "$(dirname "$0")/lib.sh"
faults_init nginx_stop nginx curl
. "$SRC/scripts/nginx.sh"
FAULTS_CLEANUP_EXTRA=nginx_stop
BEFORE_S=${BEFORE_S:-5}
DOWN_S=${DOWN_S:-20}
AFTER_S=${AFTER_S:-8}

stack_redis_start || exit 1
stack_token_init || exit 1
nginx_start "" || exit 1
faults_submitters
STACK_STORE=http://127.0.0.1:$NGINX_PORT/signatures
STACK_EXTRA='"reclaim_after": 2, "store_timeout": 2, "store_deadline": 45,'
stack_config
agent_start "$D/agent.json" "$D/agent.log" || exit 1

load_start
sleep "$BEFORE_S"
nginx_stop
faults_log "nginx stopped"
sleep "$DOWN_S"
nginx_restart || { echo "nginx did not start again"; exit 1; }
faults_log "nginx started again after $DOWN_S s"
sleep "$AFTER_S"
load_stop
faults_report "$D/dav/signatures" "$D/audit.log" | tee "$D/report"
st=${PIPESTATUS[0]}
if grep -q '^# not signed:.*failed' "$D/report"; then
	echo "# FAIL: jobs failed although the store came back within store_deadline"
	st=1
fi
agents_stop_all
[ -e "$D/agent.failures" ] && { cat "$D/agent.failures"; st=1; }
[ "$st" = 0 ] || { echo "# agent.log (tail):"; tail -n 30 "$D/agent.log" | sed 's/^/#   /'; }
exit "$st"
