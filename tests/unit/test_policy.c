/*
 * test_policy.c — policy.c (globs, every rule and code), quota.c, and the
 * policy members of config.c (each problem with its member path).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "b64.h"
#include "config.h"
#include "config_live.h"
#include "crypto.h"
#include "policy.h"
#include "quota.h"
#include "testlib.h"

/* --- globs --- */
START_TEST(glob_basics)
{
	ck_assert_int_eq(policy_glob("refs/tags/v*", "refs/tags/v1.2"), 1);
	ck_assert_int_eq(policy_glob("refs/tags/v*", "refs/tags/v1/rc"), 1);
	ck_assert_int_eq(policy_glob("refs/tags/v*", "refs/tags/x1"), 0);
	ck_assert_int_eq(policy_glob("refs/tags/v*", "refs/tags/v"), 1);
	ck_assert_int_eq(policy_glob("*.bin", "fw.bin"), 1);
	ck_assert_int_eq(policy_glob("*.bin", "fw.bin.exe"), 0);
	ck_assert_int_eq(policy_glob("*.bin", ".bin"), 1);
	ck_assert_int_eq(policy_glob("?", ""), 0);
	ck_assert_int_eq(policy_glob("?", "a"), 1);
	ck_assert_int_eq(policy_glob("?", "ab"), 0);
	ck_assert_int_eq(policy_glob("", ""), 1);
	ck_assert_int_eq(policy_glob("", "a"), 0);
	ck_assert_int_eq(policy_glob("*", ""), 1);
	ck_assert_int_eq(policy_glob("**", "x/y"), 1);
	ck_assert_int_eq(policy_glob("*@fw.example.com", "a@fw.example.com"), 1);
	ck_assert_int_eq(policy_glob("*@fw.example.com", "a@fw.example.com.evil"), 0);
	ck_assert_int_eq(policy_glob("*@fw.example.com", "a@xfw.example.com"), 0);
	ck_assert_int_eq(policy_glob("a*b*c", "aXbYc"), 1);
	ck_assert_int_eq(policy_glob("a*b*c", "aXbY"), 0);
	ck_assert_int_eq(policy_glob("Group/*", "group/x"), 0);
	ck_assert_int_eq(policy_glob("[a]", "a"), 0);
	ck_assert_int_eq(policy_glob("\\*", "\\x"), 1);
}
END_TEST

START_TEST(glob_bounded)
{
	char s[4097], p[64];

	memset(s, 'a', 4096);
	s[4096] = '\0';
	strcpy(p, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
	/* Exponential matchers would never finish this. */
	ck_assert_int_eq(policy_glob(p, s), 0);
	s[4095] = 'b';
	ck_assert_int_eq(policy_glob(p, s), 1);
}
END_TEST

/* --- policy_decide on an in-memory configuration --- */
static char p_bin[] = "*.bin", p_proj[] = "group/firmware", p_ref[] = "refs/tags/v*",
	    p_ci[] = "ci-*", p_fw[] = "*@fw.example.com", p_dead[] = "sha256:dead",
	    p_ser[] = "1a2b";
static char *pats_bin[] = { p_bin };
static char *pats_proj[] = { p_proj };
static char *pats_ref[] = { p_ref };
static char *pats_sub[] = { p_ci, p_fw };
static char *revoked_keyids[] = { p_dead };
static char *revoked_serials[] = { p_ser };
static char n_release[] = "release", n_test[] = "test", n_cifw[] = "ci-fw", n_other[] = "other",
	    n_team[] = "fw-team", n_ident[] = "*@fw.example.com", n_fwbin[] = "fw.bin",
	    n_fwexe[] = "fw.exe", n_proj[] = "group/firmware", n_proj2[] = "group/firmware2",
	    n_ref[] = "refs/tags/v1.0", n_main[] = "refs/heads/main", n_nope[] = "nope";
static size_t keys_all[] = { 0, 1 };
static struct agent_key keys[2];
static struct agent_submitter subs[3];
static struct agent_config cfg;
static struct sg_job job;

static void
setup(void)
{
	memset(keys, 0, sizeof(keys));
	memset(subs, 0, sizeof(subs));
	memset(&cfg, 0, sizeof(cfg));
	memset(&job, 0, sizeof(job));
	keys[0].name = n_release;
	keys[0].formats = 1u << SG_FORMAT_RAW;
	keys[0].artifact_names = pats_bin;
	keys[0].nartifact_names = 1;
	keys[0].ci_projects = pats_proj;
	keys[0].nci_projects = 1;
	keys[0].ci_refs = pats_ref;
	keys[0].nci_refs = 1;
	keys[0].allowed_submitters = pats_sub;
	keys[0].nallowed_submitters = 2;
	keys[0].max_job_lifetime = 600;
	keys[0].quota_per_hour = 2;
	keys[1].name = n_test;
	keys[1].formats = (1u << SG_FORMAT_RAW) | (1u << SG_FORMAT_CMS);
	subs[0].name = n_cifw;
	subs[0].keys = keys_all;
	subs[0].nkeys = 2;
	subs[1].name = n_other;
	subs[1].keys = keys_all;
	subs[1].nkeys = 2;
	subs[2].name = n_team;
	subs[2].identity = n_ident;
	subs[2].ca = -1;
	subs[2].keys = keys_all;
	subs[2].nkeys = 1;
	cfg.keys = keys;
	cfg.nkeys = 2;
	cfg.submitters = subs;
	cfg.nsubmitters = 3;
	cfg.revoked_keyids = revoked_keyids;
	cfg.nrevoked_keyids = 1;
	cfg.revoked_serials = revoked_serials;
	cfg.nrevoked_serials = 1;
	job.key = n_release;
	job.format = SG_FORMAT_RAW;
	job.created = 1000;
	job.expires = 1600;
	job.artifact.name = n_fwbin;
	job.ci.project = n_proj;
	job.ci.ref = n_ref;
}

static int
decide_pinned(int sub, struct quota *q, long *ki)
{
	struct policy_subject s = { subs[sub].name, "sha256:beef", NULL, &subs[sub], -1 };

	return policy_decide(&cfg, &s, &job, 2000, q, ki, NULL);
}

static int
decide_cert(const char *identity, const char *serial, long *ki)
{
	struct policy_subject s = { identity, "sha256:cafe", serial, NULL, 0 };

	return policy_decide(&cfg, &s, &job, 2000, NULL, ki, NULL);
}

START_TEST(decide_allows)
{
	long ki = 99;

	ck_assert_int_eq(decide_pinned(0, NULL, &ki), 0);
	ck_assert_int_eq(ki, 0);
	ck_assert_int_eq(decide_cert("a@fw.example.com", "99", &ki), 0);
	ck_assert_int_eq(ki, 0);
}
END_TEST

START_TEST(decide_codes)
{
	long ki;
	struct policy_subject rk = { "ci-fw", "sha256:dead", NULL, &subs[0], -1 };

	ck_assert_int_eq(
	    policy_decide(&cfg, &rk, &job, 2000, NULL, &ki, NULL), SG_ERR_POLICY_SUBMITTER_REVOKED);
	ck_assert_int_eq(ki, -1);
	ck_assert_int_eq(
	    decide_cert("a@fw.example.com", "1a2b", &ki), SG_ERR_POLICY_SUBMITTER_REVOKED);
	job.key = n_nope;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_UNKNOWN_KEY);
	ck_assert_int_eq(ki, -1);
	setup();
	keys[0].disabled = 1;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_KEY_NOT_ALLOWED);
	ck_assert_int_eq(ki, 0);
	setup();
	/* "other" is listed by no pattern of the key's submitters. */
	ck_assert_int_eq(decide_pinned(1, NULL, &ki), SG_ERR_POLICY_KEY_NOT_ALLOWED);
	ck_assert_int_eq(decide_cert("a@elsewhere.com", NULL, &ki), SG_ERR_POLICY_KEY_NOT_ALLOWED);
	job.key = n_test; /* fw-team lists only release */
	ck_assert_int_eq(decide_cert("a@fw.example.com", NULL, &ki), SG_ERR_POLICY_KEY_NOT_ALLOWED);
	ck_assert_int_eq(decide_pinned(1, NULL, &ki), 0);
	setup();
	job.format = SG_FORMAT_CMS;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_FORMAT_NOT_ALLOWED);
	setup();
	job.expires = 1601;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_JOB_LIFETIME_TOO_LONG);
	job.expires = 1600;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), 0);
	job.artifact.name = n_fwexe;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_ARTIFACT_NAME);
	setup();
	job.ci.project = NULL;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_CI_PROJECT);
	job.ci.project = n_proj2;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_CI_PROJECT);
	setup();
	job.ci.ref = NULL;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_CI_REF);
	job.ci.ref = n_main;
	ck_assert_int_eq(decide_pinned(0, NULL, &ki), SG_ERR_POLICY_CI_REF);
}
END_TEST

