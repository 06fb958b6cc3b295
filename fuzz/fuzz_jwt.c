/*
 * fuzz_jwt.c — CI identity tokens and JWK Sets (common/jwt.h) on hostile
 * bytes.
 *
 * Once, a JWK Set of the unit-test keys (tests/data/jwt-jwks.json, named
 * by SIGNET_TEST_DATA) is loaded for a GitLab and a GitHub issuer.  Per
 * input, the bytes are verified as a token at a fixed time and parsed as
 * a JWK Set.  Invariants: a verified token yields claims whose issuer is
 * a configured one, which expire after the time of the check and whose
 * ref, when there is one, starts with refs/; a refusal yields no claims, a
 * fault and a message; nothing else is returned but out of memory.  The
 * seed corpus (fuzz/corpus/jwt) holds genuine tokens signed with the
 * test keys, so the fuzzer starts past the signature check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW INT64_C(1800000000) /* 2027-01-15T08:00:00Z; the seeds expire in 2100 */

static struct jwks *keys;
static struct jwt_issuer issuers[2];

static void
setup(void)
{
	char *text = NULL, err[256];
	size_t len = 0;

	if (read_file(SIGNET_TEST_DATA "/jwt-jwks.json", JWKS_MAX_BYTES, &text, &len) != 0 ||
	    jwks_parse(text, len, &keys, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_jwt: cannot load the fixture JWK Set\n");
		abort();
	}
	free(text);
	issuers[0] = (struct jwt_issuer){ "gitlab", "https://gitlab.example.com", "signet",
		JWT_KIND_GITLAB, keys };
	issuers[1] = (struct jwt_issuer){ "github", "https://token.actions.githubusercontent.com",
		"signet", JWT_KIND_GITHUB, keys };
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_claims *cl = NULL;
	struct jwt_error err;
	struct jwks *set = NULL;
	char msg[256];
	int r;

	if (keys == NULL)
		setup();

	memset(&err, 0, sizeof(err));
	r = jwt_verify((const char *)data, size, issuers, nitems(issuers), FUZZ_NOW, &cl, &err);
	if (r == 0) {
		if (cl == NULL || cl->issuer == NULL || cl->issuer_name == NULL ||
		    (strcmp(cl->issuer, issuers[0].issuer) != 0 &&
			strcmp(cl->issuer, issuers[1].issuer) != 0) ||
		    cl->exp <= FUZZ_NOW || (cl->ref != NULL && strncmp(cl->ref, "refs/", 5) != 0) ||
		    (cl->ref_protected != 0 && cl->ref_protected != 1) ||
		    err.fault != JWT_FAULT_NONE)
			abort();
	} else if (r == SG_ERR_POLICY_CI_TOKEN) {
		if (cl != NULL || err.fault == JWT_FAULT_NONE || err.why[0] == '\0' ||
		    memchr(err.why, '\0', sizeof(err.why)) == NULL)
			abort();
	} else if (r != SG_ERR_ALLOC) {
		abort();
	}
	jwt_claims_free(cl);

	msg[0] = '\0';
	r = jwks_parse(data, size, &set, msg, sizeof(msg));
	if (r == 0) {
		if (set == NULL || jwks_count(set) == 0 || jwks_count(set) > JWKS_KEYS_MAX)
			abort();
	} else if (set != NULL || (r != SG_ERR_ALLOC && msg[0] == '\0')) {
		abort();
	}
	jwks_free(set);
	return 0;
}
