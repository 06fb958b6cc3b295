/*
 * format.c — raw and CMS signature files (docs/protocol.md §4).
 *
 * CMS without the private key: OpenSSL's CMS_final() wants to hash the
 * content and sign with an EVP_PKEY, but the agent has neither the content
 * (only its digest) nor the key (it stays in the HSM).  So the SignedData is
 * assembled with the public API (CMS_add1_signer() with the leaf's public
 * key and CMS_PARTIAL), the signed attributes are added by hand, their DER
 * encoding (a SET OF in DER order, exactly what i2d emits) is hashed here
 * and signed through the callback, and the signature is set into the
 * SignerInfo.  The result is then serialized, parsed back and verified like
 * a stranger would, before it is released.
 *
 * authenticode and kmod are built and checked by common/pkcs7sig.c (which
 * submit-job shares to check what it receives); this file hands them the
 * request.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "format.h"
#include "hsm.h"
#include "log.h"

#define CMS_ATTRS_MAX 8

_Static_assert(PKCS7SIG_SIG_MAX >= HSM_SIG_MAX, "pkcs7sig's buffer holds any HSM signature");
_Static_assert(PKCS7SIG_OUTPUT_MAX <= FORMAT_OUTPUT_MAX, "pkcs7sig's output fits a format's");

struct der_item {
	unsigned char *der;
	int len;
};

/* DER orders the members of a SET OF by their encodings (X.690 §11.6). */
static int
der_item_cmp(const void *a, const void *b)
{
	const struct der_item *x = a, *y = b;
	int n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->der, y->der, (size_t)n);

	if (c != 0)
		return c;
	return x->len - y->len;
}

/* Encodes the signed attributes as the DER SET OF that the signature covers. */
static int
cms_encode_signed_attrs(CMS_SignerInfo *si, uint8_t **ret, size_t *ret_len)
{
	struct der_item items[CMS_ATTRS_MAX];
	int i, n = CMS_signed_get_attr_count(si);
	size_t total = 0, hdr, off;
	uint8_t *out = NULL;
	int r = SG_ERR_CRYPTO;

	memset(items, 0, sizeof(items));
	if (n <= 0 || n > CMS_ATTRS_MAX)
		return SG_ERR_CRYPTO;
	for (i = 0; i < n; i++) {
		X509_ATTRIBUTE *a = CMS_signed_get_attr(si, i);
		if (a == NULL || (items[i].len = i2d_X509_ATTRIBUTE(a, &items[i].der)) <= 0)
			goto out;
		total += (size_t)items[i].len;
	}
	qsort(items, (size_t)n, sizeof(items[0]), der_item_cmp);
	/* Tag and a definite length: short form, or long form with 1 or 2 bytes. */
	if (total < 0x80)
		hdr = 2;
	else if (total < 0x100)
		hdr = 3;
	else if (total < 0x10000)
		hdr = 4;
	else
		goto out;
	if ((out = malloc(hdr + total)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	out[0] = 0x31;
	if (hdr == 2) {
		out[1] = (uint8_t)total;
	} else if (hdr == 3) {
		out[1] = 0x81;
		out[2] = (uint8_t)total;
	} else {
		out[1] = 0x82;
		out[2] = (uint8_t)(total >> 8);
		out[3] = (uint8_t)total;
	}
	off = hdr;
	for (i = 0; i < n; i++) {
		memcpy(out + off, items[i].der, (size_t)items[i].len);
		off += (size_t)items[i].len;
	}
	*ret = out;
	*ret_len = off;
	out = NULL;
	r = 0;
out:
	for (i = 0; i < CMS_ATTRS_MAX; i++)
		OPENSSL_free(items[i].der);
	free(out);
	return r;
}

/* RSASSA-PSS AlgorithmIdentifier parameters: SHA-256, MGF1-SHA-256, salt 32. */
static int
cms_set_pss_alg(CMS_SignerInfo *si)
{
	X509_ALGOR *sigalg = NULL, *mgf1md = NULL;
	RSA_PSS_PARAMS *pss = NULL;
	ASN1_STRING *mgfparam = NULL, *params = NULL;
	int r = SG_ERR_CRYPTO;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sigalg);
	if (sigalg == NULL || (pss = RSA_PSS_PARAMS_new()) == NULL)
		goto out;
	if ((pss->hashAlgorithm = X509_ALGOR_new()) == NULL ||
	    (pss->maskGenAlgorithm = X509_ALGOR_new()) == NULL ||
	    (pss->saltLength = ASN1_INTEGER_new()) == NULL || (mgf1md = X509_ALGOR_new()) == NULL)
		goto out;
	X509_ALGOR_set_md(pss->hashAlgorithm, EVP_sha256());
	X509_ALGOR_set_md(mgf1md, EVP_sha256());
	if (ASN1_item_pack(mgf1md, ASN1_ITEM_rptr(X509_ALGOR), &mgfparam) == NULL)
		goto out;
	if (!X509_ALGOR_set0(
		pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgfparam))
		goto out;
	mgfparam = NULL;
	if (!ASN1_INTEGER_set(pss->saltLength, 32))
		goto out;
	if (ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), &params) == NULL)
		goto out;
	if (!X509_ALGOR_set0(sigalg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params))
		goto out;
	params = NULL;
	r = 0;
