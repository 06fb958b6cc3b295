/*
 * jwt.c — CI identity tokens and JWK Sets (see jwt.h for the rules and
 * their order).
 *
 * A token is hostile input like a job: it arrives from Redis inside a job
 * that any submitter may have written.  So every dimension is bounded
 * before the work it bounds (the whole token, then each decoded part), the
 * JSON goes through the project's strict parser, and nothing from the
 * token chooses how it is checked: the algorithm must be one of two, the
 * key comes from the configured set of the issuer named by "iss", and the
 * key's own type must fit the algorithm (so an RSA public key can never be
 * used as an HMAC secret, nor an EC key for RS256).
 *
 * The signature is checked before the claims are believed, but after the
 * claims are parsed: "iss" decides whose keys to use.  The parse is the
 * same strict one that every other hostile payload gets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "b64.h"
#include "crypto.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "sgtime.h"
#include "util.h"

#define SHOW_MAX         72 /* bytes of an untrusted value quoted in a message */
#define P256_COORD_BYTES 32 /* x, y and each of R, S */
#define ES256_SIG_BYTES  (2 * P256_COORD_BYTES)
#define NUMERIC_DATE_MAX (JSON_INT_MAX - 1)

/* One key of a set. */
struct jwk {
	char *kid;
	int is_ec; /* EC P-256 (ES256); else RSA (RS256) */
	int bits;  /* of the modulus or the curve */
	EVP_PKEY *pk;
};

struct jwks {
	struct jwk *keys;
	size_t n;
};

const char *
jwt_kind_name(enum jwt_kind k)
{
	switch (k) {
	case JWT_KIND_GITLAB:
		return "gitlab";
	case JWT_KIND_GITHUB:
		return "github";
	}
	return NULL;
}

int
jwt_kind_parse(const char *name, enum jwt_kind *ret)
{
	if (name != NULL && strcmp(name, "gitlab") == 0) {
		*ret = JWT_KIND_GITLAB;
		return 0;
	}
	if (name != NULL && strcmp(name, "github") == 0) {
		*ret = JWT_KIND_GITHUB;
		return 0;
	}
	return SG_ERR_PARSE;
}

const char *
jwt_fault_name(enum jwt_fault f)
{
	switch (f) {
	case JWT_FAULT_NONE:
		return "none";
	case JWT_FAULT_SIZE:
		return "size";
	case JWT_FAULT_FORM:
		return "form";
	case JWT_FAULT_HEADER:
		return "header";
	case JWT_FAULT_ALG:
		return "alg";
	case JWT_FAULT_CRIT:
		return "crit";
	case JWT_FAULT_CLAIMS:
		return "claims";
	case JWT_FAULT_ISSUER:
		return "issuer";
	case JWT_FAULT_KID:
		return "kid";
	case JWT_FAULT_KEY_ALG:
		return "key-alg";
	case JWT_FAULT_SIGNATURE:
		return "signature";
	case JWT_FAULT_AUDIENCE:
		return "audience";
	case JWT_FAULT_EXPIRED:
		return "expired";
	case JWT_FAULT_NOT_YET_VALID:
		return "not-yet-valid";
	}
	return "unknown";
}

/* An untrusted string, cut and escaped for a message (log_escape()). */
static const char *
show(const char *s, char out[SHOW_MAX])
{
	return log_escape(s, JWT_TOKEN_MAX_BYTES, out, SHOW_MAX);
}

/* Records a refusal; returns SG_ERR_POLICY_CI_TOKEN. */
static int __attribute__((format(printf, 3, 4)))
refuse(struct jwt_error *err, enum jwt_fault fault, const char *fmt, ...)
{
	va_list ap;

	err->fault = fault;
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	return SG_ERR_POLICY_CI_TOKEN;
}

/* A kid: 1 to JWT_KID_MAX bytes of printable ASCII (space included). */
static int
kid_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > JWT_KID_MAX || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 1;
}

/* ---- JWK Sets ---------------------------------------------------------- */

