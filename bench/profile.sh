#!/bin/bash
# bench/profile.sh — where the agent's time goes, for docs/performance.md.
#
#   bench/profile.sh [--build DIR] [-n N] strace|callgrind|perf
#
# strace: the agent (and its signet-signer) under `strace -f -c -w`: wall
# time per system call over N ECDSA jobs.  callgrind: the agent under
# valgrind --tool=callgrind (the signer is not followed), then the top
# functions by inclusive cost (callgrind_annotate).  Both slow the agent
# down; the figures are shares, not rates.  perf: `perf record -g` of the
# agent at full speed (sampling, so it slows nothing much), then the top
# functions by self cost and the context switches per job (perf stat);
# PROFILE_CG=dwarf,16384 PROFILE_FREQ=499 for call graphs through OpenSSL
# and libc (no frame pointers), PROFILE_KEEP=FILE keeps perf.data.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIGNET_BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
N=500
while [ $# -gt 1 ]; do
	case "$1" in
	--build) SIGNET_BUILD=$(cd "$2" && pwd); shift ;;
	-n) N=$2; shift ;;
	*) echo "profile.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
MODE=${1:-strace}
STACK_DIR=$(mktemp -d /tmp/signet-prof.XXXXXX)
STACK_QUIET=1
. "$SRC/scripts/stack.sh"
trap 'stack_cleanup; sleep 0.3; rm -rf "$STACK_DIR"' EXIT
D=$STACK_DIR
stack_redis_start && stack_token_init || exit 1
stack_submitter bench1 ec
stack_config
A=$SIGNET_BUILD/agent/signet-agent
case "$MODE" in
strace)
	"$A" -c "$D/agent.json" 2>>"$D/agent.log" &
	STACK_AGENT_PID=$!
	sleep 1
	strace -f -c -w -o "$D/strace.out" -p "$STACK_AGENT_PID" &
	TR=$!
	sleep 0.5 ;;
perf)
	"$A" -c "$D/agent.json" 2>>"$D/agent.log" &
	STACK_AGENT_PID=$!
	sleep 1
	perf record -F "${PROFILE_FREQ:-4999}" --call-graph "${PROFILE_CG:-fp}" -o "$D/perf.data" -p "$STACK_AGENT_PID" 2>/dev/null &
	TR=$!
	perf stat -e context-switches,cpu-clock -o "$D/perf-stat.out" -p "$STACK_AGENT_PID" 2>/dev/null &
	TS=$!
	sleep 0.5 ;;
callgrind)
	valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$A" -c "$D/agent.json" \
		2>>"$D/agent.log" &
	STACK_AGENT_PID=$!
	for _ in $(seq 1 200); do grep -q started "$D/agent.log" && break; sleep 0.1; done ;;
*) echo "profile.sh: strace|callgrind|perf" >&2; exit 2 ;;
esac
"$SIGNET_BUILD/bench/loadgen" -s "$REDIS_SOCK" -a "$D/agent.pub" -k release -m ecdsa-sha256 \
	-n "$N" "$D/bench1.key" || exit 1
case "$MODE" in
strace)
	kill -INT "$TR"; wait "$TR" 2>/dev/null
	head -n 25 "$D/strace.out" ;;
perf)
	kill -INT "$TR" "$TS"; wait "$TR" "$TS" 2>/dev/null
	cat "$D/perf-stat.out"
	echo "(over $N jobs, plus the second before and the idle half second after)"
	perf report -i "$D/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n 60
	[ -n "${PROFILE_KEEP:-}" ] && cp "$D/perf.data" "$PROFILE_KEEP" ;;
callgrind)
	stack_agent_stop
	callgrind_annotate --inclusive=yes "$D/cg.out" 2>/dev/null | head -n 60 ;;
esac
