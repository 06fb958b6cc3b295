# shellcheck shell=bash
# lib.sh — shared by the integration scripts (tests/integration/*.sh).
#
# The programs under test (meson passes their paths; run by hand, the
# build directory is $SRC/build), the tools a script needs (a missing tool
# is a failure, never a skip), a throwaway stack (scripts/stack.sh) in its
# own temporary directory that is removed on every exit, the count of
# checks and the summary line that CI reads.
#
# Usage from a script:
#   # shellcheck source=lib.sh
#   . "$(dirname "$0")/lib.sh"
#   stack_init NAME [TOOL...]     # or need_tools TOOL... and a directory of its own
#   stack_redis_start || exit 1; stack_token_init || exit 1; ...
#   on_exit "nginx_stop"          # more cleanup, run after stack_cleanup
#   ok "what held"; fail "what did not" [FILE]
#   summary [PREFIX]              # last line and exit status
set -u

SRC=${SIGNET_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SIGNET_BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
SUBMIT_JOB=${SUBMIT_JOB:-$SIGNET_BUILD/submitter/submit-job}
SIGNET_AGENT=${SIGNET_AGENT:-$SIGNET_BUILD/agent/signet-agent}
SIGNET_VERIFY=${SIGNET_VERIFY:-$SIGNET_BUILD/verifier/signet-verify}
ADMIN=$SIGNET_BUILD/admin/signet-admin

# need_tools TOOL...: exits 1 at the first tool that is not on PATH.
# NEED_TOOLS_HINT, if set, says where to get it.
need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || {
			echo "missing tool: $tool (a missing tool is a failure${NEED_TOOLS_HINT:+; $NEED_TOOLS_HINT})"
			exit 1
		}
	done
}

# --- the temporary directory and what happens on exit ---------------------
LIB_ON_EXIT=""

# on_exit COMMAND: run by the EXIT trap, after what was registered before.
on_exit() { LIB_ON_EXIT="$LIB_ON_EXIT${LIB_ON_EXIT:+; }$1"; }

lib_exit() {
	eval "$LIB_ON_EXIT"
	[ -n "${KEEP:-}" ] && return
	# A process that was just stopped may still be writing its last file.
	rm -rf "$D" 2>/dev/null || { sleep 1; rm -rf "$D"; }
}

# tmp_init NAME: D, a new directory /tmp/signet-NAME.XXXXXX, removed on exit
# (kept when KEEP is set).
tmp_init() {
	D=$(mktemp -d "/tmp/signet-$1.XXXXXX")
	trap lib_exit EXIT
}

# stack_init NAME [TOOL...]: the stack's tools and TOOL..., then tmp_init NAME
# as STACK_DIR, and scripts/stack.sh (quiet), whose stack_cleanup runs
# first on exit.
stack_init() {
	local name=$1
	shift
	need_tools redis-server redis-cli softhsm2-util pkcs11-tool openssl jq "$@"
	tmp_init "$name"
	STACK_DIR=$D
	STACK_QUIET=1
	# shellcheck source=../../scripts/stack.sh
	. "$SRC/scripts/stack.sh"
	on_exit stack_cleanup
}

# --- checks ------------------------------------------------------------------
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
# fail DESCRIPTION [FILE]: and the last FAIL_TAIL (15) lines of FILE.
fail() { failed=$((failed + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/       /' "$2" | tail -n "${FAIL_TAIL:-15}"; }

# summary [PREFIX]: the last line, "PREFIX<N> passed, <M> failed" (CI reads
# it); status 0 if no check failed.
summary() {
	echo "${1:-}$passed passed, $failed failed"
	[ "$failed" = 0 ]
}

# --- submit-job against the stack --------------------------------------------

# run_sj ID ARGS...: submit-job with the stack's Redis and agent key, and
# ARGS; its output in $D/ID.out and $D/ID.err, its status in $D/ID.rc.  The
# caller's environment is passed on (VAR=value run_sj ...).
run_sj() {
	local id=$1
	shift
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" "$@" >"$D/$id.out" 2>"$D/$id.err"
	echo $? > "$D/$id.rc"
}
# sj ID ARGS...: run_sj, unless the script defines its own sj.
sj() { run_sj "$@"; }
# rc ID: the status of the sj run ID.
rc() { cat "$D/$1.rc"; }

BG_PIDS=""
# bg_sj ID ARGS...: sj in the background; bg_wait, then read ID's files.
bg_sj() {
	sj "$@" &
	BG_PIDS="$BG_PIDS $!"
}
# bg_wait: waits for the bg_sj runs only (the agent runs in the background too).
bg_wait() {
	local p
	for p in $BG_PIDS; do wait "$p"; done
	BG_PIDS=""
}

# --- the stack's Redis -------------------------------------------------------
rc_() { redis-cli -s "$REDIS_SOCK" "$@"; }
# result ID: the payload of the result stored for job ID.
result() { rc_ --raw GET "signet:result:$1" | jq -r .payload | base64 -d; }
# wait_result ID: until a result is stored for job ID (10 s).
wait_result() { for _ in $(seq 1 200); do [ -n "$(rc_ --raw GET "signet:result:$1")" ] && return 0; sleep 0.05; done; return 1; }
# wait_stream N: until the job stream holds N entries (10 s).
wait_stream() { for _ in $(seq 1 200); do [ "$(rc_ XLEN signet:jobs)" -ge "$1" ] && return 0; sleep 0.05; done; return 1; }
# stream_find MEMBER VALUE: the entry id and the envelope (two lines) of the
# first queued job whose MEMBER (a jq path: .id, .artifact.name) is VALUE;
# status 1 if there is none.
stream_find() {
	local i=0 id="" line
	rc_ --raw XRANGE signet:jobs - + > "$D/xrange"
	while IFS= read -r line; do
		case $((i % 3)) in
		0) id=$line ;;
		2) if printf '%s' "$line" | jq -r .payload | base64 -d | jq -e --arg v "$2" "$1 == \$v" >/dev/null 2>&1; then
			printf '%s\n%s\n' "$id" "$line"
			return 0
		fi ;;
		esac
		i=$((i + 1))
	done < "$D/xrange"
	return 1
}
