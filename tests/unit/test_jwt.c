/*
 * test_jwt.c — CI identity tokens (common/jwt.h) against an issuer made
 * here: RSA-2048 and EC P-256 keys generated with OpenSSL, their JWK Set,
 * tokens signed in the test.  Genuine RS256 and ES256 tokens are accepted
 * with their claims mapped for GitLab and GitHub; every refusal is checked
 * with its exact fault and message; the signature is mutated bit by bit
 * and the token truncated at every length; the JWK Set rules, each with
 * its message.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "b64.h"
#include "jwt.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S 60
#define NOW            INT64_C(1800000000) /* 2027-01-15T08:00:00Z */
#define ISS            "https://gitlab.example.com"
#define GH_ISS         "https://token.actions.githubusercontent.com"
#define AUD            "signet"
#define TOK_MAX        16384

/* Made once in main(), before Check forks each test. */
static EVP_PKEY *rsa_key, *ec_key, *other_rsa, *rsa1024;
static char *jwks_text; /* rsa1 and ec1 */
static struct jwks *keys;
static struct jwt_issuer issuers[2];

/* --- helpers ------------------------------------------------------------- */

/* Set while main() builds the fixtures, before Check runs any test: a
 * failure then cannot be reported through Check. */
static int in_setup;

#define NEED(x) need((x), #x, __LINE__)

static void
need(int ok, const char *what, int line)
{
	if (ok)
		return;
	if (in_setup) {
		fprintf(stderr, "test_jwt: fixture: line %d: %s\n", line, what);
		exit(EXIT_FAILURE);
	}
	ck_abort_msg("line %d: %s", line, what);
}

static char *
b64u(const void *buf, size_t len)
{
	char *s = NULL;

	NEED(b64url_encode(buf, len, &s) == 0);
	return s;
}

/* base64url of a key's BIGNUM or octet parameter. */
static char *
bn_param(EVP_PKEY *pk, const char *name)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;
	char *s;

	NEED(EVP_PKEY_get_bn_param(pk, name, &bn) == 1);
	n = BN_bn2bin(bn, buf);
	BN_free(bn);
	s = b64u(buf, (size_t)n);
	return s;
}

/* x and y of an EC P-256 key, base64url. */
static void
ec_xy(EVP_PKEY *pk, char **x, char **y)
{
	unsigned char pt[65];
	size_t len = 0;

	NEED(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len) ==
	    1);
	NEED(len == 65);
	NEED(pt[0] == 4);
	*x = b64u(pt + 1, 32);
	*y = b64u(pt + 33, 32);
}

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, f);
	NEED(vasprintf(&s, f, ap) >= 0);
	va_end(ap);
	return s;
}

/* A JWK of an RSA key, with extra members (text starting with ',' or ""). */
static char *
jwk_rsa(EVP_PKEY *pk, const char *kid, const char *extra)
{
	char *n = bn_param(pk, OSSL_PKEY_PARAM_RSA_N), *e = bn_param(pk, OSSL_PKEY_PARAM_RSA_E);
	char *s = fmt("{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"alg\":\"RS256\","
		      "\"n\":\"%s\",\"e\":\"%s\"%s}",
	    kid, n, e, extra);

	free(n);
	free(e);
	return s;
}

static char *
jwk_ec(EVP_PKEY *pk, const char *kid, const char *extra)
{
	char *x, *y, *s;

	ec_xy(pk, &x, &y);
	s = fmt("{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"%s}",
	    kid, x, y, extra);
	free(x);
	free(y);
	return s;
}

static EVP_PKEY *
keygen(const char *type, const char *param, unsigned bits)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pk = NULL;

	NEED(ctx != NULL);
	NEED(EVP_PKEY_keygen_init(ctx) == 1);
	if (param != NULL)
		NEED(EVP_PKEY_CTX_set_group_name(ctx, param) == 1);
	else
		NEED(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1);
	NEED(EVP_PKEY_generate(ctx, &pk) == 1);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* Signs msg: RS256 with an RSA key, ES256 (R || S) with an EC key. */
static char *
sign_b64(EVP_PKEY *pk, const char *msg)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char sig[1024], raw[64];
	const unsigned char *p = sig;
	size_t len = sizeof(sig);
	ECDSA_SIG *es;
	const BIGNUM *r, *s;
	char *out;

	ck_assert_int_eq(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, pk), 1);
	ck_assert_int_eq(EVP_DigestSign(m, sig, &len, (const unsigned char *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(m);
	if (EVP_PKEY_is_a(pk, "RSA"))
		return b64u(sig, len);
	es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(es);
	ECDSA_SIG_get0(es, &r, &s);
	ck_assert_int_eq(BN_bn2binpad(r, raw, 32), 32);
	ck_assert_int_eq(BN_bn2binpad(s, raw + 32, 32), 32);
	ECDSA_SIG_free(es);
	out = b64u(raw, 64);
	return out;
}

/* header.claims.signature, signed with pk (NULL: empty signature). */
static char *
token_with(const char *header, const char *claims, EVP_PKEY *pk)
{
	char *h = b64u(header, strlen(header)), *c = b64u(claims, strlen(claims));
	char *signing = fmt("%s.%s", h, c), *sig = pk != NULL ? sign_b64(pk, signing) : strdup("");
	char *t = fmt("%s.%s", signing, sig);

	free(h);
	free(c);
	free(signing);
	free(sig);
	return t;
}

/* GitLab claims with one member replaced or added (name=NULL: none). */
static char *
gitlab_claims(const char *extra)
{
	return fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"iat\":%lld,"
		   "\"nbf\":%lld,\"sub\":\"project_path:group/firmware:ref_type:tag:ref:v1.2\","
		   "\"project_path\":\"group/firmware\",\"pipeline_id\":\"4242\",\"ref\":\"v1.2\","
		   "\"ref_type\":\"tag\",\"ref_protected\":\"true\",\"environment\":\"release\","
		   "\"jti\":\"0d9c5e7a\"%s}",
	    (long long)(NOW + 300), (long long)(NOW - 10), (long long)(NOW - 10),
	    extra != NULL ? extra : "");
}

static char *
rs_token(const char *claims)
{
	return token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}", claims, rsa_key);
}

