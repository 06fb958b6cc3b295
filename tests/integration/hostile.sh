#!/bin/bash
# The hostile corpus (tests/hostile/, SPEC §2, §3, §7) against a real agent:
# a throwaway stack (redis-server on a unix socket, a SoftHSM token, the
# agent), then tests/hostile/run.py pushes each case as a raw stream entry
# and asserts the exact code, and that the HSM signed nothing for it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init hostile python3

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
stack_submitter ci-ed ed25519
stack_submitter limited ec '["release"]'
stack_config
# Corporate identities: a submitter CA with a CRL, and one nobody trusts.
stack_subca corp && stack_subca other || exit 1
# Valid from an hour ago: the cases' jobs are created a few seconds back.
from=$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ) to=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
stack_subcert corp alice sub "$from" "$to" && stack_subcert corp bob sub_codesign "$from" "$to" &&
	stack_subcert corp carol sub "$from" "$to" && stack_subcert corp dave sub_noku "$from" "$to" &&
	stack_subcert corp old sub 20200101000000Z 20200201000000Z &&
	stack_subcert other mallory sub "$from" "$to" && stack_subrevoke corp carol || exit 1
stack_policy_config ".submitter_cas = {\"corp\": {\"bundle\": \"$D/corp/ca.pem\", \"crl\": \"$D/corp/crl.pem\"}}
	| .submitters[\"fw-team\"] = {\"identity\": \"*@fw.example.com\", \"keys\": [\"release\"]}" || exit 1
# A key pair the agent does not know.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/stranger.key" 2>/dev/null
chmod 600 "$D/stranger.key"
stack_agent_start || exit 1

STACK_DIR=$D REDIS_SOCK=$REDIS_SOCK python3 "$SRC/tests/hostile/run.py"
status=$?

stack_agent_stop
if [ -e "$D/agent.failures" ]; then
	echo "FAIL - signet-agent exited with status $(tr '\n' ' ' < "$D/agent.failures")"
	tail -n 40 "$D/agent.log"
	status=1
else
	echo "ok   - signet-agent exited 0 on SIGTERM"
fi
exit $status
