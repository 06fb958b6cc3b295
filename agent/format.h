/*
 * format.h — the signature file formats of docs/protocol.md §4.
 *
 * The private key never enters this module: it receives a callback that
 * signs a SHA-256 digest (in the agent, hsm_sign()).  `raw` is the HSM's
 * signature as is; `cms` is a detached CMS SignedData whose signed
 * attributes (content type, message digest, signing time) are encoded here,
 * hashed, and signed through the callback.  Both are verified against the
 * leaf certificate before they are returned (fail closed).
 */
#ifndef SG_FORMAT_H
#define SG_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "err.h"
#include "job.h"

#define FORMAT_OUTPUT_MAX (32 * 1024)

/* Signs a SHA-256 digest; sig holds HSM_SIG_MAX bytes.  Returns 0 or an
 * sg_err (SG_ERR_HSM_*). */
typedef int (*format_sign_fn)(
    void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_sig_len);

struct format_request {
	enum sg_format format;
	enum sg_mech mech;
	const uint8_t *digest;  /* SHA256_LEN bytes: the artifact's digest */
	STACK_OF(X509) * chain; /* leaf first; borrowed */
	int64_t signing_time;   /* seconds since the epoch */
	format_sign_fn sign;
	void *sign_arg;
};

/*
 * Produces the signature file.  Returns 0 and a malloc'd buffer, or the
 * callback's error, SG_ERR_HSM_SIGN_FAILED when what came back does not
 * verify against the leaf certificate, SG_ERR_CRYPTO/SG_ERR_ALLOC.
 */
int format_sign(const struct format_request *req, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

#endif