static int
verify(const char *tok, struct jwt_claims **ret, struct jwt_error *err)
{
	size_t len = strlen(tok);
	char *copy = malloc(len ? len : 1);
	int r;

	/* An exact-size copy without a NUL: the parser must respect len. */
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, tok, len);
	r = jwt_verify(copy, len, issuers, nitems(issuers), NOW, ret, err);
	free(copy);
	return r;
}

static struct jwt_claims *
accept(const char *tok)
{
	struct jwt_claims *c = NULL;
	struct jwt_error err = { JWT_FAULT_NONE, "untouched" };
	int r = verify(tok, &c, &err);

	ck_assert_msg(r == 0, "refused (%s): %s", jwt_fault_name(err.fault), err.why);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(err.fault, JWT_FAULT_NONE);
	ck_assert_str_eq(err.why, "untouched");
	return c;
}

/* The token is refused with fault f and a message containing `why`. */
static void
refused(const char *tok, enum jwt_fault f, const char *why)
{
	struct jwt_claims *c = (struct jwt_claims *)(uintptr_t)1;
	struct jwt_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = verify(tok, &c, &err);
	ck_assert_msg(r == SG_ERR_POLICY_CI_TOKEN, "accepted or other error %d", r);
	ck_assert_ptr_null(c);
	ck_assert_msg(err.fault == f, "fault %s (%s), want %s", jwt_fault_name(err.fault), err.why,
	    jwt_fault_name(f));
	if (why != NULL)
		ck_assert_msg(
		    strstr(err.why, why) != NULL, "message \"%s\" lacks \"%s\"", err.why, why);
}

/* Claims text built by hand (no defaults), RS256-signed. */
static void
refused_raw_claims(const char *claims, enum jwt_fault f, const char *why)
{
	char *t = rs_token(claims);

	refused(t, f, why);
	free(t);
}

/* --- genuine tokens ------------------------------------------------------- */

START_TEST(rs256_genuine)
{
	char *c = gitlab_claims(NULL), *t = rs_token(c);
	struct jwt_claims *cl = accept(t);

	ck_assert_str_eq(cl->issuer_name, "gitlab");
	ck_assert_str_eq(cl->issuer, ISS);
	ck_assert_int_eq(cl->kind, JWT_KIND_GITLAB);
	ck_assert_str_eq(cl->project, "group/firmware");
	ck_assert_str_eq(cl->ref, "refs/tags/v1.2");
	ck_assert_int_eq(cl->ref_protected, 1);
	ck_assert_str_eq(cl->pipeline, "4242");
	ck_assert_str_eq(cl->environment, "release");
	ck_assert_str_eq(cl->subject, "project_path:group/firmware:ref_type:tag:ref:v1.2");
	ck_assert_str_eq(cl->jti, "0d9c5e7a");
	ck_assert_int_eq(cl->exp, NOW + 300);
	jwt_claims_free(cl);
	jwt_claims_free(NULL);
	free(t);
	free(c);
}
END_TEST

START_TEST(es256_genuine)
{
	char *c =
	    fmt("{\"iss\":\"" GH_ISS "\",\"aud\":[\"https://github.com/example-org\",\"" AUD
		"\"],\"exp\":%lld,\"iat\":%lld,\"sub\":\"repo:example-org/firmware:ref:refs/heads/"
		"main\","
		"\"repository\":\"example-org/firmware\",\"ref\":\"refs/heads/main\",\"ref_type\":"
		"\"branch\",\"run_id\":\"987\",\"ref_protected\":true,\"workflow\":\"release\","
		"\"actor_id\":12}",
		(long long)(NOW + 600), (long long)NOW);
	char *t = token_with(
	    "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"x5t\":\"abc\",\"kid\":\"ec1\"}", c, ec_key);
	struct jwt_claims *cl = accept(t);

	ck_assert_str_eq(cl->issuer_name, "github");
	ck_assert_int_eq(cl->kind, JWT_KIND_GITHUB);
	ck_assert_str_eq(cl->project, "example-org/firmware");
	ck_assert_str_eq(cl->ref, "refs/heads/main");
	ck_assert_int_eq(cl->ref_protected, 1);
	ck_assert_str_eq(cl->pipeline, "987");
	ck_assert_ptr_null(cl->environment);
	ck_assert_ptr_null(cl->jti);
	jwt_claims_free(cl);
	free(t);
	free(c);
}
END_TEST

START_TEST(map_gitlab)
{
	static const struct {
		const char *members, *ref;
		int prot;
	} v[] = {
		{ "\"ref_type\":\"branch\",\"ref\":\"main\",\"ref_protected\":\"false\"",
		    "refs/heads/main", 0 },
		{ "\"ref_type\":\"tag\",\"ref\":\"v9.9\",\"ref_protected\":\"true\"",
		    "refs/tags/v9.9", 1 },
		{ "\"ref_type\":\"merge_request\",\"ref\":\"5\",\"ref_protected\":\"true\"", NULL,
		    1 },
		{ "\"ref_type\":\"Tag\",\"ref\":\"v1\"", NULL, 0 },
		{ "\"ref\":\"v1\"", NULL, 0 },
		{ "\"ref_type\":\"tag\"", NULL, 0 },
	};
	struct jwt_claims *cl;
	char *c, *t;
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,"
			"\"project_path\":\"g/p\",%s}",
		    (long long)(NOW + 60), v[i].members);
		t = rs_token(c);
		cl = accept(t);
		ck_assert_pstr_eq(cl->ref, v[i].ref);
		ck_assert_int_eq(cl->ref_protected, v[i].prot);
		ck_assert_str_eq(cl->project, "g/p");
		ck_assert_ptr_null(cl->pipeline);
		jwt_claims_free(cl);
		free(t);
		free(c);
	}
	/* No ref_protected: not protected; empty strings count as absent. */
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"project_path\":\"\","
		"\"ref\":\"main\",\"ref_type\":\"branch\"}",
	    (long long)(NOW + 60));
	t = rs_token(c);
	cl = accept(t);
	ck_assert_int_eq(cl->ref_protected, 0);
	ck_assert_ptr_null(cl->project);
	ck_assert_str_eq(cl->ref, "refs/heads/main");
	jwt_claims_free(cl);
	free(t);
	free(c);
	/* Wrong types and values of the claims policy reads. */
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"ref_protected\":\"yes\"}",
	    JWT_FAULT_CLAIMS, "ref_protected");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"ref_protected\":1}",
	    JWT_FAULT_CLAIMS, "ref_protected");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"project_path\":7}",
	    JWT_FAULT_CLAIMS, "claim project_path is not a string");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"pipeline_id\":4242}",
	    JWT_FAULT_CLAIMS, "claim pipeline_id");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"ref\":\"a\\nb\",\"ref_type\":\"branch\"}",
	    JWT_FAULT_CLAIMS, "control");
}
END_TEST

