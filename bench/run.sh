#!/bin/bash
# bench/run.sh — the signet benchmark (docs/performance.md).
#
#   bench/run.sh [--smoke] [--build DIR] [--mech ecdsa|rsa-pss|both] [-n N] [-k K]
#                [--seconds T] [--rss-jobs M] [--no-hash] [--no-rss] [--dir PARENT]
#                [--fresh-fs]
#
# Brings up a throwaway stack (scripts/stack.sh: redis-server on a unix
# socket, a SoftHSM token, the real signet-agent with its signet-signer,
# audit log and file store), then measures, in the same run:
#   - the raw HSM rate of the signing key and of the attestation key
#     (bench/rawsign: in-process PKCS#11, same session count as the agent);
#   - the naive way: one `pkcs11-tool --sign` process per artifact
#     (as many loops in parallel as the agent has sessions);
#   - end-to-end throughput and latency of N pre-built jobs from K
#     submitter keys, pushed pipelined (bench/loadgen), every result
#     verified as submit-job verifies it;
#   - latency at a fixed offered rate of 50% of that throughput;
#   - one submit-job of a 1 MiB file on an idle system, process start to
#     verified output (bench/timeit, 50 runs);
#   - the agent's RSS after 10k and 100k jobs;
#   - crypto_sha256_fd (submit-job's hashing) against sha256sum on 1 GiB;
#   - the CPU per job of the agent, its signer and redis at maximum
#     throughput, against what the fixed parts of a job cost alone
#     (bench/pathcost: its three verifications, five audit records and
#     the file store) and what the signer's two C_Sign calls cost in-process
#     (bench/rawsign).
# and prints a table: metric, target, measured, ratio, pass/fail.
# --dir PARENT: where the stack (audit log, file store, token) is made;
# default /tmp.  Point it at the disk the agent will really use.
# --fresh-fs: make the stack on a new 8 GiB ext4 (with its journal, as
# mkfs.ext4 makes it) in a file under PARENT, loop-mounted for the run
# (needs root): the figures then do not depend on what the host's
# filesystem went through before (on ext4 without a journal, files deleted
# in the last minutes make every new inode slower to allocate).
# --smoke: a few seconds, tiny sizes, for CI: proves that it works (exit 0
# when every tool ran and every result verified); targets are not judged.
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
SIGNET_BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
SMOKE=0 MECHS=both N_ARG="" K=4 SECS="" RSS_JOBS="" HASH=1 RSS=1 PARENT=/tmp FRESH=0
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) SMOKE=1 ;;
	--build) SIGNET_BUILD=$(cd "$2" && pwd); shift ;;
	--mech) MECHS=$2; shift ;;
	-n) N_ARG=$2; shift ;;
	-k) K=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--rss-jobs) RSS_JOBS=$2; shift ;;
	--no-hash) HASH=0 ;;
	--no-rss) RSS=0 ;;
	--dir) PARENT=$2; shift ;;
	--fresh-fs) FRESH=1 ;;
	-h|--help) sed -n '2,39p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
case "$MECHS" in
ecdsa) MECHS="ecdsa" ;; rsa-pss) MECHS="rsa-pss" ;; both) MECHS="ecdsa rsa-pss" ;;
*) echo "run.sh: --mech ecdsa|rsa-pss|both" >&2; exit 2 ;;
esac
B=$SIGNET_BUILD/bench
for t in "$B/loadgen" "$B/rawsign" "$B/hashrate" "$B/timeit" "$B/pathcost" "$SIGNET_BUILD/agent/signet-agent" \
	"$SIGNET_BUILD/submitter/submit-job"; do
	[ -x "$t" ] || { echo "run.sh: $t is not built (ninja -C $SIGNET_BUILD)" >&2; exit 2; }
done
for tool in redis-server redis-cli softhsm2-util pkcs11-tool openssl sha256sum awk; do
	command -v "$tool" >/dev/null || { echo "run.sh: missing tool: $tool" >&2; exit 2; }
done

if [ "$SMOKE" = 1 ]; then
	SECS=${SECS:-1} N_EC=${N_ARG:-300} N_RSA=${N_ARG:-100} FIXED_S=2 SINGLE_RUNS=5
	RSS_LO=200 RSS_HI=${RSS_JOBS:-600} HASH_MB=16 PC_JOBS=320
else
	SECS=${SECS:-5} N_EC=${N_ARG:-5000} N_RSA=${N_ARG:-3000} FIXED_S=20 SINGLE_RUNS=50
	RSS_LO=10000 RSS_HI=${RSS_JOBS:-100000} HASH_MB=1024 PC_JOBS=4000
