#!/bin/bash
# Redis Sentinel: agent and submit-job reach the queue through
# sentinel://host:port/master and follow a failover (the master is killed,
# the sentinel promotes the replica, signing goes on).  All on 127.0.0.1.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init sentinel
# The servers started here (their pid files: *.rpid), after the stack's.
redis_stop_all() {
	local f
	for f in "$D"/*.rpid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
}
on_exit redis_stop_all

base=$((30000 + RANDOM % 20000))
MPORT=$base RPORT=$((base + 1)) SPORT=$((base + 2))
start_redis() { # NAME PORT ARGS...
	local name=$1 port=$2
	shift 2
	mkdir -p "$D/$name"
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$D/$name" \
		--daemonize yes --pidfile "$D/$name.rpid" --logfile "$D/$name/log" "$@" >/dev/null
}
wait_ping() { for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }

start_redis master "$MPORT" && wait_ping "$MPORT" || exit 1
start_redis replica "$RPORT" --replicaof 127.0.0.1 "$MPORT" && wait_ping "$RPORT" || exit 1
mkdir -p "$D/sentinel"
cat > "$D/sentinel/sentinel.conf" <<CONF
port $SPORT
bind 127.0.0.1
daemonize yes
pidfile $D/sentinel.rpid
logfile $D/sentinel/log
dir $D/sentinel
sentinel monitor mymaster 127.0.0.1 $MPORT 1
sentinel down-after-milliseconds mymaster 500
sentinel failover-timeout mymaster 5000
CONF
redis-server "$D/sentinel/sentinel.conf" --sentinel >/dev/null && wait_ping "$SPORT" || exit 1
for _ in $(seq 1 100); do
	[ "$(redis-cli -p "$MPORT" info replication | tr -d '\r' | sed -n 's/^connected_slaves://p')" = 1 ] && break
	sleep 0.05
done

SIGNET_REDIS=sentinel://127.0.0.1:$SPORT/mymaster
stack_token_init || exit 1
stack_submitter ci-fw ec
stack_config
stack_agent_start || exit 1
printf 'through the sentinel\n' > "$D/a.bin"
# sj ID ARGS...: submit-job as ci-fw; output in $D/ID.out, status in $D/ID.rc.
sj() { SIGNET_IDENTITY=$D/ci-fw.key run_sj "$@"; }

sj before -k release -f raw -w 30 --replicas 1 -o "$D/before.sig" "$D/a.bin"
if [ "$(cat "$D/before.rc")" = 0 ] && [ "$(redis-cli -p "$MPORT" exists signet:jobs)" = 1 ]; then
	ok "agent and submit-job sign through sentinel://…/mymaster (WAIT: the replica holds the job)"
else
	fail "signing through the sentinel (rc $(cat "$D/before.rc"))" "$D/before.err"
fi

# The master dies; the sentinel promotes the replica.
kill -9 "$(cat "$D/master.rpid")"
for _ in $(seq 1 200); do
	[ "$(redis-cli -p "$SPORT" sentinel get-master-addr-by-name mymaster | sed -n 2p)" = "$RPORT" ] && break
	sleep 0.1
done
if [ "$(redis-cli -p "$SPORT" sentinel get-master-addr-by-name mymaster | sed -n 2p)" = "$RPORT" ]; then
	ok "the sentinel promoted the replica"
else
	fail "no failover happened"
fi
sj after -k release -f raw -w 60 -o "$D/after.sig" "$D/a.bin"
if [ "$(cat "$D/after.rc")" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" \
	-signature "$D/after.sig" "$D/a.bin" >/dev/null 2>&1 &&
	[ "$(redis-cli -p "$RPORT" --raw role | head -1)" = master ]; then
	ok "after the failover the agent follows the new master and signing goes on"
else
	fail "signing after the failover (rc $(cat "$D/after.rc"))" "$D/after.err"
	tail -5 "$D/agent.log"
fi

stack_agent_stop
[ ! -e "$D/agent.failures" ] && ok "signet-agent exited 0 on SIGTERM" || fail "agent exit status" "$D/agent.log"
summary
