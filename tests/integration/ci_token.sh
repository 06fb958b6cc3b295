#!/bin/bash
# CI identity tokens (SPEC §3 ci_token, docs/policy.md "CI identity tokens")
# against a real redis-server, SoftHSM token and signet-agent.  A test
# issuer (RSA-2048 and EC P-256 keys made here, their JWK Set) stands in
# for GitLab; tests/jwt_tool.py signs its tokens with the openssl CLI.
#
# The issue this answers: with the same key and submitter, a job was
# refused with GITHUB_REF=refs/heads/feature-x and signed with
# GITHUB_REF=refs/tags/v9.9, because ci_refs matched what the submitter
# wrote.  With "ci_token": "required", only the token's verified ref counts.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init citoken python3
JWT_TOOL=$SRC/tests/jwt_tool.py

ISS=https://gitlab.example.com
stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec '["release","release-rsa"]'
stack_config

# --- the test issuer ---------------------------------------------------------
if ! { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/iss-rsa.key" &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/iss-ec.key" &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/stranger.key" &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$D/small.key" &&
	python3 "$JWT_TOOL" jwks gl-rsa="$D/iss-rsa.key" gl-ec="$D/iss-ec.key" > "$D/gitlab-jwks.json"
} 2>"$D/issuer.err"; then
	echo "cannot make the test issuer"
	cat "$D/issuer.err"
	exit 1
fi

# claims REF_TYPE REF [EXP_OFFSET] [AUD] [PROTECTED]: GitLab id_token claims.
claims() {
	printf '{"iss":"%s","aud":"%s","exp":"@NOW%s@","iat":"@NOW-5@","nbf":"@NOW-5@",' \
		"$ISS" "${4:-signet}" "${3:-+300}"
	printf '"sub":"project_path:group/firmware:ref_type:%s:ref:%s",' "$1" "$2"
	printf '"project_path":"group/firmware","pipeline_id":"4242","ref":"%s","ref_type":"%s",' "$2" "$1"
	printf '"ref_protected":"%s","environment":"release"}' "${5:-true}"
}
# token KEY KID ALG CLAIMS
token() { python3 "$JWT_TOOL" token --key "$1" --kid "$2" --alg "$3" "$4"; }