/* Decodes the base64url string member `name` of o into *ret (exactly
 * `want` bytes unless want is 0).  SG_ERR_PARSE, SG_ERR_ALLOC. */
static int
get_b64url(const cJSON *o, const char *name, size_t want, uint8_t **ret, size_t *ret_len)
{
	const char *s;
	size_t slen, n = 0;
	uint8_t *buf = NULL;
	int r;

	if (json_get_string(o, name, &s, &slen) != 0)
		return SG_ERR_PARSE;
	if ((r = b64url_decode(s, slen, &buf, &n)) != 0)
		return r;
	if (n == 0 || (want != 0 && n != want)) {
		free(buf);
		return SG_ERR_PARSE;
	}
	*ret = buf;
	*ret_len = n;
	return 0;
}

/* Builds a public key of type `type` ("RSA", "EC") from params. */
static int
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pk = NULL;
	int r = SG_ERR_ALLOC;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL)
		goto out;
	r = SG_ERR_PARSE;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* For EC: the point is on the curve and not the point at infinity. */
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_public_check(check) != 1)
		goto out;
	*ret = pk;
	pk = NULL;
	r = 0;
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	OSSL_PARAM_free(params);
	return r == 0 ? 0 : crypto_err(r);
}

static int
jwk_rsa(const cJSON *o, struct jwk *k, char *why, size_t whylen)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint8_t *nb = NULL, *eb = NULL;
	size_t nlen = 0, elen = 0;
	int r;

	if ((r = get_b64url(o, "n", 0, &nb, &nlen)) != 0 ||
	    (r = get_b64url(o, "e", 0, &eb, &elen)) != 0) {
		if (r != SG_ERR_ALLOC)
			snprintf(why, whylen, "n and e must be base64url strings");
		goto out;
	}
	r = SG_ERR_PARSE;
	/* Sizes first: nothing larger than the limits reaches BN. */
	if (nlen > JWKS_RSA_BITS_MAX / 8 + 1 || elen > JWKS_RSA_E_MAX_BYTES) {
		snprintf(why, whylen, "RSA modulus or exponent too long");
		goto out;
	}
	if ((n = BN_bin2bn(nb, (int)nlen, NULL)) == NULL ||
	    (e = BN_bin2bn(eb, (int)elen, NULL)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	k->bits = BN_num_bits(n);
	if (k->bits < JWKS_RSA_BITS_MIN || k->bits > JWKS_RSA_BITS_MAX) {
		snprintf(why, whylen, "RSA modulus of %d bits; %d to %d allowed", k->bits,
		    JWKS_RSA_BITS_MIN, JWKS_RSA_BITS_MAX);
		goto out;
	}
	if (!BN_is_odd(e) || BN_is_one(e)) {
		snprintf(why, whylen, "RSA exponent must be odd and above 1");
		goto out;
	}
	r = SG_ERR_ALLOC;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto out;
	if ((r = pkey_fromdata("RSA", bld, &k->pk)) != 0) {
		if (r != SG_ERR_ALLOC)
			snprintf(why, whylen, "not a valid RSA public key");
		goto out;
	}
	r = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	return r;
}

static int
jwk_ec(const cJSON *o, struct jwk *k, char *why, size_t whylen)
{
	OSSL_PARAM_BLD *bld = NULL;
	uint8_t *x = NULL, *y = NULL, point[1 + 2 * P256_COORD_BYTES];
	const char *crv;
	size_t xlen = 0, ylen = 0;
	int r = SG_ERR_PARSE;

	if (json_get_string(o, "crv", &crv, NULL) != 0 || strcmp(crv, "P-256") != 0) {
		snprintf(why, whylen, "EC keys must have crv P-256");
		goto out;
	}
	if ((r = get_b64url(o, "x", P256_COORD_BYTES, &x, &xlen)) != 0 ||
	    (r = get_b64url(o, "y", P256_COORD_BYTES, &y, &ylen)) != 0) {
		if (r != SG_ERR_ALLOC)
			snprintf(why, whylen, "x and y must be base64url strings of %d bytes",
			    P256_COORD_BYTES);
		goto out;
	}
	/* The uncompressed point, SEC 1 §2.3.3. */
	point[0] = 0x04;
	memcpy(point + 1, x, P256_COORD_BYTES);
	memcpy(point + 1 + P256_COORD_BYTES, y, P256_COORD_BYTES);
	k->bits = 256;
	k->is_ec = 1;
	r = SG_ERR_ALLOC;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(
		bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) !=
		1)
		goto out;
	if ((r = pkey_fromdata("EC", bld, &k->pk)) != 0) {
		if (r != SG_ERR_ALLOC)
			snprintf(why, whylen, "x, y is not a point on P-256");
		goto out;
	}
	r = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return r;
}

