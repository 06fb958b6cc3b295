/*
 * Unit tests for agent/format.c: raw and CMS signature files built through a
 * signing callback (here a software key standing in for the HSM), checked
 * with OpenSSL as a consumer would check them; and the authenticode and kmod
 * requests handed to common/pkcs7sig.c (whose own tests take those apart).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "crypto.h"
#include "format.h"
#include "hsm.h"
#include "pkcs7sig.h"
#include "testlib.h"
#include "util.h"

static const char content[] = "firmware image bytes\n";

struct soft_signer {
	EVP_PKEY *key;
	enum sg_mech mech;
	int calls;
	int corrupt; /* flip a bit of the signature */
	int fail;    /* return this error */
};

static EVP_PKEY *
load_key(const char *name)
{
	char path[512];
	EVP_PKEY *pk = NULL;

	snprintf(path, sizeof(path), "%s/format/%s", TEST_DATA_DIR, name);
	ck_assert_int_eq(crypto_load_privkey(path, &pk), 0);
	return pk;
}

static STACK_OF(X509) * load_chain(const char *name)
{
	char path[512];
	STACK_OF(X509) *chain = NULL;

	snprintf(path, sizeof(path), "%s/format/%s", TEST_DATA_DIR, name);
	ck_assert_int_eq(crypto_load_certs(path, &chain), 0);
	return chain;
}

/* Signs a digest the way hsm_sign() does: DER ECDSA, PKCS#1 or PSS. */
static int
soft_sign(void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_len)
{
	struct soft_signer *s = arg;
	EVP_PKEY_CTX *ctx;
	size_t len = HSM_SIG_MAX;

	s->calls++;
	if (s->fail)
		return s->fail;
	ctx = EVP_PKEY_CTX_new(s->key, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	if (s->mech != SG_MECH_ECDSA_SHA256) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
		if (s->mech == SG_MECH_RSA_PSS_SHA256) {
			ck_assert_int_eq(
			    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
			ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
			ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
		} else {
			ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
		}
	}
	ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &len, digest, SHA256_LEN), 1);
	EVP_PKEY_CTX_free(ctx);
	if (s->corrupt)
		sig[len / 2] ^= 0x01;
	*ret_len = len;
	return 0;
}

/* The authenticode members of a request. */
struct image {
	const uint8_t *digest;
	const char *description, *url;
};

static void
image_digest(uint8_t d[SHA256_LEN])
{
	crypto_sha256("an image", 8, d);
}

static int
run_image(const char *key, const char *chainfile, enum sg_mech mech, enum sg_format fmt,
    struct soft_signer *s, const struct image *img, STACK_OF(X509) * *ret_chain, uint8_t **ret,
    size_t *ret_len)
{
	struct format_request req;
	uint8_t digest[SHA256_LEN];
	int r;

	crypto_sha256(content, strlen(content), digest);
	s->key = load_key(key);
	s->mech = mech;
	*ret_chain = load_chain(chainfile);
	memset(&req, 0, sizeof(req));
	req.format = fmt;
	req.mech = mech;
	req.digest = digest;
	req.chain = *ret_chain;
	req.signing_time = 1795190400; /* 2026-11-21T00:00:00Z */
	req.sign = soft_sign;
	req.sign_arg = s;
	req.image_digest = img->digest;
	req.description = img->description;
	req.url = img->url;
	r = format_sign(&req, ret, ret_len);
	EVP_PKEY_free(s->key);
	return r;
}

/* A request with an image digest and no texts. */
static int
run(const char *key, const char *chainfile, enum sg_mech mech, enum sg_format fmt,
    struct soft_signer *s, STACK_OF(X509) * *ret_chain, uint8_t **ret, size_t *ret_len)
{
	uint8_t d[SHA256_LEN];
	struct image img = { d, NULL, NULL };

	image_digest(d);
	return run_image(key, chainfile, mech, fmt, s, &img, ret_chain, ret, ret_len);
}

