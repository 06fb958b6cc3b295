/*
 * pkcs7sig.c — Authenticode and kmod SignedData without the private key.
 *
 * Authenticode (Microsoft's "Windows Authenticode Portable Executable
 * Signature Format") signs a SpcIndirectDataContent that carries the image
 * digest.  Its types are not in OpenSSL, so they are declared below with
 * OpenSSL's ASN.1 templates (as osslsigncode does) and encoded by OpenSSL;
 * no DER is written by hand.  Two quirks shape the code:
 *
 *   - the content is carried as the SEQUENCE itself where PKCS#7 would have
 *     an OCTET STRING (so `openssl cms` cannot read it; the PKCS#7 parser,
 *     whose "other" content is ANY, can), and
 *   - the messageDigest attribute covers the content's DER without its
 *     outer tag and length.
 *
 * PKCS7_dataFinal() would hash the content and sign with an EVP_PKEY; we
 * have only the image digest and a callback into the HSM.  So the
 * SignedData is assembled field by field: PKCS7_add_signature() with the
 * leaf's public key fills in the signer and the algorithms, the signed
 * attributes are set in DER order (PKCS#7 encodes them in the order held,
 * while the signature covers the DER SET OF, so the two must agree), their
 * DER is hashed here and signed through the callback, and the signature
 * is set into the SignerInfo.
 *
 * kmod is what the kernel's scripts/sign-file makes, and it is made the
 * way sign-file makes it, with the CMS API and the same flags, so that the
 * encoding (sha256 without parameters, versions, no attributes) is the
 * same byte for byte; only the signing goes through the callback, over the
 * module's digest itself since there are no signed attributes.
 *
 * Both are checked with the PKCS#7 parser, strictly: our own output before
 * it is released, and by submit-job what it receives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "job.h"
#include "pkcs7sig.h"

_Static_assert(
    PKCS7SIG_DESCRIPTION_MAX == AUTHENTICODE_DESCRIPTION_MAX, "the job's limit is the format's");
_Static_assert(PKCS7SIG_URL_MAX == AUTHENTICODE_URL_MAX, "the job's limit is the format's");
_Static_assert(PKCS7SIG_OUTPUT_MAX <= PKCS7SIG_INPUT_MAX, "we accept what we make");

/* Microsoft's object identifiers (wincrypt.h's names). */
#define SPC_INDIRECT_DATA_OBJID  "1.3.6.1.4.1.311.2.1.4"
#define SPC_PE_IMAGE_DATAOBJ     "1.3.6.1.4.1.311.2.1.15"
#define SPC_SP_OPUS_INFO_OBJID   "1.3.6.1.4.1.311.2.1.12"
#define SPC_STATEMENT_TYPE_OBJID "1.3.6.1.4.1.311.2.1.11"
/* SPC_INDIVIDUAL_SP_KEY_PURPOSE_OBJID (1.3.6.1.4.1.311.2.1.21) is OpenSSL's
 * NID_ms_code_ind. */

/* What signtool and osslsigncode put in SpcPeImageData's file link. */
#define SPC_OBSOLETE "<<<Obsolete>>>"

/* Longest dotted OID we compare against, with room to spare. */
#define OID_TEXT_MAX 64

/*
 * The Authenticode types.  OpenSSL's template macros name the C type and
 * the item after the same identifier, so each struct is named in full in
 * the templates (the _name forms take the struct and the item name apart)
 * and the items are static.
 */

/* SpcString ::= CHOICE { unicode [0] IMPLICIT BMPSTRING,
 *                        ascii   [1] IMPLICIT IA5STRING } */
struct spc_string {
	int type;
	union {
		ASN1_BMPSTRING *unicode;
		ASN1_IA5STRING *ascii;
	} value;
};
#define SPC_STRING_UNICODE 0

ASN1_CHOICE(spc_string) = {
	ASN1_IMP(struct spc_string, value.unicode, ASN1_BMPSTRING, 0),
	ASN1_IMP(struct spc_string, value.ascii, ASN1_IA5STRING, 1),
} static_ASN1_CHOICE_END_name(struct spc_string, spc_string)

/* SpcLink ::= CHOICE { url [0] IMPLICIT IA5STRING,
 *                      moniker [1] IMPLICIT SpcSerializedObject,
 *                      file [2] EXPLICIT SpcString }
 * (no moniker here: we never make one, so we never accept one) */
struct spc_link {
	int type;
	union {
		ASN1_IA5STRING *url;
		struct spc_string *file;
	} value;
};
#define SPC_LINK_URL  0
#define SPC_LINK_FILE 1 /* the index of the template, not the tag */

ASN1_CHOICE(spc_link) = {
	ASN1_IMP(struct spc_link, value.url, ASN1_IA5STRING, 0),
	ASN1_EXP(struct spc_link, value.file, spc_string, 2),
} static_ASN1_CHOICE_END_name(struct spc_link, spc_link)

/* SpcPeImageData ::= SEQUENCE { flags SpcPeImageFlags DEFAULT { includeResources },
 *                               file  [0] EXPLICIT SpcLink OPTIONAL }
 * (flags are always written, empty, as signtool does) */
struct spc_pe_image_data {
	ASN1_BIT_STRING *flags;
	struct spc_link *file;
};

ASN1_SEQUENCE(spc_pe_image_data) = {
	ASN1_SIMPLE(struct spc_pe_image_data, flags, ASN1_BIT_STRING),
	ASN1_EXP_OPT(struct spc_pe_image_data, file, spc_link, 0),
} static_ASN1_SEQUENCE_END_name(struct spc_pe_image_data, spc_pe_image_data)