START_TEST(map_github)
{
	static const struct {
		const char *prot;
		int want;
	} v[] = { { "", 0 }, { ",\"ref_protected\":\"true\"", 1 },
		{ ",\"ref_protected\":false", 0 }, { ",\"ref_protected\":\"false\"", 0 } };
	struct jwt_claims *cl;
	char *c, *t;
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		c = fmt("{\"iss\":\"" GH_ISS "\",\"aud\":\"" AUD
			"\",\"exp\":%lld,\"repository\":\"o/r\","
			"\"ref\":\"refs/tags/v2\",\"run_id\":\"5\"%s}",
		    (long long)(NOW + 60), v[i].prot);
		t = token_with("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, ec_key);
		cl = accept(t);
		ck_assert_str_eq(cl->project, "o/r");
		ck_assert_str_eq(cl->ref, "refs/tags/v2");
		ck_assert_str_eq(cl->pipeline, "5");
		ck_assert_int_eq(cl->ref_protected, v[i].want);
		jwt_claims_free(cl);
		free(t);
		free(c);
	}
	/* GitHub's ref is already refs/...: anything else is refused. */
	c = fmt("{\"iss\":\"" GH_ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"ref\":\"main\"}",
	    (long long)(NOW + 60));
	t = token_with("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, ec_key);
	refused(t, JWT_FAULT_CLAIMS, "does not start with refs/");
	free(t);
	free(c);
}
END_TEST

START_TEST(claims_lengths)
{
	char big[JWT_CLAIM_MAX + 2], *extra;
	struct jwt_claims *cl;
	char *c, *t;

	memset(big, 'p', sizeof(big));
	big[JWT_CLAIM_MAX] = '\0';
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"project_path\":\"%s\"}",
	    (long long)(NOW + 60), big);
	t = rs_token(c);
	cl = accept(t);
	ck_assert_uint_eq(strlen(cl->project), JWT_CLAIM_MAX);
	jwt_claims_free(cl);
	free(t);
	free(c);
	big[JWT_CLAIM_MAX] = 'p';
	big[JWT_CLAIM_MAX + 1] = '\0';
	extra =
	    fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"project_path\":\"%s\"}",
		(long long)(NOW + 60), big);
	refused_raw_claims(extra, JWT_FAULT_CLAIMS, "over 512 bytes");
	free(extra);
}
END_TEST

/* --- time ----------------------------------------------------------------- */

START_TEST(time_expired)
{
	char *c, *t;

	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}", (long long)NOW);
	refused_raw_claims(c, JWT_FAULT_EXPIRED, "expired at 2027-01-15T08:00:00Z");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}", (long long)(NOW - 3600));
	refused_raw_claims(c, JWT_FAULT_EXPIRED, "expired at 2027-01-15T07:00:00Z");
	free(c);
	/* One second left is enough. */
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}", (long long)(NOW + 1));
	t = rs_token(c);
	jwt_claims_free(accept(t));
	free(t);
	free(c);
}
END_TEST

START_TEST(time_nbf_iat)
{
	char *c, *t;

	/* nbf: 60 s ahead is within the skew, 61 s is not. */
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"nbf\":%lld}",
	    (long long)(NOW + 600), (long long)(NOW + JWT_CLOCK_SKEW_S));
	t = rs_token(c);
	jwt_claims_free(accept(t));
	free(t);
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"nbf\":%lld}",
	    (long long)(NOW + 600), (long long)(NOW + JWT_CLOCK_SKEW_S + 1));
	refused_raw_claims(c, JWT_FAULT_NOT_YET_VALID, "not valid before 2027-01-15T08:01:01Z");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"iat\":%lld}",
	    (long long)(NOW + 600), (long long)(NOW + 3600));
	refused_raw_claims(c, JWT_FAULT_NOT_YET_VALID, "issued at 2027-01-15T09:00:00Z");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"iat\":%lld}",
	    (long long)(NOW + 600), (long long)(NOW + JWT_CLOCK_SKEW_S));
	t = rs_token(c);
	jwt_claims_free(accept(t));
	free(t);
	free(c);
}
END_TEST

START_TEST(claims_exp_missing_and_types)
{
	refused_raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}", JWT_FAULT_CLAIMS, "no exp claim");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"1900000000\"}",
	    JWT_FAULT_CLAIMS, "exp is not an integer");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000.5}",
	    JWT_FAULT_CLAIMS, "exp is not an integer");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":-1}", JWT_FAULT_CLAIMS,
	    "exp is not an integer");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1e400}",
	    JWT_FAULT_CLAIMS, "exp is not an integer");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":9007199254740992}",
	    JWT_FAULT_CLAIMS, "exp is not an integer");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"nbf\":null}",
	    JWT_FAULT_CLAIMS, "nbf is not an integer");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"iat\":true}",
	    JWT_FAULT_CLAIMS, "iat is not an integer");
}
END_TEST

/* --- audience and issuer -------------------------------------------------- */