/* What `openssl cms -verify -binary -content ... -CAfile root -purpose any` does. */
static int
cms_verifies(const uint8_t *der, size_t len, const char *data, size_t data_len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	X509_STORE *store = X509_STORE_new();
	BIO *in = BIO_new_mem_buf(data, (int)data_len);
	char path[512];
	int ok;

	if (cms == NULL) {
		X509_STORE_free(store);
		BIO_free(in);
		ERR_clear_error();
		return 0;
	}
	snprintf(path, sizeof(path), "%s/format/root.pem", TEST_DATA_DIR);
	ck_assert_int_eq(X509_STORE_load_file(store, path), 1);
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	ok = CMS_verify(cms, NULL, store, in, NULL, CMS_BINARY) == 1;
	BIO_free(in);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return ok;
}

struct span {
	size_t off, len;
};

/* Where the signature value (which = 0) or the messageDigest attribute value
 * (which = 1) of the only SignerInfo lies in der. */
static struct span
signer_field(const uint8_t *der, size_t len, int which)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *v;
	struct span sp = { 0, 0 };
	const uint8_t *at;

	ck_assert_ptr_nonnull(cms);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	if (which == 0)
		v = CMS_SignerInfo_get0_signature(si);
	else
		v = CMS_signed_get0_data_by_OBJ(
		    si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
	ck_assert_ptr_nonnull(v);
	at = memmem(der, len, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
	ck_assert_ptr_nonnull(at);
	sp.off = (size_t)(at - der);
	sp.len = (size_t)ASN1_STRING_length(v);
	CMS_ContentInfo_free(cms);
	return sp;
}

static void
flip_each_bit(uint8_t *der, size_t len, struct span sp)
{
	ck_assert_int_gt(sp.len, 0);
	for (size_t i = sp.off; i < sp.off + sp.len; i++) {
		for (int b = 0; b < 8; b++) {
			der[i] ^= (uint8_t)(1u << b);
			ck_assert_msg(!cms_verifies(der, len, content, strlen(content)),
			    "bit %d of byte %zu flipped still verifies", b, i);
			der[i] ^= (uint8_t)(1u << b);
		}
	}
	ck_assert(cms_verifies(der, len, content, strlen(content)));
}

static void
check_cms(const char *key, const char *chainfile, enum sg_mech mech)
{
	struct soft_signer s = { 0 };
	STACK_OF(X509) *chain = NULL;
	uint8_t *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(run(key, chainfile, mech, SG_FORMAT_CMS, &s, &chain, &out, &len), 0);
	ck_assert_int_eq(s.calls, 1);
	ck_assert(cms_verifies(out, len, content, strlen(content)));
	ck_assert(!cms_verifies(out, len, "other content", 13));
	/* Every bit of the signature value and of the signed message digest is
	 * covered: flip each one and the file must be refused. */
	flip_each_bit(out, len, signer_field(out, len, 0));
	flip_each_bit(out, len, signer_field(out, len, 1));
	free(out);
	sk_X509_pop_free(chain, X509_free);
}

START_TEST(test_cms_ecdsa)
{
	check_cms("leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
}
END_TEST

START_TEST(test_cms_rsa_pss)
{
	check_cms("leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PSS_SHA256);
}
END_TEST

START_TEST(test_cms_rsa_pkcs1)
{
	check_cms("leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PKCS1_SHA256);
}
END_TEST

START_TEST(test_cms_carries_chain_and_attributes)
{
	struct soft_signer s = { 0 };
	STACK_OF(X509) *chain = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	const unsigned char *p;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;

	ck_assert_int_eq(run("leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256, SG_FORMAT_CMS, &s,
			     &chain, &out, &len),
	    0);
	p = out;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(cms);
	ck_assert(CMS_is_detached(cms));
	STACK_OF(X509) *certs = CMS_get1_certs(cms);
	ck_assert_int_eq(sk_X509_num(certs), 2);
	sk_X509_pop_free(certs, X509_free);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1), 0);
	ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1), 0);
	ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), 0);
	CMS_ContentInfo_free(cms);
	free(out);
	sk_X509_pop_free(chain, X509_free);
}
END_TEST