/* One JWK of a set; `why` gets the problem (without the key's position). */
static int
jwk_parse(const cJSON *o, struct jwk *k, char *why, size_t whylen)
{
	static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth",
		"k" };
	const char *kid, *kty, *s;
	size_t len, i;
	int r;

	if (!cJSON_IsObject(o)) {
		snprintf(why, whylen, "not an object");
		return SG_ERR_PARSE;
	}
	if (json_get_string(o, "kid", &kid, &len) != 0 || !kid_ok(kid, len)) {
		snprintf(why, whylen, "kid must be a string of 1 to %d printable ASCII bytes",
		    JWT_KID_MAX);
		return SG_ERR_PARSE;
	}
	if ((k->kid = xstrdup(kid)) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; i < nitems(private_members); i++) {
		if (json_get(o, private_members[i]) != NULL) {
			snprintf(why, whylen,
			    "private key member \"%s\": the file must hold public "
			    "keys only",
			    private_members[i]);
			return SG_ERR_PARSE;
		}
	}
	if (json_get_string(o, "kty", &kty, NULL) != 0 ||
	    (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)) {
		snprintf(why, whylen, "kty must be RSA or EC");
		return SG_ERR_PARSE;
	}
	k->is_ec = strcmp(kty, "EC") == 0;
	if ((r = json_get_string(o, "use", &s, NULL)) != SG_ERR_NOT_FOUND &&
	    (r != 0 || strcmp(s, "sig") != 0)) {
		snprintf(why, whylen, "use must be sig");
		return SG_ERR_PARSE;
	}
	if ((r = json_get_string(o, "alg", &s, NULL)) != SG_ERR_NOT_FOUND &&
	    (r != 0 || strcmp(s, k->is_ec ? "ES256" : "RS256") != 0)) {
		snprintf(why, whylen, "alg must be %s for a key of type %s",
		    k->is_ec ? "ES256" : "RS256", kty);
		return SG_ERR_PARSE;
	}
	return k->is_ec ? jwk_ec(o, k, why, whylen) : jwk_rsa(o, k, why, whylen);
}