fi

FS_IMG="" FS_MNT=""
if [ "$FRESH" = 1 ]; then
	command -v mkfs.ext4 >/dev/null || { echo "run.sh: --fresh-fs needs mkfs.ext4" >&2; exit 2; }
	FS_IMG=$(mktemp "$PARENT/signet-bench-fs.XXXXXX") FS_MNT=$(mktemp -d "$PARENT/signet-bench-mnt.XXXXXX")
	if ! truncate -s 8G "$FS_IMG" || ! mkfs.ext4 -q -F -i 8192 "$FS_IMG" || ! mount -o loop "$FS_IMG" "$FS_MNT"; then
		echo "run.sh: --fresh-fs: cannot make and mount an ext4 image (root and loop devices needed)" >&2
		rm -f "$FS_IMG"; rmdir "$FS_MNT"
		exit 2
	fi
	PARENT=$FS_MNT
fi
STACK_DIR=$(mktemp -d "$PARENT/signet-bench.XXXXXX")
STACK_QUIET=1
# shellcheck source=../scripts/stack.sh
. "$SRC/scripts/stack.sh"
HASHFILE=""
cleanup() {
	stack_cleanup # waits for redis-server to go
	rm -rf "$STACK_DIR"
	[ -z "$HASHFILE" ] || rm -f "$HASHFILE"
	if [ -n "$FS_MNT" ]; then
		umount "$FS_MNT" && rmdir "$FS_MNT" && rm -f "$FS_IMG"
	fi
}
trap cleanup EXIT
D=$STACK_DIR
FAILED=0
ROWS=""
JOBS_DONE=0

