#!/bin/bash
# The HTTP artifact store (SPEC §8) against a real nginx with WebDAV PUT and
# a bearer token: signatures and results land there; while the store is down
# jobs wait and complete when it returns; past the deadline they fail with
# store.failed; a wrong token never succeeds.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init http nginx curl
# shellcheck source=../../scripts/nginx.sh
. "$SRC/scripts/nginx.sh"
on_exit nginx_stop

TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
( umask 077; printf '%s\n' "$TOKEN" > "$D/store.token" )
stack_redis_start || exit 1
stack_token_init || exit 1
nginx_start "$TOKEN" || exit 1
stack_submitter ci-fw ec
STACK_STORE=http://127.0.0.1:$NGINX_PORT/signatures
STACK_EXTRA="\"store_token_file\": \"$D/store.token\", \"store_timeout\": 2, \"store_deadline\": 12,"
stack_config
stack_agent_start || exit 1

printf 'artifact over http\n' > "$D/a.bin"
# sj ID ARGS...: submit-job as ci-fw; output in $D/ID.out, status: rc ID.
sj() { SIGNET_IDENTITY=$D/ci-fw.key run_sj "$@"; }

sj put -k release -f cms --json "$D/a.bin"
id=$(jq -r .id "$D/put.out" 2>/dev/null)
if [ "$(rc put)" = 0 ] && cmp -s "$D/a.bin.p7s" "$D/dav/signatures/release/$id/a.bin.p7s" &&
	[ "$(jq -r .store.signature "$D/put.out")" = "http://127.0.0.1:$NGINX_PORT/signatures/release/$id/a.bin.p7s" ] &&
	[ "$(jq -r .payload "$D/dav/signatures/release/$id/result.json" | base64 -d | jq -r .id)" = "$id" ]; then
	ok "signature and result.json are PUT to nginx under <base>/<key>/<id>/"
else
	fail "HTTP store PUT (rc $(rc put))" "$D/put.err"
fi

