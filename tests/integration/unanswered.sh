#!/bin/bash
# What submit-job says when no answer comes, and when it cannot reach the
# queue.  A job that no agent took is withdrawn from the stream at the
# timeout (exit 3, "never taken"); a job that a consumer of the group
# "agents" took and did not answer is named with that consumer and its
# delivery count; a Redis that refuses XINFO and XDEL (an ACL) leaves the
# entry queued, and submit-job says until when it can be signed.  A queue
# that cannot be reached is named by its URL (without the password) with
# the system's reason, after a few seconds of retries; a Redis that comes
# up within them takes the job.  The consumer here is redis-cli, reading
# for the group as an agent does and then never answering: deterministic,
# where a real agent would have to be stopped between its read and its
# answer.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init unanswered

stack_redis_start || exit 1
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$D/id.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$D/agent.key" 2>/dev/null
openssl pkey -in "$D/agent.key" -pubout -out "$D/agent.pub"
printf 'artifact\n' > "$D/a.bin"
SIGNET_REDIS=unix://$REDIS_SOCK
export SIGNET_IDENTITY=$D/id.pem

# --- never taken -------------------------------------------------------------
sj never -k k -f raw -w 2 "$D/a.bin"
if [ "$(rc never)" = 3 ] && grep -q "was never taken by an agent" "$D/never.err" &&
	grep -q "the entry was removed, so it will not be signed" "$D/never.err" &&
	[ "$(rc_ XLEN signet:jobs)" = 0 ]; then
	ok "no agent, no group: exit 3, never taken, the entry is gone (XLEN 0): $(cat "$D/never.err")"
else
	fail "never taken, no group (exit $(rc never), XLEN $(rc_ XLEN signet:jobs))" "$D/never.err"
fi

# The group exists (an agent ran once) but nobody reads it now.
rc_ XGROUP CREATE signet:jobs agents 0 MKSTREAM >/dev/null
sj idle -k k -f raw -w 2 "$D/a.bin"
id=$(grep -o 'job [0-9a-f]\{32\}' "$D/idle.err" | head -1 | cut -d' ' -f2)
if [ "$(rc idle)" = 3 ] && grep -q "was never taken by an agent" "$D/idle.err" &&
	[ "$(rc_ XLEN signet:jobs)" = 0 ] && [ -z "$(rc_ XRANGE signet:jobs - +)" ] &&
	[ -n "$id" ]; then
	ok "group without a reader: never taken, XRANGE empty afterwards"
else
	fail "never taken, idle group (exit $(rc idle))" "$D/idle.err"
fi

# --- taken, not answered -----------------------------------------------------
bg_sj taken -k k -f raw -w 3 "$D/a.bin"
wait_stream 1 || fail "the job never reached the stream"
rc_ XREADGROUP GROUP agents hsm-host-7 COUNT 1 STREAMS signet:jobs '>' >/dev/null
bg_wait
if [ "$(rc taken)" = 3 ] &&
	grep -q "was taken by an agent (consumer hsm-host-7, 1 delivery) but not answered" "$D/taken.err"; then
	ok "taken and not answered: the consumer and the deliveries are named: $(cat "$D/taken.err")"
else
	fail "taken, not answered (exit $(rc taken))" "$D/taken.err"
fi
if [ "$(rc_ XLEN signet:jobs)" = 1 ]; then
	ok "a taken entry is left alone (still in the stream, for the agent)"
else
	fail "the taken entry was removed"
fi
rc_ DEL signet:jobs >/dev/null
rc_ XGROUP CREATE signet:jobs agents 0 MKSTREAM >/dev/null

# --- XINFO and XDEL refused --------------------------------------------------
rc_ ACL SETUSER default -xinfo -xdel >/dev/null
sj acl -k k -f raw -w 2 "$D/a.bin"
rc_ ACL SETUSER default +@all >/dev/null
if [ "$(rc acl)" = 3 ] && grep -q "cannot tell whether an agent took it (Redis refuses XINFO or XDEL to this user)" "$D/acl.err" &&
	grep -q "stays queued, and an agent that takes it after 20[0-9-]*T[0-9:]*Z rejects it as job.expired" "$D/acl.err" &&
	[ "$(rc_ XLEN signet:jobs)" = 1 ]; then
	ok "XINFO/XDEL refused: the entry stays queued, job.expired after the expiry: $(cat "$D/acl.err")"
else
	fail "XINFO/XDEL refused (exit $(rc acl))" "$D/acl.err"
fi

# --- unreachable queues ------------------------------------------------------
SIGNET_REDIS=unix://$D/nowhere.sock sj nosock -k k -f raw -w 2 "$D/a.bin"
if [ "$(rc nosock)" = 4 ] &&
	grep -q "cannot connect to the queue at unix://$D/nowhere.sock: No such file or directory" "$D/nosock.err"; then
	ok "a unix socket that does not exist: exit 4, the URL and the system's reason: $(cat "$D/nosock.err")"
else
	fail "missing unix socket (exit $(rc nosock))" "$D/nosock.err"
fi
SIGNET_REDIS='redis://ci:s3cret-pw@127.0.0.1:1' sj refused -k k -f raw -w 2 "$D/a.bin"
if [ "$(rc refused)" = 4 ] &&
	grep -q "cannot connect to the queue at redis://ci:\*\*\*@127.0.0.1:1: Connection refused" "$D/refused.err" &&
	! grep -q "s3cret" "$D/refused.err"; then
	ok "a TCP port nobody listens on: exit 4, URL without the password, Connection refused"
else
	fail "TCP connection refused (exit $(rc refused))" "$D/refused.err"
fi
SIGNET_REDIS='redis://127.0.0.1:1' SIGNET_AGENT_PUBKEY=$D/agent.pub "$SIGNET_APPROVE" list > "$D/approve.out" 2> "$D/approve.err"
if [ $? = 4 ] && grep -q "cannot connect to the queue at redis://127.0.0.1:1: Connection refused" "$D/approve.err"; then
	ok "signet-approve says the same"
else
	fail "signet-approve, connection refused" "$D/approve.err"
fi

# A Redis that comes up while submit-job retries its first connection.
LATE=$D/late.sock
SIGNET_REDIS=unix://$LATE sj late -k k -f raw -w 0 "$D/a.bin" &
late_pid=$!
sleep 1
redis-server --port 0 --unixsocket "$LATE" --unixsocketperm 700 --save '' --appendonly no \
	--dir "$D" --daemonize yes --pidfile "$D/late.pid" --logfile "$D/late.log" >/dev/null
on_exit 'kill "$(cat "$D/late.pid")" 2>/dev/null'
wait "$late_pid"
if [ "$(rc late)" = 0 ] && grep -q '^[0-9a-f]\{32\}$' "$D/late.out" &&
	[ "$(redis-cli -s "$LATE" XLEN signet:jobs)" = 1 ]; then
	ok "a Redis that starts a second late still gets the job (the first connect is retried)"
else
	fail "late Redis (exit $(rc late))" "$D/late.err"
fi

summary