# release: a token is required and CI rules match its claims only.
# release-rsa: the same rules without the requirement (self-asserted unless
# a token comes).
stack_policy_config "
  .ci_issuers = {gitlab: {issuer: \"$ISS\", audience: \"signet\", jwks: \"$D/gitlab-jwks.json\", kind: \"gitlab\"}} |
  .keys.release += {ci_token: \"required\", ci_projects: [\"group/firmware\"], ci_refs: [\"refs/tags/v*\"]} |
  .keys[\"release-rsa\"] += {ci_projects: [\"group/firmware\"], ci_refs: [\"refs/tags/v*\"]}"

# --- configuration checks ------------------------------------------------------
if "$ADMIN" policy check "$D/agent.json" >"$D/adm.out" 2>&1 && grep -q "1 CI issuers" "$D/adm.out" &&
	grep -q "warning: keys.release-rsa: ci_projects and ci_refs match the job's self-asserted ci members" "$D/adm.out" &&
	! grep -q "warning: keys.release:" "$D/adm.out"; then
	ok "signet-admin policy check: in order, and warns that release-rsa's CI rules are self-asserted"
else
	fail "signet-admin policy check" "$D/adm.out"
fi
if "$SIGNET_AGENT" -c "$D/agent.json" --check >"$D/check.out" 2>&1 &&
	grep -q "keys.release-rsa: ci_projects and ci_refs match the job's self-asserted" "$D/check.out"; then
	ok "signet-agent --check warns that release-rsa's CI rules are self-asserted"
else
	fail "signet-agent --check" "$D/check.out"
fi
jq '.keys["release-rsa"] += {ci_protected_ref: true}' "$D/agent.json" > "$D/bad.json"
if ! "$ADMIN" policy check "$D/bad.json" >"$D/adm-bad.out" 2>&1 &&
	grep -q 'keys.release-rsa.ci_protected_ref: needs "ci_token": "required"' "$D/adm-bad.out"; then
	ok "ci_protected_ref without a required token is a configuration error"
else
	fail "ci_protected_ref without a required token" "$D/adm-bad.out"
fi
python3 "$JWT_TOOL" jwks small="$D/small.key" > "$D/small-jwks.json"
jq ".ci_issuers.gitlab.jwks = \"$D/small-jwks.json\"" "$D/agent.json" > "$D/bad2.json"
if ! "$ADMIN" policy check "$D/bad2.json" >"$D/adm-bad2.out" 2>&1 &&
	grep -q 'ci_issuers.gitlab.jwks: .*keys\[0\] (kid "small"): RSA modulus of 1024 bits' "$D/adm-bad2.out"; then
	ok "a JWK Set with an RSA key under 2048 bits is refused at load"
else
	fail "a JWK Set with a 1024-bit RSA key" "$D/adm-bad2.out"
fi

stack_agent_start || exit 1
head -c 4096 /dev/urandom > "$D/fw.bin"

# sj ID ENV... -- ARGS...: submit-job with the stack's settings and only the
# environment given (no CI variables unless named); output in $D/ID.out,
# $D/ID.err, status in $D/ID.rc.
sj() {
	local id=$1
	shift
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	env -i PATH="$PATH" SIGNET_REDIS="$SIGNET_REDIS" SIGNET_AGENT_PUBKEY="$D/agent.pub" "${envs[@]}" \
		"$SUBMIT_JOB" --json -w 30 -f raw -i "$D/ci-fw.key" "$@" >"$D/$id.out" 2>"$D/$id.err"
	echo $? > "$D/$id.rc"
}
# expect ID CODE TEXT DESCRIPTION ENV... -- ARGS...: a rejection with CODE
# whose message holds TEXT.
expect() {
	local id=$1 code=$2 text=$3 what=$4
	shift 4
	sj "$id" "$@"
	local got msg
	got=$(jq -r '.error.code // .status' "$D/$id.out" 2>/dev/null)
	msg=$(jq -r '.error.message // ""' "$D/$id.out" 2>/dev/null)
	if [ "$(cat "$D/$id.rc")" = 1 ] && [ "$got" = "$code" ] && [[ "$msg" == *"$text"* ]]; then
		ok "$what: $code ($msg)"
	else
		fail "$what: wanted $code with '$text', got '$got' '$msg' (rc $(cat "$D/$id.rc"))" "$D/$id.err"
	fi
}
# signed ID DESCRIPTION ENV... -- ARGS...: signed, and the signature
# verifies with the key's public key (release: ECDSA; release-rsa: RSA-PSS).
signed() {
	local id=$1 what=$2 pub=release opts=()
	shift 2
	case " $* " in *" release-rsa "*) pub=release-rsa
		opts=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32) ;;
	esac
	sj "$id" "$@" -o "$D/$id.sig" "$D/fw.bin"
	if [ "$(cat "$D/$id.rc")" = 0 ] && [ "$(jq -r .status "$D/$id.out")" = signed ] &&
		openssl dgst -sha256 -verify "$D/$pub.pub.pem" "${opts[@]}" -signature "$D/$id.sig" \
			"$D/fw.bin" >/dev/null 2>&1; then
		ok "$what"
	else
		fail "$what (rc $(cat "$D/$id.rc"))" "$D/$id.err"
	fi
}

TAG_RS=$(token "$D/iss-rsa.key" gl-rsa RS256 "$(claims tag v1.2)")
TAG_ES=$(token "$D/iss-ec.key" gl-ec ES256 "$(claims tag v1.3)")
FEATURE=$(token "$D/iss-rsa.key" gl-rsa RS256 "$(claims branch feature-x +300 signet false)")
EXPIRED=$(token "$D/iss-rsa.key" gl-rsa RS256 "$(claims tag v1.2 -30)")
WRONG_AUD=$(token "$D/iss-rsa.key" gl-rsa RS256 "$(claims tag v1.2 +300 other)")
NONE=$(token "$D/iss-rsa.key" gl-rsa none "$(claims tag v1.2)")
FORGED=$(token "$D/stranger.key" gl-rsa RS256 "$(claims tag v1.2)")

# --- genuine tokens ---------------------------------------------------------------
signed rs256 "a genuine RS256 token for tag v1.2 is signed, and openssl verifies the signature" \
	SIGNET_CI_TOKEN="$TAG_RS" -- -k release
rec=$(jq -r '.audit.record' "$D/rs256.out" 2>/dev/null)
if [ "$(jq -r '.ci_verified.ref' <<<"$rec" 2>/dev/null)" = refs/tags/v1.2 ] &&
	[ "$(jq -r '.ci_verified.project' <<<"$rec")" = group/firmware ] &&
	[ "$(jq -r '.ci_verified.issuer' <<<"$rec")" = "$ISS" ] &&
	[ "$(jq -r '.ci_verified.ref_protected' <<<"$rec")" = true ] &&
	[ "$(jq -r '.ci_verified.pipeline' <<<"$rec")" = 4242 ]; then
	ok "the signed result's audit record carries ci_verified (issuer, project, ref, ref_protected, pipeline)"
else
	fail "ci_verified in the audit record: $rec"
fi
signed es256 "a genuine ES256 token for tag v1.3 is signed" SIGNET_CI_TOKEN="$TAG_ES" -- -k release
printf '%s\n' "$TAG_RS" > "$D/token.txt"
signed file "--ci-token-file sends the token" -- -k release --ci-token-file "$D/token.txt"
if grep -q "ci verified:gitlab: signed" "$D/agent.log"; then
	ok "the decision log line says the CI facts were verified"
else
	fail "no 'ci verified:gitlab' decision line" "$D/agent.log"
fi

# --- the issue: the verified ref wins over the environment ----------------
GH_ENV=(GITHUB_ACTIONS=true GITHUB_REPOSITORY=group/firmware GITHUB_RUN_ID=1 GITHUB_REF=refs/tags/v9.9)
expect repro policy.ci_ref 'verified CI ref "refs/heads/feature-x" is not in keys.release.ci_refs' \
	"GITHUB_REF=refs/tags/v9.9 with a token for refs/heads/feature-x is refused" \
	"${GH_ENV[@]}" SIGNET_CI_TOKEN="$FEATURE" -- -k release "$D/fw.bin"
expect repro-notoken policy.ci_token "key release requires a ci_token; the job has none" \
	"GITHUB_REF=refs/tags/v9.9 without a token is refused" "${GH_ENV[@]}" -- -k release "$D/fw.bin"
if grep -q '"ci_verified":{"issuer":"https://gitlab.example.com","issuer_name":"gitlab","sub":"project_path:group/firmware:ref_type:branch:ref:feature-x"' "$D/audit.log" &&
	grep '"event":"rejected"' "$D/audit.log" | grep -q '"ref":"refs/heads/feature-x"'; then
	ok "the rejection's audit record carries the verified claims"
else
	fail "ci_verified of the rejected job in the audit log" "$D/audit.log"
fi

# --- refused tokens ------------------------------------------------------------------
expect notoken policy.ci_token "requires a ci_token" "no token" -- -k release "$D/fw.bin"
expect expired policy.ci_token "ci_token: expired at" "an expired token" \
	SIGNET_CI_TOKEN="$EXPIRED" -- -k release "$D/fw.bin"
expect aud policy.ci_token 'audience "other", not "signet"' "a token for another audience" \
	SIGNET_CI_TOKEN="$WRONG_AUD" -- -k release "$D/fw.bin"
expect none policy.ci_token 'alg "none" refused' "a token with alg none" \
	SIGNET_CI_TOKEN="$NONE" -- -k release "$D/fw.bin"
expect forged policy.ci_token 'signature does not verify with key "gl-rsa"' \
	"a token signed by another key under a known kid" SIGNET_CI_TOKEN="$FORGED" -- -k release "$D/fw.bin"

# --- a key without the requirement ---------------------------------------------
signed asserted "without a token, release-rsa's rules match the self-asserted ref (as before)" \
	CI_PROJECT_PATH=group/firmware CI_COMMIT_REF_NAME=refs/tags/v1.0 -- -k release-rsa
if grep -q "key release-rsa .* ci self-asserted: signed" "$D/agent.log"; then
	ok "the decision log line says the CI facts were self-asserted"
else
	fail "no 'ci self-asserted' decision line" "$D/agent.log"
fi
expect optional-verified policy.ci_ref 'verified CI ref "refs/heads/feature-x"' \
	"a token on a key that does not require one still wins over the environment" \
	CI_PROJECT_PATH=group/firmware CI_COMMIT_REF_NAME=refs/tags/v1.0 SIGNET_CI_TOKEN="$FEATURE" \
	-- -k release-rsa "$D/fw.bin"
expect optional-bad policy.ci_token "ci_token: expired at" \
	"a token that does not verify is refused on such a key too" \
	CI_PROJECT_PATH=group/firmware CI_COMMIT_REF_NAME=refs/tags/v1.0 SIGNET_CI_TOKEN="$EXPIRED" \
	-- -k release-rsa "$D/fw.bin"

# --- submit-job: a bad token never leaves, never shows --------------------------
sj badtext SIGNET_CI_TOKEN="secret token with spaces" -- -k release "$D/fw.bin"
if [ "$(cat "$D/badtext.rc")" = 2 ] && grep -q "SIGNET_CI_TOKEN does not hold a CI identity token" "$D/badtext.err" &&
	! grep -q "secret token" "$D/badtext.err"; then
	ok "submit-job refuses a malformed SIGNET_CI_TOKEN (exit 2) without printing it"
else
	fail "submit-job with a malformed token (rc $(cat "$D/badtext.rc"))" "$D/badtext.err"
fi
leak=0
for t in "$TAG_RS" "$FEATURE" "$EXPIRED"; do
	grep -qF "$t" "$D/agent.log" "$D/audit.log" && leak=1
	grep -qF "${t##*.}" "$D/agent.log" "$D/audit.log" && leak=1
done
if [ "$leak" = 0 ]; then
	ok "no token appears in the agent log or the audit log"
else
	fail "a token leaked into a log"
fi

# --- SIGHUP: the JWK Set is read again ---------------------------------------------
python3 "$JWT_TOOL" jwks gl-ec="$D/iss-ec.key" > "$D/gitlab-jwks.json"
kill -HUP "$STACK_AGENT_PID"
for _ in $(seq 1 50); do grep -q "policy reloaded" "$D/agent.log" && break; sleep 0.1; done
expect rotated policy.ci_token 'unknown kid "gl-rsa" for issuer gitlab' \
	"SIGHUP reads the JWK Set again: a key removed from it no longer verifies" \
	SIGNET_CI_TOKEN="$TAG_RS" -- -k release "$D/fw.bin"
signed rotated-ec "the key still in the set still verifies after SIGHUP" SIGNET_CI_TOKEN="$TAG_ES" -- -k release
cp "$D/small-jwks.json" "$D/gitlab-jwks.json"
kill -HUP "$STACK_AGENT_PID"
for _ in $(seq 1 50); do grep -q "old policy stays" "$D/agent.log" && break; sleep 0.1; done
if grep -q 'ci_issuers.gitlab.jwks: .*RSA modulus of 1024 bits.*old policy stays in force' "$D/agent.log"; then
	ok "SIGHUP with an unacceptable JWK Set keeps the old policy and says why"
else
	fail "SIGHUP with a 1024-bit JWK Set" "$D/agent.log"
fi
signed kept-ec "the old keys stay in force" SIGNET_CI_TOKEN="$TAG_ES" -- -k release

stack_agent_stop
if [ -f "$D/agent.failures" ]; then
	fail "the agent exited with status $(cat "$D/agent.failures")" "$D/agent.log"
fi
summary "ci_token: "
