#!/bin/sh
# The shell half of the signetSign step (vars/signetSign.groovy), which
# loads it with libraryResource and runs it with sh inside withCredentials
# (SIGNET_IDENTITY: the file binding of the submitter's private key) and
# withEnv.  Its inputs are environment variables only, never Groovy-
# interpolated text:
#   SIGNET_KEY            signing key name
#   SIGNET_FORMAT         cms, raw, authenticode, kmod or openpgp
#   SIGNET_FILES          the files to sign, one per line (no globbing)
#   SIGNET_WAIT           seconds to wait for each result
#   SIGNET_LIFETIME       the jobs' lifetime in seconds (default: submit-job's)
#   SIGNET_SUBMIT_JOB     the submit-job executable (default: from PATH)
#   SIGNET_OUT_DIR        where signatures go (default signatures); each
#                         signature has its verified result envelope next
#                         to it, NAME.result.json (submit-job --result-out),
#                         for signet-verify in a later stage
#   SIGNET_REDIS, SIGNET_AGENT_PUBKEY, SIGNET_IDENTITY and optionally
#   SIGNET_REDIS_PASSWORD_FILE, SIGNET_PREFIX, and for rediss:// (TLS)
#   SIGNET_REDIS_CA_FILE, SIGNET_REDIS_CERT, SIGNET_REDIS_KEY: read by
#   submit-job itself.
# Jenkins' JOB_NAME, BUILD_NUMBER, STAGE_NAME, GIT_COMMIT, BRANCH_NAME and
# BUILD_URL go into the job's "ci" member (submit-job reads them).  They are
# self-asserted: Jenkins has no standard OIDC identity token to send as the
# job's ci_token, so agent keys with "ci_token": "required" refuse these
# jobs (ci-examples/README.md).  JOB_NAME (in a multibranch pipeline
# "folder/repo/feature%2Fx") is never part of a file or artifact name: the
# outputs are named after the signed file, and --name is its base name.
#
# A reused workspace may hold the outputs of an earlier build: they are
# replaced (removed before signing, so that a failed signing never leaves a
# stale signature to be archived).  Two files with the same base name in one
# step are an error.
set -eu
: "${SIGNET_KEY:?signetSign: key is required}"
: "${SIGNET_FILES:?signetSign: files is required}"
: "${SIGNET_REDIS:?signetSign: SIGNET_REDIS is not set (redis: or the environment)}"
: "${SIGNET_IDENTITY:?signetSign: no identity file (credentialsId)}"
: "${SIGNET_AGENT_PUBKEY:?signetSign: SIGNET_AGENT_PUBKEY is not set (agentPubkey: or the environment)}"
format=${SIGNET_FORMAT:-cms}
case "$format" in
cms) ext=.p7s ;;
raw) ext=.sig ;;
# The signed image or module itself, under the input's name.
authenticode | kmod) ext="" ;;
# An armored detached OpenPGP signature.
openpgp) ext=.asc ;;
*) echo "signetSign: format is cms, raw, authenticode, kmod or openpgp, not '$format'" >&2; exit 2 ;;
esac
lifetime=""
case "${SIGNET_LIFETIME:-}" in
"") ;;
*[!0-9]*) echo "signetSign: lifetime is a number of seconds, not '$SIGNET_LIFETIME'" >&2; exit 2 ;;
*) lifetime="--lifetime $SIGNET_LIFETIME" ;;
esac
out_dir=${SIGNET_OUT_DIR:-signatures}
mkdir -p "$out_dir"
# The base names this step signs: checked before anything is submitted.
names=""
while IFS= read -r f; do
	[ -n "$f" ] || continue
	if [ ! -f "$f" ]; then
		echo "signetSign: $f: no such file" >&2
		exit 2
	fi
	base=$(basename "$f")
	case "
$names
" in
	*"
$base
"*)
		echo "signetSign: two files named $base in files:" >&2
		exit 2
		;;
	esac
	names="$names
$base"
done <<LIST
$SIGNET_FILES
LIST
n=0
# One file per line; names with blanks are fine, newlines in names are not.
while IFS= read -r f; do
	[ -n "$f" ] || continue
	base=$(basename "$f")
	out="$out_dir/$base$ext"
	result="$out_dir/$base.result.json"
	if [ -e "$out" ] || [ -e "$result" ]; then
		echo "signetSign: replacing $out from an earlier build (reused workspace)"
		rm -f -- "$out" "$result"
	fi
	armor=""
	[ "$format" != openpgp ] || armor=--armor
	# shellcheck disable=SC2086 # $armor is one word or none, $lifetime two or none
	"${SIGNET_SUBMIT_JOB:-submit-job}" --key "$SIGNET_KEY" --format "$format" $armor $lifetime \
		--wait "${SIGNET_WAIT:-300}" --name "$base" --output "$out" --result-out "$result" -- "$f"
	echo "signetSign: $f signed with key $SIGNET_KEY: $out (result: $result)"
	n=$((n + 1))
done <<LIST
$SIGNET_FILES
LIST
[ "$n" -gt 0 ] || { echo "signetSign: no files given" >&2; exit 2; }