START_TEST(decide_quota)
{
	struct quota *q = quota_new();
	long ki;

	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(quota_add(q, "ci-fw", "release", 2000 - 3599), 0);
	ck_assert_int_eq(decide_pinned(0, q, &ki), 0);
	ck_assert_int_eq(quota_add(q, "ci-fw", "release", 1999), 0);
	ck_assert_int_eq(decide_pinned(0, q, &ki), SG_ERR_POLICY_QUOTA_EXCEEDED);
	/* Another submitter and another key have their own counts. */
	ck_assert_int_eq(decide_cert("a@fw.example.com", NULL, &ki), 0);
	keys[0].quota_per_hour = 3;
	ck_assert_int_eq(decide_pinned(0, q, &ki), 0);
	keys[0].quota_per_hour = 0;
	keys[0].quota_per_day = 2;
	ck_assert_int_eq(decide_pinned(0, q, &ki), SG_ERR_POLICY_QUOTA_EXCEEDED);
	quota_free(q);
}
END_TEST

/* --- CI identity tokens in policy_decide --- */

/* A GitLab issuer whose JWK Set is tests/data/jwt-jwks.json (the unit-test
 * RSA and EC keys), and a second one for the issuer restriction. */
static struct agent_ci_issuer ci_issuers[2];
static struct jwt_issuer jwt_issuers[2];
static size_t only_first[] = { 0 };
static char n_gitlab[] = "gitlab", n_gitlab_iss[] = "https://gitlab.example.com",
	    n_other_iss[] = "https://other.example", n_other_ci[] = "other-ci", n_aud[] = "signet";

static void
ci_setup(void)
{
	char *text = NULL, err[256];
	size_t len = 0;

	setup();
	ck_assert_int_eq(read_file(TEST_DATA_DIR "/jwt-jwks.json", JWKS_MAX_BYTES, &text, &len), 0);
	memset(ci_issuers, 0, sizeof(ci_issuers));
	ck_assert_int_eq(jwks_parse(text, len, &ci_issuers[0].keys, err, sizeof(err)), 0);
	free(text);
	ci_issuers[0].name = n_gitlab;
	ci_issuers[0].issuer = n_gitlab_iss;
	ci_issuers[0].audience = n_aud;
	ci_issuers[0].kind = JWT_KIND_GITLAB;
	ci_issuers[1] = ci_issuers[0];
	ci_issuers[1].name = n_other_ci;
	ci_issuers[1].issuer = n_other_iss;
	jwt_issuers[0] = (struct jwt_issuer){ n_gitlab, n_gitlab_iss, n_aud, JWT_KIND_GITLAB,
		ci_issuers[0].keys };
	jwt_issuers[1] = (struct jwt_issuer){ n_other_ci, n_other_iss, n_aud, JWT_KIND_GITLAB,
		ci_issuers[0].keys };
	cfg.ci_issuers = ci_issuers;
	cfg.jwt_issuers = jwt_issuers;
	cfg.nci_issuers = 2;
	keys[0].ci_token_required = 1;
	keys[0].ci_token_issuers = only_first;
	keys[0].nci_token_issuers = 1;
	keys[0].quota_per_hour = 0;
}

static void
ci_teardown(void)
{
	jwks_free(ci_issuers[0].keys);
}

/* A GitLab token (RS256, kid rsa1, the unit-test key) at policy time 2000. */
static char *
gitlab_token(
    const char *iss, const char *ref_type, const char *ref, const char *prot, long long exp)
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	char *claims = NULL, *h = NULL, *c = NULL, *signing = NULL, *sb = NULL, *tok = NULL;
	static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}";

	ck_assert_int_eq(crypto_load_privkey(TEST_DATA_DIR "/crypto-rsa2048.key", &pk), 0);
	ck_assert_int_ge(asprintf(&claims,
			     "{\"iss\":\"%s\",\"aud\":\"signet\",\"exp\":%lld,"
			     "\"iat\":1990,\"project_path\":\"group/"
			     "firmware\",\"ref_type\":\"%s\",\"ref\":\"%s\","
			     "\"ref_protected\":\"%s\",\"pipeline_id\":\"77\",\"sub\":\"project_"
			     "path:group/firmware\"}",
			     iss, exp, ref_type, ref, prot),
	    0);
	ck_assert_int_eq(b64url_encode((const uint8_t *)hdr, strlen(hdr), &h), 0);
	ck_assert_int_eq(b64url_encode((const uint8_t *)claims, strlen(claims), &c), 0);
	ck_assert_int_ge(asprintf(&signing, "%s.%s", h, c), 0);
	ck_assert_int_eq(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, pk), 1);
	ck_assert_int_eq(
	    EVP_DigestSign(m, sig, &siglen, (const unsigned char *)signing, strlen(signing)), 1);
	ck_assert_int_eq(b64url_encode(sig, siglen, &sb), 0);
	ck_assert_int_ge(asprintf(&tok, "%s.%s", signing, sb), 0);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pk);
	free(claims);
	free(h);
	free(c);
	free(signing);
	free(sb);
	return tok;
}