START_TEST(aud_wrong)
{
	char *c;

	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"other\",\"exp\":1900000000}",
	    JWT_FAULT_AUDIENCE, "audience \"other\", not \"signet\"");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"Signet\",\"exp\":1900000000}",
	    JWT_FAULT_AUDIENCE, "not \"signet\"");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"exp\":1900000000}",
	    JWT_FAULT_AUDIENCE, "audience [\"a\", ...], not \"signet\"");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":[],\"exp\":1900000000}",
	    JWT_FAULT_AUDIENCE, "array of 1 to 16");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":[\"signet\",1],\"exp\":1900000000}",
	    JWT_FAULT_AUDIENCE, "not a string");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":{\"signet\":1},\"exp\":1900000000}",
	    JWT_FAULT_AUDIENCE, NULL);
	refused_raw_claims(
	    "{\"iss\":\"" ISS "\",\"exp\":1900000000}", JWT_FAULT_AUDIENCE, "no aud claim");
	refused_raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
	    "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"signet\"],"
	    "\"exp\":1900000000}",
	    JWT_FAULT_AUDIENCE, "array of 1 to 16");
	/* The audience in an array of up to 16 is fine. */
	c = strdup("{\"iss\":\"" ISS "\",\"aud\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
		   "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"signet\"],\"exp\":"
		   "1900000000}");
	{
		char *t = rs_token(c);
		jwt_claims_free(accept(t));
		free(t);
	}
	free(c);
}
END_TEST

START_TEST(iss_wrong)
{
	refused_raw_claims("{\"iss\":\"https://gitlab.evil.example\",\"aud\":\"" AUD "\","
			   "\"exp\":1900000000}",
	    JWT_FAULT_ISSUER, "iss \"https://gitlab.evil.example\" is not a configured issuer");
	refused_raw_claims("{\"iss\":\"" ISS "/\",\"aud\":\"" AUD "\",\"exp\":1900000000}",
	    JWT_FAULT_ISSUER, "is not a configured issuer");
	refused_raw_claims("{\"aud\":\"" AUD "\",\"exp\":1900000000}", JWT_FAULT_ISSUER, "no iss");
	refused_raw_claims("{\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\",\"exp\":1900000000}",
	    JWT_FAULT_ISSUER, "no iss");
	/* The GitHub issuer's token signed with the GitLab issuer's key: the
	 * kid is looked up in the GitHub set only. */
	{
		char *c = fmt("{\"iss\":\"" GH_ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000}");
		char *t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", c, rsa_key);
		refused(t, JWT_FAULT_KID, "unknown kid \"rsa1\" for issuer github");
		free(t);
		free(c);
	}
}
END_TEST

/* --- header ------------------------------------------------------------- */

START_TEST(kid_unknown)
{
	char *c = gitlab_claims(NULL), *t;

	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa9\"}", c, rsa_key);
	refused(t, JWT_FAULT_KID, "unknown kid \"rsa9\" for issuer gitlab");
	free(t);
	t = token_with("{\"alg\":\"RS256\"}", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "no kid");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"\"}", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "no kid");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":7}", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "no kid");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\\u0007\"}", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "no kid");
	free(t);
	/* The right key under another name does not help. */
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"RSA1\"}", c, rsa_key);
	refused(t, JWT_FAULT_KID, "unknown kid \"RSA1\"");
	free(t);
	free(c);
}
END_TEST

START_TEST(alg_none)
{
	char *c = gitlab_claims(NULL), *t;

	t = token_with("{\"alg\":\"none\",\"kid\":\"rsa1\"}", c, NULL);
	refused(t, JWT_FAULT_ALG, "alg \"none\" refused (RS256 or ES256 only)");
	free(t);
	/* With a signature, and in other spellings. */
	t = token_with("{\"alg\":\"none\",\"kid\":\"rsa1\"}", c, rsa_key);
	refused(t, JWT_FAULT_ALG, "alg \"none\" refused");
	free(t);
	t = token_with("{\"alg\":\"None\",\"kid\":\"rsa1\"}", c, NULL);
	refused(t, JWT_FAULT_ALG, "alg \"None\" refused");
	free(t);
	t = token_with("{\"alg\":\"\",\"kid\":\"rsa1\"}", c, NULL);
	refused(t, JWT_FAULT_ALG, NULL);
	free(t);
	t = token_with("{\"alg\":null,\"kid\":\"rsa1\"}", c, NULL);
	refused(t, JWT_FAULT_HEADER, "no alg");
	free(t);
	t = token_with("{\"kid\":\"rsa1\"}", c, NULL);
	refused(t, JWT_FAULT_HEADER, "no alg");
	free(t);
	free(c);
}
END_TEST

/* The classic confusion: the RSA public key (as PEM, as the JWK's n) used
 * as an HMAC secret.  Refused by alg before any key is looked at. */
START_TEST(alg_hs256)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *c = gitlab_claims(NULL), *h, *cb, *signing, *sig, *t, *pem;
	BIO *bio = BIO_new(BIO_s_mem());
	long pemlen;

	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, rsa_key), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	h = b64u(hdr, strlen(hdr));
	cb = b64u(c, strlen(c));
	signing = fmt("%s.%s", h, cb);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), pem, (int)pemlen, (const unsigned char *)signing,
	    strlen(signing), mac, &maclen));
	sig = b64u(mac, maclen);
	t = fmt("%s.%s", signing, sig);
	refused(t, JWT_FAULT_ALG, "alg \"HS256\" refused");
	free(t);
	free(sig);
	free(signing);
	free(cb);
	free(h);
	BIO_free(bio);
	free(c);
}
END_TEST

START_TEST(alg_others)
{
	static const char *const algs[] = {
		"HS384",
		"HS512",
		"RS384",
		"RS512",
		"PS256",
		"ES384",
		"ES512",
		"EdDSA",
		"rs256",
		"RS256 ",
		"ES256K",
		"RSA-OAEP",
	};
	char *c = gitlab_claims(NULL), *h, *t;
	size_t i;

	for (i = 0; i < nitems(algs); i++) {
		h = fmt("{\"alg\":\"%s\",\"kid\":\"rsa1\"}", algs[i]);
		t = token_with(h, c, rsa_key);
		refused(t, JWT_FAULT_ALG, "refused (RS256 or ES256 only)");
		free(t);
		free(h);
	}
	/* Each algorithm only with its own key type. */
	t = token_with("{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", c, ec_key);
	refused(t, JWT_FAULT_KEY_ALG, "alg ES256 does not fit key \"rsa1\" (RSA)");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"ec1\"}", c, rsa_key);
	refused(t, JWT_FAULT_KEY_ALG, "alg RS256 does not fit key \"ec1\" (EC P-256)");
	free(t);
	free(c);
}
END_TEST

