#!/bin/bash
# RFC 3161 timestamps (docs/formats.md, "Timestamps") against local TSAs
# that this script starts (tests/tsa_server.py: `openssl ts -reply` behind
# HTTP): a CMS signature carries a token that `openssl cms -verify` and
# `openssl ts -verify` accept, an Authenticode image one that `osslsigncode
# verify -TSA-CAfile` accepts; the result and the audit log name it.  A TSA
# that is down, slow, answers garbage or an HTTP error, answers for another
# imprint or signs with an untrusted certificate gives timestamp.failed,
# and no file is written.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NEED_TOOLS_HINT="sh scripts/deps.sh installs them"
stack_init timestamp osslsigncode python3
PY=/usr/bin/python3
TSA_SERVER=$SRC/tests/tsa_server.py
PE_DATA=$SRC/tests/data/pe

stack_redis_start || exit 1
stack_token_init || exit 1

# One TSA per behaviour, sharing one PKI.
mkdir -p "$D/tsa"
"$PY" "$TSA_SERVER" --dir "$D/tsa" --init || { echo "cannot make the TSA's PKI"; exit 1; }
TSA_PIDS=""
on_exit 'for p in $TSA_PIDS; do kill "$p" 2>/dev/null; done'
start_tsa() {
	local mode=$1
	shift
	"$PY" "$TSA_SERVER" --dir "$D/tsa" --port-file "$D/tsa-$mode.port" --mode "$mode" "$@" \
		2>>"$D/tsa-$mode.log" &
	TSA_PIDS="$TSA_PIDS $!"
	for _ in $(seq 1 100); do
		[ -s "$D/tsa-$mode.port" ] && return 0
		sleep 0.05
	done
	echo "the $mode TSA did not start"
	exit 1
}
for m in good garbage wrong-imprint untrusted error; do start_tsa "$m"; done
start_tsa slow --delay 5
# A TSA that is down: a port that a server had, and gave back.
"$PY" "$TSA_SERVER" --dir "$D/tsa" --port-file "$D/tsa-down.port" --mode good 2>/dev/null &
down_pid=$!
for _ in $(seq 1 100); do [ -s "$D/tsa-down.port" ] && break; sleep 0.05; done
DOWN_PORT=$(cat "$D/tsa-down.port")
kill "$down_pid"
wait "$down_pid" 2>/dev/null

tsa_url() {
	if [ "$1" = down ]; then echo "http://127.0.0.1:$DOWN_PORT/"; else echo "http://127.0.0.1:$(cat "$D/tsa-$1.port")/"; fi
}

stack_submitter ci-fw ec '["ts-good","ts-garbage","ts-wrong-imprint","ts-untrusted","ts-error","ts-slow","ts-down"]'
stack_config
jq_keys=""
for m in good garbage wrong-imprint untrusted error slow down; do
	timeout=10
	[ "$m" = slow ] && timeout=2
	jq_keys="$jq_keys | .keys[\"ts-$m\"] = {\"key\": \"pkcs11:object=release\", \"mechanism\": \"ecdsa-sha256\",
	  \"certificates\": .keys.release.certificates, \"formats\": [\"cms\", \"authenticode\"],
	  \"timestamp\": {\"url\": \"$(tsa_url "$m")\", \"roots\": \"$D/tsa/tsa-root.pem\", \"timeout\": $timeout}}"
done
stack_policy_config ". ${jq_keys}"
stack_agent_start || exit 1

sj() {
	SIGNET_REDIS=unix://$D/redis.sock SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" -w 60 "$@"
}

# der_extract SIG.p7s TOKEN_OUT SIGVAL_OUT: the timeStampToken attribute's
# value and the signer's signature value, from a CMS SignedData (DER).
der_extract() {
	"$PY" - "$@" <<'PY'
import sys

def tlv(b, i):
    tag = b[i]; i += 1
    n = b[i]; i += 1
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], 'big'); i += k
    return tag, i, i + n

def children(b, start, end):
    out, i = [], start
    while i < end:
        tag, s, e = tlv(b, i)
        out.append((tag, i, s, e))
        i = e
    return out