/* SpcAttributeTypeAndOptionalValue ::= SEQUENCE { type OBJECT IDENTIFIER,
 *                                                 value ANY OPTIONAL } */
struct spc_attribute {
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
};

ASN1_SEQUENCE(spc_attribute) = {
	ASN1_SIMPLE(struct spc_attribute, type, ASN1_OBJECT),
	ASN1_OPT(struct spc_attribute, value, ASN1_ANY),
} static_ASN1_SEQUENCE_END_name(struct spc_attribute, spc_attribute)

/* DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier,
 *                           digest OCTET STRING } */
struct digest_info {
	X509_ALGOR *algorithm;
	ASN1_OCTET_STRING *digest;
};

ASN1_SEQUENCE(digest_info) = {
	ASN1_SIMPLE(struct digest_info, algorithm, X509_ALGOR),
	ASN1_SIMPLE(struct digest_info, digest, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END_name(struct digest_info, digest_info)

/* SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
 *                                       messageDigest DigestInfo } */
struct spc_indirect_data {
	struct spc_attribute *data;
	struct digest_info *message_digest;
};

ASN1_SEQUENCE(spc_indirect_data) = {
	ASN1_SIMPLE(struct spc_indirect_data, data, spc_attribute),
	ASN1_SIMPLE(struct spc_indirect_data, message_digest, digest_info),
} static_ASN1_SEQUENCE_END_name(struct spc_indirect_data, spc_indirect_data)

/* SpcSpOpusInfo ::= SEQUENCE { programName [0] EXPLICIT SpcString OPTIONAL,
 *                              moreInfo    [1] EXPLICIT SpcLink OPTIONAL } */
struct spc_opus_info {
	struct spc_string *program_name;
	struct spc_link *more_info;
};

ASN1_SEQUENCE(spc_opus_info) = {
	ASN1_EXP_OPT(struct spc_opus_info, program_name, spc_string, 0),
	ASN1_EXP_OPT(struct spc_opus_info, more_info, spc_link, 1),
} static_ASN1_SEQUENCE_END_name(struct spc_opus_info, spc_opus_info)

/* Whether o is the dotted OID. */
static int
oid_is(const ASN1_OBJECT *o, const char *dotted)
{
	char buf[OID_TEXT_MAX];
	int n;

	if (o == NULL)
		return 0;
	n = OBJ_obj2txt(buf, sizeof(buf), o, 1);
	return n > 0 && (size_t)n < sizeof(buf) && strcmp(buf, dotted) == 0;
}

/* sha256 with NULL or absent parameters (both are seen; we write NULL in
 * PKCS#7 and sign-file writes none). */
static int
alg_is_sha256(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	if (alg == NULL)
		return 0;
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	return OBJ_obj2nid(obj) == NID_sha256 && (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL);
}

/* The mechanism that the leaf's key signs with here: EC P-256 gives
 * ECDSA, RSA of at least 2048 bits gives PKCS#1 v1.5.  SG_ERR_KEY_UNSUPPORTED
 * for any other key. */
static int
leaf_mech(X509 *leaf, enum sg_mech *ret)
{
	EVP_PKEY *pk = X509_get0_pubkey(leaf);
	char group[OID_TEXT_MAX];

	if (pk == NULL)
		return SG_ERR_KEY_UNSUPPORTED;
	if (EVP_PKEY_is_a(pk, "EC")) {
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) != 1 ||
		    strcmp(group, "prime256v1") != 0)
			return SG_ERR_KEY_UNSUPPORTED;
		*ret = SG_MECH_ECDSA_SHA256;
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) >= 2048) {
		*ret = SG_MECH_RSA_PKCS1_SHA256;
		return 0;
	}
	return SG_ERR_KEY_UNSUPPORTED;
}

/* The signer's arguments, and its leaf. */
static int
check_signer(const struct pkcs7sig_signer *s, X509 **ret_leaf)
{
	enum sg_mech key_mech;
	X509 *leaf;
	int r;

	if (s == NULL || s->chain == NULL || s->sign == NULL ||
	    (leaf = sk_X509_value(s->chain, 0)) == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (s->mech != SG_MECH_ECDSA_SHA256 && s->mech != SG_MECH_RSA_PKCS1_SHA256)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = leaf_mech(leaf, &key_mech)) != 0)
		return r;
	if (key_mech != s->mech)
		return SG_ERR_KEY_UNSUPPORTED;
	*ret_leaf = leaf;
	return 0;
}

/* The signature algorithm of the SignerInfo fits the leaf's key:
 * ecdsa-with-SHA256 without parameters, or rsaEncryption with NULL or
 * absent parameters. */
static int
sigalg_fits(const X509_ALGOR *alg, enum sg_mech mech)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	if (alg == NULL)
		return 0;
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (mech == SG_MECH_ECDSA_SHA256)
		return OBJ_obj2nid(obj) == NID_ecdsa_with_SHA256 && ptype == V_ASN1_UNDEF;
	return OBJ_obj2nid(obj) == NID_rsaEncryption &&
	    (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL);
}

/* An SpcString holding text as a BMPString: UTF-8 in (checked), UCS-2
 * out; a character outside the Basic Multilingual Plane is refused. */