int
jwks_parse(const void *buf, size_t len, struct jwks **ret, char *errbuf, size_t errlen)
{
	struct jwks *set = NULL;
	cJSON *root = NULL;
	const cJSON *arr, *it;
	char why[JWT_WHY_MAX], kidbuf[SHOW_MAX];
	unsigned flags = 0;
	size_t n, i = 0, j;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || (buf == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	if (len > JWKS_MAX_BYTES) {
		errbuf_set(errbuf, errlen, "%zu bytes; at most %d", len, JWKS_MAX_BYTES);
		r = SG_ERR_LIMIT;
		goto out;
	}
	if ((r = json_parse(buf, len, &root, &flags)) != 0) {
		if (r != SG_ERR_ALLOC) {
			errbuf_set(
			    errbuf, errlen, "not JSON (UTF-8, at most %d levels)", JSON_DEPTH_MAX);
			r = SG_ERR_PARSE;
		}
		goto out;
	}
	r = SG_ERR_PARSE;
	if ((flags & (JSON_F_DUPLICATE | JSON_F_NUL_ESCAPE)) != 0) {
		errbuf_set(errbuf, errlen, "a duplicate member or an escaped NUL");
		goto out;
	}
	if (!cJSON_IsObject(root) || json_get_array(root, "keys", &arr) != 0) {
		errbuf_set(errbuf, errlen, "not a JWK Set: no \"keys\" array");
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0 || n > JWKS_KEYS_MAX) {
		errbuf_set(errbuf, errlen, "%zu keys; 1 to %d allowed", n, JWKS_KEYS_MAX);
		goto out;
	}
	r = SG_ERR_ALLOC;
	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (set->keys = calloc(n, sizeof(*set->keys))) == NULL)
		goto out;
	cJSON_ArrayForEach(it, arr)
	{
		struct jwk *k = &set->keys[i];

		set->n = i + 1; /* freed with the set from here on */
		why[0] = '\0';
		if ((r = jwk_parse(it, k, why, sizeof(why))) != 0) {
			if (k->kid != NULL)
				errbuf_set(errbuf, errlen, "keys[%zu] (kid \"%s\"): %s", i,
				    show(k->kid, kidbuf), why);
			else
				errbuf_set(errbuf, errlen, "keys[%zu]: %s", i, why);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(set->keys[j].kid, k->kid) == 0) {
				errbuf_set(errbuf, errlen,
				    "keys[%zu]: kid \"%s\" also names keys[%zu]", i,
				    show(k->kid, kidbuf), j);
				r = SG_ERR_PARSE;
				goto out;
			}
		}
		i++;
	}
	*ret = set;
	set = NULL;
	r = 0;
out:
	jwks_free(set);
	cJSON_Delete(root);
	return r;
}

size_t
jwks_count(const struct jwks *k)
{
	return k == NULL ? 0 : k->n;
}

void
jwks_free(struct jwks *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; k->keys != NULL && i < k->n; i++) {
		free(k->keys[i].kid);
		EVP_PKEY_free(k->keys[i].pk);
	}
	free(k->keys);
	free(k);
}

static const struct jwk *
jwks_find(const struct jwks *set, const char *kid)
{
	size_t i;

	for (i = 0; set != NULL && i < set->n; i++) {
		if (strcmp(set->keys[i].kid, kid) == 0)
			return &set->keys[i];
	}
	return NULL;
}

/* ---- tokens ------------------------------------------------------------ */

/*
 * Checks sig over msg with key k: RS256 (PKCS#1 v1.5, SHA-256, a signature
 * exactly as long as the modulus) or ES256 (R || S of 32 bytes each, turned
 * into the DER ECDSA-Sig-Value that OpenSSL verifies).  0, SG_ERR_VERIFY,
 * SG_ERR_ALLOC.
 */
static int
verify_signature(
    const struct jwk *k, const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *mctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	int der_len, r = SG_ERR_VERIFY;

	if (k->is_ec) {
		if (sig_len != ES256_SIG_BYTES)
			goto out;
		r = SG_ERR_ALLOC;
		if ((br = BN_bin2bn(sig, P256_COORD_BYTES, NULL)) == NULL ||
		    (bs = BN_bin2bn(sig + P256_COORD_BYTES, P256_COORD_BYTES, NULL)) == NULL ||
		    (es = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(es, br, bs) != 1)
			goto out;
		br = bs = NULL; /* owned by es now */
		if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0)
			goto out;
		sig = der;
		sig_len = (size_t)der_len;
	} else if (EVP_PKEY_get_size(k->pk) <= 0 || sig_len != (size_t)EVP_PKEY_get_size(k->pk)) {
		goto out;
	}
	r = SG_ERR_ALLOC;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	r = SG_ERR_VERIFY;
	if (EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, k->pk) != 1 ||
	    EVP_DigestVerify(mctx, sig, sig_len, msg, msg_len) != 1)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(br);
	BN_free(bs);
	return r == 0 ? 0 : crypto_err(r);
}

/* A JSON object from decoded bytes: strict JSON, no duplicate member, no
 * escaped NUL.  SG_ERR_PARSE, SG_ERR_ALLOC. */
