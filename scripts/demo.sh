#!/bin/bash
# The signet demo: installs what it needs (Debian 12, as root), builds, brings
# up a throwaway stack in ./demo (redis-server on a unix socket, a SoftHSM
# token with keys and certificates, signet-agent), signs a sample file with
# submit-job, signs a UEFI image (Debian's unsigned shim) with Authenticode,
# shows the two-person rule (a key whose jobs wait until two approvers
# approve them with signet-approve), checks the signatures with openssl,
# osslsigncode and signet-verify, and the audit log against its signed
# checkpoint.  Everything it starts
# is stopped when it ends; the files stay in ./demo for you to look at.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
sh scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
echo "built signet in $ROOT/build"

rm -rf demo
mkdir -p demo
STACK_DIR=$ROOT/demo
SIGNET_BUILD=$ROOT/build
. scripts/stack.sh
trap stack_cleanup EXIT

echo "starting a throwaway stack in $STACK_DIR:"
stack_redis_start
stack_token_init
# A key of its own for UEFI images (docs/formats.md: one key per use).
p11_keygen 03 uefi ec-p256 && leaf_cert uefi
stack_submitter ci-firmware ec '["release","release-rsa","uefi","release-gated"]'
# Two people who approve release-gated jobs (docs/signet-approve.md); they
# submit nothing themselves.
stack_submitter ana ec '[]'
stack_submitter ben ec '[]'
# release-gated: the release key in the token under another name, whose
# jobs wait for two approvals (an hour to collect them).
cp demo/release.chain.pem demo/release-gated.chain.pem
stack_config
stack_policy_config '.keys.uefi = {"key": "pkcs11:object=uefi", "mechanism": "ecdsa-sha256",
  "certificates": "'"$STACK_DIR"'/uefi.chain.pem", "formats": ["authenticode"]}
  | .keys["release-gated"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
  "certificates": "'"$STACK_DIR"'/release-gated.chain.pem", "formats": ["cms"], "max_job_lifetime": 3600,
  "approvals": {"required": 2, "approvers": ["ana", "ben"]}}'
stack_agent_start

head -c 65536 /dev/urandom > demo/firmware.bin
echo "signing demo/firmware.bin through the queue and the HSM:"
export SIGNET_REDIS SIGNET_AGENT_PUBKEY=$STACK_DIR/agent.pub SIGNET_IDENTITY=$STACK_DIR/ci-firmware.key
build/submitter/submit-job --key release --format cms demo/firmware.bin 2>&1 | sed 's/^/  /'
build/submitter/submit-job --key release-rsa --format raw demo/firmware.bin 2>&1 | sed 's/^/  /'

echo "verifying with openssl:"
openssl cms -verify -binary -inform DER -in demo/firmware.bin.p7s -content demo/firmware.bin \
	-CAfile demo/root.pem -purpose any -out /dev/null 2>&1 | sed 's/^/  cms (ECDSA P-256, chain to the demo root): /'
openssl dgst -sha256 -verify demo/release-rsa.pub.pem -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32 -signature demo/firmware.bin.sig demo/firmware.bin 2>&1 |
	sed 's/^/  raw (RSA-3072 PSS): /'
cp /usr/lib/shim/shimx64.efi demo/shimx64.efi
echo "signing the UEFI image demo/shimx64.efi (Authenticode, signed in place):"
build/submitter/submit-job --key uefi --format authenticode demo/shimx64.efi 2>&1 | sed 's/^/  /'
echo "verifying it with osslsigncode:"
osslsigncode verify -CAfile demo/root.pem -in demo/shimx64.efi 2>&1 |
	grep -E '^(Signer|	Subject|Calculated|Signature verification|Number of|Succeeded|Failed)' | sed 's/^/  /'
echo "the two-person rule: key release-gated signs only once two approvers (ana, ben) approve;"
echo "submit-job waits in the background meanwhile:"
build/submitter/submit-job --key release-gated --format cms --json --wait 120 --lifetime 1800 \
	--output demo/firmware.bin.gated.p7s demo/firmware.bin >demo/gated.json 2>demo/gated.err &
gated_pid=$!
for _ in $(seq 1 100); do grep -q "waiting for approvals" demo/gated.err && break; sleep 0.05; done
sed 's/^/  /' demo/gated.err
# Each approver uses their own key; the queue and agent key are the same.
approve_as() { SIGNET_IDENTITY=$STACK_DIR/$1.key build/submitter/signet-approve "${@:2}"; }
echo "what an approver sees (signet-approve list, then signet-approve show ID):"
approve_as ana list 2>&1 | sed 's/^/  /'
gated_id=$(approve_as ana list --json | jq -r '.[0].id')
approve_as ana show "$gated_id" 2>&1 | sed 's/^/  /'
echo "ana approves, then ben (signet-approve approve ID; --yes as there is no terminal to ask on):"
# approve shows the job again (as show does) before it signs the decision;
# only its verdict is shown here.
approve_as ana approve "$gated_id" --yes --comment "release notes checked" 2>&1 |
	sed -n 's/^signet-approve: /  ana: signet-approve: /p'
approve_as ben approve "$gated_id" --yes 2>&1 | sed -n 's/^signet-approve: /  ben: signet-approve: /p'
wait "$gated_pid"
echo "submit-job meanwhile, until the agent signed (exit 0; its result from --json):"
sed '1d; s/^/  /' demo/gated.err
jq -r '"  \(.status) \(.artifact.name) with key \(.key) (job \(.id)) at \(.signed_at)"' demo/gated.json
echo "verifying with openssl:"
openssl cms -verify -binary -inform DER -in demo/firmware.bin.gated.p7s -content demo/firmware.bin \
	-CAfile demo/root.pem -purpose any -out /dev/null 2>&1 | sed 's/^/  cms (release-gated, two approvals): /'
echo "the approvals listed in the signed result:"
jq -r '.approvals[] | "  \(.approver) (\(.keyid[0:23])...) at \(.at)\(if .comment then ": " + .comment else "" end)"' demo/gated.json
echo "what a consumer checks (signature, result attestation, chain, audit proof):"
id=$(find demo/store/release -mindepth 1 -maxdepth 1 -type d ! -name ".*" -printf "%f\n" | head -1)
build/verifier/signet-verify -r "demo/store/release/$id/result.json" -a demo/agent.pub \
	-C demo/root.pem -s demo/firmware.bin.p7s demo/firmware.bin 2>&1 | sed 's/^/  /'
stack_agent_stop # its last checkpoint is signed and published at shutdown
echo "the agent's audit log (demo/audit.log) holds $(wc -l < demo/audit.log) records:"
sed 's/^/  /' demo/audit.log | cut -c1-150
echo "its signed checkpoint (demo/store/audit/checkpoints/latest):"
sed 's/^/  /' demo/store/audit/checkpoints/latest
echo "what an auditor checks (the log, its checkpoint, and that every signature in the"
echo "HSM signer's own journal is accounted for in the log):"
build/admin/signet-admin audit verify demo/audit.log --checkpoint demo/store/audit/checkpoints/latest \
	--key demo/agent.pub --signer-journal demo/audit.log.signer 2>&1 | sed 's/^/  /'
echo "done: the stack is stopped; its files stay in ./demo"
