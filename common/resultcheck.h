/*
 * resultcheck.h — the checks of a result that submit-job and signet-verify
 * share (resultcheck.c): that a result envelope comes from the agent, and
 * that the signature file it carries covers the artifact.
 */
#ifndef SG_RESULTCHECK_H
#define SG_RESULTCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "envelope.h"
#include "err.h"
#include "job.h"
#include "result.h"
#include "util.h"

/*
 * checks the signature file carried by a signed result against
 * the artifact (docs/protocol.md §4): for raw, with the public key of certificates[0]
 * over `digest`; for cms, as a detached SignedData whose one signer
 * certificate is certificates[0], whose messageDigest is `digest` and
 * whose signature over its signed attributes verifies; for authenticode,
 * `digest` is the Authenticode image digest, for kmod the module's
 * (common/pkcs7sig.h).  0, or SG_ERR_VERIFY with *ret_why set to a static
 * explanation (valid until the next call).
 */
int verify_result_signature(const struct sg_result *res, enum sg_format format,
    const uint8_t digest[SHA256_LEN], const char **ret_why) SG_MUST_CHECK;

/* DER bytes that must be exactly one certificate (nothing
 * after it); NULL otherwise.  Caller frees with X509_free(). */
X509 *verify_der_cert(const struct sg_blob *b);

/*
 * true (1) when one of env's signatures with keyid agent_keyid
 * verifies over (env's payloadType, payload) with the agent attestation
 * key agent; 0 otherwise.  The payload type is not checked here.
 */
int verify_envelope_attested(
    const struct dsse_envelope *env, EVP_PKEY *agent, const char *agent_keyid);

/*
 * opens a result envelope (len bytes at buf): a DSSE envelope of
 * type PAYLOAD_TYPE_RESULT, attested by the agent key (as above), whose
 * payload parses as a result (result_parse()).  0 with the result and a
 * copy of its payload bytes (caller frees both: result_free(), free());
 * SG_ERR_ALLOC; or SG_ERR_VERIFY with *ret_why set to a static
 * explanation.  Outputs are set only on success (*ret_why only on error).
 */
/* verify_result_envelope()'s reason for an envelope the agent key did not sign. */
#define RESULTCHECK_NOT_AGENT "not signed by the agent key"

int verify_result_envelope(EVP_PKEY *agent, const char *agent_keyid, const void *buf, size_t len,
    struct sg_result **ret_res, uint8_t **ret_payload, size_t *ret_payload_len,
    const char **ret_why) SG_MUST_CHECK;

#endif
