#!/bin/bash
# Redis ACL users exactly as docs/operations.md gives them: the agent runs
# as signet-agent, submit-job and signet-approve as signet-ci (AUTH user
# password, the password from a file).  A job is signed end to end, one
# after an approval; a job no agent takes is withdrawn at its timeout;
# signet-admin status and job run as the agent's user; and Redis's ACL LOG shows
# that no command of theirs was refused.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init acl
SA=${SIGNET_APPROVE:-$SIGNET_BUILD/submitter/signet-approve}
redis_stop() { [ -f "$D/acl.rpid" ] && kill -9 "$(cat "$D/acl.rpid")" 2>/dev/null; }
on_exit redis_stop

PORT=$((30000 + RANDOM % 20000))
REDIS_SOCK=$D/acl.sock
redis-server --port "$PORT" --bind 127.0.0.1 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
	--save '' --appendonly no --dir "$D" --daemonize yes --pidfile "$D/acl.rpid" \
	--logfile "$D/redis.log" >/dev/null || exit 1
for _ in $(seq 1 100); do redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done

AGENT_PW=agent-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
CI_PW=ci-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
ADMIN_PW=admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
( umask 077; printf '%s\n' "$AGENT_PW" > "$D/agent.pass"; printf '%s\n' "$CI_PW" > "$D/ci.pass" )
# The two ACL SETUSER lines of docs/operations.md, word for word.
grep -E '^    ACL SETUSER signet-(agent|ci) ' "$SRC/docs/operations.md" |
	sed -e 's/^    //' -e "s/>AGENT-PASSWORD/>$AGENT_PW/" -e "s/>CI-PASSWORD/>$CI_PW/" > "$D/acl.cmds"
if [ "$(wc -l < "$D/acl.cmds")" = 2 ]; then
	ok "docs/operations.md has the ACL SETUSER lines of signet-agent and signet-ci"
else
	fail "ACL SETUSER lines in docs/operations.md" "$D/acl.cmds"
fi
while read -r -a words; do
	redis-cli -s "$REDIS_SOCK" "${words[@]}" > "$D/setuser.out" 2>&1 </dev/null
	grep -qx OK "$D/setuser.out" || fail "redis-cli ${words[0]} ${words[1]} ${words[2]}" "$D/setuser.out"
done < "$D/acl.cmds"
# The default user gets a password of its own: nothing falls back on it.
redis-cli -s "$REDIS_SOCK" ACL SETUSER default on ">$ADMIN_PW" >/dev/null
rc_() { redis-cli -s "$REDIS_SOCK" --user default --pass "$ADMIN_PW" --no-auth-warning "$@"; }
if [ "$(redis-cli -s "$REDIS_SOCK" ping 2>&1)" != PONG ] && [ "$(rc_ ping)" = PONG ]; then
	ok "the default user needs its password"
else
	fail "default user"
fi

SIGNET_REDIS=redis://signet-agent@127.0.0.1:$PORT
STACK_EXTRA="\"redis_password_file\": \"$D/agent.pass\", \"reclaim_after\": 3,"
stack_token_init || exit 1
stack_submitter ci-fw ec '["release","release-rsa"]'
stack_submitter ed ec '[]'
stack_config
stack_policy_config '.keys["release-rsa"] += {max_job_lifetime: 3600,
	approvals: {required: 1, approvers: ["ed"]}}'
stack_agent_start || exit 1
CI_REDIS=redis://signet-ci@127.0.0.1:$PORT
# sj ID ARGS...: submit-job as ci-fw, Redis user signet-ci.
sj() {
	local id=$1
	shift
	SIGNET_REDIS=$CI_REDIS SIGNET_REDIS_PASSWORD_FILE=$D/ci.pass SIGNET_IDENTITY=$D/ci-fw.key \
		SIGNET_AGENT_PUBKEY=$D/agent.pub "$SUBMIT_JOB" "$@" >"$D/$id.out" 2>"$D/$id.err"
	echo $? > "$D/$id.rc"
}
# sa ID WHO ARGS...: signet-approve as WHO, Redis user signet-ci.
sa() {
	local id=$1 who=$2
	shift 2
	SIGNET_REDIS=$CI_REDIS SIGNET_REDIS_PASSWORD_FILE=$D/ci.pass SIGNET_IDENTITY=$D/$who.key \
		SIGNET_AGENT_PUBKEY=$D/agent.pub "$SA" "$@" >"$D/$id.out" 2>"$D/$id.err" </dev/null
	echo $? > "$D/$id.rc"
}
printf 'signed as signet-ci\n' > "$D/a.bin"