static int
spc_string_unicode(const char *utf8, int inform, struct spc_string **ret)
{
	struct spc_string *s = NULL;
	ASN1_STRING *bmp = NULL;
	int r = SG_ERR_CRYPTO;

	if (ASN1_mbstring_copy(&bmp, (const unsigned char *)utf8, -1, inform, B_ASN1_BMPSTRING) <=
	    0) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if ((s = (struct spc_string *)ASN1_item_new(ASN1_ITEM_rptr(spc_string))) == NULL)
		goto out;
	s->type = SPC_STRING_UNICODE;
	s->value.unicode = bmp;
	bmp = NULL;
	*ret = s;
	s = NULL;
	r = 0;
out:
	ASN1_STRING_free(bmp);
	ASN1_item_free((ASN1_VALUE *)s, ASN1_ITEM_rptr(spc_string));
	return r;
}

static int
check_texts(const char *description, const char *url)
{
	size_t n;

	if (description != NULL) {
		n = strlen(description);
		if (n == 0 || n > PKCS7SIG_DESCRIPTION_MAX)
			return SG_ERR_INVALID_ARGUMENT;
	}
	if (url != NULL) {
		n = strlen(url);
		/* The job's rule (common/job.h). */
		if (n > PKCS7SIG_URL_MAX || job_check_authenticode_url(url, n) != 0)
			return SG_ERR_INVALID_ARGUMENT;
	}
	return 0;
}

/* The SpcIndirectDataContent for a PE image digest, as the ANY that
 * becomes the SignedData's content. */
static int
make_indirect_data(const uint8_t image_digest[SHA256_LEN], ASN1_TYPE **ret)
{
	struct spc_indirect_data *idc = NULL;
	struct spc_pe_image_data *pe = NULL;
	ASN1_TYPE *t = NULL;
	int r = SG_ERR_CRYPTO;

	pe = (struct spc_pe_image_data *)ASN1_item_new(ASN1_ITEM_rptr(spc_pe_image_data));
	idc = (struct spc_indirect_data *)ASN1_item_new(ASN1_ITEM_rptr(spc_indirect_data));
	if (pe == NULL || idc == NULL)
		goto out;
	/* flags: a BIT STRING with no bits (ASN1_item_new made it empty). */
	if ((pe->file = (struct spc_link *)ASN1_item_new(ASN1_ITEM_rptr(spc_link))) == NULL)
		goto out;
	pe->file->type = SPC_LINK_FILE;
	if ((r = spc_string_unicode(SPC_OBSOLETE, MBSTRING_ASC, &pe->file->value.file)) != 0)
		goto out;
	r = SG_ERR_CRYPTO;
	ASN1_OBJECT_free(idc->data->type);
	if ((idc->data->type = OBJ_txt2obj(SPC_PE_IMAGE_DATAOBJ, 1)) == NULL ||
	    ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(spc_pe_image_data), pe, &idc->data->value) ==
		NULL)
		goto out;
	if (!X509_ALGOR_set0(
		idc->message_digest->algorithm, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
	    !ASN1_OCTET_STRING_set(idc->message_digest->digest, image_digest, SHA256_LEN))
		goto out;
	if (ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(spc_indirect_data), idc, &t) == NULL)
		goto out;
	*ret = t;
	t = NULL;
	r = 0;
out:
	ASN1_TYPE_free(t);
	ASN1_item_free((ASN1_VALUE *)idc, ASN1_ITEM_rptr(spc_indirect_data));
	ASN1_item_free((ASN1_VALUE *)pe, ASN1_ITEM_rptr(spc_pe_image_data));
	return r;
}

/* SHA-256 of a SEQUENCE's contents: its DER without the tag and length
 * (what Authenticode's messageDigest covers).  0 or SG_ERR_VERIFY. */
static int
sequence_contents_sha256(const ASN1_STRING *seq, uint8_t ret[SHA256_LEN])
{
	const unsigned char *p = ASN1_STRING_get0_data(seq);
	int n = ASN1_STRING_length(seq), tag, xclass, ok;
	long len;

	if (p == NULL || n <= 0)
		return SG_ERR_VERIFY;
	ok = ASN1_get_object(&p, &len, &tag, &xclass, n);
	/* Constructed, definite length, and all of it. */
	if (ok != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE || xclass != V_ASN1_UNIVERSAL ||
	    p + len != ASN1_STRING_get0_data(seq) + n)
		return SG_ERR_VERIFY;
	crypto_sha256(p, (size_t)len, ret);
	return 0;
}

/* Appends one attribute with a single value; the value is copied. */
static int
push_attr(STACK_OF(X509_ATTRIBUTE) * *sk, const ASN1_OBJECT *obj, int type, const void *value)
{
	X509_ATTRIBUTE *a;

	if ((a = X509_ATTRIBUTE_create_by_OBJ(NULL, obj, type, value, -1)) == NULL)
		return SG_ERR_CRYPTO;
	if (X509at_add1_attr(sk, a) == NULL) {
		X509_ATTRIBUTE_free(a);
		return SG_ERR_CRYPTO;
	}
	X509_ATTRIBUTE_free(a);
	return 0;
}

