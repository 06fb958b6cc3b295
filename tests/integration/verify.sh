#!/bin/bash
# signet-verify against a real stack (redis-server on a unix socket,
# SoftHSM, signet-agent): genuine raw and cms results verify; every forgery
# is refused with its exit status and its line.  Forgeries that need a valid
# attestation (edited audit members) are re-signed with a test key that is
# then given as --agent-pubkey: the DSSE re-signer below uses openssl and jq.
# The checkpoint assertions run when the agent publishes checkpoints under
# <store>/audit/checkpoints/ (and say SKIP while it does not).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init verify base64 sha256sum

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
stack_config
stack_agent_start || exit 1

RESULT_TYPE=application/vnd.signet.result+json

# sj NAME ARGS...: submit-job with the stack's settings and --json; the
# result payload in $D/NAME.json.
sj() {
	local n=$1
	shift
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub \
		"$SUBMIT_JOB" --json -i "$D/ci-fw.key" "$@" >"$D/$n.json" 2>"$D/$n.sj.err"
}
# stored NAME: the result envelope the agent stored for the job of NAME.
stored() {
	echo "$D/store/$(jq -r .key "$D/$1.json")/$(jq -r .id "$D/$1.json")/result.json"
}

# sv NAME ARGS...: signet-verify; status in $D/NAME.rc, output in NAME.out/.err
sv() {
	local n=$1
	shift
	"$SIGNET_VERIFY" "$@" >"$D/$n.out" 2>"$D/$n.err"
	echo $? > "$D/$n.rc"
}
# expect NAME STATUS [PATTERN [STREAM]]: the status, and PATTERN (grep -E)
# on stderr (or on stdout with STREAM out).
expect() {
	local n=$1 want=$2 pat=${3:-} stream=${4:-err} got
	got=$(cat "$D/$n.rc")
	if [ "$got" != "$want" ]; then
		fail "$n: exit $got, expected $want" "$D/$n.err"
		return
	fi
	if [ -n "$pat" ] && ! grep -Eq -- "$pat" "$D/$n.$stream"; then
		fail "$n: exit $want but no line matching /$pat/ on std$stream" "$D/$n.$stream"
		return
	fi
	ok "$n: exit $want${pat:+ with /$pat/}"
}