out:
	ASN1_STRING_free(mgfparam);
	ASN1_STRING_free(params);
	X509_ALGOR_free(mgf1md);
	RSA_PSS_PARAMS_free(pss);
	return r;
}

/* Parses the DER we made and verifies it as a consumer would, short of the
 * content itself: one signer, that signer is the leaf, the signature over
 * the signed attributes verifies, and messageDigest is the artifact's. */
static int
cms_verify_own(const uint8_t *der, size_t len, X509 *leaf, const uint8_t *digest)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *md;
	int r = SG_ERR_HSM_SIGN_FAILED;

	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	if (!CMS_is_detached(cms) || (sis = CMS_get0_SignerInfos(cms)) == NULL ||
	    sk_CMS_SignerInfo_num(sis) != 1)
		goto out;
	si = sk_CMS_SignerInfo_value(sis, 0);
	if (CMS_SignerInfo_cert_cmp(si, leaf) != 0)
		goto out;
	CMS_SignerInfo_set1_signer_cert(si, leaf);
	if (CMS_SignerInfo_verify(si) != 1)
		goto out;
	md = CMS_signed_get0_data_by_OBJ(
	    si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
	if (md == NULL || ASN1_STRING_length(md) != SHA256_LEN ||
	    memcmp(ASN1_STRING_get0_data(md), digest, SHA256_LEN) != 0)
		goto out;
	r = 0;
out:
	CMS_ContentInfo_free(cms);
	return crypto_err(r);
}

