# shellcheck shell=bash
# lib.sh — shared by the fault-injection scenarios (tests/faults/*.sh).
#
# A throwaway stack (scripts/stack.sh) plus a steady load of small ECDSA
# jobs from several submitters, and the final count:
#   submitted N, signed S, rejected R, failed F, lost L, duplicate signatures D
# counted from the submitters' results (and, for jobs whose submit-job gave
# up waiting, the result left in Redis or in the store) and from the audit
# logs.  A scenario fails on any lost job or duplicate released signature, on a
# result that disagrees with the audit log, and on a submit-job that saw a
# result that does not match its artifact (exit 5).
#
# Usage from a scenario:
#   . "$(dirname "$0")/lib.sh"; faults_init NAME
#   ... stack_redis_start / stack_token_init; faults_submitters; stack_config ...
#   load_start; <inject faults>; load_stop; faults_report AUDITLOG... ; exit $?
set -u

SRC=${SIGNET_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SIGNET_BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
SUBMIT_JOB=${SUBMIT_JOB:-$SIGNET_BUILD/submitter/submit-job}
SIGNET_AGENT=${SIGNET_AGENT:-$SIGNET_BUILD/agent/signet-agent}

# Load shape: submitters x in flight, each job waits this long for its result.
LOAD_INFLIGHT=${LOAD_INFLIGHT:-3}
LOAD_WAIT=${LOAD_WAIT:-45}
# After the load stops: how long to wait for results still owed.
DRAIN_S=${DRAIN_S:-30}

FAULTS_PIDS=""      # background helpers started here (killed by pid)
FAULTS_AGENTS=""    # "pid:log" of agents started with agent_start

faults_log() { printf '# %s %s\n' "$(date +%H:%M:%S)" "$*"; }

# faults_init NAME [TOOL...]
faults_init() {
	local name=$1
	shift
	for tool in redis-server redis-cli softhsm2-util pkcs11-tool openssl jq python3 "$@"; do
		command -v "$tool" >/dev/null || { echo "missing tool: $tool (a missing tool is a failure)"; exit 1; }
	done
	STACK_DIR=$(mktemp -d "/tmp/signet-faults-$name.XXXXXX")
	STACK_QUIET=1
	# shellcheck disable=SC1094
	. "$SRC/scripts/stack.sh"
	D=$STACK_DIR
	mkdir -p "$D/jobs" "$D/art"
	trap faults_cleanup EXIT
}

faults_cleanup() {
	touch "$D/stop"
	local p
	for p in $FAULTS_PIDS; do kill "$p" 2>/dev/null; done
	for p in $FAULTS_PIDS; do wait "$p" 2>/dev/null; done
	agents_stop_all
	stack_cleanup
	[ -n "${FAULTS_CLEANUP_EXTRA:-}" ] && eval "$FAULTS_CLEANUP_EXTRA"
	if [ -n "${FAULTS_KEEP:-}" ]; then echo "# kept $D"; else rm -rf "$D"; fi
}

rc_() { redis-cli -s "$REDIS_SOCK" "$@"; }

# redis_aof_start: redis-server on $REDIS_SOCK with appendonly yes and
# appendfsync always, its data in $D/redis; the same call starts it again.
# After stack_redis_tls PORT it also listens for TLS (the agent and the
# submitters then connect by rediss://).
redis_aof_start() {
	mkdir -p "$D/redis"
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
		--save '' --appendonly yes --appendfsync always --dir "$D/redis" --daemonize yes \
		--pidfile "$D/redis.pid" --logfile "$D/redis.log" "${STACK_REDIS_TLS[@]}" >/dev/null
	for _ in $(seq 1 200); do
		[ "$(rc_ ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.05
	done
	echo "redis-server did not start" >&2
	cat "$D/redis.log" >&2
	return 1
}

# redis_aof_stop: SIGTERM (an orderly shutdown with the AOF synced), waits
# until the process is gone.
redis_aof_stop() {
	local pid
	pid=$(cat "$D/redis.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$D/redis.pid"
}

# Three submitters: ci-a (ECDSA P-256) and ci-b (Ed25519) may use the EC key
# "release"; ci-c (ECDSA) may too, and every fifth of its jobs asks for
# "release-rsa", which it may not use: those are rejected by policy.
faults_submitters() {
	stack_submitter ci-a ec '["release"]'
	stack_submitter ci-b ed25519 '["release"]'
	stack_submitter ci-c ec '["release"]'
	FAULTS_SUBMITTERS="ci-a ci-b ci-c"
}

# agent_start CONFIG LOG: an agent in the background (with AGENT_ARGS, e.g.
# -v); waits for "started".  Sets AGENT_PID.
agent_start() {
	local before
	before=$(grep -c "started" "$2" 2>/dev/null)
	# shellcheck disable=SC2086
	"$SIGNET_AGENT" -c "$1" ${AGENT_ARGS:-} 2>>"$2" &
	AGENT_PID=$!
	FAULTS_AGENTS="$FAULTS_AGENTS $AGENT_PID"
	for _ in $(seq 1 200); do
		[ "$(grep -c "started" "$2" 2>/dev/null)" -gt "${before:-0}" ] && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "signet-agent did not start ($1):" >&2
	tail -n 20 "$2" >&2
	return 1
}

# agent_kill9 PID: SIGKILL, reaped.
agent_kill9() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# agent_stop PID: SIGTERM; an agent still running after STOP_S seconds is
# killed.  A non-zero exit or a hang is recorded in $D/agent.failures.
STOP_S=${STOP_S:-15}
agent_stop() {
	local st i
	kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 $((STOP_S * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "agent pid $1 still running $STOP_S s after SIGTERM: killed" >> "$D/agent.failures"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	st=$?
	[ "$st" = 0 ] || echo "agent pid $1 exited $st on SIGTERM" >> "$D/agent.failures"
}

agents_stop_all() {
	local p
	for p in $FAULTS_AGENTS; do agent_stop "$p"; done
	FAULTS_AGENTS=""
}

# One submitter's loop: LOAD_INFLIGHT submit-job processes at a time until
# $D/stop exists.  Each job is a small unique file; its stdout, stderr, exit
# status and start time go to $D/jobs/SUB-N.{out,err,rc,t}.
submitter_loop() {
	local sub=$1 n=0 key
	while [ ! -e "$D/stop" ]; do
		while [ "$(jobs -rp | wc -l)" -ge "$LOAD_INFLIGHT" ]; do
			wait -n 2>/dev/null
			[ -e "$D/stop" ] && break 2
		done
		n=$((n + 1))
		key=release
		[ "$sub" = ci-c ] && [ $((n % 5)) = 0 ] && key=release-rsa
		printf '%s job %s %s\n' "$sub" "$n" "$RANDOM$RANDOM" > "$D/art/$sub-$n.bin"
		date +%s > "$D/jobs/$sub-$n.t"
		(
			SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub SIGNET_IDENTITY=$D/$sub.key \
				"$SUBMIT_JOB" -k "$key" -f raw -w "$LOAD_WAIT" --json \
				-o "$D/art/$sub-$n.sig" "$D/art/$sub-$n.bin" \
				>"$D/jobs/$sub-$n.out" 2>"$D/jobs/$sub-$n.err"
			echo $? > "$D/jobs/$sub-$n.rc"
		) &
		sleep 0.05
	done
	wait
}

load_start() {
	local s
	rm -f "$D/stop"
	for s in $FAULTS_SUBMITTERS; do
		submitter_loop "$s" &
		FAULTS_PIDS="$FAULTS_PIDS $!"
	done
	faults_log "load started: submitters $FAULTS_SUBMITTERS, $LOAD_INFLIGHT in flight each"
}

# load_stop: no new jobs; waits for the submit-job processes (each at most
# LOAD_WAIT seconds).
load_stop() {
	local p
	touch "$D/stop"
	for p in $FAULTS_PIDS; do wait "$p" 2>/dev/null; done
	FAULTS_PIDS=""
	local n=0 f
	for f in "$D"/jobs/*.rc; do [ -e "$f" ] && n=$((n + 1)); done
	faults_log "load stopped: $n jobs ended"
}

# faults_report STOREDIR AUDITLOG...: waits up to DRAIN_S for results still
# owed, prints the count line, returns 0 only if nothing was lost or
# duplicated (two signatures released for one id) and everything agrees;
# with FAULTS_NO_FAILED=1 also only if no job failed.
faults_report() {
	local store=$1
	shift
	python3 "$SRC/tests/faults/count.py" --redis-sock "$REDIS_SOCK" --jobs "$D/jobs" \
		--store "$store" --drain "$DRAIN_S" ${FAULTS_SINCE:+--since "$FAULTS_SINCE"} \
		${FAULTS_NO_FAILED:+--no-failed} "$@"
}
