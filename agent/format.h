/*
 * format.h — the signature file formats of docs/protocol.md §4.
 *
 * The private key never enters this module: it receives a callback that
 * signs a SHA-256 digest (in the agent, hsm_sign()).  `raw` is the HSM's
 * signature as is; `cms` is a detached CMS SignedData whose signed
 * attributes (content type, message digest, signing time) are encoded here,
 * hashed, and signed through the callback; `authenticode` and `kmod` are
 * the PKCS#7 SignedData of common/pkcs7sig.h.  Each is verified against the
 * leaf certificate before it is returned (fail closed).
 */
#ifndef SG_FORMAT_H
#define SG_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "err.h"
#include "job.h"
#include "openpgp.h"
#include "pkcs7sig.h"

#define FORMAT_OUTPUT_MAX (32 * 1024)

/* Signs a SHA-256 digest; sig holds HSM_SIG_MAX bytes.  Returns 0 or an
 * sg_err (SG_ERR_HSM_*).  The type is common/pkcs7sig.h's. */
typedef pkcs7sig_sign_fn format_sign_fn;

struct format_request {
	enum sg_format format;
	enum sg_mech mech;
	/* SHA256_LEN bytes: the artifact's digest (for kmod, the module's
	 * without any signature) */
	const uint8_t *digest;
	STACK_OF(X509) * chain; /* leaf first; borrowed */
	int64_t signing_time;   /* seconds since the epoch (cms) */
	format_sign_fn sign;
	void *sign_arg;
	/* authenticode only (the job's "authenticode" member): the image
	 * digest, SHA256_LEN bytes; description (at most
	 * AUTHENTICODE_DESCRIPTION_MAX bytes) and url (at most
	 * AUTHENTICODE_URL_MAX bytes) or NULL.  Borrowed. */
	const uint8_t *image_digest;
	const char *description;
	const char *url;
	/* openpgp only: the key's OpenPGP identity, the job's "openpgp"
	 * member (the data's SHA-256 state), and the signature's creation
	 * time (the job's "created").  Borrowed. */
	const struct openpgp_key *pgp;
	const struct sg_openpgp *openpgp;
	int64_t pgp_created;
};

/*
 * Produces the signature file: for raw the signature, for cms, authenticode
 * and kmod the DER SignedData.  Returns 0 and a malloc'd buffer (caller
 * frees with free()), or the callback's error, SG_ERR_HSM_SIGN_FAILED when
 * what came back does not verify against the leaf certificate,
 * SG_ERR_INVALID_ARGUMENT (missing fields, an unknown format, RSA-PSS for
 * authenticode, kmod or openpgp, a description or
 * url out of its limits), SG_ERR_KEY_UNSUPPORTED (mechanism and leaf key
 * disagree, authenticode and kmod), SG_ERR_LIMIT, SG_ERR_CRYPTO,
 * SG_ERR_ALLOC.
 */
int format_sign(const struct format_request *req, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

#endif