START_TEST(test_raw_all_mechs)
{
	static const struct {
		const char *key, *chain;
		enum sg_mech mech;
	} cases[] = {
		{ "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256 },
		{ "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PSS_SHA256 },
		{ "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PKCS1_SHA256 },
	};
	uint8_t digest[SHA256_LEN];

	crypto_sha256(content, strlen(content), digest);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct soft_signer s = { 0 };
		STACK_OF(X509) *chain = NULL;
		uint8_t *out = NULL;
		size_t len = 0;
		ck_assert_int_eq(run(cases[i].key, cases[i].chain, cases[i].mech, SG_FORMAT_RAW, &s,
				     &chain, &out, &len),
		    0);
		ck_assert_int_eq(crypto_verify_digest(X509_get0_pubkey(sk_X509_value(chain, 0)),
				     cases[i].mech, digest, out, len),
		    0);
		free(out);
		sk_X509_pop_free(chain, X509_free);
	}
}
END_TEST

/* Fail closed: what the "HSM" returns must verify against the leaf. */
START_TEST(test_corrupt_signature_refused)
{
	for (int fmt = SG_FORMAT_RAW; fmt <= SG_FORMAT_KMOD; fmt++) {
		struct soft_signer s = { 0 };
		STACK_OF(X509) *chain = NULL;
		uint8_t *out = NULL;
		size_t len = 0;
		s.corrupt = 1;
		ck_assert_int_eq(run("leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256,
				     (enum sg_format)fmt, &s, &chain, &out, &len),
		    SG_ERR_HSM_SIGN_FAILED);
		ck_assert_ptr_null(out);
		sk_X509_pop_free(chain, X509_free);
	}
}
END_TEST

START_TEST(test_wrong_key_refused)
{
	struct soft_signer s = { 0 };
	STACK_OF(X509) *chain = NULL;
	uint8_t *out = NULL;
	size_t len = 0;

	/* The RSA key signs, but the chain's leaf is the EC key's certificate. */
	ck_assert_int_eq(run("leaf-rsa.key", "chain-ec.pem", SG_MECH_RSA_PSS_SHA256, SG_FORMAT_RAW,
			     &s, &chain, &out, &len),
	    SG_ERR_HSM_SIGN_FAILED);
	ck_assert_ptr_null(out);
	sk_X509_pop_free(chain, X509_free);
}
END_TEST

START_TEST(test_sign_error_passed_through)
{
	struct soft_signer s = { 0 };
	STACK_OF(X509) *chain = NULL;
	uint8_t *out = NULL;
	size_t len = 0;

	s.fail = SG_ERR_HSM_UNAVAILABLE;
	ck_assert_int_eq(run("leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256, SG_FORMAT_CMS, &s,
			     &chain, &out, &len),
	    SG_ERR_HSM_UNAVAILABLE);
	ck_assert_ptr_null(out);
	sk_X509_pop_free(chain, X509_free);
}
END_TEST

/* authenticode: the SignedData covers the image digest (not the
 * artifact's), and carries the description and the URL. */
START_TEST(test_authenticode)
{
	static const struct {
		const char *key, *chain;
		enum sg_mech mech;
	} cases[] = {
		{ "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256 },
		{ "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PKCS1_SHA256 },
	};
	uint8_t d[SHA256_LEN], artifact[SHA256_LEN];

	image_digest(d);
	crypto_sha256(content, strlen(content), artifact);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image img = { d, "Signet test", "https://example.org/" };
		struct soft_signer s = { 0 };
		STACK_OF(X509) *chain = NULL;
		uint8_t *out = NULL;
		size_t len = 0;
		X509 *leaf;

		ck_assert_int_eq(run_image(cases[i].key, cases[i].chain, cases[i].mech,
				     SG_FORMAT_AUTHENTICODE, &s, &img, &chain, &out, &len),
		    0);
		ck_assert_int_eq(s.calls, 1);
		leaf = sk_X509_value(chain, 0);
		ck_assert_int_eq(pkcs7sig_authenticode_verify(out, len, d, leaf, NULL, 0), 0);
		ck_assert_int_eq(
		    pkcs7sig_authenticode_verify(out, len, artifact, leaf, NULL, 0), SG_ERR_VERIFY);
		ck_assert_ptr_nonnull(memmem(out, len, "https://example.org/", 20));
		ck_assert_ptr_nonnull(memmem(out, len, "\0S\0i\0g\0n\0e\0t", 12));
		free(out);
		sk_X509_pop_free(chain, X509_free);
	}
}
END_TEST

/* kmod through the agent's request: sign-file's very bytes for the RSA
 * fixture (tests/data/format/kmod-gen.sh), and verified for ECDSA. */
START_TEST(test_kmod)
{
	struct format_request req;
	struct soft_signer s = { 0 };
	STACK_OF(X509) *chain = NULL;
	uint8_t digest[SHA256_LEN], *out = NULL;
	char *module = NULL, *want = NULL;
	size_t len = 0, module_len = 0, want_len = 0;
	char path[512];

	snprintf(path, sizeof(path), "%s/format/kmod-module.ko", TEST_DATA_DIR);
	ck_assert_int_eq(read_file(path, 1 << 20, &module, &module_len), 0);
	snprintf(path, sizeof(path), "%s/format/kmod-module.ko.p7s", TEST_DATA_DIR);
	ck_assert_int_eq(read_file(path, 1 << 20, &want, &want_len), 0);
	crypto_sha256(module, module_len, digest);
	s.key = load_key("kmod-rsa.key");
	s.mech = SG_MECH_RSA_PKCS1_SHA256;
	chain = load_chain("kmod-rsa.pem");
	memset(&req, 0, sizeof(req));
	req.format = SG_FORMAT_KMOD;
	req.mech = SG_MECH_RSA_PKCS1_SHA256;
	req.digest = digest;
	req.chain = chain;
	req.sign = soft_sign;
	req.sign_arg = &s;
	ck_assert_int_eq(format_sign(&req, &out, &len), 0);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(out, want, len);
	free(out);
	EVP_PKEY_free(s.key);
	sk_X509_pop_free(chain, X509_free);

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(run("leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256, SG_FORMAT_KMOD,
			     &s, &chain, &out, &len),
	    0);
	crypto_sha256(content, strlen(content), digest);
	ck_assert_int_eq(
	    pkcs7sig_kmod_verify(out, len, digest, sk_X509_value(chain, 0), NULL, 0), 0);
	free(out);
	sk_X509_pop_free(chain, X509_free);
	free(module);
	free(want);
}
END_TEST

/* What format_sign() refuses before anything is signed: RSA-PSS for the
 * PKCS#7 formats, an authenticode request without its image digest, a
 * format it does not build. */
START_TEST(test_refused_requests)
{
	static const struct {
		const char *key, *chain;
		enum sg_mech mech;
		enum sg_format fmt;
		int no_image;
	} cases[] = {
		{ "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PSS_SHA256, SG_FORMAT_AUTHENTICODE,
		    0 },
		{ "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PSS_SHA256, SG_FORMAT_KMOD, 0 },
		{ "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256, SG_FORMAT_AUTHENTICODE, 1 },
		{ "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256, SG_FORMAT_OPENPGP, 0 },
		{ "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256, (enum sg_format)99, 0 },
	};
	uint8_t d[SHA256_LEN];

	image_digest(d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image img = { cases[i].no_image ? NULL : d, NULL, NULL };
		struct soft_signer s = { 0 };
		STACK_OF(X509) *chain = NULL;
		uint8_t *out = NULL;
		size_t len = 0;

		ck_assert_int_eq(run_image(cases[i].key, cases[i].chain, cases[i].mech,
				     cases[i].fmt, &s, &img, &chain, &out, &len),
		    SG_ERR_INVALID_ARGUMENT);
		ck_assert_ptr_null(out);
		ck_assert_int_eq(s.calls, 0);
		sk_X509_pop_free(chain, X509_free);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = test_case(s, "format", 60);

	tcase_add_test(tc, test_cms_ecdsa);
	tcase_add_test(tc, test_cms_rsa_pss);
	tcase_add_test(tc, test_cms_rsa_pkcs1);
	tcase_add_test(tc, test_cms_carries_chain_and_attributes);
	tcase_add_test(tc, test_raw_all_mechs);
	tcase_add_test(tc, test_corrupt_signature_refused);
	tcase_add_test(tc, test_wrong_key_refused);
	tcase_add_test(tc, test_sign_error_passed_through);
	tcase_add_test(tc, test_authenticode);
	tcase_add_test(tc, test_kmod);
	tcase_add_test(tc, test_refused_requests);
	return test_run(s);
}