/* SpcSpOpusInfo, as the DER of a SEQUENCE. */
static int
make_opus_info(const char *description, const char *url, ASN1_STRING **ret)
{
	struct spc_opus_info *oi;
	ASN1_STRING *der = NULL;
	int r = SG_ERR_CRYPTO;

	if ((oi = (struct spc_opus_info *)ASN1_item_new(ASN1_ITEM_rptr(spc_opus_info))) == NULL)
		goto out;
	if (description != NULL &&
	    (r = spc_string_unicode(description, MBSTRING_UTF8, &oi->program_name)) != 0)
		goto out;
	r = SG_ERR_CRYPTO;
	if (url != NULL) {
		if ((oi->more_info = (struct spc_link *)ASN1_item_new(ASN1_ITEM_rptr(spc_link))) ==
		    NULL)
			goto out;
		oi->more_info->type = SPC_LINK_URL;
		if ((oi->more_info->value.url = ASN1_IA5STRING_new()) == NULL ||
		    !ASN1_STRING_set(oi->more_info->value.url, url, -1))
			goto out;
	}
	if (ASN1_item_pack(oi, ASN1_ITEM_rptr(spc_opus_info), &der) == NULL)
		goto out;
	*ret = der;
	der = NULL;
	r = 0;
out:
	ASN1_STRING_free(der);
	ASN1_item_free((ASN1_VALUE *)oi, ASN1_ITEM_rptr(spc_opus_info));
	return r;
}

/*
 * SpcStatementType { individual code signing }, as the DER of a SEQUENCE.
 * SpcStatementType ::= SEQUENCE OF OBJECT IDENTIFIER is the ASN.1 type of
 * X.509's ExtKeyUsageSyntax (its OIDs are key purposes too), so OpenSSL's
 * item for that, EXTENDED_KEY_USAGE (a STACK_OF(ASN1_OBJECT)), encodes it
 * (a template of our own would do the same, but cppcheck cannot parse one
 * there).
 */
static int
make_statement_type(ASN1_STRING **ret)
{
	STACK_OF(ASN1_OBJECT) * sk;
	ASN1_STRING *der = NULL;
	int r = SG_ERR_CRYPTO;

	if ((sk = sk_ASN1_OBJECT_new_null()) == NULL ||
	    !sk_ASN1_OBJECT_push(sk, OBJ_nid2obj(NID_ms_code_ind)))
		goto out;
	if (ASN1_item_pack(sk, ASN1_ITEM_rptr(EXTENDED_KEY_USAGE), &der) == NULL)
		goto out;
	*ret = der;
	r = 0;
out:
	/* OBJ_nid2obj() returns the static table's object: nothing to free. */
	sk_ASN1_OBJECT_free(sk);
	return r;
}

/*
 * The signed attributes, in DER order: the stack is encoded as the SET OF
 * (which OpenSSL sorts) and parsed back in the order received.
 */
