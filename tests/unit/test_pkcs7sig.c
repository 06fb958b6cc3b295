/*
 * Unit tests for common/pkcs7sig.c: Authenticode and kmod SignedData built
 * through a signing callback (a software key standing in for the HSM),
 * taken apart with OpenSSL's PKCS#7 parser field by field, and compared
 * with what the kernel's scripts/sign-file made for the same key and
 * module (tests/data/format/kmod-gen.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>

#include "crypto.h"
#include "pkcs7sig.h"
#include "testlib.h"
#include "util.h"

#define SPC_INDIRECT_DATA "1.3.6.1.4.1.311.2.1.4"
#define SPC_OPUS_INFO     "1.3.6.1.4.1.311.2.1.12"
#define SPC_STATEMENT     "1.3.6.1.4.1.311.2.1.11"
#define SPC_COUNTERSIG    "1.3.6.1.4.1.311.3.3.1"

struct soft_signer {
	EVP_PKEY *key;
	enum sg_mech mech;
	int calls;
	int corrupt; /* flip a bit of the signature */
	int fail;    /* return this error */
};

/* What tests hold for one signing: the key, its chain, the signer. */
struct fixture {
	struct soft_signer soft;
	STACK_OF(X509) * chain;
	struct pkcs7sig_signer signer;
};

/* What an output pointer holds before a call that must clear it. */
static uint8_t sentinel[1];

static void
data_path(char *buf, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/format/%s", TEST_DATA_DIR, name), (int)len);
}

