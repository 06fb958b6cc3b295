/*
 * pkcs7sig.h — the PKCS#7 SignedData of the `authenticode` and `kmod`
 * formats (docs/protocol.md §4), built without the private key and checked
 * strictly.
 *
 * The builders assemble every structure themselves from typed fields (a
 * digest, a description, a URL), with OpenSSL's ASN.1 and PKCS#7/CMS APIs;
 * the one thing they ask of the key holder is a signature over a SHA-256
 * digest, through a pkcs7sig_sign_fn (in the agent, hsm_sign()).  What they
 * return has been parsed back and verified against the leaf certificate
 * (fail closed).  The verifiers are what `submit-job` checks a result with
 * before it writes an image or a module.
 *
 * Only two signature mechanisms fit these formats: ECDSA P-256 with
 * SHA-256 and RSA PKCS#1 v1.5 with SHA-256.  RSA-PSS is refused
 * (SG_ERR_INVALID_ARGUMENT): Windows' and the kernel's verifiers expect the
 * others.
 */
#ifndef SG_PKCS7SIG_H
#define SG_PKCS7SIG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "err.h"
#include "util.h"

/* Bytes of the buffer a pkcs7sig_sign_fn writes into (RSA-8192 fits). */
#define PKCS7SIG_SIG_MAX         1024
/* Bytes of a SignedData that the builders return (the chain included). */
#define PKCS7SIG_OUTPUT_MAX      (32 * 1024)
/* Bytes of a SignedData that the verifiers accept: what a builder returns
 * plus a timestamp countersignature (an unsigned attribute). */
#define PKCS7SIG_INPUT_MAX       (64 * 1024)
/* Bytes of the texts of SpcSpOpusInfo (docs/protocol.md §4). */
#define PKCS7SIG_DESCRIPTION_MAX 256
#define PKCS7SIG_URL_MAX         512
/* Bytes of zeros that may follow the DER inside WIN_CERTIFICATE, whose
 * length is rounded up to a multiple of 8. */
#define PKCS7SIG_PADDING_MAX     7

/*
 * Signs a SHA-256 digest with the signing key: ECDSA as a DER
 * ECDSA-Sig-Value, RSA as PKCS#1 v1.5 over the SHA-256 DigestInfo.  sig has
 * room for PKCS7SIG_SIG_MAX bytes.  Returns 0 or an sg_err (SG_ERR_HSM_*),
 * which the builders return as they got it.
 */
typedef int (*pkcs7sig_sign_fn)(
    void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_sig_len);

/* Who signs, and how.  Everything is borrowed for the duration of a call. */
struct pkcs7sig_signer {
	enum sg_mech mech;      /* SG_MECH_ECDSA_SHA256 or SG_MECH_RSA_PKCS1_SHA256 */
	STACK_OF(X509) * chain; /* leaf first: its key is the signing key */
	pkcs7sig_sign_fn sign;
	void *sign_arg;
};

/*
 * Authenticode: the PKCS#7 SignedData (DER ContentInfo) that goes into the
 * bCertificate of a WIN_CERTIFICATE (revision 2.0, type PKCS_SIGNED_DATA).
 *
 *   content      SpcIndirectDataContent (1.3.6.1.4.1.311.2.1.4), encoded as
 *                the SEQUENCE itself (not in an OCTET STRING): data is
 *                SPC_PE_IMAGE_DATAOBJ with SpcPeImageData { flags empty,
 *                file [2] unicode "<<<Obsolete>>>" }, messageDigest is
 *                { sha256, image_digest }
 *   signed attrs contentType, messageDigest (SHA-256 of the content's DER
 *                without its tag and length), SpcSpOpusInfo (programName =
 *                description, moreInfo = url; each only when given),
 *                SpcStatementType (individual code signing); no signingTime
 *   signer       the leaf by issuer and serial; sha256; ecdsa-with-SHA256
 *                or rsaEncryption
 *   certificates the chain, in its order
 *
 * description: NULL or 1..PKCS7SIG_DESCRIPTION_MAX bytes of UTF-8 within
 * Unicode's Basic Multilingual Plane; url: NULL or 1..PKCS7SIG_URL_MAX
 * bytes of printable ASCII without space.
 *
 * *ret and *ret_len are cleared on entry and set on success (caller frees
 * *ret with free()).  Errors: SG_ERR_INVALID_ARGUMENT (NULL arguments, an
 * empty chain, RSA-PSS or another mechanism, a text out of its limits),
 * SG_ERR_KEY_UNSUPPORTED (the leaf's key is not an EC P-256 key for ECDSA,
 * or not an RSA key of at least 2048 bits for RSA), the callback's error as
 * it returned it, SG_ERR_HSM_SIGN_FAILED (what the callback signed does not
 * verify against the leaf), SG_ERR_LIMIT (above PKCS7SIG_OUTPUT_MAX),
 * SG_ERR_CRYPTO, SG_ERR_ALLOC.
 */
