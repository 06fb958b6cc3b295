#!/bin/bash
# Redis Sentinel: agent and submit-job reach the queue through
# sentinel://host:port/master and follow a failover (the master is killed,
# the sentinel promotes the replica, signing goes on).  All on 127.0.0.1.
set -u

SRC=${SIGNET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SIGNET_BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
SUBMIT_JOB=${SUBMIT_JOB:-$SIGNET_BUILD/submitter/submit-job}
for tool in redis-server redis-cli softhsm2-util pkcs11-tool openssl jq; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool (a missing tool is a failure)"; exit 1; }
done

STACK_DIR=$(mktemp -d /tmp/signet-sentinel.XXXXXX)
STACK_QUIET=1
. "$SRC/scripts/stack.sh"
D=$STACK_DIR
cleanup() {
	stack_cleanup
	for f in "$D"/*.rpid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	rm -rf "$D"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/       /' "$2" | tail -n 15; }

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
sj() {
	local id=$1
	shift
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub SIGNET_IDENTITY=$D/ci-fw.key \
		"$SUBMIT_JOB" "$@" >"$D/$id.out" 2>"$D/$id.err"
	echo $? > "$D/$id.rc"
}

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
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