static int
decide_ci(struct policy_ci *pci)
{
	struct policy_subject s = { subs[0].name, "sha256:beef", NULL, &subs[0], -1 };
	long ki = 99;

	memset(pci, 0, sizeof(*pci));
	return policy_decide(&cfg, &s, &job, 2000, NULL, &ki, pci);
}

#define WHY_HAS(ci, text)                                                                          \
	ck_assert_msg(strstr((ci).why, text) != NULL, "why \"%s\" lacks \"%s\"", (ci).why, text)

START_TEST(decide_ci_required)
{
	struct policy_ci ci;
	char *tok;

	/* No token where the key requires one. */
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_TOKEN);
	WHY_HAS(ci, "key release requires a ci_token; the job has none");
	ck_assert_ptr_null(ci.verified);
	/* A genuine token for the tag: allowed, and its claims come back. */
	tok = gitlab_token(n_gitlab_iss, "tag", "v1.0", "true", 3000);
	job.ci_token = tok;
	job.ci.ref = NULL; /* the self-asserted members play no part */
	job.ci.project = NULL;
	ck_assert_int_eq(decide_ci(&ci), 0);
	ck_assert_ptr_nonnull(ci.verified);
	ck_assert_str_eq(ci.verified->ref, "refs/tags/v1.0");
	ck_assert_str_eq(ci.verified->project, "group/firmware");
	ck_assert_str_eq(ci.verified->issuer_name, "gitlab");
	ck_assert_str_eq(ci.why, "");
	policy_ci_clear(&ci);
	ck_assert_ptr_null(ci.verified);
	policy_ci_clear(NULL);
	free(tok);
	/* Expired at the time of the decision. */
	tok = gitlab_token(n_gitlab_iss, "tag", "v1.0", "true", 2000);
	job.ci_token = tok;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_TOKEN);
	WHY_HAS(ci, "ci_token: expired at 1970-01-01T00:33:20Z");
	ck_assert_ptr_null(ci.verified);
	free(tok);
	/* Not a token at all. */
	job.ci_token = n_nope;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_TOKEN);
	WHY_HAS(ci, "ci_token: not a compact JWS");
}
END_TEST

/* The issue: refused for refs/heads/feature-x, signed once the environment
 * said refs/tags/v9.9.  With a token, the verified ref wins. */
START_TEST(decide_ci_verified_wins)
{
	struct policy_ci ci;
	char *tok = gitlab_token(n_gitlab_iss, "branch", "feature-x", "false", 3000);
	static char asserted[] = "refs/tags/v9.9";

	job.ci.ref = asserted;
	job.ci_token = tok;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_REF);
	WHY_HAS(ci, "verified CI ref \"refs/heads/feature-x\" is not in keys.release.ci_refs");
	/* The verified claims are kept for the audit log even on a refusal. */
	ck_assert_ptr_nonnull(ci.verified);
	ck_assert_str_eq(ci.verified->ref, "refs/heads/feature-x");
	policy_ci_clear(&ci);
	/* The same on a key that does not require a token: a token the job
	 * carries is verified and its claims are used. */
	keys[0].ci_token_required = 0;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_REF);
	WHY_HAS(ci, "verified CI ref");
	policy_ci_clear(&ci);
	free(tok);
	/* Without a token such a key falls back to the self-asserted ref. */
	job.ci_token = NULL;
	ck_assert_int_eq(decide_ci(&ci), 0);
	ck_assert_ptr_null(ci.verified);
	job.ci.ref = n_main;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_REF);
	WHY_HAS(ci, "self-asserted CI ref \"refs/heads/main\" is not in keys.release.ci_refs");
	/* A token that does not verify is refused there too. */
	job.ci_token = n_nope;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_TOKEN);
}
END_TEST

START_TEST(decide_ci_project_protected_issuer)
{
	struct policy_ci ci;
	char *tok;
	static char other_proj[] = "group/*-fw";

	/* The project comes from the token too. */
	keys[0].ci_projects[0] = other_proj;
	tok = gitlab_token(n_gitlab_iss, "tag", "v1.0", "true", 3000);
	job.ci_token = tok;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_PROJECT);
	WHY_HAS(ci, "verified CI project \"group/firmware\" is not in keys.release.ci_projects");
	policy_ci_clear(&ci);
	keys[0].ci_projects[0] = p_proj;
	/* A protected ref, required. */
	keys[0].ci_protected_ref = 1;
	ck_assert_int_eq(decide_ci(&ci), 0);
	policy_ci_clear(&ci);
	free(tok);
	tok = gitlab_token(n_gitlab_iss, "tag", "v1.0", "false", 3000);
	job.ci_token = tok;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_REF);
	WHY_HAS(ci, "verified CI ref \"refs/tags/v1.0\" is not protected");
	policy_ci_clear(&ci);
	free(tok);
	/* A genuine token of an issuer the key does not list. */
	tok = gitlab_token(n_other_iss, "tag", "v1.0", "true", 3000);
	job.ci_token = tok;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_TOKEN);
	WHY_HAS(ci, "ci_token: issuer other-ci is not in keys.release.ci_token_issuers");
	policy_ci_clear(&ci);
	keys[0].nci_token_issuers = 0;
	ck_assert_int_eq(decide_ci(&ci), 0);
	ck_assert_str_eq(ci.verified->issuer_name, "other-ci");
	policy_ci_clear(&ci);
	free(tok);
	/* An issuer nobody configured. */
	tok = gitlab_token("https://gitlab.evil.example", "tag", "v1.0", "true", 3000);
	job.ci_token = tok;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_CI_TOKEN);
	WHY_HAS(ci, "is not a configured issuer");
	free(tok);
	/* Earlier checks come first: the token is not even looked at. */
	job.ci_token = n_nope;
	job.artifact.name = n_fwexe;
	ck_assert_int_eq(decide_ci(&ci), SG_ERR_POLICY_ARTIFACT_NAME);
	ck_assert_ptr_null(ci.verified);
	ck_assert_str_eq(
	    ci.why, "artifact name fw.exe matches none of key release's artifact_names");
}
END_TEST