if rc_ CLIENT LIST | grep -q "user=signet-agent"; then
	ok "the agent is connected as signet-agent"
else
	fail "no connection of signet-agent" "$D/agent.log"
fi

sj plain -k release -f raw -w 30 -o "$D/a.sig" "$D/a.bin"
if [ "$(rc plain)" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" \
	-signature "$D/a.sig" "$D/a.bin" >/dev/null 2>&1; then
	ok "submit-job as signet-ci, the agent as signet-agent: the job is signed"
else
	fail "signing with ACL users (rc $(rc plain))" "$D/plain.err"
	tail -5 "$D/agent.log"
fi

# A job that needs an approval: signet-approve lists and approves it as signet-ci.
cp "$D/a.bin" "$D/b.bin"
sj approved -k release-rsa -f raw -w 60 --lifetime 1800 -o "$D/b.sig" "$D/b.bin" &
SJ_PID=$!
J=""
for _ in $(seq 1 200); do
	sa list ed list
	J=$(awk '/b\.bin/ {print $1; exit}' "$D/list.out")
	[ -n "$J" ] && break
	sleep 0.1
done
[ -n "$J" ] || J=$(grep -o '[0-9a-f]\{32\}' "$D/list.out" | head -1)
sa approve ed approve "$J" --yes -w 20
wait "$SJ_PID"
if [ "$(rc list)" = 0 ] && [ "$(rc approve)" = 0 ] && [ "$(rc approved)" = 0 ] &&
	openssl dgst -sha256 -verify "$D/release-rsa.pub.pem" -sigopt rsa_padding_mode:pss \
		-signature "$D/b.sig" "$D/b.bin" >/dev/null 2>&1; then
	ok "signet-approve list and approve as signet-ci; the approved job is signed"
else
	fail "approval with ACL users (list $(rc list), approve $(rc approve), submit $(rc approved))" "$D/approve.err"
	cat "$D/list.out" "$D/approved.err" | tail -5
fi

if "$ADMIN" status -c "$D/agent.json" > "$D/status.out" 2> "$D/status.err"; then
	ok "signet-admin status runs with the agent's user"
else
	fail "signet-admin status as signet-agent" "$D/status.err"
fi
JOB=$(grep -o '[0-9a-f]\{32\}' "$D/plain.err" | head -1)
if "$ADMIN" job -c "$D/agent.json" --agent-key "$D/agent.pub" "$JOB" > "$D/job.out" 2> "$D/job.err" &&
	grep -q "signed" "$D/job.out"; then
	ok "signet-admin job runs with the agent's user"
else
	fail "signet-admin job $JOB as signet-agent" "$D/job.err"
fi

# No agent: at its timeout submit-job looks at its entry and withdraws it.
stack_agent_stop
sj withdrawn -k release -f raw -w 2 "$D/a.bin"
if [ "$(rc withdrawn)" = 3 ] && grep -q "the entry was removed" "$D/withdrawn.err"; then
	ok "a job no agent took is withdrawn at the timeout (XINFO GROUPS, XPENDING, XDEL as signet-ci)"
else
	fail "withdrawal as signet-ci (rc $(rc withdrawn))" "$D/withdrawn.err"
fi

rc_ ACL LOG 100 > "$D/acllog.out"
if ! grep -q . "$D/acllog.out"; then
	ok "Redis refused no command of the agent, submit-job, signet-approve or signet-admin (ACL LOG empty)"
else
	fail "commands refused by the ACLs (ACL LOG)" "$D/acllog.out"
fi
if [ ! -s "$D/agent.failures" ]; then ok "the agent exited cleanly"; else fail "agent exit status" "$D/agent.failures"; fi
summary