b = open(sys.argv[1], 'rb').read()
_, s, e = tlv(b, 0)                        # ContentInfo
ci = children(b, s, e)
_, _, s, e = ci[1]                         # [0] EXPLICIT
_, s, e = tlv(b, s)                        # SignedData
sd = children(b, s, e)
_, _, s, e = sd[-1]                        # signerInfos SET
_, _, s, e = children(b, s, e)[0]          # the one SignerInfo
si = children(b, s, e)
sigval = [c for c in si if c[0] == 0x04][0]
unsigned = [c for c in si if c[0] == 0xa1][0]
open(sys.argv[3], 'wb').write(b[sigval[2]:sigval[3]])
oid = bytes.fromhex('060b2a864886f70d010910020e')
for tag, i, s, e in children(b, unsigned[2], unsigned[3]):
    attr = children(b, s, e)
    if b[attr[0][1]:attr[0][3]] == oid:
        _, _, vs, ve = attr[1]             # SET OF values
        t = children(b, vs, ve)[0]
        open(sys.argv[2], 'wb').write(b[t[1]:t[3]])
        sys.exit(0)
sys.exit("no timeStampToken attribute")
PY
}

# --- a TSA that answers as it should ---------------------------------------
printf 'firmware with a timestamp\n' > "$D/fw.bin"
if sj -k ts-good -f cms --json -o "$D/fw.p7s" "$D/fw.bin" > "$D/good.json" 2>"$D/good.err" &&
	openssl cms -verify -binary -inform DER -in "$D/fw.p7s" -content "$D/fw.bin" \
		-CAfile "$D/root.pem" -purpose any -out /dev/null > "$D/cv.out" 2>&1; then
	ok "cms with a timestamp: $(cat "$D/cv.out")"
else
	fail "cms with a timestamp" "$D/good.err"
fi
if der_extract "$D/fw.p7s" "$D/token.der" "$D/sigval.bin" 2>"$D/x.err" &&
	openssl ts -verify -in "$D/token.der" -token_in -data "$D/sigval.bin" \
		-CAfile "$D/tsa/tsa-root.pem" > "$D/tsv.out" 2>&1 && grep -q '^Verification: OK' "$D/tsv.out"; then
	ok "the token in id-aa-timeStampToken, over the signature value: openssl ts -verify: $(grep '^Verification' "$D/tsv.out")"
else
	fail "openssl ts -verify of the CMS token" "$D/tsv.out"
	cat "$D/x.err"
fi
ts_time=$(jq -r '.timestamp.time // empty' "$D/good.json")
ts_tsa=$(jq -r '.timestamp.tsa // empty' "$D/good.json")
if [ -n "$ts_time" ] && [ -n "$ts_tsa" ] &&
	grep -q "\"event\":\"signature\".*\"timestamp\":\"$ts_time\",\"tsa\":\"$ts_tsa\"" "$D/audit.log"; then
	ok "the result says \"timestamp\": {\"time\": \"$ts_time\", \"tsa\": \"$ts_tsa\"}, and the audit log's signature record names it"
else
	fail "timestamp in the result and the audit log" "$D/good.json"
fi
if openssl ts -reply -in "$D/token.der" -token_in -token_out -text 2>/dev/null |
	grep -q 'Hash Algorithm: sha256'; then
	ok "the token's message imprint is SHA-256"
else
	fail "the token's imprint algorithm"
fi

# Authenticode: the RFC 3161 countersignature.
if sj -k ts-good -f authenticode -o "$D/tiny64-ts.efi" "$PE_DATA/tiny64.efi" > "$D/ac.out" 2>&1 &&
	osslsigncode verify -CAfile "$D/root.pem" -TSA-CAfile "$D/tsa/tsa-root.pem" \
		-in "$D/tiny64-ts.efi" > "$D/acv.out" 2>&1 &&
	grep -q '^Succeeded' "$D/acv.out" && grep -qi 'timestamp' "$D/acv.out"; then
	ok "authenticode with a timestamp: osslsigncode verify -TSA-CAfile: $(grep -i -m1 'timestamp verified\|Timestamp time' "$D/acv.out" | tr -s ' \t' ' ') ... Succeeded"
else
	fail "authenticode with a timestamp" "$D/acv.out"
	cat "$D/ac.out"
