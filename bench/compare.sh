#!/bin/bash
# bench/compare.sh — ECDSA throughput and CPU per job of one build, for
# before/after comparisons of a change (docs/performance.md).
#
#   bench/compare.sh [--build DIR] [-n N] [-r ROUNDS] [--tmp]
#
# Brings up a stack (scripts/stack.sh) on a new ext4 image without a
# journal, loop-mounted for the run (needs root; --tmp: in /tmp instead),
# so that no earlier run's deleted inodes slow the store down, and runs
# bench/loadgen ROUNDS times with N jobs (default 3000 × 2).  Prints one
# line per round: jobs/s, the CPU ms per job of the agent, its signers and
# redis, and the agent's context switches per job (perf stat, when perf
# is installed).  Run it for each build and compare the lines.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIGNET_BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
N=3000 ROUNDS=2 USE_TMP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) SIGNET_BUILD=$(cd "$2" && pwd); shift ;;
	-n) N=$2; shift ;;
	-r) ROUNDS=$2; shift ;;
	--tmp) USE_TMP=1 ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
PARENT=/tmp IMG="" MNT=""
if [ "$USE_TMP" = 0 ]; then
	IMG=$(mktemp /tmp/signet-compare.XXXXXX) MNT=$(mktemp -d /tmp/signet-compare-mnt.XXXXXX)
	truncate -s 4G "$IMG" && mkfs.ext4 -q -F -O ^has_journal "$IMG" && mount -o loop "$IMG" "$MNT" ||
		{ echo "compare.sh: cannot make the ext4 image (root needed; or --tmp)" >&2; rm -f "$IMG"; exit 2; }
	PARENT=$MNT
fi
STACK_DIR=$(mktemp -d "$PARENT/signet-compare.XXXXXX")
STACK_QUIET=1
# shellcheck source=scripts/stack.sh
. "$SRC/scripts/stack.sh"
cleanup() {
	stack_cleanup; sleep 0.3; rm -rf "$STACK_DIR"
	if [ -n "$MNT" ]; then umount "$MNT"; rmdir "$MNT"; rm -f "$IMG"; fi
}
trap cleanup EXIT
D=$STACK_DIR
stack_redis_start && stack_token_init || exit 1
SUBKEYS=""
for i in 1 2 3 4; do
	stack_submitter "bench$i" ec
	SUBKEYS="$SUBKEYS $D/bench$i.key"
done
stack_config
stack_agent_start || exit 1
for _ in $(seq 1 "$ROUNDS"); do
	PS=""
	if command -v perf >/dev/null; then
		perf stat -e context-switches -o "$D/perf.out" -p "$STACK_AGENT_PID" 2>/dev/null &
		PS=$!
	fi
	# Word splitting wanted: stack_cpu_procs and SUBKEYS are lists of options.
	# shellcheck disable=SC2046,SC2086
	"$SIGNET_BUILD/bench/loadgen" -s "$REDIS_SOCK" -a "$D/agent.pub" -k release -m ecdsa-sha256 \
		-n "$N" $(stack_cpu_procs) $SUBKEYS > "$D/out" 2> "$D/err" || { cat "$D/err" >&2; exit 1; }
	CS=""
	if [ -n "$PS" ]; then
		kill -INT "$PS"; wait "$PS" 2>/dev/null
		CS=$(awk '/context-switches/ { gsub(",", "", $1); print $1 }' "$D/perf.out")
	fi
	awk -v cs="$CS" -v n="$N" '
		$1 == "throughput_jps" { t = $2 }
		$1 == "cpu_per_job_ms" { k = $2; sub(/[0-9]+$/, "", k); v[k] += $3 }
		END {
			printf "jobs/s %.0f  CPU ms per job: agent %.3f signer %.3f redis %.3f", t, v["agent"], v["signer"], v["redis"]
			if (cs != "") printf "  context switches per job %.1f", cs / n
			printf "\n"
		}' "$D/out"
done