static int
parse_object(const uint8_t *buf, size_t len, cJSON **ret)
{
	cJSON *root = NULL;
	unsigned flags = 0;
	int r;

	if ((r = json_parse(buf, len, &root, &flags)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
	if ((flags & (JSON_F_DUPLICATE | JSON_F_NUL_ESCAPE)) != 0 || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return SG_ERR_PARSE;
	}
	*ret = root;
	return 0;
}

/* A NumericDate claim: an integer from 0 to 2^53 - 1.  *present says
 * whether it is there. */
static int
get_date(const cJSON *c, const char *name, int64_t *ret, int *present, struct jwt_error *err)
{
	int r = json_get_int(c, name, 0, NUMERIC_DATE_MAX, ret);

	*present = r == 0;
	if (r == 0 || r == SG_ERR_NOT_FOUND)
		return 0;
	return refuse(err, JWT_FAULT_CLAIMS, "%s is not an integer NumericDate", name);
}

/* A string claim that policy reads, copied into *ret; absent or empty
 * leaves it NULL. */
static int
claim_text(const cJSON *c, const char *name, char **ret, struct jwt_error *err)
{
	const char *s;
	size_t len;
	int r = json_get_string(c, name, &s, &len);

	if (r == SG_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return refuse(err, JWT_FAULT_CLAIMS, "claim %s is not a string", name);
	if (len > JWT_CLAIM_MAX || !json_text_ok(s, len))
		return refuse(err, JWT_FAULT_CLAIMS,
		    "claim %s: over %d bytes, or control "
		    "characters",
		    name, JWT_CLAIM_MAX);
	if (len == 0)
		return 0;
	if ((*ret = xstrdup(s)) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

/* "ref_protected": the string "true" or "false", or a JSON boolean. */
static int
claim_protected(const cJSON *c, int *ret, struct jwt_error *err)
{
	const cJSON *v = json_get(c, "ref_protected");

	*ret = 0;
	if (v == NULL)
		return 0;
	if (cJSON_IsBool(v)) {
		*ret = cJSON_IsTrue(v) ? 1 : 0;
		return 0;
	}
	if (cJSON_IsString(v) && v->valuestring != NULL &&
	    (strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "false") == 0)) {
		*ret = strcmp(v->valuestring, "true") == 0;
		return 0;
	}
	return refuse(err, JWT_FAULT_CLAIMS, "claim ref_protected is not \"true\" or \"false\"");
}

/* The claims that policy reads, per the issuer's kind (table in jwt.h). */
static int
map_claims(const cJSON *c, enum jwt_kind kind, struct jwt_claims *cl, struct jwt_error *err)
{
	char *ref = NULL, *ref_type = NULL, show_ref[SHOW_MAX];
	int r;

	if ((r = claim_text(c, "sub", &cl->subject, err)) != 0 ||
	    (r = claim_text(c, "environment", &cl->environment, err)) != 0 ||
	    (r = claim_text(c, "jti", &cl->jti, err)) != 0 ||
	    (r = claim_protected(c, &cl->ref_protected, err)) != 0 ||
	    (r = claim_text(c, "ref", &ref, err)) != 0)
		goto out;
	if (kind == JWT_KIND_GITLAB) {
		if ((r = claim_text(c, "project_path", &cl->project, err)) != 0 ||
		    (r = claim_text(c, "pipeline_id", &cl->pipeline, err)) != 0 ||
		    (r = claim_text(c, "ref_type", &ref_type, err)) != 0)
			goto out;
		/* GitLab names the ref without its namespace; ref_type gives it. */
		if (ref != NULL && ref_type != NULL && strcmp(ref_type, "branch") == 0)
			r = asprintf(&cl->ref, "refs/heads/%s", ref) < 0 ? SG_ERR_ALLOC : 0;
		else if (ref != NULL && ref_type != NULL && strcmp(ref_type, "tag") == 0)
			r = asprintf(&cl->ref, "refs/tags/%s", ref) < 0 ? SG_ERR_ALLOC : 0;
		if (r != 0) {
			cl->ref = NULL;
			goto out;
		}
	} else {
		if ((r = claim_text(c, "repository", &cl->project, err)) != 0 ||
		    (r = claim_text(c, "run_id", &cl->pipeline, err)) != 0)
			goto out;
		if (ref != NULL && strncmp(ref, "refs/", 5) != 0) {
			r = refuse(err, JWT_FAULT_CLAIMS,
			    "claim ref \"%s\" does not start with refs/", show(ref, show_ref));
			goto out;
		}
		cl->ref = ref;
		ref = NULL;
	}
	r = 0;
out:
	free(ref);
	free(ref_type);
	return r;
}

/* Step 13: "aud" is or holds the issuer's audience. */
static int
check_audience(const cJSON *c, const struct jwt_issuer *is, struct jwt_error *err)
{
	const cJSON *aud = json_get(c, "aud"), *it;
	char want[SHOW_MAX], got[SHOW_MAX];
	int n;

	show(is->audience, want);
	if (aud == NULL)
		return refuse(
		    err, JWT_FAULT_AUDIENCE, "no aud claim (audience \"%s\" wanted)", want);
	if (cJSON_IsString(aud) && aud->valuestring != NULL) {
		if (strcmp(aud->valuestring, is->audience) == 0)
			return 0;
		return refuse(err, JWT_FAULT_AUDIENCE, "audience \"%s\", not \"%s\"",
		    show(aud->valuestring, got), want);
	}
	n = cJSON_IsArray(aud) ? cJSON_GetArraySize(aud) : 0;
	if (n < 1 || n > JWT_AUD_MAX)
		return refuse(err, JWT_FAULT_AUDIENCE,
		    "aud is not a string or an array of 1 to %d "
		    "strings",
		    JWT_AUD_MAX);
	cJSON_ArrayForEach(it, aud)
	{
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			return refuse(
			    err, JWT_FAULT_AUDIENCE, "aud holds a value that is not a string");
	}
	cJSON_ArrayForEach(it, aud)
	{
		if (strcmp(it->valuestring, is->audience) == 0)
			return 0;
	}
	return refuse(err, JWT_FAULT_AUDIENCE, "audience [\"%s\"%s], not \"%s\"",
	    show(aud->child->valuestring, got), n > 1 ? ", ..." : "", want);
}

/* Steps 14 to 16: exp, nbf, iat. */
static int
check_times(const cJSON *c, int64_t now, int64_t *ret_exp, struct jwt_error *err)
{
	char when[SGTIME_LEN + 1];
	int64_t exp = 0, nbf = 0, iat = 0;
	int has_exp, has_nbf, has_iat, r;

	if ((r = get_date(c, "exp", &exp, &has_exp, err)) != 0 ||
	    (r = get_date(c, "nbf", &nbf, &has_nbf, err)) != 0 ||
	    (r = get_date(c, "iat", &iat, &has_iat, err)) != 0)
		return r;
	if (!has_exp)
		return refuse(err, JWT_FAULT_CLAIMS, "no exp claim (a token must expire)");
	if (exp <= now) {
		sgtime_format(exp, when);
		return refuse(err, JWT_FAULT_EXPIRED, "expired at %s", when);
	}
	/* Differences through uint64_t, as in job_check_time(): no overflow. */
	if (has_nbf && nbf > now && (uint64_t)nbf - (uint64_t)now > JWT_CLOCK_SKEW_S) {
		sgtime_format(nbf, when);
		return refuse(err, JWT_FAULT_NOT_YET_VALID,
		    "not valid before %s (more than %d s "
		    "ahead)",
		    when, JWT_CLOCK_SKEW_S);
	}
	if (has_iat && iat > now && (uint64_t)iat - (uint64_t)now > JWT_CLOCK_SKEW_S) {
		sgtime_format(iat, when);
		return refuse(err, JWT_FAULT_NOT_YET_VALID, "issued at %s (more than %d s ahead)",
		    when, JWT_CLOCK_SKEW_S);
	}
	*ret_exp = exp;
	return 0;
}

/* Step 2: the three parts, decoded; *ret_signed_len is the length of
 * "header.claims", the bytes that the signature covers. */
static int
split_decode(const char *token, size_t len, uint8_t *parts[3], size_t lens[3],
    size_t *ret_signed_len, struct jwt_error *err)
{
	const char *dot;
	size_t starts[3], ends[3], k;
	int r;

	starts[0] = 0;
	for (k = 0; k < 2; k++) {
		if ((dot = memchr(token + starts[k], '.', len - starts[k])) == NULL)
			return refuse(
			    err, JWT_FAULT_FORM, "not a compact JWS: %zu parts, 3 wanted", k + 1);
		ends[k] = (size_t)(dot - token);
		starts[k + 1] = ends[k] + 1;
	}
	ends[2] = len;
	if (memchr(token + starts[2], '.', len - starts[2]) != NULL)
		return refuse(err, JWT_FAULT_FORM, "not a compact JWS: more than 3 parts");
	if (ends[0] == starts[0] || ends[1] == starts[1])
		return refuse(err, JWT_FAULT_FORM, "not a compact JWS: an empty header or claims");
	for (k = 0; k < 3; k++) {
		r = b64url_decode(token + starts[k], ends[k] - starts[k], &parts[k], &lens[k]);
		if (r == SG_ERR_ALLOC)
			return r;
		if (r != 0)
			return refuse(err, JWT_FAULT_FORM,
			    "the %s is not base64url without padding",
			    k == 0       ? "header"
				: k == 1 ? "claims part"
					 : "signature");
	}
	*ret_signed_len = ends[1];
	return 0;
}

int
jwt_verify(const char *token, size_t len, const struct jwt_issuer *issuers, size_t n, int64_t now,
    struct jwt_claims **ret, struct jwt_error *err)
{
	struct jwt_claims *cl = NULL;
	const struct jwt_issuer *is = NULL;
	const struct jwk *key;
	cJSON *h = NULL, *c = NULL;
	uint8_t *parts[3] = { NULL, NULL, NULL };
	size_t lens[3] = { 0, 0, 0 }, i, signed_len = 0;
	const char *alg, *kid, *typ, *iss;
	char buf1[SHOW_MAX], buf2[SHOW_MAX];
	struct jwt_error e;
	size_t slen;
	int es256, r;

	if (token == NULL || ret == NULL || err == NULL || (issuers == NULL && n > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	memset(&e, 0, sizeof(e));
	/* 1 */
	if (len > JWT_TOKEN_MAX_BYTES) {
		r = refuse(&e, JWT_FAULT_SIZE, "a token of %zu bytes; at most %d", len,
		    JWT_TOKEN_MAX_BYTES);
		goto out;
	}
	/* 2, 3 */
	if ((r = split_decode(token, len, parts, lens, &signed_len, &e)) != 0)
		goto out;
	if (lens[0] > JWT_HEADER_MAX_BYTES || lens[1] > JWT_CLAIMS_MAX_BYTES ||
	    lens[2] > JWT_SIGNATURE_MAX_BYTES) {
		r = refuse(&e, JWT_FAULT_SIZE,
		    "header, claims or signature over %d, %d or %d bytes", JWT_HEADER_MAX_BYTES,
		    JWT_CLAIMS_MAX_BYTES, JWT_SIGNATURE_MAX_BYTES);
		goto out;
	}
	/* 4 */
	if ((r = parse_object(parts[0], lens[0], &h)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = refuse(&e, JWT_FAULT_HEADER, "the header is not a strict JSON object");
		goto out;
	}
	if (json_get_string(h, "alg", &alg, NULL) != 0) {
		r = refuse(&e, JWT_FAULT_HEADER, "the header has no alg string");
		goto out;
	}
	/* 5 */
	if (strcmp(alg, "RS256") == 0) {
		es256 = 0;
	} else if (strcmp(alg, "ES256") == 0) {
		es256 = 1;
	} else {
		r = refuse(
		    &e, JWT_FAULT_ALG, "alg \"%s\" refused (RS256 or ES256 only)", show(alg, buf1));
		goto out;
	}
	/* 6 */
	if (json_get(h, "crit") != NULL) {
		r = refuse(&e, JWT_FAULT_CRIT,
		    "the header names crit extensions; none is "
		    "understood");
		goto out;
	}
	/* 7 */
	if ((r = json_get_string(h, "typ", &typ, NULL)) != SG_ERR_NOT_FOUND &&
	    (r != 0 || strcasecmp(typ, "JWT") != 0)) {
		r = refuse(&e, JWT_FAULT_HEADER, "typ is not JWT");
		goto out;
	}
	if (json_get_string(h, "kid", &kid, &slen) != 0 || !kid_ok(kid, slen)) {
		r = refuse(
		    &e, JWT_FAULT_HEADER, "no kid of 1 to %d printable ASCII bytes", JWT_KID_MAX);
		goto out;
	}
	/* 8 */
	if ((r = parse_object(parts[1], lens[1], &c)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = refuse(&e, JWT_FAULT_CLAIMS,
			    "the claims are not a strict JSON object "
			    "(a duplicate claim name, an escaped NUL, not UTF-8 ...)");
		goto out;
	}
	/* 9 */
	if (json_get_string(c, "iss", &iss, NULL) != 0) {
		r = refuse(&e, JWT_FAULT_ISSUER, "no iss string");
		goto out;
	}
	for (i = 0; i < n && is == NULL; i++) {
		if (issuers[i].issuer != NULL && strcmp(issuers[i].issuer, iss) == 0)
			is = &issuers[i];
	}
	if (is == NULL) {
		r = refuse(
		    &e, JWT_FAULT_ISSUER, "iss \"%s\" is not a configured issuer", show(iss, buf1));
		goto out;
	}
	/* 10 */
	if ((key = jwks_find(is->keys, kid)) == NULL) {
		r = refuse(&e, JWT_FAULT_KID, "unknown kid \"%s\" for issuer %s", show(kid, buf1),
		    show(is->name, buf2));
		goto out;
	}
	/* 11 */
	if (key->is_ec != es256) {
		r = refuse(&e, JWT_FAULT_KEY_ALG, "alg %s does not fit key \"%s\" (%s)", alg,
		    show(kid, buf1), key->is_ec ? "EC P-256" : "RSA");
		goto out;
	}
	/* 12: over the header and claims as they were sent. */
	if ((r = verify_signature(key, (const uint8_t *)token, signed_len, parts[2], lens[2])) !=
	    0) {
		if (r != SG_ERR_ALLOC)
			r = refuse(&e, JWT_FAULT_SIGNATURE,
			    "signature does not verify with key \"%s\" "
			    "of issuer %s",
			    show(kid, buf1), show(is->name, buf2));
		goto out;
	}
	/* 13 */
	if ((r = check_audience(c, is, &e)) != 0)
		goto out;
	r = SG_ERR_ALLOC;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		goto out;
	cl->kind = is->kind;
	/* 14, 15, 16 */
	if ((r = check_times(c, now, &cl->exp, &e)) != 0)
		goto out;
	/* 17 */
	if ((r = map_claims(c, is->kind, cl, &e)) != 0)
		goto out;
	r = SG_ERR_ALLOC;
	if ((cl->issuer = xstrdup(iss)) == NULL ||
	    (cl->issuer_name = xstrdup(is->name != NULL ? is->name : "")) == NULL)
		goto out;
	*ret = cl;
	cl = NULL;
	r = 0;
out:
	if (r == SG_ERR_POLICY_CI_TOKEN)
		*err = e;
	jwt_claims_free(cl);
	cJSON_Delete(h);
	cJSON_Delete(c);
	for (i = 0; i < nitems(parts); i++)
		free(parts[i]);
	return r;
}

void
jwt_claims_free(struct jwt_claims *c)
{
	if (c == NULL)
		return;
	free(c->issuer_name);
	free(c->issuer);
	free(c->subject);
	free(c->project);
	free(c->ref);
	free(c->pipeline);
	free(c->environment);
	free(c->jti);
	free(c);
}
