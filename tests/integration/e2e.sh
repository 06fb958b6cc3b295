#!/bin/bash
# End-to-end tests: a real redis-server (unix socket), a real SoftHSM token,
# the real signet-agent and submit-job, and openssl checking what they make.
# Everything lives in a temporary directory removed on exit.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init e2e

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
stack_submitter ci-ed ed25519
stack_submitter ci-rsa rsa
stack_submitter limited ec '["release"]'
stack_config
# A key pair the agent does not know.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/stranger.key" 2>/dev/null
chmod 600 "$D/stranger.key"

if "$SIGNET_BUILD/agent/signet-agent" -c "$D/agent.json" --check >"$D/check.out" 2>&1; then
	ok "signet-agent --check accepts the stack's configuration"
else
	fail "signet-agent --check" "$D/check.out"
fi

# A configuration whose certificate is not the HSM key's must be refused by name.
sed "s#$D/release-rsa.chain.pem\", \"formats\": \[\"raw\", \"cms\"\]#$D/release.chain.pem\", \"formats\": [\"raw\", \"cms\"]#" \
	"$D/agent.json" > "$D/bad-cert.json"
if ! "$SIGNET_BUILD/agent/signet-agent" -c "$D/bad-cert.json" --check >"$D/check2.out" 2>&1 &&
	grep -q "keys.release-rsa" "$D/check2.out"; then
	ok "--check names a key whose certificate does not match the HSM key"
else
	fail "--check with a mismatched certificate" "$D/check2.out"
fi

stack_agent_start || exit 1