START_TEST(header_rules)
{
	char *c = gitlab_claims(NULL), *t;

	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"]}", c, rsa_key);
	refused(t, JWT_FAULT_CRIT, "crit");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[]}", c, rsa_key);
	refused(t, JWT_FAULT_CRIT, "crit");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"at+jwt\"}", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "typ is not JWT");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":1}", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "typ is not JWT");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"jwt\"}", c, rsa_key);
	jwt_claims_free(accept(t));
	free(t);
	/* A duplicate alg could mean two things to two parsers. */
	t = token_with("{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"rsa1\"}", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "strict JSON object");
	free(t);
	t = token_with("[\"RS256\"]", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "strict JSON object");
	free(t);
	t = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\"} x", c, rsa_key);
	refused(t, JWT_FAULT_HEADER, "strict JSON object");
	free(t);
	/* Keys in the token are never used. */
	t = token_with(
	    "{\"alg\":\"RS256\",\"kid\":\"rsa9\",\"jku\":\"https://evil.example/k\"}", c, rsa_key);
	refused(t, JWT_FAULT_KID, "unknown kid");
	free(t);
	free(c);
}
END_TEST

/* --- tampering ------------------------------------------------------------ */

START_TEST(tamper_claims)
{
	char *c = gitlab_claims(NULL), *t = rs_token(c), *c2, *cb, *dot1, *dot2, *t2;

	/* The same claims with one byte changed (v1.2 -> v1.3), the signature kept. */
	c2 = strdup(c);
	*strstr(c2, "\"ref\":\"v1.2\"") = '"';
	strstr(c2, "\"ref\":\"v1.2\"")[10] = '3';
	cb = b64u(c2, strlen(c2));
	dot1 = strchr(t, '.');
	dot2 = strchr(dot1 + 1, '.');
	t2 = fmt("%.*s.%s%s", (int)(dot1 - t), t, cb, dot2);
	refused(t2, JWT_FAULT_SIGNATURE,
	    "signature does not verify with key \"rsa1\" of issuer "
	    "gitlab");
	free(t2);
	/* Or the header: same key, an added member. */
	{
		char *h = b64u("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x\":1}", 34);
		t2 = fmt("%s%s", h, dot1);
		refused(t2, JWT_FAULT_SIGNATURE, NULL);
		free(t2);
		free(h);
	}
	/* A token signed by another RSA key under the known kid. */
	t2 = token_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", c, other_rsa);
	refused(t2, JWT_FAULT_SIGNATURE, NULL);
	free(t2);
	free(cb);
	free(c2);
	free(t);
	free(c);
}
END_TEST

/* Every bit of the signature flipped, for both algorithms. */
START_TEST(tamper_signature)
{
	char *c = gitlab_claims(NULL), *toks[2], *dot;
	uint8_t *sig;
	size_t sig_len, i, k;
	int b;

	toks[0] = rs_token(c);
	toks[1] = token_with("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c, ec_key);
	for (k = 0; k < 2; k++) {
		dot = strrchr(toks[k], '.');
		ck_assert_int_eq(b64url_decode(dot + 1, strlen(dot + 1), &sig, &sig_len), 0);
		ck_assert_uint_eq(sig_len, k == 0 ? 256 : 64);
		for (i = 0; i < sig_len; i++) {
			for (b = 0; b < 8; b++) {
				char *s, *t;
				sig[i] ^= (uint8_t)(1u << b);
				s = b64u(sig, sig_len);
				t = fmt("%.*s.%s", (int)(dot - toks[k]), toks[k], s);
				refused(t, JWT_FAULT_SIGNATURE, NULL);
				free(t);
				free(s);
				sig[i] ^= (uint8_t)(1u << b);
			}
		}
		/* Too short or too long by a byte, or empty. */
		{
			char *s = b64u(sig, sig_len - 1),
			     *t = fmt("%.*s.%s", (int)(dot - toks[k]), toks[k], s);
			refused(t, JWT_FAULT_SIGNATURE, NULL);
			free(t);
			free(s);
			t = fmt("%.*s.", (int)(dot - toks[k]), toks[k]);
			refused(t, JWT_FAULT_SIGNATURE, NULL);
			free(t);
		}
		free(sig);
	}
	/* An ES256 signature in DER (what OpenSSL makes) is not R || S. */
	{
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		unsigned char der[128];
		size_t dlen = sizeof(der);
		char *s, *t;

		dot = strrchr(toks[1], '.');
		ck_assert_int_eq(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, ec_key), 1);
		ck_assert_int_eq(EVP_DigestSign(m, der, &dlen, (const unsigned char *)toks[1],
				     (size_t)(dot - toks[1])),
		    1);
		EVP_MD_CTX_free(m);
		s = b64u(der, dlen);
		t = fmt("%.*s.%s", (int)(dot - toks[1]), toks[1], s);
		refused(t, JWT_FAULT_SIGNATURE, NULL);
		free(t);
		free(s);
	}
	free(toks[0]);
	free(toks[1]);
	free(c);
}
END_TEST

/* Every prefix of a genuine token is refused, and never crashes. */
START_TEST(tamper_truncate)
{
	char *c = gitlab_claims(NULL), *t = rs_token(c);
	struct jwt_claims *cl = NULL;
	struct jwt_error err;
	size_t len = strlen(t), i;

	for (i = 0; i < len; i++) {
		char *copy = malloc(i ? i : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, t, i);
		ck_assert_int_eq(
		    jwt_verify(copy, i, issuers, 2, NOW, &cl, &err), SG_ERR_POLICY_CI_TOKEN);
		ck_assert_ptr_null(cl);
		free(copy);
	}
	free(t);
	free(c);
}
END_TEST

