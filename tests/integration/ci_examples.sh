#!/bin/bash
# The CI examples against a local stack (redis-server on a unix socket,
# SoftHSM, signet-agent):
#   - GitLab: the sample pipeline ci-examples/gitlab/.gitlab-ci.yml, which
#     includes the template, run for real by gitlab-ci-local (shell
#     executor, each job in its own copy, artifacts passed between stages),
#     as for a tag (CI_COMMIT_TAG: sign-release runs) and as for a branch
#     (it does not); the result envelopes are artifacts next to the
#     signatures and the verify jobs run signet-verify on them;
#   - Jenkins: the exact script the signetSign step runs (the library
#     resource), with the environment Jenkins and withCredentials give it,
#     twice in one workspace (the outputs of the earlier build are
#     replaced) and with a multibranch JOB_NAME; signet-verify on its
#     outputs, as the Jenkinsfile's Verify stage does;
#   - GitHub Actions: the composite action's run script, with the
#     environment the runner gives it; two uses get two artifact names;
#   - CI identity tokens: the same three once the key requires a verified
#     token (test issuers stand in for GitLab and GitHub, a local HTTP
#     server for the runner's token service);
#   - approvals: the GitLab sign-release job and the Jenkins step sign with
#     a key that requires two approvals, given here by two approvers who run
#     signet-approve in the background while the pipelines wait.
# The key "release" is limited to the CI projects the three set up, so a
# signature also proves that the CI variables reached the job.
# Needs gitlab-ci-local 4.60.1 and rsync (scripts/ci-tools.sh installs them).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NEED_TOOLS_HINT="scripts/ci-tools.sh installs it"
stack_init ci git rsync gitlab-ci-local stunnel curl python3 osslsigncode gpgv
FAIL_TAIL=25

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-gitlab ec '["release","windows","tarballs","release-gated"]'
stack_submitter ci-jenkins ec '["release","windows","release-gated"]'
stack_submitter ci-github ed25519 '["release"]'
# Approvers of release-gated only (they submit nothing).
stack_submitter ed ec '[]'
stack_submitter jo ec '[]'
cp "$D/release.chain.pem" "$D/release-gated.chain.pem"
stack_config
# "windows": Authenticode with the RSA key (PKCS#1 v1.5, as Windows wants).
stack_policy_config '.keys.release.ci_projects = ["fw/firmware", "fw-jobs/firmware", "fw-jobs/firmware/*", "example-org/firmware"]
  | .keys.windows = {"key": "pkcs11:object=release-rsa", "mechanism": "rsa-pkcs1-sha256",
      "certificates": .keys["release-rsa"].certificates, "formats": ["authenticode"]}
  | .keys.tarballs = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
      "certificates": .keys.release.certificates, "formats": ["openpgp"],
      "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "Tarballs <tarballs@example.com>"}}
  | .keys["release-gated"] = {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256",
      "certificates": "'"$D"'/release-gated.chain.pem", "formats": ["cms"], "max_job_lifetime": 14400,
      "approvals": {"required": 2, "approvers": ["ed", "jo"]}}' || exit 1
# The tarball key's OpenPGP certificate, for gpgv in the verify stage.
"$ADMIN" openpgp export -c "$D/agent.json" tarballs --binary -o "$D/tarballs.gpg" 2>/dev/null ||
	{ echo "cannot export the OpenPGP certificate"; exit 1; }
stack_agent_start || exit 1

# verify_cms SIG FILE: the signature verifies against the stack's root.
verify_cms() {
	openssl cms -verify -binary -inform DER -in "$1" -content "$2" -CAfile "$D/root.pem" \
		-purpose any -out /dev/null 2>"$D/verify.err"
}

# The approvers: ed, then jo, approve each job that waits for release-gated,
# as the people behind a real pipeline would, until $D/approvers.stop exists.
SA=${SIGNET_APPROVE:-$SIGNET_BUILD/submitter/signet-approve}
approvers_start() {
	(
		export SIGNET_REDIS SIGNET_AGENT_PUBKEY=$D/agent.pub
		while [ ! -e "$D/approvers.stop" ]; do
			for id in $("$SA" list --json 2>>"$D/approvers.log" |
				jq -r '.[] | select(.key == "release-gated") | .id'); do
				for who in ed jo; do
					SIGNET_IDENTITY=$D/$who.key "$SA" approve "$id" --yes -w 20 \
						--comment "approved by the ci_examples test" </dev/null >>"$D/approvers.log" 2>&1
				done
			done
			sleep 0.2
		done
	) &
	APPROVERS_PID=$!
}
approvers_stop() {
	[ -n "${APPROVERS_PID:-}" ] || return 0
	touch "$D/approvers.stop"
	wait "$APPROVERS_PID" 2>/dev/null
	APPROVERS_PID=""
}
on_exit approvers_stop
approvers_start

