/*
 * submitter.h — the pieces of submit-job and signet-verify that live in
 * their own files.  Internal to the commands: nothing outside submitter/
 * includes this.
 */
#ifndef SG_SUBMITTER_H
#define SG_SUBMITTER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli.h"
#include "envelope.h"
#include "err.h"
#include "job.h"
#include "result.h"
#include "util.h"

/* Exit statuses of docs/submit-job.md. */
enum sj_exit {
	SJ_EXIT_OK = 0,       /* signed and verified (or submitted, with -w 0) */
	SJ_EXIT_REFUSED = 1,  /* the agent answered rejected or failed */
	SJ_EXIT_USAGE = 2,    /* usage or configuration error */
	SJ_EXIT_TIMEOUT = 3,  /* no verified result before the deadline */
	SJ_EXIT_INFRA = 4,    /* queue unreachable, auth refused, other trouble */
	SJ_EXIT_MISMATCH = 5, /* attested, bound result whose signature is wrong */
};

#define SJ_PROG "submit-job"

/* One line "submit-job: <text>" on stderr. */
#define sj_msg(...) cli_msg(SJ_PROG, __VA_ARGS__)

/*
 * True if s (len bytes) may go into a job string member: valid UTF-8
 * (no overlong forms, surrogates or code points above U+10FFFF), no NUL,
 * no C0 or C1 control character and no DEL, and at most max bytes.
 */
int sj_string_ok(const char *s, size_t len, size_t max);

/*
 * ci.c: fills *ret with the "ci" member of docs/protocol.md §3 from the environment of
 * the CI system that runs us (GitLab, Jenkins, GitHub Actions, else
 * "local").  A variable whose value is over CI_FIELD_MAX bytes, holds a
 * control character or is not UTF-8 is left out with a warning on stderr,
 * so the job always parses.  *ret is zeroed first; its strings are owned by
 * it; release with ci_clear().  0 or SG_ERR_ALLOC.
 */
int ci_from_env(struct sg_ci *ret) SG_MUST_CHECK;
void ci_clear(struct sg_ci *ci);

/*
 * verify.c: checks the signature file carried by a signed result against
 * the artifact (docs/protocol.md §4): for raw, with the public key of certificates[0]
 * over `digest`; for cms, as a detached SignedData whose one signer
 * certificate is certificates[0], whose messageDigest is `digest` and
 * whose signature over its signed attributes verifies.  0, or SG_ERR_VERIFY
 * with *ret_why set to a static explanation.
 */
int verify_result_signature(const struct sg_result *res, enum sg_format format,
    const uint8_t digest[SHA256_LEN], const char **ret_why) SG_MUST_CHECK;

/* verify.c: DER bytes that must be exactly one certificate (nothing
 * after it); NULL otherwise.  Caller frees with X509_free(). */
X509 *verify_der_cert(const struct sg_blob *b);

/*
 * verify.c: true (1) when one of env's signatures with keyid agent_keyid
 * verifies over (env's payloadType, payload) with the agent attestation
 * key agent; 0 otherwise.  The payload type is not checked here.
 */
int verify_envelope_attested(const struct dsse_envelope *env, EVP_PKEY *agent,
    const char *agent_keyid);

/*
 * verify.c: opens a result envelope (len bytes at buf): a DSSE envelope of
 * type PAYLOAD_TYPE_RESULT, attested by the agent key (as above), whose
 * payload parses as a result (result_parse()).  0 with the result and a
 * copy of its payload bytes (caller frees both: result_free(), free());
 * SG_ERR_ALLOC; or SG_ERR_VERIFY with *ret_why set to a static
 * explanation.  Outputs are set only on success (*ret_why only on error).
 */
int verify_result_envelope(EVP_PKEY *agent, const char *agent_keyid, const void *buf,
    size_t len, struct sg_result **ret_res, uint8_t **ret_payload, size_t *ret_payload_len,
    const char **ret_why) SG_MUST_CHECK;

#endif