# resign IN OUT KEY [JQ]: the envelope IN with its payload passed through the
# jq filter JQ (compact output), signed anew with KEY (EC P-256, PEM).
resign() {
	local in=$1 out=$2 key=$3 filter=${4:-.} keyid len
	jq -r .payload "$in" | base64 -d > "$D/rs.payload" || return 1
	jq -j -c "$filter" "$D/rs.payload" > "$D/rs.new" || return 1
	len=$(wc -c < "$D/rs.new")
	{ printf 'DSSEv1 %d %s %d ' ${#RESULT_TYPE} "$RESULT_TYPE" "$len"; cat "$D/rs.new"; } > "$D/rs.pae"
	openssl dgst -sha256 -sign "$key" -out "$D/rs.sig" "$D/rs.pae" || return 1
	keyid=sha256:$(openssl pkey -in "$key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
	jq -n -c --arg t "$RESULT_TYPE" --arg p "$(base64 -w0 "$D/rs.new")" --arg k "$keyid" \
		--arg s "$(base64 -w0 "$D/rs.sig")" \
		'{payloadType: $t, payload: $p, signatures: [{keyid: $k, sig: $s}]}' > "$out"
}

# A test key standing in for the agent's, and another root CA.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/test.key" 2>/dev/null
openssl pkey -in "$D/test.key" -pubout -out "$D/test.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/other-root.key" 2>/dev/null
openssl req -new -x509 -key "$D/other-root.key" -subj "/O=signet test/CN=another root" -days 30 \
	-out "$D/other-root.pem" 2>/dev/null

head -c 300000 /dev/urandom > "$D/fw.bin"
printf 'release notes\n' > "$D/notes.txt"

# A few jobs first, so that the records of interest have non-empty proofs.
sj warm1 -k release -f raw -o "$D/warm1.sig" "$D/notes.txt"
sj warm2 -k release -f raw -o "$D/warm2.sig" "$D/notes.txt"
sj cms -k release -f cms "$D/fw.bin" || { fail "submit-job cms" "$D/cms.sj.err"; exit 1; }
sj raw -k release-rsa -f raw -o "$D/fw.pss.sig" "$D/fw.bin" || { fail "submit-job raw" "$D/raw.sj.err"; exit 1; }
sj raw2 -k release -f raw -o "$D/fw.ec.sig" "$D/fw.bin" || { fail "submit-job raw2" "$D/raw2.sj.err"; exit 1; }
sj raw3 -k release -f raw -o "$D/fw.ec2.sig" "$D/fw.bin" || { fail "submit-job raw3" "$D/raw3.sj.err"; exit 1; }
CMS_RES=$(stored cms)
RAW_RES=$(stored raw)
RAW2_RES=$(stored raw2)
for f in "$CMS_RES" "$RAW_RES" "$RAW2_RES"; do
	[ -f "$f" ] || { fail "no stored result at $f"; exit 1; }
done
SEQ=$(jq -r .audit.seq "$D/cms.json")
common=(-a "$D/agent.pub" -C "$D/root.pem")

# --- genuine results -------------------------------------------------------

sv cms-ok "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" "$D/fw.bin"
expect cms-ok 0 "^signet-verify: $D/fw.bin: OK, signed by release for ci-fw at [0-9T:-]+Z, audit record $SEQ of [0-9]+$" out
[ ! -s "$D/cms-ok.err" ] || fail "cms-ok: unexpected stderr" "$D/cms-ok.err"

sv raw-ok "${common[@]}" -r "$RAW_RES" -s "$D/fw.pss.sig" "$D/fw.bin"
expect raw-ok 0 "OK, signed by release-rsa for ci-fw" out
sv raw-ec-ok "${common[@]}" -r "$RAW2_RES" -s "$D/fw.ec.sig" "$D/fw.bin"
expect raw-ec-ok 0 "OK, signed by release for ci-fw" out

# Default signature file (ARTIFACT.p7s), key from the environment, quiet.
SIGNET_AGENT_PUBKEY=$D/agent.pub sv default-sig -C "$D/root.pem" -r "$CMS_RES" -q "$D/fw.bin"
expect default-sig 0
[ ! -s "$D/default-sig.out" ] || fail "-q still printed" "$D/default-sig.out"

# The re-signer itself: the genuine payload under the test key verifies
# with that key (so the refusals below are the edits', not the tool's).
resign "$CMS_RES" "$D/resigned.json" "$D/test.key"
sv resign-ok -a "$D/test.pub" -C "$D/root.pem" -r "$D/resigned.json" -s "$D/fw.bin.p7s" "$D/fw.bin"
expect resign-ok 0 "OK, signed by release" out

# --- forgeries -------------------------------------------------------------

# The artifact changed: exit 1.
cp "$D/fw.bin" "$D/fw-changed.bin"
printf 'x' >> "$D/fw-changed.bin"
sv changed "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" "$D/fw-changed.bin"
expect changed 1 "^signet-verify: signature: .*fw-changed.bin is not the signed artifact"

# A CMS whose signed attributes are intact (the messageDigest is the
# artifact's) but whose signature value has its last byte changed, carried
# by a result re-signed with the test key: the signer's signature must be
# checked, not only the attribute.  Exit 1.
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[2], "wb").write(b)' \
	"$D/fw.bin.p7s" "$D/fw-badsig.p7s"
resign "$CMS_RES" "$D/badsig.json" "$D/test.key" ".signature = \"$(base64 -w0 "$D/fw-badsig.p7s")\""
sv cms-badsig -a "$D/test.pub" -C "$D/root.pem" -r "$D/badsig.json" -s "$D/fw-badsig.p7s" "$D/fw.bin"
expect cms-badsig 1 "^signet-verify: signature: .*the CMS signature does not verify over the artifact"

# Another job's (valid) signature over the same artifact: not the attested one.
sv swapped "${common[@]}" -r "$RAW2_RES" -s "$D/fw.ec2.sig" "$D/fw.bin"
expect swapped 4 "^signet-verify: attestation: the signature file is not the signature the agent attested"
if grep -q "^signet-verify: audit: .*signature_sha256" "$D/swapped.err" &&
	! grep -q "^signet-verify: signature:" "$D/swapped.err"; then
	ok "swapped: the audit record's signature digest is reported too (the signature itself is valid)"
else
	fail "swapped: expected an audit line and no signature line" "$D/swapped.err"
fi

# The payload edited, the agent's signature kept: exit 4.
jq -r .payload "$CMS_RES" | base64 -d | jq -j -c '.submitter = "someone-else"' > "$D/edited.payload"
jq -c --arg p "$(base64 -w0 "$D/edited.payload")" '.payload = $p' "$CMS_RES" > "$D/edited.json"
sv edited "${common[@]}" -r "$D/edited.json" -s "$D/fw.bin.p7s" "$D/fw.bin"
expect edited 4 "^signet-verify: attestation: the result is not signed by the agent key sha256:[0-9a-f]{64}$"

# Signed by another key: exit 4.
sv other-key "${common[@]}" -r "$D/resigned.json" -s "$D/fw.bin.p7s" "$D/fw.bin"
expect other-key 4 "^signet-verify: attestation: the result is not signed by the agent key"

# Not an envelope at all: exit 4.
printf '{"v": 1}' > "$D/garbage.json"
sv garbage "${common[@]}" -r "$D/garbage.json" -s "$D/fw.bin.p7s" "$D/fw.bin"
expect garbage 4 "^signet-verify: attestation: the result file is not a DSSE envelope$"

# Another trust anchor: exit 3.
sv wrong-ca -a "$D/agent.pub" -C "$D/other-root.pem" -r "$CMS_RES" -s "$D/fw.bin.p7s" "$D/fw.bin"
expect wrong-ca 3 "^signet-verify: chain: the signing certificate does not chain to the trust anchors"

# Edited audit members, re-signed with the test key: exit 5.
# audit_forgery NAME JQ PATTERN
audit_forgery() {
	resign "$CMS_RES" "$D/$1.json" "$D/test.key" "$2" || { fail "$1: re-signing failed"; return; }
	sv "$1" -a "$D/test.pub" -C "$D/root.pem" -r "$D/$1.json" -s "$D/fw.bin.p7s" "$D/fw.bin"
	expect "$1" 5 "$3"
}
if [ "$(jq '.audit.proof | length' "$D/cms.json")" -gt 0 ]; then
	audit_forgery proof-altered '.audit.proof[0] |= (.[0:63] + (if .[63:] == "0" then "1" else "0" end))' \
		"^signet-verify: audit: the inclusion proof of record $SEQ in the tree of [0-9]+ records does not lead to its root$"
else
	fail "the cms result's audit proof is empty (record $SEQ): nothing to alter"
fi
audit_forgery root-altered '.audit.root |= (.[0:63] + (if .[63:] == "0" then "1" else "0" end))' \
	"^signet-verify: audit: the inclusion proof of record $SEQ"
# A tree size that makes the leaf the last one, or no longer the last one
# (any other change may leave the shape around the leaf, and so the proof,
# the same: the log check catches those).
audit_forgery tree-size '.audit.tree_size = (if .audit.tree_size > .audit.index + 1
	then .audit.index + 1 else .audit.tree_size + 1 end)' \
	"^signet-verify: audit: the inclusion proof of record $SEQ in the tree of [0-9]+ records"
audit_forgery hash-altered '.audit.hash |= (.[0:63] + (if .[63:] == "0" then "1" else "0" end))' \
	"^signet-verify: audit: the audit record's leaf hash is [0-9a-f]{64}, the result's hash [0-9a-f]{64}$"
audit_forgery record-time '.audit.record |= (fromjson | .time = "2000-01-01T00:00:00Z" | tojson)' \
	"^signet-verify: audit: the audit record's leaf hash is"
audit_forgery record-digest '.audit.record |= (fromjson | .sha256 = ("0" * 64) | tojson)' \
	"^signet-verify: audit: the audit record names another artifact digest$"
audit_forgery record-event '.audit.record |= (fromjson | .event = "rejected" | tojson)' \
	"^signet-verify: audit: the audit record is not a \"signed\" decision$"
audit_forgery record-id '.audit.record |= (fromjson | .id = ("0" * 32) | tojson)' \
	"^signet-verify: audit: the audit record is for another job id$"
audit_forgery record-seq '.audit.record |= (fromjson | .seq += 1 | tojson)' \
	"^signet-verify: audit: the audit record's seq is not the result's$"
audit_forgery no-proof '.audit |= {seq, hash}' \
	"^signet-verify: audit: the result carries no audit inclusion proof"

# --- usage -----------------------------------------------------------------

sv usage-none
expect usage-none 2 "missing ARTIFACT"
sv usage-no-result -a "$D/agent.pub" -C "$D/root.pem" "$D/fw.bin"
expect usage-no-result 2 "missing --result"
SIGNET_AGENT_PUBKEY='' sv usage-no-key -C "$D/root.pem" -r "$CMS_RES" "$D/fw.bin"
expect usage-no-key 2 "missing --agent-pubkey"
sv usage-no-ca -a "$D/agent.pub" -r "$CMS_RES" "$D/fw.bin"
expect usage-no-ca 2 "missing --ca-file"
sv usage-option "${common[@]}" -r "$CMS_RES" --bogus "$D/fw.bin"
expect usage-option 2 "unknown option --bogus"
sv usage-missing "${common[@]}" -r "$CMS_RES" "$D/nonexistent.bin"
expect usage-missing 2 "cannot open $D/nonexistent.bin"
sv usage-no-sig "${common[@]}" -r "$CMS_RES" "$D/notes.txt"
expect usage-no-sig 2 "cannot read signature file $D/notes.txt.sig"
sv usage-bad-pem -a "$D/notes.txt" -C "$D/root.pem" -r "$CMS_RES" "$D/fw.bin"
expect usage-bad-pem 2 "cannot load agent public key"
sv usage-bad-ca -a "$D/agent.pub" -C "$D/notes.txt" -r "$CMS_RES" "$D/fw.bin"
expect usage-bad-ca 2 "cannot load trust anchors"
sv usage-cp-alone "${common[@]}" -r "$CMS_RES" --checkpoint "$D/notes.txt" "$D/fw.bin"
expect usage-cp-alone 2 "--checkpoint needs --log"
sv usage-help --help
expect usage-help 0 "^usage: signet-verify" out

# --- checkpoints -----------------------------------------------------------

# The agent publishes a checkpoint at shutdown (and on its interval): stop
# it, so that the latest one covers every record above.
stack_agent_stop
CPDIR=$D/store/audit/checkpoints
if [ ! -d "$CPDIR" ]; then
	echo "SKIP - checkpoint assertions: the agent publishes no checkpoints ($CPDIR does not exist)"
else
	cp "$CPDIR/latest" "$D/cp.latest" 2>/dev/null
	cp_size=$(sed -n 2p "$D/cp.latest" 2>/dev/null)
	[ "${cp_size:-0}" -ge "$SEQ" ] 2>/dev/null ||
		fail "the latest checkpoint (size '${cp_size:-}') does not cover record $SEQ after shutdown"
	# The published pieces, in the order of their first index, are the log.
	: > "$D/pieces.log"
	for f in $(ls "$D/store/audit/records" 2>/dev/null | sort -n); do
		cat "$D/store/audit/records/$f" >> "$D/pieces.log"
	done

	sv cp-ok "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" --checkpoint "$D/cp.latest" \
		--log "$D/audit.log" "$D/fw.bin"
	expect cp-ok 0 "OK, signed by release for ci-fw at .*, audit record $SEQ of [0-9]+, in checkpoint $cp_size$" out
	if [ -s "$D/pieces.log" ]; then
		sv cp-pieces "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" --checkpoint "$D/cp.latest" \
			--log "$D/pieces.log" "$D/fw.bin"
		expect cp-pieces 0 "in checkpoint $cp_size$" out
	else
		fail "no published record pieces under $D/store/audit/records"
	fi
	origin=$(sed -n 1p "$D/cp.latest")
	sv cp-origin "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" --checkpoint "$D/cp.latest" \
		--log "$D/audit.log" --origin "$origin" "$D/fw.bin"
	expect cp-origin 0 "in checkpoint" out
	sv cp-wrong-origin "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" --checkpoint "$D/cp.latest" \
		--log "$D/audit.log" --origin "not-$origin" "$D/fw.bin"
	expect cp-wrong-origin 6 "^signet-verify: checkpoint: .* is not a valid checkpoint of origin not-"

	# One record of the log altered (the first one: every root after it changes).
	sed '1s/"time":"[^"]*"/"time":"2000-01-01T00:00:00Z"/' "$D/audit.log" > "$D/altered.log"
	if cmp -s "$D/audit.log" "$D/altered.log"; then
		fail "could not alter the first record of the log"
	else
		sv cp-log-altered "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" \
			--checkpoint "$D/cp.latest" --log "$D/altered.log" "$D/fw.bin"
		expect cp-log-altered 6 "^signet-verify: checkpoint: the log .* is not well formed at record [0-9]+ \\(line [0-9]+\\)"
	fi
	# A log cut before the record.
	head -n $((SEQ - 1)) "$D/audit.log" > "$D/short.log"
	sv cp-log-short "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" \
		--checkpoint "$D/cp.latest" --log "$D/short.log" "$D/fw.bin"
	expect cp-log-short 6 "^signet-verify: checkpoint: the log holds $((SEQ - 1)) records"

	# The same checkpoint signed by the test key (a valid note, another key).
	head -n 3 "$D/cp.latest" > "$D/cp.body"
	openssl dgst -sha256 -sign "$D/test.key" -out "$D/cp.sig" "$D/cp.body"
	# key ID = SHA-256(name || "\n" || 0xFF || "signet-checkpoint-v1" || SPKI)[:4]
	{ printf '%s\n\377signet-checkpoint-v1' "$origin"; openssl pkey -in "$D/test.key" -pubout -outform DER; } |
		openssl dgst -sha256 -binary | head -c 4 > "$D/cp.keyid"
	{
		cat "$D/cp.body"
		printf '\n\342\200\224 %s %s\n' "$origin" "$(cat "$D/cp.keyid" "$D/cp.sig" | base64 -w0)"
	} > "$D/cp.forged"
	sv cp-other-key "${common[@]}" -r "$CMS_RES" -s "$D/fw.bin.p7s" --checkpoint "$D/cp.forged" \
		--log "$D/audit.log" "$D/fw.bin"
	expect cp-other-key 6 "^signet-verify: checkpoint: .*cp.forged is not signed by the agent key$"
	# ... which the test key itself accepts, with the result re-signed by it
	# too (so the forged note is well formed and refused for its key alone).
	sv cp-test-key -a "$D/test.pub" -C "$D/root.pem" -r "$D/resigned.json" -s "$D/fw.bin.p7s" \
		--checkpoint "$D/cp.forged" --log "$D/audit.log" "$D/fw.bin"
	expect cp-test-key 0 "in checkpoint $cp_size$" out
fi

if [ ! -e "$D/agent.failures" ]; then
	ok "every signet-agent run exited 0 on SIGTERM"
else
	fail "signet-agent exit statuses: $(tr '\n' ' ' < "$D/agent.failures")" "$D/agent.log"
fi

summary