# --- GitLab: the sample pipeline under gitlab-ci-local -------------------
R=$D/gitlab-repo
mkdir -p "$R/ci-examples/gitlab"
cp "$SRC/ci-examples/gitlab/.gitlab-ci.yml" "$R/.gitlab-ci.yml"
cp "$SRC/ci-examples/gitlab/signet.gitlab-ci.yml" "$R/ci-examples/gitlab/"
cp "$SRC/tests/data/pe/tiny32.exe" "$R/app.exe"
(
	cd "$R" &&
	git init -q -b main &&
	git remote add origin https://gitlab.example.com/fw/firmware.git &&
	git add -A &&
	git -c user.name=ci -c user.email=ci@example.com commit -q -m sample
) || { echo "cannot make the sample repository"; exit 1; }
# The identity is a "File" variable in GitLab: its value is a path.
start=$(date +%s)
(
	cd "$R" &&
	HOME=$D/home gitlab-ci-local --shell-isolation --no-color \
		--variable "SIGNET_REDIS=$SIGNET_REDIS" \
		--variable "SIGNET_IDENTITY=$D/ci-gitlab.key" \
		--variable "SIGNET_AGENT_PUBKEY=$D/agent.pub" \
		--variable "SIGNET_ROOT_CA=$D/root.pem" \
		--variable "SIGNET_OPENPGP_CERT=$D/tarballs.gpg" \
		--variable "SIGNET_SUBMIT_JOB=$SUBMIT_JOB" \
		--variable "SIGNET_VERIFY=$SIGNET_VERIFY" \
		--variable "CI_COMMIT_TAG=v1.0"
) >"$D/gitlab.out" 2>&1
gl_status=$?
echo "# gitlab-ci-local exited $gl_status after $(($(date +%s) - start))s; its summary:"
grep -E 'submit-job: |signet-verify: |Verification successful|^.*Succeeded|Good signature' "$D/gitlab.out" | sed 's/^/#   /'
grep -E '^ *(PASS|FAIL|WARN) |pipeline finished' "$D/gitlab.out" | sed 's/^/#   /'
sig=$(find "$R/.gitlab-ci-local/artifacts/sign" -name firmware.bin.p7s 2>/dev/null | head -1)
art=$(find "$R/.gitlab-ci-local/artifacts/build" -name firmware.bin 2>/dev/null | head -1)
if [ "$gl_status" = 0 ] && grep -q 'PASS .*build' "$D/gitlab.out" && grep -q 'PASS .*sign' "$D/gitlab.out" &&
	grep -q 'PASS .*verify' "$D/gitlab.out" &&
	grep -q 'PASS .*sign-windows' "$D/gitlab.out" && grep -q 'PASS .*sign-tarball' "$D/gitlab.out" &&
	grep -q 'PASS .*sign-release' "$D/gitlab.out" && grep -q 'PASS .*verify-release' "$D/gitlab.out" &&
	grep -q 'signatures/release.img.p7s (two approvals) verifies against' "$D/gitlab.out" &&
	grep -q 'signatures/release.tar.gz.asc (OpenPGP) verifies with' "$D/gitlab.out" &&
	grep -q 'signatures/firmware.bin.p7s verifies against' "$D/gitlab.out" &&
	grep -q 'signatures/app.exe (Authenticode) verifies against' "$D/gitlab.out"; then
	ok "GitLab: the sample pipeline for a tag passes build, sign (ci.project fw/firmware allowed), sign-windows (Authenticode), sign-tarball (OpenPGP), sign-release (two approvals), verify and verify-release (signet-verify, openssl, osslsigncode, gpgv)"
else
	fail "GitLab: the sample pipeline (exit $gl_status)" "$D/gitlab.out"
fi
# signed_gated SUBMITTER: the audit log's signed record of that submitter's
# release-gated job, and the approvals counted for its id.
signed_gated() {
	jq -c --arg s "$1" 'select(.event == "signed" and .key == "release-gated" and .submitter == $s)' "$D/audit.log" | tail -1
}
approvers_of() {
	jq -r --arg i "$1" 'select(.event == "approval" and .id == $i and .decision == "approve" and (.ignored == null)) | .approver' \
		"$D/audit.log" | sort -u | paste -sd, -
}
gl_gated=$(signed_gated ci-gitlab | jq -r .id)
gl_expires=$(signed_gated ci-gitlab | jq -r .expires)
gl_left=$(($(date -d "$gl_expires" +%s 2>/dev/null || echo 0) - $(date +%s)))
if grep -q 'sign-release *> submit-job: waiting for approvals: 0 of 2' "$D/gitlab.out" &&
	[ -n "$gl_gated" ] && [ "$(approvers_of "$gl_gated")" = ed,jo ] &&
	[ "$gl_left" -gt 14000 ] && [ "$gl_left" -le 14400 ]; then
	ok "GitLab: sign-release waits for approvals (SIGNET_LIFETIME 14400) and is signed once ed and jo approve"
else
	fail "GitLab: sign-release (job '$gl_gated', approvers '$(approvers_of "$gl_gated")', ${gl_left}s left)" "$D/approvers.log"
fi
if [ -n "$sig" ] && [ -n "$art" ] && verify_cms "$sig" "$art"; then
	ok "GitLab: the sign job's artifact signatures/firmware.bin.p7s verifies with openssl"
else
	fail "GitLab: the signature artifact ('$sig' over '$art')" "$D/verify.err"
fi
# The result envelopes are artifacts next to the signatures, and the
# verify jobs ran signet-verify on them (its OK lines).
missing=""
for j in sign/firmware.bin sign-windows/app.exe sign-tarball/release.tar.gz sign-release/release.img; do
	[ -s "$(find "$R/.gitlab-ci-local/artifacts/${j%%/*}" -name "${j#*/}.result.json" 2>/dev/null | head -1)" ] ||
		missing="$missing ${j#*/}.result.json"
done
if [ -z "$missing" ] &&
	grep -q 'verify *> signet-verify: dist/firmware.bin: OK, signed by release' "$D/gitlab.out" &&
	grep -q 'verify *> signet-verify: signatures/app.exe: OK, signed by windows' "$D/gitlab.out" &&
	grep -q 'verify-release *> signet-verify: dist/release.img: OK, signed by release-gated' "$D/gitlab.out"; then
	ok "GitLab: every sign job keeps signatures/NAME.result.json as an artifact; the verify jobs' signet-verify passes on them"