static int
make_signed_attrs(const ASN1_OBJECT *content_type, const uint8_t content_digest[SHA256_LEN],
    const char *description, const char *url, STACK_OF(X509_ATTRIBUTE) * *ret)
{
	STACK_OF(X509_ATTRIBUTE) *sk = NULL, *sorted = NULL;
	ASN1_OCTET_STRING *md = NULL;
	ASN1_STRING *opus = NULL, *stmt = NULL;
	ASN1_OBJECT *opus_oid = NULL, *stmt_oid = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	int n, r;

	if ((r = make_opus_info(description, url, &opus)) != 0 ||
	    (r = make_statement_type(&stmt)) != 0)
		goto out;
	r = SG_ERR_CRYPTO;
	if ((md = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(md, content_digest, SHA256_LEN) ||
	    (opus_oid = OBJ_txt2obj(SPC_SP_OPUS_INFO_OBJID, 1)) == NULL ||
	    (stmt_oid = OBJ_txt2obj(SPC_STATEMENT_TYPE_OBJID, 1)) == NULL)
		goto out;
	if ((r = push_attr(&sk, OBJ_nid2obj(NID_pkcs9_contentType), V_ASN1_OBJECT, content_type)) !=
		0 ||
	    (r = push_attr(&sk, OBJ_nid2obj(NID_pkcs9_messageDigest), V_ASN1_OCTET_STRING, md)) !=
		0 ||
	    (r = push_attr(&sk, opus_oid, V_ASN1_SEQUENCE, opus)) != 0 ||
	    (r = push_attr(&sk, stmt_oid, V_ASN1_SEQUENCE, stmt)) != 0)
		goto out;
	r = SG_ERR_CRYPTO;
	if ((n = ASN1_item_i2d((ASN1_VALUE *)sk, &der, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN))) <= 0)
		goto out;
	p = der;
	sorted = (STACK_OF(X509_ATTRIBUTE) *)ASN1_item_d2i(
	    NULL, &p, n, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	if (sorted == NULL || p != der + n)
		goto out;
	*ret = sorted;
	sorted = NULL;
	r = 0;
out:
	sk_X509_ATTRIBUTE_pop_free(sorted, X509_ATTRIBUTE_free);
	sk_X509_ATTRIBUTE_pop_free(sk, X509_ATTRIBUTE_free);
	OPENSSL_free(der);
	ASN1_OBJECT_free(stmt_oid);
	ASN1_OBJECT_free(opus_oid);
	ASN1_STRING_free(stmt);
	ASN1_STRING_free(opus);
	ASN1_OCTET_STRING_free(md);
	return r;
}

/* DER of a PKCS#7 structure into a malloc'd buffer, capped. */
static int
pkcs7_to_der(PKCS7 *p7, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL, *p;
	int n, r = SG_ERR_CRYPTO;

	if ((n = i2d_PKCS7(p7, NULL)) <= 0)
		goto out;
	if (n > PKCS7SIG_OUTPUT_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if ((der = malloc((size_t)n)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	p = der;
	if (i2d_PKCS7(p7, &p) != n)
		goto out;
	*ret = der;
	*ret_len = (size_t)n;
	der = NULL;
	r = 0;
out:
	free(der);
	return r;
}

int
pkcs7sig_authenticode_sign(const struct pkcs7sig_signer *s, const uint8_t image_digest[SHA256_LEN],
    const char *description, const char *url, uint8_t **ret, size_t *ret_len)
{
	PKCS7 *p7 = NULL, *inner = NULL;
	PKCS7_SIGNER_INFO *si;
	STACK_OF(X509_ATTRIBUTE) *attrs = NULL;
	ASN1_TYPE *content = NULL;
	ASN1_OBJECT *content_type = NULL;
	X509 *leaf = NULL;
	unsigned char *attrs_der = NULL;
	uint8_t content_digest[SHA256_LEN], dgst[SHA256_LEN], sig[PKCS7SIG_SIG_MAX];
	uint8_t *der = NULL;
	size_t sig_len = 0, der_len = 0;
	int i, n, r;

	if (ret != NULL)
		*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if (image_digest == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = check_signer(s, &leaf)) != 0 || (r = check_texts(description, url)) != 0)
		return r;

	if ((r = make_indirect_data(image_digest, &content)) != 0)
		goto out;
	if ((r = sequence_contents_sha256(content->value.sequence, content_digest)) != 0) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	r = SG_ERR_CRYPTO;
	if ((content_type = OBJ_txt2obj(SPC_INDIRECT_DATA_OBJID, 1)) == NULL)
		goto out;
	if ((p7 = PKCS7_new()) == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed))
		goto out;
	/* The content is "other": a type and an ANY (PKCS7_set0_type_other()
	 * wants a NID, which these OIDs do not have without OBJ_create()). */
	if ((inner = PKCS7_new()) == NULL)
		goto out;
	ASN1_OBJECT_free(inner->type);
	if ((inner->type = OBJ_dup(content_type)) == NULL)
		goto out;
	inner->d.other = content;
	content = NULL;
	if (!PKCS7_set_content(p7, inner))
		goto out;
	inner = NULL;
	/* Signer by issuer and serial, sha256 (with NULL parameters, as
	 * signtool writes it), ecdsa-with-SHA256 or rsaEncryption. */
	if ((si = PKCS7_add_signature(p7, leaf, X509_get0_pubkey(leaf), EVP_sha256())) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(s->chain); i++) {
		if (!PKCS7_add_certificate(p7, sk_X509_value(s->chain, i)))
			goto out;
	}
	if ((r = make_signed_attrs(content_type, content_digest, description, url, &attrs)) != 0)
		goto out;
	r = SG_ERR_CRYPTO;
	if (!PKCS7_set_signed_attributes(si, attrs))
		goto out;
	if ((n = ASN1_item_i2d(
		 (ASN1_VALUE *)si->auth_attr, &attrs_der, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN))) <= 0)
		goto out;
	crypto_sha256(attrs_der, (size_t)n, dgst);
	if ((r = s->sign(s->sign_arg, dgst, sig, &sig_len)) != 0)
		goto out;
	r = SG_ERR_HSM_SIGN_FAILED;
	if (sig_len == 0 || sig_len > sizeof(sig))
		goto out;
	r = SG_ERR_CRYPTO;
	if (!ASN1_STRING_set(si->enc_digest, sig, (int)sig_len))
		goto out;
	if ((r = pkcs7_to_der(p7, &der, &der_len)) != 0)
		goto out;
	if (pkcs7sig_authenticode_verify(der, der_len, image_digest, leaf, NULL, 0) != 0) {
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	*ret = der;
	*ret_len = der_len;
	der = NULL;
	r = 0;
out:
	free(der);
	OPENSSL_free(attrs_der);
	sk_X509_ATTRIBUTE_pop_free(attrs, X509_ATTRIBUTE_free);
	ASN1_OBJECT_free(content_type);
	ASN1_TYPE_free(content);
	PKCS7_free(inner);
	PKCS7_free(p7);
	return crypto_err(r);
}

int
pkcs7sig_kmod_sign(const struct pkcs7sig_signer *s, const uint8_t module_digest[SHA256_LEN],
    uint8_t **ret, size_t *ret_len)
{
	/* scripts/sign-file's flags (OpenSSL >= 3, without -k: issuer and
	 * serial); CMS_PARTIAL because the signature comes later, and no
	 * CMS_STREAM, which matters only when CMS_final() reads the content. */
	const unsigned int sd_flags = CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED;
	const unsigned int si_flags = CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *sigstr;
	X509 *leaf = NULL;
	uint8_t sig[PKCS7SIG_SIG_MAX], *der = NULL;
	size_t sig_len = 0;
	unsigned char *p;
	int n, r;

	if (ret != NULL)
		*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if (module_digest == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = check_signer(s, &leaf)) != 0)
		return r;

	r = SG_ERR_CRYPTO;
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, sd_flags)) == NULL)
		goto out;
	if ((si = CMS_add1_signer(cms, leaf, X509_get0_pubkey(leaf), EVP_sha256(), si_flags)) ==
	    NULL)
		goto out;
	/* No signed attributes: the signature covers the content's digest. */
	if ((r = s->sign(s->sign_arg, module_digest, sig, &sig_len)) != 0)
		goto out;
	r = SG_ERR_HSM_SIGN_FAILED;
	if (sig_len == 0 || sig_len > sizeof(sig))
		goto out;
	r = SG_ERR_CRYPTO;
	if ((sigstr = CMS_SignerInfo_get0_signature(si)) == NULL ||
	    !ASN1_STRING_set(sigstr, sig, (int)sig_len))
		goto out;
	if ((n = i2d_CMS_ContentInfo(cms, NULL)) <= 0)
		goto out;
	if (n > PKCS7SIG_OUTPUT_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if ((der = malloc((size_t)n)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	p = der;
	if (i2d_CMS_ContentInfo(cms, &p) != n)
		goto out;
	if (pkcs7sig_kmod_verify(der, (size_t)n, module_digest, leaf, NULL, 0) != 0) {
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	*ret = der;
	*ret_len = (size_t)n;
	der = NULL;
	r = 0;
out:
	free(der);
	CMS_ContentInfo_free(cms);
	return crypto_err(r);
}

/*
 * Whether two names have the same encoding, byte for byte.  Not
 * X509_NAME_cmp(), which compares canonical forms: a parsed X509_NAME keeps
 * the bytes it was read from and i2d gives them back, so the re-encoding
 * check below cannot see a non-DER name (OpenSSL reads a SEQUENCE OF with
 * the primitive bit as well); comparing with the bytes in the leaf can.
 */
static int
same_name(const X509_NAME *a, const X509_NAME *b)
{
	const unsigned char *da, *db;
	size_t la, lb;

	if (a == NULL || b == NULL || !X509_NAME_get0_der(a, &da, &la) ||
	    !X509_NAME_get0_der(b, &db, &lb))
		return 0;
	return la == lb && memcmp(da, db, la) == 0;
}

/*
 * Parses a SignedData: DER, all of len but for WIN_CERTIFICATE's zero
 * padding when allowed, that re-encodes to the same bytes (so what is
 * checked below is exactly what was received, and BER variants of our
 * own output are refused); version 1, sha256 the only digest algorithm,
 * one SignerInfo that is the leaf's (version 1, issuer and serial) with
 * sha256 and the algorithm of the leaf's key.
 */
static int
parse_signed_data(const uint8_t *der, size_t len, size_t padding_max, X509 *leaf, PKCS7 **ret_p7,
    enum sg_mech *ret_mech, const char **why)
{
	const unsigned char *p = der;
	unsigned char *again = NULL, *q;
	PKCS7 *p7 = NULL;
	PKCS7_SIGNED *sd;
	PKCS7_SIGNER_INFO *si;
	PKCS7_ISSUER_AND_SERIAL *ias;
	size_t used, i;
	int n, r = SG_ERR_VERIFY;

	if (len == 0 || len > PKCS7SIG_INPUT_MAX + padding_max) {
		*why = "the SignedData is empty or too large";
		goto out;
	}
	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL) {
		*why = "not a DER PKCS#7 structure";
		goto out;
	}
	used = (size_t)(p - der);
	if (len - used > padding_max) {
		*why = "bytes follow the SignedData";
		goto out;
	}
	for (i = used; i < len; i++) {
		if (der[i] != 0) {
			*why = "bytes other than padding follow the SignedData";
			goto out;
		}
	}
	if ((n = i2d_PKCS7(p7, NULL)) <= 0 || (size_t)n != used ||
	    (again = OPENSSL_malloc((size_t)n)) == NULL) {
		*why = "the SignedData is not in DER";
		goto out;
	}
	q = again;
	if (i2d_PKCS7(p7, &q) != n || memcmp(again, der, used) != 0) {
		*why = "the SignedData is not in DER";
		goto out;
	}
	if (!PKCS7_type_is_signed(p7) || (sd = p7->d.sign) == NULL) {
		*why = "not a SignedData";
		goto out;
	}
	if (ASN1_INTEGER_get(sd->version) != 1) {
		*why = "SignedData version is not 1";
		goto out;
	}
	if (sk_X509_ALGOR_num(sd->md_algs) != 1 ||
	    !alg_is_sha256(sk_X509_ALGOR_value(sd->md_algs, 0))) {
		*why = "the digest algorithms are not sha256 alone";
		goto out;
	}
	if (sk_PKCS7_SIGNER_INFO_num(sd->signer_info) != 1) {
		*why = "not exactly one SignerInfo";
		goto out;
	}
	si = sk_PKCS7_SIGNER_INFO_value(sd->signer_info, 0);
	ias = si->issuer_and_serial;
	if (ASN1_INTEGER_get(si->version) != 1 || ias == NULL ||
	    !same_name(ias->issuer, X509_get_issuer_name(leaf)) ||
	    ASN1_INTEGER_cmp(ias->serial, X509_get0_serialNumber(leaf)) != 0) {
		*why = "the signer is not the leaf certificate (issuer and serial)";
		goto out;
	}
	if (!alg_is_sha256(si->digest_alg)) {
		*why = "the signer's digest algorithm is not sha256";
		goto out;
	}
	if (leaf_mech(leaf, ret_mech) != 0) {
		*why = "the leaf's key is neither EC P-256 nor RSA";
		goto out;
	}
	if (!sigalg_fits(si->digest_enc_alg, *ret_mech)) {
		*why = "the signature algorithm does not fit the leaf's key";
		goto out;
	}
	*ret_p7 = p7;
	p7 = NULL;
	r = 0;
out:
	OPENSSL_free(again);
	PKCS7_free(p7);
	return r;
}

/* d2i of a whole DER encoding that re-encodes to the same bytes. */
static ASN1_VALUE *
d2i_exact(const ASN1_STRING *s, const ASN1_ITEM *it)
{
	const unsigned char *der = ASN1_STRING_get0_data(s), *p = der;
	int len = ASN1_STRING_length(s), n;
	unsigned char *again = NULL;
	ASN1_VALUE *v;

	if (der == NULL || len <= 0)
		return NULL;
	if ((v = ASN1_item_d2i(NULL, &p, len, it)) == NULL)
		return NULL;
	if (p != der + len || (n = ASN1_item_i2d(v, &again, it)) != len ||
	    memcmp(again, der, (size_t)len) != 0) {
		ASN1_item_free(v, it);
		v = NULL;
	}
	OPENSSL_free(again);
	return v;
}

/* The content: a PE image's SpcIndirectDataContent naming sha256 and
 * exactly this image digest. */
static int
check_indirect_data(
    const ASN1_STRING *seq, const uint8_t image_digest[SHA256_LEN], const char **why)
{
	struct spc_indirect_data *idc;
	struct spc_pe_image_data *pe = NULL;
	const ASN1_OCTET_STRING *d;
	int r = SG_ERR_VERIFY;

	idc = (struct spc_indirect_data *)d2i_exact(seq, ASN1_ITEM_rptr(spc_indirect_data));
	if (idc == NULL) {
		*why = "the content is not a DER SpcIndirectDataContent";
		goto out;
	}
	if (!oid_is(idc->data->type, SPC_PE_IMAGE_DATAOBJ) || idc->data->value == NULL ||
	    idc->data->value->type != V_ASN1_SEQUENCE ||
	    (pe = (struct spc_pe_image_data *)d2i_exact(
		 idc->data->value->value.sequence, ASN1_ITEM_rptr(spc_pe_image_data))) == NULL) {
		*why = "the content does not describe a PE image (SpcPeImageData)";
		goto out;
	}
	d = idc->message_digest->digest;
	if (!alg_is_sha256(idc->message_digest->algorithm) || ASN1_STRING_length(d) != SHA256_LEN ||
	    memcmp(ASN1_STRING_get0_data(d), image_digest, SHA256_LEN) != 0) {
		*why = "the content's image digest is not the image's SHA-256";
		goto out;
	}
	r = 0;
out:
	ASN1_item_free((ASN1_VALUE *)pe, ASN1_ITEM_rptr(spc_pe_image_data));
	ASN1_item_free((ASN1_VALUE *)idc, ASN1_ITEM_rptr(spc_indirect_data));
	return r;
}

enum { ATTR_CONTENT_TYPE, ATTR_MESSAGE_DIGEST, ATTR_OPUS_INFO, ATTR_STATEMENT_TYPE, ATTR_COUNT };

/* One signed attribute of an Authenticode signer: which it is, and that
 * its one value is what we would have made. */
static int
check_authenticode_attr(X509_ATTRIBUTE *a, const uint8_t content_digest[SHA256_LEN],
    int seen[ATTR_COUNT], const char **why)
{
	const ASN1_OBJECT *obj = X509_ATTRIBUTE_get0_object(a);
	const ASN1_TYPE *t;
	STACK_OF(ASN1_OBJECT) *stmt = NULL;
	ASN1_VALUE *opus = NULL;
	int which, ok = 0;

	if (OBJ_obj2nid(obj) == NID_pkcs9_contentType)
		which = ATTR_CONTENT_TYPE;
	else if (OBJ_obj2nid(obj) == NID_pkcs9_messageDigest)
		which = ATTR_MESSAGE_DIGEST;
	else if (oid_is(obj, SPC_SP_OPUS_INFO_OBJID))
		which = ATTR_OPUS_INFO;
	else if (oid_is(obj, SPC_STATEMENT_TYPE_OBJID))
		which = ATTR_STATEMENT_TYPE;
	else {
		*why = "an unexpected signed attribute";
		return SG_ERR_VERIFY;
	}
	if (seen[which]++) {
		*why = "a signed attribute appears twice";
		return SG_ERR_VERIFY;
	}
	if (X509_ATTRIBUTE_count(a) != 1 || (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL) {
		*why = "a signed attribute does not have exactly one value";
		return SG_ERR_VERIFY;
	}
	switch (which) {
	case ATTR_CONTENT_TYPE:
		ok = t->type == V_ASN1_OBJECT && oid_is(t->value.object, SPC_INDIRECT_DATA_OBJID);
		*why = "the contentType attribute is not SPC_INDIRECT_DATA";
		break;
	case ATTR_MESSAGE_DIGEST:
		ok = t->type == V_ASN1_OCTET_STRING &&
		    ASN1_STRING_length(t->value.octet_string) == SHA256_LEN &&
		    memcmp(ASN1_STRING_get0_data(t->value.octet_string), content_digest,
			SHA256_LEN) == 0;
		*why = "the messageDigest attribute is not the content's SHA-256";
		break;
	case ATTR_OPUS_INFO:
		ok = t->type == V_ASN1_SEQUENCE &&
		    (opus = d2i_exact(t->value.sequence, ASN1_ITEM_rptr(spc_opus_info))) != NULL;
		*why = "the SpcSpOpusInfo attribute is malformed";
		break;
	case ATTR_STATEMENT_TYPE:
		ok = t->type == V_ASN1_SEQUENCE &&
		    (stmt = (STACK_OF(ASN1_OBJECT) *)d2i_exact(
			 t->value.sequence, ASN1_ITEM_rptr(EXTENDED_KEY_USAGE))) != NULL &&
		    sk_ASN1_OBJECT_num(stmt) == 1 &&
		    OBJ_obj2nid(sk_ASN1_OBJECT_value(stmt, 0)) == NID_ms_code_ind;
		*why = "the SpcStatementType attribute is not individual code signing";
		break;
	}
	ASN1_item_free(opus, ASN1_ITEM_rptr(spc_opus_info));
	sk_ASN1_OBJECT_pop_free(stmt, ASN1_OBJECT_free);
	return ok ? 0 : SG_ERR_VERIFY;
}

/* The signature value of si over digest, with the leaf's key. */
static int
check_signature(PKCS7_SIGNER_INFO *si, X509 *leaf, enum sg_mech mech,
    const uint8_t digest[SHA256_LEN], const char **why)
{
	const ASN1_OCTET_STRING *sig = si->enc_digest;

	if (sig == NULL || ASN1_STRING_length(sig) <= 0 ||
	    crypto_verify_digest(X509_get0_pubkey(leaf), mech, digest, ASN1_STRING_get0_data(sig),
		(size_t)ASN1_STRING_length(sig)) != 0) {
		*why = "the signature does not verify with the leaf's key";
		return SG_ERR_VERIFY;
	}
	return 0;
}

static void
set_why(char *why, size_t whylen, const char *reason)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
}

int
pkcs7sig_authenticode_verify(const uint8_t *der, size_t len, const uint8_t image_digest[SHA256_LEN],
    X509 *leaf, char *why, size_t whylen)
{
	const char *reason = "internal error";
	PKCS7 *p7 = NULL, *content;
	PKCS7_SIGNER_INFO *si;
	enum sg_mech mech = SG_MECH_ECDSA_SHA256;
	unsigned char *attrs = NULL, *sorted = NULL;
	uint8_t content_digest[SHA256_LEN], dgst[SHA256_LEN];
	int seen[ATTR_COUNT] = { 0 };
	int i, n, m, r = SG_ERR_VERIFY;

	set_why(why, whylen, "");
	if (der == NULL || image_digest == NULL || leaf == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = parse_signed_data(der, len, PKCS7SIG_PADDING_MAX, leaf, &p7, &mech, &reason)) != 0)
		goto out;
	r = SG_ERR_VERIFY;
	content = p7->d.sign->contents;
	if (content == NULL || !oid_is(content->type, SPC_INDIRECT_DATA_OBJID) ||
	    content->d.other == NULL || content->d.other->type != V_ASN1_SEQUENCE) {
		reason = "the content is not an SPC_INDIRECT_DATA SEQUENCE";
		goto out;
	}
	if (check_indirect_data(content->d.other->value.sequence, image_digest, &reason) != 0)
		goto out;
	if (sequence_contents_sha256(content->d.other->value.sequence, content_digest) != 0) {
		reason = "the content is not a DER SEQUENCE";
		goto out;
	}
	si = sk_PKCS7_SIGNER_INFO_value(p7->d.sign->signer_info, 0);
	if (sk_X509_ATTRIBUTE_num(si->auth_attr) <= 0) {
		reason = "the signer has no signed attributes";
		goto out;
	}
	for (i = 0; i < sk_X509_ATTRIBUTE_num(si->auth_attr); i++) {
		if (check_authenticode_attr(sk_X509_ATTRIBUTE_value(si->auth_attr, i),
			content_digest, seen, &reason) != 0)
			goto out;
	}
	for (i = 0; i < ATTR_COUNT; i++) {
		if (!seen[i]) {
			reason = "a signed attribute is missing (contentType, messageDigest, "
				 "SpcSpOpusInfo or SpcStatementType)";
			goto out;
		}
	}
	/* The signature covers the attributes as received, which must be in
	 * DER order: a verifier that sorts them would hash other bytes. */
	if ((n = ASN1_item_i2d(
		 (ASN1_VALUE *)si->auth_attr, &attrs, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY))) <= 0 ||
	    (m = ASN1_item_i2d(
		 (ASN1_VALUE *)si->auth_attr, &sorted, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN))) != n ||
	    memcmp(attrs, sorted, (size_t)n) != 0) {
		reason = "the signed attributes are not in DER order";
		goto out;
	}
	crypto_sha256(attrs, (size_t)n, dgst);
	if (check_signature(si, leaf, mech, dgst, &reason) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		set_why(why, whylen, reason);
	OPENSSL_free(sorted);
	OPENSSL_free(attrs);
	PKCS7_free(p7);
	return crypto_err(r);
}