say() { printf '%s\n' "$*" >&2; }
get() { awk -v k="$1" '$1 == k { print $2 }' "$2" | tail -n 1; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
# row METRIC TARGET MEASURED RATIO PASS
row() { ROWS="$ROWS| $1 | $2 | $3 | $4 | $5 |
"; }
judge() { if [ "$SMOKE" = 1 ]; then echo "(smoke)"; elif [ "$(awk "BEGIN { print ($1) ? 1 : 0 }")" = 1 ]; then echo pass; else echo FAIL; fi; }

stack_redis_start || exit 1
stack_token_init || exit 1
SUBKEYS=""
for i in $(seq 1 "$K"); do
	stack_submitter "bench$i" ec
	SUBKEYS="$SUBKEYS $D/bench$i.key"
done
stack_config
stack_agent_start || exit 1
SESSIONS=$(awk -F'"sessions": ' 'NF > 1 { split($2, a, /[},]/); print a[1] }' "$D/agent.json")
PIN=$(cat "$D/pin")
say "stack in $D: agent pid $STACK_AGENT_PID, $SESSIONS sessions, $K submitter keys"

# cpu_row FILE LABEL: a row with the CPU each process spent per job, their
# sum, and the throughput that sum allows on this machine's CPUs.
cpu_row() {
	awk -v cpus="$(nproc)" -v label="$2" '
		$1 == "cpu_per_job_ms" {
			name = $2; sub(/[0-9]+$/, "", name)
			if (!(name in v)) order[n++] = name
			v[name] += $3; total += $3
		}
		END {
			if (total <= 0) exit 1
			for (i = 0; i < n; i++) parts = parts (i ? " + " : "") order[i] " " sprintf("%.3f", v[order[i]])
			printf "| %s CPU per job at max load (ms): %s | — | %.3f | ceiling %d CPUs / %.3f ms = %.0f jobs/s | — |\n", label, parts, total, cpus, total, cpus * 1000 / total
		}' "$1"
}

# cpu_of NAME FILE: the CPU ms per job of the processes NAME, NAME1, NAME2...
cpu_of() {
	awk -v want="$1" '$1 == "cpu_per_job_ms" { n = $2; sub(/[0-9]+$/, "", n); if (n == want) t += $3 }
		END { printf "%.3f", t }' "$2"
}

agent_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$STACK_AGENT_PID/status"; }

# loadgen OUT KEYNAME MECH N [RATE]
loadgen() {
	# Word splitting wanted: stack_cpu_procs and SUBKEYS are lists of options.
	# shellcheck disable=SC2046,SC2086
	"$B/loadgen" -s "$REDIS_SOCK" -a "$D/agent.pub" -k "$2" -m "$3" -n "$4" -r "${5:-0}" \
		$(stack_cpu_procs) $SUBKEYS > "$1" 2> "$1.err"
	local rc=$?
	JOBS_DONE=$((JOBS_DONE + $4))
	if [ $rc != 0 ]; then
		FAILED=1
		say "loadgen $2 n=$4 rate=${5:-max} failed:"; cat "$1" "$1.err" >&2
	fi
	return $rc
}

# naive SECONDS ID MECHARGS...: one pkcs11-tool process per signature, in
# $SESSIONS parallel loops; prints signatures per second.
naive() {
	local secs=$1 id=$2 p
	shift 2
	head -c 32 /dev/urandom > "$D/naive.in"
	for p in $(seq 1 "$SESSIONS"); do
		(
			n=0 bad=0 end=$(( $(date +%s%N) + secs * 1000000000 ))
			while [ "$(date +%s%N)" -lt "$end" ]; do
				# SoftHSM's file token now and then reports no token to a
				# process starting while another one holds its lock (more
				# often on a loaded machine): such a run is not counted; a
				# loop with no run at all fails.
				if pkcs11-tool --module "$P11_MODULE" --token-label "$STACK_TOKEN" --login \
					--pin "$PIN" --sign --id "$id" "$@" -i "$D/naive.in" \
					-o "$D/naive.$p.sig" >/dev/null 2>"$D/naive.$p.err"; then
					n=$((n + 1))
				else
					bad=$((bad + 1))
				fi
			done
			[ "$n" -gt 0 ] || { echo fail; exit 1; }
			[ "$bad" = 0 ] || echo "naive loop $p: $bad of $((n + bad)) runs found no token" >&2
			echo "$n"
		) > "$D/naive.$p.count" &
	done
	wait
	if grep -q fail "$D"/naive.*.count; then cat "$D"/naive.*.err >&2; echo 0; return 1; fi
	cat "$D"/naive.*.count | awk -v s="$secs" '{ t += $1 } END { printf "%.1f", t / s }'
}

# --- idle single job: submit-job of 1 MiB, process start to verified output
head -c 1048576 /dev/urandom > "$D/one.bin"
say "single job: $SINGLE_RUNS x submit-job of 1 MiB"
if SIGNET_IDENTITY=$D/bench1.key SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub \
	"$B/timeit" "$SINGLE_RUNS" "$SIGNET_BUILD/submitter/submit-job" -k release -w 30 \
	-o "$D/one.sig" "$D/one.bin" > "$D/single.out" 2>&1; then
	s50=$(get run_p50_ms "$D/single.out")
	row "single submit-job 1 MiB, median (ms)" "≤ 10" "$s50 (p90 $(get run_p90_ms "$D/single.out"))" \
		"$(calc "$s50 / 10" 2)" "$(judge "$s50 <= 10")"
else
	FAILED=1; say "single-job runs failed:"; cat "$D/single.out" >&2
fi
JOBS_DONE=$((JOBS_DONE + SINGLE_RUNS))

for mech in $MECHS; do
	if [ "$mech" = ecdsa ]; then
		KEY=release KID=01 MECH=ecdsa-sha256 N=$N_EC NAIVE_M="-m ECDSA" FACTOR=0.25 LABEL="ECDSA P-256"
	else
		KEY=release-rsa KID=02 MECH=rsa-pss-sha256 N=$N_RSA FACTOR=0.45 LABEL="RSA-3072 PSS"
		NAIVE_M="-m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 --salt-len 32"
	fi
	say "$LABEL: raw HSM rates ($SESSIONS sessions, ${SECS}s per key)"
	if ! "$B/rawsign" "$P11_MODULE" "$STACK_TOKEN" "$D/pin" "$SESSIONS" "$SECS" \
		"sign:$MECH:pkcs11:object=$KEY" "attest::pkcs11:object=attest" > "$D/raw.$mech" 2>&1; then
		FAILED=1; say "rawsign failed:"; cat "$D/raw.$mech" >&2; continue
	fi
	RAW_S=$(get raw_rate_sign "$D/raw.$mech")
	RAW_A=$(get raw_rate_attest "$D/raw.$mech")
	RAW_CS=$(get raw_cpu_us_sign "$D/raw.$mech")
	RAW_CA=$(get raw_cpu_us_attest "$D/raw.$mech")
	LIMIT=$(calc "1 / (1 / $RAW_S + 1 / $RAW_A)")
	say "$LABEL: naive pkcs11-tool loop (${SECS}s)"
	# shellcheck disable=SC2086
	NAIVE=$(naive "$SECS" "$KID" $NAIVE_M) || { FAILED=1; say "naive pkcs11-tool loop failed"; }
	say "$LABEL: $N jobs, maximum throughput"
	loadgen "$D/max.$mech" "$KEY" "$MECH" "$N" || continue
	TP=$(get throughput_jps "$D/max.$mech")
	row "$LABEL raw C_Sign: signing key / attestation key (sig/s)" "—" "$RAW_S / $RAW_A" "—" "—"
	row "$LABEL HSM-bound limit 1/(1/sign+1/attest) (jobs/s)" "—" "$LIMIT" "—" "—"
	row "$LABEL end-to-end throughput (jobs/s), N=$N K=$K" "≥ $FACTOR × limit" "$TP" \
		"$(calc "$TP / $LIMIT" 2) × limit" "$(judge "$TP >= $FACTOR * $LIMIT")"
	CPU_ROW=$(cpu_row "$D/max.$mech" "$LABEL") && ROWS="$ROWS$CPU_ROW
"
	CPU_AGENT=$(cpu_of agent "$D/max.$mech") CPU_SIGNER=$(cpu_of signer "$D/max.$mech")
	CPU_REDIS=$(cpu_of redis "$D/max.$mech")
	if [ "$mech" = ecdsa ]; then
		row "$LABEL agent CPU per job at max load (ms)" "≤ 0.35" "$CPU_AGENT" \
			"$(calc "$CPU_AGENT / 0.35" 2)" "$(judge "$CPU_AGENT <= 0.35")"
		row "$LABEL redis CPU per job at max load (ms)" "≤ 0.08" "$CPU_REDIS" \
			"$(calc "$CPU_REDIS / 0.08" 2)" "$(judge "$CPU_REDIS <= 0.08")"
	fi
	# The signer's CPU per job beyond its two C_Sign calls, each costing
	# what it cost rawsign in-process (its framing, journal and pipe I/O).
	if [ -n "$RAW_CS" ] && [ -n "$RAW_CA" ]; then
		OVER=$(calc "($CPU_SIGNER * 1000 / ($RAW_CS + $RAW_CA) - 1) * 100" 0)
		row "$LABEL signer CPU per job beyond its C_Sign calls (C_Sign: $RAW_CS + $RAW_CA µs)" \
			"≤ 50 %" "$CPU_SIGNER ms: +$OVER %" "$(calc "$OVER / 50" 2)" \
			"$(judge "$OVER <= 50")"
	fi
	row "$LABEL latency at max load p50/p90/p99/max (ms)" "—" \
		"$(get lat_p50_ms "$D/max.$mech") / $(get lat_p90_ms "$D/max.$mech") / $(get lat_p99_ms "$D/max.$mech") / $(get lat_max_ms "$D/max.$mech")" "—" "—"
	if [ -n "${NAIVE:-}" ] && [ "$NAIVE" != 0 ]; then
		row "$LABEL vs naive pkcs11-tool per artifact ($NAIVE/s, $SESSIONS loops)" "—" \
			"$TP" "$(calc "$TP / $NAIVE" 1) ×" "—"
	fi
	RATE=$(awk -v t="$TP" 'BEGIN { r = int(t / 2); print r < 1 ? 1 : r }')
	NF_=$((RATE * FIXED_S))
	say "$LABEL: fixed rate $RATE jobs/s for ${FIXED_S}s"
	if loadgen "$D/fixed.$mech" "$KEY" "$MECH" "$NF_" "$RATE"; then
		P99=$(get lat_p99_ms "$D/fixed.$mech")
		row "$LABEL at 50% of max ($RATE jobs/s): p50/p90/p99/max (ms)" "p99 ≤ 20" \
			"$(get lat_p50_ms "$D/fixed.$mech") / $(get lat_p90_ms "$D/fixed.$mech") / $P99 / $(get lat_max_ms "$D/fixed.$mech")" \
			"$(calc "$P99 / 20" 2)" "$(judge "$P99 <= 20")"
	fi
done

# --- agent RSS after RSS_LO and RSS_HI jobs in total (ECDSA jobs)
if [ "$RSS" = 1 ]; then
	[ "$JOBS_DONE" -lt "$RSS_LO" ] && { say "RSS: up to $RSS_LO jobs"; loadgen "$D/rss1" release ecdsa-sha256 $((RSS_LO - JOBS_DONE)); }
	R_LO=$(agent_rss_kb); J_LO=$JOBS_DONE
	say "RSS: $R_LO kB after $J_LO jobs; up to $RSS_HI jobs"
	while [ "$JOBS_DONE" -lt "$RSS_HI" ]; do
		chunk=$((RSS_HI - JOBS_DONE)); [ "$chunk" -gt 50000 ] && chunk=50000
		loadgen "$D/rss2" release ecdsa-sha256 "$chunk" || break
	done
	R_HI=$(agent_rss_kb)
	HWM=$(awk '/^VmHWM:/ { print $2 }' "/proc/$STACK_AGENT_PID/status")
	row "agent RSS after $J_LO → $JOBS_DONE jobs (MiB; peak)" "≤ 32, growth ≤ 2" \
		"$(calc "$R_LO / 1024") → $(calc "$R_HI / 1024") (+$(calc "($R_HI - $R_LO) / 1024")); peak $(calc "$HWM / 1024")" \
		"$(calc "$R_HI / 1024 / 32" 2)" "$(judge "$R_HI <= 32 * 1024 && $R_HI - $R_LO <= 2048")"
fi

# --- the agent's fixed parts alone (bench/pathcost), on the stack's filesystem,
# with as many threads as the agent has workers; last, so that nothing it
# writes is in the way of the agent's phases (its files go with the stack)
PC_THREADS=$((SESSIONS * 8))
say "fixed parts of a job: bench/pathcost, $PC_THREADS threads"
if "$B/pathcost" -n "$PC_JOBS" -t "$PC_THREADS" "$D" > "$D/pathcost.out" 2>&1; then
	row "agent's fixed parts alone per job (ms): 3 ECDSA P-256 verifications $(get pathcost_verify_ms "$D/pathcost.out") + 5 audit records $(get pathcost_audit_ms "$D/pathcost.out") + file store $(get pathcost_store_ms "$D/pathcost.out") ($PC_THREADS threads, bench/pathcost)" \
		"—" "$(get pathcost_sum_ms "$D/pathcost.out")" "—" "—"
else
	FAILED=1; say "pathcost failed:"; cat "$D/pathcost.out" >&2
fi

# --- hashing: crypto_sha256_fd vs sha256sum, same cached file, best of 3
if [ "$HASH" = 1 ]; then
	HASHFILE=$(mktemp /tmp/signet-bench-hash.XXXXXX)
	say "hashing: $HASH_MB MiB file"
	head -c $((HASH_MB * 1048576)) /dev/urandom > "$HASHFILE"
	"$B/hashrate" "$HASHFILE" 3 > "$D/hash.out"
	best=0
	for _ in 1 2 3; do
		t0=$(date +%s%N); sha256sum "$HASHFILE" > "$D/sum.out"; t1=$(date +%s%N)
		best=$(awk -v b="$best" -v s=$((HASH_MB * 1048576)) -v ns=$((t1 - t0)) \
			'BEGIN { r = s / (ns / 1e9) / 1e6; print (r > b) ? r : b }')
	done
	HM=$(get hash_mbps "$D/hash.out")
	if [ "$(get hash_sha256 "$D/hash.out")" != "$(cut -d' ' -f1 "$D/sum.out")" ]; then
		FAILED=1; say "hashrate and sha256sum disagree"
	fi
	row "hash $HASH_MB MiB: crypto_sha256_fd vs sha256sum (MB/s)" "≥ 0.9 ×" \
		"$HM vs $(calc "$best")" "$(calc "$HM / $best" 2) ×" "$(judge "$HM >= 0.9 * $best")"
	rm -f "$HASHFILE"; HASHFILE=""
fi

stack_agent_stop
[ -s "$D/agent.failures" ] && { FAILED=1; say "the agent exited with status $(cat "$D/agent.failures")"; }

printf '\nsignet benchmark%s: %s, %s CPUs, SoftHSM %s, %s sessions, %s jobs in total, stack on %s\n\n' \
	"$([ "$SMOKE" = 1 ] && echo " (smoke)")" "$(uname -m)" "$(nproc)" \
	"$(softhsm2-util --version 2>/dev/null)" "$SESSIONS" "$JOBS_DONE" \
	"$([ "$FRESH" = 1 ] && echo "a fresh journaled ext4 image" || df -T "$PARENT" | awk 'NR == 2 { print $2 " (" $7 ")" }')"
printf '| metric | target | measured | ratio | pass |\n|---|---|---|---|---|\n%s' "$ROWS"
if [ "$FAILED" != 0 ]; then
	echo "bench: something failed (see above)"
	exit 1
fi
exit 0