# The store goes away for a while: the job waits and completes when it returns.
nginx_stop
( sleep 4; nginx_restart ) &
restarter=$!
sj down -k release -f raw -o "$D/down.sig" "$D/a.bin"
if [ "$(rc down)" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" \
	-signature "$D/down.sig" "$D/a.bin" >/dev/null 2>&1; then
	ok "a job submitted while the store is down completes when it returns"
else
	fail "store down for 4 s (rc $(rc down))" "$D/down.err"
fi
wait "$restarter"

# A job's objects are PUT with If-None-Match: * and never replaced.  A
# result.json planted under a job's id before the agent publishes it stays,
# and the job fails with store.failed (a 412, read back: other bytes).
stack_agent_stop
sj planted -k release -f raw -w 0 "$D/a.bin"
pid=$(cat "$D/planted.out")
penv=$(rc_ --raw XRANGE signet:jobs - + | grep '^{')
mkdir -p "$D/dav/signatures/release/$pid"
printf 'planted\n' > "$D/dav/signatures/release/$pid/result.json"
stack_agent_start || exit 1
for _ in $(seq 1 300); do [ -n "$(rc_ --raw GET "signet:result:$pid")" ] && break; sleep 0.05; done
pres=$(result "$pid")
if [ "$(printf '%s' "$pres" | jq -r .error.code)" = store.failed ] &&
	[ "$(cat "$D/dav/signatures/release/$pid/result.json")" = planted ] &&
	grep -q "\"PUT /signatures/release/$pid/result.json HTTP/1.1\" 412 " "$D/nginx/access.log"; then
	ok "an object already under a job's id is not replaced (412): store.failed, the object unchanged"
else
	fail "planted result.json (result: $pres)" "$D/agent.log"
fi
# A result lost from the store: the job again rebuilds it beside its
# signature file, whose PUT answers 412 with the same bytes (written).
stack_agent_stop
sj relost -k release -f raw -w 0 "$D/a.bin"
lid=$(cat "$D/relost.out")
lenv=$(rc_ --raw XRANGE signet:jobs - + | grep '^{' | grep -v -F "$penv" | head -1)
stack_agent_start || exit 1
for _ in $(seq 1 300); do [ -n "$(rc_ --raw GET "signet:result:$lid")" ] && break; sleep 0.05; done
lsig=$(result "$lid" | jq -r .signature)
rm -f "$D/dav/signatures/release/$lid/result.json"
rc_ DEL "signet:result:$lid" "signet:done:$lid" >/dev/null
printf '%s' "$lenv" | rc_ -x XADD signet:jobs '*' env >/dev/null
for _ in $(seq 1 300); do [ -n "$(rc_ --raw GET "signet:result:$lid")" ] && break; sleep 0.05; done
lres=$(result "$lid")
if [ "$(printf '%s' "$lres" | jq -r .status)" = signed ] && [ "$(printf '%s' "$lres" | jq -r .signature)" = "$lsig" ] &&
	[ -f "$D/dav/signatures/release/$lid/result.json" ] &&
	grep -q "\"PUT /signatures/release/$lid/a.bin.sig HTTP/1.1\" 412 " "$D/nginx/access.log"; then
	ok "a lost result is rebuilt: the signature file's 412 with the same bytes counts as written"
else
	fail "rebuilt result over HTTP (result: $lres)" "$D/agent.log"
fi

# Down past the deadline: failed, store.failed, and nothing written locally.
nginx_stop
sj dead -k release -f raw -w 60 -o "$D/dead.sig" "$D/a.bin"
if [ "$(rc dead)" = 1 ] && grep -q store.failed "$D/dead.err" && [ ! -e "$D/dead.sig" ]; then
	ok "a store down past the deadline gives failed/store.failed"
else
	fail "store past the deadline (rc $(rc dead))" "$D/dead.err"
fi
nginx_restart
sleep 0.3

# A wrong token: the agent refuses to release anything it could not store.
stack_agent_stop
# At shutdown the audit log's checkpoint and records went up too.
cpd=$D/dav/signatures/audit
if [ -f "$cpd/checkpoints/latest" ] && [ "$(sed -n 2p "$cpd/checkpoints/latest")" = "$(wc -l < "$D/audit.log")" ] &&
	ls "$cpd/records" | sort -n -t- -k1,1 | sed "s|^|$cpd/records/|" | xargs cat | cmp -s - "$D/audit.log" &&
	"$SIGNET_BUILD/admin/signet-admin" audit verify "$D/audit.log" --checkpoint "$cpd/checkpoints/latest" \
		--key "$D/agent.pub" >"$D/av.out" 2>&1; then
	ok "the shutdown checkpoint and the audit records are PUT under <base>/audit/ and verify"
else
	fail "audit publication over HTTP ($(ls -R "$cpd" 2>&1 | tr '\n' ' '))" "$D/av.out"
fi
printf 'wrong-token\n' > "$D/store.token"
stack_agent_start || exit 1
sj wrongtoken -k release -f raw -w 60 -o "$D/wt.sig" "$D/a.bin"
if [ "$(rc wrongtoken)" = 1 ] && grep -q store.failed "$D/wrongtoken.err" && [ ! -e "$D/wt.sig" ] &&
	grep -q ' 401 ' "$D/nginx/access.log"; then
	ok "a token the store refuses (401) fails at once with store.failed"
else
	fail "wrong token (rc $(rc wrongtoken))" "$D/wrongtoken.err"
fi
if ! grep -q "$TOKEN" "$D/agent.log" "$D/audit.log"; then
	ok "the bearer token is in no log"
else
	fail "bearer token leaked into a log"
fi

stack_agent_stop
[ ! -e "$D/agent.failures" ] && ok "signet-agent exited 0 on SIGTERM" || fail "agent exit status" "$D/agent.log"
summary
