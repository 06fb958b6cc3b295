// signetSign: sign files through a signet agent and archive the signatures.
//
// Shared library step (this directory is the library's root: vars/ and
// resources/).  Configure it in Manage Jenkins > System > Global Pipeline
// Libraries as "signet", then:
//
//   @Library('signet') _
//   signetSign key: 'release', format: 'cms', files: ['dist/firmware.bin'],
//              credentialsId: 'signet-ci-firmware'
//
// Arguments:
//   key            signing key name in the agent's policy (required)
//   files          a list of paths in the workspace, or one path (required)
//   format         'cms' (default), 'raw', 'authenticode' (Windows PE and UEFI
//                  images) or 'kmod' (kernel modules): for these two the signed
//                  file itself lands in signatures/ under the input's name;
//                  'openpgp' (an armored OpenPGP signature, signatures/NAME.asc)
//   credentialsId  a "Secret file" credential holding the submitter's
//                  private key (PEM); default 'signet-identity'
//   redis          queue URL; default env.SIGNET_REDIS
//   agentPubkey    path of the agent's attestation public key on the agent
//                  node; default env.SIGNET_AGENT_PUBKEY
//   wait           seconds to wait for each result; default 300
//   lifetime       seconds each signing request stays valid; default
//                  submit-job's (600)
//   submitJob      the submit-job executable; default 'submit-job' (PATH)
//   outDir         where signatures are written; default 'signatures'
//   archive        archive the signatures (default true)
//
// Next to each signature goes its verified result envelope,
// outDir/NAME.result.json (submit-job --result-out); both are archived.  A
// later stage checks the pair with signet-verify (the Jenkinsfile's Verify
// stage).  Outputs left in a reused workspace by an earlier build are
// replaced.  JOB_NAME, which a multibranch pipeline makes
// "folder/repo/feature%2Fx", is never used in a file or artifact name: the
// outputs are named after the signed files.
//
// A key that requires approvals (docs/signet-approve.md) keeps each job
// pending until its approvers run `signet-approve approve ID`; the step waits
// through that.  Give it the time approvers get, within the key's
// max_job_lifetime, and a pipeline or stage timeout above the wait:
//
//   timeout(time: 250, unit: 'MINUTES') {
//       signetSign key: 'release-gated', files: ['dist/release.img'],
//                  wait: 14400, lifetime: 14400, credentialsId: 'signet-ci-firmware'
//   }
//
// The shell commands are resources/signet/sign.sh; every argument reaches
// them as an environment variable, never spliced into the script text, so a
// file name cannot inject shell.  submit-job verifies every signature before
// it writes it and puts JOB_NAME, BUILD_NUMBER, STAGE_NAME, GIT_COMMIT,
// BRANCH_NAME and BUILD_URL in the signed job, where the agent's policy
// (ci.project, ci.ref) and its audit log see them.
def call(Map args = [:]) {
    if (!args.key) {
        error('signetSign: key is required')
    }
    def files = args.files instanceof CharSequence ? [args.files.toString()] : (args.files ?: [])
    if (files.isEmpty()) {
        error('signetSign: files is required')
    }
    for (f in files) {
        if (f.toString().contains('\n')) {
            error('signetSign: a file name with a newline')
        }
    }
    def format = args.format ?: 'cms'
    if (!(format in ['cms', 'raw', 'authenticode', 'kmod', 'openpgp'])) {
        error("signetSign: format is cms, raw, authenticode, kmod or openpgp, not ${format}")
    }
    def outDir = args.outDir ?: 'signatures'
    def vars = [
        "SIGNET_KEY=${args.key}",
        "SIGNET_FORMAT=${format}",
        "SIGNET_FILES=${files.join('\n')}",
        "SIGNET_WAIT=${args.wait ?: 300}",
        "SIGNET_LIFETIME=${args.lifetime ?: ''}",
        "SIGNET_SUBMIT_JOB=${args.submitJob ?: 'submit-job'}",
        "SIGNET_OUT_DIR=${outDir}",
    ]
    if (args.redis) {
        vars << "SIGNET_REDIS=${args.redis}"
    }
    if (args.agentPubkey) {
        vars << "SIGNET_AGENT_PUBKEY=${args.agentPubkey}"
    }
    def script = libraryResource('signet/sign.sh')
    withCredentials([file(credentialsId: args.credentialsId ?: 'signet-identity',
                          variable: 'SIGNET_IDENTITY')]) {
        withEnv(vars) {
            sh(label: 'signet: sign', script: script)
        }
    }
    if (args.archive != false) {
        archiveArtifacts(artifacts: "${outDir}/*", fingerprint: true)
    }
}
