#!/bin/sh
# Installs what the CI examples test and the packaging test need beyond
# scripts/deps.sh: rsync and gitlab-ci-local 4.60.1 (shell executor; later
# versions need a newer Node than Debian 12's), stunnel4 for the tested
# stunnel example, dpkg-dev, debhelper and scdoc for dpkg-buildpackage, and
# prometheus for promtool (tests/integration/monitoring.sh checks
# contrib/monitoring/ with it; installed without its recommended packages).
# Does nothing when all are present; needs root otherwise.  Node and npm:
# Debian's nodejs/npm unless a node is already installed.
set -e
GCL_VERSION=4.60.1
PKGS="rsync git stunnel4 dpkg-dev debhelper scdoc prometheus"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
# Its re2 dependency builds a native module (node-gyp) when no prebuilt one
# can be fetched: that needs python3, make and g++.
[ "$(gitlab-ci-local --version 2>/dev/null)" = "$GCL_VERSION" ] || PKGS="$PKGS python3 make g++"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
have_gcl=""
[ "$(gitlab-ci-local --version 2>/dev/null)" = "$GCL_VERSION" ] && have_gcl=1
[ -z "$missing" ] && [ -n "$have_gcl" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	[ -n "$have_gcl" ] || missing="$missing gitlab-ci-local@$GCL_VERSION(npm)"
	echo "signet's CI tools need:$missing (run as root)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -z "$have_gcl" ]; then
	echo "installing gitlab-ci-local@$GCL_VERSION (npm)"
	npm install -g --no-audit --no-fund "gitlab-ci-local@$GCL_VERSION" >/dev/null
	[ "$(gitlab-ci-local --version)" = "$GCL_VERSION" ]
fi
