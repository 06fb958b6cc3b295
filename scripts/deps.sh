#!/bin/sh
# Installs the Debian 12 packages that signet needs to build, test and run
# its demo.  Does nothing when they are all present; needs root otherwise.
#   sh scripts/deps.sh            build, test and demo
#   sh scripts/deps.sh --extra    also fuzzing (clang, libFuzzer), valgrind and the
#                                 static checks (clang-format, cppcheck, shellcheck),
#                                 for scripts/fuzz.sh, scripts/valgrind.sh, scripts/lint.sh
set -e
# The second line: the consumers' own verifiers and unsigned inputs for the
# formats (docs/formats.md): sbverify, Debian's unsigned UEFI images
# (shim-unsigned: PE32+; syslinux-efi: PE32 too), the kernel's sign-file
# (linux-kbuild-6.1) and modinfo (kmod), OpenPGP's gpg, gpgv and sqv, and rpm
# (rpmbuild, rpmsign, rpmkeys) and apt-utils (apt-ftparchive, for a test APT
# repository); osslsigncode comes from
# bookworm-backports (2.9; bookworm's 2.5 is older than the tests expect).
PKGS="gcc pkg-config meson ninja-build libhiredis-dev libssl-dev libcurl4-openssl-dev
libcjson-dev check libsubunit-dev libp11-kit-dev softhsm2 opensc redis-server openssl jq
nginx curl
sbsigntool shim-unsigned syslinux-efi linux-kbuild-6.1 kmod gnupg gpgv sqv rpm apt-utils
python3 scdoc"
BACKPORTS_PKGS="osslsigncode"
BACKPORTS_LIST=/etc/apt/sources.list.d/signet-bookworm-backports.list
EXTRA_PKGS="clang libclang-rt-14-dev valgrind clang-format cppcheck shellcheck"
[ "${1:-}" = "--extra" ] && PKGS="$PKGS $EXTRA_PKGS"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
bp_missing=""
for p in $BACKPORTS_PKGS; do
	dpkg-query -W -f='${Version}' "$p" 2>/dev/null | grep -q "bpo12" || bp_missing="$bp_missing $p"
done
[ -z "$missing" ] && [ -z "$bp_missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "signet needs these Debian packages:$missing$bp_missing" >&2
	[ -z "$missing" ] || echo "run as root (or: sudo apt-get install$missing)" >&2
	[ -z "$bp_missing" ] || echo "and from bookworm-backports:$bp_missing (sudo apt-get install -t bookworm-backports$bp_missing)" >&2
	exit 1
fi
echo "installing:$missing$bp_missing"
export DEBIAN_FRONTEND=noninteractive
if [ -n "$bp_missing" ] && ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "adding Debian's bookworm-backports to APT's sources ($BACKPORTS_LIST) for:$bp_missing"
	echo "deb http://deb.debian.org/debian bookworm-backports main" > "$BACKPORTS_LIST"
fi
apt-get update -qq
# shellcheck disable=SC2086
[ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing >/dev/null
# shellcheck disable=SC2086
[ -z "$bp_missing" ] || apt-get install -y -qq --no-install-recommends -t bookworm-backports $bp_missing >/dev/null
# The packaged redis-server may start a system-wide instance; signet's demo
# and tests run their own on a unix socket and do not need it.