START_TEST(quota_windows)
{
	struct quota *q = quota_new();
	uint32_t h = 9, d = 9;

	ck_assert_int_eq(quota_add(q, "a", "k", 100000), 0);
	ck_assert_int_eq(quota_add(q, "a", "k", 100000 - 3600), 0);  /* just out of the hour */
	ck_assert_int_eq(quota_add(q, "a", "k", 100000 - 86399), 0); /* just in the day */
	ck_assert_int_eq(quota_add(q, "a", "k", 100000 - 86400), 0); /* just out */
	quota_count(q, "a", "k", 100000, &h, &d);
	ck_assert_uint_eq(h, 1);
	ck_assert_uint_eq(d, 3);
	quota_count(q, "a", "other", 100000, &h, &d);
	ck_assert_uint_eq(h, 0);
	ck_assert_uint_eq(d, 0);
	ck_assert_int_eq(quota_take(q, "a", "k", 100001, 2, 0), 0);
	ck_assert_int_eq(quota_take(q, "a", "k", 100002, 2, 0), SG_ERR_POLICY_QUOTA_EXCEEDED);
	quota_give_back(q, "a", "k", 100001);
	ck_assert_int_eq(quota_take(q, "a", "k", 100002, 2, 0), 0);
	ck_assert_int_eq(quota_take(q, "a", "k", 100003, 0, 0), 0);
	quota_count(q, "a", "k", 100003, &h, &d);
	ck_assert_uint_eq(h, 3);
	quota_free(q);
	quota_free(NULL);
}
END_TEST

/* Jobs in the same second are one count: memory follows the seconds that
 * saw jobs, and giving one back leaves the others. */
START_TEST(quota_same_second)
{
	struct quota *q = quota_new();
	uint32_t h = 0, d = 0;
	unsigned i;

	ck_assert_ptr_nonnull(q);
	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(quota_add(q, "a", "k", 50000 + (i % 3)), 0);
	ck_assert_int_eq(quota_add(q, "a", "k", 49999), 0); /* older, arriving last */
	quota_count(q, "a", "k", 50002, &h, &d);
	ck_assert_uint_eq(h, 100001);
	ck_assert_uint_eq(d, 100001);
	quota_give_back(q, "a", "k", 50001);
	quota_give_back(q, "a", "k", 49999);
	quota_give_back(q, "a", "k", 49999); /* none left there: no-op */
	quota_count(q, "a", "k", 50002, &h, &d);
	ck_assert_uint_eq(h, 99999);
	/* The hour window is exact to the second. */
	quota_count(q, "a", "k", 50000 + 3600, &h, &d);
	ck_assert_uint_eq(h, 66665);
	ck_assert_uint_eq(d, 99999);
	ck_assert_int_eq(quota_take(q, "a", "k", 50002, 0, 99999), SG_ERR_POLICY_QUOTA_EXCEEDED);
	ck_assert_int_eq(quota_take(q, "a", "k", 50002, 0, 100000), 0);
	quota_free(q);
}
END_TEST

START_TEST(serial_normalize)
{
	char out[CONFIG_SERIAL_HEX_MAX + 1] = "untouched";

	ck_assert_int_eq(config_normalize_serial("00:0A:1b", out), 0);
	ck_assert_str_eq(out, "a1b");
	ck_assert_int_eq(config_normalize_serial("0", out), 0);
	ck_assert_str_eq(out, "0");
	strcpy(out, "untouched");
	ck_assert_int_eq(config_normalize_serial("", out), SG_ERR_PARSE);
	ck_assert_int_eq(config_normalize_serial("xyz", out), SG_ERR_PARSE);
	ck_assert_int_eq(
	    config_normalize_serial("1234567890123456789012345678901234567890", out), 0);
	ck_assert_int_eq(config_normalize_serial("12345678901234567890123456789012345678901", out),
	    SG_ERR_PARSE);
}
END_TEST

START_TEST(cert_parse_limits)
{
	uint8_t junk[POLICY_CERT_MAX_BYTES + 1];
	X509 *x = NULL;

	memset(junk, 0x30, sizeof(junk));
	ck_assert_int_eq(policy_cert_parse(junk, sizeof(junk), &x), SG_ERR_POLICY_CERT_INVALID);
	ck_assert_int_eq(policy_cert_parse(junk, 10, &x), SG_ERR_POLICY_CERT_INVALID);
	ck_assert_int_eq(policy_cert_parse(NULL, 0, &x), SG_ERR_POLICY_CERT_INVALID);
	ck_assert_ptr_null(x);
}
END_TEST

/* --- config loading: problems with member paths --- */
struct problems {
	char text[4096];
	size_t n;
};

static void
collect(void *arg, const char *p)
{
	struct problems *ps = arg;

	strncat(ps->text, p, sizeof(ps->text) - strlen(ps->text) - 2);
	strcat(ps->text, "\n");
	ps->n++;
}

static int
load_text(const char *json, struct problems *ps, struct agent_config **ret)
{
	char path[] = "/tmp/signet-test-policy-XXXXXX";
	int fd = mkstemp(path), r;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(json, f);
	fclose(f);
	memset(ps, 0, sizeof(*ps));
	r = config_load_report(path, ret, collect, ps);
	unlink(path);
	return r;
}

#define BASE_HEAD                                                                                  \
	"{\"name\":\"a\",\"redis\":\"unix:///x\",\"attestation_key\":\"pkcs11:object=a\","         \
	"\"store\":\"file:///s\",\"audit_log\":\"/a\",\"pkcs11\":{\"module\":\"/"                  \
	"m\",\"token\":\"t\","                                                                     \
	"\"pin_file\":\"/p\"},"

