#!/bin/sh
# Builds every libFuzzer target under fuzz/ with clang, libFuzzer and
# ASan+UBSan (the libraries instrumented too) and runs each for a bounded
# time over a copy of its seed corpus.  Any crash, leak, sanitizer report or
# timeout fails the run; the input is saved to fuzz/crashers/<target>/.
#   scripts/fuzz.sh                 all targets, FUZZ_SECONDS (60) each
#   scripts/fuzz.sh job config      only these targets
#   FUZZ_BUILD_DIR (build-fuzz)     the build directory (clang, -Dfuzzing=true)
# Once a crasher is fixed, move it into fuzz/corpus/<target>/: the ordinary
# test suite then runs it on every build (meson test, suite fuzz).
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
dir=${FUZZ_BUILD_DIR:-build-fuzz}
case $FUZZ_SECONDS in ''|*[!0-9]*) echo "FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;; esac
command -v clang >/dev/null || { echo "fuzz.sh needs clang (and libclang-rt-14-dev)" >&2; exit 2; }

if [ ! -f "$dir/build.ninja" ]; then
	CC=clang meson setup "$dir" -Dfuzzing=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi

if [ $# -gt 0 ]; then
	targets=$*
else
	targets=$(cd fuzz && printf '%s\n' fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
fi
build=""
for t in $targets; do build="$build fuzz/fuzz_$t"; done
# shellcheck disable=SC2086
ninja -C "$dir" $build

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
work=$(mktemp -d /tmp/signet-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
passed=0
summary=""
for t in $targets; do
	mkdir -p "$work/$t" "fuzz/crashers/$t"
	[ -d "fuzz/corpus/$t" ] && cp -R "fuzz/corpus/$t/." "$work/$t/"
	echo "== fuzz_$t for ${FUZZ_SECONDS}s ($(find "$work/$t" -type f | wc -l) seeds)"
	if "$dir/fuzz/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$SRC/fuzz/crashers/$t/" \
		"$work/$t" >"$work/$t.log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
		echo "   ok: ${execs:-?} executions, corpus $(find "$work/$t" -type f | wc -l) inputs"
		summary="$summary fuzz_$t=${execs:-?}"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "   FAIL: fuzz_$t found a crash; inputs in fuzz/crashers/$t/:"
		find "fuzz/crashers/$t" -type f | sed 's/^/     /'
		grep -v '^#\|^INFO\|^stat::' "$work/$t.log" | tail -n 60 | sed 's/^/     /'
	fi
	rmdir "fuzz/crashers/$t" 2>/dev/null || true
done
rmdir fuzz/crashers 2>/dev/null || true
echo "executions:$summary"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