static uint8_t *
load_file(const char *name, size_t *ret_len)
{
	char path[512];
	FILE *f;
	uint8_t *buf;
	long n;

	data_path(path, sizeof(path), name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_gt(n, 0);
	rewind(f);
	buf = malloc((size_t)n);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

/* Signs a digest the way hsm_sign() does: DER ECDSA, PKCS#1 or PSS. */
static int
soft_sign(void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_len)
{
	struct soft_signer *s = arg;
	EVP_PKEY_CTX *ctx;
	size_t len = PKCS7SIG_SIG_MAX;

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

static void
fixture_init(struct fixture *f, const char *key, const char *chain, enum sg_mech mech)
{
	char path[512];

	memset(f, 0, sizeof(*f));
	data_path(path, sizeof(path), key);
	ck_assert_int_eq(crypto_load_privkey(path, &f->soft.key), 0);
	data_path(path, sizeof(path), chain);
	ck_assert_int_eq(crypto_load_certs(path, &f->chain), 0);
	f->soft.mech = mech;
	f->signer.mech = mech;
	f->signer.chain = f->chain;
	f->signer.sign = soft_sign;
	f->signer.sign_arg = &f->soft;
}

static void
fixture_free(struct fixture *f)
{
	EVP_PKEY_free(f->soft.key);
	sk_X509_pop_free(f->chain, X509_free);
}

static X509 *
leaf_of(const struct fixture *f)
{
	return sk_X509_value(f->chain, 0);
}

static void
image_digest(uint8_t d[SHA256_LEN])
{
	crypto_sha256("an image", 8, d);
}

static PKCS7 *
parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);

	ck_assert_ptr_nonnull(p7);
	ck_assert_ptr_eq(p, der + len);
	return p7;
}

static int
oid_is(const ASN1_OBJECT *o, const char *dotted)
{
	char buf[80];

	OBJ_obj2txt(buf, sizeof(buf), o, 1);
	return strcmp(buf, dotted) == 0;
}

/* The one value of the signed attribute named by its dotted OID. */
static const ASN1_TYPE *
signed_attr(PKCS7_SIGNER_INFO *si, const char *dotted)
{
	const ASN1_TYPE *found = NULL;

	for (int i = 0; i < sk_X509_ATTRIBUTE_num(si->auth_attr); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(si->auth_attr, i);
		if (oid_is(X509_ATTRIBUTE_get0_object(a), dotted)) {
			ck_assert_ptr_null(found);
			ck_assert_int_eq(X509_ATTRIBUTE_count(a), 1);
			found = X509_ATTRIBUTE_get0_type(a, 0);
		}
	}
	ck_assert_msg(found != NULL, "no signed attribute %s", dotted);
	return found;
}

static void
assert_bytes(const ASN1_STRING *s, const uint8_t *want, size_t len)
{
	ck_assert_int_eq(ASN1_STRING_length(s), (int)len);
	ck_assert_mem_eq(ASN1_STRING_get0_data(s), want, len);
}

/*
 * SpcIndirectDataContent as signtool writes it, for a PE image digest:
 *   SEQUENCE {
 *     SEQUENCE { OID 1.3.6.1.4.1.311.2.1.15 (SPC_PE_IMAGE_DATAOBJ),
 *       SEQUENCE { BIT STRING (empty),
 *         [0] { [2] { [0] IMPLICIT BMPString "<<<Obsolete>>>" } } } },
 *     SEQUENCE { SEQUENCE { OID sha256, NULL }, OCTET STRING (32 bytes) } }
 */
static const uint8_t idc_head[] = {
	0x30,
	0x68,
	0x30,
	0x33,
	0x06,
	0x0a,
	0x2b,
	0x06,
	0x01,
	0x04,
	0x01,
	0x82,
	0x37,
	0x02,
	0x01,
	0x0f,
	0x30,
	0x25,
	0x03,
	0x01,
	0x00,
	0xa0,
	0x20,
	0xa2,
	0x1e,
	0x80,
	0x1c,
	0x00,
	0x3c,
	0x00,
	0x3c,
	0x00,
	0x3c,
	0x00,
	0x4f,
	0x00,
	0x62,
	0x00,
	0x73,
	0x00,
	0x6f,
	0x00,
	0x6c,
	0x00,
	0x65,
	0x00,
	0x74,
	0x00,
	0x65,
	0x00,
	0x3e,
	0x00,
	0x3e,
	0x00,
	0x3e,
	0x30,
	0x31,
	0x30,
	0x0d,
	0x06,
	0x09,
	0x60,
	0x86,
	0x48,
	0x01,
	0x65,
	0x03,
	0x04,
	0x02,
	0x01,
	0x05,
	0x00,
	0x04,
	0x20,
};

/* SpcStatementType: SEQUENCE { OID 1.3.6.1.4.1.311.2.1.21 (individual) } */
static const uint8_t statement_individual[] = {
	0x30,
	0x0c,
	0x06,
	0x0a,
	0x2b,
	0x06,
	0x01,
	0x04,
	0x01,
	0x82,
	0x37,
	0x02,
	0x01,
	0x15,
};

/*
 * Takes apart an Authenticode SignedData and checks every field that
 * docs/protocol.md §4 and pkcs7sig.h name.  opus/opus_len: the expected
 * DER of SpcSpOpusInfo.
 */
static void
check_authenticode_fields(const uint8_t *der, size_t len, const struct fixture *f,
    const uint8_t digest[SHA256_LEN], const uint8_t *opus, size_t opus_len)
{
	PKCS7 *p7 = parse(der, len);
	PKCS7_SIGNED *sd;
	PKCS7_SIGNER_INFO *si;
	const ASN1_TYPE *t;
	const ASN1_STRING *content;
	uint8_t idc[sizeof(idc_head) + SHA256_LEN], md[SHA256_LEN];
	const X509_ALGOR *alg;
	X509 *leaf = leaf_of(f);
	unsigned char *attrs = NULL;
	EVP_MD_CTX *ctx;
	int n;

	ck_assert(PKCS7_type_is_signed(p7));
	sd = p7->d.sign;
	ck_assert_int_eq(ASN1_INTEGER_get(sd->version), 1);
	ck_assert_int_eq(sk_X509_ALGOR_num(sd->md_algs), 1);
	ck_assert_int_eq(OBJ_obj2nid(sk_X509_ALGOR_value(sd->md_algs, 0)->algorithm), NID_sha256);

	/* The content: SPC_INDIRECT_DATA, the SEQUENCE itself as eContent. */
	ck_assert(oid_is(sd->contents->type, SPC_INDIRECT_DATA));
	ck_assert_ptr_nonnull(sd->contents->d.other);
	ck_assert_int_eq(sd->contents->d.other->type, V_ASN1_SEQUENCE);
	content = sd->contents->d.other->value.sequence;
	memcpy(idc, idc_head, sizeof(idc_head));
	memcpy(idc + sizeof(idc_head), digest, SHA256_LEN);
	assert_bytes(content, idc, sizeof(idc));

	/* The chain, in its order. */
	ck_assert_int_eq(sk_X509_num(sd->cert), sk_X509_num(f->chain));
	for (int i = 0; i < sk_X509_num(f->chain); i++)
		ck_assert_int_eq(
		    X509_cmp(sk_X509_value(sd->cert, i), sk_X509_value(f->chain, i)), 0);
	ck_assert_int_le(sk_X509_CRL_num(sd->crl), 0);

	/* One signer: the leaf by issuer and serial. */
	ck_assert_int_eq(sk_PKCS7_SIGNER_INFO_num(sd->signer_info), 1);
	si = sk_PKCS7_SIGNER_INFO_value(sd->signer_info, 0);
	ck_assert_int_eq(ASN1_INTEGER_get(si->version), 1);
	ck_assert_int_eq(
	    X509_NAME_cmp(si->issuer_and_serial->issuer, X509_get_issuer_name(leaf)), 0);
	ck_assert_int_eq(
	    ASN1_INTEGER_cmp(si->issuer_and_serial->serial, X509_get0_serialNumber(leaf)), 0);
	ck_assert_int_eq(OBJ_obj2nid(si->digest_alg->algorithm), NID_sha256);
	alg = si->digest_enc_alg;
	if (f->signer.mech == SG_MECH_ECDSA_SHA256) {
		ck_assert_int_eq(OBJ_obj2nid(alg->algorithm), NID_ecdsa_with_SHA256);
		ck_assert_ptr_null(alg->parameter);
	} else {
		ck_assert_int_eq(OBJ_obj2nid(alg->algorithm), NID_rsaEncryption);
	}
	ck_assert_ptr_null(si->unauth_attr);

	/* Exactly four signed attributes, no signing time. */
	ck_assert_int_eq(sk_X509_ATTRIBUTE_num(si->auth_attr), 4);
	ck_assert_ptr_null(PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime));
	t = PKCS7_get_signed_attribute(si, NID_pkcs9_contentType);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->type, V_ASN1_OBJECT);
	ck_assert(oid_is(t->value.object, SPC_INDIRECT_DATA));
	/* messageDigest: the content without its tag and length (2 bytes). */
	t = PKCS7_get_signed_attribute(si, NID_pkcs9_messageDigest);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->type, V_ASN1_OCTET_STRING);
	crypto_sha256(idc + 2, sizeof(idc) - 2, md);
	assert_bytes(t->value.octet_string, md, sizeof(md));
	t = signed_attr(si, SPC_OPUS_INFO);
	ck_assert_int_eq(t->type, V_ASN1_SEQUENCE);
	assert_bytes(t->value.sequence, opus, opus_len);
	t = signed_attr(si, SPC_STATEMENT);
	ck_assert_int_eq(t->type, V_ASN1_SEQUENCE);
	assert_bytes(t->value.sequence, statement_individual, sizeof(statement_individual));

	/* And the signature, checked as a consumer does: over the DER of the
	 * signed attributes as received, with the leaf's key. */
	n = ASN1_item_i2d((ASN1_VALUE *)si->auth_attr, &attrs, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	ck_assert_int_gt(n, 0);
	ctx = EVP_MD_CTX_new();
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, X509_get0_pubkey(leaf)), 1);
	ck_assert_int_eq(EVP_DigestVerify(ctx, ASN1_STRING_get0_data(si->enc_digest),
			     (size_t)ASN1_STRING_length(si->enc_digest), attrs, (size_t)n),
	    1);
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(attrs);
	PKCS7_free(p7);
	ERR_clear_error();
}

