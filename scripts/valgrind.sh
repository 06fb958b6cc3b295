#!/bin/bash
# Runs the agent's job path under valgrind (memcheck): a throwaway stack
# (scripts/stack.sh), signet-agent under valgrind, a few signed jobs (raw,
# cms, authenticode, kmod, openpgp), rejected ones and hostile stream entries, then SIGTERM.  Fails on
# any memcheck error or definite leak ("still reachable" memory of SoftHSM
# and OpenSSL does not count), or when a job does not get its answer.
#   scripts/valgrind.sh              uses ./build (made if missing)
#   VALGRIND_BUILD_DIR=DIR           another build directory
#   VALGRIND_TLS=1                   the agent and submit-job on rediss:// (TLS)
set -u
cd "$(dirname "$0")/.." || exit 1
SRC=$(pwd)
SIGNET_BUILD=${VALGRIND_BUILD_DIR:-$SRC/build}
for tool in valgrind redis-server redis-cli softhsm2-util pkcs11-tool openssl; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool"; exit 1; }
done
[ -f "$SIGNET_BUILD/build.ninja" ] || meson setup "$SIGNET_BUILD" >/dev/null || exit 1
ninja -C "$SIGNET_BUILD" agent/signet-agent submitter/submit-job submitter/signet-approve >/dev/null || exit 1

STACK_DIR=$(mktemp -d /tmp/signet-valgrind.XXXXXX)
STACK_QUIET=1
. "$SRC/scripts/stack.sh"
D=$STACK_DIR
VG_PID=""
cleanup() {
	[ -n "$VG_PID" ] && kill -KILL "$VG_PID" 2>/dev/null
	stack_cleanup
	rm -rf "$D" 2>/dev/null || { sleep 1; rm -rf "$D"; }
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }

STACK_REDIS_TLS_MEMBER=""
if [ -n "${VALGRIND_TLS:-}" ]; then
	stack_redis_tls $((30000 + RANDOM % 20000)) || exit 1
fi
stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec '["release","release-rsa","release-pk1","win","kmod","pgp"]'
stack_submitter limited ec '["release"]'
stack_submitter ed ec '[]'
stack_submitter jo ec '[]'
STACK_EXTRA=$STACK_REDIS_TLS_MEMBER
stack_config
# The formats built from typed fields (PKCS#7 through the ASN.1 templates).
stack_policy_config '.keys.win = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["authenticode"]}
  | .keys.kmod = {"key": "pkcs11:id=%02", "mechanism": "rsa-pkcs1-sha256",
    "certificates": .keys["release-rsa"].certificates, "formats": ["kmod"]}
  | .keys.pgp = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["openpgp"],
    "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "valgrind <v@example.com>"}}
  | .keys.gated = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
    "certificates": .keys.release.certificates, "formats": ["cms"], "max_job_lifetime": 3600,
    "approvals": {"required": 2, "approvers": ["ci-fw", "ed", "jo"]}}
  | .submitters["ci-fw"].keys += ["gated"]'

valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --error-exitcode=1 --track-origins=yes \
	--num-callers=30 --log-file="$D/valgrind.log" \
	"$SIGNET_BUILD/agent/signet-agent" -c "$D/agent.json" 2>"$D/agent.log" &
VG_PID=$!
for _ in $(seq 1 600); do
	grep -q "started" "$D/agent.log" 2>/dev/null && break
	kill -0 "$VG_PID" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q "started" "$D/agent.log" 2>/dev/null; then
	echo "signet-agent did not start under valgrind:"
	tail -n 30 "$D/agent.log" "$D/valgrind.log"
	exit 1
fi
ok "signet-agent started under valgrind"

