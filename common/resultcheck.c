/*
 * resultcheck.c — the checks of a result that submit-job and signet-verify
 * share: that a result envelope comes from the agent, and that the
 * signature file it carries covers the artifact (docs/protocol.md §4).  submit-job
 * runs them before anything is written (fail closed); signet-verify runs
 * them on what a consumer downloaded.
 *
 * The result is already known to come from the agent (its envelope is
 * attested) and to answer our job (job_sha256).  What is left is to check
 * that the signature really covers our artifact and was made with the key
 * of the certificate the agent names:
 *
 *   raw  the bare signature over our SHA-256 digest, with the public key of
 *        certificates[0]; the mechanism follows the key type (EC: ECDSA;
 *        RSA: PKCS#1 v1.5, then PSS with a 32-byte salt — a key's policy may
 *        name either and the result does not say which).
 *   cms  a detached SignedData with exactly one signer, whose signer
 *        certificate is certificates[0], whose digest algorithm is SHA-256,
 *        whose messageDigest attribute is our digest, and whose signature
 *        over the signed attributes verifies with that certificate's key
 *        (the artifact is not read again: the attribute already binds it).
 *        The chain up to the corporate root is not checked here: that is
 *        the consumer's business; we check that the HSM key made it over
 *        our bytes.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "envelope.h"
#include "result.h"
#include "pkcs7sig.h"
#include "resultcheck.h"

X509 *
verify_der_cert(const struct sg_blob *b)
{
	const unsigned char *p = b->data;
	X509 *x;

	if (b->data == NULL || b->len == 0 || b->len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)b->len);
	if (x == NULL || p != b->data + b->len) {
		X509_free(x);
		(void)crypto_err(SG_ERR_VERIFY); /* drains OpenSSL's error queue */
		return NULL;
	}
	return x;
}

/* certificates[0] of the result. */
static int
load_leaf(const struct sg_result *res, X509 **ret)
{
	*ret = res->ncerts < 1 ? NULL : verify_der_cert(&res->certs[0]);
	return *ret == NULL ? SG_ERR_VERIFY : 0;
}

static int
verify_raw(X509 *leaf, const uint8_t digest[SHA256_LEN], const uint8_t *sig, size_t sig_len,
    const char **ret_why)
{
	EVP_PKEY *pk = X509_get0_pubkey(leaf);

	if (pk == NULL) {
		*ret_why = "the certificate's public key cannot be read";
		return crypto_err(SG_ERR_VERIFY);
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if (crypto_verify_digest(pk, SG_MECH_ECDSA_SHA256, digest, sig, sig_len) == 0)
			return 0;
		break;
	case EVP_PKEY_RSA:
		if (crypto_verify_digest(pk, SG_MECH_RSA_PKCS1_SHA256, digest, sig, sig_len) == 0)
			return 0;
		if (crypto_verify_digest(pk, SG_MECH_RSA_PSS_SHA256, digest, sig, sig_len) == 0)
			return 0;
		break;
	case EVP_PKEY_RSA_PSS:
		if (crypto_verify_digest(pk, SG_MECH_RSA_PSS_SHA256, digest, sig, sig_len) == 0)
			return 0;
		break;
	default:
		*ret_why = "the certificate's key type cannot make raw signatures";
		return SG_ERR_VERIFY;
	}
	*ret_why = "the raw signature does not verify with the certificate's key over the artifact";
	return SG_ERR_VERIFY;
}

static int
verify_cms(X509 *leaf, const uint8_t digest[SHA256_LEN], const uint8_t *sig, size_t sig_len,
    const char **ret_why)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_SignerInfo *si;
	X509_ALGOR *digalg = NULL;
	const ASN1_OBJECT *digobj = NULL;
	ASN1_OCTET_STRING *md;
	const unsigned char *p = sig;
	int r = SG_ERR_VERIFY;

	if (sig_len == 0 || sig_len > LONG_MAX) {
		*ret_why = "the CMS signature is empty or too large";
		goto out;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig_len);
	if (cms == NULL || p != sig + sig_len) {
		*ret_why = "the CMS signature is not one DER ContentInfo";
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed || CMS_is_detached(cms) != 1) {
		*ret_why = "the CMS signature is not a detached SignedData";
		goto out;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1) {
		*ret_why = "the CMS signature does not have exactly one signer";
		goto out;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &digalg, NULL);
	if (digalg != NULL)
		X509_ALGOR_get0(&digobj, NULL, NULL, digalg);
	if (digobj == NULL || OBJ_obj2nid(digobj) != NID_sha256) {
		*ret_why = "the CMS signer does not use SHA-256";
		goto out;
	}
	md = CMS_signed_get0_data_by_OBJ(
	    si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
	if (md == NULL || ASN1_STRING_length(md) != SHA256_LEN ||
	    CRYPTO_memcmp(ASN1_STRING_get0_data(md), digest, SHA256_LEN) != 0) {
		*ret_why = "the CMS messageDigest is not the artifact's SHA-256";
		goto out;
	}

	/*
	 * The signer must be the result's certificate, and its signature over
	 * the signed attributes must verify with that certificate's key.
	 * Those attributes hold the messageDigest checked above against our
	 * own SHA-256 of the artifact, so the signature covers our bytes
	 * without reading the file a second time (CMS_verify would hash the
	 * content again only to compare it with the same attribute).
	 * CMS_SignerInfo_verify also checks the signed attributes' rules
	 * (content type present, single-valued attributes).
	 */
	if (CMS_SignerInfo_cert_cmp(si, leaf) != 0) {
		*ret_why = "the CMS signer is not the result's certificate";
		goto out;
	}
	CMS_SignerInfo_set1_signer_cert(si, leaf);
	if (CMS_SignerInfo_verify(si) != 1) {
		*ret_why = "the CMS signature does not verify over the artifact";
		goto out;
	}
	r = 0;
out:
	CMS_ContentInfo_free(cms);
	return crypto_err(r);
}