/* --- form and size -------------------------------------------------------- */

/* A genuine token of exactly `target` bytes, its claims padded. */
static char *
token_of_length(size_t target)
{
	char *pad, *extra, *c, *t, *hdr;
	size_t n, h, len;

	for (h = 0; h < 4; h++) {
		hdr = fmt("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x\":\"%.*s\"}", (int)h, "xxx");
		for (n = 5000; n < 6000; n++) {
			pad = malloc(n + 1);
			ck_assert_ptr_nonnull(pad);
			memset(pad, 'a', n);
			pad[n] = '\0';
			extra = fmt(",\"pad\":\"%s\"", pad);
			c = gitlab_claims(extra);
			t = token_with(hdr, c, rsa_key);
			free(c);
			free(extra);
			free(pad);
			len = strlen(t);
			if (len == target) {
				free(hdr);
				return t;
			}
			free(t);
			if (len > target + 4)
				break;
		}
		free(hdr);
	}
	ck_abort_msg("no token of %zu bytes", target);
	return NULL;
}

START_TEST(size_limit)
{
	char *t = token_of_length(JWT_TOKEN_MAX_BYTES);

	ck_assert_int_eq(JWT_TOKEN_MAX_BYTES, 8192);
	jwt_claims_free(accept(t));
	free(t);
	t = token_of_length(JWT_TOKEN_MAX_BYTES + 1);
	refused(t, JWT_FAULT_SIZE, "a token of 8193 bytes; at most 8192");
	free(t);
}
END_TEST

START_TEST(form_base64url)
{
	char *c = gitlab_claims(NULL), *t = rs_token(c), *d1, *d2, *v;
	size_t hl;

	d1 = strchr(t, '.');
	d2 = strchr(d1 + 1, '.');
	hl = (size_t)(d1 - t);
	/* Padding on a part (standard base64 habit). */
	v = fmt("%.*s==%s", (int)hl, t, d1);
	refused(v, JWT_FAULT_FORM, "header is not base64url");
	free(v);
	v = fmt("%.*s=%s", (int)(d2 - t), t, d2);
	refused(v, JWT_FAULT_FORM, "claims part is not base64url");
	free(v);
	v = fmt("%s=", t);
	refused(v, JWT_FAULT_FORM, "signature is not base64url");
	free(v);
	/* '+' and '/' of standard base64, white space, a NUL. */
	v = strdup(t);
	v[hl + 3] = '+';
	refused(v, JWT_FAULT_FORM, "claims part is not base64url");
	v[hl + 3] = '/';
	refused(v, JWT_FAULT_FORM, "claims part is not base64url");
	v[hl + 3] = ' ';
	refused(v, JWT_FAULT_FORM, NULL);
	free(v);
	{
		struct jwt_claims *cl = NULL;
		struct jwt_error err;
		char *copy = strdup(t);

		copy[2] = '\0';
		ck_assert_int_eq(jwt_verify(copy, strlen(t), issuers, 2, NOW, &cl, &err),
		    SG_ERR_POLICY_CI_TOKEN);
		ck_assert_int_eq(err.fault, JWT_FAULT_FORM);
		free(copy);
	}
	/* Parts: two, four, empty header, empty claims. */
	v = fmt("%.*s", (int)(d2 - t), t);
	refused(v, JWT_FAULT_FORM, "2 parts");
	free(v);
	v = fmt("%s.%s", t, d2 + 1);
	refused(v, JWT_FAULT_FORM, "more than 3 parts");
	free(v);
	v = fmt("%s", d1);
	refused(v, JWT_FAULT_FORM, "empty header");
	free(v);
	v = fmt("%.*s.%s", (int)hl, t, d2);
	refused(v, JWT_FAULT_FORM, "empty header or claims");
	free(v);
	refused("", JWT_FAULT_FORM, "1 parts");
	refused("..", JWT_FAULT_FORM, "empty");
	free(t);
	free(c);
}
END_TEST

START_TEST(claims_duplicates)
{
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"exp\":1}",
	    JWT_FAULT_CLAIMS, "duplicate claim name");
	refused_raw_claims("{\"iss\":\"https://evil.example\",\"iss\":\"" ISS "\",\"aud\":\"" AUD
			   "\",\"exp\":1900000000}",
	    JWT_FAULT_CLAIMS, "duplicate claim name");
	refused_raw_claims("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,"
			   "\"ref\":\"main\",\"ref\":\"v1\"}",
	    JWT_FAULT_CLAIMS, "duplicate claim name");
	/* An escaped NUL could cut a value short for another parser. */
	refused_raw_claims("{\"iss\":\"" ISS "\\u0000x\",\"aud\":\"" AUD "\",\"exp\":1900000000}",
	    JWT_FAULT_CLAIMS, NULL);
	refused_raw_claims("[1]", JWT_FAULT_CLAIMS, NULL);
	refused_raw_claims("{\"iss\":\"" ISS "\"", JWT_FAULT_CLAIMS, NULL);
	refused_raw_claims("{\"iss\":\"\xff\"}", JWT_FAULT_CLAIMS, NULL);
}
END_TEST

START_TEST(api_arguments)
{
	struct jwt_claims *cl = NULL;
	struct jwt_error err;

	ck_assert_int_eq(jwt_verify(NULL, 0, issuers, 2, NOW, &cl, &err), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    jwt_verify("a.b.c", 5, issuers, 2, NOW, NULL, &err), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    jwt_verify("a.b.c", 5, issuers, 2, NOW, &cl, NULL), SG_ERR_INVALID_ARGUMENT);
	/* No issuer configured: every token names an unknown one. */
	{
		char *c = gitlab_claims(NULL), *t = rs_token(c);
		ck_assert_int_eq(
		    jwt_verify(t, strlen(t), NULL, 0, NOW, &cl, &err), SG_ERR_POLICY_CI_TOKEN);
		ck_assert_int_eq(err.fault, JWT_FAULT_ISSUER);
		free(t);
		free(c);
	}
	ck_assert_str_eq(jwt_fault_name(JWT_FAULT_EXPIRED), "expired");
	ck_assert_str_eq(jwt_kind_name(JWT_KIND_GITHUB), "github");
}
END_TEST