int pkcs7sig_authenticode_sign(const struct pkcs7sig_signer *s,
    const uint8_t image_digest[SHA256_LEN], const char *description, const char *url, uint8_t **ret,
    size_t *ret_len) SG_MUST_CHECK;

/*
 * Checks an Authenticode SignedData strictly, against the image digest
 * that the caller computed and the leaf certificate it expects:
 * DER that re-encodes to the same bytes, followed by at most
 * PKCS7SIG_PADDING_MAX zero bytes; SignedData version 1 with the one
 * digest algorithm sha256; content type SPC_INDIRECT_DATA with a
 * SpcIndirectDataContent that is a PE image's and names sha256 and exactly
 * image_digest; one SignerInfo, the leaf's by issuer and serial, with
 * sha256 and the signature algorithm of the leaf's key; the signed
 * attributes, in DER order, are exactly contentType (SPC_INDIRECT_DATA),
 * messageDigest (SHA-256 of the content without its tag and length),
 * SpcSpOpusInfo and SpcStatementType (individual code signing), each once;
 * the signature over them verifies with the leaf's key.  Unsigned
 * attributes (a timestamp countersignature) are allowed and not examined.
 * The certificates are not examined either: chain building is the
 * caller's.
 *
 * Returns 0, SG_ERR_VERIFY (and a sentence in why, when why is not NULL
 * and whylen > 0) or SG_ERR_INVALID_ARGUMENT (NULL der, image_digest or
 * leaf).
 */
int pkcs7sig_authenticode_verify(const uint8_t *der, size_t len,
    const uint8_t image_digest[SHA256_LEN], X509 *leaf, char *why, size_t whylen) SG_MUST_CHECK;

/*
 * kmod: the PKCS#7 SignedData that the kernel's scripts/sign-file makes
 * (with OpenSSL 3 and without -k): detached data, sha256, no signed
 * attributes, no certificates, the signer identified by the leaf's issuer
 * and serial, the signature over module_digest itself.  For RSA PKCS#1
 * v1.5 the bytes are those of sign-file for the same key and module.  The
 * caller appends struct module_signature and the marker.  Only the chain's
 * leaf is used.  Outputs and errors as pkcs7sig_authenticode_sign().
 */
int pkcs7sig_kmod_sign(const struct pkcs7sig_signer *s, const uint8_t module_digest[SHA256_LEN],
    uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * Checks a kmod SignedData strictly: DER that re-encodes to the same bytes
 * and nothing after it; SignedData version 1 with the one digest algorithm
 * sha256, detached data content, no certificates or CRLs; one SignerInfo,
 * the leaf's by issuer and serial, with sha256, the signature algorithm of
 * the leaf's key, no signed or unsigned attributes, and a signature over
 * module_digest that verifies with the leaf's key.  Returns as
 * pkcs7sig_authenticode_verify().
 */
int pkcs7sig_kmod_verify(const uint8_t *der, size_t len, const uint8_t module_digest[SHA256_LEN],
    X509 *leaf, char *why, size_t whylen) SG_MUST_CHECK;

#endif
