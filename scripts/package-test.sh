#!/bin/bash
# Builds the Debian packages (dpkg-buildpackage -us -uc -b) in a temporary
# copy of the source tree, installs them with apt-get, checks what they
# installed (submit-job --version; signet-agent --check, as packaged, on a
# configuration with a SoftHSM token from scripts/stack.sh; the signet user;
# the systemd unit), runs docs/install.md from those packages to a verified
# signature (scripts/install-doc-test.sh), then removes them again.  Needs root (scripts/ci-tools.sh
# installs dpkg-dev, debhelper and scdoc).
#   scripts/package-test.sh [SOURCE_DIR]     default: this repository
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(cd "${1:-$HERE}" && pwd)
[ "$(id -u)" = 0 ] || { echo "package-test.sh: needs root (apt-get install)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/signet-pkg.XXXXXX)
installed=""
STACK_DIR=$WORK/stack
# stack.sh runs $SIGNET_BUILD/admin/signet-admin and signet-agent: here the
# installed ones.
SIGNET_BUILD=$WORK/installed
cleanup() {
	type stack_cleanup >/dev/null 2>&1 && stack_cleanup
	if [ -n "$installed" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq signet-agent signet-client >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "== packages: dpkg-buildpackage -us -uc -b =="
mkdir -p "$WORK/src"
# The tracked and new files of the tree, without build directories.
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
		grep -zv -e '^build' -e '^obj-' | xargs -0 cp --parents -P -t "$WORK/src" 2>/dev/null) || true
	# Files listed by git but deleted in the working tree are skipped above.
else
	cp -a "$SRC/." "$WORK/src/"
fi
start=$(date +%s)
(cd "$WORK/src" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 || {
	tail -n 40 "$WORK/build.log"
	echo "package-test.sh: dpkg-buildpackage failed" >&2
	exit 1
}
echo "built in $(($(date +%s) - start))s: $(cd "$WORK" && echo ./*.deb)"
grep -E '^(Ok|Fail|Expected Fail|Unexpected Pass|Skipped|Timeout): ' "$WORK/build.log" | tr -s ' ' | paste -sd ' ' | sed 's/^/unit tests during the build: /'
for deb in "$WORK"/*.deb; do
	echo "$(basename "$deb"):"
	dpkg-deb -c "$deb" | awk '{print $1, $6}' | grep -v '/$' | sed 's/^/  /'
done

echo "== install: apt-get install ./*.deb =="
(cd "$WORK" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ./signet-agent_*.deb ./signet-client_*.deb) \
	>"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; exit 1; }
installed=1

fail=0
check() { # DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@" >"$WORK/check.out" 2>&1; then
		echo "ok   - $d"
	else
		echo "FAIL - $d"
		sed 's/^/       /' "$WORK/check.out"
		fail=1
	fi
}
check "submit-job --version: $(submit-job --version 2>&1)" test -x /usr/bin/submit-job -a "$(submit-job --version 2>&1)" != ""
check "signet-verify --version: $(signet-verify --version 2>&1)" /usr/bin/signet-verify --version
check "signet-approve --help and its man page" sh -c \
	'/usr/bin/signet-approve --help >/dev/null && [ -f /usr/share/man/man1/signet-approve.1.gz ]'
check "signet-gpg --help, its man page and macros.signet" sh -c \
	'/usr/bin/signet-gpg --help >/dev/null && [ -f /usr/share/man/man1/signet-gpg.1.gz ] && [ -f /usr/share/doc/signet-client/examples/macros.signet ]'
check "man pages installed" test -f /usr/share/man/man1/signet-verify.1.gz -a -f /usr/share/man/man8/signet-admin.8.gz
check "signet-agent --version: $(/usr/sbin/signet-agent --version 2>&1)" /usr/sbin/signet-agent --version
check "signet-signer installed in /usr/libexec" test -x /usr/libexec/signet-signer
check "the monitoring examples, not compressed" sh -c \
	'd=/usr/share/doc/signet-agent/examples/monitoring; [ -f $d/signet-dashboard.json ] && [ -f $d/signet-rules.yml ] && [ -f $d/signet-rules.test.yml ]'
check "the system user signet exists, with no login shell" \
	sh -c 'getent passwd signet | grep -q ":/var/lib/signet:/usr/sbin/nologin$"'
check "/etc/signet is root:signet 0751, /var/lib/signet and /var/lib/signet/store signet:signet 0750" \
	sh -c '[ "$(stat -c %U:%G:%a /etc/signet)" = root:signet:751 ] && [ "$(stat -c %U:%G:%a /var/lib/signet)" = signet:signet:750 ] &&
		[ "$(stat -c %U:%G:%a /var/lib/signet/store)" = signet:signet:750 ]'
check "the system user signet-signer exists, and owns /var/lib/signet-signer (0700)" \
	sh -c 'getent passwd signet-signer >/dev/null && [ "$(stat -c %U:%a /var/lib/signet-signer)" = signet-signer:700 ]'
check "the unit is installed" test -f /lib/systemd/system/signet-agent.service
check "man pages: submit-job(1), signet-agent(8), signet-admin(8)" \
	sh -c 'for m in man1/submit-job.1 man8/signet-agent.8 man8/signet-admin.8; do [ -f /usr/share/man/$m.gz ] || exit 1; done; man -l /usr/share/man/man1/submit-job.1.gz >/dev/null'
if command -v systemd-analyze >/dev/null; then
	# Only complaints about the unit itself count (not about its man: links).
	check "systemd-analyze verify signet-agent.service" sh -c \
		'systemd-analyze verify /lib/systemd/system/signet-agent.service 2>&1 | grep -v "man " | grep . && exit 1 || exit 0'
	echo "# systemd-analyze security (exposure, lower is better): $(systemd-analyze security --offline=yes \
		/lib/systemd/system/signet-agent.service 2>/dev/null | tail -1 || echo n/a)"
fi

# signet-agent --check as installed: a SoftHSM token and configuration from
# stack.sh, with the signer named as in the packaged sample configuration.
mkdir -p "$STACK_DIR" "$SIGNET_BUILD/agent" "$SIGNET_BUILD/admin"
ln -s /usr/sbin/signet-agent "$SIGNET_BUILD/agent/"
ln -s /usr/sbin/signet-admin "$SIGNET_BUILD/admin/"
STACK_QUIET=1
# shellcheck source=stack.sh
. "$HERE/scripts/stack.sh"
stack_redis_start && stack_token_init && stack_submitter ci-fw ec && stack_config ||
	{ echo "package-test.sh: the SoftHSM stack could not be set up" >&2; exit 1; }
stack_policy_config '.pkcs11.signer = "/usr/libexec/signet-signer"'
check "signet-agent --check on a sample configuration (SoftHSM, /usr/libexec/signet-signer)" \
	/usr/sbin/signet-agent -c "$STACK_DIR/agent.json" --check
sed 's/^/  /' "$WORK/check.out"
check "signet-admin policy check on it" /usr/sbin/signet-admin policy check "$STACK_DIR/agent.json"
stack_cleanup

echo "== docs/install.md, from the packages to a verified signature =="
check "scripts/install-doc-test.sh: every command of docs/install.md, then openssl verifies the signatures" \
	"$HERE/scripts/install-doc-test.sh" "$SRC/docs/install.md"
sed 's/^/  /' "$WORK/check.out"

echo "== remove =="
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq signet-agent signet-client >/dev/null
installed=""
check "removed: no submit-job, signet-agent or unit left" \
	sh -c '! [ -e /usr/bin/submit-job ] && ! [ -e /usr/sbin/signet-agent ] && ! [ -e /lib/systemd/system/signet-agent.service ]'
exit $fail
