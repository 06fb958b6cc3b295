#!/bin/bash
# The audit log against the real agent: Merkle tree records with inclusion
# proofs in results, signed checkpoints and the records published to the
# store, `signet-admin audit verify` finding each kind of tampering, a torn
# last record set aside at start-up, a log cut back below its checkpoint
# refused, and result webhooks (global and key owner's) checked by a real
# HTTP receiver that verifies the HMAC.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init audit python3
RECV_PIDS=""
receivers_stop() {
	local p
	for p in $RECV_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
on_exit receivers_stop
# rc_ and result (a job's result payload): lib.sh.
sj() { # NAME KEY FORMAT [ARGS...]: signs $D/NAME; prints the job id (from --json)
	local name=$1 key=$2 fmt=$3
	shift 3
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -k "$key" -f "$fmt" --json -w 30 "$@" "$D/$name" 2>>"$D/sj.err" | jq -r .id
}
# receiver NAME [ARGS...]: a webhook receiver on a free port; sets PORT_NAME
receiver() {
	local name=$1
	shift
	( umask 077; printf 'secret-%s\n' "$name" > "$D/$name.secret" )
	mkdir -p "$D/hooks-$name"
	python3 "$SRC/tests/webhook_receiver.py" --port-file "$D/$name.port" --out "$D/hooks-$name" \
		--secret-file "$D/$name.secret" "$@" 2>>"$D/receiver.log" &
	RECV_PIDS="$RECV_PIDS $!"
	for _ in $(seq 1 100); do [ -s "$D/$name.port" ] && break; sleep 0.05; done
	eval "PORT_$name=\$(cat \"\$D/\$name.port\")"
}
hooks_for() { # DIR ID: the deliveries of job ID in a receiver's directory
	cat "$1"/*.json 2>/dev/null | jq -c --arg i "$2" 'select(.delivery == $i)'
}
py_imports='
import hashlib, json, sys
'

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
receiver all
receiver owner
receiver gone --status 404
# PORT_<name> is set by receiver() above.
# shellcheck disable=SC2154
STACK_EXTRA="\"checkpoint_interval\": 1, \"audit_origin\": \"example.com/signet/test\",
 \"metrics_file\": \"$D/signet.prom\", \"metrics_interval\": 1,
 \"webhooks\": [{\"url\": \"http://127.0.0.1:$PORT_all/hook\", \"secret_file\": \"$D/all.secret\"},
   {\"url\": \"http://127.0.0.1:$PORT_gone/hook\", \"secret_file\": \"$D/gone.secret\", \"events\": [\"signed\"]}],"
stack_config
# The key owner's hook on release-rsa only.
# shellcheck disable=SC2154
stack_policy_config ".keys[\"release-rsa\"].webhooks = [{\"url\": \"http://127.0.0.1:$PORT_owner/own\", \"secret_file\": \"$D/owner.secret\"}]"
stack_agent_start || exit 1

printf 'firmware one\n' > "$D/fw1.bin"
printf 'firmware two\n' > "$D/fw2.bin"
printf 'firmware three\n' > "$D/fw3.bin"
id1=$(sj fw1.bin release cms)
id2=$(sj fw2.bin release raw)
id3=$(sj fw3.bin release-rsa raw)
id4=$(SIGNET_REDIS=$SIGNET_REDIS SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
	"$SUBMIT_JOB" -k no-such-key --json -w 30 "$D/fw1.bin" 2>/dev/null | jq -r .id)

# 1. Results carry their record and an inclusion proof that checks out.
# (The audit path check below is RFC 9162 2.1.3.2, written out in Python.)
check_proof() { # ID: the result's audit member against RFC 6962, in Python
	result "$1" | python3 -c "$py_imports"'
r = json.load(sys.stdin)["audit"]
rec = r["record"].encode()
leaf = hashlib.sha256(b"\x00" + rec).digest()
assert leaf.hex() == r["hash"], "leaf"
assert r["index"] == r["seq"] - 1 and r["tree_size"] == r["seq"]
# The audit path of the last leaf: left siblings only (RFC 9162 2.1.3.2).
fn, sn, h = r["index"], r["tree_size"] - 1, leaf
for p in r["proof"]:
    p = bytes.fromhex(p)
    if fn & 1 or fn == sn:
        h = hashlib.sha256(b"\x01" + p + h).digest()
        while not fn & 1 and fn != 0:
            fn >>= 1; sn >>= 1
    else:
        h = hashlib.sha256(b"\x01" + h + p).digest()
    fn >>= 1; sn >>= 1
assert sn == 0 and h.hex() == r["root"], "root"
d = json.loads(rec)
assert d["event"] == "signed" and d["seq"] == r["seq"]
'
}
if [ -n "$id1" ] && [ -n "$id2" ] && [ -n "$id3" ] && check_proof "$id1" && check_proof "$id2" && check_proof "$id3"; then
	ok "signed results carry their audit record and an RFC 6962 inclusion proof that verifies"
else
	fail "inclusion proofs in results ($id1 $id2 $id3)" "$D/sj.err"
fi
rec=$(result "$id1" | jq -r .audit.record)
sig_sha=$(result "$id1" | jq -r .signature | base64 -d | sha256sum | cut -d' ' -f1)
if [ "$(printf '%s' "$rec" | jq -r .id)" = "$id1" ] && [ "$(printf '%s' "$rec" | jq -r .signature_sha256)" = "$sig_sha" ] &&
	[ "$(printf '%s' "$rec" | jq -r .sha256)" = "$(sha256sum "$D/fw1.bin" | cut -d' ' -f1)" ] &&
	[ "$(result "$id1" | jq -r .audit.checkpoints)" = "file://$D/store/audit/checkpoints/" ]; then
	ok "the record names the job, the artifact digest and the signature file's digest; the result says where checkpoints are"
else
	fail "record contents: $rec"
fi
events=$(jq -r --arg i "$id1" 'select(.id == $i) | .event' "$D/audit.log" | tr '\n' ' ')
if [ "$events" = "intent signature signed published " ] &&
	[ "$(jq -r 'select(.event == "received") | .envelope_sha256' "$D/audit.log" | grep -c .)" -ge 4 ]; then
	ok "records per job: received, intent, signature, signed, published"
else
	fail "record sequence for $id1: $events"
fi
if [ -x "$SIGNET_BUILD/verifier/signet-verify" ]; then
	( cd "$D" && cp "store/release/$id1/fw1.bin.p7s" fw1.bin.p7s )
	if "$SIGNET_BUILD/verifier/signet-verify" -q -r "$D/store/release/$id1/result.json" \
		-a "$D/agent.pub" -C "$D/root.pem" -s "$D/fw1.bin.p7s" "$D/fw1.bin" 2>"$D/v.err"; then
		ok "signet-verify accepts the published signature, result and proof"
	else
		fail "signet-verify on a genuine result" "$D/v.err"
	fi
fi

# 2. Webhooks: every result to the global hook, the key's to its owner.
for _ in $(seq 1 100); do
	[ "$(ls "$D/hooks-all" | wc -l)" -ge 4 ] && [ "$(ls "$D/hooks-owner" | wc -l)" -ge 1 ] && break
	sleep 0.1
done
h1=$(hooks_for "$D/hooks-all" "$id1")
if [ "$(printf '%s' "$h1" | jq -r .event)" = signed ] && [ "$(printf '%s' "$h1" | jq -r .signature_ok)" = true ] &&
	[ "$(printf '%s' "$h1" | jq -r .content_type)" = application/json ] &&
	[ "$(printf '%s' "$h1" | jq -r .body)" = "$(result "$id1")" ]; then
	ok "global webhook: the result payload byte for byte, X-Signet-Event signed, a valid X-Signet-Signature HMAC"
else
	fail "global webhook delivery of $id1: $h1" "$D/receiver.log"
fi
h4=$(hooks_for "$D/hooks-all" "$id4")
if [ "$(printf '%s' "$h4" | jq -r .event)" = rejected ] &&
	[ "$(printf '%s' "$h4" | jq -r .body | jq -r .error.code)" = policy.unknown_key ]; then
	ok "global webhook: rejections too (X-Signet-Event rejected)"
else
	fail "webhook of the rejected job $id4: $h4"
fi
if [ "$(cat "$D"/hooks-owner/*.json | jq -r .delivery | sort -u)" = "$id3" ] &&
	[ "$(cat "$D"/hooks-owner/*.json | jq -r .signature_ok)" = true ]; then
	ok "key owner's webhook: exactly the results that name release-rsa"
else
	fail "owner webhook: $(cat "$D"/hooks-owner/*.json 2>/dev/null | jq -c '{delivery, event}')"
fi
for _ in $(seq 1 50); do
	grep -q '^signet_webhook_failures_total [1-9]' "$D/signet.prom" 2>/dev/null && break
	sleep 0.1
done
if grep -q '^signet_webhook_failures_total [1-9]' "$D/signet.prom" && grep -q "webhook" "$D/agent.log" &&
	[ -n "$(hooks_for "$D/hooks-gone" "$id1")" ] && [ -z "$(hooks_for "$D/hooks-gone" "$id4")" ]; then
	ok "a hook answering 404 is a logged, counted failure; its events filter (signed only) holds"
else
	fail "webhook failure accounting: $(grep webhook "$D/signet.prom")" "$D/agent.log"
fi

# 3. Checkpoints and the published records.
for _ in $(seq 1 40); do # a checkpoint while running (checkpoint_interval 1)
	ls "$D/store/audit/checkpoints/" 2>/dev/null | grep -q '^[0-9]' && break
	sleep 0.1
done
printf 'firmware five\n' > "$D/fw5.bin"
[ -n "$(sj fw5.bin release raw)" ] || fail "a job after the first checkpoint" "$D/sj.err"
stack_agent_stop
cps=$D/store/audit/checkpoints
if [ -f "$cps/latest" ] && head -1 "$cps/latest" | grep -qx "example.com/signet/test" &&
	[ "$(sed -n 2p "$cps/latest")" = "$(wc -l < "$D/audit.log")" ] &&
	grep -q "^— example.com/signet/test " "$cps/latest" &&
	cmp -s "$cps/latest" "$D/audit.log.checkpoint"; then
	ok "a signed C2SP checkpoint of the whole log at shutdown (origin, size, root, signature line)"
else
	fail "checkpoint at shutdown: $(cat "$cps/latest" 2>/dev/null)" "$D/agent.log"
fi
ls "$D/store/audit/records/" | sort -t- -n -k1,1 | sed "s|^|$D/store/audit/records/|" | xargs cat > "$D/published.log"
if cmp -s "$D/published.log" "$D/audit.log" && [ "$(ls "$cps" | grep -c '^[0-9]')" -ge 2 ]; then
	ok "the published record pieces, concatenated, are the log byte for byte; several checkpoints kept"
else
	fail "published records differ from the log ($(ls "$D/store/audit/records/" | tr '\n' ' '))"
fi
all_cps=$(for f in "$cps"/[0-9]*; do printf -- '--checkpoint %s ' "$f"; done)
# shellcheck disable=SC2086
if "$ADMIN" audit verify "$D/audit.log" $all_cps --key "$D/agent.pub" > "$D/verify.out" 2>&1 &&
	grep -q "checkpoints of example.com/signet/test verified and consistent" "$D/verify.out"; then
	ok "signet-admin audit verify: the log and every checkpoint ($(ls "$cps" | grep -c '^[0-9]')) verify"
else
	fail "audit verify of the genuine log" "$D/verify.out"
fi
# shellcheck disable=SC2086
"$ADMIN" audit verify "$D/published.log" --checkpoint "$cps/latest" --key "$D/agent.pub" > "$D/verify.out" 2>&1 &&
	ok "the published log verifies against the latest checkpoint" ||
	fail "audit verify of the published log" "$D/verify.out"

# 4. Tampering, each found and named.
n=$(wc -l < "$D/audit.log")
tamper() { # NAME EXPECTED-TEXT: runs audit verify on $D/t.log; exit 1 and the text
	"$ADMIN" audit verify "$D/t.log" --checkpoint "$cps/latest" --key "$D/agent.pub" > "$D/t.out" 2>&1
	local rc=$?
	if [ "$rc" = 1 ] && grep -qF "$2" "$D/t.out"; then
		ok "tamper: $1 -> $(head -1 "$D/t.out" | cut -c1-140)"
	else
		fail "tamper: $1 (exit $rc, wanted \"$2\")" "$D/t.out"
	fi
}
sed '5s/"submitter":"ci-fw"/"submitter":"ci-fx"/' "$D/audit.log" > "$D/t.log"
grep -q ci-fx "$D/t.log" || sed -i '5s/"time":"2/"time":"1/' "$D/t.log"
tamper "record 5 edited" "record 5 was altered"
sed '6d' "$D/audit.log" > "$D/t.log"
tamper "record 6 deleted" "record 6 is missing"
awk 'NR == 7 { held = $0; next } { print } NR == 8 { print held }' "$D/audit.log" > "$D/t.log"
tamper "records 7 and 8 swapped" "record 7 is missing or out of order"
head -n $((n - 3)) "$D/audit.log" > "$D/t.log"
tamper "last 3 records cut off" "records $((n - 2)) to $n are missing"
head -c -20 "$D/audit.log" > "$D/t.log"
tamper "last record cut short" "records $n to $n are missing"
grep -q "unfinished append" "$D/t.out" && ok "a torn last line is reported as such, not taken as a record" ||
	fail "torn line report" "$D/t.out"
# A rewrite that recomputes every later tree head: only the checkpoint sees it.
python3 -c "$py_imports"'
sys.path.insert(0, sys.argv[3])
import auditlog  # tests/auditlog.py: RFC 6962 independently of the C code
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
out, tree = [], auditlog.Tree()
for i, l in enumerate(lines):
    d = json.loads(l)
    if i == 4 and "submitter" in d: d["submitter"] = "someone-else"
    if i == 4: d["time"] = "2001-01-01T00:00:00Z"
    d["prev"] = tree.root().hex()
    l = json.dumps(d, separators=(",", ":")).encode()
    out.append(l)
    tree.append(l)
open(sys.argv[2], "wb").write(b"".join(x + b"\n" for x in out))
' "$D/audit.log" "$D/t.log" "$SRC/tests"
first=$(ls "$cps" | grep '^[0-9]' | sort -n | head -1)
if [ "$first" -ge 5 ]; then lo=1; else lo=$((first + 1)); fi
tamper "record 5 rewritten with every later tree head recomputed" "a record from $lo to"
# Forged checkpoints.
cp "$D/audit.log" "$D/t.log"
sed "2s/.*/$((n + 5))/" "$cps/latest" > "$D/forged.cp"
"$ADMIN" audit verify "$D/t.log" --checkpoint "$D/forged.cp" --key "$D/agent.pub" > "$D/t.out" 2>&1
[ $? = 1 ] && grep -q "FORGED" "$D/t.out" && ok "forged checkpoint (size changed) refused: $(cat "$D/t.out")" ||
	fail "forged checkpoint (size)" "$D/t.out"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/other.key" 2>/dev/null
openssl pkey -in "$D/other.key" -pubout -out "$D/other.pub" 2>/dev/null
head -3 "$cps/latest" > "$D/body"
python3 - "$D/body" "$D/other.key" "$D/forged2.cp" <<'PY'
import base64, subprocess, sys
body = open(sys.argv[1], "rb").read()
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", sys.argv[2]], input=body,
                     capture_output=True, check=True).stdout
line = "\u2014 example.com/signet/test ".encode() + base64.b64encode(b"\0\0\0\0" + sig) + b"\n"
open(sys.argv[3], "wb").write(body + b"\n" + line)
PY
"$ADMIN" audit verify "$D/t.log" --checkpoint "$D/forged2.cp" --key "$D/agent.pub" > "$D/t.out" 2>&1
[ $? = 1 ] && grep -q "FORGED" "$D/t.out" && ok "checkpoint signed by another key refused" ||
	fail "checkpoint of another key" "$D/t.out"
"$ADMIN" audit verify "$D/t.log" --checkpoint "$D/forged2.cp" --key "$D/other.pub" > "$D/t.out" 2>&1
[ $? = 1 ] && grep -q "FORGED" "$D/t.out" && ok "a signature line under a made-up key ID does not verify even with that key" ||
	fail "made-up key ID" "$D/t.out"

# 5. Start-up: a torn last record is set aside; a log cut back is refused.
printf '{"seq":%d,"time":"2026-' "$((n + 1))" >> "$D/audit.log"
stack_agent_start || exit 1
printf 'firmware four\n' > "$D/fw4.bin"
id5=$(sj fw4.bin release raw)
stack_agent_stop
if [ -n "$id5" ] && grep -q "moved to $D/audit.log.torn" "$D/agent.log" &&
	[ "$(cat "$D/audit.log.torn")" = "{\"seq\":$((n + 1)),\"time\":\"2026-" ] &&
	"$ADMIN" audit verify "$D/audit.log" --checkpoint "$cps/latest" --key "$D/agent.pub" >/dev/null; then
	ok "a torn last record is moved to audit.log.torn with a warning; the log goes on and verifies"
else
	fail "torn record at start-up" "$D/agent.log"
fi
ls "$D/store/audit/records/" | sort -n -t- -k1,1 | sed "s|^|$D/store/audit/records/|" | xargs cat > "$D/published.log"
if cmp -s "$D/published.log" "$D/audit.log" &&
	[ "$(ls "$D/store/audit/records/" | sort -n -t- -k1,1 | tail -1)" = "$n-$(wc -l < "$D/audit.log").jsonl" ]; then
	ok "after a restart the next piece starts where the last checkpoint ended; the pieces are still the log"
else
	fail "published pieces after a restart: $(ls "$D/store/audit/records/" | tr '\n' ' ')"
fi
cp "$D/audit.log" "$D/audit.log.good"
head -n 10 "$D/audit.log.good" > "$D/audit.log"
if ! stack_agent_start 2>/dev/null && grep -q "does not match the checkpoint this agent signed" "$D/agent.log"; then
	ok "the agent refuses to start on a log cut back below its last checkpoint"
else
	stack_agent_stop
	fail "log cut back below the checkpoint" "$D/agent.log"
fi
cp "$D/audit.log.good" "$D/audit.log"
sed -i '3s/"seq":3/"seq":33/' "$D/audit.log"
if ! stack_agent_start 2>/dev/null && grep -q "record 3 is missing or out of order" "$D/agent.log"; then
	ok "the agent refuses to start on a log with a record out of place, and names it"
else
	stack_agent_stop
	fail "altered log at start-up" "$D/agent.log"
fi
cp "$D/audit.log.good" "$D/audit.log"
stack_agent_start && ok "the agent starts again once the log is restored" || fail "restart on the restored log"

summary "audit: " && [ "$passed" -gt 0 ]
