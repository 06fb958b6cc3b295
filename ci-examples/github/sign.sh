#!/bin/bash
# The run step of the composite action (action.yml).  Inputs come as
# environment variables (see action.yml); the identity, agent public key and
# Redis password may be PEM/secret text, which is written to owner-only
# files under RUNNER_TEMP and removed when the step ends.  submit-job reads
# GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_JOB, GITHUB_SHA and GITHUB_REF
# into the job's "ci" member itself.
# When the workflow grants "id-token: write", the runner sets
# ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN: the OIDC
# identity token for SIGNET_AUDIENCE (default signet) is then fetched with
# curl and passed to submit-job in SIGNET_CI_TOKEN (unless that is already
# set).  The token is masked in the log and never printed.
# Outputs (to GITHUB_OUTPUT): artifact-name, the upload's name
# (SIGNET_ARTIFACT_NAME, else signatures-<GITHUB_JOB>-<first file's base
# name>-<format>, reduced to characters GitHub accepts), and files, the
# signatures and result envelopes this use wrote, one per line.
set -euo pipefail
: "${SIGNET_KEY:?signet: the key input is required}"
: "${SIGNET_FILES:?signet: the files input is required}"
: "${SIGNET_REDIS:?signet: the redis input is required}"
: "${SIGNET_IN_IDENTITY:?signet: the identity input is required}"
: "${SIGNET_IN_AGENT_PUBKEY:?signet: the agent-pubkey input is required}"
format=${SIGNET_FORMAT:-cms}
case "$format" in
cms) ext=.p7s ;;
raw) ext=.sig ;;
# The signed image or module itself, under the input's name.
authenticode | kmod) ext="" ;;
# An armored detached OpenPGP signature.
openpgp) ext=.asc ;;
*) echo "::error::signet: format is cms, raw, authenticode, kmod or openpgp, not '$format'"; exit 2 ;;
esac

secrets=$(mktemp -d "${RUNNER_TEMP:-/tmp}/signet.XXXXXX")
trap 'rm -rf "$secrets"' EXIT
chmod 700 "$secrets"
# as_file NAME VALUE: VALUE itself if it is a path, else a file holding it.
as_file() {
	if [[ "$2" == -----BEGIN* ]]; then
		(umask 077; printf '%s\n' "$2" > "$secrets/$1")
		printf '%s' "$secrets/$1"
	else
		printf '%s' "$2"
	fi
}
SIGNET_IDENTITY=$(as_file identity.pem "$SIGNET_IN_IDENTITY")
SIGNET_AGENT_PUBKEY=$(as_file agent.pub "$SIGNET_IN_AGENT_PUBKEY")
export SIGNET_IDENTITY SIGNET_AGENT_PUBKEY
unset SIGNET_IN_IDENTITY
if [ -n "${SIGNET_IN_REDIS_PASSWORD:-}" ]; then
	(umask 077; printf '%s\n' "$SIGNET_IN_REDIS_PASSWORD" > "$secrets/redis.pass")
	export SIGNET_REDIS_PASSWORD_FILE=$secrets/redis.pass
fi
unset SIGNET_IN_REDIS_PASSWORD

if [ -z "${SIGNET_CI_TOKEN:-}" ] && [ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] &&
	[ -n "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]; then
	# The answer is {"count": N, "value": "<JWT>"}; a JWT is base64url and dots.
	answer=$(curl -sSf --max-time 30 -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
		"$ACTIONS_ID_TOKEN_REQUEST_URL&audience=${SIGNET_AUDIENCE:-signet}") || {
		echo "::error::signet: cannot fetch the OIDC identity token (ACTIONS_ID_TOKEN_REQUEST_URL)"
		exit 2
	}
	SIGNET_CI_TOKEN=$(printf '%s' "$answer" | sed -n 's/.*"value" *: *"\([A-Za-z0-9._-]*\)".*/\1/p')
	unset answer
	if [ -z "$SIGNET_CI_TOKEN" ]; then
		echo "::error::signet: the OIDC token request answered without a token"
		exit 2
	fi
	echo "::add-mask::$SIGNET_CI_TOKEN"
	export SIGNET_CI_TOKEN
fi
unset ACTIONS_ID_TOKEN_REQUEST_TOKEN

lifetime=""
case "${SIGNET_LIFETIME:-}" in
"") ;;
*[!0-9]*) echo "::error::signet: lifetime is a number of seconds, not '$SIGNET_LIFETIME'"; exit 2 ;;
*) lifetime="--lifetime $SIGNET_LIFETIME" ;;
esac
out_dir=${SIGNET_OUT_DIR:-signatures}
mkdir -p "$out_dir"
n=0
first=""
written=()
while IFS= read -r f; do
	[ -n "$f" ] || continue
	if [ ! -f "$f" ]; then
		echo "::error::signet: $f: no such file"
		exit 2
	fi
	base=$(basename "$f")
	[ -n "$first" ] || first=$base
	out="$out_dir/$base$ext"
	result="$out_dir/$base.result.json"
	if [ -e "$out" ] || [ -e "$result" ]; then
		echo "::error::signet: $out exists (two files with the same name, or another use of the action with the same out-dir?)"
		exit 2
	fi
	armor=""
	[ "$format" != openpgp ] || armor=--armor
	# shellcheck disable=SC2086 # $armor is one word or none, $lifetime two or none
	"${SIGNET_SUBMIT_JOB:-submit-job}" --key "$SIGNET_KEY" --format "$format" $armor $lifetime \
		--wait "${SIGNET_WAIT:-300}" --name "$base" --output "$out" --result-out "$result" -- "$f"
	echo "signet: $f signed with key $SIGNET_KEY: $out (result: $result)"
	written+=("$out" "$result")
	n=$((n + 1))
done <<< "$SIGNET_FILES"
[ "$n" -gt 0 ] || { echo "::error::signet: no files given"; exit 2; }

# Artifact names may not hold " : < > | * ? \ / or control characters;
# keep letters, digits, dot, dash and underscore.
name=${SIGNET_ARTIFACT_NAME:-signatures-${GITHUB_JOB:-job}-$first-$format}
name=$(printf '%s' "$name" | LC_ALL=C tr -c 'A-Za-z0-9._-' '_')
if [ -n "${GITHUB_OUTPUT:-}" ]; then
	delim="signet_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	{
		printf 'artifact-name=%s\n' "$name"
		printf 'files<<%s\n' "$delim"
		printf '%s\n' "${written[@]}"
		printf '%s\n' "$delim"
	} >> "$GITHUB_OUTPUT"
fi
echo "signet: artifact $name: ${written[*]}"