fi

# --- TSAs that fail: timestamp.failed, nothing written -----------------------
for m in down garbage wrong-imprint untrusted error slow; do
	rm -f "$D/bad.p7s"
	start=$(date +%s)
	sj -k "ts-$m" -f cms -o "$D/bad.p7s" "$D/fw.bin" > "$D/bad-$m.out" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	if [ "$rc" = 1 ] && [ ! -e "$D/bad.p7s" ] && grep -q 'failed timestamp.failed' "$D/bad-$m.out"; then
		ok "TSA $m: exit 1, nothing written, ${took}s: $(grep -o 'timestamp.failed.*' "$D/bad-$m.out" | head -1 | cut -c1-160)"
	else
		fail "TSA $m (exit $rc)" "$D/bad-$m.out"
	fi
done
withheld=$(grep -c '"event":"signature".*"code":"timestamp.failed"' "$D/audit.log")
if [ "$withheld" = 6 ]; then
	ok "the six withheld signatures are each recorded in the audit log with code timestamp.failed"
else
	fail "withheld signatures in the audit log: $withheld"
fi
if [ -z "$(find "$D/store" -path '*ts-[dgwuse]*' -name '*.p7s' ! -path '*ts-good*' 2>/dev/null)" ]; then
	ok "the store holds no signature of a failed job"
else
	fail "a withheld signature reached the store"
fi
rm -f "$D/bad.efi"
sj -k ts-untrusted -f authenticode -o "$D/bad.efi" "$PE_DATA/tiny64.efi" > "$D/bad-ac.out" 2>&1
if [ $? = 1 ] && [ ! -e "$D/bad.efi" ] && grep -q 'timestamp.failed' "$D/bad-ac.out"; then
	ok "authenticode with an untrusted TSA: timestamp.failed, the image not written"
else
	fail "authenticode with an untrusted TSA" "$D/bad-ac.out"
fi

# A redelivery of a job whose signature was withheld: the same answer, no
# second signature (docs/formats.md, "Timestamps").
stack_agent_stop
printf 'redelivered\n' > "$D/rd.bin"
run_sj rd -k ts-down -f cms -w 15 -i "$D/ci-fw.key" -o "$D/rd.p7s" "$D/rd.bin" &
rd_pid=$!
wait_stream 1
{ read -r _; read -r rd_env; } < <(stream_find .artifact.name rd.bin)
printf '%s' "$rd_env" > "$D/rd.env"
rd_id=$(printf '%s' "$rd_env" | jq -r .payload | base64 -d | jq -r .id)
stack_agent_start || exit 1
wait "$rd_pid"
rc_ -x XADD signet:jobs '*' env < "$D/rd.env" >/dev/null
for _ in $(seq 1 200); do
	[ "$(grep -c "\"event\":\"failed\",\"id\":\"$rd_id\"" "$D/audit.log")" -ge 2 ] && break
	sleep 0.05
done
decisions=$(grep -c "\"event\":\"failed\",\"id\":\"$rd_id\".*\"code\":\"timestamp.failed\"" "$D/audit.log")
sigs=$(grep -c "\"event\":\"signature\",\"id\":\"$rd_id\"" "$D/audit.log")
if [ "$(rc rd)" = 1 ] && [ "$decisions" = 2 ] && [ "$sigs" = 1 ] &&
	[ "$(result "$rd_id" | jq -r .error.code)" = timestamp.failed ]; then
	ok "the same job delivered again: timestamp.failed again, still one signature record (the HSM was not asked twice)"
else
	fail "redelivery of a withheld job (rc $(rc rd), $decisions decisions, $sigs signatures)" "$D/rd.err"
fi

stack_agent_stop
if "$ADMIN" audit verify "$D/audit.log" --signer-journal "$D/audit.log.signer" > "$D/av.out" 2>&1; then
	ok "signet-admin audit verify: the log and the signer's journal agree ($(grep -o 'signer journal.*' "$D/av.out" | head -1 | cut -c1-100))"
else
	fail "audit verify" "$D/av.out"
fi
[ ! -s "$D/agent.failures" ] || fail "the agent exited with status $(cat "$D/agent.failures")" "$D/agent.log"
summary
