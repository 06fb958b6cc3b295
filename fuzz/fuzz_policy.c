/*
 * fuzz_policy.c — the policy decision on hostile jobs, and the pattern
 * matcher on hostile patterns.
 *
 * Once, a configuration with every kind of rule is loaded (its files are
 * the unit-test fixtures, named by SIGNET_TEST_DATA).  Per input:
 *   - the bytes up to the first newline are a pattern and the rest a
 *     string for policy_glob(), which must answer (and quickly: it is
 *     linear, so a hostile pattern cannot make it backtrack);
 *   - the whole input is parsed as a job; one that parses goes through
 *     policy_decide() for a pinned submitter and for certificate
 *     identities, whose answer must be 0 or a code the policy may give;
 *     the "nightly" key requires a verified ci_token for a protected tag
 *     (issuer keys: the fixture JWK Set tests/data/jwt-jwks.json, whose
 *     genuine tokens are in fuzz/corpus/jwt), and verified claims may come
 *     back only for a job that carries a token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "job.h"
#include "policy.h"
#include "quota.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PATTERN_MAX 512

static const char config_text[] =
    "{\"name\": \"fuzz\", \"redis\": \"unix:///nonexistent\","
    " \"pkcs11\": {\"module\": \"/nonexistent.so\", \"token\": \"t\", \"pin_file\": "
    "\"/nonexistent\"},"
    " \"attestation_key\": \"pkcs11:object=attest\", \"store\": \"file:///tmp\","
    " \"audit_log\": \"/tmp/fuzz-audit\","
    " \"submitter_cas\": {\"corp\": {\"bundle\": \"" SIGNET_TEST_DATA "/format/root.pem\"}},"
    " \"ci_issuers\": {\"gitlab\": {\"issuer\": \"https://gitlab.example.com\","
    "  \"audience\": \"signet\", \"jwks\": \"" SIGNET_TEST_DATA
    "/jwt-jwks.json\", \"kind\": \"gitlab\"}},"
    " \"revoked\": {\"keyids\": [\"sha256:"
    "0000000000000000000000000000000000000000000000000000000000000000\"],"
    "              \"serials\": [\"badc0ffee\"]},"
    " \"keys\": {"
    "  \"release\": {\"key\": \"pkcs11:object=release\", \"mechanism\": \"ecdsa-sha256\","
    "   \"certificates\": \"" SIGNET_TEST_DATA "/format/chain-ec.pem\", \"formats\": [\"cms\"],"
    "   \"ci_projects\": [\"group/firmware\", \"group/*-fw\"], \"ci_refs\": [\"refs/tags/v*\"],"
    "   \"artifact_names\": [\"*.bin\", \"fw-??.img\"], \"max_job_lifetime\": 600,"
    "   \"quota\": {\"per_hour\": 2, \"per_day\": 3}, \"submitters\": [\"ci-*\", "
    "\"*@fw.example.com\"]},"
    "  \"nightly\": {\"key\": \"pkcs11:object=nightly\", \"mechanism\": \"ecdsa-sha256\","
    "   \"certificates\": \"" SIGNET_TEST_DATA
    "/format/chain-ec.pem\", \"formats\": [\"raw\", \"cms\"],"
    "   \"ci_token\": \"required\", \"ci_protected_ref\": true, \"ci_refs\": [\"refs/tags/*\"]},"
    "  \"old\": {\"key\": \"pkcs11:object=old\", \"mechanism\": \"ecdsa-sha256\","
    "   \"certificates\": \"" SIGNET_TEST_DATA "/format/chain-ec.pem\", \"formats\": [\"raw\"],"
    "   \"disabled\": true}},"
    " \"submitters\": {"
    "  \"ci-fw\": {\"public_key\": \"" SIGNET_TEST_DATA "/crypto-ec-p256.pub\","
    "             \"keys\": [\"release\", \"nightly\", \"old\"]},"
    "  \"fw-team\": {\"identity\": \"*@fw.example.com\", \"keys\": [\"release\", \"nightly\"]}}}";

static struct agent_config *cfg;
static struct quota *quota;

static void
setup(void)
{
	char path[] = "/dev/shm/signet-fuzz-policy.XXXXXX", err[512];
	int fd = mkstemp(path);

	if (fd == -1 ||
	    write(fd, config_text, sizeof(config_text) - 1) != (ssize_t)(sizeof(config_text) - 1))
		abort();
	close(fd);
	if (config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_policy: fixture configuration: %s\n", err);
		abort();
	}
	unlink(path);
	if ((quota = quota_new()) == NULL)
		abort();
	/* One signed job already counted, so the per-hour limit is reachable. */
	if (quota_add(quota, "ci-fw", "release", 1700000000) != 0)
		abort();
}