static int
cms_build(const struct format_request *req, uint8_t **ret, size_t *ret_len)
{
	X509 *leaf = sk_X509_value(req->chain, 0);
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	ASN1_TIME *when = NULL;
	ASN1_OCTET_STRING *sigstr;
	uint8_t *attrs = NULL, sig[HSM_SIG_MAX], dgst[SHA256_LEN];
	unsigned char *der = NULL, *p;
	size_t attrs_len = 0, sig_len = 0;
	int i, der_len, r = SG_ERR_CRYPTO;

	if (leaf == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_DETACHED | CMS_BINARY | CMS_PARTIAL);
	if (cms == NULL)
		goto out;
	si = CMS_add1_signer(cms, leaf, X509_get0_pubkey(leaf), EVP_sha256(),
	    CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP);
	if (si == NULL)
		goto out;
	for (i = 1; i < sk_X509_num(req->chain); i++) {
		if (!CMS_add1_cert(cms, sk_X509_value(req->chain, i)))
			goto out;
	}
	if ((when = ASN1_TIME_set(NULL, (time_t)req->signing_time)) == NULL)
		goto out;
	if (!CMS_signed_add1_attr_by_NID(
		si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, when->type, when, -1) ||
	    !CMS_signed_add1_attr_by_NID(
		si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, req->digest, SHA256_LEN))
		goto out;
	if (req->mech == SG_MECH_RSA_PSS_SHA256 && (r = cms_set_pss_alg(si)) != 0)
		goto out;
	if ((r = cms_encode_signed_attrs(si, &attrs, &attrs_len)) != 0)
		goto out;
	crypto_sha256(attrs, attrs_len, dgst);
	if ((r = req->sign(req->sign_arg, dgst, sig, &sig_len)) != 0)
		goto out;
	r = SG_ERR_CRYPTO;
	if ((sigstr = CMS_SignerInfo_get0_signature(si)) == NULL ||
	    !ASN1_STRING_set(sigstr, sig, (int)sig_len))
		goto out;
	if ((der_len = i2d_CMS_ContentInfo(cms, NULL)) <= 0 || der_len > FORMAT_OUTPUT_MAX)
		goto out;
	if ((der = malloc((size_t)der_len)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	p = der;
	if (i2d_CMS_ContentInfo(cms, &p) != der_len)
		goto out;
	if ((r = cms_verify_own(der, (size_t)der_len, leaf, req->digest)) != 0) {
		log_debug("CMS made with the HSM does not verify against the leaf certificate");
		goto out;
	}
	*ret = der;
	*ret_len = (size_t)der_len;
	der = NULL;
	r = 0;
out:
	free(der);
	free(attrs);
	ASN1_TIME_free(when);
	CMS_ContentInfo_free(cms);
	return crypto_err(r);
}

static int
raw_build(const struct format_request *req, uint8_t **ret, size_t *ret_len)
{
	X509 *leaf = sk_X509_value(req->chain, 0);
	uint8_t sig[HSM_SIG_MAX], *out;
	size_t sig_len = 0;
	int r;

	if (leaf == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = req->sign(req->sign_arg, req->digest, sig, &sig_len)) != 0)
		return r;
	if (crypto_verify_digest(X509_get0_pubkey(leaf), req->mech, req->digest, sig, sig_len) !=
	    0) {
		log_debug(
		    "raw signature made with the HSM does not verify against the leaf certificate");
		return SG_ERR_HSM_SIGN_FAILED;
	}
	if ((out = malloc(sig_len)) == NULL)
		return SG_ERR_ALLOC;
	memcpy(out, sig, sig_len);
	*ret = out;
	*ret_len = sig_len;
	return 0;
}

int
format_sign(const struct format_request *req, uint8_t **ret, size_t *ret_len)
{
	struct pkcs7sig_signer signer;

	if (req == NULL || req->chain == NULL || req->sign == NULL || req->digest == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	signer.mech = req->mech;
	signer.chain = req->chain;
	signer.sign = req->sign;
	signer.sign_arg = req->sign_arg;
	switch (req->format) {
	case SG_FORMAT_RAW:
		return raw_build(req, ret, ret_len);
	case SG_FORMAT_CMS:
		return cms_build(req, ret, ret_len);
	case SG_FORMAT_AUTHENTICODE:
		/* The SignedData covers the image digest; the artifact's
		 * digest (the file as given) is the job's business. */
		if (req->image_digest == NULL)
			return SG_ERR_INVALID_ARGUMENT;
		return pkcs7sig_authenticode_sign(
		    &signer, req->image_digest, req->description, req->url, ret, ret_len);
	case SG_FORMAT_KMOD:
		return pkcs7sig_kmod_sign(&signer, req->digest, ret, ret_len);
	case SG_FORMAT_OPENPGP:
		/* The agent builds the hashed area (docs/formats.md): type,
		 * creation time, issuer; the submitter only gave the state. */
		if (req->pgp == NULL || req->openpgp == NULL)
			return SG_ERR_INVALID_ARGUMENT;
		return openpgp_sign_document(req->pgp, req->openpgp, req->pgp_created, req->sign,
		    req->sign_arg, ret, ret_len);
	}
	return SG_ERR_INVALID_ARGUMENT;
}
