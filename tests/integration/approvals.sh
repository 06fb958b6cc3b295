#!/bin/bash
# The two-person rule (docs/approvals.md) against a real redis-server,
# SoftHSM token and signet-agent: jobs of a key with approvals wait until
# enough approvers other than their submitter approve; a denial or expiry
# rejects them; approvals that must not count do not; pending jobs survive
# a restart and the death of their agent; webhooks hear of them; and
# signet-approve shows what an approver must judge.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init approvals python3
SA=${SIGNET_APPROVE:-$SIGNET_BUILD/submitter/signet-approve}
RECV_PIDS=""
on_exit 'for p in $RECV_PIDS; do kill "$p" 2>/dev/null; done'

stack_redis_start || exit 1
stack_token_init || exit 1
# ci-fw submits and may also approve (never its own jobs); ed and jo
# approve; mallory is known but no approver of release; ci-other signs
# for nobody here.
stack_submitter ci-fw ec '["release","release-rsa"]'
stack_submitter ed ec '[]'
stack_submitter jo ec '[]'
stack_submitter mallory ec '[]'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/stranger.key" 2>/dev/null

# A webhook receiver for the approval events, in the Slack body format.
( umask 077; printf 'secret-chat\n' > "$D/chat.secret" )
mkdir -p "$D/hooks-chat"
python3 "$SRC/tests/webhook_receiver.py" --port-file "$D/chat.port" --out "$D/hooks-chat" \
	--secret-file "$D/chat.secret" 2>>"$D/receiver.log" &
RECV_PIDS="$RECV_PIDS $!"
for _ in $(seq 1 100); do [ -s "$D/chat.port" ] && break; sleep 0.05; done
( umask 077; printf 'secret-json\n' > "$D/json.secret" )
mkdir -p "$D/hooks-json"
python3 "$SRC/tests/webhook_receiver.py" --port-file "$D/json.port" --out "$D/hooks-json" \
	--secret-file "$D/json.secret" 2>>"$D/receiver.log" &
RECV_PIDS="$RECV_PIDS $!"
for _ in $(seq 1 100); do [ -s "$D/json.port" ] && break; sleep 0.05; done