printf 'hello valgrind\n' > "$D/small.txt"
sj() { # NAME WANT_RC ARGS...
	local name=$1 want=$2
	shift 2
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SIGNET_BUILD/submitter/submit-job" -w 120 -i "$D/ci-fw.key" "$@" "$D/small.txt" \
		>"$D/$name.out" 2>"$D/$name.err"
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "$name: submit-job exit $rc"; else
		fail "$name: submit-job exit $rc, expected $want"; sed 's/^/       /' "$D/$name.err"; fi
}
sj raw-ec 0 -k release -f raw -o "$D/a.sig"
for f in authenticode kmod openpgp; do
	in=$SRC/tests/data/pe/tiny64.efi key=win
	[ "$f" = kmod ] && in=/bin/true key=kmod
	[ "$f" = openpgp ] && in=/bin/true key=pgp
	if SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SIGNET_BUILD/submitter/submit-job" \
		-w 120 -i "$D/ci-fw.key" -k "$key" -f "$f" -o "$D/signed-$f" "$in" >"$D/$f.out" 2>"$D/$f.err"; then
		ok "$f: submit-job exit 0"
	else
		fail "$f: submit-job failed"; sed 's/^/       /' "$D/$f.err"; fi
done
sj cms-ec 0 -k release -f cms -o "$D/a.p7s"
sj raw-pss 0 -k release-rsa -f raw -o "$D/b.sig"
sj cms-pss 0 -k release-rsa -f cms -o "$D/b.p7s"
sj unknown-key 1 -k no-such-key -f raw -o "$D/c.sig"
sj bad-format 1 -k release-pk1 -f cms -o "$D/d.p7s"
SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SIGNET_BUILD/submitter/submit-job" \
	-w 120 -i "$D/limited.key" -k release-rsa -f raw -o "$D/e.sig" "$D/small.txt" >/dev/null 2>&1
[ $? = 1 ] && ok "not-allowed: submit-job exit 1" || fail "not-allowed: expected exit 1"

# A job that waits for two approvals: one refused (the submitter's own), two counted.
SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SIGNET_BUILD/submitter/submit-job" \
	-w 240 -i "$D/ci-fw.key" -k gated -f cms -o "$D/g.p7s" "$D/small.txt" >/dev/null 2>"$D/gated.err" &
GATED_PID=$!
approve() { # WHO WANT_RC
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub SIGNET_IDENTITY=$D/$1.key \
		"$SIGNET_BUILD/submitter/signet-approve" approve "$gid" --yes -w 120 >/dev/null 2>>"$D/approve.err" </dev/null
	[ $? = "$2" ] && ok "approval by $1: exit $2" || fail "approval by $1: expected exit $2"
}
gid=""
for _ in $(seq 1 600); do
	gid=$(SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SIGNET_BUILD/submitter/signet-approve" list --json 2>/dev/null | jq -r '.[0].id // empty')
	[ -n "$gid" ] && break
	sleep 0.2
done
approve ci-fw 1
approve ed 0
approve jo 0
wait "$GATED_PID" && ok "approved job: submit-job exit 0" || fail "approved job: submit-job failed"

# Hostile entries straight into the stream: each must leave it.
push() { redis-cli -s "$REDIS_SOCK" -x XADD signet:jobs '*' env >/dev/null; }
printf 'not json' | push
printf '{"payloadType":"application/vnd.signet.job+json","payload":"e30=","signatures":[]}' | push
printf '{"payloadType":"application/vnd.signet.job+json","payload":"%s","signatures":[{"keyid":"sha256:%064d","sig":"AAAA"}]}' \
	"$(printf '{"v":1,"id":"0123456789abcdef0123456789abcdef"}' | base64 -w0)" 0 | push
head -c 70000 /dev/zero | tr '\0' ' ' | push
for _ in $(seq 1 600); do
	[ "$(redis-cli -s "$REDIS_SOCK" XLEN signet:jobs)" = 0 ] && break
	sleep 0.1
done
[ "$(redis-cli -s "$REDIS_SOCK" XLEN signet:jobs)" = 0 ] && ok "hostile entries processed" ||
	fail "hostile entries left in the stream"

kill -TERM "$VG_PID"
wait "$VG_PID"
status=$?
VG_PID=""
if [ "$status" = 0 ]; then
	ok "signet-agent exited 0 under valgrind: no memcheck error, no definite leak"
else
	fail "signet-agent under valgrind exited $status"
	sed -n '/ERROR SUMMARY\|definitely lost\|Invalid\|uninitialised\|by 0x\|at 0x/p' "$D/valgrind.log" | head -n 80
fi
grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$D/valgrind.log" | sed 's/^/  /'
echo "valgrind: $passed passed, $failed failed"
[ "$failed" = 0 ]