START_TEST(config_problems)
{
	struct agent_config *c = NULL;
	struct problems ps;
	int r;

	r = load_text(BASE_HEAD
	    "\"keys\":{\"release\":{\"key\":\"pkcs11:object=r\",\"mechanism\":"
	    "\"ecdsa-sha256\",\"certificates\":\"" TEST_DATA_DIR "/crypto-leaf.crt\",\"formats\":"
	    "[\"raw\",\"pgp\"],\"ci_refs\":[],\"artifact_names\":[1],\"max_job_lifetime\":0,"
	    "\"quota\":{},\"disabled\":1,\"bogus\":1}},"
	    "\"submitters\":{\"x\":{\"identity\":\"*@a\",\"keys\":[\"nope\"]},"
	    "\"y\":{\"keys\":[]}},"
	    "\"submitter_cas\":{\"corp\":{\"bundle\":\"/nonexistent\",\"eku\":\"weird\","
	    "\"identity\":\"dns\"}},"
	    "\"revoked\":{\"keyids\":[\"sha256:XY\"],\"serials\":[\"zz\"]}}",
	    &ps, &c);
	ck_assert_int_eq(r, SG_ERR_CONFIG);
	ck_assert_ptr_null(c);
#define HAS(s) ck_assert_msg(strstr(ps.text, s) != NULL, "missing \"%s\" in:\n%s", s, ps.text)
	HAS("keys.release.bogus: unknown member");
	HAS("keys.release.formats[1]: unknown format \"pgp\"");
	HAS("keys.release.ci_refs: 1 to 64 patterns");
	HAS("keys.release.artifact_names[0]: must be a pattern");
	HAS("keys.release.max_job_lifetime: must be an integer from 1 to 604800");
	HAS("keys.release.quota: name per_hour, per_day or both");
	HAS("keys.release.disabled: must be true or false");
	HAS("submitters.x.keys[0]: not a configured key");
	HAS("submitters.y: give exactly one of public_key and identity");
	HAS("submitter_cas.corp.eku: \"weird\"");
	HAS("submitter_cas.corp.identity: must be email, uri or cn");
	HAS("submitter_cas.corp.bundle: cannot read /nonexistent");
	HAS("revoked.keyids[0]: must be sha256:");
	HAS("revoked.serials[0]: must be 1 to 40 hex digits");
	ck_assert_uint_ge(ps.n, 14);
}
END_TEST

START_TEST(config_identity_needs_ca)
{
	struct agent_config *c = NULL;
	struct problems ps;

	ck_assert_int_eq(
	    load_text(BASE_HEAD "\"keys\":{\"release\":{\"key\":\"pkcs11:object=r\","
				"\"mechanism\":\"ecdsa-sha256\",\"certificates\":\"" TEST_DATA_DIR
				"/crypto-leaf.crt\","
				"\"formats\":[\"raw\"],\"quota\":{\"per_hour\":1000001}}},"
				"\"submitters\":{\"x\":{\"identity\":\"*@a\",\"ca\":\"corp\","
				"\"keys\":[\"release\"]}}}",
		&ps, &c),
	    SG_ERR_CONFIG);
	HAS("submitters.x.identity: no submitter_cas are configured");
	HAS("submitters.x.ca: not a configured submitter CA");
	HAS("keys.release.quota.per_hour: must be an integer from 1 to 1000000");
	ck_assert_ptr_null(c);
}
END_TEST

/* The members of the signer boundary (docs/security.md). */
#define PRIVSEP_KEYS                                                                               \
	"\"keys\":{\"release\":{\"key\":\"pkcs11:object=r\","                                      \
	"\"mechanism\":\"ecdsa-sha256\",\"certificates\":\"" TEST_DATA_DIR "/crypto-leaf.crt\","   \
	"\"formats\":[\"raw\"]}},\"submitters\":{}}"
#define PRIVSEP_HEAD(user, pkcs11_extra)                                                           \
	"{\"name\":\"a\",\"redis\":\"unix:///x\","                                                 \
	"\"attestation_key\":\"pkcs11:object=a\",\"store\":\"file:///s\",\"audit_log\":\"/var/"    \
	"a.log\"," user                                                                            \
	"\"pkcs11\":{\"module\":\"/m\",\"token\":\"t\",\"pin_file\":\"/p\"" pkcs11_extra "},"

START_TEST(config_privsep_members)
{
	struct agent_config *c = NULL;
	struct problems ps;
	char err[256];
	char path[] = "/tmp/signet-test-policy-XXXXXX";
	int fd;
	FILE *f;

	ck_assert_int_eq(load_text(PRIVSEP_HEAD("\"user\":\"signet\",", "") PRIVSEP_KEYS, &ps, &c),
	    SG_ERR_CONFIG);
	HAS("pkcs11.journal: required with user");
	ck_assert_int_eq(load_text(PRIVSEP_HEAD("\"user\":\"signet\",",
				       ",\"journal\":\"/j\",\"user\":\"signet\"") PRIVSEP_KEYS,
			     &ps, &c),
	    SG_ERR_CONFIG);
	HAS("pkcs11.user: the signer's user must not be the agent's (signet)");
	ck_assert_int_eq(
	    load_text(
		PRIVSEP_HEAD("\"user\":\"a b\",", ",\"journal\":\"j\"") PRIVSEP_KEYS, &ps, &c),
	    SG_ERR_CONFIG);
	HAS("user: a user name of 1 to");
	HAS("pkcs11.journal: must be an absolute path");
	ck_assert_ptr_null(c);
	/* The attestation key's name in the journal is no key's name. */
	ck_assert_int_eq(
	    load_text(PRIVSEP_HEAD(
			  "", "") "\"keys\":{\"attestation_key\":{\"key\":"
				  "\"pkcs11:object=r\",\"mechanism\":\"ecdsa-sha256\","
				  "\"certificates\":\"" TEST_DATA_DIR
				  "/crypto-leaf.crt\",\"formats\":[\"raw\"]}},\"submitters\":{}}",
		&ps, &c),
	    SG_ERR_CONFIG);
	HAS("keys.attestation_key: the name is reserved");
	/* Good: both users and the journal; without user the journal
	 * defaults to <audit_log>.signer. */
	ck_assert_int_eq(
	    load_text(PRIVSEP_HEAD("\"user\":\"signet\",",
			  ",\"journal\":\"/j\",\"user\":\"signet-signer\"") PRIVSEP_KEYS,
		&ps, &c),
	    0);
	ck_assert_str_eq(c->user, "signet");
	ck_assert_str_eq(c->pkcs11_user, "signet-signer");
	ck_assert_str_eq(c->pkcs11_journal, "/j");
	config_free(c);
	c = NULL;
	ck_assert_int_eq(load_text(PRIVSEP_HEAD("", "") PRIVSEP_KEYS, &ps, &c), 0);
	ck_assert_ptr_null(c->user);
	ck_assert_str_eq(c->pkcs11_journal, "/var/a.log.signer");
	config_free(c);
	c = NULL;
	/* The signer's load reads none of the files named: a certificate that
	 * is not there does not matter to it, and does to the agent. */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(PRIVSEP_HEAD(
		  "", "") "\"keys\":{\"release\":{\"key\":\"pkcs11:object=r\","
			  "\"mechanism\":\"ecdsa-sha256\",\"certificates\":\"/nonexistent.pem\","
			  "\"formats\":[\"raw\"]}},\"submitters\":{\"x\":{\"public_key\":\"/"
			  "nonexistent.pub\","
			  "\"keys\":[\"release\"]}}}",
	    f);
	fclose(f);
	ck_assert_int_eq(config_load_flags(path, CONFIG_LOAD_NO_FILES, &c, err, sizeof(err)), 0);
	config_free(c);
	c = NULL;
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_msg(strstr(err, "/nonexistent.pem") != NULL, "%s", err);
	unlink(path);
}
END_TEST