STACK_EXTRA='"reclaim_after": 3,'
stack_config
stack_policy_config "
  .webhooks = [{name: \"chat\", format: \"slack\", url: \"http://127.0.0.1:$(cat "$D/chat.port")/chat\",
                secret_file: \"$D/chat.secret\", events: [\"approval.requested\", \"approval.decided\"]},
               {name: \"audit-feed\", url: \"http://127.0.0.1:$(cat "$D/json.port")/feed\",
                secret_file: \"$D/json.secret\", events: [\"approval.requested\"]}] |
  .keys.release += {max_job_lifetime: 3600,
                    approvals: {required: 2, approvers: [\"ci-fw\", \"ed\", \"jo\"],
                                notify: [\"chat\", \"audit-feed\"]}}"
cp "$D/agent.json" "$D/agent.good.json"

# --- the policy: approvals that can never be met are refused --------------------
bad_policy() { # WHAT JQ PATTERN
	stack_policy_config "$2" "$D/bad.json"
	if ! "$ADMIN" policy check "$D/bad.json" >"$D/bad.out" 2>&1 && grep -q -- "$3" "$D/bad.out"; then
		ok "policy check refuses $1"
	else
		fail "policy check should refuse $1" "$D/bad.out"
	fi
}
bad_policy "more approvals than approvers besides a submitter" \
	'.keys.release.approvals += {required: 3}' "can never have 3 approvals"
bad_policy "an approver the policy does not know" \
	'.keys.release.approvals.approvers += ["nobody"]' '"nobody" is no identity the policy knows'
bad_policy "a notify name no webhook has" \
	'.keys.release.approvals.notify = ["pager"]' 'no webhook is named "pager"'
bad_policy "a lifetime that leaves no time to approve" \
	'.keys.release.max_job_lifetime = 120' "leaves no time to approve"
if "$ADMIN" policy check "$D/agent.json" >"$D/good.out" 2>&1; then
	ok "policy check accepts the approvals policy"
else
	fail "policy check on the approvals policy" "$D/good.out"
fi

stack_agent_start || exit 1
head -c 65536 /dev/urandom > "$D/fw.bin"

export GITLAB_CI=true CI_PROJECT_PATH=group/firmware CI_COMMIT_REF_NAME=main CI_PIPELINE_ID=77 \
	CI_JOB_ID=991 CI_JOB_URL=https://gitlab.example/group/firmware/-/jobs/991
# sa ID WHO ARGS...: signet-approve as WHO; output in $D/ID.out/.err, status in $D/ID.rc.
sa() {
	local id=$1 who=$2
	shift 2
	SIGNET_REDIS=$SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub SIGNET_IDENTITY=$D/$who.key \
		"$SA" "$@" >"$D/$id.out" 2>"$D/$id.err" </dev/null
	echo $? > "$D/$id.rc"
}
# submit ID [ARGS...]: submit-job of fw.bin with key release in the background.
submit() {
	local id=$1
	shift
	SIGNET_IDENTITY=$D/ci-fw.key bg_sj "$id" -k release -f cms --json -w 120 --lifetime 1800 \
		-o "$D/$id.p7s" "$@" "$D/fw.bin"
}
# pending_id NAME: the id of the job whose pending result names artifact NAME (10 s).
pending_id() {
	local i k
	for _ in $(seq 1 200); do
		for k in $(rc_ --raw KEYS 'signet:result:*'); do
			i=${k#signet:result:}
			if [ "$(result "$i" | jq -r 'select(.status == "pending") | .artifact.name')" = "$1" ]; then
				echo "$i"
				return 0
			fi
		done
		sleep 0.05
	done
	return 1
}
received() { result "$1" | jq -r '[.approvals.received[]?.approver] | join(",")'; }
audit_has() { # ID JQ-FILTER: an audit record of job ID matches
	jq -c --arg i "$1" "select(.id == \$i) | select($2)" "$D/audit.log" | grep -q .
}
# approval_env KEY ID SHA DECISION: an approval envelope signed with KEY (by hand).
approval_env() {
	local t=application/vnd.signet.approval+json payload keyid
	payload=$(printf '{"v":1,"id":"%s","job_sha256":"%s","decision":"%s","created":"%s"}' \
		"$2" "$3" "$4" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
	printf 'DSSEv1 %d %s %d %s' ${#t} "$t" ${#payload} "$payload" > "$D/pae"
	openssl dgst -sha256 -sign "$1" -out "$D/pae.sig" "$D/pae"
	keyid=sha256:$(openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -d' ' -f1)
	jq -cn --arg t "$t" --arg p "$(printf %s "$payload" | base64 -w0)" --arg k "$keyid" \
		--arg s "$(base64 -w0 < "$D/pae.sig")" '{payloadType: $t, payload: $p, signatures: [{keyid: $k, sig: $s}]}'
}
push_approval() { # ENVELOPE: push it and wait until the agent recorded it
	local before
	before=$(grep -c '"event":"approval"' "$D/audit.log")
	rc_ XADD signet:jobs '*' env "$1" >/dev/null
	for _ in $(seq 1 200); do
		[ "$(grep -c '"event":"approval"' "$D/audit.log")" -gt "$before" ] && return 0
		sleep 0.05
	done
	return 1
}

# --- two approvals sign ---------------------------------------------------------
cp "$D/fw.bin" "$D/a.bin"
SIGNET_IDENTITY=$D/ci-fw.key bg_sj two -k release -f cms --json -w 120 --lifetime 1800 \
	-o "$D/two.p7s" "$D/a.bin"
if A=$(pending_id a.bin); then
	ok "a job of a key with approvals is pending, not signed"
else
	fail "no pending result for a.bin" "$D/agent.log"
	A=none
fi
sha_a=$(result "$A" | jq -r .job_sha256)
if result "$A" | jq -e '.approvals.required == 2 and (.approvals.received | length) == 0 and
	.submitter == "ci-fw" and .key == "release" and .ci.url == "https://gitlab.example/group/firmware/-/jobs/991" and
	(.expires | length) == 20 and (.entry | test("^[0-9]+-[0-9]+$")) and
	.approvals.notified == ["chat", "audit-feed"]' >/dev/null; then
	ok "the pending result carries what an approver must see (submitter, key, ci, expires, 0 of 2, notified)"
else
	fail "pending result: $(result "$A")"
fi
if audit_has "$A" '.event == "pending" and .approvals_required == 2' &&
	! audit_has "$A" '.event == "intent" or .event == "signature"'; then
	ok "the audit log has a pending record and no intent or signature"
else
	fail "audit records of the pending job" "$D/audit.log"
fi

sa list ed list
if [ "$(rc list)" = 0 ] && grep -q "$A" "$D/list.out" && grep -q "approvals 0/2" "$D/list.out" &&
	grep -q "https://gitlab.example/group/firmware/-/jobs/991" "$D/list.out"; then
	ok "signet-approve list shows the job: $(grep "$A" "$D/list.out" | tr -s ' ' | cut -c1-120)"
else
	fail "signet-approve list" "$D/list.out"
fi
sa show ed show "$A"
if [ "$(rc show)" = 0 ] && grep -q "ci-fw" "$D/show.out" && grep -q "a.bin" "$D/show.out" &&
	grep -q "$(sha256sum "$D/a.bin" | cut -d' ' -f1)" "$D/show.out" &&
	grep -q "https://gitlab.example/group/firmware/-/jobs/991" "$D/show.out" &&
	grep -q "0 of 2" "$D/show.out"; then
	ok "signet-approve show prints submitter, artifact, digest, pipeline URL and 0 of 2"
else
	fail "signet-approve show" "$D/show.out"
fi

sa own ci-fw approve "$A" --yes -w 20
if [ "$(rc own)" = 1 ] && grep -q "cannot approve" "$D/own.err" && [ -z "$(received "$A")" ]; then
	ok "the submitter's own approval is refused: $(grep -o 'ci-fw submitted[^"]*' "$D/own.err" | head -1)"
else
	fail "the submitter's approval (rc $(rc own))" "$D/own.err"
fi
sa mal mallory approve "$A" --yes -w 20
if [ "$(rc mal)" = 1 ] && grep -q "not an approver" "$D/mal.err" && [ -z "$(received "$A")" ]; then
	ok "an approval by a known identity that is no approver is refused"
else
	fail "mallory's approval (rc $(rc mal))" "$D/mal.err"
fi
sa str stranger approve "$A" --yes -w 3
if [ "$(rc str)" = 3 ] && [ -z "$(received "$A")" ] &&
	jq -c 'select(.event == "approval" and (.ignored // "" | test("no identity has keyid")))' "$D/audit.log" | grep -q .; then
	ok "an approval by an unknown key has no effect (signet-approve times out, exit 3; audit: ignored)"
else
	fail "the stranger's approval (rc $(rc str))" "$D/str.err"
fi
push_approval "$(approval_env "$D/ed.key" "$A" "$(printf '%064d' 0)" approve)"
push_approval "$(approval_env "$D/ed.key" "0123456789abcdef0123456789abcdef" "$sha_a" approve)"
if [ -z "$(received "$A")" ] &&
	jq -c 'select(.event == "approval" and (.ignored // "" | test("another job_sha256")))' "$D/audit.log" | grep -q . &&
	jq -c 'select(.event == "approval" and (.ignored // "" | test("no pending job")))' "$D/audit.log" | grep -q .; then
	ok "approvals for another job_sha256 and for an unknown id have no effect"
else
	fail "wrong-job approvals: received $(received "$A")" "$D/audit.log"
fi

sa ed1 ed approve "$A" --yes --comment "checked the tag" -w 20
if [ "$(rc ed1)" = 0 ] && [ "$(received "$A")" = ed ]; then
	ok "an approver's approval is counted: $(grep -h "counted" "$D/ed1.out" "$D/ed1.err" | head -1)"
else
	fail "ed's approval (rc $(rc ed1))" "$D/ed1.err"
fi
ed_env=$(approval_env "$D/ed.key" "$A" "$sha_a" approve)
push_approval "$ed_env"
if [ "$(received "$A")" = ed ] && result "$A" | jq -e '.status == "pending"' >/dev/null; then
	ok "the same approver twice counts once (still 1 of 2, pending)"
else
	fail "ed twice: received $(received "$A")"
fi
sa jo1 jo approve "$A" --yes -w 20
bg_wait
if [ "$(rc jo1)" = 0 ] && [ "$(rc two)" = 0 ] && [ "$(jq -r .status "$D/two.out")" = signed ] &&
	openssl cms -verify -binary -inform DER -in "$D/two.p7s" -content "$D/a.bin" -noverify \
		-out /dev/null 2>/dev/null; then
	ok "two approvals sign: submit-job exit 0, openssl cms -verify over the artifact"
else
	fail "the approved job (approve rc $(rc jo1), submit-job rc $(rc two))" "$D/two.err"
fi
if jq -e '[.approvals[].approver] == ["ed", "jo"] and .approvals[0].comment == "checked the tag"' "$D/two.out" >/dev/null; then
	ok "the signed result lists the approvals: $(jq -c '[.approvals[] | {approver, comment}]' "$D/two.out")"
else
	fail "signed result approvals: $(jq -c .approvals "$D/two.out")"
fi
if grep -q "waiting for approvals: 0 of 2; notified: chat, audit-feed" "$D/two.err" &&
	grep -q "waiting for approvals: 1 of 2 (ed)" "$D/two.err"; then
	ok "submit-job printed each change: $(grep -c 'waiting for approvals' "$D/two.err") lines"
else
	fail "submit-job's waiting lines" "$D/two.err"
fi
push_approval "$ed_env"
if [ "$(result "$A" | jq -r .status)" = signed ] &&
	[ "$(jq -c --arg i "$A" 'select(.id == $i and .event == "signature")' "$D/audit.log" | wc -l)" = 1 ]; then
	ok "an approval replayed after the decision has no effect (one signature record)"
else
	fail "replayed approval after signing"
fi

# --- a denial rejects -----------------------------------------------------------
cp "$D/fw.bin" "$D/b.bin"
SIGNET_IDENTITY=$D/ci-fw.key bg_sj deny -k release -f cms --json -w 120 -o "$D/deny.p7s" "$D/b.bin"
B=$(pending_id b.bin) || B=none
sa jo2 jo approve "$B" --yes -w 20
sa den ed deny "$B" --yes --comment "not from a release tag" -w 20
bg_wait
if [ "$(rc den)" = 0 ] && [ "$(rc deny)" = 1 ] &&
	[ "$(jq -r .error.code "$D/deny.out")" = approval.denied ] &&
	grep -q "not from a release tag" "$D/deny.out" && [ ! -e "$D/deny.p7s" ] &&
	! audit_has "$B" '.event == "intent"'; then
	ok "one denial rejects: $(jq -r .error.message "$D/deny.out")"
else
	fail "denial (deny rc $(rc den), submit-job rc $(rc deny))" "$D/deny.err"
fi

# --- a restart while pending keeps the approvals ---------------------------------
cp "$D/fw.bin" "$D/c.bin"
SIGNET_IDENTITY=$D/ci-fw.key bg_sj restart -k release -f cms --json -w 120 -o "$D/restart.p7s" "$D/c.bin"
C=$(pending_id c.bin) || C=none
sa ed3 ed approve "$C" --yes -w 20
stack_agent_stop
stack_agent_start || exit 1
sa jo3 jo approve "$C" --yes -w 30
bg_wait
if [ "$(rc ed3)" = 0 ] && [ "$(rc restart)" = 0 ] &&
	jq -e '[.approvals[].approver] == ["ed", "jo"]' "$D/restart.out" >/dev/null; then
	ok "an agent restart while pending keeps the approvals (ed before, jo after: signed)"
else
	fail "restart while pending (submit-job rc $(rc restart))" "$D/restart.err"
fi

# --- two agents, the one holding the job killed ----------------------------------
stack_policy_config '.name = "second-agent" | .audit_log = "'"$D"'/second/audit.log" |
	.pkcs11.journal = "'"$D"'/second/audit.log.signer"' "$D/second.json"
mkdir -p "$D/second"
cp "$D/fw.bin" "$D/e.bin"
SIGNET_IDENTITY=$D/ci-fw.key bg_sj takeover -k release -f cms --json -w 120 -o "$D/takeover.p7s" "$D/e.bin"
E=$(pending_id e.bin) || E=none
kill -KILL "$STACK_AGENT_PID"
wait "$STACK_AGENT_PID" 2>/dev/null
STACK_AGENT_PID=""
"$SIGNET_AGENT" -c "$D/second.json" 2>>"$D/second.log" &
SECOND_PID=$!
on_exit "kill $SECOND_PID 2>/dev/null"
for _ in $(seq 1 200); do grep -q "taken over" "$D/second.log" 2>/dev/null && break; sleep 0.05; done
sa ed4 ed approve "$E" --yes -w 30
sa jo4 jo approve "$E" --yes -w 30
bg_wait
if [ "$(rc takeover)" = 0 ] && grep -q "taken over" "$D/second.log" &&
	jq -c --arg i "$E" 'select(.id == $i and .event == "signed")' "$D/second/audit.log" | grep -q .; then
	ok "the agent holding a pending job killed: the other takes it over and signs it after its approvals"
else
	fail "takeover of a pending job (submit-job rc $(rc takeover))" "$D/second.log"
fi

# --- expiry rejects ---------------------------------------------------------------
cp "$D/fw.bin" "$D/x.bin"
SIGNET_IDENTITY=$D/ci-fw.key bg_sj expire -k release -f cms --json -w 60 --lifetime 4 -o "$D/x.p7s" "$D/x.bin"
bg_wait
if [ "$(rc expire)" = 1 ] && [ "$(jq -r .error.code "$D/expire.out")" = approval.expired ]; then
	ok "a job that expires while pending is rejected: $(jq -r .error.message "$D/expire.out")"
else
	fail "expiry while pending (rc $(rc expire), $(jq -c .error "$D/expire.out" 2>/dev/null))" "$D/second.log"
fi
kill -TERM "$SECOND_PID"
wait "$SECOND_PID" 2>/dev/null

# --- webhooks ----------------------------------------------------------------------
hooks() { cat "$D/$1"/*.json 2>/dev/null | jq -c --arg i "$2" --arg e "$3" 'select(.delivery == $i and .event == $e)'; }
sleep 1
if hooks hooks-chat "$A" approval.requested | jq -e '.signature_ok and (.body | fromjson | keys == ["text"]) and
	(.body | fromjson | .text | test("signet-approve approve"))' >/dev/null &&
	hooks hooks-chat "$A" approval.decided | jq -e '.signature_ok and (.body | fromjson | .text | test("signed"))' >/dev/null &&
	hooks hooks-chat "$B" approval.decided | jq -e '.body | fromjson | .text | test("approval.denied")' >/dev/null; then
	ok "the chat webhook got approval.requested and approval.decided as {\"text\": ...} with valid HMACs"
else
	fail "chat webhook deliveries" "$D/receiver.log"
fi
if hooks hooks-json "$A" approval.requested | jq -e '.signature_ok and (.body | fromjson |
	.event == "approval.requested" and .status == "pending" and .submitter == "ci-fw" and
	.artifact.name == "a.bin" and .ci.url != null and (.command | test("signet-approve")))' >/dev/null &&
	[ -z "$(hooks hooks-json "$A" approval.decided)" ]; then
	ok "the JSON webhook got approval.requested with the facts and the command (and not the event it did not ask for)"
else
	fail "JSON webhook deliveries: $(cat "$D"/hooks-json/*.json 2>/dev/null | head -c 600)"
fi

summary