static int
verify_authenticode(
    const uint8_t *der, size_t len, const struct fixture *f, const uint8_t digest[SHA256_LEN])
{
	char why[128];

	return pkcs7sig_authenticode_verify(der, len, digest, leaf_of(f), why, sizeof(why));
}

static void
check_authenticode(const char *key, const char *chain, enum sg_mech mech)
{
	static const uint8_t empty_opus[] = { 0x30, 0x00 };
	struct fixture f;
	uint8_t digest[SHA256_LEN], *out = NULL;
	size_t len = 0;
	char why[128];

	fixture_init(&f, key, chain, mech);
	image_digest(digest);
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, NULL, NULL, &out, &len), 0);
	ck_assert_int_eq(f.soft.calls, 1);
	check_authenticode_fields(out, len, &f, digest, empty_opus, sizeof(empty_opus));
	ck_assert_int_eq(verify_authenticode(out, len, &f, digest), 0);
	/* Another image digest: refused, and said why. */
	digest[7] ^= 0x10;
	ck_assert_int_eq(
	    pkcs7sig_authenticode_verify(out, len, digest, leaf_of(&f), why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_str_eq(why, "the content's image digest is not the image's SHA-256");
	free(out);
	fixture_free(&f);
}

START_TEST(test_authenticode_ecdsa)
{
	check_authenticode("leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
}
END_TEST

START_TEST(test_authenticode_rsa_pkcs1)
{
	check_authenticode("leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PKCS1_SHA256);
}
END_TEST

/* SpcSpOpusInfo with a description (programName [0] { [0] BMPString }),
 * with a URL (moreInfo [1] { [0] IA5String }) and with both. */
START_TEST(test_authenticode_opus_info)
{
	static const uint8_t desc_only[] = {
		/* "Déjà vu" */
		0x30,
		0x12,
		0xa0,
		0x10,
		0x80,
		0x0e,
		0x00,
		0x44,
		0x00,
		0xe9,
		0x00,
		0x6a,
		0x00,
		0xe0,
		0x00,
		0x20,
		0x00,
		0x76,
		0x00,
		0x75,
	};
	static const uint8_t url_only[] = {
		/* "https://e.x/" */
		0x30,
		0x10,
		0xa1,
		0x0e,
		0x80,
		0x0c,
		0x68,
		0x74,
		0x74,
		0x70,
		0x73,
		0x3a,
		0x2f,
		0x2f,
		0x65,
		0x2e,
		0x78,
		0x2f,
	};
	static const uint8_t both[] = {
		0x30,
		0x22,
		0xa0,
		0x10,
		0x80,
		0x0e,
		0x00,
		0x44,
		0x00,
		0xe9,
		0x00,
		0x6a,
		0x00,
		0xe0,
		0x00,
		0x20,
		0x00,
		0x76,
		0x00,
		0x75,
		0xa1,
		0x0e,
		0x80,
		0x0c,
		0x68,
		0x74,
		0x74,
		0x70,
		0x73,
		0x3a,
		0x2f,
		0x2f,
		0x65,
		0x2e,
		0x78,
		0x2f,
	};
	static const struct {
		const char *desc, *url;
		const uint8_t *opus;
		size_t opus_len;
	} cases[] = {
		{ "D\xc3\xa9j\xc3\xa0 vu", NULL, desc_only, sizeof(desc_only) },
		{ NULL, "https://e.x/", url_only, sizeof(url_only) },
		{ "D\xc3\xa9j\xc3\xa0 vu", "https://e.x/", both, sizeof(both) },
	};
	uint8_t digest[SHA256_LEN];

	image_digest(digest);
	for (size_t i = 0; i < nitems(cases); i++) {
		struct fixture f;
		uint8_t *out = NULL;
		size_t len = 0;

		fixture_init(&f, "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
		ck_assert_int_eq(pkcs7sig_authenticode_sign(
				     &f.signer, digest, cases[i].desc, cases[i].url, &out, &len),
		    0);
		check_authenticode_fields(out, len, &f, digest, cases[i].opus, cases[i].opus_len);
		ck_assert_int_eq(verify_authenticode(out, len, &f, digest), 0);
		free(out);
		fixture_free(&f);
	}
}
END_TEST

/* The texts at their limits, and one past them; nothing is signed for a
 * text that is refused. */
START_TEST(test_authenticode_text_limits)
{
	char desc[PKCS7SIG_DESCRIPTION_MAX + 2], url[PKCS7SIG_URL_MAX + 2];
	static const struct {
		const char *desc, *url;
	} refused[] = {
		{ "", NULL },
		{ NULL, "" },
		{ "\xf0\x9f\x94\x8f", NULL }, /* outside the BMP */
		{ "\xc3\x28", NULL },         /* not UTF-8 */
		{ NULL, "https://e.x/a b" },
		{ NULL, "https://\xc3\xa9.x/" },
		{ NULL, "https://e.x/\n" },
	};
	uint8_t digest[SHA256_LEN], *out;
	size_t len;
	struct fixture f;

	image_digest(digest);
	fixture_init(&f, "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
	memset(desc, 'd', sizeof(desc));
	desc[PKCS7SIG_DESCRIPTION_MAX] = '\0';
	memset(url, 'u', sizeof(url));
	url[PKCS7SIG_URL_MAX] = '\0';
	out = sentinel;
	len = 99;
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, desc, url, &out, &len), 0);
	ck_assert_int_eq(verify_authenticode(out, len, &f, digest), 0);
	free(out);
	ck_assert_int_eq(f.soft.calls, 1);

	desc[PKCS7SIG_DESCRIPTION_MAX] = 'd';
	desc[PKCS7SIG_DESCRIPTION_MAX + 1] = '\0';
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, desc, NULL, &out, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	url[PKCS7SIG_URL_MAX] = 'u';
	url[PKCS7SIG_URL_MAX + 1] = '\0';
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, NULL, url, &out, &len),
	    SG_ERR_INVALID_ARGUMENT);
	for (size_t i = 0; i < nitems(refused); i++) {
		out = sentinel;
		ck_assert_msg(pkcs7sig_authenticode_sign(&f.signer, digest, refused[i].desc,
				  refused[i].url, &out, &len) == SG_ERR_INVALID_ARGUMENT,
		    "case %zu", i);
		ck_assert_ptr_null(out);
	}
	ck_assert_int_eq(f.soft.calls, 1);
	fixture_free(&f);
}
END_TEST

/* RSA-PSS has no place in these formats; a mechanism that does not fit
 * the leaf's key is refused before anything is signed. */
START_TEST(test_mechanisms_refused)
{
	static const struct {
		const char *key, *chain;
		enum sg_mech mech;
		int want;
	} cases[] = {
		{ "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PSS_SHA256,
		    SG_ERR_INVALID_ARGUMENT },
		{ "leaf-rsa.key", "chain-rsa.pem", (enum sg_mech)7, SG_ERR_INVALID_ARGUMENT },
		{ "leaf-rsa.key", "chain-rsa.pem", SG_MECH_ECDSA_SHA256, SG_ERR_KEY_UNSUPPORTED },
		{ "leaf-ec.key", "chain-ec.pem", SG_MECH_RSA_PKCS1_SHA256, SG_ERR_KEY_UNSUPPORTED },
	};
	uint8_t digest[SHA256_LEN];

	image_digest(digest);
	for (size_t i = 0; i < nitems(cases); i++) {
		struct fixture f;
		uint8_t *out = sentinel;
		size_t len = 1;

		fixture_init(&f, cases[i].key, cases[i].chain, cases[i].mech);
		ck_assert_int_eq(
		    pkcs7sig_authenticode_sign(&f.signer, digest, NULL, NULL, &out, &len),
		    cases[i].want);
		ck_assert_ptr_null(out);
		ck_assert_uint_eq(len, 0);
		out = sentinel;
		ck_assert_int_eq(pkcs7sig_kmod_sign(&f.signer, digest, &out, &len), cases[i].want);
		ck_assert_ptr_null(out);
		ck_assert_int_eq(f.soft.calls, 0);
		fixture_free(&f);
	}
}
END_TEST

/* Fail closed: a signature that does not verify never leaves; the
 * callback's own error is passed on as it is. */
START_TEST(test_sign_failures)
{
	for (int kmod = 0; kmod <= 1; kmod++) {
		for (int mode = 0; mode <= 1; mode++) {
			struct fixture f;
			uint8_t digest[SHA256_LEN], *out = sentinel;
			size_t len = 1;
			int r;

			image_digest(digest);
			fixture_init(&f, "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
			if (mode == 0)
				f.soft.corrupt = 1;
			else
				f.soft.fail = SG_ERR_HSM_UNAVAILABLE;
			r = kmod
			    ? pkcs7sig_kmod_sign(&f.signer, digest, &out, &len)
			    : pkcs7sig_authenticode_sign(&f.signer, digest, NULL, NULL, &out, &len);
			ck_assert_int_eq(
			    r, mode == 0 ? SG_ERR_HSM_SIGN_FAILED : SG_ERR_HSM_UNAVAILABLE);
			ck_assert_ptr_null(out);
			ck_assert_uint_eq(len, 0);
			ck_assert_int_eq(f.soft.calls, 1);
			fixture_free(&f);
		}
	}
}
END_TEST

/* Another RSA key signs while the chain names leaf-rsa's: refused. */
START_TEST(test_wrong_key_refused)
{
	struct fixture f, other;
	uint8_t digest[SHA256_LEN], *out = NULL;
	size_t len = 0;
	EVP_PKEY *mine;

	image_digest(digest);
	fixture_init(&f, "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PKCS1_SHA256);
	fixture_init(&other, "kmod-rsa.key", "kmod-rsa.pem", SG_MECH_RSA_PKCS1_SHA256);
	mine = f.soft.key;
	f.soft.key = other.soft.key;
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, NULL, NULL, &out, &len),
	    SG_ERR_HSM_SIGN_FAILED);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(pkcs7sig_kmod_sign(&f.signer, digest, &out, &len), SG_ERR_HSM_SIGN_FAILED);
	ck_assert_ptr_null(out);
	f.soft.key = mine;
	fixture_free(&f);
	fixture_free(&other);
}
END_TEST

START_TEST(test_null_arguments)
{
	struct fixture f;
	uint8_t digest[SHA256_LEN], *out = NULL;
	size_t len = 0;
	struct pkcs7sig_signer bad;

	image_digest(digest);
	fixture_init(&f, "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
	ck_assert_int_eq(pkcs7sig_authenticode_sign(NULL, digest, NULL, NULL, &out, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, NULL, NULL, NULL, &out, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, NULL, NULL, NULL, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pkcs7sig_kmod_sign(&f.signer, NULL, &out, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    pkcs7sig_kmod_sign(&f.signer, digest, &out, NULL), SG_ERR_INVALID_ARGUMENT);
	bad = f.signer;
	bad.sign = NULL;
	ck_assert_int_eq(pkcs7sig_kmod_sign(&bad, digest, &out, &len), SG_ERR_INVALID_ARGUMENT);
	bad = f.signer;
	bad.chain = sk_X509_new_null();
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&bad, digest, NULL, NULL, &out, &len),
	    SG_ERR_INVALID_ARGUMENT);
	sk_X509_free(bad.chain);
	ck_assert_int_eq(pkcs7sig_authenticode_verify(NULL, 1, digest, leaf_of(&f), NULL, 0),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    pkcs7sig_kmod_verify(digest, 1, digest, NULL, NULL, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(f.soft.calls, 0);
	fixture_free(&f);
}
END_TEST

/* Where the certificates lie in der: their bits are not the verifier's
 * to check (chain building is the caller's). */
static void
cert_spans(const uint8_t *der, size_t len, const struct fixture *f, size_t *off, size_t *end)
{
	unsigned char *first = NULL, *last = NULL;
	int n1, n2;
	const uint8_t *a, *b;

	n1 = i2d_X509(sk_X509_value(f->chain, 0), &first);
	n2 = i2d_X509(sk_X509_value(f->chain, sk_X509_num(f->chain) - 1), &last);
	ck_assert_int_gt(n1, 0);
	ck_assert_int_gt(n2, 0);
	if (first == NULL || last == NULL)
		ck_abort_msg("i2d_X509 gave no encoding");
	a = memmem(der, len, first, (size_t)n1);
	b = memmem(der, len, last, (size_t)n2);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	*off = (size_t)(a - der);
	*end = (size_t)(b - der) + (size_t)n2;
	OPENSSL_free(first);
	OPENSSL_free(last);
}

/* Flip each bit outside the certificates, truncate at every length, and
 * pad: every variant but WIN_CERTIFICATE's zero padding is refused. */
static void
mutate_authenticode(const char *key, const char *chain, enum sg_mech mech)
{
	struct fixture f;
	uint8_t digest[SHA256_LEN], *out = NULL, *padded;
	size_t len = 0, cert_off, cert_end;

	fixture_init(&f, key, chain, mech);
	image_digest(digest);
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, "d", "u", &out, &len), 0);
	cert_spans(out, len, &f, &cert_off, &cert_end);
	for (size_t i = 0; i < len; i++) {
		if (i == cert_off)
			i = cert_end;
		if (i >= len)
			break;
		for (int b = 0; b < 8; b++) {
			out[i] ^= (uint8_t)(1u << b);
			ck_assert_msg(verify_authenticode(out, len, &f, digest) == SG_ERR_VERIFY,
			    "bit %d of byte %zu flipped still verifies", b, i);
			out[i] ^= (uint8_t)(1u << b);
		}
	}
	for (size_t n = 0; n < len; n++)
		ck_assert_int_eq(verify_authenticode(out, n, &f, digest), SG_ERR_VERIFY);
	padded = calloc(1, len + PKCS7SIG_PADDING_MAX + 1);
	ck_assert_ptr_nonnull(padded);
	memcpy(padded, out, len);
	for (size_t n = 0; n <= PKCS7SIG_PADDING_MAX; n++)
		ck_assert_int_eq(verify_authenticode(padded, len + n, &f, digest), 0);
	ck_assert_int_eq(
	    verify_authenticode(padded, len + PKCS7SIG_PADDING_MAX + 1, &f, digest), SG_ERR_VERIFY);
	padded[len + 3] = 1;
	ck_assert_int_eq(verify_authenticode(padded, len + 4, &f, digest), SG_ERR_VERIFY);
	ck_assert_int_eq(verify_authenticode(out, len, &f, digest), 0);
	free(padded);
	free(out);
	fixture_free(&f);
}

START_TEST(test_authenticode_mutations_ecdsa)
{
	mutate_authenticode("leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
}
END_TEST

START_TEST(test_authenticode_mutations_rsa)
{
	mutate_authenticode("leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PKCS1_SHA256);
}
END_TEST

/* Reads der, lets edit() change the SignerInfo, and re-encodes. */
static uint8_t *
edit_signer(const uint8_t *der, size_t len, void (*edit)(PKCS7_SIGNER_INFO *), size_t *ret_len)
{
	PKCS7 *p7 = parse(der, len);
	unsigned char *out = NULL;
	uint8_t *copy;
	int n;

	edit(sk_PKCS7_SIGNER_INFO_value(p7->d.sign->signer_info, 0));
	n = i2d_PKCS7(p7, &out);
	ck_assert_int_gt(n, 0);
	copy = malloc((size_t)n);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, out, (size_t)n);
	OPENSSL_free(out);
	PKCS7_free(p7);
	*ret_len = (size_t)n;
	return copy;
}

/* A timestamp countersignature where the agent's TSA client puts it (the
 * value here is a stand-in: verification does not look at it). */
static void
add_countersignature(PKCS7_SIGNER_INFO *si)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(SPC_COUNTERSIG, 1);
	ASN1_STRING *seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	static const uint8_t empty_seq[] = { 0x30, 0x00 };

	ck_assert_ptr_nonnull(oid);
	ck_assert_int_eq(ASN1_STRING_set(seq, empty_seq, sizeof(empty_seq)), 1);
	ck_assert_ptr_nonnull(X509at_add1_attr_by_OBJ(
	    &si->unauth_attr, oid, V_ASN1_SEQUENCE, (const unsigned char *)seq, -1));
	ASN1_STRING_free(seq);
	ASN1_OBJECT_free(oid);
}

/* signingTime among the signed attributes (the signature no longer
 * matches either, but the attribute is refused first). */
static void
add_signing_time(PKCS7_SIGNER_INFO *si)
{
	ASN1_TIME *t = ASN1_TIME_set(NULL, 1795190400);

	ck_assert_int_eq(
	    PKCS7_add_signed_attribute(si, NID_pkcs9_signingTime, V_ASN1_UTCTIME, t), 1);
}

/* The signed attributes in an order other than DER's. */
static void
reverse_signed_attrs(PKCS7_SIGNER_INFO *si)
{
	STACK_OF(X509_ATTRIBUTE) *sk = si->auth_attr;
	int n = sk_X509_ATTRIBUTE_num(sk);

	for (int i = 0; i < n / 2; i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(sk, i);
		sk_X509_ATTRIBUTE_set(sk, i, sk_X509_ATTRIBUTE_value(sk, n - 1 - i));
		sk_X509_ATTRIBUTE_set(sk, n - 1 - i, a);
	}
}

START_TEST(test_authenticode_attributes)
{
	struct fixture f;
	uint8_t digest[SHA256_LEN], *out = NULL, *edited;
	size_t len = 0, elen;
	char why[128];

	fixture_init(&f, "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
	image_digest(digest);
	ck_assert_int_eq(pkcs7sig_authenticode_sign(&f.signer, digest, NULL, NULL, &out, &len), 0);

	edited = edit_signer(out, len, add_countersignature, &elen);
	ck_assert_int_gt(elen, len);
	ck_assert_int_eq(verify_authenticode(edited, elen, &f, digest), 0);
	free(edited);

	edited = edit_signer(out, len, add_signing_time, &elen);
	ck_assert_int_eq(
	    pkcs7sig_authenticode_verify(edited, elen, digest, leaf_of(&f), why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_str_eq(why, "an unexpected signed attribute");
	free(edited);

	edited = edit_signer(out, len, reverse_signed_attrs, &elen);
	ck_assert_uint_eq(elen, len);
	ck_assert_int_eq(
	    pkcs7sig_authenticode_verify(edited, elen, digest, leaf_of(&f), why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_str_eq(why, "the signed attributes are not in DER order");
	free(edited);

	/* Another leaf (same issuer, other serial): not the signer. */
	{
		struct fixture rsa;
		fixture_init(&rsa, "leaf-rsa.key", "chain-rsa.pem", SG_MECH_RSA_PKCS1_SHA256);
		ck_assert_int_eq(
		    pkcs7sig_authenticode_verify(out, len, digest, leaf_of(&rsa), why, sizeof(why)),
		    SG_ERR_VERIFY);
		ck_assert_str_eq(why, "the signer is not the leaf certificate (issuer and serial)");
		fixture_free(&rsa);
	}
	/* A kmod verifier does not take an Authenticode signature. */
	ck_assert_int_eq(
	    pkcs7sig_kmod_verify(out, len, digest, leaf_of(&f), NULL, 0), SG_ERR_VERIFY);
	free(out);
	fixture_free(&f);
}
END_TEST

static void
module_digest(uint8_t d[SHA256_LEN])
{
	size_t len;
	uint8_t *module = load_file("kmod-module.ko", &len);

	crypto_sha256(module, len, d);
	free(module);
}

/*
 * kmod with RSA PKCS#1 v1.5 is deterministic: the very bytes that
 * sign-file made (kmod-gen.sh: `sign-file -p sha256 kmod-rsa.key
 * kmod-rsa.pem kmod-module.ko kmod-module.ko.signed`).
 */
START_TEST(test_kmod_matches_sign_file)
{
	/* struct module_signature: algo, hash, id_type (PKEY_ID_PKCS7 = 2),
	 * signer_len, key_id_len, 3 bytes of padding, sig_len big-endian. */
	static const uint8_t sig_info_head[8] = { 0, 0, 2, 0, 0, 0, 0, 0 };
	static const char marker[] = "~Module signature appended~\n";
	struct fixture f;
	uint8_t digest[SHA256_LEN], *out = NULL, *want, *module, *signed_module, *p;
	size_t len = 0, want_len, module_len, signed_len;
	char why[128];

	fixture_init(&f, "kmod-rsa.key", "kmod-rsa.pem", SG_MECH_RSA_PKCS1_SHA256);
	module_digest(digest);
	ck_assert_int_eq(pkcs7sig_kmod_sign(&f.signer, digest, &out, &len), 0);
	want = load_file("kmod-module.ko.p7s", &want_len);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(out, want, len);

	/* The fixture is what sign-file appended to the module. */
	module = load_file("kmod-module.ko", &module_len);
	signed_module = load_file("kmod-module.ko.signed", &signed_len);
	ck_assert_uint_eq(signed_len, module_len + want_len + 12 + strlen(marker));
	p = signed_module;
	ck_assert_mem_eq(p, module, module_len);
	p += module_len;
	ck_assert_mem_eq(p, want, want_len);
	p += want_len;
	ck_assert_mem_eq(p, sig_info_head, sizeof(sig_info_head));
	ck_assert_uint_eq(
	    (size_t)p[8] << 24 | (size_t)p[9] << 16 | (size_t)p[10] << 8 | p[11], want_len);
	ck_assert_mem_eq(p + 12, marker, strlen(marker));

	ck_assert_int_eq(
	    pkcs7sig_kmod_verify(want, want_len, digest, leaf_of(&f), why, sizeof(why)), 0);
	ck_assert_str_eq(why, "");
	digest[0] ^= 1;
	ck_assert_int_eq(
	    pkcs7sig_kmod_verify(want, want_len, digest, leaf_of(&f), why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_str_eq(why, "the signature does not verify with the leaf's key");
	free(signed_module);
	free(module);
	free(want);
	free(out);
	fixture_free(&f);
}
END_TEST

/*
 * ECDSA signatures are random: sign-file's PKCS#7 with signet's signature
 * value put in its place must be signet's bytes.  And sign-file's own
 * verifies.
 */
START_TEST(test_kmod_ecdsa_matches_sign_file)
{
	struct fixture f;
	uint8_t digest[SHA256_LEN], *out = NULL, *theirs;
	size_t len = 0, theirs_len;
	PKCS7 *ours_p7, *their_p7;
	PKCS7_SIGNER_INFO *ours_si, *their_si;
	unsigned char *again = NULL;
	int n;

	fixture_init(&f, "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
	module_digest(digest);
	ck_assert_int_eq(pkcs7sig_kmod_sign(&f.signer, digest, &out, &len), 0);
	theirs = load_file("kmod-module-ec.ko.p7s", &theirs_len);
	ck_assert_int_eq(pkcs7sig_kmod_verify(theirs, theirs_len, digest, leaf_of(&f), NULL, 0), 0);
	ck_assert_int_eq(pkcs7sig_kmod_verify(out, len, digest, leaf_of(&f), NULL, 0), 0);

	ours_p7 = parse(out, len);
	their_p7 = parse(theirs, theirs_len);
	ours_si = sk_PKCS7_SIGNER_INFO_value(ours_p7->d.sign->signer_info, 0);
	their_si = sk_PKCS7_SIGNER_INFO_value(their_p7->d.sign->signer_info, 0);
	ck_assert_int_eq(
	    ASN1_STRING_set(their_si->enc_digest, ASN1_STRING_get0_data(ours_si->enc_digest),
		ASN1_STRING_length(ours_si->enc_digest)),
	    1);
	n = i2d_PKCS7(their_p7, &again);
	ck_assert_int_eq(n, (int)len);
	ck_assert_mem_eq(again, out, len);
	ck_assert_ptr_null(ours_p7->d.sign->cert);
	ck_assert_ptr_null(ours_si->auth_attr);
	OPENSSL_free(again);
	PKCS7_free(ours_p7);
	PKCS7_free(their_p7);
	free(theirs);
	free(out);
	fixture_free(&f);
}
END_TEST

/* Every bit of a kmod SignedData matters (it carries no certificates);
 * every truncation and any trailing byte are refused. */
START_TEST(test_kmod_mutations)
{
	struct fixture f;
	uint8_t digest[SHA256_LEN], *out = NULL, *longer;
	size_t len = 0;

	fixture_init(&f, "leaf-ec.key", "chain-ec.pem", SG_MECH_ECDSA_SHA256);
	module_digest(digest);
	ck_assert_int_eq(pkcs7sig_kmod_sign(&f.signer, digest, &out, &len), 0);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			out[i] ^= (uint8_t)(1u << b);
			ck_assert_msg(pkcs7sig_kmod_verify(
					  out, len, digest, leaf_of(&f), NULL, 0) == SG_ERR_VERIFY,
			    "bit %d of byte %zu flipped still verifies", b, i);
			out[i] ^= (uint8_t)(1u << b);
		}
	}
	for (size_t n = 0; n < len; n++)
		ck_assert_int_eq(
		    pkcs7sig_kmod_verify(out, n, digest, leaf_of(&f), NULL, 0), SG_ERR_VERIFY);
	longer = calloc(1, len + 1);
	ck_assert_ptr_nonnull(longer);
	memcpy(longer, out, len);
	ck_assert_int_eq(
	    pkcs7sig_kmod_verify(longer, len + 1, digest, leaf_of(&f), NULL, 0), SG_ERR_VERIFY);
	ck_assert_int_eq(pkcs7sig_kmod_verify(longer, len, digest, leaf_of(&f), NULL, 0), 0);
	/* An Authenticode verifier does not take a kmod signature. */
	ck_assert_int_eq(
	    pkcs7sig_authenticode_verify(out, len, digest, leaf_of(&f), NULL, 0), SG_ERR_VERIFY);
	free(longer);
	free(out);
	fixture_free(&f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pkcs7sig");

	test_add(s, "/pkcs7sig/authenticode/ecdsa", test_authenticode_ecdsa, 30);
	test_add(s, "/pkcs7sig/authenticode/rsa-pkcs1", test_authenticode_rsa_pkcs1, 30);
	test_add(s, "/pkcs7sig/authenticode/opus-info", test_authenticode_opus_info, 30);
	test_add(s, "/pkcs7sig/authenticode/text-limits", test_authenticode_text_limits, 30);
	test_add(s, "/pkcs7sig/authenticode/attributes", test_authenticode_attributes, 30);
	test_add(
	    s, "/pkcs7sig/authenticode/mutations-ecdsa", test_authenticode_mutations_ecdsa, 120);
	test_add(s, "/pkcs7sig/authenticode/mutations-rsa", test_authenticode_mutations_rsa, 120);
	test_add(s, "/pkcs7sig/kmod/sign-file-rsa", test_kmod_matches_sign_file, 30);
	test_add(s, "/pkcs7sig/kmod/sign-file-ecdsa", test_kmod_ecdsa_matches_sign_file, 30);
	test_add(s, "/pkcs7sig/kmod/mutations", test_kmod_mutations, 120);
	test_add(s, "/pkcs7sig/mechanisms-refused", test_mechanisms_refused, 30);
	test_add(s, "/pkcs7sig/sign-failures", test_sign_failures, 30);
	test_add(s, "/pkcs7sig/wrong-key", test_wrong_key_refused, 30);
	test_add(s, "/pkcs7sig/null-arguments", test_null_arguments, 30);
	return test_run(s);
}