#define KEY_RELEASE                                                                                \
	"\"keys\":{\"release\":{\"key\":\"pkcs11:object=r\","                                      \
	"\"mechanism\":\"ecdsa-sha256\",\"certificates\":\"" TEST_DATA_DIR "/crypto-leaf.crt\","   \
	"\"formats\":[\"raw\"]}},"

/* With several CAs, an identity entry without "ca" would accept an
 * identity from any of them: refused.  With one CA it is that one. */
START_TEST(config_ca_required_with_several)
{
	struct agent_config *c = NULL;
	struct problems ps;
	const char *two_cas = "\"submitter_cas\":{"
			      "\"corp\":{\"bundle\":\"" TEST_DATA_DIR "/crypto-root.crt\"},"
			      "\"partner\":{\"bundle\":\"" TEST_DATA_DIR "/crypto-root.crt\"}},";
	char text[4096];

	snprintf(text, sizeof(text),
	    "%s%s%s\"submitters\":{\"x\":{\"identity\":\"*@a\","
	    "\"keys\":[\"release\"]}}}",
	    BASE_HEAD, KEY_RELEASE, two_cas);
	ck_assert_int_eq(load_text(text, &ps, &c), SG_ERR_CONFIG);
	ck_assert_ptr_null(c);
	HAS("submitters.x.ca: required when several submitter_cas are configured");
	ck_assert_uint_eq(ps.n, 1);
	snprintf(text, sizeof(text),
	    "%s%s%s\"submitters\":{\"x\":{\"identity\":\"*@a\","
	    "\"ca\":\"partner\",\"keys\":[\"release\"]}}}",
	    BASE_HEAD, KEY_RELEASE, two_cas);
	ck_assert_int_eq(load_text(text, &ps, &c), 0);
	ck_assert_int_eq(c->submitters[0].ca, 1);
	config_free(c);
	c = NULL;
	snprintf(text, sizeof(text),
	    "%s%s\"submitter_cas\":{\"corp\":{\"bundle\":\"" TEST_DATA_DIR
	    "/crypto-root.crt\"}},\"submitters\":{\"x\":{\"identity\":\"*@a\","
	    "\"keys\":[\"release\"]}}}",
	    BASE_HEAD, KEY_RELEASE);
	ck_assert_int_eq(load_text(text, &ps, &c), 0);
	ck_assert_int_eq(c->submitters[0].ca, -1);
	config_free(c);
}
END_TEST

/* The same configuration with "redis" replaced (the head's own is dropped). */
static int
load_with_redis(const char *redis_and_more, struct problems *ps, struct agent_config **ret)
{
	char text[4096];

	snprintf(text, sizeof(text),
	    "{\"name\":\"a\",%s\"attestation_key\":\"pkcs11:object=a\","
	    "\"store\":\"file:///s\",\"audit_log\":\"/a\",\"pkcs11\":{\"module\":\"/m\","
	    "\"token\":\"t\",\"pin_file\":\"/p\"}," KEY_RELEASE "\"submitters\":{}}",
	    redis_and_more);
	return load_text(text, ps, ret);
}

/* SPEC §10: secrets come from files.  A password inline in the redis URL
 * is refused, and the message does not echo it; a user name alone is fine. */
START_TEST(config_redis_password_refused)
{
	struct agent_config *c = NULL;
	struct problems ps;

	ck_assert_int_eq(
	    load_with_redis("\"redis\":\"redis://u:s3cret-pw@10.0.0.1:6379/2\",", &ps, &c),
	    SG_ERR_CONFIG);
	ck_assert_ptr_null(c);
	HAS("redis: the URL holds a password; put the password in the file named by "
	    "redis_password_file");
	ck_assert_ptr_null(strstr(ps.text, "s3cret-pw"));
	ck_assert_int_eq(
	    load_with_redis("\"redis\":\"sentinel://:s3cret-pw@h1:26379,h2:26379/m\",", &ps, &c),
	    SG_ERR_CONFIG);
	HAS("redis: the URL holds a password");
	ck_assert_int_eq(load_with_redis("\"redis\":\"redis://signet@10.0.0.1:6379\","
					 "\"redis_password_file\":\"/etc/signet/redis.pass\",",
			     &ps, &c),
	    0);
	ck_assert_str_eq(c->redis, "redis://signet@10.0.0.1:6379");
	config_free(c);
	c = NULL;
	ck_assert_int_eq(load_with_redis("\"redis\":\"unix:///run/redis.sock\",", &ps, &c), 0);
	config_free(c);
}
END_TEST

/* store_mode: octal in a string; owner rw, no write for group or others. */
START_TEST(config_store_mode)
{
	struct agent_config *c = NULL;
	struct problems ps;
	static const char *const bad[] = { "\"0660\"", "\"0400\"", "\"640\"x", "\"08\"",
		"\"00640\"", "640", "\"4644\"", "\"0o640\"" };
	char text[256];
	size_t i;

	ck_assert_int_eq(
	    load_with_redis("\"redis\":\"unix:///r\",\"store_mode\":\"0640\",", &ps, &c), 0);
	ck_assert_uint_eq(c->store_mode, 0640);
	config_free(c);
	c = NULL;
	ck_assert_int_eq(
	    load_with_redis("\"redis\":\"unix:///r\",\"store_mode\":\"600\",", &ps, &c), 0);
	ck_assert_uint_eq(c->store_mode, 0600);
	config_free(c);
	c = NULL;
	ck_assert_int_eq(load_with_redis("\"redis\":\"unix:///r\",", &ps, &c), 0);
	ck_assert_uint_eq(c->store_mode, 0);
	config_free(c);
	c = NULL;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "\"redis\":\"unix:///r\",\"store_mode\":%s,", bad[i]);
		ck_assert_int_ne(load_with_redis(text, &ps, &c), 0);
		ck_assert_ptr_null(c);
	}
	ck_assert_int_eq(
	    load_with_redis("\"redis\":\"unix:///r\",\"store_mode\":\"0666\",", &ps, &c),
	    SG_ERR_CONFIG);
	HAS("store_mode: an octal mode as a string, such as \"0640\"");
}
END_TEST

