#!/bin/sh
# Builds signet and runs the whole test suite: unit tests (Check), the fuzz
# corpora, and the end-to-end tests against a real redis-server and SoftHSM.
#   scripts/test.sh                 normal build in ./build
#   SANITIZE=1 scripts/test.sh      ASan+UBSan build in ./build-asan
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
# The CI-examples test runs gitlab-ci-local, rsync and stunnel.
sh scripts/ci-tools.sh
if [ -n "${SANITIZE:-}" ]; then
	dir=build-asan
	opts="-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	# The fault scenarios and the benchmark smoke run are about timing and
	# load: the normal build runs them; the sanitized one runs the rest.
	set -- --no-suite faults --no-suite bench "$@"
else
	dir=build
	opts=""
fi
# The fault scenarios need the test-only hooks (meson_options.txt
# test_hooks, off in release and package builds): set in every build dir,
# an existing one included.
opts="$opts -Dtest_hooks=true"
# shellcheck disable=SC2086
if [ -d "$dir" ]; then
	meson configure "$dir" -Dtest_hooks=true >/dev/null
else
	meson setup "$dir" $opts >/dev/null
fi
ninja -C "$dir"
# --setup full: every suite (plain `meson test` leaves out faults and bench).
meson test -C "$dir" --setup full --print-errorlogs "$@"