/* --- JWK Sets ------------------------------------------------------------- */

static void
jwks_refused(const char *text, int code, const char *why)
{
	struct jwks *k = (struct jwks *)(uintptr_t)1;
	char err[512] = "";

	ck_assert_int_eq(jwks_parse(text, strlen(text), &k, err, sizeof(err)), code);
	ck_assert_ptr_null(k);
	ck_assert_msg(strstr(err, why) != NULL, "message \"%s\" lacks \"%s\"", err, why);
}

START_TEST(jwks_good)
{
	struct jwks *k = NULL;
	char err[256] = "";

	ck_assert_int_eq(jwks_parse(jwks_text, strlen(jwks_text), &k, err, sizeof(err)), 0);
	ck_assert_uint_eq(jwks_count(k), 2);
	jwks_free(k);
	jwks_free(NULL);
	/* Other members of the set and of keys are ignored; use and alg optional. */
	{
		char *r = jwk_rsa(rsa_key, "a", ",\"x5c\":[\"MII\"],\"key_ops\":[\"verify\"]");
		char *e = jwk_ec(ec_key, "b", "");
		char *s = fmt("{\"keys\":[%s,%s],\"note\":\"x\"}", r, e);
		ck_assert_int_eq(jwks_parse(s, strlen(s), &k, err, sizeof(err)), 0);
		ck_assert_uint_eq(jwks_count(k), 2);
		jwks_free(k);
		free(s);
		free(r);
		free(e);
	}
}
END_TEST

START_TEST(jwks_rsa_1024)
{
	char *r = jwk_rsa(rsa1024, "small", ""), *s = fmt("{\"keys\":[%s]}", r);

	jwks_refused(s, SG_ERR_PARSE,
	    "keys[0] (kid \"small\"): RSA modulus of 1024 bits; 2048 to "
	    "8192 allowed");
	free(s);
	free(r);
}
END_TEST