# The agent only makes outbound connections: none of its sockets listens.
listening=0
for fd in /proc/"$STACK_AGENT_PID"/fd/*; do
	inode=$(readlink "$fd" | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
	[ -n "$inode" ] || continue
	# TCP state 0A is LISTEN; a unix socket with flags 00010000 accepts connections.
	if awk -v i="$inode" '$10 == i && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 ||
		awk -v i="$inode" '$7 == i && $4 == "00010000" { f = 1 } END { exit !f }' /proc/net/unix; then
		listening=$((listening + 1))
	fi
done
nsock=$(find /proc/"$STACK_AGENT_PID"/fd -lname 'socket:*' | wc -l)
if [ "$nsock" -ge 1 ] && [ "$listening" = 0 ]; then
	ok "signet-agent holds $nsock sockets, none listening"
else
	fail "signet-agent listening sockets: $listening of $nsock"
fi

# Privilege separation: the PKCS#11 module (and so the PIN and the
# sessions) lives in the signet-signer child, never in the agent.
signer_pid=$(pgrep -P "$STACK_AGENT_PID" -f signet-signer | head -1)
if [ -n "$signer_pid" ] && grep -q libsofthsm2 "/proc/$signer_pid/maps" &&
	! grep -q libsofthsm2 "/proc/$STACK_AGENT_PID/maps" &&
	[ "$(awk '/^Cpus_allowed:/ {next} /^TracerPid:/ {print $2}' "/proc/$signer_pid/status")" = 0 ]; then
	ok "the PKCS#11 module is loaded in signet-signer (pid $signer_pid), not in the agent"
else
	fail "privilege separation: signer pid '${signer_pid}'"
fi

head -c 1048576 /dev/urandom > "$D/firmware.bin"
printf 'hello signet\n' > "$D/small.txt"

# sj ID ARGS... (lib.sh): submit-job with the stack's settings; output in
# $D/ID.out, status: rc ID.

# --- signing paths ---------------------------------------------------------

sj raw-ec -k release -f raw -i "$D/ci-fw.key" -o "$D/fw.ec.sig" "$D/firmware.bin"
if [ "$(rc raw-ec)" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" \
	-signature "$D/fw.ec.sig" "$D/firmware.bin" >/dev/null 2>&1; then
	ok "raw ECDSA P-256 signature verifies with openssl dgst"
else
	fail "raw ECDSA P-256 (rc $(rc raw-ec))" "$D/raw-ec.err"
fi

sj raw-pss -k release-rsa -f raw -i "$D/ci-ed.key" -o "$D/fw.pss.sig" "$D/firmware.bin"
if [ "$(rc raw-pss)" = 0 ] && openssl dgst -sha256 -verify "$D/release-rsa.pub.pem" \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-signature "$D/fw.pss.sig" "$D/firmware.bin" >/dev/null 2>&1; then
	ok "raw RSA-3072 PSS signature verifies (Ed25519 submitter)"
else
	fail "raw RSA-PSS (rc $(rc raw-pss))" "$D/raw-pss.err"
fi

sj raw-pk1 -k release-pk1 -f raw -i "$D/ci-rsa.key" -o "$D/fw.pk1.sig" "$D/firmware.bin"
if [ "$(rc raw-pk1)" = 0 ] && openssl dgst -sha256 -verify "$D/release-rsa.pub.pem" \
	-signature "$D/fw.pk1.sig" "$D/firmware.bin" >/dev/null 2>&1; then
	ok "raw RSA PKCS#1 v1.5 signature verifies (RSA submitter)"
else
	fail "raw RSA PKCS#1 (rc $(rc raw-pk1))" "$D/raw-pk1.err"
fi

sj cms-ec -k release -i "$D/ci-fw.key" "$D/firmware.bin"
if [ "$(rc cms-ec)" = 0 ] && openssl cms -verify -binary -inform DER -in "$D/firmware.bin.p7s" \
	-content "$D/firmware.bin" -CAfile "$D/root.pem" -purpose any -out /dev/null >"$D/cms-ec.v" 2>&1; then
	ok "CMS (default format, chain root -> leaf) verifies with openssl cms"
else
	fail "CMS ECDSA (rc $(rc cms-ec))" "$D/cms-ec.err"
fi

sj cms-pss -k release-rsa -f cms -i "$D/ci-fw.key" -o "$D/fw.pss.p7s" "$D/firmware.bin"
if [ "$(rc cms-pss)" = 0 ] && openssl cms -verify -binary -inform DER -in "$D/fw.pss.p7s" \
	-content "$D/firmware.bin" -CAfile "$D/root.pem" -purpose any -out /dev/null >/dev/null 2>&1 &&
	openssl cms -cmsout -print -inform DER -in "$D/fw.pss.p7s" | grep -q rsassaPss; then
	ok "CMS with RSA-PSS verifies and names rsassaPss"
else
	fail "CMS RSA-PSS (rc $(rc cms-pss))" "$D/cms-pss.err"
fi

# The CMS must not verify against other content.
printf 'x' >> "$D/firmware.bin.copy"; cat "$D/firmware.bin" >> "$D/firmware.bin.copy"
if ! openssl cms -verify -binary -inform DER -in "$D/firmware.bin.p7s" -content "$D/firmware.bin.copy" \
	-CAfile "$D/root.pem" -purpose any -out /dev/null >/dev/null 2>&1; then
	ok "CMS refuses other content"
else
	fail "CMS verified against the wrong content"
fi

sj json -k release -f raw --json -i "$D/ci-fw.key" -o "$D/small.sig" "$D/small.txt"
if [ "$(rc json)" = 0 ] && [ "$(jq -r .status "$D/json.out")" = signed ] &&
	[ "$(jq -r .artifact.sha256 "$D/json.out")" = "$(sha256sum "$D/small.txt" | cut -d' ' -f1)" ] &&
	[ "$(jq -r .submitter "$D/json.out")" = ci-fw ] &&
	[ -f "$D/store/release/$(jq -r .id "$D/json.out")/small.txt.sig" ] &&
	[ -f "$D/store/release/$(jq -r .id "$D/json.out")/result.json" ]; then
	ok "--json prints the verified result; store holds the signature and result.json"
else
	fail "--json result (rc $(rc json))" "$D/json.err"
fi

# --- rejections: exit 1, the exact code, no signature file -----------------

expect_reject() { # NAME CODE SIGFILE
	if [ "$(rc "$1")" = 1 ] && grep -q "$2" "$D/$1.err" && [ ! -e "$3" ]; then
		ok "$1: exit 1 with $2, nothing written"
	else
		fail "$1: expected exit 1 and $2 (rc $(rc "$1"))" "$D/$1.err"
	fi
}

# An envelope.* rejection is one that anyone who can write to Redis can
# cause (SPEC §5): submit-job reports it once, waits on, and times out.
sj unknown-signer -k release -f raw -w 3 -i "$D/stranger.key" -o "$D/u.sig" "$D/small.txt"
if [ "$(rc unknown-signer)" = 3 ] && [ ! -e "$D/u.sig" ] &&
	[ "$(grep -c 'an unauthenticated rejection came for this id: envelope.unknown_signer' "$D/unknown-signer.err")" = 1 ] &&
	grep -q 'only unauthenticated answers came (envelope.unknown_signer)' "$D/unknown-signer.err"; then
	ok "unknown-signer: envelope.unknown_signer reported once as unauthenticated, exit 3, nothing written"
else
	fail "unknown-signer: expected exit 3 and the unauthenticated messages (rc $(rc unknown-signer))" "$D/unknown-signer.err"
fi

sj not-allowed -k release-rsa -f raw -i "$D/limited.key" -o "$D/n.sig" "$D/small.txt"
expect_reject not-allowed policy.key_not_allowed "$D/n.sig"

sj unknown-key -k no-such-key -f raw -i "$D/ci-fw.key" -o "$D/k.sig" "$D/small.txt"
expect_reject unknown-key policy.unknown_key "$D/k.sig"

sj bad-format -k release-pk1 -f cms -i "$D/ci-fw.key" -o "$D/f.p7s" "$D/small.txt"
expect_reject bad-format policy.format_not_allowed "$D/f.p7s"

# stream_env NAME: the queued envelope whose artifact is NAME, and its entry id.
stream_env() { stream_find .artifact.name "$1"; }
# wait_stream, bg_sj, bg_wait and result (a job's result payload): lib.sh.

# With the agent stopped: an expiring job, and one that a man in the middle
# alters in the queue (the digest swapped, the signature kept).
stack_agent_stop
bg_sj expired -k release -f raw --lifetime 1 -w 30 --name expired.txt -i "$D/ci-fw.key" -o "$D/e.sig" "$D/small.txt"
bg_sj tamper -k release -f raw -w 6 --name tamper.txt -i "$D/ci-fw.key" -o "$D/t.sig" "$D/small.txt"
wait_stream 2
{ read -r tid; read -r tenv; } < <(stream_env tamper.txt)
tjob=$(printf '%s' "$tenv" | jq -r .payload | base64 -d)
tamper_id=$(printf '%s' "$tjob" | jq -r .id)
evil=$(printf 'evil' | sha256sum | cut -d' ' -f1)
tpayload=$(printf '%s' "$tjob" | sed "s/\"sha256\":\"[0-9a-f]*\"/\"sha256\":\"$evil\"/" | base64 -w0)
printf '%s' "$tenv" | jq -c --arg p "$tpayload" '.payload = $p' > "$D/tampered.json"
redis-cli -s "$REDIS_SOCK" XDEL signet:jobs "$tid" >/dev/null
redis-cli -s "$REDIS_SOCK" -x XADD signet:jobs '*' env < "$D/tampered.json" >/dev/null
sleep 2.2
stack_agent_start || exit 1
bg_wait
expect_reject expired job.expired "$D/e.sig"
# The submitter ignores a rejection of an envelope that is not its own job
# (SPEC §5) and times out; the agent's answer to the altered job is in Redis.
if [ "$(rc tamper)" = 3 ] && [ ! -e "$D/t.sig" ] &&
	[ "$(result "$tamper_id" | jq -r .error.code)" = envelope.bad_signature ] &&
	! ls "$D/store/release/$tamper_id" >/dev/null 2>&1; then
	ok "tampered job: agent rejects it with envelope.bad_signature, submit-job exits 3, nothing signed"
else
	fail "tampered job (rc $(rc tamper), result $(result "$tamper_id"))" "$D/tamper.err"
fi

# --- the submitter believes only attested results for its own job ---------

stack_agent_stop
bg_sj forged -k release -f raw -w 3 --name forged.txt -i "$D/ci-fw.key" -o "$D/forged.sig" "$D/small.txt"
wait_stream 1
{ read -r _; read -r fenv; } < <(stream_env forged.txt)
fid=$(printf '%s' "$fenv" | jq -r .payload | base64 -d | jq -r .id)
fjs=$(printf '%s' "$fenv" | jq -r .payload | base64 -d | sha256sum | cut -d' ' -f1)
# A "rejected" result bound to the job but attested by the wrong key.
fpayload=$(printf '{"v":1,"id":"%s","status":"rejected","error":{"code":"job.expired","message":"x"},"job_sha256":"%s","agent":"evil"}' "$fid" "$fjs")
printf '%s' "DSSEv1 34 application/vnd.signet.result+json ${#fpayload} $fpayload" > "$D/forged.pae"
fsig=$(openssl dgst -sha256 -sign "$D/stranger.key" "$D/forged.pae" | base64 -w0)
fkeyid=sha256:$(openssl pkey -in "$D/stranger.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
redis-cli -s "$REDIS_SOCK" SET "signet:result:$fid" \
	"{\"payloadType\":\"application/vnd.signet.result+json\",\"payload\":\"$(printf '%s' "$fpayload" | base64 -w0)\",\"signatures\":[{\"keyid\":\"$fkeyid\",\"sig\":\"$fsig\"}]}" >/dev/null
redis-cli -s "$REDIS_SOCK" LPUSH "signet:done:$fid" 1 >/dev/null
bg_wait
if [ "$(rc forged)" = 3 ] && [ ! -e "$D/forged.sig" ]; then
	ok "a result attested by another key is ignored: submit-job exits 3"
else
	fail "forged result (rc $(rc forged))" "$D/forged.err"
fi
redis-cli -s "$REDIS_SOCK" DEL signet:jobs >/dev/null

# --- replays: one HSM signature per id, ever ---------------------------------

bg_sj replay1 -k release -f raw -w 0 --name replay.txt -i "$D/ci-fw.key" "$D/small.txt"
bg_wait
wait_stream 1
{ read -r _; read -r renv; } < <(stream_env replay.txt)
rid=$(cat "$D/replay1.out")
printf '%s' "$renv" > "$D/replay.env"
stack_agent_start || exit 1
for _ in $(seq 1 100); do
	[ -n "$(redis-cli -s "$REDIS_SOCK" --raw GET "signet:result:$rid")" ] && break
	sleep 0.05
done
first=$(result "$rid")
# The same envelope again, after an agent restart: the first result, no new signature.
stack_agent_stop
stack_agent_start || exit 1
redis-cli -s "$REDIS_SOCK" DEL "signet:done:$rid" >/dev/null
redis-cli -s "$REDIS_SOCK" -x XADD signet:jobs '*' env < "$D/replay.env" >/dev/null
redis-cli -s "$REDIS_SOCK" BLPOP "signet:done:$rid" 10 >/dev/null
again=$(result "$rid")
nsig=$(grep -c "\"event\":\"signed\",\"id\":\"$rid\"" "$D/audit.log")
if [ "$(printf '%s' "$first" | jq -r .status)" = signed ] && [ "$first" = "$again" ] && [ "$nsig" = 1 ]; then
	ok "a replayed job gets its first result again, one HSM signature in the audit log"
else
	fail "identical replay (signed records: $nsig)"
fi
# A different job under the same id, properly signed by the submitter.
rjob=$(printf '%s' "$renv" | jq -r .payload | base64 -d | jq -c '.note = "second"')
printf '%s' "DSSEv1 31 application/vnd.signet.job+json ${#rjob} $rjob" > "$D/r2.pae"
r2sig=$(openssl dgst -sha256 -sign "$D/ci-fw.key" "$D/r2.pae" | base64 -w0)
printf '%s' "$renv" | jq -c --arg p "$(printf '%s' "$rjob" | base64 -w0)" --arg s "$r2sig" \
	'.payload = $p | .signatures[0].sig = $s' > "$D/replay2.env"
redis-cli -s "$REDIS_SOCK" DEL "signet:done:$rid" >/dev/null
redis-cli -s "$REDIS_SOCK" -x XADD signet:jobs '*' env < "$D/replay2.env" >/dev/null
for _ in $(seq 1 100); do
	grep -q '"code":"job.replayed"' "$D/audit.log" && break
	sleep 0.05
done
nsig=$(grep -c "\"event\":\"signed\",\"id\":\"$rid\"" "$D/audit.log")
if grep -q "\"id\":\"$rid\".*\"code\":\"job.replayed\"" "$D/audit.log" && [ "$nsig" = 1 ] &&
	[ "$(result "$rid")" = "$first" ]; then
	ok "another job under a used id is refused with job.replayed; the signed result stays"
else
	fail "replay with a different payload"
fi

# --- submitter exit codes -------------------------------------------------------

sj usage -f raw -i "$D/ci-fw.key" "$D/small.txt"
[ "$(rc usage)" = 2 ] && ok "missing --key: exit 2" || fail "missing --key (rc $(rc usage))" "$D/usage.err"
sj nofile -k release -i "$D/ci-fw.key" "$D/does-not-exist"
[ "$(rc nofile)" = 2 ] && ok "unreadable FILE: exit 2" || fail "unreadable FILE (rc $(rc nofile))" "$D/nofile.err"
sj noident -k release -i "$D/nope.key" "$D/small.txt"
[ "$(rc noident)" = 2 ] && ok "unreadable identity: exit 2" || fail "unreadable identity (rc $(rc noident))" "$D/noident.err"
SIGNET_REDIS=unix://$D/nothing.sock SIGNET_AGENT_PUBKEY=$D/agent.pub "$SUBMIT_JOB" -k release \
	-i "$D/ci-fw.key" "$D/small.txt" >/dev/null 2>"$D/unreach.err"
[ $? = 4 ] && ok "queue unreachable: exit 4" || fail "queue unreachable" "$D/unreach.err"
sj w0 -k release -f raw -w 0 --json -i "$D/ci-fw.key" "$D/small.txt"
[ "$(rc w0)" = 0 ] && jq -e '.id | test("^[0-9a-f]{32}$")' "$D/w0.out" >/dev/null &&
	ok "-w 0 --json prints {\"id\": ...}" || fail "-w 0 --json" "$D/w0.err"

# signet-approve without pending jobs: help, usage errors, an empty list.
SA=${SIGNET_APPROVE:-$SIGNET_BUILD/submitter/signet-approve}
"$SA" --help >"$D/sa-help.out" 2>&1 && grep -q "approve ID" "$D/sa-help.out" &&
	ok "signet-approve --help" || fail "signet-approve --help" "$D/sa-help.out"
sa_usage=0
for args in "" "frob" "show" "show abc" "list extra" "list --comment x" "list -w x" \
	"approve 0123456789abcdef0123456789abcdef --yes" \
	"approve 0123456789abcdef0123456789abcdef" \
	"deny 0123456789abcdef0123456789abcdef --yes -i $D/ci-fw.key --comment $(printf 'a\tb')"; do
	# shellcheck disable=SC2086 # the arguments are split on purpose
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SA" $args </dev/null >/dev/null 2>>"$D/sa-usage.err"
	[ $? = 2 ] || { sa_usage=1; echo "signet-approve $args: not exit 2" >>"$D/sa-usage.err"; }
done
[ "$sa_usage" = 0 ] && ok "signet-approve usage errors: exit 2" || fail "signet-approve usage errors" "$D/sa-usage.err"
SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SA" --prefix empty: list >"$D/sa-list.out" 2>&1 &&
	grep -q "no jobs are pending approval" "$D/sa-list.out" &&
	ok "signet-approve list on an empty queue" || fail "signet-approve list (empty)" "$D/sa-list.out"
SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SA" list --json >"$D/sa-list.json" 2>"$D/sa-list.err" &&
	jq -e 'type == "array" and length == 0' "$D/sa-list.json" >/dev/null &&
	ok "signet-approve list --json without pending jobs: []" || fail "signet-approve list --json" "$D/sa-list.err"
SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub "$SA" show "$rid" >"$D/sa-show.out" 2>&1
[ $? = 1 ] && grep -q "is signed" "$D/sa-show.out" &&
	ok "signet-approve show of a signed job: exit 1" || fail "signet-approve show (signed)" "$D/sa-show.out"

# Backpressure and replicas (another prefix: no agent reads it).
redis-cli -s "$REDIS_SOCK" XADD bp:jobs '*' env x >/dev/null
redis-cli -s "$REDIS_SOCK" XADD bp:jobs '*' env y >/dev/null
sj bp -k release -w 0 --prefix bp: --max-queue 2 -i "$D/ci-fw.key" "$D/small.txt"
if [ "$(rc bp)" = 4 ] && grep -q "holds 2 jobs" "$D/bp.err" &&
	[ "$(redis-cli -s "$REDIS_SOCK" XLEN bp:jobs)" = 2 ]; then
	ok "--max-queue: a full queue is refused with exit 4 and nothing is pushed"
else
	fail "--max-queue (rc $(rc bp))" "$D/bp.err"
fi
sj repl -k release -w 0 --prefix bp: --max-queue 0 --replicas 1 -i "$D/ci-fw.key" "$D/small.txt"
if [ "$(rc repl)" = 4 ] && grep -q "0 of 1 replicas" "$D/repl.err"; then
	ok "--replicas 1 without a replica: exit 4 after WAIT"
else
	fail "--replicas (rc $(rc repl))" "$D/repl.err"
fi

# --- --result-out and --print-keyid ---------------------------------------------
head -c 3000 /dev/urandom > "$D/ro.bin"
SIGNET_IDENTITY=$D/ci-fw.key sj ro -k release -f cms -w 30 --result-out "$D/ro.result.json" "$D/ro.bin"
if [ "$(rc ro)" = 0 ] && jq -e '.payloadType == "application/vnd.signet.result+json"' "$D/ro.result.json" >/dev/null &&
	"$SIGNET_VERIFY" -r "$D/ro.result.json" -a "$D/agent.pub" -C "$D/root.pem" "$D/ro.bin" >"$D/ro.verify" 2>&1; then
	ok "--result-out writes the verified result envelope; signet-verify accepts it: $(cat "$D/ro.verify")"
else
	fail "--result-out (rc $(rc ro))" "$D/ro.verify"
fi
SIGNET_IDENTITY=$D/ci-fw.key sj rorej -k no-such-key -f cms -w 30 --result-out "$D/rorej.json" "$D/ro.bin"
if [ "$(rc rorej)" = 1 ] && [ "$(jq -r .payload "$D/rorej.json" | base64 -d | jq -r .error.code)" = policy.unknown_key ]; then
	ok "--result-out keeps a rejection's envelope too (policy.unknown_key)"
else
	fail "--result-out on a rejection (rc $(rc rorej))" "$D/rorej.err"
fi
want=sha256:$(openssl pkey -in "$D/ci-fw.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
if [ "$(SIGNET_IDENTITY=$D/ci-fw.key "$SUBMIT_JOB" --print-keyid 2>"$D/pk.err")" = "$want" ] &&
	[ "$(jq -r '.submitters["ci-fw"].public_key' "$D/agent.json")" = "$D/ci-fw.pub" ]; then
	ok "--print-keyid prints the identity's keyid ($want), no FILE needed"
else
	fail "--print-keyid" "$D/pk.err"
fi
SIGNET_IDENTITY="$(cat "$D/ci-fw.key")" "$SUBMIT_JOB" --print-keyid >"$D/pk2.out" 2>&1
pk2=$?
if [ "$pk2" = 2 ] && grep -q "expects a path to a key file" "$D/pk2.out" && ! grep -q "PRIVATE KEY" "$D/pk2.out"; then
	ok "--print-keyid with PEM text in SIGNET_IDENTITY: refused without echoing it"
else
	fail "--print-keyid with PEM text (rc $pk2)" "$D/pk2.out"
fi

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout -out "$D/other-agent.pub"
other_keyid=sha256:$(openssl pkey -pubin -in "$D/other-agent.pub" -outform DER | sha256sum | cut -d' ' -f1)
SIGNET_IDENTITY=$D/ci-fw.key SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/other-agent.pub \
	"$SUBMIT_JOB" -k release -f cms -w 4 -o "$D/wa.p7s" "$D/ro.bin" >"$D/wa.out" 2>"$D/wa.err"
wa=$?
if [ "$wa" = 3 ] && grep -q "not by the agent key pinned here (keyid $other_keyid)" "$D/wa.err" &&
	grep -q "check SIGNET_AGENT_PUBKEY" "$D/wa.err" && [ ! -e "$D/wa.p7s" ]; then
	ok "a wrong agent public key: both keyids named, SIGNET_AGENT_PUBKEY to check, exit 3, nothing written"
else
	fail "wrong agent public key (rc $wa)" "$D/wa.err"
fi

# --- the audit log --------------------------------------------------------------

stack_agent_stop
lines=$(wc -l < "$D/audit.log")
if [ "$lines" -ge 10 ] && ! grep -q "$STACK_PIN" "$D/audit.log" "$D/agent.log"; then
	ok "audit log has $lines records; the PIN is in no log"
else
	fail "audit log ($lines lines)"
fi
# Editing a record breaks the chain: the agent refuses to start on it.
sed -i '2s/"time":"20/"time":"19/' "$D/audit.log"
if ! "$SIGNET_BUILD/agent/signet-agent" -c "$D/agent.json" >"$D/tamper-audit.out" 2>&1 &&
	grep -q "record 2 was altered" "$D/tamper-audit.out"; then
	ok "an edited audit record is detected at start-up (record 2 named)"
else
	fail "edited audit log not detected" "$D/tamper-audit.out"
fi

if [ ! -e "$D/agent.failures" ]; then
	ok "every signet-agent run exited 0 on SIGTERM"
else
	fail "signet-agent exit statuses: $(tr '\n' ' ' < "$D/agent.failures")" "$D/agent.log"
fi

summary