else
	fail "GitLab: result artifacts (missing:${missing:- none}) or signet-verify in the verify jobs" "$D/gitlab.out"
fi
rv=$(find "$R/.gitlab-ci-local/artifacts/sign" -name firmware.bin.result.json 2>/dev/null | head -1)
if [ -n "$rv" ] && "$SIGNET_VERIFY" -r "$rv" -a "$D/agent.pub" -C "$D/root.pem" -s "$sig" "$art" >"$D/gl-sv.out" 2>&1; then
	ok "GitLab: the artifacts verify here too: $(cat "$D/gl-sv.out")"
else
	fail "GitLab: signet-verify on the artifacts" "$D/gl-sv.out"
fi
exe=$(find "$R/.gitlab-ci-local/artifacts/sign-windows" -name app.exe 2>/dev/null | head -1)
if [ -n "$exe" ] && osslsigncode verify -CAfile "$D/root.pem" -in "$exe" > "$D/gl-exe.out" 2>&1 &&
	grep -q '^Succeeded' "$D/gl-exe.out"; then
	ok "GitLab: the sign-windows artifact signatures/app.exe is a signed PE (osslsigncode verify: Succeeded)"
else
	fail "GitLab: the signed Windows binary ('$exe')" "$D/gl-exe.out"
fi
# --- Jenkins: the signetSign step's script ------------------------------
WS=$D/jenkins/workspace/fw-jobs_firmware_main
SECRET=$WS@tmp/secretFiles/0c6f3e2a-9d8b-4f1e-8c52-3b1f7f6a2d10
mkdir -p "$WS/dist dir" "$SECRET" "$WS@tmp/durable-1"
head -c 100000 /dev/urandom > "$WS/dist dir/fw one.bin"
head -c 1000 /dev/urandom > "$WS/dist dir/fw-two.img"
# withCredentials(file(...)) copies the secret file into @tmp, owner-only.
install -m 600 "$D/ci-jenkins.key" "$SECRET/identity.pem"
# sh(script: libraryResource(...)): Jenkins writes the script to a file in
# @tmp and runs it (by its #! line) in the workspace.
cp "$SRC/ci-examples/jenkins/resources/signet/sign.sh" "$WS@tmp/durable-1/script.sh"
chmod 755 "$WS@tmp/durable-1/script.sh"
jenkins_env=(env -i PATH="$PATH" HOME="$D" WORKSPACE="$WS"
	JENKINS_URL=https://jenkins.example.com/ JOB_NAME=fw-jobs/firmware BUILD_NUMBER=42
	STAGE_NAME=Sign GIT_COMMIT=0123456789abcdef0123456789abcdef01234567 BRANCH_NAME=main
	BUILD_URL=https://jenkins.example.com/job/fw-jobs/job/firmware/42/
	SIGNET_REDIS="$SIGNET_REDIS" SIGNET_AGENT_PUBKEY="$D/agent.pub"
	SIGNET_IDENTITY="$SECRET/identity.pem"
	SIGNET_KEY=release SIGNET_FORMAT=cms SIGNET_WAIT=60 SIGNET_SUBMIT_JOB="$SUBMIT_JOB"
	SIGNET_OUT_DIR=signatures)
files=$'dist dir/fw one.bin\ndist dir/fw-two.img'
(cd "$WS" && "${jenkins_env[@]}" SIGNET_FILES="$files" "$WS@tmp/durable-1/script.sh") >"$D/jenkins.out" 2>&1
st=$?
if [ "$st" = 0 ] && verify_cms "$WS/signatures/fw one.bin.p7s" "$WS/dist dir/fw one.bin" &&
	verify_cms "$WS/signatures/fw-two.img.p7s" "$WS/dist dir/fw-two.img"; then
	ok "Jenkins: signetSign's script signs two files (one with a blank in its name, ci.project from JOB_NAME); both verify"
else
	fail "Jenkins: signetSign's script (exit $st)" "$D/jenkins.out"
fi
# The Verify stage of the Jenkinsfile: signet-verify on the archived pair.
if "$SIGNET_VERIFY" -r "$WS/signatures/fw one.bin.result.json" -a "$D/agent.pub" -C "$D/root.pem" \
	-s "$WS/signatures/fw one.bin.p7s" "$WS/dist dir/fw one.bin" >"$D/jk-sv.out" 2>&1 &&
	"$SIGNET_VERIFY" -r "$WS/signatures/fw-two.img.result.json" -a "$D/agent.pub" -C "$D/root.pem" \
		-s "$WS/signatures/fw-two.img.p7s" "$WS/dist dir/fw-two.img" >>"$D/jk-sv.out" 2>&1; then
	ok "Jenkins: each signature has its result envelope next to it; signet-verify passes on both"
else
	fail "Jenkins: signet-verify on the step's outputs" "$D/jk-sv.out"
fi
# The next build in the same workspace signs the same file again: the
# outputs of the earlier build are replaced, not an error.
old_sum=$(sha256sum "$WS/signatures/fw-two.img.p7s" "$WS/signatures/fw-two.img.result.json" | cut -d' ' -f1)
(cd "$WS" && "${jenkins_env[@]}" BUILD_NUMBER=43 SIGNET_FILES="dist dir/fw-two.img" "$WS@tmp/durable-1/script.sh") >"$D/jenkins2.out" 2>&1
st=$?
new_sum=$(sha256sum "$WS/signatures/fw-two.img.p7s" "$WS/signatures/fw-two.img.result.json" 2>/dev/null | cut -d' ' -f1)
if [ "$st" = 0 ] && grep -q 'replacing signatures/fw-two.img.p7s from an earlier build' "$D/jenkins2.out" &&
	[ "$old_sum" != "$new_sum" ] && verify_cms "$WS/signatures/fw-two.img.p7s" "$WS/dist dir/fw-two.img" &&
	"$SIGNET_VERIFY" -q -r "$WS/signatures/fw-two.img.result.json" -a "$D/agent.pub" -C "$D/root.pem" \
		-s "$WS/signatures/fw-two.img.p7s" "$WS/dist dir/fw-two.img" >/dev/null 2>&1; then
	ok "Jenkins: a reused workspace: the second build replaces the first build's signature and result (exit 0, both verify)"