START_TEST(config_loads_policy)
{
	struct agent_config *c = NULL, *c2 = NULL;
	struct problems ps;
	char why[128] = "";
	const char *text = BASE_HEAD
	    "\"keys\":{\"release\":{\"key\":\"pkcs11:object=r\","
	    "\"mechanism\":\"ecdsa-sha256\",\"certificates\":\"" TEST_DATA_DIR "/crypto-leaf.crt\","
	    "\"formats\":[\"raw\"],\"ci_refs\":[\"refs/tags/v*\"],\"quota\":{\"per_day\":5},"
	    "\"max_job_lifetime\":604800,\"disabled\":false}},"
	    "\"submitter_cas\":{\"corp\":{\"bundle\":\"" TEST_DATA_DIR "/crypto-root.crt\","
	    "\"eku\":\"1.3.6.1.5.5.7.3.3\",\"identity\":\"cn\"}},"
	    "\"submitters\":{\"x\":{\"identity\":\"*@a\",\"ca\":\"corp\",\"keys\":[\"release\"]}},"
	    "\"revoked\":{\"serials\":[\"00:AB\"]}}";

	ck_assert_int_eq(load_text(text, &ps, &c), 0);
	ck_assert_uint_eq(ps.n, 0);
	ck_assert_uint_eq(c->keys[0].quota_per_day, 5);
	ck_assert_uint_eq(c->keys[0].nci_refs, 1);
	ck_assert_str_eq(c->revoked_serials[0], "ab");
	ck_assert_int_eq(c->submitters[0].ca, 0);
	ck_assert_int_eq(c->cas[0].identity, CONFIG_IDENTITY_CN);
	ck_assert_ptr_null(config_submitter_by_keyid(c, ""));
	ck_assert_int_eq(load_text(text, &ps, &c2), 0);
	ck_assert_int_eq(config_same_hsm(c, c2, why, sizeof(why)), 0);
	free(c2->keys[0].uri);
	c2->keys[0].uri = strdup("pkcs11:object=other");
	ck_assert_int_eq(config_same_hsm(c, c2, why, sizeof(why)), SG_ERR_CONFIG);
	ck_assert_str_eq(why, "keys.release.key differs");
	config_free(c2);
	config_free(c);
}
END_TEST

#define KEY_HEAD                                                                                   \
	"\"keys\":{\"release\":{\"key\":\"pkcs11:object=r\",\"mechanism\":"                        \
	"\"ecdsa-sha256\",\"certificates\":\"" TEST_DATA_DIR                                       \
	"/crypto-leaf.crt\",\"formats\":[\"raw\"]"
#define GITLAB_ISSUER                                                                              \
	"\"gitlab\":{\"issuer\":\"https://gitlab.example.com\",\"audience\":"                      \
	"\"signet\",\"jwks\":\"" TEST_DATA_DIR "/jwt-jwks.json\",\"kind\":\"gitlab\"}"
#define SUBS                                                                                       \
	"\"submitters\":{\"x\":{\"public_key\":\"" TEST_DATA_DIR "/crypto-ec-p256.pub\","          \
	"\"keys\":[\"release\"]}}}"

START_TEST(config_ci_issuers)
{
	struct agent_config *c = NULL;
	struct problems ps, ws;
	const char *text = BASE_HEAD
	    "\"ci_issuers\":{" GITLAB_ISSUER ","
	    "\"github\":{\"issuer\":"
	    "\"https://"
	    "token.actions.githubusercontent.com\",\"audience\":\"signet\",\"jwks\":"
	    "\"" TEST_DATA_DIR "/jwt-jwks.json\",\"kind\":\"github\"}}," KEY_HEAD
	    ",\"ci_projects\":[\"group/firmware\"],\"ci_refs\":[\"refs/tags/v*\"],"
	    "\"ci_token\":\"required\",\"ci_protected_ref\":true,\"ci_token_issuers\":[\"gitlab\"]}"
	    ","
	    "\"nightly\":{\"key\":\"pkcs11:object=n\",\"mechanism\":\"ecdsa-sha256\","
	    "\"certificates\":\"" TEST_DATA_DIR "/crypto-leaf.crt\",\"formats\":[\"raw\"],"
	    "\"ci_token\":\"optional\"}}," SUBS;

	ck_assert_int_eq(load_text(text, &ps, &c), 0);
	ck_assert_uint_eq(ps.n, 0);
	ck_assert_uint_eq(c->nci_issuers, 2);
	ck_assert_str_eq(c->ci_issuers[0].name, "gitlab");
	ck_assert_str_eq(c->ci_issuers[0].issuer, "https://gitlab.example.com");
	ck_assert_str_eq(c->ci_issuers[0].audience, "signet");
	ck_assert_int_eq(c->ci_issuers[0].kind, JWT_KIND_GITLAB);
	ck_assert_int_eq(c->ci_issuers[1].kind, JWT_KIND_GITHUB);
	ck_assert_uint_eq(jwks_count(c->ci_issuers[0].keys), 2);
	/* The issuers as jwt_verify() takes them, built once. */
	ck_assert_str_eq(c->jwt_issuers[1].issuer, "https://token.actions.githubusercontent.com");
	ck_assert_ptr_eq(c->jwt_issuers[0].keys, c->ci_issuers[0].keys);
	ck_assert_int_eq(c->keys[0].ci_token_required, 1);
	ck_assert_int_eq(c->keys[0].ci_protected_ref, 1);
	ck_assert_uint_eq(c->keys[0].nci_token_issuers, 1);
	ck_assert_uint_eq(c->keys[0].ci_token_issuers[0], 0);
	ck_assert_int_eq(c->keys[1].ci_token_required, 0);
	memset(&ws, 0, sizeof(ws));
	ck_assert_uint_eq(config_warnings(c, collect, &ws), 0);
	config_free(c);

	/* Rules without a required token: loaded, with a warning. */
	ck_assert_int_eq(
	    load_text(BASE_HEAD KEY_HEAD ",\"ci_projects\":[\"g/p\"]}}," SUBS, &ps, &c), 0);
	memset(&ws, 0, sizeof(ws));
	ck_assert_uint_eq(config_warnings(c, collect, &ws), 1);
	ck_assert_ptr_nonnull(strstr(ws.text,
	    "keys.release: ci_projects and ci_refs match the "
	    "job's self-asserted ci members"));
	config_free(c);
}
END_TEST

