#!/bin/bash
# Runs docs/install.md: the commands of the document are the test.
#
#   scripts/install-doc-test.sh [INSTALL_MD]     default: docs/install.md
#
# Run as root on a host where the signet-agent and signet-client packages
# were just installed (scripts/package-test.sh calls it after its install
# step), with redis-server, softhsm2 and openssl present and no signet
# configuration yet (/etc/signet/agent.json must not exist: this is not
# for a host in use).
#
# Which blocks run: every fenced block whose info string is exactly `sh`
# (```sh), in the order of the document, concatenated into one script that
# runs with `bash -euo pipefail` (so a `cd` or a variable carries over
# from one block to the next, and the first command that fails stops the
# test).  A ```sh block right after a line `<!-- not tested: REASON -->`
# is shown to readers but not run (the systemd commands: CI has no
# systemd; the package installation, done by the caller).  Blocks of any
# other kind (```console, ```json, plain ``` ...) are never run.
#
# The test passes when the script exits 0 and its output holds openssl's
# "Verified OK" (the raw signature) and "CMS Verification successful".
# Whatever the document set up is undone on exit: the agent and the
# redis-server it started are stopped (by their process ids),
# /etc/redis/redis.conf is restored, the files made under /etc/signet,
# /var/lib/signet and /var/lib/signet-signer are removed, and signet
# leaves the group redis.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
DOC=${1:-$HERE/docs/install.md}
[ "$(id -u)" = 0 ] || { echo "install-doc-test.sh: needs root" >&2; exit 1; }
[ -x /usr/sbin/signet-agent ] || { echo "install-doc-test.sh: the signet-agent package is not installed" >&2; exit 1; }
if [ -e /etc/signet/agent.json ]; then
	echo "install-doc-test.sh: /etc/signet/agent.json exists: not on a host in use" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/signet-install-doc.XXXXXX)
REDIS_CONF=/etc/redis/redis.conf
cp -p "$REDIS_CONF" "$WORK/redis.conf.orig"
cleanup() {
	local p
	p=$(cat "$WORK/last-bg" 2>/dev/null || true)
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p"
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	fi
	p=$(cat /run/redis/redis-server.pid 2>/dev/null || true)
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p"
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	fi
	cp -p "$WORK/redis.conf.orig" "$REDIS_CONF"
	gpasswd -d signet redis >/dev/null 2>&1 || true
	find /etc/signet /var/lib/signet /var/lib/signet-signer -mindepth 1 -maxdepth 1 \
		! -path /var/lib/signet/store -exec rm -rf {} + 2>/dev/null || true
	find /var/lib/signet/store -mindepth 1 -delete 2>/dev/null || true
	rm -f /var/log/signet-agent.log
	rm -rf "$WORK"
}
trap cleanup EXIT

# The blocks to run, in order (see above).
awk -v out="$WORK/doc.sh" '
	/^<!-- not tested/ { skip = 1; next }
	/^```sh$/ && !inblock { inblock = 1; run = !skip; skip = 0; n++
		if (run) printf "\necho \"== block %d (line %d)\"\n", n, NR > out; next }
	/^```/ && inblock { inblock = 0; next }
	inblock { if (run) print > out; next }
	/^[[:space:]]*$/ { next }
	{ skip = 0 }
' "$DOC"
[ -s "$WORK/doc.sh" ] || { echo "install-doc-test.sh: no sh blocks in $DOC" >&2; exit 1; }
echo "install-doc-test.sh: $(grep -c '^echo "== block' "$WORK/doc.sh") blocks of $DOC"

mkdir -p "$WORK/home"
# The last background job (the agent) is noted, whatever happens, so that
# it can be stopped by its id.  No -x: a traced line may hold what a
# command substitution read from a secret file.
{
	printf 'trap '\''echo "${!:-}" > %q'\'' EXIT\n' "$WORK/last-bg"
	cat "$WORK/doc.sh"
} > "$WORK/run.sh"
status=0
(cd "$WORK/home" && HOME=$WORK/home bash -euo pipefail "$WORK/run.sh") > "$WORK/run.log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
	tail -n 40 "$WORK/run.log"
	echo "--- agent log:"
	tail -n 20 /var/log/signet-agent.log 2>/dev/null || true
	echo "install-doc-test.sh: the document's commands failed (exit $status)" >&2
	exit 1
fi
grep -E "^(ok|created|todo) " "$WORK/run.log" | sed 's/^/  init: /' || true
if grep -q "^Verified OK" "$WORK/run.log" && grep -q "^CMS Verification successful" "$WORK/run.log"; then
	echo "install-doc-test.sh: ok: openssl: Verified OK (raw), CMS Verification successful (cms)"
else
	tail -n 40 "$WORK/run.log"
	echo "install-doc-test.sh: no verified signature in the output" >&2
	exit 1
fi