else
	fail "Jenkins: reused workspace (exit $st)" "$D/jenkins2.out"
fi
# Two files with the same base name in one step: refused before submitting.
mkdir -p "$WS/other"
cp "$WS/dist dir/fw-two.img" "$WS/other/fw-two.img"
(cd "$WS" && "${jenkins_env[@]}" SIGNET_FILES=$'dist dir/fw-two.img\nother/fw-two.img' "$WS@tmp/durable-1/script.sh") >"$D/jenkins8.out" 2>&1
st=$?
if [ "$st" = 2 ] && grep -q 'two files named fw-two.img' "$D/jenkins8.out"; then
	ok "Jenkins: two files with the same base name in one step are refused (exit 2)"
else
	fail "Jenkins: same base name twice (exit $st)" "$D/jenkins8.out"
fi
# A multibranch pipeline: JOB_NAME is folder/repo/branch with the branch's
# slash as %2F.  It goes into ci.project only (the policy allows
# fw-jobs/firmware/*); the outputs are named after the file.
rm -rf "$WS/signatures"
(cd "$WS" && "${jenkins_env[@]}" JOB_NAME='fw-jobs/firmware/feature%2Fusb boot' BRANCH_NAME=feature/usb \
	SIGNET_FILES="dist dir/fw one.bin" "$WS@tmp/durable-1/script.sh") >"$D/jenkins9.out" 2>&1
st=$?
mb_name=$(jq -r 'select(.event == "signed" and .submitter == "ci-jenkins") | .artifact' "$D/audit.log" 2>/dev/null | tail -1)
if [ "$st" = 0 ] && [ "$(find "$WS/signatures" -type f | sort | tr '\n' ' ')" = "$WS/signatures/fw one.bin.p7s $WS/signatures/fw one.bin.result.json " ] &&
	"$SIGNET_VERIFY" -q -r "$WS/signatures/fw one.bin.result.json" -a "$D/agent.pub" -C "$D/root.pem" \
		-s "$WS/signatures/fw one.bin.p7s" "$WS/dist dir/fw one.bin" >/dev/null 2>&1 &&
	[ "$mb_name" = "fw one.bin" ]; then
	ok "Jenkins: a multibranch JOB_NAME (fw-jobs/firmware/feature%2Fusb boot, allowed as fw-jobs/firmware/*) signs; the artifact and outputs keep the file's name ('$mb_name')"
else
	fail "Jenkins: multibranch JOB_NAME (exit $st)" "$D/jenkins9.out"
fi
# A project the key's policy does not allow: rejected, no signature, and
# the stale signature of an earlier build is gone (not archived again); the
# result file is the attested rejection (--result-out writes any status).
(cd "$WS" && "${jenkins_env[@]}" JOB_NAME=other/thing SIGNET_FILES="dist dir/fw one.bin" \
	"$WS@tmp/durable-1/script.sh") >"$D/jenkins3.out" 2>&1
st=$?
if [ "$st" = 1 ] && grep -q 'policy.ci_project' "$D/jenkins3.out" && [ ! -e "$WS/signatures/fw one.bin.p7s" ] &&
	[ "$(jq -r .payload "$WS/signatures/fw one.bin.result.json" | base64 -d | jq -r .status)" = rejected ]; then
	ok "Jenkins: a job outside the allowed projects is rejected (policy.ci_project, exit 1); the earlier build's signature is gone, the result file holds the rejection"
else
	fail "Jenkins: rejected project (exit $st)" "$D/jenkins3.out"
fi
# Authenticode through the same step: signatures/<name> is the signed copy.
cp "$SRC/tests/data/pe/tiny64.efi" "$WS/dist dir/boot.efi"
(cd "$WS" && "${jenkins_env[@]}" SIGNET_KEY=windows SIGNET_FORMAT=authenticode \
	SIGNET_FILES="dist dir/boot.efi" "$WS@tmp/durable-1/script.sh") >"$D/jenkins5.out" 2>&1
st=$?
if [ "$st" = 0 ] && osslsigncode verify -CAfile "$D/root.pem" -in "$WS/signatures/boot.efi" >"$D/jk-efi.out" 2>&1 &&
	grep -q '^Succeeded' "$D/jk-efi.out" && cmp -s "$WS/dist dir/boot.efi" "$SRC/tests/data/pe/tiny64.efi"; then
	ok "Jenkins: signetSign with format authenticode writes the signed image to signatures/boot.efi (osslsigncode: Succeeded), the input unchanged"
else
	fail "Jenkins: authenticode (exit $st)" "$D/jenkins5.out"
fi
# A missing file: usage error before anything is submitted.
(cd "$WS" && "${jenkins_env[@]}" SIGNET_FILES="dist dir/none.bin" "$WS@tmp/durable-1/script.sh") >"$D/jenkins4.out" 2>&1
st=$?
if [ "$st" = 2 ] && grep -q 'no such file' "$D/jenkins4.out"; then
	ok "Jenkins: a missing file stops the step (exit 2)"