START_TEST(config_ci_problems)
{
	struct agent_config *c = NULL;
	struct problems ps;

	ck_assert_int_eq(
	    load_text(BASE_HEAD
		"\"ci_issuers\":{" GITLAB_ISSUER ","
		"\"small\":{\"issuer\":\"https://"
		"small.example\",\"audience\":\"signet\",\"jwks\":\"" TEST_DATA_DIR
		"/jwt-jwks-rsa1024.json\",\"kind\":\"gitlab\"},"
		"\"again\":{\"issuer\":\"https://gitlab.example.com\",\"audience\":\"\",\"jwks\":"
		"\"jwks.json\",\"kind\":\"jenkins\",\"url\":1},"
		"\"gone\":{\"issuer\":\"https://gone.example\",\"audience\":\"signet\",\"jwks\":"
		"\"/nonexistent/jwks.json\",\"kind\":\"github\"}}," KEY_HEAD
		",\"ci_projects\":[\"g/p\"],\"ci_protected_ref\":true,\"ci_token\":\"yes\","
		"\"ci_token_issuers\":[\"gitlab\",\"nope\"]},"
		"\"other\":{\"key\":\"pkcs11:object=o\",\"mechanism\":\"ecdsa-sha256\","
		"\"certificates\":\"" TEST_DATA_DIR "/crypto-leaf.crt\",\"formats\":[\"raw\"],"
		"\"ci_refs\":[\"refs/tags/*\"],\"ci_token_issuers\":[]}}," SUBS,
		&ps, &c),
	    SG_ERR_CONFIG);
	ck_assert_ptr_null(c);
	HAS("ci_issuers.small.jwks: " TEST_DATA_DIR "/jwt-jwks-rsa1024.json: keys[0] (kid "
	    "\"small\"): RSA modulus of 1024 bits; 2048 to 8192 allowed");
	HAS("ci_issuers.again.url: unknown member");
	HAS("ci_issuers.again.audience: empty or too long");
	HAS("ci_issuers.gone.jwks: cannot read /nonexistent/jwks.json");
	HAS("keys.release.ci_token: \"required\" or \"optional\"");
	HAS("keys.release.ci_protected_ref: needs \"ci_token\": \"required\"");
	HAS("keys.release.ci_token_issuers[1]: not a configured ci_issuer");
	HAS("keys.other.ci_token_issuers: an array of 1 to 16 names");
	/* One at a time where the first problem stops the member. */
	ck_assert_int_eq(
	    load_text(BASE_HEAD
		"\"ci_issuers\":{\"a\":{\"issuer\":\"https://x\","
		"\"audience\":\"signet\",\"jwks\":\"rel/jwks.json\",\"kind\":\"gitlab\"}}," KEY_HEAD
		"}}," SUBS,
		&ps, &c),
	    SG_ERR_CONFIG);
	HAS("ci_issuers.a.jwks: must be an absolute path");
	ck_assert_int_eq(
	    load_text(BASE_HEAD
		"\"ci_issuers\":{" GITLAB_ISSUER ",\"b\":{\"issuer\":"
		"\"https://gitlab.example.com\",\"audience\":\"x\",\"jwks\":\"" TEST_DATA_DIR
		"/jwt-jwks.json\",\"kind\":\"jenkins\"}}," KEY_HEAD "}}," SUBS,
		&ps, &c),
	    SG_ERR_CONFIG);
	HAS("ci_issuers.b.kind: must be gitlab or github");
	HAS("ci_issuers.b.issuer: the same as ci_issuers.gitlab.issuer");
	/* Several issuers: a key with CI rules names the ones it trusts. */
	ck_assert_int_eq(
	    load_text(BASE_HEAD "\"ci_issuers\":{" GITLAB_ISSUER ",\"b\":{\"issuer\":"
				"\"https://b.example\",\"audience\":\"x\",\"jwks\":\"" TEST_DATA_DIR
				"/jwt-jwks.json\",\"kind\":\"github\"}}," KEY_HEAD
				",\"ci_projects\":[\"g/p\"]}}," SUBS,
		&ps, &c),
	    SG_ERR_CONFIG);
	HAS("keys.release.ci_token_issuers: required when several ci_issuers are configured");
	/* A required token with no issuer to verify it. */
	ck_assert_int_eq(
	    load_text(BASE_HEAD KEY_HEAD ",\"ci_token\":\"required\"}}," SUBS, &ps, &c),
	    SG_ERR_CONFIG);
	HAS("keys.release.ci_token: \"required\", but no ci_issuers are configured");
	ck_assert_int_eq(
	    load_text(BASE_HEAD "\"ci_issuers\":{}," KEY_HEAD "}}," SUBS, &ps, &c), SG_ERR_CONFIG);
	HAS("ci_issuers: 1 to 16 entries");
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(live_swap)
{
	struct agent_config *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct config_live *l = NULL;
	const struct agent_config *held, *now;

	ck_assert_int_eq(config_live_new(a, &l), 0);
	held = config_live_get(l);
	ck_assert_ptr_eq(held, a);
	ck_assert_int_eq(config_live_swap(l, b), 0);
	now = config_live_get(l);
	ck_assert_ptr_eq(now, b);
	config_live_put(l, held);
	config_live_put(l, now);
	config_live_free(l);
	free(a); /* the first one is borrowed */
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = test_case(s, "glob", TEST_TIMEOUT_DEFAULT);
	tcase_add_test(tc, glob_basics);
	tcase_add_test(tc, glob_bounded);
	tc = test_case(s, "/policy/decide", TEST_TIMEOUT_DEFAULT);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, decide_allows);
	tcase_add_test(tc, decide_codes);
	tcase_add_test(tc, decide_quota);
	tc = test_case(s, "/policy/decide/ci-token", TEST_TIMEOUT_DEFAULT);
	tcase_add_checked_fixture(tc, ci_setup, ci_teardown);
	tcase_add_test(tc, decide_ci_required);
	tcase_add_test(tc, decide_ci_verified_wins);
	tcase_add_test(tc, decide_ci_project_protected_issuer);
	tc = test_case(s, "/policy/quota-cert-serial", TEST_TIMEOUT_DEFAULT);
	tcase_add_test(tc, quota_windows);
	tcase_add_test(tc, quota_same_second);
	tcase_add_test(tc, serial_normalize);
	tcase_add_test(tc, cert_parse_limits);
	tc = test_case(s, "/config/policy", TEST_TIMEOUT_DEFAULT);
	tcase_add_test(tc, config_problems);
	tcase_add_test(tc, config_identity_needs_ca);
	tcase_add_test(tc, config_privsep_members);
	tcase_add_test(tc, config_ca_required_with_several);
	tcase_add_test(tc, config_redis_password_refused);
	tcase_add_test(tc, config_store_mode);
	tcase_add_test(tc, config_loads_policy);
	tcase_add_test(tc, config_ci_issuers);
	tcase_add_test(tc, config_ci_problems);
	tcase_add_test(tc, live_swap);
	return test_run(s);
}
