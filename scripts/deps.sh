#!/bin/sh
# Installs the Debian 12 packages that signet needs to build, test and run
# its demo.  Does nothing when they are all present; needs root otherwise.
#   sh scripts/deps.sh            build, test and demo
#   sh scripts/deps.sh --extra    also fuzzing (clang, libFuzzer), valgrind and the
#                                 static checks (clang-format, cppcheck, shellcheck),
#                                 for scripts/fuzz.sh, scripts/valgrind.sh, scripts/lint.sh
set -e
PKGS="gcc pkg-config meson ninja-build libhiredis-dev libssl-dev libcurl4-openssl-dev
libcjson-dev check libsubunit-dev libp11-kit-dev softhsm2 opensc redis-server openssl jq
nginx curl
python3 scdoc"
EXTRA_PKGS="clang libclang-rt-14-dev valgrind clang-format cppcheck shellcheck"
[ "${1:-}" = "--extra" ] && PKGS="$PKGS $EXTRA_PKGS"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "signet needs these Debian packages:$missing" >&2
	echo "run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The packaged redis-server may start a system-wide instance; signet's demo
# and tests run their own on a unix socket and do not need it.