else
	fail "Jenkins: missing file (exit $st)" "$D/jenkins4.out"
fi
# A key that requires approvals: the step waits (lifetime 3600 s) until
# the approvers in the background approve.
(cd "$WS" && "${jenkins_env[@]}" SIGNET_KEY=release-gated SIGNET_WAIT=120 SIGNET_LIFETIME=3600 \
	SIGNET_FILES="dist dir/fw one.bin" SIGNET_OUT_DIR=gated "$WS@tmp/durable-1/script.sh") >"$D/jenkins6.out" 2>&1
st=$?
jk_gated=$(signed_gated ci-jenkins | jq -r .id)
jk_left=$(($(date -d "$(signed_gated ci-jenkins | jq -r .expires)" +%s 2>/dev/null || echo 0) - $(date +%s)))
if [ "$st" = 0 ] && grep -q 'waiting for approvals: 0 of 2' "$D/jenkins6.out" &&
	verify_cms "$WS/gated/fw one.bin.p7s" "$WS/dist dir/fw one.bin" && [ "$(approvers_of "$jk_gated")" = ed,jo ] &&
	[ "$jk_left" -gt 3400 ] && [ "$jk_left" -le 3600 ]; then
	ok "Jenkins: with lifetime 3600, signetSign waits for two approvals on release-gated; the signature verifies"
else
	fail "Jenkins: release-gated (exit $st, approvers '$(approvers_of "$jk_gated")', ${jk_left}s left)" "$D/jenkins6.out"
fi
(cd "$WS" && "${jenkins_env[@]}" SIGNET_LIFETIME="1 --key other" SIGNET_FILES="dist dir/fw-two.img" \
	SIGNET_OUT_DIR=bad "$WS@tmp/durable-1/script.sh") >"$D/jenkins7.out" 2>&1
st=$?
if [ "$st" = 2 ] && grep -q 'lifetime is a number of seconds' "$D/jenkins7.out" && [ ! -e "$WS/bad" ]; then
	ok "Jenkins: a lifetime that is not a number stops the step (exit 2)"
else
	fail "Jenkins: bad lifetime (exit $st)" "$D/jenkins7.out"
fi

# --- GitHub Actions: the composite action's run script -------------------
GW=$D/github/work
mkdir -p "$GW/dist" "$D/github/temp"
head -c 5000 /dev/urandom > "$GW/dist/app.tar"
(cd "$GW" && env -i PATH="$PATH" HOME="$D" GITHUB_ACTIONS=true CI=true \
	GITHUB_ACTION_PATH="$SRC/ci-examples/github" RUNNER_TEMP="$D/github/temp" \
	GITHUB_REPOSITORY=example-org/firmware GITHUB_RUN_ID=777 GITHUB_JOB=sign \
	GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 GITHUB_REF=refs/tags/v1.0 \
	GITHUB_SERVER_URL=https://github.com \
	SIGNET_KEY=release SIGNET_FILES="dist/app.tar" SIGNET_FORMAT=raw \
	SIGNET_REDIS="$SIGNET_REDIS" SIGNET_IN_IDENTITY="$(cat "$D/ci-github.key")" \
	SIGNET_IN_AGENT_PUBKEY="$(cat "$D/agent.pub")" SIGNET_IN_REDIS_PASSWORD="" \
	SIGNET_WAIT=60 SIGNET_LIFETIME=700 SIGNET_SUBMIT_JOB="$SUBMIT_JOB" SIGNET_OUT_DIR=signatures \
	GITHUB_OUTPUT="$D/github/output1" "$SRC/ci-examples/github/sign.sh") >"$D/github.out" 2>&1