static void
check(int r)
{
	switch (r) {
	case 0:
	case SG_ERR_POLICY_SUBMITTER_REVOKED:
	case SG_ERR_POLICY_UNKNOWN_KEY:
	case SG_ERR_POLICY_KEY_NOT_ALLOWED:
	case SG_ERR_POLICY_FORMAT_NOT_ALLOWED:
	case SG_ERR_JOB_LIFETIME_TOO_LONG:
	case SG_ERR_POLICY_ARTIFACT_NAME:
	case SG_ERR_POLICY_CI_PROJECT:
	case SG_ERR_POLICY_CI_REF:
	case SG_ERR_POLICY_QUOTA_EXCEEDED:
	case SG_ERR_POLICY_CI_TOKEN:
	case SG_ERR_ALLOC:
		return;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct agent_submitter *pinned;
	struct policy_subject s;
	struct policy_ci ci;
	struct sg_job *job = NULL;
	const uint8_t *nl;
	long k;

	if (cfg == NULL)
		setup();

	/* The pattern matcher. */
	if ((nl = memchr(data, '\n', size)) != NULL && (size_t)(nl - data) <= FUZZ_PATTERN_MAX) {
		char *pat = strndup((const char *)data, (size_t)(nl - data));
		char *str = strndup((const char *)nl + 1, size - (size_t)(nl - data) - 1);
		if (pat == NULL || str == NULL)
			abort();
		int m = policy_glob(pat, str);
		if (m != 0 && m != 1)
			abort();
		/* Every string matches "*" and itself. */
		if (policy_glob("*", str) != 1 ||
		    (strlen(str) > 0 && strchr(str, '*') == NULL && strchr(str, '?') == NULL &&
			policy_glob(str, str) != 1))
			abort();
		free(pat);
		free(str);
	}

	/* The decision. */
	if (job_parse(data, size, &job) != 0)
		return 0;
	pinned = &cfg->submitters[0];
	memset(&s, 0, sizeof(s));
	s.name = pinned->name;
	s.keyid = pinned->keyid;
	s.pinned = pinned;
	s.ca = -1;
	memset(&ci, 0, sizeof(ci));
	check(policy_decide(cfg, &s, job, job->created, quota, &k, &ci));
	if (k < -1 || k >= (long)cfg->nkeys || (ci.verified != NULL && job->ci_token == NULL) ||
	    memchr(ci.why, '\0', sizeof(ci.why)) == NULL)
		abort();
	policy_ci_clear(&ci);
	memset(&s, 0, sizeof(s));
	s.name = "alice@fw.example.com";
	s.keyid = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	s.serial = "badc0ffee";
	s.ca = 0;
	if (policy_decide(cfg, &s, job, job->created, quota, &k, NULL) !=
	    SG_ERR_POLICY_SUBMITTER_REVOKED)
		abort();
	s.serial = "01";
	check(policy_decide(cfg, &s, job, job->created, quota, &k, NULL));
	s.name = "mallory@example.org";
	if (policy_decide(cfg, &s, job, job->created, NULL, &k, NULL) == 0)
		abort(); /* no entry names this identity: never allowed */
	job_free(job);
	return 0;
}