START_TEST(jwks_rules)
{
	char *r = jwk_rsa(rsa_key, "k1", ""), *e = jwk_ec(ec_key, "k2", ""), *s, *v;
	char *x, *y;
	size_t i;

	v = jwk_rsa(rsa_key, "k1", "");
	s = fmt("{\"keys\":[%s,%s]}", r, v);
	jwks_refused(s, SG_ERR_PARSE, "keys[1]: kid \"k1\" also names keys[0]");
	free(s);
	free(v);
	v = jwk_rsa(rsa_key, "k3", ",\"d\":\"AQAB\"");
	s = fmt("{\"keys\":[%s]}", v);
	jwks_refused(s, SG_ERR_PARSE, "keys[0] (kid \"k3\"): private key member \"d\"");
	free(s);
	free(v);
	{
		char *n = bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_N);
		static const struct {
			const char *tmpl, *why;
		} bad[] = {
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"use\":\"enc\",\"n\":\"%s\","
			  "\"e\":\"AQAB\"}]}",
			    "use must be sig" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"alg\":\"ES256\",\"n\":\"%"
			  "s\",\"e\":\"AQAB\"}]}",
			    "alg must be RS256" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"alg\":\"RS512\",\"n\":\"%"
			  "s\",\"e\":\"AQAB\"}]}",
			    "alg must be RS256" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"%s\",\"e\":\"AQAA\"}]"
			  "}",
			    "exponent must be odd" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"%s\",\"e\":\"AQ\"}]}",
			    "exponent must be odd and above 1" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"%s\",\"e\":"
			  "\"AQABAQABAQAB\"}]}",
			    "too long" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"%s\",\"e\":\"AQAB=\"}]"
			  "}",
			    "n and e must be base64url" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"%s\"}]}",
			    "n and e must be base64url" },
			{ "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"%s\"}]}",
			    "private key member \"k\"" },
			{ "{\"keys\":[{\"kty\":\"OKP\",\"kid\":\"k\",\"x\":\"%s\"}]}",
			    "kty must be RSA or EC" },
			{ "{\"keys\":[{\"kid\":\"k\",\"n\":\"%s\"}]}", "kty must be RSA or EC" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
			    "keys[0]: kid must be" },
			{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
			    "kid must be" },
		};
		for (i = 0; i < nitems(bad); i++) {
			s = fmt(bad[i].tmpl, n);
			jwks_refused(s, SG_ERR_PARSE, bad[i].why);
			free(s);
		}
		free(n);
	}
	ec_xy(ec_key, &x, &y);
	{
		static const struct {
			const char *tmpl, *why;
		} bad[] = {
			{ "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\",\"crv\":\"P-384\",\"x\":\"%s\","
			  "\"y\":\"%s\"}]}",
			    "crv P-256" },
			{ "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\",\"crv\":\"P-256\",\"x\":\"%s\","
			  "\"y\":\"%sAA\"}]}",
			    "32 bytes" },
			{ "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\",\"crv\":\"P-256\",\"x\":\"%s\","
			  "\"y\":\"%s\",\"alg\":\"RS256\"}]}",
			    "alg must be ES256" },
		};
		for (i = 0; i < nitems(bad); i++) {
			s = fmt(bad[i].tmpl, x, y);
			jwks_refused(s, SG_ERR_PARSE, bad[i].why);
			free(s);
		}
	}
	/* A point off the curve: x with y of another point. */
	s = fmt("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%"
		"s\"}]}",
	    x, x);
	jwks_refused(s, SG_ERR_PARSE, "not a point on P-256");
	free(s);
	free(x);
	free(y);
	/* The set itself. */
	jwks_refused("{\"keys\":[]}", SG_ERR_PARSE, "0 keys; 1 to 32 allowed");
	jwks_refused("{\"keys\":{}}", SG_ERR_PARSE, "no \"keys\" array");
	jwks_refused("[]", SG_ERR_PARSE, "no \"keys\" array");
	jwks_refused("{\"keys\":[1]}", SG_ERR_PARSE, "keys[0]: not an object");
	jwks_refused("{\"keys\":[],\"keys\":[]}", SG_ERR_PARSE, "duplicate");
	jwks_refused("{\"keys\":", SG_ERR_PARSE, "not JSON");
	{
		size_t cap = 40 * (strlen(e) + 8) + 32, o = 0;
		char *big = malloc(cap);
		ck_assert_ptr_nonnull(big);
		o += (size_t)snprintf(big + o, cap - o, "{\"keys\":[");
		for (i = 0; i < JWKS_KEYS_MAX + 1; i++) {
			/* The count is checked before any key (these have no valid kid). */
			char *k = jwk_ec(ec_key, "", "");
			o += (size_t)snprintf(big + o, cap - o, "%s%s", i ? "," : "", k);
			free(k);
		}
		snprintf(big + o, cap - o, "]}");
		jwks_refused(big, SG_ERR_PARSE, "33 keys; 1 to 32 allowed");
		free(big);
	}
	{
		char *big = malloc(JWKS_MAX_BYTES + 2);
		ck_assert_ptr_nonnull(big);
		memset(big, ' ', JWKS_MAX_BYTES + 1);
		big[JWKS_MAX_BYTES + 1] = '\0';
		jwks_refused(big, SG_ERR_LIMIT, "at most 65536");
		free(big);
	}
	free(r);
	free(e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("jwt");
	char err[256] = "", *r, *e;
	int status;

	in_setup = 1;
	/* The issuers: GitLab's keys are rsa1 and ec1. */
	rsa_key = keygen("RSA", NULL, 2048);
	ec_key = keygen("EC", "P-256", 0);
	other_rsa = keygen("RSA", NULL, 2048);
	rsa1024 = keygen("RSA", NULL, 1024);
	r = jwk_rsa(rsa_key, "rsa1", "");
	e = jwk_ec(ec_key, "ec1", ",\"use\":\"sig\",\"alg\":\"ES256\"");
	jwks_text = fmt("{\"keys\":[%s,%s]}", r, e);
	free(r);
	free(e);
	if (jwks_parse(jwks_text, strlen(jwks_text), &keys, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_jwt: the fixture JWK Set: %s\n", err);
		return EXIT_FAILURE;
	}
	issuers[0] = (struct jwt_issuer){ "gitlab", ISS, AUD, JWT_KIND_GITLAB, keys };
	{
		/* GitHub's set holds the EC key under its own kid, and the
		 * other RSA key: a GitLab kid means nothing there. */
		struct jwks *gh = NULL;
		char *a = jwk_ec(ec_key, "ec1", ""), *b = jwk_rsa(other_rsa, "gh-rsa", "");
		char *t = fmt("{\"keys\":[%s,%s]}", a, b);

		if (jwks_parse(t, strlen(t), &gh, err, sizeof(err)) != 0) {
			fprintf(stderr, "test_jwt: the GitHub fixture: %s\n", err);
			return EXIT_FAILURE;
		}
		issuers[1] = (struct jwt_issuer){ "github", GH_ISS, AUD, JWT_KIND_GITHUB, gh };
		free(a);
		free(b);
		free(t);
	}

	in_setup = 0;
	test_add(s, "/jwt/rs256/genuine", rs256_genuine, TEST_TIMEOUT_S);
	test_add(s, "/jwt/es256/genuine", es256_genuine, TEST_TIMEOUT_S);
	test_add(s, "/jwt/claims/map-gitlab", map_gitlab, TEST_TIMEOUT_S);
	test_add(s, "/jwt/claims/map-github", map_github, TEST_TIMEOUT_S);
	test_add(s, "/jwt/claims/lengths", claims_lengths, TEST_TIMEOUT_S);
	test_add(
	    s, "/jwt/claims/exp-missing-and-types", claims_exp_missing_and_types, TEST_TIMEOUT_S);
	test_add(s, "/jwt/claims/duplicates", claims_duplicates, TEST_TIMEOUT_S);
	test_add(s, "/jwt/time/expired", time_expired, TEST_TIMEOUT_S);
	test_add(s, "/jwt/time/nbf-iat-future", time_nbf_iat, TEST_TIMEOUT_S);
	test_add(s, "/jwt/aud/wrong", aud_wrong, TEST_TIMEOUT_S);
	test_add(s, "/jwt/iss/wrong", iss_wrong, TEST_TIMEOUT_S);
	test_add(s, "/jwt/kid/unknown", kid_unknown, TEST_TIMEOUT_S);
	test_add(s, "/jwt/alg/none", alg_none, TEST_TIMEOUT_S);
	test_add(s, "/jwt/alg/hs256-public-key-as-secret", alg_hs256, TEST_TIMEOUT_S);
	test_add(s, "/jwt/alg/others-and-key-type", alg_others, TEST_TIMEOUT_S);
	test_add(s, "/jwt/header/rules", header_rules, TEST_TIMEOUT_S);
	test_add(s, "/jwt/tamper/claims", tamper_claims, TEST_TIMEOUT_S);
	test_add(s, "/jwt/tamper/signature-bits", tamper_signature, TEST_TIMEOUT_S);
	test_add(s, "/jwt/tamper/truncate", tamper_truncate, TEST_TIMEOUT_S);
	test_add(s, "/jwt/size/8192-and-8193", size_limit, TEST_TIMEOUT_S);
	test_add(s, "/jwt/form/base64url", form_base64url, TEST_TIMEOUT_S);
	test_add(s, "/jwt/api/arguments", api_arguments, TEST_TIMEOUT_S);
	test_add(s, "/jwt/jwks/good", jwks_good, TEST_TIMEOUT_S);
	test_add(s, "/jwt/jwks/rsa-1024-refused", jwks_rsa_1024, TEST_TIMEOUT_S);
	test_add(s, "/jwt/jwks/rules", jwks_rules, TEST_TIMEOUT_S);

	status = test_run(s);
	jwks_free(keys);
	jwks_free((struct jwks *)(uintptr_t)issuers[1].keys);
	free(jwks_text);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(other_rsa);
	EVP_PKEY_free(rsa1024);
	return status;
}