int
pkcs7sig_kmod_verify(const uint8_t *der, size_t len, const uint8_t module_digest[SHA256_LEN],
    X509 *leaf, char *why, size_t whylen)
{
	const char *reason = "internal error";
	PKCS7 *p7 = NULL, *content;
	PKCS7_SIGNED *sd;
	PKCS7_SIGNER_INFO *si;
	enum sg_mech mech = SG_MECH_ECDSA_SHA256;
	int r;

	set_why(why, whylen, "");
	if (der == NULL || module_digest == NULL || leaf == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = parse_signed_data(der, len, 0, leaf, &p7, &mech, &reason)) != 0)
		goto out;
	r = SG_ERR_VERIFY;
	sd = p7->d.sign;
	content = sd->contents;
	if (content == NULL || !PKCS7_type_is_data(content) || content->d.data != NULL) {
		reason = "the content is not detached data";
		goto out;
	}
	if (sk_X509_num(sd->cert) > 0 || sk_X509_CRL_num(sd->crl) > 0) {
		reason = "the SignedData carries certificates or CRLs";
		goto out;
	}
	si = sk_PKCS7_SIGNER_INFO_value(sd->signer_info, 0);
	if (si->auth_attr != NULL || si->unauth_attr != NULL) {
		reason = "the signer has attributes";
		goto out;
	}
	if (check_signature(si, leaf, mech, module_digest, &reason) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		set_why(why, whylen, reason);
	PKCS7_free(p7);
	return crypto_err(r);
}