int
verify_result_signature(const struct sg_result *res, enum sg_format format,
    const uint8_t digest[SHA256_LEN], const char **ret_why)
{
	/* The explanation outlives the call (*ret_why): one command, one
	 * thread. */
	static char whybuf[256];
	X509 *leaf = NULL;
	const char *why = "internal error";
	int r = SG_ERR_VERIFY;

	*ret_why = NULL;
	if (res->signature.data == NULL || res->signature.len == 0) {
		why = "the result carries no signature";
		goto out;
	}
	if (load_leaf(res, &leaf) != 0) {
		why = "the result's first certificate is not one DER X.509 certificate";
		goto out;
	}
	switch (format) {
	case SG_FORMAT_RAW:
		r = verify_raw(leaf, digest, res->signature.data, res->signature.len, &why);
		break;
	case SG_FORMAT_CMS:
		r = verify_cms(leaf, digest, res->signature.data, res->signature.len, &why);
		break;
	case SG_FORMAT_AUTHENTICODE:
		r = pkcs7sig_authenticode_verify(
		    res->signature.data, res->signature.len, digest, leaf, whybuf, sizeof(whybuf));
		why = whybuf;
		break;
	case SG_FORMAT_KMOD:
		r = pkcs7sig_kmod_verify(
		    res->signature.data, res->signature.len, digest, leaf, whybuf, sizeof(whybuf));
		why = whybuf;
		break;
	default:
		why = "unknown format";
		r = SG_ERR_VERIFY;
		break;
	}
	if (r != 0)
		r = SG_ERR_VERIFY;
out:
	X509_free(leaf);
	if (r != 0)
		*ret_why = why;
	return r;
}

int
verify_envelope_attested(const struct dsse_envelope *env, EVP_PKEY *agent, const char *agent_keyid)
{
	size_t i;

	for (i = 0; i < env->nsigs; i++) {
		if (strcmp(env->sigs[i].keyid, agent_keyid) != 0)
			continue;
		if (crypto_dsse_verify(agent, env->payload_type, env->payload, env->payload_len,
			env->sigs[i].sig, env->sigs[i].sig_len) == 0)
			return 1;
	}
	return 0;
}

int
verify_result_envelope(EVP_PKEY *agent, const char *agent_keyid, const void *buf, size_t len,
    struct sg_result **ret_res, uint8_t **ret_payload, size_t *ret_payload_len,
    const char **ret_why)
{
	struct dsse_envelope *env = NULL;
	struct sg_result *res = NULL;
	uint8_t *payload = NULL;
	int r = SG_ERR_VERIFY;

	*ret_res = NULL;
	*ret_payload = NULL;
	*ret_payload_len = 0;
	if (envelope_parse(buf, len, &env) != 0) {
		*ret_why = "not a valid envelope";
		goto out;
	}
	if (strcmp(env->payload_type, PAYLOAD_TYPE_RESULT) != 0) {
		*ret_why = "not a result envelope";
		goto out;
	}
	if (!verify_envelope_attested(env, agent, agent_keyid)) {
		*ret_why = RESULTCHECK_NOT_AGENT;
		goto out;
	}
	if (result_parse(env->payload, env->payload_len, &res) != 0) {
		*ret_why = "the result payload does not parse";
		goto out;
	}
	if ((payload = malloc(env->payload_len > 0 ? env->payload_len : 1)) == NULL) {
		r = SG_ERR_ALLOC;
		*ret_why = "out of memory";
		goto out;
	}
	memcpy(payload, env->payload, env->payload_len);
	*ret_payload_len = env->payload_len;
	*ret_payload = payload;
	payload = NULL;
	*ret_res = res;
	res = NULL;
	r = 0;
out:
	free(payload);
	result_free(res);
	envelope_free(env);
	return r;
}