st=$?
gh_expires=$(jq -r 'select(.event == "signed" and .submitter == "ci-github") | .expires' "$D/audit.log" | tail -1)
gh_left=$(($(date -d "$gh_expires" +%s 2>/dev/null || echo 0) - $(date +%s)))
if [ "$st" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" -signature "$GW/signatures/app.tar.sig" "$GW/dist/app.tar" >/dev/null 2>&1 &&
	[ "$gh_left" -gt 600 ] && [ "$gh_left" -le 700 ]; then
	ok "GitHub: the action's script signs with PEM text inputs; ci.project from GITHUB_REPOSITORY; lifetime 700 reaches the job; the raw signature verifies"
else
	fail "GitHub: the action's script (exit $st)" "$D/github.out"
fi
# A second use of the action in the same job, for another file: its own
# artifact name and its own files.
head -c 3000 /dev/urandom > "$GW/dist/app-b.tar"
(cd "$GW" && env -i PATH="$PATH" HOME="$D" GITHUB_ACTIONS=true CI=true \
	GITHUB_ACTION_PATH="$SRC/ci-examples/github" RUNNER_TEMP="$D/github/temp" \
	GITHUB_REPOSITORY=example-org/firmware GITHUB_RUN_ID=777 GITHUB_JOB=sign \
	GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 GITHUB_REF=refs/tags/v1.0 \
	GITHUB_SERVER_URL=https://github.com \
	SIGNET_KEY=release SIGNET_FILES="dist/app-b.tar" SIGNET_FORMAT=raw \
	SIGNET_REDIS="$SIGNET_REDIS" SIGNET_IN_IDENTITY="$(cat "$D/ci-github.key")" \
	SIGNET_IN_AGENT_PUBKEY="$(cat "$D/agent.pub")" SIGNET_IN_REDIS_PASSWORD="" \
	SIGNET_WAIT=60 SIGNET_SUBMIT_JOB="$SUBMIT_JOB" SIGNET_OUT_DIR=signatures \
	GITHUB_OUTPUT="$D/github/output2" "$SRC/ci-examples/github/sign.sh") >"$D/github-b.out" 2>&1
st=$?
gh_name1=$(sed -n 's/^artifact-name=//p' "$D/github/output1" 2>/dev/null)
gh_name2=$(sed -n 's/^artifact-name=//p' "$D/github/output2" 2>/dev/null)
if [ "$st" = 0 ] && [ "$gh_name1" = signatures-sign-app.tar-raw ] && [ "$gh_name2" = signatures-sign-app-b.tar-raw ] &&
	grep -qx 'signatures/app-b.tar.sig' "$D/github/output2" && grep -qx 'signatures/app-b.tar.result.json' "$D/github/output2" &&
	! grep -q 'signatures/app.tar' "$D/github/output2"; then
	ok "GitHub: two uses in one job upload under two names ($gh_name1, $gh_name2), each only its own files"
else
	fail "GitHub: artifact names of two uses ('$gh_name1', '$gh_name2', exit $st)" "$D/github-b.out"
fi
if "$SIGNET_VERIFY" -r "$GW/signatures/app.tar.result.json" -a "$D/agent.pub" -C "$D/root.pem" \
	-s "$GW/signatures/app.tar.sig" "$GW/dist/app.tar" >"$D/gh-sv.out" 2>&1 &&
	"$SIGNET_VERIFY" -r "$GW/signatures/app-b.tar.result.json" -a "$D/agent.pub" -C "$D/root.pem" \
		-s "$GW/signatures/app-b.tar.sig" "$GW/dist/app-b.tar" >>"$D/gh-sv.out" 2>&1; then
	ok "GitHub: the result envelopes are written next to the signatures; signet-verify passes, as in the workflow's verify job"
else
	fail "GitHub: signet-verify on the action's outputs" "$D/gh-sv.out"
fi
if [ -z "$(ls -A "$D/github/temp")" ]; then
	ok "GitHub: the identity and agent key written under RUNNER_TEMP are gone"
else
	fail "GitHub: leftovers in RUNNER_TEMP or ci.project missing: $(ls -A "$D/github/temp")"
fi

# --- CI identity tokens ---------------------------------------------------
# release now requires a verified token from the GitLab or the GitHub issuer
# (each a key pair made here) for a tag; the plain policy comes back after.
JWT_TOOL=$SRC/tests/jwt_tool.py
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/gl-iss.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/gh-iss.key" 2>/dev/null
python3 "$JWT_TOOL" jwks gl-1="$D/gl-iss.key" > "$D/gl-jwks.json"
python3 "$JWT_TOOL" jwks gh-1="$D/gh-iss.key" > "$D/gh-jwks.json"
cp "$D/agent.json" "$D/agent.plain.json"
stack_policy_config "
  .ci_issuers = {gitlab: {issuer: \"https://gitlab.example.com\", audience: \"signet\", jwks: \"$D/gl-jwks.json\", kind: \"gitlab\"},
                 github: {issuer: \"https://token.actions.githubusercontent.com\", audience: \"signet\", jwks: \"$D/gh-jwks.json\", kind: \"github\"}} |
  .keys.release += {ci_token: \"required\", ci_token_issuers: [\"gitlab\", \"github\"], ci_refs: [\"refs/tags/v*\"]}"
kill -HUP "$STACK_AGENT_PID"
for _ in $(seq 1 50); do grep -q "policy reloaded" "$D/agent.log" && break; sleep 0.1; done
GL_TOKEN=$(python3 "$JWT_TOOL" token --key "$D/gl-iss.key" --kid gl-1 --alg RS256 \
	'{"iss":"https://gitlab.example.com","aud":"signet","exp":"@NOW+600@","iat":"@NOW-5@","project_path":"fw/firmware","ref":"v1.0","ref_type":"tag","ref_protected":"true","pipeline_id":"99"}')
GH_TOKEN=$(python3 "$JWT_TOOL" token --key "$D/gh-iss.key" --kid gh-1 --alg ES256 \
	'{"iss":"https://token.actions.githubusercontent.com","aud":"signet","exp":"@NOW+600@","iat":"@NOW-5@","repository":"example-org/firmware","ref":"refs/tags/v1.0","run_id":"778"}')

# GitLab: the template asks for id_tokens; gitlab-ci-local leaves them
# unset, so the token comes in as a variable of the same name.
rm -rf "$R/.gitlab-ci-local"
(
	cd "$R" &&
	HOME=$D/home gitlab-ci-local --shell-isolation --no-color \
		--variable "SIGNET_REDIS=$SIGNET_REDIS" \
		--variable "SIGNET_IDENTITY=$D/ci-gitlab.key" \
		--variable "SIGNET_AGENT_PUBKEY=$D/agent.pub" \
		--variable "SIGNET_ROOT_CA=$D/root.pem" \
		--variable "SIGNET_OPENPGP_CERT=$D/tarballs.gpg" \
		--variable "SIGNET_SUBMIT_JOB=$SUBMIT_JOB" \
		--variable "SIGNET_VERIFY=$SIGNET_VERIFY" \
		--variable "SIGNET_CI_TOKEN=$GL_TOKEN"
) >"$D/gitlab-token.out" 2>&1
gl_status=$?
# No CI_COMMIT_TAG this time: as for a branch, sign-release does not run.
if [ "$gl_status" = 0 ] && grep -q 'PASS .*verify' "$D/gitlab-token.out" &&
	! grep -q 'sign-release' "$D/gitlab-token.out" && ! grep -q 'verify-release' "$D/gitlab-token.out"; then
	ok "GitLab: without CI_COMMIT_TAG (a branch pipeline) sign-release and verify-release do not run; the rest passes"
else
	fail "GitLab: branch pipeline (exit $gl_status)" "$D/gitlab-token.out"
fi
if [ "$gl_status" = 0 ] && grep -q 'PASS .*sign' "$D/gitlab-token.out" && grep -q 'PASS .*verify' "$D/gitlab-token.out" &&
	grep -q '"ci_verified":{"issuer":"https://gitlab.example.com","issuer_name":"gitlab","project":"fw/firmware","ref":"refs/tags/v1.0"' "$D/audit.log"; then
	ok "GitLab: with a key that requires a token, the pipeline signs with SIGNET_CI_TOKEN (verified fw/firmware, refs/tags/v1.0)"
else
	fail "GitLab: the pipeline with an identity token (exit $gl_status)" "$D/gitlab-token.out"
fi
if ! grep -qF "${GL_TOKEN##*.}" "$D/gitlab-token.out"; then
	ok "GitLab: the token does not appear in the pipeline's output"
else
	fail "GitLab: the token is in the pipeline's output"
fi

# GitHub: a stand-in for the runner's token service, which answers
# {"count":..., "value":"<JWT>"} to the bearer of the request token.
cat > "$D/token-service.py" <<'PY'
import http.server, json, sys, urllib.parse
port_file, bearer, token, log = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        with open(log, "a") as f:
            f.write("audience=%s auth=%s\n" % (q.get("audience", [""])[0],
                    self.headers.get("Authorization") == "bearer " + bearer))
        if self.headers.get("Authorization") != "bearer " + bearer:
            self.send_response(401); self.end_headers(); return
        body = json.dumps({"count": len(token), "value": token}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
PY
REQ_BEARER=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
python3 "$D/token-service.py" "$D/token-service.port" "$REQ_BEARER" "$GH_TOKEN" "$D/token-service.log" &
TS_PID=$!
for _ in $(seq 1 100); do [ -s "$D/token-service.port" ] && break; sleep 0.05; done
head -c 5000 /dev/urandom > "$GW/dist/app2.tar"
(cd "$GW" && env -i PATH="$PATH" HOME="$D" GITHUB_ACTIONS=true CI=true \
	GITHUB_ACTION_PATH="$SRC/ci-examples/github" RUNNER_TEMP="$D/github/temp" \
	GITHUB_REPOSITORY=example-org/firmware GITHUB_RUN_ID=778 GITHUB_JOB=sign \
	GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 GITHUB_REF=refs/tags/v1.0 \
	GITHUB_SERVER_URL=https://github.com \
	ACTIONS_ID_TOKEN_REQUEST_URL="http://127.0.0.1:$(cat "$D/token-service.port")/token?api-version=2.0" \
	ACTIONS_ID_TOKEN_REQUEST_TOKEN="$REQ_BEARER" \
	SIGNET_KEY=release SIGNET_FILES="dist/app2.tar" SIGNET_FORMAT=raw \
	SIGNET_REDIS="$SIGNET_REDIS" SIGNET_IN_IDENTITY="$(cat "$D/ci-github.key")" \
	SIGNET_IN_AGENT_PUBKEY="$(cat "$D/agent.pub")" SIGNET_IN_REDIS_PASSWORD="" \
	SIGNET_WAIT=60 SIGNET_SUBMIT_JOB="$SUBMIT_JOB" SIGNET_OUT_DIR=signatures \
	"$SRC/ci-examples/github/sign.sh") >"$D/github-token.out" 2>&1
st=$?
kill "$TS_PID" 2>/dev/null
wait "$TS_PID" 2>/dev/null
if [ "$st" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" -signature "$GW/signatures/app2.tar.sig" \
	"$GW/dist/app2.tar" >/dev/null 2>&1 && grep -q "audience=signet auth=True" "$D/token-service.log" &&
	grep -q '"ci_verified":{"issuer":"https://token.actions.githubusercontent.com","issuer_name":"github","project":"example-org/firmware","ref":"refs/tags/v1.0"' "$D/audit.log"; then
	ok "GitHub: the action's script fetches the OIDC token (audience signet) with curl; the verified job is signed"
else
	fail "GitHub: the action's script with an OIDC token (exit $st)" "$D/github-token.out"
fi
if [ "$(grep -cF "${GH_TOKEN##*.}" "$D/github-token.out")" = 1 ] && grep -q "^::add-mask::" "$D/github-token.out"; then
	ok "GitHub: the token appears only in the ::add-mask:: command"
else
	fail "GitHub: the token in the step's output" "$D/github-token.out"
fi

# Jenkins has no identity token: such a key refuses its jobs.
rm -rf "$WS/signatures"
(cd "$WS" && "${jenkins_env[@]}" SIGNET_FILES="dist dir/fw-two.img" "$WS@tmp/durable-1/script.sh") >"$D/jenkins-token.out" 2>&1
st=$?
if [ "$st" = 1 ] && grep -q 'policy.ci_token' "$D/jenkins-token.out"; then
	ok "Jenkins: without an identity token, a key that requires one refuses the job (policy.ci_token)"
else
	fail "Jenkins against a key that requires a token (exit $st)" "$D/jenkins-token.out"
fi
cp "$D/agent.plain.json" "$D/agent.json"
approvers_stop

# --- docs/operations.md: Redis behind stunnel (contrib/stunnel) ------------
# redis-server on 127.0.0.1 only; the server-side stunnel in front of it
# (client certificates required); the client-side stunnel gives the agent
# and submit-job a local plain port.  Only the ports and paths are changed.
stack_agent_stop
base=$((30000 + RANDOM % 20000))
RPORT=$base SPORT=$((base + 1)) CPORT=$((base + 2))
T=$D/tls
mkdir -p "$T"
tls_cert() { # NAME CN ISSUER EXT
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null &&
	openssl req -new -key "$T/$1.key" -subj "/CN=$2" -out "$T/$1.csr" 2>/dev/null &&
	openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" -days 2 \
		-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		-extfile "$T/ext.cnf" -extensions "$4" -out "$T/$1.crt" 2>/dev/null
}
cat > "$T/ext.cnf" <<'CNF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign
[server]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
[client]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = clientAuth
CNF
for ca in redis-ca clients-ca other-ca; do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$ca.key" 2>/dev/null
	openssl req -new -x509 -key "$T/$ca.key" -subj "/CN=$ca" -days 2 -config "$T/ext.cnf" \
		-extensions ca -out "$T/$ca.pem" 2>/dev/null
done
tls_cert server localhost redis-ca server && tls_cert client hsm-1 clients-ca client &&
	tls_cert stranger stranger other-ca client || echo "# TLS test certificates could not be made"
chmod 600 "$T"/*.key
# tls_conf SRC OUT SED...: a contrib/stunnel file with ports and paths for the test.
tls_conf() {
	local src=$1 out=$2
	shift 2
	local n
	n=$(basename "$out" .conf)
	sed -e '/^setuid\|^setgid/d' -e "s#^foreground = yes#foreground = yes\\noutput = $T/$n.log#" "$@" \
		"$SRC/contrib/stunnel/$src" > "$out"
}
tls_conf redis-server-side.conf "$T/server.conf" -e "s#^accept = .*#accept = 127.0.0.1:$SPORT#" \
	-e "s#^connect = .*#connect = 127.0.0.1:$RPORT#" -e "s#/etc/stunnel/signet-redis.crt#$T/server.crt#" \
	-e "s#/etc/stunnel/signet-redis.key#$T/server.key#" -e "s#/etc/stunnel/signet-clients-ca.pem#$T/clients-ca.pem#"
tls_conf redis-client-side.conf "$T/client.conf" -e "s#^accept = .*#accept = 127.0.0.1:$CPORT#" \
	-e "s#^connect = .*#connect = 127.0.0.1:$SPORT#" -e "s#^checkHost = .*#checkHost = localhost#" \
	-e "s#/etc/stunnel/signet-redis-ca.pem#$T/redis-ca.pem#" -e "s#/etc/stunnel/signet-client.crt#$T/client.crt#" \
	-e "s#/etc/stunnel/signet-client.key#$T/client.key#"
sed -e "s#$T/client.crt#$T/stranger.crt#" -e "s#$T/client.key#$T/stranger.key#" -e "s#$CPORT#$((base + 3))#" \
	-e "s#client.log#stranger.log#" "$T/client.conf" > "$T/stranger.conf"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" --daemonize yes \
	--pidfile "$T/redis.pid" --logfile "$T/redis.log" >/dev/null
tls_ok=1
# As systemd's stunnel@.service runs them: in the foreground (here, in the
# background of this script).
for c in server client stranger; do
	stunnel "$T/$c.conf" >"$T/$c.start" 2>&1 &
	echo $! > "$T/$c.spid"
done
tls_stop() {
	local p
	for p in "$T"/*.spid "$T"/redis.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
}
on_exit tls_stop
sleep 0.3
for c in server client stranger; do
	kill -0 "$(cat "$T/$c.spid")" 2>/dev/null || { tls_ok=0; echo "# stunnel $c did not start:"; tail -5 "$T/$c.start" "$T/$c.log"; }
done
for _ in $(seq 1 100); do redis-cli -p "$CPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
if [ "$tls_ok" = 1 ] && [ "$(redis-cli -p "$CPORT" ping 2>&1)" = PONG ]; then
	ok "stunnel: the client-side example reaches redis-server through the server-side example (TLS 1.3)"
else
	fail "stunnel: no PONG through the tunnel" "$T/client.log"
fi
if ! redis-cli -p "$((base + 3))" ping 2>/dev/null | grep -q PONG && grep -q 'Rejected by CERT at depth=0: CN=stranger' "$T/server.log"; then
	ok "stunnel: a client certificate from another CA is refused by the server side"
else
	fail "stunnel: a stranger's certificate got through" "$T/server.log"
fi
stack_policy_config ".redis = \"redis://127.0.0.1:$CPORT\""
if stack_agent_start; then
	head -c 3000 /dev/urandom > "$D/tls.bin"
	if (cd "$D" && env -i PATH="$PATH" JOB_NAME=fw-jobs/firmware BUILD_NUMBER=43 \
		"$SUBMIT_JOB" -k release -f cms -i "$D/ci-jenkins.key" -a "$D/agent.pub" -w 60 \
		-r "redis://127.0.0.1:$CPORT" tls.bin) >"$D/tls.out" 2>&1 && verify_cms "$D/tls.bin.p7s" "$D/tls.bin"; then
		ok "stunnel: signet-agent and submit-job sign through the tunnel (redis://127.0.0.1:$CPORT)"
	else
		fail "stunnel: signing through the tunnel" "$D/tls.out"
	fi
else
	fail "stunnel: signet-agent did not start on the tunnel" "$D/agent.log"
fi

stack_agent_stop
if [ ! -s "$D/agent.failures" ]; then
	ok "signet-agent exited cleanly"
else
	fail "signet-agent exit status $(cat "$D/agent.failures")" "$D/agent.log"
fi
summary "# "
