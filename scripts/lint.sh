#!/bin/bash
# Static checks, failing on any finding: shellcheck on every shell script
# (settings and their reasons in .shellcheckrc; submitter/signet-gpg, a sh
# script without the .sh suffix, included), cppcheck on the C code
# (warnings, portability, performance; an inline suppression names its
# reason where it stands), and the C layout against .clang-format
# (clang-format -i on a file puts it right).  Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

mapfile -t scripts < <(git ls-files '*.sh' '.ci/run' 'submitter/signet-gpg')
echo "== shellcheck: ${#scripts[@]} scripts"
shellcheck -x "${scripts[@]}" || status=1

echo "== cppcheck"
[ -f build/signet_version.h ] || { meson setup build >/dev/null; }
cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance --inline-suppr \
	--std=c11 -D__GNUC__ -DSIGNER_PATH='"signet-signer"' -DTEST_DATA_DIR='"tests/data"' \
	-I common -I queue -I hsm -I agent -I admin -I submitter -I verifier -I build -I tests/unit \
	--suppress=missingIncludeSystem \
	agent admin common queue hsm submitter verifier bench fuzz tests/unit tests/integration || status=1

echo "== clang-format (.clang-format)"
mapfile -t csrc < <(git ls-files '*.c' '*.h')
clang-format --dry-run -Werror "${csrc[@]}" || status=1

[ "$status" = 0 ] && echo "lint: no findings"
exit "$status"
